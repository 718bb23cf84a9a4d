//! Writes the CRD YAML files of every polyfleet kind (one per kind) into a directory, or prints
//! them, or checks that the committed files are fresh.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

/// Generate the polyfleet CRD YAML.
#[derive(Parser)]
struct Args {
    /// Directory to write into (defaults to the crate's own directory, i.e. `crds/`).
    #[arg(long, default_value = env!("CARGO_MANIFEST_DIR"))]
    out: PathBuf,
    /// Print all CRDs as one multi-document YAML stream instead of writing files.
    #[arg(long)]
    print: bool,
    /// Fail if any file in --out differs from what the types generate; write nothing.
    #[arg(long)]
    check: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut stale = vec![];
    for file in polyfleet_crds::all_crds() {
        let yaml = polyfleet_crds::render_yaml(&file.crd)?;
        let path = args.out.join(&file.file_name);
        if args.print {
            print!("---\n{yaml}");
        } else if args.check {
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            if on_disk != yaml {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        bail!("stale CRD files (run `cargo run -p polyfleet-crds --bin crdgen`): {}", stale.join(", "));
    }
    Ok(())
}

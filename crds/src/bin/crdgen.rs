//! Writes the CRD YAML of every polyfleet kind: one file per kind under `crds/` (what
//! `kubectl apply -f crds/` installs) and the same CRDs as Helm templates under
//! `charts/polyfleet/templates/crds/`. `--check` fails instead when a committed file is stale;
//! `--print` writes the CRDs to stdout as one multi-document stream; `--json-schemas DIR` writes
//! them as strict JSON schemas for kubeconform.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

/// Generate the polyfleet CRD YAML.
#[derive(Parser)]
struct Args {
    /// Repository root to write into.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,
    /// Print all CRDs as one multi-document YAML stream instead of writing files.
    #[arg(long, conflicts_with = "check")]
    print: bool,
    /// Fail if any committed file differs from what the types generate; write nothing.
    #[arg(long)]
    check: bool,
    /// Write strict JSON schemas of the CRDs for `kubeconform -schema-location
    /// 'DIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'` into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["check", "print"])]
    json_schemas: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.json_schemas {
        for (rel, schema) in polyfleet_crds::kubeconform_schemas() {
            let path = dir.join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(&path, serde_json::to_vec_pretty(&schema)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(());
    }
    if args.print {
        for file in polyfleet_crds::all_crds() {
            print!("---\n{}", polyfleet_crds::render_yaml(&file.crd)?);
        }
        return Ok(());
    }
    let mut stale = vec![];
    for (rel, contents) in polyfleet_crds::generated_files()? {
        let path = args.root.join(&rel);
        if args.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(contents.as_str()) {
                stale.push(rel);
            }
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {rel}");
        }
    }
    if !stale.is_empty() {
        bail!("stale generated files (run `cargo run -p polyfleet-crds --bin crdgen`): {}", stale.join(", "));
    }
    Ok(())
}

//! `polyfleet-operator`: the operator binary.
//!
//! Today it offers `crds`, which prints the CustomResourceDefinitions of the polyfleet API as one
//! multi-document YAML stream (`polyfleet-operator crds | kubectl apply -f -`). The controllers
//! that reconcile the resources into agents come with the operator issue.

use clap::{Parser, Subcommand};

/// polyfleet's Kubernetes operator.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every polyfleet CRD as multi-document YAML (for `kubectl apply -f -`).
    Crds,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crds => {
            for file in polyfleet_crds::all_crds() {
                print!("---\n{}", polyfleet_crds::render_yaml(&file.crd)?);
            }
        }
    }
    Ok(())
}

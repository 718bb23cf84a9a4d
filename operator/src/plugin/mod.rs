//! `kubectl polyfleet`: the kubectl plugin (binary `kubectl-polyfleet` on the PATH). `status`
//! and `pnl` read the Strategies and RiskPolicies as tables that read like `kubectl get` (or
//! `-o wide|json|yaml`); `kill`, `reduce-only` and `resume` set a RiskPolicy's kill switch
//! ([`switch`]); `report` writes the trade journal's report from the cluster's journal ([`report`]). It talks to the cluster of the current kubeconfig (`--kubeconfig`, `--context`,
//! `-n`, `-A` as kubectl takes them) with the user's own rights.

pub mod report;
pub mod switch;
pub mod table;
pub mod views;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use polyfleet_crds::{RiskPolicy, Strategy};
use serde::Serialize;

use switch::{Switch, Target};

/// What goes wrong, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The command line asks for something that cannot be.
    #[error("{0}")]
    Usage(String),
    /// No usable kubeconfig or in-cluster configuration.
    #[error("no cluster configuration: {0}")]
    Config(String),
    /// The API server refused or failed a call.
    #[error("the API server: {0}")]
    Api(#[from] kube::Error),
    /// The named object does not exist.
    #[error("{kind}.polyfleet.dev \"{name}\" not found in namespace {namespace}")]
    NotFound {
        /// Kind, lower case.
        kind: &'static str,
        /// Name.
        name: String,
        /// Namespace.
        namespace: String,
    },
    /// `--wait` ran out.
    #[error("{0}")]
    Timeout(String),
    /// JSON or YAML output failed.
    #[error("output: {0}")]
    Output(String),
    /// The journal could not be read or its report written.
    #[error("{0}")]
    Journal(String),
}

/// polyfleet's kubectl plugin: the fleet's state and its kill switches.
#[derive(Debug, Parser)]
#[command(name = "kubectl-polyfleet", bin_name = "kubectl polyfleet", version)]
pub struct Cli {
    /// Path of the kubeconfig (default: `KUBECONFIG`, then `~/.kube/config`, then in-cluster).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace (default: the context's).
    #[arg(short, long, global = true)]
    pub namespace: Option<String>,
    /// Every namespace (status and pnl).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of `status` and `pnl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// More columns.
    Wide,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// How a kill-switch command waits.
#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// Wait until the operator reports the change in the policy's status, and print the mode in force.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits, seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Output format of what was done (`json` or `yaml`; default text).
    #[arg(short, long)]
    pub output: Option<Output>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Strategies (type, mode, the mode their RiskPolicy has in force, PnL, open orders,
    /// positions, readiness) and RiskPolicies (kill switch, mode in force, trip, exposure,
    /// daily PnL, drawdown).
    Status {
        /// Output format (default: tables).
        #[arg(short, long)]
        output: Option<Output>,
    },
    /// PnL per Strategy (realized, unrealized, total) with a total line, and every position.
    Pnl {
        /// Only these Strategies (default: all).
        strategies: Vec<String>,
        /// Output format (default: tables).
        #[arg(short, long)]
        output: Option<Output>,
    },
    /// Halt a RiskPolicy (`NAME`, `riskpolicy/NAME`, or `strategy/NAME` for its policy): nothing
    /// passes, every open order under it is cancelled.
    Kill {
        /// The RiskPolicy, or a Strategy standing for its policy.
        target: String,
        /// Waiting and output.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Put a RiskPolicy in reduce-only: only sells, merges, redemptions and conversions pass;
    /// open buys are cancelled.
    ReduceOnly {
        /// The RiskPolicy, or a Strategy standing for its policy.
        target: String,
        /// Waiting and output.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Turn a RiskPolicy's kill switch off; `--reset-trips` also ends a daily-loss or drawdown trip.
    Resume {
        /// The RiskPolicy, or a Strategy standing for its policy.
        target: String,
        /// Raise `resetTrips`: a standing trip ends (recorded in an Event), its loss becomes the baseline.
        #[arg(long)]
        reset_trips: bool,
        /// Waiting and output.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// The trade journal's report of a period (`report.json` and an interactive `report.html`,
    /// as `polyfleet report` writes them) from the database of the cluster's journal agent:
    /// PnL per strategy, market and day, ratios, drawdown, decisions, every trade.
    Report(Box<report::ReportArgs>),
}

/// A client for the command line's cluster, and the namespace to use.
pub async fn client(cli: &Cli) -> Result<(Client, String), PluginError> {
    let options = KubeConfigOptions { context: cli.context.clone(), ..Default::default() };
    let config = match &cli.kubeconfig {
        Some(path) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|e| PluginError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| PluginError::Config(e.to_string()))?
        }
        None if cli.context.is_some() => {
            Config::from_kubeconfig(&options).await.map_err(|e| PluginError::Config(e.to_string()))?
        }
        None => Config::infer().await.map_err(|e| PluginError::Config(e.to_string()))?,
    };
    let namespace = cli.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| PluginError::Config(e.to_string()))?;
    Ok((client, namespace))
}

fn render<T: Serialize>(
    view: &T,
    output: Option<Output>,
    tables: impl FnOnce(bool) -> String,
) -> Result<String, PluginError> {
    match output {
        None => Ok(tables(false)),
        Some(Output::Wide) => Ok(tables(true)),
        Some(Output::Json) => {
            serde_json::to_string_pretty(view).map(|s| s + "\n").map_err(|e| PluginError::Output(e.to_string()))
        }
        Some(Output::Yaml) => serde_saphyr::to_string(view).map_err(|e| PluginError::Output(e.to_string())),
    }
}

/// Strategies and RiskPolicies of the namespace (or every namespace), sorted by namespace and name.
async fn list(client: &Client, ns: &str, all: bool) -> Result<(Vec<Strategy>, Vec<RiskPolicy>), PluginError> {
    let (strategies, policies): (Api<Strategy>, Api<RiskPolicy>) = if all {
        (Api::all(client.clone()), Api::all(client.clone()))
    } else {
        (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns))
    };
    let lp = ListParams::default();
    let mut s = strategies.list(&lp).await?.items;
    let mut p = policies.list(&lp).await?.items;
    s.sort_by(|a, b| (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name)));
    p.sort_by(|a, b| (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name)));
    Ok((s, p))
}

/// Runs the command line; the text to print. `now_s`: Unix seconds (for ages).
pub async fn run(cli: &Cli, now_s: i64) -> Result<String, PluginError> {
    let (client, ns) = client(cli).await?;
    let all = cli.all_namespaces;
    let nothing =
        || if all { "No resources found\n".to_string() } else { format!("No resources found in {ns} namespace.\n") };
    match &cli.command {
        Command::Status { output } => {
            let (strategies, policies) = list(&client, &ns, all).await?;
            let view = views::status_view(&strategies, &policies, now_s);
            let text = render(&view, *output, |wide| view.tables(all, wide))?;
            Ok(if text.is_empty() { nothing() } else { text })
        }
        Command::Pnl { strategies: only, output } => {
            let (mut strategies, policies) = list(&client, &ns, all).await?;
            if !only.is_empty() {
                if let Some(missing) =
                    only.iter().find(|n| !strategies.iter().any(|s| s.metadata.name.as_ref() == Some(n)))
                {
                    return Err(PluginError::NotFound { kind: "strategy", name: missing.clone(), namespace: ns });
                }
                strategies.retain(|s| s.metadata.name.as_ref().is_some_and(|n| only.contains(n)));
            }
            let view = views::pnl_view(&strategies, &policies, now_s);
            let text = render(&view, *output, |wide| view.tables(all, wide))?;
            Ok(if text.is_empty() { nothing() } else { text })
        }
        Command::Kill { target, wait } => switch(&client, &ns, all, target, Switch::Kill, false, wait).await,
        Command::ReduceOnly { target, wait } => {
            switch(&client, &ns, all, target, Switch::ReduceOnly, false, wait).await
        }
        Command::Resume { target, reset_trips, wait } => {
            switch(&client, &ns, all, target, Switch::Resume, *reset_trips, wait).await
        }
        Command::Report(args) => report::run(&client, &ns, all, args).await,
    }
}

async fn switch(
    client: &Client,
    ns: &str,
    all: bool,
    target: &str,
    s: Switch,
    reset_trips: bool,
    wait: &WaitArgs,
) -> Result<String, PluginError> {
    if all {
        return Err(PluginError::Usage("a kill switch is one RiskPolicy's: give -n NAMESPACE, not -A".into()));
    }
    let target = Target::parse(target)?;
    let timeout = wait.wait.then(|| Duration::from_secs(wait.timeout));
    let outcome = switch::apply(client, ns, &target, s, reset_trips, timeout).await?;
    match wait.output {
        None | Some(Output::Wide) => Ok(outcome.text()),
        out => render(&outcome, out, |_| String::new()),
    }
}

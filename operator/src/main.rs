//! `polyfleet-operator`: the operator binary. `crds` prints the CustomResourceDefinitions
//! (`polyfleet-operator crds | kubectl apply -f -`); `run` runs the controllers.

use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::risk_store::RiskStoreError;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_operator::books::BusBooks;
use polyfleet_operator::credentials::Credentials;
use polyfleet_operator::dataplane::Lazy;
use polyfleet_operator::lookup::RestLookup;
use polyfleet_operator::notices::BusNotices;
use polyfleet_operator::run::{Election, Scope, Stores};
use polyfleet_operator::settings::{FleetSettings, SecretKey};
use polyfleet_operator::stores::{BusControl, BusParams, StoreLimits};

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
    /// Print the operator's ClusterRole and leader Role (what `manifests/operator/rbac.yaml`
    /// holds); `--chart-rules` prints only the rules, for the Helm chart.
    Rbac {
        /// Print the rules file of the Helm chart instead.
        #[arg(long)]
        chart_rules: bool,
        /// Namespace-scoped mode: a Role with the same rules in each of these namespaces
        /// instead of the ClusterRole.
        #[arg(long, value_delimiter = ',')]
        namespaces: Vec<String>,
    },
    /// Run the controllers (Venue, Market, Strategy, RiskPolicy) against the cluster of the
    /// current kubeconfig or service account.
    Run(Box<RunArgs>),
    /// Check an installation (what `helm test` runs): every polyfleet CRD is Established, the
    /// operator's Deployment has rolled out, and the operator answers `/readyz`. Exits non-zero
    /// with the reason otherwise.
    Check(polyfleet_operator::check::CheckArgs),
    /// Print the Helm chart's README, generated from its README.head.md and values.yaml
    /// (`polyfleet-operator chart-readme > charts/polyfleet/README.md`).
    ChartReadme {
        /// The chart's directory.
        #[arg(long, default_value = "charts/polyfleet")]
        chart: std::path::PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Image holding polyfleet-agent, for the agents' pods.
    #[arg(long, env = "POLYFLEET_AGENT_IMAGE", default_value = "ghcr.io/polyfleet/polyfleet:dev")]
    image: String,
    /// NATS URL (the operator's and the agents').
    #[arg(long, env = "POLYFLEET_NATS_URL", default_value = "nats://nats:4222")]
    nats: String,
    /// Redis URL of the risk store (no password: see --redis-password-secret).
    #[arg(long, env = "POLYFLEET_REDIS_URL", default_value = "redis://redis:6379")]
    redis: String,
    /// `name/key` of the Secret in the operator's namespace holding the Redis password; the
    /// operator reads it through the API and copies it into each namespace with agents
    /// (`polyfleet-agent-redis`, key `password`), which the agents reference.
    #[arg(long, env = "POLYFLEET_REDIS_PASSWORD_SECRET")]
    redis_password_secret: Option<String>,
    /// Create the `--redis-password-secret` Secret with a random password when it does not
    /// exist (never changes an existing one).
    #[arg(long, env = "POLYFLEET_REDIS_PASSWORD_GENERATE", default_value_t = false, action = clap::ArgAction::Set)]
    redis_password_generate: bool,
    /// Put `prometheus.io/*` scrape annotations on agent pods (off when a PodMonitor scrapes them).
    #[arg(long, env = "POLYFLEET_SCRAPE_ANNOTATIONS", default_value_t = true, action = clap::ArgAction::Set)]
    scrape_annotations: bool,
    /// UID and GID of the agents' containers; `none` leaves them to the platform (OpenShift).
    #[arg(long, env = "POLYFLEET_AGENT_RUN_AS_USER", default_value = "65532", value_parser = parse_run_as)]
    agent_run_as_user: RunAs,
    /// OTLP endpoint for the agents' traces.
    #[arg(long, env = "POLYFLEET_OTLP_ENDPOINT")]
    otlp: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "POLYFLEET_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    metrics_addr: std::net::SocketAddr,
    /// CIDRs the agents may reach on 443 (the venue); empty allows any.
    #[arg(long, env = "POLYFLEET_VENUE_CIDRS", value_delimiter = ',')]
    venue_cidrs: Vec<String>,
    /// Run the controllers only while holding the leader Lease (several replicas are then safe).
    #[arg(long, env = "POLYFLEET_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// The operator's namespace, where its Lease lives (the downward API sets it in-cluster).
    #[arg(long, env = "POD_NAMESPACE", default_value = polyfleet_operator::rbac::OPERATOR_NAMESPACE)]
    namespace: String,
    /// This replica's identity in the election (the downward API sets the pod name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Watch only these namespaces (comma-separated), with a Role in each (`rbac --namespaces`)
    /// instead of the ClusterRole; empty watches every namespace.
    #[arg(long, env = "POLYFLEET_WATCH_NAMESPACES", value_delimiter = ',')]
    watch_namespaces: Vec<String>,
    /// Log as JSON lines.
    #[arg(long, env = "POLYFLEET_LOG_JSON", default_value_t = false, action = clap::ArgAction::Set)]
    log_json: bool,
}

/// A UID, or none.
#[derive(Clone, Debug)]
struct RunAs(Option<i64>);

fn parse_run_as(s: &str) -> Result<RunAs, String> {
    match s.trim() {
        "" | "none" => Ok(RunAs(None)),
        n => n.parse::<i64>().map(|u| RunAs(Some(u))).map_err(|e| format!("a UID or `none`: {e}")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crds => {
            for file in polyfleet_crds::all_crds() {
                print!("---\n{}", polyfleet_crds::render_yaml(&file.crd)?);
            }
            Ok(())
        }
        Command::Rbac { chart_rules, namespaces } => {
            if !namespaces.is_empty() {
                print!("{}", polyfleet_operator::rbac::render_namespaced(&namespaces)?);
                return Ok(());
            }
            if chart_rules {
                print!("{}", polyfleet_operator::rbac::render_chart_rules()?);
                return Ok(());
            }
            print!("{}", polyfleet_operator::rbac::render()?);
            Ok(())
        }
        Command::Run(a) => {
            let a = *a;
            let _ = rustls::crypto::ring::default_provider().install_default();
            // Logs, and a span per reconcile exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
            let _telemetry = polyfleet_io::telemetry::init("polyfleet-operator", a.log_json)?;
            let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
            let credentials = match &a.redis_password_secret {
                Some(s) => {
                    let (name, key) = s.split_once('/').context("--redis-password-secret is name/key")?;
                    let source = SecretKey { name: name.into(), key: key.into() };
                    Some(Arc::new(Credentials::new(
                        client.clone(),
                        a.namespace.clone(),
                        source,
                        a.redis_password_generate,
                    )?))
                }
                None => None,
            };
            let settings = FleetSettings {
                image: a.image,
                nats_url: a.nats.clone(),
                redis_url: a.redis.clone(),
                redis_password: credentials.as_ref().map(|_| Credentials::agent_key()),
                otlp_endpoint: a.otlp,
                venue_cidrs: a.venue_cidrs,
                scrape_annotations: a.scrape_annotations,
                agent_run_as_user: a.agent_run_as_user.0,
                ..FleetSettings::default()
            };
            let metrics = polyfleet_operator::metrics::OperatorMetrics::new();
            polyfleet_operator::metrics::serve(a.metrics_addr, metrics.clone()).await.context("serving metrics")?;
            // The data plane is connected in the background: the controllers run (and report it
            // unreachable in status) until it is.
            let nats_url = a.nats.clone();
            let bus = Lazy::connect("NATS", &a.nats, move || NatsBus::connect_once(nats_url.clone()));
            let redis_url = a.redis.clone();
            let creds = credentials.clone();
            let store = Lazy::connect("Redis", &a.redis, move || {
                let (url, creds) = (redis_url.clone(), creds.clone());
                async move {
                    match creds {
                        // The password from its Secret (generated first when asked), read anew on
                        // every attempt, so a Secret made or fixed later is picked up.
                        Some(c) => {
                            let password =
                                c.password().await.map_err(|e| RiskStoreError::Unavailable(e.to_string()))?;
                            RedisRiskStore::connect_with(&url, Some(password)).await
                        }
                        None => RedisRiskStore::connect(&url).await,
                    }
                }
            });
            let stores = Stores {
                params: Arc::new(BusParams(bus.clone())),
                control: Arc::new(BusControl(bus.clone())),
                limits: Arc::new(StoreLimits(store)),
                lookup: Arc::new(RestLookup::default()),
                books: Arc::new(BusBooks(bus.clone())),
                credentials,
                notices: Arc::new(BusNotices(bus)),
            };
            let election = a.leader_elect.then(|| Election {
                namespace: a.namespace,
                // In a pod HOSTNAME is the pod name; elsewhere, the host and process.
                identity: a.identity.or_else(|| std::env::var("HOSTNAME").ok()).unwrap_or_else(|| {
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos());
                    format!("polyfleet-operator-{}-{nanos}", std::process::id())
                }),
            });
            let scope = Scope::of(a.watch_namespaces);
            polyfleet_operator::run::run_scoped(client, settings, stores, metrics, election, scope).await
        }
        Command::ChartReadme { chart } => {
            let head = std::fs::read_to_string(chart.join("README.head.md")).context("README.head.md")?;
            let values = std::fs::read_to_string(chart.join("values.yaml")).context("values.yaml")?;
            print!("{}", polyfleet_operator::chart_docs::render(&head, &values)?);
            Ok(())
        }
        Command::Check(args) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            polyfleet_operator::check::run(args).await
        }
    }
}

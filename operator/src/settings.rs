//! The operator's own configuration: where the fleet's shared services are and which image runs
//! the agents. Comes from the operator's flags/environment (the chart sets them); never from a
//! custom resource, and never holds secret values (a Redis password is a Secret reference).

/// A key of a Secret, passed to agents as an environment variable by reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKey {
    /// Secret name (in the agent's namespace).
    pub name: String,
    /// Key inside it.
    pub key: String,
}

/// Fleet-wide settings the planner needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    /// Image holding `polyfleet-agent`.
    pub image: String,
    /// NATS URL the agents use.
    pub nats_url: String,
    /// Redis URL of the risk store (no password in it).
    pub redis_url: String,
    /// Redis password, when Redis has one.
    pub redis_password: Option<SecretKey>,
    /// OTLP endpoint for traces, when there is a collector.
    pub otlp_endpoint: Option<String>,
    /// Port of every agent's `/metrics`, `/healthz`, `/readyz`.
    pub metrics_port: i32,
    /// CIDR blocks agents may reach besides NATS, Redis and the collector (the venue); empty
    /// allows any destination on 443.
    pub venue_cidrs: Vec<String>,
    /// Whether agent pods carry `prometheus.io/*` scrape annotations (not when a PodMonitor
    /// scrapes them: both would scrape every pod twice).
    pub scrape_annotations: bool,
    /// UID and GID of the agents' containers; `None` leaves them to the platform (OpenShift's
    /// restricted SCC assigns them and refuses pods that name their own).
    pub agent_run_as_user: Option<i64>,
}

impl Default for FleetSettings {
    fn default() -> Self {
        FleetSettings {
            image: "ghcr.io/polyfleet/polyfleet:dev".into(),
            nats_url: "nats://nats:4222".into(),
            redis_url: "redis://redis:6379".into(),
            redis_password: None,
            otlp_endpoint: None,
            metrics_port: 9464,
            venue_cidrs: vec![],
            scrape_annotations: true,
            agent_run_as_user: Some(65532),
        }
    }
}

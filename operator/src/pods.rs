//! The one place that builds an agent's pod: every Deployment the operator (and the local run)
//! creates for an agent comes from [`agent_deployment`], so command lines, probes, resources,
//! security context, telemetry settings and labels are agreed here and nowhere else.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, Service, ServicePort, ServiceSpec, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::settings::{FleetSettings, SecretKey};

/// The agent roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Venue WebSocket to book events.
    MarketData,
    /// Book events to intents.
    Strategy,
    /// The risk gateway.
    Risk,
    /// Approved orders to the venue.
    Execution,
    /// The venue simulator of a `kind: simulator` Venue (`polyfleet venue-sim`).
    Simulator,
    /// A RiskPolicy's notices to its webhook targets.
    Notifier,
    /// The built-in crypto up/down model publishing fair values for a series' rounds.
    UpDownModel,
    /// The built-in sports model publishing fair values from bookmaker odds.
    SportsModel,
}

/// The simulator's port (market WebSocket and CLOB/Gamma REST).
pub const SIMULATOR_PORT: i32 = 8765;

impl Role {
    /// The `polyfleet-agent` subcommand and label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::MarketData => "market-data",
            Role::Strategy => "strategy",
            Role::Risk => "risk",
            Role::Execution => "execution",
            Role::Simulator => "simulator",
            Role::Notifier => "notify",
            Role::UpDownModel => "updown-model",
            Role::SportsModel => "sports-model",
        }
    }

    /// The binary and subcommand the container runs.
    fn command(self) -> (&'static str, &'static str) {
        match self {
            Role::Simulator => ("/usr/local/bin/polyfleet", "venue-sim"),
            other => ("/usr/local/bin/polyfleet-agent", other.as_str()),
        }
    }

    fn resources(self) -> (&'static str, &'static str, &'static str, &'static str) {
        // (cpu request, memory request, cpu limit, memory limit)
        match self {
            Role::MarketData => ("200m", "128Mi", "1", "512Mi"),
            Role::Strategy => ("100m", "64Mi", "1", "256Mi"),
            Role::Risk => ("200m", "64Mi", "1", "256Mi"),
            Role::Execution => ("100m", "64Mi", "1", "256Mi"),
            Role::Simulator => ("200m", "64Mi", "1", "256Mi"),
            Role::Notifier => ("10m", "32Mi", "200m", "128Mi"),
            Role::UpDownModel | Role::SportsModel => ("50m", "32Mi", "500m", "128Mi"),
        }
    }
}

/// Where a mounted ConfigMap appears in the container.
pub const CONFIG_DIR: &str = "/etc/polyfleet";

/// What one agent Deployment runs.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    /// Role.
    pub role: Role,
    /// Object name (DNS-1123).
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Arguments after the subcommand (not the shared ones: NATS, Redis, metrics address).
    pub args: Vec<String>,
    /// Extra environment (secret references only for credentials).
    pub env: Vec<EnvVar>,
    /// A ConfigMap to mount at [`CONFIG_DIR`], and a checksum of the parts of it whose change
    /// needs a restart (it goes into the pod template, so nothing else restarts the pod).
    pub config: Option<(String, String)>,
    /// Replicas (0 suspends).
    pub replicas: i32,
    /// Whether the agent talks to Redis.
    pub uses_redis: bool,
    /// Labels identifying the owning resource (`polyfleet.dev/strategy: ...` and the like).
    pub owner_labels: BTreeMap<String, String>,
}

impl AgentSpec {
    /// One replica of `role` without configuration, extra environment or Redis; name,
    /// namespace and arguments are filled in by the caller.
    pub fn plain(role: Role, owner_labels: &BTreeMap<String, String>) -> AgentSpec {
        AgentSpec {
            role,
            name: String::new(),
            namespace: String::new(),
            args: vec![],
            env: vec![],
            config: None,
            replicas: 1,
            uses_redis: false,
            owner_labels: owner_labels.clone(),
        }
    }
}

/// The label selector of every object the operator creates (its watches of children use it).
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=polyfleet-operator";

/// Labels every agent object carries.
pub fn labels(spec: &AgentSpec) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "polyfleet-agent".to_string()),
        ("app.kubernetes.io/component".to_string(), spec.role.as_str().to_string()),
        ("app.kubernetes.io/instance".to_string(), spec.name.clone()),
        ("app.kubernetes.io/managed-by".to_string(), "polyfleet-operator".to_string()),
        ("app.kubernetes.io/part-of".to_string(), "polyfleet".to_string()),
    ]);
    l.extend(spec.owner_labels.clone());
    l
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() }
}

/// An environment variable from a Secret's key (credentials reach agents only this way).
pub fn secret_env(name: &str, s: &SecretKey) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: s.name.clone(), key: s.key.clone(), optional: Some(false) }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn probe(path: &str, port: i32, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction { path: Some(path.into()), port: IntOrString::Int(port), ..Default::default() }),
        period_seconds: Some(period),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

fn tcp_probe(port: i32, period: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(port), ..Default::default() }),
        period_seconds: Some(period),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// The Deployment of an agent.
pub fn agent_deployment(settings: &FleetSettings, spec: &AgentSpec, owner: Option<OwnerReference>) -> Deployment {
    let labels = labels(spec);
    let selector = BTreeMap::from([
        ("app.kubernetes.io/component".to_string(), spec.role.as_str().to_string()),
        ("app.kubernetes.io/instance".to_string(), spec.name.clone()),
    ]);
    let port = settings.metrics_port;
    let (binary, subcommand) = spec.role.command();
    let mut args = vec![subcommand.to_string()];
    args.extend(spec.args.iter().cloned());
    let mut env_vars = vec![
        env("POLYFLEET_NATS_URL", &settings.nats_url),
        env("POLYFLEET_METRICS_ADDR", &format!("0.0.0.0:{port}")),
        env("POLYFLEET_LOG_JSON", "true"),
        env("OTEL_SERVICE_NAME", &format!("polyfleet-{}", spec.role.as_str())),
    ];
    if let Some(otlp) = &settings.otlp_endpoint {
        env_vars.push(env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp));
    }
    if spec.uses_redis {
        env_vars.push(env("POLYFLEET_REDIS_URL", &settings.redis_url));
        if let Some(p) = &settings.redis_password {
            env_vars.push(secret_env("REDIS_PASSWORD", p));
        }
    }
    env_vars.extend(spec.env.iter().cloned());
    let (cpu_req, mem_req, cpu_lim, mem_lim) = spec.role.resources();
    let q = |s: &str| Quantity(s.to_string());
    let simulator = spec.role == Role::Simulator;
    let mut annotations = BTreeMap::new();
    if settings.scrape_annotations {
        annotations.extend([
            ("prometheus.io/scrape".to_string(), (!simulator).to_string()),
            ("prometheus.io/port".to_string(), port.to_string()),
            ("prometheus.io/path".to_string(), "/metrics".to_string()),
        ]);
    }
    let (mut volumes, mut mounts) = (vec![], vec![]);
    if let Some((cm, checksum)) = &spec.config {
        annotations.insert("polyfleet.dev/config-checksum".into(), checksum.clone());
        volumes.push(Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource { name: cm.clone(), ..Default::default() }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
    }
    let container = Container {
        name: "agent".into(),
        image: Some(settings.image.clone()),
        command: Some(vec![binary.into()]),
        args: Some(args),
        env: Some(env_vars),
        ports: Some(vec![if simulator {
            ContainerPort { name: Some("venue".into()), container_port: SIMULATOR_PORT, ..Default::default() }
        } else {
            ContainerPort { name: Some("metrics".into()), container_port: port, ..Default::default() }
        }]),
        // The simulator serves no /healthz: its port answering is its health.
        liveness_probe: Some(if simulator { tcp_probe(SIMULATOR_PORT, 10) } else { probe("/healthz", port, 10) }),
        readiness_probe: Some(if simulator { tcp_probe(SIMULATOR_PORT, 5) } else { probe("/readyz", port, 5) }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".into(), q(cpu_req)), ("memory".into(), q(mem_req))])),
            limits: Some(BTreeMap::from([("cpu".into(), q(cpu_lim)), ("memory".into(), q(mem_lim))])),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
            ..Default::default()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Default::default()
    };
    Deployment {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(spec.namespace.clone()),
            labels: Some(labels.clone()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(spec.replicas),
            selector: LabelSelector { match_labels: Some(selector), ..Default::default() },
            strategy: Some(DeploymentStrategy { type_: Some("RollingUpdate".into()), ..Default::default() }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: settings.agent_run_as_user,
                        run_as_group: settings.agent_run_as_user,
                        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
                        ..Default::default()
                    }),
                    volumes: (!volumes.is_empty()).then_some(volumes),
                    termination_grace_period_seconds: Some(30),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The metrics Service of an agent Deployment (for ServiceMonitors and ad-hoc scraping); for the
/// simulator, the Service the agents reach it by.
pub fn metrics_service(settings: &FleetSettings, spec: &AgentSpec, owner: Option<OwnerReference>) -> Service {
    let (port_name, port) =
        if spec.role == Role::Simulator { ("venue", SIMULATOR_PORT) } else { ("metrics", settings.metrics_port) };
    let labels = labels(spec);
    Service {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(spec.namespace.clone()),
            labels: Some(labels),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([
                ("app.kubernetes.io/component".to_string(), spec.role.as_str().to_string()),
                ("app.kubernetes.io/instance".to_string(), spec.name.clone()),
            ])),
            ports: Some(vec![ServicePort {
                name: Some(port_name.into()),
                port,
                target_port: Some(IntOrString::String(port_name.into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

//! A Venue's agents: one market-data Deployment per shard of its Markets' tokens, and its
//! execution Deployment with the markets file it trades by. Each with a metrics Service. A
//! `kind: simulator` Venue also runs the seeded venue simulator, serving the Venue's Markets under
//! the ids they declare (as `polyfleet up` does: `venue-sim -f` over a ConfigMap holding the Venue
//! and its Markets), and its agents (and the Market lookups) use the simulator's Service as the
//! venue's endpoints.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, EnvVar, EnvVarSource, SecretKeySelector, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use polyfleet_core::clock::VenueClock;
use polyfleet_crds::venue::{SignatureType, VenueKind};
use polyfleet_crds::{Market, Venue};

use super::markets::MarketView;
use super::shards::{Shard, assign};
use super::{checksum, child_name, namespace_of, owner_ref};
use crate::pods::{AgentSpec, CONFIG_DIR, Role, SIMULATOR_PORT, agent_deployment, labels, metrics_service};
use crate::settings::FleetSettings;

/// Public Polymarket endpoints, used when a Venue does not name its own.
pub const POLYMARKET_MARKET_WS: &str = "wss://ws-subscriptions-clob.polymarket.com/ws/market";
/// Public CLOB REST base.
pub const POLYMARKET_CLOB: &str = "https://clob.polymarket.com";
/// Public Gamma REST base.
pub const POLYMARKET_GAMMA: &str = "https://gamma-api.polymarket.com";
/// Public user channel.
pub const POLYMARKET_USER_WS: &str = "wss://ws-subscriptions-clob.polymarket.com/ws/user";

/// The keys of a Venue's credentials Secret and the variables the execution agent reads them
/// from. Only the execution pod gets them, as `secretKeyRef`s: their values never pass through
/// the operator.
pub const CREDENTIAL_KEYS: [(&str, &str, bool); 6] = [
    ("privateKey", "POLYMARKET_PRIVATE_KEY", false),
    ("apiKey", "POLYMARKET_API_KEY", true),
    ("apiSecret", "POLYMARKET_API_SECRET", true),
    ("apiPassphrase", "POLYMARKET_API_PASSPHRASE", true),
    // A Polygon RPC URL that carries an API key (spec.endpoints.polygonRpc wins when set).
    ("polygonRpcUrl", "POLYGON_RPC_URL", true),
    // The signer's Relayer API key (Safe, proxy and deposit-wallet accounts' conditional-token operations).
    ("relayerApiKey", "POLYMARKET_RELAYER_API_KEY", true),
];

/// Where a Venue is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VenueEndpoints {
    /// Market-channel WebSocket URL.
    pub market_ws: String,
    /// CLOB REST base.
    pub clob: String,
    /// Gamma REST base.
    pub gamma: String,
    /// User-channel WebSocket URL.
    pub user_ws: String,
    /// Polygon JSON-RPC URL for live conditional-token operations, when known.
    pub polygon_rpc: Option<String>,
    /// The gasless relayer's base URL (Safe, proxy and deposit-wallet accounts).
    pub relayer: String,
    /// Real-time data stream WebSocket URL.
    pub rtds: String,
}

/// Polymarket's gasless relayer.
pub const POLYMARKET_RELAYER: &str = "https://relayer-v2.polymarket.com";

/// Polymarket's real-time data stream.
pub const POLYMARKET_RTDS: &str = "wss://ws-live-data.polymarket.com";

/// The simulator Deployment and Service name of a simulator Venue.
pub fn simulator_name(venue: &str) -> String {
    child_name("sim", venue)
}

/// A Venue's endpoints: what its spec names, else the simulator's in-cluster Service for a
/// simulator Venue, else Polymarket's public endpoints.
pub fn endpoints(venue: &Venue) -> VenueEndpoints {
    let given = venue.spec.endpoints.clone().unwrap_or_default();
    let (ws, clob, gamma, user, rpc, rtds, relayer) = if venue.spec.kind == VenueKind::Simulator {
        let base = format!("{}.{}.svc:{SIMULATOR_PORT}", simulator_name(&venue.name_any()), namespace_of(venue));
        (
            format!("ws://{base}/ws/market"),
            format!("http://{base}"),
            format!("http://{base}"),
            format!("ws://{base}/ws/user"),
            Some(format!("http://{base}/rpc")),
            format!("ws://{base}/rtds"),
            format!("http://{base}/relayer"),
        )
    } else {
        (
            POLYMARKET_MARKET_WS.to_string(),
            POLYMARKET_CLOB.to_string(),
            POLYMARKET_GAMMA.to_string(),
            POLYMARKET_USER_WS.to_string(),
            // No public default: the account chooses its RPC provider.
            None,
            POLYMARKET_RTDS.to_string(),
            POLYMARKET_RELAYER.to_string(),
        )
    };
    VenueEndpoints {
        market_ws: given.market_ws.unwrap_or(ws),
        clob: given.clob.unwrap_or(clob),
        gamma: given.gamma.unwrap_or(gamma),
        user_ws: given.user_ws.unwrap_or(user),
        polygon_rpc: given.polygon_rpc.or(rpc),
        rtds: given.rtds.unwrap_or(rtds),
        relayer: given.relayer.unwrap_or(relayer),
    }
}

/// `name` and the comma-separated `values`, or nothing when there are none.
fn flag(name: &str, values: &[String]) -> Vec<String> {
    match values.is_empty() {
        true => vec![],
        false => vec![name.to_string(), values.join(",")],
    }
}

/// A simulator Venue's accelerated clock (`simulator.clockRate` above 1), anchored at the Venue's
/// creation, so every process of the Venue computes the same venue time; none: real time.
pub fn clock(venue: &Venue) -> Option<VenueClock> {
    if venue.spec.kind != VenueKind::Simulator {
        return None;
    }
    let rate = venue.spec.simulator.as_ref().map_or(1, |s| s.clock_rate);
    let created_ms = venue.metadata.creation_timestamp.as_ref()?.0.as_millisecond();
    (rate > 1).then(|| VenueClock::new(u64::try_from(created_ms).ok()?, u32::try_from(rate).ok()?).ok()).flatten()
}

/// The environment that hands [`clock`] to a process of the Venue (empty in real time).
pub fn clock_env(venue: &Venue) -> Vec<EnvVar> {
    clock(venue)
        .map(|c| EnvVar { name: polyfleet_core::clock::ENV.into(), value: Some(c.encode()), ..Default::default() })
        .into_iter()
        .collect()
}

/// What a Venue needs running.
#[derive(Debug, Clone, Default)]
pub struct VenuePlan {
    /// The simulator (simulator Venues), market-data shards, then execution.
    pub deployments: Vec<Deployment>,
    /// One metrics Service per Deployment.
    pub services: Vec<Service>,
    /// The simulator's resources (simulator Venues) and the execution agent's markets file.
    pub config_maps: Vec<ConfigMap>,
    /// The token assignment (for Market and Venue status).
    pub shards: Vec<Shard>,
}

/// The assignment of `venue`'s Markets (among `markets`) to market-data pods.
pub fn shards(venue: &Venue, markets: &[MarketView]) -> Vec<Shard> {
    let name = venue.name_any();
    let per_pod = venue.spec.sharding.assets_per_connection.max(1) as usize
        * venue.spec.sharding.connections_per_pod.max(1) as usize;
    // A series followed live is served from its rounds document (`--series`), not a token list
    // that would change, and restart the shard, at every roll.
    let mine: Vec<(String, Vec<String>)> = markets
        .iter()
        .filter(|m| m.venue == name)
        .map(|m| {
            let tokens = if m.live_rounds { vec![] } else { m.all_tokens().map(ToString::to_string).collect() };
            (m.name.clone(), tokens)
        })
        .collect();
    assign(&mine, per_pod)
}

/// The rounds documents (KV keys) of the series followed live among `markets` (names) of `ns`.
fn series_keys<'a>(ns: &str, views: impl IntoIterator<Item = &'a MarketView>) -> Vec<String> {
    views
        .into_iter()
        .filter(|m| m.live_rounds)
        .map(|m| polyfleet_core::wire::subjects::rounds_key(ns, &m.name))
        .collect()
}

/// The market-data Deployment name of shard `index` of `venue`.
pub fn shard_name(venue: &str, index: usize) -> String {
    child_name(&format!("md-{venue}"), &index.to_string())
}

/// Whether the Venue may send live orders: acknowledged, with credentials.
pub fn live_enabled(venue: &Venue) -> bool {
    venue.spec.live_trading.as_ref().is_some_and(|l| l.acknowledged) && venue.spec.credentials_secret_ref.is_some()
}

/// The execution agent's venue arguments: endpoints, rate limits, and the live acknowledgement.
fn execution_args(venue: &Venue, at: &VenueEndpoints) -> Vec<String> {
    let r = &venue.spec.rate_limits;
    let mut args = vec![
        "--clob-url".to_string(),
        at.clob.clone(),
        "--user-ws-url".to_string(),
        at.user_ws.clone(),
        "--relayer-url".to_string(),
        at.relayer.clone(),
        "--orders-per-second".to_string(),
        r.orders_per_second.max(1).to_string(),
        "--orders-burst".to_string(),
        r.orders_burst.max(1).to_string(),
        "--cancels-per-second".to_string(),
        r.cancels_per_second.max(1).to_string(),
        "--cancels-burst".to_string(),
        r.cancels_burst.max(1).to_string(),
    ];
    if let Some(rpc) = &at.polygon_rpc {
        args.extend(["--polygon-rpc".to_string(), rpc.clone()]);
    }
    if live_enabled(venue) {
        args.push("--live-acknowledged".into());
    }
    args
}

/// The credentials as environment of the execution pod: references into the Venue's Secret
/// (never values), and the account's signature type and funder (not secret).
fn credentials_env(venue: &Venue) -> Vec<EnvVar> {
    let Some(secret) = &venue.spec.credentials_secret_ref else { return vec![] };
    let mut env: Vec<EnvVar> = CREDENTIAL_KEYS
        .iter()
        .map(|(key, var, optional)| EnvVar {
            name: (*var).to_string(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.name.clone(),
                    key: (*key).to_string(),
                    optional: Some(*optional),
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let live = venue.spec.live_trading.clone().unwrap_or_default();
    let code = match live.signature_type {
        SignatureType::Eoa => "0",
        SignatureType::PolyProxy => "1",
        SignatureType::GnosisSafe => "2",
        SignatureType::Poly1271 => "3",
    };
    env.push(EnvVar { name: "POLYMARKET_SIGNATURE_TYPE".into(), value: Some(code.into()), ..Default::default() });
    if let Some(funder) = live.funder_address {
        env.push(EnvVar { name: "POLYMARKET_FUNDER".into(), value: Some(funder), ..Default::default() });
    }
    env
}

/// A planned object that does not serialize (nothing of the plan is applied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("planned object does not serialize: {0}")]
pub struct EncodeError(pub String);

/// What a simulator Venue's simulator serves (`venue-sim -f`): the Venue and every Market of
/// `declared` that references it, as declared (name, labels, spec), in YAML documents.
pub fn simulator_resources(venue: &Venue, declared: &[&Market]) -> Result<String, EncodeError> {
    let encode = |e: &dyn std::fmt::Display| EncodeError(e.to_string());
    let name = venue.name_any();
    let doc = |kind: &str, meta: &ObjectMeta, spec: serde_json::Value| {
        serde_json::json!({
            "apiVersion": "polyfleet.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": meta.name, "labels": meta.labels.clone().unwrap_or_default()},
            "spec": spec,
        })
    };
    let mut docs = vec![doc("Venue", &venue.metadata, serde_json::to_value(&venue.spec).map_err(|e| encode(&e))?)];
    let mut mine: Vec<&&Market> = declared.iter().filter(|m| m.spec.venue_ref.name == name).collect();
    mine.sort_by_key(|m| m.name_any());
    for m in mine {
        docs.push(doc("Market", &m.metadata, serde_json::to_value(&m.spec).map_err(|e| encode(&e))?));
    }
    let yaml = docs.iter().map(serde_saphyr::to_string).collect::<Result<Vec<_>, _>>().map_err(|e| encode(&e))?;
    Ok(yaml.join("---\n"))
}

/// Plans `venue` for its `markets` (the resolved Markets that reference it); a simulator Venue's
/// simulator declares the Markets of `declared` that reference it (resolved or not: it is what
/// resolves them).
pub fn plan_venue(
    venue: &Venue,
    markets: &[MarketView],
    declared: &[&Market],
    settings: &FleetSettings,
) -> Result<VenuePlan, EncodeError> {
    let name = venue.name_any();
    let ns = namespace_of(venue);
    let owner = owner_ref(venue);
    let per_conn = venue.spec.sharding.assets_per_connection.max(1) as usize;
    let mine: Vec<&MarketView> = markets.iter().filter(|m| m.venue == name).collect();
    let shards = shards(venue, markets);
    let at = endpoints(venue);
    let VenueEndpoints { market_ws: ws, clob, .. } = at.clone();
    let owner_labels = BTreeMap::from([("polyfleet.dev/venue".to_string(), name.clone())]);
    let mut plan = VenuePlan { shards: shards.clone(), ..Default::default() };
    if venue.spec.kind == VenueKind::Simulator {
        let resources = simulator_resources(venue, declared)?;
        let spec = AgentSpec {
            role: Role::Simulator,
            name: simulator_name(&name),
            namespace: ns.clone(),
            args: vec![
                "--addr".into(),
                format!("0.0.0.0:{SIMULATOR_PORT}"),
                "--filename".into(),
                format!("{CONFIG_DIR}/resources.yaml"),
            ],
            env: clock_env(venue),
            ..AgentSpec::plain(Role::Simulator, &owner_labels)
        };
        plan.add_with_file(settings, spec, owner.clone(), "resources.yaml", resources);
    }
    for shard in &shards {
        // The shard's tokens go in a file of its ConfigMap, one per line: thousands of 78-digit
        // token ids do not fit one argument (Linux caps an argument or variable at 128 KiB).
        let tokens_file = (!shard.tokens.is_empty()).then(|| shard.tokens.join("\n") + "\n");
        let spec = AgentSpec {
            role: Role::MarketData,
            name: shard_name(&name, shard.index),
            namespace: ns.clone(),
            args: vec![
                "--venue".into(),
                name.clone(),
                "--ws-url".into(),
                ws.clone(),
                "--rest-url".into(),
                clob.clone(),
                "--assets-per-connection".into(),
                per_conn.to_string(),
            ]
            .into_iter()
            .chain(
                tokens_file
                    .as_ref()
                    .map(|_| ["--tokens-file".to_string(), format!("{CONFIG_DIR}/tokens.txt")])
                    .into_iter()
                    .flatten(),
            )
            .chain(flag(
                "--series",
                &series_keys(&ns, mine.iter().copied().filter(|m| shard.markets.contains(&m.name))),
            ))
            .collect(),
            env: clock_env(venue),
            ..AgentSpec::plain(Role::MarketData, &owner_labels)
        };
        match tokens_file {
            Some(text) => plan.add_with_file(settings, spec, owner.clone(), "tokens.txt", text),
            None => plan.add(settings, &spec, owner.clone()),
        }
    }
    // Execution: every token of the venue with its market's rules (exposure groups are the
    // gateway's business: the strategies' intents carry them).
    let tokens: Vec<_> = mine.iter().filter(|m| !m.live_rounds).flat_map(|m| m.token_configs(&[])).collect();
    let markets_json = serde_json::to_string_pretty(&tokens).map_err(|e| EncodeError(e.to_string()))?;
    let spec = AgentSpec {
        role: Role::Execution,
        name: child_name("exec", &name),
        namespace: ns.clone(),
        args: vec![
            "--venue".into(),
            name.clone(),
            "--namespace".into(),
            ns.clone(),
            "--markets".into(),
            format!("{CONFIG_DIR}/markets.json"),
            // Durable consumers are per stream: unique per namespace and venue.
            "--durable".into(),
            format!("exec-{ns}-{name}"),
        ]
        .into_iter()
        .chain(flag("--series", &series_keys(&ns, mine.iter().copied())))
        .chain(execution_args(venue, &at))
        .collect(),
        env: credentials_env(venue).into_iter().chain(clock_env(venue)).collect(),
        replicas: 1,
        uses_redis: true,
        owner_labels,
        config: None,
    };
    plan.add_with_file(settings, spec, owner, "markets.json", markets_json);
    Ok(plan)
}

impl VenuePlan {
    /// Adds an agent's Deployment and its Service.
    fn add(&mut self, settings: &FleetSettings, spec: &AgentSpec, owner: Option<OwnerReference>) {
        self.deployments.push(agent_deployment(settings, spec, owner.clone()));
        self.services.push(metrics_service(settings, spec, owner));
    }

    /// Adds an agent with one file under `CONFIG_DIR`: its ConfigMap (named as the agent, `key`
    /// holding `text`), and its Deployment, which mounts it and restarts when it changes.
    fn add_with_file(
        &mut self,
        settings: &FleetSettings,
        mut spec: AgentSpec,
        owner: Option<OwnerReference>,
        key: &str,
        text: String,
    ) {
        spec.config = Some((spec.name.clone(), checksum(text.as_bytes())));
        self.config_maps.push(ConfigMap {
            metadata: ObjectMeta {
                name: Some(spec.name.clone()),
                namespace: Some(spec.namespace.clone()),
                labels: Some(labels(&spec)),
                owner_references: owner.clone().map(|o| vec![o]),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(key.to_string(), text)])),
            ..Default::default()
        });
        self.add(settings, &spec, owner);
    }
}

//! A Venue's agents: one market-data Deployment per shard of its Markets' tokens, and its
//! execution Deployment with the markets file it trades by. Each with a metrics Service. A
//! `kind: simulator` Venue also runs the seeded venue simulator, and its agents (and the Market
//! lookups) use the simulator's Service as the venue's endpoints.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use polyfleet_crds::Venue;
use polyfleet_crds::venue::VenueKind;

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

/// Where a Venue is reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VenueEndpoints {
    /// Market-channel WebSocket URL.
    pub market_ws: String,
    /// CLOB REST base.
    pub clob: String,
    /// Gamma REST base.
    pub gamma: String,
}

/// The simulator Deployment and Service name of a simulator Venue.
pub fn simulator_name(venue: &str) -> String {
    child_name("sim", venue)
}

/// A Venue's endpoints: what its spec names, else the simulator's in-cluster Service for a
/// simulator Venue, else Polymarket's public endpoints.
pub fn endpoints(venue: &Venue) -> VenueEndpoints {
    let given = venue.spec.endpoints.clone().unwrap_or_default();
    let (ws, clob, gamma) = if venue.spec.kind == VenueKind::Simulator {
        let base = format!("{}.{}.svc:{SIMULATOR_PORT}", simulator_name(&venue.name_any()), namespace_of(venue));
        (format!("ws://{base}/ws/market"), format!("http://{base}"), format!("http://{base}"))
    } else {
        (POLYMARKET_MARKET_WS.to_string(), POLYMARKET_CLOB.to_string(), POLYMARKET_GAMMA.to_string())
    };
    VenueEndpoints {
        market_ws: given.market_ws.unwrap_or(ws),
        clob: given.clob.unwrap_or(clob),
        gamma: given.gamma.unwrap_or(gamma),
    }
}

/// What a Venue needs running.
#[derive(Debug, Clone, Default)]
pub struct VenuePlan {
    /// The simulator (simulator Venues), market-data shards, then execution.
    pub deployments: Vec<Deployment>,
    /// One metrics Service per Deployment.
    pub services: Vec<Service>,
    /// The execution agent's markets file.
    pub config_maps: Vec<ConfigMap>,
    /// The token assignment (for Market and Venue status).
    pub shards: Vec<Shard>,
}

/// The assignment of `venue`'s Markets (among `markets`) to market-data pods.
pub fn shards(venue: &Venue, markets: &[MarketView]) -> Vec<Shard> {
    let name = venue.name_any();
    let per_pod = venue.spec.sharding.assets_per_connection.max(1) as usize
        * venue.spec.sharding.connections_per_pod.max(1) as usize;
    let mine: Vec<(String, Vec<String>)> = markets
        .iter()
        .filter(|m| m.venue == name)
        .map(|m| (m.name.clone(), m.tokens.iter().map(|(_, t)| t.to_string()).collect()))
        .collect();
    assign(&mine, per_pod)
}

/// The market-data Deployment name of shard `index` of `venue`.
pub fn shard_name(venue: &str, index: usize) -> String {
    child_name(&format!("md-{venue}"), &index.to_string())
}

/// Plans `venue` for its `markets` (the resolved Markets that reference it).
pub fn plan_venue(venue: &Venue, markets: &[MarketView], settings: &FleetSettings) -> VenuePlan {
    let name = venue.name_any();
    let ns = namespace_of(venue);
    let owner = owner_ref(venue);
    let per_conn = venue.spec.sharding.assets_per_connection.max(1) as usize;
    let mine: Vec<&MarketView> = markets.iter().filter(|m| m.venue == name).collect();
    let shards = shards(venue, markets);
    let VenueEndpoints { market_ws: ws, clob, .. } = endpoints(venue);
    let owner_labels = BTreeMap::from([("polyfleet.dev/venue".to_string(), name.clone())]);
    let mut plan = VenuePlan { shards: shards.clone(), ..Default::default() };
    if venue.spec.kind == VenueKind::Simulator {
        let sim = venue.spec.simulator.clone().unwrap_or_default();
        let spec = AgentSpec {
            role: Role::Simulator,
            name: simulator_name(&name),
            namespace: ns.clone(),
            args: vec![
                "--addr".into(),
                format!("0.0.0.0:{SIMULATOR_PORT}"),
                "--seed".into(),
                sim.seed.max(0).to_string(),
                "--rate".into(),
                sim.events_per_second.max(1).to_string(),
                "--mispricing-bps".into(),
                sim.mispricing_bps.max(0).to_string(),
            ],
            ..AgentSpec::plain(Role::Simulator, &owner_labels)
        };
        plan.add(settings, &spec, owner.clone());
    }
    for shard in &shards {
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
                "--tokens".into(),
                shard.tokens.join(","),
            ],
            ..AgentSpec::plain(Role::MarketData, &owner_labels)
        };
        plan.add(settings, &spec, owner.clone());
    }
    // Execution: every token of the venue with its market's rules.
    let tokens: Vec<_> = mine.iter().flat_map(|m| m.token_configs()).collect();
    let markets_json = serde_json::to_string_pretty(&tokens).unwrap_or_else(|_| "[]".into());
    let exec_name = child_name("exec", &name);
    let spec = AgentSpec {
        role: Role::Execution,
        name: exec_name.clone(),
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
        ],
        env: vec![],
        config: Some((exec_name.clone(), checksum(markets_json.as_bytes()))),
        replicas: 1,
        uses_redis: true,
        owner_labels,
    };
    plan.config_maps.push(ConfigMap {
        metadata: ObjectMeta {
            name: Some(exec_name),
            namespace: Some(ns),
            labels: Some(labels(&spec)),
            owner_references: owner.clone().map(|o| vec![o]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("markets.json".to_string(), markets_json)])),
        ..Default::default()
    });
    plan.add(settings, &spec, owner);
    plan
}

impl VenuePlan {
    /// Adds an agent's Deployment and its Service.
    fn add(&mut self, settings: &FleetSettings, spec: &AgentSpec, owner: Option<OwnerReference>) {
        self.deployments.push(agent_deployment(settings, spec, owner.clone()));
        self.services.push(metrics_service(settings, spec, owner));
    }
}

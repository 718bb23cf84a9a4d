//! The NetworkPolicy of a namespace's agents: ingress only to the metrics port; egress only to
//! DNS, NATS, Redis, the OTLP collector (by the ports in the operator's URLs) and the venue
//! (HTTPS/WSS on 443, to the configured CIDRs or anywhere when none are set). Everything else is
//! denied once the policy selects the pods. A namespace with a simulator Venue also lets its
//! agents reach the simulator's port (and nothing else inside the namespace). The policy is owned
//! by every Venue of the namespace, so it goes with the last of them.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::pods::SIMULATOR_PORT;
use crate::settings::FleetSettings;

/// The port of a `scheme://host:port[/...]` URL, or the scheme's default.
pub fn url_port(url: &str) -> Option<i32> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let authority = authority.rsplit('@').next()?;
    match authority.rsplit_once(':') {
        Some((_, p)) if !p.contains(']') => p.parse().ok(),
        _ => match scheme {
            "nats" => Some(4222),
            "redis" | "rediss" => Some(6379),
            "http" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        },
    }
}

/// The policy's name (one per namespace).
pub const POLICY_NAME: &str = "polyfleet-agents";

/// A NetworkPolicy port.
pub fn port(protocol: &str, p: i32) -> NetworkPolicyPort {
    NetworkPolicyPort { protocol: Some(protocol.into()), port: Some(IntOrString::Int(p)), ..Default::default() }
}

/// The agents' NetworkPolicy for `namespace`, owned by `owners` (the namespace's Venues, none of
/// them the controller); `simulator` when one of them is a simulator.
pub fn agents_policy(
    namespace: &str,
    settings: &FleetSettings,
    simulator: bool,
    owners: Vec<OwnerReference>,
) -> NetworkPolicy {
    let agents = LabelSelector {
        match_labels: Some(BTreeMap::from([("app.kubernetes.io/name".into(), "polyfleet-agent".into())])),
        ..Default::default()
    };
    let mut service_ports = vec![];
    for url in
        [Some(&settings.nats_url), Some(&settings.redis_url), settings.otlp_endpoint.as_ref()].into_iter().flatten()
    {
        if let Some(p) = url_port(url) {
            service_ports.push(port("TCP", p));
        }
    }
    let venue_peers = if settings.venue_cidrs.is_empty() {
        None
    } else {
        Some(
            settings
                .venue_cidrs
                .iter()
                .map(|c| NetworkPolicyPeer {
                    ip_block: Some(IPBlock { cidr: c.clone(), except: None }),
                    ..Default::default()
                })
                .collect(),
        )
    };
    let mut ingress =
        vec![NetworkPolicyIngressRule { ports: Some(vec![port("TCP", settings.metrics_port)]), from: None }];
    let mut egress = vec![
        NetworkPolicyEgressRule { ports: Some(vec![port("UDP", 53), port("TCP", 53)]), to: None },
        NetworkPolicyEgressRule { ports: Some(service_ports), to: None },
        NetworkPolicyEgressRule { ports: Some(vec![port("TCP", 443)]), to: venue_peers },
    ];
    if simulator {
        let sim = LabelSelector {
            match_labels: Some(BTreeMap::from([("app.kubernetes.io/component".into(), "simulator".into())])),
            ..Default::default()
        };
        let agents_peer = NetworkPolicyPeer { pod_selector: Some(agents.clone()), ..Default::default() };
        ingress.push(NetworkPolicyIngressRule {
            ports: Some(vec![port("TCP", SIMULATOR_PORT)]),
            from: Some(vec![agents_peer]),
        });
        egress.push(NetworkPolicyEgressRule {
            ports: Some(vec![port("TCP", SIMULATOR_PORT)]),
            to: Some(vec![NetworkPolicyPeer { pod_selector: Some(sim), ..Default::default() }]),
        });
    }
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.into()),
            namespace: Some(namespace.into()),
            labels: Some(BTreeMap::from([("app.kubernetes.io/managed-by".into(), "polyfleet-operator".into())])),
            owner_references: (!owners.is_empty()).then_some(owners),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(agents),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    }
}

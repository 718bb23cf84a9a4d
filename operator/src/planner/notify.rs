//! A RiskPolicy with `notifications` -> its notifier agent: a Deployment running
//! `polyfleet-agent notify` with the notifier's configuration (the contract's
//! [`polyfleet_core::notify::NotifyConfig`], JSON in an environment variable) and each referenced
//! Secret key as an environment variable, and a NetworkPolicy that lets exactly those pods reach
//! their webhooks (HTTPS, HTTP and the ports the declared URLs name) on top of the agents' own.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;
use polyfleet_crds::RiskPolicy;

use super::network::{port, url_port};
use super::{child_name, namespace_of, owner_ref};
use crate::contract::notify_config;
use crate::pods::{AgentSpec, Role, agent_deployment, secret_env};
use crate::settings::{FleetSettings, SecretKey};

/// What a policy's notifications run.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifierPlan {
    /// The notifier's Deployment.
    pub deployment: Deployment,
    /// Its egress to the webhooks.
    pub network_policy: NetworkPolicy,
}

/// The notifier's object name for `policy`.
pub fn notifier_name(policy: &str) -> String {
    child_name("notify", policy)
}

/// The notifier of `policy`, or `None` when it declares no notifications.
pub fn plan_notifier(policy: &RiskPolicy, settings: &FleetSettings) -> Result<Option<NotifierPlan>, String> {
    let Some(n) = &policy.spec.notifications else { return Ok(None) };
    let ns = namespace_of(policy);
    let name = policy.name_any();
    let (config, secrets) = notify_config(&ns, &name, n);
    config.validate().map_err(|e| e.to_string())?;
    let json = serde_json::to_string(&config).map_err(|e| e.to_string())?;
    let mut env = vec![EnvVar { name: "POLYFLEET_NOTIFY_CONFIG".into(), value: Some(json), ..Default::default() }];
    env.extend(secrets.iter().map(|(var, r)| secret_env(var, &SecretKey { name: r.name.clone(), key: r.key.clone() })));
    let owner_labels = BTreeMap::from([("polyfleet.dev/riskpolicy".to_string(), name.clone())]);
    let spec = AgentSpec {
        name: notifier_name(&name),
        namespace: ns.clone(),
        env,
        ..AgentSpec::plain(Role::Notifier, &owner_labels)
    };
    let deployment = agent_deployment(settings, &spec, owner_ref(policy));
    let mut ports = vec![port("TCP", 443), port("TCP", 80)];
    for url in n.targets.iter().flat_map(|t| [t.url.as_ref(), t.api_url.as_ref()]).flatten() {
        if let Some(p) = url_port(url)
            && !ports.contains(&port("TCP", p))
        {
            ports.push(port("TCP", p));
        }
    }
    let selector = BTreeMap::from([
        ("app.kubernetes.io/component".to_string(), Role::Notifier.as_str().to_string()),
        ("app.kubernetes.io/instance".to_string(), spec.name.clone()),
    ]);
    let network_policy = NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(ns),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/managed-by".into(), "polyfleet-operator".into()),
                ("polyfleet.dev/riskpolicy".into(), name),
            ])),
            owner_references: owner_ref(policy).map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector { match_labels: Some(selector), ..Default::default() }),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![NetworkPolicyEgressRule { ports: Some(ports), to: None }]),
            ingress: None,
        }),
    };
    Ok(Some(NotifierPlan { deployment, network_policy }))
}

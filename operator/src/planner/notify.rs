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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notifier_gets_secret_references_and_egress_to_its_webhooks() {
        let yaml = r#"
apiVersion: polyfleet.dev/v1alpha1
kind: RiskPolicy
metadata: {name: main, namespace: desk, uid: u1}
spec:
  maxOrderSizeMicros: 1
  maxOrderNotionalMicros: 1
  maxPositionPerMarketMicros: 1
  maxGrossExposureMicros: 1
  maxDailyLossMicros: 1
  maxDrawdownMicros: 1
  maxOrdersPerMinute: 1
  notifications:
    targets:
      - {name: desk, kind: slack, urlSecretRef: {name: desk-slack, key: url}}
      - {name: ops, kind: generic, url: "http://hooks.internal:9000/x", tokenSecretRef: {name: ops, key: token}}
"#;
        let mut p: RiskPolicy = serde_saphyr::from_str(yaml).unwrap();
        let plan = plan_notifier(&p, &FleetSettings::default()).unwrap().unwrap();
        let c = &plan.deployment.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.args.as_ref().unwrap()[0], "notify");
        let env = c.env.as_ref().unwrap();
        let config = env.iter().find(|e| e.name == "POLYFLEET_NOTIFY_CONFIG").unwrap().value.clone().unwrap();
        let config: polyfleet_core::notify::NotifyConfig = serde_json::from_str(&config).unwrap();
        assert_eq!(config.targets[0].url_env.as_deref(), Some("POLYFLEET_NOTIFY_URL_0"));
        assert_eq!(config.targets[1].token_env.as_deref(), Some("POLYFLEET_NOTIFY_TOKEN_1"));
        let secret = |name: &str| {
            env.iter().find(|e| e.name == name).unwrap().value_from.clone().unwrap().secret_key_ref.unwrap()
        };
        assert_eq!(
            (secret("POLYFLEET_NOTIFY_URL_0").name, secret("POLYFLEET_NOTIFY_URL_0").key),
            ("desk-slack".into(), "url".into())
        );
        assert_eq!(secret("POLYFLEET_NOTIFY_TOKEN_1").name, "ops");
        assert_eq!(plan.deployment.metadata.owner_references.as_ref().unwrap()[0].name, "main");
        let egress = plan.network_policy.spec.unwrap().egress.unwrap();
        let ports: Vec<_> = egress[0].ports.as_ref().unwrap().iter().map(|p| p.port.clone().unwrap()).collect();
        use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int;
        assert_eq!(ports, [Int(443), Int(80), Int(9000)]);
        p.spec.notifications = None;
        assert!(plan_notifier(&p, &FleetSettings::default()).unwrap().is_none());
    }
}

//! The operator's RBAC: the committed manifest is what the code generates, it grants what the
//! controllers call and nothing dangerous (no Secret but the agents' copy of the Redis password,
//! by name; no pods or exec, no wildcards).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::Path;

use polyfleet_operator::rbac::{cluster_role, render};

#[test]
fn the_manifest_is_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/operator/rbac.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed,
        render().unwrap(),
        "regenerate: cargo run -q -p polyfleet-operator -- rbac > manifests/operator/rbac.yaml"
    );
}

#[test]
fn the_chart_rules_are_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/polyfleet/files/rbac-rules.yaml");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        polyfleet_operator::rbac::render_chart_rules().unwrap(),
        "regenerate: cargo run -q -p polyfleet-operator -- rbac --chart-rules > charts/polyfleet/files/rbac-rules.yaml"
    );
}

#[test]
fn it_grants_what_the_controllers_use_and_nothing_dangerous() {
    let rules = cluster_role().rules.unwrap();
    let grants = |group: &str, resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r.api_groups.as_ref().is_some_and(|g| g.iter().any(|x| x == group))
                && r.resources.as_ref().is_some_and(|rs| rs.iter().any(|x| x == resource))
                && r.verbs.iter().any(|v| v == verb)
        })
    };
    for (g, r, v) in [
        ("polyfleet.dev", "strategies", "watch"),
        ("polyfleet.dev", "strategies", "patch"),
        ("polyfleet.dev", "strategies/status", "patch"),
        ("polyfleet.dev", "riskpolicies/status", "patch"),
        ("polyfleet.dev", "markets", "list"),
        ("polyfleet.dev", "venues", "get"),
        ("apps", "deployments", "patch"),
        ("", "configmaps", "patch"),
        ("", "services", "watch"),
        ("networking.k8s.io", "networkpolicies", "patch"),
        ("events.k8s.io", "events", "create"),
    ] {
        assert!(grants(g, r, v), "missing {v} on {g}/{r}");
    }
    // Leader election: Leases in the operator's own namespace only, through a Role.
    let leader = polyfleet_operator::rbac::leader_role("polyfleet-system");
    assert_eq!(leader.metadata.namespace.as_deref(), Some("polyfleet-system"));
    let lease_rules = leader.rules.unwrap();
    assert_eq!(lease_rules.len(), 1);
    assert_eq!(lease_rules[0].resources.as_deref(), Some(&["leases".to_string()][..]));
    assert!(["get", "create", "patch"].iter().all(|v| lease_rules[0].verbs.iter().any(|x| x == v)));
    assert!(!grants("coordination.k8s.io", "leases", "get"), "no cluster-wide lease access");
    for r in rules.iter().chain(&lease_rules) {
        let resources = r.resources.clone().unwrap_or_default();
        assert!(!resources.iter().any(|x| x == "*" || x.starts_with("pods")), "{r:?}");
        if resources.iter().any(|x| x == "secrets") {
            // Only the agents' copy by name, or `create` (which cannot name one).
            let named =
                r.resource_names.as_deref() == Some(&[polyfleet_operator::credentials::AGENT_SECRET.to_string()][..]);
            let create_only = r.verbs == ["create"];
            assert!(named || create_only, "Secret access beyond the agents' copy: {r:?}");
            assert!(!r.verbs.iter().any(|v| v == "list" || v == "watch"), "{r:?}");
        }
        assert!(!r.verbs.iter().any(|v| v == "*" || v == "escalate" || v == "bind" || v == "impersonate"), "{r:?}");
        assert!(!r.api_groups.clone().unwrap_or_default().iter().any(|g| g == "*"), "{r:?}");
    }
}

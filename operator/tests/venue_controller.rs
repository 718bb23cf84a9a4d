//! The Venue reconciler against kube's tower-test mock API server (ApiServerVerifier pattern).
//! Shown: a simulator Venue gets its simulator, one market-data shard for the namespace's
//! Markets, its execution agent and markets file, the namespace's risk gateway (the namespace has
//! a RiskPolicy) and the agents' NetworkPolicy by server-side apply, each owned by the Venue
//! (the NetworkPolicy by every Venue of the namespace, none the controller); a shard that is no
//! longer planned is deleted; status carries shards, assigned tokens and observedGeneration; an
//! Event says what was done. The live children come from the children's store: a settled Venue
//! causes no API call at all; without RiskPolicies the gateway is removed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::mockapi;

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use mockapi::{ApiHandle, Step, applied, created, event_created, example, step, verify};
use polyfleet_crds::{Market, RiskPolicy, Venue};
use polyfleet_operator::cache::Cache;
use polyfleet_operator::children::Children;
use polyfleet_operator::controller::venue::{VenueContext, desired_status, reconcile};
use polyfleet_operator::planner::markets::MarketView;
use polyfleet_operator::planner::network::agents_policy;
use polyfleet_operator::planner::owner_ref;
use polyfleet_operator::planner::risk::gateway;
use polyfleet_operator::planner::venue::plan_venue;
use polyfleet_operator::settings::FleetSettings;
use serde_json::{Value, json};

const NS: &str = "/namespaces/trading";

/// A context whose reflector stores hold [`resources`]`(with_policy)` and `children`.
fn context(with_policy: bool, children: Children) -> (Arc<VenueContext>, ApiHandle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "trading");
    let recorder = Recorder::new(client.clone(), Reporter { controller: "polyfleet-operator".into(), instance: None });
    let metrics = polyfleet_operator::metrics::OperatorMetrics::new();
    let (venue, markets, policies) = resources(with_policy);
    let cache = Cache::of(vec![venue], policies, markets).with_children(children);
    (
        Arc::new(VenueContext {
            client,
            settings: FleetSettings::default(),
            cache,
            recorder,
            metrics,
            credentials: None,
        }),
        handle,
    )
}

fn resources(with_policy: bool) -> (Venue, Vec<Market>, Vec<RiskPolicy>) {
    let venue: Venue = example("venue-simulator.yaml");
    let markets = vec![example::<Market>("market-negrisk-event.yaml")];
    let policies = if with_policy { vec![example::<RiskPolicy>("riskpolicy.yaml")] } else { vec![] };
    (venue, markets, policies)
}

fn owned_by_venue(body: &Value) {
    let owner = &body["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["controller"].as_bool()), (Some("Venue"), Some(true)), "{body}");
}

#[tokio::test]
async fn a_new_venue_gets_its_agents_gateway_and_network_policy_and_a_stale_shard_goes() {
    // A second shard from when there were more Markets: deleted with its Service and ConfigMap.
    let (venue, markets, policies) = resources(true);
    let views: Vec<MarketView> = markets.iter().filter_map(MarketView::of).collect();
    let declared: Vec<&Market> = markets.iter().collect();
    let plan = plan_venue(&venue, &views, &declared, &FleetSettings::default()).unwrap();
    let mut stale: Deployment =
        applied(&plan.deployments.iter().find(|d| d.metadata.name.as_deref() == Some("md-sim-0")).unwrap().clone());
    stale.metadata.name = Some("md-sim-1".into());
    stale.metadata.annotations = None;
    let (ctx, handle) = context(true, Children::of(vec![stale], vec![], vec![], vec![]));
    let _ = (&markets, &policies);
    let mut steps: Vec<Step> = vec![];
    // The simulator serves the Venue's Markets as declared.
    steps.extend(created(&format!("{NS}/configmaps/sim-sim"), "v1", "ConfigMap", |b| {
        owned_by_venue(b);
        let resources = b["data"]["resources.yaml"].as_str().unwrap();
        assert!(resources.contains("kind: Venue") && resources.contains("kind: Market"), "{resources}");
    }));
    // The shard's tokens, one per line (the event's three outcomes, YES and NO each).
    steps.extend(created(&format!("{NS}/configmaps/md-sim-0"), "v1", "ConfigMap", |b| {
        owned_by_venue(b);
        assert_eq!(b["data"]["tokens.txt"].as_str().unwrap().lines().count(), 6, "{b}");
    }));
    steps.extend(created(&format!("{NS}/configmaps/exec-sim"), "v1", "ConfigMap", |b| {
        owned_by_venue(b);
        assert!(
            b["data"]["markets.json"]
                .as_str()
                .unwrap()
                .contains("71321045679252212594626385532706912750332728571942532289631379312455583992563")
        );
    }));
    for (name, arg0) in [("sim-sim", "venue-sim"), ("md-sim-0", "market-data"), ("exec-sim", "execution")] {
        steps.extend(created(&format!("{NS}/deployments/{name}"), "apps/v1", "Deployment", move |b| {
            owned_by_venue(b);
            assert_eq!(b["spec"]["template"]["spec"]["containers"][0]["args"][0], arg0);
        }));
    }
    for name in ["sim-sim", "md-sim-0", "exec-sim"] {
        steps.extend(created(&format!("{NS}/services/{name}"), "v1", "Service", owned_by_venue));
    }
    let gone = json!({"kind": "Status", "apiVersion": "v1", "status": "Success"});
    steps.push(step(Method::DELETE, &format!("{NS}/deployments/md-sim-1"), StatusCode::OK, gone.clone()));
    steps.push(step(Method::DELETE, &format!("{NS}/services/md-sim-1"), StatusCode::OK, gone.clone()));
    steps.push(step(Method::DELETE, &format!("{NS}/configmaps/md-sim-1"), StatusCode::OK, gone));
    steps.extend(created(&format!("{NS}/deployments/risk-sim"), "apps/v1", "Deployment", |b| {
        owned_by_venue(b);
        let args = b["spec"]["template"]["spec"]["containers"][0]["args"].as_array().unwrap().clone();
        assert_eq!(args[0], "risk");
        assert!(args.windows(2).any(|w| w[0] == "--liquidity-band-bps" && w[1] == "200"), "the policy's band");
    }));
    steps.extend(created(&format!("{NS}/services/risk-sim"), "v1", "Service", owned_by_venue));
    steps.extend(created(
        &format!("{NS}/networkpolicies/polyfleet-agents"),
        "networking.k8s.io/v1",
        "NetworkPolicy",
        |b| {
            let owner = &b["metadata"]["ownerReferences"][0];
            assert_eq!(owner["kind"], "Venue");
            assert!(owner["controller"].is_null(), "no Venue controls the namespace's policy");
            assert_eq!(b["spec"]["egress"].as_array().unwrap().len(), 4, "dns, services, venue, simulator");
        },
    ));
    let mut status =
        step(Method::PATCH, &format!("{NS}/venues/sim/status"), StatusCode::OK, serde_json::to_value(&venue).unwrap());
    status.check = Box::new(|b| {
        assert_eq!(
            (b["status"]["shards"].as_i64(), b["status"]["assignedAssets"].as_i64()),
            (Some(1), Some(6)),
            "the event's YES and NO"
        );
        assert_eq!(b["status"]["observedGeneration"], 3);
        let ready =
            &b["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
        assert_eq!((ready["status"].as_str(), ready["observedGeneration"].as_i64()), (Some("True"), Some(3)));
    });
    steps.push(status);
    let mut event = step(Method::POST, "/events", StatusCode::CREATED, event_created());
    event.check = Box::new(|b| {
        let note = b["note"].as_str().unwrap();
        assert!(note.contains("md-sim-0") && note.contains("removed md-sim-1") && note.contains("risk-sim"), "{note}");
    });
    steps.push(event);
    let server = tokio::spawn(verify(handle, steps));
    reconcile(Arc::new(venue), ctx.clone()).await.unwrap();
    server.await.unwrap();
    use polyfleet_operator::metrics::Probe;
    assert!(ctx.metrics.render().contains("polyfleet_operator_reconciles_total{kind=\"Venue\"} 1"));
}

/// The children of a settled Venue, as the operator left them: its plan's objects, the gateway
/// (and its Service) when `gateway`, and the namespace's NetworkPolicy.
fn settled_children(venue: &Venue, markets: &[Market], gateway_svc: bool, gateway_deploy: bool) -> Children {
    let views: Vec<MarketView> = markets.iter().filter_map(MarketView::of).collect();
    let settings = FleetSettings::default();
    let declared: Vec<&Market> = markets.iter().collect();
    let plan = plan_venue(venue, &views, &declared, &settings).unwrap();
    let (gw, gw_svc) = gateway("trading", "sim", 200, vec![], &settings, owner_ref(venue));
    let mut deployments: Vec<_> = plan.deployments.iter().map(applied).collect();
    let mut services: Vec<_> = plan.services.iter().map(applied).collect();
    if gateway_deploy {
        deployments.push(applied(&gw));
    }
    if gateway_svc {
        services.push(applied(&gw_svc));
    }
    let mut owner = owner_ref(venue).unwrap();
    owner.controller = None;
    let np = agents_policy("trading", &settings, true, vec![owner]);
    Children::of(deployments, plan.config_maps.iter().map(applied).collect(), services, vec![applied(&np)])
}

/// A Venue whose status is what the operator wrote.
fn settled_venue(with_policy: bool) -> (Venue, Vec<Market>) {
    let (mut venue, markets, _) = resources(with_policy);
    let views: Vec<MarketView> = markets.iter().filter_map(MarketView::of).collect();
    let declared: Vec<&Market> = markets.iter().collect();
    let plan = plan_venue(&venue, &views, &declared, &FleetSettings::default()).unwrap();
    venue.status = Some(desired_status(None, 3, &plan, "2026-11-22T08:00:00Z"));
    (venue, markets)
}

#[tokio::test]
async fn a_settled_venue_causes_no_api_call() {
    let (venue, markets) = settled_venue(true);
    let (ctx, handle) = context(true, settled_children(&venue, &markets, true, true));
    // verify() fails on any request: no read, no apply, no status patch, no event.
    let server = tokio::spawn(verify(handle, vec![]));
    reconcile(Arc::new(venue), ctx).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn without_risk_policies_the_gateway_is_removed() {
    let (venue, markets) = settled_venue(false);
    // The gateway's Service is already gone: no delete for it.
    let (ctx, handle) = context(false, settled_children(&venue, &markets, false, true));
    let gone = json!({"kind": "Status", "apiVersion": "v1", "status": "Success"});
    let mut steps = vec![step(Method::DELETE, &format!("{NS}/deployments/risk-sim"), StatusCode::OK, gone)];
    let mut event = step(Method::POST, "/events", StatusCode::CREATED, event_created());
    event.check = Box::new(|b| assert!(b["note"].as_str().unwrap().contains("removed risk-sim (no RiskPolicy)")));
    steps.push(event);
    let server = tokio::spawn(verify(handle, steps));
    reconcile(Arc::new(venue), ctx).await.unwrap();
    server.await.unwrap();
}

//! The Strategy reconciler against kube's tower-test mock API server (the ApiServerVerifier
//! pattern): every request the reconciler makes is checked in order and answered. Shown: the
//! finalizer is added first; a new Strategy gets its ConfigMap, Deployment and Service by
//! server-side apply, its parameters in the KV store, a status patch with observedGeneration
//! and an Event; a Strategy whose children, parameters and status are already right causes
//! no API call at all; a refused Strategy (live without acknowledgement) gets no children and a Stalled
//! status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::mockapi;

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use mockapi::{ApiHandle, Step, applied, example, step, verify};
use polyfleet_crds::venue::ExecutionMode;
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};
use polyfleet_operator::cache::Cache;
use polyfleet_operator::children::Children;
use polyfleet_operator::control::MemoryControl;
use polyfleet_operator::controller::Context;
use polyfleet_operator::controller::apply::DESIRED_HASH;
use polyfleet_operator::controller::strategy::{FINALIZER, book_status, desired_status, reconcile};
use polyfleet_operator::limits::{MemoryLimits, StrategyBook};
use polyfleet_operator::metrics::Probe;
use polyfleet_operator::params::{MemoryParams, ParamsAck, ParamsStore};
use polyfleet_operator::planner::markets::MarketView;
use polyfleet_operator::planner::strategy::plan_strategy;
use polyfleet_operator::settings::FleetSettings;
use serde_json::{Value, json};

fn context(params: MemoryParams) -> (Arc<Context>, ApiHandle) {
    context_with(params, MemoryControl::default())
}

fn context_with(params: MemoryParams, control: MemoryControl) -> (Arc<Context>, ApiHandle) {
    context_full(params, control, MemoryLimits::default())
}

fn context_full(params: MemoryParams, control: MemoryControl, risk: MemoryLimits) -> (Arc<Context>, ApiHandle) {
    context_live(params, control, risk, Children::of(vec![], vec![], vec![], vec![]))
}

/// `children`: what the children's store (the operator's watch) holds.
fn context_live(
    params: MemoryParams,
    control: MemoryControl,
    risk: MemoryLimits,
    children: Children,
) -> (Arc<Context>, ApiHandle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "trading");
    let recorder = Recorder::new(client.clone(), Reporter { controller: "polyfleet-operator".into(), instance: None });
    let metrics = polyfleet_operator::metrics::OperatorMetrics::new();
    let cache = Cache::of(
        vec![example::<Venue>("venue-simulator.yaml")],
        vec![example::<RiskPolicy>("riskpolicy.yaml")],
        vec![example::<Market>("market-negrisk-event.yaml")],
    )
    .with_children(children);
    let ctx = Context {
        client,
        settings: FleetSettings::default(),
        cache,
        params: Arc::new(params),
        control: Arc::new(control),
        risk: Arc::new(risk),
        recorder,
        metrics,
        credentials: None,
    };
    (Arc::new(ctx), handle)
}

fn strategy_with_finalizer() -> Strategy {
    let mut s: Strategy = example("strategy-arbitrage.yaml");
    s.meta_mut().finalizers = Some(vec![FINALIZER.into()]);
    s
}

const STRATEGIES: &str = "/apis/polyfleet.dev/v1alpha1/namespaces/trading/strategies/negrisk-arb";

/// No API reads for the Venue, RiskPolicy, Markets and the children: they come from the
/// reflector stores.
fn lookups() -> Vec<Step> {
    vec![]
}

#[tokio::test]
async fn the_finalizer_is_added_before_anything_else() {
    let (ctx, handle) = context(MemoryParams::default());
    let s: Strategy = example("strategy-arbitrage.yaml");
    let mut with = s.clone();
    with.meta_mut().finalizers = Some(vec![FINALIZER.into()]);
    let mut patch = step(Method::PATCH, STRATEGIES, StatusCode::OK, serde_json::to_value(&with).unwrap());
    patch.check = Box::new(|body| {
        let ops = body.as_array().expect("a JSON patch");
        assert!(ops.iter().any(|op| op["op"] == "add" && op["value"][0] == FINALIZER), "{body}");
    });
    let server = tokio::spawn(verify(handle, vec![patch]));
    reconcile(Arc::new(s), ctx).await.unwrap();
    server.await.unwrap();
}

/// A Strategy seen for the first time (finalizer already on): children, parameters, status,
/// event. Returns the cancel-all requests made.
async fn first_apply(suspend: bool) -> Vec<(String, String, String)> {
    let params = MemoryParams::default();
    let control = MemoryControl::default();
    let (ctx, handle) = context_with(params.clone(), control.clone());
    let mut s = strategy_with_finalizer();
    s.spec.suspend = suspend;
    let mut steps = lookups();
    for (kind, path) in [
        ("ConfigMap", "/api/v1/namespaces/trading/configmaps/strategy-negrisk-arb"),
        ("Deployment", "/apis/apps/v1/namespaces/trading/deployments/strategy-negrisk-arb"),
        ("Service", "/api/v1/namespaces/trading/services/strategy-negrisk-arb"),
    ] {
        let mut apply = step(
            Method::PATCH,
            &format!("{path}?&force=true&fieldManager=polyfleet-operator"),
            StatusCode::OK,
            json!({}),
        );
        apply.path = path.to_string();
        apply.check = Box::new(move |body| {
            assert_eq!(body["kind"], kind);
            if kind == "Deployment" {
                assert_eq!(body["spec"]["replicas"], if suspend { 0 } else { 1 });
            }
            assert!(body["metadata"]["annotations"][DESIRED_HASH].is_string());
            assert_eq!(body["metadata"]["ownerReferences"][0]["kind"], "Strategy");
        });
        // The response body is the applied object (kube only needs valid JSON of the type).
        apply.response = json!({"apiVersion": if kind == "Deployment" {"apps/v1"} else {"v1"}, "kind": kind, "metadata": {"name": "strategy-negrisk-arb"}});
        steps.push(apply);
    }
    let mut status =
        step(Method::PATCH, &format!("{STRATEGIES}/status"), StatusCode::OK, serde_json::to_value(&s).unwrap());
    status.check = Box::new(move |body| {
        assert_eq!(body["status"]["observedGeneration"], 3);
        let conds = body["status"]["conditions"].as_array().unwrap();
        let susp = conds.iter().find(|c| c["type"] == "Suspended").unwrap();
        assert_eq!(susp["status"], if suspend { "True" } else { "False" });
        let conds = body["status"]["conditions"].as_array().unwrap();
        let ready = conds.iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!((ready["status"].as_str(), ready["observedGeneration"].as_i64()), (Some("True"), Some(3)));
        let params = conds.iter().find(|c| c["type"] == "ParametersApplied").unwrap();
        assert_eq!((params["status"].as_str(), params["reason"].as_str()), (Some("False"), Some("Pending")));
    });
    steps.push(status);
    let mut event =
        step(Method::POST, "/apis/events.k8s.io/v1/namespaces/trading/events", StatusCode::CREATED, json!({}));
    event.check = Box::new(move |body| {
        assert_eq!(body["reason"], "Applied");
        assert!(body["note"].as_str().unwrap().contains("Deployment"));
        assert_eq!(body["note"].as_str().unwrap().contains("cancel-all"), suspend);
    });
    event.response = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null, "reportingController": "polyfleet-operator", "reportingInstance": "polyfleet-operator"});
    steps.push(event);
    let server = tokio::spawn(verify(handle, steps));
    reconcile(Arc::new(s), ctx.clone()).await.unwrap();
    server.await.unwrap();
    let text = ctx.metrics.render();
    assert!(text.contains("polyfleet_operator_reconciles_total{kind=\"Strategy\"} 1"), "{text}");
    assert!(text.contains("polyfleet_operator_reconcile_duration_seconds_count{kind=\"Strategy\"} 1"));
    assert!(!text.contains("polyfleet_operator_failures_total{"));
    let doc: Value = serde_json::from_slice(&params.get("trading.negrisk-arb").await.unwrap().unwrap()).unwrap();
    assert_eq!((doc["generation"].as_i64(), doc["parameters"]["minEdgeBps"].as_i64()), (Some(3), Some(50)));
    control.requests.lock().unwrap().clone()
}

#[tokio::test]
async fn a_new_strategy_gets_its_children_parameters_status_and_an_event() {
    assert!(first_apply(false).await.is_empty(), "a running strategy cancels nothing");
}

#[tokio::test]
async fn suspend_cancels_open_orders_and_scales_to_zero() {
    let requests = first_apply(true).await;
    assert_eq!(requests, vec![("trading".into(), "negrisk-arb".into(), "strategy suspended".into())]);
}

#[tokio::test]
async fn deletion_cancels_orders_and_removes_parameters_before_the_finalizer_goes() {
    let params = MemoryParams::default();
    params.put("trading.negrisk-arb", b"{}".to_vec()).await.unwrap();
    let control = MemoryControl::default();
    let (ctx, handle) = context_with(params.clone(), control.clone());
    let mut s = strategy_with_finalizer();
    s.meta_mut().deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    let mut event = step(
        Method::POST,
        "/events",
        StatusCode::CREATED,
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null, "reportingController": "x", "reportingInstance": "x"}),
    );
    event.check = Box::new(|b| assert_eq!(b["reason"], "Deleting"));
    let mut unfinalize = step(Method::PATCH, STRATEGIES, StatusCode::OK, serde_json::to_value(&s).unwrap());
    unfinalize.check = Box::new(|b| {
        assert!(b.as_array().unwrap().iter().any(|o| o["op"] == "remove" && o["path"] == "/metadata/finalizers/0"));
    });
    let server = tokio::spawn(verify(handle, vec![event, unfinalize]));
    reconcile(Arc::new(s), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(control.requests.lock().unwrap().len(), 1);
    assert_eq!(params.get("trading.negrisk-arb").await.unwrap(), None);
}

/// A settled Strategy (children, parameters and status as the operator left them); `book` is what
/// the risk store holds for it. Returns the steps of the reads and a context.
async fn settled(book: StrategyBook) -> (Strategy, Vec<Step>, MemoryParams, Arc<Context>, ApiHandle) {
    settled_from(strategy_with_finalizer(), book).await
}

/// [`settled`] for Strategy `s`.
async fn settled_from(
    mut s: Strategy,
    book: StrategyBook,
) -> (Strategy, Vec<Step>, MemoryParams, Arc<Context>, ApiHandle) {
    let params = MemoryParams::default();
    // What the operator applied last time, and the agent's acknowledgement of generation 3.
    let venue: Venue = example("venue-simulator.yaml");
    let policy: RiskPolicy = example("riskpolicy.yaml");
    let market: Market = example("market-negrisk-event.yaml");
    let markets = vec![MarketView::of(&market).unwrap()];
    let plan = plan_strategy(&s, Some(&venue), Some(&policy), &markets, &FleetSettings::default()).unwrap();
    params.put(&plan.params_key, serde_json::to_vec(&plan.params_doc).unwrap()).await.unwrap();
    params
        .put(
            &format!("{}.ack", plan.params_key),
            serde_json::to_vec(&json!({"generation": 3, "applied": true, "error": null})).unwrap(),
        )
        .await
        .unwrap();
    let ack = ParamsAck { generation: 3, applied: true, error: None };
    let empty = book_status(&StrategyBook::default(), |_| String::new());
    s.status =
        Some(desired_status(None, 3, false, &Ok(plan.clone()), Some(&ack), Some(empty), None, "2026-11-22T08:00:00Z"));
    // The children as the operator applied them, in the children's store.
    let children = Children::of(
        vec![applied(&plan.deployment)],
        vec![applied(&plan.config_map)],
        vec![applied(&plan.service)],
        vec![],
    );
    let steps = lookups();
    let risk = MemoryLimits::default();
    risk.books.lock().unwrap().insert(("trading".into(), "negrisk-arb".into()), book);
    let (ctx, handle) = context_live(params.clone(), MemoryControl::default(), risk, children);
    (s, steps, params, ctx, handle)
}

#[tokio::test]
async fn nothing_changed_means_no_write_at_all() {
    let (s, steps, params, ctx, handle) = settled(StrategyBook::default()).await;
    let puts_before = *params.puts.lock().unwrap();
    let server = tokio::spawn(verify(handle, steps));
    reconcile(Arc::new(s), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(*params.puts.lock().unwrap(), puts_before, "no parameter write");
}

#[tokio::test]
async fn pnl_and_positions_come_from_the_risk_store() {
    use polyfleet_core::accounting::Position;
    use polyfleet_core::{Money, Quantity, TokenId};
    let token =
        TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563").unwrap();
    let position = Position {
        size: Quantity::from_micros(10_000_000),
        cost: Money::from_micros(3_400_000),
        realized: Money::from_micros(-50_000),
        fees: Money::from_micros(50_000),
        deficit: Quantity::ZERO,
    };
    let lifecycle = polyfleet_core::accounting::lifecycle::LifecycleTotals {
        merges: 3,
        merged: Quantity::from_micros(30_000_000),
        redemptions: 1,
        redeemed: Quantity::from_micros(10_000_000),
        settlements: 2,
        settled_pnl: Money::from_micros(1_250_000),
        capital_returned: Money::from_micros(40_000_000),
        ..Default::default()
    };
    let book = StrategyBook {
        positions: vec![(token, position)],
        unrealized: vec![(token, Money::from_micros(-100_000))],
        lifecycle,
    };
    let (s, mut steps, params, ctx, handle) = settled(book).await;
    // The agent's forecast scores (a directional strategy's), as it writes them to the KV bucket.
    let scores = vec![polyfleet_core::analytics::scores::ModelScore {
        model: "fed-model".into(),
        version: "1.4.0".into(),
        forecasts: 3,
        brier_micros: 163_333,
        brier: 0.163_333_333_333_333_33,
        market_brier_micros: Some(220_000),
        brier_skill_bps: Some(-25),
        log_loss: 0.520_167,
        calibration: vec![],
        clv_fills: 4,
        clv_mean_ppm: Some(-12_500),
        clv_beat: 1,
        calibration_rises: 0,
        recent_brier: 0.163_333,
        recent_window: 3,
    }];
    let key = polyfleet_core::wire::subjects::scores_key(&s.namespace().unwrap(), &s.name_any());
    polyfleet_operator::params::ParamsStore::put(&params, &key, serde_json::to_vec(&scores).unwrap()).await.unwrap();
    let mut status =
        step(Method::PATCH, &format!("{STRATEGIES}/status"), StatusCode::OK, serde_json::to_value(&s).unwrap());
    status.check = Box::new(|body| {
        let st = &body["status"];
        let m = &st["scores"][0];
        assert_eq!(
            (m["model"].as_str(), m["version"].as_str(), m["forecasts"].as_i64()),
            (Some("fed-model"), Some("1.4.0"), Some(3))
        );
        assert_eq!(
            (m["brier"].as_str(), m["marketBrier"].as_str(), m["brierSkill"].as_str(), m["logLoss"].as_str()),
            (Some("0.163333"), Some("0.220000"), Some("-0.0025"), Some("0.520167"))
        );
        assert_eq!(
            (m["clvFills"].as_i64(), m["clvMean"].as_str(), m["clvBeat"].as_i64()),
            (Some(4), Some("-0.012500"), Some(1))
        );
        assert_eq!(
            (st["pnl"]["realizedMicros"].as_i64(), st["pnl"]["unrealizedMicros"].as_i64()),
            (Some(-50_000), Some(-100_000))
        );
        assert_eq!(st["pnl"]["total"], "-0.15");
        let p = &st["positions"][0];
        assert_eq!(
            (p["market"].as_str(), p["sizeMicros"].as_i64(), p["avgPrice"].as_str()),
            (Some("election-winner"), Some(10_000_000), Some("0.34"))
        );
        let l = &st["lifecycle"];
        assert_eq!(
            (l["merges"].as_i64(), l["mergedMicros"].as_i64(), l["redemptions"].as_i64(), l["settlements"].as_i64()),
            (Some(3), Some(30_000_000), Some(1), Some(2))
        );
        assert_eq!(
            (l["settledPnlMicros"].as_i64(), l["capitalReturnedMicros"].as_i64()),
            (Some(1_250_000), Some(40_000_000))
        );
    });
    steps.push(status);
    let server = tokio::spawn(verify(handle, steps));
    reconcile(Arc::new(s), ctx).await.unwrap();
    server.await.unwrap();
}

/// A Strategy that declares drift alarms: the agent's report of a markout alarm turns the
/// `Drift` condition True with its detail and posts one Warning Event, `DriftAlarm`.
#[tokio::test]
async fn a_drift_alarm_the_agent_reports_is_a_condition_and_an_event() {
    use polyfleet_core::strategy::drift::{DriftAlarm, DriftMetric, DriftReport};
    let mut s = strategy_with_finalizer();
    s.spec.drift = Some(serde_json::from_str("{}").unwrap());
    let (s, mut steps, params, ctx, handle) = settled_from(s, StrategyBook::default()).await;
    let report = DriftReport {
        alarms: vec![DriftAlarm {
            metric: DriftMetric::Markouts,
            since_ns: 1,
            fired: 1,
            detail: "markout ppm: mean -2500 over 64 samples, last -30000".into(),
        }],
        size_factor_bps: 5000,
        samples: [64, 60, 0],
        fired: [1, 0, 0],
    };
    let key = polyfleet_core::wire::subjects::drift_key(&s.namespace().unwrap(), &s.name_any());
    polyfleet_operator::params::ParamsStore::put(&params, &key, serde_json::to_vec(&report).unwrap()).await.unwrap();
    let mut status =
        step(Method::PATCH, &format!("{STRATEGIES}/status"), StatusCode::OK, serde_json::to_value(&s).unwrap());
    status.check = Box::new(|body| {
        let conds = body["status"]["conditions"].as_array().unwrap();
        let drift = conds.iter().find(|c| c["type"] == "Drift").unwrap();
        assert_eq!((drift["status"].as_str(), drift["reason"].as_str()), (Some("True"), Some("MarkoutsDrift")));
        assert_eq!(
            drift["message"],
            "markouts: markout ppm: mean -2500 over 64 samples, last -30000; new positions at 50.00% of full size"
        );
    });
    steps.push(status);
    let mut event = step(
        Method::POST,
        "/events",
        StatusCode::CREATED,
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null, "reportingController": "x", "reportingInstance": "x"}),
    );
    event.check = Box::new(|body| {
        assert_eq!((body["type"].as_str(), body["reason"].as_str()), (Some("Warning"), Some("DriftAlarm")));
        assert!(body["note"].as_str().unwrap().starts_with("markouts:"));
    });
    steps.push(event);
    let server = tokio::spawn(verify(handle, steps));
    reconcile(Arc::new(s), ctx).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn live_without_acknowledgement_is_stalled_with_no_children() {
    let (ctx, handle) = context(MemoryParams::default());
    let mut s = strategy_with_finalizer();
    s.spec.mode = ExecutionMode::Live;
    let mut steps = lookups();
    let mut status =
        step(Method::PATCH, &format!("{STRATEGIES}/status"), StatusCode::OK, serde_json::to_value(&s).unwrap());
    status.check = Box::new(|body| {
        let conds = body["status"]["conditions"].as_array().unwrap();
        let stalled = conds.iter().find(|c| c["type"] == "Stalled").unwrap();
        assert_eq!(
            (stalled["status"].as_str(), stalled["reason"].as_str()),
            (Some("True"), Some("LiveTradingNotAcknowledged"))
        );
        let ready = conds.iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!(ready["status"], "False");
    });
    steps.push(status);
    let mut event = step(
        Method::POST,
        "/events",
        StatusCode::CREATED,
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null, "reportingController": "x", "reportingInstance": "x"}),
    );
    event.check = Box::new(|body| assert_eq!(body["type"], "Warning"));
    steps.push(event);
    let server = tokio::spawn(verify(handle, steps));
    reconcile(Arc::new(s), ctx).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn an_api_failure_is_an_error_counted_by_reason() {
    let (ctx, handle) = context(MemoryParams::default());
    let s = strategy_with_finalizer();
    let boom =
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "InternalError", "code": 500});
    let server = tokio::spawn(verify(
        handle,
        vec![step(Method::PATCH, "/configmaps/strategy-negrisk-arb", StatusCode::INTERNAL_SERVER_ERROR, boom)],
    ));
    assert!(reconcile(Arc::new(s), ctx.clone()).await.is_err());
    server.await.unwrap();
    let text = ctx.metrics.render();
    assert!(text.contains("polyfleet_operator_failures_total{kind=\"Strategy\",reason=\"kube_api\"} 1"), "{text}");
}

//! The RiskPolicy reconciler against kube's tower-test mock: limits reach the risk store (and a
//! mode at once, with a Warning event), status carries the store's exposure, PnL and drawdown
//! with observedGeneration, a trip shows in status, conditions, metrics and an Event and its
//! reset in another, an idle reconcile writes nothing anywhere, and deletion removes the limits
//! before the finalizer goes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::mockapi;

use std::sync::Arc;

use http::{Method, StatusCode};
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, Resource};
use mockapi::{example, step, verify};
use polyfleet_core::Money;
use polyfleet_core::risk::{RiskSnapshot, Trip, TripState};
use polyfleet_core::wire::NoticeKind;
use polyfleet_crds::RiskPolicy;
use polyfleet_crds::risk_policy::RiskMode;
use polyfleet_operator::controller::risk_policy::{FINALIZER, RiskContext, desired_status, reconcile};
use polyfleet_operator::limits::{LimitsStore, MemoryLimits};
use polyfleet_operator::notices::MemoryNotices;
use polyfleet_operator::planner::risk::limits;
use serde_json::json;

const PATH: &str = "/apis/polyfleet.dev/v1alpha1/namespaces/trading/riskpolicies/default";

fn context(store: MemoryLimits) -> (Arc<RiskContext>, mockapi::ApiHandle) {
    context_with(store, MemoryNotices::default())
}

fn context_with(store: MemoryLimits, notices: MemoryNotices) -> (Arc<RiskContext>, mockapi::ApiHandle) {
    let (service, handle) = tower_test::mock::pair::<http::Request<Body>, http::Response<Body>>();
    let client = Client::new(service, "trading");
    let recorder = Recorder::new(client.clone(), Reporter { controller: "polyfleet-operator".into(), instance: None });
    let metrics = polyfleet_operator::metrics::OperatorMetrics::new();
    // The operator's Strategy store: the example Strategy under the policy, one under another.
    let (strategies, mut writer) = kube::runtime::reflector::store::<polyfleet_crds::Strategy>();
    let mut ours: polyfleet_crds::Strategy = example("strategy-arbitrage.yaml");
    ours.metadata.namespace = Some("trading".into());
    let mut other = ours.clone();
    other.metadata.name = Some("other".into());
    other.spec.risk_policy_ref.name = "elsewhere".into();
    for s in [ours, other] {
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(s));
    }
    let ctx = RiskContext {
        client,
        store: Arc::new(store),
        recorder,
        metrics,
        strategies,
        settings: polyfleet_operator::settings::FleetSettings::default(),
        children: polyfleet_operator::children::Children::of(vec![], vec![], vec![], vec![]),
        notices: Arc::new(notices),
    };
    (Arc::new(ctx), handle)
}

fn policy() -> RiskPolicy {
    let mut p: RiskPolicy = example("riskpolicy.yaml");
    p.meta_mut().finalizers = Some(vec![FINALIZER.into()]);
    p
}

fn snapshot() -> RiskSnapshot {
    RiskSnapshot {
        exposure: Money::from_micros(12_500_000),
        daily_pnl: Money::from_micros(-1_250_000),
        equity: Money::from_micros(-1_250_000),
        peak: Money::from_micros(3_000_000),
        floor: Money::from_micros(10_000_000),
        ..RiskSnapshot::default()
    }
}

fn event_response() -> serde_json::Value {
    json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null, "reportingController": "x", "reportingInstance": "x"})
}

#[tokio::test]
async fn limits_are_written_and_status_aggregates_the_store() {
    let store = MemoryLimits::default();
    store.snapshots.lock().unwrap().insert(("trading".into(), "default".into()), snapshot());
    let life = polyfleet_core::accounting::lifecycle::LifecycleTotals {
        merges: 4,
        settlements: 1,
        settled_pnl: Money::from_micros(-2_000_000),
        capital_returned: Money::from_micros(44_000_000),
        ..Default::default()
    };
    store.lifecycles.lock().unwrap().insert(("trading".into(), "default".into()), life);
    let (ctx, handle) = context(store.clone());
    let p = policy();
    let mut ev = step(Method::POST, "/events", StatusCode::CREATED, event_response());
    ev.check =
        Box::new(|b| assert_eq!((b["reason"].as_str(), b["type"].as_str()), (Some("LimitsApplied"), Some("Normal"))));
    let mut status = step(Method::PATCH, &format!("{PATH}/status"), StatusCode::OK, serde_json::to_value(&p).unwrap());
    status.check = Box::new(|b| {
        let s = &b["status"];
        assert_eq!(s["observedGeneration"], 3);
        assert_eq!((s["exposureMicros"].as_i64(), s["exposure"].as_str()), (Some(12_500_000), Some("12.5")));
        let l = &s["lifecycle"];
        assert_eq!(
            (l["merges"].as_i64(), l["settlements"].as_i64(), l["settledPnlMicros"].as_i64()),
            (Some(4), Some(1), Some(-2_000_000))
        );
        assert_eq!(l["capitalReturnedMicros"].as_i64(), Some(44_000_000));
        assert_eq!(s["dailyPnlMicros"], -1_250_000);
        assert_eq!(s["drawdownMicros"], 4_250_000);
        assert_eq!(s["strategies"], 1, "the Strategies naming the policy");
        // 12.5 USDC of positions of which 10 are paid whatever resolves.
        assert_eq!((s["worstCaseLossMicros"].as_i64(), s["worstCaseLoss"].as_str()), (Some(2_500_000), Some("2.5")));
    });
    let server = tokio::spawn(verify(handle, vec![ev, status]));
    reconcile(Arc::new(p.clone()), ctx.clone()).await.unwrap();
    server.await.unwrap();
    assert_eq!(store.limits("trading", "default").await.unwrap(), Some(limits(&p.spec)));
    // The same numbers as gauges for alerts and dashboards.
    use polyfleet_operator::metrics::Probe;
    let text = ctx.metrics.render();
    for line in [
        "polyfleet_operator_policy_exposure_usdc{namespace=\"trading\",policy=\"default\"} 12.5",
        "polyfleet_operator_policy_daily_pnl_usdc{namespace=\"trading\",policy=\"default\"} -1.25",
        "polyfleet_operator_policy_drawdown_usdc{namespace=\"trading\",policy=\"default\"} 4.25",
        "polyfleet_operator_policy_mode{namespace=\"trading\",policy=\"default\",mode=\"off\"} 1",
        "polyfleet_operator_policy_mode{namespace=\"trading\",policy=\"default\",mode=\"halt\"} 0",
        "polyfleet_operator_policy_limit_usdc{namespace=\"trading\",policy=\"default\",limit=\"gross_exposure\"} 500.0",
        "polyfleet_operator_policy_worst_case_loss_usdc{namespace=\"trading\",policy=\"default\"} 2.5",
        "polyfleet_operator_policy_limit_usdc{namespace=\"trading\",policy=\"default\",limit=\"loss_at_resolution\"} 100.0",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
}

#[tokio::test]
async fn a_kill_switch_is_written_at_once_and_an_idle_reconcile_writes_nothing() {
    let store = MemoryLimits::default();
    let mut p = policy();
    store.set_limits("trading", "default", &limits(&p.spec)).await.unwrap();
    let now_ms = k8s_openapi::jiff::Timestamp::now().as_millisecond() as u64;
    let status =
        desired_status(None, 3, &limits(&p.spec), Ok(&RiskSnapshot::default()), now_ms, "2026-11-22T08:00:00Z");
    // (The one Strategy under the policy counted and the effective limits, as the reconcile adds them.)
    p.status = Some(polyfleet_crds::RiskPolicyStatus {
        strategies: 1,
        capital_micros: p.spec.capital_micros,
        effective_limits: Some(p.spec.effective_limits()),
        ..status
    });
    // Idle: same limits, same status: no request but nothing to answer.
    let (ctx, handle) = context(store.clone());
    let server = tokio::spawn(verify(handle, vec![]));
    reconcile(Arc::new(p.clone()), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(*store.writes.lock().unwrap(), 1, "only the setup's write");
    // Halt: written, a Warning event, and the mode in status.
    p.spec.kill_switch = RiskMode::Halt;
    let notices = MemoryNotices::default();
    let (ctx, handle) = context_with(store.clone(), notices.clone());
    let mut ev = step(Method::POST, "/events", StatusCode::CREATED, event_response());
    ev.check = Box::new(|b| {
        assert_eq!(b["type"], "Warning");
        assert!(b["note"].as_str().unwrap().contains("HALT"), "{b}");
    });
    let mut status = step(Method::PATCH, &format!("{PATH}/status"), StatusCode::OK, serde_json::to_value(&p).unwrap());
    status.check = Box::new(|b| assert_eq!(b["status"]["mode"], "halt"));
    let server = tokio::spawn(verify(handle, vec![ev, status]));
    reconcile(Arc::new(p.clone()), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(store.limits("trading", "default").await.unwrap().unwrap().mode, polyfleet_core::risk::RiskMode::Halt);
    let sent = notices.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].kind, polyfleet_core::wire::NoticeKind::Mode);
    assert_eq!(sent[0].severity, polyfleet_core::wire::Severity::Critical);
}

#[tokio::test]
async fn a_trip_shows_in_status_and_events_and_a_reset_is_recorded() {
    let store = MemoryLimits::default();
    let mut p = policy();
    p.spec.trip_cooldown_seconds = Some(3600);
    store.set_limits("trading", "default", &limits(&p.spec)).await.unwrap();
    let calm = desired_status(None, 3, &limits(&p.spec), Ok(&RiskSnapshot::default()), 0, "2026-11-22T08:00:00Z");
    p.status = Some(polyfleet_crds::RiskPolicyStatus { strategies: 1, ..calm });
    // The store says: a daily-loss trip a second ago, the policy's first.
    let since = k8s_openapi::jiff::Timestamp::now().as_millisecond() as u64 - 1_000;
    let trips = TripState { current: Some((Trip::DailyLoss, since)), daily_loss_trips: 1, drawdown_trips: 0 };
    store.snapshots.lock().unwrap().insert(("trading".into(), "default".into()), RiskSnapshot { trips, ..snapshot() });
    let notices = MemoryNotices::default();
    let (ctx, handle) = context_with(store.clone(), notices.clone());
    let mut ev = step(Method::POST, "/events", StatusCode::CREATED, event_response());
    ev.check = Box::new(|b| {
        assert_eq!((b["type"].as_str(), b["reason"].as_str()), (Some("Warning"), Some("Tripped")));
        assert!(b["note"].as_str().unwrap().contains("dailyLoss"), "{b}");
    });
    let mut status = step(Method::PATCH, &format!("{PATH}/status"), StatusCode::OK, serde_json::to_value(&p).unwrap());
    status.check = Box::new(|b| {
        let s = &b["status"];
        assert_eq!(s["mode"], "reduceOnly");
        assert_eq!(s["trip"]["reason"], "dailyLoss");
        assert!(s["trip"]["until"].is_string(), "the cooldown's end: {s}");
        assert_eq!((s["dailyLossTrips"].as_i64(), s["drawdownTrips"].as_i64()), (Some(1), Some(0)));
        assert_eq!(s["trippedBreakers"], json!(["dailyLoss"]));
        let tripped = s["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Tripped").unwrap().clone();
        assert_eq!((tripped["status"].as_str(), tripped["reason"].as_str()), (Some("True"), Some("DailyLoss")));
    });
    let server = tokio::spawn(verify(handle, vec![ev, status]));
    reconcile(Arc::new(p.clone()), ctx.clone()).await.unwrap();
    server.await.unwrap();
    // Told once: the trip, and (the last status being of day 0) that day's summary.
    let kinds: Vec<_> = notices.sent.lock().unwrap().iter().map(|n| (n.kind, n.id.clone())).collect();
    assert_eq!(
        kinds,
        [
            (NoticeKind::Trip, "trading/default/trip/dailyLoss/1".to_string()),
            (NoticeKind::DailySummary, "trading/default/summary/0".to_string())
        ]
    );
    // Told once: the trip, and (the last status being of day 0) that day's summary.
    let kinds: Vec<_> = notices.sent.lock().unwrap().iter().map(|n| (n.kind, n.id.clone())).collect();
    assert_eq!(
        kinds,
        [
            (NoticeKind::Trip, "trading/default/trip/dailyLoss/1".to_string()),
            (NoticeKind::DailySummary, "trading/default/summary/0".to_string())
        ]
    );
    use polyfleet_operator::metrics::Probe;
    let text = ctx.metrics.render();
    for line in [
        "polyfleet_operator_policy_mode{namespace=\"trading\",policy=\"default\",mode=\"reduceOnly\"} 1",
        "polyfleet_operator_policy_trips{namespace=\"trading\",policy=\"default\",limit=\"daily_loss\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
    // The reset: written with a TripsReset event naming the trip it clears.
    let tripped = desired_status(
        None,
        3,
        &limits(&p.spec),
        Ok(&RiskSnapshot { trips, ..snapshot() }),
        since,
        "2026-11-22T08:00:00Z",
    );
    p.status = Some(polyfleet_crds::RiskPolicyStatus { strategies: 1, ..tripped });
    p.spec.reset_trips = 1;
    store.snapshots.lock().unwrap().insert(
        ("trading".into(), "default".into()),
        RiskSnapshot { trips: TripState { current: None, ..trips }, reset_seen: 1, ..snapshot() },
    );
    let notices = MemoryNotices::default();
    let (ctx, handle) = context_with(store.clone(), notices.clone());
    let mut ev = step(Method::POST, "/events", StatusCode::CREATED, event_response());
    ev.check = Box::new(|b| {
        assert_eq!(b["reason"], "TripsReset");
        assert!(b["note"].as_str().unwrap().contains("the dailyLoss trip since"), "{b}");
    });
    let mut status = step(Method::PATCH, &format!("{PATH}/status"), StatusCode::OK, serde_json::to_value(&p).unwrap());
    status.check = Box::new(|b| {
        let s = &b["status"];
        assert_eq!((s["mode"].as_str(), s["resetTripsApplied"].as_i64()), (Some("off"), Some(1)));
        assert!(s["trip"].is_null(), "{s}");
    });
    let server = tokio::spawn(verify(handle, vec![ev, status]));
    reconcile(Arc::new(p.clone()), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(store.limits("trading", "default").await.unwrap().unwrap().reset, 1);
    let sent = notices.sent.lock().unwrap().clone();
    let reset = sent.iter().find(|n| n.kind == NoticeKind::Reset).expect("a reset notice");
    assert_eq!(reset.id, "trading/default/reset/1");
    assert!(reset.text.contains("dailyLoss trip since"), "{}", reset.text);
    assert!(!sent.iter().any(|n| n.kind == NoticeKind::CooldownOver), "a reset is not a cooldown: {sent:?}");
}

#[tokio::test]
async fn deletion_removes_the_limits_then_the_finalizer() {
    let store = MemoryLimits::default();
    let mut p = policy();
    store.set_limits("trading", "default", &limits(&p.spec)).await.unwrap();
    p.meta_mut().deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    let (ctx, handle) = context(store.clone());
    let mut unfinalize = step(Method::PATCH, PATH, StatusCode::OK, serde_json::to_value(&p).unwrap());
    unfinalize.check = Box::new(|b| {
        let ops = b.as_array().unwrap();
        assert!(ops.iter().any(|o| o["op"] == "remove" && o["path"] == "/metadata/finalizers/0"), "{b}");
    });
    let server = tokio::spawn(verify(handle, vec![unfinalize]));
    reconcile(Arc::new(p), ctx).await.unwrap();
    server.await.unwrap();
    assert_eq!(store.limits("trading", "default").await.unwrap(), None);
}

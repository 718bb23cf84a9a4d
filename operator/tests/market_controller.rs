//! The Market reconciler against kube's tower-test mock API server, with the venue's answers from
//! a table (built from the real Gamma payload in `agents/polymarket/tests/data/`) and top of book from a
//! table. Shown: a new Market is looked up at its Venue's endpoints, its status gets tokens,
//! phase, fee, top of book, shard and observedGeneration, and an Event says it resolved; the next
//! reconcile asks the venue nothing (the answer is cached until the spec changes, a series rolls
//! or five minutes pass) and, with nothing changed, writes nothing; a Market the venue does not
//! know is Pending with a Warning event; a neg-risk event's status carries the adapter's conversion fee,
//! and a fee that cannot be read is warned of once, not at every later lookup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::mockapi;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use mockapi::{ApiHandle, event_created, example, step, verify};
use polyfleet_core::{ConditionId, Price, TokenId};
use polyfleet_crds::{Market, MarketStatus};
use polyfleet_operator::books::{MemoryBooks, Top};
use polyfleet_operator::cache::Cache;
use polyfleet_operator::controller::market::{MarketContext, reconcile};
use polyfleet_operator::lookup::{Lookup, MarketQuery, MemoryLookup};
use polyfleet_polymarket::http::markets::parse_gamma_market;
use serde_json::Value;

const NS: &str = "/namespaces/trading";

/// A context whose reflector stores hold the simulator Venue and `market`.
fn context(lookup: MemoryLookup, books: MemoryBooks, market: &Market) -> (Arc<MarketContext>, ApiHandle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "trading");
    let recorder = Recorder::new(client.clone(), Reporter { controller: "polyfleet-operator".into(), instance: None });
    let metrics = polyfleet_operator::metrics::OperatorMetrics::new();
    let cache = Cache::of(vec![example("venue-simulator.yaml")], vec![], vec![market.clone()]);
    let ctx = MarketContext::new(client, Arc::new(lookup), Arc::new(books), cache, recorder, metrics);
    (Arc::new(ctx), handle)
}

fn venue_known_market() -> (Market, MemoryLookup, MemoryBooks) {
    let market: Market = example("market-binary.yaml");
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agents/polymarket/tests/data/polymarket/gamma_market.json");
    let gamma: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resolved = parse_gamma_market(&gamma).unwrap();
    let lookup = MemoryLookup::default();
    let cid = ConditionId::parse(market.spec.condition_id.as_deref().unwrap()).unwrap();
    lookup.answers.lock().unwrap().insert(
        MarketQuery::Condition(cid),
        Lookup { markets: vec![resolved.clone()], fee_rate_bps: Some(1000), clob_ready: true, convert_fee_bips: None },
    );
    let books = MemoryBooks::default();
    let p = |t| Some(Price::from_ticks(t).unwrap());
    for t in &resolved.tokens {
        books.0.lock().unwrap().insert(t.token_id, Top { best_bid: p(4800), best_ask: p(5200) });
    }
    (market, lookup, books)
}

/// The example neg-risk event, and a venue that knows its three outcomes.
fn venue_known_event() -> (Market, MemoryLookup) {
    let market: Market = example("market-negrisk-event.yaml");
    let lookup = MemoryLookup::default();
    let tokens: Vec<TokenId> =
        market.spec.tokens.as_ref().unwrap().iter().map(|t| TokenId::parse(&t.token_id).unwrap()).collect();
    lookup.answers.lock().unwrap().insert(
        MarketQuery::Tokens(tokens),
        Lookup { markets: vec![], fee_rate_bps: Some(0), clob_ready: true, convert_fee_bips: None },
    );
    (market, lookup)
}

/// The status write of `market`, checked by `check`, and where the status written is kept.
fn status_write(
    market: &Market,
    check: impl Fn(&MarketStatus) + Send + 'static,
) -> (mockapi::Step, Arc<Mutex<Option<MarketStatus>>>) {
    let written: Arc<Mutex<Option<MarketStatus>>> = Arc::default();
    let keep = written.clone();
    let mut status = step(
        Method::PATCH,
        &format!("{NS}/markets/{}/status", market.metadata.name.as_deref().unwrap()),
        StatusCode::OK,
        serde_json::to_value(market).unwrap(),
    );
    status.check = Box::new(move |b| {
        let s: MarketStatus = serde_json::from_value(b["status"].clone()).unwrap();
        check(&s);
        *keep.lock().unwrap() = Some(s);
    });
    (status, written)
}

#[tokio::test]
async fn a_market_resolves_once_and_then_causes_reads_only() {
    let (market, lookup, books) = venue_known_market();
    let (ctx, handle) = context(lookup.clone(), books, &market);
    let (status, written) = status_write(&market, |s| {
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.phase, polyfleet_crds::market::MarketPhase::Active);
        assert_eq!(s.tokens.len(), 2);
        assert_eq!((s.tokens[0].best_bid.as_deref(), s.tokens[0].best_ask.as_deref()), (Some("0.48"), Some("0.52")));
        assert_eq!(s.fee_rate_bps, Some(1000));
        assert_eq!(s.shard.as_deref(), Some("md-sim-0"), "the Venue controller's shard");
        assert!(s.conditions.iter().any(|c| c.type_ == "FeedHealthy" && c.is_true()));
    });
    let mut event = step(Method::POST, "/events", StatusCode::CREATED, event_created());
    event.check =
        Box::new(|b| assert_eq!((b["reason"].as_str(), b["type"].as_str()), (Some("Resolved"), Some("Normal"))));
    // The second reconcile (below) may only read: the venue and the Markets for the shard.
    let server = tokio::spawn(verify(handle, vec![status, event]));
    let action = reconcile(Arc::new(market.clone()), ctx.clone()).await.unwrap();
    assert_eq!(action, kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(15)));
    let mut settled = market.clone();
    settled.status = written.lock().unwrap().clone();
    assert!(settled.status.is_some());
    reconcile(Arc::new(settled), ctx.clone()).await.unwrap();
    server.await.unwrap();
    assert_eq!(lookup.asked.lock().unwrap().len(), 1, "the venue was asked once");
}

#[tokio::test]
async fn a_market_the_venue_does_not_know_is_pending_with_a_warning() {
    let market: Market = example("market-binary.yaml");
    let lookup = MemoryLookup::default();
    let (ctx, handle) = context(lookup.clone(), MemoryBooks::default(), &market);
    let mut status = step(
        Method::PATCH,
        &format!("{NS}/markets/fed-cut-december/status"),
        StatusCode::OK,
        serde_json::to_value(&market).unwrap(),
    );
    status.check = Box::new(|b| {
        assert_eq!(b["status"]["phase"], "Pending");
        let ready =
            b["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
        assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("NotFound")));
        assert!(b["status"]["shard"].is_null(), "nothing to serve");
    });
    let mut event = step(Method::POST, "/events", StatusCode::CREATED, event_created());
    event.check =
        Box::new(|b| assert_eq!((b["reason"].as_str(), b["type"].as_str()), (Some("NotFound"), Some("Warning"))));
    let server = tokio::spawn(verify(handle, vec![status, event]));
    reconcile(Arc::new(market), ctx).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_neg_risk_events_status_carries_the_adapters_conversion_fee() {
    let (market, lookup) = venue_known_event();
    // The fee is asked through the event's first outcome.
    let first = ConditionId::parse(market.spec.tokens.as_ref().unwrap()[0].condition_id.as_deref().unwrap()).unwrap();
    lookup.convert_fees.lock().unwrap().insert(first, 25);
    let (ctx, handle) = context(lookup.clone(), MemoryBooks::default(), &market);
    let (status, _) = status_write(&market, |s| {
        assert_eq!(s.convert_fee_bips, Some(25));
        assert_eq!(s.tokens.len(), 3);
        assert!(s.tokens.iter().all(|t| t.no_token_id.is_some()));
    });
    let server =
        tokio::spawn(verify(handle, vec![status, step(Method::POST, "/events", StatusCode::CREATED, event_created())]));
    reconcile(Arc::new(market), ctx).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_conversion_fee_that_cannot_be_read_is_warned_of_once_not_at_every_lookup() {
    let (market, lookup) = venue_known_event();
    *lookup.convert_fee_error.lock().unwrap() = Some("the chain's RPC did not answer".into());
    let (ctx, handle) = context(lookup.clone(), MemoryBooks::default(), &market);
    // Every reconcile asks the venue again (no answer is kept), as one RESOLVE_EVERY later.
    let ctx = Arc::new(Arc::into_inner(ctx).unwrap().with_resolve_every(std::time::Duration::ZERO));
    let (status, written) = status_write(&market, |s| assert_eq!(s.convert_fee_bips, None));
    let mut warned = step(Method::POST, "/events", StatusCode::CREATED, event_created());
    warned.check = Box::new(|b| {
        assert_eq!((b["reason"].as_str(), b["type"].as_str()), (Some("ConvertFeeUnknown"), Some("Warning")));
        assert!(b["note"].as_str().unwrap().contains("did not answer"), "{b}");
    });
    let resolved = step(Method::POST, "/events", StatusCode::CREATED, event_created());
    // The later lookups, failing the same way, write nothing: no status, no Event.
    let server = tokio::spawn(verify(handle, vec![warned, status, resolved]));
    reconcile(Arc::new(market.clone()), ctx.clone()).await.unwrap();
    let mut settled = market.clone();
    settled.status = written.lock().unwrap().clone();
    for _ in 0..3 {
        reconcile(Arc::new(settled.clone()), ctx.clone()).await.unwrap();
    }
    server.await.unwrap();
    assert_eq!(lookup.asked.lock().unwrap().len(), 4, "the venue was asked at every reconcile");
}

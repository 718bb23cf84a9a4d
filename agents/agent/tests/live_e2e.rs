//! Live trading end to end: every agent its own process on real servers (`nats-server -js`,
//! `redis-server`, an OTLP receiver), a Strategy in `live` mode, and the venue simulator's order
//! API, which checks the SDK's L2 HMAC headers and EIP-712 order signatures as the venue does.
//!
//! 1. A mispriced neg-risk event: the strategy's set is posted through the SDK, filled, and each
//!    fill settles (MATCHED, then CONFIRMED on the user channel); positions match the fills.
//! 2. The venue's trades FAIL: the fills are reversed in the ledger and the risk store.
//! 3. A resting order is placed and cancelled through the SDK; under a reduce-only policy the
//!    execution agent cancels a resting buy at the venue, and the gateway refuses a new one.
//! 4. A resting order is left when the execution agent is killed (SIGKILL): the dead-man switch
//!    cancels it once heartbeats stop.
//! 5. While the agent is down, an order it had claimed and posted (the crash window between
//!    posting and committing) is redelivered: the restarted agent finds it at the venue and does
//!    not post it again; the order the dead-man switch cancelled is reported cancelled; three
//!    approvals that waited together for it go to the venue in one `POST /orders`.
//! 6. The kill switch (halt) flipped after an approval: the order is not sent.
//! 8. The event resolves: the execution agent settles the set, and the strategy's redemption of
//!    its winning leg, in live mode, is a signed transaction on the simulator's chain (never a
//!    real one): the wallet's tokens and pUSD move by exactly what the ledger books.
//! 7. The logs of every agent, the exported spans, the metrics and the risk store's contents
//!    hold neither the private key nor the API secret or passphrase.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::harness;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::signers::Signer as _;
use alloy::signers::local::PrivateKeySigner;
use bytes::Bytes;
use polyfleet_agent::metrics::OrderPathMetrics;
use polyfleet_core::wire::{
    CancelRequest, FillStatus, Intent, Mode, OrderIntent, OrderStatus, RiskDecision, TimeInForce, Verdict, encode,
    subjects,
};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{Claim, PolicyKey, RiskStore};
use polyfleet_polymarket::common::LiveCredentials;
use polyfleet_polymarket::common::credentials::PRIVATE_KEY_VAR;
use polyfleet_polymarket::http::VenueLimits;
use polyfleet_polymarket::http::clob::Venue;
use polyfleet_sim::exchange::ExchangeConfig;
use polyfleet_sim::model::SimConfig;
use polyfleet_sim::server::SimHandle;
use polyfleet_testkit::{NatsServer, RedisServer, metric_value};
use polymarket_client_sdk_v2::POLYGON;
use secrecy::ExposeSecret as _;

use harness::{
    Agent, Seen, check_accounting, collect, limits, new_opportunity, wait_until, wait_until_async, wait_until_ready,
};

const FEE_BPS: u32 = 100;
/// A well-known development key (Hardhat account 1): no value anywhere.
const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const DEAD_MAN_WINDOW_MS: u64 = 1_500;

fn now_ns() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

/// A live order of the test's own "manual" strategy (the gateway and executor treat it as any).
fn manual(
    id: &str,
    (market, token): (ConditionId, TokenId),
    side: Side,
    price: Price,
    size: u64,
    tif: TimeInForce,
    post_only: bool,
) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "trading".into(),
        strategy: "manual".into(),
        risk_policy: "main".into(),
        venue: "sim".into(),
        market,
        token,
        side,
        price,
        size: Quantity::from_shares(size).unwrap(),
        tif,
        post_only,
        mode: Mode::Live,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: now_ns(),
        outcome: None,
        kelly: None,
    }
}

async fn publish(bus: &NatsBus, intent: Intent, id: &str) {
    let (ns, strategy) = match &intent {
        Intent::Place(i) => (i.namespace.clone(), i.strategy.clone()),
        Intent::PlaceSet(legs) => (legs[0].namespace.clone(), legs[0].strategy.clone()),
        Intent::Ctf(c) => (c.namespace.clone(), c.strategy.clone()),
        Intent::Cancel(c) => (c.namespace.clone(), c.strategy.clone()),
        Intent::Signal(u) => (u.namespace.clone(), u.strategy.clone()),
    };
    bus.persist(&subjects::intents(&ns, &strategy), vec![], Bytes::from(encode(&intent)), Some(id)).await.unwrap();
}

fn update_of(seen: &Arc<Mutex<Seen>>, id: &str, status: OrderStatus) -> Option<polyfleet_core::wire::OrderUpdate> {
    seen.lock().unwrap().updates.iter().find(|u| u.client_order_id.as_str() == id && u.status == status).cloned()
}

/// A bid three ticks under the book (rests; post-only never crosses).
async fn low_bid(sim: &SimHandle, token: &TokenId) -> Price {
    let (book, _) = sim.truth(token).await.unwrap();
    Price::from_ticks(book.best_bid().unwrap().price.ticks() - 3 * book.tick().ticks()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_trading_against_the_simulators_order_api() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let nats = NatsServer::start();
    let redis = RedisServer::start();
    let otlp = polyfleet_testkit::otlp::OtlpReceiver::start().await;
    let cfg = SimConfig {
        binary_markets: 1,
        neg_risk_events: vec![3],
        mispricing_bps: 0,
        fee_rate_bps: FEE_BPS,
        ..SimConfig::default()
    };
    let sim = polyfleet_sim::server::serve(cfg, "127.0.0.1:0".parse().unwrap(), 0).await.unwrap();
    sim.configure_exchange(ExchangeConfig {
        settle_after_ms: 300,
        fail_permille: 0,
        heartbeat_window_ms: DEAD_MAN_WINDOW_MS,
        ..ExchangeConfig::default()
    })
    .await;
    let (event_yes, binary, markets) = sim
        .with_model(|m| {
            let e = &m.events()[0];
            let yes: Vec<(ConditionId, TokenId)> =
                e.markets.iter().map(|&i| (m.markets()[i].condition, m.markets()[i].yes)).collect();
            let b = &m.markets()[0];
            let all: Vec<(ConditionId, TokenId)> =
                m.markets().iter().flat_map(|x| [(x.condition, x.yes), (x.condition, x.no)]).collect();
            (yes, (b.condition, b.yes, b.no), all)
        })
        .await
        .unwrap();
    let token_json = |market: &ConditionId, token: &TokenId| serde_json::json!({"market": market.to_string(), "token": token.to_string(), "minSizeMicros": 5_000_000, "feeRateBps": FEE_BPS, "feeExponent": 1});
    let dir = std::env::temp_dir().join(format!("polyfleet-live-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let strategy_cfg = serde_json::json!({
        "namespace": "trading", "name": "arb", "riskPolicy": "main", "venue": "sim", "mode": "live",
        "type": "arbitrage",
        "riskCaps": {"maxOrderSizeMicros": 100_000_000u64, "maxOrderNotionalMicros": 50_000_000},
        "sets": [
            {"kind": "negRisk", "legs": event_yes.iter().map(|(m, t)| token_json(m, t)).collect::<Vec<_>>()},
            {"kind": "binary", "legs": [token_json(&binary.0, &binary.1), token_json(&binary.0, &binary.2)]},
        ],
        "parameters": {"minEdgeBps": 100, "maxNotionalPerLegMicros": 2_000_000, "orderType": "FOK", "legTimeoutMs": 10000, "cooldownMs": 200, "sellBackAboveCost": false},
    });
    std::fs::write(dir.join("strategy.json"), serde_json::to_vec(&strategy_cfg).unwrap()).unwrap();
    let markets_json: Vec<_> = markets.iter().map(|(m, t)| token_json(m, t)).collect();
    std::fs::write(dir.join("markets.json"), serde_json::to_vec(&markets_json).unwrap()).unwrap();

    let store = RedisRiskStore::connect(&redis.url).await.unwrap();
    let policy = PolicyKey::new("trading", "main");
    store.set_limits(&policy, &limits(false)).await.unwrap();

    // Debug logging everywhere (the execution agent at trace, below): the secret check must have
    // something to look through.
    let env = |service: &str| {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), otlp.endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY".to_string(), "100".to_string()),
            ("OTEL_SERVICE_NAME".to_string(), service.to_string()),
            (
                "RUST_LOG".to_string(),
                "debug,h2=info,hyper=info,tower=info,async_nats=info,tungstenite=info".to_string(),
            ),
        ]
    };
    let log = |name: &str| Some(dir.join(format!("{name}.log")));
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let tokens = markets.iter().map(|(_, t)| t.to_string()).collect::<Vec<_>>().join(",");
    let md = harness::market_data(&sim, &nats.url, &tokens, env("md"), log("md"));
    let risk = harness::risk_gateway(&nats.url, &redis.url, env("risk"), log("risk"));
    let exec_args = s(&[
        "execution",
        "--venue",
        "sim",
        "--namespace",
        "trading",
        "--nats",
        &nats.url,
        "--redis",
        &redis.url,
        "--markets",
        dir.join("markets.json").to_str().unwrap(),
        "--live-acknowledged",
        "--clob-url",
        &sim.http_url(),
        "--user-ws-url",
        &sim.user_ws_url(),
        "--heartbeat-ms",
        "300",
        "--polygon-rpc",
        &sim.rpc_url(),
    ]);
    let mut exec_env = env("execution");
    // The execution agent at trace: what it logs at its most verbose must hold no key material.
    exec_env.retain(|(k, _)| k != "RUST_LOG");
    exec_env.push(("RUST_LOG".to_string(), "trace".to_string()));
    exec_env.push((PRIVATE_KEY_VAR.to_string(), KEY.to_string()));
    let mut exec = Agent::spawn_logged("execution", exec_args, exec_env, log("execution"));
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    collect(&bus, seen.clone()).await;
    for a in [&md, &risk, &exec] {
        wait_until_ready(a).await;
    }
    let strategy = Agent::spawn_logged(
        "strategy",
        s(&["strategy", "--config", dir.join("strategy.json").to_str().unwrap(), "--nats", &nats.url]),
        env("strategy"),
        log("strategy"),
    );
    wait_until_ready(&strategy).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sim.order_posts(), 0, "no opportunity, nothing sent");

    // 1. A set, posted through the SDK, filled, settled.
    assert!(sim.misprice(0, 2, 100_000).await);
    let settled = |s: &Seen, status: FillStatus| s.fills.iter().filter(|f| f.status == status).count();
    wait_until("three matched fills", Duration::from_secs(15), || {
        settled(&seen.lock().unwrap(), FillStatus::Matched) >= 3
    })
    .await;
    wait_until("three confirmations", Duration::from_secs(15), || {
        settled(&seen.lock().unwrap(), FillStatus::Confirmed) >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let s = seen.lock().unwrap();
        let live: Vec<_> = s.fills.iter().filter(|f| f.mode == Mode::Live).collect();
        assert_eq!(live.len(), s.fills.len(), "every fill is live");
        assert!(
            s.updates
                .iter()
                .filter(|u| u.status == OrderStatus::Filled)
                .all(|u| u.venue_order_id.as_deref().is_some_and(|v| v.starts_with("0x") && v.len() == 66))
        );
    }
    assert_eq!(sim.order_posts(), 3, "one post per leg");
    assert_eq!(sim.orders_accepted().await, 3);
    assert_eq!((sim.auth_failures(), sim.signature_failures(), sim.duplicate_posts()), (0, 0, 0));
    check_accounting(&store, &policy, &seen).await;
    let after_set = store.positions(&policy, "arb").await.unwrap();
    assert_eq!(
        after_set.iter().filter(|(_, p)| !p.size.is_zero()).count(),
        3,
        "one position per outcome: {after_set:?}"
    );

    // 2. Trades FAIL on chain: reversed.
    sim.set_trade_failures(1000).await;
    let failed_before = settled(&seen.lock().unwrap(), FillStatus::Failed);
    new_opportunity(&sim, 1).await;
    wait_until("failed fills", Duration::from_secs(15), || {
        settled(&seen.lock().unwrap(), FillStatus::Failed) >= failed_before + 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    sim.set_trade_failures(0).await;
    for o in 0..3 {
        sim.misprice(0, o, 0).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    {
        let s = seen.lock().unwrap();
        for f in s.fills.iter().filter(|f| f.status == FillStatus::Failed) {
            assert!(
                s.fills.iter().any(|m| m.fill_id == f.fill_id && m.status == FillStatus::Matched),
                "a failed fill was booked first: {f:?}"
            );
        }
    }
    check_accounting(&store, &policy, &seen).await;
    // Every trade of this phase failed: the positions are back to what the first set left.
    assert_eq!(store.positions(&policy, "arb").await.unwrap(), after_set, "the failed trades left no trace");

    // 3. A resting order, placed and cancelled through the SDK.
    let (m0, t0) = markets[0];
    let bid = low_bid(&sim, &t0).await;
    let rest = manual("rest-1", (m0, t0), Side::Buy, bid, 10, TimeInForce::Gtc, true);
    publish(&bus, Intent::Place(rest.clone()), "rest-1").await;
    wait_until("the order rests", Duration::from_secs(10), || {
        update_of(&seen, "rest-1", OrderStatus::Resting).is_some()
    })
    .await;
    assert_eq!(sim.open_orders().await, 1);
    let cancel = CancelRequest {
        client_order_id: Some(rest.client_order_id),
        namespace: "trading".into(),
        strategy: "manual".into(),
        reason: "test".into(),
        created_ts_ns: now_ns(),
    };
    publish(&bus, Intent::Cancel(cancel), "cancel-rest-1").await;
    wait_until("the cancel", Duration::from_secs(10), || update_of(&seen, "rest-1", OrderStatus::Cancelled).is_some())
        .await;
    assert_eq!(sim.open_orders().await, 0);

    // 3b. Reduce-only: the execution agent cancels a resting buy at the venue once its policy's
    // mode no longer admits it (read on its 500 ms timer); a new buy is refused by the gateway.
    let rest2 = manual("rest-2", (m0, t0), Side::Buy, bid, 10, TimeInForce::Gtc, true);
    publish(&bus, Intent::Place(rest2), "rest-2").await;
    wait_until("the order rests", Duration::from_secs(10), || {
        update_of(&seen, "rest-2", OrderStatus::Resting).is_some()
    })
    .await;
    assert_eq!(sim.open_orders().await, 1);
    let reduce_only =
        polyfleet_core::risk::RiskLimits { mode: polyfleet_core::risk::RiskMode::ReduceOnly, ..limits(false) };
    store.set_limits(&policy, &reduce_only).await.unwrap();
    wait_until("the reduce-only cancel", Duration::from_secs(10), || {
        update_of(&seen, "rest-2", OrderStatus::Cancelled).is_some()
    })
    .await;
    assert_eq!(sim.open_orders().await, 0, "cancelled at the venue");
    let text = exec.metrics_text().await;
    assert!(
        text.contains(r#"polyfleet_execution_mode_cancels_total{kind="reduceOnly"} 1"#),
        "{}",
        text.lines().filter(|l| l.contains("mode_cancels")).collect::<Vec<_>>().join("\n")
    );
    let refused = manual("rest-3", (m0, t0), Side::Buy, bid, 10, TimeInForce::Gtc, true);
    publish(&bus, Intent::Place(refused), "rest-3").await;
    wait_until("the reduce-only refusal", Duration::from_secs(10), || {
        seen.lock().unwrap().decisions.iter().any(|d| {
            d.intent.client_order_id.as_str() == "rest-3"
                && matches!(d.verdict, Verdict::Rejected { reason: polyfleet_core::wire::RejectReason::ReduceOnly, .. })
        })
    })
    .await;
    store.set_limits(&policy, &limits(false)).await.unwrap();

    // 4. The dead-man switch: a resting order, then the agent dies.
    let keep = manual("deadman-1", (m0, t0), Side::Buy, bid, 10, TimeInForce::Gtc, true);
    publish(&bus, Intent::Place(keep), "deadman-1").await;
    wait_until("the order rests", Duration::from_secs(10), || {
        update_of(&seen, "deadman-1", OrderStatus::Resting).is_some()
    })
    .await;
    assert_eq!(sim.open_orders().await, 1);
    let exec_metrics = exec.metrics_text().await;
    exec.kill();
    let killed = Instant::now();
    wait_until_async("the dead-man switch", || async { sim.open_orders().await == 0 }).await;
    assert!(
        killed.elapsed() >= Duration::from_millis(DEAD_MAN_WINDOW_MS - 300),
        "cancelled by the venue's switch, not by the agent"
    );

    // 5. The crash window: claimed, posted, not committed; the approval comes again.
    let (book, _) = sim.truth(&t0).await.unwrap();
    let ask = book.best_ask().unwrap();
    let crash = manual("crash-1", (m0, t0), Side::Buy, ask.price, 5, TimeInForce::Fok, false);
    store
        .decide(&policy, &crash, Some(Money::from_micros(1_000_000_000)), now_ns() / 1_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.claim(&policy, &crash.client_order_id).await.unwrap(), Claim::Fresh);
    let creds = LiveCredentials::from_lookup(|k| (k == PRIVATE_KEY_VAR).then(|| KEY.to_string())).unwrap();
    let venue = Venue::connect(
        &sim.http_url(),
        Arc::new(creds),
        VenueLimits::default(),
        OrderPathMetrics::new("test"),
        polyfleet_agent::time::now_ns,
    )
    .await
    .unwrap();
    let built = venue.build(&crash).await.unwrap();
    store.remember_live("sim", &built.id, Bytes::from(encode(&Intent::Place(crash.clone())))).await.unwrap();
    venue.post(&built).await.unwrap();
    let posts = sim.order_posts();
    let decision = RiskDecision { intent: crash.clone(), verdict: Verdict::Approved, decided_ts_ns: now_ns() };
    bus.persist(&subjects::decisions("trading", "manual"), vec![], Bytes::from(encode(&decision)), Some("crash-1"))
        .await
        .unwrap();
    // 5b. Approvals waiting together (resting bids) go to the venue in fewer requests than orders:
    // what the consumer has delivered when the agent starts goes in one request (on a slow machine
    // the first delivery may arrive alone, so not necessarily all of them in one).
    const WAITING: usize = 6;
    let bid = low_bid(&sim, &t0).await;
    let waiting: Vec<OrderIntent> = (0..WAITING)
        .map(|k| manual(&format!("batch-{k}"), (m0, t0), Side::Buy, bid, 10, TimeInForce::Gtc, true))
        .collect();
    for o in &waiting {
        store.decide(&policy, o, Some(Money::from_micros(1_000_000_000)), now_ns() / 1_000_000).await.unwrap().unwrap();
        let d = RiskDecision { intent: o.clone(), verdict: Verdict::Approved, decided_ts_ns: now_ns() };
        let id = o.client_order_id.as_str();
        bus.persist(&subjects::decisions("trading", "manual"), vec![], Bytes::from(encode(&d)), Some(id))
            .await
            .unwrap();
    }
    exec.start();
    wait_until_ready(&exec).await;
    wait_until("the batch rests", Duration::from_secs(15), || {
        (0..WAITING).all(|k| update_of(&seen, &format!("batch-{k}"), OrderStatus::Resting).is_some())
    })
    .await;
    let text = exec.metrics_text().await;
    let requests = metric_value(&text, r#"polyfleet_execution_venue_calls_total{endpoint="post_orders",result="ok"}"#);
    assert!(
        (1.0..WAITING as f64).contains(&requests) && !text.contains(r#"endpoint="post_order","#),
        "{WAITING} waiting orders in {requests} requests:\n{}",
        text.lines().filter(|l| l.contains("venue_calls") || l.contains("batch_orders")).collect::<Vec<_>>().join("\n")
    );
    for o in &waiting {
        let cancel = CancelRequest {
            client_order_id: Some(o.client_order_id),
            namespace: "trading".into(),
            strategy: "manual".into(),
            reason: "test".into(),
            created_ts_ns: now_ns(),
        };
        publish(&bus, Intent::Cancel(cancel), &format!("cancel-{}", o.client_order_id)).await;
    }
    wait_until("the batch's cancels", Duration::from_secs(10), || {
        (0..WAITING).all(|k| update_of(&seen, &format!("batch-{k}"), OrderStatus::Cancelled).is_some())
    })
    .await;
    wait_until("the recovered order", Duration::from_secs(15), || {
        update_of(&seen, "crash-1", OrderStatus::Filled).is_some()
    })
    .await;
    let u = update_of(&seen, "crash-1", OrderStatus::Filled).unwrap();
    assert_eq!(u.venue_order_id.as_deref(), Some(built.id.as_str()));
    assert_eq!(sim.order_posts(), posts + WAITING as u64, "the restarted agent sent nothing again (only the batch)");
    assert_eq!(sim.duplicate_posts(), 0);
    wait_until("the dead-man cancel reported", Duration::from_secs(10), || {
        update_of(&seen, "deadman-1", OrderStatus::Cancelled).is_some()
    })
    .await;
    wait_until("the crash order's fill", Duration::from_secs(10), || {
        seen.lock().unwrap().fills.iter().any(|f| f.client_order_id.as_str() == "crash-1")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    check_accounting(&store, &policy, &seen).await;

    // 6. The kill switch: an order approved before it flipped is not sent.
    store.set_limits(&policy, &limits(true)).await.unwrap();
    let late = manual("killed-1", (m0, t0), Side::Buy, ask.price, 5, TimeInForce::Fok, false);
    let posts = sim.order_posts();
    let decision = RiskDecision { intent: late, verdict: Verdict::Approved, decided_ts_ns: now_ns() };
    bus.persist(&subjects::decisions("trading", "manual"), vec![], Bytes::from(encode(&decision)), Some("killed-1"))
        .await
        .unwrap();
    wait_until("the refusal", Duration::from_secs(10), || {
        update_of(&seen, "killed-1", OrderStatus::Rejected).is_some()
    })
    .await;
    assert!(update_of(&seen, "killed-1", OrderStatus::Rejected).unwrap().reason.unwrap().contains("mode"));
    assert_eq!(sim.order_posts(), posts, "nothing sent under the kill switch");
    store.set_limits(&policy, &limits(false)).await.unwrap();

    // 8. The event resolves (outcome 0 wins): the winning leg is redeemed on the simulated chain.
    let outcomes: Vec<usize> = sim.with_model(|m| m.events()[0].markets.clone()).await.unwrap();
    let winner = event_yes[0].1;
    let wallet = PrivateKeySigner::from_str(KEY).unwrap().address();
    let held = |p: &[(TokenId, polyfleet_core::accounting::Position)]| {
        p.iter().find(|(t, _)| *t == winner).map_or(Quantity::ZERO, |(_, p)| p.size)
    };
    let arb_held = held(&store.positions(&policy, "arb").await.unwrap());
    assert!(!arb_held.is_zero(), "the strategy holds the winning leg");
    let (cash_before, tokens_before) = sim.balances(wallet, &[winner]).await;
    assert!(tokens_before[0] >= i128::from(arb_held.micros()), "the wallet holds what the ledger says");
    let mined = sim.transactions_mined().await;
    for (k, &i) in outcomes.iter().enumerate() {
        assert!(sim.resolve(i, k == 0).await);
    }
    wait_until("the live redemption", Duration::from_secs(20), || {
        seen.lock().unwrap().ctf_reports.iter().any(|r| r.status == polyfleet_core::wire::CtfStatus::Done)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let s = seen.lock().unwrap();
        let done: Vec<_> = s.ctf_reports.iter().filter(|r| r.status == polyfleet_core::wire::CtfStatus::Done).collect();
        assert_eq!(done.len(), 1, "one redemption: {:?}", s.ctf_reports);
        assert_eq!(done[0].mode, Mode::Live);
        assert_eq!(
            done[0].op,
            polyfleet_core::wire::CtfOp::Redeem { market: event_yes[0].0, token: winner, size: arb_held }
        );
    }
    let (cash_after, tokens_after) = sim.balances(wallet, &[winner]).await;
    let redeemed = i128::from(arb_held.micros());
    assert_eq!(tokens_after[0], tokens_before[0] - redeemed, "the redeemed tokens left the wallet");
    assert_eq!(cash_after, cash_before + redeemed, "1 pUSD per winning share");
    assert_eq!(sim.transactions_mined().await, mined + 1, "one transaction");
    assert!(held(&store.positions(&policy, "arb").await.unwrap()).is_zero(), "and none left in the ledger");

    // 7. No key material anywhere.
    let signer = PrivateKeySigner::from_str(KEY).unwrap().with_chain_id(Some(POLYGON));
    let api = polymarket_client_sdk_v2::clob::Client::new(&sim.http_url(), Default::default())
        .unwrap()
        .authentication_builder(&signer)
        .authenticate()
        .await
        .unwrap()
        .credentials()
        .clone();
    let raw = [
        KEY.trim_start_matches("0x").to_string(),
        api.secret().expose_secret().to_string(),
        api.passphrase().expose_secret().to_string(),
    ];
    // Also as hex, the way transports print payloads.
    let secrets: Vec<String> =
        raw.iter().cloned().chain(raw.iter().map(|s| s.bytes().map(|b| format!("{b:02x}")).collect())).collect();
    let mut haystack = vec![
        ("execution metrics".to_string(), exec_metrics),
        ("execution metrics after restart".to_string(), exec.metrics_text().await),
    ];
    let mut agents = [md, risk, exec, strategy];
    for a in agents.iter_mut() {
        a.stop();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for name in ["md", "risk", "execution", "strategy"] {
        haystack.push((
            format!("{name} log"),
            std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default(),
        ));
    }
    haystack.push(("spans".to_string(), format!("{:?}", otlp.spans())));
    let mut con = redis::Client::open(redis.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut con).await.unwrap();
    let mut dump = String::new();
    for k in keys {
        let v: redis::Value = redis::cmd("DUMP").arg(&k).query_async(&mut con).await.unwrap();
        dump.push_str(&format!("{k} {v:?}\n"));
    }
    haystack.push(("risk store".to_string(), dump));
    let exec_log = &haystack.iter().find(|(n, _)| n == "execution log").unwrap().1;
    assert!(
        exec_log.contains("live trading enabled") && exec_log.len() > 10_000,
        "the execution log is there to search"
    );
    let spans = otlp.spans();
    assert!(
        spans.iter().any(|s| s.name == "execution" && s.service == "execution" && s.attr("order") == Some("crash-1")),
        "the execution spans were exported"
    );
    assert!(spans.iter().any(|s| !s.trace_id.is_empty()));
    // The batch's venue request has its own span, linked to each order's execution span (each
    // order keeps its own trace).
    let execution = |order: &str| {
        spans
            .iter()
            .find(|s| s.name == "execution" && s.attr("order") == Some(order))
            .map(|s| (s.trace_id.clone(), s.span_id.clone()))
            .unwrap_or_else(|| panic!("{order}'s execution span"))
    };
    let orders: Vec<(String, String)> = (0..WAITING).map(|k| execution(&format!("batch-{k}"))).collect();
    let batches: Vec<_> = spans
        .iter()
        .filter(|s| {
            s.name == "execution_batch" && s.service == "execution" && orders.iter().any(|o| s.links.contains(o))
        })
        .collect();
    assert!(!batches.is_empty(), "the batch request's span was exported");
    for batch in &batches {
        let linked: Vec<_> = orders.iter().filter(|o| batch.links.contains(o)).collect();
        assert!(linked.len() >= 2, "a batch span is for several orders: {batch:?}");
        assert_eq!(batch.attr("orders"), Some(linked.len().to_string().as_str()));
        for span in linked {
            assert_ne!(batch.trace_id, span.0, "the order keeps its own trace");
        }
    }
    for (what, text) in &haystack {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "key material in the {what}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

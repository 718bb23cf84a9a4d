//! The order path end to end, every agent its own process, on real servers: `nats-server -js`,
//! `redis-server`, the venue simulator, `polyfleet-agent market-data | strategy | risk |
//! execution`, and an OTLP receiver for their traces.
//!
//! 1. The simulator misprices a neg-risk event: exactly one complete set (one FOK buy per
//!    outcome, sized by the leg cap) is approved and filled at the simulator's asks with V2
//!    fees, and the risk store's positions, exposure and PnL equal the sum of the fills.
//! 2. The kill switch flips (halt): the next intents are rejected with `kill_switch`; the held
//!    sets marked at their bids (unrealized PnL) trip a daily-loss limit the realized loss alone
//!    is under, with no order sent: buys refused for the trip, an unwind passes and fills, until
//!    a reset clears it and the next set trades.
//! 3. Redis stops: intents are rejected with `risk_store_unavailable` (fail closed); Redis comes
//!    back and orders are approved and filled again.
//! 4. The execution agent is killed (SIGKILL) while executing and restarted: no fill twice.
//! 6. The event's markets close to orders (no intent on a new opportunity); the strategy agent
//!    restarts and starts from the ledger's positions (the risk gateway answers its request from
//!    the store), not flat; then the simulator
//!    resolves the event (its markets one by one, the first while Redis is down:
//!    that settlement is retried, and the redemption the strategy asked for then is refused and
//!    asked again): the execution agent settles the strategy's sets at the payouts, once per market; the strategy redeems the winning leg
//!    through risk and execution; the store equals the ledger of every fill with those
//!    settlements and the redemption (positions, exposure zero, realized PnL = final cash).
//! 5. Every filled order's spans (market event, signal, risk decision, execution) share one trace
//!    id across the strategy, risk and execution processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::harness;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::wire::{
    CtfStatus, Intent, Mode, OrderIntent, OrderStatus, RejectReason, Resolution, RiskDecision, TimeInForce, Verdict,
    encode, subjects,
};
use polyfleet_core::{ClientOrderId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_sim::model::SimConfig;
use polyfleet_testkit::{NatsServer, RedisServer, metric_value};

use harness::{
    Agent, Seen, check_accounting, collect, limits, new_opportunity, wait_until, wait_until_async, wait_until_ready,
};

const FEE_BPS: u32 = 100;
const LEG_CAP_MICROS: i64 = 2_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_path_end_to_end() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let nats = NatsServer::start();
    let mut redis = RedisServer::start();
    let otlp = polyfleet_testkit::otlp::OtlpReceiver::start().await;
    let cfg = SimConfig {
        binary_markets: 1,
        neg_risk_events: vec![3],
        mispricing_bps: 0,
        fee_rate_bps: FEE_BPS,
        ..SimConfig::default()
    };
    // The model only moves when the test says so.
    let sim = polyfleet_sim::server::serve(cfg, "127.0.0.1:0".parse().unwrap(), 0).await.unwrap();
    let (event_yes, binary, markets) = sim
        .with_model(|m| {
            let e = &m.events()[0];
            let yes: Vec<(String, TokenId)> =
                e.markets.iter().map(|&i| (m.markets()[i].condition.to_string(), m.markets()[i].yes)).collect();
            let b = &m.markets()[0];
            let all: Vec<(String, TokenId)> = m
                .markets()
                .iter()
                .flat_map(|x| [(x.condition.to_string(), x.yes), (x.condition.to_string(), x.no)])
                .collect();
            (yes, (b.condition.to_string(), b.yes, b.no), all)
        })
        .await
        .unwrap();
    let token_json = |market: &str, token: &TokenId| serde_json::json!({"market": market, "token": token.to_string(), "minSizeMicros": 5_000_000, "feeRateBps": FEE_BPS, "feeExponent": 1});
    // Each leg with its place in its event, as the operator plans it from the Market.
    let k = event_yes.len();
    let event_leg = |i: usize, (market, token): &(String, TokenId)| {
        let mut leg = token_json(market, token);
        leg["outcome"] =
            serde_json::json!({"event": "event:e0", "index": i, "yes": true, "markets": k, "exhaustive": true});
        leg
    };
    let binary_leg = |token: &TokenId, yes: bool| {
        let mut leg = token_json(&binary.0, token);
        leg["outcome"] =
            serde_json::json!({"event": binary.0, "index": 0, "yes": yes, "markets": 1, "exhaustive": false});
        leg
    };
    let dir = std::env::temp_dir().join(format!("polyfleet-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let strategy_cfg = serde_json::json!({
        "namespace": "trading", "name": "arb", "riskPolicy": "main", "venue": "sim", "mode": "paper",
        "type": "arbitrage",
        "riskCaps": {"maxOrderSizeMicros": 100_000_000u64, "maxOrderNotionalMicros": 50_000_000},
        "sets": [
            {"kind": "negRisk", "legs": event_yes.iter().enumerate().map(|(i, l)| event_leg(i, l)).collect::<Vec<_>>()},
            {"kind": "binary", "legs": [binary_leg(&binary.1, true), binary_leg(&binary.2, false)]},
        ],
        "parameters": {"minEdgeBps": 100, "maxNotionalPerLegMicros": LEG_CAP_MICROS, "orderType": "FOK", "legTimeoutMs": 10000, "cooldownMs": 200, "sellBackAboveCost": false},
    });
    std::fs::write(dir.join("strategy.json"), serde_json::to_vec(&strategy_cfg).unwrap()).unwrap();
    let markets_json: Vec<_> = markets.iter().map(|(m, t)| token_json(m, t)).collect();
    std::fs::write(dir.join("markets.json"), serde_json::to_vec(&markets_json).unwrap()).unwrap();

    // The operator's part: the RiskPolicy's limits in Redis.
    let store = RedisRiskStore::connect(&redis.url).await.unwrap();
    let policy = PolicyKey::new("trading", "main");
    store.set_limits(&policy, &limits(false)).await.unwrap();

    let env = |service: &str| {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), otlp.endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY".to_string(), "100".to_string()),
            ("OTEL_SERVICE_NAME".to_string(), service.to_string()),
            ("RUST_LOG".to_string(), "info,polyfleet_agent::strategy=debug".to_string()),
        ]
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let tokens = markets.iter().map(|(_, t)| t.to_string()).collect::<Vec<_>>().join(",");
    let md = harness::market_data(&sim, &nats.url, &tokens, env("md"), None);
    let risk = harness::risk_gateway(&nats.url, &redis.url, env("risk"), None);
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
        "--paper-latency-ms",
        "300",
    ]);
    // Books are never stale here: the model moves only when the test says so.
    let mut exec_env = env("execution");
    exec_env.push(("POLYFLEET_MARK_STALE_MS".to_string(), "3600000".to_string()));
    let mut exec = Agent::spawn("execution", exec_args, exec_env);
    // The journal, on an SQLite file; killed with the execution agent in step 4.
    let journal_url = format!("sqlite://{}", dir.join("journal.db").display());
    let mut journal_env = env("journal");
    journal_env.push(("POLYFLEET_JOURNAL_URL".to_string(), journal_url.clone()));
    let mut journal =
        Agent::spawn("journal", s(&["journal", "--nats", &nats.url, "--namespace", "trading"]), journal_env);
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    collect(&bus, seen.clone()).await;
    for a in [&md, &risk, &exec, &journal] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !a.ready().await {
            assert!(Instant::now() < deadline, "{} not ready", a.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut strategy = Agent::spawn(
        "strategy",
        s(&["strategy", "--config", dir.join("strategy.json").to_str().unwrap(), "--nats", &nats.url]),
        env("strategy"),
    );
    wait_until_ready(&strategy).await;
    // Let the strategy, the gateway and the executor take their snapshots.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(seen.lock().unwrap().decisions.is_empty(), "no opportunity, no intent");

    // 1. The opportunity. Outcome 2 drops 6 cents; the expected set comes from the true books.
    let mut asks = vec![];
    assert!(sim.misprice(0, 2, 100_000).await);
    for (_, t) in &event_yes {
        let (book, _) = sim.truth(t).await.unwrap();
        asks.push(book.best_ask().unwrap());
    }
    let size_micros = asks
        .iter()
        .map(|l| (LEG_CAP_MICROS as u64 * 10_000 / u64::from(l.price.ticks())) / 10_000 * 10_000)
        .min()
        .unwrap();
    let size = Quantity::from_micros(size_micros);
    assert!(asks.iter().all(|l| l.size >= size), "precondition: the top levels hold the set ({asks:?}, {size})");
    let sum: u32 = asks.iter().map(|l| l.price.ticks()).sum();
    assert!(sum < 9_800, "the mispricing makes a set below 0.98: {sum}");
    wait_until("three fills", Duration::from_secs(15), || seen.lock().unwrap().fills.len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    {
        let s = seen.lock().unwrap();
        let approved: Vec<&RiskDecision> = s.decisions.iter().filter(|d| d.verdict == Verdict::Approved).collect();
        assert_eq!(approved.len(), 3, "exactly one set approved: {:?}", s.decisions);
        assert_eq!(s.fills.len(), 3, "exactly one fill per leg: {:?}", s.fills);
        let fees = FeeSchedule { rate_bps: FEE_BPS, exponent: 1 };
        // The legs' size: within the cap at the asks, a little under it where the sizing left the
        // capped leg room for its limit to rise; equal on every leg.
        let set_size = s.fills[0].size;
        assert!(set_size <= size && set_size >= Quantity::from_micros(5_000_000), "{set_size} vs cap size {size}");
        for ((_, token), level) in event_yes.iter().zip(&asks) {
            let f = s.fills.iter().find(|f| f.token == *token).expect("a fill per outcome");
            assert_eq!((f.side, f.price, f.size), (Side::Buy, level.price, set_size));
            assert_eq!(f.fee, fees.taker_fee(level.price, set_size).unwrap());
        }
        let filled = s.updates.iter().filter(|u| u.status == OrderStatus::Filled).count();
        assert_eq!(filled, 3);
    }
    check_accounting(&store, &policy, &seen).await;
    // The strategy's own rules are counted: one set completed (on its 100 ms timer).
    wait_until_async("the completed set counted", || async {
        strategy.metrics_text().await.contains(r#"polyfleet_strategy_rule_events_total{kind="completed"} 1"#)
    })
    .await;
    let filled_phase1: HashSet<ClientOrderId> = seen.lock().unwrap().fills.iter().map(|f| f.client_order_id).collect();
    // The executor marks the set at the best bids: unrealized PnL per token in the store.
    wait_until_async("unrealized PnL marked", || async {
        store.unrealized(&policy, "arb").await.map(|u| u.len() == 3).unwrap_or(false)
    })
    .await;

    // 1b. Parameters change live through the KV bucket and are acknowledged; a bad document is
    // refused (the previous parameters stay). A 50% minimum edge stops the next set.
    let key = subjects::params_key("trading", "arb");
    let ack_key = subjects::params_ack_key("trading", "arb");
    let params = |g: u64, edge: u32| {
        serde_json::to_vec(&serde_json::json!({"generation": g, "parameters": {"minEdgeBps": edge, "maxNotionalPerLegMicros": LEG_CAP_MICROS, "orderType": "FOK", "legTimeoutMs": 10000, "cooldownMs": 200, "sellBackAboveCost": false}})).unwrap()
    };
    bus.kv_put(&key, params(2, 5000).into()).await.unwrap();
    wait_for_ack(&bus, &ack_key, 2, true).await;
    bus.kv_put(
        &key,
        serde_json::to_vec(&serde_json::json!({"generation": 3, "parameters": {"minEdgeBps": -1}})).unwrap().into(),
    )
    .await
    .unwrap();
    wait_for_ack(&bus, &ack_key, 3, false).await;
    let before = seen.lock().unwrap().decisions.len();
    new_opportunity(&sim, 1).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(seen.lock().unwrap().decisions.len(), before, "no set below the live 50% minimum edge");
    bus.kv_put(&key, params(4, 100).into()).await.unwrap();
    wait_for_ack(&bus, &ack_key, 4, true).await;
    assert!(strategy.metrics_text().await.contains("polyfleet_strategy_params_generation 4"));

    // 2. Kill switch: the next set's intents are all rejected.
    store.set_limits(&policy, &limits(true)).await.unwrap();
    let before = seen.lock().unwrap().decisions.len();
    new_opportunity(&sim, 0).await;
    wait_until("kill-switch rejections", Duration::from_secs(10), || {
        seen.lock().unwrap().decisions.len() >= before + 3
    })
    .await;
    assert_rejected_since(&seen, before, RejectReason::KillSwitch);
    assert_eq!(seen.lock().unwrap().fills.len(), 3);

    // 2b. Gross exposure with room for one leg (each is under 2 USDC), not three: the gateway
    // refuses the whole set, reserving nothing; no leg is left to unwind.
    let exposure = store.snapshot(&policy).await.unwrap().exposure;
    let room = polyfleet_core::Money::from_micros(exposure.micros() + 2_500_000);
    store.set_limits(&policy, &RiskLimits { max_gross_exposure: room, ..limits(false) }).await.unwrap();
    let before = seen.lock().unwrap().decisions.len();
    new_opportunity(&sim, 1).await;
    wait_until("the set refused", Duration::from_secs(10), || seen.lock().unwrap().decisions.len() >= before + 3).await;
    assert_rejected_since(&seen, before, RejectReason::GrossExposure);
    assert_eq!(store.snapshot(&policy).await.unwrap().exposure, exposure, "nothing reserved for a refused set");
    assert_eq!(seen.lock().unwrap().fills.len(), 3);

    // 2c. The worst-case loss at resolution, its limit at today's figure: a complete set of the
    // event's outcomes bought below 1 loses nothing whatever wins, so it lowers the figure and
    // passes (the gross exposure it adds is what the old limits would have charged).
    let snap = store.snapshot(&policy).await.unwrap();
    assert!(snap.floor > polyfleet_core::Money::ZERO, "the sets bought pay something whatever resolves");
    let at_limit = RiskLimits {
        max_loss_at_resolution: Some(snap.worst_loss().max(polyfleet_core::Money::ZERO)),
        ..limits(false)
    };
    store.set_limits(&policy, &at_limit).await.unwrap();
    let before = seen.lock().unwrap().decisions.len();
    let fills_before = seen.lock().unwrap().fills.len();
    new_opportunity(&sim, 1).await;
    wait_until("a set under the worst-case limit", Duration::from_secs(10), || {
        seen.lock().unwrap().fills.len() >= fills_before + 3
    })
    .await;
    assert!(seen.lock().unwrap().decisions[before..].iter().all(|d| d.verdict == Verdict::Approved));
    let after = store.snapshot(&policy).await.unwrap();
    assert!(after.exposure > snap.exposure && after.worst_loss() < snap.worst_loss(), "{snap:?} -> {after:?}");
    eprintln!(
        "worst-case loss at resolution {} -> {} as exposure went {} -> {}",
        snap.worst_loss(),
        after.worst_loss(),
        snap.exposure,
        after.exposure
    );
    store.set_limits(&policy, &limits(false)).await.unwrap();

    // 2d. A daily-loss trip through unrealized PnL, without any order: the event's YES sets are
    // marked at what their bids would pay (below what they cost: they cannot merge), so today's
    // marked PnL is below the realized one. With the limit between the two, the executor's
    // periodic marks trip the policy into reduce-only; the strategy's buys are refused for the
    // trip while an unwind (a sell of a held leg) passes and fills; a reset (the limits' counter
    // changed, as a RiskPolicy's resetTrips does; wider limits alone do not) clears it with the
    // marked PnL as the baseline, and the next set trades.
    let snap = store.snapshot(&policy).await.unwrap();
    let realized_loss = snap.daily_pnl.checked_neg().unwrap();
    let marked_loss = snap.daily_pnl_marked().checked_neg().unwrap();
    assert!(snap.unrealized.is_negative() && marked_loss > realized_loss, "marked below cost: {snap:?}");
    let between = Money::from_micros((realized_loss.micros() + marked_loss.micros() + 1) / 2);
    let tight = RiskLimits { max_daily_loss: between, ..limits(false) };
    let decisions_before = seen.lock().unwrap().decisions.len();
    store.set_limits(&policy, &tight).await.unwrap();
    wait_until_async("a daily-loss trip on the marks", || async {
        store.snapshot(&policy).await.unwrap().trips.current.is_some()
    })
    .await;
    let tripped = store.snapshot(&policy).await.unwrap();
    assert_eq!(tripped.trips.current.map(|(t, _)| t), Some(polyfleet_core::risk::Trip::DailyLoss));
    assert!(tripped.daily_pnl.checked_neg().unwrap() < between, "the realized loss alone is under the limit");
    assert_eq!(seen.lock().unwrap().decisions.len(), decisions_before, "tripped by the marks, no order decided");
    assert_eq!(store.mode(&policy, u64::MAX / 2).await.unwrap(), Some(polyfleet_core::risk::RiskMode::ReduceOnly));
    eprintln!(
        "daily loss {} realized, {} marked (unrealized {}): limit {} tripped",
        realized_loss, marked_loss, tripped.unrealized, between
    );
    let before = seen.lock().unwrap().decisions.len();
    new_opportunity(&sim, 1).await;
    wait_until("daily-loss refusals", Duration::from_secs(10), || seen.lock().unwrap().decisions.len() >= before + 3)
        .await;
    assert_rejected_since(&seen, before, RejectReason::DailyLoss);
    // The unwind of five shares (the market minimum) of a held leg passes the trip and fills.
    let (leg_market, leg_token) = event_yes[1].clone();
    let unwind = OrderIntent {
        client_order_id: ClientOrderId::new("unwind-1").unwrap(),
        group: None,
        namespace: "trading".into(),
        strategy: "arb".into(),
        risk_policy: "main".into(),
        venue: "sim".into(),
        market: polyfleet_core::ConditionId::parse(&leg_market).unwrap(),
        token: leg_token,
        side: Side::Sell,
        price: Price::parse("0.01").unwrap(),
        size: Quantity::from_micros(5_000_000),
        tif: TimeInForce::Fok,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
        outcome: None,
        kelly: None,
    };
    let payload = Bytes::from(encode(&Intent::Place(unwind.clone())));
    bus.persist(&subjects::intents("trading", "arb"), vec![], payload, Some("unwind-1")).await.unwrap();
    wait_until("the unwind filled", Duration::from_secs(10), || {
        seen.lock().unwrap().fills.iter().any(|f| f.client_order_id == unwind.client_order_id)
    })
    .await;
    let approved =
        |d: &RiskDecision| d.intent.client_order_id == unwind.client_order_id && d.verdict == Verdict::Approved;
    assert!(seen.lock().unwrap().decisions.iter().any(approved));
    // Wider limits do not end a trip (it latches); the reset does.
    store.set_limits(&policy, &limits(false)).await.unwrap();
    assert_eq!(store.mode(&policy, u64::MAX / 2).await.unwrap(), Some(polyfleet_core::risk::RiskMode::ReduceOnly));
    store.set_limits(&policy, &RiskLimits { reset: 1, ..limits(false) }).await.unwrap();
    let after_reset = store.snapshot(&policy).await.unwrap();
    let marked = after_reset.daily_pnl.checked_add(after_reset.unrealized).unwrap();
    assert_eq!((after_reset.trips.current, after_reset.daily_base), (None, marked));
    // Buys pass again (the strategy first buys back the leg the unwind sold, completing its set).
    let before = seen.lock().unwrap().decisions.len();
    new_opportunity(&sim, 1).await;
    wait_until("a buy filled after the reset", Duration::from_secs(10), || {
        let s = seen.lock().unwrap();
        s.decisions[before..].iter().any(|d| {
            d.intent.side == Side::Buy
                && d.verdict == Verdict::Approved
                && s.fills.iter().any(|f| f.client_order_id == d.intent.client_order_id)
        })
    })
    .await;
    store.set_limits(&policy, &limits(false)).await.unwrap();

    // 3. Redis stops: fail closed. Then it comes back and orders flow again.
    redis.stop();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = seen.lock().unwrap().decisions.len();
    new_opportunity(&sim, 1).await;
    wait_until("fail-closed rejections", Duration::from_secs(15), || {
        seen.lock().unwrap().decisions.len() >= before + 3
    })
    .await;
    assert_rejected_since(&seen, before, RejectReason::RiskStoreUnavailable);
    assert!(risk.metrics_text().await.contains("polyfleet_risk_store_errors_total"));
    redis.resume();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fills_before = seen.lock().unwrap().fills.len();
    new_opportunity(&sim, 2).await;
    wait_until("fills after recovery", Duration::from_secs(15), || seen.lock().unwrap().fills.len() > fills_before)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    check_accounting(&store, &policy, &seen).await;

    // 4. Kill the execution agent while it executes; restart it on the same durable consumer.
    let before = seen.lock().unwrap().decisions.len();
    new_opportunity(&sim, 0).await;
    // Kill it exactly while an order is claimed and not yet committed (the claim is in Redis; the
    // paper latency of 300 ms holds the execution open).
    let mut redis_con =
        redis::Client::open(redis.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    'claimed: loop {
        assert!(Instant::now() < deadline, "no order of the round was claimed");
        let approved: Vec<ClientOrderId> = seen.lock().unwrap().decisions[before..]
            .iter()
            .filter(|d| d.verdict == Verdict::Approved)
            .map(|d| d.intent.client_order_id)
            .collect();
        for id in approved {
            let state: Option<String> = redis::cmd("HGET")
                .arg(format!("pf:{{trading/main}}:x:{id}"))
                .arg("state")
                .query_async(&mut redis_con)
                .await
                .unwrap();
            if state.as_deref() == Some("pending") {
                break 'claimed;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    exec.kill();
    journal.kill();
    exec.start();
    journal.start();
    wait_until_ready(&exec).await;
    wait_until_ready(&journal).await;
    // Every approved order of this round ends (filled, killed, or rejected as not executed).
    wait_until("every approved order to end", Duration::from_secs(30), || {
        let s = seen.lock().unwrap();
        s.decisions[before..].iter().filter(|d| d.verdict == Verdict::Approved).all(|d| {
            s.updates.iter().any(|u| {
                u.client_order_id == d.intent.client_order_id
                    && matches!(u.status, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected)
            })
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    {
        let s = seen.lock().unwrap();
        let mut ids = HashSet::new();
        for f in &s.fills {
            assert!(ids.insert(f.fill_id.clone()), "fill {} published twice", f.fill_id);
        }
        let mut per_order: HashMap<ClientOrderId, u64> = HashMap::new();
        for f in &s.fills {
            *per_order.entry(f.client_order_id).or_default() += f.size.micros();
        }
        for d in &s.decisions {
            if let Some(q) = per_order.get(&d.intent.client_order_id) {
                assert!(*q <= d.intent.size.micros(), "order {} filled beyond its size", d.intent.client_order_id);
            }
        }
        // The orders the killed agent had claimed (the legs it took together claim together)
        // are reported as not executed, never run late.
        let interrupted: Vec<_> =
            s.updates.iter().filter(|u| u.reason.as_deref().is_some_and(|r| r.contains("restarted"))).collect();
        assert!(!interrupted.is_empty(), "an interrupted order");
        for u in &interrupted {
            assert!(!s.fills.iter().any(|f| f.client_order_id == u.client_order_id), "{u:?} filled late");
        }
        eprintln!(
            "restart round: {} decisions, {} fills in all, interrupted {:?}",
            s.decisions.len() - before,
            s.fills.len(),
            interrupted.iter().map(|u| u.client_order_id).collect::<Vec<_>>()
        );
    }
    check_accounting(&store, &policy, &seen).await;

    // 6. The event resolves (outcome 0 wins): the execution agent settles the strategy's sets at
    // the payouts, once, in the store: exactly the ledger of every fill, then each market settled.
    let outcomes: Vec<usize> = sim.with_model(|m| m.events()[0].markets.clone()).await.unwrap();
    // First the event closes to orders (awaiting resolution), as the venue's markets do: the
    // market-data agent learns it from the REST status, and a new opportunity on the closed
    // markets brings no order at all (positions are held until the resolution).
    for &i in &outcomes {
        assert!(sim.halt(i, true).await);
    }
    wait_until_async("the market-data agent to report the event closed", || async {
        md.metrics_text().await.contains("polyfleet_md_markets_halted 3")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = seen.lock().unwrap().intents_seen();
    new_opportunity(&sim, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(seen.lock().unwrap().intents_seen(), before, "no intent on markets closed to orders");
    // The strategy agent restarts while the event is closed: it starts from the ledger's
    // positions (asked of the risk gateway), not flat, so it redeems what it holds when the event
    // resolves below.
    let held = store.positions(&policy, "arb").await.unwrap().iter().filter(|(_, p)| !p.size.is_zero()).count();
    assert!(held > 0, "the strategy holds sets");
    strategy.kill();
    strategy.start();
    wait_until_ready(&strategy).await;
    let text = strategy.metrics_text().await;
    assert_eq!(
        metric_value(&text, "polyfleet_strategy_positions_restored_total{kind=\"restored\"}"),
        held as f64,
        "{text}"
    );

    // The first market resolves while Redis is down: its settlement waits and is retried.
    redis.stop();
    assert!(sim.resolve(outcomes[0], true).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.resume();
    for (k, &i) in outcomes.iter().enumerate().skip(1) {
        assert!(sim.resolve(i, k == 0).await);
    }
    let mut expected = polyfleet_core::accounting::Ledger::new();
    for f in seen.lock().unwrap().fills.iter() {
        expected.on_fill(f).unwrap();
    }
    for (k, (cond, yes)) in event_yes.iter().enumerate() {
        let payout = if k == 0 { polyfleet_core::Price::ONE } else { polyfleet_core::Price::ZERO };
        let res =
            Resolution { market: polyfleet_core::ConditionId::parse(cond).unwrap(), payouts: vec![(*yes, payout)] };
        expected.settle(&res).unwrap();
    }
    wait_until_async("the event's three markets settled", || async {
        store.settlements(&policy).await.map(|s| s.len() == 3).unwrap_or(false)
    })
    .await;
    let settled_realized = expected.realized();
    // The strategy redeems the winning YES it holds: one redemption through risk and execution,
    // after which nothing is held and cash is exactly the PnL.
    let (winner_market, winner) = (polyfleet_core::ConditionId::parse(&event_yes[0].0).unwrap(), event_yes[0].1);
    let held = expected.position(&winner).size;
    assert!(!held.is_zero(), "the sets' winning leg is held");
    let redeem = polyfleet_core::wire::CtfOp::Redeem { market: winner_market, token: winner, size: held };
    let redeemed = expected.on_ctf("redeem", &redeem).unwrap().unwrap();
    wait_until_async("the winners redeemed", || async {
        store.lifecycle_totals(&policy, Some("arb")).await.map(|t| t.redemptions == 1).unwrap_or(false)
    })
    .await;
    let stored: HashMap<TokenId, _> = store.positions(&policy, "arb").await.unwrap().into_iter().collect();
    assert_eq!(stored, expected.positions().into_iter().collect::<HashMap<_, _>>());
    let snap = store.snapshot(&policy).await.unwrap();
    assert_eq!(snap.exposure, Money::ZERO, "nothing held after the redemption");
    assert_eq!(snap.daily_pnl, expected.realized(), "the sets' edge realized");
    assert_eq!(expected.cash(), expected.realized(), "final cash = initial cash + realized PnL");
    let totals = store.lifecycle_totals(&policy, Some("arb")).await.unwrap();
    assert_eq!((totals.settlements, totals.redeemed, totals.capital_returned), (3, held, redeemed.cash));
    let metrics = exec.metrics_text().await;
    assert!(metrics.contains("settlements_total 3"), "one settlement per market");
    assert!(metrics.contains(r#"ctf_ops_total{op="redeem",outcome="done"} 1"#), "{metrics}");
    // Asked for before this agent had booked the settlement (the store was down when the market
    // resolved), a redemption is deferred until it has, never failed and asked for again.
    assert!(!metrics.contains(r#"ctf_ops_total{op="redeem",outcome="failed"}"#), "{metrics}");
    let deferred = metrics.lines().find(|l| l.contains(r#"outcome="deferred""#)).unwrap_or("none deferred");
    eprintln!("redemption: {deferred}");
    {
        let s = seen.lock().unwrap();
        // Asked for while Redis was down: refused (fail closed), then asked again and approved.
        let verdicts: Vec<_> = s.ctf_decisions.iter().map(|d| d.verdict.clone()).collect();
        assert!(
            matches!(verdicts.first(), Some(Verdict::Rejected { reason: RejectReason::RiskStoreUnavailable, .. })),
            "{verdicts:?}"
        );
        // Counted by operation id: under load JetStream may redeliver an intent, and the gateway
        // answers it again with its first verdict.
        let approved: HashSet<ClientOrderId> =
            s.ctf_decisions.iter().filter(|d| d.verdict == Verdict::Approved).map(|d| d.intent.id).collect();
        let ops: Vec<_> =
            s.ctf_decisions.iter().map(|d| (d.intent.id, d.intent.op.clone(), d.verdict.clone())).collect();
        let reports: Vec<_> = s.ctf_reports.iter().map(|r| (r.id, r.status.clone())).collect();
        assert_eq!(approved.len(), 1, "decisions {ops:?}; reports {reports:?}");
        let reported: HashSet<ClientOrderId> = s.ctf_reports.iter().map(|r| r.id).collect();
        assert_eq!(reported.len(), 1, "one redemption executed (a redelivered approval is answered again)");
        let report = &s.ctf_reports[0];
        assert_eq!((report.status.clone(), report.cash, report.op.clone()), (CtfStatus::Done, redeemed.cash, redeem));
    }
    eprintln!(
        "settled: realized {settled_realized} at settlement, {} after; redeemed {held} shares for {} USDC; cash {}",
        expected.realized(),
        redeemed.cash,
        expected.cash()
    );

    // 5. One trace per order across processes (stop the agents so their exporters flush).
    let mut agents = [strategy, risk, exec, md];
    for a in agents.iter_mut() {
        a.stop();
    }
    // The journal, killed mid-run with the execution agent, holds exactly what the streams hold
    // (the test's consumers see them de-duplicated, as stored): every fill and every decision once.
    // What the killed agent had taken unacknowledged comes back to its successor after the ack wait.
    {
        use polyfleet_journal::{FillFilter, FillRow, JournalStore, Kind, Range};
        let (published, decided) = {
            let s = seen.lock().unwrap();
            let published: HashSet<(String, String)> =
                s.fills.iter().map(polyfleet_journal::record::fill_key).collect();
            let decided: HashSet<String> = s
                .decisions
                .iter()
                .map(|d| d.intent.client_order_id.to_string())
                .chain(s.ctf_decisions.iter().map(|d| format!("ctf/{}", d.intent.id)))
                .collect();
            (published, decided)
        };
        let j = polyfleet_journal::store::sql::SqlJournal::open(&journal_url).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let kept: HashSet<(String, String)> =
                j.fills(&FillFilter::default(), Range::ALL).await.unwrap().iter().map(FillRow::key).collect();
            let journaled: HashSet<String> =
                j.entries(Kind::Decision, Range::ALL).await.unwrap().into_iter().map(|e| e.key).collect();
            let counts = j.counts().await.unwrap();
            let count = |k: Kind| counts.iter().find(|(kind, _)| *kind == k).unwrap().1;
            assert!(kept.is_subset(&published), "fills the execution agent never published: {kept:?}");
            assert!(journaled.is_subset(&decided), "decisions the gateway never made: {journaled:?}");
            assert_eq!((count(Kind::Fill), count(Kind::Decision)), (kept.len() as u64, journaled.len() as u64));
            if kept == published && journaled == decided {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the journal lost messages: fills {} of {}, decisions {} of {}, missing {:?}",
                kept.len(),
                published.len(),
                journaled.len(),
                decided.len(),
                decided.difference(&journaled).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Folded back from the journal (fills, the settlements, the redemption), the strategy's
        // account is the reference ledger's to the micro-USDC.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let bookings = polyfleet_journal::bookings::read(&j, i64::MAX, |_, s| s == "arb").await.unwrap();
            let mut perf = polyfleet_core::analytics::performance::Performance::new(i64::MIN);
            for (b, _) in &bookings {
                perf.book(b).unwrap();
            }
            let summary = perf.summary();
            let line = summary.strategies.iter().find(|l| l.strategy == "arb").unwrap();
            if (line.realized, line.settlements) == (expected.realized(), 3) {
                assert!(line.positions.is_empty(), "{:?}", line.positions);
                let s = seen.lock().unwrap();
                let mut markets: Vec<String> = s.settlements.iter().map(|r| r.resolution.market.to_string()).collect();
                markets.sort();
                markets.dedup();
                assert_eq!(markets.len(), 3, "a settlement report per market on the orders stream");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the journal's account: realized {} after {} settlements and {} operations, the reference {}",
                line.realized,
                line.settlements,
                line.ctf_ops,
                expected.realized()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        j.close().await;
    }
    journal.stop();
    let spans = otlp.spans();
    // Every order the strategy sent (the test's own unwind has no signal).
    let traced: Vec<ClientOrderId> = seen
        .lock()
        .unwrap()
        .fills
        .iter()
        .map(|f| f.client_order_id)
        .filter(|id| *id != unwind.client_order_id)
        .collect();
    let mut complete = 0;
    for id in &traced {
        // A set's signal and decision spans carry every leg (`set`); each leg's execution its own.
        let names = |s: &&polyfleet_testkit::otlp::SpanRecord| {
            s.attr("order") == Some(id.as_str())
                || s.attr("set").is_some_and(|v| v.split(' ').any(|x| x == id.as_str()))
        };
        let of_order: Vec<_> = spans.iter().filter(names).collect();
        let Some(exec_span) = of_order.iter().find(|s| s.name == "execution") else { continue };
        let trace = &exec_span.trace_id;
        assert_ne!(trace, "00000000000000000000000000000000");
        for (name, service) in [("signal", "strategy"), ("risk_decision", "risk"), ("execution", "execution")] {
            let s = of_order.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} span of {id}"));
            assert_eq!(&s.trace_id, trace, "{name} span of {id} in another trace");
            assert_eq!(s.service, service);
        }
        // Set legs come from a market event, which roots their trace (unwinds come from order
        // updates instead).
        if filled_phase1.contains(id) {
            assert!(
                spans.iter().any(|s| s.name == "market_event" && &s.trace_id == trace && s.service == "strategy"),
                "the market event that caused {id} roots its trace"
            );
        }
        complete += 1;
    }
    assert!(complete >= 3, "complete traces for the filled orders ({complete} of {})", traced.len());
    assert!(filled_phase1.iter().all(|id| traced.contains(id)));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn wait_for_ack(bus: &NatsBus, key: &str, generation: u64, applied: bool) {
    wait_until_async("the parameter acknowledgement", || async {
        match bus.kv_get(key).await.unwrap() {
            Some(e) => {
                let ack: serde_json::Value = serde_json::from_slice(&e.value).unwrap();
                ack["generation"] == generation && ack["applied"] == applied
            }
            None => false,
        }
    })
    .await;
}

fn assert_rejected_since(seen: &Arc<Mutex<Seen>>, from: usize, reason: RejectReason) {
    let s = seen.lock().unwrap();
    assert!(s.decisions.len() > from);
    for d in &s.decisions[from..] {
        match &d.verdict {
            Verdict::Rejected { reason: r, .. } => assert_eq!(*r, reason, "{d:?}"),
            Verdict::Approved => panic!("approved while it must not be: {d:?}"),
        }
    }
}

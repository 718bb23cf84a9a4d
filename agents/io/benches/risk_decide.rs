//! The risk gateway's decision rate on one real Redis, this release against the previous ones in
//! the same run (custom harness: `cargo bench -p polyfleet-io --bench risk_decide`).
//!
//! A `redis-server` on loopback; 64 concurrent callers through one connection manager, as the
//! gateway calls the store. Each workload decides fresh single-leg buys (all approved: the
//! limits are wide) on tokens of 60 markets; the workloads alternate over five rounds and the
//! median decisions per second is reported, with Redis's own time per script call:
//!
//! - `previous release`: the decision script of the release before issue 20's rules (the
//!   worst-case limit, modes, trips, marks: `baseline/decide_fc95e21.lua`), invoked with its own
//!   key and argument layout;
//! - `before event limits`: the script of the release before the event, group and Kelly limits
//!   (`baseline/decide_5137013.lua`), intents describing their tokens, `maxLossAtResolution`
//!   set;
//! - `this, undescribed`: this release's store, intents without an outcome (the worst-case
//!   bookkeeping has nothing to record; the mode and trip rules run on every decision);
//! - `this, outcomes`: intents describing their tokens (binary YES/NO and three-way neg-risk
//!   outcomes, each event in one of three exposure groups), every third one model-sized, with
//!   `maxLossAtResolution`, `maxEventExposure`, a group limit and the Kelly cap set: every
//!   decision records, recomputes the event's floor, keeps its event's and group's exposure and
//!   checks every limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::sync::Arc;
use std::time::Instant;

use polyfleet_core::risk::RiskLimits;
use polyfleet_core::wire::{KellyBasis, Mode, OrderIntent, Outcome, TimeInForce};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_testkit::RedisServer;
use redis::aio::ConnectionManager;

const DECISIONS: usize = 60_000;
const CALLERS: usize = 64;
const MARKETS: u128 = 60;
const ROUNDS: usize = 5;

fn limits(all: bool) -> RiskLimits {
    let big = Money::from_micros(1_000_000_000_000_000);
    RiskLimits {
        mode: polyfleet_core::risk::RiskMode::Off,
        reset: 0,
        trip_cooldown_ms: None,
        max_order_size: Quantity::from_micros(1_000_000_000),
        max_order_notional: big,
        max_position_per_market: Quantity::from_micros(u64::MAX / 4),
        max_gross_exposure: big,
        max_daily_loss: big,
        max_drawdown: big,
        max_orders_per_minute: u32::MAX,
        max_orders_per_day: None,
        min_book_liquidity: Some(Money::from_micros(1_000_000)),
        circuit_breaker: None,
        max_loss_at_resolution: all.then_some(big),
        max_event_exposure: all.then_some(big),
        group_limits: if all { vec![("category".into(), big)] } else { vec![] },
        kelly_budget: all.then_some(big),
    }
}

/// Decision `i`: a buy of 5 shares at 0.42 on a token of market `i % 60`; markets 0..30 are
/// binary (YES and NO), 30..60 the outcomes of ten three-way neg-risk events. Described, each
/// event is in one of three exposure groups and every third order is model-sized (p = 0.9).
fn intent(i: usize, described: bool) -> OrderIntent {
    let m = (i as u128) % MARKETS;
    let yes = (i / MARKETS as usize).is_multiple_of(2) || m >= 30;
    let token = TokenId::from_u128(1_000 + m * 2 + u128::from(!yes));
    let outcome = described.then(|| {
        let (event, index, markets, exhaustive) = if m < 30 {
            (format!("0x{m:064x}"), 0, 1, false)
        } else {
            (format!("event:e{}", (m - 30) / 3), ((m - 30) % 3) as u16, 3, true)
        };
        let groups = vec![format!("category=c{}", m % 3)];
        Outcome { event, index, yes, markets, exhaustive, groups }
    });
    OrderIntent {
        client_order_id: ClientOrderId::new(&format!("b-{i}")).unwrap(),
        group: None,
        namespace: "bench".into(),
        strategy: "s".into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([0; 32]),
        token,
        side: Side::Buy,
        price: Price::parse("0.42").unwrap(),
        size: Quantity::from_micros(5_000_000),
        tif: TimeInForce::Gtc,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
        outcome,
        kelly: (described && i.is_multiple_of(3)).then_some(KellyBasis { probability_ppm: 900_000 }),
    }
}

fn now_ms() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// How an earlier release's script took a leg's outcome argument.
#[derive(Clone, Copy)]
enum OutcomeArg {
    /// Not at all (before the worst-case limit).
    None,
    /// "event index Y|N markets exhaustive" (no groups).
    Described,
}

/// An earlier release's script, called the way its store called it.
async fn earlier(con: ConnectionManager, script: Arc<redis::Script>, policy: &str, outcome: OutcomeArg) -> f64 {
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..CALLERS {
        let (mut con, script, policy) = (con.clone(), script.clone(), policy.to_string());
        tasks.push(tokio::spawn(async move {
            for i in (c..DECISIONS).step_by(CALLERS) {
                let it = intent(i, matches!(outcome, OutcomeArg::Described));
                let key = |s: &str| format!("pf:{{bench/{policy}}}:{s}");
                let mut inv = script.prepare_invoke();
                for k in ["limits", "state", "pos", "resv", "rate"] {
                    inv.key(key(k));
                }
                inv.key(key(&format!("d:{}", it.client_order_id.as_str())));
                inv.arg(now_ms())
                    .arg(1)
                    .arg(it.client_order_id.as_str())
                    .arg(it.token.to_string())
                    .arg("B")
                    .arg(it.price.ticks())
                    .arg(it.size.micros())
                    .arg(10_000_000);
                if let (OutcomeArg::Described, Some(o)) = (outcome, &it.outcome) {
                    let yes = if o.yes { "Y" } else { "N" };
                    inv.arg(format!("{} {} {yes} {} {}", o.event, o.index, o.markets, u8::from(o.exhaustive)));
                }
                let v: String = inv.invoke_async(&mut con).await.unwrap();
                assert_eq!(v, "ok");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    DECISIONS as f64 / started.elapsed().as_secs_f64()
}

/// This release's store.
async fn this(store: RedisRiskStore, policy: PolicyKey, described: bool) -> f64 {
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..CALLERS {
        let (store, policy) = (store.clone(), policy.clone());
        tasks.push(tokio::spawn(async move {
            for i in (c..DECISIONS).step_by(CALLERS) {
                let v =
                    store.decide(&policy, &intent(i, described), Some(Money::from_micros(10_000_000)), now_ms()).await;
                assert!(matches!(v, Ok(Ok(()))), "{v:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    DECISIONS as f64 / started.elapsed().as_secs_f64()
}

/// Redis's own time per decision since the last reset (`INFO commandstats`, evalsha: total µs
/// over the decisions), and the decisions per script call (this release batches them).
async fn server_usec_per_decision(con: &mut ConnectionManager) -> (f64, f64) {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(con).await.unwrap();
    let line = info.lines().find(|l| l.starts_with("cmdstat_evalsha:")).expect("evalsha stats");
    let stat = |name: &str| -> f64 {
        line.split([',', ':']).find_map(|kv| kv.strip_prefix(name)).expect("evalsha stat").parse().unwrap()
    };
    let calls = stat("calls=");
    (stat("usec=") / DECISIONS as f64, DECISIONS as f64 / calls)
}

async fn reset_stats(con: &mut ConnectionManager) {
    redis::cmd("CONFIG").arg("RESETSTAT").query_async::<()>(con).await.unwrap();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let redis = RedisServer::start();
    let store = RedisRiskStore::connect(&redis.url).await.unwrap();
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let con = ConnectionManager::new(client).await.unwrap();
    let fc95e21 = Arc::new(redis::Script::new(include_str!("baseline/decide_fc95e21.lua")));
    let s5137013 = Arc::new(redis::Script::new(include_str!("baseline/decide_5137013.lua")));
    const NAMES: [&str; 4] = [
        "previous release (fc95e21 script)",
        "before event limits (5137013, outcomes)",
        "this release, undescribed tokens",
        "this release, outcomes + every limit",
    ];
    let mut rates: [Vec<f64>; 4] = Default::default();
    let mut usec: [Vec<f64>; 4] = Default::default();
    let mut per_call: [Vec<f64>; 4] = Default::default();
    let mut stats = con.clone();
    for round in 0..ROUNDS {
        let p = |w: &str| PolicyKey::new("bench", &format!("{w}{round}"));
        // The earlier scripts read the same limits hash (ignoring the newer fields); the oldest
        // with the kill switch field of its time beside them.
        store.set_limits(&p("old"), &limits(false)).await.unwrap();
        let key = format!("pf:{{bench/old{round}}}:limits");
        redis::cmd("HSET").arg(key).arg("kill_switch").arg(0).query_async::<()>(&mut stats).await.unwrap();
        store.set_limits(&p("last"), &limits(true)).await.unwrap();
        store.set_limits(&p("bare"), &limits(false)).await.unwrap();
        store.set_limits(&p("described"), &limits(true)).await.unwrap();
        for w in 0..4 {
            reset_stats(&mut stats).await;
            let rate = match w {
                0 => earlier(con.clone(), fc95e21.clone(), &format!("old{round}"), OutcomeArg::None).await,
                1 => earlier(con.clone(), s5137013.clone(), &format!("last{round}"), OutcomeArg::Described).await,
                2 => this(store.clone(), p("bare"), false).await,
                _ => this(store.clone(), p("described"), true).await,
            };
            rates[w].push(rate);
            let (us, batch) = server_usec_per_decision(&mut stats).await;
            usec[w].push(us);
            per_call[w].push(batch);
        }
        let snap = store.snapshot(&p("described")).await.unwrap();
        assert!(snap.floor > Money::ZERO, "the binary YES+NO pairs and event sets pay something whatever happens");
        assert_eq!(snap.group_exposure.len(), 3, "every group exposed");
        assert_eq!(snap.event_exposure.len(), 40, "every event exposed");
    }
    let rates = rates.map(median);
    let usec = usec.map(median);
    let per_call = per_call.map(median);
    println!("risk decisions/s on one Redis, {CALLERS} callers, {DECISIONS} per run, median of {ROUNDS} rounds");
    println!("(Redis's own script time per decision and decisions per script call, INFO commandstats):");
    for w in 0..4 {
        println!(
            "  {:<42} {:>9.0}/s ({:+6.1} %)   {:>5.2} µs/decision ({:+6.1} %)   {:>5.1} per call",
            NAMES[w],
            rates[w],
            (rates[w] / rates[0] - 1.0) * 100.0,
            usec[w],
            (usec[w] / usec[0] - 1.0) * 100.0,
            per_call[w]
        );
    }
}

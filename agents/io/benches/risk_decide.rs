//! The risk gateway's decision rate on one real Redis, this release against the previous one in
//! the same run (custom harness: `cargo bench -p polyfleet-io --bench risk_decide`).
//!
//! A `redis-server` on loopback; 64 concurrent callers through one connection manager, as the
//! gateway calls the store. Three workloads, each deciding fresh single-leg buys (all approved:
//! the limits are wide) on tokens of 60 markets, alternated over five rounds and reported as
//! the median decisions per second:
//!
//! - `previous`: the decision script of the release before issue 20's rules (the worst-case
//!   limit, modes and trips: `baseline/decide_fc95e21.lua`), invoked with its own key and
//!   argument layout;
//! - `before modes`: the script of the release before modes and trips
//!   (`baseline/decide_8a81aef.lua`), undescribed intents;
//! - `before marks`: the script of the release before mark-to-market
//!   (`baseline/decide_e099afc.lua`: modes and trips on realized PnL only), undescribed intents;
//! - `this, undescribed`: this release's store, intents without an outcome (the worst-case
//!   bookkeeping has nothing to record; the mode and trip rules run on every decision);
//! - `this, outcomes`: intents describing their tokens (binary YES/NO and three-way neg-risk
//!   outcomes), with `maxLossAtResolution` set: every decision records, recomputes the event's
//!   floor and checks the limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::sync::Arc;
use std::time::Instant;

use polyfleet_core::risk::RiskLimits;
use polyfleet_core::wire::{Mode, OrderIntent, Outcome, TimeInForce};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_testkit::RedisServer;
use redis::aio::ConnectionManager;

const DECISIONS: usize = 60_000;
const CALLERS: usize = 64;
const MARKETS: u128 = 60;
const ROUNDS: usize = 5;

fn limits(worst_case: bool) -> RiskLimits {
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
        max_loss_at_resolution: worst_case.then_some(big),
    }
}

/// Decision `i`: a buy of 5 shares at 0.42 on a token of market `i % 60`; markets 0..30 are
/// binary (YES and NO), 30..60 the outcomes of ten three-way neg-risk events.
fn intent(i: usize, described: bool) -> OrderIntent {
    let m = (i as u128) % MARKETS;
    let yes = (i / MARKETS as usize).is_multiple_of(2) || m >= 30;
    let token = TokenId::from_u128(1_000 + m * 2 + u128::from(!yes));
    let outcome = described.then(|| {
        if m < 30 {
            Outcome { event: format!("0x{m:064x}"), index: 0, yes, markets: 1, exhaustive: false }
        } else {
            let e = (m - 30) / 3;
            Outcome { event: format!("event:e{e}"), index: ((m - 30) % 3) as u16, yes, markets: 3, exhaustive: true }
        }
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
    }
}

fn now_ms() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// The previous release's script, called the way its store called it.
async fn previous(con: ConnectionManager, script: Arc<redis::Script>, policy: &str, outcome_arg: bool) -> f64 {
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..CALLERS {
        let (mut con, script, policy) = (con.clone(), script.clone(), policy.to_string());
        tasks.push(tokio::spawn(async move {
            for i in (c..DECISIONS).step_by(CALLERS) {
                let it = intent(i, false);
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
                if outcome_arg {
                    inv.arg("-");
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

/// Redis's own time per script call since the last reset (`INFO commandstats`, evalsha), µs.
async fn server_usec_per_call(con: &mut ConnectionManager) -> f64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(con).await.unwrap();
    let line = info.lines().find(|l| l.starts_with("cmdstat_evalsha:")).expect("evalsha stats");
    let v = line.split(',').find_map(|kv| kv.strip_prefix("usec_per_call=")).expect("usec_per_call");
    v.parse().unwrap()
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
    let script = Arc::new(redis::Script::new(include_str!("baseline/decide_fc95e21.lua")));
    let modeless = Arc::new(redis::Script::new(include_str!("baseline/decide_8a81aef.lua")));
    let unmarked = Arc::new(redis::Script::new(include_str!("baseline/decide_e099afc.lua")));
    let (mut old, mut before_modes, mut before_marks, mut bare, mut described) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut usec: [Vec<f64>; 5] = [vec![], vec![], vec![], vec![], vec![]];
    let mut stats = con.clone();
    for round in 0..ROUNDS {
        let p = |w: &str| PolicyKey::new("bench", &format!("{w}{round}"));
        // The previous scripts read the same limits hash (ignoring the newer fields), with the
        // kill switch field of their time beside them.
        for w in ["old", "modeless"] {
            store.set_limits(&p(w), &limits(false)).await.unwrap();
            let key = format!("pf:{{bench/{w}{round}}}:limits");
            redis::cmd("HSET").arg(key).arg("kill_switch").arg(0).query_async::<()>(&mut stats).await.unwrap();
        }
        store.set_limits(&p("unmarked"), &limits(false)).await.unwrap();
        store.set_limits(&p("bare"), &limits(false)).await.unwrap();
        store.set_limits(&p("described"), &limits(true)).await.unwrap();
        reset_stats(&mut stats).await;
        old.push(previous(con.clone(), script.clone(), &format!("old{round}"), false).await);
        usec[0].push(server_usec_per_call(&mut stats).await);
        reset_stats(&mut stats).await;
        before_modes.push(previous(con.clone(), modeless.clone(), &format!("modeless{round}"), true).await);
        usec[1].push(server_usec_per_call(&mut stats).await);
        reset_stats(&mut stats).await;
        before_marks.push(previous(con.clone(), unmarked.clone(), &format!("unmarked{round}"), true).await);
        usec[2].push(server_usec_per_call(&mut stats).await);
        reset_stats(&mut stats).await;
        bare.push(this(store.clone(), p("bare"), false).await);
        usec[3].push(server_usec_per_call(&mut stats).await);
        reset_stats(&mut stats).await;
        described.push(this(store.clone(), p("described"), true).await);
        usec[4].push(server_usec_per_call(&mut stats).await);
        let snap = store.snapshot(&p("described")).await.unwrap();
        assert!(snap.floor > Money::ZERO, "the binary YES+NO pairs and event sets pay something whatever happens");
    }
    let (old, before_modes, before_marks) = (median(old), median(before_modes), median(before_marks));
    let (bare, described) = (median(bare), median(described));
    let [u0, u1, u2, u3, u4] = usec.map(median);
    println!("risk decisions/s on one Redis, {CALLERS} callers, {DECISIONS} per run, median of {ROUNDS} rounds");
    println!("(and Redis's own time per script call, INFO commandstats):");
    let row = |name: &str, rate: f64, us: f64| {
        println!(
            "  {name:<38} {rate:>9.0}/s ({:+6.1} %)   {us:>5.2} µs/call ({:+6.1} %)",
            (rate / old - 1.0) * 100.0,
            (us / u0 - 1.0) * 100.0
        );
    };
    row("previous release (fc95e21 script)", old, u0);
    row("before modes (8a81aef script)", before_modes, u1);
    row("before marks (e099afc script)", before_marks, u2);
    row("this release, undescribed tokens", bare, u3);
    row("this release, outcomes + worst case", described, u4);
}

//! Order-path benchmark (custom harness: `cargo bench -p polyfleet-agent --bench order_path`).
//!
//! Real processes on loopback: `nats-server -js`, `redis-server`, `polyfleet-agent strategy`
//! (the latency-probe strategy: one order per book update) and `polyfleet-agent risk`. This
//! process plays the market-data agent (publishes numbered book events stamped with their
//! receipt time, answers snapshot requests) and the execution agent's receiving end (a durable
//! consumer of the decisions stream, exactly as the execution agent binds it). Measured:
//!
//! 1. latency from a market event's receipt to the approved order's arrival at the execution
//!    consumer, at 1 000 and 10 000 events/s: p50, p99, p99.9, max;
//! 2. the floor in the same run: a NATS request/reply round trip, and one risk-decision script
//!    call on Redis (sequential);
//! 3. risk decisions per second against one Redis (concurrent callers through one multiplexed
//!    connection), beside `redis-benchmark` running the same script (EVALSHA) on the same server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::wire::{
    Level, LevelChange, MarketEvent, MarketEventBody, Mode, OrderIntent, RiskDecision, TimeInForce, Verdict, decode,
    encode, subjects,
};
use polyfleet_core::{BookSide, ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::bus::{Bus, ConsumerSpec};
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_testkit::{NatsServer, RedisServer, free_port};
use tokio::sync::Mutex;

fn now_ns() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

fn limits() -> RiskLimits {
    RiskLimits {
        mode: polyfleet_core::risk::RiskMode::Off,
        reset: 0,
        trip_cooldown_ms: None,
        max_order_size: Quantity::from_micros(1_000_000_000),
        max_order_notional: Money::from_micros(1_000_000_000),
        max_position_per_market: Quantity::from_micros(1_000_000_000_000),
        max_gross_exposure: Money::from_micros(1_000_000_000_000),
        max_daily_loss: Money::from_micros(1_000_000_000),
        max_drawdown: Money::from_micros(1_000_000_000),
        max_orders_per_minute: 2_000_000,
        max_orders_per_day: None,
        min_book_liquidity: Some(Money::from_micros(1_000_000)),
        circuit_breaker: None,
        max_loss_at_resolution: None,
        max_event_exposure: None,
        group_limits: vec![],
        kelly_budget: None,
    }
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_polyfleet-agent"))
            .args(args)
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("polyfleet-agent"),
    )
}

fn percentiles(mut v: Vec<u64>) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_unstable();
    // Nearest-rank percentile, q in parts per thousand.
    let p = |q: usize| v[(v.len() * q).div_ceil(1000).clamp(1, v.len()) - 1] as f64 / 1000.0;
    format!(
        "n={:>6}  p50 {:>7.1} µs  p99 {:>7.1} µs  p99.9 {:>7.1} µs  max {:>8.1} µs",
        v.len(),
        p(500),
        p(990),
        p(999),
        *v.last().unwrap() as f64 / 1000.0
    )
}

fn intent(id: &str, token: TokenId) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "bench".into(),
        strategy: "probe".into(),
        risk_policy: "main".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([7; 32]),
        token,
        side: Side::Sell,
        price: Price::from_ticks(9900).unwrap(),
        size: Quantity::from_micros(5_000_000),
        tif: TimeInForce::Fak,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
        outcome: None,
        kelly: None,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let nats = NatsServer::start();
    let redis = RedisServer::start();
    let store = RedisRiskStore::connect(&redis.url).await.unwrap();
    store.set_limits(&PolicyKey::new("bench", "main"), &limits()).await.unwrap();
    store.set_limits(&PolicyKey::new("bench", "floor"), &limits()).await.unwrap();
    let token = TokenId::from_u128(4242);
    let market = ConditionId::from_bytes([7; 32]);
    let dir = std::env::temp_dir().join(format!("polyfleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = serde_json::json!({
        "namespace": "bench", "name": "probe", "riskPolicy": "main", "venue": "sim", "mode": "paper", "type": "probe",
        "riskCaps": {"maxOrderSizeMicros": 1_000_000_000u64, "maxOrderNotionalMicros": 1_000_000_000},
        "tokens": [{"market": market.to_string(), "token": token.to_string(), "minSizeMicros": 5_000_000}],
        "parameters": {},
    });
    std::fs::write(dir.join("probe.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let bus = NatsBus::connect(&nats.url).await.unwrap();

    // This process answers snapshot requests like the market-data agent.
    let seq = Arc::new(Mutex::new(1u64));
    let snapshot = move |seq: u64| MarketEvent {
        token,
        market,
        seq,
        venue_ts_ms: 0,
        recv_ts_ns: now_ns(),
        body: MarketEventBody::Snapshot {
            bids: vec![Level { price: Price::from_ticks(4900).unwrap(), size: Quantity::from_micros(100_000_000_000) }],
            asks: vec![Level { price: Price::from_ticks(5100).unwrap(), size: Quantity::from_micros(100_000_000_000) }],
            tick: Price::from_ticks(100).unwrap(),
            hash: None,
        },
    };
    {
        let mut reqs = bus.subscribe("mdsnap.sim.*").await.unwrap();
        let (bus, seq) = (bus.clone(), seq.clone());
        tokio::spawn(async move {
            while let Some(m) = reqs.next().await {
                let s = *seq.lock().await;
                if let Some(r) = m.reply {
                    let _ = bus.publish(&r, vec![], encode(&snapshot(s)).into()).await;
                }
            }
        });
    }
    let probe = dir.join("probe.json");
    let _strategy = spawn(&["strategy", "--config", probe.to_str().unwrap(), "--nats", &nats.url]);
    let _risk = spawn(&["risk", "--venue", "sim", "--namespace", "bench", "--nats", &nats.url, "--redis", &redis.url]);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Floor 1: NATS request/reply round trip on loopback.
    {
        let mut echo = bus.subscribe("bench.echo").await.unwrap();
        let b = bus.clone();
        tokio::spawn(async move {
            while let Some(m) = echo.next().await {
                let _ = b.publish(m.reply.as_deref().unwrap(), vec![], m.payload).await;
            }
        });
    }
    let mut rtt = vec![];
    for _ in 0..5000 {
        let t = Instant::now();
        bus.request("bench.echo", Bytes::from_static(&[0u8; 200]), Duration::from_secs(1)).await.unwrap();
        rtt.push(u64::try_from(t.elapsed().as_nanos()).unwrap());
    }
    // Floor 2: one risk-decision script call.
    let floor = PolicyKey::new("bench", "floor");
    let mut script = vec![];
    for i in 0..5000 {
        let t = Instant::now();
        let v = store.decide(&floor, &intent(&format!("floor-{i}"), token), None, now_ns() / 1_000_000).await.unwrap();
        script.push(u64::try_from(t.elapsed().as_nanos()).unwrap());
        assert_eq!(v, Ok(()));
    }
    println!("floor  NATS request/reply RTT      {}", percentiles(rtt));
    println!("floor  Redis decide script call     {}", percentiles(script));

    // Latency at each rate.
    for rate in [1_000u64, 3_000, 10_000] {
        let start_ns = now_ns();
        let mut decisions = bus
            .consume(ConsumerSpec {
                stream: subjects::STREAM_DECISIONS.into(),
                durable: format!("bench-exec-{rate}"),
                filter: "decision.bench.>".into(),
                ack_wait: Duration::from_secs(30),
            })
            .await
            .unwrap();
        let total = rate * seconds;
        let collector = tokio::spawn(async move {
            let mut lat = vec![];
            let mut hops: [Vec<u64>; 3] = [vec![], vec![], vec![]];
            let mut rejected = 0u64;
            let mut seen = HashSet::new();
            while let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(5), decisions.next()).await {
                let received = now_ns();
                let decision: RiskDecision = decode(&d.message.payload).unwrap();
                let _ = d.ack().await;
                if decision.intent.cause_recv_ts_ns < start_ns || !seen.insert(decision.intent.client_order_id) {
                    continue;
                }
                let i = &decision.intent;
                match decision.verdict {
                    Verdict::Approved => {
                        lat.push(received - i.cause_recv_ts_ns);
                        hops[0].push(i.created_ts_ns.saturating_sub(i.cause_recv_ts_ns));
                        hops[1].push(decision.decided_ts_ns.saturating_sub(i.created_ts_ns));
                        hops[2].push(received.saturating_sub(decision.decided_ts_ns));
                    }
                    Verdict::Rejected { .. } => rejected += 1,
                }
                if lat.len() as u64 + rejected >= total {
                    break;
                }
            }
            (lat, hops, rejected)
        });
        let per_ms = rate / 1000;
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let subject = subjects::market_data("sim", &token);
        let started = Instant::now();
        let mut sent = 0u64;
        while sent < total {
            tick.tick().await;
            for _ in 0..per_ms {
                let s = {
                    let mut g = seq.lock().await;
                    *g += 1;
                    *g
                };
                let size = Quantity::from_micros(100_000_000_000 + s * 10_000);
                let ev = MarketEvent {
                    token,
                    market,
                    seq: s,
                    venue_ts_ms: 0,
                    recv_ts_ns: now_ns(),
                    body: MarketEventBody::Delta(vec![LevelChange {
                        side: BookSide::Ask,
                        price: Price::from_ticks(5100).unwrap(),
                        size,
                    }]),
                };
                bus.publish(&subject, vec![], encode(&ev).into()).await.unwrap();
                sent += 1;
            }
        }
        let send_secs = started.elapsed().as_secs_f64();
        let (lat, hops, rejected) = collector.await.unwrap();
        println!(
            "e2e    {:>6} ev/s (sent {} in {:.2} s; approved {}, rejected {})",
            rate,
            sent,
            send_secs,
            lat.len(),
            rejected
        );
        println!("       market event -> approved order at execution  {}", percentiles(lat));
        let [a, b, c] = hops;
        println!("         hop  event -> intent (strategy)            {}", percentiles(a));
        println!("         hop  intent -> decision (JetStream, risk)  {}", percentiles(b));
        println!("         hop  decision -> execution (JetStream)     {}", percentiles(c));
    }

    // Risk decisions per second against one Redis.
    let policy = PolicyKey::new("bench", "throughput");
    store.set_limits(&policy, &limits()).await.unwrap();
    let n = 100_000usize;
    let started = Instant::now();
    let mut tasks = vec![];
    let callers = 64;
    for c in 0..callers {
        let (store, policy) = (store.clone(), policy.clone());
        tasks.push(tokio::spawn(async move {
            for i in (c..n).step_by(callers) {
                let v = store
                    .decide(
                        &policy,
                        &intent(&format!("t-{i}"), token),
                        Some(Money::from_micros(10_000_000)),
                        now_ns() / 1_000_000,
                    )
                    .await;
                assert!(matches!(v, Ok(Ok(()))), "{v:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ours = n as f64 / started.elapsed().as_secs_f64();
    println!("risk   decisions/s, one Redis, {callers} concurrent callers: {ours:>9.0}");

    // redis-benchmark on the same script, same server.
    let port = redis.port().to_string();
    let sha = {
        let mut con =
            redis::Client::open(redis.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let body = polyfleet_io::risk_store::redis::decide_script_source();
        redis::cmd("SCRIPT").arg("LOAD").arg(body).query_async::<String>(&mut con).await.unwrap()
    };
    let tag = "pf:{bench/rb}:";
    store.set_limits(&PolicyKey::new("bench", "rb"), &limits()).await.unwrap();
    let now_ms = (now_ns() / 1_000_000).to_string();
    let out = Command::new("redis-benchmark")
        .args(["-p", &port, "-q", "-n", "100000", "-c", "64", "-r", "100000000"])
        .args(["EVALSHA", &sha, "6"])
        .args([
            format!("{tag}limits"),
            format!("{tag}state"),
            format!("{tag}pos"),
            format!("{tag}resv"),
            format!("{tag}rate"),
            format!("{tag}d:__rand_int__"),
        ])
        .args([now_ms.as_str(), "1", "c__rand_int__", "4242", "S", "9900", "5000000", "10000000", "-"])
        .output();
    match out {
        Ok(o) => println!(
            "redis-benchmark EVALSHA decide (64 clients):  {}",
            // -q prints progress lines separated by carriage returns; the summary is the last.
            String::from_utf8_lossy(&o.stdout).rsplit('\r').next().unwrap_or_default().trim()
        ),
        Err(e) => println!("redis-benchmark not available: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

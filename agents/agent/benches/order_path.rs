//! Order-path benchmark (custom harness: `cargo bench -p polyfleet-agent --bench order_path`).
//!
//! Real processes on loopback: `nats-server -js`, `redis-server` (its append-only file synced once
//! a second, as the Helm chart runs it; `BENCH_REDIS_FSYNC=always` syncs every write, as the tests
//! and `polyfleet up` do), `polyfleet-agent strategy` (the latency-probe strategy: one order per
//! book update) and `polyfleet-agent risk`. This process plays the market-data agent (publishes
//! numbered book events stamped with their receipt time, answers snapshot requests) and the
//! execution agent's receiving end (a durable consumer of the decisions stream, exactly as the
//! execution agent binds it). Measured:
//!
//! 1. latency from a market event's receipt to the approved order's arrival at the execution
//!    consumer at each rate of `BENCH_RATES` (events/s, default `1000,3000,10000`) for
//!    `BENCH_SECONDS` (default 5): p50, p99, p99.9, max, and per hop;
//! 2. whether queues grow: the latency in each fifth of the run (by send time) and, at the end of
//!    each fifth, the messages waiting in the gateway's and the execution's JetStream consumers;
//! 3. CPU per event of each process (strategy, risk gateway, NATS, Redis, this process), from
//!    `/proc/<pid>/stat` before and after each rate;
//! 4. the floor in the same run: a NATS request/reply round trip (answered in this process, and
//!    answered by another process, as each hop of the order path is), and one risk-decision
//!    script call on Redis (sequential);
//! 5. inside the hops, each agent's own latency histograms (`/metrics`): the strategy's market
//!    event -> decision, the gateway's intent -> receipt and its store call (means over the rate);
//! 6. risk decisions per second against one Redis (concurrent callers through one multiplexed
//!    connection), beside `redis-benchmark` running the same script (EVALSHA) on the same server.
//!
//! The strategy agent conflates market events that queued while it was busy (one order per burst
//! it fell behind on); `BENCH_CONFLATE_MAX=1` makes it hear every event on its own (one order per
//! event). Each rate prints orders per event.
//!
//! With `BENCH_PERF=<dir>`, `perf record -g` samples each process during each rate into
//! `<dir>/<rate>-<process>.data` (`scripts/flamegraphs.sh` turns them into flame graphs).
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
use polyfleet_testkit::procstat::{WINDOWS, clock_ticks, cpu_ns, percentiles, windows};
use polyfleet_testkit::{Fsync, NatsServer, RedisServer, free_port};
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

struct Proc(Child, u16);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Proc {
    let port = free_port();
    Proc(
        Command::new(env!("CARGO_BIN_EXE_polyfleet-agent"))
            .args(args)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("polyfleet-agent"),
        port,
    )
}

/// An agent's latency histograms' sums and counts by hop (its `/metrics`), to take means over a
/// rate from the difference of two reads.
async fn hop_totals(port: u16) -> std::collections::BTreeMap<String, (f64, f64)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut out = std::collections::BTreeMap::new();
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return out };
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").await;
    let mut text = String::new();
    let _ = s.read_to_string(&mut text).await;
    for line in text.lines().filter(|l| l.contains("latency_seconds_sum") || l.contains("latency_seconds_count")) {
        let (Some(hop), Some(v)) = (
            line.split("hop=\"").nth(1).and_then(|r| r.split('"').next()),
            line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        let e = out.entry(hop.to_string()).or_insert((0.0, 0.0));
        if line.contains("_sum") { e.0 = v } else { e.1 = v }
    }
    out
}

/// Messages a JetStream consumer has not had acknowledged yet (waiting or in flight).
async fn waiting(js: &async_nats::jetstream::Context, stream: &str, durable: &str) -> u64 {
    let Ok(stream) = js.get_stream(stream).await else { return 0 };
    let Ok(mut consumer) = stream.get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable).await else {
        return 0;
    };
    consumer.info().await.map(|i| i.num_pending + i.num_ack_pending as u64).unwrap_or(0)
}

/// A `perf record` of one process during one rate.
struct PerfRecord(Option<Child>);

fn perf_record(dir: &std::path::Path, rate: u64, name: &str, pid: u32) -> PerfRecord {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(format!("{rate}-{}.data", name.split_whitespace().next().unwrap_or(name)));
    let child = Command::new("perf")
        .args(["record", "-g", "-e", "cpu-clock", "-F", "999", "-p", &pid.to_string(), "-o"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = &child {
        println!("perf not started ({e}): no profile of {name}");
    }
    PerfRecord(child.ok())
}

impl PerfRecord {
    /// Stops the recording (SIGINT, as perf expects) and waits for its file.
    fn finish(mut self) {
        if let Some(child) = &mut self.0 {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
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
    if let Ok(url) = std::env::var("BENCH_ECHO_NATS") {
        // Run as the other process of the cross-process round trip: answer every request.
        let bus = NatsBus::connect(&url).await.unwrap();
        let mut echo = bus.subscribe("bench.echo.remote").await.unwrap();
        while let Some(m) = echo.next().await {
            let _ = bus.publish(m.reply.as_deref().unwrap(), vec![], m.payload).await;
        }
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "1000,3000,10000".into())
        .split(',')
        .map(|r| r.trim().parse().expect("BENCH_RATES: events per second, comma-separated"))
        .collect();
    assert!(rates.iter().all(|r| *r >= 1000 && r % 1000 == 0), "BENCH_RATES: multiples of 1000 events/s");
    let fsync = match std::env::var("BENCH_REDIS_FSYNC").as_deref() {
        Ok("always") => Fsync::Always,
        Ok("everysec") | Err(_) => Fsync::EverySec,
        Ok(other) => panic!("BENCH_REDIS_FSYNC={other}: always or everysec"),
    };
    let perf_dir = std::env::var_os("BENCH_PERF").map(std::path::PathBuf::from);
    let clk_tck = clock_ticks();
    let nats = NatsServer::start();
    let redis = RedisServer::start_with_fsync(fsync);
    println!(
        "setup  {seconds} s per rate; Redis appendfsync {fsync:?}; {} cores",
        std::thread::available_parallelism().map(usize::from).unwrap_or(1)
    );
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
    // BENCH_CONFLATE_MAX=1: the strategy hears every event on its own (one order per event);
    // unset, the agent's default conflates what queued (one order per burst it falls behind on).
    let conflate = std::env::var("BENCH_CONFLATE_MAX").ok();
    let mut strategy_args = vec!["strategy", "--config", probe.to_str().unwrap(), "--nats", &nats.url];
    if let Some(n) = &conflate {
        strategy_args.extend(["--conflate-max", n.as_str()]);
    }
    let strategy = spawn(&strategy_args);
    let risk = spawn(&["risk", "--venue", "sim", "--namespace", "bench", "--nats", &nats.url, "--redis", &redis.url]);
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
    // Floor 1b: the same answered by another process (this bench run as the echo).
    let _echo = Proc(
        Command::new(std::env::current_exe().unwrap())
            .env("BENCH_ECHO_NATS", &nats.url)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the echo process"),
        0,
    );
    let round_trips = async |subject: &str| {
        let mut rtt = vec![];
        for _ in 0..5000 {
            let t = Instant::now();
            bus.request(subject, Bytes::from_static(&[0u8; 200]), Duration::from_secs(5)).await.unwrap();
            rtt.push(u64::try_from(t.elapsed().as_nanos()).unwrap());
        }
        rtt
    };
    for _ in 0..100 {
        // Until the echo process has subscribed.
        if bus.request("bench.echo.remote", Bytes::new(), Duration::from_secs(1)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rtt = round_trips("bench.echo").await;
    let remote_rtt = round_trips("bench.echo.remote").await;
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
    println!("       (answered by another process) {}", percentiles(remote_rtt));
    println!("floor  Redis decide script call     {}", percentiles(script));

    // Latency at each rate.
    let procs = [
        ("strategy", strategy.0.id()),
        ("risk gateway", risk.0.id()),
        ("nats-server", nats.pid()),
        ("redis-server", redis.pid().unwrap()),
        ("bench (market data, execution's consumer)", std::process::id()),
    ];
    let js = async_nats::jetstream::new(bus.client().clone());
    // One execution consumer for every rate, bound before the first (a consumer's first moments
    // are slower: that is start-up, not the order path); each rate's collector takes it and hands
    // it back, skipping what an earlier rate caused.
    let durable = "bench-exec".to_string();
    let mut consumer = Some(
        bus.consume(ConsumerSpec {
            stream: subjects::STREAM_DECISIONS.into(),
            durable: durable.clone(),
            filter: "decision.bench.>".into(),
            ack_wait: Duration::from_secs(30),
        })
        .await
        .unwrap(),
    );
    for rate in rates {
        let start_ns = now_ns();
        let mut decisions = consumer.take().unwrap();
        let total = rate * seconds;
        // The sequence of the run's last event, once sent: its order is the last to wait for.
        let last_seq = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let last = last_seq.clone();
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
                        lat.push((i.cause_recv_ts_ns, received - i.cause_recv_ts_ns));
                        hops[0].push(i.created_ts_ns.saturating_sub(i.cause_recv_ts_ns));
                        hops[1].push(decision.decided_ts_ns.saturating_sub(i.created_ts_ns));
                        hops[2].push(received.saturating_sub(decision.decided_ts_ns));
                    }
                    Verdict::Rejected { .. } => rejected += 1,
                }
                if lat.len() as u64 + rejected >= total
                    || i.cause_seq >= last.load(std::sync::atomic::Ordering::Relaxed)
                {
                    break;
                }
            }
            (lat, hops, rejected, decisions)
        });
        let perf = perf_dir
            .as_ref()
            .map(|dir| procs.iter().map(|(name, pid)| perf_record(dir, rate, name, *pid)).collect::<Vec<_>>());
        let cpu_before: Vec<u64> = procs.iter().map(|(_, pid)| cpu_ns(*pid, clk_tck)).collect();
        let agent_hops_before = [hop_totals(strategy.1).await, hop_totals(risk.1).await];
        let per_ms = rate / 1000;
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let subject = subjects::market_data("sim", &token);
        let started = Instant::now();
        let mut sent = 0u64;
        let mut backlog = vec![];
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
            if sent.is_multiple_of(total / WINDOWS as u64) {
                // The end of a fifth: what waits in the two consumers now.
                backlog.push((
                    waiting(&js, subjects::STREAM_INTENTS, "risk-gateway").await,
                    waiting(&js, subjects::STREAM_DECISIONS, &durable).await,
                ));
            }
        }
        last_seq.store(*seq.lock().await, std::sync::atomic::Ordering::Relaxed);
        let send_secs = started.elapsed().as_secs_f64();
        let (lat, hops, rejected, decisions) = collector.await.unwrap();
        consumer = Some(decisions);
        let cpu: Vec<u64> =
            procs.iter().zip(&cpu_before).map(|((_, pid), before)| cpu_ns(*pid, clk_tck) - before).collect();
        let elapsed = started.elapsed().as_secs_f64();
        for p in perf.into_iter().flatten() {
            p.finish();
        }
        println!(
            "e2e    {:>6} ev/s (sent {} in {:.2} s; approved {}, rejected {}: {:.3} orders per event, conflate-max {})",
            rate,
            sent,
            send_secs,
            lat.len(),
            rejected,
            (lat.len() as u64 + rejected) as f64 / sent as f64,
            conflate.as_deref().unwrap_or("default")
        );
        let by_window = windows(&lat, start_ns, seconds);
        println!(
            "       market event -> approved order at execution  {}",
            percentiles(lat.into_iter().map(|(_, l)| l).collect())
        );
        let [a, b, c] = hops;
        println!("         hop  event -> intent (strategy)            {}", percentiles(a));
        println!("         hop  intent -> decision (JetStream, risk)  {}", percentiles(b));
        println!("         hop  decision -> execution (JetStream)     {}", percentiles(c));
        for (w, (l, (intents, decisions))) in by_window.into_iter().zip(backlog).enumerate() {
            println!(
                "         fifth {}  {}   waiting at its end: {:>6} intents, {:>6} decisions",
                w + 1,
                percentiles(l),
                intents,
                decisions
            );
        }
        for (agent, (port, before)) in
            ["strategy", "risk gateway"].iter().zip([strategy.1, risk.1].iter().zip(&agent_hops_before))
        {
            for (hop, (sum, count)) in hop_totals(*port).await {
                let (s0, c0) = before.get(&hop).copied().unwrap_or_default();
                if count > c0 {
                    println!(
                        "         {agent:<13} own histogram {hop:<22} mean {:>8.1} µs",
                        (sum - s0) / (count - c0) * 1e6
                    );
                }
            }
        }
        let total_cpu: u64 = cpu.iter().sum();
        for ((name, _), ns) in procs.iter().zip(&cpu) {
            println!(
                "         cpu  {:<44} {:>7.1} µs/event  {:>5.2} cores",
                name,
                *ns as f64 / 1000.0 / sent as f64,
                *ns as f64 / 1e9 / elapsed
            );
        }
        println!(
            "         cpu  {:<44} {:>7.1} µs/event  {:>5.2} cores of {}",
            "all",
            total_cpu as f64 / 1000.0 / sent as f64,
            total_cpu as f64 / 1e9 / elapsed,
            std::thread::available_parallelism().map(usize::from).unwrap_or(1)
        );
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
    let now_ms = now_ns() / 1_000_000;
    let day = now_ms / 86_400_000;
    // The layout `decide.lua` documents: 7 keys (the policy's hashes, the verdicts of the batch's
    // UTC day and the day before), then a batch of one intent of one leg.
    let out = Command::new("redis-benchmark")
        .args(["-p", &port, "-q", "-n", "100000", "-c", "64", "-r", "100000000"])
        .args(["EVALSHA", &sha, "7"])
        .args([
            format!("{tag}limits"),
            format!("{tag}state"),
            format!("{tag}pos"),
            format!("{tag}resv"),
            format!("{tag}rate"),
            format!("{tag}d:{day}"),
            format!("{tag}d:{}", day - 1),
        ])
        .args(["1", &now_ms.to_string(), "1", "c__rand_int__", "4242", "S", "9900", "5000000", "10000000", "-", "-1"])
        .output();
    match out {
        Ok(o) if o.status.success() => println!(
            "redis-benchmark EVALSHA decide (64 clients):  {}",
            // -q prints progress lines separated by carriage returns; the summary is the last.
            String::from_utf8_lossy(&o.stdout).rsplit('\r').next().unwrap_or_default().trim()
        ),
        Ok(o) => println!("redis-benchmark failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => println!("redis-benchmark not available: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

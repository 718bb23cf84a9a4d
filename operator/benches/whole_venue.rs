//! Whole-venue benchmark (custom harness: `cargo build --release -p polyfleet-agent --bins &&
//! cargo bench -p polyfleet-operator --bench whole_venue`).
//!
//! A venue of `BENCH_MARKETS` binary markets (default 10 000, so 20 000 tokens) played by this
//! process from the simulator's model (`polyfleet_sim::model::Simulator`, its real frames: book
//! snapshots on subscription, `price_change` and trades after), served over the market channel's
//! WebSocket protocol at each aggregate rate of `BENCH_RATES` (frames/s, default
//! `25000,50000`) for `BENCH_SECONDS` (default 20) each, to the market-data pods the operator's
//! planner asks for (`plan_venue` on a simulator Venue with `assetsPerConnection: 500` and
//! `connectionsPerPod: BENCH_CONNECTIONS_PER_POD`, default 10): each pod is a real
//! `polyfleet-agent market-data` process run with its Deployment's arguments and its ConfigMap's
//! tokens file, publishing on a real `nats-server`. `BENCH_STRATEGIES` strategies (default 20)
//! subscribe, each to the tokens of `BENCH_MARKETS_PER_STRATEGY` markets (default 100), as
//! strategy agents do (one subscription per token; `BENCH_SUBSCRIBE=venue`: each to the whole
//! venue, dropping the rest, as they did before).
//!
//! Lag is measured per event from the venue handing the frame to its connection (a wall-clock
//! stamp kept here, found again through the frame's venue timestamp: the model's clock runs one
//! millisecond per step from zero, so a frame's `timestamp` is its step) to the strategy
//! decoding the event, and split at the market-data agent's receipt stamp. Also printed: the lag
//! in each fifth of a run (a growing queue shows as a rising lag), CPU per process and per 25 000
//! frames/s, resident memory per pod and per token (against a pod serving one market, started
//! beside the others as the floor), and the frames and events counted at each end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

#[path = "../tests/cluster/mod.rs"]
mod cluster;

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use polyfleet_core::TokenId;
use polyfleet_core::wire::{MarketEvent, MarketEventBody, decode, subjects};
use polyfleet_crds::market::TokenStatus;
use polyfleet_crds::{Market, MarketStatus, Venue};
use polyfleet_operator::planner::markets::MarketView;
use polyfleet_operator::planner::venue::plan_venue;
use polyfleet_operator::settings::FleetSettings;
use polyfleet_sim::model::{SimConfig, Simulator};
use polyfleet_testkit::procstat::{WINDOWS, clock_ticks, cpu_ns, percentile, percentiles, rss_kib, windows};
use polyfleet_testkit::{NatsServer, free_port};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const VENUE: &str = "sim";

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ns() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The model's markets as resolved Markets (tokens in status, as the Market controller writes
/// them), seen by the planner.
fn views(sim: &Simulator) -> Vec<MarketView> {
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/examples/market-binary.yaml");
    let template: Market = serde_saphyr::from_str(&std::fs::read_to_string(template).unwrap()).unwrap();
    sim.markets()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut market = template.clone();
            market.metadata.name = Some(format!("m-{i:05}"));
            market.metadata.namespace = Some("bench".into());
            let condition = m.condition.to_string();
            market.spec.condition_id = Some(condition.clone());
            let tokens = [("Yes", m.yes), ("No", m.no)].map(|(outcome, t)| TokenStatus {
                outcome: outcome.into(),
                token_id: t.to_string(),
                condition_id: Some(condition.clone()),
                no_token_id: None,
                best_bid: None,
                best_ask: None,
            });
            market.status =
                Some(MarketStatus { tokens: tokens.into(), min_order_size: Some("5".into()), ..Default::default() });
            MarketView::of(&market).unwrap()
        })
        .collect()
}

/// The venue this process plays: the model, and each subscribed connection's tokens and queue.
struct VenueState {
    model: Mutex<Simulator>,
    conns: Mutex<Vec<(Vec<TokenId>, mpsc::UnboundedSender<String>)>>,
}

/// One market-channel connection: takes the subscription, answers it with the tokens' book
/// snapshots, registers its queue, then writes what the generator routes to it (batched: every
/// frame waiting is written before one flush).
async fn connection(tcp: tokio::net::TcpStream, venue: Arc<VenueState>) {
    tcp.set_nodelay(true).unwrap();
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    let (mut tx, mut rx) = ws.split();
    let subscription = loop {
        match rx.next().await {
            Some(Ok(Message::Text(t))) => break t,
            Some(Ok(_)) => continue,
            _ => return,
        }
    };
    let sub: serde_json::Value = serde_json::from_str(&subscription).unwrap();
    let tokens: Vec<TokenId> =
        sub["assets_ids"].as_array().unwrap().iter().map(|t| TokenId::parse(t.as_str().unwrap()).unwrap()).collect();
    let snapshots: Vec<String> = {
        let model = venue.model.lock().unwrap();
        tokens.iter().filter_map(|t| model.snapshot_frame(t)).collect()
    };
    tx.send(Message::Text(format!("[{}]", snapshots.join(",")).into())).await.unwrap();
    let (queue, mut frames) = mpsc::unbounded_channel::<String>();
    venue.conns.lock().unwrap().push((tokens, queue));
    // Whatever the agent says later (nothing, with its PINGs off) is read and dropped.
    tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
    while let Some(first) = frames.recv().await {
        if tx.feed(Message::Text(first.into())).await.is_err() {
            return;
        }
        while let Ok(more) = frames.try_recv() {
            if tx.feed(Message::Text(more.into())).await.is_err() {
                return;
            }
        }
        if tx.flush().await.is_err() {
            return;
        }
    }
}

/// A frame made ahead of its run: its step's venue timestamp, the connection it goes to, its text.
struct Planned {
    ts: u64,
    conn: usize,
    text: String,
}

/// Steps the model until it has made `frames` frames, each addressed to the connections of its
/// tokens (a frame for tokens of two connections goes to both). Made before the run, so the
/// model's own cost (its JSON writer and book hashes, slow: see the README) is not charged to the
/// fleet it feeds on a machine of two cores.
fn pregenerate(venue: &VenueState, routes: &HashMap<TokenId, usize>, frames: u64) -> Vec<Planned> {
    let mut model = venue.model.lock().unwrap();
    let mut out = Vec::with_capacity(usize::try_from(frames).unwrap());
    let mut made = 0u64;
    while made < frames {
        let step = model.step();
        let ts = model.now_ms();
        for f in step {
            made += 1;
            let mut targets: Vec<usize> = f.assets.iter().filter_map(|a| routes.get(a).copied()).collect();
            targets.sort_unstable();
            targets.dedup();
            out.extend(targets.into_iter().map(|conn| Planned { ts, conn, text: f.text.clone() }));
        }
    }
    out
}

/// Sends `planned` at `rate` frames a wall second (late batches catch up, a millisecond's worth at
/// a time), stamping each step's send time in `sent` (indexed by its venue timestamp) as its first
/// frame goes. Frames handed over, frames whose connection was gone, and their bytes.
fn send(
    planned: Vec<Planned>,
    queues: &[mpsc::UnboundedSender<String>],
    rate: u64,
    sent: &[AtomicU64],
) -> (u64, u64, u64) {
    let start = Instant::now();
    let (mut frames, mut lost, mut bytes) = (0u64, 0u64, 0u64);
    let mut planned = planned.into_iter().peekable();
    while planned.peek().is_some() {
        let due = u64::try_from(u128::from(rate) * start.elapsed().as_nanos() / 1_000_000_000).unwrap();
        if frames >= due {
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        let batch_end = due.min(frames + rate / 1000 + 1);
        while frames < batch_end {
            let Some(p) = planned.next() else { break };
            let slot = &sent[usize::try_from(p.ts).unwrap()];
            if slot.load(Ordering::Relaxed) == 0 {
                slot.store(now_ns(), Ordering::Release);
            }
            frames += 1;
            bytes += p.text.len() as u64;
            lost += u64::from(queues[p.conn].send(p.text).is_err());
        }
    }
    (frames, lost, bytes)
}

/// One lag sample: when the venue sent the frame, the whole lag, and the venue-to-agent part.
#[derive(Clone, Copy)]
struct Sample {
    sent: u64,
    total: u64,
    to_agent: u64,
}

/// A strategy's market-data subscriptions (one per token, as the strategy agent subscribes),
/// timing every event whose frame was stamped here into `samples`; counts every event.
/// With `venue_wide`, one subscription to the whole venue instead, the others' events dropped on
/// arrival (how every strategy agent subscribed before it subscribed per token).
async fn strategy(
    nats: String,
    tokens: Vec<TokenId>,
    venue_wide: bool,
    sent: Arc<Vec<AtomicU64>>,
    samples: Arc<Mutex<Vec<Sample>>>,
) {
    let client = async_nats::connect(&nats).await.unwrap();
    let mut subs = vec![];
    if venue_wide {
        subs.push(client.subscribe(subjects::market_data_all(VENUE)).await.unwrap());
    } else {
        for t in &tokens {
            subs.push(client.subscribe(subjects::market_data(VENUE, t)).await.unwrap());
        }
    }
    client.flush().await.unwrap();
    let mine: std::collections::HashSet<TokenId> = tokens.into_iter().collect();
    let mut all = futures::stream::select_all(subs);
    while let Some(msg) = all.next().await {
        let now = now_ns();
        let Ok(ev) = decode::<MarketEvent>(&msg.payload) else { continue };
        if !mine.contains(&ev.token)
            || matches!(ev.body, MarketEventBody::Snapshot { .. } | MarketEventBody::FeedStatus { .. })
        {
            continue;
        }
        let stamped = usize::try_from(ev.venue_ts_ms).ok().and_then(|i| sent.get(i)).map(|s| s.load(Ordering::Acquire));
        if let Some(at) = stamped.filter(|&s| s > 0) {
            let sample = Sample { sent: at, total: now.saturating_sub(at), to_agent: ev.recv_ts_ns.saturating_sub(at) };
            samples.lock().unwrap().push(sample);
        }
    }
}

/// A market-data pod of the plan as a local process: its Deployment's arguments with the
/// Services' addresses replaced by this machine's, and its ConfigMap's tokens file written out.
fn start_pod(d: &Deployment, tokens: Option<&str>, dir: &std::path::Path, ws: &str, rest: &str, nats: &str) -> Proc {
    let name = d.metadata.name.clone().unwrap();
    let mut args = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].args.clone().unwrap();
    let mut set = |flag: &str, value: &str| match args.iter().position(|a| a == flag) {
        Some(i) => args[i + 1] = value.to_string(),
        None => args.extend([flag.to_string(), value.to_string()]),
    };
    set("--ws-url", ws);
    set("--rest-url", rest);
    if let Some(text) = tokens {
        let file = dir.join(format!("{name}.tokens.txt"));
        std::fs::write(&file, text).unwrap();
        set("--tokens-file", file.to_str().unwrap());
    }
    set("--nats", nats);
    set("--metrics-addr", &format!("127.0.0.1:{}", free_port()));
    set("--market-status-s", "86400");
    set("--ping-ms", "3600000");
    set("--silence-ms", "3600000");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Proc(
        Command::new(cluster::workspace_binary("polyfleet-agent"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .envs(std::env::var("BENCH_MD_WORKERS").ok().map(|w| ("TOKIO_WORKER_THREADS", w)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

fn main() {
    let markets: u32 = env_or("BENCH_MARKETS", 10_000);
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "25000,50000".into())
        .split(',')
        .map(|r| r.trim().parse().unwrap())
        .collect();
    let seconds: u64 = env_or("BENCH_SECONDS", 20);
    let per_pod: i32 = env_or("BENCH_CONNECTIONS_PER_POD", 10);
    let strategies: usize = env_or("BENCH_STRATEGIES", 20);
    let per_strategy: usize = env_or("BENCH_MARKETS_PER_STRATEGY", 100);
    let venue_wide = std::env::var("BENCH_SUBSCRIBE").is_ok_and(|v| v == "venue");
    let dir = std::env::temp_dir().join(format!("polyfleet-whole-venue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The model: one millisecond per step from zero, so a frame's venue timestamp is its step.
    let cfg =
        SimConfig { binary_markets: markets, neg_risk_events: vec![], start_ms: 0, step_ms: 1, ..Default::default() };
    let sim = Simulator::new(cfg);
    let views = views(&sim);
    let tokens_total = views.len() * 2;

    // The operator's plan for a simulator Venue of these Markets.
    let mut venue: Venue = serde_saphyr::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/examples/venue-simulator.yaml"))
            .unwrap(),
    )
    .unwrap();
    venue.metadata.namespace = Some("bench".into());
    venue.spec.sharding.assets_per_connection = 500;
    venue.spec.sharding.connections_per_pod = per_pod;
    let planned = Instant::now();
    let plan = plan_venue(&venue, &views, &[], &FleetSettings::default()).unwrap();
    let plan_ms = planned.elapsed().as_secs_f64() * 1000.0;
    let files: BTreeMap<String, String> = plan
        .config_maps
        .iter()
        .filter_map(|c| Some((c.metadata.name.clone()?, c.data.as_ref()?.get("tokens.txt")?.clone())))
        .collect();
    let pods: Vec<&Deployment> =
        plan.deployments.iter().filter(|d| d.metadata.name.as_deref().is_some_and(|n| n.starts_with("md-"))).collect();
    println!(
        "whole venue: {markets} markets, {tokens_total} tokens; the planner's {} market-data pods ({} connections of \
         at most 500 tokens each, {per_pod} a pod) in {plan_ms:.0} ms; {strategies} strategies of {per_strategy} \
         markets each{}",
        pods.len(),
        tokens_total.div_ceil(500),
        if venue_wide { ", each subscribed to the whole venue" } else { ", each subscribed to its tokens" },
    );

    // Room for twice as many steps as frames (a step makes one frame or more).
    let sent: Arc<Vec<AtomicU64>> =
        Arc::new((0..rates.iter().map(|r| r * seconds * 2).sum::<u64>() + 1_000).map(|_| AtomicU64::new(0)).collect());
    let venue_state = Arc::new(VenueState { model: Mutex::new(sim), conns: Mutex::new(vec![]) });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let nats = NatsServer::start();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let ws = format!("ws://{}/ws/market", listener.local_addr().unwrap());
    let rest = format!("http://127.0.0.1:{}", free_port());
    {
        let v = venue_state.clone();
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(connection(tcp, v.clone()));
            }
        });
    }
    let pod_procs: Vec<(String, usize, Proc)> = pods
        .iter()
        .map(|d| {
            let name = d.metadata.name.clone().unwrap();
            let text = files.get(&name).map(String::as_str);
            let n = text.map_or(0, |t| t.lines().count());
            (name, n, start_pod(d, text, &dir, &ws, &rest, &nats.url))
        })
        .collect();
    // The floor for memory: a pod of the same agent serving one market (its own venue name, so its
    // events stay apart).
    let floor_file = dir.join("floor.tokens.txt");
    let first = &views[0];
    std::fs::write(&floor_file, first.all_tokens().map(ToString::to_string).collect::<Vec<_>>().join("\n")).unwrap();
    let floor = {
        let mut d = pods[0].clone();
        d.metadata.name = Some("md-floor".into());
        let args = &mut d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].args.as_mut().unwrap();
        let i = args.iter().position(|a| a == "--venue").unwrap();
        args[i + 1] = "floor".into();
        start_pod(&d, Some(&std::fs::read_to_string(&floor_file).unwrap()), &dir, &ws, &rest, &nats.url)
    };
    let connections = tokens_total.div_ceil(500) + 1;
    let waited = Instant::now();
    while venue_state.conns.lock().unwrap().len() < connections {
        assert!(waited.elapsed() < Duration::from_secs(120), "the market-data pods did not all subscribe");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (routes, queues): (HashMap<TokenId, usize>, Vec<mpsc::UnboundedSender<String>>) = {
        let conns = venue_state.conns.lock().unwrap();
        let routes = conns.iter().enumerate().flat_map(|(i, (ts, _))| ts.iter().map(move |t| (*t, i))).collect();
        (routes, conns.iter().map(|(_, q)| q.clone()).collect())
    };
    println!("all {connections} connections subscribed in {:.1} s", waited.elapsed().as_secs_f64());

    // Strategies over subsets: strategy j takes markets j, j + S, j + 2S, ...
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    for j in 0..strategies {
        let tokens: Vec<TokenId> =
            views.iter().skip(j).step_by(strategies).take(per_strategy).flat_map(|m| m.all_tokens().copied()).collect();
        rt.spawn(strategy(nats.url.clone(), tokens, venue_wide, sent.clone(), samples.clone()));
    }
    std::thread::sleep(Duration::from_secs(3)); // subscriptions made, snapshots settled

    let clk = clock_ticks();
    let me = std::process::id();
    let pids: Vec<(String, u32)> = pod_procs
        .iter()
        .map(|(n, _, p)| (n.clone(), p.0.id()))
        .chain([("nats-server".to_string(), nats.pid()), ("venue+strategies (this)".to_string(), me)])
        .collect();
    for &rate in &rates {
        samples.lock().unwrap().clear();
        let made = Instant::now();
        let planned = pregenerate(&venue_state, &routes, rate * seconds);
        println!("\n({} frames made ahead in {:.1} s)", planned.len(), made.elapsed().as_secs_f64());
        let before: Vec<u64> = pids.iter().map(|(_, p)| cpu_ns(*p, clk)).collect();
        let start = now_ns();
        let t0 = Instant::now();
        let (frames, lost, bytes) = send(planned, &queues, rate, &sent);
        let wall = t0.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(2)); // the tail drains
        let after: Vec<u64> = pids.iter().map(|(_, p)| cpu_ns(*p, clk)).collect();
        let taken: Vec<Sample> = std::mem::take(&mut *samples.lock().unwrap());
        println!(
            "== {rate} frames/s for {seconds} s: {frames} frames sent ({:.0}/s, {} bytes each on average), {lost} to \
             no connection; {} events timed at the strategies",
            frames as f64 / wall,
            bytes / frames.max(1),
            taken.len()
        );
        println!("lag venue frame -> strategy: {}", percentiles(taken.iter().map(|s| s.total).collect()));
        println!("  venue -> market-data agent: {}", percentiles(taken.iter().map(|s| s.to_agent).collect()));
        println!(
            "  agent -> NATS -> strategy:  {}",
            percentiles(taken.iter().map(|s| s.total.saturating_sub(s.to_agent)).collect())
        );
        let fifths = windows(&taken.iter().map(|s| (s.sent, s.total)).collect::<Vec<_>>(), start, seconds);
        for (i, w) in fifths.into_iter().enumerate() {
            let mut w = w;
            w.sort_unstable();
            println!(
                "  fifth {}/{WINDOWS}: n={:>7} p50 {:>8.1} µs p99 {:>9.1} µs",
                i + 1,
                w.len(),
                percentile(&w, 500) as f64 / 1000.0,
                percentile(&w, 990) as f64 / 1000.0
            );
        }
        let mut fleet = 0.0;
        for ((name, _), (b, a)) in pids.iter().zip(before.iter().zip(&after)) {
            let cores = (a - b) as f64 / 1e9 / (wall + 2.0);
            if !name.starts_with("venue") {
                fleet += cores;
            }
            println!("  cpu {name:<26} {:>5.1} % of a core", cores * 100.0);
        }
        println!(
            "  cpu of the fleet (market-data pods and NATS): {:.2} cores, {:.2} cores per 25 000 frames/s",
            fleet,
            fleet / (frames as f64 / wall / 25_000.0)
        );
    }
    let floor_kib = rss_kib(floor.0.id());
    println!("\nmemory (VmRSS): one-market pod {:.1} MiB (the floor)", floor_kib as f64 / 1024.0);
    for (name, n, p) in &pod_procs {
        let kib = rss_kib(p.0.id());
        println!(
            "  {name}: {n} tokens, {:.1} MiB, {:.1} KiB per token above the floor",
            kib as f64 / 1024.0,
            kib.saturating_sub(floor_kib) as f64 / (*n).max(1) as f64
        );
    }
    println!("  nats-server: {:.1} MiB", rss_kib(nats.pid()) as f64 / 1024.0);
    println!("logs in {}", dir.display());
    drop(floor);
    drop(pod_procs);
    rt.shutdown_background();
}

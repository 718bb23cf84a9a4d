//! `polyfleet up -f DIR`: the whole fleet on one machine from the resource YAML `kubectl apply`
//! takes. The operator's planner ([`crate::local`]) decides what runs; the agents are the real
//! agents ([`polyfleet_agent`]: strategy, risk gateway, execution) on the in-memory bus and risk
//! store, fed by the simulator the Venue describes ([`feed`]), in one process (runtime `inproc`).
//!
//! Paper trading only (a live executor comes with the live-trading issue). A summary refreshes
//! every second ([`board`]); `/metrics` serves every agent's metrics; editing a Strategy's file
//! applies its new parameters live, through the same KV document the operator writes
//! ([`watch`]); Ctrl-C (or `--duration`) cancels open orders, stops the agents and exits 0.

pub mod board;
pub mod feed;
pub mod watch;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use kube::ResourceExt;
use polyfleet_agent::config::instruments;
use polyfleet_agent::execution::{self, ExecutionAgentConfig};
use polyfleet_agent::executor::PaperExecutor;
use polyfleet_agent::metrics::OrderPathMetrics;
use polyfleet_agent::risk::{self as risk_agent, RiskAgentConfig};
use polyfleet_agent::strategy::{self as strategy_agent, ParamsDoc};
use polyfleet_core::config::StrategyConfig;
use polyfleet_core::wire::{CancelRequest, Intent, encode, subjects};
use polyfleet_runtime::bus::Bus;
use polyfleet_runtime::bus::memory::MemoryBus;
use polyfleet_runtime::probes::{self, Probe};
use polyfleet_runtime::risk_store::memory::MemoryRiskStore;
use polyfleet_runtime::risk_store::{PolicyKey, RiskStore};
use prometheus_client::registry::Registry;
use tokio::sync::watch as tokio_watch;

use crate::local;
use board::Board;
use feed::FeedStats;

/// What to run.
#[derive(Debug, Clone)]
pub struct UpArgs {
    /// Resource directory (or file).
    pub dir: PathBuf,
    /// Namespace of objects that name none.
    pub namespace: String,
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
    /// Stop after this long (default: at Ctrl-C).
    pub duration: Option<Duration>,
    /// Replay this recording as the venue (lockstep, at the recording's time) instead of the
    /// simulator; the run ends when it is over.
    pub replay: Option<PathBuf>,
    /// Market catalog of the replay (default: beside the recording).
    pub catalog: Option<PathBuf>,
}

/// Every agent's metrics on one endpoint.
struct FleetMetrics {
    parts: Vec<Arc<OrderPathMetrics>>,
    empty: Registry,
}

impl Probe for FleetMetrics {
    fn registry(&self) -> &Registry {
        &self.empty
    }
    fn is_ready(&self) -> bool {
        true
    }
    fn render(&self) -> String {
        let mut out: String = self.parts.iter().map(|p| p.render().replace("# EOF\n", "")).collect();
        out.push_str("# EOF\n");
        out
    }
}

fn metric_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// Where market data comes from.
enum Source {
    /// The Venue's simulator.
    Sim { sim: polyfleet_sim::Simulator, catalog: polyfleet_polymarket::catalog::Catalog, now_ms: u64 },
    /// A recording.
    Replay {
        catalog: polyfleet_polymarket::catalog::Catalog,
        lines: Vec<polyfleet_polymarket::recording::RecordLine>,
        start_ms: u64,
    },
}

/// How the run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Final summary per strategy: (name, fills, pnl).
    pub strategies: Vec<(String, u64, polyfleet_core::Money)>,
    /// Every fill per strategy.
    pub fills: Vec<(String, Vec<polyfleet_core::wire::Fill>)>,
    /// Orders still open after the cancels.
    pub open_orders: usize,
    /// What the directory watcher reported (parameter changes and their acknowledgements).
    pub log: Vec<String>,
}

async fn cancel_all<B: Bus>(bus: &B, strategies: &[StrategyConfig]) {
    for c in strategies {
        let cancel = Intent::Cancel(CancelRequest {
            client_order_id: None,
            namespace: c.namespace.clone(),
            strategy: c.name.clone(),
            reason: "polyfleet up is stopping".into(),
            created_ts_ns: polyfleet_agent::time::now_ns(),
        });
        let id = format!("stop-{}-{}", c.name, polyfleet_agent::time::now_ns());
        let subject = subjects::intents(&c.namespace, &c.name);
        if let Err(e) = bus.persist(&subject, vec![], Bytes::from(encode(&cancel)), Some(&id)).await {
            eprintln!("cancel of {} not sent: {e}", c.name);
        }
    }
}

/// Runs the fleet until `stop` turns true or `duration` passes.
pub async fn run(args: UpArgs, mut stop: tokio_watch::Receiver<bool>) -> anyhow::Result<Outcome> {
    let mut res = local::load(&args.dir, &args.namespace)?;
    let (venue, source) = match &args.replay {
        Some(rec) => {
            let venue = res.venues.first().context("no Venue in the directory")?.clone();
            let catalog = local::catalog_of(rec, args.catalog.as_deref())?;
            let lines = polyfleet_polymarket::recording::open(rec)?.collect::<Result<Vec<_>, _>>()?;
            let start_ms = lines.first().map_or(0, |l| l.recv_ns / 1_000_000);
            (venue, Source::Replay { catalog, lines, start_ms })
        }
        None => {
            let venue = local::simulator_venue(&res)
                .context("polyfleet up runs against a Venue of kind simulator, or --replay of a recording (trading a real venue needs the cluster, and live orders the live-trading issue)")?
                .clone();
            let now_ms = polyfleet_agent::time::now_ms();
            let sim = local::simulator(&res, &venue, now_ms);
            (venue, Source::Sim { catalog: sim.catalog(), sim, now_ms })
        }
    };
    let venue_name = venue.name_any();
    let (catalog, start_ms) = match &source {
        Source::Replay { catalog, start_ms, .. } => (catalog.clone(), *start_ms),
        Source::Sim { catalog, now_ms, .. } => (catalog.clone(), *now_ms),
    };
    let plan = local::plan_with(&mut res, &catalog, start_ms)?;
    let strategies: Vec<StrategyConfig> = plan.strategies.iter().map(|s| s.config.clone()).collect();
    if strategies.iter().any(|s| s.mode != "paper") {
        eprintln!("note: polyfleet up trades on paper; strategies in shadow or live mode run as paper here");
    }
    let bus = MemoryBus::new();
    let store = MemoryRiskStore::new();
    for (ns, name, limits) in &plan.limits {
        store.set_limits(&PolicyKey::new(ns, name), limits).await?;
    }
    let (shutdown_tx, shutdown) = tokio_watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut parts = vec![];
    for p in &plan.strategies {
        let doc = ParamsDoc { generation: p.generation, parameters: p.config.parameters.clone() };
        let key = subjects::params_key(&p.config.namespace, &p.config.name);
        bus.kv_put(&key, Bytes::from(serde_json::to_vec(&doc)?)).await?;
        let m = OrderPathMetrics::new(&format!("polyfleet_strategy_{}", metric_name(&p.config.name)));
        parts.push(m.clone());
        tasks.spawn(strategy_agent::run(bus.clone(), p.config.clone(), m, shutdown.clone()));
    }
    let risk_metrics = OrderPathMetrics::new("polyfleet_risk");
    parts.push(risk_metrics.clone());
    let risk_cfg = RiskAgentConfig {
        namespace: "*".into(),
        venue: venue_name.clone(),
        liquidity_band_bps: plan.liquidity_band_bps,
        durable: "risk-local".into(),
        // A replay decides one intent at a time, in order, as the backtest does.
        concurrency: if args.replay.is_some() { 1 } else { 16 },
    };
    tasks.spawn(risk_agent::run(bus.clone(), store.clone(), risk_cfg, risk_metrics, shutdown.clone()));
    let tokens: Vec<_> =
        strategies.iter().flat_map(|s| s.sets.iter().flat_map(|x| x.legs.clone()).chain(s.tokens.clone())).collect();
    let executor = PaperExecutor::new(instruments(&tokens)?, Duration::ZERO);
    let exec_metrics = OrderPathMetrics::new("polyfleet_execution");
    parts.push(exec_metrics.clone());
    let exec_cfg =
        ExecutionAgentConfig { venue: venue_name.clone(), namespace: "*".into(), durable: "execution-local".into() };
    tasks.spawn(execution::run(bus.clone(), store.clone(), executor, exec_cfg, exec_metrics, shutdown.clone()));
    let board = Board::new(strategies.clone());
    {
        let (board, bus, venue_name, shutdown) = (board.clone(), bus.clone(), venue_name.clone(), shutdown.clone());
        tasks.spawn(async move { board.listen(bus, &venue_name, shutdown).await });
    }
    // The feed starts once every agent has subscribed (and the board with them).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !parts.iter().all(|p| p.is_ready()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let feed_stats = Arc::new(FeedStats::default());
    let mode = match source {
        Source::Sim { sim, .. } => {
            let rate = venue.spec.simulator.as_ref().map_or(200, |s| s.events_per_second.max(1) as u32);
            tasks.spawn(feed::run(bus.clone(), venue_name.clone(), sim, rate, feed_stats.clone(), shutdown.clone()));
            "simulator".to_string()
        }
        Source::Replay { catalog, lines, .. } => {
            let all: Vec<_> = catalog.markets.iter().flat_map(|m| m.tokens.iter().map(|t| t.token_id)).collect();
            let followed = tokens.iter().filter_map(|t| polyfleet_core::TokenId::parse(&t.token).ok()).collect();
            let events = polyfleet_backtest::source::Events::new(lines.into_iter(), all);
            let quiet = Duration::from_millis(3);
            tasks.spawn(feed::replay(
                bus.clone(),
                venue_name.clone(),
                events,
                followed,
                quiet,
                feed_stats.clone(),
                shutdown.clone(),
            ));
            format!("replay of {}", args.replay.as_ref().map(|p| p.display().to_string()).unwrap_or_default())
        }
    };
    let metrics = Arc::new(FleetMetrics { parts, empty: Registry::default() });
    let metrics_addr = probes::serve(args.metrics_addr, metrics).await.context("serving /metrics")?;
    let mut watcher = watch::Watcher::new(&args.dir, &args.namespace, &plan);
    let tty = std::io::stdout().is_terminal();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_events = 0u64;
    let mut log: Vec<String> = vec![];
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        if args.duration.is_some_and(|d| started.elapsed() >= d) || feed_stats.done.load(Ordering::Relaxed) {
            break;
        }
        for line in watcher.poll(&bus, &catalog).await {
            log.push(line.clone());
            if !tty {
                println!("{line}");
            }
        }
        board.refresh(&store).await;
        let events = feed_stats.events.load(Ordering::Relaxed);
        let rate = events.saturating_sub(last_events) as f64;
        last_events = events;
        let header = format!(
            "polyfleet up: {} strategies from {} (inproc, paper), venue {venue_name} ({mode}), {}s, metrics http://{metrics_addr}/metrics",
            strategies.len(),
            args.dir.display(),
            started.elapsed().as_secs()
        );
        let text = board.render(&header, &feed_stats, rate);
        if tty {
            print!("\x1b[2J\x1b[H{text}");
            for l in log.iter().rev().take(5).rev() {
                println!("{l}");
            }
            println!("Ctrl-C cancels open orders and stops.");
        } else if started.elapsed().as_secs().is_multiple_of(5) {
            print!("{text}");
        }
    }
    println!("stopping: cancelling open orders");
    cancel_all(&bus, &strategies).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && board.lines().values().any(|l| !l.open.is_empty()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    board.refresh(&store).await;
    let _ = shutdown_tx.send(true);
    let stopped = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(r) = tasks.join_next().await {
            if let Ok(Err(e)) = r {
                eprintln!("agent stopped with an error: {e:#}");
            }
        }
    })
    .await;
    if stopped.is_err() {
        eprintln!("some agents did not stop within 5 s");
    }
    let lines = board.lines();
    print!("{}", board.render("final:", &feed_stats, 0.0));
    Ok(Outcome {
        strategies: lines.iter().map(|(n, l)| (n.clone(), l.fills, l.pnl)).collect(),
        fills: lines.iter().map(|(n, l)| (n.clone(), l.trades.clone())).collect(),
        open_orders: lines.values().map(|l| l.open.len()).sum(),
        log,
    })
}

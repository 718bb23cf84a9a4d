//! The `inproc` runtime: every agent a task of this process, on the in-memory bus and risk store;
//! `/metrics` serves all their metrics on one endpoint. A replay runs only here (lockstep needs
//! to see the whole fleet settle).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use polyfleet_agent::config::instruments;
use polyfleet_agent::execution::{self, ExecutionAgentConfig};
use polyfleet_agent::journal::JournalAgentConfig;
use polyfleet_agent::metrics::{JournalMetrics, OrderPathMetrics};
use polyfleet_agent::risk::{self as risk_agent, RiskAgentConfig};
use polyfleet_agent::strategy as strategy_agent;
use polyfleet_core::TokenId;
use polyfleet_io::bus::memory::MemoryBus;
use polyfleet_io::execution::PaperExecutor;
use polyfleet_io::probes::{self, Probe};
use polyfleet_io::risk_store::memory::MemoryRiskStore;
use polyfleet_journal::store::sql::SqlJournal;
use prometheus_client::registry::Registry;
use tokio::sync::watch as tokio_watch;

use super::board::Board;
use super::feed::{self, FeedStats};
use super::{Header, Outcome, Prepared, Source, UpArgs, finish, supervise};

/// Every agent's metrics on one endpoint.
struct FleetMetrics {
    parts: Vec<Arc<dyn Probe>>,
    empty: Registry,
}

impl Probe for FleetMetrics {
    fn registry(&self) -> &Registry {
        &self.empty
    }
    fn is_ready(&self) -> bool {
        self.parts.iter().all(|p| p.is_ready())
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

/// Runs the fleet in this process.
pub(crate) async fn run(args: &UpArgs, mut p: Prepared, stop: tokio_watch::Receiver<bool>) -> anyhow::Result<Outcome> {
    let venue = p.venue_name();
    let bus = MemoryBus::new();
    let store = MemoryRiskStore::new();
    p.seed(&bus, &store).await?;
    let (shutdown_tx, shutdown) = tokio_watch::channel(false);
    // The strategies stop on their own signal first (then the last cancels go out).
    let (strategies_stop, strategies_shutdown) = tokio_watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut parts: Vec<Arc<dyn Probe>> = vec![];
    for s in &p.strategies {
        // One registry per strategy agent: its metrics carry its name.
        let m = OrderPathMetrics::new(&format!("polyfleet_strategy_{}", metric_name(&s.name)));
        parts.push(m.clone());
        let agent = strategy_agent::StrategyAgentConfig::default();
        tasks.spawn(strategy_agent::run(bus.clone(), s.clone(), agent, m, strategies_shutdown.clone()));
    }
    let risk_metrics = OrderPathMetrics::new("polyfleet_risk");
    parts.push(risk_metrics.clone());
    let risk_cfg = RiskAgentConfig {
        namespace: "*".into(),
        venue: venue.clone(),
        liquidity_band_bps: p.plan.liquidity_band_bps,
        durable: "risk-local".into(),
        // A replay decides one intent at a time, in order, as the backtest does.
        concurrency: if args.replay.is_some() { 1 } else { 16 },
    };
    tasks.spawn(risk_agent::run(bus.clone(), store.clone(), risk_cfg, risk_metrics, shutdown.clone()));
    let tokens = p.traded_tokens();
    let executor = PaperExecutor::new(instruments(&tokens)?, Duration::ZERO);
    let exec_metrics = OrderPathMetrics::new("polyfleet_execution");
    parts.push(exec_metrics.clone());
    let exec_cfg = ExecutionAgentConfig {
        venue: venue.clone(),
        namespace: "*".into(),
        durable: "execution-local".into(),
        mark_stale_ms: polyfleet_agent::execution::MARK_STALE_MS,
        series: p.rounds.keys(),
    };
    tasks.spawn(execution::run(bus.clone(), store.clone(), executor, exec_cfg, exec_metrics, shutdown.clone()));
    // The crypto models run inside the feed, on the embedded simulator's or the recording's
    // reference prices; the sports model reads a live odds feed, which only a process runs.
    let models = crate::local::model_specs(&p.plan);
    for m in p.plan.strategies.iter().flat_map(|s| &s.models).filter(|m| m.up_down().is_none()) {
        eprintln!(
            "{}: the built-in {} model runs with --runtime processes; its Strategy gets no signals here",
            m.name,
            m.role().as_str()
        );
    }
    if let Some(url) = &args.journal {
        // The run's history, kept beyond the run (the default file collects every local run's).
        let journal = SqlJournal::open(url).await.context("opening the trade journal (--journal)")?;
        let m = JournalMetrics::new();
        parts.push(m.clone());
        let cfg = JournalAgentConfig {
            namespace: "*".into(),
            durable: "journal-local".into(),
            batch: 500,
            // A replay steps once the fleet is still: no batch waits for more there.
            window: if args.replay.is_some() { Duration::ZERO } else { Duration::from_millis(20) },
            mid_interval: Some(Duration::from_secs(1)),
        };
        tasks.spawn(polyfleet_agent::journal::run(bus.clone(), journal, cfg, m, shutdown.clone()));
    }
    for config in &p.plan.notifiers {
        let m = polyfleet_agent::notify::NotifyMetrics::new();
        let cfg = polyfleet_agent::notify::NotifyAgentConfig::from_env(config.clone());
        tasks.spawn(polyfleet_agent::notify::run(bus.clone(), cfg, m, shutdown.clone()));
    }
    let board = Board::new(p.strategies.clone());
    {
        let (board, bus, venue, shutdown) = (board.clone(), bus.clone(), venue.clone(), shutdown.clone());
        tasks.spawn(async move { board.listen(bus, &venue, shutdown).await });
    }
    // The feed starts once every agent has subscribed (and the board with them).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !parts.iter().all(|m| m.is_ready()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let feed_stats = Arc::new(FeedStats::default());
    let rate = p.sim_rate();
    let source = std::mem::replace(&mut p.source, Source::Replay(vec![]));
    // A replay publishes in lockstep with the tokens the strategies follow.
    let followed = tokens.iter().filter_map(|t| TokenId::parse(&t.token).ok()).collect();
    let quiet = Duration::from_millis(3);
    let replaying = format!("replay of {}", args.replay.as_ref().map(|r| r.display().to_string()).unwrap_or_default());
    let what = match source {
        Source::Sim(sim) => {
            // The simulator started at the agents' clock's now (see `prepare`).
            let live = feed::Live { models, rounds: p.rounds.clone(), pinned: true };
            tasks.spawn(feed::run(bus.clone(), venue.clone(), *sim, rate, live, shutdown.clone()));
            "simulator".to_string()
        }
        Source::Replay(lines) => {
            // The models' fair values from the recording's reference prices, as the backtest
            // computes them, published in time order with the market events.
            let rtds: Vec<(u64, String)> = lines
                .iter()
                .filter(|l| l.channel == Some(polyfleet_polymarket::data::recording::Channel::Rtds))
                .filter_map(|l| Some((l.recv_ns, l.frame.as_deref()?.to_string())))
                .collect();
            let (signals, _) = polyfleet_backtest::signals::fair_values(&rtds, &models, &p.catalog);
            drop(rtds);
            let all = p.catalog.markets.iter().flat_map(|m| m.tokens.iter().map(|t| t.token_id)).collect();
            let events = polyfleet_backtest::source::Events::new(lines.into_iter(), all);
            let (bus, venue, stats, shutdown) = (bus.clone(), venue.clone(), feed_stats.clone(), shutdown.clone());
            let recorded = feed::Recorded { events, signals };
            tasks.spawn(feed::replay(bus, venue, recorded, followed, quiet, stats, shutdown));
            replaying
        }
        Source::Columnar(events, rtds) => {
            let (signals, _) = polyfleet_backtest::signals::fair_values(&rtds, &models, &p.catalog);
            drop(rtds);
            let events = polyfleet_backtest::source::Served::new(events.into_iter());
            let (bus, venue, stats, shutdown) = (bus.clone(), venue.clone(), feed_stats.clone(), shutdown.clone());
            let recorded = feed::Recorded { events, signals };
            tasks.spawn(feed::replay(bus, venue, recorded, followed, quiet, stats, shutdown));
            replaying
        }
    };
    let metrics = Arc::new(FleetMetrics { parts, empty: Registry::default() });
    let addr = probes::serve(args.metrics_addr, metrics).await.context("serving /metrics")?;
    let mut header = Header {
        runtime: "inproc",
        source: what,
        metrics: format!("http://{addr}/metrics"),
        feed: feed_stats,
        procs: None,
        strategies_stop: Some(strategies_stop),
        rounds: None,
    };
    let log = supervise(args, &p, &bus, &store, &board, &mut header, stop).await;
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
    Ok(finish(&board, log, vec![]))
}

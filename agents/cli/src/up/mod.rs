//! `polyfleet up -f DIR`: the whole fleet on one machine from the resource YAML `kubectl apply`
//! takes. The operator's planner ([`crate::local`]) decides what runs; the agents are the real
//! agents ([`polyfleet_agent`]: strategy, risk gateway, execution, and market data), run either
//! in this process on the in-memory bus and risk store ([`inproc`], the default) or as their own
//! processes on NATS and Redis ([`processes`]), fed by the simulator the Venue describes or by a
//! recording replayed in lockstep ([`feed`]).
//!
//! Paper trading only (a live executor comes with the live-trading issue). A summary refreshes
//! every second ([`board`]); `/metrics` serves the agents' metrics; editing a Strategy's file
//! applies its new parameters live, through the same KV document the operator writes
//! ([`watch`]); Ctrl-C (or `--duration`, or the end of a replay) cancels open orders, stops the
//! agents and returns.

pub mod board;
pub mod feed;
pub mod inproc;
pub mod notices;
pub mod processes;
pub mod rounds;
pub mod supervisor;
pub mod watch;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use kube::ResourceExt;
use polyfleet_agent::strategy::ParamsDoc;
use polyfleet_core::config::{StrategyConfig, TokenConfig};
use polyfleet_core::wire::{CancelRequest, Intent, encode, subjects};
use polyfleet_crds::Venue;
use polyfleet_io::bus::Bus;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_operator::local::LocalPlan;
use polyfleet_operator::planner::venue::VenueEndpoints;
use polyfleet_polymarket::data::catalog::Catalog;
use polyfleet_polymarket::data::recording::RecordLine;
use tokio::sync::watch as tokio_watch;

use crate::local;
use board::Board;
use feed::FeedStats;

/// Where the agents run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// One process: in-memory bus and risk store.
    Inproc,
    /// One process per agent (and the simulator), on NATS and Redis.
    Processes {
        /// NATS URL (none: start a `nats-server -js` for the run).
        nats: Option<String>,
        /// Redis URL (none: start a `redis-server` for the run).
        redis: Option<String>,
        /// Where the `polyfleet` and `polyfleet-agent` binaries are (default: beside this one).
        bin_dir: Option<PathBuf>,
    },
}

/// What to run.
/// No `Debug`: the journal URL may hold a database password, and nothing may print it.
#[derive(Clone)]
pub struct UpArgs {
    /// Resource directory (or file).
    pub dir: PathBuf,
    /// Namespace of objects that name none.
    pub namespace: String,
    /// Where `/metrics` is served (inproc; processes serve their own, listed in the summary).
    pub metrics_addr: SocketAddr,
    /// Stop after this long (default: at Ctrl-C).
    pub duration: Option<Duration>,
    /// Replay this recording as the venue (lockstep, at the recording's time) instead of the
    /// simulator; the run ends when it is over (inproc only).
    pub replay: Option<PathBuf>,
    /// Market catalog of the replay (default: beside the recording).
    pub catalog: Option<PathBuf>,
    /// Where the agents run.
    pub runtime: Runtime,
    /// Stop at an unreadable replay line (the default), or skip it (counted, reported).
    pub bad_input: polyfleet_polymarket::data::recording::BadInput,
    /// The trade journal's database URL (`sqlite://…` or `postgres://…`); `None`: no journal.
    pub journal: Option<String>,
}

/// The journal URL of `--journal`: `none` is none; a URL is itself; a path is its SQLite file;
/// nothing is the default file, `$XDG_DATA_HOME/polyfleet/journal.db` (else
/// `$HOME/.local/share/…`), whose directory is created.
pub fn journal_url(given: Option<&str>) -> anyhow::Result<Option<String>> {
    let path = match given {
        Some("none") => return Ok(None),
        Some(url) if url.contains("://") || url.starts_with("sqlite:") => return Ok(Some(url.to_string())),
        Some(file) => PathBuf::from(file),
        None => {
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .context("no XDG_DATA_HOME or HOME for the journal's default file: give --journal")?;
            data.join("polyfleet").join("journal.db")
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(Some(format!("sqlite://{}", path.display())))
}

/// How the run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Final summary per strategy: (name, fills, pnl; `None` when the risk store could not be read).
    pub strategies: Vec<(String, u64, Option<polyfleet_core::Money>)>,
    /// Realized PnL per strategy, fees included, as the risk store holds it (`None` when it
    /// could not be read).
    pub realized: Vec<(String, Option<polyfleet_core::Money>)>,
    /// Every fill per strategy.
    pub fills: Vec<(String, Vec<polyfleet_core::wire::Fill>)>,
    /// Merges, splits, redemptions and settlements per strategy (`None` when the risk store
    /// could not be read).
    pub lifecycle: Vec<(String, Option<polyfleet_core::accounting::lifecycle::LifecycleTotals>)>,
    /// Forecast scores per model version, per strategy (directional strategies).
    pub scores: Vec<(String, Vec<polyfleet_core::analytics::scores::ModelScore>)>,
    /// Drift alarms per strategy (strategies that declare them).
    pub drift: Vec<(String, Option<polyfleet_core::strategy::drift::DriftReport>)>,
    /// Risk rejections by reason, per strategy.
    pub rejections: Vec<(String, std::collections::BTreeMap<String, u64>)>,
    /// Orders still open after the cancels.
    pub open_orders: usize,
    /// What the directory watcher and the supervisor reported (parameter changes and their
    /// acknowledgements; deaths and restarts of processes).
    pub log: Vec<String>,
    /// Restarts per supervised process (processes runtime).
    pub restarts: Vec<(String, u32)>,
}

/// Where market data comes from.
pub(crate) enum Source {
    /// The Venue's simulator.
    Sim(Box<polyfleet_sim::Simulator>),
    /// A recording.
    Replay(Vec<RecordLine>),
    /// A columnar recording: its market events and RTDS frames (receive time ns, text).
    Columnar(Vec<polyfleet_core::wire::MarketEvent>, Vec<(u64, String)>),
}

/// The run as planned, before any agent starts.
pub(crate) struct Prepared {
    pub venue: Venue,
    pub source: Source,
    pub catalog: Catalog,
    pub plan: LocalPlan,
    pub strategies: Vec<StrategyConfig>,
    /// The series whose rounds the agents follow live (simulator runs).
    pub rounds: rounds::LocalRounds,
}

impl Prepared {
    pub fn venue_name(&self) -> String {
        self.venue.name_any()
    }

    /// Market rules of every token the strategies trade.
    pub fn traded_tokens(&self) -> Vec<TokenConfig> {
        self.strategies.iter().flat_map(|s| s.traded_tokens().cloned().collect::<Vec<_>>()).collect()
    }

    /// The Venue's simulator rate, model steps per wall second.
    pub fn sim_rate(&self) -> u32 {
        local::pace(&self.venue, false).steps_per_second
    }

    /// Limits into the risk store, the first parameter documents into the KV bucket.
    pub async fn seed<B: Bus, S: RiskStore>(&self, bus: &B, store: &S) -> anyhow::Result<()> {
        for (ns, name, limits) in &self.plan.limits {
            store.set_limits(&PolicyKey::new(ns, name), limits).await?;
        }
        for p in &self.plan.strategies {
            let doc = ParamsDoc { generation: p.generation, parameters: p.config.parameters.clone() };
            let key = subjects::params_key(&p.config.namespace, &p.config.name);
            bus.kv_put(&key, Bytes::from(serde_json::to_vec(&doc)?)).await?;
        }
        Ok(())
    }
}

fn prepare(args: &UpArgs) -> anyhow::Result<Prepared> {
    let mut res = local::load(&args.dir, &args.namespace)?;
    let (venue, source, catalog, start_ms) = match &args.replay {
        Some(rec) => {
            let venue = res.venues.first().context("no Venue in the directory")?.clone();
            let catalog = local::catalog_of(rec, args.catalog.as_deref())?;
            if polyfleet_backtest::columnar::is_columnar(rec) {
                let mut file = polyfleet_backtest::columnar::read::Columnar::open(rec, None)?;
                let events: Vec<_> = file.by_ref().collect();
                let rtds = std::mem::take(&mut file.rtds);
                let acc = file.finish()?;
                if acc.read.partial() {
                    eprintln!("warning: replaying part of {}: {}", acc.source, acc.read.describe());
                }
                (venue, Source::Columnar(events, rtds), catalog, acc.first_recv_ns / 1_000_000)
            } else {
                let (lines, read) = polyfleet_polymarket::data::recording::Reader::read_all(rec, args.bad_input)?;
                if read.partial() {
                    eprintln!("warning: replaying part of {}: {}", rec.display(), read.describe());
                }
                let start_ms = lines.first().map_or(0, |l| l.recv_ns / 1_000_000);
                (venue, Source::Replay(lines), catalog, start_ms)
            }
        }
        None => {
            let venue = local::simulator_venue(&res)
                .context("polyfleet up runs against a Venue of kind simulator, or --replay of a recording (trading a real venue needs the cluster, and live orders the live-trading issue)")?
                .clone();
            // A Venue's accelerated clock, anchored now: this process's agents read it, and the
            // processes runtime hands it to every process it starts.
            polyfleet_agent::time::set_venue_clock(local::venue_clock(&venue, polyfleet_agent::time::wall_ms()));
            let now_ms = polyfleet_agent::time::now_ms();
            let sim = local::simulator(&res, &venue, now_ms, local::pace(&venue, false));
            let catalog = sim.catalog();
            (venue, Source::Sim(Box::new(sim)), catalog, now_ms)
        }
    };
    // A replay trades every recorded round as a Market of its own, as the backtest does; the
    // simulator lists rounds as it goes, and the agents follow them live, as in a cluster.
    let plan = match &args.replay {
        Some(_) => local::plan_rounds(&mut res, &catalog, start_ms)?,
        None => local::plan_with(&mut res, &catalog, start_ms)?,
    };
    let rounds = rounds::LocalRounds::of(&plan, &res.markets, &args.namespace);
    let strategies: Vec<StrategyConfig> = plan.strategies.iter().map(|s| s.config.clone()).collect();
    if strategies.iter().any(|s| s.mode != polyfleet_core::wire::Mode::Paper) {
        eprintln!("note: polyfleet up trades on paper; strategies in shadow or live mode run as paper here");
    }
    Ok(Prepared { venue, source, catalog, plan, strategies, rounds })
}

/// Runs the fleet until `stop` turns true, `duration` passes or a replay ends.
pub async fn run(args: UpArgs, stop: tokio_watch::Receiver<bool>) -> anyhow::Result<Outcome> {
    let prepared = prepare(&args)?;
    match &args.runtime {
        Runtime::Inproc => inproc::run(&args, prepared, stop).await,
        Runtime::Processes { .. } => {
            anyhow::ensure!(args.replay.is_none(), "--replay runs in the inproc runtime");
            processes::run(&args, prepared, stop).await
        }
    }
}

/// What the summary's header says about the run, and the feed's report (a replay ends the run).
pub(crate) struct Header {
    pub runtime: &'static str,
    pub source: String,
    pub metrics: String,
    pub feed: std::sync::Arc<FeedStats>,
    /// The processes under supervision (processes runtime).
    pub procs: Option<supervisor::Supervisor>,
    /// Stops the strategy agents (in-process runtime).
    pub strategies_stop: Option<tokio_watch::Sender<bool>>,
    /// The live series' rounds, asked of the simulator process's API (processes runtime; the
    /// in-process feed keeps them itself).
    pub rounds: Option<(rounds::LocalRounds, polyfleet_operator::lookup::RestLookup, VenueEndpoints)>,
}

/// The supervisor's loop, whatever the runtime: refreshes the summary every second and watches
/// the directory until a stop; then cancels what is open. Returns the watcher's log.
pub(crate) async fn supervise<B: Bus, S: RiskStore>(
    args: &UpArgs,
    p: &Prepared,
    bus: &B,
    store: &S,
    board: &Board,
    header: &mut Header,
    mut stop: tokio_watch::Receiver<bool>,
) -> Vec<String> {
    let mut watcher = watch::Watcher::new(&args.dir, &args.namespace, &p.plan);
    let mut notices = notices::PolicyNotices::new(p.plan.policies.clone());
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
        if args.duration.is_some_and(|d| started.elapsed() >= d) || header.feed.done.load(Ordering::Relaxed) {
            break;
        }
        if let Some((rounds, lookup, at)) = header.rounds.as_mut() {
            rounds.poll(lookup, at, bus).await;
        }
        let mut lines = watcher.poll(bus, store, &p.catalog).await;
        lines.extend(notices.poll(bus, store).await);
        if let Some(procs) = header.procs.as_mut() {
            let t = started.elapsed().as_secs();
            lines.extend(procs.poll(Instant::now()).into_iter().map(|l| format!("[{t} s] {l}")));
        }
        for line in lines {
            if !tty {
                println!("{line}");
            }
            log.push(line);
        }
        board.refresh(store).await;
        board.read_reports(bus).await;
        let events = board.feed().0;
        let rate = events.saturating_sub(last_events) as f64;
        last_events = events;
        let text = board.render(
            &format!(
                "polyfleet up: {} strategies from {} ({}, paper), venue {} ({}), {}s, metrics {}",
                p.strategies.len(),
                args.dir.display(),
                header.runtime,
                p.venue_name(),
                header.source,
                started.elapsed().as_secs(),
                header.metrics
            ),
            rate,
        );
        let text = match &header.procs {
            Some(procs) => format!("{text}processes:\n  {}\n", procs.status(Instant::now()).join("\n  ")),
            None => text,
        };
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
    // The strategies stop first, so none places an order after the cancels.
    println!("stopping: strategies, then cancelling open orders");
    if let Some(tx) = &header.strategies_stop {
        let _ = tx.send(true);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if let Some(procs) = header.procs.as_mut() {
        procs.stop_named("strategy-").await;
    }
    cancel_all(bus, &p.strategies).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && board.lines().values().any(|l| !l.open.is_empty()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    board.refresh(store).await;
    board.read_reports(bus).await;
    log
}

/// Asks every strategy's orders to be cancelled (a cancel without an id: all of them).
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

/// The final summary, printed, and the outcome.
pub(crate) fn finish(board: &Board, log: Vec<String>, restarts: Vec<(String, u32)>) -> Outcome {
    let lines = board.lines();
    print!("{}", board.render("final:", 0.0));
    let restarted: Vec<String> = restarts.iter().filter(|(_, n)| *n > 0).map(|(p, n)| format!("{p} {n}")).collect();
    if !restarted.is_empty() {
        println!("restarts during the run: {}", restarted.join(", "));
    }
    Outcome {
        strategies: lines.iter().map(|(n, l)| (n.clone(), l.fills, l.pnl)).collect(),
        realized: lines.iter().map(|(n, l)| (n.clone(), l.realized)).collect(),
        fills: lines.iter().map(|(n, l)| (n.clone(), l.trades.clone())).collect(),
        lifecycle: lines.iter().map(|(n, l)| (n.clone(), l.lifecycle)).collect(),
        scores: lines.iter().map(|(n, l)| (n.clone(), l.scores.clone())).collect(),
        drift: lines.iter().map(|(n, l)| (n.clone(), l.drift.clone())).collect(),
        rejections: lines.iter().map(|(n, l)| (n.clone(), l.rejections.clone())).collect(),
        open_orders: lines.values().map(|l| l.open.len()).sum(),
        log,
        restarts,
    }
}

//! `polyfleet backtest`: a recording through the Strategies of a resource directory, planned by
//! the operator's planner and run by [`polyfleet_backtest`]'s engine (the agents' own state
//! machines), with a progress bar, a JSON and an HTML report, and parameter sweeps run in
//! parallel and ranked. The same inputs give byte-identical reports. A `series` Market stands for
//! every round of it in the recording's catalog, and the built-in crypto models the Strategies
//! ask for price them from the recording's RTDS frames, as their agents would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use polyfleet_backtest::columnar::{self, Accounting, read::Columnar};
use polyfleet_backtest::engine::{Engine, EngineConfig};
use polyfleet_backtest::html::html;
use polyfleet_backtest::report::{Input, Report};
use polyfleet_backtest::signals::fair_values;
use polyfleet_backtest::source::Events;
use polyfleet_backtest::sweep::{self, Axis};
use polyfleet_core::Money;
use polyfleet_core::wire::MarketEvent;
use polyfleet_polymarket::data::recording::{BadInput, Reader};

use crate::local;

/// What to backtest.
#[derive(Debug, Clone)]
pub struct BacktestArgs {
    /// Resource directory (or file).
    pub dir: PathBuf,
    /// Recording.
    pub recording: PathBuf,
    /// Market catalog (default: beside the recording).
    pub catalog: Option<PathBuf>,
    /// Namespace of objects that name none.
    pub namespace: String,
    /// Where reports go.
    pub out: PathBuf,
    /// `key=v1,v2,...` sweeps.
    pub sweeps: Vec<String>,
    /// Capital returns are measured against (default: the policies' gross exposure limits).
    pub capital: Option<Money>,
    /// Equity sample period, ms of event time.
    pub sample_ms: u64,
    /// From a risk decision to the order (or cancel) at the venue, ns of event time.
    pub latency_ns: u64,
    /// Worker threads for sweeps.
    pub workers: usize,
    /// Show progress bars.
    pub progress: bool,
    /// Stop at unreadable input (the default), or skip it and say so in the report.
    pub bad_input: BadInput,
}

fn first_ms(path: &Path, mode: BadInput) -> anyhow::Result<u64> {
    if columnar::is_columnar(path) {
        return Ok(Columnar::open(path, None)?.accounting().first_recv_ns / 1_000_000);
    }
    let first = Reader::open(path, mode)?.next();
    Ok(first.map_or(local::DEFAULT_START_MS, |l| l.recv_ns / 1_000_000))
}

/// A recording's events for `tokens`, its RTDS frames, and what the report says about it.
struct Loaded {
    events: Vec<MarketEvent>,
    rtds: Vec<(u64, String)>,
    input: Input,
}

/// What a report says about a columnar recording's input, `events` of it replayed.
fn columnar_input(args: &BacktestArgs, acc: Accounting, events: u64) -> anyhow::Result<Input> {
    let frame_outcomes = acc.ledger().map_err(|e| anyhow::anyhow!("{}: {e}", args.recording.display()))?;
    if acc.read.partial() {
        eprintln!("warning: results cover part of {}: {}", acc.source, acc.read.describe());
    }
    Ok(Input {
        recording: args.recording.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        frames: frame_outcomes.frames,
        events,
        malformed: acc.malformed,
        unsupported_schema: acc.unsupported_schema,
        resyncs: acc.resyncs,
        read: acc.read,
        frame_outcomes,
        converted_from: Some(acc.source),
        models: vec![],
    })
}

/// One run over a columnar recording, its events going straight from the file into the engine
/// (nothing to replay twice: no sweep, no model's fair values to interleave).
fn stream(args: &BacktestArgs, cfg: &EngineConfig, capital: Money, arms: &[Arm]) -> anyhow::Result<Report> {
    let mut engine = Engine::new(cfg)?;
    let mut source = Columnar::open(&args.recording, Some(&engine.tokens()))?;
    let replaying = bar(args.progress, Some(source.accounting().events), "replaying");
    let mut events = 0u64;
    for ev in source.by_ref() {
        engine.on_event(&ev);
        events += 1;
        if events.is_multiple_of(65_536) {
            replaying.set_position(events);
        }
    }
    replaying.finish_and_clear();
    let input = columnar_input(args, source.finish()?, events)?;
    Ok(Report::new(input, vec![], engine.finish(), capital).with_experiments(arms))
}

/// Reads the recording: a columnar one as written, JSON Lines through the normalizer.
fn load(args: &BacktestArgs, tokens: Vec<polyfleet_core::TokenId>) -> anyhow::Result<Loaded> {
    let reading = bar(args.progress, None, "reading");
    let columnar = if columnar::is_columnar(&args.recording) {
        Some(Columnar::open(&args.recording, Some(&tokens))?)
    } else {
        None
    };
    // A columnar file says how many events it holds: room for them at once.
    let capacity = columnar.as_ref().map_or(0, |c| usize::try_from(c.accounting().events).unwrap_or(0));
    let mut events: Vec<MarketEvent> = Vec::with_capacity(capacity);
    let mut collect = |ev| {
        events.push(ev);
        if events.len().is_multiple_of(65_536) {
            reading.set_position(events.len() as u64);
        }
    };
    let recording = args.recording.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (rtds, input) = if let Some(mut source) = columnar {
        source.by_ref().for_each(&mut collect);
        let rtds = std::mem::take(&mut source.rtds);
        let input = columnar_input(args, source.finish()?, 0)?;
        (rtds, input)
    } else {
        let mut reader = Reader::open(&args.recording, args.bad_input)?;
        let mut source = Events::new(reader.by_ref(), tokens);
        source.by_ref().for_each(&mut collect);
        let rtds = std::mem::take(&mut source.rtds);
        let (frames, malformed, resyncs) = (source.ledger.frames, source.malformed(), source.resyncs);
        let frame_outcomes = source.ledger.clone();
        let unsupported_schema = source.unsupported();
        drop(source);
        // A cut, corrupt or empty recording is an error here, unless bad input is to be skipped.
        let read = reader.finish()?;
        if read.partial() {
            eprintln!("warning: results cover part of {}: {}", args.recording.display(), read.describe());
        }
        let input = Input {
            recording,
            frames,
            events: 0,
            malformed,
            unsupported_schema,
            resyncs,
            read,
            frame_outcomes,
            converted_from: None,
            models: vec![],
        };
        (rtds, input)
    };
    reading.finish_and_clear();
    let input = Input { events: events.len() as u64, ..input };
    Ok(Loaded { events, rtds, input })
}

fn bar(progress: bool, len: Option<u64>, what: &str) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let (pb, template) = match len {
        Some(n) => (ProgressBar::new(n), "{msg} [{bar:40}] {human_pos}/{human_len} events, {per_sec}, ETA {eta}"),
        None => (ProgressBar::new_spinner(), "{spinner} {msg}: {human_pos} events, {per_sec}"),
    };
    pb.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// A strategy's arm of an experiment: its name and what it declares.
type Arm = (String, polyfleet_core::analytics::experiment::Experiment);

/// Runs the backtest (every sweep point), writes the reports, and returns them (ranked, best first).
pub fn run(args: &BacktestArgs) -> anyhow::Result<Vec<Report>> {
    let mut res = local::load(&args.dir, &args.namespace)?;
    let catalog = local::catalog_of(&args.recording, args.catalog.as_deref())?;
    let plan = local::plan_rounds(&mut res, &catalog, first_ms(&args.recording, args.bad_input)?)?;
    let strategies: Vec<_> = plan.strategies.iter().map(|s| s.config.clone()).collect();
    let arms: Vec<Arm> =
        plan.strategies.iter().filter_map(|s| Some((s.config.name.clone(), s.experiment.clone()?))).collect();
    let capital = args.capital.unwrap_or_else(|| {
        plan.limits
            .iter()
            .filter(|(ns, n, _)| strategies.iter().any(|s| s.namespace == *ns && s.risk_policy == *n))
            .fold(Money::ZERO, |a, (_, _, l)| a.checked_add(l.max_gross_exposure).unwrap_or(a))
    });
    let sample_ns = args.sample_ms.max(1) * 1_000_000;
    let base = EngineConfig {
        strategies: strategies.clone(),
        limits: plan.limits.clone(),
        liquidity_band_bps: plan.liquidity_band_bps,
        sample_every_ns: sample_ns,
        latency_ns: args.latency_ns,
    };
    let specs = local::model_specs(&plan);
    if args.sweeps.is_empty() && specs.is_empty() && columnar::is_columnar(&args.recording) {
        return write(args, vec![stream(args, &base, capital, &arms)?], &[]);
    }
    // Read once: every sweep point replays the same events.
    let tokens = Engine::new(&base)?.tokens();
    let Loaded { events, rtds, mut input } = load(args, tokens)?;
    // The built-in models' fair values, from the recording's reference prices: what their agents
    // would have published, once for every sweep point.
    let (signals, models) = fair_values(&rtds, &specs, &catalog);
    drop(rtds);
    input.models = models;
    let axes: Vec<Axis> = args.sweeps.iter().map(|s| sweep::parse(s)).collect::<Result<_, _>>()?;
    let points = sweep::grid(&axes);
    let configs: Vec<(Vec<polyfleet_core::config::StrategyConfig>, Vec<String>)> =
        points.iter().map(|p| sweep::apply(&strategies, &axes, p)).collect::<Result<_, _>>()?;
    let total = events.len() as u64 * configs.len() as u64;
    let replaying = bar(args.progress, Some(total), "replaying");
    let reports: Vec<anyhow::Result<Report>> = sweep::parallel(&configs, args.workers, |(strategies, labels)| {
        let cfg = EngineConfig { strategies: strategies.clone(), ..base.clone() };
        let mut engine = Engine::new(&cfg)?;
        // Market events and fair values in time order (a fair value before an event of its time:
        // it was computed from a price received with or before it).
        let mut next = signals.iter().peekable();
        for chunk in events.chunks(65_536) {
            for ev in chunk {
                while let Some((at, fv)) = next.next_if(|(at, _)| *at <= ev.recv_ts_ns) {
                    engine.on_signal(fv, *at);
                }
                engine.on_event(ev);
            }
            replaying.inc(chunk.len() as u64);
        }
        for (at, fv) in next {
            engine.on_signal(fv, *at);
        }
        Ok(Report::new(input.clone(), labels.clone(), engine.finish(), capital).with_experiments(&arms))
    });
    replaying.finish_and_clear();
    let reports: Vec<Report> = reports.into_iter().collect::<anyhow::Result<_>>()?;
    // A swept parameter that changed no run's outcome is reported as such, not ranked silently.
    let outcomes: Vec<_> = reports.iter().map(|r| (&r.metrics, &r.strategies)).collect();
    let idle: Vec<String> = sweep::without_effect(&points, &outcomes)
        .into_iter()
        .map(|a| axes[a].strategy.as_ref().map_or(axes[a].key.clone(), |s| format!("{s}.{}", axes[a].key)))
        .collect();
    for key in &idle {
        eprintln!("sweep: {key} had no effect: every run differing only in it gave the same result");
    }
    write(args, reports, &idle)
}

fn write(args: &BacktestArgs, reports: Vec<Report>, without_effect: &[String]) -> anyhow::Result<Vec<Report>> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let put = |name: PathBuf, text: String| {
        std::fs::write(&name, text).with_context(|| format!("writing {}", name.display()))
    };
    if reports.len() == 1 {
        put(args.out.join("report.json"), reports[0].to_json()?)?;
        put(args.out.join("report.html"), html(&reports[0]))?;
        return Ok(reports);
    }
    let keys: Vec<(Option<f64>, i64)> = reports
        .iter()
        .map(|r| (r.metrics.sharpe, Money::parse(&r.metrics.pnl_usdc).map_or(0, |m| m.micros())))
        .collect();
    let order = sweep::rank(&keys);
    let mut ranking = vec![];
    for (rank, &i) in order.iter().enumerate() {
        let dir = args.out.join(format!("run-{:03}", i + 1));
        std::fs::create_dir_all(&dir)?;
        put(dir.join("report.json"), reports[i].to_json()?)?;
        put(dir.join("report.html"), html(&reports[i]))?;
        ranking.push(serde_json::json!({
            "rank": rank + 1,
            "run": format!("run-{:03}", i + 1),
            "overrides": reports[i].overrides,
            "pnl_usdc": reports[i].metrics.pnl_usdc,
            "sharpe": reports[i].metrics.sharpe,
            "max_drawdown_usdc": reports[i].metrics.max_drawdown_usdc,
            "fills": reports[i].metrics.fills,
        }));
    }
    let sweep = serde_json::json!({"without_effect": without_effect, "ranking": ranking});
    put(args.out.join("sweep.json"), serde_json::to_string_pretty(&sweep)? + "\n")?;
    let mut reports: Vec<Option<Report>> = reports.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| reports[i].take()).collect())
}

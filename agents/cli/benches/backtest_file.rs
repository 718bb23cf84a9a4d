//! `polyfleet backtest` from a recording file, end to end (read + engine + JSON and HTML report;
//! one worker, so one core), the columnar recording against the JSON Lines it was converted from,
//! side by side in one run, with the floors beside them: reading the columnar file alone, and the
//! engine alone over events already in memory. Also the conversion's rate and the file size per
//! million events of each format.
//!
//! The input is the simulator's model of the example neg-risk event with the example arbitrage
//! Strategy and RiskPolicy (`manifests/examples`), generated once and kept under the target
//! directory. `BENCH_FRAMES` sets its size in frames (default 1 000 000, about 1.9 million
//! events); `BENCH_RUNS` the runs of each timed step (default 3; the best and the median print).
//!
//! Run: `cargo bench -p polyfleet-cli --bench backtest_file`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::{Path, PathBuf};

#[path = "../tests/common/mod.rs"]
mod common;
use std::time::{Duration, Instant};

use polyfleet_backtest::columnar::read::Columnar;
use polyfleet_backtest::engine::{Engine, EngineConfig};
use polyfleet_cli::backtest::{BacktestArgs, run};
use polyfleet_core::wire::MarketEvent;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The arbitrage example alone (its venue, policy and event).
fn resources(dir: &Path) -> PathBuf {
    let res = dir.join("resources");
    std::fs::create_dir_all(&res).unwrap();
    for f in ["venue-simulator.yaml", "riskpolicy.yaml", "market-negrisk-event.yaml", "strategy-arbitrage.yaml"] {
        std::fs::copy(common::examples().join(f), res.join(f)).unwrap();
    }
    res
}

/// A one-worker backtest with the default order latency.
fn args(res: &Path, rec: &Path, out: PathBuf) -> BacktestArgs {
    BacktestArgs { latency_ns: 5_000_000, ..common::backtest_args(res, rec, out) }
}

/// Best and median of `runs` timings of `f`, and its last result.
fn timed<T>(runs: u64, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = vec![];
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[0], times[times.len() / 2], last.unwrap())
}

fn rate(events: u64, d: Duration) -> f64 {
    events as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let frames = env("BENCH_FRAMES", 1_000_000);
    let runs = env("BENCH_RUNS", 3);
    let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join("backtest-file");
    std::fs::create_dir_all(&data).unwrap();
    let res = resources(&data);
    let rec = data.join(format!("arb-{frames}.jsonl.gz"));
    if !rec.exists() {
        let t = Instant::now();
        let declared = polyfleet_cli::local::load(&res, "default").unwrap();
        let venue = polyfleet_cli::local::simulator_venue(&declared).unwrap();
        let mut sim = polyfleet_cli::local::simulator(
            &declared,
            venue,
            polyfleet_cli::local::DEFAULT_START_MS,
            polyfleet_cli::local::pace(venue, true),
        );
        let part = data.join("generating.jsonl.gz");
        let mut file = polyfleet_cli::record::create(&part).unwrap();
        polyfleet_cli::generate::generate_from(&mut sim, frames, &mut *file).unwrap();
        drop(file);
        sim.catalog().write(&polyfleet_polymarket::data::catalog::Catalog::beside(&rec)).unwrap();
        std::fs::rename(&part, &rec).unwrap();
        println!("generated {frames} frames in {:.1} s (kept for later runs)", t.elapsed().as_secs_f64());
    }
    let arrow = data.join(format!("arb-{frames}.arrow"));
    let plain = data.join(format!("arb-{frames}-uncompressed.arrow"));
    let t = Instant::now();
    let acc = polyfleet_cli::convert::run(&rec, None, &arrow, Default::default()).unwrap();
    let convert_time = t.elapsed();
    let options = polyfleet_cli::convert::Options { compress: false, ..Default::default() };
    polyfleet_cli::convert::run(&rec, None, &plain, options).unwrap();
    let events = acc.events;
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64;
    let per_million = |p: &Path| size(p) / events as f64 * 1e6 / 1e6;

    // Floors: each columnar file read alone, and the engine alone over the events in memory.
    let read = |path: &Path| {
        let mut c = Columnar::open(path, None).unwrap();
        let evs: Vec<MarketEvent> = c.by_ref().collect();
        c.finish().unwrap();
        evs
    };
    let (read_best, read_med, loaded) = timed(runs, || read(&arrow));
    let (plain_read_best, plain_read_med, _) = timed(runs, || read(&plain));
    let plan = {
        let mut declared = polyfleet_cli::local::load(&res, "default").unwrap();
        let catalog = polyfleet_cli::local::catalog_of(&rec, None).unwrap();
        polyfleet_cli::local::plan_rounds(&mut declared, &catalog, polyfleet_cli::local::DEFAULT_START_MS).unwrap()
    };
    let cfg = EngineConfig {
        strategies: plan.strategies.iter().map(|s| s.config.clone()).collect(),
        limits: plan.limits.clone(),
        liquidity_band_bps: plan.liquidity_band_bps,
        sample_every_ns: 1_000_000_000,
        latency_ns: 5_000_000,
    };
    let (engine_best, engine_med, _) = timed(runs, || {
        let mut engine = Engine::new(&cfg).unwrap();
        for ev in &loaded {
            engine.on_event(ev);
        }
        engine.finish()
    });

    // End to end, as `polyfleet backtest` runs: the columnar file, then the JSON Lines once.
    let (col_best, col_med, col) =
        timed(runs, || run(&args(&res, &arrow, data.join("report-arrow"))).unwrap().remove(0));
    let (plain_best, plain_med, plain_report) =
        timed(runs, || run(&args(&res, &plain, data.join("report-plain"))).unwrap().remove(0));
    assert_eq!(plain_report.metrics, col.metrics);
    let (json_time, _, json) = timed(1, || run(&args(&res, &rec, data.join("report-jsonl"))).unwrap().remove(0));
    assert_eq!(col.metrics, json.metrics, "both formats must give the same result");
    let through = col.input.events;
    let m = &col.metrics;

    println!("recording         {frames} frames, {events} market events, {} RTDS frames", acc.rtds);
    println!(
        "strategy          negrisk-arb: {} fills, PnL {} USDC ({through} events through the engine)",
        m.fills, m.pnl_usdc
    );
    println!(
        "convert           {:.2} s ({:.3} M events/s, JSON Lines -> columnar)",
        convert_time.as_secs_f64(),
        rate(events, convert_time)
    );
    println!("size, JSONL.gz    {:.1} MB per million events ({:.1} MB)", per_million(&rec), size(&rec) / 1e6);
    println!("size, columnar    {:.1} MB per million events ({:.1} MB; lz4)", per_million(&arrow), size(&arrow) / 1e6);
    println!(
        "size, columnar    {:.1} MB per million events ({:.1} MB; uncompressed)",
        per_million(&plain),
        size(&plain) / 1e6
    );
    println!();
    println!("{:<38} {:>10} {:>10} {:>14}", "one core", "best s", "median s", "M events/s");
    println!("(rates per event read for the file floors, per event through the engine otherwise)");
    let line = |what: &str, best: Duration, med: Duration, n: u64| {
        println!("{what:<38} {:>10.3} {:>10.3} {:>14.2}", best.as_secs_f64(), med.as_secs_f64(), rate(n, best));
    };
    line("floor: read the columnar file (lz4)", read_best, read_med, events);
    line("floor: read it uncompressed", plain_read_best, plain_read_med, events);
    line("floor: engine over events in memory", engine_best, engine_med, through);
    line("backtest end to end, columnar lz4", col_best, col_med, through);
    line("backtest end to end, uncompressed", plain_best, plain_med, through);
    line("backtest end to end, JSONL.gz", json_time, json_time, through);
}

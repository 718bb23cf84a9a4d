//! Backtest throughput: market events per second through the engine (strategy, risk and paper
//! execution state machines) on one core, with the arbitrage strategy placing orders all along.
//!
//! The input is the simulator's model: its frames (the wire format of a recording) go through the
//! market-data normalizer in batches, and only the engine's time over each batch is counted, so
//! the figure is the replay rate of an already-decoded recording; frame generation plus
//! normalization is measured and printed separately. Limits are wide so the strategy never stops
//! trading. `BENCH_EVENTS` sets the number of events (default 10 million).
//!
//! Run: `cargo bench -p polyfleet-backtest --bench throughput`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

use polyfleet_backtest::engine::Engine;
use polyfleet_core::wire::MarketEvent;
use polyfleet_sim::{SimConfig, Simulator};

const BATCH: usize = 250_000;

fn main() {
    let total: u64 = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let mut sim = Simulator::new(SimConfig {
        seed: 7,
        binary_markets: 2,
        neg_risk_events: vec![3, 4],
        mispricing_bps: 800,
        step_ms: 2,
        ..SimConfig::default()
    });
    let mut engine = Engine::new(&common::config(&sim, common::wide())).expect("engine");
    let (mut feed, primed) = common::Feed::new(&sim);
    for ev in &primed {
        engine.on_event(ev);
    }
    let mut fed = 0u64;
    let (mut engine_time, mut prep_time) = (Duration::ZERO, Duration::ZERO);
    let mut batch: Vec<MarketEvent> = Vec::with_capacity(BATCH + 64);
    while fed < total {
        let prep = Instant::now();
        batch.clear();
        feed.step(&mut sim, BATCH.min(usize::try_from(total - fed).unwrap_or(usize::MAX)), &mut batch);
        prep_time += prep.elapsed();
        let run = Instant::now();
        for ev in &batch {
            engine.on_event(ev);
        }
        engine_time += run.elapsed();
        fed += batch.len() as u64;
    }
    let frames = feed.frames;
    let j = engine.finish();
    let signals: u64 = j.strategies.iter().map(|s| s.signals).sum();
    println!("events            {fed}");
    println!("frames            {frames} (simulator model, normalized by the market-data normalizer)");
    println!("orders placed     {signals}");
    println!("fills             {}", j.fills.len());
    println!("engine time       {:.3} s", engine_time.as_secs_f64());
    println!("engine throughput {:.2} M events/s (one core)", fed as f64 / engine_time.as_secs_f64() / 1e6);
    println!(
        "generate+decode   {:.3} s ({:.2} M events/s)",
        prep_time.as_secs_f64(),
        fed as f64 / prep_time.as_secs_f64() / 1e6
    );
    assert!(signals > 0 && !j.fills.is_empty(), "the strategy must trade during the benchmark");
}

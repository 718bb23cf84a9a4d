//! `polyfleet venue-sim --generate N`: a recording of the simulator's model, written without a
//! network or a clock, so backtests and benchmarks have large inputs on any machine. First a
//! `book` snapshot of every token (what a subscriber gets), then the model's frames step by step,
//! each stamped with the model's own time; a crypto up/down round listed on the way comes with
//! the snapshots of its tokens, and the reference prices of the series (the real-time data
//! stream) are recorded beside the market channel (`"channel":"rtds"`). The same configuration
//! (seed included) gives the same bytes.

use std::io::Write;

use polyfleet_polymarket::data::recording::RecordLine;
use polyfleet_sim::{SimConfig, Simulator};

/// Writes at least `frames` frames of the model under `cfg` to `out` (the last step's frames are
/// kept whole), or fewer when every market has resolved first; returns how many were written.
pub fn generate(cfg: SimConfig, frames: u64, out: &mut dyn Write) -> std::io::Result<u64> {
    generate_from(&mut Simulator::new(cfg), frames, out)
}

/// Like [`generate`], from a model already set up (e.g. with declared markets), which is left
/// where the recording ends (its catalog then lists every round listed on the way). RTDS frames
/// count towards `frames` like market frames.
pub fn generate_from(sim: &mut Simulator, frames: u64, out: &mut dyn Write) -> std::io::Result<u64> {
    let ns = |ms: u64| ms.saturating_mul(1_000_000);
    let start = sim.now_ms();
    let mut written = 0u64;
    let tokens: Vec<_> = sim.markets().iter().flat_map(|m| [m.yes, m.no]).collect();
    for t in tokens {
        if let Some(text) = sim.snapshot_frame(&t) {
            RecordLine::frame(ns(start), text).write_to(out)?;
            written += 1;
        }
    }
    // Ends early once every market has resolved: nothing more can happen.
    while written < frames && (0..sim.markets().len()).any(|i| sim.resolution(i).is_none()) {
        let market = sim.step();
        let now = ns(sim.now_ms());
        // The reference prices first: a round's book follows them, never the other way round.
        for f in sim.take_rtds() {
            RecordLine::rtds(now, f.text).write_to(out)?;
            written += 1;
        }
        for f in market {
            RecordLine::frame(now, f.text).write_to(out)?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

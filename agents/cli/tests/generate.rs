//! `polyfleet venue-sim --generate`: the recording is deterministic (same seed, same bytes; another
//! seed, other bytes), starts with a book snapshot of every token, is all valid market-channel
//! frames in time order, loads as a replay, and the binary writes (gzip) what the library writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::process::Command;

use polyfleet_cli::generate::generate;
use polyfleet_polymarket::data::recording::{BadInput, Reader, RecordLine};
use polyfleet_polymarket::websocket::market::{Decoder, EventKind};
use polyfleet_sim::SimConfig;

fn cfg(seed: u64) -> SimConfig {
    // The command line's defaults: 2 binary markets, one 3-outcome event, 500 steps/s, 5% mispricing.
    SimConfig {
        seed,
        binary_markets: 2,
        neg_risk_events: vec![3],
        mispricing_bps: 500,
        start_ms: 1_767_225_600_000,
        step_ms: 2,
        ..SimConfig::default()
    }
}

fn bytes(seed: u64, frames: u64) -> Vec<u8> {
    let mut out = vec![];
    let n = generate(cfg(seed), frames, &mut out).unwrap();
    assert!(n >= frames);
    out
}

#[test]
fn the_same_seed_gives_the_same_valid_recording() {
    let a = bytes(7, 20_000);
    assert_eq!(a, bytes(7, 20_000), "deterministic");
    assert_ne!(a, bytes(8, 20_000));
    let lines: Vec<RecordLine> =
        String::from_utf8(a).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() >= 20_000);
    assert!(lines.windows(2).all(|w| w[0].recv_ns <= w[1].recv_ns), "time order");
    let mut d = Decoder::new();
    for l in &lines {
        d.decode(l.frame.as_deref().unwrap().as_bytes(), |_| {});
    }
    let s = d.stats();
    assert_eq!((s.malformed_frame, s.invalid_event, s.unknown_type), (0, 0, 0), "{s:?}");
    // Every token starts with a snapshot: 2 binary markets + 3 outcomes, YES and NO each.
    assert!(lines[..10].iter().all(|l| l.frame.as_deref().unwrap().contains("\"event_type\":\"book\"")));
    assert!(s.events_of(EventKind::PriceChange) > 1000 && s.events_of(EventKind::LastTrade) > 0, "{s:?}");
    // As a replay: the 10 leading snapshots are applied at once, every other frame is still to play.
    let n = lines.len();
    let replay = polyfleet_sim::replay::Replay::new(lines);
    assert_eq!(replay.remaining(), n - 10);
}

#[test]
fn the_command_writes_what_the_library_generates() {
    let path = std::env::temp_dir().join(format!("polyfleet-gen-{}.jsonl.gz", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_polyfleet"))
        .args(["venue-sim", "--seed", "7", "--generate", "3000", "--out"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let from_file: Vec<RecordLine> = Reader::read_all(&path, BadInput::Fail).unwrap().0;
    let _ = std::fs::remove_file(&path);
    let expected: Vec<RecordLine> =
        String::from_utf8(bytes(7, 3000)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(from_file, expected);
}

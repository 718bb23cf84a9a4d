//! Shared by the `up`, backtest and parity suites: the examples, private copies of them to run
//! and edit, and the arguments of a backtest and of a replay.
#![allow(dead_code, reason = "each suite uses part of it")]

use std::path::{Path, PathBuf};

use polyfleet_cli::backtest::BacktestArgs;
use polyfleet_cli::up::UpArgs;

/// `manifests/examples`.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/examples")
}

/// The crypto up/down example with the example Venue and RiskPolicy, copied into `dir`, the
/// simulator stepping `events_per_second` times a second.
pub fn crypto_resources(dir: &Path, events_per_second: u32) -> PathBuf {
    let resources = dir.join("resources");
    std::fs::create_dir_all(&resources).unwrap();
    for name in [
        "venue-simulator.yaml",
        "riskpolicy.yaml",
        "crypto-updown/market-btc-5m.yaml",
        "crypto-updown/strategy-crypto-updown.yaml",
    ] {
        let text = std::fs::read_to_string(examples().join(name))
            .unwrap()
            .replace("eventsPerSecond: 500", &format!("eventsPerSecond: {events_per_second}"));
        std::fs::write(resources.join(name.rsplit('/').next().unwrap()), text).unwrap();
    }
    resources
}

/// A backtest of `recording` on the resources in `dir`, its report in `out`: one worker, no
/// latency (the fleet replays in lockstep: every order meets the book of the event that caused
/// it), nothing unreadable skipped.
pub fn backtest_args(dir: &Path, recording: &Path, out: PathBuf) -> BacktestArgs {
    BacktestArgs {
        dir: dir.to_path_buf(),
        recording: recording.to_path_buf(),
        catalog: None,
        namespace: "default".into(),
        out,
        sweeps: vec![],
        capital: None,
        sample_ms: 1000,
        latency_ns: 0,
        workers: 1,
        progress: false,
        bad_input: polyfleet_cli::record::BadInput::Fail,
    }
}

/// `polyfleet up --replay recording` of the resources in `dir`, in process.
pub fn replay_args(dir: &Path, recording: &Path) -> UpArgs {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    UpArgs {
        dir: dir.to_path_buf(),
        namespace: "default".into(),
        metrics_addr: format!("127.0.0.1:{port}").parse().unwrap(),
        duration: None,
        replay: Some(recording.to_path_buf()),
        catalog: None,
        runtime: polyfleet_cli::up::Runtime::Inproc,
        bad_input: polyfleet_cli::record::BadInput::Fail,
        journal: None,
    }
}

/// A fresh copy of the example resources in a temporary directory named for `name`.
pub fn copy_examples(name: &str) -> PathBuf {
    let src = examples();
    let dir = std::env::temp_dir().join(format!("polyfleet-up-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    dir
}

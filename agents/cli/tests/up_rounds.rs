//! A series rolling in a live `polyfleet up`: the crypto up/down example (a `btc 5m` series
//! Market and a directional Strategy on the built-in model) on the embedded simulator with its
//! Venue's clock at 30 times the wall's, so a 5-minute round passes in 10 seconds. In both
//! runtimes (in process; and as processes on NATS and Redis), for about five rounds each: the
//! strategy, market-data and execution agents take each round the venue lists as it comes (the
//! rounds document, without restarting), the model prices the rounds it saw start, the strategy
//! trades them, they resolve and settle (more than the two rounds listed at start), and the
//! summary shows the model's Brier score against the market's.
//!
//! One test: the agents of a process read one venue clock (`polyfleet up` sets it), so the two
//! runs go one after the other. The processes runtime needs the workspace's binaries
//! (`cargo test --workspace` builds them), `nats-server` and `redis-server`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod common;

use std::path::Path;
use std::time::Duration;

use polyfleet_cli::up::{Outcome, Runtime, UpArgs, run};

/// The example at 30 times the wall clock, 200 model steps a wall second.
fn resources(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("polyfleet-up-rounds-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let resources = common::crypto_resources(&dir, 200);
    let venue = resources.join("venue-simulator.yaml");
    let text = std::fs::read_to_string(&venue).unwrap();
    assert!(text.contains("    seed: 42\n"), "the example Venue's seed line");
    std::fs::write(&venue, text.replace("    seed: 42\n", "    seed: 42\n    clockRate: 30\n")).unwrap();
    resources
}

async fn run_for(dir: &Path, runtime: Runtime, secs: u64) -> Outcome {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let args = UpArgs {
        dir: dir.to_path_buf(),
        namespace: "default".into(),
        metrics_addr: format!("127.0.0.1:{port}").parse().unwrap(),
        duration: Some(Duration::from_secs(secs)),
        replay: None,
        catalog: None,
        runtime,
        bad_input: polyfleet_cli::record::BadInput::Fail,
        journal: None,
    };
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::time::timeout(Duration::from_secs(secs + 60), run(args, stop_rx)).await.unwrap().unwrap()
}

/// The rounds rolled: more settled than were listed at start, the model scored against the
/// market, fills valued against the close.
fn assert_rolled(what: &str, outcome: &Outcome) {
    let (_, lifecycle) = outcome.lifecycle.iter().find(|(n, _)| n == "btc-updown").unwrap();
    let lifecycle = lifecycle.expect("the risk store's lifecycle totals");
    let (_, fills, _) = outcome.strategies.iter().find(|(n, _, _)| n == "btc-updown").unwrap();
    let (_, scores) = outcome.scores.iter().find(|(n, _)| n == "btc-updown").unwrap();
    eprintln!("{what}: {fills} fills, {lifecycle:?}, scores {scores:?}");
    assert!(lifecycle.settlements >= 3, "{what}: rounds beyond the two listed at start settle: {lifecycle:?}");
    let score = scores.first().unwrap_or_else(|| panic!("{what}: no forecast scored"));
    assert!(score.forecasts >= 5, "{what}: {score:?}");
    // A few rounds are too few to tell a good model from a coin; the score only has to be one.
    assert!(score.brier_micros <= 1_000_000, "{what}: {score:?}");
    assert!(score.market_brier_micros.is_some(), "{what}: the market's Brier beside it: {score:?}");
    assert!(score.clv_fills > 0, "{what}: {score:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_rolls_through_its_rounds_in_a_live_local_fleet() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // In process: about five rounds.
    let inproc = run_for(&resources("inproc"), Runtime::Inproc, 50).await;
    assert_rolled("inproc", &inproc);

    // As processes: the simulator process's Gamma API lists the rounds, the market-data and
    // execution processes follow them with `--series`.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_polyfleet")).parent().unwrap().to_path_buf();
    assert!(bin_dir.join("polyfleet-agent").is_file(), "polyfleet-agent is not built beside polyfleet");
    let runtime = Runtime::Processes { nats: None, redis: None, bin_dir: Some(bin_dir) };
    let processes = run_for(&resources("processes"), runtime, 60).await;
    assert_rolled("processes", &processes);
    assert!(processes.restarts.iter().all(|(_, n)| *n == 0), "no process restarted: {:?}", processes.restarts);
}

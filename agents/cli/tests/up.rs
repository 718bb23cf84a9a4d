//! `polyfleet up` on a copy of `manifests/examples`, in both runtimes (in process; and as processes
//! on NATS and Redis): the arbitrage strategy finds and paper-fills the simulator's mispricings,
//! the market maker's quotes rest and fill as makers, are refreshed and cancelled, `/metrics`
//! serves every agent's metrics, editing a Strategy's file changes its parameters live
//! (acknowledged by the agent), an invalid edit is reported and changes nothing, and stopping
//! cancels what is open and ends cleanly. And the arms of a time-slot experiment trading only on
//! their turns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use polyfleet_cli::up::{Runtime, UpArgs, run};
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_journal::{FillFilter, FillRow, JournalStore, Kind, Range};
use polyfleet_testkit::metric_value;

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn edit(dir: &Path, from: &str, to: &str) {
    edit_file(dir, "strategy-arbitrage.yaml", from, to);
}

fn edit_file(dir: &Path, file: &str, from: &str, to: &str) {
    let f = dir.join(file);
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains(from), "{from} not in the example");
    std::fs::write(&f, text.replace(from, to)).unwrap();
}

fn args(dir: &Path, metrics: &str, runtime: Runtime) -> UpArgs {
    UpArgs {
        dir: dir.to_path_buf(),
        namespace: "default".into(),
        metrics_addr: metrics.parse().unwrap(),
        duration: None,
        replay: None,
        catalog: None,
        runtime,
        bad_input: polyfleet_cli::record::BadInput::Fail,
        journal: Some(journal_url(dir)),
    }
}

/// The run's journal: an SQLite file beside the resource directory.
fn journal_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.with_extension("journal.db").display())
}

/// Edits the Strategy (first invalidly, then validly), stops the fleet, and checks the outcome.
async fn edit_and_stop(
    dir: &Path,
    stop: tokio::sync::watch::Sender<bool>,
    fleet: tokio::task::JoinHandle<anyhow::Result<polyfleet_cli::up::Outcome>>,
) {
    // An invalid edit is reported and changes nothing; a valid one is applied live.
    edit(dir, "minEdgeBps: 50", "minEdgeBps: -3");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    edit(dir, "minEdgeBps: -3", "minEdgeBps: 75");
    edit_file(dir, "strategy-market-making.yaml", "levels: 2", "levels: 3");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // The market maker's policy halts: its quotes are pulled, new ones refused.
    edit_file(dir, "riskpolicy-market-making.yaml", "killSwitch: \"off\"", "killSwitch: halt");
    let halted_ns = polyfleet_agent::time::now_ns();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let _ = stop.send(true);
    let outcome = tokio::time::timeout(Duration::from_secs(30), fleet).await.unwrap().unwrap().unwrap();
    let log = outcome.log.join("\n");
    assert!(log.contains("edit not applied"), "{log}");
    assert!(log.contains("negrisk-arb: parameters changed, generation 2 sent"), "{log}");
    assert!(log.contains("negrisk-arb: parameters of generation 2 applied live"), "{log}");
    assert!(log.contains("fed-mm: parameters of generation 2 applied live"), "{log}");
    let fills = |name: &str| outcome.strategies.iter().find(|(n, _, _)| n == name).map(|(_, f, _)| *f);
    assert!(fills("negrisk-arb").unwrap() > 0, "paper fills of the simulator's mispricings");
    // The market maker's quotes rested and filled as makers, and were refreshed (cancelled).
    let mm = &outcome.fills.iter().find(|(n, _)| n == "fed-mm").unwrap().1;
    let maker = mm.iter().filter(|f| f.liquidity == polyfleet_core::wire::Liquidity::Maker).count();
    assert!(maker > 0, "maker fills of the market maker's quotes: {} fills", mm.len());
    // The market maker declares drift alarms (report only): its agent watched its fills'
    // slippage against the mids it quoted at, and wrote its report where the board read it; the
    // arbitrage declares none.
    let drift = |name: &str| outcome.drift.iter().find(|(n, _)| n == name).and_then(|(_, d)| d.clone());
    let mm_drift = drift("fed-mm").expect("fed-mm's drift report");
    assert!(mm_drift.samples[1] > 0 && mm_drift.size_factor_bps == 10_000, "{mm_drift:?}");
    assert!(drift("negrisk-arb").is_none());
    // Halted: refused from then on, and nothing of its rested on the book (no fill 2 s after the
    // edit, the time the directory watcher and the execution agent's mode check take).
    let refused = &outcome.rejections.iter().find(|(n, _)| n == "fed-mm").unwrap().1;
    assert!(refused.get("kill_switch").copied().unwrap_or(0) > 0, "{refused:?} {log}");
    let late: Vec<_> = mm.iter().filter(|f| f.ts_ns > halted_ns + 2_000_000_000).collect();
    assert!(late.is_empty(), "fills after the halt: {late:?}");
    assert_eq!(outcome.open_orders, 0, "stopping cancels what is open");
    // The run's history is in its journal: every fill the board saw, once, and the decisions
    // and order updates around them.
    let journal = SqlJournal::open(&journal_url(dir)).await.unwrap();
    let kept: std::collections::HashSet<(String, String)> =
        journal.fills(&FillFilter::default(), Range::ALL).await.unwrap().iter().map(FillRow::key).collect();
    let seen: Vec<_> = outcome.fills.iter().flat_map(|(_, f)| f).collect();
    assert!(!seen.is_empty());
    for f in &seen {
        let key = polyfleet_journal::record::fill_key(f);
        assert!(kept.contains(&key), "fill {key:?} not in the journal ({} kept, {} seen)", kept.len(), seen.len());
    }
    let counts = journal.counts().await.unwrap();
    let count = |k: Kind| counts.iter().find(|(kind, _)| *kind == k).unwrap().1;
    assert!(
        count(Kind::Decision) >= kept.len() as u64 / 2 && count(Kind::Order) > 0 && count(Kind::Intent) > 0,
        "{counts:?}"
    );
    journal.close().await;
    // Its report: each strategy's realized PnL, folded from the journal's fills and
    // conditional-token reports, is the execution agent's to the micro-USDC.
    let out = dir.with_extension("report");
    let args = polyfleet_cli::report::ReportArgs {
        journal: Some(journal_url(dir)),
        query: polyfleet_cli::report::Query::default(),
        out: out.clone(),
    };
    let report = polyfleet_cli::report::run(&args).await.unwrap();
    for (name, realized) in &outcome.realized {
        let Some(realized) = realized else { continue };
        let line = report.summary.strategies.iter().find(|l| &l.strategy == name);
        let reported = line.map_or(polyfleet_core::Money::ZERO, |l| l.realized);
        assert_eq!(
            reported, *realized,
            "{name}: realized in the report vs the risk store; not booked: {:?}",
            report.unbooked
        );
    }
    let sum: i64 = report.summary.strategies.iter().map(|l| l.pnl.micros()).sum();
    assert_eq!(sum, report.summary.pnl.micros());
    // The journal kept the traded tokens' mids: each strategy's attribution against them sums
    // exactly (micro-USDC × price scale, before rounding) to its cash plus its positions at their
    // last mids, and fills were marked out.
    assert!(report.mids > 0, "no mid journaled");
    assert!(!report.analytics.is_empty(), "no attribution");
    for (name, a) in &report.analytics {
        assert!(
            a.reconciled,
            "{name}: the attribution does not sum to cash and positions at mid: {:?}",
            a.pnl_attribution
        );
    }
    let measured: u64 = report.analytics.values().filter_map(|a| a.markouts.as_ref()).map(|c| c.all[0].fills).sum();
    assert!(measured > 0, "no fill marked out at 1 s: {:?}", report.analytics);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("<table id=\"trades\">") && page.contains("id=\"attribution-"),
        "attribution section missing"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(dir.with_extension("journal.db"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_fleet_trades_serves_metrics_and_takes_parameter_edits() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = common::copy_examples("inproc");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let fleet = tokio::spawn(run(args(&dir, &addr, Runtime::Inproc), stop_rx));
    // The metrics endpoint comes up with the fleet; the order path counts as it trades.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        assert!(Instant::now() < deadline, "no fills counted within 30 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
        if TcpStream::connect(&addr).is_err() {
            continue;
        }
        let m = get(&addr, "/metrics");
        if m.contains("polyfleet_execution_fills_total{kind=\"taker\"}") {
            break m;
        }
    };
    for family in ["polyfleet_strategy_negrisk_arb_signals", "polyfleet_risk_decisions", "polyfleet_execution_orders"] {
        assert!(metrics.contains(family), "{family} missing from /metrics");
    }
    assert_eq!(metrics.matches("# EOF").count(), 1, "one exposition");
    // The market maker refreshes its quotes: some are replaced (cancelled and placed again).
    let replaced = "polyfleet_strategy_fed_mm_rule_events_total{kind=\"quotes_replaced\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no quote replaced within 30 s");
        let m = get(&addr, "/metrics");
        if metric_value(&m, replaced) > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The example venue runs a reward program: the market maker scores its quotes against it
    // (the first sample at its first timer) and shows what they earned.
    let m = get(&addr, "/metrics");
    let samples = "polyfleet_strategy_fed_mm_reward_samples{kind=\"samples\"}";
    let n = metric_value(&m, samples);
    assert!(
        n >= 1.0,
        "no reward sample taken: {}",
        m.lines().filter(|l| l.contains("reward")).collect::<Vec<_>>().join("\n")
    );
    assert!(m.contains("polyfleet_strategy_fed_mm_earnings_micros{kind=\"rewards_estimated\"}"));
    edit_and_stop(&dir, stop_tx, fleet).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same with every agent and the simulator as processes on a NATS and a Redis started for the
/// run (the binaries of the workspace: `cargo test --workspace` builds them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processes_runtime_trades_over_nats_and_redis_and_takes_parameter_edits() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_polyfleet")).parent().unwrap().to_path_buf();
    assert!(
        bin_dir.join("polyfleet-agent").is_file(),
        "polyfleet-agent is not built beside polyfleet: run `cargo test --workspace` (or build the workspace)"
    );
    let dir = common::copy_examples("processes");
    let runtime = Runtime::Processes { nats: None, redis: None, bin_dir: Some(bin_dir) };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let fleet = tokio::spawn(run(args(&dir, "127.0.0.1:0", runtime), stop_rx));
    // Let it trade a while (the processes start, connect and subscribe first).
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(!fleet.is_finished(), "the fleet stopped early: {:?}", fleet.await);
    edit_and_stop(&dir, stop_tx, fleet).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The experiment example's arms taking turns (`interleave: timeSlot`, 1 s slots) under
/// `polyfleet up`, their agents in process: every order each arm placed was placed on its own
/// turn (the core's schedule, checked against the journal's intents), each arm's open quotes
/// were cancelled as its turns ended, and the journal's report compares the arms block by block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arms_of_a_time_slot_experiment_trade_only_on_their_turns() {
    use polyfleet_core::analytics::experiment::arm_in_slot;
    use polyfleet_core::analytics::sequential::Arm;
    use polyfleet_core::wire::{Intent, decode};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("polyfleet-up-turns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let examples = common::examples();
    std::fs::copy(examples.join("venue-simulator.yaml"), dir.join("venue-simulator.yaml")).unwrap();
    for f in std::fs::read_dir(examples.join("experiment")).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        let text =
            text.replace("interleave: market ", "interleave: timeSlot ").replace("slotSeconds: 5 ", "slotSeconds: 1 ");
        std::fs::write(dir.join(f.file_name().unwrap()), text).unwrap();
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let fleet = tokio::spawn(run(args(&dir, "127.0.0.1:0", Runtime::Inproc), stop_rx));
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(!fleet.is_finished(), "the fleet stopped early: {:?}", fleet.await);
    let _ = stop_tx.send(true);
    let outcome = tokio::time::timeout(Duration::from_secs(30), fleet).await.unwrap().unwrap().unwrap();
    assert_eq!(outcome.open_orders, 0, "stopping cancels what is open");
    let journal = SqlJournal::open(&journal_url(&dir)).await.unwrap();
    let orders = polyfleet_journal::orders::read(&journal, Range::ALL).await.unwrap();
    let mut parked_cancels = std::collections::BTreeMap::<String, u64>::new();
    for e in journal.entries(Kind::Intent, Range::ALL).await.unwrap() {
        if let Ok(Intent::Cancel(c)) = decode::<Intent>(&e.payload)
            && c.reason == "experiment arm parked"
        {
            *parked_cancels.entry(c.strategy).or_default() += 1;
        }
    }
    journal.close().await;
    for (name, arm) in [("quoting-control", Arm::A), ("quoting-aggressive", Arm::B)] {
        let placed: Vec<_> = orders.iter().filter(|o| o.strategy == name).collect();
        assert!(!placed.is_empty(), "{name} placed nothing");
        let slot = |ns: u64| i64::try_from(ns / 1_000_000_000).unwrap();
        let off_turn: Vec<_> = placed.iter().filter(|o| arm_in_slot("quoting", slot(o.created_ts_ns)) != arm).collect();
        assert!(off_turn.is_empty(), "{name}: {} of {} orders placed off its turn", off_turn.len(), placed.len());
        assert!(parked_cancels.get(name).copied().unwrap_or(0) > 0, "{name}: no quote cancelled at a turn's end");
    }
    let out = dir.with_extension("report");
    let ab = polyfleet_cli::report::AbArgs {
        arms: Some("quoting-control,quoting-aggressive".into()),
        slot: "1s".into(),
        alpha: 0.05,
        effect: "1".into(),
        burn_in: 30,
        max_pairs: 10_000,
        turns: true,
    };
    let query = polyfleet_cli::report::Query { ab: Some(ab), ..Default::default() };
    let args = polyfleet_cli::report::ReportArgs { journal: Some(journal_url(&dir)), query, out: out.clone() };
    let report = polyfleet_cli::report::run(&args).await.unwrap();
    let ab = report.ab.as_ref().unwrap_or_else(|| panic!("no comparison: {:?}", report.ab_error));
    assert!(ab.turns && ab.pairs >= 3, "{ab:?}");
    eprintln!("up, time slots: {} orders, parked cancels {parked_cancels:?}; {}", orders.len(), ab.describe());
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(dir.with_extension("journal.db"));
    let _ = std::fs::remove_dir_all(&dir);
}

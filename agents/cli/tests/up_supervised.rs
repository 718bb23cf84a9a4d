//! `polyfleet up --runtime processes` as a user runs it (the binary, output piped), with faults
//! injected the way they happen: the Redis it was given goes away and comes back, the market-data
//! agent freezes (SIGSTOP), and NATS and every agent are killed with SIGKILL. The printed boards
//! must say so (the store unreadable with PnL and positions "unknown", never 0; the feed stale;
//! each death and restart), dead processes must be reaped (no zombies), the fleet must keep
//! trading afterwards, and the final board must match what Redis holds. Every process writes a
//! plain-text log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_testkit::RedisServer;

/// The run's output, line by line, as it comes.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<String>>>);

impl Output {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }

    /// Waits for a line after `from` satisfying `f`; its index.
    fn wait_line(&self, from: usize, what: &str, f: impl Fn(&str) -> bool) -> usize {
        self.wait(what, || self.0.lock().unwrap().iter().enumerate().skip(from).find(|(_, l)| f(l)).map(|(i, _)| i))
    }

    /// Waits for a board (a block from a `polyfleet up:` header to the end of its `processes:`
    /// list, seen once the next line came)
    /// that starts after `from` and satisfies `f`; its first line index and text.
    fn wait_board(&self, from: usize, what: &str, f: impl Fn(&str) -> bool) -> (usize, String) {
        self.wait(what, || {
            let lines = self.0.lock().unwrap();
            let (mut start, mut listing) = (None, false);
            let mut found = None;
            for (i, l) in lines.iter().enumerate().skip(from) {
                if let Some(s) = start
                    && listing
                    && !l.starts_with("  ")
                {
                    let board = lines[s..i].join("\n");
                    if f(&board) {
                        found = Some((s, board));
                    }
                    (start, listing) = (None, false);
                }
                if l.starts_with("polyfleet up: ") {
                    (start, listing) = (Some(i), false);
                } else if l == "processes:" {
                    listing = true;
                }
            }
            found
        })
    }

    fn wait<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            if let Some(x) = f() {
                return x;
            }
            assert!(Instant::now() < deadline, "no {what} within 45 s; output:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A strategy row's columns: name, pnl, realized, positions, open, signals, fills.
fn row(board: &str) -> Vec<String> {
    let line = board.lines().find(|l| l.starts_with("negrisk-arb ")).expect("the strategy's row");
    line.split_whitespace().take(7).map(String::from).collect()
}

fn fills(board: &str) -> u64 {
    row(board)[6].parse().unwrap()
}

/// Risk decisions seen: fills plus rejections of every reason.
fn decided(board: &str) -> u64 {
    let line = board.lines().find(|l| l.starts_with("negrisk-arb ")).expect("the strategy's row");
    let rejected: u64 = line.split_whitespace().skip(7).filter_map(|r| r.rsplit_once(':')?.1.parse::<u64>().ok()).sum();
    fills(board) + rejected
}

/// Kills the run if the test fails before it stops it.
struct Run(std::process::Child);

impl Drop for Run {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn pid(work: &Path, name: &str) -> i32 {
    std::fs::read_to_string(work.join(format!("{name}.pid"))).unwrap().trim().parse().unwrap()
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a pid the run wrote to its pid file.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {sig} {pid}");
}

/// Gone, or at least not a zombie left unreaped.
fn reaped(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervised_fleet_reports_heals_and_ends_with_a_true_board_after_every_fault() {
    let exe = env!("CARGO_BIN_EXE_polyfleet");
    assert!(
        Path::new(exe).with_file_name("polyfleet-agent").is_file(),
        "polyfleet-agent is not built beside polyfleet: run `cargo test --workspace` (or build the workspace)"
    );
    let dir = common::copy_examples("supervised");
    let mut redis = RedisServer::start();
    let mut up = Run(Command::new(exe)
        .args([
            "up",
            "--journal",
            "none",
            "--runtime",
            "processes",
            "--redis",
            &redis.url,
            "--metrics-addr",
            "127.0.0.1:0",
            "-f",
        ])
        .arg(&dir)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap());
    let out = Output::default();
    let reader = {
        let (out, stdout) = (out.clone(), up.0.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                out.0.lock().unwrap().push(line);
            }
        })
    };
    let header = out.wait_line(0, "header", |l| l.contains("logs, pid files and data in "));
    let work = PathBuf::from(out.0.lock().unwrap()[header].rsplit_once(" in ").unwrap().1);
    let (_, first) = out.wait_board(0, "a board with fills", |b| fills(b) > 0);
    assert!(first.contains("  redis                    reachable (given by URL)"), "{first}");

    // Redis goes away: the board says so and shows unknown, never 0; then it comes back.
    redis.stop();
    let at = out.wait_line(0, "the Redis outage line", |l| l.ends_with("redis (given by URL) is unreachable"));
    let (_, b) = out.wait_board(at, "a board without Redis", |b| b.contains("risk store unreadable ("));
    assert!(b.contains("PnL and positions unknown") && b.contains("redis                    UNREACHABLE for"), "{b}");
    assert_eq!(row(&b)[1..4], ["unknown", "unknown", "unknown"], "{b}");
    redis.resume();
    let at = out.wait_line(at, "Redis back", |l| l.contains("redis (given by URL) is reachable again after"));
    let (_, b) = out.wait_board(at, "a board with Redis back", |b| !b.contains("unreadable"));
    assert!(row(&b)[1..4].iter().all(|c| c != "unknown"), "{b}");

    // The market-data agent freezes: the feed is shown stale, then live again.
    let md = pid(&work, "market-data");
    signal(md, libc::SIGSTOP);
    let (at, b) = out.wait_board(out.len(), "a stale feed", |b| b.contains("feed: STALE, no market event for "));
    assert!(b.contains("books were live"), "{b}");
    signal(md, libc::SIGCONT);
    out.wait_board(at + 1, "the feed live again", |b| b.contains("feed: 8/8 books live"));

    // NATS and each agent killed: each death and restart reported, the dead reaped.
    for name in ["nats", "market-data", "strategy-negrisk-arb", "risk", "execution"] {
        let before = out.len();
        let old = pid(&work, name);
        signal(old, libc::SIGKILL);
        let died = out.wait_line(before, &format!("{name}'s death"), |l| {
            l.contains(&format!("] {name} died (killed by signal 9 (SIGKILL)) after"))
        });
        out.wait_line(died, &format!("{name}'s restart"), |l| l.contains(&format!("] {name} restarted (restart ")));
        assert!(reaped(old), "{name}'s old process {old} is a zombie");
        assert_ne!(pid(&work, name), old, "{name} has a new pid");
        let (_, b) = out.wait_board(died, &format!("{name} up again"), |b| {
            b.lines().any(|l| l.starts_with(&format!("  {name} ")) && l.contains(" up "))
        });
        assert!(b.contains("restarts 1"), "{b}");
    }
    // Afterwards the order path still runs end to end on a live feed: new signals get risk
    // decisions (fills, or refusals: the losses the faults caused may well have tripped the
    // example policy's circuit breaker, which is the breaker doing its job).
    let (_, b) = out.wait_board(out.len(), "a board after the faults", |_| true);
    let decided_then = decided(&b);
    out.wait_board(out.len(), "new decisions after every fault", |b| {
        decided(b) > decided_then && b.contains("feed: 8/8 books live")
    });

    // Ctrl-C: orders cancelled, processes stopped, the final board true to Redis.
    signal(i32::try_from(up.0.id()).unwrap(), libc::SIGINT);
    let status = tokio::task::spawn_blocking(move || up.0.wait()).await.unwrap().unwrap();
    reader.join().unwrap();
    assert!(status.success(), "{status}; output:\n{}", out.text());
    let text = out.text();
    let fin = &text[text.rfind("final:").expect("a final board")..];
    let restarts = fin.lines().find(|l| l.starts_with("restarts during the run: ")).expect("the restarts line");
    for name in ["nats 1", "market-data 1", "strategy-negrisk-arb 1", "risk 1", "execution 1"] {
        assert!(restarts.contains(name), "{restarts}");
    }
    let cols = row(fin);
    let store = RedisRiskStore::connect(&redis.url).await.unwrap();
    let positions = store.positions(&PolicyKey::new("default", "default"), "negrisk-arb").await.unwrap();
    let held = positions.iter().filter(|(_, p)| !p.size.is_zero()).count();
    let realized = positions.iter().fold(polyfleet_core::Money::ZERO, |a, (_, p)| a.checked_add(p.realized).unwrap());
    assert_eq!(cols[2], realized.to_string(), "the final realized PnL is Redis's: {fin}");
    assert_eq!(cols[3], held.to_string(), "the final positions are Redis's: {fin}");
    assert_eq!(cols[4], "0", "stopping cancels what is open: {fin}");

    // Every process wrote plain text to its log.
    for name in ["venue-sim", "nats", "market-data", "strategy-negrisk-arb", "risk", "execution"] {
        let log = std::fs::read_to_string(work.join(format!("{name}.log"))).unwrap();
        assert!(log.lines().count() > 2, "{name}.log is (nearly) empty:\n{log}");
        assert!(!log.contains('\x1b'), "{name}.log has terminal escapes");
    }
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&dir);
}

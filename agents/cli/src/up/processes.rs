//! The `processes` runtime: the fleet as a cluster runs it, on one machine. The simulator
//! (`polyfleet venue-sim -f DIR`, the same model and market ids the plan was made from) and each
//! agent (`polyfleet-agent market-data | strategy | risk | execution`) run as their own
//! processes, talking over NATS (JetStream) and keeping risk state in Redis, given by `--nats` /
//! `--redis` or started for the run. Each agent serves its own `/metrics`; their logs go to the
//! run's directory. Stopping cancels open orders, then sends every process SIGTERM (the agents
//! stop cleanly on it) and kills what is left after 5 s.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use polyfleet_runtime::bus::nats::NatsBus;
use polyfleet_runtime::risk_store::redis::RedisRiskStore;
use polyfleet_testkit::{NatsServer, RedisServer, free_port, wait_for_port};
use tokio::sync::watch as tokio_watch;

use super::board::Board;
use super::feed::FeedStats;
use super::{Header, Outcome, Prepared, Runtime, UpArgs, finish, supervise};

/// The run's processes.
struct Children {
    list: Vec<(String, Child, u16)>,
}

impl Children {
    fn spawn(&mut self, name: &str, mut cmd: Command, logs: &Path, metrics_port: u16) -> anyhow::Result<()> {
        let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.list.push((name.to_string(), child, metrics_port));
        Ok(())
    }

    /// Waits until every agent answers `/readyz` with 200 (or `deadline` passes); the names of
    /// those that are not ready.
    async fn wait_ready(&mut self, deadline: Instant) -> Vec<String> {
        loop {
            let mut waiting = vec![];
            for (name, child, port) in &mut self.list {
                if *port == 0 {
                    continue;
                }
                if let Ok(Some(status)) = child.try_wait() {
                    waiting.push(format!("{name} (exited: {status})"));
                } else if !ready(*port).await {
                    waiting.push(name.clone());
                }
            }
            if waiting.is_empty() || Instant::now() >= deadline {
                return waiting;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(&mut self) {
        for (_, child, _) in &self.list {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for (name, child, _) in &mut self.list {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if matches!(child.try_wait(), Ok(None)) {
                eprintln!("{name} did not stop within 5 s: killing it");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.list {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

async fn ready(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    let req = "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 64];
    let n = s.read(&mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}

fn binary(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} not found: build the workspace first (`bash scripts/setup.sh` or `cargo build --workspace`)",
        path.display()
    );
    Ok(path)
}

/// The server at `given`, or one of `program` started for the run (stopped when dropped).
fn server<T>(
    given: &Option<String>,
    program: &str,
    start: impl FnOnce() -> (T, String),
) -> anyhow::Result<(Option<T>, String)> {
    if let Some(url) = given {
        return Ok((None, url.clone()));
    }
    let found = Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    anyhow::ensure!(found.is_ok(), "{program} is not installed (`bash scripts/setup.sh` installs it), or pass its URL");
    let (s, url) = start();
    Ok((Some(s), url))
}

/// Runs the fleet as processes.
pub(crate) async fn run(args: &UpArgs, p: Prepared, stop: tokio_watch::Receiver<bool>) -> anyhow::Result<Outcome> {
    let Runtime::Processes { nats, redis, bin_dir } = &args.runtime else { anyhow::bail!("not the processes runtime") };
    let bin_dir = match bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?.parent().context("the binary's directory")?.to_path_buf(),
    };
    let polyfleet = binary(&bin_dir, "polyfleet")?;
    let agent = binary(&bin_dir, "polyfleet-agent")?;
    // Infrastructure: given, or started for the run (stopped when it ends).
    let (_nats_server, nats_url) = server(nats, "nats-server", || {
        let s = NatsServer::start();
        let url = s.url.clone();
        (s, url)
    })?;
    let (_redis_server, redis_url) = server(redis, "redis-server", || {
        let s = RedisServer::start();
        let url = s.url.clone();
        (s, url)
    })?;
    let work = std::env::temp_dir().join(format!("polyfleet-up-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    println!(
        "polyfleet up (processes): NATS {nats_url}, Redis {redis_url}, logs and configuration in {}",
        work.display()
    );
    let bus = NatsBus::connect(&nats_url).await?;
    let store = RedisRiskStore::connect(&redis_url).await?;
    p.seed(&bus, &store).await?;
    let venue = p.venue_name();
    let mut children = Children { list: vec![] };
    // The simulator: the same directory, so the same model and the same market ids.
    let sim_port = free_port();
    let mut sim = Command::new(&polyfleet);
    sim.args(["venue-sim", "--addr", &format!("127.0.0.1:{sim_port}"), "-f"]).arg(&args.dir);
    children.spawn("venue-sim", sim, &work, 0)?;
    wait_for_port(sim_port, "the simulator");
    let common = |cmd: &mut Command, port: u16| {
        cmd.args(["--nats", &nats_url, "--metrics-addr", &format!("127.0.0.1:{port}")]);
    };
    let all_tokens: Vec<String> =
        p.catalog.markets.iter().flat_map(|m| m.tokens.iter().map(|t| t.token_id.to_string())).collect();
    let mut endpoints = vec![];
    let port = free_port();
    let mut md = Command::new(&agent);
    md.args(["market-data", "--venue", &venue, "--ws-url", &format!("ws://127.0.0.1:{sim_port}/ws/market")]);
    md.args(["--rest-url", &format!("http://127.0.0.1:{sim_port}"), "--tokens", &all_tokens.join(",")]);
    common(&mut md, port);
    children.spawn("market-data", md, &work, port)?;
    endpoints.push(format!("market-data :{port}"));
    for s in &p.strategies {
        let file = work.join(format!("strategy-{}.json", s.name));
        std::fs::write(&file, serde_json::to_vec_pretty(s)?)?;
        let port = free_port();
        let mut cmd = Command::new(&agent);
        cmd.args(["strategy", "--config"]).arg(&file);
        common(&mut cmd, port);
        children.spawn(&format!("strategy-{}", s.name), cmd, &work, port)?;
        endpoints.push(format!("{} :{port}", s.name));
    }
    let port = free_port();
    let mut risk = Command::new(&agent);
    risk.args(["risk", "--venue", &venue, "--namespace", "*", "--durable", "risk-local", "--redis", &redis_url]);
    risk.args(["--liquidity-band-bps", &p.plan.liquidity_band_bps.to_string()]);
    common(&mut risk, port);
    children.spawn("risk", risk, &work, port)?;
    endpoints.push(format!("risk :{port}"));
    let markets = work.join("markets.json");
    std::fs::write(&markets, serde_json::to_vec_pretty(&p.traded_tokens())?)?;
    let port = free_port();
    let mut exec = Command::new(&agent);
    exec.args(["execution", "--venue", &venue, "--namespace", "*", "--durable", "execution-local"]);
    exec.args(["--redis", &redis_url, "--markets"]).arg(&markets);
    common(&mut exec, port);
    children.spawn("execution", exec, &work, port)?;
    endpoints.push(format!("execution :{port}"));
    let board = Board::new(p.strategies.clone());
    let (shutdown_tx, shutdown) = tokio_watch::channel(false);
    let listener = {
        let (board, bus, venue) = (board.clone(), bus.clone(), venue.clone());
        tokio::spawn(async move { board.listen(bus, &venue, shutdown).await })
    };
    let late = children.wait_ready(Instant::now() + Duration::from_secs(30)).await;
    if !late.is_empty() {
        eprintln!("not ready after 30 s: {} (see the logs in {})", late.join(", "), work.display());
    }
    let header = Header {
        runtime: "processes",
        source: format!("simulator process on :{sim_port}"),
        metrics: format!("http://127.0.0.1:<port>/metrics of {}", endpoints.join(", ")),
        feed: Arc::new(FeedStats::default()),
    };
    let log = supervise(args, &p, &bus, &store, &board, &header, stop).await;
    let _ = shutdown_tx.send(true);
    let _ = listener.await;
    children.stop().await;
    Ok(finish(&board, log))
}

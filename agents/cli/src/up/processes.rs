//! The `processes` runtime: the fleet as a cluster runs it, on one machine. NATS (JetStream) and
//! Redis (append-only file), unless given by `--nats` / `--redis`, the simulator (`polyfleet
//! venue-sim -f DIR`, the same model and market ids the plan was made from) and each agent
//! (`polyfleet-agent market-data | strategy | risk | execution`) run as their own processes under
//! the [`Supervisor`], which restarts whatever dies, with backoff, and reports it on the board.
//! Each agent serves its own `/metrics`; logs, pid files and the servers' data are in the run's
//! directory. Stopping cancels open orders, then sends every process SIGTERM (the agents stop
//! cleanly on it) and kills what is left after 5 s.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_operator::planner::venue::VenueEndpoints;
use tokio::sync::watch as tokio_watch;

use super::board::Board;
use super::feed::FeedStats;
use super::supervisor::{Probe, Spec, Supervisor};
use super::{Header, Outcome, Prepared, Runtime, UpArgs, finish, supervise};

/// A free TCP port on 127.0.0.1 (bound and released).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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

/// The server at `given` (probed), or `program` started under supervision with its data in
/// `work/<name>`; its URL.
fn server(
    procs: &mut Supervisor,
    given: &Option<String>,
    name: &str,
    program: &str,
    args: impl FnOnce(u16, &Path) -> Vec<String>,
) -> anyhow::Result<String> {
    if let Some(url) = given {
        procs.watch_external(name, url);
        return Ok(url.clone());
    }
    let found = Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    anyhow::ensure!(found.is_ok(), "{program} is not installed (`bash scripts/setup.sh` installs it), or pass its URL");
    let port = free_port()?;
    let data = procs.dir().join(name);
    std::fs::create_dir_all(&data)?;
    let mut spec = Spec::new(name, program, Probe::Port(port)).args(args(port, &data));
    spec.infrastructure = true;
    procs.start(spec)?;
    Ok(port_url(name, port))
}

fn port_url(name: &str, port: u16) -> String {
    format!("{name}://127.0.0.1:{port}")
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
    let work = std::env::temp_dir().join(format!("polyfleet-up-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let mut procs = Supervisor::new(&work);
    // Infrastructure: given, or started for the run under supervision (stopped when it ends).
    let nats_url = server(&mut procs, nats, "nats", "nats-server", |port, data| {
        let (port, data) = (port.to_string(), data.display().to_string());
        vec!["-js".into(), "-a".into(), "127.0.0.1".into(), "-p".into(), port, "-sd".into(), data]
    })?;
    let redis_url = server(&mut procs, redis, "redis", "redis-server", |port, data| {
        let (port, data) = (port.to_string(), data.display().to_string());
        let args = ["--bind", "127.0.0.1", "--port", &port, "--save", "", "--appendonly", "yes"];
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--appendfsync".into(), "always".into(), "--dir".into(), data]);
        v
    })?;
    let infra_late = procs.wait_ready(Instant::now() + Duration::from_secs(10)).await;
    anyhow::ensure!(infra_late.is_empty(), "{} did not start (see {})", infra_late.join(", "), work.display());
    println!(
        "polyfleet up (processes): NATS {}, Redis {}, logs, pid files and data in {}",
        redacted(&nats_url),
        redacted(&redis_url),
        work.display()
    );
    let bus = NatsBus::connect(&nats_url).await?;
    let store = RedisRiskStore::connect(&redis_url).await?;
    p.seed(&bus, &store).await?;
    let venue = p.venue_name();
    // The simulator: the same directory, so the same model and the same market ids.
    let sim_port = free_port()?;
    let sim_addr = format!("127.0.0.1:{sim_port}");
    // A simulator Venue's accelerated clock, the same for every process of the run.
    let clock = polyfleet_agent::time::venue_clock().map(|c| c.encode());
    let with_clock = |spec: Spec| match &clock {
        Some(c) => spec.env(polyfleet_core::clock::ENV, c),
        None => spec,
    };
    procs.start(with_clock(
        Spec::new("venue-sim", &polyfleet, Probe::Port(sim_port))
            .args(["venue-sim", "--addr", &sim_addr, "-f"])
            .args([&args.dir]),
    ))?;
    // An agent: its subcommand and arguments, then the bus and its metrics address.
    let agent_spec = |name: &str, args: Vec<std::ffi::OsString>| -> anyhow::Result<(Spec, u16)> {
        let port = free_port()?;
        let spec = Spec::new(name, &agent, Probe::Readyz(port)).args(args).args([
            "--nats",
            &nats_url,
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
        ]);
        Ok((with_clock(spec), port))
    };
    let os = |v: &[&str]| -> Vec<std::ffi::OsString> { v.iter().map(Into::into).collect() };
    let all_tokens: Vec<String> =
        p.catalog.markets.iter().flat_map(|m| m.tokens.iter().map(|t| t.token_id.to_string())).collect();
    let (ws, rest) = (format!("ws://{sim_addr}/ws/market"), format!("http://{sim_addr}"));
    // The tokens in a file, one a line, as the operator mounts a shard's (a large venue's token
    // ids do not fit one argument).
    let tokens_file = work.join("market-data-tokens.txt");
    std::fs::write(&tokens_file, all_tokens.join("\n"))?;
    let mut md = os(&["market-data", "--venue", &venue, "--ws-url", &ws, "--rest-url", &rest, "--tokens-file"]);
    md.push(tokens_file.into());
    // The live series' rounds, served and executed as they come.
    let series = p.rounds.keys().join(",");
    if !series.is_empty() {
        md.extend(os(&["--series", &series]));
    }
    let mut agents = vec![("market-data".to_string(), md)];
    for s in &p.strategies {
        let file = work.join(format!("strategy-{}.json", s.name));
        std::fs::write(&file, serde_json::to_vec_pretty(s)?)?;
        let mut a = os(&["strategy", "--config"]);
        a.push(file.into());
        agents.push((format!("strategy-{}", s.name), a));
    }
    // Built-in model publishers, on the simulator's Gamma API and real-time data stream.
    let rtds = format!("ws://{sim_addr}/rtds");
    for m in p.plan.strategies.iter().flat_map(|s| &s.models) {
        let mut a = os(&[m.role().as_str()]);
        a.extend(m.args(&venue, &rest, &rtds).into_iter().map(Into::into));
        if let Some(key) = m.key_secret() {
            // The feed's key: inherited from this process's environment (`local_secret_var`).
            a.extend(os(&["--odds-key-env", &polyfleet_operator::local::local_secret_var(key)]));
        }
        agents.push((m.name.clone(), a));
    }
    let band = p.plan.liquidity_band_bps.to_string();
    let durable = |d: &str| os(&["--venue", &venue, "--namespace", "*", "--durable", d, "--redis", &redis_url]);
    let mut risk = os(&["risk"]);
    risk.extend(durable("risk-local"));
    risk.extend(os(&["--liquidity-band-bps", &band]));
    agents.push(("risk".into(), risk));
    let markets = work.join("markets.json");
    std::fs::write(&markets, serde_json::to_vec_pretty(&p.traded_tokens())?)?;
    let mut exec = os(&["execution"]);
    exec.extend(durable("execution-local"));
    exec.extend([std::ffi::OsString::from("--markets"), markets.into()]);
    if !series.is_empty() {
        exec.extend(os(&["--series", &series]));
    }
    agents.push(("execution".into(), exec));
    for config in &p.plan.notifiers {
        // Its secrets: inherited from this process's environment (`local_secret_var`).
        let json = serde_json::to_string(config)?;
        agents.push((format!("notify-{}", config.risk_policy), os(&["notify", "--config", &json])));
    }
    let mut endpoints = vec![];
    for (name, a) in agents {
        let (spec, port) = agent_spec(&name, a)?;
        procs.start(spec)?;
        endpoints.push(format!("{} :{port}", name.strip_prefix("strategy-").unwrap_or(&name)));
    }
    if let Some(url) = &args.journal {
        // The database URL goes by environment: a PostgreSQL one holds a password.
        let (spec, port) = agent_spec("journal", os(&["journal", "--namespace", "*", "--durable", "journal-local"]))?;
        procs.start(spec.env("POLYFLEET_JOURNAL_URL", url))?;
        endpoints.push(format!("journal :{port}"));
    }
    let board = Board::new(p.strategies.clone());
    let (shutdown_tx, shutdown) = tokio_watch::channel(false);
    let listener = {
        let (board, bus, venue) = (board.clone(), bus.clone(), venue.clone());
        tokio::spawn(async move { board.listen(bus, &venue, shutdown).await })
    };
    let late = procs.wait_ready(Instant::now() + Duration::from_secs(30)).await;
    if !late.is_empty() {
        eprintln!("not ready after 30 s: {} (see the logs in {})", late.join(", "), work.display());
    }
    let mut header = Header {
        runtime: "processes",
        source: format!("simulator process on :{sim_port}"),
        metrics: format!("http://127.0.0.1:<port>/metrics of {}", endpoints.join(", ")),
        feed: Arc::new(FeedStats::default()),
        procs: Some(procs),
        strategies_stop: None,
        rounds: (!p.rounds.is_empty()).then(|| {
            let at = VenueEndpoints {
                market_ws: ws.clone(),
                clob: rest.clone(),
                gamma: rest.clone(),
                user_ws: format!("ws://{sim_addr}/ws/user"),
                polygon_rpc: Some(format!("{rest}/rpc")),
                rtds: rtds.clone(),
                relayer: format!("{rest}/relayer"),
            };
            (p.rounds.clone(), polyfleet_operator::lookup::RestLookup::default(), at)
        }),
    };
    let log = supervise(args, &p, &bus, &store, &board, &mut header, stop).await;
    let mut procs = header.procs.take().context("the supervisor")?;
    let _ = shutdown_tx.send(true);
    let _ = listener.await;
    procs.stop().await;
    Ok(finish(&board, log, procs.restarts()))
}

/// A URL without its password.
fn redacted(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://***@{host}")
        }
        _ => url.to_string(),
    }
}

//! `polyfleet`: the command line. `up` runs a local fleet from resource YAML; `backtest` replays a recording through a resource directory's
//! strategies; `venue-sim` runs the venue simulator (or writes a recording of its model);
//! `record` records a venue's market channel to JSON Lines.

use polyfleet_backtest::report::Report;
use polyfleet_cli::{backtest, local, record, up};
use polyfleet_core::Money;
use polyfleet_polymarket::data::catalog::Catalog;
use polyfleet_polymarket::data::recording::{BadInput, Reader};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use polyfleet_core::TokenId;
use polyfleet_sim::{SimConfig, Simulator, server};
use tokio::sync::watch;

/// polyfleet: a Kubernetes-native trading fleet for prediction markets.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole fleet on this machine from resource YAML (the operator's planner decides what
    /// runs; paper trading against the Venue's simulator), with a live summary and /metrics.
    Up {
        /// Resource directory (or file), as for `kubectl apply -f`.
        #[arg(short = 'f', long = "filename", default_value = "manifests/examples")]
        resources: PathBuf,
        /// Namespace of objects that name none.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// Runtime: `inproc` (one process, in-memory bus and risk store) or `processes` (each
        /// agent and the simulator its own process, on NATS and Redis).
        #[arg(long, default_value = "inproc", value_parser = ["inproc", "processes"])]
        runtime: String,
        /// NATS URL for `processes` (default: a `nats-server -js` started for the run).
        #[arg(long)]
        nats: Option<String>,
        /// Redis URL for `processes` (default: a `redis-server` started for the run; a password
        /// comes from REDIS_PASSWORD only).
        #[arg(long)]
        redis: Option<String>,
        /// Where /metrics is served.
        #[arg(long, default_value = "127.0.0.1:9464")]
        metrics_addr: SocketAddr,
        /// Stop after this many seconds (default: at Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        /// Replay this recording as the venue (paper, in lockstep at the recording's time: the
        /// fleet decides as `polyfleet backtest` of the same recording does); stops at its end.
        #[arg(long)]
        replay: Option<PathBuf>,
        /// Market catalog of the replay (default: `<recording>.markets.json`).
        #[arg(long, requires = "replay")]
        catalog: Option<PathBuf>,
        /// Skip unreadable recording lines (counted and reported) instead of stopping with an
        /// error; a file cut short then ends where it breaks.
        #[arg(long)]
        skip_bad_input: bool,
        /// The trade journal the run writes (intents, decisions, order updates, fills): a file
        /// (SQLite), `sqlite://<file>`, `postgres://…` (better from POLYFLEET_JOURNAL_URL, which
        /// is never printed), or `none`. Default: `$XDG_DATA_HOME/polyfleet/journal.db`
        /// (`~/.local/share/…`), so every local run's history is kept in one place.
        #[arg(long, env = "POLYFLEET_JOURNAL_URL", hide_env_values = true)]
        journal: Option<String>,
    },
    /// Run the venue simulator (market WebSocket + CLOB/Gamma REST) until Ctrl-C.
    VenueSim {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8765")]
        addr: SocketAddr,
        /// Model seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Model steps per second.
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// Stand-alone binary markets.
        #[arg(long, default_value_t = 2)]
        binary_markets: u32,
        /// Neg-risk events, as outcome counts, comma-separated (e.g. 3,4).
        #[arg(long, value_delimiter = ',', default_value = "3")]
        events: Vec<u32>,
        /// Share of the time each neg-risk event is mispriced, in basis points.
        #[arg(long, default_value_t = 500)]
        mispricing_bps: u32,
        /// Replay this recording (from `polyfleet record`) instead of running the model; `--rate`
        /// is then frames per second.
        #[arg(long)]
        replay: Option<PathBuf>,
        /// Skip unreadable recording lines (counted and reported) instead of stopping with an
        /// error; a file cut short then ends where it breaks.
        #[arg(long)]
        skip_bad_input: bool,
        /// Write a recording of this many frames of the model to `--out` instead of serving
        /// (deterministic: the same seed gives the same file; no network, no clock).
        #[arg(long, requires = "out", conflicts_with = "replay")]
        generate: Option<u64>,
        /// The recording `--generate` writes (`.gz` compresses).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Model time of the first frame of a generated recording, Unix ms (default 2026-01-01).
        #[arg(long, default_value_t = 1_767_225_600_000)]
        start_ms: u64,
        /// Resolve every market of the model this many seconds (model time) after the start: YES
        /// wins where its price is at least one half; in a neg-risk event the favourite wins.
        /// Without it, the Venue's `simulator.resolveAfterSeconds` (with `-f`), else markets
        /// resolve only on command (`POST /sim/resolve`).
        #[arg(long, conflicts_with = "replay")]
        resolve_after_s: Option<u64>,
        /// Simulate what a resource directory declares instead (served or `--generate`d): its
        /// simulator Venue's settings (seed, rate, mispricing) and its Markets, under their ids.
        #[arg(short = 'f', long = "filename")]
        resources: Option<PathBuf>,
    },
    /// Replay a recording through the Strategies of a resource directory (the agents' own
    /// strategy, risk and paper-execution state machines) and write JSON and HTML reports.
    Backtest {
        /// Resource directory (or file), as for `kubectl apply -f`.
        #[arg(short = 'f', long = "filename")]
        resources: PathBuf,
        /// The recording (`polyfleet record` or `venue-sim --generate`; `.gz` is read compressed).
        #[arg(long)]
        recording: PathBuf,
        /// Market catalog the Markets are resolved from (default: `<recording>.markets.json`).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// Namespace of objects that name none.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// Directory the reports are written to.
        #[arg(long, default_value = "backtest-report")]
        out: PathBuf,
        /// Sweep a parameter: `key=v1,v2,...` or `<strategy>.key=...` (repeat for a grid).
        #[arg(long)]
        sweep: Vec<String>,
        /// Capital returns are measured against, USDC (default: the policies' gross exposure limits).
        #[arg(long)]
        capital: Option<String>,
        /// Equity sample period, milliseconds of recording time.
        #[arg(long, default_value_t = 1000)]
        sample_ms: u64,
        /// Time from a risk decision to the order (or cancel) at the venue, milliseconds: a leg
        /// priced on one book meets the book of that much later. 0 executes on the deciding
        /// event's book (optimistic; what `up --replay` does in lockstep).
        #[arg(long = "latency-ms", default_value = DEFAULT_LATENCY_MS, value_parser = latency_ns)]
        latency_ns: u64,
        /// Sweep worker threads (default: the machine's cores).
        #[arg(long)]
        workers: Option<usize>,
        /// Skip unreadable recording lines (counted and reported) instead of stopping with an
        /// error; a file cut short then ends where it breaks.
        #[arg(long)]
        skip_bad_input: bool,
    },
    /// The trade journal's report of a period (local or the cluster's): PnL per strategy, market
    /// and day (marked at last fill prices), Sharpe/Sortino/Calmar of daily PnL, drawdown, the
    /// risk gateway's decisions, open positions and every trade, as `report.json` and
    /// `report.html` under `--out`.
    Report {
        /// The journal: a file (SQLite), `sqlite://<file>` or `postgres://…` (better from
        /// POLYFLEET_JOURNAL_URL, never printed). Default: `polyfleet up`'s file.
        #[arg(long, env = "POLYFLEET_JOURNAL_URL", hide_env_values = true)]
        journal: Option<String>,
        /// Start of the period: RFC 3339 or a UTC date (2026-12-01). Default: the beginning.
        #[arg(long)]
        since: Option<String>,
        /// End of the period (exclusive), same forms. Default: now.
        #[arg(long)]
        until: Option<String>,
        /// Only this namespace's strategies.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Only this strategy.
        #[arg(long)]
        strategy: Option<String>,
        /// Directory the report is written to.
        #[arg(long, default_value = "journal-report")]
        out: PathBuf,
        #[command(flatten)]
        ab: polyfleet_cli::report::AbArgs,
        /// Compare a shadow Strategy with its live twin order by order, `SHADOW,LIVE` (`name`
        /// or `namespace/name`): orders paired by the market event they answered, what each
        /// filled, the live twin's slippage and fees.
        #[arg(long, value_name = "SHADOW,LIVE")]
        twins: Option<String>,
    },
    /// Convert a JSON Lines recording into a columnar one (Arrow IPC, lz4): `backtest` and
    /// `up --replay` load it at engine speed; pyarrow, pandas (`read_feather`) and polars
    /// (`read_ipc`) open it. Its market catalog is written beside it.
    Convert {
        /// The JSON Lines recording.
        recording: PathBuf,
        /// The columnar file (default: the recording's name ending in `.arrow`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Market catalog the tokens come from (default: `<recording>.markets.json`).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// Skip unreadable recording lines (counted in the file's accounting) instead of stopping.
        #[arg(long)]
        skip_bad_input: bool,
        /// Write the record batches uncompressed: several times bigger, read faster.
        #[arg(long)]
        uncompressed: bool,
    },
    /// Record a venue's market channel to JSON Lines (`.gz` compresses).
    Record {
        /// Market-channel WebSocket URL.
        #[arg(long)]
        ws_url: String,
        /// Token ids, comma-separated.
        #[arg(long, value_delimiter = ',', required_unless_present = "series")]
        tokens: Vec<String>,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
        /// Also record the real-time data stream's crypto prices (e.g.
        /// wss://ws-live-data.polymarket.com, or a simulator's /rtds), for backtests of the
        /// crypto up/down model.
        #[arg(long)]
        rtds_url: Option<String>,
        /// Follow an up/down series as its rounds roll (`btc-5m`, repeated): each round is looked
        /// up on Gamma when the stream's prices reach it, its tokens recorded from then on, and
        /// the rounds found written as the recording's catalog (`<out>.markets.json`). Needs
        /// --rtds-url.
        #[arg(long, requires = "rtds_url", value_parser = parse_series)]
        series: Vec<(String, String)>,
        /// Gamma's base URL (rounds of --series are found there).
        #[arg(long, default_value = "https://gamma-api.polymarket.com")]
        gamma_url: String,
        /// When the capture ends, also convert it into this columnar file (as `polyfleet
        /// convert` does; the catalog comes from --series or --catalog).
        #[arg(long)]
        columnar: Option<PathBuf>,
        /// Market catalog of the recorded tokens, for --columnar without --series.
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
}

/// `coin-period` of an up/down series (`btc-5m`).
fn parse_series(s: &str) -> Result<(String, String), String> {
    let (coin, period) = s.rsplit_once('-').ok_or_else(|| format!("{s:?} is not coin-period (btc-5m)"))?;
    if coin.is_empty() || polyfleet_core::models::updown::period_seconds(period).is_none() {
        return Err(format!("{s:?}: a coin and one of the periods 5m, 15m, 1h, 4h, 1d"));
    }
    Ok((coin.to_ascii_lowercase(), period.to_string()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    });
    match Cli::parse().command {
        Command::VenueSim {
            generate: Some(frames),
            out: Some(out),
            seed,
            rate,
            binary_markets,
            events,
            mispricing_bps,
            start_ms,
            resources,
            resolve_after_s,
            ..
        } => {
            let mut sim = match resources {
                Some(dir) => {
                    let res = local::load_declared(&dir)?;
                    let venue = local::simulator_venue(&res).context("no Venue of kind simulator in the directory")?;
                    local::simulator(&res, venue, start_ms, local::pace(venue, true))
                }
                None => Simulator::new(SimConfig {
                    seed,
                    binary_markets,
                    neg_risk_events: events,
                    mispricing_bps,
                    start_ms,
                    step_ms: (1000 / u64::from(rate.max(1))).max(1),
                    ..SimConfig::default()
                }),
            };
            if let Some(after) = resolve_after_s {
                sim.set_resolve_after_ms(Some(after.saturating_mul(1000)));
            }
            let mut file = record::create(&out)?;
            let n = polyfleet_cli::generate::generate_from(&mut sim, frames, &mut *file)?;
            drop(file);
            // Written at the end: it lists every round listed during the recording.
            let catalog = sim.catalog();
            let catalog_path = Catalog::beside(&out);
            catalog.write(&catalog_path)?;
            eprintln!("wrote {n} frames to {} and its market catalog to {}", out.display(), catalog_path.display());
            Ok(())
        }
        Command::VenueSim { replay: Some(path), addr, rate, skip_bad_input, .. } => {
            anyhow::ensure!(
                !polyfleet_backtest::columnar::is_columnar(&path),
                "{} is a columnar recording: venue-sim --replay serves the recorded frames byte for byte, so it \
                 replays the JSON Lines recording it was converted from",
                path.display()
            );
            let (lines, read) = Reader::read_all(&path, bad_input(skip_bad_input))?;
            if read.partial() {
                eprintln!("warning: replaying part of {}: {}", path.display(), read.describe());
            }
            let replay = polyfleet_sim::replay::Replay::new(lines);
            let sim = server::serve_source(Box::new(replay), addr, rate).await.context("starting the replay")?;
            println!(
                "replaying {} ({}) on {} (market channel {})",
                path.display(),
                read.describe(),
                sim.http_url(),
                sim.market_ws_url()
            );
            for t in sim.tokens().await {
                println!("  token {t}");
            }
            let mut stop = stop_rx;
            let _ = stop.changed().await;
            Ok(())
        }
        Command::VenueSim {
            addr,
            seed,
            rate,
            binary_markets,
            events,
            mispricing_bps,
            replay: None,
            resources,
            resolve_after_s,
            ..
        } => {
            let now_ms =
                u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis())?;
            let (mut model, rate) = match resources {
                Some(dir) => {
                    let res = local::load_declared(&dir)?;
                    let venue = local::simulator_venue(&res).context("no Venue of kind simulator in the directory")?;
                    // The Venue's clock: as the operator (or `polyfleet up`) sets it for every
                    // process of the Venue, else anchored now.
                    if polyfleet_agent::time::venue_clock().is_none() {
                        polyfleet_agent::time::set_venue_clock(local::venue_clock(venue, now_ms));
                    }
                    let pace = local::pace(venue, false);
                    (local::simulator(&res, venue, polyfleet_agent::time::now_ms(), pace), pace.steps_per_second)
                }
                None => {
                    let cfg = SimConfig {
                        seed,
                        binary_markets,
                        neg_risk_events: events,
                        mispricing_bps,
                        start_ms: now_ms,
                        step_ms: (1000 / u64::from(rate.max(1))).max(1),
                        ..SimConfig::default()
                    };
                    (Simulator::new(cfg), rate)
                }
            };
            if let Some(after) = resolve_after_s {
                model.set_resolve_after_ms(Some(after.saturating_mul(1000)));
            }
            let sim = server::serve_source(Box::new(model), addr, rate).await.context("starting the simulator")?;
            println!("venue simulator on {} (market channel {})", sim.http_url(), sim.market_ws_url());
            for m in sim.with_model(|m| m.markets().to_vec()).await.unwrap_or_default() {
                println!("  {}  {}  YES {}  NO {}", m.slug, m.condition, m.yes, m.no);
            }
            let mut stop = stop_rx;
            let _ = stop.changed().await;
            println!("stopped after {} frames on {} connections", sim.frames_sent(), sim.connections());
            Ok(())
        }
        Command::Up {
            resources,
            namespace,
            runtime,
            nats,
            redis,
            metrics_addr,
            duration,
            replay,
            catalog,
            skip_bad_input,
            journal,
        } => {
            let runtime = match runtime.as_str() {
                "processes" => up::Runtime::Processes { nats, redis, bin_dir: None },
                _ => up::Runtime::Inproc,
            };
            let duration = duration.map(Duration::from_secs);
            let bad_input = bad_input(skip_bad_input);
            let journal = up::journal_url(journal.as_deref())?;
            let args = up::UpArgs {
                dir: resources,
                namespace,
                metrics_addr,
                duration,
                replay,
                catalog,
                runtime,
                bad_input,
                journal,
            };
            let outcome = up::run(args, stop_rx).await?;
            if outcome.open_orders > 0 {
                eprintln!("{} orders were still open at exit", outcome.open_orders);
            }
            Ok(())
        }
        Command::Backtest {
            resources,
            recording,
            catalog,
            namespace,
            out,
            sweep,
            capital,
            sample_ms,
            latency_ns,
            workers,
            skip_bad_input,
        } => {
            let capital = capital.map(|c| Money::parse(&c)).transpose().context("--capital")?;
            let args = backtest::BacktestArgs {
                dir: resources,
                recording,
                catalog,
                namespace,
                out: out.clone(),
                sweeps: sweep,
                capital,
                sample_ms,
                latency_ns,
                workers: workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                bad_input: bad_input(skip_bad_input),
            };
            let reports = tokio::task::spawn_blocking(move || backtest::run(&args)).await??;
            summary(&reports);
            eprintln!("reports in {}", out.display());
            Ok(())
        }
        Command::Report { journal, since, until, namespace, strategy, out, ab, twins } => {
            let query = polyfleet_cli::report::Query { since, until, namespace, strategy, ab: Some(ab), twins };
            let args = polyfleet_cli::report::ReportArgs { journal, query, out: out.clone() };
            let r = polyfleet_cli::report::run(&args).await?;
            let (lines, notes) = polyfleet_backtest::journal_read::summary(&r);
            for l in lines {
                println!("{l}");
            }
            for n in notes {
                eprintln!("{n}");
            }
            eprintln!("report in {}", out.display());
            Ok(())
        }
        Command::Convert { recording, out, catalog, skip_bad_input, uncompressed } => {
            let out = out.unwrap_or_else(|| polyfleet_cli::convert::default_out(&recording));
            let options =
                polyfleet_cli::convert::Options { bad_input: bad_input(skip_bad_input), compress: !uncompressed };
            let acc = polyfleet_cli::convert::run(&recording, catalog.as_deref(), &out, options)?;
            eprintln!("{}", polyfleet_cli::convert::describe(&recording, &out, &acc));
            Ok(())
        }
        Command::Record { ws_url, tokens, out, seconds, rtds_url, series, gamma_url, columnar, catalog } => {
            let tokens = tokens.iter().map(|t| TokenId::parse(t.trim())).collect::<Result<Vec<_>, _>>()?;
            let follow = (!series.is_empty())
                .then(|| record::SeriesFollow { gamma_url: gamma_url.trim_end_matches('/').to_owned(), series });
            let following = follow.is_some();
            let mut file = record::create(&out)?;
            let n =
                record::record(ws_url, tokens, rtds_url, follow, &mut *file, seconds.map(Duration::from_secs), stop_rx)
                    .await?;
            drop(file);
            for line in record::finish(&out, &n, following, columnar.as_deref(), catalog.as_deref())? {
                eprintln!("{line}");
            }
            Ok(())
        }
    }
}

/// The backtest's default order latency, ms: what `up` measured from a risk decision to the
/// paper venue's answer (README, "Backtesting").
const DEFAULT_LATENCY_MS: &str = "5";

/// `--latency-ms`: milliseconds with up to 6 decimals (whole nanoseconds), 0 to 60000, as ns.
fn latency_ns(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a latency in milliseconds between 0 and 60000 (at most 6 decimals)");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    // As a decimal number reads: "5", "0.5", ".5" and "5." (not both parts empty).
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) || frac.len() > 6 {
        return Err(bad());
    }
    let ms: u64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
    let sub: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().map_err(|_| bad())? };
    let ns = ms.checked_mul(1_000_000).and_then(|n| n.checked_add(sub)).ok_or_else(bad)?;
    if ns > 60_000 * 1_000_000 { Err(bad()) } else { Ok(ns) }
}

fn bad_input(skip: bool) -> BadInput {
    if skip { BadInput::Skip } else { BadInput::Fail }
}

/// One line per run, best first.
fn summary(reports: &[Report]) {
    let ratio = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.3}"));
    for (i, r) in reports.iter().enumerate() {
        let m = &r.metrics;
        println!(
            "{:>3}. pnl {} USDC (realized {}, marked {})  fees {}  sharpe {}  max dd {}  fills {}  events {}{}",
            i + 1,
            m.pnl_usdc,
            m.realized_usdc,
            m.marked_usdc,
            m.fees_usdc,
            ratio(m.sharpe),
            m.max_drawdown_usdc,
            m.fills,
            r.input.events,
            if r.overrides.is_empty() { String::new() } else { format!("  [{}]", r.overrides.join(" ")) }
        );
    }
    if let Some(r) = reports.first() {
        for s in &r.strategies {
            if let Some(note) = &s.risk_bound {
                println!("     {}: {note}", s.name);
            }
        }
        println!("     input: {}; {}", r.input.read.describe(), r.input.frame_outcomes.describe());
        println!("     marked: {}", r.metrics.marking);
        for x in &r.experiments {
            match &x.result {
                Some(ab) => println!("     experiment {}: {}", x.name, ab.describe()),
                None => println!("     experiment {}: {}", x.name, x.error.as_deref().unwrap_or("no comparison")),
            }
        }
        println!(
            "     execution: orders and cancels reach the venue {} ms after the risk decision{}",
            r.latency_ms,
            if r.in_flight > 0 { format!(" ({} still in flight at the end)", r.in_flight) } else { String::new() }
        );
    }
    if let Some(note) = reports.first().and_then(|r| r.metrics.ratios_note.as_ref()) {
        println!("     sharpe: {note}");
    }
    for r in reports.iter().filter(|r| r.unbooked_fills > 0) {
        eprintln!(
            "warning: {} fills were refused by their strategy's ledger (sales beyond holdings){}",
            r.unbooked_fills,
            if r.overrides.is_empty() { String::new() } else { format!(" at {}", r.overrides.join(" ")) }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::latency_ns;

    #[test]
    fn latency_flag_is_exact_milliseconds() {
        assert_eq!(latency_ns("5"), Ok(5_000_000));
        assert_eq!(latency_ns("0.5"), Ok(500_000));
        assert_eq!(latency_ns("0.000001"), Ok(1));
        assert_eq!(latency_ns("0"), Ok(0));
        assert_eq!(latency_ns("60000"), Ok(60_000_000_000));
        assert_eq!(latency_ns(".5"), Ok(500_000));
        assert_eq!(latency_ns("5."), Ok(5_000_000));
        for bad in ["60000.000001", "-1", "1e3", "0.0000001", "", ".", "+5", "5.5.5", "NaN", "inf"] {
            assert!(latency_ns(bad).is_err(), "{bad:?} accepted");
        }
    }
}

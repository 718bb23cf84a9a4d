//! `polyfleet-agent`: the agent binary the operator runs in every agent pod.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use polyfleet_agent::config::{TokenConfig, instruments, load_strategy};
use polyfleet_agent::execution::{self, ExecutionAgentConfig};
use polyfleet_agent::journal::{self, JournalAgentConfig};
use polyfleet_agent::market_data::{self, MarketDataConfig};
use polyfleet_agent::metrics::{self as agent_metrics, JournalMetrics, MarketDataMetrics, OrderPathMetrics};
use polyfleet_agent::notify::{self, NotifyAgentConfig, NotifyMetrics};
use polyfleet_agent::risk::{self, RiskAgentConfig};
use polyfleet_agent::strategy;
use polyfleet_core::TokenId;
use polyfleet_core::notify::NotifyConfig;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::execution::PaperExecutor;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::telemetry;
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_polymarket::common::LiveCredentials;
use polyfleet_polymarket::common::credentials::{CredentialsError, PRIVATE_KEY_VAR};
use polyfleet_polymarket::execution::{LiveExecutor, LiveSettings};
use polyfleet_polymarket::http::VenueLimits;
use polyfleet_polymarket::websocket::client::WsConfig;
use tokio::sync::watch;

/// polyfleet's trading agents.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a shard of tokens from the venue's market channel onto NATS.
    MarketData(MarketDataArgs),
    /// Run one Strategy: market events in, order intents out.
    Strategy(StrategyArgs),
    /// Decide order intents against their RiskPolicy (scale out freely: replicas share the work).
    Risk(RiskArgs),
    /// Execute approved orders (paper, shadow or live) and commit fills, positions and PnL.
    Execution(ExecutionArgs),
    /// Publish the built-in crypto up/down model's fair values for the rounds of one series.
    UpdownModel(UpdownArgs),
    /// Publish fair values of sports markets from bookmaker odds (the built-in sports model).
    SportsModel(SportsArgs),
    /// Send a RiskPolicy's notices (trips, resets, modes, order failures, daily summaries) to its
    /// webhook targets.
    Notify(NotifyArgs),
    /// Write the order path's messages (intents, decisions, order updates, fills) to the trade
    /// journal, durably and once each.
    Journal(JournalArgs),
}

#[derive(clap::Args)]
struct JournalArgs {
    #[command(flatten)]
    common: Common,
    /// The journal's database: `postgres://user:password@host/db` (from a Secret) or
    /// `sqlite://<file>`. Never printed.
    #[arg(long, env = "POLYFLEET_JOURNAL_URL", hide_env_values = true)]
    journal_url: String,
    /// Namespace whose messages to journal (`*`: all).
    #[arg(long, env = "POLYFLEET_NAMESPACE", default_value = "*")]
    namespace: String,
    /// Prefix of the durable consumers' names.
    #[arg(long, env = "POLYFLEET_DURABLE", default_value = "journal")]
    durable: String,
    /// Most messages written in one transaction.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// How long a batch waits for more messages after its first, milliseconds.
    #[arg(long, default_value_t = 20)]
    window_ms: u64,
    /// Each traded token's mid is journaled at most once per this many milliseconds (the last
    /// of the interval); 0: no mids (reports then have no attribution or markouts).
    #[arg(long, env = "POLYFLEET_MID_INTERVAL_MS", default_value_t = 1000)]
    mid_interval_ms: u64,
}

#[derive(clap::Args)]
struct NotifyArgs {
    #[command(flatten)]
    common: Common,
    /// The notifier's configuration (JSON, written by the operator): the policy, its targets and
    /// the names of the environment variables holding their URLs and tokens.
    #[arg(long, env = "POLYFLEET_NOTIFY_CONFIG")]
    config: String,
}

#[derive(clap::Args)]
struct UpdownArgs {
    #[command(flatten)]
    common: Common,
    /// The Venue's name (signal subjects are `signal.<venue>.<token>`).
    #[arg(long, env = "POLYFLEET_VENUE")]
    venue: String,
    /// The coin whose rounds it prices (btc, eth, sol, xrp, ...).
    #[arg(long, env = "POLYFLEET_COIN")]
    coin: String,
    /// The series period (5m, 15m, 1h, 4h, 1d).
    #[arg(long, env = "POLYFLEET_PERIOD")]
    period: String,
    /// Gamma's base URL (rounds are found there by slug).
    #[arg(long, env = "POLYFLEET_GAMMA_URL", default_value = "https://gamma-api.polymarket.com")]
    gamma_url: String,
    /// The real-time data stream's WebSocket URL.
    #[arg(long, env = "POLYFLEET_RTDS_URL", default_value = "wss://ws-live-data.polymarket.com")]
    rtds_url: String,
    /// The model id its signals carry.
    #[arg(long, env = "POLYFLEET_MODEL", default_value = "crypto-updown")]
    model: String,
    /// The model version its signals carry.
    #[arg(long, env = "POLYFLEET_MODEL_VERSION", default_value = env!("CARGO_PKG_VERSION"))]
    model_version: String,
    /// How long a signal stays tradable after the price it was computed from, ms.
    #[arg(long, env = "POLYFLEET_VALID_FOR_MS", default_value_t = polyfleet_core::models::rounds::DEFAULT_VALID_FOR_MS)]
    valid_for_ms: u64,
    /// Student-t degrees of freedom (greater than 2).
    #[arg(long, env = "POLYFLEET_NU", default_value_t = 6.0)]
    nu: f64,
    /// Half-life of the volatility estimate, seconds.
    #[arg(long, env = "POLYFLEET_VOL_HALF_LIFE_S", default_value_t = 600.0)]
    vol_half_life_s: f64,
    /// Returns needed before the volatility is used.
    #[arg(long, env = "POLYFLEET_VOL_MIN_RETURNS", default_value_t = 30)]
    vol_min_returns: u32,
}

#[derive(clap::Args)]
struct SportsArgs {
    #[command(flatten)]
    common: Common,
    /// The Venue's name (signal subjects are `signal.<venue>.<token>`).
    #[arg(long, env = "POLYFLEET_VENUE")]
    venue: String,
    /// The odds feed as a file (The Odds API v4 document), read again at every poll.
    #[arg(long, env = "POLYFLEET_ODDS_FILE", conflicts_with = "odds_url", required_unless_present = "odds_url")]
    odds_file: Option<std::path::PathBuf>,
    /// The odds feed as an HTTP endpoint (its key, if any, from POLYFLEET_ODDS_API_KEY).
    #[arg(long, env = "POLYFLEET_ODDS_URL")]
    odds_url: Option<String>,
    /// The markets priced, a file: a JSON array of {yesToken, noToken, event, pick: {outcome} | {total: {over, line}}}.
    #[arg(
        long,
        env = "POLYFLEET_SPORTS_MARKETS",
        conflicts_with = "markets_json",
        required_unless_present = "markets_json"
    )]
    markets: Option<std::path::PathBuf>,
    /// The markets priced, the same JSON inline (as the operator passes them).
    #[arg(long)]
    markets_json: Option<String>,
    /// The environment variable the feed's key is read from.
    #[arg(long, default_value = polyfleet_agent::sports::ODDS_KEY_VAR)]
    odds_key_env: String,
    /// How often the feed is read, ms.
    #[arg(long, env = "POLYFLEET_POLL_MS", default_value_t = 30_000)]
    poll_ms: u64,
    /// A book and its weight (`pinnacle=3`), repeated; none: every book at weight 1.
    #[arg(long = "book", value_parser = parse_book)]
    books: Vec<(String, f64)>,
    /// Margin removal: `shin` or `multiplicative`.
    #[arg(long, env = "POLYFLEET_DEVIG", default_value = "shin")]
    devig: String,
    /// The model id its signals carry.
    #[arg(long, env = "POLYFLEET_MODEL", default_value = "sports-consensus")]
    model: String,
    /// The model version its signals carry.
    #[arg(long, env = "POLYFLEET_MODEL_VERSION", default_value = env!("CARGO_PKG_VERSION"))]
    model_version: String,
    /// How long a signal stays tradable after the read it was computed from, ms.
    #[arg(long, env = "POLYFLEET_VALID_FOR_MS", default_value_t = 90_000)]
    valid_for_ms: u64,
}

/// `key=weight` with a positive weight.
fn parse_book(s: &str) -> Result<(String, f64), String> {
    let (key, weight) = s.split_once('=').ok_or_else(|| format!("{s:?} is not key=weight"))?;
    let w: f64 = weight.parse().map_err(|_| format!("weight {weight:?} is not a number"))?;
    if key.is_empty() || !(w.is_finite() && w > 0.0) {
        return Err(format!("{s:?} needs a book key and a positive weight"));
    }
    Ok((key.to_string(), w))
}

#[derive(clap::Args)]
struct Common {
    /// NATS URL.
    #[arg(long, env = "POLYFLEET_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "POLYFLEET_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    metrics_addr: SocketAddr,
    /// Log lines as JSON.
    #[arg(long, env = "POLYFLEET_LOG_JSON")]
    log_json: bool,
}

#[derive(clap::Args)]
struct StrategyArgs {
    #[command(flatten)]
    common: Common,
    /// The strategy's configuration (JSON, written by the operator).
    #[arg(long, env = "POLYFLEET_STRATEGY_CONFIG")]
    config: std::path::PathBuf,
    /// Market events heard together at most when they queued while the agent was busy: the
    /// strategy decides once per book, on the latest (every event still reaches the books); 1
    /// hears every event on its own.
    #[arg(long, env = "POLYFLEET_CONFLATE_MAX", default_value_t = strategy::DEFAULT_CONFLATE_MAX,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    conflate_max: usize,
}

#[derive(clap::Args)]
struct RiskArgs {
    #[command(flatten)]
    common: Common,
    /// Redis URL of the risk store (credentials, if any, come from the environment only).
    #[arg(long, env = "POLYFLEET_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Namespace whose intents to decide (`*`: all).
    #[arg(long, env = "POLYFLEET_NAMESPACE", default_value = "*")]
    namespace: String,
    /// Venue whose books feed the liquidity check.
    #[arg(long, env = "POLYFLEET_VENUE")]
    venue: String,
    /// Book liquidity counts levels within this many basis points of the best price.
    #[arg(long, env = "POLYFLEET_LIQUIDITY_BAND_BPS", default_value_t = 500)]
    liquidity_band_bps: u32,
    /// Durable consumer shared by the gateway's replicas.
    #[arg(long, env = "POLYFLEET_DURABLE", default_value = "risk-gateway")]
    durable: String,
    /// Decisions in flight at once.
    #[arg(long, env = "POLYFLEET_RISK_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
}

#[derive(clap::Args)]
struct ExecutionArgs {
    #[command(flatten)]
    common: Common,
    /// Redis URL of the risk store.
    #[arg(long, env = "POLYFLEET_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Venue name.
    #[arg(long, env = "POLYFLEET_VENUE")]
    venue: String,
    /// Namespace whose orders to execute (`*`: all).
    #[arg(long, env = "POLYFLEET_NAMESPACE", default_value = "*")]
    namespace: String,
    /// Market rules of the tradable tokens (JSON list of {market, token, minSizeMicros, feeRateBps, feeExponent}).
    #[arg(long, env = "POLYFLEET_MARKETS")]
    markets: std::path::PathBuf,
    /// Simulated venue latency of the paper executor, milliseconds.
    #[arg(long, env = "POLYFLEET_PAPER_LATENCY_MS", default_value_t = 0)]
    paper_latency_ms: u64,
    /// Durable consumer name.
    #[arg(long, env = "POLYFLEET_DURABLE", default_value = "execution")]
    durable: String,
    /// A token whose book has had no market event for this long (ms) is marked at nothing beyond
    /// its complete sets (its price is unknown), unless the venue closed its market to orders.
    #[arg(long, env = "POLYFLEET_MARK_STALE_MS", default_value_t = polyfleet_agent::execution::MARK_STALE_MS)]
    mark_stale_ms: u64,
    /// KV keys of `series` Markets whose rounds are executed as they come (comma-separated).
    #[arg(long, env = "POLYFLEET_SERIES", value_delimiter = ',')]
    series: Vec<String>,
    #[command(flatten)]
    live: LiveArgs,
}

/// Live execution. Credentials come only from the environment (the Venue's Secret):
/// `POLYMARKET_PRIVATE_KEY`, optionally `POLYMARKET_API_KEY` / `_SECRET` / `_PASSPHRASE`,
/// `POLYMARKET_SIGNATURE_TYPE`, `POLYMARKET_FUNDER`.
#[derive(clap::Args)]
struct LiveArgs {
    /// The Venue's `spec.liveTrading.acknowledged`: without it no order is ever sent.
    #[arg(long, env = "POLYFLEET_LIVE_ACKNOWLEDGED", default_value_t = false)]
    live_acknowledged: bool,
    /// CLOB REST base URL (orders, auth).
    #[arg(long, env = "POLYFLEET_CLOB_URL", default_value = "https://clob.polymarket.com")]
    clob_url: String,
    /// User-channel WebSocket URL.
    #[arg(long, env = "POLYFLEET_USER_WS_URL", default_value = "wss://ws-subscriptions-clob.polymarket.com/ws/user")]
    user_ws_url: String,
    /// Dead-man heartbeat period, milliseconds (the venue cancels everything after ~10 s of silence).
    #[arg(long, env = "POLYFLEET_HEARTBEAT_MS", default_value_t = 5000)]
    heartbeat_ms: u64,
    /// Orders per second and burst (per signer).
    #[arg(long, env = "POLYFLEET_ORDERS_PER_SECOND", default_value_t = 40)]
    orders_per_second: u32,
    #[arg(long, env = "POLYFLEET_ORDERS_BURST", default_value_t = 60)]
    orders_burst: u32,
    /// Cancels per second and burst (per signer).
    #[arg(long, env = "POLYFLEET_CANCELS_PER_SECOND", default_value_t = 80)]
    cancels_per_second: u32,
    #[arg(long, env = "POLYFLEET_CANCELS_BURST", default_value_t = 120)]
    cancels_burst: u32,
    /// How long to retry HTTP 425 (engine restart), 429 and 5xx, milliseconds.
    #[arg(long, env = "POLYFLEET_RETRY_BUDGET_MS", default_value_t = 5000)]
    retry_budget_ms: u64,
    /// File that shadow report lines are appended to (they are logged anyway).
    #[arg(long, env = "POLYFLEET_SHADOW_REPORT")]
    shadow_report: Option<std::path::PathBuf>,
    /// Polygon JSON-RPC URL for live conditional-token operations (merge, split, redeem). The
    /// Venue's `spec.endpoints.polygonRpc`, or its Secret's `polygonRpcUrl` when the URL carries
    /// a key; without it live operations are refused.
    #[arg(long, env = "POLYGON_RPC_URL", hide_env_values = true)]
    polygon_rpc: Option<String>,
    /// Polymarket's gasless relayer (the Venue's `spec.endpoints.relayer`): a Safe, proxy or
    /// deposit-wallet account's conditional-token operations go through it.
    #[arg(long, env = "POLYFLEET_RELAYER_URL")]
    relayer_url: Option<String>,
}

#[derive(clap::Args)]
struct MarketDataArgs {
    /// Venue name, as in `md.<venue>.<token>`.
    #[arg(long, env = "POLYFLEET_VENUE")]
    venue: String,
    /// Market-channel WebSocket URL.
    #[arg(long, env = "POLYFLEET_MARKET_WS", default_value = "wss://ws-subscriptions-clob.polymarket.com/ws/market")]
    ws_url: String,
    /// CLOB REST base URL for book resyncs.
    #[arg(long, env = "POLYFLEET_CLOB_URL", default_value = "https://clob.polymarket.com")]
    rest_url: String,
    /// Token ids to serve, comma-separated.
    #[arg(long, env = "POLYFLEET_TOKENS", value_delimiter = ',', required_unless_present_any = ["series", "tokens_file"])]
    tokens: Vec<String>,
    /// A file of token ids to serve, one per line (or separated by commas or spaces), beside
    /// `--tokens`: the operator writes a shard's tokens there, since thousands do not fit one
    /// argument.
    #[arg(long, env = "POLYFLEET_TOKENS_FILE")]
    tokens_file: Option<std::path::PathBuf>,
    /// KV keys of `series` Markets whose rounds are served as they come (comma-separated; the
    /// operator passes those of the series Markets this shard serves).
    #[arg(long, env = "POLYFLEET_SERIES", value_delimiter = ',')]
    series: Vec<String>,
    /// Tokens per WebSocket connection (at most 500).
    #[arg(long, env = "POLYFLEET_ASSETS_PER_CONNECTION", default_value_t = 200)]
    assets_per_connection: usize,
    #[command(flatten)]
    common: Common,
    /// Milliseconds between PINGs.
    #[arg(long, default_value_t = 8000)]
    ping_ms: u64,
    /// Milliseconds without data before the connection is replaced.
    #[arg(long, default_value_t = 60000)]
    silence_ms: u64,
    /// Seconds between reads of every served market's REST status (closed to orders, resolved).
    #[arg(long, env = "POLYFLEET_MARKET_STATUS_S", default_value_t = 30)]
    market_status_s: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::MarketData(a) => {
            let _telemetry = telemetry::init("polyfleet-market-data", a.common.log_json)?;
            anyhow::ensure!((1..=500).contains(&a.assets_per_connection), "--assets-per-connection must be 1..=500");
            let mut tokens =
                a.tokens.iter().map(|t| TokenId::parse(t.trim())).collect::<Result<Vec<_>, _>>().context("--tokens")?;
            if let Some(path) = &a.tokens_file {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                let listed = text.split([',', ' ', '\t', '\n', '\r']).filter(|t| !t.is_empty());
                for t in listed {
                    tokens.push(TokenId::parse(t).with_context(|| format!("{}: token {t:?}", path.display()))?);
                }
            }
            let mut ws = WsConfig::new(a.ws_url.clone());
            ws.ping_every = Duration::from_millis(a.ping_ms);
            ws.silence_timeout = Duration::from_millis(a.silence_ms);
            let cfg = MarketDataConfig {
                venue: a.venue,
                ws_url: a.ws_url,
                rest_url: Some(a.rest_url),
                tokens,
                series: a.series,
                assets_per_connection: a.assets_per_connection,
                nats_url: a.common.nats,
                ws,
                status_every: Duration::from_secs(a.market_status_s.max(1)),
                confirm_every: MarketDataConfig::CONFIRM_EVERY,
            };
            let metrics = MarketDataMetrics::new();
            agent_metrics::serve(a.common.metrics_addr, metrics.clone()).await.context("serving metrics")?;
            market_data::run(cfg, metrics, stop_on_signal()).await
        }
        Command::Strategy(a) => {
            let _telemetry = telemetry::init("polyfleet-strategy", a.common.log_json)?;
            let cfg = load_strategy(&a.config).with_context(|| format!("reading {}", a.config.display()))?;
            let (bus, metrics) = start(&a.common, "polyfleet_strategy").await?;
            let agent = strategy::StrategyAgentConfig { conflate_max: a.conflate_max };
            strategy::run(bus, cfg, agent, metrics, stop_on_signal()).await
        }
        Command::Risk(a) => {
            let _telemetry = telemetry::init("polyfleet-risk", a.common.log_json)?;
            let (bus, metrics) = start(&a.common, "polyfleet_risk").await?;
            let store = RedisRiskStore::connect(&a.redis).await.context("connecting to the risk store")?;
            let cfg = RiskAgentConfig {
                namespace: a.namespace,
                venue: a.venue,
                liquidity_band_bps: a.liquidity_band_bps,
                durable: a.durable,
                concurrency: a.concurrency,
            };
            risk::run(bus, store, cfg, metrics, stop_on_signal()).await
        }
        Command::UpdownModel(a) => {
            let _telemetry = telemetry::init("polyfleet-model", a.common.log_json)?;
            anyhow::ensure!(
                a.nu > 2.0 && a.vol_half_life_s > 0.0,
                "--nu must exceed 2 and --vol-half-life-s be positive"
            );
            let bus = NatsBus::connect(&a.common.nats)
                .await
                .with_context(|| format!("connecting to NATS at {}", a.common.nats))?;
            let metrics = polyfleet_agent::updown::UpDownMetrics::new();
            agent_metrics::serve(a.common.metrics_addr, metrics.clone()).await.context("serving metrics")?;
            let cfg = polyfleet_agent::updown::UpDownConfig {
                venue: a.venue,
                coin: a.coin.to_ascii_lowercase(),
                period: a.period,
                gamma_url: a.gamma_url.trim_end_matches('/').to_owned(),
                rtds_url: a.rtds_url,
                model: a.model,
                model_version: a.model_version,
                valid_for_ms: a.valid_for_ms,
                settings: polyfleet_core::models::updown::UpDownSettings {
                    nu: a.nu,
                    half_life_s: a.vol_half_life_s,
                    min_returns: a.vol_min_returns,
                    ..Default::default()
                },
            };
            polyfleet_agent::updown::run(bus, cfg, metrics, stop_on_signal()).await
        }
        Command::SportsModel(a) => {
            use polyfleet_agent::sports::{self, OddsSource, SportsConfig, SportsMetrics};
            let _telemetry = telemetry::init("polyfleet-model", a.common.log_json)?;
            let method = match a.devig.as_str() {
                "shin" => polyfleet_core::models::sports::Devig::Shin,
                "multiplicative" => polyfleet_core::models::sports::Devig::Multiplicative,
                other => anyhow::bail!("--devig {other:?}: shin or multiplicative"),
            };
            anyhow::ensure!(a.poll_ms >= 100, "--poll-ms must be at least 100");
            let source = match (a.odds_file, a.odds_url) {
                (Some(f), None) => OddsSource::File(f),
                (None, Some(u)) => OddsSource::Url(u),
                _ => anyhow::bail!("exactly one of --odds-file and --odds-url"),
            };
            let markets = match (a.markets, a.markets_json) {
                (Some(f), None) => std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?,
                (None, Some(j)) => j,
                _ => anyhow::bail!("exactly one of --markets and --markets-json"),
            };
            let markets = sports::decode_markets(&markets)?;
            let bus = NatsBus::connect(&a.common.nats)
                .await
                .with_context(|| format!("connecting to NATS at {}", a.common.nats))?;
            let metrics = SportsMetrics::new();
            agent_metrics::serve(a.common.metrics_addr, metrics.clone()).await.context("serving metrics")?;
            let cfg = SportsConfig {
                venue: a.venue,
                source,
                poll: Duration::from_millis(a.poll_ms),
                markets,
                books: a.books,
                key_env: a.odds_key_env,
                method,
                publishing: polyfleet_core::models::rounds::Publishing {
                    model: a.model,
                    model_version: a.model_version,
                    valid_for_ms: a.valid_for_ms,
                },
            };
            sports::run(bus, cfg, metrics, stop_on_signal()).await
        }
        Command::Notify(a) => {
            let _telemetry = telemetry::init("polyfleet-notify", a.common.log_json)?;
            let config: NotifyConfig = serde_json::from_str(&a.config).context("--config")?;
            config.validate().context("--config")?;
            let bus = NatsBus::connect(&a.common.nats)
                .await
                .with_context(|| format!("connecting to NATS at {}", a.common.nats))?;
            let metrics = NotifyMetrics::new();
            agent_metrics::serve(a.common.metrics_addr, metrics.clone()).await.context("serving metrics")?;
            notify::run(bus, NotifyAgentConfig::from_env(config), metrics, stop_on_signal()).await
        }
        Command::Journal(a) => {
            let _telemetry = telemetry::init("polyfleet-journal", a.common.log_json)?;
            anyhow::ensure!((1..=10_000).contains(&a.batch), "--batch must be 1..=10000");
            let bus = NatsBus::connect(&a.common.nats)
                .await
                .with_context(|| format!("connecting to NATS at {}", a.common.nats))?;
            // The URL holds credentials: errors name the database kind, never the URL.
            let store = SqlJournal::open(&a.journal_url).await.context("opening the journal database")?;
            let metrics = JournalMetrics::new();
            agent_metrics::serve(a.common.metrics_addr, metrics.clone()).await.context("serving metrics")?;
            let cfg = JournalAgentConfig {
                namespace: a.namespace,
                durable: a.durable,
                batch: a.batch,
                window: Duration::from_millis(a.window_ms),
                mid_interval: (a.mid_interval_ms > 0).then(|| Duration::from_millis(a.mid_interval_ms)),
            };
            journal::run(bus, store, cfg, metrics, stop_on_signal()).await
        }
        Command::Execution(a) => {
            let _telemetry = telemetry::init("polyfleet-execution", a.common.log_json)?;
            let text =
                std::fs::read_to_string(&a.markets).with_context(|| format!("reading {}", a.markets.display()))?;
            let tokens: Vec<TokenConfig> = serde_json::from_str(&text).context("--markets")?;
            let (bus, metrics) = start(&a.common, "polyfleet_execution").await?;
            let store = RedisRiskStore::connect(&a.redis).await.context("connecting to the risk store")?;
            let credentials = match LiveCredentials::from_env() {
                Ok(c) => Some(c),
                Err(CredentialsError::Missing(PRIVATE_KEY_VAR)) => None,
                Err(e) => return Err(e).context("reading the trading credentials"),
            };
            let l = a.live;
            let settings = LiveSettings {
                venue: a.venue.clone(),
                acknowledged: l.live_acknowledged,
                clob_url: l.clob_url,
                user_ws_url: l.user_ws_url,
                heartbeat_every: Duration::from_millis(l.heartbeat_ms.max(100)),
                limits: VenueLimits {
                    orders_per_second: l.orders_per_second,
                    orders_burst: l.orders_burst,
                    cancels_per_second: l.cancels_per_second,
                    cancels_burst: l.cancels_burst,
                    retry_budget: Duration::from_millis(l.retry_budget_ms),
                },
                shadow_report: l.shadow_report,
                clock: polyfleet_agent::time::now_ns,
                polygon_rpc: l.polygon_rpc.filter(|u| !u.trim().is_empty()),
                relayer_url: l.relayer_url.filter(|u| !u.trim().is_empty()),
            };
            let instruments = instruments(&tokens)?;
            let executor = if a.paper_latency_ms > 0 && credentials.is_none() {
                // Paper only, with a simulated venue latency.
                Either::Paper(Box::new(PaperExecutor::new(instruments, Duration::from_millis(a.paper_latency_ms))))
            } else {
                Either::Live(Box::new(
                    LiveExecutor::start(settings, instruments, credentials, store.clone(), metrics.clone())
                        .await
                        .context("starting live execution")?,
                ))
            };
            let cfg = ExecutionAgentConfig {
                venue: a.venue,
                namespace: a.namespace,
                durable: a.durable,
                mark_stale_ms: a.mark_stale_ms,
                series: a.series,
            };
            match executor {
                Either::Paper(e) => execution::run(bus, store, *e, cfg, metrics, stop_on_signal()).await,
                Either::Live(e) => execution::run(bus, store, *e, cfg, metrics, stop_on_signal()).await,
            }
        }
    }
}

/// Connects the bus and serves the metrics of an order-path agent.
async fn start(common: &Common, prefix: &str) -> anyhow::Result<(NatsBus, std::sync::Arc<OrderPathMetrics>)> {
    let bus = NatsBus::connect(&common.nats).await.with_context(|| format!("connecting to NATS at {}", common.nats))?;
    let metrics = OrderPathMetrics::new(prefix);
    agent_metrics::serve(common.metrics_addr, metrics.clone()).await.context("serving metrics")?;
    Ok((bus, metrics))
}

/// The execution agent's executor: paper with a simulated latency, or the live executor (which
/// also runs paper and shadow orders).
enum Either<S: polyfleet_io::risk_store::RiskStore> {
    Paper(Box<PaperExecutor>),
    Live(Box<LiveExecutor<S>>),
}

/// A receiver that turns true on SIGTERM or Ctrl-C.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });
    stop_rx
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

//! The built-in sports model as a signal publisher (`polyfleet-agent sports-model`): bookmaker
//! odds in, fair-value signals for the Polymarket markets they price out.
//!
//! - Reads the odds feed (The Odds API v4 document: events, books, `h2h` and `totals` markets,
//!   decimal prices) from a file or an HTTP endpoint the user points at, every `poll` interval.
//!   An HTTP feed's key comes from the environment (`POLYFLEET_ODDS_API_KEY`, or the variable
//!   `--odds-key-env` names; sent as the `apiKey` query parameter) and is never logged. A failed read or a document that is not an
//!   array is counted and the last signals simply expire; a malformed event is counted and
//!   skipped alone.
//! - Prices each configured market ([`PricedMarket`]: its YES and NO tokens, the feed's event id
//!   and the pick YES pays on) with [`polyfleet_core::models::odds::price`]: the weighted
//!   consensus of the chosen books, de-vigged multiplicatively or by Shin's method, totals
//!   through a fitted Poisson mean.
//! - Publishes YES's probability and NO's complement on `signal.<venue>.<token>` (schema
//!   `polyfleet.signal.fairValue/v1`), each in a `fair_value_published` span, until the event's
//!   kick-off: the last signal before it is the closing line the strategy values its fills
//!   against; after it the market is `closed` and nothing more is published.
//!
//! Metrics (`polyfleet_model_*`): polls by result, events malformed, markets not priced by
//! reason, and signals published.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use polyfleet_core::models::odds::{self, OddsEvent, PricedMarket};
use polyfleet_core::models::rounds::Publishing;
use polyfleet_core::models::sports::Devig;
use polyfleet_core::wire::signal::subject;
use polyfleet_io::bus::Bus;
use polyfleet_io::probes::Probe;
use polyfleet_io::telemetry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::updown::KindLabel;

/// The environment variable an HTTP odds feed's key is read from by default.
pub const ODDS_KEY_VAR: &str = polyfleet_core::models::odds::KEY_VAR;

/// Where the odds come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OddsSource {
    /// A file, read again at every poll (another process keeps it fresh).
    File(PathBuf),
    /// An HTTP endpoint answering a feed document to GET.
    Url(String),
}

/// What the publisher prices and how.
#[derive(Debug, Clone)]
pub struct SportsConfig {
    /// The Venue's name (the signal subjects').
    pub venue: String,
    /// The odds feed.
    pub source: OddsSource,
    /// How often it is read.
    pub poll: Duration,
    /// The markets priced.
    pub markets: Vec<PricedMarket>,
    /// Books and weights (empty: every book at weight 1).
    pub books: Vec<(String, f64)>,
    /// The environment variable an HTTP feed's key is read from ([`ODDS_KEY_VAR`] by default).
    pub key_env: String,
    /// Margin removal.
    pub method: Devig,
    /// Model id, version and validity of the signals.
    pub publishing: Publishing,
}

/// The publisher's metrics.
pub struct SportsMetrics {
    /// Feed reads: ok, error (unreachable, not an array).
    pub polls: Family<KindLabel, Counter>,
    /// Events of the feed that did not decode, skipped.
    pub malformed_events: Counter,
    /// Markets not priced at a poll, by reason (no_event, closed, no_books, bad_odds).
    pub unpriced: Family<KindLabel, Counter>,
    /// Signals published.
    pub signals: Counter,
    ready: AtomicBool,
    registry: Registry,
}

impl SportsMetrics {
    /// Registers the metrics.
    pub fn new() -> Arc<SportsMetrics> {
        let mut registry = Registry::with_prefix("polyfleet_model");
        let polls = Family::<KindLabel, Counter>::default();
        registry.register("odds_polls", "Odds feed reads by result", polls.clone());
        let malformed_events = Counter::default();
        registry.register(
            "odds_malformed_events",
            "Feed events that did not decode, skipped",
            malformed_events.clone(),
        );
        let unpriced = Family::<KindLabel, Counter>::default();
        registry.register("unpriced", "Markets not priced at a read, by reason", unpriced.clone());
        let signals = Counter::default();
        registry.register("signals_published", "Fair-value signals published", signals.clone());
        Arc::new(SportsMetrics { polls, malformed_events, unpriced, signals, ready: AtomicBool::new(false), registry })
    }

    fn count(family: &Family<KindLabel, Counter>, kind: &str) {
        family.get_or_create(&KindLabel { kind: kind.into() }).inc();
    }
}

impl Probe for SportsMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Decodes the markets (a JSON array of [`PricedMarket`], from a file or the operator's
/// argument), every one checked.
pub fn decode_markets(text: &str) -> anyhow::Result<Vec<PricedMarket>> {
    let markets: Vec<PricedMarket> = serde_json::from_str(text).context("decoding the markets")?;
    for m in &markets {
        m.validate().map_err(anyhow::Error::msg)?;
    }
    Ok(markets)
}

/// Kick-off as Unix ms, if the feed's time is RFC 3339.
fn commence_ms(e: &OddsEvent) -> Option<u64> {
    let t: jiff::Timestamp = e.commence_time.parse().ok()?;
    u64::try_from(t.as_millisecond()).ok()
}

async fn read(source: &OddsSource, key_env: &str, http: &reqwest::Client) -> anyhow::Result<String> {
    match source {
        OddsSource::File(path) => {
            tokio::fs::read_to_string(path).await.with_context(|| format!("reading {}", path.display()))
        }
        OddsSource::Url(url) => {
            let mut req = http.get(url);
            if let Ok(key) = std::env::var(key_env) {
                req = req.query(&[("apiKey", key)]);
            }
            // The error of a request with the key in its query would print it: say only the status.
            let resp = req.send().await.map_err(|e| anyhow::anyhow!("odds feed unreachable ({})", e.without_url()))?;
            let status = resp.status();
            anyhow::ensure!(status.is_success(), "odds feed answered {status}");
            resp.text().await.map_err(|e| anyhow::anyhow!("odds feed body ({})", e.without_url()))
        }
    }
}

/// Runs the publisher until `stop` turns true.
pub async fn run<B: Bus>(
    bus: B,
    cfg: SportsConfig,
    metrics: Arc<SportsMetrics>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    tracing::info!(model = %cfg.publishing.model, markets = cfg.markets.len(), "sports model publishing");
    let mut tick = tokio::time::interval(cfg.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        let text = match read(&cfg.source, &cfg.key_env, &http).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "odds feed not read");
                SportsMetrics::count(&metrics.polls, "error");
                continue;
            }
        };
        let events = match odds::decode_events(&text) {
            Ok((events, bad)) => {
                metrics.malformed_events.inc_by(bad as u64);
                events
            }
            Err(e) => {
                tracing::warn!(error = %e, "odds feed document is not an array of events");
                SportsMetrics::count(&metrics.polls, "error");
                continue;
            }
        };
        SportsMetrics::count(&metrics.polls, "ok");
        metrics.ready.store(true, Ordering::Relaxed);
        publish(&bus, &cfg, &events, &metrics, crate::time::now_ms()).await;
    }
    Ok(())
}

/// Prices every configured market on `events` at `now_ms` and publishes the pairs.
async fn publish<B: Bus>(bus: &B, cfg: &SportsConfig, events: &[OddsEvent], metrics: &SportsMetrics, now_ms: u64) {
    for m in &cfg.markets {
        let Some(event) = events.iter().find(|e| e.id == m.event) else {
            SportsMetrics::count(&metrics.unpriced, "no_event");
            continue;
        };
        // Past kick-off (or no readable kick-off): the line has closed.
        if commence_ms(event).is_none_or(|t| now_ms >= t) {
            SportsMetrics::count(&metrics.unpriced, "closed");
            continue;
        }
        let priced = match odds::price(event, &m.pick, &cfg.books, cfg.method) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(event = %m.event, error = %e, "market not priced");
                SportsMetrics::count(&metrics.unpriced, e.kind());
                continue;
            }
        };
        for fv in cfg.publishing.pair(m.yes_token, m.no_token, priced.probability, now_ms) {
            let span = tracing::info_span!("fair_value_published", model = %fv.model, token = %fv.token, probability_ppm = fv.probability_ppm, books = priced.books);
            let headers = telemetry::inject(&span);
            if let Err(e) = bus.publish(&subject(&cfg.venue, &fv.token), headers, Bytes::from(fv.encode())).await {
                tracing::warn!(error = %e, "signal not published");
                continue;
            }
            metrics.signals.inc();
        }
    }
}

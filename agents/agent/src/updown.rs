//! The built-in crypto up/down model as a signal publisher (`polyfleet-agent updown-model`): the
//! venue's real-time data stream in, fair-value signals for the rounds of one series out.
//!
//! - Reads RTDS (`crypto_prices`, `crypto_prices_chainlink`, the Chainlink TWAP topics) through
//!   the venue crate's client ([`rtds_client`]: subscribed unfiltered, a `PING` every 5 s,
//!   reconnected after a drop), filtered here by coin (what was missed is not replayed: the
//!   model's volatility skips the gap and a round whose start fell in it is not priced).
//! - Finds the series' rounds on Gamma by slug (`{coin}-updown-{period}-{window start}`), the
//!   current one and the next, each once (a failed lookup is retried after 5 s), and reads each
//!   round's resolution rule from its rules text (TWAP window or spot).
//! - On every Chainlink price, prices each running round ([`SeriesRounds`]: the model and the
//!   rounds, shared with backtests) and publishes the probability of Up for the Up token and its
//!   complement for the Down token (`signal.<venue>.<token>`, schema
//!   `polyfleet.signal.fairValue/v1`), valid for a short while, each in a `fair_value_published`
//!   span whose trace the orders it causes continue.
//! - The clock is the stream's: rounds are chosen and signals stamped by the prices' timestamps.
//!
//! Metrics (`polyfleet_model_*`): frames by kind (malformed ones counted and skipped), signals
//! published, rounds found or missing, rounds not priced by reason, and the last probability.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use bytes::Bytes;
use polyfleet_core::models::rounds::{Publishing, SeriesRounds};
use polyfleet_core::models::updown::UpDownSettings;
use polyfleet_core::wire::signal::subject;
use polyfleet_io::bus::Bus;
use polyfleet_io::probes::Probe;
use polyfleet_io::telemetry;
use polyfleet_polymarket::http::markets::{RestClient, Retry, series_slug, up_down_round};
use polyfleet_polymarket::websocket::rtds::{self, Decoded, PriceKind};
use polyfleet_polymarket::websocket::rtds_client::{self, RtdsEvent};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

/// What the publisher follows and how it publishes.
#[derive(Debug, Clone)]
pub struct UpDownConfig {
    /// The Venue's name (the signal subjects').
    pub venue: String,
    /// The coin (`btc`).
    pub coin: String,
    /// The series period (`5m`, `15m`, `1h`, `4h`, `1d`).
    pub period: String,
    /// Gamma's base URL.
    pub gamma_url: String,
    /// The RTDS WebSocket URL.
    pub rtds_url: String,
    /// The model id its signals carry (what Strategies name in `signals`).
    pub model: String,
    /// The model version (scores are kept per version).
    pub model_version: String,
    /// How long a signal stays tradable after the price it was computed from, ms.
    pub valid_for_ms: u64,
    /// The model's settings.
    pub settings: UpDownSettings,
}

impl UpDownConfig {
    fn period_ms(&self) -> Option<u64> {
        polyfleet_core::models::updown::period_seconds(&self.period).map(|s| s * 1000)
    }
}

/// Labels of a counted kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind.
    pub kind: String,
}

/// The publisher's metrics.
pub struct UpDownMetrics {
    /// RTDS frames by kind: spot, chainlink, twap, other, malformed.
    pub frames: Family<KindLabel, Counter>,
    /// Signals published.
    pub signals: Counter,
    /// Round lookups: found, missing, error.
    pub rounds: Family<KindLabel, Counter>,
    /// Prices at which a running round was not priced, by reason.
    pub unpriced: Family<KindLabel, Counter>,
    /// The last probability of Up published, in millionths.
    pub last_probability_ppm: Gauge,
    ready: AtomicBool,
    registry: Registry,
}

impl UpDownMetrics {
    /// Registers the metrics.
    pub fn new() -> Arc<UpDownMetrics> {
        let mut registry = Registry::with_prefix("polyfleet_model");
        let frames = Family::<KindLabel, Counter>::default();
        registry.register("rtds_frames", "RTDS frames by kind (malformed ones skipped)", frames.clone());
        let signals = Counter::default();
        registry.register("signals_published", "Fair-value signals published", signals.clone());
        let rounds = Family::<KindLabel, Counter>::default();
        registry.register("round_lookups", "Round lookups on Gamma by result", rounds.clone());
        let unpriced = Family::<KindLabel, Counter>::default();
        registry.register("unpriced", "Running rounds not priced at a price, by reason", unpriced.clone());
        let last_probability_ppm = Gauge::default();
        registry.register(
            "last_probability_ppm",
            "The last probability of Up published, ppm",
            last_probability_ppm.clone(),
        );
        Arc::new(UpDownMetrics {
            frames,
            signals,
            rounds,
            unpriced,
            last_probability_ppm,
            ready: AtomicBool::new(false),
            registry,
        })
    }

    fn count(family: &Family<KindLabel, Counter>, kind: &str) {
        family.get_or_create(&KindLabel { kind: kind.into() }).inc();
    }
}

impl Probe for UpDownMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Runs the publisher until `stop` turns true.
pub async fn run<B: Bus>(
    bus: B,
    cfg: UpDownConfig,
    metrics: Arc<UpDownMetrics>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let rest = RestClient::new(cfg.gamma_url.clone(), cfg.gamma_url.clone(), Retry::default())?;
    let period_ms = cfg.period_ms().with_context(|| format!("unknown series period {:?}", cfg.period))?;
    let publishing = Publishing {
        model: cfg.model.clone(),
        model_version: cfg.model_version.clone(),
        valid_for_ms: cfg.valid_for_ms,
    };
    let mut rounds = SeriesRounds::new(period_ms, cfg.settings, publishing);
    tracing::info!(coin = %cfg.coin, period = %cfg.period, model = %cfg.model, "crypto up/down model publishing");
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stream = tokio::spawn(rtds_client::run(cfg.rtds_url.clone(), tx, stop.clone()));
    loop {
        let ev = tokio::select! {
            _ = stop.changed() => break,
            ev = rx.recv() => ev,
        };
        match ev {
            None => break,
            Some(RtdsEvent::Connected) => metrics.ready.store(true, Ordering::Relaxed),
            Some(RtdsEvent::Frame(text)) => on_frame(&bus, &rest, &cfg, &mut rounds, &metrics, &text).await,
            Some(RtdsEvent::Disconnected(why)) => {
                metrics.ready.store(false, Ordering::Relaxed);
                tracing::warn!(url = %cfg.rtds_url, %why, "RTDS connection lost; reconnecting");
            }
        }
    }
    let _ = stream.await;
    Ok(())
}

async fn on_frame<B: Bus>(
    bus: &B,
    rest: &RestClient,
    cfg: &UpDownConfig,
    rounds: &mut SeriesRounds,
    metrics: &UpDownMetrics,
    text: &str,
) {
    let tick = match rtds::decode(text) {
        Ok(Decoded::Tick(t)) => t,
        Ok(Decoded::Other) => return UpDownMetrics::count(&metrics.frames, "other"),
        Err(e) => {
            tracing::debug!(error = %e, "malformed RTDS frame skipped");
            return UpDownMetrics::count(&metrics.frames, "malformed");
        }
    };
    if tick.coin() != cfg.coin {
        return UpDownMetrics::count(&metrics.frames, "other");
    }
    match tick.kind {
        PriceKind::Spot => UpDownMetrics::count(&metrics.frames, "spot"),
        PriceKind::Twap { window_s } => {
            UpDownMetrics::count(&metrics.frames, "twap");
            rounds.model_mut().on_twap(tick.ts_ms, window_s, tick.value);
        }
        PriceKind::Chainlink => {
            UpDownMetrics::count(&metrics.frames, "chainlink");
            rounds.model_mut().on_price(tick.ts_ms, tick.value);
            lookup(rest, cfg, rounds, metrics, tick.ts_ms).await;
            publish(bus, &cfg.venue, rounds, metrics, tick.ts_ms).await;
        }
    }
}

/// Looks up the rounds wanted at `now_ms` on Gamma.
async fn lookup(
    rest: &RestClient,
    cfg: &UpDownConfig,
    rounds: &mut SeriesRounds,
    metrics: &UpDownMetrics,
    now_ms: u64,
) {
    let Some(period_ms) = cfg.period_ms() else { return };
    for start in rounds.wanted(now_ms) {
        let Some(slug) = series_slug(&cfg.coin, &cfg.period, start / 1000) else { continue };
        match rest.market_by_slug(&slug).await {
            Ok(Some(m)) => match up_down_round(&m, start, period_ms) {
                Some(r) => {
                    tracing::info!(%slug, resolution = ?r.round.resolution, "round found");
                    UpDownMetrics::count(&metrics.rounds, "found");
                    rounds.found(start, r);
                }
                None => {
                    tracing::warn!(%slug, "round without Up and Down tokens");
                    UpDownMetrics::count(&metrics.rounds, "missing");
                    rounds.missed(start, now_ms);
                }
            },
            Ok(None) => {
                UpDownMetrics::count(&metrics.rounds, "missing");
                rounds.missed(start, now_ms);
            }
            Err(e) => {
                tracing::warn!(%slug, error = %e, "round lookup failed");
                UpDownMetrics::count(&metrics.rounds, "error");
                rounds.missed(start, now_ms);
            }
        }
    }
}

async fn publish<B: Bus>(bus: &B, venue: &str, rounds: &mut SeriesRounds, metrics: &UpDownMetrics, now_ms: u64) {
    let (signals, unpriced) = rounds.signals(now_ms);
    for e in unpriced {
        UpDownMetrics::count(&metrics.unpriced, e.kind());
    }
    for (k, fv) in signals.iter().enumerate() {
        let span = tracing::info_span!("fair_value_published", model = %fv.model, token = %fv.token, probability_ppm = fv.probability_ppm);
        let headers = telemetry::inject(&span);
        if let Err(e) = bus.publish(&subject(venue, &fv.token), headers, Bytes::from(fv.encode())).await {
            tracing::warn!(error = %e, "signal not published");
            continue;
        }
        metrics.signals.inc();
        if k % 2 == 0 {
            metrics.last_probability_ppm.set(i64::from(fv.probability_ppm));
        }
    }
}

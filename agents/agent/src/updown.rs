//! The built-in crypto up/down model as a signal publisher (`polyfleet-agent updown-model`): the
//! venue's real-time data stream in, fair-value signals for the rounds of one series out.
//!
//! - Reads RTDS (`crypto_prices`, `crypto_prices_chainlink`, the Chainlink TWAP topics), subscribed
//!   unfiltered and filtered here by coin; answers the stream's keep-alive with a text `PING`
//!   every 5 s; reconnects after a drop (what was missed is not replayed: the model's volatility
//!   skips the gap and a round whose start fell in it is not priced).
//! - Finds the series' rounds on Gamma by slug (`{coin}-updown-{period}-{window start}`), the
//!   current one and the next, each once (a failed lookup is retried after 5 s), and reads each
//!   round's resolution rule from its rules text (TWAP window or spot).
//! - On every Chainlink price, prices each running round with [`UpDownModel`] and publishes the
//!   probability of Up for the Up token and its complement for the Down token
//!   (`signal.<venue>.<token>`, schema `polyfleet.signal.fairValue/v1`), valid for a short while,
//!   each in a `fair_value_published` span whose trace the orders it causes continue.
//! - The clock is the stream's: rounds are chosen and signals stamped by the prices' timestamps.
//!
//! Metrics (`polyfleet_model_*`): frames by kind (malformed ones counted and skipped), signals
//! published, rounds found or missing, rounds not priced by reason, and the last probability.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use polyfleet_core::TokenId;
use polyfleet_core::models::updown::{NotPriced, Round, UpDownModel, UpDownSettings, resolution_of};
use polyfleet_core::wire::signal::{FairValue, PPM, subject};
use polyfleet_io::bus::Bus;
use polyfleet_io::probes::Probe;
use polyfleet_io::telemetry;
use polyfleet_polymarket::http::markets::{ResolvedMarket, RestClient, Retry, series_slug};
use polyfleet_polymarket::websocket::rtds::{self, Decoded, PriceKind};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

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

/// A round found on Gamma.
#[derive(Debug, Clone)]
struct KnownRound {
    round: Round,
    up: TokenId,
    down: TokenId,
}

/// A round from its Gamma market: window from the slug and the period, rule from the rules text,
/// Up and Down tokens by outcome label.
fn known_round(m: &ResolvedMarket, start_ms: u64, period_ms: u64) -> Option<KnownRound> {
    let token = |label: &str| m.tokens.iter().find(|t| t.outcome.eq_ignore_ascii_case(label)).map(|t| t.token_id);
    let resolution = resolution_of(m.rules.as_deref().unwrap_or_default());
    Some(KnownRound {
        round: Round { start_ms, end_ms: start_ms + period_ms, resolution },
        up: token("Up")?,
        down: token("Down")?,
    })
}

/// The rounds and the model: what to publish at a price (sans-IO).
struct Rounds {
    cfg: UpDownConfig,
    model: UpDownModel,
    /// Window start (ms) → the round, once found.
    known: HashMap<u64, KnownRound>,
    /// Window start (ms) → when the last lookup failed (stream ms).
    missing: HashMap<u64, u64>,
}

/// Time between lookups of a round Gamma did not have, ms.
const LOOKUP_RETRY_MS: u64 = 5_000;

impl Rounds {
    /// Window starts (ms) to look up at `now_ms`: the current and the next, unless known or
    /// recently missed.
    fn wanted(&self, now_ms: u64) -> Vec<u64> {
        let Some(period) = self.cfg.period_ms() else { return vec![] };
        let first = now_ms - now_ms % period;
        [first, first + period]
            .into_iter()
            .filter(|s| !self.known.contains_key(s))
            .filter(|s| self.missing.get(s).is_none_or(|&at| now_ms >= at + LOOKUP_RETRY_MS))
            .collect()
    }

    /// The signals due at `now_ms`, with the rounds not priced and why.
    fn signals(&mut self, now_ms: u64) -> (Vec<FairValue>, Vec<NotPriced>) {
        self.known.retain(|_, r| r.round.end_ms > now_ms);
        let (mut out, mut unpriced) = (vec![], vec![]);
        let mut running: Vec<&KnownRound> = self.known.values().filter(|r| r.round.start_ms <= now_ms).collect();
        running.sort_by_key(|r| r.round.start_ms);
        for r in running {
            match self.model.p_up(&r.round, now_ms) {
                Ok(p) => {
                    let ppm = (p * f64::from(PPM)).round().clamp(1.0, f64::from(PPM - 1));
                    let ppm = ppm_of(ppm);
                    for (token, ppm) in [(r.up, ppm), (r.down, PPM - ppm)] {
                        out.push(FairValue {
                            token,
                            probability_ppm: ppm,
                            model: self.cfg.model.clone(),
                            model_version: self.cfg.model_version.clone(),
                            std_error_ppm: None,
                            valid_until_ms: now_ms + self.cfg.valid_for_ms,
                            published_ms: Some(now_ms),
                        });
                    }
                }
                Err(e) => unpriced.push(e),
            }
        }
        (out, unpriced)
    }
}

/// A probability already clamped to 1 ..= 999 999 millionths, as an integer.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to 1 ..= 999 999 first")]
fn ppm_of(clamped: f64) -> u32 {
    clamped as u32
}

fn unpriced_kind(e: NotPriced) -> &'static str {
    match e {
        NotPriced::NoPrice => "no_price",
        NotPriced::NoVolatility => "no_volatility",
        NotPriced::NoStrike => "no_strike",
        NotPriced::Ended => "ended",
    }
}

/// Runs the publisher until `stop` turns true.
pub async fn run<B: Bus>(
    bus: B,
    cfg: UpDownConfig,
    metrics: Arc<UpDownMetrics>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    anyhow::ensure!(cfg.period_ms().is_some(), "unknown series period {:?}", cfg.period);
    let rest = RestClient::new(cfg.gamma_url.clone(), cfg.gamma_url.clone(), Retry::default())?;
    let mut rounds = Rounds {
        model: UpDownModel::new(cfg.settings),
        cfg: cfg.clone(),
        known: HashMap::new(),
        missing: HashMap::new(),
    };
    tracing::info!(coin = %cfg.coin, period = %cfg.period, model = %cfg.model, "crypto up/down model publishing");
    while !*stop.borrow() {
        let ws = match tokio_tungstenite::connect_async(cfg.rtds_url.as_str()).await {
            Ok((ws, _)) => ws,
            Err(e) => {
                tracing::warn!(error = %e, url = %cfg.rtds_url, "RTDS connection failed; retrying");
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        let (mut tx, mut rx) = ws.split();
        if tx.send(Message::Text(rtds::subscribe_request().into())).await.is_err() {
            continue;
        }
        metrics.ready.store(true, Ordering::Relaxed);
        let mut ping = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = ping.tick() => {
                    if tx.send(Message::Text("PING".into())).await.is_err() { break }
                }
                frame = rx.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => continue,
                    };
                    on_frame(&bus, &rest, &mut rounds, &metrics, &text).await;
                }
            }
        }
        metrics.ready.store(false, Ordering::Relaxed);
        tracing::warn!("RTDS connection closed");
    }
    Ok(())
}

async fn on_frame<B: Bus>(bus: &B, rest: &RestClient, rounds: &mut Rounds, metrics: &UpDownMetrics, text: &str) {
    let tick = match rtds::decode(text) {
        Ok(Decoded::Tick(t)) => t,
        Ok(Decoded::Other) => return UpDownMetrics::count(&metrics.frames, "other"),
        Err(e) => {
            tracing::debug!(error = %e, "malformed RTDS frame skipped");
            return UpDownMetrics::count(&metrics.frames, "malformed");
        }
    };
    if tick.coin() != rounds.cfg.coin {
        return UpDownMetrics::count(&metrics.frames, "other");
    }
    match tick.kind {
        PriceKind::Spot => UpDownMetrics::count(&metrics.frames, "spot"),
        PriceKind::Twap { window_s } => {
            UpDownMetrics::count(&metrics.frames, "twap");
            rounds.model.on_twap(tick.ts_ms, window_s, tick.value);
        }
        PriceKind::Chainlink => {
            UpDownMetrics::count(&metrics.frames, "chainlink");
            rounds.model.on_price(tick.ts_ms, tick.value);
            lookup(rest, rounds, metrics, tick.ts_ms).await;
            publish(bus, rounds, metrics, tick.ts_ms).await;
        }
    }
}

/// Looks up the rounds wanted at `now_ms` on Gamma.
async fn lookup(rest: &RestClient, rounds: &mut Rounds, metrics: &UpDownMetrics, now_ms: u64) {
    let Some(period_ms) = rounds.cfg.period_ms() else { return };
    for start in rounds.wanted(now_ms) {
        let Some(slug) = series_slug(&rounds.cfg.coin, &rounds.cfg.period, start / 1000) else { continue };
        match rest.market_by_slug(&slug).await {
            Ok(Some(m)) => match known_round(&m, start, period_ms) {
                Some(r) => {
                    tracing::info!(%slug, resolution = ?r.round.resolution, "round found");
                    UpDownMetrics::count(&metrics.rounds, "found");
                    rounds.missing.remove(&start);
                    rounds.known.insert(start, r);
                }
                None => {
                    tracing::warn!(%slug, "round without Up and Down tokens");
                    UpDownMetrics::count(&metrics.rounds, "missing");
                    rounds.missing.insert(start, now_ms);
                }
            },
            Ok(None) => {
                UpDownMetrics::count(&metrics.rounds, "missing");
                rounds.missing.insert(start, now_ms);
            }
            Err(e) => {
                tracing::warn!(%slug, error = %e, "round lookup failed");
                UpDownMetrics::count(&metrics.rounds, "error");
                rounds.missing.insert(start, now_ms);
            }
        }
    }
}

async fn publish<B: Bus>(bus: &B, rounds: &mut Rounds, metrics: &UpDownMetrics, now_ms: u64) {
    let (signals, unpriced) = rounds.signals(now_ms);
    for e in unpriced {
        UpDownMetrics::count(&metrics.unpriced, unpriced_kind(e));
    }
    for (k, fv) in signals.iter().enumerate() {
        let span = tracing::info_span!("fair_value_published", model = %fv.model, token = %fv.token, probability_ppm = fv.probability_ppm);
        let headers = telemetry::inject(&span);
        if let Err(e) = bus.publish(&subject(&rounds.cfg.venue, &fv.token), headers, Bytes::from(fv.encode())).await {
            tracing::warn!(error = %e, "signal not published");
            continue;
        }
        metrics.signals.inc();
        if k % 2 == 0 {
            metrics.last_probability_ppm.set(i64::from(fv.probability_ppm));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::models::updown::Resolution;
    use polyfleet_polymarket::http::markets::parse_gamma_market;

    fn cfg() -> UpDownConfig {
        UpDownConfig {
            venue: "sim".into(),
            coin: "btc".into(),
            period: "5m".into(),
            gamma_url: String::new(),
            rtds_url: String::new(),
            model: "crypto-updown".into(),
            model_version: "1".into(),
            valid_for_ms: 3_000,
            settings: UpDownSettings { min_returns: 3, ..UpDownSettings::default() },
        }
    }

    fn round(start_s: u64) -> ResolvedMarket {
        parse_gamma_market(&serde_json::json!({
            "conditionId": format!("0x{:064x}", start_s),
            "slug": format!("btc-updown-5m-{start_s}"),
            "outcomes": "[\"Up\", \"Down\"]",
            "clobTokenIds": "[\"11\", \"22\"]",
            "description": "Resolves Up if the Chainlink BTC/USD 60-second TWAP at the end is at least the one at the start.",
        }))
        .unwrap()
    }

    /// The current and the next round are wanted; a found round is priced once running (Up and
    /// Down summing to one), a missed one is asked for again only after the retry delay.
    #[test]
    fn rounds_are_found_priced_and_published_as_complements() {
        let mut r = Rounds {
            cfg: cfg(),
            model: UpDownModel::new(cfg().settings),
            known: HashMap::new(),
            missing: HashMap::new(),
        };
        let start = 1_800_000_000_000u64; // a multiple of 300 s
        let now = start + 10_000;
        assert_eq!(r.wanted(now), [start, start + 300_000]);
        let k = known_round(&round(start / 1000), start, 300_000).unwrap();
        assert_eq!(k.round.resolution, Resolution::Twap { window_s: 60 });
        r.known.insert(start, k);
        r.missing.insert(start + 300_000, now);
        assert_eq!(r.wanted(now + 1_000), Vec::<u64>::new());
        assert_eq!(r.wanted(now + LOOKUP_RETRY_MS), [start + 300_000]);
        // Not priced before the model has a strike and a volatility.
        assert_eq!(r.signals(now).1, [NotPriced::NoPrice]);
        r.model.on_twap(start, 60, 100.0);
        for k in 0..10u64 {
            r.model.on_price(start + k * 1000, 100.0 + k as f64 * 0.01);
        }
        let (signals, unpriced) = r.signals(start + 9_000);
        assert!(unpriced.is_empty());
        assert_eq!(signals.len(), 2);
        assert_eq!(signals[0].probability_ppm + signals[1].probability_ppm, PPM);
        assert_eq!(signals[0].token, TokenId::parse("11").unwrap());
        assert!(signals[0].probability_ppm > 500_000, "the price rose since the strike");
        assert_eq!(signals[0].valid_until_ms, start + 12_000);
        // An ended round is dropped.
        assert!(r.signals(start + 300_000).0.is_empty());
        assert!(r.known.is_empty());
    }
}

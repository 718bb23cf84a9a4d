//! The crypto up/down model, sans-IO: reference prices in, the probability of "Up" for a round out.
//!
//! - **Volatility** from the raw price feed (the Chainlink stream, never the TWAP): an EWMA of
//!   squared log returns per second of elapsed time, with a half-life in seconds; ready after a
//!   minimum number of returns. Returns over a gap longer than `max_gap_ms` are not used (a
//!   reconnect leaves a hole the relay never replays).
//! - **Strike**: for a round resolving on a TWAP, the TWAP observed at the window start (the last
//!   observation at or before the start, no older than `max_gap_ms`); for one on spot, the price
//!   then. A round whose start the model did not see has no strike: it is not priced.
//! - **Probability**: [`super::crypto::p_up`] on spot, [`super::crypto::p_up_twap`] on a TWAP,
//!   with the integral of the price over the part of the final window already past (the price
//!   held from one observation to the next).

use std::collections::VecDeque;

use super::crypto::{p_up, p_up_twap};

/// What a round resolves on (read from the market's rules text, see [`resolution_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The price at the end against the price at the start.
    Spot,
    /// The TWAP over `window_s` seconds at the end against the one at the start.
    Twap {
        /// The window, seconds.
        window_s: u32,
    },
}

/// What a market's rules text (Gamma `description`, `resolutionSource`) says it resolves on: a
/// TWAP when it names one (the window from "30-second" / "60-second", 60 when unsaid), spot
/// otherwise.
pub fn resolution_of(rules: &str) -> Resolution {
    let lower = rules.to_ascii_lowercase();
    if !lower.contains("twap") {
        return Resolution::Spot;
    }
    let window_s =
        if lower.contains("30-second") || lower.contains("30 second") || lower.contains("30s") { 30 } else { 60 };
    Resolution::Twap { window_s }
}

/// The seconds in a series period (`5m`, `15m`, `1h`, `4h`, `1d`); `None` for another.
pub fn period_seconds(period: &str) -> Option<u64> {
    Some(match period {
        "5m" => 300,
        "15m" => 900,
        "1h" => 3600,
        "4h" => 14_400,
        "1d" => 86_400,
        _ => return None,
    })
}

/// One round to price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Window start (Unix ms).
    pub start_ms: u64,
    /// Window end (Unix ms).
    pub end_ms: u64,
    /// What it resolves on.
    pub resolution: Resolution,
}

/// Why a round has no probability yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotPriced {
    /// No price seen yet.
    #[error("no price yet")]
    NoPrice,
    /// Too few returns for a volatility.
    #[error("volatility not ready")]
    NoVolatility,
    /// The round's start was not observed.
    #[error("the round's strike was not observed")]
    NoStrike,
    /// The round has ended.
    #[error("the round has ended")]
    Ended,
}

impl NotPriced {
    /// Its metric label (`no_price`, `no_volatility`, `no_strike`, `ended`).
    pub fn kind(self) -> &'static str {
        match self {
            NotPriced::NoPrice => "no_price",
            NotPriced::NoVolatility => "no_volatility",
            NotPriced::NoStrike => "no_strike",
            NotPriced::Ended => "ended",
        }
    }
}

/// The model's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpDownSettings {
    /// Degrees of freedom of the Student-t (greater than 2).
    pub nu: f64,
    /// Half-life of the volatility EWMA, seconds.
    pub half_life_s: f64,
    /// Returns needed before the volatility is used.
    pub min_returns: u32,
    /// Gaps longer than this (ms) break the return series and the strike search.
    pub max_gap_ms: u64,
}

impl Default for UpDownSettings {
    fn default() -> Self {
        UpDownSettings { nu: 6.0, half_life_s: 600.0, min_returns: 30, max_gap_ms: 5_000 }
    }
}

/// The state of one coin.
#[derive(Debug, Clone)]
pub struct UpDownModel {
    settings: UpDownSettings,
    last: Option<(u64, f64)>,
    /// EWMA of squared log returns per second.
    variance: f64,
    returns: u32,
    /// Raw prices of the last few minutes (for the TWAP integral).
    prices: VecDeque<(u64, f64)>,
    /// TWAP observations per window, of the last hours (for strikes).
    twaps: Vec<(u32, VecDeque<(u64, f64)>)>,
}

/// Raw prices kept, ms (longer than any TWAP window).
const PRICES_KEPT_MS: u64 = 300_000;
/// TWAP observations kept, ms (a strike is looked up at a round's start).
const TWAPS_KEPT_MS: u64 = 6 * 3_600_000;

impl UpDownModel {
    /// A model with no data.
    pub fn new(settings: UpDownSettings) -> UpDownModel {
        UpDownModel { settings, last: None, variance: 0.0, returns: 0, prices: VecDeque::new(), twaps: vec![] }
    }

    /// A raw price (Chainlink stream). Out-of-order or repeated observations are ignored.
    pub fn on_price(&mut self, ts_ms: u64, price: f64) {
        if !(price.is_finite() && price > 0.0) {
            return;
        }
        if let Some((t0, p0)) = self.last {
            if ts_ms <= t0 {
                return;
            }
            let dt_s = (ts_ms - t0) as f64 / 1000.0;
            if ts_ms - t0 <= self.settings.max_gap_ms {
                let r = (price / p0).ln();
                let per_s = r * r / dt_s;
                let alpha = 1.0 - (-dt_s * std::f64::consts::LN_2 / self.settings.half_life_s).exp();
                self.variance = if self.returns == 0 { per_s } else { self.variance + alpha * (per_s - self.variance) };
                self.returns = self.returns.saturating_add(1);
            }
        }
        self.last = Some((ts_ms, price));
        self.prices.push_back((ts_ms, price));
        while self.prices.front().is_some_and(|&(t, _)| t + PRICES_KEPT_MS < ts_ms) {
            self.prices.pop_front();
        }
    }

    /// A TWAP observation over `window_s` seconds.
    pub fn on_twap(&mut self, ts_ms: u64, window_s: u32, value: f64) {
        if !(value.is_finite() && value > 0.0) {
            return;
        }
        let k = match self.twaps.iter().position(|(w, _)| *w == window_s) {
            Some(k) => k,
            None => {
                self.twaps.push((window_s, VecDeque::new()));
                self.twaps.len() - 1
            }
        };
        let obs = &mut self.twaps[k].1;
        if obs.back().is_some_and(|&(t, _)| t >= ts_ms) {
            return;
        }
        obs.push_back((ts_ms, value));
        while obs.front().is_some_and(|&(t, _)| t + TWAPS_KEPT_MS < ts_ms) {
            obs.pop_front();
        }
    }

    /// Volatility per √second, once enough returns were seen.
    pub fn sigma(&self) -> Option<f64> {
        (self.returns >= self.settings.min_returns && self.variance > 0.0).then(|| self.variance.sqrt())
    }

    /// The latest raw price and its time.
    pub fn last_price(&self) -> Option<(u64, f64)> {
        self.last
    }

    /// The value at `at_ms` of a series: the last observation at or before it, if recent enough.
    fn at(&self, series: &VecDeque<(u64, f64)>, at_ms: u64) -> Option<f64> {
        let k = series.partition_point(|&(t, _)| t <= at_ms);
        let (t, v) = *series.get(k.checked_sub(1)?)?;
        (at_ms - t <= self.settings.max_gap_ms).then_some(v)
    }

    /// The round's strike, if its start was observed.
    pub fn strike(&self, round: &Round) -> Option<f64> {
        match round.resolution {
            Resolution::Spot => self.at(&self.prices, round.start_ms),
            Resolution::Twap { window_s } => {
                let (_, obs) = self.twaps.iter().find(|(w, _)| *w == window_s)?;
                self.at(obs, round.start_ms)
            }
        }
    }

    /// ∫ price dt (price × seconds) from `from_ms` to `to_ms`, the price held between observations.
    fn integral(&self, from_ms: u64, to_ms: u64) -> Option<f64> {
        let mut sum = 0.0;
        let mut held = self.at(&self.prices, from_ms).or_else(|| self.prices.front().map(|&(_, p)| p))?;
        let mut t = from_ms;
        for &(ts, p) in self.prices.iter().filter(|&&(ts, _)| ts > from_ms && ts <= to_ms) {
            sum += held * (ts - t) as f64 / 1000.0;
            (t, held) = (ts, p);
        }
        Some(sum + held * to_ms.saturating_sub(t) as f64 / 1000.0)
    }

    /// The probability that `round` resolves Up, at `now_ms` (the time of the latest data).
    pub fn p_up(&self, round: &Round, now_ms: u64) -> Result<f64, NotPriced> {
        if now_ms >= round.end_ms {
            return Err(NotPriced::Ended);
        }
        let (_, spot) = self.last.ok_or(NotPriced::NoPrice)?;
        let sigma = self.sigma().ok_or(NotPriced::NoVolatility)?;
        let strike = self.strike(round).ok_or(NotPriced::NoStrike)?;
        let tau = (round.end_ms - now_ms) as f64 / 1000.0;
        let nu = self.settings.nu;
        Ok(match round.resolution {
            Resolution::Spot => p_up(spot, strike, sigma, tau, nu),
            Resolution::Twap { window_s } => {
                let window = f64::from(window_s);
                let window_start = round.end_ms.saturating_sub(u64::from(window_s) * 1000);
                let integral =
                    if now_ms > window_start { self.integral(window_start, now_ms).unwrap_or(0.0) } else { 0.0 };
                p_up_twap(spot, strike, sigma, tau, window, integral, nu)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> UpDownModel {
        UpDownModel::new(UpDownSettings { min_returns: 3, ..UpDownSettings::default() })
    }

    #[test]
    fn rules_text_names_the_resolution() {
        let rules = "Resolves Up if the Chainlink BTC/USD 60-second TWAP at the end is at least the TWAP at the start.";
        assert_eq!(resolution_of(rules), Resolution::Twap { window_s: 60 });
        assert_eq!(resolution_of("uses the 30-second TWAP"), Resolution::Twap { window_s: 30 });
        assert_eq!(resolution_of("Binance BTC/USDT 1h candle close >= open"), Resolution::Spot);
    }

    /// The EWMA of squared returns per second, exactly, on a worked example: returns of ln(1.001)
    /// every second give a variance of ln(1.001)² per second whatever the half-life.
    #[test]
    fn volatility_is_per_second_of_elapsed_time() {
        let mut m = model();
        let mut p = 100.0;
        for k in 0..10 {
            m.on_price(k * 1000, p);
            p *= 1.001;
        }
        assert!((m.sigma().unwrap() - 1.001f64.ln()).abs() < 1e-12);
        // The same returns two seconds apart are half the variance per second.
        let mut m2 = model();
        let mut p = 100.0;
        for k in 0..10 {
            m2.on_price(k * 2000, p);
            p *= 1.001;
        }
        assert!((m2.sigma().unwrap() - 1.001f64.ln() / 2f64.sqrt()).abs() < 1e-12);
        // A gap longer than max_gap_ms is no return.
        let before = m2.sigma();
        m2.on_price(10 * 2000 + 60_000, p * 1.5);
        assert_eq!(m2.sigma(), before);
    }

    #[test]
    fn the_strike_is_the_twap_at_the_start_when_seen() {
        let mut m = model();
        let round = Round { start_ms: 10_000, end_ms: 310_000, resolution: Resolution::Twap { window_s: 60 } };
        assert_eq!(m.p_up(&round, 5_000), Err(NotPriced::NoPrice));
        for k in 0..20u64 {
            m.on_price(k * 1000, 100.0 + k as f64 * 0.01);
            m.on_twap(k * 1000, 60, 99.0 + k as f64);
        }
        assert_eq!(m.strike(&round), Some(109.0));
        // A round starting after a long silence was not seen.
        let late = Round { start_ms: 40_000, ..round };
        assert_eq!(m.strike(&late), None);
        assert_eq!(m.p_up(&late, 19_000), Err(NotPriced::NoStrike));
        assert_eq!(m.p_up(&round, 310_000), Err(NotPriced::Ended));
    }

    /// The probability is the closed form's with the model's own inputs: before the final window
    /// (τ ≥ w) and inside it, with the integral of the held prices.
    #[test]
    fn probabilities_are_the_closed_forms() {
        let mut m = model();
        let round = Round { start_ms: 0, end_ms: 300_000, resolution: Resolution::Twap { window_s: 60 } };
        m.on_twap(0, 60, 100.0);
        let mut p = 100.0;
        for k in 0..=270u64 {
            m.on_price(k * 1000, p);
            p *= if k % 2 == 0 { 1.0002 } else { 0.9999 };
        }
        let (now, spot) = m.last_price().unwrap();
        let sigma = m.sigma().unwrap();
        let inside = m.p_up(&round, now).unwrap();
        // 30 s left: 30 s of the window are past, each second holding the price observed at its start.
        let integral: f64 = m.prices.iter().filter(|&&(t, _)| (240_000..270_000).contains(&t)).map(|&(_, p)| p).sum();
        let want = p_up_twap(spot, 100.0, sigma, 30.0, 60.0, integral, 6.0);
        assert!((inside - want).abs() < 1e-12, "{inside} vs {want}");
        let early = m.p_up(&round, 200_000).unwrap();
        assert!((early - p_up(spot, 100.0, sigma, 100.0 - 40.0, 6.0)).abs() < 1e-12);
        let spot_round = Round { resolution: Resolution::Spot, ..round };
        m.on_price(271_000, p);
        assert!((m.p_up(&spot_round, 271_000).unwrap() - p_up(p, 100.0, m.sigma().unwrap(), 29.0, 6.0)).abs() < 1e-12);
    }
}

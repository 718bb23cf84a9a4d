//! Performance statistics of a run from its journal. PnL, fees, drawdown and notional stay fixed
//! point ([`Money`]); ratios (Sharpe, Sortino, Calmar, hit rate, profit factor, turnover) are
//! computed from them in floating point, since they are not money.
//!
//! Annualized ratios (Sharpe, Sortino, Calmar) come from daily returns only: the equity change
//! over each whole day of recording time (markets trade around the clock: 365 days a year)
//! divided by the capital (the risk policies' gross exposure limit unless given), and only with
//! at least [`MIN_DAILY_RETURNS`] of them. A run of minutes has no annual ratio (scaling
//! per-second returns by the square root of the seconds in a year gave a Sharpe of 280 for a
//! 6.5-minute backtest): the ratio is `None` and [`Stats::ratios_note`] says why. Hit rate and
//! profit factor count sample periods with a non-zero PnL. The ratios are the core's
//! ([`polyfleet_core::analytics::ratios`]), the same as the trade journal's reports.

use polyfleet_core::{Money, Rounding};
use serde::Serialize;

use crate::journal::Journal;

const DAY_NS: u64 = 86_400_000_000_000;

/// How the backtest values what is still held (see `engine` and `valuation`).
pub const MARKING: &str = "complete sets at 1 USDC (they merge into it); other holdings at the best bid of a live book, else the last one seen";

pub use polyfleet_core::analytics::ratios::MIN_DAILY_RETURNS;
use polyfleet_core::analytics::ratios::annualized;

/// The run's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Equity at the end (marked), USDC.
    pub pnl_usdc: String,
    /// Realized PnL, fees included, USDC.
    pub realized_usdc: String,
    /// The rest of the equity: open holdings at their marks ([`MARKING`]), USDC.
    pub marked_usdc: String,
    /// How open holdings are marked.
    pub marking: &'static str,
    /// Fees paid, USDC.
    pub fees_usdc: String,
    /// Largest fall of equity from a peak, USDC.
    pub max_drawdown_usdc: String,
    /// Capital the returns are measured against, USDC.
    pub capital_usdc: String,
    /// Notional traded, USDC.
    pub notional_usdc: String,
    /// Annualized Sharpe ratio of daily returns (None: too few days, or no variation).
    pub sharpe: Option<f64>,
    /// Annualized Sortino ratio of daily returns (None: too few days, or no losing day).
    pub sortino: Option<f64>,
    /// Annualized return over max drawdown (None: too few days, or no drawdown).
    pub calmar: Option<f64>,
    /// Why the annualized ratios are not given, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratios_note: Option<String>,
    /// Share of periods with a gain, among periods with a non-zero PnL.
    pub hit_rate: Option<f64>,
    /// Gains over losses (None without losses).
    pub profit_factor: Option<f64>,
    /// Notional traded over capital.
    pub turnover: Option<f64>,
    /// Brier score of the directional strategies' forecasts scored at resolution, all model
    /// versions together (None: no forecast was scored).
    pub brier: Option<f64>,
    /// Brier skill score against the market's mid, when exactly one model version was scored
    /// (each version's is in its strategy's `forecasts`).
    pub brier_skill: Option<f64>,
    /// Forecasts scored.
    pub forecasts: u64,
    /// Fills.
    pub fills: u64,
    /// Fills as maker.
    pub maker_fills: u64,
    /// Duration of the recording covered, seconds.
    pub duration_s: f64,
}

/// `s` seconds as minutes, hours or days.
fn human_duration(s: f64) -> String {
    if s < 3600.0 {
        format!("{:.1} minutes", s / 60.0)
    } else if s < 86_400.0 {
        format!("{:.1} hours", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}

fn round6(x: f64) -> Option<f64> {
    x.is_finite().then(|| (x * 1e6).round() / 1e6)
}

/// The equity at the end of each whole day since the first sample (the last sample at or before
/// each day's end), the first sample's equity first.
fn daily_equity(j: &Journal) -> Vec<i64> {
    let Some(first) = j.samples.first() else { return vec![] };
    let mut out = vec![first.equity.micros()];
    let mut end = first.ts_ns.saturating_add(DAY_NS);
    let mut last = first.equity.micros();
    for s in &j.samples {
        while s.ts_ns > end {
            out.push(last);
            end = end.saturating_add(DAY_NS);
        }
        last = s.equity.micros();
    }
    if j.samples.last().is_some_and(|s| s.ts_ns == end) {
        out.push(last);
    }
    out
}

/// Statistics of `j`, against `capital` (positive).
pub fn stats(j: &Journal, capital: Money) -> Stats {
    let scores: Vec<&polyfleet_core::analytics::scores::ModelScore> =
        j.strategies.iter().flat_map(|s| &s.scores).collect();
    let forecasts: u64 = scores.iter().map(|s| s.forecasts).sum();
    // Brier is a mean: each version's mean (to the millionth) times its forecasts, summed over the
    // versions, is the Brier of every forecast together.
    let brier_sum: u128 = scores.iter().map(|s| u128::from(s.brier_micros) * u128::from(s.forecasts)).sum();
    let cap = capital.micros().max(1) as f64;
    let equity: Vec<i64> = j.samples.iter().map(|s| s.equity.micros()).collect();
    let changes: Vec<i64> = equity.windows(2).map(|w| w[1] - w[0]).collect();
    let daily: Vec<i64> = daily_equity(j).windows(2).map(|w| w[1] - w[0]).collect();
    let days = daily.len();
    let enough = days >= MIN_DAILY_RETURNS;
    let (mut peak, mut max_dd) = (0i64, 0i64);
    for &e in &equity {
        peak = peak.max(e);
        max_dd = max_dd.max(peak - e);
    }
    let end = equity.last().copied().unwrap_or(0);
    let ratios = annualized(&daily, Money::from_micros(end), Money::from_micros(max_dd), capital);
    let first = j.samples.first().map_or(0, |s| s.ts_ns);
    let last = j.samples.last().map_or(0, |s| s.ts_ns);
    let duration_ns = last.saturating_sub(first) as f64;
    let ratios_note = (!enough).then(|| {
        format!(
            "not annualized: {} of recording time gives {days} daily returns; Sharpe, Sortino and Calmar need at least {MIN_DAILY_RETURNS}",
            human_duration(duration_ns / 1e9)
        )
    });
    let gains: i64 = changes.iter().filter(|&&c| c > 0).sum();
    let losses: i64 = -changes.iter().filter(|&&c| c < 0).sum::<i64>();
    let moved = changes.iter().filter(|&&c| c != 0).count();
    let won = changes.iter().filter(|&&c| c > 0).count();
    let notional = j.fills.iter().fold(Money::ZERO, |a, f| {
        a.checked_add(f.price.notional(f.size, Rounding::Nearest).unwrap_or(Money::ZERO)).unwrap_or(a)
    });
    let sum = |f: fn(&crate::journal::StrategyCounters) -> Money| {
        j.strategies.iter().fold(Money::ZERO, |a, s| a.checked_add(f(s)).unwrap_or(a))
    };
    Stats {
        pnl_usdc: Money::from_micros(end).to_string(),
        realized_usdc: sum(|s| s.realized).to_string(),
        marked_usdc: Money::from_micros(end)
            .checked_sub(sum(|s| s.realized))
            .map_or_else(|| "n/a".to_string(), |m| m.to_string()),
        marking: MARKING,
        fees_usdc: sum(|s| s.fees).to_string(),
        max_drawdown_usdc: Money::from_micros(max_dd).to_string(),
        capital_usdc: capital.to_string(),
        notional_usdc: notional.to_string(),
        sharpe: ratios.sharpe.and_then(round6),
        sortino: ratios.sortino.and_then(round6),
        calmar: ratios.calmar.and_then(round6),
        ratios_note,
        hit_rate: (moved > 0).then(|| won as f64 / moved as f64).and_then(round6),
        profit_factor: (losses > 0).then(|| gains as f64 / losses as f64).and_then(round6),
        turnover: round6(notional.micros() as f64 / cap),
        brier: (forecasts > 0).then(|| brier_sum as f64 / forecasts as f64 / 1e6).and_then(round6),
        brier_skill: match scores.as_slice() {
            [one] => one.brier_skill_bps.map(|b| b as f64 / 1e4),
            _ => None,
        },
        forecasts,
        fills: j.fills.len() as u64,
        maker_fills: j.fills.iter().filter(|f| f.maker).count() as u64,
        duration_s: round6(duration_ns / 1e9).unwrap_or(0.0),
    }
}

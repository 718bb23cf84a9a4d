//! Performance statistics of a run from its journal. PnL, fees, drawdown and notional stay fixed
//! point ([`Money`]); ratios (Sharpe, Sortino, Calmar, hit rate, profit factor, turnover) are
//! computed from them in floating point, since they are not money.
//!
//! Returns are the equity changes between samples divided by the capital (the risk policies'
//! gross exposure limit unless given); annualizing assumes markets that trade around the clock.
//! Hit rate and profit factor count sample periods with a non-zero PnL.

use polyfleet_core::{Money, Rounding};
use serde::Serialize;

use crate::journal::Journal;

const YEAR_NS: f64 = 365.0 * 24.0 * 3600.0 * 1e9;

/// The run's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Equity at the end (marked), USDC.
    pub pnl_usdc: String,
    /// Realized PnL, fees included, USDC.
    pub realized_usdc: String,
    /// Fees paid, USDC.
    pub fees_usdc: String,
    /// Largest fall of equity from a peak, USDC.
    pub max_drawdown_usdc: String,
    /// Capital the returns are measured against, USDC.
    pub capital_usdc: String,
    /// Notional traded, USDC.
    pub notional_usdc: String,
    /// Annualized Sharpe ratio (None without variation).
    pub sharpe: Option<f64>,
    /// Annualized Sortino ratio (None without losses).
    pub sortino: Option<f64>,
    /// Annualized return over max drawdown (None without drawdown).
    pub calmar: Option<f64>,
    /// Share of periods with a gain, among periods with a non-zero PnL.
    pub hit_rate: Option<f64>,
    /// Gains over losses (None without losses).
    pub profit_factor: Option<f64>,
    /// Notional traded over capital.
    pub turnover: Option<f64>,
    /// Brier score of a directional strategy's forecasts (None: no directional strategy ran).
    pub brier: Option<f64>,
    /// Fills.
    pub fills: u64,
    /// Fills as maker.
    pub maker_fills: u64,
    /// Duration of the recording covered, seconds.
    pub duration_s: f64,
}

fn round6(x: f64) -> Option<f64> {
    x.is_finite().then(|| (x * 1e6).round() / 1e6)
}

/// Statistics of `j`, against `capital` (positive), with samples every `sample_ns`.
pub fn stats(j: &Journal, capital: Money, sample_ns: u64) -> Stats {
    let cap = capital.micros().max(1) as f64;
    let equity: Vec<i64> = j.samples.iter().map(|s| s.equity.micros()).collect();
    let changes: Vec<i64> = equity.windows(2).map(|w| w[1] - w[0]).collect();
    let returns: Vec<f64> = changes.iter().map(|&c| c as f64 / cap).collect();
    let n = returns.len() as f64;
    let per_year = (YEAR_NS / sample_ns.max(1) as f64).sqrt();
    let mean = if n > 0.0 { returns.iter().sum::<f64>() / n } else { 0.0 };
    let var = if n > 1.0 { returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    let down = if n > 0.0 { returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n } else { 0.0 };
    let sharpe = (var > 0.0).then(|| mean / var.sqrt() * per_year).and_then(round6);
    let sortino = (down > 0.0).then(|| mean / down.sqrt() * per_year).and_then(round6);
    let (mut peak, mut max_dd) = (0i64, 0i64);
    for &e in &equity {
        peak = peak.max(e);
        max_dd = max_dd.max(peak - e);
    }
    let first = j.samples.first().map_or(0, |s| s.ts_ns);
    let last = j.samples.last().map_or(0, |s| s.ts_ns);
    let duration_ns = last.saturating_sub(first) as f64;
    let end = equity.last().copied().unwrap_or(0);
    let calmar = (max_dd > 0 && duration_ns > 0.0)
        .then(|| (end as f64 / cap) * (YEAR_NS / duration_ns) / (max_dd as f64 / cap))
        .and_then(round6);
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
        fees_usdc: sum(|s| s.fees).to_string(),
        max_drawdown_usdc: Money::from_micros(max_dd).to_string(),
        capital_usdc: capital.to_string(),
        notional_usdc: notional.to_string(),
        sharpe,
        sortino,
        calmar,
        hit_rate: (moved > 0).then(|| won as f64 / moved as f64).and_then(round6),
        profit_factor: (losses > 0).then(|| gains as f64 / losses as f64).and_then(round6),
        turnover: round6(notional.micros() as f64 / cap),
        brier: None,
        fills: j.fills.len() as u64,
        maker_fills: j.fills.iter().filter(|f| f.maker).count() as u64,
        duration_s: round6(duration_ns / 1e9).unwrap_or(0.0),
    }
}

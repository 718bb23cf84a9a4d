//! Annualized performance ratios of daily PnL: Sharpe, Sortino and Calmar, the same definitions
//! for backtest reports and the trade journal's reports. Statistics, not accounts: the inputs
//! are fixed-point micro-USDC, the ratios floating point.
//!
//! Returns are each day's PnL over the capital; markets trade around the clock, so a year is 365
//! days. Sharpe is the mean over the sample standard deviation (n − 1), Sortino the mean over the
//! downside deviation (the root mean square of the negative returns over all n days), Calmar the
//! annualized return over the maximum drawdown. The capital cancels out of all three; it matters
//! only to the returns' scale. With fewer than [`MIN_DAILY_RETURNS`] days no ratio is given
//! (scaling minutes of returns to a year gives meaningless numbers).

use crate::Money;

/// Days in a year of trading.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// Daily returns an annualized ratio needs; with fewer it is not given.
pub const MIN_DAILY_RETURNS: usize = 30;

/// The three ratios (None: too few days, or nothing to divide by).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Annualized {
    /// Annualized Sharpe ratio (None without variation).
    pub sharpe: Option<f64>,
    /// Annualized Sortino ratio (None without a losing day).
    pub sortino: Option<f64>,
    /// Annualized return over maximum drawdown (None without a drawdown).
    pub calmar: Option<f64>,
    /// Daily returns used.
    pub days: usize,
}

/// The ratios of `daily` PnL (micro-USDC per day) that added up to `total` with a largest fall
/// from a peak of `max_drawdown`, against `capital` (positive).
pub fn annualized(daily: &[i64], total: Money, max_drawdown: Money, capital: Money) -> Annualized {
    let cap = capital.micros().max(1) as f64;
    let returns: Vec<f64> = daily.iter().map(|&d| d as f64 / cap).collect();
    let days = returns.len();
    let enough = days >= MIN_DAILY_RETURNS;
    let n = days as f64;
    let mean = if n > 0.0 { returns.iter().sum::<f64>() / n } else { 0.0 };
    let var = if n > 1.0 { returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    let down = if n > 0.0 { returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n } else { 0.0 };
    let per_year = DAYS_PER_YEAR.sqrt();
    let max_dd = max_drawdown.micros();
    Annualized {
        sharpe: (enough && var > 0.0).then(|| mean / var.sqrt() * per_year),
        sortino: (enough && down > 0.0).then(|| mean / down.sqrt() * per_year),
        calmar: (enough && max_dd > 0)
            .then(|| (total.micros() as f64 / cap) * (DAYS_PER_YEAR / n) / (max_dd as f64 / cap)),
        days,
    }
}

/// A reference series and its ratios computed independently, which the core's tests and the
/// journal report's end-to-end test hold [`annualized`] to (within 1e-9).
pub mod reference {
    /// 45 days of PnL, micro-USDC.
    pub const DAILY: [i64; 45] = [
        12_500_000,
        -3_250_000,
        4_000_000,
        0,
        7_125_000,
        -9_500_000,
        2_000_001,
        15_000_000,
        -1_000_000,
        3_333_333,
        -6_666_667,
        8_000_000,
        1_250_000,
        -2_500_000,
        0,
        5_500_000,
        -4_750_000,
        6_000_000,
        2_222_222,
        -1_111_111,
        9_999_999,
        -12_000_000,
        3_000_000,
        4_500_000,
        -500_000,
        750_000,
        1_000_000,
        -3_000_000,
        2_500_000,
        6_250_000,
        -7_000_000,
        1_500_000,
        3_750_000,
        -250_000,
        4_444_444,
        -5_555_555,
        800_000,
        1_200_000,
        -2_200_000,
        3_300_000,
        10_000_000,
        -8_000_000,
        600_000,
        2_900_000,
        -1_900_000,
    ];

    /// (Sharpe, Sortino, Calmar) of [`DAILY`] as `scripts/verify/ratios.py` (numpy 2.4.6, pandas
    /// 3.1.1) prints them.
    pub const NUMPY: (f64, f64, f64) = (4.156_893_511_663_640_5, 7.036_892_161_149_832, 36.663_348_314_814_81);
}

#[cfg(test)]
mod tests {
    use super::reference::{DAILY, NUMPY as EXPECTED};
    use super::*;

    #[test]
    fn ratios_match_an_independent_computation() {
        // Expected values printed by `scripts/verify/ratios.py` (numpy, pandas) on DAILY with a
        // capital of 1000 USDC and the drawdown below.
        let total: i64 = DAILY.iter().sum();
        let (mut equity, mut peak, mut dd) = (0i64, 0i64, 0i64);
        for d in DAILY {
            equity += d;
            peak = peak.max(equity);
            dd = dd.max(peak - equity);
        }
        let a =
            annualized(&DAILY, Money::from_micros(total), Money::from_micros(dd), Money::from_micros(1_000_000_000));
        assert_eq!(a.days, 45);
        let close = |x: Option<f64>, want: f64| (x.unwrap() - want).abs() < 1e-9;
        assert!(close(a.sharpe, EXPECTED.0), "sharpe {:?} vs {}", a.sharpe, EXPECTED.0);
        assert!(close(a.sortino, EXPECTED.1), "sortino {:?} vs {}", a.sortino, EXPECTED.1);
        assert!(close(a.calmar, EXPECTED.2), "calmar {:?} vs {}", a.calmar, EXPECTED.2);
        let other =
            annualized(&DAILY, Money::from_micros(total), Money::from_micros(dd), Money::from_micros(7_000_000));
        assert!(close(other.sharpe, EXPECTED.0) && close(other.calmar, EXPECTED.2), "the capital cancels out");
    }

    #[test]
    fn too_few_days_or_nothing_to_divide_by_give_none() {
        let a = annualized(&DAILY[..29], Money::from_micros(1), Money::from_micros(1), Money::from_micros(1));
        assert_eq!((a.sharpe, a.sortino, a.calmar, a.days), (None, None, None, 29));
        let flat = [1_000_000i64; 30];
        let b = annualized(&flat, Money::from_micros(30_000_000), Money::ZERO, Money::from_micros(1_000_000));
        assert_eq!((b.sharpe, b.sortino, b.calmar), (None, None, None), "no variation, no losing day, no drawdown");
        assert_eq!(annualized(&[], Money::ZERO, Money::ZERO, Money::ZERO).days, 0);
    }
}

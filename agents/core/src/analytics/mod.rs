//! Pure analytics over what a strategy did, shared by backtest reports and (later) the journal:
//! no I/O, no clock, money in fixed point.
//!
//! - [`attribution`]: PnL split into spread capture, inventory, fees and lifecycle basis, exactly
//!   reconciled with the mid-marked PnL.
//! - [`markouts`]: markout curves of fills at 1, 5, 30 and 120 seconds.
//! - [`rebates`]: the venue's maker-rebate formula (share of the taker-fee pool by fee-equivalent).
//! - [`rewards`]: the venue's liquidity-reward score of resting quotes and the pool share it earns.
//! - [`ratios`]: annualized Sharpe, Sortino and Calmar of daily PnL.
//! - [`performance`]: the PnL of a stream of fills (the trade journal's) per strategy, market and
//!   UTC day, marked at the last fill price.
//! - [`sequential`]: the always-valid sequential A/B test (mSPRT) of two arms on paired slots.
//! - [`experiment`]: an A/B experiment's arm, its bounds, and the arms' split of the markets.
//! - [`drift`]: change detectors for drift alarms (Page–Hinkley, CUSUM, ADWIN).
//! - [`twins`]: a shadow Strategy against its live twin, order by order.

pub mod attribution;
pub mod drift;
pub mod experiment;
pub mod markouts;
pub mod performance;
pub mod ratios;
pub mod rebates;
pub mod rewards;
pub mod scores;
pub mod sequential;
pub mod twins;

/// What quoting earned besides its fills: the venue's maker rebates and liquidity rewards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Earnings {
    /// Maker rebates.
    pub rebates: rebates::RebateSummary,
    /// Liquidity rewards (estimated: the rest of the book scored as one other maker).
    pub rewards: rewards::RewardSummary,
}

/// Serializes a fixed-point amount as its exact decimal text ("12.5"), for reports.
pub fn decimal<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Micro-USDC times [`crate::Price::SCALE`]: the exact product of micro-shares and a price.
pub(crate) const UNIT: i128 = crate::Price::SCALE as i128;

/// Exact `units` (micro-USDC x price scale) as money, rounded to the nearest micro-USDC.
pub(crate) fn money(units: i128) -> crate::Money {
    let m = crate::money::div_round(units, UNIT, crate::Rounding::Nearest);
    crate::Money::from_micros_i128(m).unwrap_or(if m < 0 {
        crate::Money::from_micros(i64::MIN)
    } else {
        crate::Money::from_micros(i64::MAX)
    })
}

/// Exact values from decimal text, for the analytics tests.
#[cfg(test)]
pub(crate) mod test_values {
    use crate::{Money, Price, Quantity};

    /// A price.
    pub fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    /// A quantity.
    pub fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }
    /// An amount.
    pub fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }
}

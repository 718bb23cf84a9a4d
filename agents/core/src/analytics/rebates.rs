//! Polymarket's maker rebates (docs /market-makers/maker-rebates; strategy notes §1): per market
//! and UTC day, a share of the taker fees collected (`rebateRate`, e.g. 20 % in crypto) is paid
//! to makers in proportion to their fee-equivalent, `C·rate·(p(1−p))^e` on filled maker volume.
//! Every trade has one maker side, so the day's total fee-equivalent is that of every print;
//! a maker fill of ours that no print carried (a paper fill from a book move) adds to it. A day
//! pays out at its end, when the rebate reaches the 1 USDC minimum.

use std::collections::BTreeMap;

use crate::money::FeeSchedule;
use crate::{ConditionId, Money, Price, Quantity};

/// Milliseconds in a UTC day.
const DAY_MS: u64 = 86_400_000;
/// The smallest payout, micro-USDC.
const MINIMUM: i128 = 1_000_000;
/// Fee-equivalents are kept in micro-USDC times this (exact enough: 1e-12 USDC).
const PRECISION: i128 = 1_000_000;

#[derive(Debug, Clone, Copy, Default)]
struct Day {
    ours: i128,
    total: i128,
    /// Taker fees collected, micro-USDC.
    pool: i128,
    share_bps: u32,
}

/// What the rebate meter has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RebateSummary {
    /// Rebates of every day so far (the current one still accruing), USDC.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub accrued: Money,
    /// Rebates of the days that ended at or above the minimum, USDC.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub paid: Money,
    /// Days that ended below the minimum (nothing paid).
    pub days_below_minimum: u64,
    /// Our fee-equivalent, USDC.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub fee_equivalent: Money,
}

/// `C·rate·(p(1−p))^e` in micro-USDC times [`PRECISION`] (`None`: exponent not in use).
pub fn fee_equivalent(fees: &FeeSchedule, price: Price, size: Quantity) -> Option<i128> {
    let (n, d) = fees.exact(price, size)?;
    n.checked_mul(PRECISION).map(|n| n / d)
}

/// One trade of a market, for the rebate meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    /// Venue time, Unix ms (its UTC day is the rebate's day).
    pub ts_ms: u64,
    /// The market.
    pub market: ConditionId,
    /// Its fee parameters.
    pub fees: FeeSchedule,
    /// Its makers' share of the taker fees, basis points.
    pub share_bps: u32,
    /// Price.
    pub price: Price,
    /// Shares.
    pub size: Quantity,
}

/// One strategy's maker rebates.
#[derive(Debug, Clone, Default)]
pub struct RebateMeter {
    days: BTreeMap<(u64, ConditionId), Day>,
}

impl RebateMeter {
    /// Adds a trade's fee-equivalent to ours (`ours`) and to the day's total and fee pool
    /// (`counted`).
    fn add(&mut self, t: &Trade, ours: bool, counted: bool) {
        let fe = fee_equivalent(&t.fees, t.price, t.size).unwrap_or(0);
        let fee = t.fees.taker_fee(t.price, t.size).map_or(0, |m| i128::from(m.micros()));
        let d = self.days.entry((t.ts_ms / DAY_MS, t.market)).or_default();
        d.share_bps = t.share_bps;
        if ours {
            d.ours += fe;
        }
        if counted {
            d.total += fe;
            d.pool += fee;
        }
    }

    /// A trade print of the market (every print has one maker): its fee-equivalent and fee.
    pub fn print(&mut self, t: &Trade) {
        self.add(t, false, true);
    }

    /// A maker fill of ours; `in_print` when a print the meter saw (or will see) carried it.
    pub fn maker_fill(&mut self, t: &Trade, in_print: bool) {
        self.add(t, true, !in_print);
    }

    /// The rebates as of `now_ms` (days before its day have ended).
    pub fn summary(&self, now_ms: u64) -> RebateSummary {
        let today = now_ms / DAY_MS;
        let mut s = RebateSummary::default();
        let (mut accrued, mut paid, mut fe) = (0i128, 0i128, 0i128);
        for (&(day, _), d) in &self.days {
            fe += d.ours;
            let total = d.total.max(d.ours);
            if total == 0 || d.ours == 0 {
                continue;
            }
            let r = d.pool * i128::from(d.share_bps) * d.ours / (10_000 * total);
            accrued += r;
            if day < today {
                if r >= MINIMUM {
                    paid += r;
                } else {
                    s.days_below_minimum += 1;
                }
            }
        }
        s.accrued = Money::from_micros_i128(accrued).unwrap_or(Money::ZERO);
        s.paid = Money::from_micros_i128(paid).unwrap_or(Money::ZERO);
        s.fee_equivalent = Money::from_micros_i128(fe / PRECISION).unwrap_or(Money::ZERO);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::test_values::{p, q};

    const CRYPTO: FeeSchedule = FeeSchedule { rate_bps: 700, exponent: 1 };

    /// A crypto trade (7 %, 20 % back to makers).
    fn t(ts_ms: u64, market: ConditionId, price: &str, size: &str) -> Trade {
        Trade { ts_ms, market, fees: CRYPTO, share_bps: 2000, price: p(price), size: q(size) }
    }

    #[test]
    fn a_maker_on_every_print_gets_the_share_of_the_pool_and_a_small_day_pays_nothing() {
        let m = ConditionId::from_bytes([1; 32]);
        let mut r = RebateMeter::default();
        // 1000 shares at 0.5 in crypto: fee 1000 x 0.07 x 0.25 = 17.5; we made all of it.
        r.print(&t(0, m, "0.5", "1000"));
        r.maker_fill(&t(0, m, "0.5", "1000"), true);
        let s = r.summary(0);
        assert_eq!(s.accrued, Money::parse("3.5").unwrap(), "20 % of 17.5: 0.35 cents a share");
        assert_eq!(s.paid, Money::ZERO, "the day has not ended");
        assert_eq!(s.fee_equivalent, Money::parse("17.5").unwrap());
        assert_eq!(r.summary(DAY_MS).paid, Money::parse("3.5").unwrap());
        // Next day: a quarter of a small print's maker side: 0.0875 x 0.2 / 4, below the minimum.
        r.print(&t(DAY_MS, m, "0.5", "5"));
        r.maker_fill(&t(DAY_MS, m, "0.5", "1.25"), true);
        let s = r.summary(2 * DAY_MS);
        assert_eq!(s.accrued, Money::parse("3.504375").unwrap());
        assert_eq!((s.paid, s.days_below_minimum), (Money::parse("3.5").unwrap(), 1));
        // A fill no print carried adds to the day's total: 10 of 20.
        let mut r = RebateMeter::default();
        r.print(&t(0, m, "0.5", "10"));
        r.maker_fill(&t(0, m, "0.5", "10"), false);
        assert_eq!(r.summary(0).accrued, Money::parse("0.035").unwrap());
    }
}

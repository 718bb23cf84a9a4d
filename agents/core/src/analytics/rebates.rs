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
    let scale = i128::from(Price::SCALE);
    let pq = i128::from(price.ticks()) * (scale - i128::from(price.ticks()));
    let (factor, factor_scale) = match fees.exponent {
        1 => (pq, scale * scale),
        2 => (pq * pq, scale * scale * scale * scale),
        _ => return None,
    };
    let n = i128::from(size.micros()).checked_mul(i128::from(fees.rate_bps))?.checked_mul(factor)?;
    n.checked_mul(PRECISION).map(|n| n / (10_000 * factor_scale))
}

/// One strategy's maker rebates.
#[derive(Debug, Clone, Default)]
pub struct RebateMeter {
    days: BTreeMap<(u64, ConditionId), Day>,
}

impl RebateMeter {
    fn day(&mut self, ts_ms: u64, market: ConditionId, share_bps: u32) -> &mut Day {
        let d = self.days.entry((ts_ms / DAY_MS, market)).or_default();
        d.share_bps = share_bps;
        d
    }

    /// A trade print of the market (every print has one maker): its fee-equivalent and fee.
    pub fn print(
        &mut self,
        ts_ms: u64,
        market: ConditionId,
        fees: &FeeSchedule,
        share_bps: u32,
        price: Price,
        size: Quantity,
    ) {
        let fe = fee_equivalent(fees, price, size).unwrap_or(0);
        let fee = fees.taker_fee(price, size).map_or(0, |m| i128::from(m.micros()));
        let d = self.day(ts_ms, market, share_bps);
        d.total += fe;
        d.pool += fee;
    }

    /// A maker fill of ours; `in_print` when a print the meter saw (or will see) carried it.
    #[allow(clippy::too_many_arguments)]
    pub fn maker_fill(
        &mut self,
        ts_ms: u64,
        market: ConditionId,
        fees: &FeeSchedule,
        share_bps: u32,
        price: Price,
        size: Quantity,
        in_print: bool,
    ) {
        let fe = fee_equivalent(fees, price, size).unwrap_or(0);
        let fee = fees.taker_fee(price, size).map_or(0, |m| i128::from(m.micros()));
        let d = self.day(ts_ms, market, share_bps);
        d.ours += fe;
        if !in_print {
            d.total += fe;
            d.pool += fee;
        }
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

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    const CRYPTO: FeeSchedule = FeeSchedule { rate_bps: 700, exponent: 1 };

    #[test]
    fn a_maker_on_every_print_gets_the_share_of_the_pool_and_a_small_day_pays_nothing() {
        let m = ConditionId::from_bytes([1; 32]);
        let mut r = RebateMeter::default();
        // 1000 shares at 0.5 in crypto: fee 1000 x 0.07 x 0.25 = 17.5; we made all of it.
        r.print(0, m, &CRYPTO, 2000, p("0.5"), q("1000"));
        r.maker_fill(0, m, &CRYPTO, 2000, p("0.5"), q("1000"), true);
        let s = r.summary(0);
        assert_eq!(s.accrued, Money::parse("3.5").unwrap(), "20 % of 17.5: 0.35 cents a share");
        assert_eq!(s.paid, Money::ZERO, "the day has not ended");
        assert_eq!(s.fee_equivalent, Money::parse("17.5").unwrap());
        assert_eq!(r.summary(DAY_MS).paid, Money::parse("3.5").unwrap());
        // Next day: a quarter of a small print's maker side: 0.0875 x 0.2 / 4, below the minimum.
        r.print(DAY_MS, m, &CRYPTO, 2000, p("0.5"), q("5"));
        r.maker_fill(DAY_MS, m, &CRYPTO, 2000, p("0.5"), q("1.25"), true);
        let s = r.summary(2 * DAY_MS);
        assert_eq!(s.accrued, Money::parse("3.504375").unwrap());
        assert_eq!((s.paid, s.days_below_minimum), (Money::parse("3.5").unwrap(), 1));
        // A fill no print carried adds to the day's total: 10 of 20.
        let mut r = RebateMeter::default();
        r.print(0, m, &CRYPTO, 2000, p("0.5"), q("10"));
        r.maker_fill(0, m, &CRYPTO, 2000, p("0.5"), q("10"), false);
        assert_eq!(r.summary(0).accrued, Money::parse("0.035").unwrap());
    }
}

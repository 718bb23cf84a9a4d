//! Polymarket CLOB V2 taker fees, exactly: `fee = shares x rate x (p (1 - p))^e`, charged to
//! takers at match time, rounded to 5 decimals (10 micro-USDC), with anything below 0.00001 USDC
//! rounding to zero. Makers pay nothing.

use super::{Money, Price, Quantity, Rounding, div_round};

/// A market's fee parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSchedule {
    /// Taker rate in basis points (0.072 = 720).
    pub rate_bps: u32,
    /// Exponent `e` of `(p (1 - p))^e` (1 or 2 on the venue today).
    pub exponent: u32,
}

impl FeeSchedule {
    /// No fees.
    pub const FREE: FeeSchedule = FeeSchedule { rate_bps: 0, exponent: 1 };

    /// The taker fee for `size` shares at `price`; `None` for an exponent above 2 (not in use) or
    /// a fee beyond `Money`'s range.
    pub fn taker_fee(&self, price: Price, size: Quantity) -> Option<Money> {
        if self.rate_bps == 0 {
            return Some(Money::ZERO);
        }
        let (numerator, denominator) = self.exact(price, size)?;
        // Round to 5 decimals of USDC, i.e. to 10 micro-USDC.
        let tens = div_round(numerator, denominator * 10, Rounding::Nearest);
        Money::from_micros_i128(tens * 10)
    }

    /// `size x rate x (p (1 - p))^e` exactly, in micro-USDC, as (numerator, denominator): the
    /// fee before the venue's rounding (the maker rebate's fee-equivalent); `None` for an exponent
    /// above 2 or an overflow.
    pub fn exact(&self, price: Price, size: Quantity) -> Option<(i128, i128)> {
        let scale = i128::from(Price::SCALE);
        let pq = i128::from(price.ticks()) * (scale - i128::from(price.ticks())); // p(1-p), scale^2
        let (factor, factor_scale) = match self.exponent {
            0 => (1, 1),
            1 => (pq, scale * scale),
            2 => (pq * pq, scale * scale * scale * scale),
            _ => return None,
        };
        // micro-USDC = size_micros x rate/1e4 x factor/factor_scale; exact numerator, one division.
        let numerator = i128::from(size.micros()).checked_mul(i128::from(self.rate_bps))?.checked_mul(factor)?;
        Some((numerator, 10_000 * factor_scale))
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

    #[test]
    fn crypto_fee_at_the_midpoint() {
        // 100 shares x 0.072 x 0.5 x 0.5 = 1.8 USDC
        let f = FeeSchedule { rate_bps: 720, exponent: 1 };
        assert_eq!(f.taker_fee(p("0.5"), q("100")).unwrap(), Money::parse("1.8").unwrap());
        // Symmetric in p and 1 - p.
        assert_eq!(f.taker_fee(p("0.2"), q("10")), f.taker_fee(p("0.8"), q("10")));
        // 10 x 0.072 x 0.16 = 0.1152
        assert_eq!(f.taker_fee(p("0.2"), q("10")).unwrap(), Money::parse("0.1152").unwrap());
    }

    #[test]
    fn rounds_to_five_decimals_and_tiny_fees_vanish() {
        let f = FeeSchedule { rate_bps: 300, exponent: 1 };
        // 0.01 x 0.03 x 0.0099 = 0.00000297 -> 0
        assert_eq!(f.taker_fee(p("0.01"), q("0.01")).unwrap(), Money::ZERO);
        // 1.23 x 0.03 x 0.2379 = 0.008778... -> 0.00878
        assert_eq!(f.taker_fee(p("0.39"), q("1.23")).unwrap(), Money::parse("0.00878").unwrap());
        assert_eq!(FeeSchedule::FREE.taker_fee(p("0.5"), q("100")).unwrap(), Money::ZERO);
    }

    #[test]
    fn squared_exponent() {
        // 100 x 0.072 x 0.25^2 = 0.45
        let f = FeeSchedule { rate_bps: 720, exponent: 2 };
        assert_eq!(f.taker_fee(p("0.5"), q("100")).unwrap(), Money::parse("0.45").unwrap());
        assert!(FeeSchedule { rate_bps: 1, exponent: 3 }.taker_fee(p("0.5"), q("1")).is_none());
    }

    #[test]
    fn no_overflow_at_the_extremes() {
        let f = FeeSchedule { rate_bps: u32::MAX, exponent: 2 };
        assert_eq!(f.taker_fee(p("0.5"), Quantity::from_micros(u64::MAX)), None);
        let big = FeeSchedule { rate_bps: 10_000, exponent: 1 };
        assert!(big.taker_fee(p("0.5"), Quantity::from_micros(u64::MAX)).is_some());
    }
}

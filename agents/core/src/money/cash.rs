//! [`Money`]: signed cash in micro-USDC (pUSD has 6 decimals): PnL, exposure, fees, limits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::decimal::{ParseError, format_scaled, parse_scaled};
use super::{Rounding, div_round};

/// Signed cash amount in micro-USDC (1 USDC = 1_000_000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    /// Decimals of one micro-USDC.
    pub const DECIMALS: u32 = 6;
    /// Micro-USDC in one USDC.
    pub const SCALE: i64 = 1_000_000;
    /// Nothing.
    pub const ZERO: Money = Money(0);

    /// An amount in micro-USDC.
    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    /// An amount from a wider intermediate; `None` outside `i64`.
    pub fn from_micros_i128(micros: i128) -> Option<Money> {
        i64::try_from(micros).ok().map(Money)
    }

    /// Micro-USDC.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Parses a decimal USDC string exactly ("12.5", "-0.000001").
    pub fn parse(s: &str) -> Result<Money, ParseError> {
        Money::parse_bytes(s.as_bytes())
    }

    /// [`Money::parse`] on ASCII bytes (the hot path skips UTF-8 validation).
    pub fn parse_bytes(s: &[u8]) -> Result<Money, ParseError> {
        let (neg, mag) = parse_scaled(s, Self::DECIMALS)?;
        if mag > i64::MAX as u128 + 1 {
            return Err(ParseError::OutOfRange(String::from_utf8_lossy(s).into_owned()));
        }
        let signed = if neg { -(mag as i128) } else { mag as i128 };
        Money::from_micros_i128(signed).ok_or_else(|| ParseError::OutOfRange(String::from_utf8_lossy(s).into_owned()))
    }

    /// self + rhs; `None` on overflow.
    pub fn checked_add(self, rhs: Money) -> Option<Money> {
        self.0.checked_add(rhs.0).map(Money)
    }

    /// self - rhs; `None` on overflow.
    pub fn checked_sub(self, rhs: Money) -> Option<Money> {
        self.0.checked_sub(rhs.0).map(Money)
    }

    /// -self; `None` for `i64::MIN`.
    pub fn checked_neg(self) -> Option<Money> {
        self.0.checked_neg().map(Money)
    }

    /// |self|; `None` for `i64::MIN`.
    pub fn checked_abs(self) -> Option<Money> {
        self.0.checked_abs().map(Money)
    }

    /// self x bps / 10_000, rounded as asked (fees, edges, limits in basis points).
    pub fn mul_bps(self, bps: i64, rounding: Rounding) -> Option<Money> {
        Money::from_micros_i128(div_round(i128::from(self.0) * i128::from(bps), 10_000, rounding))
    }

    /// True below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_scaled(f, self.0 < 0, u128::from(self.0.unsigned_abs()), Self::DECIMALS)
    }
}

impl std::str::FromStr for Money {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats_and_checks() {
        assert_eq!(Money::parse("-12.5").unwrap().micros(), -12_500_000);
        assert_eq!(Money::parse("-12.5").unwrap().to_string(), "-12.5");
        assert_eq!(Money::from_micros(i64::MIN).to_string(), "-9223372036854.775808");
        assert_eq!(Money::parse("-9223372036854.775808").unwrap().micros(), i64::MIN);
        assert!(Money::parse("9223372036854.775808").is_err());
        assert_eq!(Money::from_micros(i64::MAX).checked_add(Money::from_micros(1)), None);
        assert_eq!(Money::from_micros(i64::MIN).checked_abs(), None);
    }

    #[test]
    fn basis_points_round_explicitly() {
        let m = Money::from_micros(1_000_001);
        assert_eq!(m.mul_bps(50, Rounding::Down).unwrap().micros(), 5_000);
        assert_eq!(m.mul_bps(50, Rounding::Up).unwrap().micros(), 5_001);
        assert_eq!(Money::from_micros(-1_000_001).mul_bps(50, Rounding::Down).unwrap().micros(), -5_001);
    }
}

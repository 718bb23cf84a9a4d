//! [`Quantity`]: a non-negative number of outcome-token shares in micro-shares (6 decimals).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::decimal::{ParseError, format_scaled, parse_scaled};

/// A share quantity in micro-shares (the venue's tokens have 6 decimals). Never negative; a
/// signed position is kept as a `Quantity` plus a side, or in [`super::Money`] when valued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quantity(u64);

impl Quantity {
    /// Decimals of one micro-share.
    pub const DECIMALS: u32 = 6;
    /// Micro-shares in one share.
    pub const SCALE: u64 = 1_000_000;
    /// No shares.
    pub const ZERO: Quantity = Quantity(0);

    /// A quantity from micro-shares.
    pub const fn from_micros(micros: u64) -> Quantity {
        Quantity(micros)
    }

    /// Whole shares; `None` on overflow.
    pub const fn from_shares(shares: u64) -> Option<Quantity> {
        match shares.checked_mul(Self::SCALE) {
            Some(m) => Some(Quantity(m)),
            None => None,
        }
    }

    /// Micro-shares.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// True for zero shares.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a venue size string exactly ("150.0", "10500100", "199.31").
    pub fn parse(s: &str) -> Result<Quantity, ParseError> {
        Quantity::parse_bytes(s.as_bytes())
    }

    /// The hot-path parser: like [`Quantity::parse_bytes`] but `None` instead of an error, with the
    /// common shape inlined and everything else (errors included) out of line.
    #[inline]
    pub fn parse_bytes_opt(s: &[u8]) -> Option<Quantity> {
        if let Some(v) = super::decimal::parse_unsigned_fast(s, Self::DECIMALS) {
            return Some(Quantity(v));
        }
        Self::parse_bytes_cold(s)
    }

    #[cold]
    #[inline(never)]
    fn parse_bytes_cold(s: &[u8]) -> Option<Quantity> {
        Self::parse_bytes(s).ok()
    }

    /// [`Quantity::parse`] on ASCII bytes (skips UTF-8 validation).
    pub fn parse_bytes(s: &[u8]) -> Result<Quantity, ParseError> {
        if let Some(v) = super::decimal::parse_unsigned_fast(s, Self::DECIMALS) {
            return Ok(Quantity(v));
        }
        match parse_scaled(s, Self::DECIMALS)? {
            (false, v) => u64::try_from(v)
                .map(Quantity)
                .map_err(|_| ParseError::OutOfRange(String::from_utf8_lossy(s).into_owned())),
            (true, _) => Err(ParseError::OutOfRange(String::from_utf8_lossy(s).into_owned())),
        }
    }

    /// self + rhs; `None` on overflow.
    pub fn checked_add(self, rhs: Quantity) -> Option<Quantity> {
        self.0.checked_add(rhs.0).map(Quantity)
    }

    /// self - rhs; `None` below zero.
    pub fn checked_sub(self, rhs: Quantity) -> Option<Quantity> {
        self.0.checked_sub(rhs.0).map(Quantity)
    }

    /// self + rhs, capped at the largest quantity.
    pub fn saturating_add(self, rhs: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(rhs.0))
    }

    /// self - rhs, floored at zero.
    pub fn saturating_sub(self, rhs: Quantity) -> Quantity {
        Quantity(self.0.saturating_sub(rhs.0))
    }

    /// Rounds down to a multiple of `step` micro-shares (e.g. the venue's 2-decimal size rule:
    /// step 10_000); `step` 0 leaves the quantity unchanged.
    pub fn round_down_to(self, step: u64) -> Quantity {
        if step == 0 { self } else { Quantity(self.0 - self.0 % step) }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_scaled(f, false, u128::from(self.0), Self::DECIMALS)
    }
}

impl std::str::FromStr for Quantity {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_venue_sizes() {
        assert_eq!(Quantity::parse("150.0").unwrap().micros(), 150_000_000);
        assert_eq!(Quantity::parse("10500100").unwrap(), Quantity::from_shares(10_500_100).unwrap());
        assert_eq!(Quantity::parse("199.31").unwrap().to_string(), "199.31");
        assert_eq!(Quantity::parse("0").unwrap(), Quantity::ZERO);
        assert!(Quantity::parse("-1").is_err());
        assert!(Quantity::parse("18446744073709.551616").is_err());
        assert_eq!(Quantity::parse("18446744073709.551615").unwrap().micros(), u64::MAX);
    }

    #[test]
    fn checked_and_rounded() {
        let a = Quantity::parse("1.234567").unwrap();
        assert_eq!(a.round_down_to(10_000).to_string(), "1.23");
        assert_eq!(a.checked_sub(Quantity::parse("2").unwrap()), None);
        assert_eq!(Quantity::from_micros(u64::MAX).checked_add(Quantity::from_micros(1)), None);
        assert_eq!(Quantity::from_micros(5).saturating_sub(Quantity::from_micros(9)), Quantity::ZERO);
    }
}

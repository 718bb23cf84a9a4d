//! [`Price`]: a probability price in ticks of 0.0001, from 0 to 1 inclusive.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::decimal::{ParseError, format_scaled, parse_scaled};
use super::{Money, Quantity, Rounding, div_round};

/// A price in ticks of 0.0001 (the finest Polymarket tick): 0 ..= 10_000 means 0 ..= 1.
///
/// Construction checks the domain, so every `Price` is a valid probability. Book levels and
/// orders use the open interval (0, 1); 0 and 1 appear as resolution prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Price(u32);

impl Price {
    /// Decimals of one tick.
    pub const DECIMALS: u32 = 4;
    /// Ticks in a price of 1.
    pub const SCALE: u32 = 10_000;
    /// Price 0.
    pub const ZERO: Price = Price(0);
    /// Price 1.
    pub const ONE: Price = Price(Self::SCALE);

    /// A price from a tick count; `None` above 1.
    pub const fn from_ticks(ticks: u32) -> Option<Price> {
        if ticks <= Self::SCALE { Some(Price(ticks)) } else { None }
    }

    /// The tick count (0 ..= 10_000).
    pub const fn ticks(self) -> u32 {
        self.0
    }

    /// Parses a venue price string exactly ("0.51", ".48", "1").
    pub fn parse(s: &str) -> Result<Price, ParseError> {
        Price::parse_bytes(s.as_bytes())
    }

    /// The hot-path parser: like [`Price::parse_bytes`] but `None` instead of an error, with the
    /// common shape inlined and everything else (errors included) out of line.
    #[inline]
    pub fn parse_bytes_opt(s: &[u8]) -> Option<Price> {
        if let Some(v) = super::decimal::parse_unsigned_fast(s, Self::DECIMALS)
            && let Ok(v) = u32::try_from(v)
            && v <= Self::SCALE
        {
            return Some(Price(v));
        }
        Self::parse_bytes_cold(s)
    }

    #[cold]
    #[inline(never)]
    fn parse_bytes_cold(s: &[u8]) -> Option<Price> {
        Self::parse_bytes(s).ok()
    }

    /// [`Price::parse`] on ASCII bytes (skips UTF-8 validation).
    pub fn parse_bytes(s: &[u8]) -> Result<Price, ParseError> {
        if let Some(v) = super::decimal::parse_unsigned_fast(s, Self::DECIMALS)
            && let Ok(v) = u32::try_from(v)
            && v <= Self::SCALE
        {
            return Ok(Price(v));
        }
        match parse_scaled(s, Self::DECIMALS)? {
            (false, v) if v <= u128::from(Self::SCALE) => {
                u32::try_from(v).map(Price).map_err(|_| ParseError::OutOfRange(String::from_utf8_lossy(s).into_owned()))
            }
            _ => Err(ParseError::OutOfRange(String::from_utf8_lossy(s).into_owned())),
        }
    }

    /// 1 - self: the price of the complementary outcome (YES at 0.40 mirrors NO at 0.60).
    pub const fn complement(self) -> Price {
        Price(Self::SCALE - self.0)
    }

    /// True when strictly inside (0, 1), the domain of tradable prices.
    pub const fn is_tradable(self) -> bool {
        self.0 > 0 && self.0 < Self::SCALE
    }

    /// self + rhs, or `None` above 1.
    pub fn checked_add(self, rhs: Price) -> Option<Price> {
        Price::from_ticks(self.0.checked_add(rhs.0)?)
    }

    /// self - rhs, or `None` below 0.
    pub fn checked_sub(self, rhs: Price) -> Option<Price> {
        Some(Price(self.0.checked_sub(rhs.0)?))
    }

    /// True when this price is a multiple of `tick` (a market's tick size, itself a Price).
    pub fn is_on_tick(self, tick: Price) -> bool {
        tick.0 != 0 && self.0.is_multiple_of(tick.0)
    }

    /// Rounds to a multiple of `tick` in the given direction; `None` for a zero tick.
    pub fn round_to_tick(self, tick: Price, rounding: Rounding) -> Option<Price> {
        if tick.0 == 0 {
            return None;
        }
        let r = div_round(i128::from(self.0), i128::from(tick.0), rounding) * i128::from(tick.0);
        Price::from_ticks(u32::try_from(r).ok()?)
    }

    /// The cash value of `qty` shares at this price, rounded as asked (micro-USDC); `None` only if
    /// it exceeds `Money`'s range.
    pub fn notional(self, qty: Quantity, rounding: Rounding) -> Option<Money> {
        let raw = i128::from(self.0) * i128::from(qty.micros());
        Money::from_micros_i128(div_round(raw, i128::from(Self::SCALE), rounding))
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_scaled(f, false, u128::from(self.0), Self::DECIMALS)
    }
}

impl std::str::FromStr for Price {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Price::parse(s)
    }
}

impl TryFrom<u32> for Price {
    type Error = String;
    fn try_from(ticks: u32) -> Result<Self, Self::Error> {
        Price::from_ticks(ticks).ok_or_else(|| format!("price of {ticks} ticks is above 1"))
    }
}

impl From<Price> for u32 {
    fn from(p: Price) -> u32 {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(Price::parse("0.51").unwrap().ticks(), 5100);
        assert_eq!(Price::parse(".48").unwrap().ticks(), 4800);
        assert_eq!(Price::parse("1").unwrap(), Price::ONE);
        assert_eq!(Price::parse("0.0001").unwrap().to_string(), "0.0001");
        assert_eq!(Price::parse("0.5").unwrap().to_string(), "0.5");
        assert_eq!(Price::ONE.to_string(), "1");
        assert!(Price::parse("1.0001").is_err());
        assert!(Price::parse("-0.1").is_err());
        assert!(Price::parse("0.00005").is_err());
    }

    #[test]
    fn complement_mirrors_yes_and_no() {
        assert_eq!(Price::parse("0.40").unwrap().complement(), Price::parse("0.6").unwrap());
    }

    #[test]
    fn notional_rounds_explicitly() {
        let p = Price::parse("0.3333").unwrap();
        let q = Quantity::parse("1.000001").unwrap();
        // 0.3333 * 1.000001 = 0.3333003333 USDC
        assert_eq!(p.notional(q, Rounding::Down).unwrap().micros(), 333_300);
        assert_eq!(p.notional(q, Rounding::Up).unwrap().micros(), 333_301);
    }

    #[test]
    fn tick_rounding() {
        let tick = Price::parse("0.01").unwrap();
        let p = Price::parse("0.505").unwrap();
        assert_eq!(p.round_to_tick(tick, Rounding::Down).unwrap().to_string(), "0.5");
        assert_eq!(p.round_to_tick(tick, Rounding::Up).unwrap().to_string(), "0.51");
        assert!(!p.is_on_tick(tick));
        assert!(p.round_to_tick(Price::ZERO, Rounding::Up).is_none());
    }
}

//! Fixed-point money: the only numeric types anything accounted may use.
//!
//! | type | unit | backing | domain |
//! | --- | --- | --- | --- |
//! | [`Price`] | tick of 0.0001 (the finest Polymarket tick) | `u32` | 0 ..= 10_000 (0 to 1) |
//! | [`Quantity`] | micro-share (6 decimals, as the venue's tokens) | `u64` | 0 ..= `u64::MAX` |
//! | [`Money`] | micro-USDC / pUSD (6 decimals) | `i64` | signed, full `i64` |
//!
//! Strings from the venue ("0.51", ".48", "150.0", "10500100", "199.31") are parsed exactly,
//! digit by digit, never through `f64`; input finer than the unit is an error, not a rounding.
//! Arithmetic is checked (`Option` on overflow) and anything that can lose precision (a
//! price x size notional, a basis-point share) takes an explicit [`Rounding`]. No operator
//! overloads that could panic or wrap silently.

mod cash;
mod decimal;
mod fee;
mod price;
mod quantity;

pub use cash::Money;
pub use decimal::ParseError;
pub use fee::FeeSchedule;
pub use price::Price;
pub use quantity::Quantity;

/// How a computation that cannot be exact rounds its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Towards negative infinity.
    Down,
    /// Towards positive infinity.
    Up,
    /// To the nearest, halves away from zero.
    Nearest,
}

/// `numerator / denominator` rounded as asked (`denominator` must be positive).
pub fn div_round(numerator: i128, denominator: i128, rounding: Rounding) -> i128 {
    debug_assert!(denominator > 0);
    let q = numerator.div_euclid(denominator);
    let r = numerator.rem_euclid(denominator);
    match rounding {
        Rounding::Down => q,
        Rounding::Up if r != 0 => q + 1,
        Rounding::Up => q,
        // Halves away from zero: compare 2r with d, on the magnitude.
        Rounding::Nearest if numerator >= 0 => q + i128::from(2 * r >= denominator),
        Rounding::Nearest => q + i128::from(2 * r > denominator),
    }
}

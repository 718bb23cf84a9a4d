//! The Kelly cap on model-sized orders, in exact integers (the Redis decision script computes
//! the same number with the same splitting; see `lua/decide.lua`).
//!
//! A token bought at price `c` that pays 1 with probability `p` has the Kelly fraction
//! `f* = (p − c) / (1 − c)` of the bankroll. The gateway holds the stake in the token (its
//! shares held and on order, valued at the order's price) to `f*` times the RiskPolicy's Kelly
//! budget: the capital the policy protects times `kellyFractionCapBps`. No edge at the price
//! (`p ≤ c`) leaves no stake at all.

use crate::money::{Money, Price, Rounding};

/// Price ticks in one USDC.
const TICKS: u64 = 10_000;

/// The largest stake in a token the Kelly cap allows: `floor(budget × f*)` with
/// `f* = (p − c)/(1 − c)`, `p` in millionths and `c` the price, exactly.
pub fn max_stake(budget: Money, probability_ppm: u32, price: Price) -> Money {
    let ticks = u64::from(price.ticks());
    // p − c in millionths: ppm − 100 × ticks; 1 − c in millionths: 100 × (10^4 − ticks).
    let edge = i128::from(probability_ppm) - i128::from(ticks) * 100;
    if edge <= 0 || ticks >= TICKS || budget.micros() <= 0 {
        return Money::ZERO;
    }
    let room = i128::from(TICKS - ticks) * 100;
    let stake = i128::from(budget.micros()) * edge / room;
    Money::from_micros(i64::try_from(stake).unwrap_or(i64::MAX))
}

/// The Kelly budget of a policy: `capital × cap_bps / 10^4`, rounded down.
pub fn budget(capital: Money, cap_bps: u32) -> Money {
    capital.max(Money::ZERO).mul_bps(i64::from(cap_bps.min(10_000)), Rounding::Down).unwrap_or(Money::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).expect("price")
    }

    #[test]
    fn the_stake_is_the_kelly_fraction_of_the_budget() {
        let budget = Money::from_micros(1_000_000_000);
        // p = 0.6 at c = 0.5: f* = 0.1/0.5 = 0.2.
        assert_eq!(max_stake(budget, 600_000, p("0.5")), Money::from_micros(200_000_000));
        // p = 0.55 at c = 0.4: f* = 0.15/0.6 = 0.25.
        assert_eq!(max_stake(budget, 550_000, p("0.4")), Money::from_micros(250_000_000));
        // Rounded down: p = 0.5 at c = 0.3333: f* = 0.1667/0.6667.
        assert_eq!(max_stake(Money::from_micros(7), 500_000, p("0.3333")), Money::from_micros(1));
        // No edge, or none left at the price: nothing.
        assert_eq!(max_stake(budget, 500_000, p("0.5")), Money::ZERO);
        assert_eq!(max_stake(budget, 400_000, p("0.5")), Money::ZERO);
        assert_eq!(max_stake(budget, 1_000_000, Price::ONE), Money::ZERO);
        // A certain winner bought below 1: the whole budget.
        assert_eq!(max_stake(budget, 1_000_000, p("0.99")), budget);
    }

    #[test]
    fn the_budget_is_the_capped_share_of_capital() {
        assert_eq!(budget(Money::from_micros(1_000_000_000), 2_500), Money::from_micros(250_000_000));
        assert_eq!(budget(Money::from_micros(3), 5_000), Money::from_micros(1));
        assert_eq!(
            budget(Money::from_micros(9_000_000_000_000_000), 10_000),
            Money::from_micros(9_000_000_000_000_000)
        );
    }
}

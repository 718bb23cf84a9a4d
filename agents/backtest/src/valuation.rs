//! What a strategy's book is worth, one rule for the backtest and the local fleet's summary:
//! realized PnL plus the value of what it holds less its cost. Complete sets (equal shares of
//! every leg of a set: YES and NO of a binary market, or the YES of every outcome of a neg-risk
//! event) count at 1 USDC a set, since they merge into exactly that; the rest at the best bid.

use std::collections::BTreeMap;

use polyfleet_core::accounting::Position;
use polyfleet_core::{Money, Price, Quantity, Rounding, TokenId};

/// (equity, cost of what is held) of `positions` with `realized` PnL, `sets` the legs of each
/// complete set the strategy trades, `mark` the best bid of a token (None: unknown, worth 0).
pub fn equity(
    positions: &[(TokenId, Position)],
    realized: Money,
    sets: &[Vec<TokenId>],
    mark: impl Fn(&TokenId) -> Option<Price>,
) -> (Money, Money) {
    let mut held: BTreeMap<TokenId, Quantity> = BTreeMap::new();
    let mut cost = Money::ZERO;
    for (t, p) in positions {
        held.insert(*t, p.size);
        cost = cost.checked_add(p.cost).unwrap_or(cost);
    }
    let mut value = Money::ZERO;
    for legs in sets {
        let sets = legs.iter().map(|t| held.get(t).copied().unwrap_or(Quantity::ZERO)).min().unwrap_or(Quantity::ZERO);
        if sets.is_zero() {
            continue;
        }
        // One share of a complete set is worth 1 USDC: micro-shares are micro-USDC.
        value =
            value.checked_add(Money::from_micros(i64::try_from(sets.micros()).unwrap_or(i64::MAX))).unwrap_or(value);
        for t in legs {
            if let Some(q) = held.get_mut(t) {
                *q = q.saturating_sub(sets);
            }
        }
    }
    for (t, q) in &held {
        if let Some(m) = mark(t) {
            value = value.checked_add(m.notional(*q, Rounding::Down).unwrap_or(Money::ZERO)).unwrap_or(value);
        }
    }
    let equity = realized.checked_add(value).and_then(|v| v.checked_sub(cost)).unwrap_or(Money::ZERO);
    (equity, cost)
}

//! Sizing a complete set across several books: the largest equal size to take on every leg such
//! that every share of it keeps its edge after the V2 taker fee, walking each leg's ladder (VWAP,
//! not just the top level), within each leg's depth, a per-leg notional cap and a size cap.
//!
//! The walk works on marginal prices: between two level boundaries of any leg the marginal cost
//! of one more set is constant, so it advances boundary by boundary and stops where the next
//! share would no longer be profitable. The result is then priced exactly the way the matching
//! engine will fill it (per level, notional rounded against us, fee per level) and refused when
//! rounding ate the edge.

use crate::book::OrderBook;
use crate::money::{FeeSchedule, Money, Price, Quantity, Rounding};
use crate::side::Side;

/// Venue sizes are whole hundredths of a share.
pub const SIZE_STEP: u64 = 10_000;

/// One leg of a set: the book it takes from and the market's rules.
#[derive(Debug, Clone, Copy)]
pub struct LegBook<'a> {
    /// The leg token's book.
    pub book: &'a OrderBook,
    /// Taker fees of the leg's market.
    pub fees: FeeSchedule,
    /// Minimum order size of the leg's market.
    pub min_size: Quantity,
}

/// A sized set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetQuote {
    /// Shares per leg.
    pub size: Quantity,
    /// Limit price per leg (the worst level the size reaches), in leg order.
    pub limits: Vec<Price>,
    /// Cash per leg as the engine will book it (notional, fees included: paid for buys,
    /// received net of fees for sells), in leg order.
    pub cash: Vec<Money>,
    /// Profit of the whole set against the 1 USDC a complete set is worth.
    pub edge: Money,
}

/// Limits on a set's size.
#[derive(Debug, Clone, Copy)]
pub struct SetCaps {
    /// Minimum edge, basis points of the 1 USDC set value.
    pub min_edge_bps: u32,
    /// Maximum notional per leg.
    pub leg_notional: Money,
    /// Maximum shares per leg (the risk policy's order size).
    pub max_size: Quantity,
}

/// Micro-USDC per share at `price`.
fn unit(price: Price) -> i64 {
    i64::from(price.ticks()) * 100
}

/// Sizes a set: `Side::Buy` buys every leg from its asks (profitable when the legs cost less than
/// 1), `Side::Sell` sells every leg into its bids (profitable above 1). `None` when no size at or
/// above every leg's minimum keeps the edge.
pub fn size_set(legs: &[LegBook<'_>], side: Side, caps: &SetCaps) -> Option<SetQuote> {
    if legs.is_empty() {
        return None;
    }
    let book_side = side.taking_side();
    let ladders: Vec<Vec<_>> = legs.iter().map(|l| l.book.levels(book_side).copied().collect()).collect();
    let edge = i64::from(caps.min_edge_bps) * 100; // micro-USDC per set
    let mut idx = vec![0usize; legs.len()];
    let mut used = vec![0u64; legs.len()]; // micro-shares taken from the current level
    let mut spent = vec![0i64; legs.len()]; // micro-USDC notional so far (for the cap)
    let mut size: u64 = 0;
    loop {
        // The marginal value of one more set, per share, in micro-USDC.
        let mut marginal = 0i64;
        let mut step = caps.max_size.micros().saturating_sub(size);
        for (i, leg) in legs.iter().enumerate() {
            let Some(level) = ladders[i].get(idx[i]) else { return finish(legs, side, caps, size, edge) };
            let fee = leg.fees.taker_fee(level.price, Quantity::from_micros(Quantity::SCALE))?.micros();
            marginal += match side {
                Side::Buy => unit(level.price) + fee,
                Side::Sell => unit(level.price) - fee,
            };
            step = step.min(level.size.micros() - used[i]);
            let room = caps.leg_notional.micros().saturating_sub(spent[i]).max(0);
            // Shares the cap still allows at this level's price.
            step = step.min((room as u64).saturating_mul(Price::SCALE as u64) / u64::from(level.price.ticks().max(1)));
        }
        let profitable = match side {
            Side::Buy => marginal + edge <= Money::SCALE,
            Side::Sell => marginal - edge >= Money::SCALE,
        };
        if !profitable || step == 0 {
            return finish(legs, side, caps, size, edge);
        }
        size += step;
        for i in 0..legs.len() {
            let level = ladders[i][idx[i]];
            used[i] += step;
            // Rounded up, as fills are: the cap is never exceeded by rounding.
            spent[i] += level
                .price
                .notional(Quantity::from_micros(step), crate::money::Rounding::Up)
                .map_or(i64::MAX / 2, |m| m.micros());
            if used[i] == level.size.micros() {
                idx[i] += 1;
                used[i] = 0;
            }
        }
    }
}

/// Rounds the walked size to the venue's step, checks the minimums and prices it exactly. The
/// walk's cap arithmetic rounds down while fills round against us, so a cap-bound size can come
/// out a few micros over the cap: step down a hundredth at a time until it fits.
fn finish(legs: &[LegBook<'_>], side: Side, caps: &SetCaps, size: u64, edge: i64) -> Option<SetQuote> {
    let mut size = Quantity::from_micros(size).round_down_to(SIZE_STEP);
    for _ in 0..8 {
        if size.is_zero() || legs.iter().any(|l| size < l.min_size) {
            return None;
        }
        match price_set(legs, side, caps, size, edge) {
            Priced::Quote(q) => return Some(q),
            Priced::OverCap => size = size.saturating_sub(Quantity::from_micros(SIZE_STEP)),
            Priced::NoEdge => return None,
        }
    }
    None
}

enum Priced {
    Quote(SetQuote),
    OverCap,
    NoEdge,
}

fn price_set(legs: &[LegBook<'_>], side: Side, caps: &SetCaps, size: Quantity, edge: i64) -> Priced {
    let mut limits = Vec::with_capacity(legs.len());
    let mut cash = Vec::with_capacity(legs.len());
    for leg in legs {
        let Some((limit, leg_cash, fees)) = price_leg(leg, side, size) else { return Priced::NoEdge };
        let notional = match side {
            Side::Buy => leg_cash.checked_sub(fees),
            Side::Sell => leg_cash.checked_add(fees),
        };
        if notional.is_none_or(|n| n > caps.leg_notional) {
            return Priced::OverCap;
        }
        limits.push(limit);
        cash.push(leg_cash);
    }
    let Some(total) = cash.iter().try_fold(Money::ZERO, |a, c| a.checked_add(*c)) else { return Priced::NoEdge };
    let Some(value) = Price::ONE.notional(size, Rounding::Down) else { return Priced::NoEdge };
    let profit = match side {
        Side::Buy => value.checked_sub(total),
        Side::Sell => total.checked_sub(value),
    };
    let required = Money::from_micros_i128(i128::from(edge) * i128::from(size.micros()) / i128::from(Quantity::SCALE));
    match (profit, required) {
        (Some(p), Some(r)) if p >= r && !p.is_negative() => Priced::Quote(SetQuote { size, limits, cash, edge: p }),
        _ => Priced::NoEdge,
    }
}

/// Walks `size` shares through a leg's ladder the way the matching engine fills it: per level,
/// notional rounded against us (up for buys, down for sells), taker fee per level. Returns the
/// worst price reached, the cash (paid including fees, or received net of fees) and the fees.
pub fn price_leg(leg: &LegBook<'_>, side: Side, size: Quantity) -> Option<(Price, Money, Money)> {
    let rounding = if side == Side::Buy { Rounding::Up } else { Rounding::Down };
    let mut left = size;
    let mut cash = Money::ZERO;
    let mut fees = Money::ZERO;
    let mut worst = None;
    for level in leg.book.levels(side.taking_side()) {
        if left.is_zero() {
            break;
        }
        let take = left.min(level.size);
        let notional = level.price.notional(take, rounding)?;
        let fee = leg.fees.taker_fee(level.price, take)?;
        fees = fees.checked_add(fee)?;
        cash = match side {
            Side::Buy => cash.checked_add(notional)?.checked_add(fee)?,
            Side::Sell => cash.checked_add(notional)?.checked_sub(fee)?,
        };
        left = left.saturating_sub(take);
        worst = Some(level.price);
    }
    if !left.is_zero() {
        return None;
    }
    Some((worst?, cash, fees))
}

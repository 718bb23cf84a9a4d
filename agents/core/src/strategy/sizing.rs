//! Sizing a complete set across several books: the largest equal size to take on every leg such
//! that every share of it keeps its edge after the V2 taker fee, walking each leg's ladder (VWAP,
//! not just the top level), within each leg's depth, a per-leg notional cap and a size cap.
//!
//! The walk works on marginal prices: between two level boundaries of any leg the marginal cost
//! of one more set is constant, so it advances boundary by boundary and stops where the next
//! share would no longer be profitable. The result is then priced exactly the way the matching
//! engine will fill it (per level, notional rounded against us, fee per level) and refused when
//! rounding ate the edge.
//!
//! Last, the limits are widened by the edge the set has beyond the minimum: the orders reach the
//! venue some milliseconds after the books were seen, and a leg whose ask ticked up in between
//! would kill a fill-or-kill leg and break the set. Each leg's limit moves one of its ticks at a
//! time, legs in turn, while the whole set bought (sold) at every limit, fees included, still keeps
//! the minimum edge and each leg's notional at its limit stays within the cap. The venue fills at
//! the book's prices, so a book that did not move fills exactly as quoted.

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
    /// Profit of the whole set against the 1 USDC a complete set is worth, at the books' prices.
    pub edge: Money,
    /// Profit if every leg fills at its limit: the least the set can make (at least the minimum
    /// edge).
    pub worst_edge: Money,
}

/// Limits on a set's size.
#[derive(Debug, Clone, Copy)]
pub struct SetCaps {
    /// What one set (one share of every leg) is worth against the trade: 1 USDC (what it pays
    /// at resolution, or merges into) for an arbitrage; a held set's cost when selling it back
    /// (which may be above 1 USDC).
    pub par: Money,
    /// Minimum edge, basis points of the 1 USDC set value.
    pub min_edge_bps: u32,
    /// Maximum notional per leg.
    pub leg_notional: Money,
    /// Maximum shares per leg (the risk policy's order size).
    pub max_size: Quantity,
}

/// What `size` sets are worth at `par` a set, rounded down.
fn par_value(par: Money, size: Quantity) -> Option<Money> {
    let v = crate::money::div_round(
        i128::from(par.micros()) * i128::from(size.micros()),
        i128::from(Quantity::SCALE),
        Rounding::Down,
    );
    Money::from_micros_i128(v)
}

/// One USDC: what a complete set pays at resolution.
pub const SET_VALUE: Money = Money::from_micros(1_000_000);

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
            Side::Buy => marginal + edge <= caps.par.micros(),
            Side::Sell => marginal - edge >= caps.par.micros(),
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

/// The minimum edge of `size` sets, `edge` micro-USDC a set.
fn required(edge: i64, size: Quantity) -> Option<Money> {
    Money::from_micros_i128(i128::from(edge) * i128::from(size.micros()) / i128::from(Quantity::SCALE))
}

/// Rounds the walked size to the venue's step, prices it exactly, makes room under the cap for the
/// limits to move, and widens them.
fn finish(legs: &[LegBook<'_>], side: Side, caps: &SetCaps, size: u64, edge: i64) -> Option<SetQuote> {
    let mut q = exact(legs, side, caps, Quantity::from_micros(size).round_down_to(SIZE_STEP), edge)?;
    if let Some(smaller) = headroom(legs, side, caps, &q, required(edge, q.size)?)
        && let Some(s) = exact(legs, side, caps, smaller, edge)
    {
        q = s;
    }
    let floor = required(edge, q.size)?;
    widen(legs, side, caps, &mut q, floor);
    Some(q)
}

/// Checks the minimums and prices `size` exactly. The walk's cap arithmetic rounds down while
/// fills round against us, so a cap-bound size can come out a few micros over the cap: step down
/// a hundredth at a time until it fits.
fn exact(legs: &[LegBook<'_>], side: Side, caps: &SetCaps, size: Quantity, edge: i64) -> Option<SetQuote> {
    let mut size = size;
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
    let Some(value) = par_value(caps.par, size) else { return Priced::NoEdge };
    let profit = match side {
        Side::Buy => value.checked_sub(total),
        Side::Sell => total.checked_sub(value),
    };
    match (profit, required(edge, size)) {
        (Some(p), Some(r)) if p >= r && !p.is_negative() => {
            Priced::Quote(SetQuote { size, limits, cash, edge: p, worst_edge: p })
        }
        _ => Priced::NoEdge,
    }
}

/// Cash of `size` shares of `leg` if all of it trades at `limit`: notional rounded against us,
/// fee at that price (paid on a buy, `None` when a sell would pay more than it gets).
fn worst_cash(leg: &LegBook<'_>, side: Side, limit: Price, size: Quantity) -> Option<(Money, Money)> {
    let rounding = if side == Side::Buy { Rounding::Up } else { Rounding::Down };
    let notional = limit.notional(size, rounding)?;
    let fee = leg.fees.taker_fee(limit, size)?;
    let cash = match side {
        Side::Buy => notional.checked_add(fee)?,
        Side::Sell => notional.checked_sub(fee)?,
    };
    Some((cash, notional))
}

/// The edge of `q`'s size if every leg traded all of it at `limits`, and whether each buy leg's
/// notional at its limit stays within the cap.
fn edge_at(
    legs: &[LegBook<'_>],
    side: Side,
    caps: &SetCaps,
    size: Quantity,
    limits: &[Price],
) -> Option<(Money, bool)> {
    let value = par_value(caps.par, size)?;
    let mut total = Money::ZERO;
    let mut within = true;
    for (leg, limit) in legs.iter().zip(limits) {
        let (cash, notional) = worst_cash(leg, side, *limit, size)?;
        within &= side == Side::Sell || notional <= caps.leg_notional;
        total = total.checked_add(cash)?;
    }
    let edge = match side {
        Side::Buy => value.checked_sub(total)?,
        Side::Sell => total.checked_sub(value)?,
    };
    Some((edge, within))
}

/// A smaller size for a buy whose cap leaves a leg's limit no room to rise by its share of the
/// excess edge (the legs most likely to be killed are the expensive ones, which the cap binds
/// first); `None` when the cap is no constraint or nothing smaller fits the minimums.
fn headroom(legs: &[LegBook<'_>], side: Side, caps: &SetCaps, q: &SetQuote, required: Money) -> Option<Quantity> {
    if side != Side::Buy || q.size.is_zero() {
        return None;
    }
    let (edge, _) = edge_at(legs, side, caps, q.size, &q.limits)?;
    let excess = edge.checked_sub(required)?;
    if excess <= Money::ZERO {
        return None;
    }
    // Excess per share and leg, in price ticks (one tick of price is 100 micro-USDC a share).
    let per_leg = i128::from(excess.micros()) * i128::from(Quantity::SCALE)
        / i128::from(q.size.micros())
        / legs.len() as i128
        / 100;
    let mut size = q.size;
    for (leg, limit) in legs.iter().zip(&q.limits) {
        let raised = u32::try_from(i128::from(limit.ticks()) + per_leg).ok()?;
        let target = Price::from_ticks(raised.min(Price::SCALE - 1))?.round_to_tick(leg.book.tick(), Rounding::Down)?;
        let fits = u64::try_from(caps.leg_notional.micros()).ok()? * u64::from(Price::SCALE)
            / u64::from(target.ticks().max(1));
        size = size.min(Quantity::from_micros(fits).round_down_to(SIZE_STEP));
    }
    (size < q.size && legs.iter().all(|l| size >= l.min_size) && !size.is_zero()).then_some(size)
}

/// Moves the limits of `q` away from the books (up for buys, down for sells), one tick of a leg at
/// a time, legs in turn, while the set at its limits keeps `required` and each leg's notional at
/// its limit stays within the cap; records the edge left at the limits.
fn widen(legs: &[LegBook<'_>], side: Side, caps: &SetCaps, q: &mut SetQuote, required: Money) {
    let worst = |limits: &[Price]| edge_at(legs, side, caps, q.size, limits).filter(|(_, within)| *within).map(|e| e.0);
    // The quote's limits are its worst levels: all of it at them is a floor below the quote's edge.
    let Some(mut edge) = worst(&q.limits) else { return };
    q.worst_edge = edge;
    if edge < required {
        return;
    }
    let mut open: Vec<bool> = vec![true; legs.len()];
    while open.iter().any(|o| *o) {
        for i in 0..legs.len() {
            if !open[i] {
                continue;
            }
            let tick = legs[i].book.tick();
            let next = match side {
                Side::Buy => q.limits[i].checked_add(tick),
                Side::Sell => q.limits[i].checked_sub(tick),
            };
            let Some(next) = next.filter(|p| p.is_tradable()) else {
                open[i] = false;
                continue;
            };
            let before = q.limits[i];
            q.limits[i] = next;
            match worst(&q.limits).filter(|e| *e >= required) {
                Some(e) => edge = e,
                None => {
                    q.limits[i] = before;
                    open[i] = false;
                }
            }
        }
    }
    q.worst_edge = edge;
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

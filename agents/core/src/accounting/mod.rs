//! Position and PnL accounting for one strategy, sans-IO, in fixed point: fills in, positions,
//! average cost, realized and unrealized PnL and fees out.
//!
//! - Average cost: a buy adds its notional (rounded up: never understate cost) to the token's
//!   cost basis; a sell realizes `proceeds - cost share` (proceeds rounded down) and removes its
//!   proportional share of the basis (all of it when the position closes).
//! - Fees are paid in cash and count against realized PnL.
//! - Venue finality: a fill is booked when first seen (MATCHED or CONFIRMED; a later CONFIRMED
//!   of the same fill changes nothing), and a FAILED fill is reversed exactly, whatever came
//!   after it, by subtracting what it changed. Each fill id is applied at most once.
//! - Selling more than is held is refused: outcome tokens cannot be shorted.
//! - A market's life after trading (merge, split, redeem, neg-risk convert, and settlement at
//!   resolution) is booked by [`lifecycle`], each operation at most once by its id.
//! - Cash is not kept apart: every booking moves cash, cost basis and realized PnL together so
//!   that cash (relative to the start) = realized PnL − cost basis held, exactly ([`Ledger::cash`]).

pub mod lifecycle;
pub mod mark;

use std::collections::{HashMap, HashSet};

use crate::ids::{TokenId, TokenMap};
use crate::money::{Money, Price, Quantity, Rounding};
use crate::side::Side;
use crate::wire::{Fill, FillStatus};

/// One token's position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Shares held.
    pub size: Quantity,
    /// Cost basis of the shares held.
    pub cost: Money,
    /// Realized PnL on this token, fees included.
    pub realized: Money,
    /// Fees paid on this token.
    pub fees: Money,
    /// Shares owed: a FAILED buy reversed after its shares were sold leaves the position short
    /// until the sell's own failure (or a later buy) settles it. Zero in normal operation.
    pub deficit: Quantity,
}

impl Position {
    /// Average entry price (rounded up), when holding.
    pub fn avg_price(&self) -> Option<Price> {
        if self.size.is_zero() {
            return None;
        }
        let ticks = crate::money::div_round(
            i128::from(self.cost.micros()) * i128::from(Price::SCALE),
            i128::from(self.size.micros()),
            Rounding::Up,
        );
        Price::from_ticks(u32::try_from(ticks).ok()?)
    }

    /// Unrealized PnL at `mark` (value rounded down minus cost).
    pub fn unrealized(&self, mark: Price) -> Money {
        let value = mark.notional(self.size, Rounding::Down).unwrap_or(Money::ZERO);
        value.checked_sub(self.cost).unwrap_or(Money::ZERO)
    }
}

/// What booking one fill changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booked {
    /// Cost basis added (buy) or released (sell).
    pub cost: Money,
    /// PnL realized, fees included.
    pub realized: Money,
    /// The token's position after the fill.
    pub position: Position,
}

/// Why a fill could not be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountingError {
    /// A sell larger than the position.
    #[error("sell of {sell} shares of {token} exceeds the {held} held")]
    Oversell {
        /// The token sold.
        token: TokenId,
        /// Shares the fill sells.
        sell: Quantity,
        /// Shares held.
        held: Quantity,
    },
    /// An amount beyond the fixed-point range.
    #[error("amount overflow booking {0}")]
    Overflow(String),
    /// An operation needs more shares than are held.
    #[error("{op} needs {need} shares of {token}, {held} held")]
    Short {
        /// The operation's id.
        op: String,
        /// The token.
        token: TokenId,
        /// Shares needed.
        need: Quantity,
        /// Shares held.
        held: Quantity,
    },
    /// A redemption in a market not resolved (no payout known for the token).
    #[error("{op}: {token} has not resolved")]
    NotResolved {
        /// The operation's id.
        op: String,
        /// The token.
        token: TokenId,
    },
    /// An operation that cannot be (no tokens, a token twice, nothing converted).
    #[error("{op}: {reason}")]
    Invalid {
        /// The operation's id.
        op: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Moves a position's net size (size - deficit) by `delta` shares.
fn shift(p: &mut Position, delta: i128) -> Option<()> {
    let net = i128::from(p.size.micros()) - i128::from(p.deficit.micros()) + delta;
    p.size = Quantity::from_micros(u64::try_from(net.max(0)).ok()?);
    p.deficit = Quantity::from_micros(u64::try_from((-net).max(0)).ok()?);
    Some(())
}

/// The cost basis of `size` of the shares of `p` (`size` ≤ held): proportional, rounded to the
/// nearest micro-USDC, all of it when the position closes.
fn cost_share(p: &Position, size: Quantity) -> Option<Money> {
    if size == p.size {
        return Some(p.cost);
    }
    if p.size.is_zero() {
        return Some(Money::ZERO);
    }
    let share = crate::money::div_round(
        i128::from(p.cost.micros()) * i128::from(size.micros()),
        i128::from(p.size.micros()),
        Rounding::Nearest,
    );
    Money::from_micros_i128(share)
}

/// What one fill changed, kept so a FAILED fill can be reversed exactly.
#[derive(Debug, Clone, Copy)]
struct Delta {
    token: TokenId,
    buy: bool,
    size: Quantity,
    cost: Money,
    realized: Money,
    fee: Money,
    reversed: bool,
}

/// One strategy's books.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    positions: TokenMap<Position>,
    applied: HashMap<String, Delta>,
    /// Conditional-token operations and settlements applied (their ids).
    ops: HashSet<String>,
    /// What each token of a resolved market pays out per share.
    payouts: TokenMap<Price>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// The position in `token`.
    pub fn position(&self, token: &TokenId) -> Position {
        self.positions.get(token).copied().unwrap_or_default()
    }

    /// Every position, in token order (deterministic).
    pub fn positions(&self) -> Vec<(TokenId, Position)> {
        let mut v: Vec<(TokenId, Position)> = self.positions.iter().map(|(t, p)| (*t, *p)).collect();
        v.sort_by_key(|(t, _)| *t);
        v
    }

    /// Realized PnL over all tokens (fees included).
    pub fn realized(&self) -> Money {
        self.positions.values().fold(Money::ZERO, |a, p| a.checked_add(p.realized).unwrap_or(a))
    }

    /// Fees paid over all tokens.
    pub fn fees(&self) -> Money {
        self.positions.values().fold(Money::ZERO, |a, p| a.checked_add(p.fees).unwrap_or(a))
    }

    /// Cash moved since the start (micro-USDC, negative when spent): realized PnL less the cost
    /// basis still held. Every booking keeps this identity exactly.
    pub fn cash(&self) -> Money {
        self.realized().checked_sub(self.gross_cost()).unwrap_or(Money::ZERO)
    }

    /// Cost basis of everything held (the exposure of the positions).
    pub fn gross_cost(&self) -> Money {
        self.positions.values().fold(Money::ZERO, |a, p| a.checked_add(p.cost).unwrap_or(a))
    }

    /// Unrealized PnL with `mark` giving each token's mark price (tokens without one count 0).
    pub fn unrealized(&self, mark: impl Fn(&TokenId) -> Option<Price>) -> Money {
        self.positions
            .iter()
            .filter_map(|(t, p)| Some(p.unrealized(mark(t)?)))
            .fold(Money::ZERO, |a, u| a.checked_add(u).unwrap_or(a))
    }

    /// Starts a token's position from a stored one (an agent restarting from the risk store).
    /// Fills booked before the restart are not known individually: a FAILED notice for one of
    /// them is ignored.
    pub fn restore(&mut self, token: TokenId, position: Position) {
        self.positions.insert(token, position);
    }

    /// Books a fill and says what it changed: the cost it added to (buy) or took from (sell) the
    /// position, the PnL it realized (fees included), and the position after. What the risk
    /// store commits with each fill.
    pub fn book(&mut self, fill: &Fill) -> Result<Booked, AccountingError> {
        let before = self.position(&fill.token);
        self.on_fill(fill)?;
        let after = self.position(&fill.token);
        let cost = match fill.side {
            Side::Buy => after.cost.checked_sub(before.cost),
            Side::Sell => before.cost.checked_sub(after.cost),
        }
        .unwrap_or_default();
        let realized = after.realized.checked_sub(before.realized).unwrap_or_default();
        Ok(Booked { cost, realized, position: after })
    }

    /// Books a fill (see the module doc for MATCHED / CONFIRMED / FAILED).
    pub fn on_fill(&mut self, fill: &Fill) -> Result<(), AccountingError> {
        let overflow = || AccountingError::Overflow(fill.fill_id.clone());
        if fill.status == FillStatus::Failed {
            if let Some(d) = self.applied.get_mut(&fill.fill_id)
                && !d.reversed
            {
                d.reversed = true;
                let d = *d;
                let p = self.positions.entry(d.token).or_default();
                let shares = i128::from(d.size.micros());
                shift(p, if d.buy { -shares } else { shares }).ok_or_else(overflow)?;
                p.cost = p.cost.checked_sub(d.cost).ok_or_else(overflow)?;
                p.realized = p.realized.checked_sub(d.realized).ok_or_else(overflow)?;
                p.fees = p.fees.checked_sub(d.fee).ok_or_else(overflow)?;
            }
            return Ok(());
        }
        if self.applied.contains_key(&fill.fill_id) {
            return Ok(());
        }
        // Checked on a copy: a fill that cannot book leaves no trace.
        let held = self.position(&fill.token);
        let delta = match fill.side {
            Side::Buy => {
                let cost = fill.price.notional(fill.size, Rounding::Up).ok_or_else(overflow)?;
                Delta {
                    token: fill.token,
                    buy: true,
                    size: fill.size,
                    cost,
                    realized: Money::ZERO,
                    fee: fill.fee,
                    reversed: false,
                }
            }
            Side::Sell => {
                if fill.size > held.size {
                    return Err(AccountingError::Oversell { token: fill.token, sell: fill.size, held: held.size });
                }
                let proceeds = fill.price.notional(fill.size, Rounding::Down).ok_or_else(overflow)?;
                let cost_share = cost_share(&held, fill.size).ok_or_else(overflow)?;
                let pnl = proceeds.checked_sub(cost_share).ok_or_else(overflow)?;
                Delta {
                    token: fill.token,
                    buy: false,
                    size: fill.size,
                    cost: cost_share.checked_neg().ok_or_else(overflow)?,
                    realized: pnl,
                    fee: fill.fee,
                    reversed: false,
                }
            }
        };
        // Fees reduce realized PnL.
        let realized = delta.realized.checked_sub(delta.fee).ok_or_else(overflow)?;
        let delta = Delta { realized, ..delta };
        let shares = i128::from(delta.size.micros());
        let p = self.positions.entry(fill.token).or_default();
        shift(p, if delta.buy { shares } else { -shares }).ok_or_else(overflow)?;
        p.cost = p.cost.checked_add(delta.cost).ok_or_else(overflow)?;
        p.realized = p.realized.checked_add(delta.realized).ok_or_else(overflow)?;
        p.fees = p.fees.checked_add(delta.fee).ok_or_else(overflow)?;
        self.applied.insert(fill.fill_id.clone(), delta);
        Ok(())
    }
}

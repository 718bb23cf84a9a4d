//! Booking a market's life after trading into a [`Ledger`]: conditional-token operations
//! ([`CtfOp`]: merge, split, redeem, neg-risk convert) and settlement at resolution
//! ([`Resolution`]), each applied at most once by its id, all or nothing.
//!
//! How each moves cash, cost basis and realized PnL (so cash = realized − cost held, exactly):
//! - **merge** `q` sets: `q` USDC in; each token gives up its cost share of `q` shares; the
//!   proceeds are attributed to the two tokens in proportion to those shares (the set's edge is
//!   realized by both legs, the first taking the rounding), so the set's PnL is `q − Σ shares`.
//! - **split** `q` sets: `q` USDC out; each token gains `q` shares at half of `q` (the first token
//!   takes the odd micro). Nothing is realized.
//! - **settlement**: each token of the market is valued at its payout (rounded down); the
//!   difference from its cost basis is realized, and the value becomes its basis: what redeeming
//!   will bring in. Tokens paying nothing leave the books.
//! - **redeem** `q` tokens: their value at the payout in; their cost share out; the difference
//!   (rounding only, after settlement) realized. Refused before the market settles.
//! - **convert** `q` units of NO on k outcomes: the k cost shares out; `(k−1) × out` USDC in and
//!   `out` YES on each other outcome (`out` = `q` less the adapter's fee); the YES tokens take
//!   what the cash does not cover as their basis, split evenly (the first takes the remainder);
//!   cash beyond the shares given up is realized.

use serde::Serialize;

use super::{AccountingError, Ledger, Position, cost_share, shift};
use crate::ids::TokenId;
use crate::money::{Money, Quantity, Rounding};
use crate::wire::{CtfOp, Resolution};

/// What one operation or settlement changed: what the risk store commits with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// Every token touched, with its position after.
    pub positions: Vec<(TokenId, Position)>,
    /// Every token touched, with the change of its net shares (held less owed), micro-shares.
    pub shares: Vec<(TokenId, i64)>,
    /// Cash in (negative: out).
    pub cash: Money,
    /// PnL realized.
    pub realized: Money,
    /// Change of the cost basis held (the positions' exposure; negative: released).
    pub cost: Money,
}

/// Changes staged on copies of the positions, written back only when the whole operation books.
struct Staged<'a> {
    ledger: &'a Ledger,
    op: &'a str,
    touched: Vec<(TokenId, Position)>,
    cash: i128,
}

impl Staged<'_> {
    fn position(&mut self, token: TokenId) -> &mut Position {
        let i = match self.touched.iter().position(|(t, _)| *t == token) {
            Some(i) => i,
            None => {
                self.touched.push((token, self.ledger.position(&token)));
                self.touched.len() - 1
            }
        };
        &mut self.touched[i].1
    }

    fn overflow(&self) -> AccountingError {
        AccountingError::Overflow(self.op.to_string())
    }

    /// Takes `size` shares of `token` out; returns their cost share.
    fn take(&mut self, token: TokenId, size: Quantity) -> Result<Money, AccountingError> {
        let op = self.op.to_string();
        let p = self.position(token);
        if size > p.size {
            return Err(AccountingError::Short { op, token, need: size, held: p.size });
        }
        let share = cost_share(p, size).ok_or_else(|| AccountingError::Overflow(op.clone()))?;
        shift(p, -i128::from(size.micros())).ok_or_else(|| AccountingError::Overflow(op.clone()))?;
        p.cost = p.cost.checked_sub(share).ok_or(AccountingError::Overflow(op))?;
        Ok(share)
    }

    /// Adds `size` shares of `token` with `cost` as their basis.
    fn give(&mut self, token: TokenId, size: Quantity, cost: Money) -> Result<(), AccountingError> {
        let err = self.overflow();
        let p = self.position(token);
        shift(p, i128::from(size.micros())).ok_or_else(|| err.clone())?;
        p.cost = p.cost.checked_add(cost).ok_or(err)?;
        Ok(())
    }

    fn realize(&mut self, token: TokenId, pnl: Money) -> Result<(), AccountingError> {
        let err = self.overflow();
        let p = self.position(token);
        p.realized = p.realized.checked_add(pnl).ok_or(err)?;
        Ok(())
    }
}

/// `total` split over `parts` in proportion to `weights` (evenly when they are all zero), rounded
/// to the nearest micro with the first part taking what rounding leaves, so the parts sum to
/// `total` exactly.
fn allocate(total: i128, weights: &[i128]) -> Vec<i128> {
    let n = weights.len().max(1);
    let sum: i128 = weights.iter().sum();
    let mut out: Vec<i128> = if sum > 0 {
        weights.iter().map(|w| crate::money::div_round(total * w, sum, Rounding::Nearest)).collect()
    } else {
        let each = total.div_euclid(i128::try_from(n).unwrap_or(i128::MAX));
        vec![each; n]
    };
    let rest = total - out.iter().sum::<i128>();
    if let Some(first) = out.first_mut() {
        *first += rest;
    }
    out
}

fn money(micros: i128, op: &str) -> Result<Money, AccountingError> {
    Money::from_micros_i128(micros).ok_or_else(|| AccountingError::Overflow(op.to_string()))
}

fn distinct(op: &str, tokens: &[TokenId]) -> Result<(), AccountingError> {
    for (i, t) in tokens.iter().enumerate() {
        if tokens[..i].contains(t) {
            return Err(AccountingError::Invalid { op: op.to_string(), reason: "a token appears twice" });
        }
    }
    Ok(())
}

impl Ledger {
    /// Books the conditional-token operation `op` under the id `id` (the intent's client order
    /// id): `None` when that id was booked before (a redelivery), else what it changed. An
    /// operation that cannot book (too few shares, not resolved) changes nothing.
    pub fn on_ctf(&mut self, id: &str, op: &CtfOp) -> Result<Option<Lifecycle>, AccountingError> {
        if self.ops.contains(id) {
            return Ok(None);
        }
        let mut st = Staged { ledger: self, op: id, touched: vec![], cash: 0 };
        match op {
            CtfOp::Merge { tokens, size, .. } => {
                distinct(id, tokens)?;
                let shares = [st.take(tokens[0], *size)?, st.take(tokens[1], *size)?];
                let proceeds = i128::from(size.micros());
                let parts = allocate(proceeds, &shares.map(|s| i128::from(s.micros())));
                for (i, t) in tokens.iter().enumerate() {
                    let pnl = money(parts[i] - i128::from(shares[i].micros()), id)?;
                    st.realize(*t, pnl)?;
                }
                st.cash = proceeds;
            }
            CtfOp::Split { tokens, size, .. } => {
                distinct(id, tokens)?;
                let q = i128::from(size.micros());
                let halves = allocate(q, &[0, 0]);
                for (i, t) in tokens.iter().enumerate() {
                    st.give(*t, *size, money(halves[i], id)?)?;
                }
                st.cash = -q;
            }
            CtfOp::Redeem { token, size, .. } => {
                let payout = *self
                    .payouts
                    .get(token)
                    .ok_or_else(|| AccountingError::NotResolved { op: id.to_string(), token: *token })?;
                let value = payout.notional(*size, Rounding::Down).ok_or_else(|| st.overflow())?;
                let share = st.take(*token, *size)?;
                st.realize(*token, value.checked_sub(share).ok_or_else(|| st.overflow())?)?;
                st.cash = i128::from(value.micros());
            }
            CtfOp::Convert { no_tokens, yes_tokens, size, fee_bips } => {
                if no_tokens.is_empty() || size.is_zero() {
                    return Err(AccountingError::Invalid { op: id.to_string(), reason: "nothing to convert" });
                }
                distinct(id, &[no_tokens.as_slice(), yes_tokens.as_slice()].concat())?;
                let mut given = 0i128;
                for t in no_tokens {
                    given += i128::from(st.take(*t, *size)?.micros());
                }
                let out = CtfOp::convert_out(*size, *fee_bips);
                let k = i128::try_from(no_tokens.len()).unwrap_or(i128::MAX);
                let cash = (k - 1) * i128::from(out.micros());
                let (basis, pnl) = if yes_tokens.is_empty() || out.is_zero() {
                    (0, cash - given)
                } else {
                    ((given - cash).max(0), (cash - given).max(0))
                };
                if !yes_tokens.is_empty() && !out.is_zero() {
                    let parts = allocate(basis, &vec![0; yes_tokens.len()]);
                    for (t, part) in yes_tokens.iter().zip(parts) {
                        st.give(*t, out, money(part, id)?)?;
                    }
                }
                st.realize(no_tokens[0], money(pnl, id)?)?;
                st.cash = cash;
            }
        }
        let cash = money(st.cash, id)?;
        let booked = self.commit(id, st.touched, cash)?;
        Ok(Some(booked))
    }

    /// Settles every position in a resolved market, once per market (`None` after the first):
    /// each token valued at its payout, the difference realized. Redemptions of the market's
    /// tokens are accepted from then on.
    pub fn settle(&mut self, res: &Resolution) -> Result<Option<Lifecycle>, AccountingError> {
        let id = res.settlement_id();
        if self.ops.contains(&id) {
            return Ok(None);
        }
        let tokens: Vec<TokenId> = res.payouts.iter().map(|(t, _)| *t).collect();
        distinct(&id, &tokens)?;
        let mut st = Staged { ledger: self, op: &id, touched: vec![], cash: 0 };
        for (token, payout) in &res.payouts {
            if !st.ledger.positions.contains_key(token) {
                continue;
            }
            let p = st.position(*token);
            let value = payout.notional(p.size, Rounding::Down).ok_or_else(|| st.overflow())?;
            let p = st.position(*token);
            let pnl = value.checked_sub(p.cost);
            p.cost = value;
            if value.micros() == 0 {
                p.size = Quantity::ZERO;
            }
            let pnl = pnl.ok_or_else(|| st.overflow())?;
            st.realize(*token, pnl)?;
        }
        let booked = self.commit(&id, st.touched, Money::ZERO)?;
        self.payouts.extend(res.payouts.iter().copied());
        Ok(Some(booked))
    }

    /// Remembers a settlement booked before a restart (the positions come back through
    /// [`Ledger::restore`]): the market's payouts, and its id as applied.
    pub fn restore_settlement(&mut self, res: &Resolution) {
        self.ops.insert(res.settlement_id());
        self.payouts.extend(res.payouts.iter().copied());
    }

    /// Remembers an operation booked before a restart (its positions come back through
    /// [`Ledger::restore`]), so booking it again changes nothing.
    pub fn restore_op(&mut self, id: &str) {
        self.ops.insert(id.to_string());
    }

    /// Whether `token`'s market has settled, and at what payout.
    pub fn payout(&self, token: &TokenId) -> Option<crate::money::Price> {
        self.payouts.get(token).copied()
    }

    /// Writes staged positions back and records `id`; returns what changed.
    fn commit(
        &mut self,
        id: &str,
        touched: Vec<(TokenId, Position)>,
        cash: Money,
    ) -> Result<Lifecycle, AccountingError> {
        let overflow = || AccountingError::Overflow(id.to_string());
        let mut realized = Money::ZERO;
        let mut cost = Money::ZERO;
        let mut shares = Vec::with_capacity(touched.len());
        let net = |p: &Position| i128::from(p.size.micros()) - i128::from(p.deficit.micros());
        for (t, after) in &touched {
            let before = self.position(t);
            shares.push((*t, i64::try_from(net(after) - net(&before)).map_err(|_| overflow())?));
            realized = realized
                .checked_add(after.realized.checked_sub(before.realized).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
            cost = cost.checked_add(after.cost.checked_sub(before.cost).ok_or_else(overflow)?).ok_or_else(overflow)?;
        }
        for (t, after) in &touched {
            self.positions.insert(*t, *after);
        }
        self.ops.insert(id.to_string());
        Ok(Lifecycle { positions: touched, shares, cash, realized, cost })
    }
}

/// What a lifecycle booking was: a conditional-token operation or a market's settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booking<'a> {
    /// A merge, split, redeem or convert.
    Ctf(&'a CtfOp),
    /// A market's resolution settling the positions in it.
    Settlement(&'a Resolution),
}

/// Running totals of a strategy's (or a policy's) market lifecycle, for status and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LifecycleTotals {
    /// Merges booked.
    pub merges: u64,
    /// Sets merged.
    pub merged: Quantity,
    /// Splits booked.
    pub splits: u64,
    /// Sets split.
    pub split: Quantity,
    /// Redemptions booked.
    pub redemptions: u64,
    /// Shares redeemed.
    pub redeemed: Quantity,
    /// Conversions booked.
    pub conversions: u64,
    /// Units converted.
    pub converted: Quantity,
    /// Settlements booked (a market resolving with a position in it).
    pub settlements: u64,
    /// PnL settlements realized.
    pub settled_pnl: Money,
    /// Collateral merges, redemptions and conversions brought back.
    pub capital_returned: Money,
}

impl LifecycleTotals {
    /// Field names, as stored (the Redis hash `life`), in [`LifecycleTotals::values`] order.
    pub const FIELDS: [&'static str; 11] = [
        "merges",
        "merged",
        "splits",
        "split",
        "redemptions",
        "redeemed",
        "conversions",
        "converted",
        "settlements",
        "settled_pnl",
        "capital_returned",
    ];

    /// What one booking adds.
    pub fn of(what: Booking<'_>, booked: &Lifecycle) -> LifecycleTotals {
        LifecycleTotals::of_parts(what, booked.cash, booked.realized)
    }

    /// What one booking that moved `cash` and realized `realized` adds.
    pub fn of_parts(what: Booking<'_>, cash: Money, realized: Money) -> LifecycleTotals {
        let mut t = LifecycleTotals::default();
        match what {
            Booking::Settlement(_) => (t.settlements, t.settled_pnl) = (1, realized),
            Booking::Ctf(op) => {
                let size = op.size();
                match op {
                    CtfOp::Merge { .. } => (t.merges, t.merged) = (1, size),
                    CtfOp::Split { .. } => (t.splits, t.split) = (1, size),
                    CtfOp::Redeem { .. } => (t.redemptions, t.redeemed) = (1, size),
                    CtfOp::Convert { .. } => (t.conversions, t.converted) = (1, size),
                }
                t.capital_returned = cash.max(Money::ZERO);
            }
        }
        t
    }

    /// The values in [`LifecycleTotals::FIELDS`] order (micro-units for sizes and money).
    pub fn values(&self) -> [i64; 11] {
        let q = |x: Quantity| i64::try_from(x.micros()).unwrap_or(i64::MAX);
        let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        [
            n(self.merges),
            q(self.merged),
            n(self.splits),
            q(self.split),
            n(self.redemptions),
            q(self.redeemed),
            n(self.conversions),
            q(self.converted),
            n(self.settlements),
            self.settled_pnl.micros(),
            self.capital_returned.micros(),
        ]
    }

    /// The inverse of [`LifecycleTotals::values`]; `None` when a count or size is negative.
    pub fn from_values(v: [i64; 11]) -> Option<LifecycleTotals> {
        let n = |x: i64| u64::try_from(x).ok();
        let q = |x: i64| n(x).map(Quantity::from_micros);
        Some(LifecycleTotals {
            merges: n(v[0])?,
            merged: q(v[1])?,
            splits: n(v[2])?,
            split: q(v[3])?,
            redemptions: n(v[4])?,
            redeemed: q(v[5])?,
            conversions: n(v[6])?,
            converted: q(v[7])?,
            settlements: n(v[8])?,
            settled_pnl: Money::from_micros(v[9]),
            capital_returned: Money::from_micros(v[10]),
        })
    }

    /// Both added (saturating).
    pub fn plus(&self, o: &LifecycleTotals) -> LifecycleTotals {
        let (a, b) = (self.values(), o.values());
        let mut v = [0i64; 11];
        for i in 0..11 {
            v[i] = a[i].saturating_add(b[i]);
        }
        LifecycleTotals::from_values(v).unwrap_or(*self)
    }
}

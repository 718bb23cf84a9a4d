//! Complete-set arbitrage. A complete set (YES + NO of a binary market, or the YES of every
//! outcome of a neg-risk event) is worth exactly 1 USDC at resolution, so:
//!
//! - **buy** every leg when the legs' asks plus V2 taker fees sum below `1 - minEdge`; a bought
//!   binary set is **merged** back into USDC as soon as its legs are done (the edge is realized
//!   and the capital comes back at once); a neg-risk set cannot merge and is **held to
//!   resolution**, when its winning leg is redeemed, unless its bids come to pay more than it
//!   cost (fees included) plus `minEdge` first: then it is **sold back** and its capital works
//!   again (the mispricing it was bought on has passed; `sellBackAboveCost`, default true);
//! - **sell** both legs of a binary market when its bids minus fees sum above `1 + minEdge`:
//!   from inventory when we hold the set, else by **splitting** USDC into the set first and
//!   selling both legs once the split is booked;
//! - at a market's **resolution** every winning token still held is **redeemed** (losing tokens
//!   are written off by the settlement); a redemption refused or failed is asked for again every
//!   `legTimeoutMs` while the tokens are held.
//!
//! Sizing walks every leg's ladder ([`super::sizing`]): the size is the largest whose every share
//! keeps the edge, within the depth actually there, the per-leg notional cap and the risk
//! policy's order size. Legs go out together as FOK (or FAK) orders at the worst price the size
//! reaches, approved by the risk gateway all or none.
//!
//! **Broken sets**, the rule: when a set's legs are all done and filled unequally (a FAK
//! partial, a FOK killed), the matched part is a complete set: bought, it is merged; split and
//! left unsold, it is merged back (a split followed by a merge costs nothing). What is left over
//! on one side, bought beyond the matched part or split and unsold beyond it, is sold at market
//! (FAK at the lowest tick), unless it is below the market's minimum size, in which case it stays
//! as inventory (marked, and redeemed if it wins). While a set's legs (or its split) are pending
//! it is not re-entered; legs still open after `legTimeoutMs` are cancelled, and given up after
//! a second timeout. A cooldown follows every set. Neg-risk conversion is not used: this strategy
//! holds YES sets only, and conversion needs NO tokens.
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::sizing::{LegBook, SetCaps, size_set};
use super::{BookSet, Ctx, Instrument, OrderRequest, ParamsError, Strategy};
use crate::accounting::lifecycle::{Booking, LifecycleTotals};
use crate::config::StrategyParams;
use crate::ids::{ClientOrderId, ConditionId, TokenId, TokenMap};
use crate::money::{Money, Price, Quantity};
use crate::side::Side;
use crate::wire::{
    CtfOp, CtfReport, CtfStatus, Fill, FillStatus, MarketEvent, MarketEventBody, OrderStatus, OrderUpdate,
    RiskDecision, TimeInForce, Verdict,
};

/// Order type of the legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LegOrderType {
    /// All or nothing per leg.
    #[serde(rename = "FOK")]
    Fok,
    /// What is there, rest cancelled.
    #[serde(rename = "FAK")]
    Fak,
}

/// The `arbitrage` block of a Strategy spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArbParams {
    /// Minimum edge after fees, basis points of the set's 1 USDC.
    pub min_edge_bps: u32,
    /// Maximum notional per leg, micro-USDC.
    pub max_notional_per_leg_micros: i64,
    /// FOK or FAK legs.
    pub order_type: LegOrderType,
    /// Milliseconds before open legs are cancelled.
    pub leg_timeout_ms: u64,
    /// Milliseconds after a set before the same set is traded again.
    pub cooldown_ms: u64,
    /// Sell a held neg-risk set back once its bids pay more than it cost plus the edge.
    #[serde(default = "sell_back_default")]
    pub sell_back_above_cost: bool,
}

fn sell_back_default() -> bool {
    true
}

impl ArbParams {
    /// The largest `minEdgeBps`: 10 000 would be the whole 1 USDC of a set. The CRD schema's
    /// bound (a test in the operator holds them equal).
    pub const MAX_MIN_EDGE_BPS: u32 = 9_999;
    /// The longest `legTimeoutMs` (10 minutes).
    pub const MAX_LEG_TIMEOUT_MS: u64 = 600_000;
    /// The longest `cooldownMs` (a day).
    pub const MAX_COOLDOWN_MS: u64 = 86_400_000;

    /// Checks the bounds the strategy needs (the CRD schema states the same ones).
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.min_edge_bps > Self::MAX_MIN_EDGE_BPS {
            return Err(ParamsError::Invalid {
                field: "minEdgeBps",
                message: format!("must be at most {}", Self::MAX_MIN_EDGE_BPS),
            });
        }
        if self.max_notional_per_leg_micros <= 0 {
            return Err(ParamsError::Invalid { field: "maxNotionalPerLegMicros", message: "must be positive".into() });
        }
        if self.leg_timeout_ms == 0 || self.leg_timeout_ms > Self::MAX_LEG_TIMEOUT_MS {
            return Err(ParamsError::Invalid {
                field: "legTimeoutMs",
                message: format!("must be 1 to {}", Self::MAX_LEG_TIMEOUT_MS),
            });
        }
        if self.cooldown_ms > Self::MAX_COOLDOWN_MS {
            return Err(ParamsError::Invalid {
                field: "cooldownMs",
                message: format!("must be at most {}", Self::MAX_COOLDOWN_MS),
            });
        }
        Ok(())
    }
}

/// Kind of set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SetKind {
    /// YES and NO of one binary market (legs in that order).
    Binary,
    /// The YES tokens of every outcome of a neg-risk event.
    NegRisk,
}

/// A complete set to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArbSet {
    /// Binary or neg-risk.
    pub kind: SetKind,
    /// The legs.
    pub legs: Vec<Instrument>,
}

#[derive(Debug, Clone)]
struct LegOrder {
    id: ClientOrderId,
    leg: usize,
    filled: Quantity,
    done: bool,
}

#[derive(Debug, Clone)]
enum Phase {
    Idle {
        until_ns: u64,
    },
    /// A split is on its way; its legs are sold at `limits` once it is booked.
    Splitting {
        id: ClientOrderId,
        size: Quantity,
        limits: Vec<Price>,
        deadline_ns: u64,
    },
    /// Legs of a set (`side`) or an unwind are out; `split` is the size of the split whose legs
    /// these sells are.
    Working {
        side: Side,
        unwind: bool,
        split: Option<Quantity>,
        orders: Vec<LegOrder>,
        deadline_ns: u64,
        cancelled: bool,
    },
}

#[derive(Debug, Clone)]
struct SetState {
    set: ArbSet,
    phase: Phase,
}

/// Counters of what the strategy did (for metrics and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArbStats {
    /// Sets entered (signals acted on).
    pub signals: u64,
    /// Sets whose legs all filled equally.
    pub completed: u64,
    /// Unwind orders sent after a leg came up short.
    pub unwinds: u64,
    /// Leg timeouts.
    pub timeouts: u64,
    /// Excess shares left as inventory because they were below the market's minimum size.
    pub stranded: u64,
    /// Merges, splits and redemptions reported done, with the cash they moved.
    pub lifecycle: LifecycleTotals,
    /// Conditional-token operations refused or failed.
    pub ctf_failures: u64,
    /// Held neg-risk sets sold back above their cost.
    pub exits: u64,
}

/// A conditional-token operation on its way, and the set it belongs to.
#[derive(Debug, Clone)]
struct PendingCtf {
    set: usize,
    op: CtfOp,
}

/// The complete-set arbitrage strategy.
#[derive(Debug)]
pub struct CompleteSetArb {
    params: ArbParams,
    max_order_size: Quantity,
    max_order_notional: Money,
    sets: Vec<SetState>,
    by_token: TokenMap<Vec<usize>>,
    orders: HashMap<ClientOrderId, usize>,
    holdings: TokenMap<Quantity>,
    /// What the shares held cost (fills with fees, splits at half a USDC), per token.
    basis: TokenMap<Money>,
    fills_seen: HashSet<(String, bool)>,
    ctf: HashMap<ClientOrderId, PendingCtf>,
    resolved: HashSet<ConditionId>,
    /// Winning legs of resolved markets (set, leg), redeemed while any is held: a redemption
    /// refused or failed (say the risk store was down) is asked for again on the timer.
    winners: Vec<(usize, Instrument)>,
    next_redeem_ns: u64,
    stats: ArbStats,
}

impl CompleteSetArb {
    /// A strategy over `sets`, also capped by the risk policy's order size and notional.
    pub fn new(
        sets: Vec<ArbSet>,
        params: ArbParams,
        max_order_size: Quantity,
        max_order_notional: Money,
    ) -> Result<CompleteSetArb, ParamsError> {
        params.validate()?;
        let mut by_token: TokenMap<Vec<usize>> = TokenMap::default();
        for (i, s) in sets.iter().enumerate() {
            for l in &s.legs {
                by_token.entry(l.token).or_default().push(i);
            }
        }
        Ok(CompleteSetArb {
            params,
            max_order_size,
            max_order_notional,
            sets: sets.into_iter().map(|set| SetState { set, phase: Phase::Idle { until_ns: 0 } }).collect(),
            by_token,
            orders: HashMap::new(),
            holdings: TokenMap::default(),
            basis: TokenMap::default(),
            fills_seen: HashSet::new(),
            ctf: HashMap::new(),
            resolved: HashSet::new(),
            winners: vec![],
            next_redeem_ns: 0,
            stats: ArbStats::default(),
        })
    }

    /// The parameters in force.
    pub fn params(&self) -> &ArbParams {
        &self.params
    }

    /// What it did so far.
    pub fn stats(&self) -> ArbStats {
        self.stats
    }

    /// Shares held of `token`, from our fills.
    pub fn holding(&self, token: &TokenId) -> Quantity {
        self.holdings.get(token).copied().unwrap_or(Quantity::ZERO)
    }

    /// Shares of `token` held and not on their way out through a merge or a redemption.
    pub fn available(&self, token: &TokenId) -> Quantity {
        let leaving = self
            .ctf
            .values()
            .map(|p| match &p.op {
                CtfOp::Merge { tokens, size, .. } if tokens.contains(token) => *size,
                CtfOp::Redeem { token: t, size, .. } if t == token => *size,
                _ => Quantity::ZERO,
            })
            .fold(Quantity::ZERO, Quantity::saturating_add);
        self.holding(token).saturating_sub(leaving)
    }

    /// True while any set has legs or a split out.
    pub fn is_working(&self) -> bool {
        self.sets.iter().any(|s| !matches!(s.phase, Phase::Idle { .. }))
    }

    /// Conditional-token operations not yet reported.
    pub fn pending_ctf(&self) -> usize {
        self.ctf.len()
    }

    fn deadline(&self, now_ns: u64) -> u64 {
        now_ns.saturating_add(self.params.leg_timeout_ms * 1_000_000)
    }

    /// Asks for `op` on behalf of set `i`.
    fn ctf_op(&mut self, i: usize, op: CtfOp, ctx: &mut Ctx<'_>) -> ClientOrderId {
        let id = ctx.ctf(op.clone());
        self.ctf.insert(id, PendingCtf { set: i, op });
        id
    }

    /// Merges `size` of binary set `i` back into USDC.
    fn merge(&mut self, i: usize, size: Quantity, ctx: &mut Ctx<'_>) {
        let legs = &self.sets[i].set.legs;
        if size.is_zero() || self.sets[i].set.kind != SetKind::Binary || legs.len() != 2 {
            return;
        }
        let op = CtfOp::Merge { market: legs[0].market, tokens: [legs[0].token, legs[1].token], size };
        self.ctf_op(i, op, ctx);
    }

    /// Places the sell legs of set `i` at `limits`, `size` each (`split`: they sell a split).
    fn place_legs(
        &mut self,
        i: usize,
        side: Side,
        size: Quantity,
        limits: &[Price],
        split: Option<Quantity>,
        ctx: &mut Ctx<'_>,
    ) {
        let tif = match self.params.order_type {
            LegOrderType::Fok => TimeInForce::Fok,
            LegOrderType::Fak => TimeInForce::Fak,
        };
        // One set intent: the risk gateway approves every leg or none.
        let requests = self.sets[i]
            .set
            .legs
            .iter()
            .zip(limits)
            .map(|(instrument, limit)| OrderRequest {
                group: None,
                market: instrument.market,
                token: instrument.token,
                side,
                price: *limit,
                size,
                tif,
                post_only: false,
            })
            .collect();
        let orders: Vec<LegOrder> = ctx
            .place_set(requests)
            .into_iter()
            .enumerate()
            .map(|(leg, id)| LegOrder { id, leg, filled: Quantity::ZERO, done: false })
            .collect();
        for o in &orders {
            self.orders.insert(o.id, i);
        }
        let deadline_ns = self.deadline(ctx.now_ns);
        self.sets[i].phase = Phase::Working { side, unwind: false, split, orders, deadline_ns, cancelled: false };
    }

    fn try_enter(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Phase::Idle { until_ns } = self.sets[i].phase else { return };
        if ctx.now_ns < until_ns {
            return;
        }
        let set = &self.sets[i].set;
        let Some(leg_books) = set.legs.iter().map(|l| books.live(&l.token).map(|b| (b, l))).collect::<Option<Vec<_>>>()
        else {
            return;
        };
        let legs: Vec<LegBook<'_>> =
            leg_books.iter().map(|(b, l)| LegBook { book: b, fees: l.fees, min_size: l.min_size }).collect();
        let leg_cap = Money::from_micros(self.params.max_notional_per_leg_micros).min(self.max_order_notional);
        let caps = SetCaps {
            par: Price::ONE,
            min_edge_bps: self.params.min_edge_bps,
            leg_notional: leg_cap,
            max_size: self.max_order_size,
        };
        let binary = set.kind == SetKind::Binary && set.legs.len() == 2;
        let held = set.legs.iter().map(|l| self.available(&l.token)).min().unwrap_or(Quantity::ZERO);
        let held_caps = SetCaps { max_size: caps.max_size.min(held), ..caps };
        if let Some(quote) = size_set(&legs, Side::Buy, &caps) {
            self.stats.signals += 1;
            self.place_legs(i, Side::Buy, quote.size, &quote.limits, None, ctx);
        } else if binary
            && !held.is_zero()
            && let Some(quote) = size_set(&legs, Side::Sell, &held_caps)
        {
            // Sell a set we hold.
            self.stats.signals += 1;
            self.place_legs(i, Side::Sell, quote.size, &quote.limits, None, ctx);
        } else if binary && let Some(quote) = size_set(&legs, Side::Sell, &caps) {
            // Split the set out of USDC first; its legs are sold once it is booked.
            self.stats.signals += 1;
            let (market, tokens) = (set.legs[0].market, [set.legs[0].token, set.legs[1].token]);
            let id = self.ctf_op(i, CtfOp::Split { market, tokens, size: quote.size }, ctx);
            let deadline_ns = self.deadline(ctx.now_ns).saturating_add(self.params.leg_timeout_ms * 1_000_000);
            self.sets[i].phase = Phase::Splitting { id, size: quote.size, limits: quote.limits, deadline_ns };
        } else if !binary
            && self.params.sell_back_above_cost
            && !held.is_zero()
            && let Some(par) = self.set_cost(i)
            && let Some(quote) = size_set(&legs, Side::Sell, &SetCaps { par, ..held_caps })
        {
            // A held neg-risk set whose bids now pay more than it cost: sold back, so its capital
            // works again instead of waiting for the resolution.
            self.stats.signals += 1;
            self.stats.exits += 1;
            self.place_legs(i, Side::Sell, quote.size, &quote.limits, None, ctx);
        }
    }

    /// Moves a set on when all its orders are done: a bought binary set's matched part is merged,
    /// a split's unsold matched part merged back, and what is left over on one side sold at
    /// market (see the module doc's rule); then the set cools down.
    fn advance(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Phase::Working { side, unwind, split, orders, .. } = &self.sets[i].phase else { return };
        if !orders.iter().all(|o| o.done) {
            return;
        }
        let (side, unwind, split, orders) = (*side, *unwind, *split, orders.clone());
        for o in &orders {
            self.orders.remove(&o.id);
        }
        let cooldown = Phase::Idle { until_ns: ctx.now_ns.saturating_add(self.params.cooldown_ms * 1_000_000) };
        self.sets[i].phase = cooldown;
        if unwind || (side == Side::Sell && split.is_none()) {
            return;
        }
        // Per leg: what is ours beyond the set's matched part (bought, or split and unsold).
        let ours: Vec<Quantity> = match split {
            Some(size) => orders.iter().map(|o| size.saturating_sub(o.filled)).collect(),
            None => orders.iter().map(|o| o.filled).collect(),
        };
        let matched = ours.iter().copied().min().unwrap_or(Quantity::ZERO);
        if split.is_none() && !matched.is_zero() {
            self.stats.completed += 1;
        }
        self.merge(i, matched, ctx);
        let excess: Vec<(usize, Quantity)> = orders
            .iter()
            .zip(&ours)
            .map(|(o, q)| (o.leg, q.saturating_sub(matched)))
            .filter(|(_, q)| !q.is_zero())
            .collect();
        let mut out = vec![];
        for (leg, qty) in excess {
            let inst = self.sets[i].set.legs[leg];
            if qty < inst.min_size {
                self.stats.stranded += 1;
                continue;
            }
            let floor = books.live(&inst.token).map(|b| b.tick()).filter(|t| t.is_tradable());
            let price = floor.unwrap_or(Price::from_ticks(100).unwrap_or(Price::ONE));
            let id = ctx.place(OrderRequest {
                group: None,
                market: inst.market,
                token: inst.token,
                side: Side::Sell,
                price,
                size: qty,
                tif: TimeInForce::Fak,
                post_only: false,
            });
            self.stats.unwinds += 1;
            out.push(LegOrder { id, leg, filled: Quantity::ZERO, done: false });
        }
        if out.is_empty() {
            return;
        }
        for o in &out {
            self.orders.insert(o.id, i);
        }
        self.sets[i].phase = Phase::Working {
            side: Side::Sell,
            unwind: true,
            split: None,
            orders: out,
            deadline_ns: self.deadline(ctx.now_ns),
            cancelled: false,
        };
    }

    /// Redeems what is held of every winning leg and not already on its way out.
    fn redeem(&mut self, ctx: &mut Ctx<'_>) {
        self.next_redeem_ns = self.deadline(ctx.now_ns);
        for (i, leg) in self.winners.clone() {
            let size = self.available(&leg.token);
            if !size.is_zero() {
                self.ctf_op(i, CtfOp::Redeem { market: leg.market, token: leg.token, size }, ctx);
            }
        }
    }

    /// Shares of `token` in (costing `cost`) or out (taking their share of the basis): fills,
    /// merges, splits, redemptions.
    fn hold(&mut self, token: TokenId, size: Quantity, add: bool, cost: Money) {
        let held = self.holding(&token);
        let basis = self.basis.get(&token).copied().unwrap_or(Money::ZERO);
        let basis = if add {
            basis.checked_add(cost).unwrap_or(basis)
        } else if size >= held {
            Money::ZERO
        } else {
            // The shares left keep their part of the basis.
            let left = i128::from(held.micros() - size.micros());
            let kept = i128::from(basis.micros()) * left / i128::from(held.micros().max(1));
            Money::from_micros_i128(kept).unwrap_or(basis)
        };
        self.basis.insert(token, basis);
        let h = self.holdings.entry(token).or_default();
        *h = if add { h.saturating_add(size) } else { h.saturating_sub(size) };
    }

    /// What one set of set `i` held cost, rounded up to a price tick; `None` when a leg is not
    /// held.
    fn set_cost(&self, i: usize) -> Option<Price> {
        let mut micros: i128 = 0;
        for l in &self.sets[i].set.legs {
            let held = self.holding(&l.token);
            if held.is_zero() {
                return None;
            }
            let basis = i128::from(self.basis.get(&l.token).copied().unwrap_or(Money::ZERO).micros());
            micros += crate::money::div_round(
                basis * i128::from(Quantity::SCALE),
                i128::from(held.micros()),
                crate::money::Rounding::Up,
            );
        }
        let ticks = crate::money::div_round(micros, 100, crate::money::Rounding::Up);
        Price::from_ticks(u32::try_from(ticks).ok()?)
    }

    fn with_order(&mut self, id: &ClientOrderId, f: impl FnOnce(&mut LegOrder)) -> Option<usize> {
        let i = *self.orders.get(id)?;
        if let Phase::Working { orders, .. } = &mut self.sets[i].phase
            && let Some(o) = orders.iter_mut().find(|o| o.id == *id)
        {
            f(o);
        }
        Some(i)
    }
}

impl Strategy for CompleteSetArb {
    fn tokens(&self) -> Vec<TokenId> {
        let mut t: Vec<TokenId> = self.by_token.keys().copied().collect();
        t.sort_by_key(|t| t.to_string());
        t
    }

    fn on_book(&mut self, token: &TokenId, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Some(sets) = self.by_token.get(token).cloned() else { return };
        for i in sets {
            self.try_enter(i, books, ctx);
        }
    }

    fn on_decision(&mut self, decision: &RiskDecision, books: &BookSet, ctx: &mut Ctx<'_>) {
        if let Verdict::Rejected { .. } = decision.verdict
            && let Some(i) = self.with_order(&decision.intent.client_order_id, |o| o.done = true)
        {
            self.advance(i, books, ctx);
        }
    }

    fn on_order(&mut self, update: &OrderUpdate, books: &BookSet, ctx: &mut Ctx<'_>) {
        let terminal = matches!(
            update.status,
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Rejected
        );
        if let Some(i) = self.with_order(&update.client_order_id, |o| {
            o.filled = o.filled.max(update.filled);
            o.done |= terminal;
        }) {
            self.advance(i, books, ctx);
        }
    }

    fn on_fill(&mut self, fill: &Fill, _books: &BookSet, _ctx: &mut Ctx<'_>) {
        // Book each fill once when first seen (matched or confirmed) and undo it once if it fails;
        // legs count their fills from the cumulative size in order updates.
        let failed = fill.status == FillStatus::Failed;
        if !self.fills_seen.insert((fill.fill_id.clone(), failed)) {
            return;
        }
        if failed && !self.fills_seen.contains(&(fill.fill_id.clone(), false)) {
            return;
        }
        let side = if failed { fill.side.opposite() } else { fill.side };
        let cost = fill.price.notional(fill.size, crate::money::Rounding::Up).unwrap_or(Money::ZERO);
        self.hold(fill.token, fill.size, side == Side::Buy, cost.checked_add(fill.fee).unwrap_or(cost));
    }

    fn on_ctf(&mut self, report: &CtfReport, _books: &BookSet, ctx: &mut Ctx<'_>) {
        let Some(pending) = self.ctf.remove(&report.id) else { return };
        let i = pending.set;
        let done = report.status == CtfStatus::Done;
        if done {
            let booked = LifecycleTotals::of_parts(Booking::Ctf(&pending.op), report.cash, report.realized);
            self.stats.lifecycle = self.stats.lifecycle.plus(&booked);
            match &pending.op {
                CtfOp::Merge { tokens, size, .. } => {
                    tokens.iter().for_each(|t| self.hold(*t, *size, false, Money::ZERO));
                }
                CtfOp::Split { tokens, size, .. } => {
                    let half = Price::from_ticks(Price::SCALE / 2)
                        .and_then(|p| p.notional(*size, crate::money::Rounding::Up))
                        .unwrap_or(Money::ZERO);
                    tokens.iter().for_each(|t| self.hold(*t, *size, true, half));
                }
                CtfOp::Redeem { token, size, .. } => self.hold(*token, *size, false, Money::ZERO),
                CtfOp::Convert { .. } => {}
            }
        } else {
            self.stats.ctf_failures += 1;
        }
        // A split booked: sell its legs at the prices that made it worth doing (FOK: if the
        // bids have gone, nothing sells and the set is merged back).
        if let Phase::Splitting { id, size, limits, .. } = &self.sets[i].phase
            && *id == report.id
        {
            let (size, limits) = (*size, limits.clone());
            if done {
                self.place_legs(i, Side::Sell, size, &limits, Some(size), ctx);
            } else {
                self.sets[i].phase =
                    Phase::Idle { until_ns: ctx.now_ns.saturating_add(self.params.cooldown_ms * 1_000_000) };
            }
        }
    }

    fn on_resolved(&mut self, event: &MarketEvent, _books: &BookSet, ctx: &mut Ctx<'_>) {
        let MarketEventBody::Resolved { winner } = event.body else { return };
        if !self.resolved.insert(event.market) {
            return;
        }
        // Every leg of ours in the market: the event's token won or lost, the other did the
        // opposite. Winners held are redeemed; losers were written off by the settlement.
        let mut legs: Vec<(usize, Instrument)> = vec![];
        for (i, s) in self.sets.iter().enumerate() {
            for l in s.set.legs.iter().filter(|l| l.market == event.market) {
                if !legs.iter().any(|(_, x)| x.token == l.token) {
                    legs.push((i, *l));
                }
            }
        }
        for (i, leg) in legs {
            if (leg.token == event.token) == winner {
                self.winners.push((i, leg));
            } else {
                self.holdings.insert(leg.token, Quantity::ZERO);
                self.basis.insert(leg.token, Money::ZERO);
            }
        }
        self.redeem(ctx);
    }

    fn on_timer(&mut self, books: &BookSet, ctx: &mut Ctx<'_>) {
        if !self.winners.is_empty() && ctx.now_ns >= self.next_redeem_ns {
            self.redeem(ctx);
        }
        let timeout_ns = self.params.leg_timeout_ms * 1_000_000;
        for i in 0..self.sets.len() {
            if let Phase::Splitting { deadline_ns, .. } = self.sets[i].phase
                && ctx.now_ns >= deadline_ns
            {
                // The split's report was lost: give the set up (a late report still books the
                // tokens as inventory).
                self.stats.timeouts += 1;
                self.sets[i].phase = Phase::Idle { until_ns: ctx.now_ns };
                continue;
            }
            let Phase::Working { orders, deadline_ns, cancelled, .. } = &mut self.sets[i].phase else { continue };
            if ctx.now_ns < *deadline_ns {
                continue;
            }
            if !*cancelled {
                // First timeout: cancel what is still open and wait for the answers.
                self.stats.timeouts += 1;
                for o in orders.iter().filter(|o| !o.done) {
                    ctx.cancel(o.id, "leg timeout");
                }
                *cancelled = true;
                *deadline_ns = ctx.now_ns.saturating_add(timeout_ns);
            } else {
                // Second timeout: the answers were lost; give the legs up with what they filled.
                for o in orders.iter_mut() {
                    o.done = true;
                }
                self.advance(i, books, ctx);
            }
        }
    }

    fn set_params(&mut self, params: &StrategyParams) -> Result<(), ParamsError> {
        let StrategyParams::Arbitrage(p) = params else {
            return Err(ParamsError::Decode("not arbitrage parameters".into()));
        };
        p.validate()?;
        self.params = p.clone();
        Ok(())
    }
}

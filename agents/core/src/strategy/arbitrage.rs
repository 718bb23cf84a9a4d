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
//! - buy the **NO basket** of a neg-risk event when its asks plus fees sum below n − 1 USDC less
//!   `minEdge`, and convert it into n − 1 USDC at once (below);
//! - at a market's **resolution** every winning token still held is **redeemed** (losing tokens
//!   are written off by the settlement); a redemption refused or failed is asked for again every
//!   `legTimeoutMs` while the tokens are held.
//!
//! Sizing walks every leg's ladder ([`super::sizing`]): the size is the largest whose every share
//! keeps the edge, within the depth actually there, the per-leg notional cap and the risk
//! policy's order size. Legs go out together as FOK (or FAK) orders at the worst price the size
//! reaches, approved by the risk gateway all or none.
//!
//! **Capital**: given the risk policy's gross exposure limit ([`CompleteSetArb::with_capital`]),
//! the strategy plans within it rather than have the gateway refuse it: capital deployed is what
//! its holdings cost plus what its buy legs out reserve ([`CompleteSetArb::deployed`]); a set
//! that would take more than is left is bought smaller; when no useful size fits, capital is
//! **recycled**: the held set whose exit loses least is sold back, provided that loss per set is
//! smaller than what the new set makes per set beyond `minEdge` (one recycling at a time; the
//! new set is bought once the capital is back, if it is still there).
//!
//! **Broken sets**, the rule: when a bought set's legs are all done and filled unequally (a FAK
//! partial, a FOK killed), its short legs are first **completed**, once: bought (FAK, one intent)
//! up to the longest leg, when the completed set still costs at most what it is worth (its par: 1
//! USDC, or n − 1 for a NO basket), fees included, with the short legs at the prices their ask
//! ladders reach now and the others at their limits (the shares already bought at what their
//! fills cost), or when completing loses less than unwinding would: the excess sold into the bids
//! there now (taker fees included) against what it cost. Then the matched part is a complete set: bought, it is merged; split and left
//! unsold, it is merged back (a split followed by a merge costs nothing); a held set sold back
//! and left unsold stays held. What is left over on one side, bought beyond the matched part, or
//! split (or held) and unsold beyond it, is sold at market (FAK at the lowest tick; one intent per
//! broken set, so one round trip for the loss breaker), unless it is below the market's minimum
//! size, in which case it stays as inventory (marked, and redeemed if it wins). A set that is
//! idle with unequal holdings all the same (its unwind refused by the risk gateway, say for a thin
//! book, or fills that came late) is **rebalanced** by the same rule, from its holdings, at its
//! next book event after the cooldown. While a set's
//! legs (or its split) are pending it is not re-entered; legs still open after `legTimeoutMs` are
//! cancelled, and given up after a second timeout. A cooldown follows every set.
//!
//! **NO baskets** (the neg-risk sell side): the NO tokens of every one of an event's n outcomes
//! convert through the neg-risk adapter into n − 1 USDC (less its `negRiskFeeBips`), so a basket
//! is bought when its asks plus fees sum below that less `minEdge`, and converted at once (one
//! `convert` of the whole basket); or, when **capital binds** (with the policy's gross limit
//! known, the room left once the basket's cost comes back is less than one whole set of the event
//! at the per-leg cap) and the event's YES set is held, **merged pair by pair** with it: each
//! outcome's YES and NO merge through the adapter into 1 USDC, no fee, so the YES set's capital
//! comes back now instead of at resolution (and no held set is sold back at a loss to free it).
//! While capital does not bind the YES set is kept: it may still be sold back above its cost,
//! which a merge for 1 USDC now gives up (measured in the README). The NO books mirror the YES
//! books (NO ask = 1 − YES bid), so
//! this is the trade on Σ YES bids above 1 without a split: no YES is sold below the half USDC a
//! split books it at, and no leg is a loss for the breaker. A conversion refused or failed
//! leaves the basket held; it is converted again, before anything else is bought, a leg timeout
//! later. Broken baskets follow the broken-set rule with the basket's par.
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::sizing::{LegBook, SetCaps, SetQuote, size_set};
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
    /// The NO tokens of every outcome of a neg-risk event (n of them): converted through the
    /// neg-risk adapter, a basket becomes n − 1 USDC (less the adapter's fee) at once.
    NoBasket,
}

/// A complete set to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArbSet {
    /// Binary, neg-risk YES set or NO basket.
    pub kind: SetKind,
    /// The legs.
    pub legs: Vec<Instrument>,
    /// A NO basket's conversion fee, the adapter's `negRiskFeeBips` (0 for the other kinds).
    pub convert_fee_bips: u32,
}

impl ArbSet {
    /// A set of `kind` over `legs` (no conversion fee).
    pub fn new(kind: SetKind, legs: Vec<Instrument>) -> ArbSet {
        ArbSet { kind, legs, convert_fee_bips: 0 }
    }

    /// What one set is worth for sure: 1 USDC for a YES+NO pair or a neg-risk YES set; n − 1 USDC
    /// less the adapter's fee for a basket of n NO tokens (what converting it pays out).
    pub fn par(&self) -> Money {
        match self.kind {
            SetKind::Binary | SetKind::NegRisk => super::sizing::SET_VALUE,
            SetKind::NoBasket => {
                let out = CtfOp::convert_out(Quantity::from_micros(Quantity::SCALE), self.convert_fee_bips);
                let k = i64::try_from(self.legs.len().saturating_sub(1)).unwrap_or(0);
                Money::from_micros(i64::try_from(out.micros()).unwrap_or(0).saturating_mul(k))
            }
        }
    }
}

#[derive(Debug, Clone)]
struct LegOrder {
    id: ClientOrderId,
    leg: usize,
    size: Quantity,
    limit: Price,
    filled: Quantity,
    /// What its fills cost, fees included (as far as they have been seen).
    paid: Money,
    /// Shares those fills were.
    paid_for: Quantity,
    done: bool,
}

impl LegOrder {
    fn new(id: ClientOrderId, leg: usize, size: Quantity, limit: Price) -> LegOrder {
        LegOrder {
            id,
            leg,
            size,
            limit,
            filled: Quantity::ZERO,
            paid: Money::ZERO,
            paid_for: Quantity::ZERO,
            done: false,
        }
    }

    /// Micro-USDC per share its fills cost, fees included; at its limit (and the fee there) while
    /// no fill has been seen.
    fn unit_cost(&self, fees: &crate::money::FeeSchedule) -> Option<i64> {
        if self.paid_for.is_zero() {
            return taken_at(self.limit, fees);
        }
        i64::try_from(per_share(self.paid, self.paid_for)).ok()
    }
}

/// Micro-USDC a share of `total` paid for `shares`, rounded up (nothing for no shares).
fn per_share(total: Money, shares: Quantity) -> i128 {
    crate::money::div_round(
        i128::from(total.micros()) * i128::from(Quantity::SCALE),
        i128::from(shares.micros().max(1)),
        crate::money::Rounding::Up,
    )
}

/// Micro-USDC one share taken at `price` costs, the taker fee included.
fn taken_at(price: Price, fees: &crate::money::FeeSchedule) -> Option<i64> {
    let fee = fees.taker_fee(price, Quantity::from_micros(Quantity::SCALE))?;
    Some(i64::from(price.ticks()) * 100 + fee.micros())
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
    /// these sells are. `completing`: these are buys completing a broken set whose legs had
    /// bought `got` (per leg) before them.
    Working {
        side: Side,
        unwind: bool,
        split: Option<Quantity>,
        orders: Vec<LegOrder>,
        deadline_ns: u64,
        cancelled: bool,
        completing: Option<Vec<Quantity>>,
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
    /// Broken bought sets whose short legs were bought to complete them.
    pub completions: u64,
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
    /// Held sets sold back to free capital for a better set.
    pub recycled: u64,
    /// NO baskets merged pair by pair with the event's held YES set instead of converted, because
    /// capital bound.
    pub paired: u64,
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
    /// The risk policy's gross exposure limit, when known: the capital the strategy plans within.
    capital: Option<Money>,
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
            capital: None,
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

    /// Plans within `max_gross` of capital (the risk policy's gross exposure limit): a set that
    /// would take more than is left is bought smaller, or the capital is recycled (see the module
    /// doc) instead of the set being refused by the risk gateway.
    pub fn with_capital(mut self, max_gross: Money) -> CompleteSetArb {
        self.capital = Some(max_gross);
        self
    }

    /// Capital in play: what the shares held cost, what buy legs out reserve (their size left at
    /// their limit, as the risk gateway reserves it), and splits on their way (1 USDC a set).
    pub fn deployed(&self) -> Money {
        let mut micros: i128 = self.basis.values().map(|m| i128::from(m.micros())).sum();
        for s in &self.sets {
            match &s.phase {
                Phase::Working { side: Side::Buy, orders, .. } => {
                    for o in orders.iter().filter(|o| !o.done) {
                        let left = o.size.saturating_sub(o.filled);
                        micros +=
                            i128::from(o.limit.notional(left, crate::money::Rounding::Up).map_or(0, |m| m.micros()));
                    }
                }
                Phase::Splitting { size, .. } => micros += i128::from(size.micros()),
                _ => {}
            }
        }
        Money::from_micros_i128(micros).unwrap_or(Money::ZERO)
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
                CtfOp::Convert { no_tokens, size, .. } if no_tokens.contains(token) => *size,
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

    /// Turns `size` complete sets of set `i` back into USDC: a binary set merges, a NO basket
    /// converts (n − 1 USDC a basket, less the adapter's fee); a neg-risk YES set cannot. When
    /// capital binds ([`Self::capital_binds`]), a NO basket first pairs with the event's held YES
    /// set: each outcome's YES and NO merge through the adapter (1 USDC a pair, no fee), so a YES
    /// set and a basket give n USDC now instead of n − 1 now and the YES set's 1 at resolution.
    fn merge(&mut self, i: usize, size: Quantity, ctx: &mut Ctx<'_>) {
        if size.is_zero() {
            return;
        }
        let paired = if self.sets[i].set.kind == SetKind::NoBasket && self.capital_binds(i, size) {
            self.merge_pairs(i, size, ctx)
        } else {
            Quantity::ZERO
        };
        let size = size.saturating_sub(paired);
        let set = &self.sets[i].set;
        let legs = &set.legs;
        if size.is_zero() {
            return;
        }
        let op = match set.kind {
            SetKind::Binary if legs.len() == 2 => {
                CtfOp::Merge { market: legs[0].market, tokens: [legs[0].token, legs[1].token], size }
            }
            SetKind::NoBasket => CtfOp::Convert {
                no_tokens: legs.iter().map(|l| l.token).collect(),
                yes_tokens: vec![],
                size,
                fee_bips: set.convert_fee_bips,
            },
            _ => return,
        };
        self.ctf_op(i, op, ctx);
    }

    /// True when capital binds at the conversion of `size` of NO basket `i`: with the policy's
    /// gross limit known, the room left once the basket's cost leaves (what it cost, pro rata)
    /// is less than one whole set of the event at the per-leg cap. Pairing then frees the held
    /// YES set's capital too; otherwise the YES set is worth more held (sold back above its cost,
    /// or 1 USDC at resolution) than merged for 1 USDC now.
    fn capital_binds(&self, i: usize, size: Quantity) -> bool {
        let Some(capital) = self.capital else { return false };
        let legs = &self.sets[i].set.legs;
        let leaving: i128 = legs
            .iter()
            .map(|l| {
                let held = i128::from(self.holding(&l.token).micros());
                let cost = i128::from(self.basis.get(&l.token).map_or(0, |m| m.micros()));
                if held == 0 { 0 } else { cost * i128::from(size.micros()).min(held) / held }
            })
            .sum();
        let room_after = i128::from(capital.micros()) - i128::from(self.deployed().micros()) + leaving;
        let leg_cap = Money::from_micros(self.params.max_notional_per_leg_micros).min(self.max_order_notional);
        let whole_set = i128::from(leg_cap.micros()) * i128::try_from(legs.len()).unwrap_or(i128::MAX);
        room_after < whole_set
    }

    /// Merges up to `size` YES + NO pairs of every outcome of NO basket `i`'s event, as many as
    /// the event's YES set holds (idle, its markets unresolved, nothing of it on its way out);
    /// the pairs merged.
    fn merge_pairs(&mut self, i: usize, size: Quantity, ctx: &mut Ctx<'_>) -> Quantity {
        let pairs: Option<Vec<(ConditionId, TokenId, TokenId)>> = self.sets[i]
            .set
            .legs
            .iter()
            .map(|no| {
                let yes = self.sets.iter().find_map(|s| {
                    let idle = matches!(s.phase, Phase::Idle { .. });
                    let leg = s.set.legs.iter().find(|l| l.market == no.market);
                    (s.set.kind == SetKind::NegRisk && idle).then_some(leg).flatten()
                })?;
                (!self.resolved.contains(&no.market)).then_some((no.market, yes.token, no.token))
            })
            .collect();
        let Some(pairs) = pairs else { return Quantity::ZERO };
        let held = pairs.iter().map(|(_, yes, _)| self.available(yes)).min().unwrap_or(Quantity::ZERO);
        let paired = held.min(size);
        if paired.is_zero() {
            return Quantity::ZERO;
        }
        for (market, yes, no) in pairs {
            self.ctf_op(i, CtfOp::Merge { market, tokens: [yes, no], size: paired }, ctx);
        }
        self.stats.paired += 1;
        paired
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
                kelly: None,
            })
            .collect();
        let orders: Vec<LegOrder> = ctx
            .place_set(requests)
            .into_iter()
            .zip(limits)
            .enumerate()
            .map(|(leg, (id, limit))| LegOrder::new(id, leg, size, *limit))
            .collect();
        self.work(i, side, split, orders, false, None, ctx);
    }

    /// Set `i` now waits for `orders`.
    #[allow(clippy::too_many_arguments)]
    fn work(
        &mut self,
        i: usize,
        side: Side,
        split: Option<Quantity>,
        orders: Vec<LegOrder>,
        unwind: bool,
        completing: Option<Vec<Quantity>>,
        ctx: &Ctx<'_>,
    ) {
        for o in &orders {
            self.orders.insert(o.id, i);
        }
        let deadline_ns = self.deadline(ctx.now_ns);
        self.sets[i].phase = Phase::Working { side, unwind, split, orders, deadline_ns, cancelled: false, completing };
    }

    /// Buys completing a broken bought set `i` (legs bought `got`), when the set still costs at
    /// most its par once they fill (each short leg's shortfall at the price its ask ladder reaches
    /// for it now, fees included, the other legs at their limits), or when completing loses less
    /// than unwinding the excess into the bids would. `None` (unwind instead) when a shortfall is
    /// below the market's minimum size, a book is not live or too thin, or unwinding is better.
    /// `bought`: per leg, what a share held cost (micro-USDC, fees included).
    fn completion(&self, i: usize, bought: &[i64], got: &[Quantity], books: &BookSet) -> Option<Vec<OrderRequest>> {
        let legs = &self.sets[i].set.legs;
        let top = got.iter().copied().max()?;
        let mut cost: i64 = 0;
        let mut buys = vec![];
        for (leg, inst) in legs.iter().enumerate() {
            let bought = *bought.get(leg)?;
            let need = top.saturating_sub(got[leg]);
            if need.is_zero() {
                cost += bought;
                continue;
            }
            if need < inst.min_size {
                return None;
            }
            let sweep = books.live(&inst.token)?.sweep(Side::Buy, need, None);
            let worst = sweep.worst_price.filter(|_| sweep.filled == need)?;
            buys.push(OrderRequest {
                group: None,
                market: inst.market,
                token: inst.token,
                side: Side::Buy,
                price: worst,
                size: need,
                tif: TimeInForce::Fak,
                post_only: false,
                kelly: None,
            });
            let more = taken_at(worst, &inst.fees)?;
            // Shares bought before at their cost, the rest at up to `worst`: the dearer bounds both.
            cost += if got[leg].is_zero() { more } else { more.max(bought) };
        }
        let par = self.sets[i].set.par().micros();
        if buys.is_empty() {
            return None;
        }
        if cost <= par {
            return Some(buys);
        }
        // Both outcomes in micro-USDC: completed, `top` sets at `cost`; unwound, the matched sets
        // at what their legs cost and the excess sold into the bids.
        let scale = i128::from(Quantity::SCALE);
        let completed = i128::from(top.micros()) * i128::from(par - cost) / scale;
        let matched = got.iter().copied().min()?;
        let mut unwound = i128::from(matched.micros()) * i128::from(par) / scale;
        for (leg, inst) in legs.iter().enumerate() {
            unwound -= i128::from(matched.micros()) * i128::from(*bought.get(leg)?) / scale;
            let excess = got[leg].saturating_sub(matched);
            if excess.is_zero() {
                continue;
            }
            unwound -= i128::from(excess.micros()) * i128::from(bought[leg]) / scale;
            let sweep = books.live(&inst.token).map(|b| b.sweep(Side::Sell, excess, None));
            if let Some(sweep) = sweep
                && let Some(worst) = sweep.worst_price
            {
                let fee = inst.fees.taker_fee(worst, sweep.filled).map_or(0, |f| f.micros());
                unwound += i128::from(sweep.notional.micros()) - i128::from(fee);
            }
        }
        (completed >= unwound).then_some(buys)
    }

    /// Places `buys` completing set `i`, whose legs hold `got` (per leg) before them.
    fn complete(&mut self, i: usize, buys: Vec<OrderRequest>, got: Vec<Quantity>, ctx: &mut Ctx<'_>) {
        self.stats.completions += 1;
        let ids = ctx.place_set(buys.clone());
        let legs = buys
            .iter()
            .zip(ids)
            .filter_map(|(b, id)| {
                let leg = self.sets[i].set.legs.iter().position(|l| l.token == b.token)?;
                Some(LegOrder::new(id, leg, b.size, b.price))
            })
            .collect();
        self.work(i, Side::Buy, None, legs, false, Some(got), ctx);
    }

    /// Sells `excess` (per leg) of set `i` at market, as one intent (one round trip for the loss
    /// breaker); what is below a market's minimum size stays. False when nothing was placed.
    fn unwind(&mut self, i: usize, excess: &[Quantity], books: &BookSet, ctx: &mut Ctx<'_>) -> bool {
        let mut unwinds = vec![];
        for (leg, &qty) in excess.iter().enumerate().filter(|(_, q)| !q.is_zero()) {
            let inst = self.sets[i].set.legs[leg];
            if qty < inst.min_size {
                self.stats.stranded += 1;
                continue;
            }
            let floor = books.live(&inst.token).map(|b| b.tick()).filter(|t| t.is_tradable());
            let price = floor.unwrap_or(Price::from_ticks(100).unwrap_or(Price::ONE));
            unwinds.push((
                leg,
                OrderRequest {
                    group: None,
                    market: inst.market,
                    token: inst.token,
                    side: Side::Sell,
                    price,
                    size: qty,
                    tif: TimeInForce::Fak,
                    post_only: false,
                    kelly: None,
                },
            ));
        }
        if unwinds.is_empty() {
            return false;
        }
        self.stats.unwinds += unwinds.len() as u64;
        let ids = ctx.place_set(unwinds.iter().map(|(_, r)| r.clone()).collect());
        let out = unwinds.into_iter().zip(ids).map(|((leg, r), id)| LegOrder::new(id, leg, r.size, r.price)).collect();
        self.work(i, Side::Sell, None, out, true, None, ctx);
        true
    }

    /// An idle set whose holdings are unequal (an unwind refused or short, a late fill): its
    /// short legs are completed when that cannot lose, else what is beyond its complete sets is
    /// unwound (the broken-set rule, from holdings). True when something was placed.
    fn rebalance(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) -> bool {
        let legs = &self.sets[i].set.legs;
        if legs.iter().any(|l| self.resolved.contains(&l.market)) {
            return false;
        }
        let got: Vec<Quantity> = legs.iter().map(|l| self.available(&l.token)).collect();
        let matched = got.iter().copied().min().unwrap_or(Quantity::ZERO);
        let excess: Vec<Quantity> = got.iter().map(|q| q.saturating_sub(matched)).collect();
        if excess.iter().zip(legs).all(|(q, l)| *q < l.min_size) {
            return false;
        }
        let bought: Vec<i64> =
            legs.iter().map(|l| i64::try_from(self.basis_per_share(&l.token)).unwrap_or(i64::MAX / 4)).collect();
        if let Some(buys) = self.completion(i, &bought, &got, books) {
            self.complete(i, buys, got, ctx);
            return true;
        }
        self.unwind(i, &excess, books, ctx)
    }

    fn try_enter(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Phase::Idle { until_ns } = self.sets[i].phase else { return };
        if ctx.now_ns < until_ns || self.rebalance(i, books, ctx) {
            return;
        }
        let set = &self.sets[i].set;
        if set.kind == SetKind::NoBasket {
            let held = set.legs.iter().map(|l| self.available(&l.token)).min().unwrap_or(Quantity::ZERO);
            if !held.is_zero() {
                // A held basket (a conversion that failed, a restart): converted before anything
                // else, and asked for again no sooner than a leg timeout later.
                self.merge(i, held, ctx);
                self.sets[i].phase = Phase::Idle { until_ns: self.deadline(ctx.now_ns) };
                return;
            }
        }
        let Some(leg_books) = set.legs.iter().map(|l| books.live(&l.token).map(|b| (b, l))).collect::<Option<Vec<_>>>()
        else {
            return;
        };
        let legs: Vec<LegBook<'_>> =
            leg_books.iter().map(|(b, l)| LegBook { book: b, fees: l.fees, min_size: l.min_size }).collect();
        let leg_cap = Money::from_micros(self.params.max_notional_per_leg_micros).min(self.max_order_notional);
        let caps = SetCaps {
            par: set.par(),
            min_edge_bps: self.params.min_edge_bps,
            leg_notional: leg_cap,
            max_size: self.max_order_size,
        };
        let binary = set.kind == SetKind::Binary && set.legs.len() == 2;
        let held = set.legs.iter().map(|l| self.available(&l.token)).min().unwrap_or(Quantity::ZERO);
        let held_caps = SetCaps { max_size: caps.max_size.min(held), ..caps };
        // Buying a set or splitting one opens positions: sized as a drift alarm's rule allows
        // (the size the set would have, scaled, then priced again at that size).
        let opening = |side: Side| -> Option<SetQuote> {
            let full = size_set(&legs, side, &caps)?;
            let cut = ctx.opening(full.size);
            if cut == full.size {
                return Some(full);
            }
            (!cut.is_zero()).then(|| size_set(&legs, side, &SetCaps { max_size: cut, ..caps })).flatten()
        };
        if let Some(quote) = opening(Side::Buy) {
            let Some(quote) = self.within_capital(i, &legs, &caps, quote, books, ctx) else { return };
            self.stats.signals += 1;
            self.place_legs(i, Side::Buy, quote.size, &quote.limits, None, ctx);
        } else if binary
            && !held.is_zero()
            && let Some(quote) = size_set(&legs, Side::Sell, &held_caps)
        {
            // Sell a set we hold.
            self.stats.signals += 1;
            self.place_legs(i, Side::Sell, quote.size, &quote.limits, None, ctx);
        } else if binary && let Some(quote) = opening(Side::Sell) {
            // Split the set out of USDC first; its legs are sold once it is booked.
            self.stats.signals += 1;
            let (market, tokens) = (set.legs[0].market, [set.legs[0].token, set.legs[1].token]);
            let id = self.ctf_op(i, CtfOp::Split { market, tokens, size: quote.size }, ctx);
            let deadline_ns = self.deadline(ctx.now_ns).saturating_add(self.params.leg_timeout_ms * 1_000_000);
            self.sets[i].phase = Phase::Splitting { id, size: quote.size, limits: quote.limits, deadline_ns };
        } else if set.kind == SetKind::NegRisk
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

    /// `quote` for set `i` as the capital allows: itself when it fits what is left, else the
    /// largest smaller set that fits; else `None`, and when the set's edge is worth it, a held set
    /// is sold back to free capital for it (recycling).
    fn within_capital(
        &mut self,
        i: usize,
        legs: &[LegBook<'_>],
        caps: &SetCaps,
        quote: SetQuote,
        books: &BookSet,
        ctx: &mut Ctx<'_>,
    ) -> Option<SetQuote> {
        let Some(capital) = self.capital else { return Some(quote) };
        let room = capital.checked_sub(self.deployed()).unwrap_or(Money::ZERO).max(Money::ZERO);
        let reserve = |q: &SetQuote| -> i128 {
            q.limits
                .iter()
                .map(|l| i128::from(l.notional(q.size, crate::money::Rounding::Up).map_or(i64::MAX, |m| m.micros())))
                .sum()
        };
        let need = reserve(&quote);
        if need <= i128::from(room.micros()) {
            return Some(quote);
        }
        // The size the room pays for at these limits, to the venue's step.
        let scaled = i128::from(quote.size.micros()) * i128::from(room.micros()) / need.max(1);
        let scaled = Quantity::from_micros(u64::try_from(scaled).unwrap_or(0)).round_down_to(super::sizing::SIZE_STEP);
        if let Some(smaller) = size_set(legs, Side::Buy, &SetCaps { max_size: caps.max_size.min(scaled), ..*caps })
            && reserve(&smaller) <= i128::from(room.micros())
        {
            return Some(smaller);
        }
        self.recycle(i, &quote, books, ctx);
        None
    }

    /// Frees capital for set `i`, whose `quote` the capital left cannot pay for: sells back the
    /// held set whose exit loses least, when that loss per set is smaller than what `quote` makes
    /// per set beyond the minimum edge (the swap gains). One recycling at a time.
    fn recycle(&mut self, i: usize, quote: &SetQuote, books: &BookSet, ctx: &mut Ctx<'_>) {
        if quote.size.is_zero() || self.sets.iter().any(|s| matches!(s.phase, Phase::Working { side: Side::Sell, .. }))
        {
            return;
        }
        let per_set = i128::from(quote.edge.micros()) * i128::from(Quantity::SCALE) / i128::from(quote.size.micros());
        let slack = per_set - i128::from(self.params.min_edge_bps) * 100;
        if slack <= 0 {
            return;
        }
        let leg_cap = Money::from_micros(self.params.max_notional_per_leg_micros).min(self.max_order_notional);
        let mut best: Option<(usize, SetQuote)> = None;
        for j in (0..self.sets.len()).filter(|&j| j != i && self.sets[j].set.kind != SetKind::NoBasket) {
            if !matches!(self.sets[j].phase, Phase::Idle { until_ns } if ctx.now_ns >= until_ns) {
                continue;
            }
            let held = self.sets[j].set.legs.iter().map(|l| self.available(&l.token)).min().unwrap_or(Quantity::ZERO);
            let Some(cost) = self.set_cost(j) else { continue };
            // Sold at no less than its cost less the slack.
            let Some(par) = Money::from_micros_i128(i128::from(cost.micros()) - slack).filter(|p| p.micros() > 0)
            else {
                continue;
            };
            let Some(leg_books) = self.sets[j]
                .set
                .legs
                .iter()
                .map(|l| books.live(&l.token).map(|b| LegBook { book: b, fees: l.fees, min_size: l.min_size }))
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let caps = SetCaps { par, min_edge_bps: 0, leg_notional: leg_cap, max_size: self.max_order_size.min(held) };
            if held.is_zero() {
                continue;
            }
            if let Some(q) = size_set(&leg_books, Side::Sell, &caps)
                && best.as_ref().is_none_or(|(_, b)| q.worst_edge > b.worst_edge)
            {
                best = Some((j, q));
            }
        }
        if let Some((j, q)) = best {
            self.stats.signals += 1;
            self.stats.recycled += 1;
            self.place_legs(j, Side::Sell, q.size, &q.limits, None, ctx);
        }
    }

    /// Moves a set on when all its orders are done: a bought binary set's matched part is merged,
    /// a split's unsold matched part merged back, and what is left over on one side sold at
    /// market (see the module doc's rule); then the set cools down.
    fn advance(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Phase::Working { side, unwind, split, orders, completing, .. } = &self.sets[i].phase else { return };
        if !orders.iter().all(|o| o.done) {
            return;
        }
        let (side, unwind, split, orders, completing) = (*side, *unwind, *split, orders.clone(), completing.clone());
        for o in &orders {
            self.orders.remove(&o.id);
        }
        let cooldown = Phase::Idle { until_ns: ctx.now_ns.saturating_add(self.params.cooldown_ms * 1_000_000) };
        self.sets[i].phase = cooldown;
        if unwind {
            return;
        }
        // Per leg: what is ours beyond the set's matched part: bought (before a completion, and
        // by these orders); or, for sells, left unsold (of a split, or of a held set sold back).
        let n = self.sets[i].set.legs.len();
        let mut ours = completing.clone().unwrap_or_else(|| vec![Quantity::ZERO; n]);
        for o in orders.iter().filter(|o| o.leg < n) {
            ours[o.leg] = match side {
                Side::Buy => ours[o.leg].saturating_add(o.filled),
                Side::Sell => o.size.saturating_sub(o.filled),
            };
        }
        let matched = ours.iter().copied().min().unwrap_or(Quantity::ZERO);
        let top = ours.iter().copied().max().unwrap_or(Quantity::ZERO);
        if side == Side::Buy && completing.is_none() && top > matched {
            // A broken bought set: completed when that cannot lose (see the module doc).
            let bought: Option<Vec<i64>> = (0..n)
                .map(|leg| orders.iter().find(|o| o.leg == leg)?.unit_cost(&self.sets[i].set.legs[leg].fees))
                .collect();
            if let Some(buys) = bought.and_then(|b| self.completion(i, &b, &ours, books)) {
                self.complete(i, buys, ours, ctx);
                return;
            }
        }
        if side == Side::Buy && !matched.is_zero() {
            self.stats.completed += 1;
        }
        // A bought binary set and a split's unsold part merge; a held set's unsold part is still
        // a complete set, and stays held.
        if side == Side::Buy || split.is_some() {
            self.merge(i, matched, ctx);
        }
        let excess: Vec<Quantity> = ours.iter().map(|q| q.saturating_sub(matched)).collect();
        self.unwind(i, &excess, books, ctx);
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

    /// What one set of set `i` held cost (the legs' average costs, fees included, each rounded
    /// up); `None` when a leg is not held.
    fn set_cost(&self, i: usize) -> Option<Money> {
        let mut micros: i128 = 0;
        for l in &self.sets[i].set.legs {
            if self.holding(&l.token).is_zero() {
                return None;
            }
            micros += self.basis_per_share(&l.token);
        }
        Money::from_micros_i128(micros)
    }

    /// Micro-USDC a share of `token` held cost, fees included, rounded up (0 when none is held).
    fn basis_per_share(&self, token: &TokenId) -> i128 {
        per_share(self.basis.get(token).copied().unwrap_or(Money::ZERO), self.holding(token))
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
    fn restore(&mut self, positions: &[(TokenId, crate::accounting::Position)]) -> usize {
        let mut taken = 0;
        for (token, p) in positions.iter().filter(|(t, p)| !p.size.is_zero() && self.by_token.contains_key(t)) {
            // Held sets (and any unequal leftovers, which the idle-set rule rebalances).
            self.holdings.insert(*token, p.size);
            self.basis.insert(*token, p.cost);
            taken += 1;
        }
        taken
    }

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
        let cost = cost.checked_add(fill.fee).unwrap_or(cost);
        if !failed {
            self.with_order(&fill.client_order_id, |o| {
                o.paid = o.paid.checked_add(cost).unwrap_or(o.paid);
                o.paid_for = o.paid_for.saturating_add(fill.size);
            });
        }
        self.hold(fill.token, fill.size, side == Side::Buy, cost);
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
                CtfOp::Convert { no_tokens, yes_tokens, size, fee_bips } => {
                    no_tokens.iter().for_each(|t| self.hold(*t, *size, false, Money::ZERO));
                    let out = CtfOp::convert_out(*size, *fee_bips);
                    yes_tokens.iter().for_each(|t| self.hold(*t, out, true, Money::ZERO));
                }
            }
        } else {
            self.stats.ctf_failures += 1;
            if self.sets[i].set.kind == SetKind::NoBasket
                && let Phase::Idle { until_ns } = &mut self.sets[i].phase
            {
                // The basket (or a pair of it) is still held: merged or converted again after a
                // leg timeout.
                *until_ns = (*until_ns).max(ctx.now_ns.saturating_add(self.params.leg_timeout_ms * 1_000_000));
            }
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

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = &self.stats;
        vec![
            ("completed", s.completed),
            ("completion", s.completions),
            ("unwind", s.unwinds),
            ("stranded", s.stranded),
            ("timeout", s.timeouts),
            ("sell_back", s.exits),
            ("recycled", s.recycled),
            ("paired", s.paired),
            ("ctf_failure", s.ctf_failures),
        ]
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

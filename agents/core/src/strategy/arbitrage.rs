//! Complete-set arbitrage. A complete set (YES + NO of a binary market, or the YES of every
//! outcome of a neg-risk event) is worth exactly 1 USDC at resolution, so:
//!
//! - **buy** every leg when the legs' asks plus V2 taker fees sum below `1 - minEdge`;
//! - **sell** both legs of a binary market we hold when its bids minus fees sum above
//!   `1 + minEdge`.
//!
//! Sizing walks every leg's ladder ([`super::sizing`]): the size is the largest whose every share
//! keeps the edge, within the depth actually there, the per-leg notional cap and the risk
//! policy's order size. Legs go out together as FOK (or FAK) orders at the worst price the size
//! reaches. Leg risk: while a set's legs are pending it is not re-entered; when they are all done
//! and some legs filled more than others (a FAK partial, a FOK killed, a rejection), the excess
//! of a bought set is sold back at market (FAK at the lowest tick) unless it is below the
//! market's minimum size, in which case it stays as inventory; legs still open after
//! `legTimeoutMs` are cancelled, and given up after a second timeout. A cooldown follows every
//! set.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::sizing::{LegBook, SetCaps, size_set};
use super::{BookSet, Ctx, Instrument, OrderRequest, ParamsError, Strategy};
use crate::config::StrategyParams;
use crate::ids::{ClientOrderId, TokenId, TokenMap};
use crate::money::{Money, Price, Quantity};
use crate::side::Side;
use crate::wire::{Fill, FillStatus, OrderStatus, OrderUpdate, RiskDecision, TimeInForce, Verdict};

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
    /// Legs of a set (`side`) or an unwind are out.
    Working {
        side: Side,
        unwind: bool,
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
    fills_seen: HashSet<(String, bool)>,
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
            fills_seen: HashSet::new(),
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

    /// True while any set has legs out.
    pub fn is_working(&self) -> bool {
        self.sets.iter().any(|s| matches!(s.phase, Phase::Working { .. }))
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
        let caps =
            SetCaps { min_edge_bps: self.params.min_edge_bps, leg_notional: leg_cap, max_size: self.max_order_size };
        let mut quote = size_set(&legs, Side::Buy, &caps).map(|q| (Side::Buy, q));
        if quote.is_none() && set.kind == SetKind::Binary {
            let held = set.legs.iter().map(|l| self.holding(&l.token)).min().unwrap_or(Quantity::ZERO);
            let caps = SetCaps { max_size: caps.max_size.min(held), ..caps };
            quote = size_set(&legs, Side::Sell, &caps).map(|q| (Side::Sell, q));
        }
        let Some((side, quote)) = quote else { return };
        let tif = match self.params.order_type {
            LegOrderType::Fok => TimeInForce::Fok,
            LegOrderType::Fak => TimeInForce::Fak,
        };
        // One set intent: the risk gateway approves every leg or none.
        let requests = set
            .legs
            .iter()
            .zip(&quote.limits)
            .map(|(instrument, limit)| OrderRequest {
                group: None,
                market: instrument.market,
                token: instrument.token,
                side,
                price: *limit,
                size: quote.size,
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
        self.stats.signals += 1;
        self.sets[i].phase = Phase::Working {
            side,
            unwind: false,
            orders,
            deadline_ns: ctx.now_ns.saturating_add(self.params.leg_timeout_ms * 1_000_000),
            cancelled: false,
        };
    }

    /// Moves a set on when all its orders are done: unwind the excess of a short-filled buy, or
    /// cool down.
    fn advance(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Phase::Working { side, unwind, orders, .. } = &self.sets[i].phase else { return };
        if !orders.iter().all(|o| o.done) {
            return;
        }
        for o in orders {
            self.orders.remove(&o.id);
        }
        let cooldown = Phase::Idle { until_ns: ctx.now_ns.saturating_add(self.params.cooldown_ms * 1_000_000) };
        if *unwind || *side == Side::Sell {
            self.sets[i].phase = cooldown;
            return;
        }
        let matched = orders.iter().map(|o| o.filled).min().unwrap_or(Quantity::ZERO);
        if orders.iter().all(|o| o.filled == matched) {
            if !matched.is_zero() {
                self.stats.completed += 1;
            }
            self.sets[i].phase = cooldown;
            return;
        }
        // Sell back what filled beyond the matched part, at market.
        let excess: Vec<(usize, Quantity)> =
            orders.iter().map(|o| (o.leg, o.filled.saturating_sub(matched))).filter(|(_, q)| !q.is_zero()).collect();
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
            self.sets[i].phase = cooldown;
            return;
        }
        for o in &out {
            self.orders.insert(o.id, i);
        }
        self.sets[i].phase = Phase::Working {
            side: Side::Sell,
            unwind: true,
            orders: out,
            deadline_ns: ctx.now_ns.saturating_add(self.params.leg_timeout_ms * 1_000_000),
            cancelled: false,
        };
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
        let h = self.holdings.entry(fill.token).or_default();
        *h = match side {
            Side::Buy => h.saturating_add(fill.size),
            Side::Sell => h.saturating_sub(fill.size),
        };
    }

    fn on_timer(&mut self, books: &BookSet, ctx: &mut Ctx<'_>) {
        let timeout_ns = self.params.leg_timeout_ms * 1_000_000;
        for i in 0..self.sets.len() {
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

//! Pre-trade risk rules, sans-IO: the reference model of the risk gateway's check. One call
//! decides an intent against a RiskPolicy's limits and the policy's state, and reserves exposure
//! when it approves; cancels, rejections and expiries release the reservation; fills turn it into
//! position. The Redis Lua script of the fleet implements the same rules and is tested against
//! this model; the in-memory risk store of local runs and backtests uses it directly.
//!
//! Checks run in a fixed order and the first failing one is the reason: the mode (`halt` refuses
//! everything; `reduceOnly`, declared or tripped by a daily loss or drawdown past its limit, refuses
//! buys: see [`mode`]), circuit breaker, order rate, orders per UTC day, order size, order notional, position per market,
//! Kelly cap (a model-sized buy's stake in its token, [`kelly`]), gross exposure, book
//! liquidity; then, on the whole order or set, each event's exposure (`max_event_exposure`) and
//! each exposure group's (`group_limits`: events grouped by Market labels), then the worst-case loss at
//! resolution ([`events`]): exposure minus the least the positions pay over every allowed
//! resolution, the order's effect included. It refuses an order that raises the worst-case loss
//! above `max_loss_at_resolution`; one that lowers it (a hedge, a set's completion) passes even
//! above the limit.
//!
//! Daily loss, equity and drawdown are marked to market: the executor's conservative marks of
//! each strategy's positions ([`crate::accounting::mark`]) set the unrealized PnL (`revalue`, which
//! also runs the trip rules, so a position losing value trips the policy without any order), and
//! a commit moves realized and unrealized PnL together (`on_marks` first), never counting a
//! closed position twice.
//!
//! Built to be reproduced exactly by a Redis Lua script, whose numbers are doubles: the clock is
//! in milliseconds (exact in a double for millions of years), amounts stay below 2^53 micros
//! (9 billion USDC), and the only product, a fill's share of a buy reservation, is the fill's
//! notional at the order's limit price (ticks x micro-shares / 10^4, which the script computes
//! exactly by splitting the size). Decisions are idempotent: deciding a client order id again
//! returns the first verdict and changes nothing, so a redelivered intent is harmless.

pub mod events;
pub mod kelly;
pub mod mode;
pub mod worst_case;

use std::collections::{HashMap, VecDeque};

use crate::book::BookFollower;
use crate::ids::{ClientOrderId, TokenId, TokenMap};
use crate::money::{Money, Price, Quantity, Rounding};
use crate::side::Side;
use crate::wire::{CtfIntent, KellyBasis, OrderIntent, RejectReason};
use events::{EventBook, Registered};
pub use mode::{RiskMode, Trip, TripState};

/// The book liquidity the check compares with the policy's minimum: cash resting on the side
/// `intent` would take from, within `band_bps` of the best price (one basis point of price is one
/// tick); zero when the token has no live book.
pub fn book_liquidity(books: &TokenMap<BookFollower>, intent: &OrderIntent, band_bps: u32) -> Money {
    match books.get(&intent.token).filter(|f| f.is_live()) {
        Some(f) => f.book().liquidity(intent.side.taking_side(), band_bps),
        None => Money::ZERO,
    }
}

/// A RiskPolicy's limits in fixed point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskLimits {
    /// The declared mode (`killSwitch`): off, reduce-only or halt.
    pub mode: RiskMode,
    /// The policy's trip-reset counter (`resetTrips`): a change clears a standing trip.
    pub reset: u64,
    /// A trip clears by itself this long (ms) after it happened; `None`: only a reset clears it.
    pub trip_cooldown_ms: Option<u64>,
    /// Largest size of one order.
    pub max_order_size: Quantity,
    /// Largest notional (price × size) of one order.
    pub max_order_notional: Money,
    /// Largest position in one token, open orders included.
    pub max_position_per_market: Quantity,
    /// Largest cost of everything held plus reserved by open buys.
    pub max_gross_exposure: Money,
    /// Positive amount: a daily PnL at or below minus this trips the policy into reduce-only.
    pub max_daily_loss: Money,
    /// Positive amount: equity this far below its peak trips the policy into reduce-only.
    pub max_drawdown: Money,
    /// Most orders in any sliding minute.
    pub max_orders_per_minute: u32,
    /// Most orders per UTC day; `None`: no limit.
    pub max_orders_per_day: Option<u32>,
    /// Cash that must rest on the side an order takes from (computed by the caller from the book
    /// within the policy's band); `None` disables the check.
    pub min_book_liquidity: Option<Money>,
    /// (consecutive losses, cooldown in ms).
    pub circuit_breaker: Option<(u32, u64)>,
    /// Largest worst-case loss at resolution an order may raise the policy's to; `None`: no
    /// limit (the number is still kept and reported).
    pub max_loss_at_resolution: Option<Money>,
    /// Largest exposure (cost of positions plus open buys) in one event; `None`: no limit.
    pub max_event_exposure: Option<Money>,
    /// Largest exposure of each group of events, by the label the groups are keyed on (the
    /// `label` of an outcome's `label=value` group); a group whose label is not listed has no
    /// limit (its exposure is still kept).
    pub group_limits: Vec<(String, Money)>,
    /// The Kelly budget (capital times `kellyFractionCapBps`): a model-sized buy may take its
    /// token's stake to [`kelly::max_stake`] of it; `None`: no Kelly cap.
    pub kelly_budget: Option<Money>,
}

impl RiskLimits {
    /// The limit of exposure group `group` (`label=value`), if its label has one.
    pub fn group_limit(&self, group: &str) -> Option<Money> {
        let label = group.split_once('=').map_or(group, |(l, _)| l);
        self.group_limits.iter().find(|(l, _)| l == label).map(|(_, m)| *m)
    }
}

/// Adds a signed `change` to `key`'s exposure, never below zero (as the scripts do); the key is
/// copied only the first time it is seen.
fn bump(map: &mut HashMap<String, Money>, key: &str, change: Money) {
    let shift = |v: Money| v.checked_add(change).unwrap_or(v).max(Money::ZERO);
    match map.get_mut(key) {
        Some(v) => *v = shift(*v),
        None => {
            map.insert(key.to_string(), shift(Money::ZERO));
        }
    }
}

/// `change` to the exposure of `event` (in `by_event`) and of its groups in `book` (in
/// `by_group`): the maps apart from the book, so callers lend the event key from it.
fn expose_in(
    book: &EventBook,
    by_event: &mut HashMap<String, Money>,
    by_group: &mut HashMap<String, Money>,
    event: &str,
    change: Money,
) {
    bump(by_event, event, change);
    for g in book.groups(event) {
        bump(by_group, g, change);
    }
}

/// Entries not zero, sorted by key.
fn nonzero(map: &HashMap<String, Money>) -> Vec<(String, Money)> {
    let mut v: Vec<(String, Money)> =
        map.iter().filter(|(_, m)| **m != Money::ZERO).map(|(k, m)| (k.clone(), *m)).collect();
    v.sort();
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reservation {
    token: TokenId,
    side: Side,
    limit: Price,
    size: Quantity,
    notional: Money,
}

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 86_400_000;

/// What a policy's state holds, for status, tests and the conformance suite.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RiskSnapshot {
    /// Cost of positions plus open buy reservations.
    pub exposure: Money,
    /// Net shares per token (held or reserved to buy), zero entries left out, sorted by token.
    pub positions: Vec<(TokenId, Quantity)>,
    /// Orders holding a reservation.
    pub open_reservations: usize,
    /// Approvals inside the order-rate window.
    pub recent_orders: usize,
    /// Approvals this UTC day.
    pub day_orders: u32,
    /// UTC day (days since the epoch) the daily PnL belongs to.
    pub day: u64,
    /// Today's realized PnL.
    pub daily_pnl: Money,
    /// Realized equity since the policy started.
    pub equity: Money,
    /// Highest marked equity (realized plus unrealized) seen.
    pub peak: Money,
    /// Unrealized PnL of every strategy's positions at their last marks.
    pub unrealized: Money,
    /// The unrealized PnL when the UTC day began.
    pub day_unrealized: Money,
    /// Losing round trips in a row (see [`RiskState::on_realized`]).
    pub consecutive_losses: u32,
    /// The circuit breaker holds orders back until this time (Unix ms); 0 when never tripped.
    pub breaker_until_ms: u64,
    /// The least the positions (open buys included) pay at resolution.
    pub floor: Money,
    /// The marked daily PnL (realized today plus unrealized) the daily loss counts from: its
    /// value at the last reset, or the unrealized PnL when the UTC day began.
    pub daily_base: Money,
    /// The standing trip and the trips so far.
    pub trips: TripState,
    /// The last trip-reset counter applied.
    pub reset_seen: u64,
    /// Exposure per event (the part of `exposure` in described tokens), zero entries left out,
    /// sorted by event.
    pub event_exposure: Vec<(String, Money)>,
    /// Exposure per group (`label=value`), zero entries left out, sorted.
    pub group_exposure: Vec<(String, Money)>,
}

impl RiskSnapshot {
    /// The worst-case loss at resolution: exposure minus the floor (negative: a sure profit).
    pub fn worst_loss(&self) -> Money {
        self.exposure.checked_sub(self.floor).unwrap_or(self.exposure)
    }

    /// Today's PnL marked to market: realized today plus the change of unrealized PnL today.
    pub fn daily_pnl_marked(&self) -> Money {
        let moved = self.unrealized.checked_sub(self.day_unrealized).unwrap_or(Money::ZERO);
        self.daily_pnl.checked_add(moved).unwrap_or(self.daily_pnl)
    }

    /// Equity marked to market: realized plus unrealized.
    pub fn equity_marked(&self) -> Money {
        self.equity.checked_add(self.unrealized).unwrap_or(self.equity)
    }

    /// Drop of the marked equity from its peak.
    pub fn drawdown(&self) -> Money {
        self.peak.checked_sub(self.equity_marked()).unwrap_or(Money::ZERO).max(Money::ZERO)
    }
}

/// The state of one policy.
#[derive(Debug, Default, Clone)]
pub struct RiskState {
    /// Cost of positions plus open buy reservations.
    exposure: Money,
    /// Net shares per token, held or reserved to buy.
    positions: TokenMap<Quantity>,
    reservations: HashMap<ClientOrderId, Reservation>,
    decided: HashMap<ClientOrderId, Result<(), RejectReason>>,
    recent: VecDeque<u64>,
    day_orders: u32,
    day: u64,
    daily_pnl: Money,
    equity: Money,
    peak: Money,
    consecutive_losses: u32,
    /// The round trip (a sell order, or the set its legs belong to) whose sell fills came last,
    /// their net realized PnL so far, and whether it is counted as a loss in the streak.
    loss_round: Option<ClientOrderId>,
    loss_net: Money,
    loss_counted: bool,
    breaker_until_ms: u64,
    events: EventBook,
    daily_base: Money,
    trips: TripState,
    reset_seen: u64,
    /// Each strategy's unrealized PnL per token at its last marks, and their sum.
    marks: HashMap<String, TokenMap<Money>>,
    unrealized: Money,
    day_unrealized: Money,
    /// Exposure per event and per group, kept as `exposure` is (each never below zero).
    event_exposure: HashMap<String, Money>,
    group_exposure: HashMap<String, Money>,
}

impl RiskState {
    /// Fresh state.
    pub fn new() -> RiskState {
        RiskState::default()
    }

    /// Gross exposure now.
    pub fn exposure(&self) -> Money {
        self.exposure
    }

    /// Today's PnL.
    pub fn daily_pnl(&self) -> Money {
        self.daily_pnl
    }

    /// The worst-case loss at resolution of the positions and open buys.
    pub fn worst_loss(&self) -> Money {
        self.exposure.checked_sub(self.events.floor()).unwrap_or(self.exposure)
    }

    /// Drop of the marked equity (realized plus unrealized) from its peak.
    pub fn drawdown(&self) -> Money {
        self.peak.checked_sub(self.equity_marked()).unwrap_or(Money::ZERO).max(Money::ZERO)
    }

    /// Realized plus unrealized equity.
    fn equity_marked(&self) -> Money {
        self.equity.checked_add(self.unrealized).unwrap_or(self.equity)
    }

    /// Today's realized PnL plus the unrealized PnL now: the daily loss counts down from its
    /// value at the start of the day (or the last reset).
    fn daily_marked(&self) -> Money {
        self.daily_pnl.checked_add(self.unrealized).unwrap_or(self.daily_pnl)
    }

    /// A strategy's unrealized PnL per token at its last marks, sorted by token.
    pub fn marks(&self, strategy: &str) -> Vec<(TokenId, Money)> {
        let mut v: Vec<(TokenId, Money)> =
            self.marks.get(strategy).map(|m| m.iter().map(|(t, u)| (*t, *u)).collect()).unwrap_or_default();
        v.sort_by_key(|(t, _)| t.to_string());
        v
    }

    /// Sets a strategy's unrealized PnL of the listed tokens (zero removes a token), keeping the
    /// policy's total; `replace` removes the strategy's tokens not listed too. A new UTC day at
    /// `now_ms` rolls first, so the day counts from the marks before these. A commit applies the
    /// marks its fills changed with this first, so realized and unrealized PnL move at once.
    pub fn on_marks(&mut self, strategy: &str, marks: &[(TokenId, Money)], replace: bool, now_ms: u64) {
        self.roll_day(now_ms);
        let mine = self.marks.entry(strategy.to_string()).or_default();
        let mut total = self.unrealized;
        if replace {
            for (t, old) in mine.iter() {
                if !marks.iter().any(|(x, _)| x == t) {
                    total = total.checked_sub(*old).unwrap_or(total);
                }
            }
            mine.retain(|t, _| marks.iter().any(|(x, _)| x == t));
        }
        for (token, value) in marks {
            let old = if *value == Money::ZERO { mine.remove(token) } else { mine.insert(*token, *value) };
            let delta = value.checked_sub(old.unwrap_or(Money::ZERO)).unwrap_or(Money::ZERO);
            total = total.checked_add(delta).unwrap_or(total);
        }
        if mine.is_empty() {
            self.marks.remove(strategy);
        }
        self.unrealized = total;
    }

    /// New marks for a strategy's whole book (the executor's periodic mark): a new UTC day rolls,
    /// its unrealized PnL is replaced, the peak follows the marked equity, and under `limits` the trip rules run, so
    /// an open position losing value trips the daily loss or drawdown without any order.
    pub fn revalue(&mut self, limits: Option<&RiskLimits>, strategy: &str, marks: &[(TokenId, Money)], now_ms: u64) {
        self.on_marks(strategy, marks, true, now_ms);
        self.peak = self.peak.max(self.equity_marked());
        if let Some(limits) = limits {
            self.update_trip(limits, now_ms);
        }
    }

    /// True while the circuit breaker holds orders back.
    pub fn breaker_tripped(&self, now_ms: u64) -> bool {
        now_ms < self.breaker_until_ms
    }

    /// Everything the state holds.
    pub fn snapshot(&self) -> RiskSnapshot {
        let mut positions: Vec<(TokenId, Quantity)> =
            self.positions.iter().filter(|(_, q)| !q.is_zero()).map(|(t, q)| (*t, *q)).collect();
        positions.sort_by_key(|(t, _)| t.to_string());
        RiskSnapshot {
            exposure: self.exposure,
            positions,
            open_reservations: self.reservations.len(),
            recent_orders: self.recent.len(),
            day_orders: self.day_orders,
            day: self.day,
            daily_pnl: self.daily_pnl,
            equity: self.equity,
            peak: self.peak,
            consecutive_losses: self.consecutive_losses,
            breaker_until_ms: self.breaker_until_ms,
            floor: self.events.floor(),
            daily_base: self.daily_base,
            trips: self.trips,
            reset_seen: self.reset_seen,
            unrealized: self.unrealized,
            day_unrealized: self.day_unrealized,
            event_exposure: nonzero(&self.event_exposure),
            group_exposure: nonzero(&self.group_exposure),
        }
    }

    /// `change` to the exposure of `token`'s event and groups (nothing for an undescribed token).
    fn expose(&mut self, token: &TokenId, change: Money) {
        if let Some(e) = self.events.exposure_event(token) {
            expose_in(&self.events, &mut self.event_exposure, &mut self.group_exposure, e, change);
        }
    }

    /// The event and group limits on what `legs` (approved, reserved) bought: every event a buy
    /// added exposure to, then every group of those events.
    fn exposure_limits(&self, limits: &RiskLimits, legs: &[OrderIntent]) -> Result<(), RejectReason> {
        let mut events: Vec<&str> = vec![];
        for leg in legs {
            let added = self.reservations.get(&leg.client_order_id).is_some_and(|r| r.notional > Money::ZERO);
            if let Some(e) = self.events.exposure_event(&leg.token).filter(|_| added)
                && !events.contains(&e)
            {
                events.push(e);
            }
        }
        let of = |m: &HashMap<String, Money>, k: &str| m.get(k).copied().unwrap_or(Money::ZERO);
        if let Some(max) = limits.max_event_exposure
            && events.iter().any(|e| of(&self.event_exposure, e) > max)
        {
            return Err(RejectReason::EventExposure);
        }
        for e in &events {
            for g in self.events.groups(e) {
                if limits.group_limit(g).is_some_and(|max| of(&self.group_exposure, g) > max) {
                    return Err(RejectReason::GroupExposure);
                }
            }
        }
        Ok(())
    }

    /// The standing trip and the trips so far.
    pub fn trips(&self) -> TripState {
        self.trips
    }

    /// The mode in force under `limits` at `now_ms`: the declared one, or reduce-only while a
    /// trip stands (and its cooldown, if any, is not over).
    pub fn effective_mode(&self, limits: &RiskLimits, now_ms: u64) -> RiskMode {
        self.trips.effective_at(limits.mode, limits.trip_cooldown_ms, now_ms)
    }

    /// New limits written (the store does this when the operator writes them): a changed
    /// trip-reset counter clears a standing trip, with the loss it tripped on as the new baseline.
    pub fn set_limits(&mut self, limits: &RiskLimits) {
        if limits.reset != self.reset_seen {
            self.reset_seen = limits.reset;
            self.clear_trip();
        }
    }

    /// Clears a standing trip, if any: the daily loss counts from today's marked PnL now and the
    /// drawdown from the marked equity now.
    fn clear_trip(&mut self) {
        if self.trips.current.take().is_some() {
            self.daily_base = self.daily_marked();
            self.peak = self.equity_marked();
        }
    }

    /// The trip rules at `now_ms`: a trip whose cooldown is over clears; without a trip, a daily
    /// loss or drawdown past its limit trips (daily loss first).
    fn update_trip(&mut self, limits: &RiskLimits, now_ms: u64) {
        if self.trips.until(limits.trip_cooldown_ms).is_some_and(|until| now_ms >= until) {
            self.clear_trip();
        }
        if self.trips.current.is_some() {
            return;
        }
        let lost = self.daily_base.checked_sub(self.daily_marked()).unwrap_or(Money::ZERO);
        let trip = if lost >= limits.max_daily_loss {
            self.trips.daily_loss_trips += 1;
            Trip::DailyLoss
        } else if self.drawdown() >= limits.max_drawdown {
            self.trips.drawdown_trips += 1;
            Trip::Drawdown
        } else {
            return;
        };
        self.trips.current = Some((trip, now_ms));
    }

    fn roll_day(&mut self, now_ms: u64) {
        let day = now_ms / DAY_MS;
        if day != self.day {
            self.day = day;
            self.daily_pnl = Money::ZERO;
            self.daily_base = self.unrealized;
            self.day_unrealized = self.unrealized;
            self.day_orders = 0;
        }
    }

    /// Decides `intent`; on approval reserves its exposure and counts it against the order rate.
    /// A client order id decided before gets its first verdict back and changes nothing.
    pub fn check(
        &mut self,
        limits: &RiskLimits,
        intent: &OrderIntent,
        book_liquidity: Option<Money>,
        now_ms: u64,
    ) -> Result<(), RejectReason> {
        self.check_set(limits, std::slice::from_ref(intent), &[book_liquidity], now_ms)
    }

    /// Decides the legs of a set as one: every leg approved (each reserved and counted against
    /// the order rate, in leg order, as if decided one by one) or none (nothing reserved, nothing
    /// counted), so no limit can leave a set half bought. `book_liquidity` is per leg. A refused
    /// set has every leg refused with the reason of the leg that failed. A set decided before
    /// gets its first verdict back and changes nothing.
    pub fn check_set(
        &mut self,
        limits: &RiskLimits,
        legs: &[OrderIntent],
        book_liquidity: &[Option<Money>],
        now_ms: u64,
    ) -> Result<(), RejectReason> {
        // A malformed outcome or Kelly basis is refused before anything, and not remembered (as
        // the store does).
        if legs.iter().filter_map(|l| l.outcome.as_ref()).any(|o| o.validate().is_err())
            || legs.iter().filter_map(|l| l.kelly).any(|k| k.probability_ppm > KellyBasis::ONE_PPM)
        {
            return Err(RejectReason::Invalid);
        }
        if let Some(first) = legs.first().and_then(|l| self.decided.get(&l.client_order_id)) {
            return *first;
        }
        // The legs' outcomes, recorded for the decision (undone if it refuses), and the
        // worst-case loss before it with them.
        let mut registered = Registered::default();
        for leg in legs {
            if let Some(o) = &leg.outcome {
                self.events.register(leg.token, o, &mut registered);
            }
        }
        for leg in legs {
            self.events.refloor(&leg.token, &self.positions);
        }
        let before = self.worst_loss();
        let mut verdict = Ok(());
        let mut approved = 0;
        for (i, leg) in legs.iter().enumerate() {
            verdict = self.decide(limits, leg, book_liquidity.get(i).copied().flatten(), now_ms);
            if verdict.is_err() {
                break;
            }
            approved += 1;
        }
        if verdict.is_ok() {
            verdict = self.exposure_limits(limits, legs);
        }
        if verdict.is_ok() {
            for leg in legs {
                self.events.refloor(&leg.token, &self.positions);
            }
            let after = self.worst_loss();
            if limits.max_loss_at_resolution.is_some_and(|max| after > max && after > before) {
                verdict = Err(RejectReason::MaxLossAtResolution);
            }
        }
        if verdict.is_err() {
            // Undo the legs approved before the refusal: exactly what deciding them added.
            for leg in &legs[..approved] {
                self.release(&leg.client_order_id);
                self.recent.pop_back();
                self.day_orders = self.day_orders.saturating_sub(1);
            }
            self.events.unregister(&registered, &self.positions);
        }
        for leg in legs {
            self.decided.insert(leg.client_order_id, verdict);
        }
        verdict
    }

    /// Decides a conditional-token operation (see [`crate::exec::ctf`]): a split as a set of two
    /// purchases at half a USDC, reserved on approval; a well-formed merge, redeem or convert
    /// approved with nothing reserved (it only gives exposure back) unless the policy is halted.
    /// A malformed one is `Invalid`.
    pub fn check_ctf(&mut self, limits: &RiskLimits, intent: &CtfIntent, now_ms: u64) -> Result<(), RejectReason> {
        crate::exec::ctf::shape(&intent.op).map_err(|_| RejectReason::Invalid)?;
        let legs = crate::exec::ctf::reservation_legs(intent).ok_or(RejectReason::Invalid)?;
        if legs.is_empty() {
            return if limits.mode == RiskMode::Halt { Err(RejectReason::KillSwitch) } else { Ok(()) };
        }
        self.check_set(limits, &legs, &[None, None], now_ms)
    }

    fn decide(
        &mut self,
        limits: &RiskLimits,
        intent: &OrderIntent,
        book_liquidity: Option<Money>,
        now_ms: u64,
    ) -> Result<(), RejectReason> {
        self.roll_day(now_ms);
        while self.recent.front().is_some_and(|&t| t + MINUTE_MS <= now_ms) {
            self.recent.pop_front();
        }
        self.update_trip(limits, now_ms);
        if limits.mode == RiskMode::Halt {
            return Err(RejectReason::KillSwitch);
        }
        if self.breaker_tripped(now_ms) {
            return Err(RejectReason::CircuitBreaker);
        }
        if intent.side == Side::Buy {
            if limits.mode == RiskMode::ReduceOnly {
                return Err(RejectReason::ReduceOnly);
            }
            if let Some((trip, _)) = self.trips.current {
                return Err(trip.reason());
            }
        }
        if self.recent.len() as u64 >= u64::from(limits.max_orders_per_minute) {
            return Err(RejectReason::OrderRate);
        }
        if limits.max_orders_per_day.is_some_and(|max| self.day_orders >= max) {
            return Err(RejectReason::DailyOrders);
        }
        if intent.size > limits.max_order_size {
            return Err(RejectReason::MaxOrderSize);
        }
        let notional = intent.price.notional(intent.size, Rounding::Up).ok_or(RejectReason::Invalid)?;
        if notional > limits.max_order_notional {
            return Err(RejectReason::MaxOrderNotional);
        }
        let held = self.positions.get(&intent.token).copied().unwrap_or(Quantity::ZERO);
        if intent.side == Side::Buy && held.checked_add(intent.size).is_none_or(|p| p > limits.max_position_per_market)
        {
            return Err(RejectReason::MaxPosition);
        }
        if intent.side == Side::Buy
            && let (Some(budget), Some(k)) = (limits.kelly_budget, intent.kelly)
        {
            let stake = intent.price.notional(held.saturating_add(intent.size), Rounding::Up);
            if stake.is_none_or(|s| s > kelly::max_stake(budget, k.probability_ppm, intent.price)) {
                return Err(RejectReason::KellyCap);
            }
        }
        let added = if intent.side == Side::Buy { notional } else { Money::ZERO };
        if self.exposure.checked_add(added).is_none_or(|e| e > limits.max_gross_exposure) {
            return Err(RejectReason::GrossExposure);
        }
        if let (Some(min), Some(have)) = (limits.min_book_liquidity, book_liquidity)
            && have < min
        {
            return Err(RejectReason::BookLiquidity);
        }
        // Approved: reserve.
        self.recent.push_back(now_ms);
        self.day_orders += 1;
        if intent.side == Side::Buy {
            self.exposure = self.exposure.checked_add(notional).unwrap_or(self.exposure);
            self.positions.insert(intent.token, held.saturating_add(intent.size));
            self.expose(&intent.token, notional);
        }
        self.reservations.insert(
            intent.client_order_id,
            Reservation {
                token: intent.token,
                side: intent.side,
                limit: intent.price,
                size: intent.size,
                notional: added,
            },
        );
        Ok(())
    }

    /// The order ended without (more) fills: give back what is still reserved.
    pub fn release(&mut self, id: &ClientOrderId) {
        if let Some(r) = self.reservations.remove(id) {
            self.exposure = self.exposure.checked_sub(r.notional).unwrap_or(Money::ZERO).max(Money::ZERO);
            self.expose(&r.token, r.notional.checked_neg().unwrap_or(Money::ZERO));
            if r.side == Side::Buy
                && let Some(p) = self.positions.get_mut(&r.token)
            {
                *p = p.saturating_sub(r.size);
                self.events.refloor(&r.token, &self.positions);
            }
        }
    }

    /// Part of an order filled. A buy of `size` shares that cost `cost` swaps its share of the
    /// reservation (the fill's notional at the limit price, rounded up; all that is left on the
    /// last fill) for the actual cost; a sell releases `cost`, the cost basis of the shares sold,
    /// from exposure and the shares from the position.
    pub fn on_fill(&mut self, id: &ClientOrderId, side: Side, size: Quantity, cost: Money, token: TokenId) {
        let mut covered = Quantity::ZERO;
        let reserved = match self.reservations.get_mut(id) {
            Some(r) => {
                covered = size.min(r.size);
                let part = if size >= r.size {
                    r.notional
                } else {
                    r.limit.notional(size, Rounding::Up).map_or(r.notional, |n| n.min(r.notional))
                };
                r.notional = r.notional.checked_sub(part).unwrap_or(Money::ZERO);
                r.size = r.size.saturating_sub(size);
                part
            }
            None => Money::ZERO,
        };
        let change = match side {
            Side::Buy => cost.checked_sub(reserved),
            Side::Sell => cost.checked_neg(),
        };
        self.exposure = change.and_then(|c| self.exposure.checked_add(c)).unwrap_or(self.exposure).max(Money::ZERO);
        if let Some(c) = change {
            self.expose(&token, c);
        }
        if side == Side::Sell
            && let Some(p) = self.positions.get_mut(&token)
        {
            *p = p.saturating_sub(size);
        }
        // A buy's position counts from its decision; a fill beyond what is still reserved (it
        // came after the order was released) adds the rest.
        if side == Side::Buy && size > covered {
            let p = self.positions.entry(token).or_default();
            *p = p.saturating_add(size.saturating_sub(covered));
        }
        self.events.refloor(&token, &self.positions);
    }

    /// A market-lifecycle booking committed (a conditional-token operation or a settlement; see
    /// [`crate::accounting::lifecycle`]): exposure changes by `cost` (a merge, a redemption or a
    /// losing settlement releases it; a split adds it), each token's shares by its change, and the
    /// PnL realized goes into daily PnL and equity. Not a round trip: the loss streak is untouched.
    /// A settlement's `payouts` fix what its tokens pay from then on (see [`events`]).
    pub fn on_lifecycle(
        &mut self,
        shares: &[(TokenId, i64)],
        cost: Money,
        realized: Money,
        payouts: &[(TokenId, Price)],
        now_ms: u64,
    ) {
        self.exposure = self.exposure.checked_add(cost).unwrap_or(self.exposure).max(Money::ZERO);
        // The booking's event: its first token's (all of an operation's tokens are one event's).
        let event = shares
            .iter()
            .map(|(t, _)| t)
            .chain(payouts.iter().map(|(t, _)| t))
            .find_map(|t| self.events.exposure_event(t));
        if let Some(e) = event {
            expose_in(&self.events, &mut self.event_exposure, &mut self.group_exposure, e, cost);
        }
        for (token, change) in shares {
            let held = self.positions.entry(*token).or_default();
            let magnitude = Quantity::from_micros(change.unsigned_abs());
            *held = if *change < 0 { held.saturating_sub(magnitude) } else { held.saturating_add(magnitude) };
            self.events.refloor(token, &self.positions);
        }
        for (token, payout) in payouts {
            self.events.settle(*token, *payout, &self.positions);
        }
        self.on_realized(None, realized, None, now_ms);
    }

    /// A FAILED trade undone: `cost` is what the ledger took back (negative for a buy: the cost
    /// it had added; negative for a sell: the cost basis it had released, now held again).
    pub fn on_reversal(&mut self, side: Side, size: Quantity, cost: Money, token: TokenId) {
        let change = match side {
            Side::Buy => Some(cost),
            Side::Sell => cost.checked_neg(),
        };
        self.exposure = change.and_then(|c| self.exposure.checked_add(c)).unwrap_or(self.exposure).max(Money::ZERO);
        if let Some(c) = change {
            self.expose(&token, c);
        }
        let held = self.positions.entry(token).or_default();
        *held = match side {
            Side::Buy => held.saturating_sub(size),
            Side::Sell => held.saturating_add(size),
        };
        self.events.refloor(&token, &self.positions);
    }

    /// Realized PnL (fees included) booked: daily PnL, equity and its peak. A sell fill (`round`:
    /// the round trip it closes, which is the sell order, or the set whose legs it sells: a set
    /// sold back wins on some legs and loses on others, and is one trade) also counts for the
    /// consecutive-loss breaker (`breaker`: the policy's losing round trips in a row and cooldown
    /// in ms). The round trip's sell fills are netted as they come: it counts as one loss while
    /// its net is negative (an order that sweeps three levels at a loss is one loss, not three),
    /// and a round trip whose net is not negative ends the streak (a set's winning leg filled
    /// after a losing one takes the loss back). A trip of the breaker stands.
    pub fn on_realized(&mut self, breaker: Option<(u32, u64)>, pnl: Money, round: Option<&ClientOrderId>, now_ms: u64) {
        self.roll_day(now_ms);
        self.daily_pnl = self.daily_pnl.checked_add(pnl).unwrap_or(self.daily_pnl);
        self.equity = self.equity.checked_add(pnl).unwrap_or(self.equity);
        self.peak = self.peak.max(self.equity_marked());
        let Some(round) = round else { return };
        if self.loss_round.as_ref() != Some(round) {
            self.loss_round = Some(*round);
            self.loss_net = Money::ZERO;
            self.loss_counted = false;
        }
        self.loss_net = self.loss_net.checked_add(pnl).unwrap_or(self.loss_net);
        if self.loss_net.is_negative() {
            if self.loss_counted {
                return;
            }
            self.loss_counted = true;
            self.consecutive_losses += 1;
            if let Some((losses, cooldown_ms)) = breaker
                && self.consecutive_losses >= losses
            {
                self.breaker_until_ms = now_ms.saturating_add(cooldown_ms);
                self.consecutive_losses = 0;
            }
        } else {
            self.consecutive_losses = 0;
            self.loss_counted = false;
        }
    }
}

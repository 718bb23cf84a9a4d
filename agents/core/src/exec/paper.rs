//! The paper matching engine: approved orders in, order updates and fills out, against the book
//! the agent follows. Sans-IO and deterministic (fill ids derive from the order; time is passed in).
//!
//! Semantics follow the venue: price on tick and inside (0, 1), size at least the market minimum
//! and in whole hundredths of a share; FOK fills all at once or nothing; FAK fills what is there
//! and cancels the rest; GTC/GTD take what crosses, then rest; post-only (GTC/GTD only) is
//! refused when it would cross; takers pay the V2 fee, makers nothing; GTD orders expire.
//! Liquidity this engine took stays taken until the venue's book shows that level changed, so
//! two orders cannot both fill against the same resting size. Every client order id is executed
//! at most once: a redelivered order produces nothing.
//!
//! Resting orders fill as makers in two ways: when the book crosses them (the other side moved
//! through their price), and when the venue's flow trades through them, with a queue-position
//! model: an order joins the back of its level (the size resting there when it arrived is ahead
//! of it; none when it improved the best price); a trade at its price consumes the queue ahead
//! first and fills it only with what is left; a trade beyond its price went through the whole
//! level and fills it up to the trade's size; the queue ahead shrinks when the level does
//! (orders ahead cancelled), never grows.

use std::collections::{HashMap, HashSet};

use crate::book::OrderBook;
use crate::ids::{ClientOrderId, TokenId, TokenMap};
use crate::money::{FeeSchedule, Money, Price, Quantity};
use crate::side::{BookSide, Side};
use crate::wire::{Fill, FillStatus, Liquidity, OrderIntent, OrderStatus, OrderUpdate, TimeInForce};

/// Trading rules of the order's market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketRules {
    /// Tick size.
    pub tick: Price,
    /// Minimum order size.
    pub min_size: Quantity,
    /// Taker fees.
    pub fees: FeeSchedule,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// An order's state changed.
    Update(OrderUpdate),
    /// An order (partly) filled.
    Fill(Fill),
}

#[derive(Debug, Clone)]
struct Working {
    intent: OrderIntent,
    filled: Quantity,
    /// Size resting ahead of the order at its price.
    ahead: Quantity,
    /// Arrival order.
    arrival: u64,
}

/// Size this engine took from a level, and the level's size on the book when it did.
#[derive(Debug, Clone, Copy)]
struct Taken {
    side: BookSide,
    price: Price,
    level_size: Quantity,
    taken: Quantity,
}

/// A trade the venue printed on `token`: the taker's side, price, size and venue time (ms), with
/// the other token of its binary market when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Print {
    /// The token it printed on.
    pub token: TokenId,
    /// The other token of its market.
    pub complement: Option<TokenId>,
    /// Taker side.
    pub side: Side,
    /// Price.
    pub price: Price,
    /// Size.
    pub size: Quantity,
    /// Venue time, ms.
    pub ts_ms: u64,
}

/// Step of a venue size: hundredths of a share.
const SIZE_STEP: u64 = 10_000;

/// The paper matching engine.
#[derive(Debug, Default)]
pub struct PaperEngine {
    resting: HashMap<ClientOrderId, Working>,
    seen: HashSet<ClientOrderId>,
    taken: TokenMap<Vec<Taken>>,
    arrivals: u64,
    /// The last prints applied (token, venue ms, price, size), to recognise the same match
    /// printed again on the complement token.
    prints: std::collections::VecDeque<(TokenId, u64, Price, Quantity)>,
}

impl PaperEngine {
    /// An engine with no orders.
    pub fn new() -> PaperEngine {
        PaperEngine::default()
    }

    /// Orders resting now.
    pub fn open_orders(&self) -> usize {
        self.resting.len()
    }

    /// Shares of `token` the resting sales of `strategy` (in `namespace`) still offer.
    pub fn offered(&self, namespace: &str, strategy: &str, token: &TokenId) -> Quantity {
        self.resting
            .values()
            .filter(|w| {
                let i = &w.intent;
                i.side == Side::Sell && i.token == *token && i.strategy == strategy && i.namespace == namespace
            })
            .fold(Quantity::ZERO, |a, w| a.saturating_add(w.intent.size.saturating_sub(w.filled)))
    }

    /// Executes an approved order against `book` (the order's token's book).
    pub fn submit(
        &mut self,
        intent: &OrderIntent,
        book: &OrderBook,
        rules: &MarketRules,
        now_ns: u64,
    ) -> Vec<ExecEvent> {
        if !self.seen.insert(intent.client_order_id) {
            return vec![];
        }
        let mut out = vec![];
        let refuse = |out: &mut Vec<ExecEvent>, reason: &str| out.push(refusal(intent, reason, now_ns));
        if !intent.price.is_tradable() || !intent.price.is_on_tick(rules.tick) {
            refuse(&mut out, "price off tick or outside (0, 1)");
            return out;
        }
        if intent.size < rules.min_size || !intent.size.micros().is_multiple_of(SIZE_STEP) {
            refuse(&mut out, "size below the market minimum or not in hundredths of a share");
            return out;
        }
        let rests = matches!(intent.tif, TimeInForce::Gtc | TimeInForce::Gtd { .. });
        if intent.post_only && !rests {
            refuse(&mut out, "post-only needs GTC or GTD");
            return out;
        }
        self.forget_changed_levels(&intent.token, book);
        let available = self.available(&intent.token, book, intent.side, intent.price);
        let crossing: u64 = available.iter().map(|(_, q)| q.micros()).sum();
        if intent.post_only && crossing > 0 {
            refuse(&mut out, "post-only order would cross");
            return out;
        }
        if intent.tif == TimeInForce::Fok && crossing < intent.size.micros() {
            out.push(update(
                intent,
                OrderStatus::Cancelled,
                Quantity::ZERO,
                Quantity::ZERO,
                Some("FOK: not fully fillable"),
                now_ns,
            ));
            return out;
        }
        let mut filled = Quantity::ZERO;
        for (level, qty) in available {
            let take = qty.min(intent.size.saturating_sub(filled));
            if take.is_zero() {
                break;
            }
            self.record_taken(&intent.token, intent.side.taking_side(), level, book, take);
            let fee = rules.fees.taker_fee(level, take).unwrap_or(Money::ZERO);
            out.push(fill(intent, filled, level, take, fee, Liquidity::Taker, now_ns));
            filled = filled.saturating_add(take);
        }
        let remaining = intent.size.saturating_sub(filled);
        let status = match (remaining.is_zero(), rests, filled.is_zero()) {
            (true, _, _) => OrderStatus::Filled,
            (false, true, true) => OrderStatus::Resting,
            (false, true, false) => OrderStatus::PartiallyFilled,
            (false, false, _) => OrderStatus::Cancelled,
        };
        let reason = (status == OrderStatus::Cancelled).then_some("FAK: remainder cancelled");
        let working_left = if rests { remaining } else { Quantity::ZERO };
        out.push(update(intent, status, filled, working_left, reason, now_ns));
        if rests && !remaining.is_zero() {
            let ahead = level_size(book, intent.side.resting_side(), intent.price);
            self.arrivals += 1;
            let arrival = self.arrivals;
            self.resting.insert(intent.client_order_id, Working { intent: intent.clone(), filled, ahead, arrival });
        }
        out
    }

    /// The book of `token` changed: resting orders it now crosses fill, as makers at their price;
    /// the queue ahead of the others shrinks with their level.
    pub fn on_book(&mut self, token: &TokenId, book: &OrderBook, now_ns: u64) -> Vec<ExecEvent> {
        self.forget_changed_levels(token, book);
        let mut ids: Vec<ClientOrderId> =
            self.resting.iter().filter(|(_, w)| w.intent.token == *token).map(|(id, _)| *id).collect();
        ids.sort();
        let mut out = vec![];
        for id in ids {
            let Some(mut w) = self.resting.remove(&id) else { continue };
            w.ahead = w.ahead.min(level_size(book, w.intent.side.resting_side(), w.intent.price));
            let want = w.intent.size.saturating_sub(w.filled);
            let available: u64 =
                self.available(token, book, w.intent.side, w.intent.price).iter().map(|(_, q)| q.micros()).sum();
            let take = want.min(Quantity::from_micros(available));
            if !take.is_zero() {
                // Consume from the best levels, as a crossing counter-order would.
                let mut left = take;
                for (level, qty) in self.available(token, book, w.intent.side, w.intent.price) {
                    let t = qty.min(left);
                    if t.is_zero() {
                        break;
                    }
                    self.record_taken(token, w.intent.side.taking_side(), level, book, t);
                    left = left.saturating_sub(t);
                }
                maker_fill(&mut w, take, now_ns, &mut out);
            }
            if w.filled < w.intent.size {
                self.resting.insert(id, w);
            }
        }
        out
    }

    /// The venue printed a trade on `token`: `taker` side, at `price`, of `size`. Resting orders
    /// on the side it hit, at or behind its price, fill as makers in price then arrival order
    /// (the queue model above), at most the trade's size in all.
    pub fn on_trade(
        &mut self,
        token: &TokenId,
        taker: Side,
        price: Price,
        size: Quantity,
        now_ns: u64,
    ) -> Vec<ExecEvent> {
        let maker = taker.opposite();
        let reached = |p: Price| match maker {
            Side::Sell => p <= price,
            Side::Buy => p >= price,
        };
        let mut ids: Vec<(Price, u64, ClientOrderId)> = self
            .resting
            .iter()
            .filter(|(_, w)| w.intent.token == *token && w.intent.side == maker && reached(w.intent.price))
            .map(|(id, w)| (w.intent.price, w.arrival, *id))
            .collect();
        // Best price first (lowest ask, highest bid), then arrival.
        ids.sort_by(|a, b| match maker {
            Side::Sell => (a.0, a.1).cmp(&(b.0, b.1)),
            Side::Buy => b.0.cmp(&a.0).then(a.1.cmp(&b.1)),
        });
        let mut left = size;
        let mut out = vec![];
        for (_, _, id) in ids {
            if left.is_zero() {
                break;
            }
            let Some(mut w) = self.resting.remove(&id) else { continue };
            if w.intent.price == price {
                // At its level: those ahead trade first.
                let used = w.ahead.min(left);
                w.ahead = w.ahead.saturating_sub(used);
                left = left.saturating_sub(used);
            } else {
                // The trade went through its level: nothing there is ahead any more.
                w.ahead = Quantity::ZERO;
            }
            let want = w.intent.size.saturating_sub(w.filled);
            let take = want.min(left).round_down_to(SIZE_STEP);
            if !take.is_zero() {
                maker_fill(&mut w, take, now_ns, &mut out);
                left = left.saturating_sub(take);
            }
            if w.filled < w.intent.size {
                self.resting.insert(id, w);
            }
        }
        out
    }

    /// A trade the venue printed ([`Print`]): it fills resting orders of its token
    /// ([`PaperEngine::on_trade`]) and, mirrored, of its complement (a taker buying YES at p
    /// meets NO bids at 1 − p in the venue's one book). The same match printed on both tokens
    /// (same time and size, complementary prices) is applied once.
    pub fn on_print(&mut self, print: &Print, now_ns: u64) -> Vec<ExecEvent> {
        let Print { token, complement, side: taker, price, size, ts_ms } = *print;
        let token = &token;
        let echo = complement.is_some_and(|c| self.prints.iter().any(|p| *p == (c, ts_ms, price.complement(), size)));
        if echo {
            return vec![];
        }
        self.prints.push_back((*token, ts_ms, price, size));
        if self.prints.len() > 64 {
            self.prints.pop_front();
        }
        let mut out = self.on_trade(token, taker, price, size, now_ns);
        if let Some(c) = complement {
            out.extend(self.on_trade(&c, taker.opposite(), price.complement(), size, now_ns));
        }
        out
    }

    /// Cancels a resting order; nothing when it is not resting (already done, or unknown).
    pub fn cancel(&mut self, id: &ClientOrderId, reason: &str, now_ns: u64) -> Vec<ExecEvent> {
        match self.resting.remove(id) {
            Some(w) => vec![update(&w.intent, OrderStatus::Cancelled, w.filled, Quantity::ZERO, Some(reason), now_ns)],
            None => vec![],
        }
    }

    /// Expires GTD orders whose time has come (venue expiry is reported as a cancel; here as
    /// Expired).
    pub fn expire(&mut self, now_s: u64, now_ns: u64) -> Vec<ExecEvent> {
        let mut due: Vec<ClientOrderId> = self
            .resting
            .iter()
            .filter(|(_, w)| matches!(w.intent.tif, TimeInForce::Gtd { expires_at_s } if expires_at_s <= now_s))
            .map(|(id, _)| *id)
            .collect();
        due.sort();
        due.into_iter()
            .filter_map(|id| self.resting.remove(&id))
            .map(|w| update(&w.intent, OrderStatus::Expired, w.filled, Quantity::ZERO, Some("GTD expired"), now_ns))
            .collect()
    }

    /// Levels on the side `side` takes from, within `limit`, best first, less what this engine
    /// already took from them.
    fn available(&self, token: &TokenId, book: &OrderBook, side: Side, limit: Price) -> Vec<(Price, Quantity)> {
        let taking = side.taking_side();
        let taken = self.taken.get(token);
        book.levels(taking)
            .take_while(|l| match side {
                Side::Buy => l.price <= limit,
                Side::Sell => l.price >= limit,
            })
            .map(|l| {
                let used = taken
                    .into_iter()
                    .flatten()
                    .filter(|t| t.side == taking && t.price == l.price)
                    .fold(Quantity::ZERO, |a, t| a.saturating_add(t.taken));
                (l.price, l.size.saturating_sub(used))
            })
            .filter(|(_, q)| !q.is_zero())
            .collect()
    }

    fn record_taken(&mut self, token: &TokenId, side: BookSide, price: Price, book: &OrderBook, taken: Quantity) {
        let level_size = book.levels(side).find(|l| l.price == price).map(|l| l.size).unwrap_or(Quantity::ZERO);
        self.taken.entry(*token).or_default().push(Taken { side, price, level_size, taken });
    }

    /// Drops what was taken from levels whose size the venue has since changed (the venue's book
    /// now reflects it, or the level moved on).
    fn forget_changed_levels(&mut self, token: &TokenId, book: &OrderBook) {
        if let Some(list) = self.taken.get_mut(token) {
            list.retain(|t| book.levels(t.side).any(|l| l.price == t.price && l.size == t.level_size));
        }
    }
}

/// A fill of `intent`. Its id is the order's id and the size filled before it: unique per
/// order, and the same however often the engine (or a restarted one) is asked.
fn fill(
    intent: &OrderIntent,
    filled_before: Quantity,
    price: Price,
    size: Quantity,
    fee: Money,
    liquidity: Liquidity,
    now_ns: u64,
) -> ExecEvent {
    ExecEvent::Fill(Fill {
        fill_id: format!("{}:{}", intent.client_order_id, filled_before.micros()),
        client_order_id: intent.client_order_id,
        namespace: intent.namespace.clone(),
        strategy: intent.strategy.clone(),
        risk_policy: intent.risk_policy.clone(),
        market: intent.market,
        token: intent.token,
        side: intent.side,
        price,
        size,
        fee,
        liquidity,
        status: FillStatus::Confirmed,
        mode: intent.mode,
        ts_ns: now_ns,
    })
}

/// `take` of resting order `w` filled as a maker at its price: the fill and the order's update.
fn maker_fill(w: &mut Working, take: Quantity, now_ns: u64, out: &mut Vec<ExecEvent>) {
    out.push(fill(&w.intent, w.filled, w.intent.price, take, Money::ZERO, Liquidity::Maker, now_ns));
    w.filled = w.filled.saturating_add(take);
    let remaining = w.intent.size.saturating_sub(w.filled);
    let status = if remaining.is_zero() { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
    out.push(update(&w.intent, status, w.filled, remaining, None, now_ns));
}

/// The size resting on `side` of `book` at `price` (zero when no level there).
fn level_size(book: &OrderBook, side: BookSide, price: Price) -> Quantity {
    book.levels(side).find(|l| l.price == price).map_or(Quantity::ZERO, |l| l.size)
}

/// Why the venue would refuse sale `intent` for want of shares: it sells more than the account
/// holds (`held`) beyond what its open sales already offer (`offered`); `None` for a buy or a sale
/// the holdings cover. The venue checks the balance of every order as it arrives ("not enough
/// balance"); paper execution, in the agents and in backtests, does the same, so a strategy that
/// offers its shares twice is refused there as it would be live, rather than fill a sale of
/// shares it does not have.
pub fn short_of_shares(intent: &OrderIntent, held: Quantity, offered: Quantity) -> Option<String> {
    let free = held.saturating_sub(offered);
    (intent.side == Side::Sell && intent.size > free).then(|| {
        format!("not enough balance: selling {} shares with {held} held, {offered} offered by open sales", intent.size)
    })
}

/// The update refusing `intent` before it reaches a book (nothing filled, nothing left).
pub fn refusal(intent: &OrderIntent, reason: &str, now_ns: u64) -> ExecEvent {
    update(intent, OrderStatus::Rejected, Quantity::ZERO, intent.size, Some(reason), now_ns)
}

fn update(
    intent: &OrderIntent,
    status: OrderStatus,
    filled: Quantity,
    remaining: Quantity,
    reason: Option<&str>,
    ts_ns: u64,
) -> ExecEvent {
    ExecEvent::Update(OrderUpdate {
        client_order_id: intent.client_order_id,
        namespace: intent.namespace.clone(),
        strategy: intent.strategy.clone(),
        venue_order_id: None,
        status,
        filled,
        remaining,
        reason: reason.map(str::to_owned),
        ts_ns,
    })
}

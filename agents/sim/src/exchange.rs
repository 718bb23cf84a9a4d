//! The simulator's exchange: the venue side of the order API as a sans-IO state machine.
//!
//! Orders (already authenticated and signature-checked by [`crate::venue_auth`]) are matched
//! against the model's books with the core's paper matching engine, so the venue simulator and
//! paper trading agree on fills by construction. On top of matching it keeps what the venue
//! keeps: orders by their venue id (the EIP-712 hash) and owner (API key), trades and their
//! settlement (`MATCHED`, then `CONFIRMED` after a delay or, for a configurable share, `FAILED`),
//! GTD expiry, and the dead-man switch (an owner who started heartbeats and stops sending them
//! has every open order cancelled). Everything it does is reported as user-channel events.
//! Time is passed in.

use std::collections::{HashMap, HashSet, VecDeque};

use polyfleet_core::book::OrderBook;
use polyfleet_core::exec::paper::{ExecEvent, MarketRules, PaperEngine, Print};
use polyfleet_core::wire::{Liquidity, Mode, OrderIntent, OrderStatus, TimeInForce};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::wallets::Wallets;

/// Settlement and safety settings of the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// How long a trade stays `MATCHED` before it settles.
    pub settle_after_ms: u64,
    /// Share of trades that end `FAILED` instead of `CONFIRMED`, per mille.
    pub fail_permille: u32,
    /// Silence after which an owner's open orders are cancelled (once heartbeats started).
    pub heartbeat_window_ms: u64,
    /// Collateral every address starts with on the simulated chain, micro-USDC.
    pub initial_collateral: i128,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            settle_after_ms: 1_500,
            fail_permille: 0,
            heartbeat_window_ms: 10_000,
            initial_collateral: 1_000_000_000_000,
        }
    }
}

/// Time in force as the venue names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueOrderType {
    /// Good till cancelled.
    Gtc,
    /// Expires at this Unix second.
    Gtd(u64),
    /// Fill or kill.
    Fok,
    /// Fill and kill (fill what is there, cancel the rest).
    Fak,
}

impl VenueOrderType {
    fn name(self) -> &'static str {
        match self {
            VenueOrderType::Gtc => "GTC",
            VenueOrderType::Gtd(_) => "GTD",
            VenueOrderType::Fok => "FOK",
            VenueOrderType::Fak => "FAK",
        }
    }
}

/// A verified order, in the exchange's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueOrder {
    /// The order's EIP-712 hash (`0x…`): its venue id.
    pub id: String,
    /// API key of the account that posted it.
    pub owner: Uuid,
    /// Maker (funder) address, `0x…`.
    pub maker: String,
    /// The market (condition id).
    pub market: ConditionId,
    /// The token.
    pub token: TokenId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Size.
    pub size: Quantity,
    /// Time in force.
    pub order_type: VenueOrderType,
    /// Refuse it if it would take.
    pub post_only: bool,
}

/// A user-channel event for `owner` about `market`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvent {
    /// The account (API key) the event is for.
    pub owner: Uuid,
    /// The market it concerns.
    pub market: ConditionId,
    /// The event as the user channel sends it.
    pub body: Value,
}

/// What a successful placement answers (`POST /order`).
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// `live` (resting), `matched` (filled, fully or FAK-partly).
    pub status: &'static str,
    /// What the order gave and got so far (pUSD and shares, by side).
    pub making: Money,
    /// What the order got so far.
    pub taking: Money,
    /// Trades it matched at once.
    pub trade_ids: Vec<String>,
    /// User-channel events the placement caused.
    pub events: Vec<UserEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TradeState {
    Matched,
    Confirmed,
    Failed,
}

impl TradeState {
    fn name(self) -> &'static str {
        match self {
            TradeState::Matched => "MATCHED",
            TradeState::Confirmed => "CONFIRMED",
            TradeState::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone)]
struct Trade {
    id: String,
    order: String,
    liquidity: Liquidity,
    price: Price,
    size: Quantity,
    fee: Money,
    state: TradeState,
    match_ms: u64,
    last_ms: u64,
}

#[derive(Debug, Clone)]
struct OrderRec {
    order: VenueOrder,
    cid: ClientOrderId,
    matched: Quantity,
    open: bool,
    cancelled: bool,
    trades: Vec<String>,
    created_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Heartbeat {
    id: Uuid,
    last_ms: u64,
}

/// The exchange.
#[derive(Debug, Default)]
pub struct Exchange {
    cfg: ExchangeConfig,
    engine: PaperEngine,
    orders: HashMap<String, OrderRec>,
    by_cid: HashMap<ClientOrderId, String>,
    trades: Vec<Trade>,
    trade_index: HashMap<String, usize>,
    settling: VecDeque<usize>,
    heartbeats: HashMap<Uuid, Heartbeat>,
    seen: HashSet<String>,
    next: u64,
    /// Balances on the simulated chain (moved by confirmed trades and conditional-token calls).
    pub wallets: Wallets,
}

impl Exchange {
    /// An exchange with no orders.
    pub fn new(cfg: ExchangeConfig) -> Exchange {
        Exchange { cfg, wallets: Wallets::new(cfg.initial_collateral), ..Exchange::default() }
    }

    /// Current settings.
    pub fn config(&self) -> ExchangeConfig {
        self.cfg
    }

    /// Changes the share of trades that fail.
    pub fn set_fail_permille(&mut self, permille: u32) {
        self.cfg.fail_permille = permille.min(1000);
    }

    /// Tokens with resting orders (their books are matched again as they change).
    pub fn resting_tokens(&self) -> Vec<TokenId> {
        let mut v: Vec<TokenId> = self.orders.values().filter(|o| o.open).map(|o| o.order.token).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Orders open now, over every owner.
    pub fn open_count(&self) -> usize {
        self.orders.values().filter(|o| o.open).count()
    }

    /// Orders ever posted (accepted), for tests and metrics.
    pub fn orders_accepted(&self) -> usize {
        self.orders.len()
    }

    /// Matches a verified order against `book`; `Err` is the venue's error message.
    pub fn place(
        &mut self,
        order: VenueOrder,
        book: &OrderBook,
        rules: &MarketRules,
        now_ms: u64,
    ) -> Result<Placed, String> {
        if !self.seen.insert(order.id.clone()) {
            return Err(format!("order {} is invalid. Duplicated.", order.id));
        }
        if let Some(short) = self.funds_short(&order, rules) {
            return Err(short);
        }
        self.next += 1;
        let cid = ClientOrderId::new(&format!("v{}", self.next)).map_err(|e| e.to_string())?;
        let intent = intent_of(&order, cid);
        let events = self.engine.submit(&intent, book, rules, now_ms * 1_000_000);
        let mut out = vec![];
        let mut trade_ids = vec![];
        let mut final_status = OrderStatus::Rejected;
        let mut reason = None;
        let rec = OrderRec {
            order: order.clone(),
            cid,
            matched: Quantity::ZERO,
            open: false,
            cancelled: false,
            trades: vec![],
            created_ms: now_ms,
        };
        for e in &events {
            if let ExecEvent::Update(u) = e {
                final_status = u.status;
                reason = u.reason.clone();
            }
        }
        let filled_any = events.iter().any(|e| matches!(e, ExecEvent::Fill(_)));
        match final_status {
            OrderStatus::Rejected => return Err(reason.unwrap_or_else(|| "order rejected".into())),
            OrderStatus::Cancelled if !filled_any => {
                return Err(match order.order_type {
                    VenueOrderType::Fok => {
                        "order couldn't be fully filled. FOK orders are fully filled or killed.".to_string()
                    }
                    _ => "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found.".to_string(),
                });
            }
            _ => {}
        }
        self.by_cid.insert(cid, order.id.clone());
        self.orders.insert(order.id.clone(), rec);
        let resting = matches!(final_status, OrderStatus::Resting | OrderStatus::PartiallyFilled);
        if resting {
            out.push(self.order_event(&order.id, "PLACEMENT", now_ms));
        }
        for e in events {
            if let ExecEvent::Fill(f) = e {
                let (id, ev) = self.record_trade(&order.id, &f, Liquidity::Taker, now_ms);
                trade_ids.push(id);
                out.extend(ev);
            }
        }
        let rec = self.orders.get_mut(&order.id).ok_or("order vanished")?;
        rec.open = resting;
        let (making, taking) = amounts(order.side, order.price, rec.matched);
        let status = if resting && rec.matched.is_zero() { "live" } else { "matched" };
        Ok(Placed { status, making, taking, trade_ids, events: out })
    }

    /// The books of `token` changed: resting orders it crosses fill as makers.
    pub fn on_book(&mut self, token: &TokenId, book: &OrderBook, now_ms: u64) -> Vec<UserEvent> {
        let events = self.engine.on_book(token, book, now_ms * 1_000_000);
        self.maker_events(events, now_ms)
    }

    /// The model's flow traded: resting orders it reaches fill as makers, behind the queue ahead
    /// of them (the paper engine's `on_print`).
    pub fn on_print(&mut self, p: &Print, now_ms: u64) -> Vec<UserEvent> {
        let events = self.engine.on_print(p, now_ms * 1_000_000);
        self.maker_events(events, now_ms)
    }

    /// The engine's maker fills and updates as the user channel's events.
    fn maker_events(&mut self, events: Vec<ExecEvent>, now_ms: u64) -> Vec<UserEvent> {
        let mut out = vec![];
        for e in events {
            match e {
                ExecEvent::Fill(f) => {
                    let Some(id) = self.by_cid.get(&f.client_order_id).cloned() else { continue };
                    let (_, ev) = self.record_trade(&id, &f, Liquidity::Maker, now_ms);
                    out.extend(ev);
                }
                ExecEvent::Update(u) => {
                    let Some(id) = self.by_cid.get(&u.client_order_id).cloned() else { continue };
                    if u.status == OrderStatus::Filled
                        && let Some(rec) = self.orders.get_mut(&id)
                    {
                        rec.open = false;
                    }
                    out.push(self.order_event(&id, "UPDATE", now_ms));
                }
            }
        }
        out
    }

    /// Cancels `owner`'s order `id`; `Err` says why it was not cancelled.
    pub fn cancel(&mut self, owner: Uuid, id: &str, now_ms: u64) -> Result<UserEvent, String> {
        let Some(rec) = self.orders.get(id) else { return Err("order not found".into()) };
        if rec.order.owner != owner {
            return Err("order not found".into());
        }
        if !rec.open {
            return Err(if rec.cancelled { "order already canceled" } else { "order already matched" }.into());
        }
        let cid = rec.cid;
        self.engine.cancel(&cid, "cancelled", now_ms * 1_000_000);
        if let Some(rec) = self.orders.get_mut(id) {
            rec.open = false;
            rec.cancelled = true;
        }
        Ok(self.order_event(id, "CANCELLATION", now_ms))
    }

    /// Open orders of `owner`, optionally only in `market` / of `token`, oldest first.
    pub fn open_ids(&self, owner: Uuid, market: Option<ConditionId>, token: Option<TokenId>) -> Vec<String> {
        let mut v: Vec<&OrderRec> = self
            .orders
            .values()
            .filter(|r| r.open && r.order.owner == owner)
            .filter(|r| market.is_none_or(|m| r.order.market == m))
            .filter(|r| token.is_none_or(|t| r.order.token == t))
            .collect();
        v.sort_by_key(|r| (r.created_ms, r.cid));
        v.into_iter().map(|r| r.order.id.clone()).collect()
    }

    /// Records a heartbeat of `owner`: `None` starts a chain, `Some` must continue the current
    /// one. Returns the id to send next.
    pub fn heartbeat(&mut self, owner: Uuid, id: Option<Uuid>, now_ms: u64) -> Result<Uuid, String> {
        if let Some(given) = id {
            match self.heartbeats.get(&owner) {
                Some(h) if h.id == given => {}
                _ => return Err(format!("invalid heartbeat id {given}")),
            }
        }
        let next = Uuid::new_v4();
        self.heartbeats.insert(owner, Heartbeat { id: next, last_ms: now_ms });
        Ok(next)
    }

    /// Advances time: GTD expiry, the dead-man switch, trade settlement.
    pub fn tick(&mut self, now_ms: u64) -> Vec<UserEvent> {
        let mut out = vec![];
        for e in self.engine.expire(now_ms / 1000, now_ms * 1_000_000) {
            if let ExecEvent::Update(u) = e
                && let Some(id) = self.by_cid.get(&u.client_order_id).cloned()
            {
                if let Some(rec) = self.orders.get_mut(&id) {
                    rec.open = false;
                    rec.cancelled = true;
                }
                out.push(self.order_event(&id, "CANCELLATION", now_ms));
            }
        }
        let window = self.cfg.heartbeat_window_ms;
        let mut dead: Vec<Uuid> = self
            .heartbeats
            .iter()
            .filter(|(_, h)| now_ms.saturating_sub(h.last_ms) > window)
            .map(|(o, _)| *o)
            .collect();
        dead.sort();
        for owner in dead {
            self.heartbeats.remove(&owner);
            for id in self.open_ids(owner, None, None) {
                if let Ok(ev) = self.cancel(owner, &id, now_ms) {
                    out.push(ev);
                }
            }
        }
        while let Some(&i) = self.settling.front() {
            if self.trades[i].match_ms + self.cfg.settle_after_ms > now_ms {
                break;
            }
            self.settling.pop_front();
            // Deterministic choice of the failing share: spread over trade numbers.
            let fails = (i as u64 * 617 + 211) % 1000 < u64::from(self.cfg.fail_permille);
            let t = &mut self.trades[i];
            t.state = if fails { TradeState::Failed } else { TradeState::Confirmed };
            t.last_ms = now_ms;
            let id = t.id.clone();
            if !fails {
                self.settle_on_chain(i);
            }
            if let Some(ev) = self.trade_event(&id) {
                out.push(ev);
            }
        }
        out
    }

    /// Why `order` may not rest or trade on its maker's funds: what it needs (a buy's cost and
    /// taker fee, a sell's shares) with the maker's open orders passes the balance or, for
    /// collateral, the allowance.
    fn funds_short(&self, order: &VenueOrder, rules: &MarketRules) -> Option<String> {
        use polyfleet_core::exec::funds::{Asset, committed, need};
        let maker = order.maker.parse::<alloy::primitives::Address>().ok()?;
        let cid = ClientOrderId::new("funds").ok()?;
        let (asset, needed) = need(&intent_of(order, cid), &rules.fees);
        let open: Vec<(OrderIntent, Quantity)> = self
            .orders
            .values()
            .filter(|r| r.open && !r.cancelled && r.order.maker == order.maker)
            .map(|r| (intent_of(&r.order, r.cid), r.order.size.saturating_sub(r.matched)))
            .collect();
        let fees = open.iter().map(|(i, _)| (i.token, rules.fees)).collect();
        let held = committed(asset, open.iter().map(|(i, q)| (i, *q)), &fees);
        let total = i128::from(held) + i128::from(needed);
        let balance = self.held(&maker, asset);
        let allowance = match asset {
            Asset::Collateral => self.wallets.allowance(&maker),
            Asset::Token(_) => i128::MAX,
        };
        (total > balance || total > allowance).then(|| {
            format!(
                "not enough balance / allowance: {asset} balance {balance}, allowance {}, open orders {held}, order {needed}",
                if allowance == i128::MAX { "unlimited".to_string() } else { allowance.to_string() }
            )
        })
    }

    /// What trade `i` moves for its maker: (maker, token, shares, collateral), a buy giving
    /// tokens for its cost and fee, a sell taking tokens for its proceeds less the fee.
    fn trade_effect(&self, i: usize) -> Option<(alloy::primitives::Address, TokenId, i128, i128)> {
        let t = &self.trades[i];
        let o = self.orders.get(&t.order).map(|r| &r.order)?;
        let maker = o.maker.parse::<alloy::primitives::Address>().ok()?;
        let shares = i128::from(t.size.micros());
        let cash = t.price.notional(t.size, polyfleet_core::Rounding::Down).map_or(0, |m| i128::from(m.micros()));
        let fee = i128::from(t.fee.micros());
        Some(match o.side {
            Side::Buy => (maker, o.token, shares, -(cash + fee)),
            Side::Sell => (maker, o.token, -shares, cash - fee),
        })
    }

    /// A confirmed trade moves the maker wallet's balances.
    fn settle_on_chain(&mut self, i: usize) {
        if let Some((maker, token, shares, cash)) = self.trade_effect(i) {
            self.wallets.move_tokens(&maker, &token, shares);
            self.wallets.move_collateral(&maker, cash);
        }
    }

    /// What `who` holds of `asset` as the venue counts it: the chain's balance moved by the
    /// trades matched and not yet settled (so shares just bought can be sold at once).
    pub fn held(&self, who: &alloy::primitives::Address, asset: polyfleet_core::exec::funds::Asset) -> i128 {
        use polyfleet_core::exec::funds::Asset;
        let pending = self.settling.iter().filter_map(|&i| self.trade_effect(i)).filter(|(m, ..)| m == who);
        match asset {
            Asset::Collateral => self.wallets.collateral(who) + pending.map(|(.., cash)| cash).sum::<i128>(),
            Asset::Token(t) => {
                self.wallets.tokens(who, &t)
                    + pending.filter(|(_, tok, ..)| *tok == t).map(|(_, _, shares, _)| shares).sum::<i128>()
            }
        }
    }

    /// The venue's view of order `id` (`GET /data/order/{id}`), if `owner` posted it.
    pub fn order_json(&self, owner: Uuid, id: &str) -> Option<Value> {
        let rec = self.orders.get(id).filter(|r| r.order.owner == owner)?;
        let o = &rec.order;
        let expiration = match o.order_type {
            VenueOrderType::Gtd(s) => s,
            _ => 0,
        };
        Some(json!({
            "id": o.id,
            "status": order_status(rec),
            "owner": o.owner.to_string(),
            "maker_address": o.maker,
            "market": o.market.to_string(),
            "asset_id": o.token.to_string(),
            "side": side_name(o.side),
            "original_size": o.size.to_string(),
            "size_matched": rec.matched.to_string(),
            "price": o.price.to_string(),
            "associate_trades": rec.trades,
            "outcome": "",
            "created_at": rec.created_ms / 1000,
            "expiration": expiration.to_string(),
            "order_type": o.order_type.name(),
        }))
    }

    /// Trades of `owner`'s orders (`GET /data/trades`), oldest first.
    pub fn trades_json(&self, owner: Uuid) -> Vec<Value> {
        self.trades
            .iter()
            .filter(|t| self.orders.get(&t.order).is_some_and(|r| r.order.owner == owner))
            .filter_map(|t| self.trade_body(&t.id))
            .collect()
    }

    fn record_trade(
        &mut self,
        order: &str,
        fill: &polyfleet_core::wire::Fill,
        liquidity: Liquidity,
        now_ms: u64,
    ) -> (String, Option<UserEvent>) {
        let (price, size) = (fill.price, fill.size);
        let i = self.trades.len();
        let id = format!("sim-trade-{}", i + 1);
        self.trades.push(Trade {
            id: id.clone(),
            order: order.to_string(),
            liquidity,
            price,
            size,
            fee: fill.fee,
            state: TradeState::Matched,
            match_ms: now_ms,
            last_ms: now_ms,
        });
        self.trade_index.insert(id.clone(), i);
        self.settling.push_back(i);
        if let Some(rec) = self.orders.get_mut(order) {
            rec.matched = rec.matched.saturating_add(size);
            rec.trades.push(id.clone());
        }
        // The trade was just recorded, so its event exists.
        let ev = self.trade_event(&id);
        (id, ev)
    }

    fn trade_body(&self, id: &str) -> Option<Value> {
        let t = &self.trades[*self.trade_index.get(id)?];
        let rec = self.orders.get(&t.order)?;
        let o = &rec.order;
        let (taker_order_id, trader_side, maker_orders) = match t.liquidity {
            Liquidity::Taker => (o.id.clone(), "TAKER", json!([])),
            Liquidity::Maker => (
                format!("0x{:064x}", self.trade_index[id] + 1),
                "MAKER",
                json!([{
                    "order_id": o.id,
                    "owner": o.owner.to_string(),
                    "maker_address": o.maker,
                    "matched_amount": t.size.to_string(),
                    "price": t.price.to_string(),
                    "fee_rate_bps": "0",
                    "asset_id": o.token.to_string(),
                    "outcome": "",
                    "side": side_name(o.side),
                }]),
            ),
        };
        Some(json!({
            "event_type": "trade",
            "type": "TRADE",
            "id": t.id,
            "taker_order_id": taker_order_id,
            "market": o.market.to_string(),
            "asset_id": o.token.to_string(),
            "side": side_name(o.side),
            "size": t.size.to_string(),
            "price": t.price.to_string(),
            "fee_rate_bps": "0",
            "status": t.state.name(),
            "match_time": (t.match_ms / 1000).to_string(),
            "matchtime": (t.match_ms / 1000).to_string(),
            "last_update": (t.last_ms / 1000).to_string(),
            "outcome": "",
            "bucket_index": 0,
            "owner": o.owner.to_string(),
            "maker_address": o.maker,
            "maker_orders": maker_orders,
            "transaction_hash": if t.state == TradeState::Matched { String::new() } else { format!("0x{:064x}", self.trade_index[id] + 1) },
            "trader_side": trader_side,
            "timestamp": t.last_ms.to_string(),
        }))
    }

    fn trade_event(&self, id: &str) -> Option<UserEvent> {
        let t = &self.trades[*self.trade_index.get(id)?];
        let o = &self.orders.get(&t.order)?.order;
        Some(UserEvent { owner: o.owner, market: o.market, body: self.trade_body(id)? })
    }

    fn order_event(&self, id: &str, kind: &str, now_ms: u64) -> UserEvent {
        let rec = &self.orders[id];
        let o = &rec.order;
        UserEvent {
            owner: o.owner,
            market: o.market,
            body: json!({
                "event_type": "order",
                "type": kind,
                "id": o.id,
                "market": o.market.to_string(),
                "asset_id": o.token.to_string(),
                "side": side_name(o.side),
                "price": o.price.to_string(),
                "original_size": o.size.to_string(),
                "size_matched": rec.matched.to_string(),
                "outcome": "",
                "owner": o.owner.to_string(),
                "order_owner": o.owner.to_string(),
                "associate_trades": rec.trades,
                "status": order_status(rec),
                "order_type": o.order_type.name(),
                "timestamp": now_ms.to_string(),
            }),
        }
    }
}

fn order_status(rec: &OrderRec) -> &'static str {
    if rec.open {
        "LIVE"
    } else if rec.cancelled {
        "CANCELED"
    } else {
        "MATCHED"
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// What an order gave and got for `filled` shares at `price`: (making, taking).
fn amounts(side: Side, price: Price, filled: Quantity) -> (Money, Money) {
    let shares = Money::from_micros_i128(i128::from(filled.micros())).unwrap_or_default();
    let cash = price.notional(filled, polyfleet_core::Rounding::Down).unwrap_or_default();
    match side {
        Side::Buy => (cash, shares),
        Side::Sell => (shares, cash),
    }
}

/// The paper engine's view of a venue order.
fn intent_of(o: &VenueOrder, cid: ClientOrderId) -> OrderIntent {
    OrderIntent {
        client_order_id: cid,
        group: None,
        namespace: "venue".into(),
        strategy: o.owner.to_string(),
        risk_policy: String::new(),
        venue: "simulator".into(),
        market: o.market,
        token: o.token,
        side: o.side,
        price: o.price,
        size: o.size,
        tif: match o.order_type {
            VenueOrderType::Gtc => TimeInForce::Gtc,
            VenueOrderType::Gtd(s) => TimeInForce::Gtd { expires_at_s: s },
            VenueOrderType::Fok => TimeInForce::Fok,
            VenueOrderType::Fak => TimeInForce::Fak,
        },
        post_only: o.post_only,
        mode: Mode::Live,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
        outcome: None,
        kelly: None,
    }
}

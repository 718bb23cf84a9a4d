//! What the live executor knows of its orders at the venue, sans-IO: venue order id ↔ client
//! order id and intent, and the translation of the venue's answers (the `POST /order` reply,
//! user-channel and REST `order`/`trade` events) into the order updates and fills the rest of
//! the fleet understands.
//!
//! Trades settle in two steps: a fill is booked when the venue first reports it (`MATCHED`,
//! `MINED`, `RETRYING`, or straight `CONFIRMED`), its finality is reported once (`CONFIRMED`),
//! and a `FAILED` trade is reported as a fill with status `Failed`, which the ledger and the
//! risk store reverse. Each (trade, order) pair is one fill, reported at most once per status,
//! however often the venue or a reconciliation repeats it.

use std::collections::HashMap;

use crate::websocket::user::{OrderEvent, OrderEventKind, TradeEvent, TradeStatus};
use polyfleet_core::exec::paper::ExecEvent;
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::wire::{Fill, FillStatus, Liquidity, OrderIntent, OrderStatus, OrderUpdate, TimeInForce};
use polyfleet_core::{ClientOrderId, Money, Price, Quantity, TokenMap};

/// What `POST /order` said about an accepted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// Resting, nothing matched.
    Live,
    /// Matched `filled` shares at once (the rest rests for GTC/GTD, is cancelled for FOK/FAK).
    Matched {
        /// Shares matched at once.
        filled: Quantity,
    },
    /// Accepted, matching delayed (sports markets): treated as working.
    Delayed,
}

#[derive(Debug, Clone)]
struct Tracked {
    intent: OrderIntent,
    /// Shares filled, from trades (less FAILED ones).
    filled: Quantity,
    /// Shares the venue said matched when it took the order, and shares seen in trades since:
    /// the order is not settled before its trades have all been seen.
    reported: Quantity,
    traded: Quantity,
    /// No further updates (filled, cancelled, expired).
    done: bool,
    /// When tracking began (a reconciliation only judges orders older than its snapshot).
    since_ns: u64,
}

/// One tracked order's part in a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    /// The venue order id.
    pub venue_id: String,
    /// `<trade id>:<order id prefix>`: the fill's id.
    pub fill_id: String,
    /// Fill price.
    pub price: Price,
    /// Fill size.
    pub size: Quantity,
    /// Maker or taker.
    pub liquidity: Liquidity,
}

/// The fill status a trade status means.
pub fn fill_status(s: TradeStatus) -> FillStatus {
    match s {
        TradeStatus::Matched | TradeStatus::Mined | TradeStatus::Retrying => FillStatus::Matched,
        TradeStatus::Confirmed => FillStatus::Confirmed,
        TradeStatus::Failed => FillStatus::Failed,
    }
}

/// Settlement seen per fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    status: FillStatus,
}

/// The live executor's order book-keeping.
#[derive(Debug, Default)]
pub struct Tracker {
    orders: HashMap<String, Tracked>,
    by_client: HashMap<ClientOrderId, String>,
    fills: HashMap<String, Seen>,
    /// Fills of each order not yet final (MATCHED), by venue order id.
    unsettled: HashMap<String, u32>,
    fees: TokenMap<FeeSchedule>,
}

fn update(
    t: &Tracked,
    venue_id: &str,
    status: OrderStatus,
    remaining: Quantity,
    reason: Option<String>,
    now_ns: u64,
) -> ExecEvent {
    ExecEvent::Update(OrderUpdate {
        client_order_id: t.intent.client_order_id,
        namespace: t.intent.namespace.clone(),
        strategy: t.intent.strategy.clone(),
        venue_order_id: Some(venue_id.to_string()),
        status,
        filled: t.filled,
        remaining,
        reason,
        ts_ns: now_ns,
    })
}

fn rests(tif: TimeInForce) -> bool {
    matches!(tif, TimeInForce::Gtc | TimeInForce::Gtd { .. })
}

impl Tracker {
    /// A tracker charging taker fees per token as `fees` says (tokens not in it: no fee).
    pub fn new(fees: TokenMap<FeeSchedule>) -> Tracker {
        Tracker { fees, ..Tracker::default() }
    }

    /// Charges `token`'s taker fees as `fees` says from now on (a token it knows keeps its own).
    pub fn add_fees(&mut self, token: polyfleet_core::TokenId, fees: FeeSchedule) {
        self.fees.entry(token).or_insert(fees);
    }

    /// Starts tracking `intent`, known at the venue as `venue_id`.
    pub fn track(&mut self, venue_id: &str, intent: &OrderIntent, now_ns: u64) {
        self.by_client.insert(intent.client_order_id, venue_id.to_string());
        self.orders.entry(venue_id.to_string()).or_insert_with(|| Tracked {
            intent: intent.clone(),
            filled: Quantity::ZERO,
            reported: Quantity::ZERO,
            traded: Quantity::ZERO,
            done: false,
            since_ns: now_ns,
        });
    }

    /// Stops tracking an order the venue refused.
    pub fn forget(&mut self, venue_id: &str) {
        if let Some(t) = self.orders.remove(venue_id) {
            self.by_client.remove(&t.intent.client_order_id);
        }
        self.unsettled.remove(venue_id);
    }

    /// Records a fill as already reported with `status` (booked before a restart), so that
    /// repeats report only what is new.
    pub fn seed(&mut self, leg: &Leg, status: FillStatus) {
        if let Some(t) = self.orders.get_mut(&leg.venue_id) {
            t.filled = t.filled.saturating_add(leg.size);
            t.traded = t.traded.saturating_add(leg.size);
        }
        if status == FillStatus::Matched {
            *self.unsettled.entry(leg.venue_id.clone()).or_default() += 1;
        }
        self.fills.insert(leg.fill_id.clone(), Seen { status });
    }

    /// The parts tracked orders play in `trade`.
    pub fn legs(&self, trade: &TradeEvent) -> Vec<Leg> {
        let mut legs = vec![];
        let mut leg = |venue_id: &str, price: Price, size: Quantity, liquidity: Liquidity| {
            if self.orders.contains_key(venue_id) {
                let fill_id = format!("{}:{}", trade.id, &venue_id[..venue_id.len().min(18)]);
                legs.push(Leg { venue_id: venue_id.to_string(), fill_id, price, size, liquidity });
            }
        };
        leg(&trade.taker_order_id, trade.price, trade.size, Liquidity::Taker);
        for m in &trade.maker_orders {
            leg(&m.order_id, m.price, m.matched, Liquidity::Maker);
        }
        legs
    }

    /// A REST snapshot of the open orders, taken at `as_of_ns`: tracked working orders (older
    /// than the snapshot) it does not list are over: filled if their trades say so, else
    /// cancelled at the venue.
    pub fn reconciled(&mut self, open: &[String], as_of_ns: u64, now_ns: u64) -> Vec<ExecEvent> {
        let gone: Vec<String> = self
            .orders
            .iter()
            .filter(|(id, t)| !t.done && t.since_ns < as_of_ns && !open.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = vec![];
        for id in gone {
            let Some(t) = self.orders.get_mut(&id) else { continue };
            if t.filled >= t.intent.size {
                t.done = true;
                out.push(update(t, &id, OrderStatus::Filled, Quantity::ZERO, None, now_ns));
            } else {
                out.extend(self.cancelled(&id, "no longer open at the venue (reconciled)", now_ns));
            }
        }
        out
    }

    /// The venue id of a tracked order.
    pub fn venue_id(&self, id: &ClientOrderId) -> Option<&str> {
        self.by_client.get(id).map(String::as_str)
    }

    /// The intent behind a venue order.
    pub fn intent(&self, venue_id: &str) -> Option<&OrderIntent> {
        self.orders.get(venue_id).map(|t| &t.intent)
    }

    /// Whether the order may still trade.
    pub fn is_working(&self, venue_id: &str) -> bool {
        self.orders.get(venue_id).is_some_and(|t| !t.done)
    }

    /// Every order still working with the shares it may still trade.
    pub fn open_remaining(&self) -> impl Iterator<Item = (&OrderIntent, Quantity)> {
        self.orders.values().filter(|t| !t.done).map(|t| (&t.intent, t.intent.size.saturating_sub(t.filled)))
    }

    /// Venue ids of every order still working, sorted.
    pub fn working(&self) -> Vec<String> {
        let mut v: Vec<String> = self.orders.iter().filter(|(_, t)| !t.done).map(|(id, _)| id.clone()).collect();
        v.sort();
        v
    }

    /// The venue accepted the order; what to report.
    pub fn on_posted(&mut self, venue_id: &str, posted: Posted, now_ns: u64) -> Vec<ExecEvent> {
        let Some(t) = self.orders.get_mut(venue_id) else { return vec![] };
        let size = t.intent.size;
        let (status, remaining, reason) = match posted {
            Posted::Live | Posted::Delayed => (OrderStatus::Resting, size, None),
            Posted::Matched { filled } if filled >= size => (OrderStatus::Filled, Quantity::ZERO, None),
            Posted::Matched { filled } if rests(t.intent.tif) => {
                (OrderStatus::PartiallyFilled, size.saturating_sub(filled), None)
            }
            Posted::Matched { .. } => (OrderStatus::Cancelled, Quantity::ZERO, Some("FAK: remainder cancelled".into())),
        };
        t.done = status.is_terminal();
        // The update reports what the venue said matched; the fills follow as trades.
        let reported = match posted {
            Posted::Matched { filled } => filled.min(size),
            _ => Quantity::ZERO,
        };
        t.reported = t.reported.max(reported);
        let mut ev = update(t, venue_id, status, remaining, reason, now_ns);
        if let ExecEvent::Update(u) = &mut ev {
            u.filled = u.filled.max(reported);
        }
        vec![ev]
    }

    /// A trade event (user channel or REST): the fills of tracked orders in it.
    pub fn on_trade(&mut self, trade: &TradeEvent, now_ns: u64) -> Vec<ExecEvent> {
        let status = fill_status(trade.status);
        let mut out = vec![];
        for Leg { venue_id, fill_id, price, size, liquidity } in self.legs(trade) {
            let before = self.fills.get(&fill_id).map(|s| s.status);
            let report = match (before, status) {
                // A trade that failed before it was ever seen changed nothing.
                (None, FillStatus::Failed) => false,
                (None, _) => true,
                (Some(FillStatus::Matched), FillStatus::Confirmed | FillStatus::Failed) => true,
                _ => false,
            };
            if report || before.is_none() {
                self.fills.insert(fill_id.clone(), Seen { status });
            }
            if !report {
                if before.is_none()
                    && let Some(t) = self.orders.get_mut(&venue_id)
                {
                    // Failed before it was seen: nothing to book, but its trade is accounted for.
                    t.traded = t.traded.saturating_add(size);
                }
                continue;
            }
            // `legs` lists only tracked orders.
            let Some(t) = self.orders.get_mut(&venue_id) else { continue };
            let unsettled = self.unsettled.entry(venue_id.clone()).or_default();
            match (before, status) {
                (None, FillStatus::Matched) => *unsettled += 1,
                (Some(_), _) => *unsettled = unsettled.saturating_sub(1),
                _ => {}
            }
            let first = before.is_none();
            if first {
                t.filled = t.filled.saturating_add(size);
                t.traded = t.traded.saturating_add(size);
            } else if status == FillStatus::Failed {
                t.filled = t.filled.saturating_sub(size);
            }
            let fee = match liquidity {
                Liquidity::Taker => {
                    self.fees.get(&t.intent.token).and_then(|f| f.taker_fee(price, size)).unwrap_or(Money::ZERO)
                }
                Liquidity::Maker => Money::ZERO,
            };
            let i = &t.intent;
            out.push(ExecEvent::Fill(Fill {
                fill_id,
                client_order_id: i.client_order_id,
                namespace: i.namespace.clone(),
                strategy: i.strategy.clone(),
                risk_policy: i.risk_policy.clone(),
                market: i.market,
                token: i.token,
                side: i.side,
                price,
                size,
                fee,
                liquidity,
                status,
                mode: i.mode,
                ts_ns: now_ns,
            }));
            // A resting order's maker fills move its status.
            if first && liquidity == Liquidity::Maker && !t.done {
                let remaining = i.size.saturating_sub(t.filled);
                let st = if remaining.is_zero() { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
                t.done = st.is_terminal();
                out.push(update(t, &venue_id, st, remaining, None, now_ns));
            }
        }
        out
    }

    /// An order event: a cancellation (by request, the dead-man switch, expiry or the venue) ends
    /// a working order.
    pub fn on_order(&mut self, ev: &OrderEvent, now_ns: u64) -> Vec<ExecEvent> {
        if ev.kind != OrderEventKind::Cancellation {
            return vec![];
        }
        let reason = match ev.status.as_str() {
            "CANCELED" => "cancelled at the venue".to_string(),
            s => format!("cancelled at the venue: {}", s.trim_start_matches("CANCELED_")),
        };
        self.cancelled(&ev.id, &reason, now_ns)
    }

    /// The venue says the order is cancelled.
    pub fn cancelled(&mut self, venue_id: &str, reason: &str, now_ns: u64) -> Vec<ExecEvent> {
        let Some(t) = self.orders.get_mut(venue_id) else { return vec![] };
        if t.done {
            return vec![];
        }
        t.done = true;
        let expired = match t.intent.tif {
            TimeInForce::Gtd { expires_at_s } => now_ns / 1_000_000_000 >= expires_at_s,
            _ => false,
        };
        let status = if expired { OrderStatus::Expired } else { OrderStatus::Cancelled };
        vec![update(t, venue_id, status, Quantity::ZERO, Some(reason.to_string()), now_ns)]
    }

    /// Orders that are over and whose fills are all final: forgotten here, and returned so the
    /// caller forgets them in the store too.
    pub fn take_settled(&mut self) -> Vec<String> {
        let mut done: Vec<String> = self
            .orders
            .iter()
            .filter(|(id, t)| t.done && t.traded >= t.reported && self.unsettled.get(*id).copied().unwrap_or(0) == 0)
            .map(|(id, _)| id.clone())
            .collect();
        done.sort();
        for id in &done {
            if let Some(t) = self.orders.remove(id) {
                self.by_client.remove(&t.intent.client_order_id);
            }
            self.unsettled.remove(id);
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use crate::websocket::user::MakerFill;
    use polyfleet_core::wire::Mode;
    use polyfleet_core::{ConditionId, Side, TokenId};

    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }
    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn intent(id: &str, tif: TimeInForce) -> OrderIntent {
        OrderIntent {
            client_order_id: ClientOrderId::new(id).unwrap(),
            group: None,
            namespace: "ns".into(),
            strategy: "s".into(),
            risk_policy: "rp".into(),
            venue: "poly".into(),
            market: ConditionId::from_bytes([1; 32]),
            token: TokenId::from_u128(5),
            side: Side::Buy,
            price: p("0.40"),
            size: q("10"),
            tif,
            post_only: false,
            mode: Mode::Live,
            cause_seq: 0,
            cause_recv_ts_ns: 0,
            created_ts_ns: 0,
            outcome: None,
            kelly: None,
        }
    }

    fn trade(id: &str, status: TradeStatus, taker: &str, makers: &[(&str, &str)]) -> TradeEvent {
        TradeEvent {
            id: id.into(),
            status,
            taker_order_id: taker.into(),
            side: Side::Sell,
            price: p("0.40"),
            size: q("10"),
            maker_orders: makers
                .iter()
                .map(|(o, m)| MakerFill { order_id: o.to_string(), matched: q(m), price: p("0.40") })
                .collect(),
        }
    }

    impl Tracker {
        fn track_at(&mut self, id: &str, i: &OrderIntent) {
            self.track(id, i, 0);
        }
    }

    fn fills(ev: &[ExecEvent]) -> Vec<(String, FillStatus, Quantity)> {
        ev.iter()
            .filter_map(|e| match e {
                ExecEvent::Fill(f) => Some((f.fill_id.clone(), f.status, f.size)),
                _ => None,
            })
            .collect()
    }

    fn statuses(ev: &[ExecEvent]) -> Vec<(OrderStatus, Quantity)> {
        ev.iter()
            .filter_map(|e| match e {
                ExecEvent::Update(u) => Some((u.status, u.filled)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_resting_order_fills_as_maker_settles_and_is_forgotten() {
        let mut t = Tracker::new(TokenMap::default());
        t.track_at("0xaa", &intent("c1", TimeInForce::Gtc));
        assert_eq!(statuses(&t.on_posted("0xaa", Posted::Live, 1)), vec![(OrderStatus::Resting, Quantity::ZERO)]);
        let m = t.on_trade(&trade("t1", TradeStatus::Matched, "0xother", &[("0xaa", "4")]), 2);
        assert_eq!(fills(&m), vec![("t1:0xaa".to_string(), FillStatus::Matched, q("4"))]);
        assert_eq!(statuses(&m), vec![(OrderStatus::PartiallyFilled, q("4"))]);
        // Repeats (user channel then REST reconciliation) report nothing more.
        assert!(t.on_trade(&trade("t1", TradeStatus::Mined, "0xother", &[("0xaa", "4")]), 3).is_empty());
        let rest = t.on_trade(&trade("t2", TradeStatus::Confirmed, "0xother", &[("0xaa", "6")]), 4);
        assert_eq!(statuses(&rest), vec![(OrderStatus::Filled, q("10"))]);
        // Filled but t1 not final yet: still remembered.
        assert!(t.take_settled().is_empty());
        let c = t.on_trade(&trade("t1", TradeStatus::Confirmed, "0xother", &[("0xaa", "4")]), 5);
        assert_eq!(fills(&c), vec![("t1:0xaa".to_string(), FillStatus::Confirmed, q("4"))]);
        assert!(t.on_trade(&trade("t1", TradeStatus::Confirmed, "0xother", &[("0xaa", "4")]), 6).is_empty());
        assert_eq!(t.take_settled(), vec!["0xaa".to_string()]);
        assert!(t.intent("0xaa").is_none());
    }

    #[test]
    fn a_failed_trade_is_reported_once_for_reversal() {
        let fees: TokenMap<FeeSchedule> =
            [(TokenId::from_u128(5), FeeSchedule { rate_bps: 720, exponent: 1 })].into_iter().collect();
        let mut t = Tracker::new(fees);
        t.track_at("0xbb", &intent("c2", TimeInForce::Fok));
        assert_eq!(
            statuses(&t.on_posted("0xbb", Posted::Matched { filled: q("10") }, 1)),
            vec![(OrderStatus::Filled, q("10"))]
        );
        assert!(t.take_settled().is_empty(), "its trade is still to come");
        let m = t.on_trade(&trade("t9", TradeStatus::Matched, "0xbb", &[]), 2);
        let ExecEvent::Fill(f) = &m[0] else { panic!() };
        assert_eq!((f.liquidity, f.status), (Liquidity::Taker, FillStatus::Matched));
        assert!(f.fee > Money::ZERO, "takers pay the fee");
        let failed = t.on_trade(&trade("t9", TradeStatus::Failed, "0xbb", &[]), 3);
        assert_eq!(fills(&failed), vec![("t9:0xbb".to_string(), FillStatus::Failed, q("10"))]);
        assert!(t.on_trade(&trade("t9", TradeStatus::Failed, "0xbb", &[]), 4).is_empty());
        assert!(t.on_trade(&trade("t9", TradeStatus::Confirmed, "0xbb", &[]), 5).is_empty());
        // A trade that fails before it is first seen books nothing.
        t.track_at("0xcc", &intent("c3", TimeInForce::Fok));
        assert!(t.on_trade(&trade("t10", TradeStatus::Failed, "0xcc", &[]), 6).is_empty());
        // Trades of orders it does not track are not its business.
        assert!(t.on_trade(&trade("t11", TradeStatus::Matched, "0xzz", &[("0xyy", "1")]), 7).is_empty());
    }

    #[test]
    fn cancellations_end_working_orders_once() {
        let mut t = Tracker::new(TokenMap::default());
        t.track_at("0xdd", &intent("c4", TimeInForce::Gtc));
        t.on_posted("0xdd", Posted::Live, 1);
        assert_eq!(t.working(), vec!["0xdd".to_string()]);
        let ev = OrderEvent {
            id: "0xdd".into(),
            kind: OrderEventKind::Cancellation,
            side: Side::Buy,
            price: p("0.4"),
            original_size: q("10"),
            size_matched: Quantity::ZERO,
            status: "CANCELED".into(),
        };
        let c = t.on_order(&ev, 2);
        assert_eq!(statuses(&c), vec![(OrderStatus::Cancelled, Quantity::ZERO)]);
        assert!(t.on_order(&ev, 3).is_empty());
        assert!(t.working().is_empty());
        // GTD past its time: reported expired.
        t.track_at("0xee", &intent("c5", TimeInForce::Gtd { expires_at_s: 10 }));
        t.on_posted("0xee", Posted::Live, 1);
        assert_eq!(
            statuses(&t.cancelled("0xee", "expired", 11_000_000_000)),
            vec![(OrderStatus::Expired, Quantity::ZERO)]
        );
        // FAK partly matched: the rest is cancelled at once.
        t.track_at("0xff", &intent("c6", TimeInForce::Fak));
        assert_eq!(
            statuses(&t.on_posted("0xff", Posted::Matched { filled: q("3") }, 1)),
            vec![(OrderStatus::Cancelled, q("3"))]
        );
    }
}

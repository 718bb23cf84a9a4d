//! A shadow Strategy against its live twin, order by order (issue 24): two Strategies with the
//! same parameters on the same market data decide the same orders from the same market events
//! until their fills (and so their positions) part. Each order is keyed by what caused it (the
//! market event's sequence number, the token and the side; the k-th order under one key pairs
//! with the other twin's k-th); a pair shows whether the twins asked the same (price, size) and
//! what each got: shares filled, and over the shares both filled, what the live twin paid or
//! received more than the shadow's fills say it would have (slippage, signed so that positive is
//! worse for the live twin), and the fees. Money in micro-USDC, exact.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::TokenId;
use crate::money::{Money, Price, Quantity};
use crate::side::Side;

/// One twin's order and what it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwinOrder {
    /// The order's id.
    pub client_order_id: String,
    /// The market event it answered (its sequence number).
    pub cause_seq: u64,
    /// The token.
    pub token: TokenId,
    /// Buy or sell.
    pub side: Side,
    /// Its limit price.
    pub price: Price,
    /// Its size.
    pub size: Quantity,
    /// Shares filled.
    pub filled: Quantity,
    /// What the fills cost (a buy) or brought (a sell), before fees.
    pub notional: Money,
    /// Fees paid (negative: rebates).
    pub fee: Money,
}

/// A paired order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TwinPair {
    /// The shadow's order.
    pub shadow: String,
    /// The live twin's.
    pub live: String,
    /// The market event both answered.
    pub cause_seq: u64,
    /// The token (decimal).
    pub token: String,
    /// `buy` or `sell`.
    pub side: &'static str,
    /// Both asked the same price and size.
    pub same_order: bool,
    /// Shares the shadow filled, micro-shares.
    pub shadow_filled_micros: u64,
    /// Shares the live twin filled.
    pub live_filled_micros: u64,
    /// Over the shares both filled: what the live fills cost more (a buy) or brought less (a
    /// sell) than the shadow's, micro-USDC.
    pub slippage_micros: i64,
    /// Live fees less the shadow's, micro-USDC.
    pub fee_difference_micros: i64,
}

/// The comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TwinComparison {
    /// Orders paired.
    pub paired: u64,
    /// The shadow's orders with no live twin.
    pub only_shadow: u64,
    /// The live twin's orders with no shadow.
    pub only_live: u64,
    /// Pairs that asked the same price and size.
    pub same_orders: u64,
    /// Pairs where both filled something.
    pub both_filled: u64,
    /// Pairs only the shadow filled.
    pub only_shadow_filled: u64,
    /// Pairs only the live twin filled.
    pub only_live_filled: u64,
    /// Shares the shadow filled over the pairs, micro-shares.
    pub shadow_filled_micros: u64,
    /// Shares the live twin filled over the pairs.
    pub live_filled_micros: u64,
    /// Slippage summed over the pairs, micro-USDC (positive: live did worse).
    pub slippage_micros: i64,
    /// Live fees less the shadow's over the pairs.
    pub fee_difference_micros: i64,
    /// The pairs, in the order of their market events.
    pub pairs: Vec<TwinPair>,
}

/// What `shares` of a fill costing `notional` for `filled` shares cost, rounded to the micro.
fn part(notional: Money, filled: Quantity, shares: Quantity) -> i128 {
    let f = i128::from(filled.micros());
    if f == 0 {
        return 0;
    }
    let x = i128::from(notional.micros()) * i128::from(shares.micros());
    // Rounded half away from zero.
    (2 * x + f * x.signum()) / (2 * f)
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The shadow's orders against the live twin's.
pub fn compare(shadow: &[TwinOrder], live: &[TwinOrder]) -> TwinComparison {
    type Key = (u64, TokenId, bool);
    let key = |o: &TwinOrder| (o.cause_seq, o.token, o.side == Side::Buy);
    let mut by_key: BTreeMap<Key, Vec<&TwinOrder>> = BTreeMap::new();
    for o in live {
        by_key.entry(key(o)).or_default().push(o);
    }
    let mut next: BTreeMap<Key, usize> = BTreeMap::new();
    let mut c = TwinComparison::default();
    for s in shadow {
        let k = key(s);
        let i = next.entry(k).or_insert(0);
        let Some(l) = by_key.get(&k).and_then(|v| v.get(*i)) else {
            c.only_shadow += 1;
            continue;
        };
        *i += 1;
        let common = Quantity::from_micros(s.filled.micros().min(l.filled.micros()));
        let (sc, lc) = (part(s.notional, s.filled, common), part(l.notional, l.filled, common));
        let slippage = saturate(if s.side == Side::Buy { lc - sc } else { sc - lc });
        let fee = l.fee.micros().saturating_sub(s.fee.micros());
        let same = s.price == l.price && s.size == l.size;
        c.paired += 1;
        c.same_orders += u64::from(same);
        match (s.filled.is_zero(), l.filled.is_zero()) {
            (false, false) => c.both_filled += 1,
            (false, true) => c.only_shadow_filled += 1,
            (true, false) => c.only_live_filled += 1,
            (true, true) => {}
        }
        c.shadow_filled_micros = c.shadow_filled_micros.saturating_add(s.filled.micros());
        c.live_filled_micros = c.live_filled_micros.saturating_add(l.filled.micros());
        c.slippage_micros = c.slippage_micros.saturating_add(slippage);
        c.fee_difference_micros = c.fee_difference_micros.saturating_add(fee);
        c.pairs.push(TwinPair {
            shadow: s.client_order_id.clone(),
            live: l.client_order_id.clone(),
            cause_seq: s.cause_seq,
            token: s.token.to_string(),
            side: if s.side == Side::Buy { "buy" } else { "sell" },
            same_order: same,
            shadow_filled_micros: s.filled.micros(),
            live_filled_micros: l.filled.micros(),
            slippage_micros: slippage,
            fee_difference_micros: fee,
        });
    }
    let used: usize = next.values().sum();
    c.only_live = u64::try_from(live.len().saturating_sub(used)).unwrap_or(u64::MAX);
    c.pairs.sort_by_key(|p| p.cause_seq);
    c
}

/// Which twin an order or fill is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Twin {
    /// The shadow Strategy (the one that declares `shadowOf`).
    Shadow = 0,
    /// Its live twin.
    Live = 1,
}

/// The comparison's totals over a window, as the shadow's agent reports it (no pair list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TwinReport {
    /// The live twin's name.
    pub live: String,
    /// Orders held of each twin (shadow, live).
    pub orders: [u64; 2],
    /// The window's start (Unix ns): the tracker's start or `window` ago, the later.
    pub since_ns: u64,
    /// Orders paired.
    pub paired: u64,
    /// The shadow's orders with no live twin.
    pub only_shadow: u64,
    /// The live twin's orders with no shadow.
    pub only_live: u64,
    /// Pairs that asked the same price and size.
    pub same_orders: u64,
    /// Shares the shadow filled over the pairs, micro-shares.
    pub shadow_filled_micros: u64,
    /// Shares the live twin filled over the pairs.
    pub live_filled_micros: u64,
    /// Slippage summed over the pairs, micro-USDC (positive: live did worse).
    pub slippage_micros: i64,
    /// Live fees less the shadow's over the pairs.
    pub fee_difference_micros: i64,
    /// Fills of orders not held (placed before the window or the agent's start, or whose intent
    /// has not arrived yet): not counted.
    pub unmatched_fills: u64,
}

#[derive(Debug, Clone)]
struct Held {
    order: TwinOrder,
    created_ns: u64,
    /// Its fills: (fill id, shares, notional, fee, taken back after FAILED).
    fills: Vec<(String, Quantity, Money, Money, bool)>,
}

/// Both twins' orders and fills as they arrive, compared on demand over a sliding window: the
/// orders created in the last `window_ns` (at most `cap` of each twin, the oldest dropped). A
/// fill counts once whatever its repeats (a matched fill and its confirmation are one); a fill
/// that FAILED is taken back; a fill that comes before its order waits for it. Pure: the caller
/// gives the time.
#[derive(Debug, Clone)]
pub struct TwinTracker {
    window_ns: u64,
    cap: usize,
    started_ns: u64,
    held: [BTreeMap<u64, Held>; 2],
    by_id: [std::collections::HashMap<String, u64>; 2],
    next: u64,
    /// Fills of orders not seen yet (their intent may arrive after them), oldest first.
    orphans: [std::collections::VecDeque<crate::wire::Fill>; 2],
}

impl TwinTracker {
    /// A tracker started at `now_ns`, keeping `window_ns` and at most `cap` orders of each twin.
    pub fn new(now_ns: u64, window_ns: u64, cap: usize) -> TwinTracker {
        TwinTracker {
            window_ns,
            cap: cap.max(1),
            started_ns: now_ns,
            held: [BTreeMap::new(), BTreeMap::new()],
            by_id: [std::collections::HashMap::new(), std::collections::HashMap::new()],
            next: 0,
            orphans: [std::collections::VecDeque::new(), std::collections::VecDeque::new()],
        }
    }

    /// An order a twin placed (a set's legs each).
    pub fn order(&mut self, twin: Twin, o: &crate::wire::OrderIntent) {
        let t = twin as usize;
        let id = o.client_order_id.to_string();
        if self.by_id[t].contains_key(&id) {
            return;
        }
        let order = TwinOrder {
            client_order_id: id.clone(),
            cause_seq: o.cause_seq,
            token: o.token,
            side: o.side,
            price: o.price,
            size: o.size,
            filled: Quantity::ZERO,
            notional: Money::ZERO,
            fee: Money::ZERO,
        };
        self.next += 1;
        self.held[t].insert(self.next, Held { order, created_ns: o.created_ts_ns, fills: vec![] });
        self.by_id[t].insert(id.clone(), self.next);
        while self.held[t].len() > self.cap {
            self.drop_first(t);
        }
        // Its fills that came first.
        let (mine, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.orphans[t]).into_iter().partition(|f| f.client_order_id.as_str() == id);
        self.orphans[t] = rest.into();
        for f in mine {
            self.fill(twin, &f);
        }
    }

    fn drop_first(&mut self, t: usize) {
        if let Some((_, h)) = self.held[t].pop_first() {
            self.by_id[t].remove(&h.order.client_order_id);
        }
    }

    /// A fill of a twin's order.
    pub fn fill(&mut self, twin: Twin, f: &crate::wire::Fill) {
        let t = twin as usize;
        let Some(h) = self.by_id[t].get(f.client_order_id.as_str()).and_then(|n| self.held[t].get_mut(n)) else {
            self.orphans[t].push_back(f.clone());
            if self.orphans[t].len() > self.cap {
                self.orphans[t].pop_front();
            }
            return;
        };
        let failed = f.status == crate::wire::FillStatus::Failed;
        let seen = h.fills.iter_mut().find(|x| x.0 == f.fill_id);
        let o = &mut h.order;
        match (seen, failed) {
            (Some(x), true) if !x.4 => {
                x.4 = true;
                o.filled = o.filled.checked_sub(x.1).unwrap_or(Quantity::ZERO);
                o.notional = o.notional.checked_sub(x.2).unwrap_or(o.notional);
                o.fee = o.fee.checked_sub(x.3).unwrap_or(o.fee);
            }
            (Some(_), _) | (None, true) => {}
            (None, false) => {
                let notional = f.price.notional(f.size, crate::money::Rounding::Nearest).unwrap_or(Money::ZERO);
                o.filled = o.filled.saturating_add(f.size);
                o.notional = o.notional.checked_add(notional).unwrap_or(o.notional);
                o.fee = o.fee.checked_add(f.fee).unwrap_or(o.fee);
                h.fills.push((f.fill_id.clone(), f.size, notional, f.fee, false));
            }
        }
    }

    /// The comparison now: orders older than the window are dropped first.
    pub fn report(&mut self, live: &str, now_ns: u64) -> TwinReport {
        let horizon = now_ns.saturating_sub(self.window_ns);
        for t in 0..2 {
            while self.held[t].first_key_value().is_some_and(|(_, h)| h.created_ns < horizon) {
                self.drop_first(t);
            }
        }
        let list = |t: usize| self.held[t].values().map(|h| h.order.clone()).collect::<Vec<_>>();
        let c = compare(&list(0), &list(1));
        TwinReport {
            live: live.to_string(),
            orders: [self.held[0].len() as u64, self.held[1].len() as u64],
            since_ns: self.started_ns.max(horizon),
            paired: c.paired,
            only_shadow: c.only_shadow,
            only_live: c.only_live,
            same_orders: c.same_orders,
            shadow_filled_micros: c.shadow_filled_micros,
            live_filled_micros: c.live_filled_micros,
            slippage_micros: c.slippage_micros,
            fee_difference_micros: c.fee_difference_micros,
            unmatched_fills: (self.orphans[0].len() + self.orphans[1].len()) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, seq: u64, side: Side, price: &str, filled: u64, notional: i64, fee: i64) -> TwinOrder {
        TwinOrder {
            client_order_id: id.into(),
            cause_seq: seq,
            token: TokenId::from_u128(7),
            side,
            price: Price::parse(price).unwrap(),
            size: Quantity::from_micros(100_000_000),
            filled: Quantity::from_micros(filled),
            notional: Money::from_micros(notional),
            fee: Money::from_micros(fee),
        }
    }

    #[test]
    fn twins_pair_by_market_event_and_live_slippage_is_signed_against_the_live_twin() {
        let shadow = [
            // 100 shares bought for 40 USDC; live got 60 of them for 24.6 (0.41 each).
            order("s1", 10, Side::Buy, "0.40", 100_000_000, 40_000_000, 0),
            // A sell of 50 for 22.5 (0.45); live sold 50 for 22 (0.44).
            order("s2", 11, Side::Sell, "0.45", 50_000_000, 22_500_000, 0),
            // Only the shadow decided this one.
            order("s3", 12, Side::Buy, "0.40", 0, 0, 0),
        ];
        let live = [
            order("l1", 10, Side::Buy, "0.40", 60_000_000, 24_600_000, 120_000),
            order("l2", 11, Side::Sell, "0.45", 50_000_000, 22_000_000, 0),
            // Same event, other side: no shadow.
            order("l4", 12, Side::Sell, "0.40", 0, 0, 0),
        ];
        let c = compare(&shadow, &live);
        assert_eq!((c.paired, c.only_shadow, c.only_live, c.same_orders, c.both_filled), (2, 1, 1, 2, 2));
        // Buy: the shadow's 60 shares cost 24.0, live paid 24.6: 0.6 worse. Sell: 0.5 less.
        assert_eq!(c.pairs[0].slippage_micros, 600_000);
        assert_eq!(c.pairs[1].slippage_micros, 500_000);
        assert_eq!(c.slippage_micros, 1_100_000);
        assert_eq!(c.fee_difference_micros, 120_000);
        assert_eq!((c.shadow_filled_micros, c.live_filled_micros), (150_000_000, 110_000_000));
    }

    #[test]
    fn repeated_keys_pair_in_order_and_a_part_rounds_half_away_from_zero() {
        let shadow = [order("s1", 5, Side::Buy, "0.40", 0, 0, 0), order("s2", 5, Side::Buy, "0.41", 0, 0, 0)];
        let live = [order("l1", 5, Side::Buy, "0.40", 0, 0, 0), order("l2", 5, Side::Buy, "0.42", 0, 0, 0)];
        let c = compare(&shadow, &live);
        assert_eq!((c.pairs[0].live.as_str(), c.pairs[1].live.as_str(), c.same_orders), ("l1", "l2", 1));
        // 1 micro-USDC for 3 shares: a third of a share's worth rounds to 0, two thirds to 1.
        let m = Money::from_micros(1);
        assert_eq!(part(m, Quantity::from_micros(3), Quantity::from_micros(1)), 0);
        assert_eq!(part(m, Quantity::from_micros(3), Quantity::from_micros(2)), 1);
        assert_eq!(part(Money::from_micros(-1), Quantity::from_micros(2), Quantity::from_micros(1)), -1);
    }

    fn intent(id: &str, seq: u64, side: Side, price: &str, created_ns: u64) -> crate::wire::OrderIntent {
        crate::wire::OrderIntent {
            client_order_id: crate::ClientOrderId::new(id).unwrap(),
            group: None,
            namespace: "desk".into(),
            strategy: "x".into(),
            risk_policy: "p".into(),
            venue: "sim".into(),
            market: crate::ConditionId::from_bytes([1; 32]),
            token: TokenId::from_u128(7),
            side,
            price: Price::parse(price).unwrap(),
            size: Quantity::from_micros(100_000_000),
            tif: crate::wire::TimeInForce::Gtc,
            post_only: false,
            mode: crate::wire::Mode::Paper,
            cause_seq: seq,
            cause_recv_ts_ns: 0,
            created_ts_ns: created_ns,
            outcome: None,
            kelly: None,
        }
    }

    fn fill(
        order: &str,
        id: &str,
        price: &str,
        micros: u64,
        fee: i64,
        status: crate::wire::FillStatus,
    ) -> crate::wire::Fill {
        crate::wire::Fill {
            fill_id: id.into(),
            client_order_id: crate::ClientOrderId::new(order).unwrap(),
            namespace: "desk".into(),
            strategy: "x".into(),
            risk_policy: "p".into(),
            market: crate::ConditionId::from_bytes([1; 32]),
            token: TokenId::from_u128(7),
            side: Side::Buy,
            price: Price::parse(price).unwrap(),
            size: Quantity::from_micros(micros),
            fee: Money::from_micros(fee),
            liquidity: crate::wire::Liquidity::Taker,
            status,
            mode: crate::wire::Mode::Paper,
            ts_ns: 0,
        }
    }

    #[test]
    fn the_tracker_keeps_the_batch_comparison_as_orders_and_fills_arrive() {
        use crate::wire::FillStatus::{Confirmed, Failed, Matched};
        let mut t = TwinTracker::new(0, 1_000, 100);
        t.order(Twin::Shadow, &intent("s1", 10, Side::Buy, "0.40", 100));
        t.order(Twin::Live, &intent("l1", 10, Side::Buy, "0.40", 101));
        t.order(Twin::Shadow, &intent("s3", 12, Side::Buy, "0.40", 102));
        t.order(Twin::Shadow, &intent("s3", 12, Side::Buy, "0.40", 102)); // a repeat: one order
        // The shadow's 100 shares at 0.40; live's 60 at 0.41 with a fee, matched then confirmed
        // (one fill), and 10 more that FAILED after matching (taken back).
        t.fill(Twin::Shadow, &fill("s1", "f1", "0.40", 100_000_000, 0, Matched));
        t.fill(Twin::Live, &fill("l1", "f2", "0.41", 60_000_000, 120_000, Matched));
        t.fill(Twin::Live, &fill("l1", "f2", "0.41", 60_000_000, 120_000, Confirmed));
        t.fill(Twin::Live, &fill("l1", "f3", "0.45", 10_000_000, 0, Matched));
        t.fill(Twin::Live, &fill("l1", "f3", "0.45", 10_000_000, 0, Failed));
        t.fill(Twin::Live, &fill("l9", "f4", "0.45", 10_000_000, 0, Matched)); // an order not held
        let r = t.report("mm", 500);
        let batch = compare(
            &[
                order("s1", 10, Side::Buy, "0.40", 100_000_000, 40_000_000, 0),
                order("s3", 12, Side::Buy, "0.40", 0, 0, 0),
            ],
            &[order("l1", 10, Side::Buy, "0.40", 60_000_000, 24_600_000, 120_000)],
        );
        assert_eq!(
            (r.paired, r.only_shadow, r.only_live, r.same_orders, r.slippage_micros, r.fee_difference_micros),
            (
                batch.paired,
                batch.only_shadow,
                batch.only_live,
                batch.same_orders,
                batch.slippage_micros,
                batch.fee_difference_micros
            )
        );
        assert_eq!((r.slippage_micros, r.fee_difference_micros, r.unmatched_fills), (600_000, 120_000, 1));
        assert_eq!((r.orders, r.live.as_str(), r.since_ns), ([2, 1], "mm", 0));
        // 1000 ns later the window holds none of them.
        let later = t.report("mm", 1_200);
        assert_eq!((later.orders, later.paired, later.since_ns), ([0, 0], 0, 200));
        // At most `cap` orders of a twin: the oldest go first.
        let mut t = TwinTracker::new(0, u64::MAX, 2);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            t.order(Twin::Live, &intent(id, i as u64, Side::Buy, "0.40", 0));
        }
        assert_eq!(t.report("mm", 0).orders, [0, 2]);
        // A fill that comes before its order waits for it.
        let mut t = TwinTracker::new(0, u64::MAX, 10);
        t.fill(Twin::Shadow, &fill("s1", "f1", "0.40", 100_000_000, 0, Matched));
        assert_eq!(t.report("mm", 0).unmatched_fills, 1);
        t.order(Twin::Shadow, &intent("s1", 10, Side::Buy, "0.40", 0));
        t.order(Twin::Live, &intent("l1", 10, Side::Buy, "0.40", 0));
        let r = t.report("mm", 0);
        assert_eq!((r.unmatched_fills, r.paired, r.shadow_filled_micros), (0, 1, 100_000_000));
    }
}

//! How each strategy made its money, from the journal: the same analytics as a backtest's
//! ([`crate::analytics::Tracker`]: PnL attribution into spread capture, inventory, fees and
//! lifecycle basis, markout curves, the fill ratio of resting orders, inventory over time), driven
//! by the journal's fills, operations and settlements, the orders placed, and the tokens' mids
//! the journal agent kept ([`polyfleet_journal::mids`]).
//!
//! The mids are a series of changes, so a token's mid at any instant is the last one journaled
//! at or before it ("as of"): a fill's spread capture is taken against it, and a markout horizon
//! that falls between two changes is measured at the earlier one. Horizons after the last instant
//! the journal holds stay unmeasured. A fill before any mid of its token captures nothing (its
//! price stands for the mid). A fill that later FAILED is unwound at the token's mid then (its
//! markouts stand). With a period, the attribution is the change over the period (everything
//! before it builds the positions and the mids), and only the period's fills and orders count in
//! the markouts and fill ratio.

use std::collections::{BTreeMap, HashMap};

use polyfleet_core::accounting::Ledger;
use polyfleet_core::analytics::attribution::Breakdown;
use polyfleet_core::analytics::performance::Booking;
use polyfleet_core::wire::{CtfStatus, FillStatus, OrderIntent};
use polyfleet_core::{Money, Price, TokenId, TokenMap};
use polyfleet_journal::mids::Mid;

use crate::analytics::{StrategyAnalytics, Tracker};

#[derive(Default)]
struct One {
    ledger: Ledger,
    tracker: Tracker,
    /// Fill ids booked, and whether a FAILED status unwound them.
    fills: HashMap<String, bool>,
    /// The attribution when the period began.
    at_since: Option<Breakdown>,
}

/// The fold.
pub struct JournalAnalytics {
    since_ns: u64,
    started: bool,
    last_ns: u64,
    strategies: BTreeMap<(String, String), One>,
    mids: TokenMap<Price>,
}

fn minus(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap_or(a)
}

impl JournalAnalytics {
    /// A fold whose period starts at `since_ns` (`None`: the journal's beginning).
    pub fn new(since_ns: Option<i64>) -> JournalAnalytics {
        JournalAnalytics {
            since_ns: since_ns.map_or(0, |s| u64::try_from(s).unwrap_or(0)),
            started: false,
            last_ns: 0,
            strategies: BTreeMap::new(),
            mids: TokenMap::default(),
        }
    }

    /// Time moves to `ts`: the period starts when it reaches it.
    fn enter(&mut self, ts: u64) -> bool {
        self.last_ns = self.last_ns.max(ts);
        let in_period = ts >= self.since_ns;
        if in_period && !self.started {
            self.started = true;
            for one in self.strategies.values_mut() {
                one.at_since = Some(one.tracker.breakdown());
            }
        }
        in_period
    }

    /// A strategy's fold; a new one starts with the mids known now.
    fn one(&mut self, namespace: &str, strategy: &str) -> &mut One {
        let (started, now, mids) = (self.started, self.last_ns, &self.mids);
        self.strategies.entry((namespace.to_string(), strategy.to_string())).or_insert_with(|| {
            let mut one = One { at_since: started.then(Breakdown::default), ..One::default() };
            for (t, m) in mids.iter() {
                one.tracker.mid(now, *t, *m);
            }
            one
        })
    }

    /// `token`'s mid changed to `mid` at `ts`: every horizon before `ts` is measured at the mid
    /// it replaces.
    pub fn mid(&mut self, ts: u64, token: TokenId, mid: Price) {
        self.enter(ts);
        let before = self.mids.insert(token, mid);
        if before == Some(mid) {
            return;
        }
        for one in self.strategies.values_mut() {
            if let Some(before) = before {
                one.tracker.mid(ts.saturating_sub(1), token, before);
            }
            one.tracker.mid(ts, token, mid);
        }
    }

    /// An order placed.
    pub fn posted(&mut self, o: &OrderIntent) {
        if o.created_ts_ns >= self.since_ns {
            self.one(&o.namespace, &o.strategy).tracker.posted(o);
        }
    }

    /// A fill, operation or settlement, in time order with the mids (what the ledger refuses is
    /// left out, as the performance fold reports it).
    pub fn book(&mut self, b: &Booking) {
        let ts = b.ts_ns();
        let in_period = self.enter(ts);
        match b {
            Booking::Fill(f) => {
                let one = self.one(&f.namespace, &f.strategy);
                if one.ledger.on_fill(f).is_err() {
                    return;
                }
                match (f.status, one.fills.get_mut(&f.fill_id)) {
                    (FillStatus::Failed, Some(unwound)) if !*unwound => {
                        *unwound = true;
                        one.tracker.unwind(f);
                    }
                    (FillStatus::Failed, _) | (_, Some(_)) => {}
                    (_, None) => {
                        one.fills.insert(f.fill_id.clone(), false);
                        one.tracker.book(ts, f, in_period);
                    }
                }
                one.tracker.sample(ts);
            }
            Booking::Ctf(r) => {
                if !matches!(r.status, CtfStatus::Done) {
                    return;
                }
                let one = self.one(&r.namespace, &r.strategy);
                if let Ok(Some(booked)) = one.ledger.on_ctf(&r.id.to_string(), &r.op) {
                    one.tracker.exchange(&booked.shares, booked.cash);
                    one.tracker.sample(ts);
                }
            }
            Booking::Settlement(r) => {
                // The mids jump to the payouts: what was held earns or loses it as inventory.
                for (t, payout) in &r.resolution.payouts {
                    self.mid(ts, *t, *payout);
                }
                let one = self.one(&r.namespace, &r.strategy);
                if let Ok(Some(booked)) = one.ledger.settle(&r.resolution) {
                    one.tracker.exchange(&booked.shares, booked.cash);
                    one.tracker.sample(ts);
                }
            }
        }
    }

    /// Each strategy's analytics (`namespace/name`), those with something in the period; the
    /// markouts measured up to the last instant the journal holds, each series thinned to
    /// `points`.
    pub fn finish(mut self, points: usize) -> BTreeMap<String, StrategyAnalytics> {
        let end = self.last_ns;
        let mids: Vec<(TokenId, Price)> = self.mids.iter().map(|(t, p)| (*t, *p)).collect();
        let mut out = BTreeMap::new();
        for ((ns, name), mut one) in std::mem::take(&mut self.strategies) {
            for (t, p) in &mids {
                one.tracker.mid(end, *t, *p);
            }
            let Some(at_since) = one.at_since else { continue };
            let mut a = one.tracker.finish(None, points);
            let now = a.pnl_attribution.parts;
            let parts = Breakdown {
                spread_capture: minus(now.spread_capture, at_since.spread_capture),
                inventory: minus(now.inventory, at_since.inventory),
                fees: minus(now.fees, at_since.fees),
                lifecycle_basis: minus(now.lifecycle_basis, at_since.lifecycle_basis),
                total_at_mid: minus(now.total_at_mid, at_since.total_at_mid),
            };
            if parts == Breakdown::default() && a.markouts.is_none() && a.fill_ratio.orders_posted == 0 {
                continue;
            }
            a.pnl_attribution.parts = parts;
            a.pnl_attribution.total = parts.total_at_mid;
            out.insert(format!("{ns}/{name}"), a);
        }
        out
    }
}

/// The analytics of `bookings` (in [`Booking::sort_key`] order), `mids` (oldest first) and the
/// `orders` placed, for the period from `since_ns`.
pub fn analytics(
    since_ns: Option<i64>,
    bookings: &[(Booking, Option<String>)],
    mids: &[Mid],
    orders: &[OrderIntent],
    points: usize,
) -> BTreeMap<String, StrategyAnalytics> {
    let mut fold = JournalAnalytics::new(since_ns);
    for o in orders {
        fold.posted(o);
    }
    let mut mids = mids.iter().peekable();
    for (b, _) in bookings {
        // A mid at a fill's instant came before it (the event that caused the fill).
        while let Some((ts, token, mid)) = mids.next_if(|(ts, _, _)| *ts <= b.ts_ns()) {
            fold.mid(*ts, *token, *mid);
        }
        fold.book(b);
    }
    for (ts, token, mid) in mids {
        fold.mid(*ts, *token, *mid);
    }
    fold.finish(points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::wire::{Fill, Liquidity, Mode};
    use polyfleet_core::{ClientOrderId, ConditionId, Quantity, Side};

    const S: u64 = 1_000_000_000;

    fn p(ticks: u32) -> Price {
        Price::from_ticks(ticks).unwrap()
    }

    fn fill(strategy: &str, id: &str, side: Side, ticks: u32, shares: u64, fee: i64, ts_ns: u64) -> Booking {
        Booking::Fill(Fill {
            fill_id: id.into(),
            client_order_id: ClientOrderId::new(id).unwrap(),
            namespace: "desk".into(),
            strategy: strategy.into(),
            risk_policy: "main".into(),
            market: ConditionId::from_bytes([1; 32]),
            token: TokenId::from_u128(7),
            side,
            price: p(ticks),
            size: Quantity::from_micros(shares * 1_000_000),
            fee: Money::from_micros(fee),
            liquidity: if fee == 0 { Liquidity::Maker } else { Liquidity::Taker },
            status: FillStatus::Matched,
            mode: Mode::Paper,
            ts_ns,
        })
    }

    /// Token 7's mids: 0.50 at 1 s, 0.52 at 2.5 s, 0.55 at 10 s, 0.60 at 40 s.
    fn mids() -> Vec<Mid> {
        let t = TokenId::from_u128(7);
        vec![(S, t, p(5000)), (5 * S / 2, t, p(5200)), (10 * S, t, p(5500)), (40 * S, t, p(6000))]
    }

    fn bookings() -> Vec<(Booking, Option<String>)> {
        vec![
            // A maker buy of 10 at 0.48 (mid 0.50) and a taker sell of 10 at 0.56 (mid 0.55,
            // fee 0.01).
            (fill("mm", "b1", Side::Buy, 4800, 10, 0, 2 * S), None),
            (fill("mm", "s1", Side::Sell, 5600, 10, 10_000, 20 * S), None),
        ]
    }

    fn usdc(m: Money) -> String {
        m.to_string()
    }

    #[test]
    fn the_attribution_and_markouts_are_worked_by_hand_against_the_mids_as_of_each_instant() {
        let a = analytics(None, &bookings(), &mids(), &[], 100);
        let mm = &a["desk/mm"];
        let parts = mm.pnl_attribution.parts;
        // Spread: 10 × (0.50 − 0.48) + 10 × (0.56 − 0.55); inventory: 10 × (0.52 − 0.50 + 0.55 − 0.52).
        assert_eq!(
            [parts.spread_capture, parts.inventory, parts.fees, parts.lifecycle_basis, parts.total_at_mid].map(usdc),
            ["0.3", "0.5", "0.01", "0", "0.79"]
        );
        assert!(mm.reconciled, "the parts sum to the cash: −4.8 + 5.6 − 0.01");
        let c = mm.markouts.as_ref().unwrap();
        // The buy at 2 s against the mid as of 3 s and 7 s (0.52) and 32 s (0.55); the sell at
        // 20 s against 0.55 at 21 s and 25 s; horizons past 40 s (the last instant) unmeasured.
        let all: Vec<(u64, String)> = c.all.iter().map(|x| (x.fills, usdc(x.total))).collect();
        assert_eq!(all, [(2, "0.5".into()), (2, "0.5".into()), (1, "0.7".into()), (0, "0".into())]);
        assert_eq!(c.unmeasured, [0, 0, 1, 2]);
        assert_eq!((c.maker[0].fills, usdc(c.maker[0].total)), (1, "0.4".into()));
        assert_eq!((c.taker[0].fills, usdc(c.taker[0].total)), (1, "0.1".into()));
        assert_eq!(mm.inventory[0].points.iter().map(|(_, q)| q.as_str()).collect::<Vec<_>>(), ["10", "0"]);
    }

    #[test]
    fn a_period_counts_what_changed_in_it_and_a_failed_fill_is_unwound() {
        // From 15 s: the sell's spread (0.1) less its fee; the inventory earned before is not.
        let a = analytics(Some(15 * i64::try_from(S).unwrap()), &bookings(), &mids(), &[], 100);
        let parts = a["desk/mm"].pnl_attribution.parts;
        assert_eq!(
            [parts.spread_capture, parts.inventory, parts.fees, parts.total_at_mid].map(usdc),
            ["0.1", "0", "0.01", "0.09"]
        );
        assert_eq!(a["desk/mm"].markouts.as_ref().unwrap().all[0].fills, 1, "only the period's fill is measured");
        // A buy of 5 at 0.50 at 3 s (mid 0.52) that FAILED at 12 s (mid 0.55): what it captured
        // (0.1 then −0.25) and what holding it earned (0.15) cancel; its confirmation is no
        // second fill.
        let mut b = bookings();
        let buy = fill("x", "f1", Side::Buy, 5000, 5, 0, 3 * S);
        let Booking::Fill(f) = &buy else { unreachable!() };
        let confirmed = Fill { status: FillStatus::Confirmed, ts_ns: 4 * S, ..f.clone() };
        let failed = Fill { status: FillStatus::Failed, ts_ns: 12 * S, ..f.clone() };
        b.extend([(buy.clone(), None), (Booking::Fill(confirmed), None), (Booking::Fill(failed), None)]);
        b.sort_by_key(|(x, _)| x.sort_key());
        let a = analytics(None, &b, &mids(), &[], 100);
        let x = a["desk/x"].pnl_attribution.parts;
        assert_eq!([x.spread_capture, x.inventory, x.total_at_mid].map(usdc), ["-0.15", "0.15", "0"]);
        assert!(a["desk/x"].reconciled);
        assert_eq!(a["desk/mm"].pnl_attribution.parts.total_at_mid.to_string(), "0.79", "the other strategy unchanged");
    }
}

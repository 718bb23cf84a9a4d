//! One conformance suite for both risk stores (in-memory and a real `redis-server`), and a
//! differential test that drives the Redis scripts and the core's reference model through the
//! same random operations (decisions, releases, fills, lifecycle bookings and settlements, limit
//! changes, time across minutes and days, tokens of binary and neg-risk events) and requires the
//! same answer to every call and the same state after each, the worst-case loss's floor included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use bytes::Bytes;
use polyfleet_core::accounting::lifecycle::{Booking, Lifecycle, LifecycleTotals};
use polyfleet_core::accounting::{Ledger, Position};
use polyfleet_core::exec::ctf::{reservation_ids, reservation_legs};
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::risk::{RiskMode, RiskSnapshot, Trip};
use polyfleet_core::wire::{
    CtfIntent, CtfOp, Fill, FillStatus, KellyBasis, Liquidity, Mode, OrderIntent, Outcome, RejectReason, Resolution,
    TimeInForce,
};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::risk_store::memory::MemoryRiskStore;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{Claim, FillCommit, PolicyKey, RiskStore};
use polyfleet_testkit::RedisServer;

const T0: u64 = 1_767_225_600_000;

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}

fn limits() -> RiskLimits {
    RiskLimits {
        mode: RiskMode::Off,
        reset: 0,
        trip_cooldown_ms: None,
        max_order_size: q("100"),
        max_order_notional: m("50"),
        max_position_per_market: q("150"),
        max_gross_exposure: m("100"),
        max_daily_loss: m("20"),
        max_drawdown: m("30"),
        max_orders_per_minute: 30,
        max_orders_per_day: None,
        min_book_liquidity: Some(m("10")),
        circuit_breaker: Some((2, 60_000)),
        max_loss_at_resolution: None,
        max_event_exposure: None,
        group_limits: vec![],
        kelly_budget: None,
    }
}

fn intent(id: &str, token: u128, side: Side, price: &str, size: &str) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "ns".into(),
        strategy: "arb".into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([0; 32]),
        token: TokenId::from_u128(token),
        side,
        price: Price::parse(price).unwrap(),
        size: q(size),
        tif: TimeInForce::Fok,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
        outcome: None,
        kelly: None,
    }
}

fn commit(i: &OrderIntent, fill_id: &str, size: Quantity, cost: Money, realized: Money, pos: Position) -> FillCommit {
    FillCommit {
        fill: Fill {
            fill_id: fill_id.into(),
            client_order_id: i.client_order_id,
            namespace: i.namespace.clone(),
            strategy: i.strategy.clone(),
            risk_policy: i.risk_policy.clone(),
            market: i.market,
            token: i.token,
            side: i.side,
            price: i.price,
            size,
            fee: Money::ZERO,
            liquidity: Liquidity::Taker,
            status: FillStatus::Confirmed,
            mode: Mode::Paper,
            ts_ns: 0,
        },
        cost,
        realized,
        position: pos,
        round_trip: i.round_trip(),
    }
}

const LIQ: Option<Money> = Some(Money::from_micros(1_000_000_000));

async fn unknown_policy_is_rejected<S: RiskStore>(s: S, p: PolicyKey) {
    let v = s.decide(&p, &intent("a", 1, Side::Buy, "0.5", "1"), LIQ, T0).await.unwrap();
    assert_eq!(v, Err(RejectReason::UnknownPolicy));
}

async fn limits_read_back_and_removal_stops_approvals<S: RiskStore>(s: S, p: PolicyKey) {
    assert_eq!(s.limits(&p).await.unwrap(), None);
    s.set_limits(&p, &limits()).await.unwrap();
    assert_eq!(s.limits(&p).await.unwrap(), Some(limits()));
    let no_extras = RiskLimits { min_book_liquidity: None, circuit_breaker: None, ..limits() };
    s.set_limits(&p, &no_extras).await.unwrap();
    assert_eq!(s.limits(&p).await.unwrap(), Some(no_extras));
    s.remove_limits(&p).await.unwrap();
    assert_eq!(s.limits(&p).await.unwrap(), None);
    let v = s.decide(&p, &intent("after", 1, Side::Buy, "0.5", "1"), LIQ, T0).await.unwrap();
    assert_eq!(v, Err(RejectReason::UnknownPolicy));
}

async fn modes_take_effect_at_once<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    assert_eq!(s.mode(&p, T0).await.unwrap(), Some(RiskMode::Off));
    assert_eq!(s.decide(&p, &intent("a", 1, Side::Buy, "0.5", "10"), LIQ, T0).await.unwrap(), Ok(()));
    s.set_limits(&p, &RiskLimits { mode: RiskMode::ReduceOnly, ..limits() }).await.unwrap();
    assert_eq!(s.mode(&p, T0).await.unwrap(), Some(RiskMode::ReduceOnly));
    assert_eq!(
        s.decide(&p, &intent("b", 1, Side::Buy, "0.5", "10"), LIQ, T0).await.unwrap(),
        Err(RejectReason::ReduceOnly)
    );
    assert_eq!(s.decide(&p, &intent("b2", 1, Side::Sell, "0.5", "1"), LIQ, T0).await.unwrap(), Ok(()));
    s.set_limits(&p, &RiskLimits { mode: RiskMode::Halt, ..limits() }).await.unwrap();
    assert_eq!(s.mode(&p, T0).await.unwrap(), Some(RiskMode::Halt));
    assert_eq!(
        s.decide(&p, &intent("b3", 1, Side::Sell, "0.5", "1"), LIQ, T0).await.unwrap(),
        Err(RejectReason::KillSwitch)
    );
    s.set_limits(&p, &limits()).await.unwrap();
    assert_eq!(s.decide(&p, &intent("c", 1, Side::Buy, "0.5", "10"), LIQ, T0).await.unwrap(), Ok(()));
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.open_reservations, snap.recent_orders), (m("10"), 3, 3));
    assert_eq!(s.mode(&PolicyKey::new("ns", "none"), T0).await.unwrap(), None);
}

/// A realized loss past the daily limit trips the policy into reduce-only (sells pass, buys are
/// refused for the trip), visible in the snapshot and the mode; a reset by the limits' counter
/// clears it with the day's PnL as the new baseline; a cooldown clears the next one.
async fn a_loss_trip_is_reduce_only_until_reset_or_cooldown<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let buy = intent("a", 1, Side::Buy, "0.5", "20");
    s.decide(&p, &buy, LIQ, T0).await.unwrap().unwrap();
    let pos = Position { size: q("20"), cost: m("10"), ..Position::default() };
    s.commit(&p, &buy.client_order_id, &[commit(&buy, "f1", q("20"), m("10"), Money::ZERO, pos)], true, None, T0)
        .await
        .unwrap();
    let sell = intent("b", 1, Side::Sell, "0.1", "20");
    s.decide(&p, &sell, LIQ, T0).await.unwrap().unwrap();
    let flat = Position { realized: m("-21"), ..Position::default() };
    let loss = commit(&sell, "f2", q("20"), m("10"), m("-21"), flat);
    s.commit(&p, &sell.client_order_id, &[loss], true, None, T0 + 1).await.unwrap();
    let v = s.decide(&p, &intent("c", 1, Side::Buy, "0.5", "1"), LIQ, T0 + 2).await.unwrap();
    assert_eq!(v, Err(RejectReason::DailyLoss));
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(snap.trips.current, Some((Trip::DailyLoss, T0 + 2)));
    assert_eq!(snap.trips.daily_loss_trips, 1);
    assert_eq!(s.mode(&p, T0 + 3).await.unwrap(), Some(RiskMode::ReduceOnly));
    assert_eq!(s.decide(&p, &intent("d", 1, Side::Sell, "0.5", "1"), LIQ, T0 + 3).await.unwrap(), Ok(()));
    // The same counter again: nothing clears. A new one: cleared, the day's -21 as baseline.
    s.set_limits(&p, &limits()).await.unwrap();
    assert!(s.snapshot(&p).await.unwrap().trips.current.is_some());
    let cooled = RiskLimits { reset: 7, trip_cooldown_ms: Some(1_000), ..limits() };
    s.set_limits(&p, &cooled).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.trips.current, snap.daily_base, snap.reset_seen), (None, m("-21"), 7));
    assert_eq!(s.mode(&p, T0 + 4).await.unwrap(), Some(RiskMode::Off));
    assert_eq!(s.decide(&p, &intent("e", 2, Side::Buy, "0.5", "1"), LIQ, T0 + 4).await.unwrap(), Ok(()));
    // 20 more lost trips it again (drawdown is 21 < 30 from the peak reset to the equity); the
    // cooldown clears it a second later.
    let buy2 = intent("g", 1, Side::Buy, "0.5", "2");
    s.decide(&p, &buy2, LIQ, T0 + 5).await.unwrap().unwrap();
    let lost = commit(&buy2, "f3", q("2"), m("1"), m("-20"), Position::default());
    s.commit(&p, &buy2.client_order_id, &[lost], true, None, T0 + 6).await.unwrap();
    let v = s.decide(&p, &intent("h", 2, Side::Buy, "0.5", "1"), LIQ, T0 + 7).await.unwrap();
    assert_eq!(v, Err(RejectReason::DailyLoss));
    assert_eq!(s.mode(&p, T0 + 1_006).await.unwrap(), Some(RiskMode::ReduceOnly));
    assert_eq!(s.mode(&p, T0 + 1_007).await.unwrap(), Some(RiskMode::Off));
    assert_eq!(s.decide(&p, &intent("i", 2, Side::Buy, "0.5", "1"), LIQ, T0 + 1_007).await.unwrap(), Ok(()));
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.trips.current, snap.trips.daily_loss_trips, snap.daily_base), (None, 2, m("-41")));
}

async fn an_open_position_losing_value_trips_through_unrealized_pnl<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let t = TokenId::from_u128(1);
    let buy = intent("a", 1, Side::Buy, "0.5", "40");
    s.decide(&p, &buy, LIQ, T0).await.unwrap().unwrap();
    let held = Position { size: q("40"), cost: m("20"), ..Position::default() };
    // Bought at 0.50, marked at the bid for the size held: 1 below cost, in the same step.
    let c = commit(&buy, "f1", q("40"), m("20"), Money::ZERO, held);
    s.commit_marked(&p, &buy.client_order_id, &[c], &[(t, m("-1"))], true, None, T0).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.unrealized, snap.daily_pnl_marked(), snap.drawdown()), (m("-1"), m("-1"), m("1")));
    // The book falls: 15 below cost is not yet the daily loss limit of 20; 20 is, without an order.
    s.revalue(&p, "arb", &[(t, m("-15"))], T0 + 1).await.unwrap();
    assert_eq!(s.mode(&p, T0 + 1).await.unwrap(), Some(RiskMode::Off));
    s.revalue(&p, "arb", &[(t, m("-20"))], T0 + 2).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(
        (snap.trips.current, snap.daily_pnl, snap.daily_pnl_marked()),
        (Some((Trip::DailyLoss, T0 + 2)), m("0"), m("-20"))
    );
    assert_eq!(s.mode(&p, T0 + 3).await.unwrap(), Some(RiskMode::ReduceOnly));
    assert_eq!(
        s.decide(&p, &intent("b", 2, Side::Buy, "0.5", "1"), LIQ, T0 + 3).await.unwrap(),
        Err(RejectReason::DailyLoss)
    );
    // The unwind passes; sold 1 USDC better than the mark, its realized PnL replaces the
    // unrealized in the same step: nothing counted twice, no false peak.
    let sell = intent("c", 1, Side::Sell, "0.01", "40");
    s.decide(&p, &sell, LIQ, T0 + 4).await.unwrap().unwrap();
    let flat = Position { realized: m("-19"), ..Position::default() };
    let c = commit(&sell, "f2", q("40"), m("20"), m("-19"), flat);
    s.commit_marked(&p, &sell.client_order_id, &[c], &[(t, Money::ZERO)], true, None, T0 + 5).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.unrealized, snap.daily_pnl, snap.daily_pnl_marked()), (m("0"), m("-19"), m("-19")));
    assert_eq!((snap.peak, snap.equity_marked(), snap.drawdown()), (m("0"), m("-19"), m("19")));
    assert_eq!(s.unrealized(&p, "arb").await.unwrap(), vec![]);
    // A reset counts from the marked PnL now.
    s.set_limits(&p, &RiskLimits { reset: 1, ..limits() }).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.trips.current, snap.daily_base, snap.peak), (None, m("-19"), m("-19")));
    // The next day counts from the marks before the day's first: a move then is the new day's.
    s.revalue(&p, "mm", &[(TokenId::from_u128(2), m("-3"))], T0 + 86_400_000).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.daily_pnl_marked(), snap.daily_base, snap.day_unrealized), (m("-3"), m("0"), m("0")));
}

async fn a_redecided_intent_gets_its_first_verdict<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let i = intent("a", 1, Side::Buy, "0.5", "10");
    assert_eq!(s.decide(&p, &i, LIQ, T0).await.unwrap(), Ok(()));
    assert_eq!(s.decide(&p, &i, LIQ, T0 + 1).await.unwrap(), Ok(()));
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("5"));
    let big = intent("b", 1, Side::Buy, "0.5", "101");
    assert_eq!(s.decide(&p, &big, LIQ, T0).await.unwrap(), Err(RejectReason::MaxOrderSize));
    s.set_limits(&p, &RiskLimits { max_order_size: q("1000"), ..limits() }).await.unwrap();
    assert_eq!(s.decide(&p, &big, LIQ, T0).await.unwrap(), Err(RejectReason::MaxOrderSize));
}

async fn claims_make_execution_at_most_once<S: RiskStore>(s: S, p: PolicyKey) {
    let id = ClientOrderId::new("x1").unwrap();
    assert_eq!(s.claim(&p, &id).await.unwrap(), Claim::Fresh);
    assert_eq!(s.claim(&p, &id).await.unwrap(), Claim::Pending);
    s.commit(&p, &id, &[], true, Some(Bytes::from_static(b"\x00outcome\xff")), T0).await.unwrap();
    assert_eq!(s.claim(&p, &id).await.unwrap(), Claim::Done(Bytes::from_static(b"\x00outcome\xff")));
    // A later commit without an outcome (a maker fill) keeps the recorded one.
    s.commit(&p, &id, &[], false, None, T0).await.unwrap();
    assert_eq!(s.claim(&p, &id).await.unwrap(), Claim::Done(Bytes::from_static(b"\x00outcome\xff")));
}

async fn fills_commit_once_and_release_the_rest<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let i = intent("a", 7, Side::Buy, "0.5", "100");
    s.decide(&p, &i, LIQ, T0).await.unwrap().unwrap();
    let pos = Position { size: q("40"), cost: m("18"), realized: m("-0.1"), fees: m("0.1"), deficit: Quantity::ZERO };
    let c = commit(&i, "f1", q("40"), m("18"), m("-0.1"), pos);
    s.commit(&p, &i.client_order_id, std::slice::from_ref(&c), false, None, T0).await.unwrap();
    // 40 of 100 at a limit of 0.5 frees 20 of the 50 reserved; the fill cost 18.
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("48"));
    s.commit(&p, &i.client_order_id, &[c], true, None, T0).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.open_reservations), (m("18"), 0));
    assert_eq!(snap.positions, vec![(TokenId::from_u128(7), q("40"))]);
    assert_eq!((snap.daily_pnl, snap.equity), (m("-0.1"), m("-0.1")));
    assert_eq!(s.positions(&p, "arb").await.unwrap(), vec![(TokenId::from_u128(7), pos)]);
    // The executor marks the position: unrealized PnL per token, last mark wins.
    s.revalue(&p, "arb", &[(TokenId::from_u128(7), m("-1.5"))], T0).await.unwrap();
    s.revalue(&p, "arb", &[(TokenId::from_u128(7), m("2.25"))], T0).await.unwrap();
    assert_eq!(s.unrealized(&p, "arb").await.unwrap(), vec![(TokenId::from_u128(7), m("2.25"))]);
    assert_eq!(s.snapshot(&p).await.unwrap().unrealized, m("2.25"));
}

async fn a_failed_fill_is_reversed_once<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let i = intent("b", 9, Side::Buy, "0.5", "20");
    s.decide(&p, &i, LIQ, T0).await.unwrap().unwrap();
    let held = Position { size: q("20"), cost: m("10"), realized: m("-0.2"), fees: m("0.2"), deficit: Quantity::ZERO };
    let mut matched = commit(&i, "t1", q("20"), m("10"), m("-0.2"), held);
    matched.fill.status = FillStatus::Matched;
    s.commit(&p, &i.client_order_id, std::slice::from_ref(&matched), true, None, T0).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.positions.clone()), (m("10"), vec![(TokenId::from_u128(9), q("20"))]));
    // The trade FAILED: the ledger took back the cost and the fee; the store follows, once.
    let mut failed = commit(&i, "t1", q("20"), m("-10"), m("0.2"), Position::default());
    failed.fill.status = FillStatus::Failed;
    for _ in 0..2 {
        s.commit(&p, &i.client_order_id, std::slice::from_ref(&failed), false, None, T0).await.unwrap();
    }
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(snap.exposure, Money::ZERO);
    assert!(snap.positions.iter().all(|(_, q)| q.is_zero()), "{:?}", snap.positions);
    assert_eq!((snap.daily_pnl, snap.equity), (Money::ZERO, Money::ZERO));
    assert_eq!(s.positions(&p, "arb").await.unwrap(), vec![(TokenId::from_u128(9), Position::default())]);
    let keys = ["t1".to_string(), "t1:failed".to_string(), "t2".to_string()];
    assert_eq!(s.committed(&p, &keys).await.unwrap(), vec![true, true, false]);
}

async fn live_orders_are_remembered_per_venue<S: RiskStore>(s: S, _p: PolicyKey) {
    s.remember_live("poly", "0xbb", Bytes::from_static(b"second")).await.unwrap();
    s.remember_live("poly", "0xaa", Bytes::from_static(b"first")).await.unwrap();
    s.remember_live("other", "0xcc", Bytes::from_static(b"x")).await.unwrap();
    let got = s.live_orders("poly").await.unwrap();
    assert_eq!(
        got,
        vec![("0xaa".to_string(), Bytes::from_static(b"first")), ("0xbb".to_string(), Bytes::from_static(b"second"))]
    );
    s.forget_live("poly", "0xaa").await.unwrap();
    assert_eq!(s.live_orders("poly").await.unwrap().len(), 1);
    assert_eq!(s.live_orders("other").await.unwrap().len(), 1);
}

async fn a_sell_order_losing_over_several_fills_is_one_loss<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let first = intent("unwind-1", 1, Side::Sell, "0.4", "30");
    assert_eq!(s.decide(&p, &first, LIQ, T0).await.unwrap(), Ok(()));
    for (k, fill) in ["a", "b", "c"].iter().enumerate() {
        let c = commit(&first, fill, q("10"), m("4"), m("-0.5"), Position::default());
        s.commit(&p, &first.client_order_id, &[c], k == 2, None, T0 + k as u64).await.unwrap();
    }
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.consecutive_losses, snap.daily_pnl), (1, m("-1.5")), "three losing fills, one losing order");
    assert!(snap.breaker_until_ms == 0);
    // A second losing order is the second loss in a row: the policy's breaker (2) trips.
    let second = intent("unwind-2", 1, Side::Sell, "0.4", "10");
    assert_eq!(s.decide(&p, &second, LIQ, T0 + 5).await.unwrap(), Ok(()));
    let c = commit(&second, "d", q("10"), m("4"), m("-0.5"), Position::default());
    s.commit(&p, &second.client_order_id, &[c], true, None, T0 + 6).await.unwrap();
    assert!(s.snapshot(&p).await.unwrap().breaker_until_ms > T0 + 6);
}

/// A set sold back is one round trip for the loss streak: its legs are netted, so two sets whose
/// first leg loses and whose second wins more never trip the breaker (2 losses), and a set that
/// loses on both legs is one loss.
async fn a_sets_legs_are_one_round_trip<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    for (n, pnl) in [(1, ["-0.4", "0.6"]), (2, ["-0.4", "0.6"]), (3, ["-0.1", "-0.1"])] {
        let group = ClientOrderId::new(&format!("set{n}-a")).unwrap();
        let legs: Vec<OrderIntent> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(k, leg)| OrderIntent {
                group: Some(group),
                ..intent(&format!("set{n}-{leg}"), 1 + k as u128, Side::Sell, "0.5", "10")
            })
            .collect();
        assert_eq!(s.decide_set(&p, &legs, &[LIQ, LIQ], T0 + n).await.unwrap(), Ok(()));
        for (leg, realized) in legs.iter().zip(pnl) {
            let c =
                commit(leg, &format!("f-{}", leg.client_order_id), q("10"), m("5"), m(realized), Position::default());
            s.commit(&p, &leg.client_order_id, &[c], true, None, T0 + n).await.unwrap();
        }
    }
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(snap.consecutive_losses, 1, "two winning sets, then one losing on both legs");
    assert_eq!(snap.breaker_until_ms, 0);
}

async fn a_set_is_approved_whole_or_not_at_all<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    // Two legs of 40 USDC each: the second would take gross exposure to 80 (< 100): approved.
    let set = [intent("s1-a", 1, Side::Buy, "0.4", "100"), intent("s1-b", 2, Side::Buy, "0.4", "100")];
    assert_eq!(s.decide_set(&p, &set, &[LIQ, LIQ], T0).await.unwrap(), Ok(()));
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("80"));
    // A second set: its first leg fits (95), its second would not (110): refused whole, and the
    // first leg's reservation is not left behind.
    let set2 = [intent("s2-a", 3, Side::Buy, "0.15", "100"), intent("s2-b", 4, Side::Buy, "0.15", "100")];
    assert_eq!(s.decide_set(&p, &set2, &[LIQ, LIQ], T0 + 1).await.unwrap(), Err(RejectReason::GrossExposure));
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.open_reservations, snap.recent_orders), (m("80"), 2, 2));
    assert!(snap.positions.iter().all(|(t, _)| *t != TokenId::from_u128(3)), "{:?}", snap.positions);
    // Redelivered: the same verdict, nothing changes; one leg alone is the set's verdict too.
    assert_eq!(s.decide_set(&p, &set2, &[LIQ, LIQ], T0 + 2).await.unwrap(), Err(RejectReason::GrossExposure));
    assert_eq!(s.decide(&p, &set2[1], LIQ, T0 + 2).await.unwrap(), Err(RejectReason::GrossExposure));
    assert_eq!(s.decide_set(&p, &set, &[LIQ, LIQ], T0 + 2).await.unwrap(), Ok(()));
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("80"));
    // A thin book on one leg refuses the whole set.
    s.release(&p, &set[0].client_order_id).await.unwrap();
    let set3 = [intent("s3-a", 5, Side::Buy, "0.1", "10"), intent("s3-b", 6, Side::Buy, "0.1", "10")];
    let thin = [LIQ, Some(m("1"))];
    assert_eq!(s.decide_set(&p, &set3, &thin, T0 + 3).await.unwrap(), Err(RejectReason::BookLiquidity));
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("40"));
    // Two legs on one token count together against the position limit (150).
    let same = [intent("s4-a", 7, Side::Buy, "0.1", "100"), intent("s4-b", 7, Side::Buy, "0.1", "100")];
    assert_eq!(s.decide_set(&p, &same, &[LIQ, LIQ], T0 + 4).await.unwrap(), Err(RejectReason::MaxPosition));
}

/// Buys 10 shares of each `(id, token, price)`: decided, filled whole, booked in `ledger` and
/// committed to the store.
async fn buy_tens<S: RiskStore>(s: &S, p: &PolicyKey, ledger: &mut Ledger, buys: &[(&str, u128, &str)]) {
    for &(id, token, price) in buys {
        let i = intent(id, token, Side::Buy, price, "10");
        s.decide(p, &i, LIQ, T0).await.unwrap().unwrap();
        let mut c = commit(&i, id, q("10"), Money::ZERO, Money::ZERO, Position::default());
        let booked = ledger.book(&c.fill).unwrap();
        (c.cost, c.realized, c.position) = (booked.cost, booked.realized, booked.position);
        s.commit(p, &i.client_order_id, &[c], true, None, T0).await.unwrap();
    }
}

/// A complete set bought, part of it merged (the merge redelivered), the market resolved (the
/// settlement committed), then the agent restarts on `reopened` (a new connection): it rebuilds
/// its ledger from the store, a redelivered settlement changes nothing, and the winning tokens
/// redeem.
async fn a_market_lifecycle_commits_once_and_survives_a_restart<S: RiskStore>(s: S, reopened: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let market = ConditionId::from_bytes([0; 32]);
    let (yes, no) = (TokenId::from_u128(1), TokenId::from_u128(2));
    let mut ledger = Ledger::new();
    buy_tens(&s, &p, &mut ledger, &[("set-yes", 1, "0.48"), ("set-no", 2, "0.49")]).await;
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("9.7"));

    let merge = CtfOp::Merge { market, tokens: [yes, no], size: q("4") };
    let merged = ledger.on_ctf("merge-1", &merge).unwrap().unwrap();
    assert!(s.commit_lifecycle(&p, "arb", "merge-1", &merged, Booking::Ctf(&merge), T0 + 1).await.unwrap());
    assert!(
        !s.commit_lifecycle(&p, "arb", "merge-1", &merged, Booking::Ctf(&merge), T0 + 2).await.unwrap(),
        "redelivered merge"
    );
    let snap = s.snapshot(&p).await.unwrap();
    // 4 sets at 0.97 release 3.88 of exposure and realize 0.12.
    assert_eq!((snap.exposure, snap.daily_pnl, snap.equity), (m("5.82"), m("0.12"), m("0.12")));
    assert_eq!(snap.positions, vec![(yes, q("6")), (no, q("6"))]);

    let res = Resolution::won_by(market, &[yes, no], yes);
    let settled = ledger.settle(&res).unwrap().unwrap();
    assert!(
        s.commit_lifecycle(&p, "arb", &res.settlement_key("arb"), &settled, Booking::Settlement(&res), T0 + 3)
            .await
            .unwrap()
    );
    let snap = s.snapshot(&p).await.unwrap();
    // YES: 6 worth 6 against 2.88; NO: 6 worth nothing against 2.94. Exposure is what redeeming
    // will bring in.
    assert_eq!((snap.exposure, snap.daily_pnl), (m("6"), m("0.3")));
    assert_eq!(snap.positions, vec![(yes, q("6"))]);

    // The agent restarts: its ledger comes back from the store.
    let mut again = Ledger::new();
    for (t, pos) in reopened.positions(&p, "arb").await.unwrap() {
        again.restore(t, pos);
    }
    let settlements = reopened.settlements(&p).await.unwrap();
    assert_eq!(settlements, vec![res.clone()]);
    for r in &settlements {
        again.restore_settlement(r);
    }
    assert_eq!(again.positions(), ledger.positions());
    assert_eq!(again.cash(), ledger.cash());
    // The resolution reported again: nothing in the ledger, nothing in the store.
    assert_eq!(again.settle(&res).unwrap(), None);
    assert!(
        !reopened
            .commit_lifecycle(&p, "arb", &res.settlement_key("arb"), &settled, Booking::Settlement(&res), T0 + 4)
            .await
            .unwrap()
    );
    assert_eq!(reopened.snapshot(&p).await.unwrap().exposure, m("6"));
    // The winners redeem at 1 USDC: exposure and the position go, cash comes in.
    let redeem = CtfOp::Redeem { market, token: yes, size: q("6") };
    let redeemed = again.on_ctf("redeem-1", &redeem).unwrap().unwrap();
    assert_eq!((redeemed.cash, redeemed.realized), (m("6"), Money::ZERO));
    assert!(reopened.commit_lifecycle(&p, "arb", "redeem-1", &redeemed, Booking::Ctf(&redeem), T0 + 5).await.unwrap());
    let snap = reopened.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.daily_pnl), (Money::ZERO, m("0.3")));
    assert!(snap.positions.is_empty(), "{:?}", snap.positions);
    assert_eq!(again.cash(), m("0.3"), "9.7 paid, 4 merged back, 6 redeemed");
    assert_eq!(reopened.positions(&p, "arb").await.unwrap(), again.positions());
    // The totals count each booking once, redeliveries and restarts included.
    let totals = LifecycleTotals {
        merges: 1,
        merged: q("4"),
        redemptions: 1,
        redeemed: q("6"),
        settlements: 1,
        settled_pnl: settled.realized,
        capital_returned: m("10"),
        ..Default::default()
    };
    assert_eq!(reopened.lifecycle_totals(&p, Some("arb")).await.unwrap(), totals);
    assert_eq!(reopened.lifecycle_totals(&p, None).await.unwrap(), totals);
    assert_eq!(reopened.lifecycle_totals(&p, Some("other")).await.unwrap(), LifecycleTotals::default());
}

fn ctf(id: &str, op: CtfOp) -> CtfIntent {
    CtfIntent {
        id: ClientOrderId::new(id).unwrap(),
        namespace: "ns".into(),
        strategy: "arb".into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        op,
        mode: Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
    }
}

/// A split goes through the gateway and the execution agent's calls: decided as two purchases
/// at half a USDC (reserved, limits applied, a redelivery answered with the first verdict), then
/// booked by id with its reservations released (exposure = the set's cost, once), then merged
/// back, the merge redelivered changing nothing.
async fn a_split_reserves_then_books_its_cost_and_a_merge_gives_it_back<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let market = ConditionId::from_bytes([0; 32]);
    let (yes, no) = (TokenId::from_u128(1), TokenId::from_u128(2));
    let split = ctf("split-1", CtfOp::Split { market, tokens: [yes, no], size: q("40") });
    let legs = reservation_legs(&split).unwrap();
    assert_eq!(s.decide_set(&p, &legs, &[None, None], T0).await.unwrap(), Ok(()));
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.open_reservations), (m("40"), 2));
    assert_eq!(snap.positions, vec![(yes, q("40")), (no, q("40"))]);
    // Redelivered: the first verdict, nothing more reserved.
    assert_eq!(s.decide_set(&p, &legs, &[None, None], T0).await.unwrap(), Ok(()));
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("40"));
    // Another 70 sets would pass the 100 USDC gross limit: refused whole, nothing reserved.
    let big = ctf("split-2", CtfOp::Split { market, tokens: [yes, no], size: q("70") });
    let refused = s.decide_set(&p, &reservation_legs(&big).unwrap(), &[None, None], T0).await.unwrap();
    assert_eq!(refused, Err(RejectReason::GrossExposure));
    assert_eq!(s.snapshot(&p).await.unwrap().open_reservations, 2);

    // Executed: booked by id, then the reservations released (the execution agent's order).
    let mut ledger = Ledger::new();
    assert_eq!(s.claim(&p, &split.id).await.unwrap(), Claim::Fresh);
    let booked = ledger.on_ctf(split.id.as_str(), &split.op).unwrap().unwrap();
    assert_eq!((booked.cash, booked.cost), (m("-40"), m("40")));
    assert!(s.commit_lifecycle(&p, "arb", split.id.as_str(), &booked, Booking::Ctf(&split.op), T0 + 1).await.unwrap());
    let ids = reservation_ids(&split);
    s.commit(&p, &ids[0], &[], true, Some(Bytes::from_static(b"done")), T0 + 1).await.unwrap();
    s.release(&p, &ids[1]).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.open_reservations), (m("40"), 0), "the reservation became the cost, once");
    assert_eq!(snap.positions, vec![(yes, q("40")), (no, q("40"))]);
    assert_eq!(s.committed(&p, &["split-1".to_string()]).await.unwrap(), vec![true]);
    assert_eq!(s.claim(&p, &split.id).await.unwrap(), Claim::Done(Bytes::from_static(b"done")));

    // Merged back, and the merge delivered twice: exposure and shares go once.
    let merge = CtfOp::Merge { market, tokens: [yes, no], size: q("40") };
    let merged = ledger.on_ctf("merge-1", &merge).unwrap().unwrap();
    assert_eq!((merged.cash, merged.realized, merged.cost), (m("40"), Money::ZERO, m("-40")));
    assert!(s.commit_lifecycle(&p, "arb", "merge-1", &merged, Booking::Ctf(&merge), T0 + 2).await.unwrap());
    assert!(!s.commit_lifecycle(&p, "arb", "merge-1", &merged, Booking::Ctf(&merge), T0 + 3).await.unwrap());
    assert_eq!(ledger.on_ctf("merge-1", &merge).unwrap(), None);
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.daily_pnl), (Money::ZERO, Money::ZERO));
    assert!(snap.positions.is_empty(), "{:?}", snap.positions);
    assert_eq!(ledger.cash(), Money::ZERO, "a split merged back costs nothing");
    let totals = s.lifecycle_totals(&p, Some("arb")).await.unwrap();
    assert_eq!((totals.splits, totals.split, totals.merges, totals.merged), (1, q("40"), 1, q("40")));
    assert_eq!(totals.capital_returned, m("40"));
}

/// A NO basket of a three-outcome neg-risk event: bought (exposure = what it cost), converted
/// into 2 USDC a basket (the conversion delivered twice books once), and the exposure, the
/// positions and the conversion's profit follow; the totals count it once.
async fn a_no_basket_converts_once_and_gives_its_exposure_back<S: RiskStore>(s: S, p: PolicyKey) {
    s.set_limits(&p, &limits()).await.unwrap();
    let mut ledger = Ledger::new();
    let nos = [11u128, 12, 13].map(TokenId::from_u128);
    buy_tens(&s, &p, &mut ledger, &[("no-a", 11, "0.60"), ("no-b", 12, "0.60"), ("no-c", 13, "0.70")]).await;
    assert_eq!(s.snapshot(&p).await.unwrap().exposure, m("19"));
    let convert = CtfOp::Convert { no_tokens: nos.to_vec(), yes_tokens: vec![], size: q("10"), fee_bips: 0 };
    let booked = ledger.on_ctf("convert-1", &convert).unwrap().unwrap();
    assert_eq!((booked.cash, booked.realized, booked.cost), (m("20"), m("1"), m("-19")));
    assert!(s.commit_lifecycle(&p, "arb", "convert-1", &booked, Booking::Ctf(&convert), T0 + 1).await.unwrap());
    assert!(
        !s.commit_lifecycle(&p, "arb", "convert-1", &booked, Booking::Ctf(&convert), T0 + 2).await.unwrap(),
        "redelivered conversion"
    );
    assert_eq!(ledger.on_ctf("convert-1", &convert).unwrap(), None);
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.exposure, snap.daily_pnl), (Money::ZERO, m("1")));
    assert!(snap.positions.is_empty(), "{:?}", snap.positions);
    assert_eq!(ledger.cash(), m("1"), "19 paid, 20 converted back");
    assert_eq!(s.positions(&p, "arb").await.unwrap(), ledger.positions());
    let totals = s.lifecycle_totals(&p, Some("arb")).await.unwrap();
    assert_eq!((totals.conversions, totals.converted, totals.capital_returned), (1, q("10"), m("20")));
}

#[tokio::test]
async fn memory_market_lifecycle_commits_once_and_survives_a_restart() {
    let s = MemoryRiskStore::new();
    a_market_lifecycle_commits_once_and_survives_a_restart(s.clone(), s, PolicyKey::new("ns", "rp")).await;
}

#[tokio::test]
async fn redis_market_lifecycle_commits_once_and_survives_a_restart() {
    let server = RedisServer::start();
    let s = RedisRiskStore::connect(&server.url).await.unwrap();
    let reopened = RedisRiskStore::connect(&server.url).await.unwrap();
    a_market_lifecycle_commits_once_and_survives_a_restart(s, reopened, PolicyKey::new("ns", "rp")).await;
}

/// Tokens 1 and 2: a binary market in group `category=c`; 3 and 4: outcomes of a neg-risk
/// event in the same group.
fn grouped(id: &str, token: u128, price: &str, size: &str) -> OrderIntent {
    let groups = vec!["category=c".to_string()];
    let outcome = if token <= 2 {
        Outcome { event: "0xa".into(), index: 0, yes: token == 1, markets: 1, exhaustive: false, groups }
    } else {
        let index = u16::try_from(token - 3).unwrap();
        Outcome { event: "event:e".into(), index, yes: true, markets: 2, exhaustive: true, groups }
    };
    OrderIntent { outcome: Some(outcome), ..intent(id, token, Side::Buy, price, size) }
}

async fn event_group_and_kelly_limits_hold_and_exposure_follows_the_order_path<S: RiskStore>(s: S, p: PolicyKey) {
    let l = RiskLimits {
        max_event_exposure: Some(m("30")),
        group_limits: vec![("category".into(), m("40")), ("other".into(), m("1"))],
        kelly_budget: Some(m("100")),
        circuit_breaker: None,
        ..limits()
    };
    s.set_limits(&p, &l).await.unwrap();
    let exposures = |snap: &RiskSnapshot| (snap.event_exposure.clone(), snap.group_exposure.clone());
    let ev = |v: &[(&str, &str)]| v.iter().map(|(k, x)| (k.to_string(), m(x))).collect::<Vec<_>>();
    let first = grouped("b1", 1, "0.5", "50");
    assert_eq!(s.decide(&p, &first, LIQ, T0).await.unwrap(), Ok(()));
    // 25 + 10 in the binary market: above its event's 30.
    let v = s.decide(&p, &grouped("b2", 2, "0.5", "20"), LIQ, T0).await.unwrap();
    assert_eq!(v, Err(RejectReason::EventExposure));
    // 20 in the other event fits it, but the group would hold 45.
    let v = s.decide(&p, &grouped("b3", 3, "0.5", "40"), LIQ, T0).await.unwrap();
    assert_eq!(v, Err(RejectReason::GroupExposure));
    let b4 = grouped("b4", 3, "0.5", "20");
    assert_eq!(s.decide(&p, &b4, LIQ, T0).await.unwrap(), Ok(()));
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(exposures(&snap), (ev(&[("0xa", "25"), ("event:e", "10")]), ev(&[("category=c", "35")])));
    // Released: the event drops out, the group keeps the rest.
    s.release(&p, &first.client_order_id).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(exposures(&snap), (ev(&[("event:e", "10")]), ev(&[("category=c", "10")])));
    // Kelly: p = 0.6 at 0.5 allows 0.2 x 100 = 20 USDC of stake in token 4.
    let sized = |id: &str, size: &str| OrderIntent {
        kelly: Some(KellyBasis { probability_ppm: 600_000 }),
        ..grouped(id, 4, "0.5", size)
    };
    assert_eq!(s.decide(&p, &sized("k1", "41"), LIQ, T0).await.unwrap(), Err(RejectReason::KellyCap));
    assert_eq!(s.decide(&p, &sized("k2", "30"), LIQ, T0).await.unwrap(), Ok(()));
    // The stake counts what is held and on order: 15 more USDC would pass 20.
    assert_eq!(s.decide(&p, &sized("k3", "11"), LIQ, T0).await.unwrap(), Err(RejectReason::KellyCap));
    // Not model-sized: no Kelly cap (the event's 30 still holds: 10 + 15 + 5).
    assert_eq!(s.decide(&p, &grouped("k4", 4, "0.5", "10"), LIQ, T0).await.unwrap(), Ok(()));
    // A probability above one is malformed.
    let bad = OrderIntent { kelly: Some(KellyBasis { probability_ppm: 1_000_001 }), ..sized("k5", "1") };
    assert_eq!(s.decide(&p, &bad, LIQ, T0).await.unwrap(), Err(RejectReason::Invalid));
    // A fill below its reservation gives the difference back to the event and the group.
    let pos = Position { size: q("20"), cost: m("9"), ..Position::default() };
    let c = commit(&b4, "f1", q("20"), m("9"), Money::ZERO, pos);
    s.commit(&p, &b4.client_order_id, &[c], true, None, T0).await.unwrap();
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(exposures(&snap), (ev(&[("event:e", "29")]), ev(&[("category=c", "29")])));
    // The event settles (outcome 0 wins), the losers' cost released; the winners' stays with the
    // event until redeemed.
    let market = ConditionId::from_bytes([3; 32]);
    let (t3, t4) = (TokenId::from_u128(3), TokenId::from_u128(4));
    let res = Resolution { market, payouts: vec![(t3, Price::ONE), (t4, Price::ZERO)] };
    let settle = Lifecycle { positions: vec![], shares: vec![], cash: Money::ZERO, realized: m("-20"), cost: m("-20") };
    assert!(s.commit_lifecycle(&p, "arb", "settle-1", &settle, Booking::Settlement(&res), T0).await.unwrap());
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(exposures(&snap), (ev(&[("event:e", "9")]), ev(&[("category=c", "9")])));
    let redeem = Lifecycle {
        positions: vec![(t3, Position::default())],
        shares: vec![(t3, -20_000_000)],
        cash: m("20"),
        realized: m("11"),
        cost: m("-9"),
    };
    let op = CtfOp::Redeem { market, token: t3, size: q("20") };
    assert!(s.commit_lifecycle(&p, "arb", "redeem-1", &redeem, Booking::Ctf(&op), T0).await.unwrap());
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!(exposures(&snap), (vec![], vec![]), "redeemed: nothing left in the event or the group");
}

/// Many decisions at once (the gateway decides up to its concurrency; the Redis store batches
/// them into shared script calls): each is decided as if alone, in some order. 200 buys against
/// a limit of 50 orders a minute: exactly 50 approved, each reserved once; an intent sent twice
/// at once gets one verdict.
async fn concurrent_decisions_are_each_decided_as_if_alone<S: RiskStore>(s: S, p: PolicyKey) {
    let l = RiskLimits { max_orders_per_minute: 50, ..limits() };
    s.set_limits(&p, &l).await.unwrap();
    let intents: Vec<OrderIntent> =
        (0..200).map(|i| intent(&format!("c{i}"), 1 + (i % 5), Side::Buy, "0.1", "1")).collect();
    let twice: Vec<&OrderIntent> = intents.iter().chain(intents.iter().take(20)).collect();
    let verdicts = futures::future::join_all(twice.iter().map(|i| s.decide(&p, i, LIQ, T0))).await;
    let verdicts: Vec<Result<(), RejectReason>> = verdicts.into_iter().map(Result::unwrap).collect();
    for k in 0..20 {
        assert_eq!(verdicts[k], verdicts[200 + k], "one verdict per intent");
    }
    let approved = verdicts[..200].iter().filter(|v| v.is_ok()).count();
    let refused = verdicts[..200].iter().filter(|v| **v == Err(RejectReason::OrderRate)).count();
    assert_eq!((approved, refused), (50, 150));
    let snap = s.snapshot(&p).await.unwrap();
    assert_eq!((snap.recent_orders, snap.open_reservations, snap.exposure), (50, 50, m("5")));
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::MemoryRiskStore::new(), super::PolicyKey::new("ns", "rp")).await;
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $case() {
                let server = super::RedisServer::start();
                let s = super::RedisRiskStore::connect(&server.url).await.unwrap();
                super::$case(s, super::PolicyKey::new("ns", "rp")).await;
            })*
        }
    };
}

suite!(
    unknown_policy_is_rejected,
    limits_read_back_and_removal_stops_approvals,
    modes_take_effect_at_once,
    a_loss_trip_is_reduce_only_until_reset_or_cooldown,
    an_open_position_losing_value_trips_through_unrealized_pnl,
    a_redecided_intent_gets_its_first_verdict,
    claims_make_execution_at_most_once,
    fills_commit_once_and_release_the_rest,
    a_failed_fill_is_reversed_once,
    live_orders_are_remembered_per_venue,
    a_sell_order_losing_over_several_fills_is_one_loss,
    a_sets_legs_are_one_round_trip,
    a_set_is_approved_whole_or_not_at_all,
    a_split_reserves_then_books_its_cost_and_a_merge_gives_it_back,
    a_no_basket_converts_once_and_gives_its_exposure_back,
    event_group_and_kelly_limits_hold_and_exposure_follows_the_order_path,
    concurrent_decisions_are_each_decided_as_if_alone,
);

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap()
    }
}

/// The differential walk's tokens: 1 and 2 are the YES and NO of a binary market; 3, 4 and 5
/// the YES of a three-way neg-risk event's outcomes (exhaustive or not, by seed) and 6 the NO of
/// its first; 7 is never described. Both events are in exposure group `category=c`; the
/// neg-risk one is in `under=x` too.
fn walk_outcome(token: u128, exhaustive: bool) -> Option<Outcome> {
    let groups = vec!["category=c".to_string(), "under=x".into()];
    let event = |index: u16, yes: bool| Outcome {
        event: "event:e".into(),
        index,
        yes,
        markets: 3,
        exhaustive,
        groups: groups.clone(),
    };
    match token {
        1 | 2 => Some(Outcome {
            event: "0xa".into(),
            index: 0,
            yes: token == 1,
            markets: 1,
            exhaustive: false,
            groups: vec!["category=c".into()],
        }),
        3..=5 => Some(event(u16::try_from(token - 3).unwrap(), true)),
        6 => Some(event(0, false)),
        _ => None,
    }
}

/// An intent of the walk, its token described most of the time (a later order may be the
/// first to describe it), now and then wrongly (the first description, and its event's groups,
/// must stand); a third of the time sized by a model (a Kelly basis).
fn walk_intent(
    rng: &mut Rng,
    id: &str,
    token: u128,
    side: Side,
    price: &str,
    size: &str,
    exhaustive: bool,
) -> OrderIntent {
    let outcome = match rng.below(12) {
        0 => None,
        1 => Some(Outcome {
            event: "event:e".into(),
            index: 1,
            yes: false,
            markets: 2,
            exhaustive: true,
            groups: vec!["category=d".into()],
        }),
        _ => walk_outcome(token, exhaustive),
    };
    let kelly =
        (rng.below(3) == 0).then(|| KellyBasis { probability_ppm: u32::try_from(rng.below(1_000_001)).unwrap() });
    OrderIntent { outcome, kelly, ..intent(id, token, side, price, size) }
}

/// Unrealized PnL of a few of the walk's tokens (zero: the token's mark removed).
fn walk_marks(rng: &mut Rng) -> Vec<(TokenId, Money)> {
    let mut marks: Vec<(TokenId, Money)> = vec![];
    for _ in 0..rng.below(3) {
        let token = TokenId::from_u128(1 + u128::from(rng.below(7)));
        let value = if rng.below(5) == 0 { 0 } else { rng.below(16_000_000) as i64 - 11_000_000 };
        if !marks.iter().any(|(t, _)| *t == token) {
            marks.push((token, Money::from_micros(value)));
        }
    }
    marks
}

#[tokio::test]
async fn redis_scripts_match_the_reference_model_over_random_operations() {
    let server = RedisServer::start();
    let redis = RedisRiskStore::connect(&server.url).await.unwrap();
    let mut outcomes: std::collections::BTreeMap<String, u32> = Default::default();
    for seed in 1..=4u64 {
        let model = MemoryRiskStore::new();
        let p = PolicyKey::new("ns", &format!("rp{seed}"));
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut now = T0 + seed * 1000;
        let mut approved: Vec<OrderIntent> = vec![];
        let mut fill_no = 0;
        let mut l = limits();
        let exhaustive = seed % 2 == 0;
        model.set_limits(&p, &l).await.unwrap();
        redis.set_limits(&p, &l).await.unwrap();
        let mut tripped_before = false;
        for step in 0..400 {
            let op = rng.below(10);
            match op {
                0 if rng.below(2) == 0 => {
                    // A burst: up to a dozen intents (orders and sets, a redelivered id now and
                    // then, times moving on) submitted at once, so the store decides them in one
                    // batch; the model decides them one after the other in the same order.
                    let mut burst: Vec<(Vec<OrderIntent>, Vec<Option<Money>>, u64)> = vec![];
                    let mut at = now;
                    for j in 0..2 + rng.below(11) {
                        if j > 0 && rng.below(8) == 0 {
                            let again = burst[rng.index(burst.len())].clone();
                            burst.push(again);
                            continue;
                        }
                        at += rng.below(3) * rng.below(40_000);
                        let side = if rng.below(3) == 0 { Side::Sell } else { Side::Buy };
                        let n = if rng.below(4) == 0 { 2 + rng.below(2) } else { 1 };
                        let group = (n > 1).then(|| ClientOrderId::new(&format!("b{seed}-{step}-{j}-0")).unwrap());
                        let legs: Vec<OrderIntent> = (0..n)
                            .map(|k| {
                                let price = format!("0.{:02}", 1 + rng.below(98));
                                let size = format!("{}.{:02}", rng.below(60), rng.below(100));
                                let token = 1 + u128::from(rng.below(7));
                                let id = format!("b{seed}-{step}-{j}-{k}");
                                OrderIntent {
                                    group,
                                    ..walk_intent(&mut rng, &id, token, side, &price, &size, exhaustive)
                                }
                            })
                            .collect();
                        let liq = (0..n)
                            .map(|_| (rng.below(4) != 0).then(|| Money::from_micros(rng.below(20_000_000) as i64)))
                            .collect();
                        burst.push((legs, liq, at));
                    }
                    let mut expected = vec![];
                    for (legs, liq, at) in &burst {
                        expected.push(if legs.len() == 1 {
                            model.decide(&p, &legs[0], liq[0], *at).await.unwrap()
                        } else {
                            model.decide_set(&p, legs, liq, *at).await.unwrap()
                        });
                    }
                    let got = futures::future::join_all(burst.iter().map(|(legs, liq, at)| async {
                        if legs.len() == 1 {
                            redis.decide(&p, &legs[0], liq[0], *at).await.unwrap()
                        } else {
                            redis.decide_set(&p, legs, liq, *at).await.unwrap()
                        }
                    }))
                    .await;
                    assert_eq!(expected, got, "seed {seed} step {step}: burst {burst:?}");
                    let mut seen = std::collections::BTreeSet::new();
                    for ((legs, _, _), v) in burst.iter().zip(&expected) {
                        *outcomes.entry(format!("burst {v:?}")).or_default() += 1;
                        if v.is_ok() && seen.insert(legs[0].client_order_id) {
                            approved.extend(legs.iter().cloned());
                        }
                    }
                    now = at;
                }
                3 | 4 if rng.below(3) == 0 => {
                    // A set of two or three legs (bought, or sold: its sell fills are one round
                    // trip for the loss streak), sometimes on one token, decided as one.
                    let n = 2 + rng.below(2);
                    let side = if rng.below(3) == 0 { Side::Sell } else { Side::Buy };
                    let group = ClientOrderId::new(&format!("o{seed}-{step}-0")).ok();
                    let legs: Vec<OrderIntent> = (0..n)
                        .map(|k| {
                            let price = format!("0.{:02}", 1 + rng.below(98));
                            let size = format!("{}.{:02}", rng.below(25), rng.below(100));
                            let token = 1 + u128::from(rng.below(7));
                            let id = format!("o{seed}-{step}-{k}");
                            OrderIntent { group, ..walk_intent(&mut rng, &id, token, side, &price, &size, exhaustive) }
                        })
                        .collect();
                    let liq: Vec<Option<Money>> = (0..n)
                        .map(|_| match rng.below(4) {
                            0 => None,
                            _ => Some(Money::from_micros(rng.below(20_000_000) as i64)),
                        })
                        .collect();
                    let a = model.decide_set(&p, &legs, &liq, now).await.unwrap();
                    let b = redis.decide_set(&p, &legs, &liq, now).await.unwrap();
                    assert_eq!(a, b, "seed {seed} step {step}: decide_set {legs:?}");
                    *outcomes.entry(format!("set {a:?}")).or_default() += 1;
                    if a.is_ok() {
                        approved.extend(legs);
                    }
                }
                0..=4 => {
                    let side = if rng.below(3) == 0 { Side::Sell } else { Side::Buy };
                    let price = format!("0.{:02}", 1 + rng.below(98));
                    let size = format!("{}.{:02}", rng.below(120), rng.below(100));
                    let token = 1 + u128::from(rng.below(7));
                    let i = walk_intent(&mut rng, &format!("o{seed}-{step}"), token, side, &price, &size, exhaustive);
                    let liq = match rng.below(4) {
                        0 => None,
                        _ => Some(Money::from_micros(rng.below(20_000_000) as i64)),
                    };
                    let a = model.decide(&p, &i, liq, now).await.unwrap();
                    let b = redis.decide(&p, &i, liq, now).await.unwrap();
                    assert_eq!(a, b, "seed {seed} step {step}: decide {i:?}");
                    *outcomes.entry(format!("{a:?}")).or_default() += 1;
                    if a.is_ok() {
                        approved.push(i);
                    }
                }
                5 if !approved.is_empty() => {
                    let i = approved.remove(rng.index(approved.len()));
                    model.release(&p, &i.client_order_id).await.unwrap();
                    redis.release(&p, &i.client_order_id).await.unwrap();
                }
                6 | 7 if !approved.is_empty() => {
                    let k = rng.index(approved.len());
                    let i = approved[k].clone();
                    let size = Quantity::from_micros(rng.below(i.size.micros() + 1));
                    let cost = Money::from_micros(rng.below(60_000_000) as i64);
                    let realized = Money::from_micros(rng.below(6_000_000) as i64 - 4_000_000);
                    fill_no += 1;
                    let pos = Position { size, cost, realized, fees: Money::ZERO, deficit: Quantity::ZERO };
                    let c = commit(&i, &format!("f{seed}-{fill_no}"), size, cost, realized, pos);
                    let finished = rng.below(2) == 0;
                    if finished {
                        approved.remove(k);
                    }
                    // Sometimes the same fill twice (a redelivery).
                    let fills = if rng.below(4) == 0 { vec![c.clone(), c] } else { vec![c] };
                    *outcomes.entry("fill".into()).or_default() += 1;
                    // The unrealized PnL the fills changed, set in the same step.
                    let marks = walk_marks(&mut rng);
                    model.commit_marked(&p, &i.client_order_id, &fills, &marks, finished, None, now).await.unwrap();
                    redis.commit_marked(&p, &i.client_order_id, &fills, &marks, finished, None, now).await.unwrap();
                }
                8 => {
                    l.mode = match rng.below(10) {
                        0 => RiskMode::Halt,
                        1 => RiskMode::ReduceOnly,
                        _ => RiskMode::Off,
                    };
                    // Sometimes a trip reset, a cooldown, tight loss limits (so trips happen).
                    l.reset += u64::from(rng.below(3) == 0);
                    l.trip_cooldown_ms = (rng.below(2) == 0).then(|| 1 + rng.below(120_000));
                    l.max_daily_loss = Money::from_micros(1_000_000 + rng.below(20_000_000) as i64);
                    l.max_drawdown = Money::from_micros(1_000_000 + rng.below(30_000_000) as i64);
                    l.max_orders_per_minute =
                        if rng.below(3) == 0 { 4 + u32::try_from(rng.below(12)).unwrap() } else { 30 };
                    l.max_orders_per_day = (rng.below(4) == 0).then(|| 3 + u32::try_from(rng.below(8)).unwrap());
                    l.max_gross_exposure = Money::from_micros(50_000_000 + rng.below(100_000_000) as i64);
                    l.min_book_liquidity =
                        (rng.below(3) != 0).then(|| Money::from_micros(rng.below(15_000_000) as i64));
                    l.max_loss_at_resolution =
                        (rng.below(3) != 0).then(|| Money::from_micros(rng.below(60_000_000) as i64));
                    // Event, group and Kelly limits, each now and then.
                    l.max_event_exposure =
                        (rng.below(3) != 0).then(|| Money::from_micros(10_000_000 + rng.below(60_000_000) as i64));
                    l.group_limits = vec![];
                    for g in ["category", "under"] {
                        if rng.below(2) == 0 {
                            l.group_limits
                                .push((g.into(), Money::from_micros(10_000_000 + rng.below(80_000_000) as i64)));
                        }
                    }
                    l.kelly_budget = (rng.below(3) != 0).then(|| Money::from_micros(rng.below(200_000_000) as i64));
                    model.set_limits(&p, &l).await.unwrap();
                    redis.set_limits(&p, &l).await.unwrap();
                }
                9 if rng.below(2) == 0 => {
                    // A lifecycle booking (shares of one or two tokens change, cost and PnL
                    // move), or a market's settlement, whose tokens then count at their payout.
                    let tokens: Vec<u128> = (0..1 + rng.below(2)).map(|_| 1 + u128::from(rng.below(7))).collect();
                    let mut shares: Vec<(TokenId, i64)> = vec![];
                    for t in tokens {
                        let t = TokenId::from_u128(t);
                        if !shares.iter().any(|(x, _)| *x == t) {
                            shares.push((t, rng.below(40_000_000) as i64 - 25_000_000));
                        }
                    }
                    let positions = shares.iter().map(|(t, _)| (*t, Position::default())).collect();
                    let cost = Money::from_micros(rng.below(30_000_000) as i64 - 20_000_000);
                    let realized = Money::from_micros(rng.below(6_000_000) as i64 - 3_000_000);
                    let booked = Lifecycle { positions, shares, cash: Money::ZERO, realized, cost };
                    let id = format!("life{seed}-{step}");
                    let market = ConditionId::from_bytes([1; 32]);
                    let res = if rng.below(2) == 0 {
                        // Binary: YES or NO wins; the event: outcome k wins (its NO loses).
                        let yes_wins = rng.below(2) == 0;
                        let (yes, no) = (if yes_wins { Price::ONE } else { Price::ZERO }, Price::ONE);
                        let no = if yes_wins { Price::ZERO } else { no };
                        vec![(TokenId::from_u128(1), yes), (TokenId::from_u128(2), no)]
                    } else {
                        let k = rng.below(3);
                        let mut p: Vec<(TokenId, Price)> = (0..3u64)
                            .map(|i| {
                                (TokenId::from_u128(3 + u128::from(i)), if i == k { Price::ONE } else { Price::ZERO })
                            })
                            .collect();
                        p.push((TokenId::from_u128(6), if k == 0 { Price::ZERO } else { Price::ONE }));
                        p
                    };
                    let res = Resolution { market, payouts: res };
                    let op =
                        CtfOp::Merge { market, tokens: [TokenId::from_u128(1), TokenId::from_u128(2)], size: q("1") };
                    let what = if rng.below(3) == 0 { Booking::Settlement(&res) } else { Booking::Ctf(&op) };
                    let marks = walk_marks(&mut rng);
                    let a = model.commit_lifecycle_marked(&p, "arb", &id, &booked, what, &marks, now).await.unwrap();
                    let b = redis.commit_lifecycle_marked(&p, "arb", &id, &booked, what, &marks, now).await.unwrap();
                    assert_eq!(a, b, "seed {seed} step {step}: lifecycle");
                    let kind = if matches!(what, Booking::Settlement(_)) { "settlement" } else { "lifecycle" };
                    *outcomes.entry(kind.into()).or_default() += 1;
                }
                9 => {
                    // The executor's periodic marks of one strategy's book: its trip rules may
                    // trip the policy on unrealized PnL alone.
                    let strategy = if rng.below(3) == 0 { "mm" } else { "arb" };
                    let marks = walk_marks(&mut rng);
                    let before = model.snapshot(&p).await.unwrap().trips.current.is_some();
                    model.revalue(&p, strategy, &marks, now).await.unwrap();
                    redis.revalue(&p, strategy, &marks, now).await.unwrap();
                    *outcomes.entry("revalue".into()).or_default() += 1;
                    if !before && model.snapshot(&p).await.unwrap().trips.current.is_some() {
                        *outcomes.entry("tripped on marks".into()).or_default() += 1;
                    }
                }
                _ => {
                    // Time: milliseconds, a minute, or a day.
                    now += match rng.below(10) {
                        0 => 86_400_000,
                        1..=3 => 60_000,
                        _ => rng.below(5_000),
                    };
                }
            }
            let snap = model.snapshot(&p).await.unwrap();
            assert_eq!(snap, redis.snapshot(&p).await.unwrap(), "seed {seed} step {step}");
            assert_eq!(
                model.mode(&p, now).await.unwrap(),
                redis.mode(&p, now).await.unwrap(),
                "seed {seed} step {step}"
            );
            if let Some((trip, _)) = snap.trips.current {
                *outcomes.entry(format!("tripped {}", trip.as_str())).or_default() += 1;
            } else if tripped_before {
                let by = if op == 8 { "trip cleared by a reset" } else { "trip cleared by its cooldown" };
                *outcomes.entry(by.into()).or_default() += 1;
            }
            tripped_before = snap.trips.current.is_some();
            if snap.floor > Money::ZERO {
                *outcomes.entry("floor above zero".into()).or_default() += 1;
            }
            if snap.event_exposure.len() == 2 && snap.group_exposure.len() == 2 {
                *outcomes.entry("both events and groups exposed".into()).or_default() += 1;
            }
        }
        assert_eq!(model.positions(&p, "arb").await.unwrap(), redis.positions(&p, "arb").await.unwrap());
        for strategy in ["arb", "mm"] {
            assert_eq!(model.unrealized(&p, strategy).await.unwrap(), redis.unrealized(&p, strategy).await.unwrap());
        }
    }
    // The walk must have reached the interesting places, not only one verdict.
    eprintln!("outcomes: {outcomes:?}");
    assert!(outcomes.len() >= 10, "{outcomes:?}");
    assert!(outcomes.get("Ok(())").copied().unwrap_or(0) >= 30 && outcomes.get("fill").copied().unwrap_or(0) >= 30);
    assert!(outcomes.get("set Ok(())").copied().unwrap_or(0) >= 3, "sets approved too: {outcomes:?}");
    let worst = |k: &str| outcomes.get(k).copied().unwrap_or(0);
    assert!(
        worst("Err(MaxLossAtResolution)") + worst("set Err(MaxLossAtResolution)") >= 3,
        "the worst-case limit refused some: {outcomes:?}"
    );
    assert!(worst("settlement") >= 3 && worst("lifecycle") >= 3, "{outcomes:?}");
    assert!(worst("revalue") >= 30 && worst("tripped on marks") >= 2, "trips on unrealized PnL alone: {outcomes:?}");
    assert!(worst("floor above zero") >= 100, "positions that pay something whatever happens: {outcomes:?}");
    assert!(worst("tripped daily_loss") >= 50 && worst("tripped drawdown") >= 50, "trips: {outcomes:?}");
    assert!(worst("Err(ReduceOnly)") + worst("Err(KillSwitch)") >= 5, "declared modes: {outcomes:?}");
    assert!(worst("Err(DailyOrders)") + worst("set Err(DailyOrders)") >= 3, "orders per day: {outcomes:?}");
    for rule in ["EventExposure", "GroupExposure", "KellyCap"] {
        let n = worst(&format!("Err({rule})")) + worst(&format!("set Err({rule})"));
        assert!(n >= 3, "{rule} refused some: {outcomes:?}");
    }
    assert!(worst("Err(OrderRate)") + worst("burst Err(OrderRate)") >= 3, "orders per minute: {outcomes:?}");
    assert!(
        worst("burst Ok(())") >= 20 && outcomes.keys().filter(|k| k.starts_with("burst Err")).count() >= 3,
        "bursts decided in batches, approved and refused: {outcomes:?}"
    );
    assert!(worst("both events and groups exposed") >= 50, "exposure per event and group: {outcomes:?}");
    assert!(
        worst("trip cleared by a reset") >= 3 && worst("trip cleared by its cooldown") >= 3,
        "trips end both ways: {outcomes:?}"
    );
}

#[tokio::test]
async fn a_password_protected_redis_needs_the_password_from_outside_the_url() {
    let server = RedisServer::start_with_password("s3cret-from-a-secret");
    assert!(RedisRiskStore::connect_with(&server.url, None).await.is_err(), "no password: refused");
    assert!(RedisRiskStore::connect_with(&server.url, Some("wrong".into())).await.is_err());
    let s = RedisRiskStore::connect_with(&server.url, Some("s3cret-from-a-secret".into())).await.unwrap();
    let p = PolicyKey::new("ns", "rp");
    s.set_limits(&p, &limits()).await.unwrap();
    assert!(s.limits(&p).await.unwrap().is_some());
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_quickly_and_recovers() {
    let mut server = RedisServer::start();
    let s = RedisRiskStore::connect(&server.url).await.unwrap();
    let p = PolicyKey::new("ns", "rp");
    s.set_limits(&p, &limits()).await.unwrap();
    server.stop();
    let started = std::time::Instant::now();
    assert!(s.decide(&p, &intent("a", 1, Side::Buy, "0.5", "1"), LIQ, T0).await.is_err());
    // Bounded by the store's timeouts, not by a TCP default (reported, not asserted tightly).
    eprintln!("decide against a stopped redis failed after {:?}", started.elapsed());
    server.resume();
    let mut ok = false;
    for _ in 0..50 {
        if let Ok(v) = s.decide(&p, &intent("b", 1, Side::Buy, "0.5", "1"), LIQ, T0).await {
            assert_eq!(v, Ok(()));
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "the store reconnects once redis is back");
}

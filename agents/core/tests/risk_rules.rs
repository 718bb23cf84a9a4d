//! The risk rules' reference model: every rejection reason in its place, reservations that
//! cancels give back and fills turn into position, the order-rate window, the daily reset and
//! the consecutive-loss breaker with its cooldown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::risk::{RiskLimits, RiskMode, RiskState, Trip};
use polyfleet_core::wire::{Mode, OrderIntent, Outcome, RejectReason, TimeInForce};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}

fn limits() -> RiskLimits {
    RiskLimits {
        mode: polyfleet_core::risk::RiskMode::Off,
        reset: 0,
        trip_cooldown_ms: None,
        max_order_size: q("100"),
        max_order_notional: m("50"),
        max_position_per_market: q("150"),
        max_gross_exposure: m("100"),
        max_daily_loss: m("20"),
        max_drawdown: m("30"),
        max_orders_per_minute: 5,
        max_orders_per_day: None,
        min_book_liquidity: Some(m("10")),
        circuit_breaker: Some((2, 60_000)),
        max_loss_at_resolution: None,
        max_event_exposure: None,
        group_limits: vec![],
        kelly_budget: None,
    }
}

fn oid(id: &str) -> ClientOrderId {
    ClientOrderId::new(id).unwrap()
}

fn intent(id: &str, side: Side, price: &str, size: &str) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "ns".into(),
        strategy: "s".into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([0; 32]),
        token: TokenId::from_u128(1),
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

const LIQ: Option<Money> = Some(Money::from_micros(1_000_000_000));
const T0: u64 = 1_767_225_600_000;

#[test]
fn each_limit_rejects_with_its_reason() {
    let l = limits();
    let mut s = RiskState::new();
    assert_eq!(s.check(&l, &intent("a", Side::Buy, "0.5", "101"), LIQ, T0), Err(RejectReason::MaxOrderSize));
    assert_eq!(s.check(&l, &intent("b", Side::Buy, "0.6", "100"), LIQ, T0), Err(RejectReason::MaxOrderNotional));
    assert_eq!(
        s.check(&l, &intent("c", Side::Buy, "0.5", "20"), Some(m("9.99")), T0),
        Err(RejectReason::BookLiquidity)
    );
    assert_eq!(s.check(&l, &intent("d", Side::Buy, "0.5", "100"), LIQ, T0), Ok(()));
    assert_eq!(s.exposure(), m("50"));
    // Deciding the same id again returns the first verdict and reserves nothing more.
    assert_eq!(s.check(&l, &intent("d", Side::Buy, "0.5", "1"), LIQ, T0), Ok(()));
    assert_eq!(s.check(&l, &intent("a", Side::Buy, "0.5", "1"), LIQ, T0), Err(RejectReason::MaxOrderSize));
    assert_eq!(s.exposure(), m("50"));
    assert_eq!(s.check(&l, &intent("e", Side::Buy, "0.2", "60"), LIQ, T0), Err(RejectReason::MaxPosition));
    assert_eq!(s.check(&l, &intent("f", Side::Buy, "0.99", "50"), LIQ, T0), Ok(()));
    // Exposure is 99.5; another market's 1.8 would pass 100.
    let mut other_market = intent("g", Side::Buy, "0.9", "2");
    other_market.token = TokenId::from_u128(2);
    assert_eq!(s.check(&l, &other_market, LIQ, T0), Err(RejectReason::GrossExposure));
    assert_eq!(s.check(&l, &intent("g2", Side::Buy, "0.01", "1"), LIQ, T0), Err(RejectReason::MaxPosition));
    // Sells add no exposure.
    assert_eq!(s.check(&l, &intent("h", Side::Sell, "0.9", "10"), LIQ, T0), Ok(()));
    let killed =
        RiskLimits { mode: polyfleet_core::risk::RiskMode::Halt, reset: 0, trip_cooldown_ms: None, ..limits() };
    assert_eq!(s.check(&killed, &intent("i", Side::Sell, "0.9", "1"), LIQ, T0), Err(RejectReason::KillSwitch));
}

#[test]
fn reservations_release_and_fill() {
    let l = limits();
    let mut s = RiskState::new();
    s.check(&l, &intent("a", Side::Buy, "0.5", "100"), LIQ, T0).unwrap();
    // Half fills at a better price: 50 shares cost 24 instead of the 25 reserved for them.
    s.on_fill(&ClientOrderId::new("a").unwrap(), Side::Buy, q("50"), m("24"), TokenId::from_u128(1));
    assert_eq!(s.exposure(), m("49"));
    // The rest is cancelled: its 25 reserved come back.
    s.release(&ClientOrderId::new("a").unwrap());
    assert_eq!(s.exposure(), m("24"));
    // Position is 50 now: buying 100 more would reach 150, the limit, which is allowed; 101 is not.
    assert_eq!(s.check(&l, &intent("b", Side::Buy, "0.1", "101"), LIQ, T0), Err(RejectReason::MaxOrderSize));
    assert_eq!(s.check(&l, &intent("c", Side::Buy, "0.1", "100"), LIQ, T0), Ok(()));
    s.release(&ClientOrderId::new("c").unwrap());
    // Selling the 50 releases their cost basis.
    s.check(&l, &intent("d", Side::Sell, "0.6", "50"), LIQ, T0).unwrap();
    s.on_fill(&ClientOrderId::new("d").unwrap(), Side::Sell, q("50"), m("24"), TokenId::from_u128(1));
    assert_eq!(s.exposure(), Money::ZERO);
}

#[test]
fn order_rate_window_slides() {
    let l = limits();
    let mut s = RiskState::new();
    for i in 0..5 {
        s.check(&l, &intent(&format!("o{i}"), Side::Sell, "0.5", "1"), LIQ, T0 + i).unwrap();
    }
    assert_eq!(s.check(&l, &intent("x", Side::Sell, "0.5", "1"), LIQ, T0 + 10), Err(RejectReason::OrderRate));
    assert_eq!(s.check(&l, &intent("y", Side::Sell, "0.5", "1"), LIQ, T0 + 60_000), Ok(()));
}

#[test]
fn buy_fees_count_in_pnl_but_not_in_the_loss_streak() {
    let l = limits();
    let mut s = RiskState::new();
    s.on_realized(l.circuit_breaker, m("-1"), Some(&oid("s1")), T0);
    s.on_realized(l.circuit_breaker, m("-0.5"), None, T0 + 1);
    assert!(!s.breaker_tripped(T0 + 2));
    assert_eq!(s.daily_pnl(), m("-1.5"));
    s.on_realized(l.circuit_breaker, m("-1"), Some(&oid("s3")), T0 + 3);
    assert!(s.breaker_tripped(T0 + 4));
}

#[test]
fn daily_loss_drawdown_and_breaker() {
    let l = limits();
    let mut s = RiskState::new();
    s.on_realized(l.circuit_breaker, m("15"), Some(&oid("s4")), T0);
    s.on_realized(l.circuit_breaker, m("-5"), Some(&oid("s5")), T0 + 1);
    s.on_realized(l.circuit_breaker, m("1"), Some(&oid("s6")), T0 + 2);
    s.on_realized(l.circuit_breaker, m("-10"), Some(&oid("s7")), T0 + 3);
    // Two losses, but not consecutive: no breaker.
    assert!(!s.breaker_tripped(T0 + 4));
    s.on_realized(l.circuit_breaker, m("-12"), Some(&oid("s8")), T0 + 5);
    // Consecutive losses trip the breaker for 60 s.
    assert!(s.breaker_tripped(T0 + 6));
    assert_eq!(s.check(&l, &intent("a", Side::Sell, "0.5", "1"), LIQ, T0 + 6), Err(RejectReason::CircuitBreaker));
    // Daily PnL is -11 (> -20): fine after the cooldown; drawdown from the peak of 15 is 26 (< 30).
    assert_eq!(s.drawdown(), m("26"));
    assert_eq!(s.check(&l, &intent("b", Side::Sell, "0.5", "1"), LIQ, T0 + 61_000), Ok(()));
    s.on_realized(l.circuit_breaker, m("-10"), Some(&oid("s9")), T0 + 62_000);
    // Daily PnL -21 trips the policy into reduce-only: buys are refused for the trip, sells pass.
    assert_eq!(s.check(&l, &intent("c", Side::Buy, "0.5", "1"), LIQ, T0 + 62_001), Err(RejectReason::DailyLoss));
    assert_eq!(s.trips().current, Some((Trip::DailyLoss, T0 + 62_001)));
    assert_eq!(s.effective_mode(&l, T0 + 62_001), RiskMode::ReduceOnly);
    assert_eq!(s.check(&l, &intent("c2", Side::Sell, "0.5", "1"), LIQ, T0 + 62_002), Ok(()));
    // The trip stands over the new UTC day (which resets the daily PnL) until it is reset.
    let next_day = T0 + 86_400_000;
    assert_eq!(s.check(&l, &intent("d", Side::Buy, "0.5", "1"), LIQ, next_day), Err(RejectReason::DailyLoss));
    assert_eq!(s.daily_pnl(), Money::ZERO);
    // A reset clears it with today's PnL and the equity now as the baselines: the drawdown of
    // 36 (>= 30) no longer counts.
    s.set_limits(&RiskLimits { reset: 1, ..l.clone() });
    assert_eq!(s.trips().current, None);
    assert_eq!(s.drawdown(), Money::ZERO);
    assert_eq!(s.check(&l, &intent("e", Side::Buy, "0.5", "1"), LIQ, next_day + 1), Ok(()));
    assert_eq!((s.trips().daily_loss_trips, s.trips().drawdown_trips), (1, 0));
}

#[test]
fn orders_per_day_count_approvals_until_the_utc_day_ends() {
    let l = RiskLimits { max_orders_per_day: Some(3), max_orders_per_minute: 100, ..limits() };
    let mut s = RiskState::new();
    for i in 0..3 {
        s.check(&l, &intent(&format!("o{i}"), Side::Sell, "0.5", "1"), LIQ, T0 + i * 60_000).unwrap();
    }
    assert_eq!(s.check(&l, &intent("x", Side::Sell, "0.5", "1"), LIQ, T0 + 300_000), Err(RejectReason::DailyOrders));
    // A refused set gives its count back: a set of two with one order left is refused whole.
    let mut fresh = RiskState::new();
    fresh.check(&l, &intent("a", Side::Sell, "0.5", "1"), LIQ, T0).unwrap();
    fresh.check(&l, &intent("b", Side::Sell, "0.5", "1"), LIQ, T0).unwrap();
    let set = [intent("c", Side::Sell, "0.5", "1"), intent("d", Side::Sell, "0.5", "1")];
    assert_eq!(fresh.check_set(&l, &set, &[LIQ; 2], T0), Err(RejectReason::DailyOrders));
    assert_eq!(fresh.snapshot().day_orders, 2);
    assert_eq!(s.check(&l, &intent("y", Side::Sell, "0.5", "1"), LIQ, T0 + 86_400_000), Ok(()));
    assert_eq!(s.snapshot().day_orders, 1);
}

#[test]
fn declared_modes_and_trip_cooldowns() {
    let l = RiskLimits { trip_cooldown_ms: Some(60_000), ..limits() };
    let mut s = RiskState::new();
    s.check(&l, &intent("a", Side::Buy, "0.5", "10"), LIQ, T0).unwrap();
    let reduce = RiskLimits { mode: RiskMode::ReduceOnly, ..l.clone() };
    assert_eq!(s.check(&reduce, &intent("b", Side::Buy, "0.5", "1"), LIQ, T0), Err(RejectReason::ReduceOnly));
    assert_eq!(s.check(&reduce, &intent("c", Side::Sell, "0.5", "1"), LIQ, T0), Ok(()));
    let halt = RiskLimits { mode: RiskMode::Halt, ..l.clone() };
    assert_eq!(s.check(&halt, &intent("d", Side::Sell, "0.5", "1"), LIQ, T0), Err(RejectReason::KillSwitch));
    // A drawdown of 12 from a peak of 5 (past 10; the day's -7 is within 20) trips; the cooldown
    // clears it a minute later, with the equity then as the new peak, so trading resumes.
    let dd = RiskLimits { max_drawdown: m("10"), ..l.clone() };
    s.on_realized(None, m("5"), None, T0 + 1);
    s.on_realized(None, m("-12"), None, T0 + 2);
    assert_eq!(s.check(&dd, &intent("e", Side::Buy, "0.5", "1"), LIQ, T0 + 3), Err(RejectReason::Drawdown));
    assert_eq!(s.trips().until(dd.trip_cooldown_ms), Some(T0 + 60_003));
    assert_eq!(s.check(&dd, &intent("f", Side::Buy, "0.5", "1"), LIQ, T0 + 60_002), Err(RejectReason::Drawdown));
    assert_eq!(s.check(&dd, &intent("g", Side::Buy, "0.5", "1"), LIQ, T0 + 60_003), Ok(()));
    assert_eq!(s.drawdown(), Money::ZERO);
    // The daily loss counts from the PnL at the trip's end: -7 today, 20 more to lose.
    s.on_realized(None, m("-19"), None, T0 + 60_004);
    assert_eq!(s.check(&l, &intent("h", Side::Buy, "0.5", "1"), LIQ, T0 + 60_005), Ok(()));
    s.on_realized(None, m("-1"), None, T0 + 60_006);
    assert_eq!(s.check(&l, &intent("i", Side::Buy, "0.5", "1"), LIQ, T0 + 60_007), Err(RejectReason::DailyLoss));
    assert_eq!((s.trips().daily_loss_trips, s.trips().drawdown_trips), (1, 1));
    // A reset counter that did not change clears nothing.
    s.set_limits(&l);
    assert!(s.trips().current.is_some());
}

#[test]
fn an_order_that_loses_over_several_fills_is_one_loss() {
    let l = limits();
    let mut s = RiskState::new();
    // One unwind sweeping three levels at a loss: one losing order, not three.
    for (i, loss) in ["-0.1", "-0.2", "-0.3"].iter().enumerate() {
        s.on_realized(l.circuit_breaker, m(loss), Some(&oid("unwind-1")), T0 + i as u64);
    }
    assert_eq!(s.snapshot().consecutive_losses, 1);
    assert!(!s.breaker_tripped(T0 + 3));
    assert_eq!(s.daily_pnl(), m("-0.6"), "every fill's PnL is booked");
    // A second losing order completes the streak (the policy trips at 2).
    s.on_realized(l.circuit_breaker, m("-0.1"), Some(&oid("unwind-2")), T0 + 4);
    assert!(s.breaker_tripped(T0 + 5));
    // The tripping order's later fills do not start the next streak.
    s.on_realized(l.circuit_breaker, m("-0.1"), Some(&oid("unwind-2")), T0 + 6);
    assert_eq!(s.snapshot().consecutive_losses, 0);
}

/// A set sold back is one round trip: its losing legs and its winning leg are netted, so a
/// profitable set never counts as a loss, whatever order its legs fill in, and ends the streak.
#[test]
fn the_legs_of_a_set_count_as_one_round_trip() {
    let l = RiskLimits { circuit_breaker: Some((3, 60_000)), ..limits() };
    let mut s = RiskState::new();
    // One losing order: a streak of one.
    s.on_realized(l.circuit_breaker, m("-1"), Some(&oid("a")), T0);
    assert_eq!(s.snapshot().consecutive_losses, 1);
    // A set whose first leg loses and whose second wins more: a loss for a moment, then not, and
    // the streak is over.
    s.on_realized(l.circuit_breaker, m("-0.2"), Some(&oid("set1")), T0 + 1);
    assert_eq!(s.snapshot().consecutive_losses, 2);
    s.on_realized(l.circuit_breaker, m("0.5"), Some(&oid("set1")), T0 + 2);
    assert_eq!(s.snapshot().consecutive_losses, 0);
    // A set that loses on every leg is one loss, not one per leg.
    for _ in 0..3 {
        s.on_realized(l.circuit_breaker, m("-0.1"), Some(&oid("set2")), T0 + 3);
    }
    assert_eq!(s.snapshot().consecutive_losses, 1);
    assert!(!s.breaker_tripped(T0 + 4));
}

/// An order on `token` described as outcome `index` (YES or NO) of a three-way neg-risk event.
fn event_leg(id: &str, token: u128, index: u16, yes: bool, exhaustive: bool, price: &str, size: &str) -> OrderIntent {
    let outcome = Outcome { event: "event:who".into(), index, yes, markets: 3, exhaustive, groups: vec![] };
    OrderIntent { token: TokenId::from_u128(token), outcome: Some(outcome), ..intent(id, Side::Buy, price, size) }
}

#[test]
fn the_worst_case_loss_limit_counts_what_the_positions_pay_whatever_happens() {
    let l = RiskLimits { max_loss_at_resolution: Some(m("5")), ..limits() };
    // A complete exhaustive set of three YES legs for 0.97 a set loses nothing whatever wins:
    // 48.5 USDC of exposure, a worst case of minus 1.5.
    let mut s = RiskState::new();
    let set: Vec<OrderIntent> = (0..3u16)
        .map(|i| {
            event_leg(
                &format!("set-{i}"),
                10 + u128::from(i),
                i,
                true,
                true,
                ["0.30", "0.33", "0.34"][usize::from(i)],
                "50",
            )
        })
        .collect();
    assert_eq!(s.check_set(&l, &set, &[LIQ; 3], T0), Ok(()));
    assert_eq!((s.exposure(), s.worst_loss()), (m("48.5"), m("-1.5")));
    // A bare YES of 0.5 x 20 may lose its 10 USDC: above 5, refused; nothing is left behind.
    let mut bare = intent("bare", Side::Buy, "0.5", "20");
    bare.token = TokenId::from_u128(99);
    assert_eq!(s.check(&l, &bare, LIQ, T0), Err(RejectReason::MaxLossAtResolution));
    assert_eq!((s.exposure(), s.worst_loss()), (m("48.5"), m("-1.5")));
    // The same set of an event listed in part (another outcome may win) may lose all it cost.
    let mut partial = RiskState::new();
    let set: Vec<OrderIntent> =
        (0..3u16).map(|i| event_leg(&format!("p-{i}"), 20 + u128::from(i), i, true, false, "0.32", "10")).collect();
    assert_eq!(partial.check_set(&l, &set, &[LIQ; 3], T0), Err(RejectReason::MaxLossAtResolution));
    assert_eq!((partial.exposure(), partial.worst_loss(), partial.snapshot().positions.len()), (m("0"), m("0"), 0));
}

#[test]
fn an_order_that_lowers_the_worst_case_loss_passes_above_the_limit() {
    let wide = RiskLimits { max_loss_at_resolution: Some(m("50")), ..limits() };
    let mut s = RiskState::new();
    // 20 YES of outcome 0 at 0.5: a worst case of 10 (outcome 0 loses).
    assert_eq!(s.check(&wide, &event_leg("yes", 1, 0, true, true, "0.5", "20"), LIQ, T0), Ok(()));
    assert_eq!(s.worst_loss(), m("10"));
    // The limit drops to 2: a further YES is refused, a NO on outcome 0 (a hedge) passes.
    let tight = RiskLimits { max_loss_at_resolution: Some(m("2")), ..limits() };
    assert_eq!(
        s.check(&tight, &event_leg("more", 1, 0, true, true, "0.5", "2"), LIQ, T0),
        Err(RejectReason::MaxLossAtResolution)
    );
    assert_eq!(s.check(&tight, &event_leg("no", 2, 0, false, true, "0.45", "20"), LIQ, T0), Ok(()));
    // 19 USDC for 20 YES and 20 NO of one market: 20 paid whatever happens.
    assert_eq!((s.exposure(), s.worst_loss()), (m("19"), m("-1")));
    // The hedge cancelled: back to the bare YES's worst case.
    s.release(&oid("no"));
    assert_eq!(s.worst_loss(), m("10"));
}

#[test]
fn a_settled_winner_counts_at_its_payout_until_redeemed() {
    let l = RiskLimits { max_loss_at_resolution: Some(m("50")), ..limits() };
    let mut s = RiskState::new();
    assert_eq!(s.check(&l, &event_leg("yes", 1, 0, true, false, "0.4", "10"), LIQ, T0), Ok(()));
    s.on_fill(&oid("yes"), Side::Buy, q("10"), m("4"), TokenId::from_u128(1));
    assert_eq!(s.worst_loss(), m("4"));
    // Outcome 0 wins: the settlement books the gain (cost becomes 10) and fixes the payout.
    s.on_lifecycle(&[], m("6"), m("6"), &[(TokenId::from_u128(1), Price::ONE)], T0);
    assert_eq!((s.exposure(), s.worst_loss()), (m("10"), m("0")));
    // Redeemed: nothing held, nothing at risk.
    s.on_lifecycle(&[(TokenId::from_u128(1), -10_000_000)], m("-10"), m("0"), &[], T0);
    assert_eq!((s.exposure(), s.worst_loss()), (m("0"), m("0")));
}

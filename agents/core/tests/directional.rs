//! The directional strategy through its runner: signals from followed models only; taker entries
//! on the token whose edge after fees beats the entry edge (YES against `p`, NO against `1 − p`),
//! sized by fractional Kelly at the cost with fees and carrying the probability for the gateway's
//! Kelly cap; one position per market; scale-ins up to their limit; exits by their rules (signal
//! expiry, edge reversal, time to the end date); passive entries rest post-only inside the spread
//! and are cancelled when their edge goes; refusals back off; a resolved market's winner is
//! redeemed and the model's forecasts (one a minute) scored against the market's mid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::common;

use common::{fill, identity, lv, p, places, q, resolved, snap, update};
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::strategy::Instrument;
use polyfleet_core::strategy::directional::params::{DirParams, Entry};
use polyfleet_core::strategy::directional::{DirCaps, Directional};
use polyfleet_core::strategy::market_making::QuotedMarket;
use polyfleet_core::strategy::runner::StrategyRunner;
use polyfleet_core::wire::signal::FairValue;
use polyfleet_core::wire::{
    CtfOp, Intent, KellyBasis, OrderIntent, OrderStatus, RejectReason, RiskDecision, TimeInForce, Verdict,
};
use polyfleet_core::{ConditionId, Money, Side, TokenId};

const MS: u64 = 1_000_000;
const YES: u128 = 1;
const NO: u128 = 2;
const FEES: FeeSchedule = FeeSchedule { rate_bps: 720, exponent: 1 };

fn params() -> DirParams {
    DirParams {
        signals: vec!["model-a".into()],
        max_signal_age_ms: None,
        kelly_fraction_bps: 2500,
        entry_edge_bps: 300,
        exit_edge_bps: 100,
        stop_loss_bps: None,
        take_profit_bps: None,
        entry: Entry::Taker,
        max_scale_ins: 1,
        close_before_end_s: Some(60),
        reentry_cooldown_ms: 0,
        price_band: None,
    }
}

fn inst(token: u128) -> Instrument {
    Instrument {
        market: ConditionId::from_bytes([1; 32]),
        token: TokenId::from_u128(token),
        min_size: q("5"),
        fees: FEES,
    }
}

/// 1000 USDC of bankroll, a Kelly budget of 500 USDC, orders up to 1000 shares and 500 USDC.
fn runner(params: DirParams, end_ms: Option<u64>) -> StrategyRunner {
    let m = QuotedMarket { yes: inst(YES), no: inst(NO), end_ms, event: None, rebate_bps: 0, rewards: None };
    let caps = DirCaps {
        bankroll: Money::from_micros(1_000_000_000),
        kelly_budget: Money::from_micros(500_000_000),
        max_size: q("1000"),
        max_notional: Money::from_micros(500_000_000),
    };
    StrategyRunner::new(identity("dir"), Box::new(Directional::new(vec![m], params, caps).unwrap()), "d0").unwrap()
}

/// The YES book (best bid `bid`, best ask `ask`) and its NO mirror.
fn books(r: &mut StrategyRunner, seq: u64, bid: &str, ask: &str, now: u64) -> Vec<Intent> {
    let yes = snap(YES, seq, vec![lv(bid, "500")], vec![lv(ask, "500")]);
    let no_bid = p(ask).complement().to_string();
    let no_ask = p(bid).complement().to_string();
    let no = snap(NO, seq, vec![lv(&no_bid, "500")], vec![lv(&no_ask, "500")]);
    let mut out = r.on_market(&yes, now).intents;
    out.extend(r.on_market(&no, now).intents);
    out
}

fn signal(model: &str, token: u128, p_ppm: u32, valid_until_ms: u64) -> FairValue {
    FairValue {
        token: TokenId::from_u128(token),
        probability_ppm: p_ppm,
        model: model.into(),
        model_version: "1".into(),
        std_error_ppm: None,
        valid_until_ms,
        published_ms: None,
    }
}

/// The signal report among `intents`, if any (at most one).
fn signal_of(intents: &[Intent]) -> Option<polyfleet_core::wire::SignalUsed> {
    let used: Vec<_> =
        intents.iter().filter_map(|i| if let Intent::Signal(u) = i { Some(u.clone()) } else { None }).collect();
    assert!(used.len() <= 1, "{intents:?}");
    used.into_iter().next()
}

fn one(intents: &[Intent]) -> OrderIntent {
    let placed = places(intents);
    assert_eq!(placed.len(), 1, "{intents:?}");
    placed[0].clone()
}

/// Fills `o` entirely and ends it (a taker order's whole life).
fn filled(r: &mut StrategyRunner, o: &OrderIntent, id: &str, now: u64) -> Vec<Intent> {
    let size = o.size.to_string();
    let mut out = r.on_fill(&fill(o, id, &size), now);
    out.extend(r.on_order(&update(o, OrderStatus::Filled, &size), now));
    out
}

#[test]
fn a_followed_signal_with_edge_after_fees_buys_the_kelly_stake_as_taker() {
    let mut r = runner(params(), None);
    assert!(books(&mut r, 1, "0.38", "0.40", 0).is_empty(), "no signal, no order");
    // A model it does not follow: no notice taken.
    assert_eq!(r.on_signal(&signal("model-b", YES, 500_000, 10_000), MS).unwrap_err(), "unfollowed");
    assert_eq!(r.on_signal(&signal("model-a", 9, 500_000, 10_000), MS).unwrap_err(), "unknown_token");
    // p = 0.5 against 0.40 + fee 0.01728: edge 0.08272 ≥ 0.03. Kelly at the cost, quarter of
    // 1000 USDC: 35.488742 USDC, i.e. 35.488742 / 0.41728 = 85.047... shares, to the lot: 85.04.
    let out = r.on_signal(&signal("model-a", YES, 500_000, 10_000), MS).unwrap();
    let o = one(&out);
    let used = signal_of(&out).expect("the signal the order was sized on");
    assert_eq!(
        (used.client_order_id, used.token, used.market, used.model.as_str(), used.model_version.as_str()),
        (o.client_order_id, o.token, o.market, "model-a", "1")
    );
    assert_eq!((used.probability_ppm, used.valid_until_ms, used.created_ts_ns), (500_000, 10_000, MS));
    assert_eq!((used.namespace.as_str(), used.strategy.as_str()), (o.namespace.as_str(), o.strategy.as_str()));
    assert!(matches!(out.last(), Some(Intent::Signal(_))), "after the order: {out:?}");
    assert_eq!(
        (o.token, o.side, o.price, o.tif, o.post_only),
        (TokenId::from_u128(YES), Side::Buy, p("0.40"), TimeInForce::Fak, false)
    );
    assert_eq!(o.size, q("85.04"));
    assert_eq!(o.kelly, Some(KellyBasis { probability_ppm: 500_000 }));
    // Which model version sized it follows it, for the journal.
    let signal = signal_of(&r.on_signal(&signal("model-a", YES, 500_000, 10_000), MS).unwrap_or_default());
    assert!(signal.is_none(), "the order in flight: no new order, no new signal report");
    // Nothing more while it is in flight.
    assert!(books(&mut r, 2, "0.38", "0.40", 2 * MS).is_empty());
}

#[test]
fn a_low_probability_buys_no_and_one_market_holds_one_position() {
    let mut r = runner(DirParams { max_scale_ins: 0, ..params() }, None);
    books(&mut r, 1, "0.58", "0.60", 0);
    // p(YES) = 0.3 priced on the NO token as 0.7: NO's ask is 0.42 (fee 0.017539...), edge 0.26.
    let o = one(&r.on_signal(&signal("model-a", NO, 700_000, 60_000), MS).unwrap());
    assert_eq!((o.token, o.side, o.price), (TokenId::from_u128(NO), Side::Buy, p("0.42")));
    assert_eq!(o.kelly, Some(KellyBasis { probability_ppm: 700_000 }));
    filled(&mut r, &o, "f1", 2 * MS);
    // The model swings to YES: the NO position is closed (edge reversal), YES is not bought
    // while NO is held.
    let out = r.on_signal(&signal("model-a", YES, 900_000, 60_000), 3 * MS).unwrap();
    let sell = one(&out);
    assert_eq!((sell.token, sell.side, sell.price, sell.size), (TokenId::from_u128(NO), Side::Sell, p("0.40"), o.size));
    assert_eq!(sell.kelly, None);
    // Flat again once the sale is done: now YES is bought.
    let buy = one(&filled(&mut r, &sell, "f2", 4 * MS));
    assert_eq!((buy.token, buy.side), (TokenId::from_u128(YES), Side::Buy));
    let counters = r.counters();
    assert!(counters.contains(&("entries", 2)) && counters.contains(&("exit_edge", 1)), "{counters:?}");
}

/// A refused exit is not asked for again at once (each refusal would answer the next at the
/// speed of the gateway: a backtest never got out of that loop), but after the backoff.
#[test]
fn a_refused_exit_backs_off_before_it_is_asked_again() {
    let mut r = runner(DirParams { max_scale_ins: 0, ..params() }, None);
    books(&mut r, 1, "0.58", "0.60", 0);
    let o = one(&r.on_signal(&signal("model-a", NO, 700_000, 60_000), MS).unwrap());
    filled(&mut r, &o, "f1", 2 * MS);
    let sell = one(&r.on_signal(&signal("model-a", YES, 900_000, 60_000), 3 * MS).unwrap());
    assert_eq!(sell.side, Side::Sell);
    let refused = RiskDecision {
        intent: sell.clone(),
        verdict: Verdict::Rejected { reason: RejectReason::KillSwitch, detail: "test".into() },
        decided_ts_ns: 0,
    };
    assert!(r.on_decision(&refused, 4 * MS).is_empty(), "no exit asked again at once");
    assert!(books(&mut r, 2, "0.58", "0.60", 500 * MS).is_empty(), "nor within the backoff");
    let again = one(&books(&mut r, 3, "0.58", "0.60", 1_004 * MS));
    assert_eq!((again.token, again.side, again.size), (sell.token, Side::Sell, sell.size));
}

#[test]
fn scale_ins_top_up_towards_the_target_and_stop_at_their_limit() {
    let mut r = runner(params(), None);
    books(&mut r, 1, "0.38", "0.40", 0);
    let first = one(&r.on_signal(&signal("model-a", YES, 500_000, 60_000), MS).unwrap());
    // Only 20 shares filled of the 85.04 asked (a fill-and-kill takes what is there).
    r.on_fill(&common::fill(&first, "f1", "20"), 2 * MS);
    let out = r.on_order(&update(&first, OrderStatus::Cancelled, "20"), 2 * MS);
    // Scale-in: the stake left, 35.488742 − 20 × 0.40 = 27.488742 USDC, at the cost 0.41728.
    let second = one(&out);
    assert_eq!(second.size, q("65.87"));
    filled(&mut r, &second, "f2", 3 * MS);
    // A stronger signal: the target grows, but the one scale-in allowed is spent.
    assert!(r.on_signal(&signal("model-a", YES, 700_000, 60_000), 4 * MS).unwrap().is_empty());
    let counters = r.counters();
    assert!(counters.contains(&("entries", 1)) && counters.contains(&("scale_ins", 1)), "{counters:?}");
}

#[test]
fn positions_close_on_expiry_and_before_the_end_date() {
    let mut r = runner(params(), Some(200_000));
    books(&mut r, 1, "0.38", "0.40", 0);
    let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 10_000), MS).unwrap());
    filled(&mut r, &o, "f1", 2 * MS);
    // Valid until 10 s: at 10 s the timer closes it at the bid.
    assert!(r.on_timer(9_999 * MS).is_empty());
    let sell = one(&r.on_timer(10_000 * MS));
    assert_eq!((sell.side, sell.price, sell.tif), (Side::Sell, p("0.38"), TimeInForce::Fak));
    filled(&mut r, &sell, "f2", 10_001 * MS);
    // A new signal 60 s before the end: no entry (the close-before-end window).
    assert!(r.on_signal(&signal("model-a", YES, 500_000, 300_000), 140_000 * MS).unwrap().is_empty());
    // Before it: an entry, closed by the timer once the window opens.
    let mut r = runner(params(), Some(200_000));
    books(&mut r, 1, "0.38", "0.40", 0);
    let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 300_000), MS).unwrap());
    filled(&mut r, &o, "f1", 2 * MS);
    assert!(r.on_timer(139_999 * MS).is_empty());
    assert_eq!(one(&r.on_timer(140_000 * MS)).side, Side::Sell);
    let counters = r.counters();
    assert!(counters.contains(&("exit_time", 1)), "{counters:?}");
}

#[test]
fn passive_entries_rest_inside_the_spread_and_are_cancelled_when_the_edge_goes() {
    let mut r = runner(DirParams { entry: Entry::Passive, ..params() }, None);
    books(&mut r, 1, "0.36", "0.40", 0);
    let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 60_000), MS).unwrap());
    // One tick above the bid, no fee: Kelly at 0.37.
    assert_eq!((o.price, o.tif, o.post_only), (p("0.37"), TimeInForce::Gtc, true));
    r.on_order(&update(&o, OrderStatus::Resting, "0"), 2 * MS);
    // The same book: it stays.
    assert!(books(&mut r, 2, "0.36", "0.40", 3 * MS).is_empty());
    // The model comes down to 0.39: the edge at 0.37 is 0.02 < 0.03: cancelled, nothing new.
    let out = r.on_signal(&signal("model-a", YES, 390_000, 60_000), 4 * MS).unwrap();
    assert!(matches!(out.as_slice(), [Intent::Cancel(c)] if c.client_order_id == Some(o.client_order_id)), "{out:?}");
    // Nothing more until the cancel is confirmed.
    assert!(books(&mut r, 3, "0.36", "0.40", 5 * MS).is_empty());
}

#[test]
fn a_refusal_backs_off_and_a_resolution_redeems_the_winner() {
    let mut r = runner(params(), None);
    books(&mut r, 1, "0.38", "0.40", 0);
    let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 60_000), MS).unwrap());
    let refused = RiskDecision {
        intent: o.clone(),
        verdict: Verdict::Rejected { reason: RejectReason::KellyCap, detail: "test".into() },
        decided_ts_ns: 0,
    };
    assert!(r.on_decision(&refused, 2 * MS).is_empty(), "backs off a second");
    let again = one(&books(&mut r, 2, "0.38", "0.40", 1_002 * MS));
    filled(&mut r, &again, "f1", 1_003 * MS);
    let resolved = resolved(YES, 3, true);
    let out = r.on_market(&resolved, 2_000 * MS).intents;
    assert!(
        matches!(out.as_slice(), [Intent::Ctf(c)] if matches!(c.op, CtfOp::Redeem { size, .. } if size == again.size)),
        "{out:?}"
    );
    assert!(r.on_signal(&signal("model-a", YES, 900_000, 60_000), 2_001 * MS).unwrap().is_empty());
    // The model's one forecast kept before the resolution is scored: p = 0.5 for YES, which won,
    // against the mid 0.39 when it came: Brier 0.25 against the market's 0.3721, skill 1 −
    // 0.25/0.3721 = 0.3281.
    let [score] = r.scores().try_into().unwrap_or_else(|s: Vec<_>| panic!("{s:?}"));
    assert_eq!((score.model.as_str(), score.version.as_str(), score.forecasts), ("model-a", "1", 1));
    assert_eq!(
        (score.brier_micros, score.market_brier_micros, score.brier_skill_bps),
        (250_000, Some(372_100), Some(3281))
    );
    // The fill at 0.40 against the closing line 0.50 (the signal after the resolution is not it).
    assert_eq!((score.clv_fills, score.clv_mean_ppm, score.clv_beat), (1, Some(100_000), 1));
}

#[test]
fn every_fill_is_valued_against_the_closing_line_at_resolution() {
    let mut r = runner(params(), None);
    books(&mut r, 1, "0.38", "0.40", 0);
    let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 60_000), MS).unwrap());
    filled(&mut r, &o, "f1", 2 * MS);
    // The model turns: 0.30 is below what selling at the bid 0.38 brings, an edge reversal.
    let exit = one(&r.on_signal(&signal("model-a", YES, 300_000, 60_000), 3 * MS).unwrap());
    assert_eq!((exit.side, exit.price), (Side::Sell, p("0.38")));
    filled(&mut r, &exit, "f2", 4 * MS);
    // A redelivered fill is not valued twice.
    let size = o.size.to_string();
    r.on_fill(&fill(&o, "f1", &size), 5 * MS);
    let resolved = resolved(YES, 2, false);
    r.on_market(&resolved, 10 * MS);
    // Closing line 0.30: the buy at 0.40 lost 0.10 to it, the sell at 0.38 beat it by 0.08.
    let [score] = r.scores().try_into().unwrap_or_else(|s: Vec<_>| panic!("{s:?}"));
    assert_eq!((score.clv_fills, score.clv_mean_ppm, score.clv_beat), (2, Some(-10_000), 1));
}

#[test]
fn an_order_that_ends_before_its_fills_arrive_waits_for_them_before_sizing_again() {
    // Fills and order updates travel apart: the update that ends a partly filled entry may come
    // first. The strategy must not size the scale-in as if nothing were held.
    let scale_in = |update_first: bool| {
        let mut r = runner(params(), None);
        books(&mut r, 1, "0.38", "0.40", 0);
        let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 60_000), MS).unwrap());
        assert_eq!(o.size, q("85.04"));
        // Fill-and-kill that bought 40 of the 85.04.
        let ended = update(&o, OrderStatus::Cancelled, "40");
        let f = fill(&o, "f1", "40");
        if update_first {
            assert!(r.on_order(&ended, 2 * MS).is_empty(), "no decision before the fill is in");
            one(&r.on_fill(&f, 3 * MS))
        } else {
            assert!(r.on_fill(&f, 2 * MS).is_empty());
            one(&r.on_order(&ended, 3 * MS))
        }
    };
    let (late, early) = (scale_in(true), scale_in(false));
    assert_eq!((late.side, late.price, late.size), (early.side, early.price, early.size));
    assert!(late.size < q("85.04"), "the scale-in tops up what is held: {}", late.size);
    // A fill that never comes holds the market for FILL_WAIT_MS (5 s), no longer.
    let mut r = runner(params(), None);
    books(&mut r, 1, "0.38", "0.40", 0);
    let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 60_000), MS).unwrap());
    assert!(r.on_order(&update(&o, OrderStatus::Cancelled, "40"), 2 * MS).is_empty());
    assert!(books(&mut r, 2, "0.38", "0.40", 4_000 * MS).is_empty(), "still waiting");
    assert_eq!(places(&books(&mut r, 3, "0.38", "0.40", 5_003 * MS)).len(), 1, "decides again without it");
}

#[test]
fn a_restarted_strategy_goes_on_from_the_ledger_s_positions() {
    // What the first entry of the first test bought: 85.04 YES at 0.40 plus the fee.
    let held = polyfleet_core::accounting::Position {
        size: q("85.04"),
        cost: Money::from_micros(35_485_491),
        ..Default::default()
    };
    let mut r = runner(params(), None);
    let other = (TokenId::from_u128(99), held);
    assert_eq!(r.restore(&[(TokenId::from_u128(YES), held), other]), 1, "its own token only");
    // No signal yet since the restart: nothing has expired, the position waits for the model.
    assert!(books(&mut r, 1, "0.38", "0.40", 0).is_empty());
    // At the Kelly stake already: no second entry (a flat restart would buy 85.04 again).
    assert!(r.on_signal(&signal("model-a", YES, 500_000, 60_000), MS).unwrap().is_empty());
    // One position per market: the NO side is not entered against it either.
    let out = r.on_signal(&signal("model-a", YES, 300_000, 60_000), 2 * MS).unwrap();
    assert!(places(&out).iter().all(|o| o.side == Side::Sell) && !out.is_empty(), "{out:?}");
    // The exit rules apply to what it holds: an edge reversal sells it all at the bid.
    let mut r = runner(params(), None);
    r.restore(&[(TokenId::from_u128(YES), held)]);
    books(&mut r, 1, "0.38", "0.40", 0);
    let exit = one(&r.on_signal(&signal("model-a", YES, 300_000, 60_000), MS).unwrap());
    assert_eq!((exit.side, exit.price, exit.size), (Side::Sell, p("0.38"), q("85.04")));
}

/// A series' round as the rounds document carries it (YES and NO of market `[1; 32]`).
fn round_doc(end_ms: u64) -> polyfleet_core::config::QuotedConfig {
    use polyfleet_core::config::TokenConfig;
    let market = ConditionId::from_bytes([1; 32]);
    let token = |id: u128, yes: bool| TokenConfig {
        market: market.to_string(),
        token: id.to_string(),
        min_size_micros: 5_000_000,
        fee_rate_bps: 720,
        fee_exponent: 1,
        outcome: Some(polyfleet_core::wire::Outcome::binary(&market, yes)),
        maker_rebate_bps: 0,
        rewards: None,
    };
    polyfleet_core::config::QuotedConfig { yes: token(YES, true), no: token(NO, false), end_ms: Some(end_ms) }
}

#[test]
fn a_round_added_while_running_is_traded_like_a_market_it_started_with() {
    // A strategy on a series only: no market at start.
    let caps = DirCaps {
        bankroll: Money::from_micros(1_000_000_000),
        kelly_budget: Money::from_micros(500_000_000),
        max_size: q("1000"),
        max_notional: Money::from_micros(500_000_000),
    };
    let strategy = Directional::new(vec![], params(), caps).unwrap();
    let mut r = StrategyRunner::new(identity("dir"), Box::new(strategy), "d0").unwrap();
    assert!(r.tokens().is_empty());
    assert_eq!(r.on_signal(&signal("model-a", YES, 500_000, 10_000), MS).unwrap_err(), "unknown_token");
    // The round comes: its two tokens are added, once.
    let added = r.add_rounds(&[round_doc(3_600_000)]).unwrap();
    assert_eq!(added, vec![TokenId::from_u128(YES), TokenId::from_u128(NO)]);
    assert!(r.add_rounds(&[round_doc(3_600_000)]).unwrap().is_empty(), "a round it has is left as it is");
    assert_eq!(r.tokens().len(), 2);
    // Its books followed, the same signal as in the first test buys the same stake, with the
    // round's outcome on the order for the gateway.
    assert!(books(&mut r, 1, "0.38", "0.40", 0).is_empty());
    let o = one(&r.on_signal(&signal("model-a", YES, 500_000, 10_000), MS).unwrap());
    assert_eq!((o.token, o.side, o.price, o.size), (TokenId::from_u128(YES), Side::Buy, p("0.40"), q("85.04")));
    assert_eq!(o.outcome, Some(polyfleet_core::wire::Outcome::binary(&ConditionId::from_bytes([1; 32]), true)));
    // A round whose tokens are not one market's is refused, and nothing is added.
    let mut bad = round_doc(3_600_000);
    bad.no.market = ConditionId::from_bytes([2; 32]).to_string();
    bad.yes.token = "7".into();
    assert!(r.add_rounds(&[bad]).is_err());
    assert_eq!(r.tokens().len(), 2);
}

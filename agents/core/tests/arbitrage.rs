//! The complete-set arbitrage strategy through its runner: sizing across levels, fees, caps,
//! binary and neg-risk sets, merging bought binary sets, splitting to sell above one, redeeming
//! winners at resolution, selling held sets, leg failure and unwind, timeouts, no re-entry while
//! legs are pending, cooldown, and live parameter changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::common;

use common::{fill, identity, lv, p, places, q, snap, update};
use polyfleet_core::config::{StrategyParams, StrategyType};
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::strategy::Instrument;
use polyfleet_core::strategy::arbitrage::{ArbParams, ArbSet, CompleteSetArb, LegOrderType, SetKind};
use polyfleet_core::strategy::runner::StrategyRunner;
use polyfleet_core::wire::{
    CtfIntent, CtfOp, CtfReport, CtfStatus, Fill, Intent, Level, MarketEvent, MarketEventBody, OrderIntent,
    OrderStatus, RejectReason, RiskDecision, TimeInForce, Verdict,
};
use polyfleet_core::{ConditionId, Money, Quantity, Side, TokenId};

const MS: u64 = 1_000_000;

fn inst(token: u128, market: u8, fee_bps: u32) -> Instrument {
    Instrument {
        market: ConditionId::from_bytes([market; 32]),
        token: TokenId::from_u128(token),
        min_size: q("5"),
        fees: FeeSchedule { rate_bps: fee_bps, exponent: 1 },
    }
}

fn params(edge: u32, cap: &str) -> ArbParams {
    ArbParams {
        min_edge_bps: edge,
        max_notional_per_leg_micros: Money::parse(cap).unwrap().micros(),
        order_type: LegOrderType::Fok,
        leg_timeout_ms: 2000,
        cooldown_ms: 1000,
        sell_back_above_cost: true,
    }
}

fn runner(sets: Vec<ArbSet>, params: ArbParams) -> StrategyRunner {
    run(CompleteSetArb::new(sets, params, q("10000"), Money::parse("10000").unwrap()).unwrap())
}

fn run(s: CompleteSetArb) -> StrategyRunner {
    StrategyRunner::new(identity("arb"), Box::new(s), "t0").unwrap()
}

fn binary(fee_bps: u32) -> ArbSet {
    ArbSet::new(SetKind::Binary, vec![inst(1, 1, fee_bps), inst(2, 1, fee_bps)])
}

#[test]
fn a_set_goes_to_risk_as_one_intent() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    assert!(r.on_market(&snap(1, 1, vec![lv("0.01", "10")], vec![lv("0.45", "100")]), 0).intents.is_empty());
    let out = r.on_market(&snap(2, 1, vec![lv("0.01", "10")], vec![lv("0.50", "100")]), 0).intents;
    let [Intent::PlaceSet(legs)] = out.as_slice() else { panic!("one set intent: {out:?}") };
    assert_eq!(legs.len(), 2);
    assert!(legs.iter().all(|l| l.group == Some(legs[0].client_order_id)), "grouped under the first leg");
}

/// The conditional-token operations asked for.
fn ctfs(intents: &[Intent]) -> Vec<CtfIntent> {
    intents.iter().filter_map(|i| if let Intent::Ctf(c) = i { Some(c.clone()) } else { None }).collect()
}

fn done(c: &CtfIntent) -> CtfReport {
    CtfReport::of(c, CtfStatus::Done, Money::ZERO, Money::ZERO, 0)
}

/// Feeds YES and NO snapshots; returns the intents of the second (the first leaves one book missing).
fn feed_binary(r: &mut StrategyRunner, yes_asks: Vec<Level>, no_asks: Vec<Level>, now: u64) -> Vec<OrderIntent> {
    assert!(r.on_market(&snap(1, 1, vec![lv("0.01", "10")], yes_asks), now).intents.is_empty());
    places(&r.on_market(&snap(2, 1, vec![lv("0.01", "10")], no_asks), now).intents)
}

#[test]
fn binary_set_below_one_is_bought_capped_per_leg() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    assert_eq!(legs.len(), 2);
    // The set makes 0.05 a share where 0.005 is asked: the limits give the rest away to books
    // that move before the orders arrive. The NO leg's 25 USDC cap at 0.50 would allow 50 shares,
    // but then NO's limit could not rise: the size leaves it room for its half of the excess
    // (0.5225, so 0.52: 48.07 shares within 25 USDC), then the limits take turns rising a tick
    // while the set at its limits keeps 0.005 a share: YES 0.47, NO 0.52 (0.99 a set).
    let got: Vec<_> = legs.iter().map(|l| (l.side, l.price, l.size, l.tif)).collect();
    assert_eq!(
        got,
        vec![
            (Side::Buy, p("0.47"), q("48.07"), TimeInForce::Fok),
            (Side::Buy, p("0.52"), q("48.07"), TimeInForce::Fok)
        ]
    );
    assert_eq!(legs[1].group, Some(legs[0].client_order_id));
    assert_eq!(legs[0].cause_seq, 1);
}

#[test]
fn size_walks_levels_while_each_share_keeps_the_edge() {
    let mut r = runner(vec![binary(0)], params(50, "1000"));
    let legs =
        feed_binary(&mut r, vec![lv("0.40", "10"), lv("0.45", "20"), lv("0.60", "100")], vec![lv("0.50", "100")], 0);
    // 0.40+0.50 and 0.45+0.50 keep 50 bps; 0.60+0.50 does not: 30 shares, reaching YES 0.45.
    // All 30 at 0.45 + 0.50 would keep 0.05 a share; the limits take turns rising a tick while
    // the set at its limits keeps 0.005: YES 0.47, NO 0.52 (0.99 a set).
    assert_eq!(legs[0].size, q("30"));
    assert_eq!(legs[0].price, p("0.47"));
    assert_eq!(legs[1].price, p("0.52"));
}

#[test]
fn taker_fees_count_against_the_edge() {
    // 10% fee rate: 0.45 costs 0.02475 in fees, 0.50 costs 0.025: 0.95 + 0.04975 = 0.99975.
    let mut r = runner(vec![binary(1000)], params(50, "25"));
    assert!(feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0).is_empty());
    let mut r = runner(vec![binary(1000)], params(0, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    assert_eq!(legs.len(), 2);
}

#[test]
fn neg_risk_set_buys_every_yes() {
    let set = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0), inst(3, 3, 0)]);
    let mut r = runner(vec![set], params(100, "10"));
    assert!(r.on_market(&snap(1, 1, vec![], vec![lv("0.30", "50")]), 0).intents.is_empty());
    assert!(r.on_market(&snap(2, 1, vec![], vec![lv("0.30", "50")]), 0).intents.is_empty());
    let legs = places(&r.on_market(&snap(3, 1, vec![], vec![lv("0.35", "50")]), 0).intents);
    assert_eq!(legs.len(), 3);
    // 10 USDC at 0.35 would be 28.57 shares; the set makes 0.05 a share where 0.01 is asked, a
    // third of the excess is 0.0133 a leg, so Carol's limit may reach 0.36: 27.77 shares fit the
    // cap there. The limits then rise in turn while the set keeps 0.01 a share at its limits.
    assert!(legs.iter().all(|l| l.size == q("27.77") && l.side == Side::Buy), "{legs:?}");
    let limits: Vec<_> = legs.iter().map(|l| l.price).collect();
    assert_eq!(limits, vec![p("0.32"), p("0.31"), p("0.36")]);
    assert_eq!(legs[2].market, ConditionId::from_bytes([3; 32]));
}

#[test]
fn no_reentry_while_pending_then_cooldown() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    // Same opportunity again while the legs are out: nothing.
    assert!(r.on_market(&snap(1, 2, vec![], vec![lv("0.45", "100")]), MS).intents.is_empty());
    let mut out = vec![];
    for l in &legs {
        r.on_fill(&fill(l, &format!("f-{}", l.client_order_id), "50"), 2 * MS);
        out.extend(r.on_order(&update(l, OrderStatus::Filled, "50"), 2 * MS));
    }
    // The completed set goes to be merged; no order.
    assert!(places(&out).is_empty());
    assert_eq!(ctfs(&out).len(), 1);
    // Cooling down for 1 s.
    assert!(r.on_market(&snap(1, 3, vec![], vec![lv("0.45", "100")]), 500 * MS).intents.is_empty());
    let again = places(&r.on_market(&snap(1, 4, vec![], vec![lv("0.45", "100")]), 1003 * MS).intents);
    assert_eq!(again.len(), 2);
}

#[test]
fn a_bought_binary_set_is_merged_as_soon_as_both_legs_fill() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    r.on_fill(&fill(&legs[0], "f0", "50"), MS);
    r.on_fill(&fill(&legs[1], "f1", "50"), MS);
    assert!(r.on_order(&update(&legs[0], OrderStatus::Filled, "50"), MS).is_empty());
    let out = r.on_order(&update(&legs[1], OrderStatus::Filled, "50"), MS);
    let [merge] = ctfs(&out).try_into().unwrap();
    let CtfOp::Merge { market, tokens, size } = merge.op else { panic!("a merge: {merge:?}") };
    assert_eq!((market, tokens, size), (legs[0].market, [legs[0].token, legs[1].token], q("50")));
    assert_eq!((merge.namespace.as_str(), merge.strategy.as_str(), merge.risk_policy.as_str()), ("ns", "arb", "rp"));
    // Booked: the set is gone; a report seen twice counts once.
    assert!(r.on_ctf(&done(&merge), 2 * MS).is_empty());
    assert!(r.on_ctf(&done(&merge), 2 * MS).is_empty());
}

#[test]
fn a_partly_filled_set_merges_its_matched_part_and_sells_the_rest() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    r.on_fill(&fill(&legs[0], "f0", "50"), MS);
    r.on_fill(&fill(&legs[1], "f1", "30"), MS);
    r.on_order(&update(&legs[0], OrderStatus::Filled, "50"), MS);
    unwinding_is_cheaper(&mut r);
    let out = r.on_order(&update(&legs[1], OrderStatus::Cancelled, "30"), MS);
    let [merge] = ctfs(&out).try_into().unwrap();
    assert!(matches!(merge.op, CtfOp::Merge { size, .. } if size == q("30")));
    let [sell] = places(&out).try_into().unwrap();
    assert_eq!((sell.token, sell.side, sell.size, sell.tif), (legs[0].token, Side::Sell, q("20"), TimeInForce::Fak));
}

#[test]
fn bids_above_one_split_a_set_out_of_usdc_and_sell_both_legs() {
    let mut r = runner(vec![binary(0)], params(50, "100"));
    // Bids sum to 1.05 with nothing held: a split first, no order yet.
    r.on_market(&snap(1, 1, vec![lv("0.55", "500")], vec![lv("0.60", "100")]), 0);
    let out = r.on_market(&snap(2, 1, vec![lv("0.50", "500")], vec![lv("0.55", "100")]), 0).intents;
    assert!(places(&out).is_empty());
    let [split] = ctfs(&out).try_into().unwrap();
    let CtfOp::Split { size, .. } = split.op else { panic!("a split: {split:?}") };
    assert!(size > Quantity::ZERO);
    // Nothing more while the split is out.
    assert!(r.on_market(&snap(1, 2, vec![lv("0.55", "500")], vec![lv("0.60", "100")]), MS).intents.is_empty());
    // Booked: both legs sell the split's size, FOK, at limits keeping the edge.
    let sells = places(&r.on_ctf(&done(&split), 2 * MS));
    assert_eq!(sells.len(), 2);
    assert!(sells.iter().all(|o| o.side == Side::Sell && o.size == size && o.tif == TimeInForce::Fok));
    assert!(sells[0].price.ticks() + sells[1].price.ticks() >= 10_050, "{sells:?}");
    // The bids went: neither leg sells, and the whole set is merged back (no loss).
    r.on_order(&update(&sells[0], OrderStatus::Cancelled, "0"), 3 * MS);
    let out = r.on_order(&update(&sells[1], OrderStatus::Cancelled, "0"), 3 * MS);
    let [merge] = ctfs(&out).try_into().unwrap();
    assert!(matches!(merge.op, CtfOp::Merge { size: s, .. } if s == size));
    assert!(places(&out).is_empty());
}

#[test]
fn a_refused_split_sells_nothing_and_cools_down() {
    let mut r = runner(vec![binary(0)], params(50, "100"));
    r.on_market(&snap(1, 1, vec![lv("0.55", "500")], vec![lv("0.60", "100")]), 0);
    let out = r.on_market(&snap(2, 1, vec![lv("0.50", "500")], vec![lv("0.55", "100")]), 0).intents;
    let [split] = ctfs(&out).try_into().unwrap();
    let refused = CtfReport::failed(&split, "refused by risk: gross_exposure", 0);
    assert!(r.on_ctf(&refused, MS).is_empty());
    assert!(r.on_market(&snap(1, 2, vec![lv("0.55", "500")], vec![lv("0.60", "100")]), 500 * MS).intents.is_empty());
    assert_eq!(
        ctfs(&r.on_market(&snap(1, 3, vec![lv("0.55", "500")], vec![lv("0.60", "100")]), 1002 * MS).intents).len(),
        1
    );
}

#[test]
fn a_held_neg_risk_set_is_sold_back_once_its_bids_pay_more_than_it_cost() {
    sell_back(true);
}

#[test]
fn without_sell_back_a_held_neg_risk_set_waits_for_its_resolution() {
    sell_back(false);
}

fn sell_back(enabled: bool) {
    let set = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0), inst(3, 3, 0)]);
    let mut r = runner(vec![set], ArbParams { sell_back_above_cost: enabled, ..params(100, "10") });
    r.on_market(&snap(1, 1, vec![], vec![lv("0.30", "50")]), 0);
    r.on_market(&snap(2, 1, vec![], vec![lv("0.30", "50")]), 0);
    let legs = places(&r.on_market(&snap(3, 1, vec![], vec![lv("0.35", "50")]), 0).intents);
    // Filled at 0.30, 0.30 and 0.35: the set cost 0.95.
    for (k, l) in legs.iter().enumerate() {
        let mut f = fill(l, &format!("f{k}"), "27.77");
        f.price = if k == 2 { p("0.35") } else { p("0.30") };
        r.on_fill(&f, MS);
        r.on_order(&update(l, OrderStatus::Filled, "27.77"), MS);
    }
    // Bids at 0.31, 0.31, 0.33 (0.95): below cost plus the 1% edge, nothing.
    // (Asks stay above a buy all along.)
    assert!(r.on_market(&snap(1, 2, vec![lv("0.31", "100")], vec![lv("0.36", "100")]), 2000 * MS).intents.is_empty());
    assert!(r.on_market(&snap(2, 2, vec![lv("0.31", "100")], vec![lv("0.36", "100")]), 2000 * MS).intents.is_empty());
    assert!(r.on_market(&snap(3, 2, vec![lv("0.33", "100")], vec![lv("0.37", "100")]), 2000 * MS).intents.is_empty());
    // The mispricing passed: bids at 0.34, 0.31, 0.33 (0.98) pay more than 0.95 + 0.01. The
    // whole set is sold back, nothing bought.
    let out = places(&r.on_market(&snap(1, 3, vec![lv("0.34", "100")], vec![lv("0.36", "100")]), 2100 * MS).intents);
    if !enabled {
        assert!(out.is_empty(), "held to resolution: {out:?}");
        return;
    }
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out.iter().all(|o| o.side == Side::Sell && o.size == q("27.77")), "{out:?}");
    let limits: u32 = out.iter().map(|o| o.price.ticks()).sum();
    assert!(limits >= 9_600, "sold for at least cost plus edge: {out:?}");
    // Two legs sell, the third is killed: what is left of the set is one naked leg, and it is
    // sold at market (the exit completed) rather than held as exposure.
    for (k, o) in out.iter().enumerate().take(2) {
        let mut f = fill(o, &format!("s{k}"), "27.77");
        f.side = Side::Sell;
        r.on_fill(&f, 2200 * MS);
        assert!(places(&r.on_order(&update(o, OrderStatus::Filled, "27.77"), 2200 * MS)).is_empty());
    }
    let unwind = places(&r.on_order(&update(&out[2], OrderStatus::Cancelled, "0"), 2200 * MS));
    assert_eq!(unwind.len(), 1, "{unwind:?}");
    let u = &unwind[0];
    assert_eq!((u.token, u.side, u.size, u.tif), (out[2].token, Side::Sell, q("27.77"), TimeInForce::Fak));
}

/// A held set sold back whose legs all fail stays a complete set: nothing is unwound.
#[test]
fn a_held_set_left_unsold_stays_held() {
    let set = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0)]);
    let mut r = runner(vec![set], params(100, "10"));
    r.on_market(&snap(1, 1, vec![], vec![lv("0.40", "50")]), 0);
    let legs = places(&r.on_market(&snap(2, 1, vec![], vec![lv("0.50", "50")]), 0).intents);
    assert_eq!(legs.len(), 2);
    for (k, l) in legs.iter().enumerate() {
        r.on_fill(&fill(l, &format!("f{k}"), &l.size.to_string()), MS);
        r.on_order(&update(l, OrderStatus::Filled, &l.size.to_string()), MS);
    }
    r.on_market(&snap(1, 2, vec![lv("0.46", "100")], vec![lv("0.50", "100")]), 2000 * MS);
    let out = places(&r.on_market(&snap(2, 2, vec![lv("0.55", "100")], vec![lv("0.60", "100")]), 2000 * MS).intents);
    assert_eq!(out.len(), 2, "sold back: {out:?}");
    r.on_order(&update(&out[0], OrderStatus::Cancelled, "0"), 2100 * MS);
    let after = r.on_order(&update(&out[1], OrderStatus::Cancelled, "0"), 2100 * MS);
    assert!(after.is_empty(), "nothing unwound, nothing merged: {after:?}");
}

#[test]
fn winners_held_are_redeemed_at_resolution_and_losers_written_off() {
    let set = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0), inst(3, 3, 0)]);
    let mut r = runner(vec![set], params(100, "10"));
    r.on_market(&snap(1, 1, vec![], vec![lv("0.30", "50")]), 0);
    r.on_market(&snap(2, 1, vec![], vec![lv("0.30", "50")]), 0);
    let legs = places(&r.on_market(&snap(3, 1, vec![], vec![lv("0.35", "50")]), 0).intents);
    let mut out = vec![];
    for (k, l) in legs.iter().enumerate() {
        r.on_fill(&fill(l, &format!("f{k}"), "27.77"), MS);
        out.extend(r.on_order(&update(l, OrderStatus::Filled, "27.77"), MS));
    }
    // A neg-risk set cannot merge: it is held.
    assert!(ctfs(&out).is_empty());
    let resolved = |token: u128, market: u8, winner: bool| MarketEvent {
        token: TokenId::from_u128(token),
        market: ConditionId::from_bytes([market; 32]),
        seq: 2,
        venue_ts_ms: 0,
        recv_ts_ns: 0,
        body: MarketEventBody::Resolved { winner },
    };
    // Outcome 2 wins: its market's YES is redeemed, once; the losers ask for nothing.
    assert!(r.on_market(&resolved(1, 1, false), 2 * MS).intents.is_empty());
    let out = r.on_market(&resolved(2, 2, true), 2 * MS).intents;
    let [redeem] = ctfs(&out).try_into().unwrap();
    assert!(matches!(redeem.op, CtfOp::Redeem { token, size, .. } if token == legs[1].token && size == q("27.77")));
    assert!(r.on_market(&resolved(2, 2, true), 3 * MS).intents.is_empty());
    assert!(r.on_market(&resolved(3, 3, false), 3 * MS).intents.is_empty());
    // Refused (say the risk store was down): asked for again after legTimeoutMs, not before.
    assert!(
        r.on_ctf(&CtfReport::failed(&redeem, "refused by risk: risk_store_unavailable", 4 * MS), 4 * MS).is_empty()
    );
    assert!(ctfs(&r.on_timer(1000 * MS)).is_empty());
    let [again] = ctfs(&r.on_timer(2003 * MS)).try_into().unwrap();
    assert_eq!(again.op, redeem.op);
    // Done: nothing more.
    assert!(r.on_ctf(&done(&again), 2004 * MS).is_empty());
    assert!(ctfs(&r.on_timer(5000 * MS)).is_empty());
}

/// The NO ask moves to 0.60 and YES is bid 0.44: completing a YES leg bought at 0.45 would lose
/// 0.05 a set, selling it back 0.01 a share, so a broken set is unwound.
fn unwinding_is_cheaper(r: &mut StrategyRunner) {
    assert!(r.on_market(&snap(1, 2, vec![lv("0.44", "100")], vec![lv("0.45", "100")]), MS).intents.is_empty());
    no_ask_moves_to(r, "0.60");
}

/// The NO book's ask moves (the set's legs are out, so nothing is entered on it).
fn no_ask_moves_to(r: &mut StrategyRunner, ask: &str) {
    assert!(r.on_market(&snap(2, 2, vec![lv("0.01", "10")], vec![lv(ask, "100")]), MS).intents.is_empty());
}

/// A leg killed while its book still allows the set at no loss: the short leg is bought (one
/// FAK intent), and once it fills the whole set merges; nothing is unwound.
#[test]
fn a_broken_set_is_completed_when_that_cannot_lose() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    // The YES leg fills at the book's 0.45 (its limit was widened above it).
    r.on_fill(&Fill { price: p("0.45"), ..fill(&legs[0], "f1", "50") }, MS);
    r.on_order(&update(&legs[0], OrderStatus::Filled, "50"), MS);
    // The NO ask moved from 0.50 to 0.54: 0.45 + 0.54 is still below 1.
    no_ask_moves_to(&mut r, "0.54");
    let out = r.on_order(&update(&legs[1], OrderStatus::Cancelled, "0"), MS);
    let [Intent::PlaceSet(buys)] = out.as_slice() else { panic!("one completion intent: {out:?}") };
    let c = &buys[0];
    assert_eq!(
        (buys.len(), c.token, c.side, c.size, c.tif, c.price),
        (1, legs[1].token, Side::Buy, q("50"), TimeInForce::Fak, p("0.54"))
    );
    r.on_fill(&fill(c, "f2", "50"), 2 * MS);
    let out = r.on_order(&update(c, OrderStatus::Filled, "50"), 2 * MS);
    let [merge] = ctfs(&out).try_into().unwrap();
    assert!(matches!(merge.op, CtfOp::Merge { size, .. } if size == q("50")));
    assert!(places(&out).is_empty(), "nothing unwound: {out:?}");
}

/// Completing at a loss beats unwinding into a book bid far below what the leg cost: the YES leg
/// bought at 0.45 would sell at 0.01 (a loss of 22 USDC), a NO at 0.60 makes the set cost 1.05 (a
/// loss of 2.50).
#[test]
fn a_broken_set_is_completed_at_a_loss_when_unwinding_would_lose_more() {
    let (mut r, legs) = yes_filled_binary();
    no_ask_moves_to(&mut r, "0.60");
    let out = r.on_order(&update(&legs[1], OrderStatus::Cancelled, "0"), MS);
    let [Intent::PlaceSet(buys)] = out.as_slice() else { panic!("one completion intent: {out:?}") };
    assert_eq!((buys.len(), buys[0].token, buys[0].side, buys[0].price), (1, legs[1].token, Side::Buy, p("0.60")));
    assert_eq!(r.counters().iter().find(|(k, _)| *k == "completion").map(|(_, v)| *v), Some(1));
}

/// A binary set bought at 0.45 + 0.50 whose YES leg filled 50 and whose NO leg is still out.
fn yes_filled_binary() -> (StrategyRunner, Vec<OrderIntent>) {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    r.on_fill(&fill(&legs[0], "f1", "50"), MS);
    r.on_order(&update(&legs[0], OrderStatus::Filled, "50"), MS);
    (r, legs)
}

/// A completion that fills short is given up: what is left over is unwound, never completed twice.
#[test]
fn a_completion_that_falls_short_is_unwound() {
    let (mut r, legs) = yes_filled_binary();
    let out = r.on_order(&update(&legs[1], OrderStatus::Cancelled, "0"), MS);
    let [Intent::PlaceSet(buys)] = out.as_slice() else { panic!("one completion intent: {out:?}") };
    r.on_fill(&fill(&buys[0], "f2", "30"), 2 * MS);
    let out = r.on_order(&update(&buys[0], OrderStatus::Cancelled, "30"), 2 * MS);
    let [merge] = ctfs(&out).try_into().unwrap();
    assert!(matches!(merge.op, CtfOp::Merge { size, .. } if size == q("30")));
    let [sell] = places(&out).try_into().unwrap();
    assert_eq!((sell.token, sell.side, sell.size), (legs[0].token, Side::Sell, q("20")));
}

#[test]
fn a_failed_leg_unwinds_what_filled() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    r.on_fill(&fill(&legs[0], "f1", "50"), MS);
    assert!(r.on_order(&update(&legs[0], OrderStatus::Filled, "50"), MS).is_empty());
    unwinding_is_cheaper(&mut r);
    let out = r.on_order(&update(&legs[1], OrderStatus::Cancelled, "0"), MS);
    let unwind = places(&out);
    assert_eq!(unwind.len(), 1);
    let u = &unwind[0];
    assert_eq!(
        (u.token, u.side, u.size, u.tif, u.price),
        (legs[0].token, Side::Sell, q("50"), TimeInForce::Fak, p("0.01"))
    );
}

#[test]
fn a_rejected_leg_counts_as_done() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    let reject = |o: &OrderIntent| RiskDecision {
        intent: o.clone(),
        verdict: Verdict::Rejected { reason: RejectReason::KillSwitch, detail: "kill switch".into() },
        decided_ts_ns: 0,
    };
    assert!(r.on_decision(&reject(&legs[0]), MS).is_empty());
    assert!(r.on_decision(&reject(&legs[1]), MS).is_empty());
    // Nothing filled, nothing to unwind; after the cooldown the set trades again.
    assert_eq!(places(&r.on_market(&snap(1, 2, vec![], vec![lv("0.45", "100")]), 1002 * MS).intents).len(), 2);
}

#[test]
fn open_legs_are_cancelled_after_the_timeout_then_given_up() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    assert!(r.on_timer(1999 * MS).is_empty());
    let cancels = r.on_timer(2000 * MS);
    assert_eq!(cancels.len(), 2);
    assert!(cancels.iter().all(|c| matches!(c, Intent::Cancel(c) if c.reason == "leg timeout")));
    // The YES leg reports a fill before going quiet; the second timeout gives up and unwinds it.
    r.on_order(&update(&legs[0], OrderStatus::PartiallyFilled, "20"), 2100 * MS);
    unwinding_is_cheaper(&mut r);
    let out = places(&r.on_timer(4000 * MS));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].side, out[0].size), (Side::Sell, q("20")));
}

#[test]
fn a_held_binary_set_is_sold_above_one() {
    let mut r = runner(vec![binary(0)], params(50, "100"));
    let legs = feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0);
    let mut out = vec![];
    for l in &legs {
        r.on_fill(&fill(l, &format!("f-{}", l.client_order_id), "50"), MS);
        out.extend(r.on_order(&update(l, OrderStatus::Filled, "50"), MS));
    }
    // The merge fails (say the venue refused it): the set stays held.
    let [merge] = ctfs(&out).try_into().unwrap();
    r.on_ctf(&CtfReport::failed(&merge, "venue refused", MS), MS);
    // Bids now sum to 1.05; asks sum above 1. Sells are capped by what is held (50).
    r.on_market(&snap(1, 2, vec![lv("0.55", "500")], vec![lv("0.60", "100")]), 2000 * MS);
    let out = places(&r.on_market(&snap(2, 2, vec![lv("0.50", "500")], vec![lv("0.55", "100")]), 2000 * MS).intents);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| o.side == Side::Sell && o.size == q("50")));
    // Sold at no less than 1.005 a set: limits 0.53 and 0.48 (1.01), from bids of 0.55 and 0.50.
    assert_eq!((out[0].price, out[1].price), (p("0.53"), p("0.48")));
}

#[test]
fn parameters_change_live_and_bad_ones_are_refused() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    let typed = |v: serde_json::Value| StrategyParams::decode(StrategyType::Arbitrage, v);
    // Out of bounds or not arbitrage parameters: refused when decoded, and by the strategy too.
    assert!(typed(serde_json::json!({"minEdgeBps": 20000, "maxNotionalPerLegMicros": 1, "orderType": "FOK", "legTimeoutMs": 1, "cooldownMs": 0})).is_err());
    assert!(typed(serde_json::json!({"minEdgeBps": "x"})).is_err());
    assert!(r.on_params(&StrategyParams::Arbitrage(ArbParams { min_edge_bps: 20000, ..params(50, "25") }), 2).is_err());
    assert!(r.on_params(&StrategyParams::Probe(Default::default()), 2).is_err());
    assert_eq!(r.params_generation(), None);
    r.on_params(
        &typed(serde_json::json!({"minEdgeBps": 600, "maxNotionalPerLegMicros": 25000000, "orderType": "FAK", "legTimeoutMs": 2000, "cooldownMs": 0})).unwrap(),
        3,
    )
    .unwrap();
    assert_eq!(r.params_generation(), Some(3));
    // 5% edge is below the new 6% minimum.
    assert!(feed_binary(&mut r, vec![lv("0.45", "100")], vec![lv("0.50", "100")], 0).is_empty());
    r.on_params(
        &typed(serde_json::json!({"minEdgeBps": 400, "maxNotionalPerLegMicros": 25000000, "orderType": "FAK", "legTimeoutMs": 2000, "cooldownMs": 0})).unwrap(),
        4,
    )
    .unwrap();
    let legs = places(&r.on_market(&snap(1, 2, vec![], vec![lv("0.45", "100")]), 0).intents);
    assert_eq!(legs.len(), 2);
    assert!(legs.iter().all(|l| l.tif == TimeInForce::Fak));
}

#[test]
fn a_gap_asks_for_a_snapshot_and_stops_trading_that_book() {
    let mut r = runner(vec![binary(0)], params(50, "25"));
    r.on_market(&snap(1, 1, vec![], vec![lv("0.60", "100")]), 0);
    r.on_market(&snap(2, 1, vec![], vec![lv("0.60", "100")]), 0);
    let mut gap = snap(1, 5, vec![], vec![]);
    gap.body = MarketEventBody::Delta(vec![]);
    let out = r.on_market(&gap, 0);
    assert_eq!(out.snapshot_requests, vec![TokenId::from_u128(1)]);
    assert!(r.books().live(&TokenId::from_u128(1)).is_none());
}

fn runner_with_capital(sets: Vec<ArbSet>, params: ArbParams, capital: &str) -> StrategyRunner {
    let s = CompleteSetArb::new(sets, params, q("10000"), Money::parse("10000").unwrap()).unwrap();
    run(s.with_capital(Money::parse(capital).unwrap()))
}

fn reserved(legs: &[OrderIntent]) -> Money {
    legs.iter()
        .map(|l| l.price.notional(l.size, polyfleet_core::Rounding::Up).unwrap())
        .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap())
}

/// With the risk policy's gross limit as capital, a set that would need more than is left is
/// bought smaller, so the risk gateway never has to refuse it.
#[test]
fn a_set_is_bought_smaller_when_capital_is_short() {
    let set = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0), inst(3, 3, 0)]);
    let mut r = runner_with_capital(vec![set], params(100, "10"), "12");
    r.on_market(&snap(1, 1, vec![], vec![lv("0.30", "50")]), 0);
    r.on_market(&snap(2, 1, vec![], vec![lv("0.30", "50")]), 0);
    let legs = places(&r.on_market(&snap(3, 1, vec![], vec![lv("0.35", "50")]), 0).intents);
    assert_eq!(legs.len(), 3);
    // 27.77 a leg without the limit (as in neg_risk_set_buys_every_yes); 12 USDC buys fewer.
    assert!(legs[0].size < q("27.77") && legs[0].size >= q("5"), "{legs:?}");
    assert!(reserved(&legs) <= Money::parse("12").unwrap(), "{legs:?}");
}

/// Capital held in a set whose exit now loses a little is recycled into a set that makes more:
/// the held set is sold back; nothing is bought until its capital is back.
#[test]
fn capital_is_recycled_from_a_held_set_into_a_better_one() {
    let a = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0)]);
    let b = ArbSet::new(SetKind::NegRisk, vec![inst(3, 3, 0), inst(4, 4, 0)]);
    let mut r = runner_with_capital(vec![a, b], params(100, "10"), "10");
    // Set A at 0.45 + 0.50: bought, filled at the book's prices.
    r.on_market(&snap(1, 1, vec![], vec![lv("0.45", "100")]), 0);
    let legs = places(&r.on_market(&snap(2, 1, vec![], vec![lv("0.50", "100")]), 0).intents);
    assert_eq!(legs.len(), 2);
    let price = [p("0.45"), p("0.50")];
    for (k, l) in legs.iter().enumerate() {
        r.on_fill(&Fill { price: price[k], ..fill(l, &format!("a{k}"), &l.size.to_string()) }, MS);
        r.on_order(&update(l, OrderStatus::Filled, &l.size.to_string()), MS);
    }
    // A's bids now pay 0.94 (a 1-cent loss on its 0.95): not worth selling on its own.
    assert!(r.on_market(&snap(1, 2, vec![lv("0.44", "100")], vec![lv("0.46", "100")]), 2000 * MS).intents.is_empty());
    assert!(r.on_market(&snap(2, 2, vec![lv("0.50", "100")], vec![lv("0.56", "100")]), 2000 * MS).intents.is_empty());
    // Set B at 0.40 + 0.45 makes 15 cents a set, and the capital is all in A: A is sold back.
    r.on_market(&snap(3, 1, vec![], vec![lv("0.40", "100")]), 2000 * MS);
    let out = places(&r.on_market(&snap(4, 1, vec![], vec![lv("0.45", "100")]), 2000 * MS).intents);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out.iter().all(|o| o.side == Side::Sell && [1, 2].map(TokenId::from_u128).contains(&o.token)), "{out:?}");
}

/// A set left with unequal legs whose unwind the risk gateway refused is unwound again once it
/// is idle, from what it holds.
#[test]
fn an_idle_set_with_unequal_holdings_is_unwound_again() {
    let (mut r, legs) = yes_filled_binary();
    unwinding_is_cheaper(&mut r);
    let unwind = places(&r.on_order(&update(&legs[1], OrderStatus::Cancelled, "0"), MS));
    assert_eq!(unwind.len(), 1);
    let refused = RiskDecision {
        intent: unwind[0].clone(),
        verdict: Verdict::Rejected { reason: RejectReason::BookLiquidity, detail: "thin".into() },
        decided_ts_ns: MS,
    };
    assert!(r.on_decision(&refused, MS).is_empty());
    // Cooling down: nothing.
    assert!(r.on_market(&snap(1, 3, vec![lv("0.44", "100")], vec![lv("0.45", "100")]), 500 * MS).intents.is_empty());
    // Idle again: the 50 YES held without NO are unwound.
    let again = places(&r.on_market(&snap(1, 4, vec![lv("0.44", "100")], vec![lv("0.45", "100")]), 1500 * MS).intents);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!((again[0].token, again[0].side, again[0].size), (legs[0].token, Side::Sell, q("50")));
}

/// A NO basket of a three-outcome event (NO tokens 11, 12, 13 of markets 1, 2, 3).
fn basket(fee_bips: u32) -> ArbSet {
    ArbSet {
        convert_fee_bips: fee_bips,
        ..ArbSet::new(SetKind::NoBasket, vec![inst(11, 1, 0), inst(12, 2, 0), inst(13, 3, 0)])
    }
}

/// Feeds the basket's three NO books (asks `a`, `b`, `c`, 50 shares each); the orders of the last.
fn feed_basket(r: &mut StrategyRunner, a: &str, b: &str, c: &str, now: u64) -> Vec<OrderIntent> {
    let seq = now / MS + 1;
    assert!(r.on_market(&snap(11, seq, vec![], vec![lv(a, "50")]), now).intents.is_empty());
    assert!(r.on_market(&snap(12, seq, vec![], vec![lv(b, "50")]), now).intents.is_empty());
    places(&r.on_market(&snap(13, seq, vec![], vec![lv(c, "50")]), now).intents)
}

#[test]
fn a_no_basket_below_n_minus_one_is_bought_and_converted() {
    assert_eq!(basket(0).par(), Money::parse("2").unwrap());
    assert_eq!(basket(250).par(), Money::parse("1.95").unwrap(), "2 × (1 − 2.5 %)");
    let mut r = runner(vec![basket(0)], params(100, "10"));
    // The NOs ask 1.90 for what converts into 2 USDC.
    let legs = feed_basket(&mut r, "0.60", "0.60", "0.70", 0);
    assert_eq!(legs.len(), 3, "{legs:?}");
    assert!(
        legs.iter().all(|l| l.side == Side::Buy && l.size == legs[0].size && l.group == Some(legs[0].client_order_id))
    );
    let tokens: Vec<TokenId> = legs.iter().map(|l| l.token).collect();
    assert_eq!(tokens, [11, 12, 13].map(TokenId::from_u128));
    let size = legs[0].size;
    // The limits keep the edge: at most 2 − 0.01 a basket.
    let at_limits: i64 = legs.iter().map(|l| i64::from(l.price.ticks())).sum();
    assert!(at_limits * 100 <= 1_990_000, "{legs:?}");
    let mut out = vec![];
    for (k, l) in legs.iter().enumerate() {
        r.on_fill(&fill(l, &format!("f{k}"), &size.to_string()), MS);
        out.extend(r.on_order(&update(l, OrderStatus::Filled, &size.to_string()), MS));
    }
    // The whole basket converts at once: no YES comes back, 2 USDC a basket does.
    let [convert] = ctfs(&out).try_into().unwrap();
    assert_eq!(convert.op, CtfOp::Convert { no_tokens: tokens.clone(), yes_tokens: vec![], size, fee_bips: 0 });
    assert!(places(&out).is_empty());
    assert!(r.on_ctf(&done(&convert), 2 * MS).is_empty());
    // Nothing held afterwards; after the cooldown the basket is bought again.
    let again = places(&r.on_market(&snap(11, 9, vec![], vec![lv("0.60", "50")]), 1002 * MS).intents);
    assert_eq!(again.len(), 3);
}

/// Buys the event's YES set (8 at 0.30 × 3, held: a neg-risk set cannot merge), then a NO basket
/// at 1.90 larger than it; the conditional-token operations asked for when the basket fills, and
/// the basket's size.
fn yes_set_then_basket(r: &mut StrategyRunner) -> (Vec<CtfOp>, Quantity, Vec<CtfIntent>) {
    assert!(r.on_market(&snap(1, 1, vec![], vec![lv("0.30", "8")]), 0).intents.is_empty());
    assert!(r.on_market(&snap(2, 1, vec![], vec![lv("0.30", "8")]), 0).intents.is_empty());
    let legs = places(&r.on_market(&snap(3, 1, vec![], vec![lv("0.30", "8")]), 0).intents);
    assert_eq!(legs.iter().map(|l| l.size).collect::<Vec<_>>(), [q("8"); 3]);
    let mut out = vec![];
    for (k, l) in legs.iter().enumerate() {
        r.on_fill(&fill(l, &format!("y{k}"), "8"), MS);
        out.extend(r.on_order(&update(l, OrderStatus::Filled, "8"), MS));
    }
    assert!(ctfs(&out).is_empty(), "the YES set is held: {out:?}");
    let basket_legs = feed_basket(r, "0.60", "0.60", "0.70", 2 * MS);
    let size = basket_legs[0].size;
    assert!(size > q("8"), "{basket_legs:?}");
    let mut out = vec![];
    for (k, l) in basket_legs.iter().enumerate() {
        r.on_fill(&fill(l, &format!("n{k}"), &size.to_string()), 3 * MS);
        out.extend(r.on_order(&update(l, OrderStatus::Filled, &size.to_string()), 3 * MS));
    }
    let ctf = ctfs(&out);
    (ctf.iter().map(|c| c.op.clone()).collect(), size, ctf)
}

fn paired(r: &StrategyRunner) -> Option<u64> {
    r.counters().iter().find(|(k, _)| *k == "paired").map(|(_, v)| *v)
}

/// When capital binds (35 USDC: once the basket's cost comes back, 27.8 are left, less than one
/// whole set of 3 legs at 10 USDC), a NO basket bought while the event's YES set is held merges
/// with it pair by pair (each outcome's YES and NO into 1 USDC, no fee): n USDC now for the YES
/// set and the basket, instead of n − 1 now and the YES set's 1 at resolution. What the YES set
/// does not cover converts.
#[test]
fn when_capital_binds_a_no_basket_merges_pair_by_pair_with_the_events_held_yes_set() {
    let yes = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0), inst(3, 3, 0)]);
    let mut r = runner_with_capital(vec![yes, basket(0)], params(100, "10"), "35");
    let (ops, size, ctf) = yes_set_then_basket(&mut r);
    let merges: Vec<CtfOp> = (1..=3)
        .map(|m| CtfOp::Merge {
            market: ConditionId::from_bytes([m; 32]),
            tokens: [TokenId::from_u128(u128::from(m)), TokenId::from_u128(10 + u128::from(m))],
            size: q("8"),
        })
        .collect();
    let rest = CtfOp::Convert {
        no_tokens: [11, 12, 13].map(TokenId::from_u128).to_vec(),
        yes_tokens: vec![],
        size: size.saturating_sub(q("8")),
        fee_bips: 0,
    };
    assert_eq!(ops, [merges, vec![rest]].concat());
    assert_eq!(paired(&r), Some(1));
    for c in ctf {
        assert!(r.on_ctf(&done(&c), 4 * MS).is_empty());
    }
}

/// While capital does not bind (no gross limit known, or 1000 USDC of it), the YES set is kept
/// (it may still sell back above its cost) and the whole basket converts.
#[test]
fn while_capital_does_not_bind_the_whole_basket_converts_and_the_yes_set_is_kept() {
    for capital in [None, Some("1000")] {
        let sets = vec![ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0), inst(3, 3, 0)]), basket(0)];
        let mut r = match capital {
            None => runner(sets, params(100, "10")),
            Some(c) => runner_with_capital(sets, params(100, "10"), c),
        };
        let (ops, size, _) = yes_set_then_basket(&mut r);
        let convert = CtfOp::Convert {
            no_tokens: [11, 12, 13].map(TokenId::from_u128).to_vec(),
            yes_tokens: vec![],
            size,
            fee_bips: 0,
        };
        assert_eq!(ops, [convert], "capital {capital:?}");
        assert_eq!(paired(&r), Some(0));
    }
}

#[test]
fn the_conversion_fee_and_the_edge_decide_a_basket() {
    // 1.95 for a basket: 0.05 over 2 USDC without a fee; with the adapter's 3 % a basket converts
    // into 1.94, so it is not bought.
    let mut r = runner(vec![basket(0)], params(100, "10"));
    assert_eq!(feed_basket(&mut r, "0.60", "0.60", "0.75", 0).len(), 3);
    let mut r = runner(vec![basket(300)], params(100, "10"));
    assert!(feed_basket(&mut r, "0.60", "0.60", "0.75", 0).is_empty());
    // 2.00 exactly: nothing to gain.
    let mut r = runner(vec![basket(0)], params(1, "10"));
    assert!(feed_basket(&mut r, "0.60", "0.60", "0.80", 0).is_empty());
}

#[test]
fn a_partly_filled_basket_converts_its_matched_part_and_sells_the_rest() {
    let mut r = runner(vec![basket(0)], params(100, "10"));
    let legs = feed_basket(&mut r, "0.60", "0.60", "0.70", 0);
    let mut out = vec![];
    for (k, (l, got)) in legs.iter().zip(["10", "10", "7"]).enumerate() {
        r.on_fill(&fill(l, &format!("f{k}"), got), MS);
    }
    // The third NO's book is gone: no completion, so the excess of the others is sold.
    r.on_market(&snap(13, 5, vec![], vec![]), MS);
    for (l, got) in legs.iter().zip(["10", "10", "7"]) {
        out.extend(r.on_order(&update(l, OrderStatus::Cancelled, got), MS));
    }
    let [convert] = ctfs(&out).try_into().unwrap();
    assert!(matches!(&convert.op, CtfOp::Convert { size, no_tokens, .. } if *size == q("7") && no_tokens.len() == 3));
    let sells = places(&out);
    assert_eq!(sells.len(), 0, "3 shares each are below the minimum size of 5: kept as inventory: {sells:?}");
    assert_eq!(r.counters().iter().find(|(k, _)| *k == "stranded").map(|(_, v)| *v), Some(2));
}

#[test]
fn a_failed_conversion_is_asked_for_again_before_anything_is_bought() {
    let mut r = runner(vec![basket(0)], params(100, "10"));
    let legs = feed_basket(&mut r, "0.60", "0.60", "0.70", 0);
    let size = legs[0].size;
    let mut out = vec![];
    for (k, l) in legs.iter().enumerate() {
        r.on_fill(&fill(l, &format!("f{k}"), &size.to_string()), MS);
        out.extend(r.on_order(&update(l, OrderStatus::Filled, &size.to_string()), MS));
    }
    let [convert] = ctfs(&out).try_into().unwrap();
    assert!(r.on_ctf(&CtfReport::failed(&convert, "reverted", 2 * MS), 2 * MS).is_empty());
    // Not before a leg timeout (2 s) has passed.
    assert!(r.on_market(&snap(11, 5, vec![], vec![lv("0.60", "50")]), 1500 * MS).intents.is_empty());
    let out = r.on_market(&snap(11, 6, vec![], vec![lv("0.60", "50")]), 2003 * MS).intents;
    let [again] = ctfs(&out).try_into().unwrap();
    assert_eq!(again.op, convert.op);
    assert!(places(&out).is_empty(), "the held basket converts first");
}

/// A drift alarm's declared rule reaches the sizing: two runners fed the same books and fills,
/// one watching for drift (the set's second leg marks out 0.10 below its price a second after
/// the fills, which fires the markout test), size the next set at full size and at half of it.
#[test]
fn a_standing_drift_alarm_halves_the_next_set() {
    let drift = polyfleet_core::config::DriftConfig {
        markout_horizon_ms: 1000,
        markout_delta_ppm: 0,
        markout_lambda_ppm: 1000,
        slippage_allowance_ppm: 0,
        slippage_threshold_ppm: 1_000_000_000,
        burn_in: 2,
        size_factor_bps: 5000,
    };
    let mut sizes = vec![];
    for watch in [None, Some(drift)] {
        let set = ArbSet::new(SetKind::NegRisk, vec![inst(1, 1, 0), inst(2, 2, 0), inst(3, 3, 0)]);
        let mut r = runner(vec![set], params(100, "10")).with_drift(watch.clone());
        r.on_market(&snap(1, 1, vec![], vec![lv("0.30", "8")]), 0);
        r.on_market(&snap(2, 1, vec![], vec![lv("0.30", "8")]), 0);
        let legs = places(&r.on_market(&snap(3, 1, vec![], vec![lv("0.30", "8")]), 0).intents);
        assert_eq!(legs.len(), 3);
        for (k, l) in legs.iter().enumerate() {
            r.on_fill(&fill(l, &format!("y{k}"), "8"), MS);
            r.on_order(&update(l, OrderStatus::Filled, "8"), MS);
        }
        // Two seconds on, the books move away (asks at 0.90): token 1 marks out at +0.295
        // (mid 0.595), token 2 at +0.20 (mid 0.50), a fall of the markouts' mean that fires;
        // token 3 at +0.25.
        let t = MS + 2_000 * MS;
        for (token, bid) in [(1, "0.29"), (2, "0.10"), (3, "0.20")] {
            let away = snap(token, 2, vec![lv(bid, "50")], vec![lv("0.90", "50")]);
            assert!(places(&r.on_market(&away, t).intents).is_empty());
        }
        assert_eq!(r.drift().is_some_and(|d| d.alarms.len() == 1), watch.is_some());
        // The set is cheap again (0.30 + 0.31 + 0.21), deep: bought at full size, or at half.
        for (token, bid, ask) in [(3, "0.20", "0.30"), (1, "0.29", "0.31")] {
            assert!(
                places(&r.on_market(&snap(token, 3, vec![lv(bid, "50")], vec![lv(ask, "100")]), t).intents).is_empty()
            );
        }
        let legs = places(&r.on_market(&snap(2, 3, vec![lv("0.19", "100")], vec![lv("0.21", "100")]), t).intents);
        assert_eq!(legs.len(), 3, "{legs:?}");
        sizes.push(legs[0].size);
    }
    let (full, cut) = (sizes[0], sizes[1]);
    assert!(full > q("10"), "{full}");
    assert!(cut <= q(&format!("{}", full.micros() as f64 / 2e6)) && cut >= q("5"), "{full} → {cut}");
}

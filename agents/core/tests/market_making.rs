//! The market maker through its runner: post-only quotes on tick inside the book, one economic
//! exposure quoted once (YES bids as NO sales while NO is held, asks as YES sales while YES is
//! held), the inventory bound, hysteresis and order age, pulls (feed, tick size, end date,
//! resolution with redemption), merges of YES and NO held together, live parameters, and no
//! panic on empty or one-sided books.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::common;

use common::{event, fill, identity, lv, p, places, q, resolved, snap, update};
use polyfleet_core::config::StrategyParams;
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::strategy::Instrument;
use polyfleet_core::strategy::market_making::params::MmParams;
use polyfleet_core::strategy::market_making::{MarketMaker, QuotedMarket};
use polyfleet_core::strategy::runner::StrategyRunner;
use polyfleet_core::wire::{CtfOp, Intent, Level, MarketEvent, MarketEventBody, OrderIntent, OrderStatus, TimeInForce};
use polyfleet_core::{ConditionId, Side, TokenId};

const MS: u64 = 1_000_000;
pub(crate) const YES: u128 = 1;
pub(crate) const NO: u128 = 2;

pub(crate) fn params() -> MmParams {
    MmParams {
        gamma_micros: 100_000,
        kappa_micros: None,
        levels: 2,
        level_spacing_ticks: 1,
        order_size_micros: 10_000_000,
        min_spread_bps: 200,
        max_spread_bps: 1_000,
        inventory_target_micros: 0,
        max_inventory_micros: 30_000_000,
        max_event_inventory_micros: None,
        refresh_interval_ms: 500,
        refresh_tolerance_ticks: 1,
        size_tolerance_pct: 20,
        max_order_age_ms: 60_000,
        stop_before_end_s: 300,
        inventory_ramp_s: 0,
        estimator_half_life_s: 300,
        toxic_markout_bps: 0,
        toxic_pause_ms: 0,
        quote_ttl_s: None,
        price_band: None,
    }
}

fn inst(token: u128) -> Instrument {
    Instrument {
        market: ConditionId::from_bytes([1; 32]),
        token: TokenId::from_u128(token),
        min_size: q("5"),
        fees: FeeSchedule::FREE,
    }
}

pub(crate) fn runner(params: MmParams, end_ms: Option<u64>) -> StrategyRunner {
    let m = QuotedMarket { yes: inst(YES), no: inst(NO), end_ms, event: None, rebate_bps: 0, rewards: None };
    StrategyRunner::new(identity("mm"), Box::new(MarketMaker::new(vec![m], params).unwrap()), "t0").unwrap()
}

/// The YES book and its NO mirror (best bid `bid`, best ask `ask`).
pub(crate) fn books(r: &mut StrategyRunner, seq: u64, bid: &str, ask: &str, now: u64) -> Vec<Intent> {
    let (b, a) = (p(bid), p(ask));
    let yes = snap(YES, seq, vec![lv(bid, "100")], vec![lv(ask, "100")]);
    let mirror = |x: polyfleet_core::Price| Level { price: x.complement(), size: q("100") };
    let no = snap(NO, seq, vec![mirror(a)], vec![mirror(b)]);
    let mut out = r.on_market(&yes, now).intents;
    out.extend(r.on_market(&no, now).intents);
    out
}

fn cancels(intents: &[Intent]) -> usize {
    intents.iter().filter(|i| matches!(i, Intent::Cancel(_))).count()
}

/// The placed orders as (token, side, price) strings, sorted.
fn shape(orders: &[OrderIntent]) -> Vec<(u128, String, String)> {
    let mut v: Vec<_> = orders
        .iter()
        .map(|o| {
            (if o.token == TokenId::from_u128(YES) { YES } else { NO }, format!("{:?}", o.side), o.price.to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn flat_quotes_are_post_only_on_tick_inside_the_book_as_yes_and_no_buys() {
    let mut r = runner(params(), None);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    assert_eq!(placed.len(), 4, "two levels a side: {placed:?}");
    for o in &placed {
        assert!(o.post_only && o.tif == TimeInForce::Gtc && o.side == Side::Buy, "{o:?}");
        assert!(o.price.is_on_tick(p("0.01")) && o.price.is_tradable());
        // Inside the book: a YES bid below the ask; a NO bid (YES ask) below the NO ask.
        assert!(o.price < p("0.55"), "{o:?}");
    }
    let yes_bids: Vec<_> = placed.iter().filter(|o| o.token == TokenId::from_u128(YES)).collect();
    let no_bids: Vec<_> = placed.iter().filter(|o| o.token == TokenId::from_u128(NO)).collect();
    assert_eq!((yes_bids.len(), no_bids.len()), (2, 2));
    // The YES ask implied by the NO bid is above every YES bid: one spread, quoted once.
    let best_yes_bid = yes_bids.iter().map(|o| o.price).max().unwrap();
    let best_yes_ask = no_bids.iter().map(|o| o.price.complement()).min().unwrap();
    assert!(best_yes_bid < best_yes_ask && best_yes_ask.ticks() - best_yes_bid.ticks() >= 200);
}

#[test]
fn held_yes_is_offered_as_yes_sales_and_the_bound_leaves_only_the_reducing_side() {
    let mut r = runner(params(), None);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    let yes_bid = placed.iter().find(|o| o.token == TokenId::from_u128(YES)).unwrap().clone();
    // One lot bought: the best ask becomes a sale of the YES held, not a NO buy.
    let out = r.on_fill(&fill(&yes_bid, "f1", "10"), 10 * MS);
    let placed: Vec<OrderIntent> = places(&out);
    assert!(placed.iter().any(|o| o.token == TokenId::from_u128(YES) && o.side == Side::Sell), "{placed:?}");
    assert!(!placed.iter().any(|o| o.token == TokenId::from_u128(NO) && o.side == Side::Sell));
    // Up to the bound (three lots): no more bids of any kind, only sales.
    r.on_fill(&fill(&yes_bid, "f2", "10"), 20 * MS);
    let out = r.on_fill(&fill(&yes_bid, "f3", "10"), 30 * MS);
    let placed = places(&out);
    assert_eq!(cancels(&out), 2, "both bids pulled: {out:?}");
    assert!(placed.iter().all(|o| o.token == TokenId::from_u128(YES) && o.side == Side::Sell), "{:?}", shape(&placed));
}

#[test]
fn small_moves_keep_quotes_big_moves_and_age_replace_them() {
    let mut r = runner(params(), None);
    let first = places(&books(&mut r, 1, "0.45", "0.55", 0));
    assert_eq!(first.len(), 4);
    // The same book a second later: nothing to do.
    let out = books(&mut r, 2, "0.45", "0.55", 1_000 * MS);
    assert!(out.is_empty(), "{out:?}");
    // Ten cents up: every quote replaced (cancel, then place in one batch).
    let out = books(&mut r, 3, "0.55", "0.65", 2_000 * MS);
    assert_eq!((cancels(&out), places(&out).len()), (4, 4), "{out:?}");
    // A minute later, unchanged: too old, replaced.
    let out = r.on_timer(63_000 * MS);
    assert_eq!(cancels(&out), 4);
}

#[test]
fn quotes_are_pulled_on_a_bad_feed_a_tick_change_and_near_the_end() {
    let mut r = runner(params(), Some(1_000_000));
    assert_eq!(places(&books(&mut r, 1, "0.45", "0.55", 0)).len(), 4);
    let feed = |healthy: bool, seq: u64| event(YES, seq, MarketEventBody::FeedStatus { healthy });
    let out = r.on_market(&feed(false, 2), 1_000 * MS).intents;
    assert_eq!((cancels(&out), places(&out).len()), (4, 0));
    let out = r.on_market(&feed(true, 3), 1_100 * MS).intents;
    assert_eq!(places(&out).len(), 4, "requoted once the feed is back");
    let tick = MarketEvent { body: MarketEventBody::TickSize { tick: p("0.001") }, ..feed(true, 4) };
    let out = r.on_market(&tick, 3_000 * MS).intents;
    assert_eq!(cancels(&out), 4);
    assert_eq!(places(&books(&mut r, 5, "0.45", "0.55", 4_000 * MS)).len(), 4, "the next snapshot requotes");
    // Within five minutes of the end (1000 s): nothing quoted, everything pulled.
    let out = books(&mut r, 6, "0.45", "0.55", 800_000 * MS);
    assert_eq!(cancels(&out), 4);
    assert!(places(&out).is_empty(), "{out:?}");
}

#[test]
fn resolution_pulls_everything_and_redeems_the_winner_held() {
    let mut r = runner(params(), None);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    let yes_bid = placed.iter().find(|o| o.token == TokenId::from_u128(YES)).unwrap().clone();
    r.on_fill(&fill(&yes_bid, "f1", "10"), 10 * MS);
    let resolved = resolved(YES, 2, true);
    let out = r.on_market(&resolved, 20 * MS).intents;
    assert!(cancels(&out) >= 3);
    let redeemed: Vec<_> = out
        .iter()
        .filter_map(|i| match i {
            Intent::Ctf(c) => Some(c.op.clone()),
            _ => None,
        })
        .collect();
    assert!(
        matches!(redeemed.as_slice(), [CtfOp::Redeem { token, size, .. }] if *token == TokenId::from_u128(YES) && *size == q("10")),
        "{redeemed:?}"
    );
    assert!(places(&r.on_timer(30_000 * MS)).is_empty(), "never quoted again");
}

#[test]
fn yes_and_no_held_together_are_merged() {
    let mut r = runner(params(), None);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    let yes_bid = placed.iter().find(|o| o.token == TokenId::from_u128(YES)).unwrap().clone();
    let no_bid = placed.iter().find(|o| o.token == TokenId::from_u128(NO)).unwrap().clone();
    // The NO quote filled too (it was placed before YES was held).
    let out = r.on_fill(&fill(&yes_bid, "f1", "10"), 10 * MS);
    let yes_sale = places(&out).into_iter().find(|o| o.side == Side::Sell).expect("the YES bought is offered");
    assert_eq!(yes_sale.token, TokenId::from_u128(YES));
    let out = r.on_fill(&fill(&no_bid, "f2", "10"), 20 * MS);
    let merge_of = |out: &[Intent], size: &str| {
        out.iter().any(|i| matches!(i, Intent::Ctf(c) if matches!(c.op, CtfOp::Merge { size: s, .. } if s == q(size))))
    };
    // The YES sale placed after the first fill offers the shares: the merge waits for its
    // cancel, and no new sale offers YES or NO meanwhile.
    assert!(!out.iter().any(|i| matches!(i, Intent::Ctf(_))), "{out:?}");
    let cancelled =
        |out: &[Intent], id| out.iter().any(|i| matches!(i, Intent::Cancel(c) if c.client_order_id == Some(id)));
    assert!(cancelled(&out, yes_sale.client_order_id), "{out:?}");
    assert!(places(&out).iter().all(|o| o.side == Side::Buy), "nothing held is offered again: {out:?}");
    let out = r.on_order(&update(&yes_sale, OrderStatus::Cancelled, "0"), 30 * MS);
    assert!(merge_of(&out, "10"), "{out:?}");
}

#[test]
fn shares_are_never_offered_twice() {
    // Whatever the books do, the YES and NO our sales offer (resting or being cancelled) never
    // exceed what is held and not on its way out: the venue would refuse the excess, and a sale
    // filling after its shares went elsewhere would sell what is gone.
    let mut r = runner(params(), None);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    let yes_bid = placed.iter().find(|o| o.token == TokenId::from_u128(YES)).unwrap().clone();
    r.on_fill(&fill(&yes_bid, "f1", "10"), 10 * MS);
    let mut open: Vec<OrderIntent> = vec![];
    for (k, (bid, ask)) in [("0.46", "0.56"), ("0.40", "0.50"), ("0.52", "0.62"), ("0.47", "0.57"), ("0.30", "0.40")]
        .into_iter()
        .enumerate()
    {
        let now = (1_000 + 2_000 * k as u64) * MS;
        let out = books(&mut r, 2 + k as u64, bid, ask, now);
        open.extend(places(&out).into_iter().filter(|o| o.side == Side::Sell));
        // Cancels are not confirmed yet: every sale placed still offers its shares.
        let offered: u64 = open.iter().filter(|o| o.token == TokenId::from_u128(YES)).map(|o| o.size.micros()).sum();
        assert!(offered <= q("10").micros(), "{offered} micro-shares of YES offered with 10 held, at step {k}");
    }
}

#[test]
fn parameters_apply_live_and_bad_ones_are_refused() {
    let mut r = runner(params(), None);
    assert_eq!(places(&books(&mut r, 1, "0.45", "0.55", 0)).len(), 4);
    r.on_params(&StrategyParams::MarketMaking(MmParams { levels: 3, ..params() }), 2).unwrap();
    let out = r.on_timer(100 * MS);
    assert_eq!(places(&out).len(), 6, "three levels a side at once: {out:?}");
    let bad = MmParams { min_spread_bps: 2_000, ..params() };
    assert!(r.on_params(&StrategyParams::MarketMaking(bad), 3).is_err());
    assert_eq!(r.params_generation(), Some(2));
}

#[test]
fn filled_quotes_are_replaced_at_once_and_refusals_free_the_slot() {
    let mut r = runner(params(), None);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    let o = placed[0].clone();
    let out = r.on_order(&update(&o, OrderStatus::Filled, "10"), 5 * MS);
    assert!(!places(&out).is_empty(), "refilled without waiting for the interval");
}

#[test]
fn empty_and_one_sided_books_never_panic() {
    let mut r = runner(params(), None);
    let empty_yes = snap(YES, 1, vec![], vec![]);
    let empty_no = snap(NO, 1, vec![], vec![]);
    assert!(places(&r.on_market(&empty_yes, 0).intents).is_empty());
    assert!(places(&r.on_market(&empty_no, 0).intents).is_empty());
    let one = snap(YES, 2, vec![lv("0.97", "5")], vec![]);
    let out = r.on_market(&one, 1_000 * MS).intents;
    for o in places(&out) {
        assert!(o.price.is_tradable() && o.price.is_on_tick(p("0.01")));
    }
}

#[test]
fn a_cancel_that_overtook_its_order_is_sent_again_when_the_order_rests() {
    let mut r = runner(params(), None);
    let first = places(&books(&mut r, 1, "0.45", "0.55", 0));
    // Ten cents up: every quote cancelled and replaced.
    let out = books(&mut r, 2, "0.55", "0.65", 2_000 * MS);
    assert_eq!(cancels(&out), 4);
    // The venue never had the old order when the cancel came; now it says it rests.
    let out = r.on_order(&update(&first[0], OrderStatus::Resting, "0"), 2_100 * MS);
    assert_eq!(cancels(&out), 1, "{out:?}");
    // Its final update ends it: no more cancels.
    let out = r.on_order(&update(&first[0], OrderStatus::Cancelled, "0"), 2_200 * MS);
    assert_eq!(cancels(&out), 0);
    assert!(r.on_order(&update(&first[0], OrderStatus::Resting, "0"), 2_300 * MS).is_empty());
}

#[test]
fn resting_quotes_are_scored_for_rewards_once_a_minute_and_maker_fills_accrue_rebates() {
    use polyfleet_core::Money;
    use polyfleet_core::analytics::rewards::RewardRules;
    let rules = RewardRules { min_size: q("10"), max_spread: p("0.045"), daily_pool: Money::parse("14.4").unwrap() };
    let crypto = FeeSchedule { rate_bps: 700, exponent: 1 };
    let (mut yes, mut no) = (inst(YES), inst(NO));
    yes.fees = crypto;
    no.fees = crypto;
    let m = QuotedMarket { yes, no, end_ms: None, event: None, rebate_bps: 2000, rewards: Some(rules) };
    let mm = MarketMaker::new(vec![m], params()).unwrap();
    let mut r = StrategyRunner::new(identity("mm"), Box::new(mm), "t0").unwrap();
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    assert_eq!(placed.len(), 4);
    // The book's own levels are 5 cents from the mid, beyond the 4.5 that score: ours take all.
    r.on_timer(60_000 * MS);
    r.on_timer(60_500 * MS); // the same minute: no second sample
    let e = r.earnings(60_500 * MS).unwrap();
    assert_eq!((e.rewards.samples, e.rewards.scoring), (1, 1));
    assert_eq!(e.rewards.earned, Money::parse("0.01").unwrap(), "14.4 a day is 0.01 a minute");
    // A maker fill of 10 at 0.48 on a 10-share print: 10 x 0.07 x 0.2496 = 0.17472 of fees,
    // 20 % of it back.
    let bid = placed.iter().filter(|o| o.token == TokenId::from_u128(YES)).max_by_key(|o| o.price).unwrap().clone();
    let print = MarketEvent {
        body: MarketEventBody::Trade { side: Side::Sell, price: bid.price, size: q("10"), fee_rate_bps: 700 },
        ..snap(YES, 2, vec![], vec![])
    };
    r.on_market(&print, 61_000 * MS);
    let maker =
        polyfleet_core::wire::Fill { liquidity: polyfleet_core::wire::Liquidity::Maker, ..fill(&bid, "f1", "10") };
    r.on_fill(&maker, 61_000 * MS);
    // A taker fill earns nothing.
    r.on_fill(&fill(&bid, "f2", "10"), 61_000 * MS);
    let e = r.earnings(61_000 * MS).unwrap();
    assert_eq!(bid.price, p("0.48"));
    assert_eq!(e.rebates.accrued, Money::parse("0.034944").unwrap());
    assert_eq!(e.rebates.paid, Money::ZERO, "below the 1 USDC minimum, and the day goes on");
}

#[test]
fn a_restarted_market_maker_quotes_from_the_inventory_it_holds() {
    // 30 YES held at the inventory bound: a flat restart would bid again; restored, it only sells.
    let held = polyfleet_core::accounting::Position { size: q("30"), ..Default::default() };
    let mut r = runner(params(), None);
    assert_eq!(r.restore(&[(TokenId::from_u128(YES), held)]), 1);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    assert!(!placed.is_empty());
    assert!(placed.iter().all(|o| o.token == TokenId::from_u128(YES) && o.side == Side::Sell), "{:?}", shape(&placed));
}

#[test]
fn a_sale_reported_filled_before_its_fill_frees_no_shares() {
    // The venue's order update can overtake the fill: the shares it sold are not offered again
    // in between.
    let mut r = runner(params(), None);
    let placed = places(&books(&mut r, 1, "0.45", "0.55", 0));
    let yes_bid = placed.iter().find(|o| o.token == TokenId::from_u128(YES)).unwrap().clone();
    let out = r.on_fill(&fill(&yes_bid, "f1", "10"), 10 * MS);
    let sale = places(&out).into_iter().find(|o| o.side == Side::Sell).expect("the YES bought is offered");
    let out = r.on_order(&update(&yes_bid, OrderStatus::Filled, "10"), 15 * MS);
    let next_bid = places(&out).into_iter().find(|o| o.token == TokenId::from_u128(YES) && o.side == Side::Buy);
    let out = r.on_order(&update(&sale, OrderStatus::Filled, "10"), 20 * MS);
    assert!(places(&out).iter().all(|o| o.side == Side::Buy), "sold shares offered again: {out:?}");
    let out = r.on_fill(&fill(&sale, "f2", "10"), 30 * MS);
    assert!(places(&out).iter().all(|o| o.side == Side::Buy), "nothing is held: {out:?}");
    // Bought again: offered again.
    let out = r.on_fill(&fill(&next_bid.expect("the YES bid replaced"), "f3", "10"), 40 * MS);
    let second = places(&out).into_iter().find(|o| o.side == Side::Sell).expect("offered again");
    // Reported filled, and its fill never comes: after five seconds the shares are offered again.
    let out = r.on_order(&update(&second, OrderStatus::Filled, "10"), 50 * MS);
    assert!(places(&out).iter().all(|o| o.side == Side::Buy), "{out:?}");
    assert!(places(&r.on_timer(3_000 * MS)).iter().all(|o| o.side == Side::Buy));
    let out = r.on_timer(5_100 * MS);
    assert!(places(&out).iter().any(|o| o.side == Side::Sell && o.token == TokenId::from_u128(YES)), "{out:?}");
}

/// A time-slot experiment arm (issue 24) quotes on its turn; when the turn ends its open quotes
/// are cancelled, and while parked every quote the market maker asks for is refused (it hears a
/// rejection, so it keeps no phantom order) and a quote found resting is cancelled again; on its
/// next turn it quotes again.
#[test]
fn a_time_slot_arm_quotes_on_its_turns_only() {
    use polyfleet_core::analytics::experiment::{SlotSchedule, arm_in_slot};
    use polyfleet_core::analytics::sequential::Arm;
    const S: u64 = 1_000_000_000;
    let slot = |k: u64| i64::try_from(k).unwrap();
    // A turn of arm A followed by one of B, and A's next turn after that.
    let k = (0..).find(|k| arm_in_slot("q", slot(*k)) == Arm::A && arm_in_slot("q", slot(k + 1)) == Arm::B).unwrap();
    let next = (k + 2..).find(|j| arm_in_slot("q", slot(*j)) == Arm::A).unwrap();
    let turns = SlotSchedule { experiment: "q".into(), arm: Arm::A, slot_seconds: 1 };
    let mut r = runner(params(), None).with_turns(Some(turns));
    let quoted = places(&books(&mut r, 1, "0.45", "0.55", k * S));
    assert_eq!((quoted.len(), r.parked()), (4, false), "its turn: it quotes");
    // The turn ends (the agent's timer sees it first): the open quotes are cancelled, nothing
    // is placed.
    let out = r.on_timer((k + 1) * S + MS);
    assert!(r.parked() && places(&out).is_empty(), "{out:?}");
    let mut ids: Vec<_> = out
        .iter()
        .filter_map(|i| match i {
            Intent::Cancel(c) if c.reason == "experiment arm parked" => c.client_order_id,
            _ => None,
        })
        .collect();
    ids.sort();
    let mut placed: Vec<_> = quoted.iter().map(|o| o.client_order_id).collect();
    placed.sort();
    assert_eq!(ids, placed, "every open quote cancelled");
    // Three cancels land; the market maker would requote, and is refused.
    for o in &quoted[..3] {
        let out = r.on_order(&update(o, OrderStatus::Cancelled, "0"), (k + 1) * S + 2 * MS);
        assert!(places(&out).is_empty(), "{out:?}");
    }
    // The fourth shows up resting (the cancel overtook it): the runner cancels it again.
    let out = r.on_order(&update(&quoted[3], OrderStatus::Resting, "0"), (k + 1) * S + 3 * MS);
    assert_eq!(cancels(&out), 1, "{out:?}");
    let out = r.on_order(&update(&quoted[3], OrderStatus::Cancelled, "0"), (k + 1) * S + 4 * MS);
    assert!(places(&out).is_empty());
    // The book moves after the refresh interval: the market maker quotes anew, and is refused.
    let out = books(&mut r, 2, "0.44", "0.54", (k + 1) * S + 600 * MS);
    assert!(places(&out).is_empty(), "{out:?}");
    let counter = |name: &str| r.counters().iter().find(|(k, _)| *k == name).map(|(_, n)| *n);
    assert_eq!(counter("experiment_turns_ended"), Some(1));
    assert_eq!(counter("experiment_parked_cancels"), Some(5), "four at the turn's end, one again");
    assert!(counter("experiment_parked_refusals").unwrap() >= 4, "{:?}", r.counters());
    // The next turn, past the refresh interval: it quotes from where the market is.
    let out = books(&mut r, 3, "0.40", "0.50", next * S + 700 * MS);
    assert!(!r.parked() && places(&out).len() == 4, "{out:?}");
}

//! Market events that queued up, heard conflated (`StrategyRunner::on_market_batch`, what the
//! strategy agent does when it falls behind): every event reaches the books, the strategy decides
//! once per token on the latest book, a broken book is not decided on, and a resolution inside a
//! batch is heard after the book changes before it. Through the market maker.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::common::{lv, places, resolved, snap};
use crate::market_making::{NO, YES, books, params, runner};
use polyfleet_core::TokenId;
use polyfleet_core::wire::{Intent, Level, LevelChange, MarketEvent, MarketEventBody, OrderIntent};
use polyfleet_core::{BookSide, Price};

const MS: u64 = 1_000_000;

/// The YES book `bid`/`ask` at `seq` and its NO mirror, received at `recv` ns.
fn pair(seq: u64, bid: &str, ask: &str, recv: u64) -> [MarketEvent; 2] {
    let mirror = |x: &str| Level { price: Price::parse(x).unwrap().complement(), size: lv(x, "100").size };
    let mut yes = snap(YES, seq, vec![lv(bid, "100")], vec![lv(ask, "100")]);
    let mut no = snap(NO, seq, vec![mirror(ask)], vec![mirror(bid)]);
    (yes.recv_ts_ns, no.recv_ts_ns) = (recv, recv + 1);
    [yes, no]
}

/// (token, side, price, size) of each order placed.
fn orders(intents: &[Intent]) -> Vec<(TokenId, String, Price, String)> {
    let mut v: Vec<_> = places(intents)
        .iter()
        .map(|o: &OrderIntent| (o.token, format!("{:?}", o.side), o.price, o.size.to_string()))
        .collect();
    v.sort_by_key(|x| (x.0, x.1.clone(), x.2));
    v
}

#[test]
fn a_burst_of_books_is_decided_once_on_the_latest_books() {
    // Twenty book moves of both tokens queued up.
    let burst: Vec<MarketEvent> =
        (1..=20u64).flat_map(|i| pair(i, &format!("0.{}", 30 + i), &format!("0.{}", 40 + i), i * 10)).collect();
    let mut batched = runner(params(), None);
    let out = batched.on_market_batch(&burst, 0);
    assert!(out.snapshot_requests.is_empty());
    assert_eq!(out.conflated, 38, "19 of each token's 20 books heard only through the last");
    // Exactly what a runner that only ever saw the last two books places: no orders for the
    // stale books, nothing cancelled, caused by the last event (the market maker quotes both
    // tokens once it hears the first of them with both books known).
    let mut fresh = runner(params(), None);
    let [yes, no] = pair(20, "0.50", "0.60", 200);
    let mut expected = fresh.on_market(&yes, 0).intents;
    expected.extend(fresh.on_market(&no, 0).intents);
    assert_eq!(orders(&out.intents), orders(&expected));
    assert_eq!(out.intents.len(), expected.len(), "placements only: {:?}", out.intents);
    assert!(!orders(&out.intents).is_empty());
    for o in places(&out.intents) {
        assert_eq!((o.cause_seq, o.cause_recv_ts_ns), (20, 200), "{o:?}");
    }
    // Heard one event at a time, the same burst places and replaces many times over.
    let mut one_by_one = runner(params(), None);
    let heard: usize =
        burst.iter().enumerate().map(|(i, ev)| one_by_one.on_market(ev, i as u64 * 600 * MS).intents.len()).sum();
    assert!(heard > out.intents.len(), "{heard} intents one by one");
    // The books took every event: the next delta applies in sequence.
    let delta = crate::common::event(
        YES,
        21,
        MarketEventBody::Delta(vec![LevelChange {
            side: BookSide::Bid,
            price: Price::parse("0.49").unwrap(),
            size: lv("0.49", "5").size,
        }]),
    );
    assert!(batched.on_market(&delta, 0).snapshot_requests.is_empty());
}

#[test]
fn a_book_that_breaks_inside_a_batch_is_not_decided_on() {
    let [yes, no] = pair(1, "0.45", "0.55", 0);
    // YES jumps from sequence 1 to 3: its book is out of sequence until a snapshot comes.
    let gap = crate::common::event(YES, 3, MarketEventBody::Delta(vec![]));
    let mut r = runner(params(), None);
    let out = r.on_market_batch(&[yes.clone(), no.clone(), gap.clone()], 0);
    assert_eq!(out.snapshot_requests, vec![TokenId::from_u128(YES)]);
    // The market maker quotes only with both books: nothing, where one event at a time would
    // have quoted on the books before the gap.
    assert!(out.intents.is_empty(), "{:?}", out.intents);
    let mut one_by_one = runner(params(), None);
    let placed: usize = [yes, no, gap].iter().map(|ev| places(&one_by_one.on_market(ev, 0).intents).len()).sum();
    assert_eq!(placed, 4);
}

#[test]
fn a_resolution_in_a_batch_is_heard_after_the_books_before_it() {
    let [yes, no] = pair(1, "0.45", "0.55", 0);
    let mut r = runner(params(), None);
    let out = r.on_market_batch(&[yes.clone(), no.clone(), resolved(YES, 2, true)], 10 * MS);
    // Heard one by one: quotes on the books, then everything pulled at the resolution.
    let mut seq = runner(params(), None);
    let mut expected = books(&mut seq, 1, "0.45", "0.55", 10 * MS);
    expected.extend(seq.on_market(&resolved(YES, 2, true), 10 * MS).intents);
    let kinds = |i: &[Intent]| i.iter().map(std::mem::discriminant).collect::<Vec<_>>();
    assert_eq!(kinds(&out.intents), kinds(&expected));
    assert_eq!(orders(&out.intents), orders(&expected));
}

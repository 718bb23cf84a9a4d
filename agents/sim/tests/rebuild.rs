//! A book rebuilt by the decoder from the simulator's frames (snapshots, then thousands of
//! deltas, tick changes and trades) equals the simulator's true book, and the venue hash
//! recomputed from the rebuilt book matches the one in every frame.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::HashMap;

use polyfleet_core::book::OrderBook;
use polyfleet_core::{Price, Quantity, TokenId};
use polyfleet_polymarket::data::book_hash::{BookMeta, book_hash};
use polyfleet_polymarket::{Decoder, EventKind, MarketMessage};
use polyfleet_sim::{SimConfig, Simulator};

struct Rebuilt {
    book: OrderBook,
    meta: BookMeta,
}

fn apply(books: &mut HashMap<TokenId, Rebuilt>, m: &MarketMessage<'_>, hash_checks: &mut u64) {
    match m {
        MarketMessage::Book(b) => {
            let r = books.entry(b.asset).or_insert_with(|| Rebuilt {
                book: OrderBook::new(),
                meta: BookMeta {
                    market: b.market,
                    asset: b.asset,
                    timestamp_ms: 0,
                    min_order_size: Quantity::ZERO,
                    tick_size: Price::ZERO,
                    neg_risk: false,
                    last_trade_price: None,
                },
            });
            let tick = b.tick_size.expect("the simulator sends tick_size");
            r.book.apply_snapshot(b.bids.iter().copied(), b.asks.iter().copied(), tick).unwrap();
            r.meta.timestamp_ms = b.timestamp_ms;
            r.meta.tick_size = tick;
            r.meta.min_order_size = b.min_order_size.unwrap();
            r.meta.neg_risk = b.neg_risk.unwrap();
            r.meta.last_trade_price = b.last_trade_price;
            assert_eq!(b.hash, Some(book_hash(&r.meta, &r.book).as_str()), "snapshot hash");
        }
        MarketMessage::PriceChange { changes, frame, timestamp_ms, .. } => {
            for c in changes.iter() {
                let r = books.get_mut(&c.asset).expect("a delta for a token with a snapshot");
                r.book.apply_level(c.side, c.price, c.size).unwrap();
                r.meta.timestamp_ms = *timestamp_ms;
                assert_eq!(c.hash(frame), Some(book_hash(&r.meta, &r.book).as_str()), "delta hash");
                assert_eq!(c.best_bid, r.book.best_bid().map(|l| l.price));
                assert_eq!(c.best_ask, r.book.best_ask().map(|l| l.price));
                *hash_checks += 1;
            }
        }
        MarketMessage::TickSize { asset, new, .. } => {
            let r = books.get_mut(asset).unwrap();
            r.book.tick_size_changed(*new);
            r.meta.tick_size = *new;
        }
        MarketMessage::LastTrade { asset, price, market, .. } => {
            // The simulator prints trades on the YES token; both summaries carry the price.
            assert!(books.contains_key(asset));
            for r in books.values_mut().filter(|r| r.meta.market == *market) {
                r.meta.last_trade_price = Some(*price);
            }
        }
        _ => {}
    }
}

#[test]
fn rebuilt_books_equal_the_simulator_and_hashes_match() {
    let mut sim = Simulator::new(SimConfig { binary_markets: 3, neg_risk_events: vec![3, 4], ..SimConfig::default() });
    let mut d = Decoder::new();
    let mut books = HashMap::new();
    let mut checks = 0;
    let tokens: Vec<TokenId> = sim.markets().iter().flat_map(|m| [m.yes, m.no]).collect();
    for t in &tokens {
        d.decode(sim.snapshot_frame(t).unwrap().as_bytes(), |m| apply(&mut books, m, &mut checks));
    }
    let mut min_sum = u32::MAX;
    for _ in 0..10_000 {
        for f in sim.step() {
            d.decode(f.text.as_bytes(), |m| apply(&mut books, m, &mut checks));
        }
        for e in 0..sim.events().len() {
            min_sum = min_sum.min(sim.event_ask_sum(e).unwrap_or(u32::MAX));
        }
    }
    let st = d.stats();
    assert_eq!(st.invalid_event + st.malformed_frame + st.unknown_type, 0, "{st:?}");
    assert!(checks > 8_000, "only {checks} deltas checked");
    assert!(st.events_of(EventKind::LastTrade) > 300, "{st:?}");
    assert!(st.events_of(EventKind::TickSize) > 0, "no tick change happened: {st:?}");
    assert!(min_sum < 10_000, "no neg-risk mispricing appeared (min ask sum {min_sum})");
    for t in &tokens {
        let truth = sim.book(t).unwrap();
        let r = &books[t];
        assert_eq!(r.book, truth, "book of {t}");
        let mut meta = sim.meta(t).unwrap();
        meta.timestamp_ms = r.meta.timestamp_ms;
        assert_eq!(book_hash(&r.meta, &r.book), book_hash(&meta, &truth));
    }
}

#[test]
fn same_seed_same_frames_other_seed_other_frames() {
    let run = |seed| {
        let mut sim = Simulator::new(SimConfig { seed, ..SimConfig::default() });
        (0..2000).flat_map(|_| sim.step()).map(|f| f.text).collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

//! The order book against a reference model (a BTreeMap per side) over random snapshots (in any
//! level order) and thousands of random deltas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::BTreeMap;

use polyfleet_core::book::OrderBook;
use polyfleet_core::wire::Level;
use polyfleet_core::{BookSide, Price, Quantity, Side};
use proptest::prelude::*;

fn level() -> impl Strategy<Value = (u32, u64)> {
    (1u32..10_000, 0u64..5_000_000_000)
}

fn to_levels(v: &[(u32, u64)]) -> Vec<Level> {
    v.iter().map(|&(t, s)| Level { price: Price::from_ticks(t).unwrap(), size: Quantity::from_micros(s) }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn book_equals_reference(
        bids in prop::collection::vec(level(), 0..40),
        asks in prop::collection::vec(level(), 0..40),
        deltas in prop::collection::vec((any::<bool>(), level(), any::<bool>()), 0..3000),
    ) {
        let mut book = OrderBook::new();
        let tick = Price::from_ticks(1).unwrap();
        book.apply_snapshot(to_levels(&bids), to_levels(&asks), tick).unwrap();
        let mut model: [BTreeMap<u32, u64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for (i, side) in [&bids, &asks].into_iter().enumerate() {
            for &(t, s) in side.iter() {
                model[i].insert(t, s);
            }
            model[i].retain(|_, s| *s != 0);
        }
        for (is_bid, (t, s), remove) in deltas {
            let s = if remove { 0 } else { s };
            let side = if is_bid { BookSide::Bid } else { BookSide::Ask };
            book.apply_level(side, Price::from_ticks(t).unwrap(), Quantity::from_micros(s)).unwrap();
            let m = &mut model[usize::from(!is_bid)];
            if s == 0 { m.remove(&t); } else { m.insert(t, s); }
        }
        let got_bids: Vec<(u32, u64)> = book.levels(BookSide::Bid).map(|l| (l.price.ticks(), l.size.micros())).collect();
        let want_bids: Vec<(u32, u64)> = model[0].iter().rev().map(|(&t, &s)| (t, s)).collect();
        prop_assert_eq!(got_bids, want_bids);
        let got_asks: Vec<(u32, u64)> = book.levels(BookSide::Ask).map(|l| (l.price.ticks(), l.size.micros())).collect();
        let want_asks: Vec<(u32, u64)> = model[1].iter().map(|(&t, &s)| (t, s)).collect();
        prop_assert_eq!(got_asks, want_asks);
        // Sweeping everything fills exactly the side's total size.
        let total: u64 = model[1].values().sum();
        prop_assert_eq!(book.sweep(Side::Buy, Quantity::from_micros(u64::MAX), None).filled.micros(), total);
        prop_assert_eq!(book.mirrored().mirrored(), book);
    }
}

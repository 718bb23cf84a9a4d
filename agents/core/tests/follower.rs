//! The book follower's sequence rules: snapshots reset, deltas apply in order, a jump is a gap,
//! an older snapshot is stale, and a snapshot of the very sequence a live follower is on (a late
//! answer to a snapshot request) changes nothing, while a follower that is not live takes it; a
//! resolved market is never live again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::book::{BookFollower, Followed};
use polyfleet_core::wire::{Level, LevelChange, MarketEvent, MarketEventBody};
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, TokenId};

fn ev(seq: u64, body: MarketEventBody) -> MarketEvent {
    MarketEvent {
        token: TokenId::parse("1").unwrap(),
        market: ConditionId::from_bytes([1; 32]),
        seq,
        venue_ts_ms: 0,
        recv_ts_ns: 0,
        body,
    }
}

fn px(t: u32) -> Price {
    Price::from_ticks(t).unwrap()
}

fn snapshot(seq: u64, bid: u32) -> MarketEvent {
    let level = |t| Level { price: px(t), size: Quantity::from_micros(10_000_000) };
    ev(
        seq,
        MarketEventBody::Snapshot { bids: vec![level(bid)], asks: vec![level(bid + 100)], tick: px(100), hash: None },
    )
}

#[test]
fn sequence_rules() {
    let mut f = BookFollower::new();
    assert!(matches!(f.on_event(&ev(1, MarketEventBody::FeedStatus { healthy: true })), Followed::Gap { .. }));
    assert_eq!(f.on_event(&snapshot(5, 4000)), Followed::Reset);
    assert!(f.is_live());
    let delta = |seq, t| {
        ev(
            seq,
            MarketEventBody::Delta(vec![LevelChange {
                side: BookSide::Bid,
                price: px(t),
                size: Quantity::from_micros(1_000_000),
            }]),
        )
    };
    assert_eq!(f.on_event(&delta(6, 4100)), Followed::Applied);
    assert_eq!(f.book().best_bid().unwrap().price, px(4100));
    // The snapshot of seq 6 answered late: the follower is already there.
    assert_eq!(f.on_event(&snapshot(6, 3000)), Followed::Stale);
    assert_eq!(f.book().best_bid().unwrap().price, px(4100), "a late snapshot does not rewind the book");
    assert_eq!(f.on_event(&snapshot(4, 3000)), Followed::Stale);
    assert_eq!(f.on_event(&delta(6, 4200)), Followed::Stale);
    assert!(matches!(f.on_event(&delta(8, 4200)), Followed::Gap { expected: 7, got: 8 }));
    assert!(!f.is_live());
    assert_eq!(f.on_event(&snapshot(8, 4300)), Followed::Reset);
    // Unhealthy at seq 9: a snapshot of seq 9 is taken (it is how the book becomes live again).
    assert_eq!(f.on_event(&ev(9, MarketEventBody::FeedStatus { healthy: false })), Followed::Applied);
    assert!(!f.is_live());
    assert_eq!(f.on_event(&snapshot(9, 4400)), Followed::Reset);
    assert!(f.is_live());
}

#[test]
fn a_resolved_market_is_never_live_again() {
    let mut f = BookFollower::new();
    assert_eq!(f.on_event(&snapshot(1, 4000)), Followed::Reset);
    assert!(f.is_live() && !f.is_resolved());
    // Out of sequence or not, the resolution is final: no snapshot brings the book back.
    let _ = f.on_event(&ev(7, MarketEventBody::Resolved { winner: true }));
    assert!(f.is_resolved() && !f.is_live());
    assert_eq!(f.on_event(&snapshot(8, 4100)), Followed::Reset);
    assert!(!f.is_live(), "a resolved market's book does not trade");
}

#[test]
fn a_market_that_stops_accepting_orders_is_not_live_until_it_accepts_again() {
    let mut f = BookFollower::new();
    // Stated before the book is known (a late subscriber hears the restated status first).
    let halt = |seq, accepting_orders| ev(seq, MarketEventBody::Trading { accepting_orders });
    assert!(matches!(f.on_event(&halt(3, false)), Followed::Gap { .. }));
    assert_eq!(f.on_event(&snapshot(3, 4000)), Followed::Reset);
    assert!(f.is_halted() && !f.is_live(), "halted before the snapshot: still halted after it");
    assert_eq!(f.on_event(&halt(4, false)), Followed::Applied);
    assert_eq!(f.book().best_bid().unwrap().price, px(4000), "the book is kept (positions are marked on it)");
    assert_eq!(f.on_event(&halt(5, true)), Followed::Applied);
    assert!(f.is_live() && !f.is_halted());
}

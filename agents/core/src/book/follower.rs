//! A consumer's copy of one token's book, kept from the numbered [`MarketEvent`]s the
//! market-data agent publishes: snapshots reset it, deltas apply in sequence, a jump in the
//! sequence (or an event before any snapshot) is a gap that needs a snapshot request. Used by the
//! strategy, risk and execution agents and by the backtester.

use super::{BookState, OrderBook};
use crate::wire::{MarketEvent, MarketEventBody};

/// Keeps a consumer's copy of one token's book from numbered events, detecting gaps.
#[derive(Debug, Clone, Default)]
pub struct BookFollower {
    book: OrderBook,
    seq: Option<u64>,
    healthy: bool,
    /// The market resolved: the book is over, whatever comes after.
    resolved: bool,
    /// The venue does not take orders on the market now (closed, awaiting resolution).
    halted: bool,
    /// Gaps seen (each needs a snapshot).
    pub gaps: u64,
}

/// What an event did to a [`BookFollower`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// Applied in sequence.
    Applied,
    /// A snapshot replaced the book.
    Reset,
    /// Older than what the follower has; ignored.
    Stale,
    /// A sequence gap (or no snapshot yet): request a snapshot.
    Gap {
        /// The sequence number the follower expected.
        expected: u64,
        /// The one it got.
        got: u64,
    },
}

impl BookFollower {
    /// An empty follower awaiting a snapshot.
    pub fn new() -> BookFollower {
        BookFollower::default()
    }

    /// The book as followed.
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// The last applied sequence number.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// True when in sequence, the feed says healthy, the venue takes orders on the market and it
    /// has not resolved.
    pub fn is_live(&self) -> bool {
        self.seq.is_some() && self.healthy && !self.halted && !self.resolved && self.book.state() == BookState::Live
    }

    /// True while the venue does not take orders on the market (closed, awaiting resolution).
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// True once the market resolved (its book is never live again: nothing trades on it).
    pub fn is_resolved(&self) -> bool {
        self.resolved
    }

    /// Applies one event.
    pub fn on_event(&mut self, ev: &MarketEvent) -> Followed {
        // Final whatever its place in the sequence.
        // Market status is a level, restated while it holds: applied whatever its place in the
        // sequence.
        match ev.body {
            MarketEventBody::Resolved { .. } => self.resolved = true,
            MarketEventBody::Trading { accepting_orders } => self.halted = !accepting_orders,
            _ => {}
        }
        if let MarketEventBody::Snapshot { bids, asks, tick, .. } = &ev.body {
            // Older than what the follower has, or the very state it is live on (a snapshot
            // answered late, after the events it would bring): nothing to do.
            if self.seq.is_some_and(|s| ev.seq < s || (ev.seq == s && self.is_live())) {
                return Followed::Stale;
            }
            let ok = self.book.apply_snapshot(bids.iter().copied(), asks.iter().copied(), *tick).is_ok();
            self.seq = ok.then_some(ev.seq);
            self.healthy = ok;
            return Followed::Reset;
        }
        let Some(seq) = self.seq else {
            self.gaps += 1;
            return Followed::Gap { expected: 0, got: ev.seq };
        };
        if ev.seq <= seq {
            return Followed::Stale;
        }
        if ev.seq != seq + 1 {
            self.gaps += 1;
            self.seq = None;
            return Followed::Gap { expected: seq + 1, got: ev.seq };
        }
        self.seq = Some(ev.seq);
        match &ev.body {
            MarketEventBody::Delta(changes) => {
                for c in changes {
                    let _ = self.book.apply_level(c.side, c.price, c.size);
                }
            }
            MarketEventBody::TickSize { tick } => self.book.tick_size_changed(*tick),
            MarketEventBody::FeedStatus { healthy } => self.healthy = *healthy,
            MarketEventBody::Trade { .. }
            | MarketEventBody::Resolved { .. }
            | MarketEventBody::Trading { .. }
            | MarketEventBody::Snapshot { .. } => {}
        }
        Followed::Applied
    }
}

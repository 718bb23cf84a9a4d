//! Market events from a recording: its frames go through the market-data agent's own
//! [`Normalizer`] (decode, book building, hash checks, sequence numbers), so a backtest sees the
//! events the agents would have seen. A `disconnected` line marks every book stale until fresh
//! snapshots, as the live feed does. Malformed frames are counted by the decoder and skipped;
//! every market-channel frame lands in one outcome of the [`FrameLedger`]. Frames of the
//! real-time data stream (`"channel":"rtds"`) are set aside, with their receive times, for the
//! built-in models ([`crate::signals`]).

use std::collections::VecDeque;

use polyfleet_core::book::{BookFollower, BookState};
use polyfleet_core::wire::{MarketEvent, MarketEventBody};
use polyfleet_core::{BookSide, ConditionId, TokenId, TokenMap};
use polyfleet_polymarket::data::normalize::{Action, FrameLedger, Normalizer};
use polyfleet_polymarket::data::recording::RecordLine;

/// Normalizes recording lines into market events, lazily.
pub struct Events<I> {
    lines: I,
    norm: Normalizer,
    tokens: Vec<TokenId>,
    actions: Vec<Action>,
    ready: VecDeque<MarketEvent>,
    /// Frames read, each by what became of it.
    pub ledger: FrameLedger,
    /// Books the venue's hash said were wrong (a live agent would fetch them again).
    pub resyncs: u64,
    /// RTDS frames read: (receive time ns, text), in recorded order.
    pub rtds: Vec<(u64, String)>,
}

impl<I: Iterator<Item = RecordLine>> Events<I> {
    /// Events of `tokens` in `lines`.
    pub fn new(lines: I, tokens: Vec<TokenId>) -> Events<I> {
        Events {
            lines,
            norm: Normalizer::new(tokens.iter().copied()),
            tokens,
            actions: vec![],
            ready: VecDeque::new(),
            ledger: FrameLedger::default(),
            resyncs: 0,
            rtds: vec![],
        }
    }

    /// Malformed frames skipped so far.
    pub fn malformed(&self) -> u64 {
        let s = self.norm.decode_stats();
        s.malformed_frame + s.invalid_event
    }

    /// Events in a schema the decoder does not support, skipped so far.
    pub fn unsupported(&self) -> u64 {
        self.norm.decode_stats().unsupported_schema
    }
}

/// A recording's market events as a replay serves them: in order, the next one's time read
/// ahead, and each token's current book for snapshot requests.
pub trait Replayable: Iterator<Item = MarketEvent> {
    /// The current book of `token` as a snapshot event (what a snapshot request is answered
    /// with); `None` while it is not live.
    fn snapshot(&self, token: &TokenId, recv_ts_ns: u64) -> Option<MarketEvent>;

    /// The receive time of the next event, read ahead (it stays the next).
    fn peek_ns(&mut self) -> Option<u64>;
}

impl<I: Iterator<Item = RecordLine>> Replayable for Events<I> {
    fn snapshot(&self, token: &TokenId, recv_ts_ns: u64) -> Option<MarketEvent> {
        self.norm.snapshot(token, recv_ts_ns)
    }

    fn peek_ns(&mut self) -> Option<u64> {
        let ev = self.next()?;
        let ns = ev.recv_ts_ns;
        self.ready.push_front(ev);
        Some(ns)
    }
}

/// Normalized events (a columnar recording's) made replayable: each token's book is followed
/// from the events as they pass, so snapshot requests are answered as the normalizer answers
/// them (the book while it is live, stamped with the last `seq`).
pub struct Served<I: Iterator<Item = MarketEvent>> {
    events: std::iter::Peekable<I>,
    books: TokenMap<Book>,
}

struct Book {
    follower: BookFollower,
    market: ConditionId,
    venue_ts_ms: u64,
    healthy: bool,
}

impl<I: Iterator<Item = MarketEvent>> Served<I> {
    /// Follows `events`.
    pub fn new(events: I) -> Served<I> {
        Served { events: events.peekable(), books: TokenMap::default() }
    }
}

impl<I: Iterator<Item = MarketEvent>> Iterator for Served<I> {
    type Item = MarketEvent;

    fn next(&mut self) -> Option<MarketEvent> {
        let ev = self.events.next()?;
        let book = self.books.entry(ev.token).or_insert_with(|| Book {
            follower: BookFollower::new(),
            market: ev.market,
            venue_ts_ms: 0,
            healthy: false,
        });
        book.follower.on_event(&ev);
        book.market = ev.market;
        book.venue_ts_ms = ev.venue_ts_ms;
        match ev.body {
            MarketEventBody::Snapshot { .. } => book.healthy = true,
            MarketEventBody::FeedStatus { healthy } => book.healthy = healthy,
            _ => {}
        }
        Some(ev)
    }
}

impl<I: Iterator<Item = MarketEvent>> Replayable for Served<I> {
    fn snapshot(&self, token: &TokenId, recv_ts_ns: u64) -> Option<MarketEvent> {
        let b = self.books.get(token)?;
        let book = b.follower.book();
        let seq = b.follower.seq()?;
        (b.healthy && book.state() == BookState::Live).then(|| MarketEvent {
            token: *token,
            market: b.market,
            seq,
            venue_ts_ms: b.venue_ts_ms,
            recv_ts_ns,
            body: MarketEventBody::Snapshot {
                bids: book.levels(BookSide::Bid).copied().collect(),
                asks: book.levels(BookSide::Ask).copied().collect(),
                tick: book.tick(),
                hash: None,
            },
        })
    }

    fn peek_ns(&mut self) -> Option<u64> {
        self.events.peek().map(|e| e.recv_ts_ns)
    }
}

impl<I: Iterator<Item = RecordLine>> Iterator for Events<I> {
    type Item = MarketEvent;

    fn next(&mut self) -> Option<MarketEvent> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return Some(ev);
            }
            let line = self.lines.next()?;
            if !line.is_market() {
                if let Some(text) = line.frame {
                    self.rtds.push((line.recv_ns, text));
                }
                continue;
            }
            match (&line.frame, line.event.as_deref()) {
                (Some(f), _) => {
                    let outcome = self.norm.on_frame_accounted(f.as_bytes(), line.recv_ns, &mut self.actions);
                    self.ledger.count(outcome);
                }
                (None, Some("disconnected")) => {
                    self.norm.on_disconnected(&self.tokens, line.recv_ns, &mut self.actions)
                }
                _ => {}
            }
            for a in self.actions.drain(..) {
                match a {
                    Action::Publish(ev) => self.ready.push_back(ev),
                    Action::Resync(_) => self.resyncs += 1,
                    // A recording's resolutions are facts already: this normalizer publishes them
                    // as recorded and never asks for confirmation.
                    Action::ConfirmResolution(_) => {}
                }
            }
        }
    }
}

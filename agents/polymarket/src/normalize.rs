//! From venue frames to normalized wire events, sans-IO: the heart of the market-data agent.
//!
//! The [`Normalizer`] keeps the book of every token it serves, numbers the events it emits per
//! token (`seq` + 1 each, so a subscriber sees any gap), checks the venue's hash after every
//! delta that carries one (a mismatch asks for a REST resync), voids a book on a tick-size change
//! until the next snapshot, and marks tokens unhealthy when their connection drops.

use polyfleet_core::book::{BookState, OrderBook};
use polyfleet_core::wire::{Level, LevelChange, MarketEvent, MarketEventBody};
use polyfleet_core::{ConditionId, Price, Quantity, TokenId, TokenMap};

use crate::book_hash::{BookMeta, book_hash};
use crate::market::{Decoder, MarketMessage};

/// What the owner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Publish this event on `md.<venue>.<token>`.
    Publish(MarketEvent),
    /// The token's book disagrees with the venue's hash: fetch `/book` and feed it to
    /// [`Normalizer::on_frame`].
    Resync(TokenId),
}

/// Counters beyond the decoder's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizeStats {
    /// Deltas whose recomputed hash differed from the venue's.
    pub hash_mismatches: u64,
    /// Deltas checked against the venue's hash.
    pub hash_checks: u64,
    /// Snapshots whose own hash this code could not reproduce: the venue writes its summary
    /// differently than [`crate::book_hash`] assumes, so the token's deltas are not hash-checked
    /// (rather than resyncing on every delta) until a snapshot matches again.
    pub unverifiable_snapshots: u64,
    /// Deltas dropped because the book awaited a snapshot.
    pub gated_deltas: u64,
    /// Events for tokens this normalizer does not serve.
    pub foreign_events: u64,
    /// Events published.
    pub published: u64,
}

#[derive(Debug)]
struct TokenState {
    book: OrderBook,
    meta: BookMeta,
    seq: u64,
    needs_resync: bool,
    healthy: bool,
    /// True when the last snapshot's hash was reproduced: deltas can then be checked.
    hash_verifiable: bool,
}

/// Frames in, numbered events out.
#[derive(Debug)]
pub struct Normalizer {
    decoder: Decoder,
    tokens: TokenMap<TokenState>,
    stats: NormalizeStats,
}

fn empty_meta(asset: TokenId) -> BookMeta {
    BookMeta {
        market: ConditionId::from_bytes([0; 32]),
        asset,
        timestamp_ms: 0,
        min_order_size: Quantity::ZERO,
        tick_size: Price::ZERO,
        neg_risk: false,
        last_trade_price: None,
    }
}

impl Normalizer {
    /// A normalizer serving `tokens`.
    pub fn new(tokens: impl IntoIterator<Item = TokenId>) -> Normalizer {
        let mut n =
            Normalizer { decoder: Decoder::new(), tokens: TokenMap::default(), stats: NormalizeStats::default() };
        n.add_tokens(tokens);
        n
    }

    /// Starts serving more tokens (their books start empty, awaiting a snapshot).
    pub fn add_tokens(&mut self, tokens: impl IntoIterator<Item = TokenId>) {
        for t in tokens {
            self.tokens.entry(t).or_insert_with(|| TokenState {
                book: OrderBook::new(),
                meta: empty_meta(t),
                seq: 0,
                needs_resync: false,
                healthy: false,
                hash_verifiable: false,
            });
        }
    }

    /// Stops serving tokens.
    pub fn remove_tokens(&mut self, tokens: &[TokenId]) {
        for t in tokens {
            self.tokens.remove(t);
        }
    }

    /// The decoder's counters.
    pub fn decode_stats(&self) -> &crate::DecodeStats {
        self.decoder.stats()
    }

    /// This normalizer's counters.
    pub fn stats(&self) -> &NormalizeStats {
        &self.stats
    }

    /// True when every served token has a live book.
    pub fn all_live(&self) -> bool {
        self.tokens.values().all(|s| s.healthy && s.book.state() == BookState::Live)
    }

    /// Tokens whose book is live and healthy.
    pub fn live_count(&self) -> usize {
        self.tokens.values().filter(|s| s.healthy && s.book.state() == BookState::Live).count()
    }

    /// The tokens served.
    pub fn tokens(&self) -> impl Iterator<Item = &TokenId> {
        self.tokens.keys()
    }

    /// The current book of a token (what a snapshot request gets).
    pub fn book(&self, token: &TokenId) -> Option<&OrderBook> {
        self.tokens.get(token).map(|s| &s.book)
    }

    /// A snapshot event of the token's current book, stamped with the token's current `seq`
    /// (not a new one: it is consistent with every event up to and including that `seq`).
    pub fn snapshot(&self, token: &TokenId, recv_ts_ns: u64) -> Option<MarketEvent> {
        let s = self.tokens.get(token)?;
        if s.book.state() != BookState::Live {
            return None;
        }
        Some(MarketEvent {
            token: *token,
            market: s.meta.market,
            seq: s.seq,
            venue_ts_ms: s.meta.timestamp_ms,
            recv_ts_ns,
            body: snapshot_body(s),
        })
    }

    /// The token's current book as a venue `book` frame (what a replaying simulator sends a new
    /// subscriber); `None` until the book is live.
    pub fn venue_book_frame(&self, token: &TokenId) -> Option<String> {
        let s = self.tokens.get(token)?;
        (s.book.state() == BookState::Live).then(|| crate::frames::book_frame(&s.meta, &s.book))
    }

    /// The connection serving `tokens` is gone: their books are stale until fresh snapshots.
    pub fn on_disconnected(&mut self, tokens: &[TokenId], recv_ts_ns: u64, out: &mut Vec<Action>) {
        for t in tokens {
            if let Some(s) = self.tokens.get_mut(t)
                && s.healthy
            {
                s.healthy = false;
                let ev =
                    next_event(s, *t, s.meta.timestamp_ms, recv_ts_ns, MarketEventBody::FeedStatus { healthy: false });
                self.stats.published += 1;
                out.push(Action::Publish(ev));
            }
        }
    }

    /// Decodes a frame and turns what it says into actions.
    pub fn on_frame(&mut self, frame: &[u8], recv_ts_ns: u64, out: &mut Vec<Action>) {
        let Normalizer { decoder, tokens, stats } = self;
        decoder.decode(frame, |m| handle(tokens, None, stats, m, recv_ts_ns, out));
    }

    /// Like [`Normalizer::on_frame`], for a frame from a connection subscribed to `scope` only.
    ///
    /// A `price_change` frame carries both tokens of a market whichever one the connection
    /// subscribed to; when the two tokens are served by different connections, each must apply
    /// only its own tokens' changes, or a late copy of a frame would overwrite newer state.
    pub fn on_frame_scoped(
        &mut self,
        frame: &[u8],
        scope: &std::collections::HashSet<TokenId>,
        recv_ts_ns: u64,
        out: &mut Vec<Action>,
    ) {
        let Normalizer { decoder, tokens, stats } = self;
        decoder.decode(frame, |m| handle(tokens, Some(scope), stats, m, recv_ts_ns, out));
    }
}

fn snapshot_body(s: &TokenState) -> MarketEventBody {
    MarketEventBody::Snapshot {
        bids: s.book.levels(polyfleet_core::BookSide::Bid).copied().collect(),
        asks: s.book.levels(polyfleet_core::BookSide::Ask).copied().collect(),
        tick: s.book.tick(),
        hash: None,
    }
}

fn next_event(
    s: &mut TokenState,
    token: TokenId,
    venue_ts_ms: u64,
    recv_ts_ns: u64,
    body: MarketEventBody,
) -> MarketEvent {
    s.seq += 1;
    MarketEvent { token, market: s.meta.market, seq: s.seq, venue_ts_ms, recv_ts_ns, body }
}

/// Where [`handle`] puts what it produces.
struct Sink<'a> {
    stats: &'a mut NormalizeStats,
    out: &'a mut Vec<Action>,
    recv_ts_ns: u64,
}

impl Sink<'_> {
    fn publish(&mut self, s: &mut TokenState, token: TokenId, ts: u64, body: MarketEventBody) {
        self.stats.published += 1;
        self.out.push(Action::Publish(next_event(s, token, ts, self.recv_ts_ns, body)));
    }
}

fn handle(
    all_tokens: &mut TokenMap<TokenState>,
    scope: Option<&std::collections::HashSet<TokenId>>,
    stats: &mut NormalizeStats,
    m: &MarketMessage<'_>,
    recv_ts_ns: u64,
    out: &mut Vec<Action>,
) {
    let mut sink = Sink { stats, out, recv_ts_ns };
    let mut tokens = Scoped { all: all_tokens, scope };
    match m {
        MarketMessage::Book(b) => {
            let Some(s) = tokens.get_mut(&b.asset) else {
                sink.stats.foreign_events += 1;
                return;
            };
            let tick = b.tick_size.unwrap_or(if s.meta.tick_size == Price::ZERO {
                Price::from_ticks(100).unwrap_or(Price::ZERO)
            } else {
                s.meta.tick_size
            });
            if s.book.apply_snapshot(b.bids.iter().copied(), b.asks.iter().copied(), tick).is_err() {
                return;
            }
            s.meta.market = b.market;
            s.meta.timestamp_ms = b.timestamp_ms;
            s.meta.tick_size = tick;
            s.meta.min_order_size = b.min_order_size.unwrap_or(s.meta.min_order_size);
            s.meta.neg_risk = b.neg_risk.unwrap_or(s.meta.neg_risk);
            s.meta.last_trade_price = b.last_trade_price.or(s.meta.last_trade_price);
            s.needs_resync = false;
            s.healthy = true;
            s.hash_verifiable = b.hash.is_some_and(|h| book_hash(&s.meta, &s.book) == h);
            if b.hash.is_some() && !s.hash_verifiable {
                sink.stats.unverifiable_snapshots += 1;
            }
            let body = snapshot_body(s);
            let body = match body {
                MarketEventBody::Snapshot { bids, asks, tick, .. } => {
                    MarketEventBody::Snapshot { bids, asks, tick, hash: b.hash.map(str::to_owned) }
                }
                other => other,
            };
            sink.publish(s, b.asset, b.timestamp_ms, body);
        }
        MarketMessage::PriceChange { changes, frame, timestamp_ms, .. } => {
            // Group the frame's changes by token (a frame interleaves a market's two tokens),
            // keeping each token's order: one event per token, so a consumer never sees a book
            // half-way through a frame (a phantom price between the removal and the addition).
            // No allocation: a token's group starts at its first change (frames are short).
            for (i, first) in changes.iter().enumerate() {
                let asset = first.asset;
                if changes[..i].iter().any(|c| c.asset == asset) {
                    continue;
                }
                let group = changes[i..].iter().filter(|c| c.asset == asset);
                let Some(s) = tokens.get_mut(&asset) else {
                    sink.stats.foreign_events += 1;
                    continue;
                };
                if s.book.state() != BookState::Live {
                    sink.stats.gated_deltas += 1;
                    continue;
                }
                let mut applied: Vec<LevelChange> = Vec::with_capacity(changes.len() - i);
                for c in group.clone() {
                    if s.book.apply_level(c.side, c.price, c.size).is_ok() {
                        applied.push(LevelChange { side: c.side, price: c.price, size: c.size });
                    }
                }
                s.meta.timestamp_ms = *timestamp_ms;
                if let Some(venue_hash) =
                    group.clone().next_back().and_then(|c| c.hash(frame)).filter(|_| s.hash_verifiable)
                {
                    sink.stats.hash_checks += 1;
                    if !s.needs_resync && book_hash(&s.meta, &s.book) != venue_hash {
                        sink.stats.hash_mismatches += 1;
                        s.needs_resync = true;
                        sink.out.push(Action::Resync(asset));
                    }
                }
                sink.publish(s, asset, *timestamp_ms, MarketEventBody::Delta(applied));
            }
        }
        MarketMessage::TickSize { asset, new, timestamp_ms, .. } => {
            let Some(s) = tokens.get_mut(asset) else {
                sink.stats.foreign_events += 1;
                return;
            };
            s.book.tick_size_changed(*new);
            s.meta.tick_size = *new;
            sink.publish(s, *asset, *timestamp_ms, MarketEventBody::TickSize { tick: *new });
        }
        MarketMessage::LastTrade { asset, market, side, price, size, fee_rate_bps, timestamp_ms } => {
            // The summary of both tokens of the market carries the last trade price.
            let scope = tokens.scope;
            for (t, s) in tokens.all.iter_mut() {
                if s.meta.market == *market && scope.is_none_or(|sc| sc.contains(t)) {
                    s.meta.last_trade_price = Some(*price);
                }
            }
            let Some(s) = tokens.get_mut(asset) else {
                sink.stats.foreign_events += 1;
                return;
            };
            let body = MarketEventBody::Trade { side: *side, price: *price, size: *size, fee_rate_bps: *fee_rate_bps };
            sink.publish(s, *asset, *timestamp_ms, body);
        }
        MarketMessage::Resolved { winning_asset, assets, timestamp_ms, .. } => {
            for a in assets.iter() {
                if let Some(s) = tokens.get_mut(a) {
                    let winner = *winning_asset == Some(*a);
                    sink.publish(s, *a, *timestamp_ms, MarketEventBody::Resolved { winner });
                }
            }
        }
        MarketMessage::BestBidAsk { .. } | MarketMessage::NewMarket { .. } => {}
    }
}

/// The served tokens, narrowed to one connection's subscription when a scope is given.
struct Scoped<'a> {
    all: &'a mut TokenMap<TokenState>,
    scope: Option<&'a std::collections::HashSet<TokenId>>,
}

impl Scoped<'_> {
    fn get_mut(&mut self, token: &TokenId) -> Option<&mut TokenState> {
        if self.scope.is_some_and(|s| !s.contains(token)) {
            return None;
        }
        self.all.get_mut(token)
    }
}

/// The consumer side moved to the core (it is venue-independent); re-exported for callers here.
pub use polyfleet_core::book::{BookFollower, Followed};

/// Levels of a side as a wire vector (helper for tests and snapshots).
pub fn side_levels(book: &OrderBook, side: polyfleet_core::BookSide) -> Vec<Level> {
    book.levels(side).copied().collect()
}

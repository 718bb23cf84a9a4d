//! From venue frames to normalized wire events, sans-IO: the heart of the market-data agent.
//!
//! The [`Normalizer`] keeps the book of every token it serves, numbers the events it emits per
//! token (`seq` + 1 each, so a subscriber sees any gap), checks the venue's hash after every
//! delta that carries one (a mismatch asks for a REST resync), voids a book on a tick-size change
//! until the next snapshot, and marks tokens unhealthy when their connection drops.
//!
//! Market status: a `market_resolved` frame is published at once, or, when the normalizer
//! [confirms resolutions](Normalizer::confirming_resolutions), held until the venue's REST market
//! status names the same winner ([`Action::ConfirmResolution`], then
//! [`Normalizer::on_market_status`]; REST wins a disagreement, which is counted). The status also
//! says when a market stops accepting orders before it resolves ([`MarketEventBody::Trading`]),
//! and resolutions no connection heard (the agent was down). Both are restated on every status
//! the owner feeds in, so a subscriber that starts later learns them.

use polyfleet_core::book::{BookState, OrderBook};
use polyfleet_core::wire::{Level, LevelChange, MarketEvent, MarketEventBody};
use polyfleet_core::{ConditionId, Price, Quantity, TokenId, TokenMap};

use crate::data::book_hash::{BookMeta, book_hash};
use crate::http::market_status::MarketStatus;
use crate::websocket::market::{Decoder, MarketMessage};

/// What the owner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Publish this event on `md.<venue>.<token>`.
    Publish(MarketEvent),
    /// The token's book disagrees with the venue's hash: fetch `/book` and feed it to
    /// [`Normalizer::on_frame`].
    Resync(TokenId),
    /// The market channel says this market resolved: fetch its REST status and feed it to
    /// [`Normalizer::on_market_status`] (only when confirming resolutions).
    ConfirmResolution(ConditionId),
}

/// What became of one frame, as a whole: the first that applies, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameOutcome {
    /// The keepalive reply `PONG`.
    Keepalive,
    /// Broken JSON (skipped from the break on).
    Malformed,
    /// At least one market event published.
    Events,
    /// An event in a schema the decoder does not support (the older flat `price_change`).
    UnsupportedSchema,
    /// Events of a type the market channel does not send (a user-channel `order` or `trade`
    /// recorded beside it, or a new venue event type).
    OtherChannel,
    /// An event with fields missing or unparsable.
    Invalid,
    /// Events only for tokens this normalizer does not serve (outside the catalog, or tokens
    /// no strategy of the run trades).
    TokenNotServed,
    /// Deltas only for books still awaiting their snapshot.
    AwaitingSnapshot,
    /// Decoded, with nothing to publish (`best_bid_ask`, `new_market`, an empty array).
    NothingToPublish,
}

impl FrameOutcome {
    /// Every outcome, in the order they are tested.
    pub const ALL: [FrameOutcome; 9] = [
        FrameOutcome::Keepalive,
        FrameOutcome::Malformed,
        FrameOutcome::Events,
        FrameOutcome::UnsupportedSchema,
        FrameOutcome::OtherChannel,
        FrameOutcome::Invalid,
        FrameOutcome::TokenNotServed,
        FrameOutcome::AwaitingSnapshot,
        FrameOutcome::NothingToPublish,
    ];

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameOutcome::Keepalive => "keepalive",
            FrameOutcome::Malformed => "malformed",
            FrameOutcome::Events => "events",
            FrameOutcome::UnsupportedSchema => "unsupported_schema",
            FrameOutcome::OtherChannel => "other_channel",
            FrameOutcome::Invalid => "invalid",
            FrameOutcome::TokenNotServed => "token_not_served",
            FrameOutcome::AwaitingSnapshot => "awaiting_snapshot",
            FrameOutcome::NothingToPublish => "nothing_to_publish",
        }
    }
}

/// Frames by outcome: every frame fed in lands in exactly one count.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FrameLedger {
    /// Frames fed in.
    pub frames: u64,
    /// Frames per outcome (outcomes with none left out).
    pub by_outcome: std::collections::BTreeMap<&'static str, u64>,
}

impl FrameLedger {
    /// Counts one frame.
    pub fn count(&mut self, outcome: FrameOutcome) {
        self.frames += 1;
        *self.by_outcome.entry(outcome.as_str()).or_default() += 1;
    }

    /// Frames of one outcome.
    pub fn of(&self, outcome: FrameOutcome) -> u64 {
        self.by_outcome.get(outcome.as_str()).copied().unwrap_or(0)
    }

    /// `13 frames = 2 events + 1 malformed + 8 other_channel + 2 token_not_served`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = FrameOutcome::ALL
            .iter()
            .filter(|o| self.of(**o) > 0)
            .map(|o| format!("{} {}", self.of(*o), o.as_str()))
            .collect();
        format!("{} frames = {}", self.frames, if parts.is_empty() { "0".into() } else { parts.join(" + ") })
    }
}

/// Counters beyond the decoder's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizeStats {
    /// Deltas whose recomputed hash differed from the venue's.
    pub hash_mismatches: u64,
    /// Deltas checked against the venue's hash.
    pub hash_checks: u64,
    /// Snapshots whose own hash this code could not reproduce: the venue writes its summary
    /// differently than [`crate::data::book_hash`] assumes, so the token's deltas are not hash-checked
    /// (rather than resyncing on every delta) until a snapshot matches again.
    pub unverifiable_snapshots: u64,
    /// Deltas dropped because the book awaited a snapshot.
    pub gated_deltas: u64,
    /// Events for tokens this normalizer does not serve.
    pub foreign_events: u64,
    /// Snapshots without a `tick_size` for a token whose tick was not known yet (from an earlier
    /// frame, a REST resync or a `tick_size_change`): the tick was inferred from the prices, as
    /// the coarsest venue tick they all sit on, never assumed.
    pub inferred_ticks: u64,
    /// Inferred ticks made finer because a later price was off them (each republished as a
    /// snapshot carrying the finer tick).
    pub refined_ticks: u64,
    /// Events published.
    pub published: u64,
    /// `market_resolved` frames held for confirmation through the REST market status.
    pub resolutions_to_confirm: u64,
    /// Resolutions whose REST winner differed from the market channel's (REST was followed).
    pub resolution_disagreements: u64,
}

/// What the normalizer knows of its markets' status (see the module docs).
#[derive(Debug, Default)]
struct MarketStates {
    /// Hold `market_resolved` frames until REST confirms them.
    confirm: bool,
    /// Resolutions the market channel announced, awaiting confirmation (with the winner it named).
    pending: std::collections::HashMap<ConditionId, Option<TokenId>>,
    /// Markets not accepting orders (closed, awaiting resolution).
    halted: std::collections::HashSet<ConditionId>,
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
    /// True while the tick was inferred from prices (no frame has stated it).
    tick_inferred: bool,
    /// Which optional summary fields some frame has stated.
    stated: crate::websocket::frames::Stated,
}

/// The venue's tick sizes, coarsest first (0.1, 0.01, 0.001, 0.0001).
const VENUE_TICKS: [u32; 4] = [1000, 100, 10, 1];

/// The coarsest venue tick that every price sits on, and `within` (a tick the prices are
/// already known to sit on) divides.
fn coarsest_tick(prices: impl IntoIterator<Item = Price>, within: Option<Price>) -> Price {
    let prices: Vec<u32> = prices.into_iter().map(Price::ticks).collect();
    let t = VENUE_TICKS
        .into_iter()
        .find(|&t| within.is_none_or(|w| w.ticks().is_multiple_of(t)) && prices.iter().all(|p| p.is_multiple_of(t)))
        .unwrap_or(1);
    Price::from_ticks(t).unwrap_or(Price::ZERO)
}

/// Frames in, numbered events out.
#[derive(Debug)]
pub struct Normalizer {
    decoder: Decoder,
    tokens: TokenMap<TokenState>,
    stats: NormalizeStats,
    markets: MarketStates,
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
        let mut n = Normalizer {
            decoder: Decoder::new(),
            tokens: TokenMap::default(),
            stats: NormalizeStats::default(),
            markets: MarketStates::default(),
        };
        n.add_tokens(tokens);
        n
    }

    /// Holds every `market_resolved` frame until the REST market status confirms it (see the
    /// module docs); the owner must then answer [`Action::ConfirmResolution`].
    pub fn confirming_resolutions(mut self) -> Normalizer {
        self.markets.confirm = true;
        self
    }

    /// The markets of the served tokens, as far as frames have named them.
    pub fn markets(&self) -> Vec<ConditionId> {
        let none = ConditionId::from_bytes([0; 32]);
        let mut out: Vec<ConditionId> = self.tokens.values().map(|s| s.meta.market).filter(|m| *m != none).collect();
        out.sort_unstable_by_key(|m| *m.as_bytes());
        out.dedup();
        out
    }

    /// Markets known not to accept orders now (closed, awaiting resolution).
    pub fn halted_markets(&self) -> usize {
        self.markets.halted.len()
    }

    /// Resolutions the market channel announced that REST has not confirmed yet.
    pub fn unconfirmed_resolutions(&self) -> Vec<ConditionId> {
        let mut out: Vec<ConditionId> = self.markets.pending.keys().copied().collect();
        out.sort_unstable_by_key(|m| *m.as_bytes());
        out
    }

    /// Applies a market's REST status: a resolution (confirmed, or found without any frame) is
    /// published to every served token of the market; a market that does not accept orders is
    /// published as not trading (and as trading again when it accepts orders once more). Both
    /// are restated on every call. Returns true while a resolution the market channel announced
    /// is still not confirmed (ask again later).
    pub fn on_market_status(&mut self, st: &MarketStatus, recv_ts_ns: u64, out: &mut Vec<Action>) -> bool {
        let states = &mut self.markets;
        let body = if let Some(winner) = st.winner() {
            if let Some(Some(said)) = states.pending.remove(&st.market)
                && said != winner
            {
                self.stats.resolution_disagreements += 1;
            }
            states.halted.remove(&st.market);
            None
        } else if !st.accepting_orders || st.closed {
            states.halted.insert(st.market);
            Some(MarketEventBody::Trading { accepting_orders: false })
        } else if states.halted.remove(&st.market) {
            Some(MarketEventBody::Trading { accepting_orders: true })
        } else {
            return states.pending.contains_key(&st.market);
        };
        let mut sink = Sink { stats: &mut self.stats, out, recv_ts_ns };
        for t in &st.tokens {
            let Some(s) = self.tokens.get_mut(&t.token_id) else { continue };
            s.meta.market = st.market;
            let body = body.clone().unwrap_or(MarketEventBody::Resolved { winner: t.winner });
            let ts = s.meta.timestamp_ms;
            sink.publish(s, t.token_id, ts, body);
        }
        self.markets.pending.contains_key(&st.market)
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
                tick_inferred: false,
                stated: crate::websocket::frames::Stated { min_order_size: false, neg_risk: false },
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
    /// subscriber), stating only the optional fields some frame stated; `None` until the book is
    /// live.
    pub fn venue_book_frame(&self, token: &TokenId) -> Option<String> {
        let s = self.tokens.get(token)?;
        (s.book.state() == BookState::Live)
            .then(|| crate::websocket::frames::book_frame_stating(&s.meta, &s.book, s.stated))
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

    /// Like [`Normalizer::on_frame`], and says what became of the frame as a whole (one
    /// [`FrameOutcome`] per frame, so the outcomes of a recording add up to its frames).
    pub fn on_frame_accounted(&mut self, frame: &[u8], recv_ts_ns: u64, out: &mut Vec<Action>) -> FrameOutcome {
        let before = self.outcome_counters();
        self.on_frame(frame, recv_ts_ns, out);
        let after = self.outcome_counters();
        // The first outcome whose counter this frame moved; none moved: nothing to publish.
        (0..before.len())
            .find(|&i| after[i] > before[i])
            .map_or(FrameOutcome::NothingToPublish, |i| FrameOutcome::ALL[i])
    }

    /// The counter behind each [`FrameOutcome`] but the last, in [`FrameOutcome::ALL`]'s order.
    fn outcome_counters(&self) -> [u64; 8] {
        let (d, n) = (self.decoder.stats(), &self.stats);
        [
            d.pongs,
            d.malformed_frame,
            n.published,
            d.unsupported_schema,
            d.unknown_type,
            d.invalid_event,
            n.foreign_events,
            n.gated_deltas,
        ]
    }

    /// Decodes a frame and turns what it says into actions.
    pub fn on_frame(&mut self, frame: &[u8], recv_ts_ns: u64, out: &mut Vec<Action>) {
        let Normalizer { decoder, tokens, stats, markets } = self;
        decoder.decode(frame, |m| handle(tokens, None, stats, markets, m, recv_ts_ns, out));
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
        let Normalizer { decoder, tokens, stats, markets } = self;
        decoder.decode(frame, |m| handle(tokens, Some(scope), stats, markets, m, recv_ts_ns, out));
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
    markets: &mut MarketStates,
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
            // The frame's tick, else the one known, else what the prices say: never assumed.
            let (tick, inferred) = match b.tick_size {
                Some(t) => (t, false),
                None if s.meta.tick_size != Price::ZERO => (s.meta.tick_size, s.tick_inferred),
                None => {
                    sink.stats.inferred_ticks += 1;
                    let prices = b.bids.iter().chain(b.asks.iter()).map(|l| l.price);
                    (coarsest_tick(prices.chain(b.last_trade_price), None), true)
                }
            };
            // An inferred tick may prove too coarse for this snapshot's prices.
            let tick = if inferred
                && b.bids.iter().chain(b.asks.iter()).any(|l| !l.price.ticks().is_multiple_of(tick.ticks()))
            {
                sink.stats.refined_ticks += 1;
                coarsest_tick(b.bids.iter().chain(b.asks.iter()).map(|l| l.price), Some(tick))
            } else {
                tick
            };
            s.tick_inferred = inferred;
            if s.book.apply_snapshot(b.bids.iter().copied(), b.asks.iter().copied(), tick).is_err() {
                return;
            }
            s.meta.market = b.market;
            if b.timestamp_ms != 0 {
                // A REST body without a timestamp keeps the last one the venue gave.
                s.meta.timestamp_ms = b.timestamp_ms;
            }
            s.meta.tick_size = tick;
            s.meta.min_order_size = b.min_order_size.unwrap_or(s.meta.min_order_size);
            s.meta.neg_risk = b.neg_risk.unwrap_or(s.meta.neg_risk);
            s.stated.min_order_size |= b.min_order_size.is_some();
            s.stated.neg_risk |= b.neg_risk.is_some();
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
            let ts = s.meta.timestamp_ms;
            sink.publish(s, b.asset, ts, body);
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
                // A price off an inferred tick: the tick was too coarse; the book gets the finer
                // one and goes out whole as a snapshot, so consumers learn the tick with it.
                let refine =
                    s.tick_inferred && group.clone().any(|c| !c.price.ticks().is_multiple_of(s.meta.tick_size.ticks()));
                if refine {
                    sink.stats.refined_ticks += 1;
                    let tick = coarsest_tick(group.clone().map(|c| c.price), Some(s.meta.tick_size));
                    let (bids, asks) = match snapshot_body(s) {
                        MarketEventBody::Snapshot { bids, asks, .. } => (bids, asks),
                        _ => (vec![], vec![]),
                    };
                    if s.book.apply_snapshot(bids, asks, tick).is_err() {
                        continue;
                    }
                    s.meta.tick_size = tick;
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
                let body = if refine { snapshot_body(s) } else { MarketEventBody::Delta(applied) };
                sink.publish(s, asset, *timestamp_ms, body);
            }
        }
        MarketMessage::TickSize { asset, new, timestamp_ms, .. } => {
            let Some(s) = tokens.get_mut(asset) else {
                sink.stats.foreign_events += 1;
                return;
            };
            s.book.tick_size_changed(*new);
            s.meta.tick_size = *new;
            s.tick_inferred = false;
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
        MarketMessage::Resolved { market, winning_asset, assets, timestamp_ms } => {
            if markets.confirm {
                // Held for the REST status; announced again while held: asked once.
                if assets.iter().any(|a| tokens.get_mut(a).is_some())
                    && markets.pending.insert(*market, *winning_asset).is_none()
                {
                    sink.stats.resolutions_to_confirm += 1;
                    sink.out.push(Action::ConfirmResolution(*market));
                }
                return;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MARKET: &str = "0x2f1ab0ffaf465c4acd76b9a4a1f8980db26bfae7d248a6bb289350586028307e";
    const TOKEN: &str = "1234";

    fn book(levels_bids: &[(&str, &str)], levels_asks: &[(&str, &str)], extra: &str) -> String {
        let side = |l: &[(&str, &str)]| {
            l.iter().map(|(p, s)| format!(r#"{{"price":"{p}","size":"{s}"}}"#)).collect::<Vec<_>>().join(",")
        };
        format!(
            r#"{{"event_type":"book","market":"{MARKET}","asset_id":"{TOKEN}","timestamp":"1","hash":"x","bids":[{}],"asks":[{}]{extra}}}"#,
            side(levels_bids),
            side(levels_asks)
        )
    }

    fn published(norm: &mut Normalizer, frame: &str) -> Vec<MarketEvent> {
        let mut out = vec![];
        norm.on_frame(frame.as_bytes(), 0, &mut out);
        out.into_iter()
            .filter_map(|a| match a {
                Action::Publish(e) => Some(e),
                Action::Resync(_) | Action::ConfirmResolution(_) => None,
            })
            .collect()
    }

    fn tick_of(ev: &MarketEvent) -> Price {
        match &ev.body {
            MarketEventBody::Snapshot { tick, .. } => *tick,
            other => panic!("not a snapshot: {other:?}"),
        }
    }

    fn p(t: &str) -> Price {
        Price::parse(t).unwrap()
    }

    #[test]
    fn a_book_without_tick_size_gets_the_tick_its_prices_show_never_a_cent() {
        let mut norm = Normalizer::new([TokenId::parse(TOKEN).unwrap()]);
        let ev = published(&mut norm, &book(&[("0.001", "10"), ("0.002", "5"), ("0.511", "3")], &[("0.514", "7")], ""));
        assert_eq!(tick_of(&ev[0]), p("0.001"));
        assert_eq!(norm.stats().inferred_ticks, 1);
        let b = norm.book(&TokenId::parse(TOKEN).unwrap()).unwrap();
        assert_eq!(b.best_bid().unwrap().price, p("0.511"), "prices kept exactly");
        assert_eq!(b.best_ask().unwrap().price, p("0.514"));
        assert_eq!(b.depth(polyfleet_core::BookSide::Bid), 3, "0.001 and 0.002 stay two levels");
        // The venue-format frame of it says the tick and the prices as recorded.
        let frame = norm.venue_book_frame(&TokenId::parse(TOKEN).unwrap()).unwrap();
        assert!(
            frame.contains(r#""tick_size":"0.001""#) && frame.contains(r#"{"price":"0.511","size":"3"}"#),
            "{frame}"
        );
    }

    #[test]
    fn a_stated_tick_wins_and_an_inferred_one_is_refined_by_a_finer_price() {
        let t = TokenId::parse(TOKEN).unwrap();
        let mut norm = Normalizer::new([t]);
        let ev = published(&mut norm, &book(&[("0.5", "10")], &[("0.52", "7")], r#","tick_size":"0.001""#));
        assert_eq!(tick_of(&ev[0]), p("0.001"), "the frame's tick");
        assert_eq!(norm.stats().inferred_ticks, 0);

        let mut norm = Normalizer::new([t]);
        let ev = published(&mut norm, &book(&[("0.5", "10")], &[("0.52", "7")], ""));
        assert_eq!(tick_of(&ev[0]), p("0.01"), "coarsest tick of 0.5 and 0.52");
        let change = format!(
            r#"{{"event_type":"price_change","market":"{MARKET}","timestamp":"2","price_changes":[{{"asset_id":"{TOKEN}","price":"0.505","size":"4","side":"BUY","hash":"h","best_bid":"0.505","best_ask":"0.52"}}]}}"#
        );
        let ev = published(&mut norm, &change);
        assert_eq!(ev.len(), 1);
        assert_eq!(tick_of(&ev[0]), p("0.001"), "refined, and sent whole with its tick");
        assert_eq!(norm.book(&t).unwrap().best_bid().unwrap().price, p("0.505"));
        assert_eq!(norm.stats().refined_ticks, 1);
        // A later snapshot without tick keeps the refined tick.
        let ev = published(&mut norm, &book(&[("0.5", "10")], &[("0.52", "7")], ""));
        assert_eq!(tick_of(&ev[0]), p("0.001"));
        assert_eq!(norm.stats().inferred_ticks, 1);
    }

    fn status(accepting_orders: bool, closed: bool, winner: Option<usize>) -> MarketStatus {
        use crate::http::market_status::StatusToken;
        let token = |i: usize, id: &str| StatusToken {
            token_id: TokenId::parse(id).unwrap(),
            outcome: if i == 0 { "Yes" } else { "No" }.into(),
            winner: winner == Some(i),
        };
        MarketStatus {
            market: ConditionId::parse(MARKET).unwrap(),
            closed,
            accepting_orders,
            tokens: vec![token(0, TOKEN), token(1, "99")],
            question_id: None,
        }
    }

    fn bodies(out: &[Action]) -> Vec<MarketEventBody> {
        out.iter()
            .filter_map(|a| match a {
                Action::Publish(e) => Some(e.body.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_resolution_is_held_until_rest_confirms_it_and_rest_wins_a_disagreement() {
        let yes = TokenId::parse(TOKEN).unwrap();
        let no = TokenId::parse("99").unwrap();
        let market = ConditionId::parse(MARKET).unwrap();
        let mut norm = Normalizer::new([yes]).confirming_resolutions();
        let _ = published(&mut norm, &book(&[("0.4", "10")], &[("0.5", "10")], r#","tick_size":"0.01""#));
        let frame = crate::websocket::frames::market_resolved_frame(market, &[yes, no], yes, "Yes", 5);
        let mut out = vec![];
        norm.on_frame(frame.as_bytes(), 0, &mut out);
        assert_eq!(out, vec![Action::ConfirmResolution(market)], "nothing settles on the frame alone");
        out.clear();
        norm.on_frame(frame.as_bytes(), 0, &mut out);
        assert!(out.is_empty(), "announced again while held: asked once");
        assert_eq!(norm.unconfirmed_resolutions(), vec![market]);
        // REST has not resolved it yet: still held, the market is closed to orders meanwhile.
        assert!(norm.on_market_status(&status(false, true, None), 0, &mut out));
        assert_eq!(bodies(&out), vec![MarketEventBody::Trading { accepting_orders: false }]);
        out.clear();
        // REST names the other token: it is followed, and the disagreement counted.
        assert!(!norm.on_market_status(&status(false, true, Some(1)), 0, &mut out));
        assert_eq!(bodies(&out), vec![MarketEventBody::Resolved { winner: false }], "only served tokens hear it");
        assert_eq!(norm.stats().resolution_disagreements, 1);
        assert!(norm.unconfirmed_resolutions().is_empty());
        // Restated on every later status (a subscriber that starts late hears it).
        out.clear();
        assert!(!norm.on_market_status(&status(false, true, Some(1)), 0, &mut out));
        assert_eq!(bodies(&out), vec![MarketEventBody::Resolved { winner: false }]);
    }

    #[test]
    fn without_confirmation_a_frame_resolves_at_once() {
        let yes = TokenId::parse(TOKEN).unwrap();
        let market = ConditionId::parse(MARKET).unwrap();
        let mut norm = Normalizer::new([yes]);
        let _ = published(&mut norm, &book(&[("0.4", "10")], &[("0.5", "10")], r#","tick_size":"0.01""#));
        let frame = crate::websocket::frames::market_resolved_frame(market, &[yes], yes, "Yes", 5);
        let evs = published(&mut norm, &frame);
        assert_eq!(
            evs.iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
            vec![MarketEventBody::Resolved { winner: true }]
        );
    }

    #[test]
    fn a_market_closed_before_resolution_is_not_trading_until_it_reopens() {
        let yes = TokenId::parse(TOKEN).unwrap();
        let mut norm = Normalizer::new([yes]).confirming_resolutions();
        let mut out = vec![];
        assert!(!norm.on_market_status(&status(true, false, None), 0, &mut out));
        assert!(out.is_empty(), "an open market says nothing");
        assert!(!norm.on_market_status(&status(false, false, None), 0, &mut out));
        assert!(!norm.on_market_status(&status(false, false, None), 0, &mut out));
        assert!(!norm.on_market_status(&status(true, false, None), 0, &mut out));
        assert!(!norm.on_market_status(&status(true, false, None), 0, &mut out));
        assert_eq!(
            bodies(&out),
            vec![
                MarketEventBody::Trading { accepting_orders: false },
                MarketEventBody::Trading { accepting_orders: false },
                MarketEventBody::Trading { accepting_orders: true },
            ]
        );
        let seqs: Vec<u64> = out
            .iter()
            .filter_map(|a| match a {
                Action::Publish(e) => Some(e.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, vec![1, 2, 3], "status events are numbered with the book's events");
        assert_eq!(norm.markets(), vec![ConditionId::parse(MARKET).unwrap()]);
    }
}

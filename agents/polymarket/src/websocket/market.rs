//! Decoding of Polymarket's market WebSocket channel (and the REST `/book` body, which has the
//! `book` shape): frames of one event object or an array of them, every number a string,
//! timestamps in milliseconds as strings. Sans-IO and allocation-free on the hot path: levels and
//! price changes land in buffers the [`Decoder`] reuses, values are parsed straight into the
//! fixed-point types, and no JSON tree or float is ever built.
//!
//! Unknown event types and malformed events are counted in [`DecodeStats`] and skipped; an event
//! whose values do not parse is skipped alone, a frame whose JSON is broken is skipped from the
//! break on. Nothing here panics on any input (a property test feeds it millions of frames).

use polyfleet_core::wire::Level;
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, Side, TokenId};

use crate::common::ids_cache::IdCache;
use crate::common::json::{JsonError, Scalar, Scanner};

/// One level change of a `price_change` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceChange {
    /// The token whose book changed.
    pub asset: TokenId,
    /// Level price.
    pub price: Price,
    /// New total size at the level; zero removes it.
    pub size: Quantity,
    /// BUY changes a bid level, SELL an ask level.
    pub side: BookSide,
    /// Where the venue's book hash after the change sits in the frame (see [`PriceChange::hash`]).
    pub hash_span: Option<(u32, u32)>,
    /// Best bid after the change, if sent.
    pub best_bid: Option<Price>,
    /// Best ask after the change, if sent.
    pub best_ask: Option<Price>,
}

impl PriceChange {
    /// The venue's book hash after this change, read from the frame it was decoded from.
    pub fn hash<'f>(&self, frame: &'f [u8]) -> Option<&'f str> {
        let (start, end) = self.hash_span?;
        std::str::from_utf8(frame.get(start as usize..end as usize)?).ok()
    }
}

/// A full book (`book` event or REST `/book`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookMsg<'a> {
    /// The market (condition id).
    pub market: ConditionId,
    /// The token.
    pub asset: TokenId,
    /// Venue time, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The venue's hash of the book, when sent.
    pub hash: Option<&'a str>,
    /// Bids as sent (any order).
    pub bids: &'a [Level],
    /// Asks as sent (any order).
    pub asks: &'a [Level],
    /// Tick size, when the venue states it.
    pub tick_size: Option<Price>,
    /// Minimum order size, when stated.
    pub min_order_size: Option<Quantity>,
    /// Whether the market is neg-risk, when stated.
    pub neg_risk: Option<bool>,
    /// Last trade price, when sent.
    pub last_trade_price: Option<Price>,
}

/// A decoded market-channel event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketMessage<'a> {
    /// `book`: replace the token's book.
    Book(BookMsg<'a>),
    /// `price_change`: level updates, possibly for both tokens of the market.
    PriceChange {
        /// The market (condition id).
        market: ConditionId,
        /// Venue time, Unix milliseconds.
        timestamp_ms: u64,
        /// The level changes, in frame order.
        changes: &'a [PriceChange],
        /// The frame, for [`PriceChange::hash`].
        frame: &'a [u8],
    },
    /// `last_trade_price`.
    LastTrade {
        /// The market (condition id).
        market: ConditionId,
        /// The token traded.
        asset: TokenId,
        /// Venue time, Unix milliseconds.
        timestamp_ms: u64,
        /// The taker's side.
        side: Side,
        /// Trade price.
        price: Price,
        /// Trade size.
        size: Quantity,
        /// The trade's fee rate, basis points.
        fee_rate_bps: u32,
    },
    /// `tick_size_change`: void the book until the next snapshot.
    TickSize {
        /// The market (condition id).
        market: ConditionId,
        /// The token.
        asset: TokenId,
        /// Venue time, Unix milliseconds.
        timestamp_ms: u64,
        /// The tick before, when sent.
        old: Option<Price>,
        /// The tick from now on.
        new: Price,
    },
    /// `best_bid_ask`.
    BestBidAsk {
        /// The market (condition id).
        market: ConditionId,
        /// The token.
        asset: TokenId,
        /// Venue time, Unix milliseconds.
        timestamp_ms: u64,
        /// Best bid, if any.
        best_bid: Option<Price>,
        /// Best ask, if any.
        best_ask: Option<Price>,
    },
    /// `new_market`.
    NewMarket {
        /// The market (condition id).
        market: ConditionId,
        /// Venue time, Unix milliseconds.
        timestamp_ms: u64,
        /// The question, when sent.
        question: Option<String>,
        /// The slug, when sent.
        slug: Option<String>,
        /// The market's tokens.
        assets: &'a [TokenId],
    },
    /// `market_resolved`.
    Resolved {
        /// The market (condition id).
        market: ConditionId,
        /// Venue time, Unix milliseconds.
        timestamp_ms: u64,
        /// The winning token, when sent.
        winning_asset: Option<TokenId>,
        /// The market's tokens.
        assets: &'a [TokenId],
    },
}

/// The event types, for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `book`.
    Book,
    /// `price_change`.
    PriceChange,
    /// `last_trade_price`.
    LastTrade,
    /// `tick_size_change`.
    TickSize,
    /// `best_bid_ask`.
    BestBidAsk,
    /// `new_market`.
    NewMarket,
    /// `market_resolved`.
    Resolved,
}

impl EventKind {
    /// Every kind, for iteration.
    pub const ALL: [EventKind; 7] = [
        EventKind::Book,
        EventKind::PriceChange,
        EventKind::LastTrade,
        EventKind::TickSize,
        EventKind::BestBidAsk,
        EventKind::NewMarket,
        EventKind::Resolved,
    ];

    /// The venue's `event_type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Book => "book",
            EventKind::PriceChange => "price_change",
            EventKind::LastTrade => "last_trade_price",
            EventKind::TickSize => "tick_size_change",
            EventKind::BestBidAsk => "best_bid_ask",
            EventKind::NewMarket => "new_market",
            EventKind::Resolved => "market_resolved",
        }
    }

    fn from_bytes(b: &[u8]) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str().as_bytes() == b)
    }
}

/// Counters of what the decoder saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames fed in.
    pub frames: u64,
    /// Events decoded, by [`EventKind`] (index of `EventKind::ALL`).
    pub events: [u64; 7],
    /// Events with an `event_type` this decoder does not know (skipped).
    pub unknown_type: u64,
    /// Events whose fields are missing or do not parse (skipped).
    pub invalid_event: u64,
    /// Events of a known type in a shape this decoder does not support, such as the older flat
    /// `price_change` (price, side and size at the top, no `price_changes` list): skipped and
    /// counted, never read as an event with nothing in it.
    pub unsupported_schema: u64,
    /// Frames whose JSON is broken (skipped from the break on).
    pub malformed_frame: u64,
    /// Text frames that are not JSON events at all but the keepalive reply `PONG`.
    pub pongs: u64,
}

impl DecodeStats {
    /// Events decoded of one kind.
    pub fn events_of(&self, kind: EventKind) -> u64 {
        self.events[EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)]
    }
}

/// Why one event was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// An `event_type` this decoder does not know.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// No `event_type` field.
    #[error("event has no recognisable type")]
    Untyped,
    /// A field missing or not parsing.
    #[error("missing or invalid field {0}")]
    Field(&'static str),
    /// A known type in a shape this decoder does not support.
    #[error("unsupported schema: {0}")]
    Unsupported(&'static str),
}

/// Raw fields of one event object, as slices of the frame.
#[derive(Default)]
struct Raw<'a> {
    event_type: Option<&'a [u8]>,
    market: Option<Scalar<'a>>,
    asset_id: Option<Scalar<'a>>,
    timestamp: Option<Scalar<'a>>,
    hash: Option<Scalar<'a>>,
    price: Option<Scalar<'a>>,
    size: Option<Scalar<'a>>,
    side: Option<Scalar<'a>>,
    best_bid: Option<Scalar<'a>>,
    best_ask: Option<Scalar<'a>>,
    tick_size: Option<Scalar<'a>>,
    new_tick_size: Option<Scalar<'a>>,
    old_tick_size: Option<Scalar<'a>>,
    fee_rate_bps: Option<Scalar<'a>>,
    min_order_size: Option<Scalar<'a>>,
    neg_risk: Option<Scalar<'a>>,
    last_trade_price: Option<Scalar<'a>>,
    winning_asset_id: Option<Scalar<'a>>,
    question: Option<Scalar<'a>>,
    slug: Option<Scalar<'a>>,
    has_bids: bool,
    has_asks: bool,
    has_changes: bool,
    has_assets: bool,
    /// A nested value (level, change, asset id) did not parse.
    bad_nested: Option<&'static str>,
}

/// The market-channel decoder: reusable buffers and counters.
#[derive(Debug, Default)]
pub struct Decoder {
    bids: Vec<Level>,
    asks: Vec<Level>,
    changes: Vec<PriceChange>,
    assets: Vec<TokenId>,
    ids: IdCache,
    stats: DecodeStats,
}

fn text<'a>(v: Option<Scalar<'a>>) -> Option<&'a str> {
    v.and_then(|s| s.text())
}
fn bytes<'a>(v: Option<Scalar<'a>>) -> Option<&'a [u8]> {
    v.and_then(|s| s.bytes())
}
fn price(v: Option<Scalar<'_>>) -> Option<Price> {
    bytes(v).and_then(Price::parse_bytes_opt)
}
fn quantity(v: Option<Scalar<'_>>) -> Option<Quantity> {
    bytes(v).and_then(Quantity::parse_bytes_opt)
}
fn token(v: Option<Scalar<'_>>) -> Option<TokenId> {
    bytes(v).and_then(|t| TokenId::parse_bytes(t).ok())
}
fn millis(v: Option<Scalar<'_>>) -> Option<u64> {
    let b = bytes(v)?;
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')))
}
fn book_side(v: Option<Scalar<'_>>) -> Option<BookSide> {
    text(v).and_then(Side::from_venue).map(Side::resting_side)
}

/// An optional field: absent is fine, present must parse.
fn optional<T>(
    v: Option<Scalar<'_>>,
    parse: impl Fn(Option<Scalar<'_>>) -> Option<T>,
    name: &'static str,
) -> Result<Option<T>, EventError> {
    match v {
        None | Some(Scalar::Bare(b"null")) => Ok(None),
        Some(s) if s.bytes() == Some(b"") => Ok(None),
        some => parse(some).map(Some).ok_or(EventError::Field(name)),
    }
}

fn required<T>(v: Option<T>, name: &'static str) -> Result<T, EventError> {
    v.ok_or(EventError::Field(name))
}

impl Decoder {
    /// A decoder with empty buffers and zeroed counters.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Decodes one text frame, calling `sink` for every event it holds, in order.
    pub fn decode(&mut self, frame: &[u8], mut sink: impl FnMut(&MarketMessage<'_>)) {
        self.stats.frames += 1;
        let mut s = Scanner::new(frame);
        let result = match s.peek() {
            Some(b'[') => {
                let mut out = Ok(());
                let walked = s.array(|s| {
                    if let Err(e) = self.event(s, frame, &mut sink) {
                        out = Err(e);
                    }
                    Ok(())
                });
                walked.and(out)
            }
            Some(b'{') => self.event(&mut s, frame, &mut sink),
            _ if frame.trim_ascii() == b"PONG" => {
                self.stats.pongs += 1;
                return;
            }
            _ => Err(JsonError { at: 0, what: "a frame is an object or an array" }),
        };
        if result.is_err() || !s.at_end() {
            self.stats.malformed_frame += 1;
        }
    }

    /// Reads one event object, dispatches it; JSON errors propagate, event errors are counted.
    fn event<'f>(
        &mut self,
        s: &mut Scanner<'f>,
        frame: &'f [u8],
        sink: &mut impl FnMut(&MarketMessage<'_>),
    ) -> Result<(), JsonError> {
        self.bids.clear();
        self.asks.clear();
        self.changes.clear();
        self.assets.clear();
        let mut raw = Raw::default();
        let (bids, asks, changes, assets, ids) =
            (&mut self.bids, &mut self.asks, &mut self.changes, &mut self.assets, &mut self.ids);
        s.object(|s, key| {
            let slot = match key {
                b"event_type" => {
                    raw.event_type = match s.scalar()? {
                        Scalar::Str { raw, .. } => Some(raw),
                        Scalar::Bare(_) => None,
                    };
                    return Ok(());
                }
                b"bids" | b"buys" => {
                    raw.has_bids = true;
                    return levels(s, bids, &mut raw.bad_nested);
                }
                b"asks" | b"sells" => {
                    raw.has_asks = true;
                    return levels(s, asks, &mut raw.bad_nested);
                }
                b"price_changes" | b"changes" => {
                    raw.has_changes = true;
                    return price_changes(s, frame, changes, ids, &mut raw.bad_nested);
                }
                b"assets_ids" | b"clob_token_ids" => {
                    if !raw.has_assets {
                        raw.has_assets = true;
                        return token_list(s, assets, &mut raw.bad_nested);
                    }
                    return s.skip_value();
                }
                b"market" => &mut raw.market,
                b"asset_id" => &mut raw.asset_id,
                b"timestamp" => &mut raw.timestamp,
                b"hash" => &mut raw.hash,
                b"price" => &mut raw.price,
                b"size" => &mut raw.size,
                b"side" => &mut raw.side,
                b"best_bid" => &mut raw.best_bid,
                b"best_ask" => &mut raw.best_ask,
                b"tick_size" => &mut raw.tick_size,
                b"new_tick_size" => &mut raw.new_tick_size,
                b"old_tick_size" => &mut raw.old_tick_size,
                b"fee_rate_bps" => &mut raw.fee_rate_bps,
                b"min_order_size" => &mut raw.min_order_size,
                b"neg_risk" => &mut raw.neg_risk,
                b"last_trade_price" => &mut raw.last_trade_price,
                b"winning_asset_id" => &mut raw.winning_asset_id,
                b"question" => &mut raw.question,
                b"slug" => &mut raw.slug,
                _ => return s.skip_value(),
            };
            if matches!(s.peek(), Some(b'{' | b'[')) {
                return s.skip_value();
            }
            *slot = Some(s.scalar()?);
            Ok(())
        })?;
        let market = bytes(raw.market).and_then(|t| self.ids.market(t));
        let asset = bytes(raw.asset_id).and_then(|t| self.ids.token(t));
        match self.dispatch(&raw, market, asset, frame, sink) {
            Ok(kind) => {
                let i = EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
                self.stats.events[i] += 1;
            }
            Err(EventError::UnknownType(_)) => self.stats.unknown_type += 1,
            Err(EventError::Unsupported(_)) => self.stats.unsupported_schema += 1,
            Err(_) => self.stats.invalid_event += 1,
        }
        Ok(())
    }

    fn dispatch(
        &self,
        raw: &Raw<'_>,
        market: Option<ConditionId>,
        asset: Option<TokenId>,
        frame: &[u8],
        sink: &mut impl FnMut(&MarketMessage<'_>),
    ) -> Result<EventKind, EventError> {
        let kind = match raw.event_type {
            Some(t) => EventKind::from_bytes(t)
                .ok_or_else(|| EventError::UnknownType(String::from_utf8_lossy(t).into_owned()))?,
            // Untyped shapes: REST /book bodies and some captured fixtures omit event_type.
            None if raw.has_changes => EventKind::PriceChange,
            None if raw.has_bids || raw.has_asks => EventKind::Book,
            None if raw.price.is_some() && raw.side.is_some() && raw.size.is_some() => EventKind::LastTrade,
            None => return Err(EventError::Untyped),
        };
        if let Some(what) = raw.bad_nested {
            return Err(EventError::Field(what));
        }
        if kind == EventKind::PriceChange && !raw.has_changes {
            return Err(EventError::Unsupported("price_change without a price_changes list (the older flat schema)"));
        }
        let market = required(market, "market")?;
        // REST `/book` bodies (untyped) have been served without a timestamp: 0 says "none";
        // every typed event must carry one.
        let rest_book = kind == EventKind::Book && raw.event_type.is_none();
        let timestamp_ms = match millis(raw.timestamp) {
            Some(t) => t,
            None if rest_book && raw.timestamp.is_none() => 0,
            None => return Err(EventError::Field("timestamp")),
        };
        let msg = match kind {
            EventKind::Book => MarketMessage::Book(BookMsg {
                market,
                asset: required(asset, "asset_id")?,
                timestamp_ms,
                hash: text(raw.hash),
                bids: &self.bids,
                asks: &self.asks,
                tick_size: optional(raw.tick_size, price, "tick_size")?,
                min_order_size: optional(raw.min_order_size, quantity, "min_order_size")?,
                neg_risk: optional(raw.neg_risk, |v| v.and_then(|s| s.boolean()), "neg_risk")?,
                last_trade_price: optional(raw.last_trade_price, price, "last_trade_price")?,
            }),
            EventKind::PriceChange => {
                MarketMessage::PriceChange { market, timestamp_ms, changes: &self.changes, frame }
            }
            EventKind::LastTrade => MarketMessage::LastTrade {
                market,
                asset: required(asset, "asset_id")?,
                timestamp_ms,
                side: required(text(raw.side).and_then(Side::from_venue), "side")?,
                price: required(price(raw.price), "price")?,
                size: required(quantity(raw.size), "size")?,
                fee_rate_bps: optional(raw.fee_rate_bps, |v| text(v).and_then(|t| t.parse().ok()), "fee_rate_bps")?
                    .unwrap_or(0),
            },
            EventKind::TickSize => MarketMessage::TickSize {
                market,
                asset: required(asset, "asset_id")?,
                timestamp_ms,
                old: optional(raw.old_tick_size, price, "old_tick_size")?,
                new: required(price(raw.new_tick_size), "new_tick_size")?,
            },
            EventKind::BestBidAsk => MarketMessage::BestBidAsk {
                market,
                asset: required(asset, "asset_id")?,
                timestamp_ms,
                best_bid: optional(raw.best_bid, price, "best_bid")?,
                best_ask: optional(raw.best_ask, price, "best_ask")?,
            },
            EventKind::NewMarket => MarketMessage::NewMarket {
                market,
                timestamp_ms,
                question: raw.question.and_then(|q| q.to_owned_string()),
                slug: raw.slug.and_then(|q| q.to_owned_string()),
                assets: &self.assets,
            },
            EventKind::Resolved => MarketMessage::Resolved {
                market,
                timestamp_ms,
                winning_asset: optional(raw.winning_asset_id, token, "winning_asset_id")?,
                assets: &self.assets,
            },
        };
        sink(&msg);
        Ok(kind)
    }
}

fn levels(s: &mut Scanner<'_>, out: &mut Vec<Level>, bad: &mut Option<&'static str>) -> Result<(), JsonError> {
    s.array(|s| {
        if let Some([p, q]) = s.flat_fields([br#"{"price":""#, br#"","size":""#], br#""}"#) {
            match (Price::parse_bytes_opt(p), Quantity::parse_bytes_opt(q)) {
                (Some(price), Some(size)) => out.push(Level { price, size }),
                _ => *bad = Some("level"),
            }
            return Ok(());
        }
        let (mut p, mut q) = (None, None);
        s.object(|s, key| match key {
            b"price" => {
                p = Some(s.scalar()?);
                Ok(())
            }
            b"size" => {
                q = Some(s.scalar()?);
                Ok(())
            }
            _ => s.skip_value(),
        })?;
        match (price(p), quantity(q)) {
            (Some(price), Some(size)) => out.push(Level { price, size }),
            _ => *bad = Some("level"),
        }
        Ok(())
    })
}

/// Raw fields of one `price_changes[]` entry.
#[derive(Default)]
struct RawChange<'a> {
    asset_id: Option<Scalar<'a>>,
    price: Option<Scalar<'a>>,
    size: Option<Scalar<'a>>,
    side: Option<Scalar<'a>>,
    hash: Option<Scalar<'a>>,
    best_bid: Option<Scalar<'a>>,
    best_ask: Option<Scalar<'a>>,
}

fn price_changes(
    s: &mut Scanner<'_>,
    frame: &[u8],
    out: &mut Vec<PriceChange>,
    ids: &mut IdCache,
    bad: &mut Option<&'static str>,
) -> Result<(), JsonError> {
    s.array(|s| {
        let mut r = RawChange::default();
        let str = |raw| Some(Scalar::Str { raw, escaped: false });
        if let Some([a, p, q, side, h, bb, ba]) = s.flat_fields(
            [
                br#"{"asset_id":""#,
                br#"","price":""#,
                br#"","size":""#,
                br#"","side":""#,
                br#"","hash":""#,
                br#"","best_bid":""#,
                br#"","best_ask":""#,
            ],
            br#""}"#,
        ) {
            r = RawChange {
                asset_id: str(a),
                price: str(p),
                size: str(q),
                side: str(side),
                hash: str(h),
                best_bid: str(bb),
                best_ask: str(ba),
            };
        } else {
            s.object(|s, key| {
                let slot = match key {
                    b"asset_id" => &mut r.asset_id,
                    b"price" => &mut r.price,
                    b"size" => &mut r.size,
                    b"side" => &mut r.side,
                    b"hash" => &mut r.hash,
                    b"best_bid" => &mut r.best_bid,
                    b"best_ask" => &mut r.best_ask,
                    _ => return s.skip_value(),
                };
                *slot = Some(s.scalar()?);
                Ok(())
            })?;
        }
        let asset = bytes(r.asset_id).and_then(|t| ids.token(t));
        let parsed = (asset, price(r.price), quantity(r.size), book_side(r.side));
        let bbo = (optional(r.best_bid, price, "best_bid"), optional(r.best_ask, price, "best_ask"));
        match (parsed, bbo) {
            ((Some(asset), Some(price), Some(size), Some(side)), (Ok(best_bid), Ok(best_ask))) => {
                let hash_span = match r.hash {
                    Some(Scalar::Str { raw, escaped: false }) => {
                        let start = raw.as_ptr() as usize - frame.as_ptr() as usize;
                        u32::try_from(start).ok().zip(u32::try_from(start + raw.len()).ok())
                    }
                    _ => None,
                };
                out.push(PriceChange { asset, price, size, side, hash_span, best_bid, best_ask });
            }
            _ => *bad = Some("price_changes[]"),
        }
        Ok(())
    })
}

fn token_list(s: &mut Scanner<'_>, out: &mut Vec<TokenId>, bad: &mut Option<&'static str>) -> Result<(), JsonError> {
    if s.peek() == Some(b'"') {
        // Gamma-style JSON-encoded string of ids: decode the inner array.
        let v = s.scalar()?;
        let inner = v.to_owned_string().unwrap_or_default();
        let mut inner_scanner = Scanner::new(inner.as_bytes());
        return match token_list(&mut inner_scanner, out, bad) {
            Ok(()) => Ok(()),
            Err(_) => {
                *bad = Some("asset ids");
                Ok(())
            }
        };
    }
    s.array(|s| {
        match token(Some(s.scalar()?)) {
            Some(t) => out.push(t),
            None => *bad = Some("asset ids"),
        }
        Ok(())
    })
}

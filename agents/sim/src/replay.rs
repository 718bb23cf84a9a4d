//! Replaying a recording (see `polyfleet_polymarket::data::recording`) as a venue: frames go out in
//! recorded order, byte for byte, and a new subscriber gets a `book` snapshot of the state the
//! replay has reached: the recorded `book` object itself, byte for byte (prices, tick size,
//! neg-risk flag, minimum size and the venue's hash as recorded), while nothing has changed the
//! token's book since; once a later frame has, a snapshot rebuilt from the recording by the same
//! [`Normalizer`] the agents use (venue number format, the recorded tick; its hash recomputed,
//! since the venue never published one for that state).

use std::collections::HashMap;

use polyfleet_core::book::OrderBook;
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_polymarket::data::normalize::Normalizer;
use polyfleet_polymarket::data::recording::RecordLine;
use polyfleet_polymarket::http::market_status::{MarketStatus, StatusToken};
use polyfleet_polymarket::{Decoder, MarketMessage};

use crate::model::{SimFrame, Simulator};
use crate::source::Source;

/// A recording being replayed.
#[derive(Debug)]
pub struct Replay {
    frames: Vec<String>,
    next: usize,
    norm: Normalizer,
    decoder: Decoder,
    markets: HashMap<ConditionId, Vec<TokenId>>,
    actions: Vec<polyfleet_polymarket::data::normalize::Action>,
    /// Per token, the last recorded `book` object, while no later frame changed the book.
    recorded: HashMap<TokenId, String>,
    /// Markets the replay has resolved so far, with their winning token.
    resolved: HashMap<ConditionId, Option<TokenId>>,
}

/// The elements of a top-level JSON array (or the frame itself when it is an object).
fn elements(frame: &str) -> Vec<&str> {
    let t = frame.trim();
    let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else { return vec![t] };
    let (mut out, mut depth, mut start, mut in_str, mut esc) = (vec![], 0i32, 0usize, false, false);
    for (i, c) in inner.char_indices() {
        match c {
            _ if esc => esc = false,
            '\\' if in_str => esc = true,
            '"' => in_str = !in_str,
            '{' | '[' if !in_str => depth += 1,
            '}' | ']' if !in_str => depth -= 1,
            ',' if !in_str && depth == 0 => {
                out.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(inner[start..].trim());
    out.retain(|e| !e.is_empty());
    out
}

fn markets_of(decoder: &mut Decoder, frame: &str, mut f: impl FnMut(ConditionId, Option<TokenId>)) {
    decoder.decode(frame.as_bytes(), |m| match m {
        MarketMessage::Book(b) => f(b.market, Some(b.asset)),
        MarketMessage::PriceChange { market, changes, .. } => {
            for c in changes.iter() {
                f(*market, Some(c.asset));
            }
        }
        MarketMessage::LastTrade { market, asset, .. }
        | MarketMessage::TickSize { market, asset, .. }
        | MarketMessage::BestBidAsk { market, asset, .. } => f(*market, Some(*asset)),
        MarketMessage::NewMarket { market, .. } | MarketMessage::Resolved { market, .. } => f(*market, None),
    });
}

impl Replay {
    /// A replay of the recording's market-channel frames (frames of other channels are left
    /// out). The leading snapshots are applied at once, so the first subscriber already gets books.
    pub fn new(lines: impl IntoIterator<Item = RecordLine>) -> Replay {
        let frames: Vec<String> = lines.into_iter().filter(RecordLine::is_market).filter_map(|l| l.frame).collect();
        let mut decoder = Decoder::new();
        let mut markets: HashMap<ConditionId, Vec<TokenId>> = HashMap::new();
        for f in &frames {
            markets_of(&mut decoder, f, |m, t| {
                let list = markets.entry(m).or_default();
                if let Some(t) = t
                    && !list.contains(&t)
                {
                    list.push(t);
                }
            });
        }
        let tokens: Vec<TokenId> = markets.values().flatten().copied().collect();
        let mut replay = Replay {
            frames,
            next: 0,
            norm: Normalizer::new(tokens),
            decoder: Decoder::new(),
            markets,
            actions: vec![],
            recorded: HashMap::new(),
            resolved: HashMap::new(),
        };
        while replay.next < replay.frames.len() && !replay.norm.all_live() {
            let text = std::mem::take(&mut replay.frames[replay.next]);
            replay.apply(&text);
            replay.frames[replay.next] = text;
            replay.next += 1;
        }
        replay.actions.clear();
        replay
    }

    /// Applies a frame: the normalizer's books, and which recorded `book` objects still hold.
    fn apply(&mut self, text: &str) {
        self.norm.on_frame(text.as_bytes(), 0, &mut self.actions);
        self.actions.clear();
        let (markets, resolved) = (&self.markets, &mut self.resolved);
        for element in elements(text) {
            let mut book = None;
            let mut touched = vec![];
            self.decoder.decode(element.as_bytes(), |m| match m {
                MarketMessage::Book(b) => book = Some(b.asset),
                MarketMessage::PriceChange { changes, .. } => touched.extend(changes.iter().map(|c| c.asset)),
                MarketMessage::TickSize { asset, .. } => touched.push(*asset),
                // A trade changes both tokens' summaries (their last trade price).
                MarketMessage::LastTrade { market, .. } => {
                    touched.extend(markets.get(market).into_iter().flatten().copied());
                }
                MarketMessage::Resolved { market, winning_asset, .. } => {
                    resolved.insert(*market, *winning_asset);
                    touched.extend(markets.get(market).into_iter().flatten().copied());
                }
                MarketMessage::BestBidAsk { .. } | MarketMessage::NewMarket { .. } => {}
            });
            for t in touched {
                self.recorded.remove(&t);
            }
            if let Some(asset) = book {
                self.recorded.insert(asset, element.to_string());
            }
        }
    }

    /// Frames not yet replayed.
    pub fn remaining(&self) -> usize {
        self.frames.len() - self.next
    }
}

impl Source for Replay {
    fn step(&mut self) -> Vec<SimFrame> {
        let Some(text) = self.frames.get(self.next).cloned() else { return vec![] };
        self.next += 1;
        self.apply(&text);
        // Everyone subscribed to any token of the frame's markets receives it, as from the venue.
        let mut assets = vec![];
        let markets = &self.markets;
        markets_of(&mut self.decoder, &text, |m, _| {
            for t in markets.get(&m).into_iter().flatten() {
                if !assets.contains(t) {
                    assets.push(*t);
                }
            }
        });
        vec![SimFrame { assets, text }]
    }
    fn snapshot_frame(&self, token: &TokenId) -> Option<String> {
        self.recorded.get(token).cloned().or_else(|| self.norm.venue_book_frame(token))
    }
    fn book(&self, token: &TokenId) -> Option<OrderBook> {
        self.norm.book(token).cloned()
    }
    fn tokens(&self) -> Vec<TokenId> {
        self.markets.values().flatten().copied().collect()
    }
    fn market_status(&self, market: &ConditionId) -> Option<MarketStatus> {
        // What the recording shows: open until its `market_resolved` frame has been replayed.
        let tokens = self.markets.get(market)?;
        let winner = self.resolved.get(market);
        Some(MarketStatus {
            market: *market,
            closed: winner.is_some(),
            accepting_orders: winner.is_none(),
            tokens: tokens
                .iter()
                .map(|t| StatusToken {
                    token_id: *t,
                    outcome: String::new(),
                    winner: winner.is_some_and(|w| *w == Some(*t)),
                })
                .collect(),
            question_id: None,
        })
    }
    fn model(&self) -> Option<&Simulator> {
        None
    }
    fn model_mut(&mut self) -> Option<&mut Simulator> {
        None
    }
}

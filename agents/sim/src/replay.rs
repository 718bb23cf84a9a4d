//! Replaying a recording (see `polyfleet_polymarket::recording`) as a venue: frames go out in
//! recorded order, and a new subscriber gets a `book` snapshot of the state the replay has
//! reached, rebuilt from the recording itself by the same [`Normalizer`] the agents use.

use std::collections::HashMap;

use polyfleet_core::book::OrderBook;
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_polymarket::normalize::Normalizer;
use polyfleet_polymarket::recording::RecordLine;
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
    actions: Vec<polyfleet_polymarket::normalize::Action>,
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
    /// A replay of the recording's frames. The leading snapshots are applied at once, so the
    /// first subscriber already gets books.
    pub fn new(lines: impl IntoIterator<Item = RecordLine>) -> Replay {
        let frames: Vec<String> = lines.into_iter().filter_map(|l| l.frame).collect();
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
        };
        while replay.next < replay.frames.len() && !replay.norm.all_live() {
            replay.norm.on_frame(replay.frames[replay.next].as_bytes(), 0, &mut replay.actions);
            replay.next += 1;
        }
        replay.actions.clear();
        replay
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
        self.norm.on_frame(text.as_bytes(), 0, &mut self.actions);
        self.actions.clear();
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
        self.norm.venue_book_frame(token)
    }
    fn book(&self, token: &TokenId) -> Option<OrderBook> {
        self.norm.book(token).cloned()
    }
    fn tokens(&self) -> Vec<TokenId> {
        self.markets.values().flatten().copied().collect()
    }
    fn model(&self) -> Option<&Simulator> {
        None
    }
    fn model_mut(&mut self) -> Option<&mut Simulator> {
        None
    }
}

//! Market data for the order-path agents: the venue's `md.<venue>.*` subscription and snapshot
//! requests (`mdsnap.<venue>.<token>`) for books that have none yet or fell out of sequence. The
//! agents keep their books with the core's followers; this file only moves events.

use std::collections::HashSet;
use std::time::Duration;

use polyfleet_core::TokenId;
use polyfleet_core::wire::{MarketEvent, decode, subjects};
use polyfleet_io::bus::{Bus, BusError, Subscription};
use tokio::sync::mpsc;

/// Subscribes to every market event of a venue.
pub async fn subscribe<B: Bus>(bus: &B, venue: &str) -> Result<Subscription, BusError> {
    bus.subscribe(&subjects::market_data_all(venue)).await
}

/// Asks for snapshots, at most one request in flight per token; answers arrive on `tx`.
pub struct Snapshots<B: Bus> {
    bus: B,
    venue: String,
    in_flight: HashSet<TokenId>,
    tx: mpsc::Sender<(TokenId, Option<MarketEvent>)>,
}

impl<B: Bus> Snapshots<B> {
    /// A requester; the receiver gets `(token, snapshot)` (None when the market-data agent had no
    /// live book or did not answer: ask again later).
    pub fn new(bus: B, venue: &str) -> (Snapshots<B>, mpsc::Receiver<(TokenId, Option<MarketEvent>)>) {
        let (tx, rx) = mpsc::channel(1024);
        (Snapshots { bus, venue: venue.to_string(), in_flight: HashSet::new(), tx }, rx)
    }

    /// Requests a snapshot of `token` unless one is on its way.
    pub fn request(&mut self, token: TokenId) {
        if !self.in_flight.insert(token) {
            return;
        }
        let bus = self.bus.clone();
        let subject = subjects::snapshot_request(&self.venue, &token);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let answer = match bus.request(&subject, Default::default(), Duration::from_secs(2)).await {
                Ok(payload) if !payload.is_empty() => decode::<MarketEvent>(&payload).ok(),
                _ => {
                    // No live book yet (or no answer): back off before the caller asks again.
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    None
                }
            };
            let _ = tx.send((token, answer)).await;
        });
    }

    /// The answer for `token` arrived.
    pub fn answered(&mut self, token: &TokenId) {
        self.in_flight.remove(token);
    }
}

/// One agent's market data: the venue's events and the snapshot answers, as one stream of
/// events, live events first. The agent keeps its books with the core's followers and calls
/// [`Feed::resync`] for a book that fell out of sequence; a snapshot that could not be had is
/// asked for again here.
pub struct Feed<B: Bus> {
    md: Subscription,
    snaps: Snapshots<B>,
    answers: mpsc::Receiver<(TokenId, Option<MarketEvent>)>,
}

impl<B: Bus> Feed<B> {
    /// Subscribes to `venue`'s events and asks for a snapshot of each of `tokens`.
    pub async fn open(bus: &B, venue: &str, tokens: impl IntoIterator<Item = TokenId>) -> Result<Feed<B>, BusError> {
        let md = subscribe(bus, venue).await?;
        let (mut snaps, answers) = Snapshots::new(bus.clone(), venue);
        for t in tokens {
            snaps.request(t);
        }
        Ok(Feed { md, snaps, answers })
    }

    /// The next event (a live one before a snapshot answer); `Err` for a message that does not
    /// decode (the caller counts it); `None` when the subscription ended. Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<MarketEvent, polyfleet_core::wire::WireError>> {
        loop {
            tokio::select! {
                biased;
                msg = futures::StreamExt::next(&mut self.md) => {
                    return msg.map(|m| decode::<MarketEvent>(&m.payload));
                }
                Some((token, snap)) = self.answers.recv() => {
                    self.snaps.answered(&token);
                    match snap {
                        Some(ev) => return Some(Ok(ev)),
                        None => self.snaps.request(token),
                    }
                }
            }
        }
    }

    /// Asks for a fresh snapshot of `token` (its book fell out of sequence).
    pub fn resync(&mut self, token: TokenId) {
        self.snaps.request(token);
    }
}

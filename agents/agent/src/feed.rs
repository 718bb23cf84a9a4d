//! Market data for the order-path agents: a subscription to the venue's market events, either
//! all of them (`md.<venue>.*`: execution, the journal's marks) or only the tokens an agent
//! trades or decides on (`md.<venue>.<token>` each: a strategy, so one trading a hundred markets
//! of a venue of ten thousand is not sent the other 99 %, and the risk gateway, which follows a
//! token from its first intent on), and snapshot requests
//! (`mdsnap.<venue>.<token>`) for books that have none yet or fell out of sequence. The agents
//! keep their books with the core's followers; this file only moves events.

use std::collections::HashSet;
use std::time::Duration;

use futures::stream::SelectAll;

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
    md: SelectAll<Subscription>,
    /// The tokens subscribed one by one; `None` for the whole venue.
    followed: Option<HashSet<TokenId>>,
    bus: B,
    venue: String,
    snaps: Snapshots<B>,
    answers: mpsc::Receiver<(TokenId, Option<MarketEvent>)>,
}

impl<B: Bus> Feed<B> {
    /// Subscribes to every event of `venue` and asks for a snapshot of each of `tokens`.
    pub async fn open_venue(
        bus: &B,
        venue: &str,
        tokens: impl IntoIterator<Item = TokenId>,
    ) -> Result<Feed<B>, BusError> {
        let mut feed = Feed::empty(bus, venue, None);
        feed.md.push(subscribe(bus, venue).await?);
        for t in tokens {
            feed.snaps.request(t);
        }
        Ok(feed)
    }

    /// Subscribes to the events of `tokens` of `venue` only (one subscription each) and asks for
    /// their snapshots; [`Feed::follow`] adds tokens later.
    pub async fn open_tokens(
        bus: &B,
        venue: &str,
        tokens: impl IntoIterator<Item = TokenId>,
    ) -> Result<Feed<B>, BusError> {
        let mut feed = Feed::empty(bus, venue, Some(HashSet::new()));
        for t in tokens {
            feed.follow(t).await?;
        }
        Ok(feed)
    }

    fn empty(bus: &B, venue: &str, followed: Option<HashSet<TokenId>>) -> Feed<B> {
        let (snaps, answers) = Snapshots::new(bus.clone(), venue);
        Feed { md: SelectAll::new(), followed, bus: bus.clone(), venue: venue.to_string(), snaps, answers }
    }

    /// Starts following `token` (a new round of a series): subscribes to its events, unless the
    /// feed has the whole venue or the token already, and asks for its snapshot.
    pub async fn follow(&mut self, token: TokenId) -> Result<(), BusError> {
        self.listen(token).await?;
        self.snaps.request(token);
        Ok(())
    }

    /// Subscribes to `token`'s events, unless the feed has the whole venue or the token already;
    /// no snapshot is asked for (for a caller that fetches the book itself).
    pub async fn listen(&mut self, token: TokenId) -> Result<(), BusError> {
        if let Some(followed) = &mut self.followed
            && !followed.contains(&token)
        {
            self.md.push(self.bus.subscribe(&subjects::market_data(&self.venue, &token)).await?);
            followed.insert(token);
        }
        Ok(())
    }

    /// The next event (a live one before a snapshot answer); `Err` for a message that does not
    /// decode (the caller counts it); `None` when the subscriptions ended. Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<MarketEvent, polyfleet_core::wire::WireError>> {
        loop {
            tokio::select! {
                biased;
                // No subscription yet (a strategy of a series before its first round): only
                // snapshot answers; an empty set would end at once.
                msg = futures::StreamExt::next(&mut self.md), if !self.md.is_empty() => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::ConditionId;
    use polyfleet_core::wire::{MarketEventBody, encode};
    use polyfleet_io::bus::memory::MemoryBus;

    fn event(token: TokenId, seq: u64) -> bytes::Bytes {
        let ev = MarketEvent {
            token,
            market: ConditionId::from_bytes([1; 32]),
            seq,
            venue_ts_ms: 1,
            recv_ts_ns: 1,
            body: MarketEventBody::FeedStatus { healthy: true },
        };
        encode(&ev).into()
    }

    async fn publish(bus: &MemoryBus, token: TokenId, seq: u64) {
        bus.publish(&subjects::market_data("sim", &token), Default::default(), event(token, seq)).await.unwrap();
    }

    async fn next_token(feed: &mut Feed<MemoryBus>) -> (TokenId, u64) {
        let ev = tokio::time::timeout(Duration::from_secs(2), feed.next()).await.unwrap().unwrap().unwrap();
        (ev.token, ev.seq)
    }

    #[tokio::test]
    async fn a_token_feed_hears_only_its_tokens_and_follows_new_ones_and_a_venue_feed_hears_all() {
        let bus = MemoryBus::new();
        let (a, b) = (TokenId::from_u128(1), TokenId::from_u128(2));
        // No token yet (a series before its first round): waits instead of ending.
        let mut tokens = Feed::open_tokens(&bus, "sim", []).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(50), tokens.next()).await.is_err());
        tokens.follow(a).await.unwrap();
        let mut venue = Feed::open_venue(&bus, "sim", []).await.unwrap();
        publish(&bus, b, 1).await;
        publish(&bus, a, 1).await;
        assert_eq!(next_token(&mut tokens).await, (a, 1), "B's event is not sent to a feed of A");
        assert_eq!((next_token(&mut venue).await, next_token(&mut venue).await), ((b, 1), (a, 1)));
        // Following B (twice: one subscription) brings its events.
        tokens.follow(b).await.unwrap();
        tokens.follow(b).await.unwrap();
        publish(&bus, b, 2).await;
        assert_eq!(next_token(&mut tokens).await, (b, 2));
        assert!(tokio::time::timeout(Duration::from_millis(50), tokens.next()).await.is_err(), "B's event once");
    }
}

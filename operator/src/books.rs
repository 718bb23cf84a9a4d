//! The throttled top of book the Market controller writes into status: one snapshot request
//! per token to the market-data agent that serves it (`mdsnap.<venue>.<token>`), at the Market's
//! requeue rate, never per tick. No answer (no shard yet, feed down, book not trusted) is what
//! the `FeedHealthy` condition reports. A trait so the controller is tested without NATS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use polyfleet_core::wire::{MarketEvent, MarketEventBody, decode, subjects};
use polyfleet_core::{Price, TokenId};
use polyfleet_io::bus::Bus;

/// Best prices of one token's book.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Top {
    /// Best bid, if any.
    pub best_bid: Option<Price>,
    /// Best ask, if any.
    pub best_ask: Option<Price>,
}

/// Reading a token's top of book from the fleet.
pub trait BookProbe: Send + Sync + 'static {
    /// The top of `token`'s book at `venue`, or `None` when no market-data agent has a trusted
    /// book of it.
    fn top<'a>(&'a self, venue: &'a str, token: &'a TokenId) -> BoxFuture<'a, Option<Top>>;
}

/// The top of a snapshot event.
pub fn top_of(event: &MarketEvent) -> Option<Top> {
    match &event.body {
        MarketEventBody::Snapshot { bids, asks, .. } => {
            Some(Top { best_bid: bids.first().map(|l| l.price), best_ask: asks.first().map(|l| l.price) })
        }
        _ => None,
    }
}

/// Asks the market-data agents over the bus.
pub struct BusBooks<B: Bus>(pub Arc<crate::dataplane::Lazy<B>>);

impl<B: Bus> BookProbe for BusBooks<B> {
    fn top<'a>(&'a self, venue: &'a str, token: &'a TokenId) -> BoxFuture<'a, Option<Top>> {
        Box::pin(async move {
            let subject = subjects::snapshot_request(venue, token);
            let payload =
                self.0.get().ok()?.request(&subject, Default::default(), Duration::from_secs(1)).await.ok()?;
            // An empty answer: the agent has no trusted book of the token.
            top_of(&decode::<MarketEvent>(&payload).ok()?)
        })
    }
}

/// A table of tops (tests, benchmarks).
#[derive(Clone, Default)]
pub struct MemoryBooks(pub Arc<Mutex<HashMap<TokenId, Top>>>);

impl BookProbe for MemoryBooks {
    fn top<'a>(&'a self, _venue: &'a str, token: &'a TokenId) -> BoxFuture<'a, Option<Top>> {
        let top = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(token).copied();
        Box::pin(async move { top })
    }
}

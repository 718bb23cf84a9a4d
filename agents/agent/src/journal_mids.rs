//! The journal agent's mids: the tokens the strategies trade are followed on their venue's market
//! data (the core's book followers, snapshots asked for at the start and after a gap), and each
//! token's mid is journaled when it changes, at most once per token per conflation interval (the
//! last mid of the interval is written at its end; a mid that came back to the last written one
//! writes nothing). Reports measure spread capture, inventory and markouts against these
//! ([`polyfleet_journal::mids`]).
//!
//! A token is followed from the first intent on it the agent journals, and at start the tokens
//! of the intents journaled in the last [`RESUME_WINDOW`] (what is probably still held). One task
//! per venue owns that venue's subscription and books. Mids are observations, not messages of a
//! durable stream: a write the database refuses is kept and tried again at the next interval, and
//! what moved while the agent was down is not seen.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use polyfleet_core::book::{BookFollower, Followed};
use polyfleet_core::{ConditionId, Price, TokenId, TokenMap};
use polyfleet_io::bus::Bus;
use polyfleet_journal::JournalStore;
use polyfleet_journal::mids::MidMark;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::feed::Feed;
use crate::metrics::{JournalMetrics, KindLabel};

/// How far back the intents are read at start for the tokens to follow.
pub const RESUME_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The venues' followers: a token named by an intent is sent to its venue's task.
pub struct Mids<B: Bus, J: JournalStore> {
    bus: B,
    journal: J,
    interval: Duration,
    metrics: Arc<JournalMetrics>,
    shutdown: watch::Receiver<bool>,
    venues: HashMap<String, mpsc::UnboundedSender<(ConditionId, TokenId)>>,
    tasks: JoinSet<()>,
}

impl<B: Bus, J: JournalStore> Mids<B, J> {
    /// Followers that write each token's mid at most once per `interval`.
    pub fn new(
        bus: B,
        journal: J,
        interval: Duration,
        metrics: Arc<JournalMetrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Mids<B, J> {
        Mids { bus, journal, interval, metrics, shutdown, venues: HashMap::new(), tasks: JoinSet::new() }
    }

    /// Follows `token` (of `market`) on `venue` from now (once: a token followed already is).
    pub fn follow(&mut self, venue: &str, market: ConditionId, token: TokenId) {
        let tx = self.venues.entry(venue.to_string()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let task = VenueMids {
                venue: venue.to_string(),
                journal: self.journal.clone(),
                metrics: self.metrics.clone(),
                books: TokenMap::default(),
                written: TokenMap::default(),
                pending: TokenMap::default(),
            };
            self.tasks.spawn(task.run(self.bus.clone(), rx, self.interval, self.shutdown.clone()));
            tx
        });
        let _ = tx.send((market, token));
    }

    /// Waits for the venues' tasks to write what they hold and end (after shutdown).
    pub async fn stopped(mut self) {
        self.venues.clear();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// One venue's books and mids.
struct VenueMids<J: JournalStore> {
    venue: String,
    journal: J,
    metrics: Arc<JournalMetrics>,
    books: TokenMap<(ConditionId, BookFollower)>,
    /// The last mid written per token.
    written: TokenMap<Price>,
    /// A changed mid not written yet: (event time, market, mid).
    pending: TokenMap<(u64, ConditionId, Price)>,
}

impl<J: JournalStore> VenueMids<J> {
    async fn run<B: Bus>(
        mut self,
        bus: B,
        mut tokens: mpsc::UnboundedReceiver<(ConditionId, TokenId)>,
        interval: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut feed = match Feed::open_venue(&bus, &self.venue, []).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(venue = %self.venue, error = %e, "market data not subscribed: no mids journaled for the venue");
                return;
            }
        };
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                Some((market, token)) = tokens.recv() => {
                    if let std::collections::hash_map::Entry::Vacant(e) = self.books.entry(token) {
                        e.insert((market, BookFollower::new()));
                        feed.resync(token);
                    }
                }
                Some(ev) = feed.next() => {
                    let Ok(ev) = ev else {
                        self.metrics.skipped.get_or_create(&KindLabel { kind: "malformed".into() }).inc();
                        continue;
                    };
                    let Some((market, book)) = self.books.get_mut(&ev.token) else { continue };
                    if let Followed::Gap { .. } = book.on_event(&ev) {
                        feed.resync(ev.token);
                        continue;
                    }
                    let market = *market;
                    if let Some(mid) = book.book().mid().filter(|_| book.seq().is_some() && !book.is_resolved()) {
                        if self.written.get(&ev.token) == Some(&mid) {
                            self.pending.remove(&ev.token);
                        } else {
                            self.pending.insert(ev.token, (ev.recv_ts_ns, market, mid));
                        }
                    }
                }
                _ = tick.tick() => self.flush().await,
            }
        }
        self.flush().await;
    }

    /// Writes the pending mids; kept for the next interval when the database refuses them.
    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut records = Vec::with_capacity(self.pending.len());
        for (token, (ts, market, mid)) in &self.pending {
            match MidMark::new(&self.venue, market, token, *mid).record(*ts) {
                Ok(r) => records.push(r),
                Err(e) => tracing::warn!(token = %token, error = %e, "mid not journaled"),
            }
        }
        match self.journal.append(&records).await {
            Ok(new) => {
                self.metrics.messages.get_or_create(&KindLabel { kind: "mid".into() }).inc_by(records.len() as u64);
                self.metrics.written.inc_by(new);
                for (token, (_, _, mid)) in self.pending.drain() {
                    self.written.insert(token, mid);
                }
            }
            Err(e) => {
                self.metrics.write_errors.inc();
                tracing::warn!(venue = %self.venue, mids = records.len(), error = %e, "mids not written; trying again at the next interval");
            }
        }
    }
}

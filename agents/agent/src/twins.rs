//! A shadow strategy's comparison with its live twin (`spec.shadowOf`), kept by the shadow's own
//! agent: it listens to both strategies' intents and to the twin's fills on the bus (its own
//! fills it already has), keeps them in the core's [`TwinTracker`] over the last
//! [`WINDOW`], and writes the totals every [`EVERY`] (when they changed) under
//! `subjects::twins_key`, which the operator reads into `status.twin`. The subscriptions are
//! plain (not durable): what happens while the agent is down is not compared, and the window
//! starts again at its start; `polyfleet report --twins` compares the whole journal.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use polyfleet_core::analytics::twins::{Twin, TwinTracker};
use polyfleet_core::config::StrategyConfig;
use polyfleet_core::wire::{Fill, Intent, decode, subjects};
use polyfleet_io::bus::{Bus, BusError, Message};

/// How far back orders are compared.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Most orders of each twin held.
pub const CAP: usize = 100_000;

/// How often the report is written (when it changed).
pub const EVERY: Duration = Duration::from_secs(5);

/// The comparison of a shadow strategy's agent.
pub struct Twins {
    live: String,
    own_intents: String,
    tracker: TwinTracker,
    last: Option<Instant>,
    written: Option<Vec<u8>>,
    key: String,
}

impl Twins {
    /// For a strategy that shadows another: the comparison and the bus messages it reads (both
    /// strategies' intents, the twin's fills). `None` for one that shadows nothing.
    pub async fn open<B: Bus>(
        bus: &B,
        cfg: &StrategyConfig,
        now_ns: u64,
    ) -> Result<Option<(Twins, BoxStream<'static, Message>)>, BusError> {
        match &cfg.shadow_of {
            Some(live) => Twins::of(bus, &cfg.namespace, &cfg.name, live, now_ns).await.map(Some),
            None => Ok(None),
        }
    }

    /// Strategy `name` of `namespace` shadowing `live`.
    pub async fn of<B: Bus>(
        bus: &B,
        namespace: &str,
        name: &str,
        live: &str,
        now_ns: u64,
    ) -> Result<(Twins, BoxStream<'static, Message>), BusError> {
        let own_intents = subjects::intents(namespace, name);
        let subs = vec![
            bus.subscribe(&own_intents).await?,
            bus.subscribe(&subjects::intents(namespace, live)).await?,
            bus.subscribe(&subjects::fills(namespace, live)).await?,
        ];
        let twins = Twins {
            key: subjects::twins_key(namespace, name),
            live: live.to_string(),
            own_intents,
            tracker: TwinTracker::new(now_ns, WINDOW.as_nanos().try_into().unwrap_or(u64::MAX), CAP),
            last: None,
            written: None,
        };
        Ok((twins, futures::stream::select_all(subs).boxed()))
    }

    /// An intent of either twin, or a fill of the live one.
    pub fn on_message(&mut self, msg: &Message) {
        let twin = if msg.subject == self.own_intents { Twin::Shadow } else { Twin::Live };
        if msg.subject.starts_with("fill.") {
            if let Ok(f) = decode::<Fill>(&msg.payload) {
                self.tracker.fill(Twin::Live, &f);
            }
            return;
        }
        match decode::<Intent>(&msg.payload) {
            Ok(Intent::Place(o)) => self.tracker.order(twin, &o),
            Ok(Intent::PlaceSet(legs)) => legs.iter().for_each(|o| self.tracker.order(twin, o)),
            _ => {}
        }
    }

    /// A fill of the shadow's own.
    pub fn own_fill(&mut self, f: &Fill) {
        self.tracker.fill(Twin::Shadow, f);
    }

    /// Writes the report when [`EVERY`] has passed since the last and it changed.
    pub async fn publish<B: Bus>(&mut self, bus: &B, now_ns: u64) {
        if self.last.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        let report = self.tracker.report(&self.live, now_ns);
        crate::strategy::put_if_changed(bus, &self.key, &report, &mut self.written, "twin comparison").await;
    }
}

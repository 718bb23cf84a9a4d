//! The embedded venue of `polyfleet up`: the simulator's model stepped in process at the Venue's
//! rate, its frames normalized by the market-data agent's own [`Normalizer`] and published on the
//! in-memory bus as the market-data agent publishes them (`md.<venue>.<token>`), and snapshot
//! requests (`mdsnap.<venue>.<token>`) answered from the same normalizer. The built-in crypto
//! models run here too, on the simulator's reference prices ([`ModelFeed`], rounds looked up in
//! its listing), their fair values published on `signal.<venue>.<token>` as the `updown-model`
//! agent publishes them. No sockets: the whole fleet is one process.
//!
//! Or a recording, replayed in lockstep ([`replay`]): each event, and each fair value the models
//! computed from the recording's reference prices, is published at the recording's
//! time (the agents' clock is set to it) and the next one waits until the fleet has settled (every
//! subscriber has taken what was sent to it, no durable consumer has work left, and the bus has
//! not moved for a few milliseconds), so the fleet decides on exactly the books the backtest of
//! the same recording decides on.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_backtest::signals::{ModelFeed, ModelSpec};
use polyfleet_backtest::source::Replayable;
use polyfleet_core::TokenId;
use polyfleet_core::wire::signal::{FairValue, subject as signal_subject};
use polyfleet_core::wire::{MarketEvent, encode, subjects};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::memory::MemoryBus;
use polyfleet_operator::local::CatalogLookup;
use polyfleet_polymarket::data::normalize::{Action, Normalizer};
use polyfleet_sim::Simulator;

use super::rounds::LocalRounds;
use tokio::sync::watch;

/// What the feed reports to the supervisor.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// A replay has sent its last event and the fleet has settled.
    pub done: AtomicBool,
}

fn wall_ns() -> u64 {
    polyfleet_agent::time::now_ns()
}

/// Publishes fair value `fv` as a model agent would.
async fn publish_signal(bus: &MemoryBus, venue: &str, fv: &FairValue) {
    let _ = bus.publish(&signal_subject(venue, &fv.token), vec![], Bytes::from(fv.encode())).await;
}

/// What the embedded venue runs beside the market: the built-in crypto models, and the live
/// series' rounds documents.
pub struct Live {
    /// The crypto models, on the simulator's reference prices.
    pub models: Vec<ModelSpec>,
    /// The series whose rounds the agents follow ([`LocalRounds`]).
    pub rounds: LocalRounds,
    /// The model's time is held to the agents' clock ([`polyfleet_agent::time::now_ms`], the
    /// Venue's, which may run faster than the wall): each tick makes the steps it is behind by
    /// (up to two seconds' worth), so a slow start or a late tick is made up. Else it steps at
    /// its rate from when it starts, whatever its time.
    pub pinned: bool,
}

/// How often (wall clock) the live series' rounds are looked at.
const ROUNDS_EVERY: Duration = Duration::from_millis(250);

/// The simulator's markets as its Gamma API answers for them: listed, and closed once resolved.
fn listing(sim: &Simulator) -> polyfleet_polymarket::data::catalog::Catalog {
    let mut catalog = sim.catalog();
    for (i, m) in catalog.markets.iter_mut().enumerate() {
        m.closed = sim.resolution(i).is_some();
    }
    catalog
}

/// Follows the simulator's markets listed since the last call (`known` of them): their tokens
/// added to the normalizer, from their snapshots.
fn follow_listed(sim: &Simulator, known: &mut usize, norm: &mut Normalizer, actions: &mut Vec<Action>) {
    let listed = &sim.markets()[(*known).min(sim.markets().len())..];
    let tokens: Vec<TokenId> = listed.iter().flat_map(|m| [m.yes, m.no]).collect();
    *known = sim.markets().len();
    norm.add_tokens(tokens.iter().copied());
    for t in &tokens {
        if let Some(f) = sim.snapshot_frame(t) {
            norm.on_frame(f.as_bytes(), wall_ns(), actions);
        }
    }
}

/// Runs the model until `shutdown`: `rate` model steps per second, the crypto models on its
/// reference prices, every market it lists followed, the live series' rounds documents kept.
pub async fn run(
    bus: MemoryBus,
    venue: String,
    mut sim: Simulator,
    rate: u32,
    live: Live,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Live { models, mut rounds, pinned } = live;
    let mut models: Vec<ModelFeed> = models.into_iter().map(ModelFeed::new).collect();
    let mut due = vec![];
    let mut norm = Normalizer::new(std::iter::empty());
    let mut actions = vec![];
    let mut known = 0;
    follow_listed(&sim, &mut known, &mut norm, &mut actions);
    let mut rounds_tick = tokio::time::interval(ROUNDS_EVERY);
    let nowhere = polyfleet_operator::planner::venue::VenueEndpoints::default();
    let mut requests = bus.subscribe(&format!("mdsnap.{}.*", subjects::token(&venue))).await?;
    // Steps come in small batches so high rates do not need a timer per step.
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let step_ms = sim.config().step_ms.max(1);
    let most = u64::from(rate.max(1)) * 2;
    let mut pacer = polyfleet_sim::pacer::Pacer::new(rate, std::time::Instant::now());
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(msg) = requests.next() => answer(&bus, msg, |t| norm.snapshot(t, wall_ns())).await,
            _ = rounds_tick.tick(), if !rounds.is_empty() => {
                rounds.poll(&CatalogLookup(listing(&sim)), &nowhere, &bus).await;
            }
            _ = tick.tick() => {
                if sim.markets().len() > known {
                    follow_listed(&sim, &mut known, &mut norm, &mut actions);
                }
                let steps = match pinned {
                    true => (polyfleet_agent::time::now_ms().saturating_sub(sim.now_ms()) / step_ms).min(most),
                    false => pacer.due(std::time::Instant::now()),
                };
                for _ in 0..steps {
                    let market = sim.step();
                    // The reference prices first: a round's book follows them.
                    for f in sim.take_rtds() {
                        let decoded = polyfleet_polymarket::websocket::rtds::decode(&f.text);
                        for m in &mut models {
                            m.on_frame(&decoded, &mut |slug| sim.catalog().by_slug(slug).cloned(), &mut due);
                        }
                    }
                    for fv in due.drain(..) {
                        publish_signal(&bus, &venue, &fv).await;
                    }
                    for f in market {
                        norm.on_frame(f.text.as_bytes(), wall_ns(), &mut actions);
                    }
                }
                for a in actions.drain(..) {
                    if let Action::Publish(ev) = a {
                        let subject = subjects::market_data(&venue, &ev.token);
                        let _ = bus.publish(&subject, vec![], Bytes::from(encode(&ev))).await;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Answers one snapshot request from `snapshot` (an empty reply means "no live book yet": the
/// agent asks again later).
async fn answer(bus: &MemoryBus, msg: polyfleet_io::bus::Message, snapshot: impl Fn(&TokenId) -> Option<MarketEvent>) {
    let Some(reply) = msg.reply else { return };
    let token = msg.subject.rsplit('.').next().and_then(|t| TokenId::parse(t).ok());
    let payload = token.and_then(|t| snapshot(&t)).map(|ev| Bytes::from(encode(&ev))).unwrap_or_default();
    let _ = bus.publish(&reply, vec![], payload).await;
}

/// What a replay publishes: the recording's market events, and the fair values the built-in
/// models computed from its reference prices (receive time ns, signal; in time order).
pub struct Recorded<E: Replayable> {
    /// The market events.
    pub events: E,
    /// The fair values.
    pub signals: Vec<(u64, FairValue)>,
}

/// Replays `recorded` in lockstep (see the module doc); waits `quiet` of stillness after each event
/// of a `followed` token.
pub async fn replay<E: Replayable + Send>(
    bus: MemoryBus,
    venue: String,
    recorded: Recorded<E>,
    followed: HashSet<TokenId>,
    quiet: Duration,
    stats: Arc<FeedStats>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut requests = bus.subscribe(&format!("mdsnap.{}.*", subjects::token(&venue))).await?;
    let Recorded { mut events, signals } = recorded;
    let mut now = 0u64;
    let mut signals = signals.into_iter().peekable();
    // Market events and fair values in time order (a fair value before an event of its time: it
    // was computed from a price received with or before it), as the backtest orders them.
    loop {
        let signal = match events.peek_ns() {
            Some(ns) => signals.next_if(|(at, _)| *at <= ns),
            None => signals.next(),
        };
        let token = if let Some((at, fv)) = signal {
            now = at;
            polyfleet_agent::time::set_replay_ns(now);
            publish_signal(&bus, &venue, &fv).await;
            fv.token
        } else {
            let Some(ev) = events.next() else { break };
            now = ev.recv_ts_ns;
            polyfleet_agent::time::set_replay_ns(now);
            let subject = subjects::market_data(&venue, &ev.token);
            bus.publish(&subject, vec![], Bytes::from(encode(&ev))).await?;
            ev.token
        };
        if *shutdown.borrow() {
            return Ok(());
        }
        if !followed.contains(&token) {
            continue;
        }
        // Settle: until nothing moved for `quiet` and no consumer has work, answering snapshot
        // requests meanwhile.
        loop {
            let before = bus.activity();
            let until = tokio::time::Instant::now() + quiet;
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return Ok(()),
                    Some(msg) = requests.next() => answer(&bus, msg, |t| events.snapshot(t, now)).await,
                    _ = tokio::time::sleep_until(until) => break,
                }
            }
            if bus.activity() == before && bus.unconsumed() == 0 && bus.backlog() == 0 {
                break;
            }
        }
    }
    stats.done.store(true, Ordering::Relaxed);
    // Keep answering until the fleet stops.
    loop {
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            Some(msg) = requests.next() => answer(&bus, msg, |t| events.snapshot(t, now)).await,
        }
    }
}

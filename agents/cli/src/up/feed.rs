//! The embedded venue of `polyfleet up`: the simulator's model stepped in process at the Venue's
//! rate, its frames normalized by the market-data agent's own [`Normalizer`] and published on the
//! in-memory bus as the market-data agent publishes them (`md.<venue>.<token>`), and snapshot
//! requests (`mdsnap.<venue>.<token>`) answered from the same normalizer. No sockets: the whole
//! fleet is one process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_core::TokenId;
use polyfleet_core::wire::{encode, subjects};
use polyfleet_polymarket::normalize::{Action, Normalizer};
use polyfleet_runtime::bus::Bus;
use polyfleet_sim::Simulator;
use tokio::sync::watch;

/// What the feed has done.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Frames the model produced.
    pub frames: AtomicU64,
    /// Events published.
    pub events: AtomicU64,
    /// Tokens with a live book.
    pub live: AtomicU64,
    /// Tokens served.
    pub tokens: AtomicU64,
}

fn wall_ns() -> u64 {
    polyfleet_agent::time::now_ns()
}

/// Runs the model until `shutdown`: `rate` model steps per second.
pub async fn run<B: Bus>(
    bus: B,
    venue: String,
    mut sim: Simulator,
    rate: u32,
    stats: Arc<FeedStats>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let tokens: Vec<TokenId> = sim.markets().iter().flat_map(|m| [m.yes, m.no]).collect();
    stats.tokens.store(tokens.len() as u64, Ordering::Relaxed);
    let mut norm = Normalizer::new(tokens.iter().copied());
    let mut actions = vec![];
    for t in &tokens {
        if let Some(f) = sim.snapshot_frame(t) {
            norm.on_frame(f.as_bytes(), wall_ns(), &mut actions);
        }
    }
    let mut requests = bus.subscribe(&format!("mdsnap.{}.*", subjects::token(&venue))).await?;
    // Steps come in small batches so high rates do not need a timer per step.
    let per_tick = (rate / 100).max(1);
    let period = Duration::from_secs_f64(f64::from(per_tick) / f64::from(rate.max(1)));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(msg) = requests.next() => {
                let Some(reply) = msg.reply else { continue };
                let token = msg.subject.rsplit('.').next().and_then(|t| TokenId::parse(t).ok());
                let snap = token.and_then(|t| norm.snapshot(&t, wall_ns()));
                // An empty reply means "no live book yet": the agent asks again later.
                let payload = snap.map(|ev| Bytes::from(encode(&ev))).unwrap_or_default();
                let _ = bus.publish(&reply, vec![], payload).await;
            }
            _ = tick.tick() => {
                for _ in 0..per_tick {
                    for f in sim.step() {
                        stats.frames.fetch_add(1, Ordering::Relaxed);
                        norm.on_frame(f.text.as_bytes(), wall_ns(), &mut actions);
                    }
                }
                for a in actions.drain(..) {
                    if let Action::Publish(ev) = a {
                        stats.events.fetch_add(1, Ordering::Relaxed);
                        let subject = subjects::market_data(&venue, &ev.token);
                        let _ = bus.publish(&subject, vec![], Bytes::from(encode(&ev))).await;
                    }
                }
                stats.live.store(norm.live_count() as u64, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

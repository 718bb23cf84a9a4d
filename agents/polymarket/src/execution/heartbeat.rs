//! The dead-man switch, as a task: a heartbeat every interval, each continuing the chain the
//! venue returned (one chain per API key, owned here). If the agent dies, heartbeats stop and the
//! venue cancels every open order of the account about 10 s later. The SDK's own heartbeat
//! feature is not used: dropping any clone of its client stops it silently (rs-clob-client-v2
//! #91). A failed beat starts a new chain on the next one.

use std::sync::Arc;
use std::time::Duration;

use crate::http::clob::Venue;
use polyfleet_io::execution::VenueMetrics;

/// Runs forever (abort the task to stop, as dying does).
pub async fn run(venue: Arc<Venue>, every: Duration, metrics: Arc<dyn VenueMetrics>) {
    let mut chain = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match venue.heartbeat(chain).await {
            Ok(next) => {
                chain = Some(next);
                metrics.heartbeat("ok");
            }
            Err(e) => {
                chain = None;
                metrics.heartbeat("error");
                tracing::warn!(error = %e, "heartbeat failed: starting a new chain");
            }
        }
    }
}

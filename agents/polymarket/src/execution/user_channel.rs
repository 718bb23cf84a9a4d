//! The user channel, as a task: connects, subscribes with the API credentials and the markets
//! traded, and forwards every decoded `order` and `trade` event. Its own WebSocket client (the
//! SDK's drops messages for slow consumers and freezes silently): `PING` every 10 s, an
//! inbound-silence watchdog, reconnection with backoff, and after every (re)subscription a REST
//! reconciliation (the account's trades, then its open orders as [`UserFeed::Reconciled`]) so
//! that nothing missed while disconnected stays missed; the tracker drops what it saw already.
//! Malformed events are counted and skipped. The credentials travel only in the subscription
//! frame; nothing of them is logged.

use std::sync::Arc;
use std::time::Duration;

use crate::websocket::user::{self, UserMessage};
use futures::{SinkExt, StreamExt};
use secrecy::ExposeSecret as _;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::http::clob::Venue;
use polyfleet_io::execution::VenueMetrics;

/// What the task forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFeed {
    /// A decoded event.
    Event(UserMessage),
    /// The venue's open orders, listed at `as_of_ns` (after the trades before it were sent).
    Reconciled {
        /// Venue ids of the open orders.
        open: Vec<String>,
        /// When they were listed, Unix ns.
        as_of_ns: u64,
    },
}

/// Settings of the task.
#[derive(Debug, Clone)]
pub struct UserChannel {
    /// User-channel WebSocket URL.
    pub url: String,
    /// Condition ids (`0x…`) to subscribe to; empty = every market of the account.
    pub markets: Vec<String>,
    /// Silence after which the connection is considered dead.
    pub silence: Duration,
}

/// Runs until `tx` is closed.
pub async fn run(cfg: UserChannel, venue: Arc<Venue>, tx: mpsc::Sender<UserFeed>, metrics: Arc<dyn VenueMetrics>) {
    let mut backoff = Duration::from_millis(200);
    while !tx.is_closed() {
        match session(&cfg, &venue, &tx, metrics.as_ref()).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => tracing::warn!(error = %e, "user channel lost"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One connection; returns when it ends.
async fn session(
    cfg: &UserChannel,
    venue: &Venue,
    tx: &mpsc::Sender<UserFeed>,
    metrics: &dyn VenueMetrics,
) -> Result<(), String> {
    let creds = venue.api_credentials();
    let (mut ws, _) = tokio_tungstenite::connect_async(cfg.url.as_str()).await.map_err(|e| e.to_string())?;
    let sub = json!({
        "auth": {"apiKey": creds.key().to_string(), "secret": creds.secret().expose_secret(), "passphrase": creds.passphrase().expose_secret()},
        "markets": cfg.markets,
        "type": "user",
    });
    ws.send(Message::Text(sub.to_string().into())).await.map_err(|e| e.to_string())?;
    metrics.user_connect();
    tracing::info!(markets = cfg.markets.len(), "user channel subscribed");
    // What happened while not subscribed: trades first, then the open orders.
    let as_of_ns = venue.now_ns();
    for t in venue.trades().await.map_err(|e| e.to_string())? {
        if tx.send(UserFeed::Event(UserMessage::Trade(t))).await.is_err() {
            return Ok(());
        }
    }
    let open = venue.open_orders().await.map_err(|e| e.to_string())?;
    if tx.send(UserFeed::Reconciled { open, as_of_ns }).await.is_err() {
        return Ok(());
    }
    let mut ping = tokio::time::interval(Duration::from_secs(10));
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if last.elapsed() > cfg.silence {
                    return Err(format!("no message for {:?}", cfg.silence));
                }
                ws.send(Message::Text("PING".into())).await.map_err(|e| e.to_string())?;
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => return Err("closed by the venue".into()),
                    Some(Ok(_)) => { last = tokio::time::Instant::now(); continue }
                    Some(Err(e)) => return Err(e.to_string()),
                };
                last = tokio::time::Instant::now();
                if text.as_str() == "PONG" {
                    continue;
                }
                let items = match user::decode(&text) {
                    Ok(items) => items,
                    Err(e) => {
                        metrics.user_event("malformed");
                        tracing::warn!(error = %e, "user-channel frame skipped");
                        continue;
                    }
                };
                for item in items {
                    match item {
                        Ok(m) => {
                            let kind = match &m { UserMessage::Order(_) => "order", UserMessage::Trade(_) => "trade" };
                            metrics.user_event(kind);
                            if tx.send(UserFeed::Event(m)).await.is_err() {
                                return Ok(());
                            }
                        }
                        Err(e) => {
                            metrics.user_event("malformed");
                            tracing::warn!(error = %e, "user-channel event skipped");
                        }
                    }
                }
            }
        }
    }
}

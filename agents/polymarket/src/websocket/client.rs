//! The market-channel WebSocket client: subscribe (with `custom_feature_enabled`), change the
//! asset set live, send a text `PING` every few seconds, trip an inbound-silence watchdog when no
//! data arrives (a `PONG` proves nothing about data), and reconnect forever with exponential
//! backoff and jitter. Every (re)connect resubscribes, which makes the venue send fresh `book`
//! snapshots: that is how gaps get repaired.
//!
//! The client only moves frames: it hands every data frame to its owner through a channel and
//! says when the connection came up or went down. Decoding and book keeping live elsewhere.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use polyfleet_core::TokenId;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// `wss://ws-subscriptions-clob.polymarket.com/ws/market` or the simulator's URL.
    pub url: String,
    /// How often to send `PING`.
    pub ping_every: Duration,
    /// Reconnect when no data frame arrived for this long.
    pub silence_timeout: Duration,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl WsConfig {
    /// Defaults for the venue: PING every 8 s, watchdog 60 s, backoff 250 ms .. 30 s.
    pub fn new(url: impl Into<String>) -> WsConfig {
        WsConfig {
            url: url.into(),
            ping_every: Duration::from_secs(8),
            silence_timeout: Duration::from_secs(60),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// What the client reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// Connected and subscribed to these assets; their snapshots follow.
    Connected {
        /// The assets subscribed.
        assets: Vec<TokenId>,
    },
    /// A data frame (text).
    Frame(String),
    /// The connection ended; the assets' books are stale until the next snapshots.
    Disconnected {
        /// Why, for people.
        reason: String,
    },
    /// No data for `silence_timeout`: the connection is being replaced.
    WatchdogTripped,
}

/// Changes to the subscription of a running client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsCommand {
    /// Add these assets.
    Subscribe(Vec<TokenId>),
    /// Drop these assets.
    Unsubscribe(Vec<TokenId>),
}

/// Tungstenite's settings for the market channel: a 16 KiB read buffer instead of its 128 KiB.
/// Tungstenite zero-fills the whole free buffer before every socket read, so with frames of a few
/// KiB arriving one or two a read the default spent 6 % of a market-data pod's CPU in `memset`
/// (the whole-venue benchmark's profile); 16 KiB still takes several frames a read, and messages
/// larger than the buffer (snapshots of 500 books) are read in more calls. Nagle's delay is off.
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(16 * 1024)
}

fn subscribe_msg(assets: &BTreeSet<TokenId>) -> String {
    let ids: Vec<String> = assets.iter().map(|t| format!("\"{t}\"")).collect();
    format!(r#"{{"assets_ids":[{}],"type":"market","custom_feature_enabled":true,"initial_dump":true}}"#, ids.join(","))
}

fn operation_msg(op: &str, assets: &[TokenId]) -> String {
    let ids: Vec<String> = assets.iter().map(|t| format!("\"{t}\"")).collect();
    format!(r#"{{"operation":"{op}","assets_ids":[{}],"custom_feature_enabled":true}}"#, ids.join(","))
}

/// Exponential backoff with up to 50 % jitter.
fn backoff(cfg: &WsConfig, attempt: u32, seed: &mut u64) -> Duration {
    let base = cfg.backoff_min.saturating_mul(1u32 << attempt.min(16)).min(cfg.backoff_max);
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let jitter = base.mul_f64((*seed % 1000) as f64 / 2000.0);
    base + jitter
}

/// Runs the client until `shutdown` turns true. Never gives up reconnecting.
pub async fn run(
    cfg: WsConfig,
    initial: Vec<TokenId>,
    mut commands: mpsc::Receiver<WsCommand>,
    events: mpsc::Sender<WsEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut assets: BTreeSet<TokenId> = initial.into_iter().collect();
    let mut attempt = 0u32;
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos().into()).unwrap_or(1) | 1;
    while !*shutdown.borrow() {
        let reason = match tokio_tungstenite::connect_async_with_config(cfg.url.as_str(), Some(ws_config()), true).await
        {
            Err(e) => format!("connect: {e}"),
            Ok((ws, _)) => {
                let (mut tx, mut rx) = ws.split();
                'conn: {
                    if let Err(e) = tx.send(Message::Text(subscribe_msg(&assets).into())).await {
                        break 'conn format!("subscribe: {e}");
                    }
                    if events.send(WsEvent::Connected { assets: assets.iter().copied().collect() }).await.is_err() {
                        return;
                    }
                    let mut ping = tokio::time::interval(cfg.ping_every);
                    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let mut last_data = Instant::now();
                    loop {
                        let watchdog = tokio::time::sleep_until((last_data + cfg.silence_timeout).into());
                        tokio::select! {
                            _ = shutdown.changed() => {
                                let _ = tx.send(Message::Close(None)).await;
                                return;
                            }
                            _ = watchdog => {
                                let _ = events.send(WsEvent::WatchdogTripped).await;
                                break 'conn "inbound silence watchdog".to_owned();
                            }
                            _ = ping.tick() => {
                                if let Err(e) = tx.send(Message::Text("PING".into())).await {
                                    break 'conn format!("ping: {e}");
                                }
                            }
                            Some(cmd) = commands.recv() => {
                                let msg = match cmd {
                                    WsCommand::Subscribe(list) => {
                                        let new: Vec<TokenId> = list.into_iter().filter(|t| assets.insert(*t)).collect();
                                        if new.is_empty() { continue }
                                        operation_msg("subscribe", &new)
                                    }
                                    WsCommand::Unsubscribe(list) => {
                                        let gone: Vec<TokenId> = list.into_iter().filter(|t| assets.remove(t)).collect();
                                        if gone.is_empty() { continue }
                                        operation_msg("unsubscribe", &gone)
                                    }
                                };
                                if let Err(e) = tx.send(Message::Text(msg.into())).await {
                                    break 'conn format!("send: {e}");
                                }
                            }
                            msg = rx.next() => match msg {
                                Some(Ok(Message::Text(t))) => {
                                    if t.as_str() == "PONG" {
                                        continue;
                                    }
                                    last_data = Instant::now();
                                    attempt = 0;
                                    if events.send(WsEvent::Frame(t.to_string())).await.is_err() {
                                        return;
                                    }
                                }
                                Some(Ok(Message::Binary(b))) => {
                                    last_data = Instant::now();
                                    if events.send(WsEvent::Frame(String::from_utf8_lossy(&b).into_owned())).await.is_err() {
                                        return;
                                    }
                                }
                                Some(Ok(Message::Close(frame))) => break 'conn format!("closed by peer: {frame:?}"),
                                Some(Ok(_)) => {}
                                Some(Err(e)) => break 'conn format!("read: {e}"),
                                None => break 'conn "stream ended".to_owned(),
                            }
                        }
                    }
                }
            }
        };
        if events.send(WsEvent::Disconnected { reason }).await.is_err() {
            return;
        }
        let delay = backoff(&cfg, attempt, &mut seed);
        attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let cfg = WsConfig::new("ws://x");
        let mut seed = 12345;
        let first = backoff(&cfg, 0, &mut seed);
        assert!(first >= cfg.backoff_min && first <= cfg.backoff_min.mul_f64(1.5));
        let late = backoff(&cfg, 30, &mut seed);
        assert!(late >= cfg.backoff_max && late <= cfg.backoff_max.mul_f64(1.5));
    }

    #[test]
    fn subscribe_messages_have_the_venue_shape() {
        let assets: BTreeSet<TokenId> = [TokenId::from_u128(2), TokenId::from_u128(1)].into();
        assert_eq!(
            subscribe_msg(&assets),
            r#"{"assets_ids":["1","2"],"type":"market","custom_feature_enabled":true,"initial_dump":true}"#
        );
        assert_eq!(
            operation_msg("unsubscribe", &[TokenId::from_u128(7)]),
            r#"{"operation":"unsubscribe","assets_ids":["7"],"custom_feature_enabled":true}"#
        );
    }
}

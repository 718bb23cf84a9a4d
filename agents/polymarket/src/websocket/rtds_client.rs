//! The real-time data stream's WebSocket client: connects, subscribes to the crypto price topics
//! unfiltered ([`rtds::subscribe_request`]), sends the stream's keep-alive (a text `PING` every
//! 5 s), hands every text frame over as it comes, and reconnects after a drop or a failed
//! connection (1 s apart) until told to stop. What was missed while disconnected is not replayed:
//! the reader hears of the gap ([`RtdsEvent::Disconnected`]). Used by the `updown-model` agent
//! and by `polyfleet record`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::rtds;

/// What the client hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtdsEvent {
    /// Connected and subscribed.
    Connected,
    /// A text frame, as received (prices, `PONG`, other topics).
    Frame(String),
    /// The connection ended (or could not be made); the client connects again.
    Disconnected(String),
}

/// Keep-alive period.
const PING_EVERY: Duration = Duration::from_secs(5);
/// Wait before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Streams `url` into `tx` until `stop` turns true or the receiver is gone.
pub async fn run(url: String, tx: mpsc::Sender<RtdsEvent>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let why = match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(e) => format!("connection failed: {e}"),
            Ok((ws, _)) => {
                let (mut sink, mut source) = ws.split();
                if let Err(e) = sink.send(Message::Text(rtds::subscribe_request().into())).await {
                    format!("subscription failed: {e}")
                } else {
                    if tx.send(RtdsEvent::Connected).await.is_err() {
                        return;
                    }
                    let mut ping = tokio::time::interval(PING_EVERY);
                    loop {
                        tokio::select! {
                            _ = stop.changed() => return,
                            _ = ping.tick() => {
                                if let Err(e) = sink.send(Message::Text("PING".into())).await {
                                    break format!("keep-alive failed: {e}");
                                }
                            }
                            frame = source.next() => match frame {
                                Some(Ok(Message::Text(t))) => {
                                    if tx.send(RtdsEvent::Frame(t.to_string())).await.is_err() {
                                        return;
                                    }
                                }
                                Some(Ok(Message::Close(_))) | None => break "closed by the server".to_string(),
                                Some(Err(e)) => break format!("read failed: {e}"),
                                Some(Ok(_)) => {}
                            },
                        }
                    }
                }
            }
        };
        if tx.send(RtdsEvent::Disconnected(why)).await.is_err() {
            return;
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(RECONNECT_AFTER) => {}
        }
    }
}

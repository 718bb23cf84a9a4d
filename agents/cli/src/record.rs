//! `polyfleet record`: subscribes to a venue's market channel and writes every frame it receives,
//! with its receive time, in the recording format of [`polyfleet_polymarket::data::recording`] (the
//! input of replays and backtests).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polyfleet_core::TokenId;
pub use polyfleet_polymarket::data::recording::{BadInput, ReadStats, Reader, RecordLine, create};
use polyfleet_polymarket::websocket::client::{self, WsConfig, WsEvent};
use tokio::sync::{mpsc, watch};

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Records until `duration` elapses (if given) or `stop` turns true; returns frames written.
pub async fn record(
    ws_url: String,
    tokens: Vec<TokenId>,
    out: &mut (dyn Write + Send),
    duration: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<u64> {
    let (tx, mut rx) = mpsc::channel(4096);
    let (_cmd_tx, cmd_rx) = mpsc::channel(1);
    let (ws_stop_tx, ws_stop) = watch::channel(false);
    let client = tokio::spawn(client::run(WsConfig::new(ws_url), tokens, cmd_rx, tx, ws_stop));
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut frames = 0u64;
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = stop.changed() => break,
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        };
        let Some(ev) = ev else { break };
        let line = match ev {
            WsEvent::Frame(text) => {
                frames += 1;
                RecordLine::frame(now_ns(), text)
            }
            WsEvent::Connected { .. } => RecordLine::connection(now_ns(), "connected"),
            WsEvent::Disconnected { .. } => RecordLine::connection(now_ns(), "disconnected"),
            WsEvent::WatchdogTripped => continue,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    let _ = ws_stop_tx.send(true);
    let _ = client.await;
    out.flush()?;
    Ok(frames)
}

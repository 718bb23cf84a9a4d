//! `polyfleet record`: subscribes to a venue's market channel and writes every frame it receives,
//! with its receive time, as JSON Lines (gzip when the file name ends in `.gz`). This is the input
//! format of replays and backtests.
//!
//! Each line is one object: `{"recv_ns":<u64>,"frame":"<frame text>"}` for a frame, or
//! `{"recv_ns":<u64>,"event":"connected"|"disconnected"}` for connection changes (a replay must
//! know that books went stale there).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use polyfleet_core::TokenId;
use polyfleet_polymarket::ws::{self, WsConfig, WsEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLine {
    /// Receive time, Unix nanoseconds.
    pub recv_ns: u64,
    /// The frame text, for data lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
    /// `connected` or `disconnected`, for connection lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// Opens a recording for writing (gzip when the name ends in `.gz`).
pub fn create(path: &PathBuf) -> anyhow::Result<Box<dyn Write + Send>> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let buffered = std::io::BufWriter::new(file);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::write::GzEncoder::new(buffered, flate2::Compression::fast()))
    } else {
        Box::new(buffered)
    })
}

/// Reads a recording (gzip or plain) line by line.
pub fn open(path: &PathBuf) -> anyhow::Result<impl Iterator<Item = anyhow::Result<RecordLine>>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(std::io::BufReader::new(reader)
        .lines()
        .map(|l| -> anyhow::Result<RecordLine> { serde_json::from_str(&l?).context("a recording line") }))
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
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
    let client = tokio::spawn(ws::run(WsConfig::new(ws_url), tokens, cmd_rx, tx, ws_stop));
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
                RecordLine { recv_ns: now_ns(), frame: Some(text), event: None }
            }
            WsEvent::Connected { .. } => RecordLine { recv_ns: now_ns(), frame: None, event: Some("connected".into()) },
            WsEvent::Disconnected { .. } => {
                RecordLine { recv_ns: now_ns(), frame: None, event: Some("disconnected".into()) }
            }
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

//! `polyfleet record`: subscribes to a venue's market channel and writes every frame it receives,
//! with its receive time, in the recording format of [`polyfleet_polymarket::data::recording`] (the
//! input of replays and backtests); given the real-time data stream's URL, its crypto prices too,
//! as lines of the `rtds` channel beside the market's (what backtests price crypto rounds from).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polyfleet_core::TokenId;
pub use polyfleet_polymarket::data::recording::{BadInput, ReadStats, Reader, RecordLine, create};
use polyfleet_polymarket::websocket::client::{self, WsConfig, WsEvent};
use polyfleet_polymarket::websocket::rtds_client::{self, RtdsEvent};
use tokio::sync::{mpsc, watch};

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Frames written, by channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Market-channel frames.
    pub market: u64,
    /// Real-time data stream frames.
    pub rtds: u64,
}

/// Records the market channel of `tokens` at `ws_url` (and the real-time data stream at
/// `rtds_url`, if given) until `duration` elapses (if given) or `stop` turns true.
pub async fn record(
    ws_url: String,
    tokens: Vec<TokenId>,
    rtds_url: Option<String>,
    out: &mut (dyn Write + Send),
    duration: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Recorded> {
    let (tx, mut rx) = mpsc::channel(4096);
    let (_cmd_tx, cmd_rx) = mpsc::channel(1);
    let (ws_stop_tx, ws_stop) = watch::channel(false);
    let client = tokio::spawn(client::run(WsConfig::new(ws_url), tokens, cmd_rx, tx, ws_stop.clone()));
    let (rtds_tx, mut rtds_rx) = mpsc::channel(4096);
    let rtds = rtds_url.map(|url| tokio::spawn(rtds_client::run(url, rtds_tx, ws_stop)));
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut n = Recorded::default();
    loop {
        let line = tokio::select! {
            ev = rx.recv() => match ev {
                None => break,
                Some(WsEvent::Frame(text)) => {
                    n.market += 1;
                    RecordLine::frame(now_ns(), text)
                }
                Some(WsEvent::Connected { .. }) => RecordLine::connection(now_ns(), "connected"),
                Some(WsEvent::Disconnected { .. }) => RecordLine::connection(now_ns(), "disconnected"),
                Some(WsEvent::WatchdogTripped) => continue,
            },
            Some(r) = rtds_rx.recv() => match r {
                RtdsEvent::Frame(text) => {
                    n.rtds += 1;
                    RecordLine::rtds(now_ns(), text)
                }
                // Connection changes of the stream are not recorded: the market channel's are
                // what replays act on, and a model sees a gap in the prices' own timestamps.
                RtdsEvent::Connected | RtdsEvent::Disconnected(_) => continue,
            },
            _ = stop.changed() => break,
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        };
        line.write_to(out)?;
    }
    let _ = ws_stop_tx.send(true);
    let _ = client.await;
    if let Some(r) = rtds {
        let _ = r.await;
    }
    out.flush()?;
    Ok(n)
}

//! `polyfleet record`: subscribes to a venue's market channel and writes every frame it receives,
//! with its receive time, in the recording format of [`polyfleet_polymarket::data::recording`] (the
//! input of replays and backtests); given the real-time data stream's URL, its crypto prices too,
//! as lines of the `rtds` channel beside the market's (what backtests price crypto rounds from).
//! Given up/down series to follow ([`SeriesFollow`]), each round is looked up on Gamma by slug as
//! the stream's prices reach its window (the current round and the next, by the prices' own
//! timestamps, as the model does), its tokens subscribed on the market channel as it comes, and
//! its market kept for the recording's catalog, so a recording of rolling rounds backtests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polyfleet_core::TokenId;
use polyfleet_core::models::rounds::LOOKUP_RETRY_MS;
pub use polyfleet_polymarket::data::recording::{BadInput, ReadStats, Reader, RecordLine, create};
use polyfleet_polymarket::http::markets::{ResolvedMarket, RestClient, Retry, series_slug};
use polyfleet_polymarket::websocket::client::{self, WsCommand, WsConfig, WsEvent};
use polyfleet_polymarket::websocket::rtds::{self, Decoded};
use polyfleet_polymarket::websocket::rtds_client::{self, RtdsEvent};
use tokio::sync::{mpsc, watch};

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Frames written, by channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Market-channel frames.
    pub market: u64,
    /// Real-time data stream frames.
    pub rtds: u64,
    /// The rounds of the followed series found, in the order found (the recording's catalog).
    pub rounds: Vec<ResolvedMarket>,
}

/// What follows a capture: the catalog of the rounds found (when following series) written
/// beside `out`, and with `columnar` the capture converted (its catalog from the rounds, else
/// `catalog` or the one beside `out`). Returns lines for the user.
pub fn finish(
    out: &std::path::Path,
    n: &Recorded,
    following: bool,
    columnar: Option<&std::path::Path>,
    catalog: Option<&std::path::Path>,
) -> anyhow::Result<Vec<String>> {
    let mut said = vec![format!("recorded {} market frames and {} RTDS frames to {}", n.market, n.rtds, out.display())];
    if following {
        let found = polyfleet_polymarket::data::catalog::Catalog { markets: n.rounds.clone(), events: vec![] };
        let path = polyfleet_polymarket::data::catalog::Catalog::beside(out);
        found.write(&path)?;
        said.push(format!("{} rounds in the catalog {}", found.markets.len(), path.display()));
    }
    if let Some(to) = columnar {
        let acc = crate::convert::run(out, catalog, to, crate::convert::Options::default())?;
        said.push(crate::convert::describe(out, to, &acc));
    }
    Ok(said)
}

/// Up/down series whose rounds are recorded as they roll.
#[derive(Debug, Clone)]
pub struct SeriesFollow {
    /// Gamma's base URL.
    pub gamma_url: String,
    /// `(coin, period)`: `("btc", "5m")`.
    pub series: Vec<(String, String)>,
}

/// The rounds of the followed series: which to look up when, and what was found.
struct Rounds {
    rest: RestClient,
    series: Vec<(String, String)>,
    found: BTreeSet<String>,
    /// A slug not found, and when it may be looked up again (stream ms).
    missed: BTreeMap<String, u64>,
}

impl Rounds {
    fn new(follow: &SeriesFollow) -> anyhow::Result<Rounds> {
        Ok(Rounds {
            rest: RestClient::new(follow.gamma_url.clone(), follow.gamma_url.clone(), Retry::default())?,
            series: follow.series.clone(),
            found: BTreeSet::new(),
            missed: BTreeMap::new(),
        })
    }

    /// At stream time `now_ms`: looks up the current and next round of every series not found
    /// yet; the tokens of each found are subscribed through `cmd`, its market kept in `out`.
    async fn at(&mut self, now_ms: u64, cmd: &mpsc::Sender<WsCommand>, out: &mut Vec<ResolvedMarket>) {
        let now_s = now_ms / 1000;
        for (coin, period) in &self.series {
            let Some(len) = polyfleet_core::models::updown::period_seconds(period) else { continue };
            for at in [now_s, now_s + len] {
                let Some(slug) = series_slug(coin, period, at) else { continue };
                if self.found.contains(&slug) || self.missed.get(&slug).is_some_and(|t| now_ms < *t) {
                    continue;
                }
                match self.rest.market_by_slug(&slug).await {
                    Ok(Some(m)) => {
                        tracing::info!(%slug, "round found: recording its tokens");
                        let _ = cmd.send(WsCommand::Subscribe(m.tokens.iter().map(|t| t.token_id).collect())).await;
                        self.missed.remove(&slug);
                        self.found.insert(slug);
                        out.push(m);
                    }
                    Ok(None) => {
                        self.missed.insert(slug, now_ms + LOOKUP_RETRY_MS);
                    }
                    Err(e) => {
                        tracing::warn!(%slug, error = %e, "round lookup failed");
                        self.missed.insert(slug, now_ms + LOOKUP_RETRY_MS);
                    }
                }
            }
        }
    }
}

/// Records the market channel of `tokens` at `ws_url` (and the real-time data stream at
/// `rtds_url`, if given, with the rounds of `follow`'s series as they roll) until `duration`
/// elapses (if given) or `stop` turns true.
pub async fn record(
    ws_url: String,
    tokens: Vec<TokenId>,
    rtds_url: Option<String>,
    follow: Option<SeriesFollow>,
    out: &mut (dyn Write + Send),
    duration: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Recorded> {
    anyhow::ensure!(
        follow.is_none() || rtds_url.is_some(),
        "following series needs the real-time data stream (its prices are the clock)"
    );
    let mut rounds = follow.as_ref().map(Rounds::new).transpose()?;
    let (tx, mut rx) = mpsc::channel(4096);
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (ws_stop_tx, ws_stop) = watch::channel(false);
    let client = tokio::spawn(client::run(WsConfig::new(ws_url), tokens, cmd_rx, tx, ws_stop.clone()));
    let (rtds_tx, mut rtds_rx) = mpsc::channel(4096);
    let rtds = rtds_url.map(|url| tokio::spawn(rtds_client::run(url, rtds_tx, ws_stop)));
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut n = Recorded::default();
    loop {
        let mut price_ms = None;
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
                    if rounds.is_some()
                        && let Ok(Decoded::Tick(t)) = rtds::decode(&text)
                    {
                        price_ms = Some(t.ts_ms);
                    }
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
        if let (Some(r), Some(ms)) = (rounds.as_mut(), price_ms) {
            r.at(ms, &cmd_tx, &mut n.rounds).await;
        }
    }
    let _ = ws_stop_tx.send(true);
    let _ = client.await;
    if let Some(r) = rtds {
        let _ = r.await;
    }
    out.flush()?;
    Ok(n)
}

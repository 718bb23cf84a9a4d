//! The market-data agent: serves a shard of tokens from the venue's market channel and publishes
//! normalized, numbered events on NATS (`md.<venue>.<token>`), answers snapshot requests
//! (`mdsnap.<venue>.<token>`) so a late or gapped subscriber starts from a consistent book, and
//! resyncs a book over REST when its hash disagrees with the venue's.
//!
//! One task owns the [`Normalizer`] (no locks on the hot path); WebSocket connections (at most
//! `assets_per_connection` tokens each) and REST resyncs feed it through channels.
//!
//! Market status (with a REST URL): a `market_resolved` frame is published only once the CLOB's
//! market endpoint names the winner (asked again every `confirm_every` until it does), and every
//! served market's status is read every `status_every`: a market that stops accepting orders
//! before it resolves is published as not trading, and a resolution no connection heard (this
//! agent was down) is published as found. Both are restated on every read, so a consumer that
//! starts later (an execution agent after a restart) hears them; settlements are idempotent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_nats::Subject;
use futures::StreamExt;
use polyfleet_core::wire::{MarketEventBody, encode, subjects};
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_polymarket::data::normalize::{Action, Normalizer};
use polyfleet_polymarket::http::market_status::MarketStatus;
use polyfleet_polymarket::http::markets::{RestClient, Retry};
use polyfleet_polymarket::websocket::client::{self, WsCommand, WsConfig, WsEvent};
use polyfleet_polymarket::{DecodeStats, EventKind};
use tokio::sync::{mpsc, watch};

use crate::metrics::{KindLabel, MarketDataMetrics};

/// What the agent serves and where it connects.
#[derive(Debug, Clone)]
pub struct MarketDataConfig {
    /// Venue name (the `<venue>` token of subjects).
    pub venue: String,
    /// Market-channel WebSocket URL.
    pub ws_url: String,
    /// CLOB REST base URL for `/book` resyncs (none: no resync, rely on resubscribe).
    pub rest_url: Option<String>,
    /// Tokens to serve.
    pub tokens: Vec<TokenId>,
    /// KV keys of the `series` Markets whose rounds it serves as they come
    /// ([`polyfleet_core::config::RoundsDoc`]), beside `tokens`.
    pub series: Vec<String>,
    /// Tokens per WebSocket connection (the venue drops snapshots beyond about 500).
    pub assets_per_connection: usize,
    /// NATS server URL.
    pub nats_url: String,
    /// WebSocket keepalive, watchdog and backoff settings (the URL field is ignored).
    pub ws: WsConfig,
    /// How often every served market's REST status is read (needs `rest_url`).
    pub status_every: Duration,
    /// How often a resolution awaiting REST confirmation is asked about again.
    pub confirm_every: Duration,
}

impl MarketDataConfig {
    /// Defaults for the market-status reads: every 30 s, confirmations every 2 s.
    pub const STATUS_EVERY: Duration = Duration::from_secs(30);
    /// See [`MarketDataConfig::STATUS_EVERY`].
    pub const CONFIRM_EVERY: Duration = Duration::from_secs(2);
}

type StatusReply = (ConditionId, Result<Option<MarketStatus>, String>);

/// Reads the REST status of `markets` one after the other (one request at a time per round, well
/// inside the venue's rate limits) and hands each answer to the owner. A round still running
/// when the next is due is not doubled: `busy` says so, and the new round is skipped.
fn read_statuses(rest: &RestClient, markets: Vec<ConditionId>, tx: &mpsc::Sender<StatusReply>, busy: &Arc<AtomicBool>) {
    if markets.is_empty() || busy.swap(true, Ordering::AcqRel) {
        return;
    }
    let (rest, tx, busy) = (rest.clone(), tx.clone(), busy.clone());
    tokio::spawn(async move {
        for m in markets {
            let st = rest.market_status(&m).await.map_err(|e| e.to_string());
            if tx.send((m, st)).await.is_err() {
                break;
            }
        }
        busy.store(false, Ordering::Release);
    });
}

fn now_ns() -> u64 {
    crate::time::now_ns()
}

/// Runs until `shutdown` turns true; returns after flushing NATS.
pub async fn run(
    cfg: MarketDataConfig,
    metrics: Arc<MarketDataMetrics>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let nats =
        async_nats::connect(&cfg.nats_url).await.with_context(|| format!("connecting to NATS at {}", cfg.nats_url))?;
    let snapshot_subject = format!("mdsnap.{}.*", subjects::token(&cfg.venue));
    let mut snapshot_requests = nats.subscribe(snapshot_subject).await.context("subscribing to snapshot requests")?;
    let mut subjects: HashMap<TokenId, Subject> =
        cfg.tokens.iter().map(|t| (*t, Subject::from(subjects::market_data(&cfg.venue, t)))).collect();

    // Shards: one WebSocket connection per `assets_per_connection` tokens.
    let (events_tx, mut events) = mpsc::channel::<(usize, WsEvent)>(8192);
    let mut conns = Connections { cfg: cfg.clone(), events_tx, shards: vec![], scopes: vec![], commands: vec![] };
    for chunk in cfg.tokens.chunks(cfg.assets_per_connection.max(1)) {
        conns.open(chunk.to_vec(), &shutdown);
    }
    // The rounds of the series Markets this shard serves, followed live on the KV bucket.
    let mut series = SeriesTokens::default();
    let mut rounds = match cfg.series.is_empty() {
        true => futures::stream::pending().boxed(),
        false => {
            let bus = polyfleet_io::bus::nats::NatsBus::connect(&cfg.nats_url).await?;
            polyfleet_io::bus::kv_watch_all(&bus, &cfg.series).await?
        }
    };

    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().context("building the HTTP client")?;
    let (resync_tx, mut resyncs) = mpsc::channel::<(TokenId, Result<String, String>)>(64);
    let rest = match &cfg.rest_url {
        Some(url) => {
            Some(RestClient::new(url.clone(), url.clone(), Retry::default()).context("building the REST client")?)
        }
        None => None,
    };
    let (status_tx, mut statuses) = mpsc::channel::<StatusReply>(256);
    let mut status_timer = tokio::time::interval(cfg.status_every.max(Duration::from_millis(100)));
    let mut confirm_timer = tokio::time::interval(cfg.confirm_every.max(Duration::from_millis(100)));
    let mut resolved: HashSet<ConditionId> = HashSet::new();
    // One round in flight at a time per kind: the all-markets poll, the confirmations.
    let (polling, confirming) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let mut norm = Normalizer::new(cfg.tokens.iter().copied());
    let shards = &mut conns;
    if rest.is_some() {
        norm = norm.confirming_resolutions();
    }
    let mut actions = Vec::with_capacity(64);
    let mut seen = DecodeStats::default();
    // Readiness, the live-token gauge and the decoder's counters are refreshed on a timer, not
    // per event (they scan every token or allocate labels).
    let mut gauges = tokio::time::interval(Duration::from_millis(250));
    tracing::info!(venue = %cfg.venue, tokens = cfg.tokens.len(), connections = shards.shards.len(), "market data starting");

    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some((shard, ev)) = events.recv() => match ev {
                WsEvent::Frame(text) => {
                    metrics.frames.inc();
                    norm.on_frame_scoped(text.as_bytes(), &shards.scopes[shard], now_ns(), &mut actions);
                }
                WsEvent::Connected { .. } => {
                    metrics.connects.inc();
                }
                WsEvent::Disconnected { reason } => {
                    metrics.disconnects.inc();
                    tracing::warn!(shard, %reason, "market connection lost; reconnecting");
                    norm.on_disconnected(&shards.shards[shard], now_ns(), &mut actions);
                }
                WsEvent::WatchdogTripped => {
                    metrics.watchdog_trips.inc();
                    tracing::warn!(shard, "no market data within the silence timeout");
                }
            },
            Some(msg) = snapshot_requests.next() => {
                let token = msg.subject.rsplit('.').next().and_then(|t| TokenId::parse(t).ok());
                let payload = token.and_then(|t| norm.snapshot(&t, now_ns())).map(|ev| encode(&ev)).unwrap_or_default();
                if let Some(reply) = msg.reply {
                    metrics.snapshot_requests.inc();
                    // An empty reply means "no live book yet": ask again later.
                    let _ = nats.publish(reply, payload.into()).await;
                }
            }
            _ = gauges.tick() => {
                metrics.live_tokens.set(norm.live_count() as i64);
                metrics.set_ready(norm.all_live());
                account(&metrics, &mut seen, norm.decode_stats());
                let unverifiable = norm.stats().unverifiable_snapshots;
                if unverifiable > metrics.unverifiable_snapshots.get() {
                    metrics.unverifiable_snapshots.inc_by(unverifiable - metrics.unverifiable_snapshots.get());
                }
            }
            _ = status_timer.tick(), if rest.is_some() => {
                if let Some(rest) = &rest {
                    read_statuses(rest, norm.markets(), &status_tx, &polling);
                }
            }
            _ = confirm_timer.tick(), if rest.is_some() => {
                let waiting = norm.unconfirmed_resolutions();
                if let Some(rest) = &rest {
                    read_statuses(rest, waiting, &status_tx, &confirming);
                }
            }
            Some((market, st)) = statuses.recv() => {
                let outcome = match st {
                    Ok(Some(st)) => {
                        let disagreements = norm.stats().resolution_disagreements;
                        norm.on_market_status(&st, now_ns(), &mut actions);
                        metrics.resolution_disagreements.inc_by(norm.stats().resolution_disagreements - disagreements);
                        if st.winner().is_some() && resolved.insert(market) {
                            metrics.resolutions.inc();
                            tracing::info!(%market, winner = ?st.winner(), "market resolution confirmed over REST");
                        }
                        metrics.markets_halted.set(i64::try_from(norm.halted_markets()).unwrap_or(i64::MAX));
                        "ok"
                    }
                    Ok(None) => "unknown",
                    Err(e) => {
                        tracing::warn!(%market, error = %e, "market status read failed; asked again later");
                        "error"
                    }
                };
                metrics.market_status.get_or_create(&KindLabel { kind: outcome.into() }).inc();
            }
            Some(entry) = rounds.next() => {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => { tracing::warn!(error = %e, "rounds watch failed"); continue }
                };
                let Some((added, dropped)) = series.update(&entry.key, &entry.value) else {
                    tracing::warn!(series = %entry.key, "unreadable rounds document: nothing changed");
                    metrics.rounds.get_or_create(&KindLabel { kind: "refused".into() }).inc();
                    continue;
                };
                if !dropped.is_empty() {
                    shards.unsubscribe(&dropped).await;
                    norm.remove_tokens(&dropped);
                    for t in &dropped { subjects.remove(t); }
                }
                if !added.is_empty() {
                    tracing::info!(series = %entry.key, tokens = added.len(), "serving the series' new rounds");
                    metrics.rounds.get_or_create(&KindLabel { kind: "added".into() }).inc_by(added.len() as u64 / 2);
                    for t in &added { subjects.insert(*t, Subject::from(subjects::market_data(&cfg.venue, t))); }
                    norm.add_tokens(added.iter().copied());
                    shards.subscribe(added, &shutdown).await;
                }
            }
            Some((token, body)) = resyncs.recv() => match body {
                Ok(text) => {
                    metrics.resyncs.inc();
                    norm.on_frame(text.as_bytes(), now_ns(), &mut actions);
                }
                Err(e) => tracing::warn!(%token, error = %e, "book resync failed; waiting for the next snapshot"),
            },
        }
        for action in actions.drain(..) {
            match action {
                Action::Publish(ev) => {
                    if let MarketEventBody::Snapshot { .. } | MarketEventBody::Delta(_) = ev.body {
                        let lag = (ev.recv_ts_ns / 1_000_000).saturating_sub(ev.venue_ts_ms);
                        metrics.event_lag.observe(lag as f64 / 1000.0);
                    }
                    let Some(subject) = subjects.get(&ev.token) else { continue };
                    if let Err(e) = nats.publish(subject.clone(), encode(&ev).into()).await {
                        tracing::error!(error = %e, "publishing a market event failed");
                        continue;
                    }
                    metrics.published.inc();
                }
                Action::ConfirmResolution(market) => {
                    tracing::info!(%market, "market channel says resolved: confirming over REST");
                    if let Some(rest) = &rest {
                        // Asked at once when no confirmation round runs; else the next round
                        // (every `confirm_every`) asks.
                        read_statuses(rest, vec![market], &status_tx, &confirming);
                    }
                }
                Action::Resync(token) => {
                    metrics.hash_mismatches.inc();
                    let Some(base) = cfg.rest_url.clone() else { continue };
                    let (http, tx) = (http.clone(), resync_tx.clone());
                    tokio::spawn(async move {
                        let url = format!("{base}/book?token_id={token}");
                        let body = async { http.get(&url).send().await?.error_for_status()?.text().await }.await;
                        let _ = tx.send((token, body.map_err(|e| e.to_string()))).await;
                    });
                }
            }
        }
    }
    tracing::info!("market data stopping: flushing NATS");
    nats.flush().await.context("flushing NATS")?;
    Ok(())
}

/// The market-channel connections: each one's tokens (and as a set, the scope its frames are
/// read in) and the sender of its live subscriptions.
struct Connections {
    cfg: MarketDataConfig,
    events_tx: mpsc::Sender<(usize, WsEvent)>,
    shards: Vec<Vec<TokenId>>,
    scopes: Vec<HashSet<TokenId>>,
    commands: Vec<mpsc::Sender<WsCommand>>,
}

impl Connections {
    /// Opens a connection serving `tokens`.
    fn open(&mut self, tokens: Vec<TokenId>, shutdown: &watch::Receiver<bool>) {
        let i = self.shards.len();
        let (tx, mut rx) = mpsc::channel(4096);
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let ws_cfg = WsConfig { url: self.cfg.ws_url.clone(), ..self.cfg.ws.clone() };
        tokio::spawn(client::run(ws_cfg, tokens.clone(), cmd_rx, tx, shutdown.clone()));
        let forward = self.events_tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if forward.send((i, ev)).await.is_err() {
                    break;
                }
            }
        });
        self.scopes.push(tokens.iter().copied().collect());
        self.shards.push(tokens);
        self.commands.push(cmd_tx);
    }

    /// Serves `tokens` too: subscribed on the connections with room (the last ones), else on new
    /// ones, `assets_per_connection` each.
    async fn subscribe(&mut self, mut tokens: Vec<TokenId>, shutdown: &watch::Receiver<bool>) {
        let per = self.cfg.assets_per_connection.max(1);
        while !tokens.is_empty() {
            match self.shards.iter().rposition(|s| s.len() < per) {
                Some(i) => {
                    let take: Vec<TokenId> = tokens.drain(..tokens.len().min(per - self.shards[i].len())).collect();
                    self.shards[i].extend(&take);
                    self.scopes[i].extend(&take);
                    let _ = self.commands[i].send(WsCommand::Subscribe(take)).await;
                }
                None => {
                    let take: Vec<TokenId> = tokens.drain(..tokens.len().min(per)).collect();
                    self.open(take, shutdown);
                }
            }
        }
    }

    /// Serves `tokens` no longer.
    async fn unsubscribe(&mut self, tokens: &[TokenId]) {
        for i in 0..self.shards.len() {
            let mine: Vec<TokenId> = tokens.iter().filter(|t| self.scopes[i].contains(t)).copied().collect();
            if mine.is_empty() {
                continue;
            }
            self.shards[i].retain(|t| !mine.contains(t));
            self.scopes[i].retain(|t| !mine.contains(t));
            let _ = self.commands[i].send(WsCommand::Unsubscribe(mine)).await;
        }
    }
}

/// The tokens of each followed series Market's rounds document.
#[derive(Default)]
struct SeriesTokens {
    by_key: HashMap<String, HashSet<TokenId>>,
}

impl SeriesTokens {
    /// A new document for `key`: the tokens to serve from now on and those to drop (rounds gone
    /// from every document); `None` for a document that does not read.
    fn update(&mut self, key: &str, value: &[u8]) -> Option<(Vec<TokenId>, Vec<TokenId>)> {
        let doc = polyfleet_core::config::RoundsDoc::from_json(value).ok()?;
        let now: HashSet<TokenId> = doc
            .rounds
            .iter()
            .flat_map(|r| [&r.yes.token, &r.no.token])
            .filter_map(|t| TokenId::parse(t).ok())
            .collect();
        let before = self.by_key.insert(key.to_string(), now.clone()).unwrap_or_default();
        let elsewhere = |t: &TokenId, me: &str| self.by_key.iter().any(|(k, ts)| k != me && ts.contains(t));
        let mut added: Vec<TokenId> = now.difference(&before).filter(|t| !elsewhere(t, key)).copied().collect();
        let mut dropped: Vec<TokenId> = before.difference(&now).filter(|t| !elsewhere(t, key)).copied().collect();
        added.sort();
        dropped.sort();
        Some((added, dropped))
    }
}

/// Moves the decoder's counters into the metrics (only the increase since the last call).
fn account(metrics: &MarketDataMetrics, seen: &mut DecodeStats, now: &DecodeStats) {
    for (i, kind) in EventKind::ALL.iter().enumerate() {
        let d = now.events[i] - seen.events[i];
        if d > 0 {
            metrics.events.get_or_create(&KindLabel { kind: kind.as_str().into() }).inc_by(d);
        }
    }
    for (kind, now_v, seen_v) in [
        ("malformed_frame", now.malformed_frame, seen.malformed_frame),
        ("invalid_event", now.invalid_event, seen.invalid_event),
        ("unknown_type", now.unknown_type, seen.unknown_type),
        ("unsupported_schema", now.unsupported_schema, seen.unsupported_schema),
    ] {
        if now_v > seen_v {
            metrics.decode_errors.get_or_create(&KindLabel { kind: kind.into() }).inc_by(now_v - seen_v);
        }
    }
    *seen = now.clone();
}

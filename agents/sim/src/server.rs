//! The simulator as a network venue: Polymarket's market WebSocket (`/ws/market`), its RTDS crypto
//! price stream (`/rtds`, see [`crate::crypto`]) and the REST endpoints the adapter uses (CLOB
//! `/book`, `/books`, `/tick-size`, `/neg-risk`, `/fee-rate`, `/markets/{condition_id}`; Gamma
//! `/markets`, `/events`; the simulated chain's JSON-RPC at `/rpc`), driven by the [`Simulator`] model at a fixed event rate, with fault injection (drop
//! connections, freeze data while still answering PING, malformed frames, delay) from code ([`SimHandle`]) or over HTTP (`POST /sim/faults/...`).
//!
//! Consistency: every frame carries the model step that produced it; a subscription snapshot is
//! taken under the model's lock and records its step, and a connection forwards a token's frames
//! only from after its snapshot. A connection that falls behind the broadcast is closed, like a
//! venue dropping a slow client; the client's reconnect brings fresh snapshots.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{SinkExt, StreamExt};
use polyfleet_core::TokenId;
use polyfleet_polymarket::data::book_hash::format_price;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, broadcast, watch};

use crate::exchange::{Exchange, ExchangeConfig, UserEvent};
use crate::model::{SimConfig, Simulator};
use crate::source::Source;
use crate::venue_auth::Accounts;

/// A frame with the model step that produced it.
#[derive(Debug, Clone)]
struct Stamped {
    step: u64,
    assets: Arc<[TokenId]>,
    text: Arc<str>,
}

/// Fault knobs, shared by every connection.
#[derive(Debug, Default)]
struct Faults {
    /// While true, no data frame is sent (PING is still answered).
    frozen: AtomicBool,
    /// Every n-th data frame is preceded by a malformed frame (0 = never).
    malformed_every: AtomicU64,
    /// Delay before each data frame, in ms.
    delay_ms: AtomicU64,
    /// While true, the model does not step (the market stands still).
    paused: AtomicBool,
}

pub(crate) struct Shared {
    pub(crate) sim: Mutex<(Box<dyn Source>, u64)>,
    frames: broadcast::Sender<Stamped>,
    /// RTDS frames (crypto reference prices), to every RTDS connection.
    rtds: broadcast::Sender<Arc<crate::crypto::RtdsFrame>>,
    faults: Faults,
    /// Bumped to close every open connection.
    pub(crate) drops: watch::Sender<u64>,
    frames_sent: AtomicU64,
    connections: AtomicU64,
    /// The order API's matching and settlement (lock after `sim` when both are needed).
    pub(crate) exchange: Mutex<Exchange>,
    /// API keys issued.
    pub(crate) accounts: Mutex<Accounts>,
    /// Events of the user channel.
    pub(crate) user_events: broadcast::Sender<UserEvent>,
    /// Requests refused for their authentication (L1, L2 or user channel).
    pub(crate) auth_failures: AtomicU64,
    /// Orders refused for their signature or payload.
    pub(crate) signature_failures: AtomicU64,
    /// Orders posted (authenticated), each leg of a batch counting one.
    pub(crate) order_posts: AtomicU64,
    /// Posts of an order the exchange already had (refused as duplicates).
    pub(crate) duplicate_posts: AtomicU64,
    /// Until this Unix ms, order endpoints answer 425 (a matching-engine restart).
    pub(crate) engine_restart_until_ms: AtomicU64,
    /// The simulated Polygon (lock after `sim` and `exchange` when several are needed).
    pub(crate) chain: Mutex<crate::chain::Chain>,
    /// The gasless relayer's transactions (lock after `chain`).
    pub(crate) relayer: Mutex<crate::relayer::Relayer>,
}

impl Shared {
    fn drop_connections(&self) {
        self.drops.send_modify(|n| *n += 1);
    }
    fn freeze(&self, frozen: bool) {
        self.faults.frozen.store(frozen, Ordering::SeqCst);
    }
    fn malformed_every(&self, n: u64) {
        self.faults.malformed_every.store(n, Ordering::SeqCst);
    }
    fn delay_ms(&self, ms: u64) {
        self.faults.delay_ms.store(ms, Ordering::SeqCst);
    }
}

/// Control of a running simulator server.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl SimHandle {
    /// Closes every open WebSocket connection now.
    pub fn drop_connections(&self) {
        self.shared.drop_connections();
    }

    /// Stops (true) or resumes (false) data frames; PING is still answered.
    pub fn freeze(&self, frozen: bool) {
        self.shared.freeze(frozen);
    }

    /// Sends a malformed frame before every n-th data frame (0 turns it off).
    pub fn malformed_every(&self, n: u64) {
        self.shared.malformed_every(n);
    }

    /// Pauses (true) or resumes (false) the model: while paused the market stands still, so
    /// consumers can converge on the truth.
    pub fn pause(&self, paused: bool) {
        self.shared.faults.paused.store(paused, Ordering::SeqCst);
    }

    /// Delays every data frame by `ms`.
    pub fn delay_ms(&self, ms: u64) {
        self.shared.delay_ms(ms);
    }

    /// The true book of a token right now, and the model step it reflects.
    pub async fn truth(&self, token: &TokenId) -> Option<(polyfleet_core::book::OrderBook, u64)> {
        let guard = self.shared.sim.lock().await;
        Some((guard.0.book(token)?, guard.1))
    }

    /// Runs `f` on the model (read-only); `None` when the server replays a recording.
    pub async fn with_model<R>(&self, f: impl FnOnce(&Simulator) -> R) -> Option<R> {
        self.shared.sim.lock().await.0.model().map(f)
    }

    /// Scenario injection (see [`Simulator::misprice`]); false when there is no such outcome or
    /// the server replays a recording.
    pub async fn misprice(&self, event: usize, outcome: usize, steps: u32) -> bool {
        misprice(&self.shared, event, outcome, steps).await
    }

    /// Resolves market `market` of the model (YES wins when `yes_wins`) and publishes its
    /// `market_resolved` frame; false for an unknown or resolved market, or a replay.
    pub async fn resolve(&self, market: usize, yes_wins: bool) -> bool {
        resolve(&self.shared, market, yes_wins).await
    }

    /// Closes market `market` of the model to orders without resolving it, or opens it again
    /// (see [`Simulator::halt`]); false for an unknown or resolved market, or a replay.
    pub async fn halt(&self, market: usize, halted: bool) -> bool {
        self.shared.sim.lock().await.0.model_mut().is_some_and(|m| m.halt(market, halted))
    }

    /// The simulated chain's JSON-RPC URL (live conditional-token operations).
    pub fn rpc_url(&self) -> String {
        format!("{}/rpc", self.http_url())
    }

    /// The gasless relayer's base URL (see [`crate::relayer`]).
    pub fn relayer_url(&self) -> String {
        format!("{}/relayer", self.http_url())
    }

    /// Balances of `who` on the simulated chain: collateral, then each of `tokens`, micro units.
    pub async fn balances(&self, who: alloy::primitives::Address, tokens: &[TokenId]) -> (i128, Vec<i128>) {
        let ex = self.shared.exchange.lock().await;
        (ex.wallets.collateral(&who), tokens.iter().map(|t| ex.wallets.tokens(&who, t)).collect())
    }

    /// Transactions the simulated chain has mined (successful or reverted).
    pub async fn transactions_mined(&self) -> u64 {
        self.shared.chain.lock().await.mined
    }

    /// Every token served.
    pub async fn tokens(&self) -> Vec<TokenId> {
        self.shared.sim.lock().await.0.tokens()
    }

    /// Data frames sent over all connections so far.
    pub fn frames_sent(&self) -> u64 {
        self.shared.frames_sent.load(Ordering::Relaxed)
    }

    /// WebSocket connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Changes the share of trades (per mille) that end FAILED instead of CONFIRMED.
    pub async fn set_trade_failures(&self, permille: u32) {
        self.shared.exchange.lock().await.set_fail_permille(permille);
    }

    /// Changes the order API's settlement delay, failure share and dead-man window.
    pub async fn configure_exchange(&self, cfg: ExchangeConfig) {
        let mut ex = self.shared.exchange.lock().await;
        *ex = Exchange::new(cfg);
    }

    /// Orders the order API accepted so far.
    pub async fn orders_accepted(&self) -> usize {
        self.shared.exchange.lock().await.orders_accepted()
    }

    /// Open order ids of every owner (for tests of the dead-man switch).
    pub async fn open_orders(&self) -> usize {
        self.shared.exchange.lock().await.open_count()
    }

    /// Requests refused for their authentication (L1, L2, user channel).
    pub fn auth_failures(&self) -> u64 {
        self.shared.auth_failures.load(Ordering::Relaxed)
    }

    /// Orders refused for their signature or payload.
    pub fn signature_failures(&self) -> u64 {
        self.shared.signature_failures.load(Ordering::Relaxed)
    }

    /// Orders posted so far (authenticated; each batch leg counts).
    pub fn order_posts(&self) -> u64 {
        self.shared.order_posts.load(Ordering::Relaxed)
    }

    /// Posts of orders the exchange already had.
    pub fn duplicate_posts(&self) -> u64 {
        self.shared.duplicate_posts.load(Ordering::Relaxed)
    }

    /// Order endpoints answer HTTP 425 for `ms` from now, as during a matching-engine restart.
    pub fn engine_restart(&self, ms: u64) {
        let until = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
            + ms;
        self.shared.engine_restart_until_ms.store(until, Ordering::SeqCst);
    }

    /// WebSocket URL of the user channel.
    pub fn user_ws_url(&self) -> String {
        format!("ws://{}/ws/user", self.addr)
    }

    /// WebSocket URL of the RTDS-compatible stream (crypto reference prices).
    pub fn rtds_url(&self) -> String {
        format!("ws://{}/rtds", self.addr)
    }

    /// WebSocket URL of the market channel.
    pub fn market_ws_url(&self) -> String {
        format!("ws://{}/ws/market", self.addr)
    }

    /// Base URL of the REST endpoints (CLOB and Gamma both).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts the simulator server on `addr` (port 0 picks a free one), stepping the model
/// `events_per_second` times a second (0 = only when [`SimHandle`] users step it; see tests).
pub async fn serve(cfg: SimConfig, addr: SocketAddr, events_per_second: u32) -> std::io::Result<SimHandle> {
    serve_source(Box::new(Simulator::new(cfg)), addr, events_per_second).await
}

/// Starts a server for any [`Source`] (the model, or a [`crate::replay::Replay`]).
pub async fn serve_source(
    source: Box<dyn Source>,
    addr: SocketAddr,
    events_per_second: u32,
) -> std::io::Result<SimHandle> {
    let (frames, _) = broadcast::channel(1 << 16);
    let seed = source.model().map_or(0, |m| m.config().seed);
    let shared = Arc::new(Shared {
        sim: Mutex::new((source, 0)),
        frames,
        rtds: broadcast::channel(1 << 12).0,
        faults: Faults::default(),
        drops: watch::channel(0).0,
        frames_sent: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        exchange: Mutex::new(Exchange::new(ExchangeConfig::default())),
        accounts: Mutex::new(Accounts::new(seed)),
        user_events: broadcast::channel(1 << 14).0,
        auth_failures: AtomicU64::new(0),
        signature_failures: AtomicU64::new(0),
        order_posts: AtomicU64::new(0),
        duplicate_posts: AtomicU64::new(0),
        engine_restart_until_ms: AtomicU64::new(0),
        chain: Mutex::new(crate::chain::Chain::new()),
        relayer: Mutex::new(crate::relayer::Relayer::new()),
    });
    let app = Router::new()
        .route("/ws/market", get(ws_upgrade))
        .route("/rtds", get(rtds_upgrade))
        .route("/book", get(rest_book))
        .route("/books", post(rest_books))
        .route("/tick-size", get(rest_tick_size))
        .route("/neg-risk", get(rest_neg_risk))
        .route("/fee-rate", get(rest_fee_rate))
        .route("/markets", get(gamma_markets))
        .route("/markets/{condition_id}", get(clob_market))
        .route("/events", get(gamma_events))
        .route("/sim/faults/drop", post(fault_drop))
        .route("/sim/faults/freeze", post(fault_freeze))
        .route("/sim/faults/malformed", post(fault_malformed))
        .route("/sim/faults/delay", post(fault_delay))
        .route("/sim/misprice", post(scenario_misprice))
        .route("/sim/resolve", post(scenario_resolve))
        .route("/sim/halt", post(scenario_halt))
        .route("/rpc", post(chain_rpc))
        .merge(crate::order_api::routes())
        .merge(crate::relayer_api::routes())
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "simulator server stopped");
        }
    });
    if events_per_second > 0 {
        tokio::spawn(run_model(shared.clone(), events_per_second));
    }
    tokio::spawn(crate::order_api::run_exchange(shared.clone()));
    Ok(SimHandle { shared, addr })
}

/// Steps the model `events_per_second` times a wall second ([`crate::pacer::Pacer`]: late ticks
/// make up their steps); a frozen feed stops the model's time.
async fn run_model(shared: Arc<Shared>, events_per_second: u32) {
    // Step in small batches so high rates do not need a timer per event.
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pacer = crate::pacer::Pacer::new(events_per_second, std::time::Instant::now());
    loop {
        interval.tick().await;
        if shared.faults.paused.load(Ordering::Relaxed) {
            pacer.skip(std::time::Instant::now());
            continue;
        }
        let steps = pacer.due(std::time::Instant::now());
        let mut guard = shared.sim.lock().await;
        for _ in 0..steps {
            guard.1 += 1;
            let step = guard.1;
            for f in guard.0.step() {
                // No receiver is fine: frames nobody subscribed to are simply not sent.
                let _ = shared.frames.send(Stamped { step, assets: f.assets.into(), text: f.text.into() });
            }
            for f in guard.0.take_rtds() {
                let _ = shared.rtds.send(Arc::new(f));
            }
        }
    }
}

#[derive(Deserialize)]
struct SubscribeMsg {
    #[serde(default)]
    assets_ids: Vec<String>,
    #[serde(default)]
    operation: Option<String>,
}

async fn ws_upgrade(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    ws.on_upgrade(move |socket| connection(socket, shared))
}

async fn connection(socket: WebSocket, shared: Arc<Shared>) {
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let (mut tx, mut rx) = socket.split();
    let mut frames = shared.frames.subscribe();
    let mut drops = shared.drops.subscribe();
    // Token -> the model step of its snapshot; frames of earlier steps are already in it.
    let mut since: HashMap<TokenId, u64> = HashMap::new();
    let mut sent = 0u64;
    loop {
        tokio::select! {
            _ = drops.changed() => break,
            incoming = rx.next() => {
                let text = match incoming_text(incoming, &mut tx).await {
                    Incoming::Text(t) => t,
                    Incoming::Skip => continue,
                    Incoming::Closed => break,
                };
                let Ok(sub) = serde_json::from_str::<SubscribeMsg>(&text) else { continue };
                let tokens: Vec<TokenId> = sub.assets_ids.iter().filter_map(|t| TokenId::parse(t).ok()).collect();
                if sub.operation.as_deref() == Some("unsubscribe") {
                    for t in &tokens { since.remove(t); }
                    continue;
                }
                // Snapshots under the model lock, stamped with the step they reflect.
                let snapshots: Vec<String> = {
                    let guard = shared.sim.lock().await;
                    tokens.iter().filter_map(|t| {
                        let s = guard.0.snapshot_frame(t)?;
                        since.insert(*t, guard.1);
                        Some(s)
                    }).collect()
                };
                if !snapshots.is_empty() {
                    let frame = format!("[{}]", snapshots.join(","));
                    if tx.send(Message::Text(frame.into())).await.is_err() { break }
                }
            }
            frame = frames.recv() => {
                let f = match frame {
                    Ok(f) => f,
                    // Fell behind: close, as a venue drops a slow consumer.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let wanted = f.assets.iter().any(|a| since.get(a).is_some_and(|&s| f.step > s));
                if !wanted || shared.faults.frozen.load(Ordering::Relaxed) {
                    continue;
                }
                let delay = shared.faults.delay_ms.load(Ordering::Relaxed);
                if delay > 0 { tokio::time::sleep(Duration::from_millis(delay)).await; }
                sent += 1;
                let every = shared.faults.malformed_every.load(Ordering::Relaxed);
                if every > 0 && sent.is_multiple_of(every)
                    && tx.send(Message::Text("{\"event_type\":\"price_change\",\"market\":".into())).await.is_err()
                {
                    break;
                }
                if tx.send(Message::Text(f.text.to_string().into())).await.is_err() { break }
                shared.frames_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let _ = tx.close().await;
}

/// What a client sent on one of the simulator's WebSockets, a text `PING` already answered.
pub(crate) enum Incoming {
    /// A text frame to handle.
    Text(String),
    /// Nothing to handle (a PING answered, a binary or control frame).
    Skip,
    /// The connection is over.
    Closed,
}

/// Reads what `incoming` carried, answering a text `PING` with `PONG` on `tx`.
pub(crate) async fn incoming_text(
    incoming: Option<Result<Message, axum::Error>>,
    tx: &mut futures::stream::SplitSink<WebSocket, Message>,
) -> Incoming {
    let Some(Ok(msg)) = incoming else { return Incoming::Closed };
    let text = match msg {
        Message::Text(t) => t.to_string(),
        Message::Close(_) => return Incoming::Closed,
        _ => return Incoming::Skip,
    };
    if text.trim() != "PING" {
        return Incoming::Text(text);
    }
    if tx.send(Message::Text("PONG".into())).await.is_err() { Incoming::Closed } else { Incoming::Skip }
}

/// An RTDS subscription request: `{"action":"subscribe","subscriptions":[{"topic":...,"type":...,"filters":...}]}`.
#[derive(Deserialize)]
struct RtdsRequest {
    action: String,
    #[serde(default)]
    subscriptions: Vec<RtdsSubscription>,
}

#[derive(Deserialize)]
struct RtdsSubscription {
    topic: String,
    /// `crypto_prices`: a comma list of symbols; Chainlink topics: a JSON text `{"symbol":...}`.
    /// Absent: every symbol.
    #[serde(default)]
    filters: Option<String>,
}

impl RtdsSubscription {
    /// Whether a frame of `topic` on `symbol` is wanted.
    fn wants(&self, topic: &str, symbol: &str) -> bool {
        if self.topic != topic {
            return false;
        }
        match self.filters.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(f) if f.starts_with('{') => serde_json::from_str::<Value>(f)
                .ok()
                .and_then(|v| v.get("symbol").and_then(Value::as_str).map(|s| s == symbol))
                .unwrap_or(false),
            Some(f) => f.split(',').any(|s| s.trim() == symbol),
        }
    }
}

async fn rtds_upgrade(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    ws.on_upgrade(move |socket| rtds_connection(socket, shared))
}

/// One RTDS connection: frames of the topics and symbols subscribed (nothing is replayed), text
/// `PING` answered with `PONG`, dropped with the other connections on a fault.
async fn rtds_connection(socket: WebSocket, shared: Arc<Shared>) {
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let (mut tx, mut rx) = socket.split();
    let mut frames = shared.rtds.subscribe();
    let mut drops = shared.drops.subscribe();
    let mut subs: Vec<RtdsSubscription> = vec![];
    loop {
        tokio::select! {
            _ = drops.changed() => break,
            incoming = rx.next() => {
                let text = match incoming_text(incoming, &mut tx).await {
                    Incoming::Text(t) => t,
                    Incoming::Skip => continue,
                    Incoming::Closed => break,
                };
                let Ok(req) = serde_json::from_str::<RtdsRequest>(&text) else { continue };
                match req.action.as_str() {
                    "subscribe" => subs.extend(req.subscriptions),
                    "unsubscribe" => subs.retain(|s| !req.subscriptions.iter().any(|u| u.topic == s.topic)),
                    _ => {}
                }
            }
            frame = frames.recv() => {
                let f = match frame {
                    Ok(f) => f,
                    Err(_) => break,
                };
                if shared.faults.frozen.load(Ordering::Relaxed) || !subs.iter().any(|s| s.wants(f.topic, &f.symbol)) {
                    continue;
                }
                if tx.send(Message::Text(f.text.clone().into())).await.is_err() { break }
                shared.frames_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let _ = tx.close().await;
}

#[derive(Deserialize)]
struct TokenQuery {
    token_id: String,
}

fn bad_request(msg: String) -> Response {
    (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

fn not_found() -> Response {
    (axum::http::StatusCode::NOT_FOUND, Json(json!({"error": "No orderbook exists for the requested token id"})))
        .into_response()
}

/// Answers a per-token request from the model: 400 on a bad id, 404 on an unknown token.
async fn per_token(
    shared: &Shared,
    q: &TokenQuery,
    f: impl FnOnce(&dyn Source, &TokenId) -> Option<Response>,
) -> Response {
    let token = match TokenId::parse(&q.token_id) {
        Ok(t) => t,
        Err(e) => return bad_request(e.to_string()),
    };
    f(shared.sim.lock().await.0.as_ref(), &token).unwrap_or_else(not_found)
}

async fn rest_book(State(shared): State<Arc<Shared>>, Query(q): Query<TokenQuery>) -> Response {
    per_token(&shared, &q, |sim, t| {
        sim.snapshot_frame(t).map(|body| ([("content-type", "application/json")], body).into_response())
    })
    .await
}

async fn rest_books(State(shared): State<Arc<Shared>>, Json(body): Json<Vec<TokenQuery>>) -> Response {
    let guard = shared.sim.lock().await;
    let books: Vec<String> = body
        .iter()
        .filter_map(|q| TokenId::parse(&q.token_id).ok())
        .filter_map(|t| guard.0.snapshot_frame(&t))
        .collect();
    ([("content-type", "application/json")], format!("[{}]", books.join(","))).into_response()
}

async fn rest_tick_size(State(shared): State<Arc<Shared>>, Query(q): Query<TokenQuery>) -> Response {
    per_token(&shared, &q, |sim, t| {
        let m = sim.model()?.meta(t)?;
        Some(Json(json!({"minimum_tick_size": format_price(m.tick_size)})).into_response())
    })
    .await
}

async fn rest_neg_risk(State(shared): State<Arc<Shared>>, Query(q): Query<TokenQuery>) -> Response {
    per_token(&shared, &q, |sim, t| Some(Json(json!({"neg_risk": sim.model()?.meta(t)?.neg_risk})).into_response()))
        .await
}

async fn rest_fee_rate(State(shared): State<Arc<Shared>>, Query(q): Query<TokenQuery>) -> Response {
    per_token(&shared, &q, |sim, t| {
        let model = sim.model()?;
        model.meta(t)?;
        Some(Json(json!({"base_fee": model.config().fee_rate_bps})).into_response())
    })
    .await
}

fn gamma_market(sim: &Simulator, i: usize) -> Value {
    let m = &sim.markets()[i];
    json!({
        "id": (i + 1).to_string(),
        "question": m.question,
        "conditionId": m.condition.to_string(),
        "questionID": sim.question_id(i).map(|q| polyfleet_core::ConditionId::from_bytes(q).to_string()),
        "negRiskMarketID": sim.question_id(i).filter(|_| m.event.is_some()).map(|mut q| {
            q[31] = 0;
            polyfleet_core::ConditionId::from_bytes(q).to_string()
        }),
        "slug": m.slug,
        "endDate": m.end_date(),
        "eventStartTime": m.start_date(),
        "description": m.rules(),
        "resolutionSource": m.round.as_ref().map(|_| "https://data.chain.link/streams/twap"),
        // Gamma writes both lists as JSON text inside the JSON.
        "outcomes": serde_json::Value::Array(m.outcomes().iter().map(|&o| o.into()).collect()).to_string(),
        "clobTokenIds": serde_json::Value::Array(vec![m.yes.to_string().into(), m.no.to_string().into()]).to_string(),
        "active": true,
        "closed": sim.resolution(i).is_some(),
        "enableOrderBook": true,
        "acceptingOrders": sim.accepts_orders(&m.yes),
        "negRisk": m.event.is_some(),
        "groupItemTitle": m.outcome,
        "orderPriceMinTickSize": format_price(m.tick).parse::<Value>().unwrap_or(Value::Null),
        "orderMinSize": 5,
        "feesEnabled": sim.config().fee_rate_bps > 0,
        "takerBaseFee": sim.config().fee_rate_bps,
        "feeSchedule": {
            "rate": number(&polyfleet_core::Price::from_ticks(sim.config().fee_rate_bps).map(|p| p.to_string()).unwrap_or_default()),
            "exponent": 1,
            "takerOnly": true,
            "rebateRate": number(&polyfleet_core::Price::from_ticks(sim.config().maker_rebate_bps).map(|p| p.to_string()).unwrap_or_default()),
        },
        "rewardsMinSize": sim.config().rewards.map(|r| number(&r.min_size.to_string())),
        // Gamma gives the max spread in cents.
        "rewardsMaxSpread": sim.config().rewards.map(|r| number(&polyfleet_core::Quantity::from_micros(u64::from(r.max_spread.ticks()) * 10_000).to_string())),
        "clobRewards": sim.config().rewards.map(|r| json!([{"rewardsDailyRate": number(&r.daily_pool.to_string())}])),
    })
}

/// A decimal text as the JSON number Gamma writes (null when it is not one).
fn number(text: &str) -> Value {
    text.parse::<Value>().ok().filter(Value::is_number).unwrap_or(Value::Null)
}

/// The CLOB's `GET /markets/{condition_id}`: trading and resolution status.
async fn clob_market(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(condition_id): axum::extract::Path<String>,
) -> Response {
    let Ok(market) = polyfleet_core::ConditionId::parse(&condition_id) else {
        return bad_request(format!("invalid condition id {condition_id:?}"));
    };
    let guard = shared.sim.lock().await;
    match guard.0.market_status(&market) {
        Some(st) => Json(polyfleet_polymarket::http::market_status::market_status_json(&st)).into_response(),
        None => not_found(),
    }
}

/// The markets of `source` as the simulated chain sees them.
pub(crate) fn chain_markets(source: &dyn Source) -> crate::chain::ChainMarkets {
    source
        .model()
        .map(|sim| {
            sim.markets()
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let view = crate::chain::ChainMarket {
                        yes: m.yes,
                        no: m.no,
                        neg_risk: m.event.is_some(),
                        resolved: sim.resolution(i),
                        question: sim.question_id(i),
                        convert_fee_bips: sim.config().convert_fee_bips,
                    };
                    (m.condition, view)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The simulated Polygon's JSON-RPC endpoint (see [`crate::chain`]).
async fn chain_rpc(State(shared): State<Arc<Shared>>, Json(req): Json<Value>) -> Response {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    let guard = shared.sim.lock().await;
    let markets = chain_markets(guard.0.as_ref());
    let mut exchange = shared.exchange.lock().await;
    let answer = shared.chain.lock().await.rpc(&method, &params, &mut exchange.wallets, &markets);
    Json(match answer {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}}),
    })
    .into_response()
}

#[derive(Deserialize)]
struct GammaQuery {
    slug: Option<String>,
    condition_ids: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn gamma_markets(State(shared): State<Arc<Shared>>, Query(q): Query<GammaQuery>) -> Response {
    let guard = shared.sim.lock().await;
    let Some(sim) = guard.0.model() else { return Json(Vec::<Value>::new()).into_response() };
    let list: Vec<Value> = (0..sim.markets().len())
        .filter(|&i| q.slug.as_deref().is_none_or(|s| sim.markets()[i].slug == s))
        .filter(|&i| {
            q.condition_ids
                .as_deref()
                .is_none_or(|ids| ids.split(',').any(|c| c == sim.markets()[i].condition.to_string()))
        })
        .skip(q.offset)
        .take(q.limit.unwrap_or(100).min(100))
        .map(|i| gamma_market(sim, i))
        .collect();
    Json(list).into_response()
}

async fn gamma_events(State(shared): State<Arc<Shared>>, Query(q): Query<GammaQuery>) -> Response {
    let guard = shared.sim.lock().await;
    let Some(sim) = guard.0.model() else { return Json(Vec::<Value>::new()).into_response() };
    let list: Vec<Value> = sim
        .events()
        .iter()
        .filter(|e| q.slug.as_deref().is_none_or(|s| e.slug == s))
        .map(|e| {
            json!({
                "slug": e.slug,
                "title": e.title,
                "negRisk": true,
                "markets": e.markets.iter().map(|&i| gamma_market(sim, i)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(list).into_response()
}

async fn fault_drop(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.drop_connections();
    "dropped"
}

#[derive(Deserialize)]
struct OnOff {
    on: bool,
}

async fn fault_freeze(State(shared): State<Arc<Shared>>, Query(q): Query<OnOff>) -> &'static str {
    shared.freeze(q.on);
    "ok"
}

#[derive(Deserialize)]
struct Every {
    every: u64,
}

async fn fault_malformed(State(shared): State<Arc<Shared>>, Query(q): Query<Every>) -> &'static str {
    shared.malformed_every(q.every);
    "ok"
}

#[derive(Deserialize)]
struct Millis {
    ms: u64,
}

async fn misprice(shared: &Shared, event: usize, outcome: usize, steps: u32) -> bool {
    let mut guard = shared.sim.lock().await;
    guard.1 += 1;
    let step = guard.1;
    let Some(frames) = guard.0.model_mut().and_then(|m| m.misprice(event, outcome, steps)) else { return false };
    for f in frames {
        let _ = shared.frames.send(Stamped { step, assets: f.assets.into(), text: f.text.into() });
    }
    true
}

#[derive(Deserialize)]
struct MispriceQuery {
    event: usize,
    outcome: usize,
    #[serde(default = "default_steps")]
    steps: u32,
}

fn default_steps() -> u32 {
    50
}

async fn scenario_misprice(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<MispriceQuery>,
) -> (StatusCode, &'static str) {
    if misprice(&shared, q.event, q.outcome, q.steps).await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::NOT_FOUND, "no such event outcome, or not a model")
    }
}

#[derive(Deserialize)]
struct ResolveQuery {
    /// Index of the market in the model.
    market: usize,
    /// `yes` or `no`: the winning side.
    winner: String,
}

async fn scenario_resolve(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<ResolveQuery>,
) -> (StatusCode, &'static str) {
    let yes_wins = match q.winner.as_str() {
        "yes" => true,
        "no" => false,
        _ => return (StatusCode::BAD_REQUEST, "winner must be yes or no"),
    };
    if resolve(&shared, q.market, yes_wins).await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::NOT_FOUND, "no such market, already resolved, or not a model")
    }
}

async fn resolve(shared: &Shared, market: usize, yes_wins: bool) -> bool {
    let mut guard = shared.sim.lock().await;
    guard.1 += 1;
    let step = guard.1;
    let Some(f) = guard.0.model_mut().and_then(|m| m.resolve(market, yes_wins)) else { return false };
    let _ = shared.frames.send(Stamped { step, assets: f.assets.into(), text: f.text.into() });
    true
}

#[derive(Deserialize)]
struct HaltQuery {
    /// Index of the market in the model.
    market: usize,
    /// `true` closes it to orders, `false` opens it again.
    on: bool,
}

async fn scenario_halt(State(shared): State<Arc<Shared>>, Query(q): Query<HaltQuery>) -> (StatusCode, &'static str) {
    if shared.sim.lock().await.0.model_mut().is_some_and(|m| m.halt(q.market, q.on)) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::NOT_FOUND, "no such market, already resolved, or not a model")
    }
}

async fn fault_delay(State(shared): State<Arc<Shared>>, Query(q): Query<Millis>) -> &'static str {
    shared.delay_ms(q.ms);
    "ok"
}

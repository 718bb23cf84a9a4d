//! The simulator's authenticated order API, shaped like Polymarket's CLOB V2 so that the official
//! SDK talks to it unchanged: `/auth/api-key` and `/auth/derive-api-key` (L1), `POST /order`,
//! `POST /orders` (at most 15), `DELETE /order`, `/orders`, `/cancel-all`,
//! `/cancel-market-orders`, `GET /data/orders`, `/data/order/{id}`, `/data/trades`,
//! `POST /v1/heartbeats` (L2), `GET /version`, `/time`, and the user channel `/ws/user`.
//!
//! Handlers are thin: [`crate::venue_auth`] checks, [`crate::exchange::Exchange`] decides, and
//! every user event it reports goes out on a broadcast the user channel filters per owner and
//! market. A background task re-matches resting orders as the model's books move and advances
//! settlement, expiry and the dead-man switch.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use futures::{SinkExt, StreamExt};
use polyfleet_core::exec::paper::MarketRules;
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::{ConditionId, TokenId};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::exchange::{UserEvent, VenueOrder};
use crate::server::{Incoming, Shared, incoming_text};
use crate::venue_auth::{Account, PostedOrder, verify_order};

/// Largest batch `POST /orders` takes.
pub const MAX_BATCH: usize = 15;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// The routes, to merge into the server's router.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/version", get(|| async { Json(json!({"version": 2})) }))
        .route("/time", get(|| async { Json(json!(now_ms() / 1000)) }))
        .route("/auth/api-key", post(l1_credentials))
        .route("/auth/derive-api-key", get(l1_credentials))
        .route("/order", post(post_order).delete(cancel_order))
        .route("/orders", post(post_orders).delete(cancel_orders))
        .route("/cancel-all", delete(cancel_all))
        .route("/cancel-market-orders", delete(cancel_market))
        .route("/data/orders", get(open_orders))
        .route("/data/order/{id}", get(one_order))
        .route("/data/trades", get(trades))
        .route("/v1/heartbeats", post(heartbeat))
        .route("/ws/user", get(user_upgrade))
        .route("/sim/faults/trade-failures", post(fault_trade_failures))
        .route("/sim/faults/engine-restart", post(fault_engine_restart))
        .merge(crate::balance_api::routes())
}

pub(crate) fn error(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": msg.to_string()}))).into_response()
}

fn header<'a>(h: &'a HeaderMap) -> impl Fn(&'static str) -> Option<&'a str> {
    move |n| h.get(n).and_then(|v| v.to_str().ok())
}

async fn l1_credentials(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let mut accounts = shared.accounts.lock().await;
    match accounts.verify_l1(header(&headers), now_ms() / 1000) {
        Ok((address, nonce)) => {
            let c = accounts.issue(address, nonce);
            Json(json!({"apiKey": c.key.to_string(), "secret": c.secret, "passphrase": c.passphrase})).into_response()
        }
        Err(e) => {
            shared.auth_failures.fetch_add(1, Ordering::Relaxed);
            error(StatusCode::UNAUTHORIZED, e)
        }
    }
}

/// Checks the L2 headers of a request; the account, or why not.
async fn l2(shared: &Shared, headers: &HeaderMap, method: &Method, uri: &Uri, body: &[u8]) -> Result<Account, String> {
    let accounts = shared.accounts.lock().await;
    accounts.verify_l2(header(headers), method.as_str(), uri.path(), body, now_ms() / 1000).cloned().map_err(|e| {
        shared.auth_failures.fetch_add(1, Ordering::Relaxed);
        e.to_string()
    })
}

/// An L2-authenticated request: its account and its body as sent. Refused with 401 when the
/// headers do not check out, and with 425 while the matching engine "restarts" (a fault the
/// tests inject).
pub(crate) struct Authed {
    pub(crate) account: Account,
    pub(crate) body: Bytes,
}

impl FromRequest<Arc<Shared>> for Authed {
    type Rejection = Response;

    async fn from_request(req: Request, shared: &Arc<Shared>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
        if shared.engine_restart_until_ms.load(Ordering::SeqCst) > now_ms() {
            return Err(error(StatusCode::TOO_EARLY, "the matching engine is restarting"));
        }
        let account = l2(shared, &parts.headers, &parts.method, &parts.uri, &body)
            .await
            .map_err(|e| error(StatusCode::UNAUTHORIZED, e))?;
        Ok(Authed { account, body })
    }
}

fn publish(shared: &Shared, events: Vec<UserEvent>) {
    for e in events {
        // No subscriber is fine: the venue does not queue user events either.
        let _ = shared.user_events.send(e);
    }
}

/// Verifies and matches one posted order: the `POST /order` answer, or the error.
async fn place(shared: &Shared, account: &Account, posted: &PostedOrder) -> Result<Value, (StatusCode, String)> {
    shared.order_posts.fetch_add(1, Ordering::Relaxed);
    let token = TokenId::parse(&posted.order.token_id).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let guard = shared.sim.lock().await;
    let model =
        guard.0.model().ok_or((StatusCode::BAD_REQUEST, "the simulator replays a recording: no order API".into()))?;
    let meta = model.meta(&token).ok_or((StatusCode::BAD_REQUEST, format!("market not found for token {token}")))?;
    let fees = FeeSchedule { rate_bps: model.config().fee_rate_bps, exponent: 1 };
    let v = verify_order(posted, account, meta.neg_risk, meta.tick_size).map_err(|e| {
        shared.signature_failures.fetch_add(1, Ordering::Relaxed);
        (StatusCode::BAD_REQUEST, e.to_string())
    })?;
    if !model.accepts_orders(&token) {
        return Err((StatusCode::BAD_REQUEST, format!("market {} is not accepting orders", meta.market)));
    }
    let book = guard.0.book(&token).ok_or((StatusCode::BAD_REQUEST, "no book".to_string()))?;
    let rules = MarketRules { tick: meta.tick_size, min_size: meta.min_order_size, fees };
    let order = VenueOrder {
        id: v.id,
        owner: account.credentials.key,
        maker: v.maker,
        market: meta.market,
        token,
        side: v.side,
        price: v.price,
        size: v.size,
        order_type: v.order_type,
        post_only: v.post_only,
    };
    let id = order.id.clone();
    let placed = shared.exchange.lock().await.place(order, &book, &rules, now_ms()).map_err(|e| {
        if e.contains("Duplicated") {
            shared.duplicate_posts.fetch_add(1, Ordering::Relaxed);
        }
        (StatusCode::BAD_REQUEST, e)
    })?;
    drop(guard);
    publish(shared, placed.events);
    Ok(json!({
        "success": true,
        "errorMsg": "",
        "orderID": id,
        "status": placed.status,
        "makingAmount": placed.making.to_string(),
        "takingAmount": placed.taking.to_string(),
        "transactionsHashes": [],
        "tradeIDs": placed.trade_ids,
    }))
}

async fn post_order(State(shared): State<Arc<Shared>>, Authed { account, body }: Authed) -> Response {
    let posted: PostedOrder = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid order payload: {e}")),
    };
    match place(&shared, &account, &posted).await {
        Ok(v) => Json(v).into_response(),
        Err((status, msg)) => error(status, msg),
    }
}

async fn post_orders(State(shared): State<Arc<Shared>>, Authed { account, body }: Authed) -> Response {
    let posted: Vec<PostedOrder> = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid orders payload: {e}")),
    };
    if posted.len() > MAX_BATCH {
        return error(StatusCode::BAD_REQUEST, format!("too many orders in a batch: {} > {MAX_BATCH}", posted.len()));
    }
    let mut out = vec![];
    for p in &posted {
        // A rejected leg answers success with an empty order id and the reason (venue behaviour).
        out.push(place(&shared, &account, p).await.unwrap_or_else(|(_, msg)| {
            json!({"success": true, "errorMsg": msg, "orderID": "", "status": "", "makingAmount": "", "takingAmount": ""})
        }));
    }
    Json(out).into_response()
}

/// Cancels `ids` of `account`: the `{canceled, not_canceled}` answer.
async fn cancel_ids(shared: &Shared, account: &Account, ids: Vec<String>) -> Response {
    let mut canceled = vec![];
    let mut not_canceled = serde_json::Map::new();
    let mut events = vec![];
    {
        let mut ex = shared.exchange.lock().await;
        for id in ids {
            match ex.cancel(account.credentials.key, &id, now_ms()) {
                Ok(ev) => {
                    events.push(ev);
                    canceled.push(id);
                }
                Err(reason) => {
                    not_canceled.insert(id, Value::String(reason));
                }
            }
        }
    }
    publish(shared, events);
    Json(json!({"canceled": canceled, "not_canceled": not_canceled})).into_response()
}

#[derive(Deserialize)]
struct OneId {
    #[serde(rename = "orderID")]
    order_id: String,
}

async fn cancel_order(State(shared): State<Arc<Shared>>, Authed { account, body }: Authed) -> Response {
    match serde_json::from_slice::<OneId>(&body) {
        Ok(b) => cancel_ids(&shared, &account, vec![b.order_id]).await,
        Err(e) => error(StatusCode::BAD_REQUEST, format!("invalid cancel payload: {e}")),
    }
}

async fn cancel_orders(State(shared): State<Arc<Shared>>, Authed { account, body }: Authed) -> Response {
    match serde_json::from_slice::<Vec<String>>(&body) {
        Ok(ids) => cancel_ids(&shared, &account, ids).await,
        Err(e) => error(StatusCode::BAD_REQUEST, format!("invalid cancel payload: {e}")),
    }
}

async fn cancel_all(State(shared): State<Arc<Shared>>, Authed { account, .. }: Authed) -> Response {
    let ids = shared.exchange.lock().await.open_ids(account.credentials.key, None, None);
    cancel_ids(&shared, &account, ids).await
}

#[derive(Deserialize, Default)]
struct MarketFilter {
    market: Option<String>,
    asset_id: Option<String>,
    id: Option<String>,
}

impl MarketFilter {
    fn parse(&self) -> Result<(Option<ConditionId>, Option<TokenId>), String> {
        let market = self
            .market
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(ConditionId::parse)
            .transpose()
            .map_err(|e| e.to_string())?;
        let token = self
            .asset_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(TokenId::parse)
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok((market, token))
    }
}

async fn cancel_market(State(shared): State<Arc<Shared>>, Authed { account, body }: Authed) -> Response {
    let filter: MarketFilter = serde_json::from_slice(&body).unwrap_or_default();
    let (market, token) = match filter.parse() {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let ids = shared.exchange.lock().await.open_ids(account.credentials.key, market, token);
    cancel_ids(&shared, &account, ids).await
}

fn page(data: Vec<Value>) -> Response {
    let n = data.len();
    Json(json!({"data": data, "next_cursor": "LTE=", "limit": n.max(1), "count": n})).into_response()
}

async fn open_orders(
    State(shared): State<Arc<Shared>>,
    Query(filter): Query<MarketFilter>,
    Authed { account, .. }: Authed,
) -> Response {
    let (market, token) = match filter.parse() {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let ex = shared.exchange.lock().await;
    let key = account.credentials.key;
    let data = ex
        .open_ids(key, market, token)
        .into_iter()
        .filter(|id| filter.id.as_deref().is_none_or(|want| want == id))
        .filter_map(|id| ex.order_json(key, &id))
        .collect();
    page(data)
}

async fn one_order(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Authed { account, .. }: Authed,
) -> Response {
    match shared.exchange.lock().await.order_json(account.credentials.key, &id) {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("order {id} not found")),
    }
}

async fn trades(State(shared): State<Arc<Shared>>, Authed { account, .. }: Authed) -> Response {
    page(shared.exchange.lock().await.trades_json(account.credentials.key))
}

#[derive(Deserialize)]
struct HeartbeatBody {
    heartbeat_id: Option<Uuid>,
}

async fn heartbeat(State(shared): State<Arc<Shared>>, Authed { account, body }: Authed) -> Response {
    let given = serde_json::from_slice::<HeartbeatBody>(&body).ok().and_then(|b| b.heartbeat_id);
    match shared.exchange.lock().await.heartbeat(account.credentials.key, given, now_ms()) {
        Ok(id) => Json(json!({"heartbeat_id": id, "error": null})).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
struct Permille {
    permille: u32,
}

async fn fault_trade_failures(State(shared): State<Arc<Shared>>, Query(q): Query<Permille>) -> &'static str {
    shared.exchange.lock().await.set_fail_permille(q.permille);
    "ok"
}

#[derive(Deserialize)]
struct RestartMs {
    ms: u64,
}

async fn fault_engine_restart(State(shared): State<Arc<Shared>>, Query(q): Query<RestartMs>) -> &'static str {
    shared.engine_restart_until_ms.store(now_ms() + q.ms, Ordering::SeqCst);
    "ok"
}

/// Re-matches resting orders against the moving books and advances the exchange's clock.
pub(crate) async fn run_exchange(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(Duration::from_millis(50));
    loop {
        interval.tick().await;
        let mut events = vec![];
        {
            let mut guard = shared.sim.lock().await;
            let mut ex = shared.exchange.lock().await;
            // The flow traded since the last pass, then the books as they stand.
            let prints = guard.0.model_mut().map(crate::model::Simulator::take_prints).unwrap_or_default();
            for print in prints {
                events.extend(ex.on_print(&print, now_ms()));
            }
            for token in ex.resting_tokens() {
                if let Some(book) = guard.0.book(&token) {
                    events.extend(ex.on_book(&token, &book, now_ms()));
                }
            }
            events.extend(ex.tick(now_ms()));
        }
        publish(&shared, events);
    }
}

#[derive(Deserialize)]
struct UserSubscribe {
    auth: UserAuth,
    #[serde(default)]
    markets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserAuth {
    api_key: String,
    secret: String,
    passphrase: String,
}

async fn user_upgrade(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    ws.on_upgrade(move |socket| user_connection(socket, shared))
}

/// One user-channel connection: the first message authenticates and names the markets (none =
/// all); then the owner's events for those markets, as they happen.
async fn user_connection(socket: WebSocket, shared: Arc<Shared>) {
    let (mut tx, mut rx) = socket.split();
    let mut events = shared.user_events.subscribe();
    let mut drops = shared.drops.subscribe();
    let mut sub: Option<(Uuid, Vec<ConditionId>)> = None;
    loop {
        tokio::select! {
            _ = drops.changed() => break,
            incoming = rx.next() => {
                let text = match incoming_text(incoming, &mut tx).await {
                    Incoming::Text(t) => t,
                    Incoming::Skip => continue,
                    Incoming::Closed => break,
                };
                let result = match serde_json::from_str::<UserSubscribe>(&text) {
                    Ok(s) => {
                        let markets = s.markets.iter().filter_map(|m| ConditionId::parse(m).ok()).collect();
                        let accounts = shared.accounts.lock().await;
                        accounts
                            .verify_plain(&s.auth.api_key, &s.auth.secret, &s.auth.passphrase)
                            .map(|a| (a.credentials.key, markets))
                            .map_err(|e| e.to_string())
                    }
                    Err(e) => Err(format!("invalid subscription: {e}")),
                };
                match result {
                    Ok(s) => sub = Some(s),
                    Err(e) => {
                        shared.auth_failures.fetch_add(1, Ordering::Relaxed);
                        let _ = tx.send(Message::Text(json!({"error": e}).to_string().into())).await;
                        break;
                    }
                }
            }
            ev = events.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    // Fell behind: close; the client reconciles over REST after reconnecting.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => break,
                };
                let Some((owner, markets)) = &sub else { continue };
                if ev.owner != *owner || !(markets.is_empty() || markets.contains(&ev.market)) {
                    continue;
                }
                if tx.send(Message::Text(ev.body.to_string().into())).await.is_err() { break }
            }
        }
    }
    let _ = tx.close().await;
}

//! The simulated relayer's HTTP endpoints ([`crate::relayer`]), under `/relayer` (a simulator
//! Venue's relayer URL): `GET /relayer/nonce?address=&type=SAFE|WALLET`,
//! `GET /relayer/relay-payload?address=&type=PROXY`, `POST /relayer/submit`,
//! `GET /relayer/transaction?id=`, each authenticated by the Relayer API key headers.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polyfleet_polymarket::http::relayer::{
    API_KEY_ADDRESS_HEADER, API_KEY_HEADER, NonceResponse, RelayPayload, SubmitRequest,
};
use serde::Deserialize;

use crate::order_api::error;
use crate::relayer::{Refusal, Relayer, authenticate};
use crate::server::{Shared, chain_markets};

/// The routes, merged into the server's.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/relayer/nonce", get(nonce))
        .route("/relayer/relay-payload", get(relay_payload))
        .route("/relayer/submit", post(submit))
        .route("/relayer/transaction", get(transaction))
}

fn refused((status, message): Refusal) -> Response {
    error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), message)
}

fn key_owner(headers: &HeaderMap) -> Result<alloy::primitives::Address, Refusal> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    authenticate(get(API_KEY_HEADER), get(API_KEY_ADDRESS_HEADER))
}

#[derive(Deserialize)]
struct NonceQuery {
    address: String,
    #[serde(rename = "type")]
    kind: String,
}

async fn nonce(State(shared): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<NonceQuery>) -> Response {
    if let Err(r) = key_owner(&headers) {
        return refused(r);
    }
    let Ok(owner) = q.address.parse() else { return refused((400, "address is not an address".into())) };
    match Relayer::nonce(&*shared.chain.lock().await, &owner, &q.kind) {
        Ok(n) => Json(NonceResponse { nonce: n.to_string() }).into_response(),
        Err(r) => refused(r),
    }
}

async fn relay_payload(State(shared): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<NonceQuery>) -> Response {
    if let Err(r) = key_owner(&headers) {
        return refused(r);
    }
    if q.kind != "PROXY" {
        return refused((400, format!("relay payload type {:?} is not simulated (PROXY only)", q.kind)));
    }
    let Ok(owner) = q.address.parse() else { return refused((400, "address is not an address".into())) };
    match Relayer::relay_payload(&*shared.chain.lock().await, &owner) {
        Ok((relay, nonce)) => {
            Json(RelayPayload { address: format!("{relay:#x}"), nonce: nonce.to_string() }).into_response()
        }
        Err(r) => refused(r),
    }
}

async fn submit(State(shared): State<Arc<Shared>>, headers: HeaderMap, Json(req): Json<SubmitRequest>) -> Response {
    let submitter = match key_owner(&headers) {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    let guard = shared.sim.lock().await;
    let markets = chain_markets(guard.0.as_ref());
    let mut exchange = shared.exchange.lock().await;
    let mut chain = shared.chain.lock().await;
    let answer = shared.relayer.lock().await.submit(submitter, &req, &mut chain, &mut exchange.wallets, &markets);
    match answer {
        Ok(t) => Json(t).into_response(),
        Err(r) => refused(r),
    }
}

#[derive(Deserialize)]
struct TransactionQuery {
    id: String,
}

async fn transaction(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<TransactionQuery>,
) -> Response {
    if let Err(r) = key_owner(&headers) {
        return refused(r);
    }
    Json(shared.relayer.lock().await.transaction(&q.id)).into_response()
}

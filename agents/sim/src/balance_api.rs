//! The venue's balance-allowance endpoints on the simulator, as the live executor's pre-flight
//! reads them: `GET /balance-allowance?asset_type=COLLATERAL|CONDITIONAL&token_id=` answers the
//! account's balance as the exchange counts it (the chain's, moved by trades matched and not
//! yet settled) in 6-decimal units and its allowance per exchange contract;
//! `GET /balance-allowance/update` is accepted (the simulator's view is always current); and the
//! fault `POST /sim/faults/allowance?address=0x..&micros=N` sets an address's collateral
//! allowance (without `micros`: unlimited again), so a test can make the venue refuse with
//! "not enough balance / allowance". Balances are those of the wallet the query's `signature_type`
//! names, as the venue answers for the funder: the key owner's own address (EOA, and deposit
//! wallets, which the simulator does not hold apart), the Safe it derives (2) or its proxy (1).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polyfleet_core::TokenId;
use polyfleet_core::exec::funds::Asset;
use serde::Deserialize;
use serde_json::json;

use crate::order_api::{Authed, error};
use crate::server::Shared;
use crate::venue_auth::{EXCHANGE_V2, NEG_RISK_EXCHANGE_V2};

/// The routes, merged into the order API's.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/balance-allowance", get(balance_allowance))
        .route("/balance-allowance/update", get(|_: Authed| async { Json(json!(null)) }))
        .route("/sim/faults/allowance", post(fault_allowance))
}

#[derive(Deserialize)]
struct AssetQuery {
    asset_type: String,
    token_id: Option<String>,
    signature_type: Option<u8>,
}

/// Unlimited, as the chain reports a max approval.
const UNLIMITED: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

async fn balance_allowance(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<AssetQuery>,
    Authed { account, .. }: Authed,
) -> Response {
    let asset = match (q.asset_type.to_ascii_uppercase().as_str(), q.token_id.as_deref()) {
        ("COLLATERAL", _) => Asset::Collateral,
        ("CONDITIONAL", Some(t)) => match TokenId::parse(t) {
            Ok(t) => Asset::Token(t),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("token_id: {e}")),
        },
        _ => return error(StatusCode::BAD_REQUEST, "asset_type must be COLLATERAL, or CONDITIONAL with a token_id"),
    };
    let derived = match q.signature_type {
        Some(1) => polymarket_client_sdk_v2::derive_proxy_wallet(account.address, polymarket_client_sdk_v2::POLYGON),
        Some(2) => polymarket_client_sdk_v2::derive_safe_wallet(account.address, polymarket_client_sdk_v2::POLYGON),
        _ => None,
    };
    let who = derived.unwrap_or(account.address);
    let ex = shared.exchange.lock().await;
    let balance = ex.held(&who, asset).max(0);
    let allowance = match asset {
        Asset::Collateral => ex.wallets.allowance(&who),
        Asset::Token(_) => i128::MAX,
    };
    let allowance = if allowance == i128::MAX { UNLIMITED.to_string() } else { allowance.max(0).to_string() };
    let allowances = json!({
        EXCHANGE_V2.to_string(): allowance,
        NEG_RISK_EXCHANGE_V2.to_string(): allowance,
    });
    Json(json!({"balance": balance.to_string(), "allowances": allowances})).into_response()
}

#[derive(Deserialize)]
struct AllowanceFault {
    address: String,
    micros: Option<i64>,
}

async fn fault_allowance(State(shared): State<Arc<Shared>>, Query(q): Query<AllowanceFault>) -> Response {
    match q.address.parse::<alloy::primitives::Address>() {
        Ok(a) => {
            shared.exchange.lock().await.wallets.set_allowance(&a, q.micros.map(i128::from));
            "ok".into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, format!("address: {e}")),
    }
}

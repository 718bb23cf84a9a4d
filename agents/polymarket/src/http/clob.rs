//! The venue's order API through the official SDK (`polymarket_client_sdk_v2`): L1/L2
//! authentication, order building (tick and size rounding, GTD's 60 s buffer), EIP-712 signing,
//! single and batch posting (at most 15 per request), cancels, order and trade queries, and the
//! dead-man heartbeat. Around every call: the per-signer token buckets (orders and cancels
//! apart), and retries of HTTP 425 (matching-engine restart), 429 and 5xx within a time budget;
//! after a restart outlasted the budget, order posts are held back and then probe, and the
//! post-only window that follows a restart is kept ([`crate::common::engine_restart`]).
//!
//! Orders are deterministic: the salt derives from the client order id and the timestamp is the
//! intent's creation time, so rebuilding an intent gives the same EIP-712 hash, which is the
//! venue order id. A restarted executor can therefore find an order it may have sent, and a
//! repeated post is refused by the venue as a duplicate instead of trading twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::engine_restart::{EngineState, Held};
use crate::websocket::user::{MakerFill, TradeEvent, TradeStatus};
use alloy::dyn_abi::Eip712Domain;
use alloy::sol_types::SolStruct as _;
use polyfleet_core::exec::TokenBucket;
use polyfleet_core::wire::{OrderIntent, TimeInForce};
use polyfleet_core::{Price, Quantity, Side};
use polymarket_client_sdk_v2::auth::Normal;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::clob::types::request::{OrdersRequest, TradesRequest};
use polymarket_client_sdk_v2::clob::types::response::{PostOrderResponse, TradeResponse};
use polymarket_client_sdk_v2::clob::types::{
    OrderPayload, OrderStatusType, OrderType, Side as SdkSide, SignableOrder, TradeStatusType,
};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::error::Status;
use polymarket_client_sdk_v2::types::{DateTime, Decimal, U256, Utc};
use polymarket_client_sdk_v2::{POLYGON, contract_config};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::common::credentials::LiveCredentials;
use crate::execution::tracker::Posted;
use polyfleet_io::execution::{Clock, VenueMetrics};

/// Largest batch `POST /orders` takes.
pub const MAX_BATCH: usize = 15;
/// Seconds the venue adds to a GTD order's expiry as a security buffer (set now + 60 + lifetime).
pub const GTD_BUFFER_S: u64 = 60;

type Authed = Client<Authenticated<Normal>>;

/// Why a venue call failed. Messages come from the venue and never carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The venue answered and refused (4xx other than 425/429, or a refused batch leg).
    #[error("refused by the venue ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The venue's message.
        message: String,
    },
    /// The venue kept answering 425/429/5xx for the whole retry budget.
    #[error("venue unavailable ({status}) for {budget_ms} ms: {message}")]
    Unavailable {
        /// The last HTTP status.
        status: u16,
        /// The retry budget spent, ms.
        budget_ms: u64,
        /// The venue's last message.
        message: String,
    },
    /// No answer (connection, timeout): the request may or may not have arrived.
    #[error("no answer from the venue: {0}")]
    Transport(String),
    /// The order could not be built (rules of the market, tick, size).
    #[error("order not built: {0}")]
    Build(String),
}

impl VenueError {
    /// The venue already has this order (a repeated post of a deterministic order).
    pub fn is_duplicate(&self) -> bool {
        matches!(self, VenueError::Refused { message, .. } if message.contains("Duplicated"))
    }
}

/// The balance-allowance query of `asset`.
fn balance_request(
    asset: polyfleet_core::exec::funds::Asset,
) -> Result<polymarket_client_sdk_v2::clob::types::request::BalanceAllowanceRequest, VenueError> {
    use polyfleet_core::exec::funds::Asset;
    use polymarket_client_sdk_v2::clob::types::AssetType;
    use polymarket_client_sdk_v2::clob::types::request::BalanceAllowanceRequest;
    Ok(match asset {
        Asset::Collateral => BalanceAllowanceRequest::builder().asset_type(AssetType::Collateral).build(),
        Asset::Token(t) => BalanceAllowanceRequest::builder()
            .asset_type(AssetType::Conditional)
            .token_id(U256::from_str_radix(&t.to_string(), 10).map_err(|e| VenueError::Build(e.to_string()))?)
            .build(),
    })
}

/// Rate limits and retry budget of the venue client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueLimits {
    /// Orders per second (the venue's per-signer limit).
    pub orders_per_second: u32,
    /// Orders allowed in a burst.
    pub orders_burst: u32,
    /// Cancels per second.
    pub cancels_per_second: u32,
    /// Cancels allowed in a burst.
    pub cancels_burst: u32,
    /// How long to keep retrying 425/429/5xx before giving up.
    pub retry_budget: Duration,
}

impl Default for VenueLimits {
    /// Polymarket's Standard tier (orders 40/s burst 60, cancels 80/s burst 120), 5 s of retries.
    fn default() -> Self {
        VenueLimits {
            orders_per_second: 40,
            orders_burst: 60,
            cancels_per_second: 80,
            cancels_burst: 120,
            retry_budget: Duration::from_secs(5),
        }
    }
}

/// A built and deterministic order, ready to sign and post.
#[derive(Debug, Clone)]
pub struct BuiltOrder {
    /// The EIP-712 hash: the venue order id.
    pub id: String,
    /// Maker and taker amounts as signed (6-decimal units): what the venue will hold us to.
    pub maker_amount: u64,
    /// Taker amount as signed.
    pub taker_amount: u64,
    /// The exchange contract the order is signed for (whose allowance it spends).
    pub exchange: alloy::primitives::Address,
    /// Post-only (it can only rest): admitted in the post-only window after an engine restart.
    pub post_only: bool,
    signable: SignableOrder,
}

impl BuiltOrder {
    /// The price and size the signed amounts stand for.
    pub fn price_and_size(&self, side: Side) -> Option<(Price, Quantity)> {
        let (cash, shares) = match side {
            Side::Buy => (self.maker_amount, self.taker_amount),
            Side::Sell => (self.taker_amount, self.maker_amount),
        };
        if shares == 0 {
            return None;
        }
        let ticks = u128::from(cash) * u128::from(Price::SCALE) / u128::from(shares);
        Some((Price::from_ticks(u32::try_from(ticks).ok()?)?, Quantity::from_micros(shares)))
    }
}

/// What a post answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostReply {
    /// What the venue did with the order.
    pub posted: Posted,
    /// Trades the order matched at once.
    pub trade_ids: Vec<String>,
}

/// Salt of an intent's order: 53 bits (a JSON-safe integer) of a hash of its identity.
fn salt(intent: &OrderIntent) -> u64 {
    let h = Sha256::digest(format!("{}/{}/{}", intent.namespace, intent.strategy, intent.client_order_id));
    u64::from_be_bytes(h[..8].try_into().unwrap_or_default()) & ((1 << 53) - 1)
}

fn decimal(s: impl ToString) -> Result<Decimal, VenueError> {
    s.to_string().parse::<Decimal>().map(|d| d.normalize()).map_err(|e| VenueError::Build(e.to_string()))
}

fn price_of(d: Decimal) -> Option<Price> {
    Price::parse(&d.normalize().to_string()).ok()
}

fn qty_of(d: Decimal) -> Option<Quantity> {
    Quantity::parse(&d.normalize().to_string()).ok()
}

fn u64_of(u: U256) -> u64 {
    u64::try_from(u).unwrap_or(u64::MAX)
}

/// Converts the SDK's trade into the adapter's (the same shape the user channel sends).
pub fn trade_event(t: &TradeResponse) -> Option<TradeEvent> {
    let status = match t.status {
        TradeStatusType::Matched => TradeStatus::Matched,
        TradeStatusType::Mined => TradeStatus::Mined,
        TradeStatusType::Retrying => TradeStatus::Retrying,
        TradeStatusType::Confirmed => TradeStatus::Confirmed,
        TradeStatusType::Failed => TradeStatus::Failed,
        _ => return None,
    };
    Some(TradeEvent {
        id: t.id.clone(),
        status,
        taker_order_id: t.taker_order_id.clone(),
        side: if t.side == SdkSide::Sell { Side::Sell } else { Side::Buy },
        price: price_of(t.price)?,
        size: qty_of(t.size)?,
        maker_orders: t
            .maker_orders
            .iter()
            .filter_map(|m| {
                Some(MakerFill {
                    order_id: m.order_id.clone(),
                    matched: qty_of(m.matched_amount)?,
                    price: price_of(m.price)?,
                })
            })
            .collect(),
    })
}

/// The authenticated venue client.
pub struct Venue {
    client: Authed,
    creds: Arc<LiveCredentials>,
    orders: Mutex<TokenBucket>,
    cancels: Mutex<TokenBucket>,
    limits: VenueLimits,
    metrics: Arc<dyn VenueMetrics>,
    clock: Clock,
    engine: Mutex<EngineState>,
}

impl Venue {
    /// Authenticates at `clob_url` (deriving the API key with an L1 signature unless the
    /// credentials carry one).
    pub async fn connect(
        clob_url: &str,
        creds: Arc<LiveCredentials>,
        limits: VenueLimits,
        metrics: Arc<dyn VenueMetrics>,
        clock: Clock,
    ) -> Result<Venue, VenueError> {
        let base = Client::new(clob_url, Config::default()).map_err(|e| VenueError::Transport(e.to_string()))?;
        let mut auth = base.authentication_builder(creds.signer()).signature_type(creds.signature_type());
        if let Some(f) = creds.funder() {
            auth = auth.funder(f);
        }
        if let Some(api) = creds.api() {
            auth = auth.credentials(api.clone());
        }
        let client = auth.authenticate().await.map_err(|e| classify(&e))?;
        let now = clock();
        Ok(Venue {
            client,
            orders: Mutex::new(TokenBucket::new(limits.orders_per_second, limits.orders_burst, now)),
            cancels: Mutex::new(TokenBucket::new(limits.cancels_per_second, limits.cancels_burst, now)),
            creds,
            limits,
            metrics,
            clock,
            engine: Mutex::new(EngineState::default()),
        })
    }

    /// Whether orders like these may be sent now ([`EngineState::admit`]): the venue is not
    /// called while a restart holds them, nor for a non-post-only one in the post-only window.
    fn admit(&self, endpoint: &'static str, post_only: bool) -> Result<(), VenueError> {
        let held = self.engine().admit(self.now_ns(), post_only);
        held.map_err(|h| {
            self.metrics.venue_call(endpoint, "held_engine_restart");
            match h {
                Held::Restarting { .. } => {
                    VenueError::Unavailable { status: 425, budget_ms: 0, message: h.to_string() }
                }
                Held::PostOnlyWindow { .. } => VenueError::Refused { status: 425, message: h.to_string() },
            }
        })
    }

    fn engine(&self) -> std::sync::MutexGuard<'_, EngineState> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Now, by the clock the venue client was given.
    pub fn now_ns(&self) -> u64 {
        (self.clock)()
    }

    /// The API key triple (for the user channel's subscription). Handle with care.
    pub fn api_credentials(&self) -> &polymarket_client_sdk_v2::auth::Credentials {
        self.client.credentials()
    }

    /// Builds the order of `intent` with the SDK (tick from the venue, size rounded down to the
    /// lot, GTD expiry plus the 60 s buffer) and makes it deterministic.
    pub async fn build(&self, intent: &OrderIntent) -> Result<BuiltOrder, VenueError> {
        let token =
            U256::from_str_radix(&intent.token.to_string(), 10).map_err(|e| VenueError::Build(e.to_string()))?;
        let (order_type, expiration) = match intent.tif {
            TimeInForce::Gtc => (OrderType::GTC, None),
            TimeInForce::Gtd { expires_at_s } => {
                let at = DateTime::<Utc>::from_timestamp((expires_at_s + GTD_BUFFER_S) as i64, 0)
                    .ok_or_else(|| VenueError::Build("GTD expiry out of range".into()))?;
                (OrderType::GTD, Some(at))
            }
            TimeInForce::Fok => (OrderType::FOK, None),
            TimeInForce::Fak => (OrderType::FAK, None),
        };
        let mut b = self
            .client
            .limit_order()
            .token_id(token)
            .side(if intent.side == Side::Buy { SdkSide::Buy } else { SdkSide::Sell })
            .price(decimal(intent.price)?)
            .size(decimal(intent.size)?)
            .order_type(order_type);
        if let Some(at) = expiration {
            b = b.expiration(at);
        }
        if intent.post_only {
            b = b.post_only(true);
        }
        let mut signable = b.build().await.map_err(|e| match classify(&e) {
            VenueError::Refused { message, .. } => VenueError::Build(message),
            other => other,
        })?;
        let neg_risk = self.client.neg_risk(token).await.map_err(|e| classify(&e))?.neg_risk;
        let v3 = matches!(signable.payload, OrderPayload::V3(_));
        let p = match &mut signable.payload {
            OrderPayload::V2(p) | OrderPayload::V3(p) => p,
            _ => return Err(VenueError::Build("the venue speaks the retired V1 order protocol".into())),
        };
        p.order.salt = U256::from(salt(intent));
        p.order.timestamp = U256::from(intent.created_ts_ns / 1_000_000);
        let cfg = contract_config(POLYGON, neg_risk && !v3)
            .ok_or_else(|| VenueError::Build("no contract configuration for Polygon".into()))?;
        let exchange = if v3 { cfg.exchange_v3 } else { cfg.exchange_v2 }
            .ok_or_else(|| VenueError::Build("no exchange contract for this protocol version".into()))?;
        let domain = Eip712Domain {
            name: Some("Polymarket CTF Exchange".into()),
            version: Some(if v3 { "3" } else { "2" }.into()),
            chain_id: Some(U256::from(POLYGON)),
            verifying_contract: Some(exchange),
            ..Eip712Domain::default()
        };
        let id = format!("{:#x}", p.order.eip712_signing_hash(&domain));
        let (maker_amount, taker_amount) = (u64_of(p.order.makerAmount), u64_of(p.order.takerAmount));
        Ok(BuiltOrder { id, maker_amount, taker_amount, exchange, post_only: intent.post_only, signable })
    }

    /// Signs a built order (the SDK signs; the signature is deterministic).
    pub async fn sign(
        &self,
        order: &BuiltOrder,
    ) -> Result<polymarket_client_sdk_v2::clob::types::SignedOrder, VenueError> {
        self.client
            .sign(self.creds.signer(), order.signable.clone())
            .await
            .map_err(|e| VenueError::Build(e.to_string()))
    }

    /// Waits until `n` tokens were taken from `bucket` (`burst` at a time: more never fit).
    async fn take(&self, bucket: &Mutex<TokenBucket>, n: u32, burst: u32) {
        let mut left = n;
        while left > 0 {
            let k = left.min(burst.max(1));
            let wait = bucket.lock().unwrap_or_else(|e| e.into_inner()).take(k, (self.clock)());
            match wait {
                Ok(()) => left -= k,
                Err(ns) => {
                    self.metrics.rate_limit_wait();
                    tokio::time::sleep(Duration::from_nanos(ns)).await;
                }
            }
        }
    }

    /// Runs `call` until it answers, retrying 425/429/5xx within the budget.
    async fn retried<T, F, Fut>(&self, endpoint: &'static str, call: F) -> Result<T, VenueError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = polymarket_client_sdk_v2::Result<T>>,
    {
        let start = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let err = match call().await {
                Ok(v) => {
                    self.metrics.venue_call(endpoint, "ok");
                    // The engine answers: after a restart, its post-only window opens.
                    self.engine().on_success(self.now_ns());
                    return Ok(v);
                }
                Err(e) => classify(&e),
            };
            let retry = match &err {
                VenueError::Unavailable { status, .. } => {
                    if *status == 425 {
                        self.engine().on_restart(self.now_ns());
                    }
                    self.metrics.venue_call(endpoint, if *status == 425 { "engine_restart" } else { "throttled" });
                    true
                }
                VenueError::Transport(_) => {
                    self.metrics.venue_call(endpoint, "transport");
                    true
                }
                _ => {
                    self.metrics.venue_call(endpoint, "refused");
                    false
                }
            };
            if !retry || start.elapsed() + delay > self.limits.retry_budget {
                return Err(match err {
                    VenueError::Unavailable { status, message, .. } => VenueError::Unavailable {
                        status,
                        budget_ms: u64::try_from(self.limits.retry_budget.as_millis()).unwrap_or(u64::MAX),
                        message,
                    },
                    other => other,
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The account's balance of `asset` and the allowance it granted `exchange`, as the venue
    /// sees them (6-decimal units; an allowance beyond `u64` saturates).
    pub async fn funds(
        &self,
        asset: polyfleet_core::exec::funds::Asset,
        exchange: alloy::primitives::Address,
    ) -> Result<(u64, u64), VenueError> {
        let request = balance_request(asset)?;
        let r = self.retried("balance_allowance", || self.client.balance_allowance(request.clone())).await?;
        let units = |s: &str| s.trim().parse::<U256>().map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX));
        let balance = units(&r.balance.trunc().to_string());
        let allowance = r.allowances.get(&exchange).map_or(0, |a| units(a));
        Ok((balance, allowance))
    }

    /// Asks the venue to read the account's balances and allowances again (after it refused an
    /// order for them, or after approvals).
    pub async fn refresh_funds(&self, asset: polyfleet_core::exec::funds::Asset) -> Result<(), VenueError> {
        let request = balance_request(asset)?;
        self.retried("balance_allowance_update", || self.client.update_balance_allowance(request.clone())).await
    }

    /// Posts one order.
    pub async fn post(&self, order: &BuiltOrder) -> Result<PostReply, VenueError> {
        self.admit("post_order", order.post_only)?;
        self.take(&self.orders, 1, self.limits.orders_burst).await;
        let reply = self
            .retried("post_order", || async {
                let signed = self.client.sign(self.creds.signer(), order.signable.clone()).await?;
                self.client.post_order(signed).await
            })
            .await?;
        reply_of(&reply, order)
    }

    /// Posts up to [`MAX_BATCH`] orders per request (longer lists go in several); one answer per
    /// order, in order. Each order is admitted on its own (in the post-only window after an
    /// engine restart only the orders that could take liquidity are refused, the others go).
    /// A request draws one order token per order.
    pub async fn post_batch(&self, orders: &[BuiltOrder]) -> Vec<Result<PostReply, VenueError>> {
        let mut out: Vec<Option<Result<PostReply, VenueError>>> = vec![None; orders.len()];
        let mut admitted = vec![];
        for (k, o) in orders.iter().enumerate() {
            match self.admit("post_orders", o.post_only) {
                Ok(()) => admitted.push(k),
                Err(e) => out[k] = Some(Err(e)),
            }
        }
        for indices in admitted.chunks(MAX_BATCH) {
            let chunk: Vec<&BuiltOrder> = indices.iter().map(|&k| &orders[k]).collect();
            let replies = self.post_chunk(&chunk).await;
            for (&k, reply) in indices.iter().zip(replies) {
                out[k] = Some(reply);
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(VenueError::Transport("order left out of its batch".into()))))
            .collect()
    }

    /// One `POST /orders` request of at most [`MAX_BATCH`] admitted orders.
    async fn post_chunk(&self, chunk: &[&BuiltOrder]) -> Vec<Result<PostReply, VenueError>> {
        self.take(&self.orders, u32::try_from(chunk.len()).unwrap_or(u32::MAX), self.limits.orders_burst).await;
        let replies = self
            .retried("post_orders", || async {
                let mut signed = vec![];
                for o in chunk {
                    signed.push(self.client.sign(self.creds.signer(), o.signable.clone()).await?);
                }
                self.client.post_orders(signed).await
            })
            .await;
        match replies {
            Ok(r) if r.len() == chunk.len() => r.iter().zip(chunk).map(|(r, o)| reply_of(r, o)).collect(),
            Ok(r) => chunk
                .iter()
                .map(|_| {
                    Err(VenueError::Transport(format!("batch answered {} replies for {} orders", r.len(), chunk.len())))
                })
                .collect(),
            Err(e) => chunk.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    /// Cancels orders by venue id: (cancelled ids, refused ids with the reason).
    pub async fn cancel(&self, ids: &[String]) -> Result<(Vec<String>, Vec<(String, String)>), VenueError> {
        if ids.is_empty() {
            return Ok((vec![], vec![]));
        }
        self.take(&self.cancels, u32::try_from(ids.len()).unwrap_or(u32::MAX), self.limits.cancels_burst).await;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let r = self.retried("cancel_orders", || self.client.cancel_orders(&refs)).await?;
        let mut refused: Vec<(String, String)> = r.not_canceled.into_iter().collect();
        refused.sort();
        Ok((r.canceled, refused))
    }

    /// The venue's view of order `id`: its status and matched size; `None` when it does not
    /// know it (or no longer lists it: filled and cancelled orders may drop out).
    pub async fn order(&self, id: &str) -> Result<Option<(OrderStatusType, Quantity)>, VenueError> {
        match self.retried("get_order", || self.client.order(id)).await {
            Ok(o) => Ok(Some((o.status, qty_of(o.size_matched).unwrap_or(Quantity::ZERO)))),
            Err(VenueError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ids of every open order of the account.
    pub async fn open_orders(&self) -> Result<Vec<String>, VenueError> {
        let mut out = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let req = OrdersRequest::default();
            let c = cursor.clone();
            let page = self.retried("get_orders", || self.client.orders(&req, c.clone())).await?;
            out.extend(page.data.into_iter().map(|o| o.id));
            if page.next_cursor.is_empty() || page.next_cursor == "LTE=" {
                return Ok(out);
            }
            cursor = Some(page.next_cursor);
        }
    }

    /// Every trade of the account the venue lists.
    pub async fn trades(&self) -> Result<Vec<TradeEvent>, VenueError> {
        let mut out = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let req = TradesRequest::default();
            let c = cursor.clone();
            let page = self.retried("get_trades", || self.client.trades(&req, c.clone())).await?;
            out.extend(page.data.iter().filter_map(trade_event));
            if page.next_cursor.is_empty() || page.next_cursor == "LTE=" {
                return Ok(out);
            }
            cursor = Some(page.next_cursor);
        }
    }

    /// One dead-man heartbeat: `previous` continues a chain (None starts one); the id to send next.
    pub async fn heartbeat(&self, previous: Option<Uuid>) -> Result<Uuid, VenueError> {
        let r = self.client.post_heartbeat(previous).await.map_err(|e| classify(&e))?;
        Ok(r.heartbeat_id)
    }

    /// Whether `token` trades on the neg-risk exchange (the SDK caches the answer).
    pub async fn neg_risk(&self, token: &polyfleet_core::TokenId) -> Result<bool, VenueError> {
        let id = U256::from_str_radix(&token.to_string(), 10).map_err(|e| VenueError::Build(e.to_string()))?;
        Ok(self.client.neg_risk(id).await.map_err(|e| classify(&e))?.neg_risk)
    }

    /// The signer's address, for logs.
    pub fn address(&self) -> String {
        format!("{:#x}", self.creds.address())
    }
}

/// Reads a post reply: accepted (with what it did) or refused.
fn reply_of(r: &PostOrderResponse, order: &BuiltOrder) -> Result<PostReply, VenueError> {
    let message = r.error_msg.clone().unwrap_or_default();
    if !r.success || r.order_id.is_empty() {
        return Err(VenueError::Refused {
            status: 200,
            message: if message.is_empty() { "order not accepted".into() } else { message },
        });
    }
    if !r.order_id.eq_ignore_ascii_case(&order.id) {
        tracing::warn!(venue = %r.order_id, ours = %order.id, "the venue's order id differs from the computed EIP-712 hash");
    }
    // BUY: taking = shares received; SELL: making = shares given.
    let side_is_buy = matches!(&order.signable.payload, OrderPayload::V2(p) | OrderPayload::V3(p) if p.order.side == 0);
    let shares = if side_is_buy { r.taking_amount } else { r.making_amount };
    let posted = match r.status {
        OrderStatusType::Live => Posted::Live,
        OrderStatusType::Delayed => Posted::Delayed,
        OrderStatusType::Matched => Posted::Matched { filled: qty_of(shares).unwrap_or(Quantity::ZERO) },
        _ => Posted::Matched { filled: Quantity::ZERO },
    };
    Ok(PostReply { posted, trade_ids: r.trade_ids.clone() })
}

/// Sorts an SDK error: a status from the venue, or no answer.
fn classify(e: &polymarket_client_sdk_v2::error::Error) -> VenueError {
    match e.downcast_ref::<Status>() {
        Some(s) => {
            let status = s.status_code.as_u16();
            let message = s.message.chars().take(500).collect();
            if status == 425 || status == 429 || status >= 500 {
                VenueError::Unavailable { status, budget_ms: 0, message }
            } else {
                VenueError::Refused { status, message }
            }
        }
        None => VenueError::Transport(e.to_string()),
    }
}

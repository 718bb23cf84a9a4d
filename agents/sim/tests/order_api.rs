//! The simulator's order API driven by the official SDK (`polymarket_client_sdk_v2`), as a live
//! account would use the venue: L1 key derivation, a taker order that fills, a post-only order
//! that rests and is cancelled, settlement (CONFIRMED, and FAILED for the configured share) on
//! the user channel, the dead-man switch, and clear refusals of a wrong API secret, a forged
//! order signature and a wrong user-channel secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use alloy::signers::Signer as _;
use alloy::signers::local::PrivateKeySigner;
use futures::{SinkExt, StreamExt};
use polyfleet_core::book::OrderBook;
use polyfleet_core::{Price, TokenId};
use polyfleet_sim::SimConfig;
use polyfleet_sim::exchange::ExchangeConfig;
use polyfleet_sim::server::{self, SimHandle};
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::auth::Credentials;
use polymarket_client_sdk_v2::auth::Normal;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::clob::types::response::PostOrderResponse;
use polymarket_client_sdk_v2::clob::types::{OrderType, Side};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Decimal, U256};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Well-known development keys (Hardhat accounts 0 and 1): no value anywhere.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const OTHER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

fn signer(key: &str) -> PrivateKeySigner {
    PrivateKeySigner::from_str(key).unwrap().with_chain_id(Some(POLYGON))
}

fn dec(p: Price) -> Decimal {
    Decimal::from_str(&p.to_string()).unwrap().normalize()
}

async fn start(cfg: ExchangeConfig) -> SimHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = server::serve(
        SimConfig { binary_markets: 2, ..SimConfig::default() },
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        0,
    )
    .await
    .unwrap();
    sim.configure_exchange(cfg).await;
    sim
}

async fn first_book(sim: &SimHandle) -> (TokenId, OrderBook, String) {
    let (token, market) = sim.with_model(|m| (m.markets()[0].yes, m.markets()[0].condition)).await.unwrap();
    let (book, _) = sim.truth(&token).await.unwrap();
    (token, book, market.to_string())
}

/// A user-channel connection subscribed with `creds` to `market`.
async fn user_channel(
    sim: &SimHandle,
    creds: (&str, &str, &str),
    market: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(sim.user_ws_url()).await.unwrap();
    let sub = json!({"auth": {"apiKey": creds.0, "secret": creds.1, "passphrase": creds.2}, "markets": [market], "type": "user"});
    ws.send(Message::Text(sub.to_string().into())).await.unwrap();
    ws
}

/// Next JSON message on `ws` matching `pred`, within 10 s.
async fn next_matching(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("user channel closed") };
            let v: Value = serde_json::from_str(&t).unwrap();
            if pred(&v) {
                return v;
            }
        }
    })
    .await
    .expect("no matching user event within 10 s")
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An authenticated SDK client on the first market's YES token, with its user channel open.
struct Trader {
    sim: SimHandle,
    signer: PrivateKeySigner,
    client: Client<Authenticated<Normal>>,
    token_id: U256,
    book: OrderBook,
    ws: Ws,
}

impl Trader {
    async fn new(cfg: ExchangeConfig) -> Trader {
        let sim = start(cfg).await;
        let signer = signer(KEY);
        let client = authenticate(&sim, &signer).await;
        let c = client.credentials().clone();
        let (token, book, market) = first_book(&sim).await;
        let (key, secret, pass) =
            (c.key().to_string(), c.secret().expose_secret().to_string(), c.passphrase().expose_secret().to_string());
        let ws = user_channel(&sim, (&key, &secret, &pass), &market).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Trader { sim, signer, client, token_id: U256::from_str(&token.to_string()).unwrap(), book, ws }
    }

    /// Builds, signs and posts a limit buy through the SDK.
    async fn buy(
        &self,
        price: Price,
        size: u32,
        order_type: OrderType,
        post_only: bool,
    ) -> polymarket_client_sdk_v2::Result<PostOrderResponse> {
        let mut b = self
            .client
            .limit_order()
            .token_id(self.token_id)
            .side(Side::Buy)
            .price(dec(price))
            .size(Decimal::from(size))
            .order_type(order_type);
        if post_only {
            b = b.post_only(true);
        }
        b.build_sign_and_post(&self.signer).await
    }

    /// A price `ticks` ticks under the best bid.
    fn under_bid(&self, ticks: u32) -> Price {
        Price::from_ticks(self.book.best_bid().unwrap().price.ticks() - ticks * self.book.tick().ticks()).unwrap()
    }

    fn ask(&self) -> Price {
        self.book.best_ask().unwrap().price
    }
}

async fn authenticate(sim: &SimHandle, signer: &PrivateKeySigner) -> Client<Authenticated<Normal>> {
    Client::new(&sim.http_url(), Config::default())
        .unwrap()
        .authentication_builder(signer)
        .authenticate()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_sdk_trades_against_the_simulator() {
    let mut t = Trader::new(ExchangeConfig {
        settle_after_ms: 200,
        fail_permille: 0,
        heartbeat_window_ms: 60_000,
        ..ExchangeConfig::default()
    })
    .await;
    // Derivation is deterministic: the same key comes back.
    assert_eq!(authenticate(&t.sim, &t.signer).await.credentials().key(), t.client.credentials().key());

    // A FAK buy at the best ask takes liquidity.
    let taken = t.buy(t.ask(), 5, OrderType::FAK, false).await.unwrap();
    assert!(taken.success, "{taken:?}");
    assert_eq!(taken.trade_ids.len(), 1, "{taken:?}");
    assert_eq!(taken.taking_amount, Decimal::from(5));
    let matched = next_matching(&mut t.ws, |v| v["event_type"] == "trade" && v["status"] == "MATCHED").await;
    assert_eq!(matched["taker_order_id"], taken.order_id);
    assert_eq!(matched["trader_side"], "TAKER");
    let confirmed = next_matching(&mut t.ws, |v| v["event_type"] == "trade" && v["status"] != "MATCHED").await;
    assert_eq!(confirmed["status"], "CONFIRMED");
    assert_eq!(confirmed["id"], matched["id"]);
    // The confirmed trade moved the maker's balances on the simulated chain (no fees here).
    let token = polyfleet_core::TokenId::parse(&t.token_id.to_string()).unwrap();
    let (cash, tokens) = t.sim.balances(t.signer.address(), &[token]).await;
    let cost =
        t.ask().notional(polyfleet_core::Quantity::from_shares(5).unwrap(), polyfleet_core::Rounding::Down).unwrap();
    assert_eq!(tokens, vec![5_000_000]);
    assert_eq!(cash, polyfleet_sim::exchange::ExchangeConfig::default().initial_collateral - i128::from(cost.micros()));

    // A post-only bid below the book rests, is listed, and is cancelled once.
    let rested = t.buy(t.under_bid(3), 10, OrderType::GTC, true).await.unwrap();
    assert_eq!(rested.status.to_string(), "LIVE");
    let placement = next_matching(&mut t.ws, |v| v["event_type"] == "order").await;
    assert_eq!(placement["type"], "PLACEMENT");
    assert_eq!(placement["id"], rested.order_id);
    let open = t.client.orders(&Default::default(), None).await.unwrap();
    assert_eq!(open.data.len(), 1);
    assert_eq!(open.data[0].id, rested.order_id);
    let c = t.client.cancel_order(&rested.order_id).await.unwrap();
    assert_eq!(c.canceled, vec![rested.order_id.clone()]);
    let cancellation = next_matching(&mut t.ws, |v| v["event_type"] == "order").await;
    assert_eq!(cancellation["type"], "CANCELLATION");
    let twice = t.client.cancel_order(&rested.order_id).await.unwrap();
    assert!(twice.canceled.is_empty());
    assert_eq!(twice.not_canceled[&rested.order_id], "order already canceled");

    // A crossing post-only order is refused with the reason.
    let err = t.buy(t.ask(), 5, OrderType::GTC, true).await.unwrap_err();
    assert!(err.to_string().contains("post-only order would cross"), "{err}");

    // The trades endpoint lists the fill as settled.
    let trades = t.client.trades(&Default::default(), None).await.unwrap();
    assert_eq!(trades.data.len(), 1);
    assert_eq!(trades.data[0].status.to_string(), "CONFIRMED");
    assert_eq!(t.sim.auth_failures(), 0);
}

#[tokio::test]
async fn failed_trades_and_the_dead_man_switch() {
    let mut t = Trader::new(ExchangeConfig {
        settle_after_ms: 100,
        fail_permille: 1000,
        heartbeat_window_ms: 600,
        ..ExchangeConfig::default()
    })
    .await;
    t.buy(t.ask(), 5, OrderType::FOK, false).await.unwrap();
    next_matching(&mut t.ws, |v| v["event_type"] == "trade" && v["status"] == "MATCHED").await;
    let settled = next_matching(&mut t.ws, |v| v["event_type"] == "trade" && v["status"] != "MATCHED").await;
    assert_eq!(settled["status"], "FAILED");

    // Heartbeats chain; a wrong id is refused.
    let hb = t.client.post_heartbeat(None).await.unwrap();
    t.client.post_heartbeat(Some(hb.heartbeat_id)).await.unwrap();
    assert!(t.client.post_heartbeat(Some(hb.heartbeat_id)).await.is_err());
    // The client stops sending: its resting order is cancelled by the venue.
    t.client.post_heartbeat(None).await.unwrap();
    let rested = t.buy(t.under_bid(5), 10, OrderType::GTC, false).await.unwrap();
    assert_eq!(t.sim.open_orders().await, 1);
    let cancellation = next_matching(&mut t.ws, |v| v["event_type"] == "order" && v["type"] == "CANCELLATION").await;
    assert_eq!(cancellation["id"], rested.order_id);
    assert_eq!(t.sim.open_orders().await, 0);
}

#[tokio::test]
async fn wrong_credentials_and_forged_signatures_are_refused() {
    let sim = start(ExchangeConfig::default()).await;
    let signer = signer(KEY);
    let good = Client::new(&sim.http_url(), Config::default())
        .unwrap()
        .authentication_builder(&signer)
        .authenticate()
        .await
        .unwrap();
    let creds = good.credentials().clone();
    let (token, book, market) = first_book(&sim).await;
    let token_id = U256::from_str(&token.to_string()).unwrap();
    let ask = dec(book.best_ask().unwrap().price);

    // Right key and passphrase, wrong secret: every L2 request fails with the reason.
    let wrong_secret = base64_secret(b"definitely-not-the-secret-000000");
    let wrong = Credentials::new(creds.key(), wrong_secret.clone(), creds.passphrase().expose_secret().to_string());
    let client = Client::new(&sim.http_url(), Config::default())
        .unwrap()
        .authentication_builder(&signer)
        .credentials(wrong)
        .authenticate()
        .await
        .unwrap();
    let err = client
        .limit_order()
        .token_id(token_id)
        .side(Side::Buy)
        .price(ask)
        .size(Decimal::from(5))
        .order_type(OrderType::FOK)
        .build_sign_and_post(&signer)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("401") && msg.contains("wrong API secret"), "{msg}");
    assert!(
        !msg.contains(&wrong_secret) && !msg.contains(creds.secret().expose_secret()),
        "an error must not echo the secret: {msg}"
    );
    assert!(client.cancel_all_orders().await.unwrap_err().to_string().contains("HMAC"));

    // An order signed by another key than its signer field: refused as a bad signature.
    let order = good
        .limit_order()
        .token_id(token_id)
        .side(Side::Buy)
        .price(ask)
        .size(Decimal::from(5))
        .order_type(OrderType::FOK)
        .build()
        .await
        .unwrap();
    let forged = good.sign(&self::signer(OTHER_KEY), order).await.unwrap();
    let err = good.post_order(forged).await.unwrap_err().to_string();
    assert!(err.contains("400") && err.contains("invalid signature"), "{err}");
    assert_eq!(sim.signature_failures(), 1);
    assert_eq!(sim.orders_accepted().await, 0);

    // The user channel refuses a wrong secret and closes.
    let mut ws =
        user_channel(&sim, (&creds.key().to_string(), &wrong_secret, creds.passphrase().expose_secret()), &market)
            .await;
    let refusal = next_matching(&mut ws, |v| v.get("error").is_some()).await;
    assert!(refusal["error"].as_str().unwrap().contains("does not match"), "{refusal}");
    assert!(sim.auth_failures() >= 3);
}

fn base64_secret(raw: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

#[tokio::test]
async fn proxy_and_deposit_wallet_orders_are_verified() {
    use polymarket_client_sdk_v2::clob::types::SignatureType;
    use polymarket_client_sdk_v2::types::Address;
    let sim = start(ExchangeConfig::default()).await;
    let signer = signer(KEY);
    let (token, book, _) = first_book(&sim).await;
    let token_id = U256::from_str(&token.to_string()).unwrap();
    let wallet = Address::from_str("0x70997970c51812dc3a010c7d01b50e0d17dc79c8").unwrap();
    for (kind, funder) in [(SignatureType::Proxy, None), (SignatureType::Poly1271, Some(wallet))] {
        let mut auth = Client::new(&sim.http_url(), Config::default())
            .unwrap()
            .authentication_builder(&signer)
            .signature_type(kind);
        if let Some(f) = funder {
            auth = auth.funder(f);
        }
        let client = auth.authenticate().await.unwrap();
        let r = client
            .limit_order()
            .token_id(token_id)
            .side(Side::Buy)
            .price(dec(book.best_ask().unwrap().price))
            .size(Decimal::from(5))
            .order_type(OrderType::FAK)
            .build_sign_and_post(&signer)
            .await
            .unwrap_or_else(|e| panic!("signature type {}: {e}", kind as u8));
        assert!(r.success);
    }
    assert_eq!(sim.signature_failures(), 0);
    // A deposit-wallet order signed by a key that does not own the account is refused.
    let client = Client::new(&sim.http_url(), Config::default())
        .unwrap()
        .authentication_builder(&signer)
        .signature_type(SignatureType::Poly1271)
        .funder(wallet)
        .authenticate()
        .await
        .unwrap();
    let order = client
        .limit_order()
        .token_id(token_id)
        .side(Side::Buy)
        .price(dec(book.best_ask().unwrap().price))
        .size(Decimal::from(5))
        .order_type(OrderType::FAK)
        .build()
        .await
        .unwrap();
    let forged = client.sign(&self::signer(OTHER_KEY), order).await.unwrap();
    let err = client.post_order(forged).await.unwrap_err().to_string();
    assert!(err.contains("invalid signature"), "{err}");
}

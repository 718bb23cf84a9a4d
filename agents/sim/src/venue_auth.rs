//! What the simulator checks before it accepts a request, as the venue does (see
//! `shared/docs/venue-polymarket.md` §2.5–2.6), written from the protocol text rather than from
//! the SDK so that the SDK is tested against it:
//! - **L1** (wallet) headers on `/auth/*`: an EIP-712 `ClobAuth` signature by `POLY_ADDRESS`;
//!   the API credentials it issues are derived from a server seed, the address and the nonce.
//! - **L2** (API key) headers on trading endpoints: the key is known, the passphrase and address
//!   match it, and `POLY_SIGNATURE` is the HMAC-SHA256 of `timestamp + METHOD + path + body`
//!   under the key's secret.
//! - **Orders**: the posted V2 order's EIP-712 hash (domain "Polymarket CTF Exchange" version 2,
//!   chain 137, the standard or neg-risk exchange) recovers to its signer (EOA, proxy and safe
//!   types), or, for deposit wallets (type 3), the ERC-1271 `TypedDataSign` wrapper's inner
//!   signature recovers to the key's owner; amounts give a price on the market's tick.
//!
//! Pure functions over header values and bodies: no I/O, no clock (time is passed in).

use std::collections::HashMap;
use std::str::FromStr;

use alloy::dyn_abi::Eip712Domain;
use alloy::primitives::{Address, B256, Signature, U256, address, keccak256};
use alloy::sol_types::{SolStruct, SolValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use polyfleet_core::{Price, Quantity, Side, TokenId};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::exchange::VenueOrderType;

mod types {
    alloy::core::sol! {
        /// L1 authentication message.
        struct ClobAuth {
            address address;
            string timestamp;
            uint256 nonce;
            string message;
        }

        /// The CLOB V2 signed order.
        struct Order {
            uint256 salt;
            address maker;
            address signer;
            uint256 tokenId;
            uint256 makerAmount;
            uint256 takerAmount;
            uint8 side;
            uint8 signatureType;
            uint256 timestamp;
            bytes32 metadata;
            bytes32 builder;
        }
    }
}
use types::{ClobAuth, Order};

/// Polygon.
pub const CHAIN_ID: u64 = 137;
/// CTF Exchange V2.
pub const EXCHANGE_V2: Address = address!("0xE111180000d2663C0091e4f400237545B87B996B");
/// Neg Risk CTF Exchange V2.
pub const NEG_RISK_EXCHANGE_V2: Address = address!("0xe2222d279d744050d28e00520010520000310F59");
const L1_MESSAGE: &str = "This message attests that I control the given wallet";
/// Requests older or newer than this (seconds) are refused.
const MAX_CLOCK_SKEW_S: u64 = 300;
const SOLADY_TYPE_STRING: &str = concat!(
    "TypedDataSign(Order contents,string name,string version,uint256 chainId,",
    "address verifyingContract,bytes32 salt)",
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,",
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,",
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
);

/// Why a request was refused (the text is what the client sees).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header does not parse.
    #[error("malformed header {0}")]
    Malformed(&'static str),
    /// The timestamp is too old or in the future.
    #[error("request timestamp outside the accepted window")]
    Stale,
    /// The L1 signature is not the address's.
    #[error("L1 signature does not recover to POLY_ADDRESS")]
    BadL1Signature,
    /// The API key is unknown.
    #[error("Unauthorized/Invalid api key")]
    UnknownKey,
    /// Passphrase or address do not match the key.
    #[error("invalid L2 credentials: passphrase or address does not match the api key")]
    Mismatch,
    /// The request's HMAC does not match.
    #[error("invalid L2 signature: HMAC of the request does not match (wrong API secret?)")]
    BadHmac,
}

/// Why an order was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The body does not parse.
    #[error("invalid order payload: {0}")]
    Payload(String),
    /// The owner is not the request's API key.
    #[error("the order owner is not the api key of the request")]
    Owner,
    /// The EIP-712 signature is not the signer's.
    #[error("invalid signature: the order's EIP-712 signature does not recover to its signer")]
    Signature,
    /// The signer is not the API key's address.
    #[error("the order's signer is not the api key's address")]
    Signer,
    /// Price off the tick or size off the hundredths.
    #[error("invalid amounts: the price is not a multiple of the market's tick or the size not in hundredths")]
    Amounts,
}

/// API credentials as `/auth/api-key` returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// API key.
    pub key: Uuid,
    /// API secret (base64).
    pub secret: String,
    /// API passphrase.
    pub passphrase: String,
}

/// An account known by its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's address.
    pub address: Address,
    /// Its API credentials.
    pub credentials: Credentials,
}

/// The accounts the venue issued keys to.
#[derive(Debug, Clone)]
pub struct Accounts {
    seed: [u8; 32],
    by_key: HashMap<Uuid, Account>,
}

impl Accounts {
    /// Accounts whose credentials derive from `seed`.
    pub fn new(seed: u64) -> Accounts {
        let seed: [u8; 32] = Sha256::digest(format!("polyfleet-sim-accounts-{seed}")).into();
        Accounts { seed, by_key: HashMap::new() }
    }

    /// Credentials of `address` for `nonce` (the same every time: create and derive agree).
    pub fn issue(&mut self, address: Address, nonce: u64) -> Credentials {
        let part = |what: &str| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(address.as_slice());
            h.update(nonce.to_be_bytes());
            h.update(what.as_bytes());
            h.finalize().into()
        };
        let k = part("key");
        let key = uuid::Builder::from_random_bytes(k[..16].try_into().unwrap_or_default()).into_uuid();
        let secret = URL_SAFE.encode(part("secret"));
        let passphrase = part("passphrase").iter().take(16).map(|b| format!("{b:02x}")).collect();
        let credentials = Credentials { key, secret, passphrase };
        self.by_key.insert(key, Account { address, credentials: credentials.clone() });
        credentials
    }

    /// Checks L1 headers (`header(name)` gives a header's value); the address and nonce.
    pub fn verify_l1<'a>(
        &self,
        header: impl Fn(&'static str) -> Option<&'a str>,
        now_s: u64,
    ) -> Result<(Address, u64), AuthError> {
        let get = |n: &'static str| header(n).ok_or(AuthError::MissingHeader(n));
        let address = Address::from_str(get("POLY_ADDRESS")?).map_err(|_| AuthError::Malformed("POLY_ADDRESS"))?;
        let ts = get("POLY_TIMESTAMP")?;
        fresh(ts, now_s)?;
        let nonce: u64 = header("POLY_NONCE").unwrap_or("0").parse().map_err(|_| AuthError::Malformed("POLY_NONCE"))?;
        let sig = Signature::from_str(get("POLY_SIGNATURE")?).map_err(|_| AuthError::Malformed("POLY_SIGNATURE"))?;
        let auth =
            ClobAuth { address, timestamp: ts.to_string(), nonce: U256::from(nonce), message: L1_MESSAGE.into() };
        let domain = Eip712Domain {
            name: Some("ClobAuthDomain".into()),
            version: Some("1".into()),
            chain_id: Some(U256::from(CHAIN_ID)),
            ..Eip712Domain::default()
        };
        match sig.recover_address_from_prehash(&auth.eip712_signing_hash(&domain)) {
            Ok(a) if a == address => Ok((address, nonce)),
            _ => Err(AuthError::BadL1Signature),
        }
    }

    /// Checks L2 headers against the request (`path` without the query, `body` as sent).
    pub fn verify_l2<'a>(
        &self,
        header: impl Fn(&'static str) -> Option<&'a str>,
        method: &str,
        path: &str,
        body: &[u8],
        now_s: u64,
    ) -> Result<&Account, AuthError> {
        let get = |n: &'static str| header(n).ok_or(AuthError::MissingHeader(n));
        let key = Uuid::parse_str(get("POLY_API_KEY")?).map_err(|_| AuthError::UnknownKey)?;
        let account = self.by_key.get(&key).ok_or(AuthError::UnknownKey)?;
        let address = Address::from_str(get("POLY_ADDRESS")?).map_err(|_| AuthError::Malformed("POLY_ADDRESS"))?;
        if address != account.address || get("POLY_PASSPHRASE")? != account.credentials.passphrase {
            return Err(AuthError::Mismatch);
        }
        let ts = get("POLY_TIMESTAMP")?;
        fresh(ts, now_s)?;
        let given = URL_SAFE.decode(get("POLY_SIGNATURE")?).map_err(|_| AuthError::BadHmac)?;
        let secret = URL_SAFE.decode(&account.credentials.secret).map_err(|_| AuthError::BadHmac)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).map_err(|_| AuthError::BadHmac)?;
        mac.update(ts.as_bytes());
        mac.update(method.as_bytes());
        mac.update(path.as_bytes());
        mac.update(body);
        mac.verify_slice(&given).map_err(|_| AuthError::BadHmac)?;
        Ok(account)
    }

    /// Checks the credentials a user-channel subscription carries.
    pub fn verify_plain(&self, key: &str, secret: &str, passphrase: &str) -> Result<&Account, AuthError> {
        let key = Uuid::parse_str(key).map_err(|_| AuthError::UnknownKey)?;
        let account = self.by_key.get(&key).ok_or(AuthError::UnknownKey)?;
        if account.credentials.secret != secret || account.credentials.passphrase != passphrase {
            return Err(AuthError::Mismatch);
        }
        Ok(account)
    }
}

fn fresh(ts: &str, now_s: u64) -> Result<(), AuthError> {
    let ts: u64 = ts.parse().map_err(|_| AuthError::Malformed("POLY_TIMESTAMP"))?;
    if ts.abs_diff(now_s) > MAX_CLOCK_SKEW_S { Err(AuthError::Stale) } else { Ok(()) }
}

/// A `POST /order` body (and each element of `POST /orders`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostedOrder {
    /// The signed order.
    pub order: PostedOrderBody,
    /// The API key of the poster.
    pub owner: String,
    /// `GTC`, `GTD`, `FOK` or `FAK`.
    pub order_type: String,
    /// Refuse if it would take.
    #[serde(default)]
    pub post_only: bool,
    /// Delay matching (sports markets).
    #[serde(default)]
    pub defer_exec: bool,
}

/// The signed part of a posted order, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostedOrderBody {
    /// Salt.
    pub salt: u64,
    /// Maker (funder) address.
    pub maker: String,
    /// Signer address.
    pub signer: String,
    /// Token id, decimal.
    pub token_id: String,
    /// Maker amount, 6-decimal units.
    pub maker_amount: String,
    /// Taker amount, 6-decimal units.
    pub taker_amount: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// Expiry, Unix seconds (0: none).
    #[serde(default)]
    pub expiration: String,
    /// Signature type (0 EOA, 1 proxy, 2 safe, 3 deposit wallet).
    pub signature_type: u8,
    /// Creation time, Unix ms.
    pub timestamp: String,
    /// Metadata (bytes32).
    pub metadata: String,
    /// Builder code (bytes32).
    pub builder: String,
    /// EIP-712 signature.
    pub signature: String,
}

/// A posted order that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedOrder {
    /// The EIP-712 hash, `0x…`: the order id.
    pub id: String,
    /// Maker (funder) address.
    pub maker: String,
    /// The token.
    pub token: TokenId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Size.
    pub size: Quantity,
    /// Time in force.
    pub order_type: VenueOrderType,
    /// Refuse it if it would take.
    pub post_only: bool,
}

fn payload<T: FromStr>(what: &str, s: &str) -> Result<T, OrderError> {
    s.parse().map_err(|_| OrderError::Payload(format!("{what}: {s:?}")))
}

/// Verifies a posted order for `account`; `neg_risk` selects the exchange contract and `tick`
/// is the market's tick.
pub fn verify_order(
    p: &PostedOrder,
    account: &Account,
    neg_risk: bool,
    tick: Price,
) -> Result<VerifiedOrder, OrderError> {
    if p.owner != account.credentials.key.to_string() {
        return Err(OrderError::Owner);
    }
    let b = &p.order;
    let side = match b.side.as_str() {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        other => return Err(OrderError::Payload(format!("side: {other:?}"))),
    };
    let order = Order {
        salt: U256::from(b.salt),
        maker: payload("maker", &b.maker)?,
        signer: payload("signer", &b.signer)?,
        tokenId: payload("tokenId", &b.token_id)?,
        makerAmount: payload("makerAmount", &b.maker_amount)?,
        takerAmount: payload("takerAmount", &b.taker_amount)?,
        side: if side == Side::Buy { 0 } else { 1 },
        signatureType: b.signature_type,
        timestamp: payload("timestamp", &b.timestamp)?,
        metadata: payload::<B256>("metadata", &b.metadata)?,
        builder: payload::<B256>("builder", &b.builder)?,
    };
    let domain = Eip712Domain {
        name: Some("Polymarket CTF Exchange".into()),
        version: Some("2".into()),
        chain_id: Some(U256::from(CHAIN_ID)),
        verifying_contract: Some(if neg_risk { NEG_RISK_EXCHANGE_V2 } else { EXCHANGE_V2 }),
        ..Eip712Domain::default()
    };
    let hash = order.eip712_signing_hash(&domain);
    match b.signature_type {
        0..=2 => {
            let sig = Signature::from_str(&b.signature).map_err(|_| OrderError::Signature)?;
            if sig.recover_address_from_prehash(&hash).ok() != Some(order.signer) {
                return Err(OrderError::Signature);
            }
            if order.signer != account.address || (b.signature_type == 0 && order.maker != order.signer) {
                return Err(OrderError::Signer);
            }
        }
        3 => verify_deposit_wallet(&order, &domain, &b.signature, account.address)?,
        other => return Err(OrderError::Payload(format!("signatureType: {other}"))),
    }
    let token = TokenId::parse(&b.token_id).map_err(|e| OrderError::Payload(e.to_string()))?;
    let (cash, shares) = match side {
        Side::Buy => (order.makerAmount, order.takerAmount),
        Side::Sell => (order.takerAmount, order.makerAmount),
    };
    let (cash, shares) = (
        u64::try_from(cash).map_err(|_| OrderError::Amounts)?,
        u64::try_from(shares).map_err(|_| OrderError::Amounts)?,
    );
    let ticks = u128::from(cash) * u128::from(Price::SCALE);
    if shares == 0 || ticks % u128::from(shares) != 0 || !shares.is_multiple_of(10_000) {
        return Err(OrderError::Amounts);
    }
    let price =
        u32::try_from(ticks / u128::from(shares)).ok().and_then(Price::from_ticks).ok_or(OrderError::Amounts)?;
    if !price.is_tradable() || !price.is_on_tick(tick) {
        return Err(OrderError::Amounts);
    }
    let expiration: u64 = if b.expiration.is_empty() { 0 } else { payload("expiration", &b.expiration)? };
    let order_type = match p.order_type.as_str() {
        "GTC" => VenueOrderType::Gtc,
        "GTD" => VenueOrderType::Gtd(expiration),
        "FOK" => VenueOrderType::Fok,
        "FAK" => VenueOrderType::Fak,
        other => return Err(OrderError::Payload(format!("orderType: {other:?}"))),
    };
    Ok(VerifiedOrder {
        id: format!("{hash:#x}"),
        maker: format!("{:#x}", order.maker),
        token,
        side,
        price,
        size: Quantity::from_micros(shares),
        order_type,
        post_only: p.post_only,
    })
}

/// ERC-1271 deposit-wallet orders: the signature is `inner (65 bytes) ‖ app domain separator ‖
/// contents hash ‖ order type string ‖ its length (u16)`; the inner signature signs Solady's
/// `TypedDataSign` digest and must recover to the wallet's owner (the key's address).
fn verify_deposit_wallet(order: &Order, domain: &Eip712Domain, sig: &str, owner: Address) -> Result<(), OrderError> {
    let raw = alloy::hex::decode(sig).map_err(|_| OrderError::Signature)?;
    if raw.len() < 65 + 64 + 2 {
        return Err(OrderError::Signature);
    }
    let inner = Signature::try_from(&raw[..65]).map_err(|_| OrderError::Signature)?;
    let separator = domain.hash_struct();
    let contents = order.eip712_hash_struct();
    if raw[65..97] != separator[..] || raw[97..129] != contents[..] {
        return Err(OrderError::Signature);
    }
    let typed = keccak256(
        (
            keccak256(SOLADY_TYPE_STRING.as_bytes()),
            contents,
            keccak256("DepositWallet".as_bytes()),
            keccak256("1".as_bytes()),
            U256::from(CHAIN_ID),
            order.signer,
            B256::ZERO,
        )
            .abi_encode(),
    );
    let mut input = [0u8; 66];
    input[0] = 0x19;
    input[1] = 0x01;
    input[2..34].copy_from_slice(separator.as_slice());
    input[34..].copy_from_slice(typed.as_slice());
    match inner.recover_address_from_prehash(&keccak256(input)) {
        Ok(a) if a == owner && order.maker == order.signer => Ok(()),
        _ => Err(OrderError::Signature),
    }
}

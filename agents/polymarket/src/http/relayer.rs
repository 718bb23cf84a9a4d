//! Polymarket's gasless relayer (`relayer-v2`), for accounts whose tokens sit in a wallet the
//! signer owns: a Gnosis Safe (signature type 2), a proxy wallet (type 1) or a deposit wallet
//! (type 3). Conditional-token operations are signed by the wallet's owner and submitted here;
//! the relayer sends them on chain and pays the gas. The official SDK does not cover it (see
//! `../shared/docs/venue-polymarket.md` §2.8).
//!
//! The protocol, from the relayer's API reference and its official client: `GET
//! /nonce?address=<owner>&type=SAFE|WALLET` gives the Safe's or deposit wallet's next nonce, `GET
//! /relay-payload?address=<owner>&type=PROXY` the relay and nonce of a proxy transaction;
//! `POST /submit` takes the signed transaction (`type` `SAFE`, `PROXY` or `WALLET`, see
//! [`SubmitRequest`]) and answers at once
//! with a `transactionID` in `STATE_NEW`; `GET /transaction?id=<id>` is polled until the
//! transaction is mined (`STATE_MINED` or `STATE_CONFIRMED`, with its hash) or has failed
//! (`STATE_FAILED`, `STATE_INVALID`). Requests are authenticated by a Relayer API key
//! (`RELAYER_API_KEY` and `RELAYER_API_KEY_ADDRESS`, the address owning the key).
//!
//! The wire types are shared with the simulator's relayer, which checks what this client sends.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The relayer's API key headers.
pub const API_KEY_HEADER: &str = "RELAYER_API_KEY";
/// The address owning the key.
pub const API_KEY_ADDRESS_HEADER: &str = "RELAYER_API_KEY_ADDRESS";

/// Polymarket's production relayer.
pub const POLYMARKET_RELAYER: &str = "https://relayer-v2.polymarket.com";

/// How often a submitted transaction is polled.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Why a relayer request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayerError {
    /// The relayer could not be reached or answered garbage.
    #[error("relayer: {0}")]
    Transport(String),
    /// The relayer refused the request (its status and message).
    #[error("relayer refused ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The transaction failed on chain or was found invalid.
    #[error("relayed transaction {id} ended in {state:?}")]
    Failed {
        /// The relayer's transaction id.
        id: String,
        /// Its last state.
        state: RelayerState,
    },
    /// Still pending when the wait ran out (it may still be mined).
    #[error("relayed transaction {id} still {state:?} after {waited:?}")]
    Pending {
        /// The relayer's transaction id.
        id: String,
        /// Its last state.
        state: RelayerState,
        /// How long it was polled.
        waited: Duration,
    },
}

/// A relayed transaction's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayerState {
    /// Accepted, not yet sent.
    #[serde(rename = "STATE_NEW")]
    New,
    /// Sent to the chain.
    #[serde(rename = "STATE_EXECUTED")]
    Executed,
    /// Mined.
    #[serde(rename = "STATE_MINED")]
    Mined,
    /// Mined and final.
    #[serde(rename = "STATE_CONFIRMED")]
    Confirmed,
    /// Failed on chain.
    #[serde(rename = "STATE_FAILED")]
    Failed,
    /// Refused as invalid.
    #[serde(rename = "STATE_INVALID")]
    Invalid,
}

impl RelayerState {
    /// Mined (its hash is known and the receipt can be read).
    pub fn is_mined(self) -> bool {
        matches!(self, RelayerState::Mined | RelayerState::Confirmed)
    }

    /// Over without a transaction.
    pub fn is_failed(self) -> bool {
        matches!(self, RelayerState::Failed | RelayerState::Invalid)
    }
}

/// The Safe transaction parameters besides target, data and nonce; polyfleet sends zeros (no
/// gas refund: the relayer pays), which is also what makes a failing inner call revert the
/// whole transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeParams {
    /// Gas price of the refund (0).
    pub gas_price: String,
    /// 0: call; 1: delegate call.
    pub operation: String,
    /// Gas of the inner call (0: all).
    pub safe_txn_gas: String,
    /// Base gas of the refund (0).
    pub base_gas: String,
    /// Refund token (zero address).
    pub gas_token: String,
    /// Refund receiver (zero address).
    pub refund_receiver: String,
}

impl SafeParams {
    /// A plain call with no refund.
    pub fn call() -> SafeParams {
        let zero = "0".to_string();
        let nobody = format!("{:#x}", alloy::primitives::Address::ZERO);
        SafeParams {
            gas_price: zero.clone(),
            operation: zero.clone(),
            safe_txn_gas: zero.clone(),
            base_gas: zero,
            gas_token: nobody.clone(),
            refund_receiver: nobody,
        }
    }
}

/// A proxy transaction's relay parameters (what the relay hub's request hash covers besides
/// owner, factory, data and nonce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyParams {
    /// Gas price (0: the relayer pays).
    pub gas_price: String,
    /// Gas limit signed.
    pub gas_limit: String,
    /// The relayer's fee (0).
    pub relayer_fee: String,
    /// The relay hub.
    pub relay_hub: String,
    /// The relay (`GET /relay-payload`'s address).
    pub relay: String,
}

/// A Safe or proxy transaction: a call from the owner's wallet, signed by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relayed<P> {
    /// The wallet's owner (the signer).
    pub from: String,
    /// The target: the called contract (Safe) or the proxy wallet factory (proxy).
    pub to: String,
    /// The wallet (the Safe, or the proxy wallet).
    pub proxy_wallet: String,
    /// Calldata, 0x-hex (proxy: the factory's `proxy(calls)`).
    pub data: String,
    /// The nonce signed.
    pub nonce: String,
    /// The owner's signature, 0x-hex.
    pub signature: String,
    /// The other signed fields.
    pub signature_params: P,
}

/// One call of a deposit wallet batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletCall {
    /// The called contract.
    pub target: String,
    /// Value, wei (0).
    pub value: String,
    /// Calldata, 0x-hex.
    pub data: String,
}

/// A deposit wallet batch's fields besides owner, factory, nonce and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepositWalletParams {
    /// The deposit wallet.
    pub deposit_wallet: String,
    /// Unix seconds after which the batch is void.
    pub deadline: String,
    /// The calls, run in order, all or nothing.
    pub calls: Vec<WalletCall>,
}

/// A deposit wallet batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletBatch {
    /// The wallet's owner (the signer).
    pub from: String,
    /// The deposit wallet factory.
    pub to: String,
    /// The wallet nonce signed.
    pub nonce: String,
    /// The owner's EIP-712 signature of the batch, 0x-hex.
    pub signature: String,
    /// What the batch does.
    pub deposit_wallet_params: DepositWalletParams,
}

/// `POST /submit`'s body, by transaction type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SubmitRequest {
    /// A Safe transaction (signature type 2).
    #[serde(rename = "SAFE")]
    Safe(Relayed<SafeParams>),
    /// A proxy wallet transaction (signature type 1).
    #[serde(rename = "PROXY")]
    Proxy(Relayed<ProxyParams>),
    /// A deposit wallet batch (signature type 3).
    #[serde(rename = "WALLET")]
    Wallet(WalletBatch),
}

/// `POST /submit`'s answer, and one entry of `GET /transaction`'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayerTransaction {
    /// The relayer's id.
    #[serde(rename = "transactionID")]
    pub id: String,
    /// Its state.
    pub state: RelayerState,
    /// The on-chain hash, once sent.
    #[serde(rename = "transactionHash", default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// `GET /nonce`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceResponse {
    /// The next nonce, decimal.
    pub nonce: String,
}

/// `GET /relay-payload`'s answer: the relay a proxy transaction names, and the owner's nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayPayload {
    /// The relay's address.
    pub address: String,
    /// The owner's next relay nonce, decimal.
    pub nonce: String,
}

/// Whose nonce `GET /nonce` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceKind {
    /// The owner's Safe.
    Safe,
    /// The owner's deposit wallet.
    Wallet,
}

impl NonceKind {
    /// The query's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            NonceKind::Safe => "SAFE",
            NonceKind::Wallet => "WALLET",
        }
    }
}

/// A relayer client for one API key.
#[derive(Clone)]
pub struct RelayerClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
    key_address: String,
}

impl std::fmt::Debug for RelayerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a credential: never printed.
        f.debug_struct("RelayerClient").field("base", &self.base).field("key_address", &self.key_address).finish()
    }
}

impl RelayerClient {
    /// A client of the relayer at `base`, with the API key owned by `key_address`.
    pub fn new(base: &str, api_key: String, key_address: alloy::primitives::Address) -> Result<Self, RelayerError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| RelayerError::Transport(e.to_string()))?;
        Ok(RelayerClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key,
            key_address: format!("{key_address:#x}"),
        })
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header(API_KEY_HEADER, &self.api_key).header(API_KEY_ADDRESS_HEADER, &self.key_address)
    }

    async fn read<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, RelayerError> {
        let status = resp.status();
        let body = resp.text().await.map_err(|e| RelayerError::Transport(e.to_string()))?;
        if !status.is_success() {
            return Err(RelayerError::Refused { status: status.as_u16(), message: body.chars().take(300).collect() });
        }
        serde_json::from_str(&body).map_err(|e| RelayerError::Transport(format!("unexpected answer: {e}")))
    }

    /// The next nonce of `owner`'s Safe or deposit wallet.
    pub async fn nonce(&self, owner: alloy::primitives::Address, kind: NonceKind) -> Result<u64, RelayerError> {
        let url = format!("{}/nonce", self.base);
        let req = self.http.get(url).query(&[("address", format!("{owner:#x}")), ("type", kind.as_str().into())]);
        let resp = self.authed(req).send().await.map_err(|e| RelayerError::Transport(e.to_string()))?;
        let n: NonceResponse = Self::read(resp).await?;
        n.nonce.parse().map_err(|_| RelayerError::Transport(format!("nonce {:?} is not a number", n.nonce)))
    }

    /// The relay and nonce of `owner`'s next proxy transaction.
    pub async fn relay_payload(
        &self,
        owner: alloy::primitives::Address,
    ) -> Result<(alloy::primitives::Address, u64), RelayerError> {
        let url = format!("{}/relay-payload", self.base);
        let req = self.http.get(url).query(&[("address", format!("{owner:#x}")), ("type", "PROXY".into())]);
        let resp = self.authed(req).send().await.map_err(|e| RelayerError::Transport(e.to_string()))?;
        let p: RelayPayload = Self::read(resp).await?;
        let relay = p.address.parse().map_err(|_| RelayerError::Transport(format!("relay {:?}", p.address)))?;
        let nonce = p.nonce.parse().map_err(|_| RelayerError::Transport(format!("nonce {:?}", p.nonce)))?;
        Ok((relay, nonce))
    }

    /// Submits a signed transaction.
    pub async fn submit(&self, body: &SubmitRequest) -> Result<RelayerTransaction, RelayerError> {
        let url = format!("{}/submit", self.base);
        let resp = self.authed(self.http.post(url).json(body)).send().await;
        Self::read(resp.map_err(|e| RelayerError::Transport(e.to_string()))?).await
    }

    /// A submitted transaction as the relayer knows it now.
    pub async fn transaction(&self, id: &str) -> Result<RelayerTransaction, RelayerError> {
        let url = format!("{}/transaction", self.base);
        let resp = self.authed(self.http.get(url).query(&[("id", id)])).send().await;
        let found: Vec<RelayerTransaction> =
            Self::read(resp.map_err(|e| RelayerError::Transport(e.to_string()))?).await?;
        found
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| RelayerError::Refused { status: 404, message: format!("no transaction {id}") })
    }

    /// Polls transaction `id` until it is mined (its hash) or failed, for at most `timeout`.
    pub async fn wait_mined(&self, id: &str, timeout: Duration) -> Result<String, RelayerError> {
        let started = tokio::time::Instant::now();
        loop {
            let t = self.transaction(id).await?;
            match (t.state, t.hash) {
                (s, Some(hash)) if s.is_mined() => return Ok(hash),
                (s, _) if s.is_failed() => return Err(RelayerError::Failed { id: id.to_string(), state: s }),
                (state, _) if started.elapsed() >= timeout => {
                    return Err(RelayerError::Pending { id: id.to_string(), state, waited: started.elapsed() });
                }
                _ => tokio::time::sleep(POLL_EVERY).await,
            }
        }
    }
}

//! Polymarket's gasless relayer (`relayer-v2`), for accounts whose tokens sit in a Gnosis Safe
//! (signature type 2): conditional-token operations are signed by the Safe's owner as Safe
//! transactions and submitted here; the relayer sends them on chain and pays the gas. The
//! official SDK does not cover it (see `../shared/docs/venue-polymarket.md` §2.8).
//!
//! The protocol, from the relayer's API reference: `GET /nonce?address=<owner>&type=SAFE` gives
//! the Safe's next nonce; `POST /submit` takes the signed Safe transaction and answers at once
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
pub struct SignatureParams {
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

impl SignatureParams {
    /// A plain call with no refund.
    pub fn call() -> SignatureParams {
        let zero = "0".to_string();
        let nobody = format!("{:#x}", alloy::primitives::Address::ZERO);
        SignatureParams {
            gas_price: zero.clone(),
            operation: zero.clone(),
            safe_txn_gas: zero.clone(),
            base_gas: zero,
            gas_token: nobody.clone(),
            refund_receiver: nobody,
        }
    }
}

/// `POST /submit`'s body for a Safe transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitRequest {
    /// The Safe's owner (the signer).
    pub from: String,
    /// The call's target contract.
    pub to: String,
    /// The Safe.
    pub proxy_wallet: String,
    /// Calldata, 0x-hex.
    pub data: String,
    /// The Safe nonce signed.
    pub nonce: String,
    /// The owner's signature of the Safe transaction hash, 0x-hex.
    pub signature: String,
    /// The other Safe transaction fields.
    pub signature_params: SignatureParams,
    /// `SAFE`.
    #[serde(rename = "type")]
    pub kind: String,
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

    /// The next nonce of `owner`'s Safe.
    pub async fn safe_nonce(&self, owner: alloy::primitives::Address) -> Result<u64, RelayerError> {
        let url = format!("{}/nonce", self.base);
        let req = self.http.get(url).query(&[("address", format!("{owner:#x}")), ("type", "SAFE".into())]);
        let resp = self.authed(req).send().await.map_err(|e| RelayerError::Transport(e.to_string()))?;
        let n: NonceResponse = Self::read(resp).await?;
        n.nonce.parse().map_err(|_| RelayerError::Transport(format!("nonce {:?} is not a number", n.nonce)))
    }

    /// Submits a signed Safe transaction.
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

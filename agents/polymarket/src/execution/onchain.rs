//! Live conditional-token operations on Polygon: the official SDK's `ctf` client for what it
//! covers (binary split, merge and redeem on the Conditional Tokens contract; neg-risk
//! redemption through the adapter), and our typed bindings ([`crate::common::contracts`]) for
//! the neg-risk adapter's split and merge. Transactions are signed by the Venue's signer (its
//! Secret) and sent to the Polygon JSON-RPC URL the Venue names; a transaction counts as done
//! only once its receipt says it succeeded.
//!
//! A neg-risk `convert` goes to the adapter's `convertPositions` with the event's market id and
//! the index set of the outcomes whose NO tokens it gives up ([`ConvertTarget`], which the
//! executor reads from each outcome's question id); the adapter's fee for the market
//! (`getFeeBips`) is read first and must be the one the operation was priced with, or nothing is
//! sent.
//!
//! Who holds the tokens decides how a transaction reaches the chain ([`Account`]): an EOA
//! account (signature type 0) sends its own transactions through the SDK and the bindings; a
//! Gnosis Safe (signature type 2) gets the same contract calls as Safe transactions signed by its
//! owner and sent by Polymarket's gasless relayer ([`crate::http::relayer`], [`super::safe`]),
//! after a dry run of the call from the Safe (`eth_call`) that refuses a failing one unsent; a
//! proxy wallet (type 1) and a deposit wallet (type 3) the same way, as the proxy wallet factory's
//! `proxy(calls)` signed for the relay hub ([`super::proxy_wallet`]) or as an EIP-712 batch
//! ([`super::deposit_wallet`]). Tests run all of this against the simulator's JSON-RPC chain and
//! relayer, never a real one.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use polyfleet_core::wire::CtfOp;
use polyfleet_core::{ConditionId, Quantity, TokenId};
use polymarket_client_sdk_v2::ctf::Client as CtfClient;
use polymarket_client_sdk_v2::ctf::types::{
    MergePositionsRequest, RedeemNegRiskRequest, RedeemPositionsRequest, SplitPositionRequest,
};
use polymarket_client_sdk_v2::{POLYGON, contract_config};

use super::{deposit_wallet, proxy_wallet, safe};
use crate::common::contracts::{IConditionalTokens, INegRiskAdapter};
use crate::common::credentials::WalletKind;
use crate::http::relayer::{NonceKind, RelayerClient, RelayerError, SubmitRequest};

/// How long a sent transaction may take to be mined before the operation counts as failed.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a deposit wallet batch stays valid after it is signed (its `deadline`), seconds.
const BATCH_VALID_S: u64 = 600;

/// Why an on-chain operation did not happen (or is not known to have happened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The RPC endpoint could not be used.
    #[error("Polygon RPC: {0}")]
    Rpc(String),
    /// The endpoint serves another chain.
    #[error("the RPC endpoint serves chain {got}, not Polygon ({want})")]
    WrongChain {
        /// Its chain id.
        got: u64,
        /// Polygon's.
        want: u64,
    },
    /// Refused before anything was sent.
    #[error("{0}")]
    Unsupported(String),
    /// Sending failed (an estimate that reverts, a rejected transaction): nothing happened.
    #[error("not sent: {0}")]
    NotSent(String),
    /// Mined and reverted: nothing happened.
    #[error("transaction {tx} reverted")]
    Reverted {
        /// Its hash.
        tx: B256,
    },
    /// Sent, with no receipt yet: it may still happen.
    #[error("transaction sent, no receipt: {0}")]
    Unconfirmed(String),
}

/// What the executor knows of a market for an operation on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainMarket {
    /// The condition id.
    pub condition: ConditionId,
    /// Whether it is an outcome of a neg-risk event (its sets go through the adapter).
    pub neg_risk: bool,
    /// Its YES token (index set 1); the other is NO (index set 2).
    pub yes: TokenId,
}

/// Where a neg-risk conversion goes: the event's neg-risk market id and the index set of the
/// outcomes whose NO tokens are converted (bit i for the outcome whose question id ends in i).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertTarget {
    /// The neg-risk market id (`negRiskMarketID`).
    pub market_id: [u8; 32],
    /// The outcomes' index set.
    pub index_set: U256,
}

impl ConvertTarget {
    /// The target of converting the NO tokens of the outcomes with question ids `questions`; an
    /// error when they are not outcomes of one neg-risk market, or one appears twice.
    pub fn of(questions: &[[u8; 32]]) -> Result<ConvertTarget, String> {
        let mut market_id = None;
        let mut index_set = U256::ZERO;
        for q in questions {
            let (market, index) = crate::http::market_status::neg_risk_question(q);
            if *market_id.get_or_insert(market) != market {
                return Err("the NO tokens are not outcomes of one neg-risk event".into());
            }
            let bit = U256::from(1) << usize::from(index);
            if index_set & bit != U256::ZERO {
                return Err(format!("outcome {index} appears twice"));
            }
            index_set |= bit;
        }
        Ok(ConvertTarget { market_id: market_id.ok_or("nothing to convert")?, index_set })
    }
}

/// Who holds the account's tokens, and so how its transactions reach the chain.
#[derive(Debug, Clone)]
pub enum Account {
    /// The signer's own address, sending its own transactions (signature type 0).
    Eoa,
    /// A wallet owned by the signer (a Safe, type 2; a proxy wallet, type 1; a deposit wallet,
    /// type 3): its calls go through the relayer in the form its kind takes.
    Wallet {
        /// Which kind of wallet.
        kind: WalletKind,
        /// The wallet (the account's funder address).
        wallet: Address,
        /// The relayer, with the account's API key.
        relayer: RelayerClient,
    },
}

impl Account {
    /// The wallet holding the tokens and the relayer, for every account but an EOA.
    fn relayed(&self) -> Option<(WalletKind, Address, &RelayerClient)> {
        match self {
            Account::Eoa => None,
            Account::Wallet { kind, wallet, relayer } => Some((*kind, *wallet, relayer)),
        }
    }
}

/// The account's conditional-token operations on Polygon.
#[derive(Debug, Clone)]
pub struct OnChain {
    provider: DynProvider,
    ctf: CtfClient<DynProvider>,
    adapter: INegRiskAdapter::INegRiskAdapterInstance<DynProvider>,
    collateral: Address,
    conditional_tokens: Address,
    signer: Address,
    owner: PrivateKeySigner,
    account: Account,
}

fn amount(q: Quantity) -> U256 {
    U256::from(q.micros())
}

fn condition(c: &ConditionId) -> B256 {
    B256::from(*c.as_bytes())
}

/// The SDK's neg-risk contract configuration for Polygon, and the adapter's address in it.
fn neg_risk_contracts() -> Result<(&'static polymarket_client_sdk_v2::ContractConfig, Address), ChainError> {
    let cfg = contract_config(POLYGON, true)
        .ok_or_else(|| ChainError::Unsupported("no neg-risk contract configuration for Polygon".into()))?;
    let adapter = cfg
        .neg_risk_adapter
        .ok_or_else(|| ChainError::Unsupported("no neg-risk adapter address for Polygon".into()))?;
    Ok((cfg, adapter))
}

/// Checks that `provider` serves Polygon.
async fn check_polygon(provider: &DynProvider) -> Result<(), ChainError> {
    let got = provider.get_chain_id().await.map_err(|e| ChainError::Rpc(e.to_string()))?;
    if got == POLYGON { Ok(()) } else { Err(ChainError::WrongChain { got, want: POLYGON }) }
}

/// The neg-risk adapter's conversion fee for the event with neg-risk market id `market_id`
/// (`getFeeBips`, basis points), read at `rpc_url` with no signer: what a NO basket of the event
/// is priced at. An error when the RPC is unreachable, is not Polygon, or answers a fee above
/// 100 %.
pub async fn neg_risk_fee_bips(rpc_url: &str, market_id: [u8; 32]) -> Result<u32, ChainError> {
    let url = rpc_url.parse().map_err(|e| ChainError::Rpc(format!("invalid URL: {e}")))?;
    let provider = ProviderBuilder::new().disable_recommended_fillers().connect_http(url).erased();
    check_polygon(&provider).await?;
    let (_, adapter) = neg_risk_contracts()?;
    let fee = INegRiskAdapter::new(adapter, provider)
        .getFeeBips(B256::from(market_id))
        .call()
        .await
        .map_err(|e| ChainError::Rpc(e.to_string()))?;
    u32::try_from(fee)
        .ok()
        .filter(|f| *f <= 10_000)
        .ok_or_else(|| ChainError::Rpc(format!("the adapter answered a fee of {fee} bips")))
}

impl OnChain {
    /// Connects to `rpc_url` and checks it serves Polygon; `signer` signs for `account`.
    pub async fn connect(rpc_url: &str, signer: PrivateKeySigner, account: Account) -> Result<OnChain, ChainError> {
        let url = rpc_url.parse().map_err(|e| ChainError::Rpc(format!("invalid URL: {e}")))?;
        let address = signer.address();
        let owner = signer.clone();
        // The nonce is read from the chain for every transaction: a cached nonce runs ahead of the
        // chain after a send that failed at estimation, and every later one would be refused.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .with_chain_id(POLYGON)
            .wallet(signer)
            .connect_http(url)
            .erased();
        check_polygon(&provider).await?;
        let (cfg, adapter_address) = neg_risk_contracts()?;
        let ctf = CtfClient::with_neg_risk(provider.clone(), POLYGON).map_err(|e| ChainError::Rpc(e.to_string()))?;
        Ok(OnChain {
            adapter: INegRiskAdapter::new(adapter_address, provider.clone()),
            ctf,
            provider,
            collateral: cfg.collateral,
            conditional_tokens: cfg.conditional_tokens,
            signer: address,
            owner,
            account,
        })
    }

    /// The address that signs.
    pub fn signer(&self) -> Address {
        self.signer
    }

    /// The address that holds the tokens (the signer, or its wallet).
    pub fn holder(&self) -> Address {
        self.account.relayed().map_or(self.signer, |(_, wallet, _)| wallet)
    }

    /// Converts NO tokens as `op` (a [`CtfOp::Convert`]) says, at `target`: checks the adapter's
    /// fee for the market first (a conversion priced with another fee is refused unsent).
    pub async fn convert(&self, op: &CtfOp, target: &ConvertTarget) -> Result<B256, ChainError> {
        let CtfOp::Convert { size, fee_bips, .. } = op else {
            return Err(ChainError::Unsupported(format!("{} is not a conversion", op.name())));
        };
        let market_id = B256::from(target.market_id);
        let fee = self.adapter.getFeeBips(market_id).call().await.map_err(|e| ChainError::NotSent(e.to_string()))?;
        if fee != U256::from(*fee_bips) {
            return Err(ChainError::Unsupported(format!(
                "the neg-risk adapter charges {fee} bips on market {market_id}; the conversion was priced at {fee_bips}"
            )));
        }
        let call = self.adapter.convertPositions(market_id, target.index_set, amount(*size));
        match self.account.relayed() {
            None => self.adapter_call(call).await,
            Some(via) => self.relay(via, *self.adapter.address(), call.calldata()).await,
        }
    }

    /// Carries out `op` on `market`; `Ok` with the transaction hash once mined successfully.
    pub async fn execute(&self, op: &CtfOp, market: &ChainMarket) -> Result<B256, ChainError> {
        if let Some(via) = self.account.relayed() {
            let (to, data) = self.calldata(op, market)?;
            return self.relay(via, to, &data).await;
        }
        let cid = condition(&market.condition);
        let sent = match (op, market.neg_risk) {
            (CtfOp::Split { size, .. }, false) => {
                let req = SplitPositionRequest::for_binary_market(self.collateral, cid, amount(*size));
                self.ctf.split_position(&req).await.map(|r| r.transaction_hash)
            }
            (CtfOp::Merge { size, .. }, false) => {
                let req = MergePositionsRequest::for_binary_market(self.collateral, cid, amount(*size));
                self.ctf.merge_positions(&req).await.map(|r| r.transaction_hash)
            }
            (CtfOp::Redeem { .. }, false) => {
                // The contract redeems the whole balance of both outcomes.
                let req = RedeemPositionsRequest::for_binary_market(self.collateral, cid);
                self.ctf.redeem_positions(&req).await.map(|r| r.transaction_hash)
            }
            (CtfOp::Redeem { token, size, .. }, true) => {
                let amounts = if *token == market.yes {
                    vec![amount(*size), U256::ZERO]
                } else {
                    vec![U256::ZERO, amount(*size)]
                };
                let req = RedeemNegRiskRequest::builder().condition_id(cid).amounts(amounts).build();
                self.ctf.redeem_neg_risk(&req).await.map(|r| r.transaction_hash)
            }
            (CtfOp::Split { size, .. }, true) => {
                return self.adapter_call(self.adapter.splitPosition(cid, amount(*size))).await;
            }
            (CtfOp::Merge { size, .. }, true) => {
                return self.adapter_call(self.adapter.mergePositions(cid, amount(*size))).await;
            }
            (CtfOp::Convert { .. }, _) => {
                return Err(ChainError::Unsupported("a conversion goes through OnChain::convert".into()));
            }
        };
        // The SDK waits for the receipt but does not look at its status.
        let tx = sent.map_err(|e| ChainError::NotSent(e.to_string()))?;
        self.check_receipt(tx).await
    }

    /// The contract call of `op` on `market`: its target and calldata.
    fn calldata(&self, op: &CtfOp, market: &ChainMarket) -> Result<(Address, Bytes), ChainError> {
        let cid = condition(&market.condition);
        let binary = [U256::from(1), U256::from(2)].to_vec();
        let ctf = |data: Vec<u8>| Ok((self.conditional_tokens, Bytes::from(data)));
        let adapter = |data: Vec<u8>| Ok((*self.adapter.address(), Bytes::from(data)));
        match (op, market.neg_risk) {
            (CtfOp::Split { size, .. }, false) => ctf(IConditionalTokens::splitPositionCall {
                collateralToken: self.collateral,
                parentCollectionId: B256::ZERO,
                conditionId: cid,
                partition: binary,
                amount: amount(*size),
            }
            .abi_encode()),
            (CtfOp::Merge { size, .. }, false) => ctf(IConditionalTokens::mergePositionsCall {
                collateralToken: self.collateral,
                parentCollectionId: B256::ZERO,
                conditionId: cid,
                partition: binary,
                amount: amount(*size),
            }
            .abi_encode()),
            (CtfOp::Redeem { .. }, false) => ctf(IConditionalTokens::redeemPositionsCall {
                collateralToken: self.collateral,
                parentCollectionId: B256::ZERO,
                conditionId: cid,
                indexSets: binary,
            }
            .abi_encode()),
            (CtfOp::Redeem { token, size, .. }, true) => {
                let amounts = if *token == market.yes {
                    vec![amount(*size), U256::ZERO]
                } else {
                    vec![U256::ZERO, amount(*size)]
                };
                adapter(INegRiskAdapter::redeemPositionsCall { conditionId: cid, amounts }.abi_encode())
            }
            (CtfOp::Split { size, .. }, true) => {
                adapter(INegRiskAdapter::splitPositionCall { conditionId: cid, amount: amount(*size) }.abi_encode())
            }
            (CtfOp::Merge { size, .. }, true) => {
                adapter(INegRiskAdapter::mergePositionsCall { conditionId: cid, amount: amount(*size) }.abi_encode())
            }
            (CtfOp::Convert { .. }, _) => {
                Err(ChainError::Unsupported("a conversion goes through OnChain::convert".into()))
            }
        }
    }

    /// Sends the call of `data` on `to` from `wallet` through the relayer: a dry run from the
    /// wallet first (a failing call is refused unsent, with the contract's reason), then the
    /// transaction the account's kind of wallet takes, signed by its owner; `Ok` once mined
    /// successfully.
    async fn relay(
        &self,
        (kind, wallet, relayer): (WalletKind, Address, &RelayerClient),
        to: Address,
        data: &Bytes,
    ) -> Result<B256, ChainError> {
        let dry = TransactionRequest::default().from(wallet).to(to).input(data.clone().into());
        self.provider.call(dry).await.map_err(|e| ChainError::NotSent(e.to_string()))?;
        let body = self.relayed_request(kind, wallet, relayer, to, data.clone()).await?;
        let submitted = relayer.submit(&body).await.map_err(|e| ChainError::NotSent(e.to_string()))?;
        // Once submitted, only a failed transaction is known not to have happened.
        let hash = relayer.wait_mined(&submitted.id, RECEIPT_TIMEOUT).await.map_err(|e| match e {
            RelayerError::Failed { .. } => ChainError::NotSent(e.to_string()),
            other => ChainError::Unconfirmed(other.to_string()),
        })?;
        let tx: B256 =
            hash.parse().map_err(|_| ChainError::Unconfirmed(format!("the relayer gave an invalid hash {hash:?}")))?;
        self.check_receipt(tx).await
    }

    /// The signed relayer request running the call of `data` on `to` from `wallet`, a wallet of
    /// `kind`.
    async fn relayed_request(
        &self,
        kind: WalletKind,
        wallet: Address,
        relayer: &RelayerClient,
        to: Address,
        data: Bytes,
    ) -> Result<SubmitRequest, ChainError> {
        let not_sent = |e: RelayerError| ChainError::NotSent(e.to_string());
        let unsigned = |e: alloy::signers::Error| ChainError::NotSent(format!("signing the relayed transaction: {e}"));
        let owner = &self.owner;
        match kind {
            WalletKind::Safe => {
                let nonce = relayer.nonce(self.signer, NonceKind::Safe).await.map_err(not_sent)?;
                safe::request(owner, wallet, to, data, nonce).map(SubmitRequest::Safe).map_err(unsigned)
            }
            WalletKind::Proxy => {
                let (relay, nonce) = relayer.relay_payload(self.signer).await.map_err(not_sent)?;
                proxy_wallet::request(owner, wallet, to, data, relay, nonce).map(SubmitRequest::Proxy).map_err(unsigned)
            }
            WalletKind::Deposit => {
                let nonce = relayer.nonce(self.signer, NonceKind::Wallet).await.map_err(not_sent)?;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                deposit_wallet::request(owner, wallet, to, data, nonce, now + BATCH_VALID_S)
                    .map(SubmitRequest::Wallet)
                    .map_err(unsigned)
            }
        }
    }

    async fn adapter_call<D: alloy::contract::CallDecoder>(
        &self,
        call: alloy::contract::CallBuilder<&DynProvider, D>,
    ) -> Result<B256, ChainError> {
        let pending = call.send().await.map_err(|e| ChainError::NotSent(e.to_string()))?;
        let tx = *pending.tx_hash();
        let receipt = tokio::time::timeout(RECEIPT_TIMEOUT, pending.get_receipt())
            .await
            .map_err(|_| ChainError::Unconfirmed(format!("{tx}: no receipt within {RECEIPT_TIMEOUT:?}")))?
            .map_err(|e| ChainError::Unconfirmed(format!("{tx}: {e}")))?;
        if receipt.status() { Ok(tx) } else { Err(ChainError::Reverted { tx }) }
    }

    async fn check_receipt(&self, tx: B256) -> Result<B256, ChainError> {
        let receipt = self
            .provider
            .get_transaction_receipt(tx)
            .await
            .map_err(|e| ChainError::Unconfirmed(format!("{tx}: {e}")))?
            .ok_or_else(|| ChainError::Unconfirmed(format!("{tx}: no receipt")))?;
        if receipt.status() { Ok(tx) } else { Err(ChainError::Reverted { tx }) }
    }
}

//! A minimal Polygon for live conditional-token operations in tests: the JSON-RPC methods an
//! alloy wallet provider uses to send a contract call and wait for its receipt (`eth_chainId`,
//! `eth_getTransactionCount`, `eth_estimateGas`, `eth_feeHistory`, `eth_sendRawTransaction`,
//! `eth_getTransactionReceipt`, blocks, `eth_call`), and the contract calls themselves on the
//! simulator's [`Wallets`]: the Conditional Tokens contract's binary split, merge and redeem, and
//! the neg-risk adapter's split, merge, redeem, `convertPositions` and `getFeeBips` (the fee
//! each event's markets carry, [`ChainMarket::convert_fee_bips`]), at the production addresses (the SDK's
//! contract configuration for chain 137).
//!
//! Every transaction is mined at once in its own block. Signed transactions are decoded and their
//! signer recovered (the signer is the address whose balances move); the nonce must be the
//! account's next one. A call that would fail reverts with the contract's reason, both at
//! estimation (so the sender learns it before sending) and if sent anyway (a receipt with status
//! 0). Gnosis Safes are simulated as far as the relayer uses them ([`Chain::relay`]): a Safe's
//! call runs with the Safe as the sender, at the Safe's nonce, all or nothing. Not simulated: gas
//! accounting (no balance of POL), events/logs, and proxy wallets. This chain is never a real one.

use std::collections::HashMap;

use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, Bloom, Bytes, U256};
use alloy::rpc::types::{Block, BlockTransactions, FeeHistory, Header, TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolInterface;
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_polymarket::common::contracts::IConditionalTokens::IConditionalTokensCalls;
use polyfleet_polymarket::common::contracts::INegRiskAdapter::INegRiskAdapterCalls;
use polymarket_client_sdk_v2::{POLYGON, contract_config};
use serde_json::{Value, json};

use crate::wallets::Wallets;

/// Gas every transaction uses (and the estimate).
const GAS: u64 = 150_000;
/// Base fee and tip, wei (30 gwei).
const GWEI_30: u128 = 30_000_000_000;
/// Unix time of block 0, and seconds per block.
const GENESIS_S: u64 = 1_767_225_600;
const BLOCK_S: u64 = 2;

/// The simulator's markets as the chain sees them, by condition id.
pub type ChainMarkets = HashMap<ConditionId, ChainMarket>;

/// What the chain needs to know of a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainMarket {
    /// YES token (index set 1).
    pub yes: TokenId,
    /// NO token (index set 2).
    pub no: TokenId,
    /// An outcome of a neg-risk event: its sets go through the adapter.
    pub neg_risk: bool,
    /// Resolved: YES won (`Some(true)`) or NO.
    pub resolved: Option<bool>,
    /// Its question id (a neg-risk outcome's: the event's market id and its index in the last
    /// byte).
    pub question: Option<[u8; 32]>,
    /// A neg-risk outcome's event: the adapter's fee on its conversions, basis points
    /// (`getFeeBips`).
    pub convert_fee_bips: u32,
}

/// A receipt's envelope constructor (the transaction's type).
type EnvelopeOf = fn(ReceiptWithBloom<Receipt<alloy::rpc::types::Log>>) -> ReceiptEnvelope<alloy::rpc::types::Log>;

/// A JSON-RPC error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// JSON-RPC error code (3: execution reverted; -32601: no such method; -32602: bad params;
    /// -32000: refused).
    pub code: i64,
    /// Message.
    pub message: String,
}

impl RpcError {
    fn params(msg: impl std::fmt::Display) -> RpcError {
        RpcError { code: -32602, message: format!("invalid params: {msg}") }
    }
    fn reverted(reason: &str) -> RpcError {
        RpcError { code: 3, message: format!("execution reverted: {reason}") }
    }
}

/// The chain's state besides the balances.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    block: u64,
    nonces: HashMap<Address, u64>,
    receipts: HashMap<B256, TransactionReceipt>,
    blocks: HashMap<u64, B256>,
    /// The next nonce of each relayed wallet (Safe, proxy or deposit wallet).
    relay_nonces: HashMap<Address, u64>,
    /// Transactions mined, successful or reverted.
    pub mined: u64,
}

fn header(number: u64) -> Header {
    Header::new(alloy::consensus::Header {
        number,
        timestamp: GENESIS_S + number * BLOCK_S,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(30_000_000_000),
        ..Default::default()
    })
}

fn quantity(v: u64) -> Value {
    json!(format!("{v:#x}"))
}

fn shares(amount: U256) -> Result<i128, String> {
    i128::try_from(amount).map_err(|_| "amount out of range".to_string())
}

/// Applies one contract call by `from` to `wallets` (on failure, `wallets` may be partly changed:
/// callers run it on a copy first); `Ok` with what a view call returns (ABI-encoded; empty for
/// the others).
pub fn call(
    wallets: &mut Wallets,
    from: Address,
    to: Address,
    input: &[u8],
    markets: &ChainMarkets,
) -> Result<Vec<u8>, String> {
    let binary = contract_config(POLYGON, false).ok_or("no contract configuration")?;
    let neg = contract_config(POLYGON, true).ok_or("no contract configuration")?;
    let lookup = |c: &B256, want_neg_risk: bool| -> Result<ChainMarket, String> {
        let m = *markets.get(&ConditionId::from_bytes(c.0)).ok_or_else(|| format!("condition {c} not prepared"))?;
        match (m.neg_risk, want_neg_risk) {
            (true, false) => Err("neg-risk positions go through the NegRiskAdapter".into()),
            (false, true) => Err(format!("condition {c} is not a neg-risk market")),
            _ => Ok(m),
        }
    };
    let binary_set = |collateral: &Address, parent: &B256, partition: &[U256]| -> Result<(), String> {
        if *collateral != binary.collateral {
            return Err(format!("collateral {collateral} is not pUSD"));
        }
        if *parent != B256::ZERO || partition != [U256::from(1), U256::from(2)] {
            return Err("only the binary partition [1, 2] of the root collection is supported".into());
        }
        Ok(())
    };
    if to == binary.conditional_tokens {
        let decoded = IConditionalTokensCalls::abi_decode(input).map_err(|e| format!("unknown call: {e}"))?;
        let done = match decoded {
            IConditionalTokensCalls::splitPosition(c) => {
                binary_set(&c.collateralToken, &c.parentCollectionId, &c.partition)?;
                split(wallets, from, &lookup(&c.conditionId, false)?, shares(c.amount)?)
            }
            IConditionalTokensCalls::mergePositions(c) => {
                binary_set(&c.collateralToken, &c.parentCollectionId, &c.partition)?;
                merge(wallets, from, &lookup(&c.conditionId, false)?, shares(c.amount)?)
            }
            IConditionalTokensCalls::redeemPositions(c) => {
                binary_set(&c.collateralToken, &c.parentCollectionId, &c.indexSets)?;
                let m = lookup(&c.conditionId, false)?;
                let all = [wallets.tokens(&from, &m.yes), wallets.tokens(&from, &m.no)];
                redeem(wallets, from, &m, all)
            }
        };
        done.map(|()| vec![])
    } else if Some(to) == neg.neg_risk_adapter {
        let decoded = INegRiskAdapterCalls::abi_decode(input).map_err(|e| format!("unknown call: {e}"))?;
        let done = match decoded {
            INegRiskAdapterCalls::splitPosition(c) => {
                split(wallets, from, &lookup(&c.conditionId, true)?, shares(c.amount)?)
            }
            INegRiskAdapterCalls::mergePositions(c) => {
                merge(wallets, from, &lookup(&c.conditionId, true)?, shares(c.amount)?)
            }
            INegRiskAdapterCalls::redeemPositions(c) => {
                let m = lookup(&c.conditionId, true)?;
                let [yes, no] = c.amounts.as_slice() else { return Err("amounts must be [yes, no]".into()) };
                redeem(wallets, from, &m, [shares(*yes)?, shares(*no)?])
            }
            INegRiskAdapterCalls::convertPositions(c) => {
                convert(wallets, from, &outcomes(markets, &c.marketId)?, c.indexSet, shares(c.amount)?)
            }
            INegRiskAdapterCalls::getFeeBips(c) => {
                let fee = outcomes(markets, &c.marketId)?.first().map_or(0, |(_, m)| m.convert_fee_bips);
                return Ok(U256::from(fee).to_be_bytes::<32>().to_vec());
            }
        };
        done.map(|()| vec![])
    } else {
        Err(format!("no simulated contract at {to}"))
    }
}

/// The outcomes of neg-risk market `market_id` by their index (the last byte of their question
/// ids), in index order.
fn outcomes(markets: &ChainMarkets, market_id: &B256) -> Result<Vec<(u8, ChainMarket)>, String> {
    let mut found: Vec<(u8, ChainMarket)> = markets
        .values()
        .filter(|m| m.neg_risk)
        .filter_map(|m| {
            let q = m.question?;
            let mut id = q;
            id[31] = 0;
            (id == market_id.0).then_some((q[31], *m))
        })
        .collect();
    found.sort_by_key(|(i, _)| *i);
    if found.is_empty() {
        return Err(format!("market {market_id} not prepared"));
    }
    Ok(found)
}

/// `convertPositions`: `amount` NO of each outcome in `index_set` become `amount` less the fee of
/// YES on each other outcome, plus (k − 1) times that in collateral for k NOs.
fn convert(
    wallets: &mut Wallets,
    who: Address,
    outcomes: &[(u8, ChainMarket)],
    index_set: U256,
    amount: i128,
) -> Result<(), String> {
    let all = outcomes.iter().fold(U256::ZERO, |acc, (i, _)| acc | (U256::from(1) << usize::from(*i)));
    if index_set.is_zero() || (index_set & !all) != U256::ZERO || outcomes.len() < 2 {
        return Err("InvalidIndexSet".into());
    }
    if amount == 0 {
        return Ok(());
    }
    let fee_bips = outcomes.first().map_or(0, |(_, m)| m.convert_fee_bips);
    let fee = amount * i128::from(fee_bips) / 10_000;
    let out = amount - fee;
    let mut k = 0i128;
    for (i, m) in outcomes {
        if index_set.bit(usize::from(*i)) {
            if wallets.tokens(&who, &m.no) < amount {
                return Err("insufficient NO token balance for the conversion".into());
            }
            wallets.move_tokens(&who, &m.no, -amount);
            k += 1;
        } else {
            wallets.move_tokens(&who, &m.yes, out);
        }
    }
    if k > 1 {
        wallets.move_collateral(&who, (k - 1) * out);
    }
    Ok(())
}

fn split(wallets: &mut Wallets, who: Address, m: &ChainMarket, amount: i128) -> Result<(), String> {
    if m.resolved.is_some() {
        return Err("condition already resolved".into());
    }
    if wallets.collateral(&who) < amount {
        return Err("insufficient collateral balance".into());
    }
    wallets.move_collateral(&who, -amount);
    wallets.move_tokens(&who, &m.yes, amount);
    wallets.move_tokens(&who, &m.no, amount);
    Ok(())
}

fn merge(wallets: &mut Wallets, who: Address, m: &ChainMarket, amount: i128) -> Result<(), String> {
    if wallets.tokens(&who, &m.yes) < amount || wallets.tokens(&who, &m.no) < amount {
        return Err("insufficient outcome token balance for the merge".into());
    }
    wallets.move_tokens(&who, &m.yes, -amount);
    wallets.move_tokens(&who, &m.no, -amount);
    wallets.move_collateral(&who, amount);
    Ok(())
}

/// Burns `amounts` ([YES, NO]) and pays the winning side's amount.
fn redeem(wallets: &mut Wallets, who: Address, m: &ChainMarket, amounts: [i128; 2]) -> Result<(), String> {
    let Some(yes_won) = m.resolved else { return Err("result for condition not received yet".into()) };
    if wallets.tokens(&who, &m.yes) < amounts[0] || wallets.tokens(&who, &m.no) < amounts[1] {
        return Err("insufficient outcome token balance for the redemption".into());
    }
    wallets.move_tokens(&who, &m.yes, -amounts[0]);
    wallets.move_tokens(&who, &m.no, -amounts[1]);
    wallets.move_collateral(&who, if yes_won { amounts[0] } else { amounts[1] });
    Ok(())
}

impl Chain {
    /// A chain at block 0.
    pub fn new() -> Chain {
        Chain::default()
    }

    /// Answers one JSON-RPC call; contract calls run on `wallets` with `markets` describing the
    /// simulator's markets.
    pub fn rpc(
        &mut self,
        method: &str,
        params: &Value,
        wallets: &mut Wallets,
        markets: &ChainMarkets,
    ) -> Result<Value, RpcError> {
        let param = |i: usize| params.get(i).cloned().unwrap_or(Value::Null);
        match method {
            "eth_chainId" => Ok(quantity(POLYGON)),
            "net_version" => Ok(json!(POLYGON.to_string())),
            "eth_blockNumber" => Ok(quantity(self.block)),
            "eth_gasPrice" | "eth_maxPriorityFeePerGas" => Ok(json!(format!("{GWEI_30:#x}"))),
            "eth_getTransactionCount" => {
                let who: Address = serde_json::from_value(param(0)).map_err(RpcError::params)?;
                Ok(quantity(self.nonces.get(&who).copied().unwrap_or(0)))
            }
            "eth_feeHistory" => {
                let history = FeeHistory {
                    base_fee_per_gas: vec![GWEI_30; 2],
                    oldest_block: self.block,
                    reward: Some(vec![vec![GWEI_30]]),
                    ..FeeHistory::default()
                };
                serde_json::to_value(history).map_err(RpcError::params)
            }
            "eth_getBlockByNumber" => {
                let number = match param(0).as_str() {
                    Some("latest" | "pending" | "safe" | "finalized") => self.block,
                    Some("earliest") => 0,
                    Some(hex) => u64::from_str_radix(hex.trim_start_matches("0x"), 16).map_err(RpcError::params)?,
                    None => return Err(RpcError::params("block number")),
                };
                if number > self.block {
                    return Ok(Value::Null);
                }
                let txs = self.receipts.values().filter(|r| r.block_number == Some(number)).map(|r| r.transaction_hash);
                let block: Block = Block::new(header(number), BlockTransactions::Hashes(txs.collect()));
                serde_json::to_value(block).map_err(RpcError::params)
            }
            "eth_estimateGas" | "eth_call" => {
                let req: TransactionRequest = serde_json::from_value(param(0)).map_err(RpcError::params)?;
                let from = req.from.unwrap_or_default();
                let to = req.to.and_then(|k| k.to().copied()).ok_or_else(|| RpcError::params("no `to`"))?;
                let input = req.input.input().cloned().unwrap_or_default();
                let out = call(&mut wallets.clone(), from, to, &input, markets).map_err(|e| RpcError::reverted(&e))?;
                Ok(if method == "eth_call" { json!(alloy::primitives::Bytes::from(out)) } else { quantity(GAS) })
            }
            "eth_sendRawTransaction" => {
                let raw: alloy::primitives::Bytes = serde_json::from_value(param(0)).map_err(RpcError::params)?;
                self.send_raw(&raw, wallets, markets)
            }
            "eth_getTransactionReceipt" => {
                let hash: B256 = serde_json::from_value(param(0)).map_err(RpcError::params)?;
                match self.receipts.get(&hash) {
                    Some(r) => serde_json::to_value(r).map_err(RpcError::params),
                    None => Ok(Value::Null),
                }
            }
            "eth_getTransactionByHash" => Ok(Value::Null),
            other => Err(RpcError { code: -32601, message: format!("the method {other} does not exist") }),
        }
    }

    fn send_raw(&mut self, raw: &[u8], wallets: &mut Wallets, markets: &ChainMarkets) -> Result<Value, RpcError> {
        let refused = |m: String| RpcError { code: -32000, message: m };
        let tx =
            TxEnvelope::decode_2718(&mut &raw[..]).map_err(|e| refused(format!("undecodable transaction: {e}")))?;
        let from = tx.recover_signer().map_err(|e| refused(format!("invalid signature: {e}")))?;
        if tx.chain_id() != Some(POLYGON) {
            return Err(refused(format!("wrong chain id {:?}", tx.chain_id())));
        }
        let expected = self.nonces.get(&from).copied().unwrap_or(0);
        if tx.nonce() != expected {
            return Err(refused(format!("nonce {} is not the account's next ({expected})", tx.nonce())));
        }
        let to = tx.to().ok_or_else(|| refused("contract creation is not simulated".into()))?;
        let hash = *tx.tx_hash();
        if self.receipts.contains_key(&hash) {
            return Err(refused("already known".into()));
        }
        let ok = self.apply(from, to, tx.input(), wallets, markets, &hash);
        self.nonces.insert(from, expected + 1);
        let kind = match tx {
            TxEnvelope::Legacy(_) => ReceiptEnvelope::Legacy,
            TxEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930,
            _ => ReceiptEnvelope::Eip1559,
        };
        self.mine(hash, from, to, ok, kind);
        Ok(json!(hash.to_string()))
    }

    /// The next relayed nonce of the wallet at `wallet` (a Safe, proxy or deposit wallet).
    pub fn relay_nonce(&self, wallet: &Address) -> u64 {
        self.relay_nonces.get(wallet).copied().unwrap_or(0)
    }

    /// Unix seconds of the latest block.
    pub fn now_s(&self) -> u64 {
        GENESIS_S + self.block * BLOCK_S
    }

    /// Mines the transaction the relayer (`relayer`) sends for `wallet`: `calls` (target and
    /// calldata) in order with the wallet as the sender, all or nothing. A failing call reverts
    /// the whole transaction (no refund), so the relay nonce kept under `nonce_key` (the wallet,
    /// or a deposit wallet's owner) moves only on success. Returns its hash and whether it
    /// succeeded.
    pub fn relay(
        &mut self,
        relayer: Address,
        wallet: Address,
        nonce_key: Address,
        calls: &[(Address, Bytes)],
        wallets: &mut Wallets,
        markets: &ChainMarkets,
    ) -> (B256, bool) {
        let nonce = self.relay_nonce(&nonce_key);
        let input: Vec<u8> = calls.iter().flat_map(|(to, data)| [to.as_slice(), data].concat()).collect();
        let hash = alloy::primitives::keccak256(
            [wallet.as_slice(), &nonce.to_be_bytes(), &self.block.to_be_bytes(), &input].concat(),
        );
        let mut next = wallets.clone();
        let ran = calls.iter().try_for_each(|(to, data)| call(&mut next, wallet, *to, data, markets).map(|_| ()));
        let ok = match ran {
            Ok(()) => {
                *wallets = next;
                self.relay_nonces.insert(nonce_key, nonce + 1);
                true
            }
            Err(reason) => {
                tracing::info!(%hash, %wallet, %reason, "simulated chain: relayed transaction reverted");
                false
            }
        };
        let relayer_nonce = self.nonces.entry(relayer).or_insert(0);
        *relayer_nonce += 1;
        let to = calls.first().map_or(Address::ZERO, |(to, _)| *to);
        self.mine(hash, relayer, to, ok, ReceiptEnvelope::Eip1559);
        (hash, ok)
    }

    /// Runs `from`'s call all or nothing: on a copy of `wallets`, kept only when it succeeds.
    fn apply(
        &self,
        from: Address,
        to: Address,
        input: &[u8],
        wallets: &mut Wallets,
        markets: &ChainMarkets,
        hash: &B256,
    ) -> bool {
        let mut next = wallets.clone();
        match call(&mut next, from, to, input, markets) {
            Ok(_) => {
                *wallets = next;
                true
            }
            Err(reason) => {
                tracing::info!(%hash, %from, %reason, "simulated chain: transaction reverted");
                false
            }
        }
    }

    /// Mines transaction `hash` in a block of its own, with its receipt.
    fn mine(&mut self, hash: B256, from: Address, to: Address, ok: bool, kind: EnvelopeOf) {
        self.block += 1;
        self.mined += 1;
        let block_hash = header(self.block).hash;
        self.blocks.insert(self.block, block_hash);
        let receipt = Receipt { status: Eip658Value::Eip658(ok), cumulative_gas_used: GAS, logs: vec![] };
        let inner = kind(ReceiptWithBloom { receipt, logs_bloom: Bloom::ZERO });
        self.receipts.insert(
            hash,
            TransactionReceipt {
                inner,
                transaction_hash: hash,
                transaction_index: Some(0),
                block_hash: Some(block_hash),
                block_number: Some(self.block),
                gas_used: GAS,
                effective_gas_price: GWEI_30,
                blob_gas_used: None,
                blob_gas_price: None,
                from,
                to: Some(to),
                contract_address: None,
            },
        );
    }
}

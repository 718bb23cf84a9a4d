//! The simulator's gasless relayer (Polymarket's `relayer-v2`), checking what a client sends as
//! the relayer and the wallet would, and sending the calls on the simulated chain
//! ([`Chain::relay`]) with the wallet as the sender:
//! - the Relayer API key headers: the key is the one the simulator issues to the address
//!   ([`api_key`]), and the submitter (`from`) is that address;
//! - `SAFE`: the Safe is the one the owner's address derives (`derive_safe_wallet`, as
//!   Polymarket's factory deploys it), the transaction is a plain call with no refund, its nonce
//!   is the Safe's next one, and the signature recovers to the owner over the EIP-712 `SafeTx`
//!   hash;
//! - `PROXY`: the target is the proxy wallet factory and the wallet the owner's proxy
//!   (`derive_proxy_wallet`), the relay hub Polymarket's and the relay this relayer
//!   ([`RELAYER_ADDRESS`], which `GET /relay-payload` names), no fee and no gas price, the nonce
//!   the proxy's next, the calls plain ones without value, and the signature recovers to the
//!   owner over the relay hub's request hash;
//! - `WALLET`: the target is the deposit wallet factory, the deadline not passed (chain time),
//!   the nonce the wallet's next, the calls without value, and the signature recovers to the
//!   owner over the EIP-712 `Batch` under the wallet's domain. The simulator has no deposit
//!   wallet factory to ask who owns a wallet: a wallet is taken to be owned by whoever signs for
//!   it, as its orders are (`venue_auth`);
//! - `POST /submit` answers `STATE_NEW` at once; the first `GET /transaction` still says
//!   `STATE_NEW` (a client must poll), later ones `STATE_CONFIRMED` with the hash or
//!   `STATE_FAILED` when a call reverted.
//!
//! Pure state over requests (no I/O); the server holds it beside the chain.

use std::collections::HashMap;

use alloy::primitives::{Address, Bytes, U256};
use polyfleet_polymarket::execution::{deposit_wallet, proxy_wallet, safe};
use polyfleet_polymarket::http::relayer::{
    ProxyParams, Relayed, RelayerState, RelayerTransaction, SafeParams, SubmitRequest, WalletBatch,
};
use polymarket_client_sdk_v2::{POLYGON, derive_proxy_wallet, derive_safe_wallet};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::chain::{Chain, ChainMarkets};
use crate::wallets::Wallets;

/// The address the simulated relayer sends its transactions from.
pub const RELAYER_ADDRESS: Address = Address::repeat_byte(0x7e);

/// The Relayer API key the simulator issues to `address` (a pure function of it).
pub fn api_key(address: &Address) -> String {
    let digest = Sha256::digest(format!("polyfleet-sim-relayer-key-{address:#x}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes).to_string()
}

/// Why the relayer refused a request: HTTP status and message.
pub type Refusal = (u16, String);

fn bad(message: impl Into<String>) -> Refusal {
    (400, message.into())
}

/// Checks the API key headers; the address owning the key.
pub fn authenticate(key: Option<&str>, address: Option<&str>) -> Result<Address, Refusal> {
    let (Some(key), Some(address)) = (key, address) else {
        return Err((401, "missing RELAYER_API_KEY / RELAYER_API_KEY_ADDRESS".into()));
    };
    let owner: Address =
        address.trim().parse().map_err(|_| (401, "RELAYER_API_KEY_ADDRESS is not an address".into()))?;
    if api_key(&owner) != key.trim() {
        return Err((401, "invalid relayer API key".into()));
    }
    Ok(owner)
}

fn parse(what: &str, v: &str) -> Result<Address, Refusal> {
    v.parse().map_err(|_| bad(format!("{what} {v:?} is not an address")))
}

fn hex(what: &str, v: &str) -> Result<Bytes, Refusal> {
    v.parse().map_err(|_| bad(format!("{what} is not hex")))
}

fn number(what: &str, v: &str) -> Result<u64, Refusal> {
    v.parse().map_err(|_| bad(format!("{what} is not a number")))
}

fn next_nonce(nonce: u64, next: u64, whose: &str) -> Result<(), Refusal> {
    if nonce == next { Ok(()) } else { Err(bad(format!("nonce {nonce} is not the {whose}'s next ({next})"))) }
}

fn signed_by(signer: Result<Address, String>, owner: Address) -> Result<(), Refusal> {
    match signer {
        Ok(s) if s == owner => Ok(()),
        Ok(s) => Err(bad(format!("the signature is {s:#x}'s, not the owner's"))),
        Err(e) => Err(bad(e)),
    }
}

/// The relayed calls, what they run from and whose nonce they use.
type Checked = (Address, Vec<(Address, Bytes)>, Address);

/// A Safe transaction of `owner`, checked.
fn safe_calls(owner: Address, r: &Relayed<SafeParams>, chain: &Chain) -> Result<Checked, Refusal> {
    let (to, wallet) = (parse("to", &r.to)?, parse("proxyWallet", &r.proxy_wallet)?);
    let safe = derive_safe_wallet(owner, POLYGON).ok_or_else(|| bad("no Safe factory on this chain"))?;
    if wallet != safe {
        return Err(bad(format!("{wallet:#x} is not the Safe of {owner:#x}")));
    }
    if r.signature_params != SafeParams::call() {
        return Err(bad("only plain calls without gas refund are simulated"));
    }
    let nonce = number("nonce", &r.nonce)?;
    next_nonce(nonce, chain.relay_nonce(&safe), "Safe")?;
    let data = hex("data", &r.data)?;
    let hash = safe::signing_hash(safe, &safe::call(to, data.clone(), nonce));
    signed_by(safe::recover_owner(&hash, &hex("signature", &r.signature)?), owner)?;
    Ok((safe, vec![(to, data)], safe))
}

/// A proxy wallet transaction of `owner`, checked.
fn proxy_calls(owner: Address, r: &Relayed<ProxyParams>, chain: &Chain) -> Result<Checked, Refusal> {
    let (to, wallet) = (parse("to", &r.to)?, parse("proxyWallet", &r.proxy_wallet)?);
    if to != proxy_wallet::FACTORY {
        return Err(bad(format!("{to:#x} is not the proxy wallet factory")));
    }
    let proxy = derive_proxy_wallet(owner, POLYGON).ok_or_else(|| bad("no proxy wallet factory on this chain"))?;
    if wallet != proxy {
        return Err(bad(format!("{wallet:#x} is not the proxy wallet of {owner:#x}")));
    }
    let p = &r.signature_params;
    let (relay_hub, relay) = (parse("relayHub", &p.relay_hub)?, parse("relay", &p.relay)?);
    if relay_hub != proxy_wallet::RELAY_HUB || relay != RELAYER_ADDRESS {
        return Err(bad("the relay hub or the relay is not this relayer's"));
    }
    if number("gasPrice", &p.gas_price)? != 0 || number("relayerFee", &p.relayer_fee)? != 0 {
        return Err(bad("only transactions without fee or gas price are simulated"));
    }
    let nonce = number("nonce", &r.nonce)?;
    next_nonce(nonce, chain.relay_nonce(&proxy), "proxy wallet")?;
    let data = hex("data", &r.data)?;
    let request = proxy_wallet::RelayRequest {
        from: owner,
        to,
        data: data.clone(),
        fee: U256::ZERO,
        gas_price: U256::ZERO,
        gas_limit: U256::from(number("gasLimit", &p.gas_limit)?),
        nonce: U256::from(nonce),
        relay_hub,
        relay,
    };
    signed_by(proxy_wallet::recover(&request.hash(), &hex("signature", &r.signature)?), owner)?;
    Ok((proxy, proxy_wallet::calls(&data).map_err(bad)?, proxy))
}

/// A deposit wallet batch of `owner`, checked.
fn wallet_calls(owner: Address, b: &WalletBatch, chain: &Chain) -> Result<Checked, Refusal> {
    if parse("to", &b.to)? != deposit_wallet::FACTORY {
        return Err(bad(format!("{} is not the deposit wallet factory", b.to)));
    }
    let p = &b.deposit_wallet_params;
    let wallet = parse("depositWallet", &p.deposit_wallet)?;
    let deadline = number("deadline", &p.deadline)?;
    if deadline < chain.now_s() {
        return Err(bad(format!("the batch expired at {deadline}")));
    }
    let nonce = number("nonce", &b.nonce)?;
    next_nonce(nonce, chain.relay_nonce(&owner), "deposit wallet")?;
    let calls = p
        .calls
        .iter()
        .map(|c| {
            if number("value", &c.value)? != 0 {
                return Err(bad("only calls without value are simulated"));
            }
            Ok(deposit_wallet::Call {
                target: parse("target", &c.target)?,
                value: U256::ZERO,
                data: hex("data", &c.data)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let batch = deposit_wallet::Batch { wallet, nonce: U256::from(nonce), deadline: U256::from(deadline), calls };
    signed_by(deposit_wallet::recover(&deposit_wallet::signing_hash(&batch), &hex("signature", &b.signature)?), owner)?;
    Ok((wallet, batch.calls.into_iter().map(|c| (c.target, c.data)).collect(), owner))
}

/// The relayer's transactions.
#[derive(Debug, Default)]
pub struct Relayer {
    txs: HashMap<String, (RelayerTransaction, bool)>,
    next: u64,
}

impl Relayer {
    /// A relayer with no transactions.
    pub fn new() -> Relayer {
        Relayer::default()
    }

    /// The next nonce of `owner`'s Safe (`SAFE`) or deposit wallet (`WALLET`: the simulator
    /// keys it by the owner, having no factory to ask for the wallet).
    pub fn nonce(chain: &Chain, owner: &Address, kind: &str) -> Result<u64, Refusal> {
        match kind {
            "SAFE" => {
                let safe = derive_safe_wallet(*owner, POLYGON).ok_or_else(|| bad("no Safe factory on this chain"))?;
                Ok(chain.relay_nonce(&safe))
            }
            "WALLET" => Ok(chain.relay_nonce(owner)),
            other => Err(bad(format!("nonce type {other:?} is not simulated (SAFE or WALLET)"))),
        }
    }

    /// The relay and next nonce of `owner`'s proxy transactions (`GET /relay-payload`).
    pub fn relay_payload(chain: &Chain, owner: &Address) -> Result<(Address, u64), Refusal> {
        let proxy = derive_proxy_wallet(*owner, POLYGON).ok_or_else(|| bad("no proxy wallet factory on this chain"))?;
        Ok((RELAYER_ADDRESS, chain.relay_nonce(&proxy)))
    }

    /// Checks and sends `req`, submitted with the key of `submitter`.
    pub fn submit(
        &mut self,
        submitter: Address,
        req: &SubmitRequest,
        chain: &mut Chain,
        wallets: &mut Wallets,
        markets: &ChainMarkets,
    ) -> Result<RelayerTransaction, Refusal> {
        let from = match req {
            SubmitRequest::Safe(r) => parse("from", &r.from)?,
            SubmitRequest::Proxy(r) => parse("from", &r.from)?,
            SubmitRequest::Wallet(b) => parse("from", &b.from)?,
        };
        if from != submitter {
            return Err((401, format!("the key belongs to {submitter:#x}, not to {from:#x}")));
        }
        let (wallet, calls, nonce_key) = match req {
            SubmitRequest::Safe(r) => safe_calls(from, r, chain)?,
            SubmitRequest::Proxy(r) => proxy_calls(from, r, chain)?,
            SubmitRequest::Wallet(b) => wallet_calls(from, b, chain)?,
        };
        let (tx, ok) = chain.relay(RELAYER_ADDRESS, wallet, nonce_key, &calls, wallets, markets);
        self.next += 1;
        let id = format!("sim-relay-{:08}", self.next);
        let done = RelayerTransaction {
            id: id.clone(),
            state: if ok { RelayerState::Confirmed } else { RelayerState::Failed },
            hash: Some(format!("{tx:#x}")),
        };
        self.txs.insert(id.clone(), (done, false));
        Ok(RelayerTransaction { id, state: RelayerState::New, hash: None })
    }

    /// Transaction `id` as polled (`STATE_NEW` the first time).
    pub fn transaction(&mut self, id: &str) -> Vec<RelayerTransaction> {
        match self.txs.get_mut(id) {
            Some((done, polled)) if *polled => vec![done.clone()],
            Some((done, polled)) => {
                *polled = true;
                vec![RelayerTransaction { id: done.id.clone(), state: RelayerState::New, hash: None }]
            }
            None => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;
    use alloy::sol_types::SolCall;
    use polyfleet_core::{ConditionId, TokenId};
    use polyfleet_polymarket::common::contracts::IConditionalTokens;
    use polymarket_client_sdk_v2::contract_config;

    use super::*;
    use crate::chain::ChainMarket;

    fn split_call(condition: ConditionId, shares: u64) -> (Address, Bytes) {
        let cfg = contract_config(POLYGON, false).unwrap();
        let call = IConditionalTokens::splitPositionCall {
            collateralToken: cfg.collateral,
            parentCollectionId: alloy::primitives::B256::ZERO,
            conditionId: alloy::primitives::B256::from(*condition.as_bytes()),
            partition: vec![alloy::primitives::U256::from(1), alloy::primitives::U256::from(2)],
            amount: alloy::primitives::U256::from(shares * 1_000_000),
        };
        (cfg.conditional_tokens, Bytes::from(call.abi_encode()))
    }

    fn request(owner: &PrivateKeySigner, safe: Address, to: Address, data: &Bytes, nonce: u64) -> Relayed<SafeParams> {
        safe::request(owner, safe, to, data.clone(), nonce).unwrap()
    }

    fn proxy_request(owner: &PrivateKeySigner, to: Address, data: &Bytes, nonce: u64) -> Relayed<ProxyParams> {
        let proxy = derive_proxy_wallet(owner.address(), POLYGON).unwrap();
        proxy_wallet::request(owner, proxy, to, data.clone(), RELAYER_ADDRESS, nonce).unwrap()
    }

    fn wallet_batch(owner: &PrivateKeySigner, wallet: Address, to: Address, data: &Bytes, nonce: u64) -> WalletBatch {
        deposit_wallet::request(owner, wallet, to, data.clone(), nonce, 1_900_000_000).unwrap()
    }

    fn setup() -> (PrivateKeySigner, ConditionId, TokenId, TokenId, ChainMarkets) {
        let condition = ConditionId::from_bytes([7; 32]);
        let (yes, no) = (TokenId::from_u128(1), TokenId::from_u128(2));
        let market = ChainMarket { yes, no, neg_risk: false, resolved: None, question: None, convert_fee_bips: 0 };
        (PrivateKeySigner::random(), condition, yes, no, [(condition, market)].into_iter().collect())
    }

    /// Polls `t` twice (the first poll says NEW) and returns its final state.
    fn settled(relayer: &mut Relayer, t: &RelayerTransaction) -> RelayerState {
        assert_eq!(relayer.transaction(&t.id)[0].state, RelayerState::New, "a client has to poll");
        relayer.transaction(&t.id)[0].state
    }

    /// What the relayer and the Safe check, each refusal leaving the chain untouched; a call that
    /// reverts is mined as failed without using the nonce; a good one runs as the Safe.
    #[test]
    fn the_relayer_checks_key_safe_nonce_and_signature_then_runs_the_call_as_the_safe() {
        let (owner, condition, yes, no, markets) = setup();
        let me = owner.address();
        let safe = derive_safe_wallet(me, POLYGON).unwrap();
        let (mut chain, mut wallets, mut relayer) = (Chain::new(), Wallets::new(10_000_000), Relayer::new());
        let (to, data) = split_call(condition, 4);
        let mut submit = |req: Relayed<SafeParams>, who: Address, chain: &mut Chain, wallets: &mut Wallets| {
            relayer.submit(who, &SubmitRequest::Safe(req), chain, wallets, &markets)
        };

        assert_eq!(authenticate(Some(&api_key(&me)), Some(&format!("{me:#x}"))), Ok(me));
        assert_eq!(authenticate(Some("other"), Some(&format!("{me:#x}"))).unwrap_err().0, 401);
        assert_eq!(authenticate(None, None).unwrap_err().0, 401);
        let good = request(&owner, safe, to, &data, 0);
        // Someone else's key; another wallet; a nonce ahead; another signer; refund parameters.
        let stranger = PrivateKeySigner::random();
        assert_eq!(submit(good.clone(), stranger.address(), &mut chain, &mut wallets).unwrap_err().0, 401);
        let not_the_safe = Relayed { proxy_wallet: format!("{:#x}", Address::repeat_byte(1)), ..good.clone() };
        assert!(submit(not_the_safe, me, &mut chain, &mut wallets).unwrap_err().1.contains("is not the Safe"));
        let ahead = request(&owner, safe, to, &data, 1);
        assert!(submit(ahead, me, &mut chain, &mut wallets).unwrap_err().1.contains("not the Safe's next"));
        let forged = Relayed { signature: request(&stranger, safe, to, &data, 0).signature, ..good.clone() };
        assert!(submit(forged, me, &mut chain, &mut wallets).unwrap_err().1.contains("not the owner's"));
        let mut refund = good.clone();
        refund.signature_params.gas_price = "1".into();
        assert!(submit(refund, me, &mut chain, &mut wallets).unwrap_err().1.contains("without gas refund"));
        assert_eq!((chain.mined, chain.relay_nonce(&safe)), (0, 0), "nothing mined for any refusal");

        // More than the Safe holds (10 USDC): mined, failed, the nonce still free.
        let (_, too_much) = split_call(condition, 11);
        let t = submit(request(&owner, safe, to, &too_much, 0), me, &mut chain, &mut wallets).unwrap();
        assert_eq!((t.state, t.hash.clone()), (RelayerState::New, None));
        assert_eq!(settled(&mut relayer, &t), RelayerState::Failed);
        assert_eq!((chain.mined, chain.relay_nonce(&safe)), (1, 0));

        let t = relayer.submit(me, &SubmitRequest::Safe(good.clone()), &mut chain, &mut wallets, &markets).unwrap();
        relayer.transaction(&t.id);
        let done = relayer.transaction(&t.id).remove(0);
        assert_eq!(done.state, RelayerState::Confirmed);
        assert!(done.hash.is_some());
        assert_eq!(
            (wallets.collateral(&safe), wallets.tokens(&safe, &yes), wallets.tokens(&safe, &no)),
            (6_000_000, 4_000_000, 4_000_000)
        );
        assert_eq!(
            (wallets.collateral(&me), wallets.tokens(&me, &yes)),
            (10_000_000, 0),
            "the owner's own wallet is untouched"
        );
        // The same signed transaction again: its nonce is used.
        let again = relayer.submit(me, &SubmitRequest::Safe(good), &mut chain, &mut wallets, &markets);
        assert!(again.unwrap_err().1.contains("not the Safe's next"));
        assert_eq!((chain.mined, chain.relay_nonce(&safe)), (2, 1));
        assert!(relayer.transaction("nope").is_empty());
    }

    /// A proxy transaction: the owner's proxy wallet, the factory, this relay and hub, no fee,
    /// the proxy's nonce and the owner's signature over the relay hub's hash; the calls run as the
    /// proxy wallet.
    #[test]
    fn the_relayer_checks_a_proxy_transaction_then_runs_its_calls_as_the_proxy_wallet() {
        let (owner, condition, yes, no, markets) = setup();
        let me = owner.address();
        let proxy = derive_proxy_wallet(me, POLYGON).unwrap();
        let (mut chain, mut wallets, mut relayer) = (Chain::new(), Wallets::new(10_000_000), Relayer::new());
        let (to, data) = split_call(condition, 3);
        assert_eq!(Relayer::relay_payload(&chain, &me), Ok((RELAYER_ADDRESS, 0)));
        let good = proxy_request(&owner, to, &data, 0);
        let mut submit = |req: Relayed<ProxyParams>, chain: &mut Chain, wallets: &mut Wallets| {
            relayer.submit(me, &SubmitRequest::Proxy(req), chain, wallets, &markets)
        };
        let stranger = PrivateKeySigner::random();
        let refused = [
            (
                Relayed { proxy_wallet: format!("{:#x}", Address::repeat_byte(1)), ..good.clone() },
                "not the proxy wallet",
            ),
            (Relayed { to: format!("{:#x}", Address::repeat_byte(2)), ..good.clone() }, "not the proxy wallet factory"),
            (
                Relayed { signature: proxy_request(&stranger, to, &data, 0).signature, ..good.clone() },
                "not the owner's",
            ),
            (proxy_request(&owner, to, &data, 1), "not the proxy wallet's next"),
            (
                Relayed {
                    signature_params: ProxyParams { relayer_fee: "5".into(), ..good.signature_params.clone() },
                    ..good.clone()
                },
                "without fee",
            ),
            (
                Relayed {
                    signature_params: ProxyParams {
                        relay: format!("{:#x}", Address::repeat_byte(9)),
                        ..good.signature_params.clone()
                    },
                    ..good.clone()
                },
                "not this relayer's",
            ),
        ];
        for (req, why) in refused {
            let err = submit(req, &mut chain, &mut wallets).unwrap_err().1;
            assert!(err.contains(why), "{err} (expected {why})");
        }
        assert_eq!(chain.mined, 0, "nothing mined for any refusal");
        let t = submit(good.clone(), &mut chain, &mut wallets).unwrap();
        assert_eq!(settled(&mut relayer, &t), RelayerState::Confirmed);
        assert_eq!(
            (wallets.collateral(&proxy), wallets.tokens(&proxy, &yes), wallets.tokens(&proxy, &no)),
            (7_000_000, 3_000_000, 3_000_000)
        );
        assert_eq!(wallets.tokens(&me, &yes), 0, "the owner's own wallet is untouched");
        assert_eq!(Relayer::relay_payload(&chain, &me), Ok((RELAYER_ADDRESS, 1)));
        let replay = relayer.submit(me, &SubmitRequest::Proxy(good), &mut chain, &mut wallets, &markets);
        assert!(replay.unwrap_err().1.contains("next"));
    }

    /// A deposit wallet batch: the factory, a deadline not passed, the owner's wallet nonce and
    /// signature over the EIP-712 batch; the calls run as the deposit wallet.
    #[test]
    fn the_relayer_checks_a_deposit_wallet_batch_then_runs_its_calls_as_the_wallet() {
        let (owner, condition, yes, _, markets) = setup();
        let me = owner.address();
        let wallet = Address::repeat_byte(0xd3);
        let (mut chain, mut wallets, mut relayer) = (Chain::new(), Wallets::new(10_000_000), Relayer::new());
        let (to, data) = split_call(condition, 2);
        assert_eq!(Relayer::nonce(&chain, &me, "WALLET"), Ok(0));
        let good = wallet_batch(&owner, wallet, to, &data, 0);
        let mut submit = |req: WalletBatch, chain: &mut Chain, wallets: &mut Wallets| {
            relayer.submit(me, &SubmitRequest::Wallet(req), chain, wallets, &markets)
        };
        let stranger = PrivateKeySigner::random();
        let mut expired = good.clone();
        expired.deposit_wallet_params.deadline = "1000".into();
        let mut other_wallet = good.clone();
        other_wallet.deposit_wallet_params.deposit_wallet = format!("{:#x}", Address::repeat_byte(0xd4));
        let refused = [
            (
                WalletBatch { to: format!("{:#x}", Address::repeat_byte(2)), ..good.clone() },
                "not the deposit wallet factory",
            ),
            (
                WalletBatch { signature: wallet_batch(&stranger, wallet, to, &data, 0).signature, ..good.clone() },
                "not the owner's",
            ),
            (wallet_batch(&owner, wallet, to, &data, 1), "not the deposit wallet's next"),
            (expired, "expired"),
            (other_wallet, "not the owner's"),
        ];
        for (req, why) in refused {
            let err = submit(req, &mut chain, &mut wallets).unwrap_err().1;
            assert!(err.contains(why), "{err} (expected {why})");
        }
        assert_eq!(chain.mined, 0, "nothing mined for any refusal");
        let t = submit(good, &mut chain, &mut wallets).unwrap();
        assert_eq!(settled(&mut relayer, &t), RelayerState::Confirmed);
        assert_eq!((wallets.collateral(&wallet), wallets.tokens(&wallet, &yes)), (8_000_000, 2_000_000));
        assert_eq!(Relayer::nonce(&chain, &me, "WALLET"), Ok(1));
        assert!(Relayer::nonce(&chain, &me, "PROXY").is_err());
    }
}

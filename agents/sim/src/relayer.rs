//! The simulator's gasless relayer (Polymarket's `relayer-v2`, for Safe accounts), checking what
//! a client sends as the relayer and the Safe would, and sending the call on the simulated chain
//! ([`Chain::relay`]):
//! - the Relayer API key headers: the key is the one the simulator issues to the address
//!   ([`api_key`]), and the submitter (`from`) is that address;
//! - the Safe is the one the owner's address derives (`derive_safe_wallet`, as Polymarket's
//!   factory deploys it), the transaction is a plain call with no refund, its nonce is the Safe's
//!   next one, and the signature recovers to the owner over the EIP-712 `SafeTx` hash;
//! - `POST /submit` answers `STATE_NEW` at once; the first `GET /transaction` still says
//!   `STATE_NEW` (a client must poll), later ones `STATE_CONFIRMED` with the hash or
//!   `STATE_FAILED` when the call reverted.
//!
//! Pure state over requests (no I/O); the server holds it beside the chain.

use std::collections::HashMap;

use alloy::primitives::{Address, Bytes};
use polyfleet_polymarket::execution::safe;
use polyfleet_polymarket::http::relayer::{RelayerState, RelayerTransaction, SignatureParams, SubmitRequest};
use polymarket_client_sdk_v2::{POLYGON, derive_safe_wallet};
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

    /// The next nonce of `owner`'s Safe.
    pub fn safe_nonce(chain: &Chain, owner: &Address) -> Result<u64, Refusal> {
        let safe = derive_safe_wallet(*owner, POLYGON).ok_or_else(|| bad("no Safe factory on this chain"))?;
        Ok(chain.safe_nonce(&safe))
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
        if req.kind != "SAFE" {
            return Err(bad(format!("transaction type {:?} is not simulated (SAFE only)", req.kind)));
        }
        let parse = |what: &str, v: &str| -> Result<Address, Refusal> {
            v.parse().map_err(|_| bad(format!("{what} {v:?} is not an address")))
        };
        let (from, to, wallet) =
            (parse("from", &req.from)?, parse("to", &req.to)?, parse("proxyWallet", &req.proxy_wallet)?);
        if from != submitter {
            return Err((401, format!("the key belongs to {submitter:#x}, not to {from:#x}")));
        }
        let safe = derive_safe_wallet(from, POLYGON).ok_or_else(|| bad("no Safe factory on this chain"))?;
        if wallet != safe {
            return Err(bad(format!("{wallet:#x} is not the Safe of {from:#x}")));
        }
        if req.signature_params != SignatureParams::call() {
            return Err(bad("only plain calls without gas refund are simulated"));
        }
        let nonce: u64 = req.nonce.parse().map_err(|_| bad("nonce is not a number"))?;
        if nonce != chain.safe_nonce(&safe) {
            return Err(bad(format!("nonce {nonce} is not the Safe's next ({})", chain.safe_nonce(&safe))));
        }
        let data: Bytes = req.data.parse().map_err(|_| bad("data is not hex"))?;
        let signature: Bytes = req.signature.parse().map_err(|_| bad("signature is not hex"))?;
        let hash = safe::signing_hash(safe, &safe::call(to, data.clone(), nonce));
        match safe::recover_owner(&hash, &signature) {
            Ok(signer) if signer == from => {}
            Ok(signer) => return Err(bad(format!("the signature is {signer:#x}'s, not the owner's"))),
            Err(e) => return Err(bad(e)),
        }
        let (tx, ok) = chain.relay(RELAYER_ADDRESS, safe, to, &data, wallets, markets);
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

    fn request(owner: &PrivateKeySigner, safe: Address, to: Address, data: &Bytes, nonce: u64) -> SubmitRequest {
        let sig = safe::sign(owner, &safe::signing_hash(safe, &safe::call(to, data.clone(), nonce))).unwrap();
        SubmitRequest {
            from: format!("{:#x}", owner.address()),
            to: format!("{to:#x}"),
            proxy_wallet: format!("{safe:#x}"),
            data: data.to_string(),
            nonce: nonce.to_string(),
            signature: sig.to_string(),
            signature_params: SignatureParams::call(),
            kind: "SAFE".into(),
        }
    }

    /// What the relayer and the Safe check, each refusal leaving the chain untouched; a call that
    /// reverts is mined as failed without using the nonce; a good one runs as the Safe.
    #[test]
    fn the_relayer_checks_key_safe_nonce_and_signature_then_runs_the_call_as_the_safe() {
        let owner = PrivateKeySigner::random();
        let me = owner.address();
        let safe = derive_safe_wallet(me, POLYGON).unwrap();
        let condition = ConditionId::from_bytes([7; 32]);
        let (yes, no) = (TokenId::from_u128(1), TokenId::from_u128(2));
        let market = ChainMarket { yes, no, neg_risk: false, resolved: None, question: None, convert_fee_bips: 0 };
        let markets: ChainMarkets = [(condition, market)].into_iter().collect();
        let (mut chain, mut wallets, mut relayer) = (Chain::new(), Wallets::new(10_000_000), Relayer::new());
        let (to, data) = split_call(condition, 4);
        let mut submit = |req: &SubmitRequest, who: Address, chain: &mut Chain, wallets: &mut Wallets| {
            relayer.submit(who, req, chain, wallets, &markets)
        };

        assert_eq!(authenticate(Some(&api_key(&me)), Some(&format!("{me:#x}"))), Ok(me));
        assert_eq!(authenticate(Some("other"), Some(&format!("{me:#x}"))).unwrap_err().0, 401);
        assert_eq!(authenticate(None, None).unwrap_err().0, 401);
        let good = request(&owner, safe, to, &data, 0);
        // Someone else's key; another wallet; a nonce ahead; another signer; refund parameters.
        let stranger = PrivateKeySigner::random();
        assert_eq!(submit(&good, stranger.address(), &mut chain, &mut wallets).unwrap_err().0, 401);
        let not_the_safe = SubmitRequest { proxy_wallet: format!("{:#x}", Address::repeat_byte(1)), ..good.clone() };
        assert!(submit(&not_the_safe, me, &mut chain, &mut wallets).unwrap_err().1.contains("is not the Safe"));
        let ahead = request(&owner, safe, to, &data, 1);
        assert!(submit(&ahead, me, &mut chain, &mut wallets).unwrap_err().1.contains("not the Safe's next"));
        let forged = SubmitRequest { signature: request(&stranger, safe, to, &data, 0).signature, ..good.clone() };
        assert!(submit(&forged, me, &mut chain, &mut wallets).unwrap_err().1.contains("not the owner's"));
        let mut refund = good.clone();
        refund.signature_params.gas_price = "1".into();
        assert!(submit(&refund, me, &mut chain, &mut wallets).unwrap_err().1.contains("without gas refund"));
        let proxy = SubmitRequest { kind: "PROXY".into(), ..good.clone() };
        assert!(submit(&proxy, me, &mut chain, &mut wallets).is_err());
        assert_eq!((chain.mined, chain.safe_nonce(&safe)), (0, 0), "nothing mined for any refusal");

        // More than the Safe holds (10 USDC): mined, failed, the nonce still free.
        let (_, too_much) = split_call(condition, 11);
        let t = submit(&request(&owner, safe, to, &too_much, 0), me, &mut chain, &mut wallets).unwrap();
        assert_eq!((t.state, t.hash), (RelayerState::New, None));
        assert_eq!(relayer.transaction(&t.id)[0].state, RelayerState::New, "a client has to poll");
        assert_eq!(relayer.transaction(&t.id)[0].state, RelayerState::Failed);
        assert_eq!((chain.mined, chain.safe_nonce(&safe)), (1, 0));

        let t = relayer.submit(me, &good, &mut chain, &mut wallets, &markets).unwrap();
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
        assert!(
            relayer
                .submit(me, &good, &mut chain, &mut wallets, &markets)
                .unwrap_err()
                .1
                .contains("not the Safe's next")
        );
        assert_eq!((chain.mined, chain.safe_nonce(&safe)), (2, 1));
        assert!(relayer.transaction("nope").is_empty());
    }
}

//! Deposit wallet batches as the relayer takes them ([`crate::http::relayer`]), for accounts whose
//! tokens sit in a Polymarket deposit wallet (signature type 3, ERC-1271): the owner signs the
//! EIP-712 `Batch { wallet, nonce, deadline, calls }` under the wallet's own domain
//! (`DepositWallet`, version 1, chain 137, the wallet's address), and the relayer sends it to the
//! deposit wallet factory, which has the wallet run the calls. [`recover`] is the wallet's owner
//! check, used by the simulator's relayer.

use alloy::dyn_abi::Eip712Domain;
use alloy::primitives::{Address, B256, Bytes, U256, address};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use polymarket_client_sdk_v2::POLYGON;

use crate::http::relayer::{DepositWalletParams, WalletBatch, WalletCall};

mod types {
    #![allow(missing_docs, reason = "the sol! macro generates the structs")]
    alloy::sol! {
        /// One call of a batch.
        struct Call {
            address target;
            uint256 value;
            bytes data;
        }
        /// What the owner signs.
        struct Batch {
            address wallet;
            uint256 nonce;
            uint256 deadline;
            Call[] calls;
        }
    }
}

pub use types::{Batch, Call};

/// Polymarket's deposit wallet factory on Polygon (the relayer client's contract configuration):
/// the target of a `WALLET` submission.
pub const FACTORY: Address = address!("0x00000000000Fb5C9ADea0298D729A0CB3823Cc07");

/// A batch of one plain call of `data` on `to`, from `wallet`, at the wallet's `nonce`, valid
/// until `deadline` (Unix seconds).
pub fn batch(wallet: Address, nonce: u64, deadline: u64, to: Address, data: Bytes) -> Batch {
    Batch {
        wallet,
        nonce: U256::from(nonce),
        deadline: U256::from(deadline),
        calls: vec![Call { target: to, value: U256::ZERO, data }],
    }
}

/// The relayer request running the plain call of `data` on `to` from `wallet`, the deposit
/// wallet of `owner`, at the wallet's `nonce`, valid until `deadline` (Unix seconds), signed.
pub fn request(
    owner: &PrivateKeySigner,
    wallet: Address,
    to: Address,
    data: Bytes,
    nonce: u64,
    deadline: u64,
) -> Result<WalletBatch, alloy::signers::Error> {
    let b = batch(wallet, nonce, deadline, to, data.clone());
    Ok(WalletBatch {
        from: format!("{:#x}", owner.address()),
        to: format!("{FACTORY:#x}"),
        nonce: nonce.to_string(),
        signature: sign(owner, &signing_hash(&b))?.to_string(),
        deposit_wallet_params: DepositWalletParams {
            deposit_wallet: format!("{wallet:#x}"),
            deadline: deadline.to_string(),
            calls: vec![WalletCall { target: format!("{to:#x}"), value: "0".into(), data: data.to_string() }],
        },
    })
}

/// The hash the owner signs: `b` under the domain of its wallet on Polygon.
pub fn signing_hash(b: &Batch) -> B256 {
    let domain = Eip712Domain {
        name: Some("DepositWallet".into()),
        version: Some("1".into()),
        chain_id: Some(U256::from(POLYGON)),
        verifying_contract: Some(b.wallet),
        salt: None,
    };
    b.eip712_signing_hash(&domain)
}

/// The owner's signature of `hash` (65 bytes, v = 27 or 28).
pub fn sign(owner: &PrivateKeySigner, hash: &B256) -> Result<Bytes, alloy::signers::Error> {
    Ok(Bytes::from(owner.sign_hash_sync(hash)?.as_bytes().to_vec()))
}

/// Who signed `hash` as [`sign`] does.
pub fn recover(hash: &B256, signature: &[u8]) -> Result<Address, String> {
    let sig = alloy::primitives::Signature::try_from(signature).map_err(|e| format!("malformed signature: {e}"))?;
    sig.recover_address_from_prehash(hash).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_recovered_and_the_wallet_nonce_deadline_and_calls_are_signed() {
        let owner = PrivateKeySigner::random();
        let wallet = Address::repeat_byte(0xd3);
        let b = batch(wallet, 2, 1_800_000_000, Address::repeat_byte(1), Bytes::from(vec![9]));
        let sig = sign(&owner, &signing_hash(&b)).unwrap();
        assert_eq!(recover(&signing_hash(&b), &sig), Ok(owner.address()));
        for other in [
            Batch { wallet: Address::repeat_byte(0xd4), ..b.clone() },
            Batch { nonce: U256::from(3), ..b.clone() },
            Batch { deadline: U256::from(1), ..b.clone() },
            batch(wallet, 2, 1_800_000_000, Address::repeat_byte(1), Bytes::from(vec![8])),
        ] {
            assert_ne!(recover(&signing_hash(&other), &sig), Ok(owner.address()));
        }
    }
}

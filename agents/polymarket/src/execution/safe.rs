//! Gnosis Safe transactions signed by the Safe's owner, as the relayer takes them
//! ([`crate::http::relayer`]): the EIP-712 `SafeTx` of a plain call with no gas refund, hashed
//! under the Safe's domain (chain 137, the Safe's address), and the owner's `eth_sign`
//! signature of that hash in the Safe's packed form (`r ‖ s ‖ v + 4`, which tells the Safe to
//! check it against the EIP-191 prefixed hash). [`recover_owner`] is the Safe's own check, used by
//! the simulator's relayer.

use alloy::dyn_abi::Eip712Domain;
use alloy::primitives::{Address, B256, Bytes, Signature, U256, eip191_hash_message};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use polymarket_client_sdk_v2::POLYGON;

use crate::http::relayer::{Relayed, SafeParams};

mod types {
    #![allow(missing_docs, reason = "the sol! macro generates the struct")]
    alloy::sol! {
        /// A Safe transaction (Safe ≥ 1.3).
        struct SafeTx {
            address to;
            uint256 value;
            bytes data;
            uint8 operation;
            uint256 safeTxGas;
            uint256 baseGas;
            uint256 gasPrice;
            address gasToken;
            address refundReceiver;
            uint256 nonce;
        }
    }
}

pub use types::SafeTx;

/// The plain call of `data` on `to` with Safe nonce `nonce`, no value and no refund.
pub fn call(to: Address, data: Bytes, nonce: u64) -> SafeTx {
    SafeTx {
        to,
        value: U256::ZERO,
        data,
        operation: 0,
        safeTxGas: U256::ZERO,
        baseGas: U256::ZERO,
        gasPrice: U256::ZERO,
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        nonce: U256::from(nonce),
    }
}

/// The relayer request running the plain call of `data` on `to` from `safe`, the Safe of
/// `owner`, at the Safe's `nonce`, signed.
pub fn request(
    owner: &PrivateKeySigner,
    safe: Address,
    to: Address,
    data: Bytes,
    nonce: u64,
) -> Result<Relayed<SafeParams>, alloy::signers::Error> {
    let hash = signing_hash(safe, &call(to, data.clone(), nonce));
    Ok(Relayed {
        from: format!("{:#x}", owner.address()),
        to: format!("{to:#x}"),
        proxy_wallet: format!("{safe:#x}"),
        data: data.to_string(),
        nonce: nonce.to_string(),
        signature: sign(owner, &hash)?.to_string(),
        signature_params: SafeParams::call(),
    })
}

/// The hash the owner signs: `tx` under the domain of the Safe at `safe` on Polygon.
pub fn signing_hash(safe: Address, tx: &SafeTx) -> B256 {
    let domain =
        Eip712Domain { chain_id: Some(U256::from(POLYGON)), verifying_contract: Some(safe), ..Default::default() };
    tx.eip712_signing_hash(&domain)
}

/// The owner's signature of `hash` in the Safe's `eth_sign` form (65 bytes, v = 31 or 32).
pub fn sign(owner: &PrivateKeySigner, hash: &B256) -> Result<Bytes, alloy::signers::Error> {
    let sig = owner.sign_message_sync(hash.as_slice())?;
    let mut out = sig.as_bytes();
    out[64] += 4;
    Ok(Bytes::from(out.to_vec()))
}

/// Who signed `hash`, as a Safe checks an owner's signature: `v` of 27/28 signs the hash itself,
/// 31/32 (`eth_sign`) its EIP-191 prefixed form; anything else (contract signatures, approved
/// hashes) is not accepted here.
pub fn recover_owner(hash: &B256, signature: &[u8]) -> Result<Address, String> {
    let [rs @ .., v] = signature else { return Err("empty signature".into()) };
    if rs.len() != 64 {
        return Err(format!("a signature has 65 bytes, not {}", signature.len()));
    }
    let (prehash, parity) = match *v {
        27 | 28 => (*hash, *v == 28),
        31 | 32 => (eip191_hash_message(hash.as_slice()), *v == 32),
        other => return Err(format!("signature type v = {other} is not an owner's signature")),
    };
    let sig = Signature::from_bytes_and_parity(rs, parity);
    sig.recover_address_from_prehash(&prehash).map_err(|e| format!("unrecoverable signature: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_recovered_from_its_eth_sign_signature_and_nobody_else() {
        let owner = PrivateKeySigner::random();
        let safe = Address::repeat_byte(0x5a);
        let tx = call(Address::repeat_byte(0x11), Bytes::from(vec![1, 2, 3]), 7);
        let hash = signing_hash(safe, &tx);
        let sig = sign(&owner, &hash).unwrap();
        assert_eq!(sig.len(), 65);
        assert!(sig[64] == 31 || sig[64] == 32);
        assert_eq!(recover_owner(&hash, &sig).unwrap(), owner.address());
        // Another nonce, another Safe: another hash, so another (wrong) signer.
        let other = signing_hash(safe, &call(Address::repeat_byte(0x11), Bytes::from(vec![1, 2, 3]), 8));
        assert_ne!(recover_owner(&other, &sig).unwrap(), owner.address());
        assert_ne!(signing_hash(Address::repeat_byte(0x5b), &tx), hash);
        // A direct signature of the hash (v 27/28) is an owner's signature too.
        let direct = owner.sign_hash_sync(&hash).unwrap().as_bytes();
        assert_eq!(recover_owner(&hash, &direct).unwrap(), owner.address());
        let mut bad = sig.to_vec();
        bad[64] = 1;
        assert!(recover_owner(&hash, &bad).is_err());
        assert!(recover_owner(&hash, &sig[..64]).is_err());
    }
}

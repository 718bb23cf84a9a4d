//! Proxy wallet transactions as the relayer takes them ([`crate::http::relayer`]), for accounts
//! whose tokens sit in a Polymarket proxy wallet (Magic/email accounts, signature type 1): the
//! calls are wrapped in the proxy wallet factory's `proxy(calls)`, and the owner signs the relay
//! hub's request hash, `keccak256("rlx:" ‖ from ‖ to ‖ data ‖ fee ‖ gasPrice ‖ gasLimit ‖ nonce ‖
//! relayHub ‖ relay)` (addresses 20 bytes, numbers 32), in its EIP-191 form (`personal_sign`).
//! The relay and the nonce come from the relayer (`GET /relay-payload`); the fee and gas price
//! are 0 (the relayer pays). [`recover`] is the relay hub's check, used by the simulator's relayer.

use crate::common::contracts::IProxyWalletFactory::{ProxyCall, proxyCall};
use crate::http::relayer::{ProxyParams, Relayed};
use alloy::primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;

/// Polymarket's relay hub on Polygon (the relayer client's contract configuration).
pub const RELAY_HUB: Address = address!("0xD216153c06E857cD7f72665E0aF1d7D82172F494");

/// The gas limit signed (the relayer client's default when it does not estimate).
pub const GAS_LIMIT: u64 = 10_000_000;

/// A plain call (`typeCode` 1).
const CALL: u8 = 1;

/// Polymarket's proxy wallet factory on Polygon (the SDK's wallet configuration holds the same).
pub const FACTORY: Address = address!("0xaB45c5A4B0c941a2F231C04C3f49182e1A254052");

/// The relayer request running the plain call of `data` on `to` from `proxy`, the proxy wallet
/// of `owner`, sent by `relay` at the owner's relay `nonce`, signed.
pub fn request(
    owner: &PrivateKeySigner,
    proxy: Address,
    to: Address,
    data: Bytes,
    relay: Address,
    nonce: u64,
) -> Result<Relayed<ProxyParams>, alloy::signers::Error> {
    let signed = RelayRequest {
        from: owner.address(),
        to: FACTORY,
        data: calldata(to, data),
        fee: U256::ZERO,
        gas_price: U256::ZERO,
        gas_limit: U256::from(GAS_LIMIT),
        nonce: U256::from(nonce),
        relay_hub: RELAY_HUB,
        relay,
    };
    Ok(Relayed {
        from: format!("{:#x}", signed.from),
        to: format!("{FACTORY:#x}"),
        proxy_wallet: format!("{proxy:#x}"),
        data: signed.data.to_string(),
        nonce: nonce.to_string(),
        signature: sign(owner, &signed.hash())?.to_string(),
        signature_params: ProxyParams {
            gas_price: "0".into(),
            gas_limit: GAS_LIMIT.to_string(),
            relayer_fee: "0".into(),
            relay_hub: format!("{RELAY_HUB:#x}"),
            relay: format!("{relay:#x}"),
        },
    })
}

/// The factory calldata running one plain call of `data` on `to` from the caller's proxy wallet.
pub fn calldata(to: Address, data: Bytes) -> Bytes {
    Bytes::from(proxyCall { calls: vec![ProxyCall { typeCode: CALL, to, value: U256::ZERO, data }] }.abi_encode())
}

/// The plain calls in factory calldata `data`; an error for anything else (not `proxy`, another
/// call type, a value).
pub fn calls(data: &[u8]) -> Result<Vec<(Address, Bytes)>, String> {
    let decoded = proxyCall::abi_decode(data).map_err(|e| format!("not a proxy(calls) call: {e}"))?;
    decoded
        .calls
        .into_iter()
        .map(|c| {
            if c.typeCode != CALL || !c.value.is_zero() {
                return Err(format!("only plain calls without value are relayed, not type {}", c.typeCode));
            }
            Ok((c.to, c.data))
        })
        .collect()
}

/// What the owner signs for one relayed proxy transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayRequest {
    /// The owner (the signer).
    pub from: Address,
    /// The proxy wallet factory.
    pub to: Address,
    /// The factory calldata.
    pub data: Bytes,
    /// The relayer's fee (0).
    pub fee: U256,
    /// Gas price (0).
    pub gas_price: U256,
    /// Gas limit.
    pub gas_limit: U256,
    /// The owner's relay nonce.
    pub nonce: U256,
    /// The relay hub.
    pub relay_hub: Address,
    /// The relay that sends it.
    pub relay: Address,
}

impl RelayRequest {
    /// The relay hub's request hash.
    pub fn hash(&self) -> B256 {
        let words = [self.fee, self.gas_price, self.gas_limit, self.nonce].map(|n| n.to_be_bytes::<32>());
        keccak256(
            [
                b"rlx:".as_slice(),
                self.from.as_slice(),
                self.to.as_slice(),
                &self.data,
                &words[0],
                &words[1],
                &words[2],
                &words[3],
                self.relay_hub.as_slice(),
                self.relay.as_slice(),
            ]
            .concat(),
        )
    }
}

/// The owner's signature of `hash` (EIP-191 of its 32 bytes; 65 bytes, v = 27 or 28).
pub fn sign(owner: &PrivateKeySigner, hash: &B256) -> Result<Bytes, alloy::signers::Error> {
    Ok(Bytes::from(owner.sign_message_sync(hash.as_slice())?.as_bytes().to_vec()))
}

/// Who signed `hash` as [`sign`] does.
pub fn recover(hash: &B256, signature: &[u8]) -> Result<Address, String> {
    let sig = alloy::primitives::Signature::try_from(signature).map_err(|e| format!("malformed signature: {e}"))?;
    sig.recover_address_from_msg(hash.as_slice()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_recovered_and_every_field_is_signed() {
        let owner = PrivateKeySigner::random();
        let target = Address::repeat_byte(3);
        let data = calldata(target, Bytes::from(vec![1, 2, 3]));
        assert_eq!(calls(&data).unwrap(), vec![(target, Bytes::from(vec![1, 2, 3]))]);
        let sdk = polymarket_client_sdk_v2::wallet_contract_config(polymarket_client_sdk_v2::POLYGON).unwrap();
        assert_eq!(sdk.proxy_factory, Some(FACTORY));
        let req = RelayRequest {
            from: owner.address(),
            to: FACTORY,
            data,
            fee: U256::ZERO,
            gas_price: U256::ZERO,
            gas_limit: U256::from(GAS_LIMIT),
            nonce: U256::from(4),
            relay_hub: RELAY_HUB,
            relay: Address::repeat_byte(7),
        };
        let sig = sign(&owner, &req.hash()).unwrap();
        assert_eq!(recover(&req.hash(), &sig), Ok(owner.address()));
        for other in [
            RelayRequest { nonce: U256::from(5), ..req.clone() },
            RelayRequest { relay: Address::repeat_byte(8), ..req.clone() },
            RelayRequest { data: calldata(Address::repeat_byte(4), Bytes::new()), ..req.clone() },
        ] {
            assert_ne!(recover(&other.hash(), &sig), Ok(owner.address()));
        }
        assert!(recover(&req.hash(), &sig[..64]).is_err());
        // A delegate call is not relayed.
        let delegate =
            proxyCall { calls: vec![ProxyCall { typeCode: 2, to: target, value: U256::ZERO, data: Bytes::new() }] };
        assert!(calls(&delegate.abi_encode()).is_err());
    }
}

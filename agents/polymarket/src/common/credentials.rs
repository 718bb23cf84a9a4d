//! Trading credentials, read only from the environment (which the execution pod fills from the
//! Venue's Kubernetes Secret): the signer's private key, optionally the API key triple (else it
//! is derived with an L1 signature at start), the signature type and the funder wallet.
//!
//! Key material stays inside: `Debug` prints the address only, errors name the variable and
//! never its value, and nothing here is ever logged, traced or put in a metric.

use std::fmt;
use std::str::FromStr;

use alloy::signers::Signer as _;
use alloy::signers::local::PrivateKeySigner;
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::auth::Credentials;
use polymarket_client_sdk_v2::clob::types::SignatureType;
use polymarket_client_sdk_v2::types::Address;
use uuid::Uuid;

/// The signer's private key (hex, `0x` optional).
pub const PRIVATE_KEY_VAR: &str = "POLYMARKET_PRIVATE_KEY";
/// API key (UUID); with the secret and passphrase, skips derivation.
pub const API_KEY_VAR: &str = "POLYMARKET_API_KEY";
/// API secret (URL-safe base64).
pub const API_SECRET_VAR: &str = "POLYMARKET_API_SECRET";
/// API passphrase.
pub const API_PASSPHRASE_VAR: &str = "POLYMARKET_API_PASSPHRASE";
/// Signature type: 0 EOA, 1 proxy (Magic), 2 Gnosis safe, 3 deposit wallet (ERC-1271).
pub const SIGNATURE_TYPE_VAR: &str = "POLYMARKET_SIGNATURE_TYPE";
/// Funder (maker) wallet address; required for type 3, derived for 1 and 2 when absent.
pub const FUNDER_VAR: &str = "POLYMARKET_FUNDER";
/// Relayer API key of the signer's address (a Safe, proxy or deposit-wallet account's
/// conditional-token operations go through the relayer with it).
pub const RELAYER_API_KEY_VAR: &str = "POLYMARKET_RELAYER_API_KEY";

/// Why credentials could not be read. Never carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The variable is not set.
    #[error("{0} is not set (it comes from the Venue's credentials Secret)")]
    Missing(&'static str),
    /// The variable's value does not parse (the value is never shown).
    #[error("{0} is malformed")]
    Malformed(&'static str),
    /// Only some of the API key triple is set.
    #[error("{API_KEY_VAR}, {API_SECRET_VAR} and {API_PASSPHRASE_VAR} go together: set all three or none")]
    PartialApiKey,
}

/// The kind of wallet holding a non-EOA account's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletKind {
    /// A Gnosis Safe (signature type 2).
    Safe,
    /// A Polymarket proxy wallet (type 1).
    Proxy,
    /// A deposit wallet (type 3).
    Deposit,
}

/// What the live executor signs and authenticates with.
pub struct LiveCredentials {
    signer: PrivateKeySigner,
    api: Option<Credentials>,
    signature_type: SignatureType,
    funder: Option<Address>,
    relayer_api_key: Option<String>,
}

impl fmt::Debug for LiveCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveCredentials")
            .field("address", &self.signer.address())
            .field("api_key", &self.api.as_ref().map(|_| "<set>"))
            .field("signature_type", &(self.signature_type as u8))
            .field("funder", &self.funder)
            .field("relayer_api_key", &self.relayer_api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

fn signature_type(code: u8) -> Option<SignatureType> {
    Some(match code {
        0 => SignatureType::Eoa,
        1 => SignatureType::Proxy,
        2 => SignatureType::GnosisSafe,
        3 => SignatureType::Poly1271,
        _ => return None,
    })
}

impl LiveCredentials {
    /// Reads the credentials from the process environment.
    pub fn from_env() -> Result<LiveCredentials, CredentialsError> {
        LiveCredentials::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads the credentials through `get` (the environment, or a test's map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<LiveCredentials, CredentialsError> {
        let key = get(PRIVATE_KEY_VAR).ok_or(CredentialsError::Missing(PRIVATE_KEY_VAR))?;
        let signer = PrivateKeySigner::from_str(key.trim())
            .map_err(|_| CredentialsError::Malformed(PRIVATE_KEY_VAR))?
            .with_chain_id(Some(POLYGON));
        let api = match (get(API_KEY_VAR), get(API_SECRET_VAR), get(API_PASSPHRASE_VAR)) {
            (Some(k), Some(s), Some(p)) => {
                let k = Uuid::parse_str(k.trim()).map_err(|_| CredentialsError::Malformed(API_KEY_VAR))?;
                Some(Credentials::new(k, s.trim().to_string(), p.trim().to_string()))
            }
            (None, None, None) => None,
            _ => return Err(CredentialsError::PartialApiKey),
        };
        let signature_type = match get(SIGNATURE_TYPE_VAR) {
            None => SignatureType::Eoa,
            Some(v) => v
                .trim()
                .parse::<u8>()
                .ok()
                .and_then(signature_type)
                .ok_or(CredentialsError::Malformed(SIGNATURE_TYPE_VAR))?,
        };
        let funder = get(FUNDER_VAR)
            .map(|v| Address::from_str(v.trim()).map_err(|_| CredentialsError::Malformed(FUNDER_VAR)))
            .transpose()?;
        if matches!(signature_type, SignatureType::Poly1271) && funder.is_none() {
            return Err(CredentialsError::Missing(FUNDER_VAR));
        }
        let relayer_api_key = get(RELAYER_API_KEY_VAR).map(|k| k.trim().to_string());
        Ok(LiveCredentials { signer, api, signature_type, funder, relayer_api_key })
    }

    /// The signer (EOA) address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// True when the signer's own address holds the tokens (an EOA account, signature type 0);
    /// proxy, safe and deposit wallets hold them elsewhere.
    pub fn holds_tokens_itself(&self) -> bool {
        matches!(self.signature_type, SignatureType::Eoa)
    }

    /// The wallet holding the tokens of an account that is not an EOA: the funder address, or
    /// the wallet the SDK derives from the signer (a Safe for type 2, a proxy wallet for type 1;
    /// a deposit wallet, type 3, always names its funder). `None` for an EOA account.
    pub fn wallet(&self) -> Option<(WalletKind, Address)> {
        let derived = |kind, derive: fn(Address, u64) -> Option<Address>| {
            Some((kind, self.funder.or_else(|| derive(self.address(), POLYGON))?))
        };
        match self.signature_type {
            SignatureType::GnosisSafe => derived(WalletKind::Safe, polymarket_client_sdk_v2::derive_safe_wallet),
            SignatureType::Proxy => derived(WalletKind::Proxy, polymarket_client_sdk_v2::derive_proxy_wallet),
            SignatureType::Poly1271 => Some((WalletKind::Deposit, self.funder?)),
            _ => None,
        }
    }

    pub(crate) fn relayer_api_key(&self) -> Option<&str> {
        self.relayer_api_key.as_deref()
    }

    pub(crate) fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    pub(crate) fn api(&self) -> Option<&Credentials> {
        self.api.as_ref()
    }

    pub(crate) fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    pub(crate) fn funder(&self) -> Option<Address> {
        self.funder
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    fn read(vars: &[(&str, &str)]) -> Result<LiveCredentials, CredentialsError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LiveCredentials::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn reads_a_key_and_never_shows_it() {
        let c = read(&[(PRIVATE_KEY_VAR, KEY)]).unwrap();
        assert_eq!(format!("{:#x}", c.address()), "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
        let shown = format!("{c:?}");
        assert!(!shown.contains(&KEY[2..]) && !shown.contains(&KEY[2..10]), "{shown}");
        assert!(matches!(c.signature_type(), SignatureType::Eoa));
    }

    #[test]
    fn errors_name_the_variable_not_the_value() {
        let e = read(&[(PRIVATE_KEY_VAR, "0xnot-a-key-but-secret-looking")]).unwrap_err();
        assert_eq!(e.to_string(), "POLYMARKET_PRIVATE_KEY is malformed");
        assert_eq!(read(&[]).unwrap_err(), CredentialsError::Missing(PRIVATE_KEY_VAR));
        assert_eq!(read(&[(PRIVATE_KEY_VAR, KEY), (API_KEY_VAR, "x")]).unwrap_err(), CredentialsError::PartialApiKey);
        assert_eq!(
            read(&[(PRIVATE_KEY_VAR, KEY), (SIGNATURE_TYPE_VAR, "3")]).unwrap_err(),
            CredentialsError::Missing(FUNDER_VAR)
        );
        assert_eq!(
            read(&[(PRIVATE_KEY_VAR, KEY), (SIGNATURE_TYPE_VAR, "7")]).unwrap_err(),
            CredentialsError::Malformed(SIGNATURE_TYPE_VAR)
        );
        let c = read(&[
            (PRIVATE_KEY_VAR, KEY),
            (SIGNATURE_TYPE_VAR, "3"),
            (FUNDER_VAR, "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"),
        ])
        .unwrap();
        assert!(matches!(c.signature_type(), SignatureType::Poly1271));
    }
}

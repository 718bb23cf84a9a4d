//! Market and order identifiers: [`TokenId`] (a decimal uint256 on the wire), [`ConditionId`]
//! (bytes32 hex) and [`ClientOrderId`] (our idempotency key). All three are `Copy` and hash
//! cheaply, because they key every book, position and order on the hot path.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The low 64 bits of `v`: one limb of a multi-limb number (the truncation is the point).
#[allow(clippy::cast_possible_truncation, reason = "splitting a u128 into 64-bit limbs")]
const fn low_limb(v: u128) -> u64 {
    v as u64
}

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not a decimal uint256.
    #[error("token id {0:?} is not a decimal uint256")]
    Token(String),
    /// Not 0x + 64 hex digits.
    #[error("condition id {0:?} is not 0x-prefixed bytes32 hex")]
    Condition(String),
    /// Empty, too long or with characters outside `[A-Za-z0-9._:-]`.
    #[error("client order id {0:?} must be 1-{max} characters of [A-Za-z0-9._:-]", max = ClientOrderId::MAX_LEN)]
    ClientOrder(String),
}

/// An outcome token (ERC-1155 position) id: a uint256, written by the venue in decimal.
/// Stored as four little-endian u64 limbs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenId([u64; 4]);

impl std::hash::Hash for TokenId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Four integer writes rather than one byte-slice write: cheap for every hasher.
        for limb in self.0 {
            state.write_u64(limb);
        }
    }
}

impl TokenId {
    /// Parses a decimal uint256 (1 to 78 digits, no sign, no spaces).
    pub fn parse(s: &str) -> Result<TokenId, IdError> {
        TokenId::parse_bytes(s.as_bytes())
    }

    /// [`TokenId::parse`] on ASCII bytes.
    pub fn parse_bytes(s: &[u8]) -> Result<TokenId, IdError> {
        let err = || IdError::Token(String::from_utf8_lossy(s).into_owned());
        if s.is_empty() || s.len() > 78 {
            return Err(err());
        }
        let mut limbs = [0u64; 4];
        // 19 digits at a time (the most a u64 holds), then limbs = limbs * 10^k + chunk.
        for chunk in s.chunks(19) {
            let mut value: u64 = 0;
            for &b in chunk {
                if !b.is_ascii_digit() {
                    return Err(err());
                }
                value = value * 10 + u64::from(b - b'0');
            }
            let mut carry = u128::from(value);
            let factor = 10u128.pow(u32::try_from(chunk.len()).map_err(|_| err())?);
            for limb in &mut limbs {
                let v = u128::from(*limb) * factor + carry;
                *limb = low_limb(v);
                carry = v >> 64;
            }
            if carry != 0 {
                return Err(err());
            }
        }
        Ok(TokenId(limbs))
    }

    /// From a small integer (tests, the simulator).
    pub const fn from_u128(v: u128) -> TokenId {
        TokenId([low_limb(v), low_limb(v >> 64), 0, 0])
    }

    /// From little-endian limbs.
    pub const fn from_limbs(limbs: [u64; 4]) -> TokenId {
        TokenId(limbs)
    }

    /// The little-endian limbs.
    pub const fn limbs(&self) -> [u64; 4] {
        self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Repeated division by 10^19 (the largest power of ten in a u64), least significant first.
        const CHUNK: u128 = 10_000_000_000_000_000_000;
        let mut limbs = self.0;
        let mut chunks = [0u64; 5];
        let mut n = 0;
        loop {
            let mut rem: u128 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = low_limb(cur / CHUNK);
                rem = cur % CHUNK;
            }
            chunks[n] = low_limb(rem);
            n += 1;
            if limbs.iter().all(|&l| l == 0) {
                break;
            }
        }
        write!(f, "{}", chunks[n - 1])?;
        for c in chunks[..n - 1].iter().rev() {
            write!(f, "{c:019}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

impl std::str::FromStr for TokenId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TokenId::parse(s)
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() { s.collect_str(self) } else { self.0.serialize(s) }
    }
}

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            TokenId::parse(&s).map_err(serde::de::Error::custom)
        } else {
            Ok(TokenId(<[u64; 4]>::deserialize(d)?))
        }
    }
}

/// A fast hasher for maps keyed by [`TokenId`] (or other small integer keys): token ids are
/// already uniformly random 256-bit numbers, so folding their limbs (FxHash-style) is enough, and
/// far cheaper than SipHash on the hot path. Not for keys an attacker chooses.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenHasher(u64);

impl std::hash::Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A `HashMap` keyed by token id with [`TokenHasher`].
pub type TokenMap<V> = std::collections::HashMap<TokenId, V, std::hash::BuildHasherDefault<TokenHasher>>;

/// A market's condition id: 32 bytes, written `0x` + 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConditionId([u8; 32]);

impl ConditionId {
    /// Parses `0x` + 64 hex digits (either case).
    pub fn parse(s: &str) -> Result<ConditionId, IdError> {
        ConditionId::parse_bytes(s.as_bytes())
    }

    /// [`ConditionId::parse`] on ASCII bytes.
    pub fn parse_bytes(s: &[u8]) -> Result<ConditionId, IdError> {
        let err = || IdError::Condition(String::from_utf8_lossy(s).into_owned());
        let hex = s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X")).ok_or_else(err)?;
        if hex.len() != 64 {
            return Err(err());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0]).ok_or_else(err)? << 4) | nibble(pair[1]).ok_or_else(err)?;
        }
        Ok(ConditionId(out))
    }

    /// From raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> ConditionId {
        ConditionId(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ConditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConditionId({self})")
    }
}

impl Serialize for ConditionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() { s.collect_str(self) } else { self.0.serialize(s) }
    }
}

impl<'de> Deserialize<'de> for ConditionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            ConditionId::parse(&s).map_err(serde::de::Error::custom)
        } else {
            Ok(ConditionId(<[u8; 32]>::deserialize(d)?))
        }
    }
}

/// Our idempotency key for an order: chosen by the strategy, unique per strategy, carried by the
/// intent, the risk decision, the venue order mapping and every fill. A redelivered message with
/// a known client order id is never executed twice. Inline (no allocation), at most 48 characters
/// of `[A-Za-z0-9._:-]`, so it is safe in NATS subjects, Redis keys and HTTP headers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId {
    len: u8,
    buf: [u8; ClientOrderId::MAX_LEN],
}

impl ClientOrderId {
    /// Longest accepted id.
    pub const MAX_LEN: usize = 48;

    /// A valid id that no runner hands out (`invalid-prefix`): what a strategy gets if its
    /// runner's prefix check were ever removed.
    pub const INVALID: ClientOrderId = {
        let text = b"invalid-prefix";
        let mut buf = [0u8; ClientOrderId::MAX_LEN];
        let mut i = 0;
        while i < text.len() {
            buf[i] = text[i];
            i += 1;
        }
        ClientOrderId { len: 14, buf }
    };

    /// Validates and stores `s`.
    pub fn new(s: &str) -> Result<ClientOrderId, IdError> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if !ok {
            return Err(IdError::ClientOrder(s.to_owned()));
        }
        let mut buf = [0u8; Self::MAX_LEN];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        let len = u8::try_from(s.len()).map_err(|_| IdError::ClientOrder(s.to_owned()))?;
        Ok(ClientOrderId { len, buf })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `new`).
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({})", self.as_str())
    }
}

impl Serialize for ClientOrderId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ClientOrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ClientOrderId::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
    const MAX: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

    #[test]
    fn token_ids_round_trip_through_decimal() {
        for s in [YES, MAX, "0", "1", "18446744073709551616", "10000000000000000000"] {
            assert_eq!(TokenId::parse(s).unwrap().to_string(), s);
        }
        assert!(
            TokenId::parse("115792089237316195423570985008687907853269984665640564039457584007913129639936").is_err()
        );
        assert!(TokenId::parse("").is_err());
        assert!(TokenId::parse("12a").is_err());
        assert!(TokenId::parse("-1").is_err());
    }

    #[test]
    fn condition_ids_round_trip_through_hex() {
        let s = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917";
        assert_eq!(ConditionId::parse(s).unwrap().to_string(), s);
        assert!(ConditionId::parse(&s[2..]).is_err());
        assert!(ConditionId::parse("0xzz22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917").is_err());
    }

    #[test]
    fn client_order_ids_are_checked() {
        assert_eq!(ClientOrderId::new("arb-1:leg.0").unwrap().as_str(), "arb-1:leg.0");
        assert!(ClientOrderId::new("").is_err());
        assert!(ClientOrderId::new("has space").is_err());
        assert!(ClientOrderId::new(&"x".repeat(49)).is_err());
        assert!(ClientOrderId::new("ünïcode").is_err());
    }

    #[test]
    fn human_readable_serde_uses_the_venue_strings() {
        let t = TokenId::parse(YES).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{YES}\""));
        assert_eq!(serde_json::from_str::<TokenId>(&format!("\"{YES}\"")).unwrap(), t);
    }
}

//! Versioned binary encoding of wire messages: `[WIRE_VERSION][kind][postcard body]`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WIRE_VERSION;
use super::lifecycle::SettlementReport;
use super::messages::{Control, CtfDecision, CtfReport, Fill, Intent, MarketEvent, OrderUpdate, RiskDecision};
use super::notice::Notice;

/// A message type of the wire protocol, with its kind byte.
pub trait WireMessage: Serialize + DeserializeOwned {
    /// The kind byte written after the version.
    const KIND: u8;
    /// Human name for errors.
    const NAME: &'static str;
}

macro_rules! wire_kinds {
    ($($ty:ty = $kind:literal),* $(,)?) => {
        $(impl WireMessage for $ty {
            const KIND: u8 = $kind;
            const NAME: &'static str = stringify!($ty);
        })*
    };
}

wire_kinds! {
    MarketEvent = 1,
    Intent = 2,
    RiskDecision = 3,
    OrderUpdate = 4,
    Fill = 5,
    Control = 6,
    CtfDecision = 7,
    CtfReport = 8,
    Notice = 9,
    SettlementReport = 10,
}

/// The kind byte of a payload of this wire version (to dispatch a subject that carries more than
/// one message type); `None` when too short or of another version.
pub fn kind_of(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [version, kind, ..] if *version == WIRE_VERSION => Some(*kind),
        _ => None,
    }
}

/// Why a payload could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Shorter than the two header bytes.
    #[error("payload of {0} bytes is too short for a wire header")]
    Truncated(usize),
    /// Written by another version of the protocol.
    #[error("wire version {found} is not supported (this build speaks {WIRE_VERSION})")]
    Version {
        /// The version byte found.
        found: u8,
    },
    /// A different message type than expected.
    #[error("expected a {expected} (kind {expected_kind}), got kind {found}")]
    Kind {
        /// The message type expected.
        expected: &'static str,
        /// Its kind byte.
        expected_kind: u8,
        /// The kind byte found.
        found: u8,
    },
    /// The body does not decode.
    #[error("malformed {0} body: {1}")]
    Body(&'static str, postcard::Error),
    /// Trailing bytes after the body.
    #[error("{0} body has {1} trailing bytes")]
    Trailing(&'static str, usize),
}

/// Appends the encoding of `msg` to `buf` (reuse `buf` on hot paths).
pub fn encode_into<M: WireMessage>(msg: &M, buf: &mut Vec<u8>) {
    buf.push(WIRE_VERSION);
    buf.push(M::KIND);
    // Serializing into a Vec only fails for types serde cannot express, which wire types never are
    // (every wire type is round-tripped by the codec tests).
    #[allow(clippy::expect_used, reason = "writing a wire type into a Vec cannot fail")]
    postcard::to_io(msg, &mut *buf).expect("wire types always serialize");
}

/// Encodes `msg` into a fresh buffer.
pub fn encode<M: WireMessage>(msg: &M) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    encode_into(msg, &mut buf);
    buf
}

/// Decodes a payload that must hold an `M`.
pub fn decode<M: WireMessage>(bytes: &[u8]) -> Result<M, WireError> {
    let [version, kind, body @ ..] = bytes else {
        return Err(WireError::Truncated(bytes.len()));
    };
    if *version != WIRE_VERSION {
        return Err(WireError::Version { found: *version });
    }
    if *kind != M::KIND {
        return Err(WireError::Kind { expected: M::NAME, expected_kind: M::KIND, found: *kind });
    }
    let (msg, rest) = postcard::take_from_bytes(body).map_err(|e| WireError::Body(M::NAME, e))?;
    if !rest.is_empty() {
        return Err(WireError::Trailing(M::NAME, rest.len()));
    }
    Ok(msg)
}

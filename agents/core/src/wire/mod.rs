//! The NATS wire protocol between polyfleet's agents: subjects, message types, encoding.
//!
//! # Subjects ([`subjects`])
//!
//! | subject | transport | carries | producer -> consumer |
//! | --- | --- | --- | --- |
//! | `md.<venue>.<token>` | core NATS | [`MarketEvent`] with a per-token `seq` | market-data -> strategies, execution |
//! | `mdsnap.<venue>.<token>` | core NATS request/reply | request: empty; reply: a [`MarketEvent`] snapshot carrying the `seq` it is consistent with | anyone -> market-data |
//! | `intent.<namespace>.<strategy>` | JetStream stream `POLYFLEET_INTENTS` | [`Intent`] (place, place a set as one, cancel, or a conditional-token operation) | strategy -> risk gateway (queue group) |
//! | `decision.<namespace>.<strategy>` | JetStream stream `POLYFLEET_DECISIONS` | [`RiskDecision`], or [`CtfDecision`] for a conditional-token operation | risk gateway -> execution, strategy |
//! | `order.<namespace>.<strategy>` | JetStream stream `POLYFLEET_ORDERS` | [`OrderUpdate`], [`CtfReport`] for a conditional-token operation, or [`SettlementReport`] for a resolution settled | execution -> strategy, operator |
//! | `fill.<namespace>.<strategy>` | JetStream stream `POLYFLEET_FILLS` | [`Fill`] | execution -> strategy, risk, operator |
//! | `control.<namespace>.<kind>.<name>` | core NATS | [`Control`] (kill switch, cancel all) | operator -> agents |
//! | `signal.<venue>.<token>` | core NATS | a fair-value document, **JSON** ([`signal`]; versioned by its `schema` field) | any model (any language) -> directional strategies |
//! | `notice.<namespace>.<policy>` | JetStream stream `POLYFLEET_NOTICES` | [`Notice`] (trips, resets, modes, live order failures, daily summaries), de-duplicated by its id | operator, execution -> notifier |
//!
//! Strategy parameters are not messages: the operator writes them (JSON, the Strategy's spec
//! block and its generation) to the JetStream KV bucket [`subjects::PARAMS_BUCKET`] under
//! [`subjects::params_key`], and the agent acknowledges under [`subjects::params_ack_key`]. A
//! `series` Market's rounds in play go to the same bucket under [`subjects::rounds_key`]
//! ([`crate::config::RoundsDoc`], JSON), written by the Market controller and followed by the
//! strategy, market-data and execution agents, which take each new round without restarting.
//! Names are escaped into subject tokens by [`subjects::token`] (Kubernetes names may contain
//! dots, NATS tokens may not).
//!
//! Market data goes over core NATS because a lost tick is repaired by the sequence number and a
//! snapshot request, and replaying stale ticks has no value. Everything that moves money goes over
//! JetStream with durable consumers and is keyed by the client order id, so redelivery is safe.
//! Trace context travels in NATS headers (W3C `traceparent`), not in the payload.
//!
//! # Encoding ([`codec`])
//!
//! Every payload is `[version: u8][kind: u8][postcard body]`:
//! - the **version** byte ([`WIRE_VERSION`]) comes first and is checked before anything else, so
//!   a producer and a consumer that disagree fail loudly with [`WireError::Version`];
//! - the **kind** byte says which message type follows, so a message published on the wrong
//!   subject is refused instead of misread;
//! - the body is [postcard](https://docs.rs/postcard): serde-derived, varint-compact
//!   (a one-level market delta is 100 bytes against 306 as JSON, checked by a test), decoded without
//!   building a tree, with a documented, stable format (postcard 1.x). This is the hot path
//!   (tens of thousands of market events per second per agent), so a text format was ruled out;
//!   protobuf or Cap'n Proto would add a schema compiler and a second source of truth for types
//!   that only Rust speaks. The price is that postcard is not self-describing: any change to a
//!   message type bumps [`WIRE_VERSION`] (no silent field additions), and `polyfleet` tools
//!   decode payloads for humans. One change keeps every payload already written readable and
//!   so does not bump it: a variant appended at the end of an enum (postcard numbers variants
//!   in order), such as [`Intent::Signal`]. A build that predates the variant refuses it loudly
//!   as a malformed body; the trade journal's stored payloads stay readable across it.
//!
//! Money on the wire is always the fixed-point integers of [`crate::money`]; no float crosses it.

pub mod codec;
pub mod lifecycle;
pub mod messages;
pub mod notice;
pub mod outcome;
pub mod signal;
pub mod subjects;

pub use codec::{WireError, WireMessage, decode, encode, encode_into, kind_of};
pub use lifecycle::{CtfOp, Resolution, SettlementReport};
pub use messages::*;
pub use notice::{Notice, NoticeKind, Severity};
pub use outcome::Outcome;

/// Version of the wire format; the first byte of every payload.
pub const WIRE_VERSION: u8 = 4;

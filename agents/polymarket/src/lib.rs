//! polyfleet's Polymarket (CLOB V2) venue adapter: everything about the venue in one crate,
//! organised in the order data flows through it.
//!
//! - [`common`]: what every part shares: the tree-free JSON scanner, the id cache, and the
//!   trading credentials (from the environment only).
//! - [`websocket`]: the wire formats of the market and user channels (sans-IO decoders, frame
//!   writers) and the market-channel WebSocket client.
//! - [`http`]: REST: resolving markets (Gamma and CLOB) and the order API through the official
//!   SDK (`polymarket_client_sdk_v2`: signing, L1/L2 auth, posting, cancels, heartbeats).
//! - [`data`]: market data: frames to normalized, numbered book events with the venue's hash
//!   checked, recordings, and market catalogs.
//! - [`execution`]: live execution: the venue-neutral `Executor` of `polyfleet-io`
//!   implemented for a Polymarket account (order tracker, user channel, dead-man heartbeat,
//!   shadow comparison, safety gates).

pub mod common;
pub mod data;
pub mod execution;
pub mod http;
pub mod websocket;

pub use websocket::market::{BookMsg, DecodeStats, Decoder, EventKind, MarketMessage, PriceChange};

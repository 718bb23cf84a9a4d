//! polyfleet's Polymarket (CLOB V2) venue adapter.
//!
//! - [`json`]: a tree-free JSON scanner for the hot path.
//! - [`market`]: the market-channel decoder (`book`, `price_change`, `last_trade_price`,
//!   `tick_size_change`, `best_bid_ask`, `new_market`, `market_resolved`), sans-IO.
//!
//! - [`user`]: the user channel's order and trade events, sans-IO.
//!
//! The WebSocket client, REST client and market-data agent build on these (see the market-data
//! issue); order signing and live trading go through the official SDK.

pub mod book_hash;
pub mod catalog;
pub mod frames;
mod ids_cache;
pub mod json;
pub mod market;
pub mod normalize;
pub mod recording;
pub mod rest;
pub mod user;
pub mod ws;

pub use market::{BookMsg, DecodeStats, Decoder, EventKind, MarketMessage, PriceChange};

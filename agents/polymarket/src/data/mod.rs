//! Market data.
//!
//! - [`normalize`]: venue frames to normalized, numbered wire events (the market-data agent's
//!   heart), sans-IO.
//! - [`book_hash`]: the venue's book hash, recomputed.
//! - [`recording`]: recordings of the market channel (written by `polyfleet record`).
//! - [`catalog`]: what the venue would answer about a set of markets, kept beside a recording.

pub mod book_hash;
pub mod catalog;
pub mod normalize;
pub mod recording;

//! The venue's REST APIs.
//!
//! - [`markets`]: Gamma and CLOB market lookups (what a `Market` resource names, books).
//! - [`clob`]: the order API through the official SDK (build, sign, post, batch, cancel, query,
//!   heartbeat) with the per-signer rate limits and the 425/429 retries.

pub mod clob;
pub mod markets;

pub use clob::VenueLimits;

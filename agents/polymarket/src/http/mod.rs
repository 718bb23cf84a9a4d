//! The venue's REST APIs.
//!
//! - [`markets`]: Gamma and CLOB market lookups (what a `Market` resource names, books).
//! - [`market_status`]: a market's trading and resolution status (`GET /markets/{condition_id}`).
//! - [`clob`]: the order API through the official SDK (build, sign, post, batch, cancel, query,
//!   heartbeat) with the per-signer rate limits and the 425/429 retries.
//! - [`relayer`]: the gasless relayer (Safe, proxy and deposit-wallet accounts' conditional-token
//!   operations).

pub mod clob;
pub mod market_status;
pub mod markets;
pub mod relayer;

pub use clob::VenueLimits;

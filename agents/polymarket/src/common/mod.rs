//! What every part of the adapter shares.
//!
//! - [`json`]: a tree-free JSON scanner for the hot path.
//! - `ids_cache`: venue id text to parsed ids, cached.
//! - [`credentials`]: the key material, from the environment only, never shown.
//! - [`contracts`]: typed bindings of the conditional-token contract calls.
//! - [`engine_restart`]: the matching engine's restarts (425 holds, the post-only window).

pub mod contracts;
pub mod credentials;
pub mod engine_restart;
pub(crate) mod ids_cache;
pub mod json;

pub use credentials::LiveCredentials;

//! Live execution on Polymarket (CLOB V2) through the official SDK:
//! - [`credentials`]: the key material, from the environment only, never shown;
//! - [`venue`]: the SDK client (build, sign, post, batch, cancel, query, heartbeat) with the
//!   per-signer rate limits and the 425/429 retries;
//! - [`tracker`]: venue order id ↔ intent, and venue events into order updates and fills
//!   (MATCHED → CONFIRMED finality, FAILED reversals), sans-IO;
//! - [`user_channel`] and [`heartbeat`]: the tasks beside the executor;
//! - [`shadow`]: shadow mode's comparison with paper;
//! - [`executor`]: the [`crate::executor::Executor`] tying them together, with the safety gates.

pub mod credentials;
pub mod executor;
pub mod heartbeat;
pub mod shadow;
pub mod tracker;
pub mod user_channel;
pub mod venue;

pub use credentials::LiveCredentials;
pub use executor::{LiveExecutor, LiveSettings};
pub use venue::VenueLimits;

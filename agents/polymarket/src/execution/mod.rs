//! Live execution on Polymarket (CLOB V2) through the official SDK, behind the venue-neutral
//! `polyfleet_runtime::execution::Executor`:
//! - [`tracker`]: venue order id ↔ intent, and venue events into order updates and fills
//!   (MATCHED → CONFIRMED finality, FAILED reversals), sans-IO;
//! - [`user_channel`] and [`heartbeat`]: the tasks beside the executor;
//! - [`shadow`]: shadow mode's comparison with paper;
//! - [`onchain`]: conditional-token operations on Polygon (SDK `ctf` plus adapter bindings), and
//!   [`safe`], [`proxy_wallet`] and [`deposit_wallet`]: what a Safe, proxy or deposit-wallet
//!   account's operations go out as (through the relayer);
//! - [`executor`]: the executor tying them together, with the safety gates.
//!
//! The metrics sink and the clock are injected (`VenueMetrics`, `Clock`), so nothing here imports
//! the agent.

pub mod deposit_wallet;
pub mod executor;
pub mod heartbeat;
pub mod onchain;
pub mod proxy_wallet;
pub mod safe;
pub mod shadow;
pub mod tracker;
pub mod user_channel;

pub use executor::{LiveExecutor, LiveSettings};

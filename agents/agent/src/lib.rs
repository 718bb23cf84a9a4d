//! polyfleet's agents: thin async shells around the sans-IO core, one per role.
//!
//! - [`market_data`]: venue WebSocket -> normalized, numbered book events on NATS.
//! - [`strategy`]: market events -> a strategy state machine -> order intents.
//! - [`risk`]: intents -> one atomic risk-store decision each -> decisions.
//! - [`execution`]: approved orders -> an [`executor::Executor`] (paper, or [`live`] on the
//!   venue through the official SDK) -> order updates, fills, and positions/PnL in the risk store.
//!
//! [`config`], [`feed`], [`metrics`] and [`time`] are what they share.

pub mod config;
pub mod execution;
pub mod executor;
pub mod feed;
pub mod live;
pub mod market_data;
pub mod metrics;
pub mod risk;
pub mod strategy;
pub mod time;

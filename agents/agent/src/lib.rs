//! polyfleet's agents: thin async shells around the sans-IO core, one per role.
//!
//! - [`market_data`]: venue WebSocket -> normalized, numbered book events on NATS.
//! - [`strategy`]: market events -> a strategy state machine -> order intents.
//! - [`risk`]: intents -> one atomic risk-store decision each -> decisions.
//! - [`execution`]: approved orders -> an executor (`polyfleet_io::execution`'s paper
//!   executor, or a venue crate's live one) -> order updates, fills, and positions/PnL in the
//!   risk store.
//! - [`journal`]: the order path's streams -> the trade journal (PostgreSQL or an SQLite file),
//!   durably and idempotently.
//! - [`notify`]: a RiskPolicy's notices -> its webhook targets (generic JSON, Slack, Telegram).
//! - [`updown`]: the built-in crypto up/down model: RTDS prices -> fair-value signals for a series' rounds.
//! - [`sports`]: the built-in sports model: bookmaker odds -> fair-value signals for the markets they price.
//!
//! [`config`], [`feed`], [`metrics`] and [`time`] are what they share.

pub mod config;
pub mod execution;
pub mod feed;
pub mod journal;
pub mod journal_mids;
pub mod market_data;
pub mod metrics;
pub mod notify;
pub mod risk;
pub mod sports;
pub mod strategy;
pub mod time;
pub mod twins;
pub mod updown;

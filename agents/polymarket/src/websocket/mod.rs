//! The venue's two WebSocket channels.
//!
//! - [`market`]: the market-channel decoder (`book`, `price_change`, `last_trade_price`,
//!   `tick_size_change`, `best_bid_ask`, `new_market`, `market_resolved`), sans-IO.
//! - [`user`]: the user channel's order and trade events, sans-IO.
//! - [`frames`]: writing market-channel frames in the venue's wire format (simulator, tests).
//! - [`client`]: the market-channel WebSocket client (subscribe, ping, watchdog, reconnect).
//!
//! The user channel's client is a task of live execution ([`crate::execution::user_channel`]).

pub mod client;
pub mod frames;
pub mod market;
pub mod user;

//! The venue's WebSocket channels: market and user, and the real-time data stream's crypto prices.
//!
//! - [`market`]: the market-channel decoder (`book`, `price_change`, `last_trade_price`,
//!   `tick_size_change`, `best_bid_ask`, `new_market`, `market_resolved`), sans-IO.
//! - [`user`]: the user channel's order and trade events, sans-IO.
//! - [`rtds`]: the RTDS crypto reference prices (spot, Chainlink, Chainlink TWAPs), sans-IO.
//! - [`frames`]: writing market-channel frames in the venue's wire format (simulator, tests).
//! - [`client`]: the market-channel WebSocket client (subscribe, ping, watchdog, reconnect).
//! - [`rtds_client`]: the real-time data stream's client (subscribe, ping, reconnect).
//!
//! The user channel's client is a task of live execution ([`crate::execution::user_channel`]).

pub mod client;
pub mod frames;
pub mod market;
pub mod rtds;
pub mod rtds_client;
pub mod user;

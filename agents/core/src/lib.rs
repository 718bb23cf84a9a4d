//! polyfleet's sans-IO core: the types every agent, the backtester and the venue adapters share.
//!
//! - [`money`]: fixed-point [`Price`] (ticks of 0.0001), [`Quantity`] (micro-shares) and
//!   [`Money`] (micro-USDC), parsed exactly from the venue's strings, with checked arithmetic.
//! - [`ids`]: [`TokenId`] (uint256), [`ConditionId`] (bytes32), [`ClientOrderId`].
//! - [`wire`]: the NATS wire protocol (subjects, message types, versioned binary encoding).
//! - [`analytics`]: PnL attribution, markout curves, maker rebates and liquidity rewards.
//! - [`clock`]: a simulator Venue's accelerated clock, as every process of it computes it.
//! - [`book`], [`exec`], [`accounting`], [`risk`], [`strategy`]: order books, the paper matching
//!   engine, positions and PnL, the pre-trade risk rules, and the strategy runtime.
//!
//! Nothing here does I/O, reads a clock or depends on an async runtime: that is what lets the
//! backtester drive the same code as the live agents.

pub mod accounting;
pub mod analytics;
pub mod book;
pub mod clock;
pub mod config;
pub mod exec;
pub mod ids;
pub mod models;
pub mod money;
pub mod notify;
pub mod risk;
pub mod side;
pub mod strategy;
pub mod wire;

pub use ids::{ClientOrderId, ConditionId, TokenHasher, TokenId, TokenMap};
pub use money::{Money, ParseError, Price, Quantity, Rounding};
pub use side::{BookSide, Side};

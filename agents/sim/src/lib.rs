//! polyfleet's venue simulator: a seeded market model ([`model`]) that speaks Polymarket's market
//! channel frame for frame, the default venue of local runs and tests; [`replay`] serves a
//! recording instead, through the same [`server`]. The server also takes authenticated orders
//! like the venue ([`order_api`], checked by [`venue_auth`], matched by [`exchange`]), and
//! conditional-token transactions on a minimal Polygon JSON-RPC chain ([`chain`], balances in
//! [`wallets`]), sent directly or, for Safe, proxy and deposit-wallet accounts, by the gasless [`relayer`].

pub mod balance_api;
pub mod chain;
pub mod crypto;
pub mod declare;
pub mod exchange;
pub mod model;
pub mod order_api;
pub mod pacer;
pub mod relayer;
mod relayer_api;
pub mod replay;
pub mod rng;
pub mod server;
pub mod source;
pub mod venue_auth;
pub mod wallets;

pub use model::{SimConfig, SimFrame, SimMarket, Simulator};

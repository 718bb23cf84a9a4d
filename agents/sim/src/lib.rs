//! polyfleet's venue simulator: a seeded market model ([`model`]) that speaks Polymarket's market
//! channel frame for frame, the default venue of local runs and tests; [`replay`] serves a
//! recording instead, through the same [`server`].

pub mod declare;
pub mod model;
pub mod replay;
pub mod rng;
pub mod server;
pub mod source;

pub use model::{SimConfig, SimFrame, SimMarket, Simulator};

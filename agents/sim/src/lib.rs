//! polyfleet's venue simulator: a seeded market model ([`model`]) that speaks Polymarket's market
//! channel frame for frame, the default venue of local runs and tests.

pub mod model;
pub mod rng;
pub mod server;

pub use model::{SimConfig, SimFrame, SimMarket, Simulator};

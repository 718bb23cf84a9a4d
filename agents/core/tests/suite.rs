//! The crate's integration tests as one test binary: each module below is one suite (one file in
//! `tests/`), so the workspace links one binary here instead of one per file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod common;

mod accounting;
mod arbitrage;
mod book_props;
mod conflation;
mod directional;
mod follower;
mod lifecycle_props;
mod market_making;
mod money_props;
mod no_floats;
mod paper_engine;
mod risk_rules;
mod wire_roundtrip;

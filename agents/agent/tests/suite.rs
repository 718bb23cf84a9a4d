//! The crate's integration tests as one test binary: each module below is one suite (one file in
//! `tests/`), so the workspace links one binary here instead of one per file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod harness;

mod binary_sigterm;
mod conflation;
mod journal_agent;
mod live_e2e;
mod live_executor;
mod market_data_nats;
mod notify_webhooks;
mod order_path_e2e;
mod risk_gateway;
mod shadow_twins;
mod sports_model;
mod updown_model;

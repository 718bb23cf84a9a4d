//! The crate's integration tests as one test binary: each module below is one suite (one file in
//! `tests/`), so the workspace links one binary here instead of one per file.
//! The cluster suites (`e2e_cluster`, `e2e_operator`, `e2e_fleet`, `e2e_helm`) stay binaries of their own: each starts its own
//! control plane and operator, which must not be shared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod mockapi;
mod tools;

mod chart;
mod contract;
mod lookup;
mod market_controller;
mod market_planner;
mod packaging;
mod planner;
mod rbac;
mod risk_policy_controller;
mod stores;
mod strategy_controller;
mod venue_controller;

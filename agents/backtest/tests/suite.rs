//! The crate's integration tests as one test binary: each module below is one suite (one file in
//! `tests/`), so the workspace links one binary here instead of one per file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod common;

mod columnar;
mod engine;
mod report;

//! The wall clock, read only by the agents' async shells (the core takes time as an argument).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, Unix nanoseconds.
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Now, Unix milliseconds.
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

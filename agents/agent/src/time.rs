//! The clock of the agents' async shells (the core takes time as an argument): the wall clock,
//! or, while a local fleet replays a recording in one process, the recording's time, so the
//! agents decide exactly as the backtest of the same recording does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Replay time (Unix ns); zero: the wall clock.
static REPLAY_NS: AtomicU64 = AtomicU64::new(0);

/// Now, Unix nanoseconds.
pub fn now_ns() -> u64 {
    match REPLAY_NS.load(Ordering::Relaxed) {
        0 => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0),
        t => t,
    }
}

/// Whether a replay's clock is set (see [`set_replay_ns`]).
pub fn replaying() -> bool {
    REPLAY_NS.load(Ordering::Relaxed) != 0
}

/// Now, Unix milliseconds.
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// Makes every agent of this process read `ns` as now (a replay's clock); zero restores the
/// wall clock. Process-wide: only for a process that runs one replaying fleet.
pub fn set_replay_ns(ns: u64) {
    REPLAY_NS.store(ns, Ordering::Relaxed);
}

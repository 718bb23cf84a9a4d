//! The clock of the agents' async shells (the core takes time as an argument): the wall clock;
//! or a simulator Venue's accelerated clock ([`VenueClock`], from the [`ENV`] variable the
//! operator sets in the Venue's pods, or [`set_venue_clock`] in a local fleet), so every process
//! of that Venue reads the same venue time; or, while a local fleet replays a recording in one
//! process, the recording's time, so the agents decide exactly as the backtest of the same
//! recording does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polyfleet_core::clock::{ENV, VenueClock};

/// Replay time (Unix ns); zero: the wall clock.
static REPLAY_NS: AtomicU64 = AtomicU64::new(0);

/// The venue clock's anchor (Unix ms) and rate; rate zero: not read from the environment yet;
/// rate one: the wall clock.
static CLOCK_ANCHOR_MS: AtomicU64 = AtomicU64::new(0);
static CLOCK_RATE: AtomicU64 = AtomicU64::new(0);

fn wall_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// The venue clock in force: [`set_venue_clock`]'s, else the environment's (read once; an
/// unusable value is reported on stderr and the wall clock is used).
pub fn venue_clock() -> Option<VenueClock> {
    if CLOCK_RATE.load(Ordering::Relaxed) == 0 {
        let from_env = match std::env::var(ENV) {
            Ok(v) => VenueClock::parse(&v).map_err(|e| eprintln!("{ENV}: {e}; using the wall clock")).ok(),
            Err(_) => None,
        };
        set_venue_clock(from_env);
    }
    match CLOCK_RATE.load(Ordering::Relaxed) {
        0 | 1 => None,
        rate => VenueClock::new(CLOCK_ANCHOR_MS.load(Ordering::Relaxed), u32::try_from(rate).unwrap_or(1)).ok(),
    }
}

/// Makes every agent of this process read `clock`'s venue time (`None`: the wall clock).
pub fn set_venue_clock(clock: Option<VenueClock>) {
    let (anchor, rate) = clock.map_or((0, 1), |c| (c.anchor_ms, u64::from(c.rate)));
    CLOCK_ANCHOR_MS.store(anchor, Ordering::Relaxed);
    CLOCK_RATE.store(rate, Ordering::Relaxed);
}

/// How long `venue` (a span of venue time) lasts on the wall clock, which is what timers count.
pub fn wall_span(venue: Duration) -> Duration {
    match venue_clock() {
        Some(c) => venue / c.rate,
        None => venue,
    }
}

/// The wall clock, Unix milliseconds, whatever clock the agents read (a venue clock's anchor).
pub fn wall_ms() -> u64 {
    wall_ns() / 1_000_000
}

/// Now, Unix nanoseconds.
pub fn now_ns() -> u64 {
    match REPLAY_NS.load(Ordering::Relaxed) {
        0 => match venue_clock() {
            Some(c) => c.venue_ns(wall_ns()),
            None => wall_ns(),
        },
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

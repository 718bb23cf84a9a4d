//! A simulator Venue's clock: venue time running `rate` times faster than the wall clock from an
//! anchor instant, so that a 15-minute up/down round passes in 15/rate minutes. Every process of
//! such a Venue (the simulator, its agents, its built-in models, the operator's Market
//! controller) computes the same function of its own wall clock, so they agree on venue time
//! without talking to each other. Pure arithmetic: the caller reads the wall clock.
//!
//! It crosses from the operator to the agents as the environment variable [`ENV`] in the form
//! `<anchor Unix ms>:<rate>` ([`VenueClock::encode`], [`VenueClock::parse`]).

use thiserror::Error;

/// The environment variable that carries a venue clock to an agent process.
pub const ENV: &str = "POLYFLEET_CLOCK";

/// The fastest a simulator may run against the wall clock (the Venue's `simulator.clockRate`
/// is bounded by the same number).
pub const MAX_RATE: u32 = 100;

/// Venue time as an affine function of wall time: `anchor + (wall − anchor) · rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueClock {
    /// The instant (Unix ms) at which venue time equals wall time.
    pub anchor_ms: u64,
    /// Venue seconds per wall second (1 ..= [`MAX_RATE`]).
    pub rate: u32,
}

/// A clock that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ClockError {
    /// Not `<anchor ms>:<rate>`.
    #[error("a venue clock is `<anchor Unix ms>:<rate>`, not {0:?}")]
    Malformed(String),
    /// The rate is outside 1 ..= MAX_RATE.
    #[error("a venue clock's rate must be 1 to {MAX_RATE}, not {0}")]
    Rate(u64),
}

impl VenueClock {
    /// A clock running `rate` times the wall clock from `anchor_ms`.
    pub fn new(anchor_ms: u64, rate: u32) -> Result<VenueClock, ClockError> {
        if rate == 0 || rate > MAX_RATE {
            return Err(ClockError::Rate(u64::from(rate)));
        }
        Ok(VenueClock { anchor_ms, rate })
    }

    /// Venue time (Unix ns) at wall time `wall_ns`; before the anchor, the wall time itself.
    pub fn venue_ns(&self, wall_ns: u64) -> u64 {
        let anchor_ns = self.anchor_ms.saturating_mul(1_000_000);
        match wall_ns.checked_sub(anchor_ns) {
            Some(since) => anchor_ns.saturating_add(since.saturating_mul(u64::from(self.rate))),
            None => wall_ns,
        }
    }

    /// Venue time (Unix ms) at wall time `wall_ms`.
    pub fn venue_ms(&self, wall_ms: u64) -> u64 {
        self.venue_ns(wall_ms.saturating_mul(1_000_000)) / 1_000_000
    }

    /// How long a span of venue time (ns) lasts on the wall clock.
    pub fn wall_span_ns(&self, venue_span_ns: u64) -> u64 {
        venue_span_ns / u64::from(self.rate)
    }

    /// The form [`ENV`] carries.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.anchor_ms, self.rate)
    }

    /// Reads the form [`ENV`] carries.
    pub fn parse(s: &str) -> Result<VenueClock, ClockError> {
        let malformed = || ClockError::Malformed(s.to_string());
        let (anchor, rate) = s.trim().split_once(':').ok_or_else(malformed)?;
        let anchor_ms = anchor.parse::<u64>().map_err(|_| malformed())?;
        let rate = rate.parse::<u64>().map_err(|_| malformed())?;
        VenueClock::new(anchor_ms, u32::try_from(rate).map_err(|_| ClockError::Rate(rate))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_time_runs_rate_times_the_wall_from_the_anchor() {
        let c = VenueClock::new(1_000, 20).unwrap();
        assert_eq!(c.venue_ms(1_000), 1_000);
        assert_eq!(c.venue_ms(1_500), 11_000);
        assert_eq!(c.venue_ms(500), 500, "before the anchor: the wall clock");
        assert_eq!(c.venue_ns(2_000_000_001), 1_000_000_000 + 20 * 1_000_000_001);
        assert_eq!(c.wall_span_ns(300_000_000_000), 15_000_000_000, "a 5-minute round in 15 s");
    }

    #[test]
    fn the_environment_form_round_trips_and_refuses_what_it_cannot_use() {
        let c = VenueClock::new(1_767_225_600_000, 30).unwrap();
        assert_eq!(VenueClock::parse(&c.encode()), Ok(c));
        assert_eq!(VenueClock::parse("1:0"), Err(ClockError::Rate(0)));
        assert_eq!(VenueClock::parse("1:101"), Err(ClockError::Rate(101)));
        assert_eq!(VenueClock::parse("1:99999999999"), Err(ClockError::Rate(99_999_999_999)));
        assert!(matches!(VenueClock::parse("soon"), Err(ClockError::Malformed(_))));
        assert!(matches!(VenueClock::parse("-1:2"), Err(ClockError::Malformed(_))));
    }
}

//! How many model steps are due at a rate of steps per wall second, from the time that passed:
//! a late timer tick makes up the steps it missed (up to a bound), so the model's time keeps pace
//! with the wall clock (and with a Venue's accelerated clock, which the agents read) under load.
//! The caller reads the clock.

use std::time::{Duration, Instant};

/// The most model time one late tick makes up (beyond it the model falls behind the wall).
pub const MAX_CATCH_UP: Duration = Duration::from_secs(2);

/// Steps due at a fixed rate.
#[derive(Debug, Clone)]
pub struct Pacer {
    per_second: u128,
    max_steps: u64,
    last: Instant,
    /// Steps owed, in billionths of a step.
    owed_nano: u128,
}

impl Pacer {
    /// `per_second` steps a wall second, counted from `now`.
    pub fn new(per_second: u32, now: Instant) -> Pacer {
        let max_steps = (u64::from(per_second) * MAX_CATCH_UP.as_secs()).max(1);
        Pacer { per_second: u128::from(per_second), max_steps, last: now, owed_nano: 0 }
    }

    /// The steps due at `now`.
    pub fn due(&mut self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.last = now;
        self.owed_nano += elapsed * self.per_second;
        let steps = u64::try_from(self.owed_nano / 1_000_000_000).unwrap_or(u64::MAX);
        self.owed_nano %= 1_000_000_000;
        steps.min(self.max_steps)
    }

    /// Time passed up to `now` owes nothing (a paused model stops its time).
    pub fn skip(&mut self, now: Instant) {
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_ticks_make_up_the_steps_they_missed_up_to_the_bound() {
        let t0 = Instant::now();
        let mut p = Pacer::new(500, t0);
        assert_eq!(p.due(t0 + Duration::from_millis(10)), 5);
        // 3 ms owe 1.5 steps: one now, the half carried.
        assert_eq!(p.due(t0 + Duration::from_millis(13)), 1);
        assert_eq!(p.due(t0 + Duration::from_millis(14)), 1);
        // A tick 100 ms late makes up 50 steps.
        assert_eq!(p.due(t0 + Duration::from_millis(114)), 50);
        // Beyond two seconds' worth the model falls behind.
        assert_eq!(p.due(t0 + Duration::from_secs(10)), 1000);
        p.skip(t0 + Duration::from_secs(20));
        assert_eq!(p.due(t0 + Duration::from_secs(20) + Duration::from_millis(2)), 1);
    }
}

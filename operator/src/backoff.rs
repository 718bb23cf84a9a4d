//! Requeue with exponential backoff after failed reconciles: 5 s after the first failure of an
//! object, doubling up to 5 minutes, back to the normal schedule after its next success. One
//! table for every controller, keyed by kind, namespace and name.
//!
//! Only a failed *retry* doubles the wait: reconciles that a watch event brings before the
//! scheduled retry, and fail for the same cause (a burst while a dependency starts), keep the wait
//! where it is. Counting every one of them once sent an object to the 5-minute cap within 1.5 s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Delay after the first failure.
pub const FIRST: Duration = Duration::from_secs(5);
/// Longest delay.
pub const MAX: Duration = Duration::from_secs(300);

/// The delay after `failures` consecutive failures (1 for the first).
pub fn delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST.saturating_mul(1 << doublings).min(MAX)
}

/// Consecutive failures per object, and when its retry is due.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Backoff {
    /// Records a failure of `key`; returns how long to wait before the retry.
    pub fn failed(&self, key: &str) -> Duration {
        self.failed_at(key, Instant::now())
    }

    /// [`Backoff::failed`] at `now`: a failure before the retry is due waits for that retry.
    pub fn failed_at(&self, key: &str, now: Instant) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (n, due) = f.entry(key.to_string()).or_insert((0, now));
        if now >= *due {
            *n = n.saturating_add(1);
            *due = now + delay(*n);
        }
        due.saturating_duration_since(now)
    }

    /// Forgets the failures of `key` (it reconciled).
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets_on_success() {
        let b = Backoff::default();
        let mut now = Instant::now();
        let waits: Vec<u64> = (0..8)
            .map(|_| {
                let wait = b.failed_at("Strategy/t/a", now);
                now += wait;
                wait.as_secs()
            })
            .collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.failed_at("Strategy/t/b", now), FIRST, "per object");
        b.succeeded("Strategy/t/a");
        assert_eq!(b.failed_at("Strategy/t/a", now), FIRST);
        assert_eq!(delay(u32::MAX), MAX);
    }

    #[test]
    fn failures_before_the_retry_is_due_keep_the_wait() {
        let b = Backoff::default();
        let start = Instant::now();
        // A burst of event-driven reconciles failing within 1.5 s: the first failure's wait.
        for k in 0..10u64 {
            let at = Duration::from_millis(150 * k);
            assert_eq!(b.failed_at("Strategy/t/a", start + at), FIRST - at);
        }
        // The retry itself fails: now it doubles, and so on.
        assert_eq!(b.failed_at("Strategy/t/a", start + FIRST), Duration::from_secs(10));
        assert_eq!(b.failed_at("Strategy/t/a", start + FIRST + Duration::from_secs(1)), Duration::from_secs(9));
        assert_eq!(b.failed_at("Strategy/t/a", start + FIRST * 3), Duration::from_secs(20));
    }
}

//! Requeue with exponential backoff after failed reconciles: 5 s after the first failure of an
//! object, doubling up to 5 minutes, back to the normal schedule after its next success. One
//! table for every controller, keyed by kind, namespace and name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Delay after the first failure.
pub const FIRST: Duration = Duration::from_secs(5);
/// Longest delay.
pub const MAX: Duration = Duration::from_secs(300);

/// The delay after `failures` consecutive failures (1 for the first).
pub fn delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST.saturating_mul(1 << doublings).min(MAX)
}

/// Consecutive failures per object.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `key`; returns how long to wait before the retry.
    pub fn failed(&self, key: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        delay(*n)
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
        let waits: Vec<u64> = (0..8).map(|_| b.failed("Strategy/t/a").as_secs()).collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.failed("Strategy/t/b"), FIRST, "per object");
        b.succeeded("Strategy/t/a");
        assert_eq!(b.failed("Strategy/t/a"), FIRST);
        assert_eq!(delay(u32::MAX), MAX);
    }
}

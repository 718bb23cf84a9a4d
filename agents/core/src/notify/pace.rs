//! Pacing of one target, as clock-free state machines: a token bucket that holds a target to its
//! rate (a notice that would exceed it waits, none is dropped) and the step after an attempt
//! (sent, retry after a backoff, or give up).

/// A token bucket: `per_minute` sends a minute, bursts of up to `per_minute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacer {
    per_minute: u64,
    /// Tokens in 1/60000ths: one send costs 60000, a millisecond refills `per_minute`.
    level: u64,
    last_ms: u64,
}

const UNIT: u64 = 60_000;

impl Pacer {
    /// A full bucket at `now_ms`.
    pub fn new(per_minute: u32, now_ms: u64) -> Pacer {
        let per_minute = u64::from(per_minute.max(1));
        Pacer { per_minute, level: per_minute * UNIT, last_ms: now_ms }
    }

    /// Takes a send at `now_ms`, or says how many milliseconds to wait for one.
    pub fn take(&mut self, now_ms: u64) -> Result<(), u64> {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        self.level = (self.level + elapsed.saturating_mul(self.per_minute)).min(self.per_minute * UNIT);
        if self.level >= UNIT {
            self.level -= UNIT;
            return Ok(());
        }
        Err((UNIT - self.level).div_ceil(self.per_minute))
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered (2xx).
    Sent,
    /// Try again after this many milliseconds.
    Retry(u64),
    /// Refused for good (a 4xx other than 408 and 429: a wrong URL, token or chat).
    Refused,
    /// The attempts are used up.
    GiveUp,
}

/// The longest wait between attempts, and the longest `Retry-After` honoured.
pub const MAX_BACKOFF_MS: u64 = 60_000;

/// The step after attempt number `attempt` (1-based) got `status` (`None`: no response at all),
/// with the server's `Retry-After` in milliseconds if it sent one: 2xx is sent; 408, 429, 5xx and
/// no response are retried with exponential backoff (1 s, 2 s, 4 s, ... up to
/// [`MAX_BACKOFF_MS`], or the server's `Retry-After` if longer, capped the same way) until
/// `max_attempts`; anything else is refused.
pub fn next_step(status: Option<u16>, retry_after_ms: Option<u64>, attempt: u32, max_attempts: u32) -> Next {
    match status {
        Some(s) if (200..300).contains(&s) => return Next::Sent,
        Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => return Next::Refused,
        _ => {}
    }
    if attempt >= max_attempts {
        return Next::GiveUp;
    }
    let backoff = 1000u64.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(MAX_BACKOFF_MS);
    Next::Retry(backoff.max(retry_after_ms.unwrap_or(0).min(MAX_BACKOFF_MS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let mut p = Pacer::new(6, 0);
        for _ in 0..6 {
            assert_eq!(p.take(0), Ok(()));
        }
        // One send per 10 s afterwards.
        assert_eq!(p.take(0), Err(10_000));
        assert_eq!(p.take(4_000), Err(6_000));
        assert_eq!(p.take(10_000), Ok(()));
        assert_eq!(p.take(10_000), Err(10_000));
        // A long quiet refills to the burst, not beyond.
        for _ in 0..6 {
            assert_eq!(p.take(1_000_000), Ok(()));
        }
        assert!(p.take(1_000_000).is_err());
    }

    #[test]
    fn steps_follow_the_status() {
        assert_eq!(next_step(Some(204), None, 1, 3), Next::Sent);
        assert_eq!(next_step(Some(404), None, 1, 3), Next::Refused);
        assert_eq!(next_step(Some(500), None, 1, 3), Next::Retry(1000));
        assert_eq!(next_step(None, None, 2, 3), Next::Retry(2000));
        assert_eq!(next_step(Some(429), Some(30_000), 1, 3), Next::Retry(30_000));
        assert_eq!(next_step(Some(429), Some(999_000), 1, 3), Next::Retry(MAX_BACKOFF_MS));
        assert_eq!(next_step(Some(503), None, 3, 3), Next::GiveUp);
        assert_eq!(next_step(Some(503), None, 12, 20), Next::Retry(MAX_BACKOFF_MS));
    }
}

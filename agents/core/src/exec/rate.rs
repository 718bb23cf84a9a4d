//! A token bucket, sans-IO: the client-side per-signer rate limit the venue enforces (orders and
//! cancels draw on separate buckets; one token per order in a batch). Time is passed in.

/// A token bucket refilling `rate` tokens a second up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    rate: u32,
    burst: u32,
    /// Tokens held, in millionths (refill is continuous).
    micro_tokens: u64,
    last_ns: u64,
}

impl TokenBucket {
    /// A full bucket at `now_ns`; a rate of 0 is taken as 1.
    pub fn new(rate: u32, burst: u32, now_ns: u64) -> TokenBucket {
        let burst = burst.max(1);
        TokenBucket { rate: rate.max(1), burst, micro_tokens: u64::from(burst) * 1_000_000, last_ns: now_ns }
    }

    fn refill(&mut self, now_ns: u64) {
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        // rate tokens per second = rate micro-tokens per microsecond.
        let add = u128::from(elapsed / 1_000) * u128::from(self.rate);
        let cap = u64::from(self.burst) * 1_000_000;
        self.micro_tokens = u64::try_from((u128::from(self.micro_tokens) + add).min(u128::from(cap))).unwrap_or(cap);
    }

    /// Takes `n` tokens if they are there (`Ok`), else says how long until they will be (ns).
    /// A request above the burst can never pass: it is told to wait for a full bucket and
    /// should be split.
    pub fn take(&mut self, n: u32, now_ns: u64) -> Result<(), u64> {
        self.refill(now_ns);
        let want = u64::from(n.min(self.burst)) * 1_000_000;
        if self.micro_tokens >= want && n <= self.burst {
            self.micro_tokens -= want;
            return Ok(());
        }
        let missing = want.saturating_sub(self.micro_tokens).max(1);
        Err(missing.div_ceil(u64::from(self.rate)) * 1_000)
    }

    /// Whole tokens available at `now_ns`.
    pub fn available(&mut self, now_ns: u64) -> u32 {
        self.refill(now_ns);
        u32::try_from(self.micro_tokens / 1_000_000).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let mut b = TokenBucket::new(40, 60, 0);
        for _ in 0..60 {
            assert_eq!(b.take(1, 0), Ok(()));
        }
        // Empty: one token takes 1/40 s.
        assert_eq!(b.take(1, 0), Err(S / 40));
        assert_eq!(b.take(1, S / 40), Ok(()));
        // A second later, 40 more, never above the burst.
        assert_eq!(b.available(S / 40 + S), 40);
        assert_eq!(b.available(100 * S), 60);
    }

    #[test]
    fn a_batch_takes_one_token_per_order_and_waits_whole() {
        let mut b = TokenBucket::new(10, 15, 0);
        assert_eq!(b.take(15, 0), Ok(()));
        // 5 tokens at 10/s: half a second.
        assert_eq!(b.take(5, 0), Err(S / 2));
        assert_eq!(b.take(5, S / 2), Ok(()));
        // Above the burst: never passes.
        assert!(b.take(16, 100 * S).is_err());
    }
}

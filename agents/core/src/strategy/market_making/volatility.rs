//! Volatility of the logit mid, per √second: an exponentially weighted ratio of squared logit
//! increments to the time they took, over increments seen while the spread was at most two
//! ticks (a wide book's mid is noise). Jumps are set apart: an increment beyond four standard
//! deviations of its interval, measured by the bipower variation (products of neighbouring
//! absolute increments, which one jump barely moves), is counted as a jump and left out of σ;
//! the test starts after thirty increments. A prior (worth ten seconds of data) stands in while
//! there is little data, so quoting never waits for it.

/// σ_logit before any data, per √s (a one-cent RMS move per minute at p = 0.5).
pub const SIGMA_PRIOR: f64 = 0.005;
/// The prior's weight, in seconds of data.
const PRIOR_S: f64 = 10.0;
/// Increments seen before any is called a jump.
const JUMP_AFTER: u64 = 30;
/// An increment this many standard deviations out is a jump.
const JUMP_SD: f64 = 4.0;

/// logit(p), with p kept inside (0, 1).
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// The estimator.
#[derive(Debug, Clone)]
pub struct LogitVol {
    decay_per_s: f64,
    sum_sq: f64,
    bipower: f64,
    sum_dt: f64,
    last: Option<(u64, f64)>,
    /// The last tight increment's |dx|/√dt.
    prev_z: Option<f64>,
    increments: u64,
    jumps: u64,
}

impl LogitVol {
    /// With weights halving every `half_life_s` seconds.
    pub fn new(half_life_s: u64) -> LogitVol {
        LogitVol {
            decay_per_s: std::f64::consts::LN_2 / (half_life_s.max(1) as f64),
            sum_sq: 0.0,
            bipower: 0.0,
            sum_dt: 0.0,
            last: None,
            prev_z: None,
            increments: 0,
            jumps: 0,
        }
    }

    /// A new half-life (the data kept).
    pub fn set_half_life(&mut self, half_life_s: u64) {
        self.decay_per_s = std::f64::consts::LN_2 / (half_life_s.max(1) as f64);
    }

    /// The mid `p` at `now_ns`; `tight`: the spread is at most two ticks.
    pub fn observe(&mut self, now_ns: u64, p: f64, tight: bool) {
        let x = logit(p);
        if let Some((t, x0)) = self.last
            && now_ns > t
        {
            let dt = (now_ns - t) as f64 / 1e9;
            let f = (-self.decay_per_s * dt).exp();
            self.sum_sq *= f;
            self.bipower *= f;
            self.sum_dt *= f;
            if tight {
                let dx2 = (x - x0) * (x - x0);
                let z = dx2.sqrt() / dt.sqrt();
                if self.increments >= JUMP_AFTER && dx2 > JUMP_SD * JUMP_SD * self.robust_variance() * dt {
                    self.jumps += 1;
                } else {
                    self.sum_sq += dx2;
                }
                if let Some(pz) = self.prev_z {
                    self.bipower += std::f64::consts::FRAC_PI_2 * z * pz * dt;
                }
                self.prev_z = Some(z);
                self.increments += 1;
                self.sum_dt += dt;
            } else {
                self.prev_z = None;
            }
        }
        if self.last.is_none_or(|(t, _)| now_ns >= t) {
            self.last = Some((now_ns, x));
        }
    }

    /// Variance rate of logit(mid) per second.
    pub fn variance(&self) -> f64 {
        (self.sum_sq + SIGMA_PRIOR * SIGMA_PRIOR * PRIOR_S) / (self.sum_dt + PRIOR_S)
    }

    /// The variance rate by bipower variation (jumps barely move it), for the jump test.
    fn robust_variance(&self) -> f64 {
        (self.bipower + SIGMA_PRIOR * SIGMA_PRIOR * PRIOR_S) / (self.sum_dt + PRIOR_S)
    }

    /// σ_logit per √s.
    pub fn sigma(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Jumps seen.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded normal (Box–Muller over a xorshift).
    pub(crate) struct Normal(u64);
    impl Normal {
        pub(crate) fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        pub(crate) fn sample(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    #[test]
    fn recovers_a_known_sigma_within_ten_percent_and_sets_jumps_apart() {
        for (sigma, seed) in [(0.02, 7u64), (0.002, 11), (0.01, 13)] {
            let mut rng = Normal(seed);
            let mut v = LogitVol::new(3_600);
            let mut x = 0.3f64;
            let mut jumps = 0;
            for i in 0..20_000u64 {
                // One observation a second; now and then a jump of 0.5 in logit.
                let mut dx = sigma * rng.sample();
                if i % 997 == 500 {
                    dx += if jumps % 2 == 0 { 0.5 } else { -0.5 };
                    jumps += 1;
                }
                x += dx;
                let p = 1.0 / (1.0 + (-x).exp());
                v.observe(i * 1_000_000_000, p, true);
            }
            let err = (v.sigma() - sigma).abs() / sigma;
            assert!(err < 0.10, "sigma {sigma}: estimated {} ({:.1} %)", v.sigma(), err * 100.0);
            // Every jump set apart; a Gaussian step beyond 4 sd (p = 6e-5 each) rarely joins them.
            assert!((jumps..=jumps + 5).contains(&v.jumps()), "{} jumps for {jumps}", v.jumps());
        }
    }

    #[test]
    fn wide_books_and_no_data_leave_the_prior() {
        let mut v = LogitVol::new(300);
        assert!((v.sigma() - SIGMA_PRIOR).abs() < 1e-12);
        for i in 0..100u64 {
            v.observe(i * 1_000_000_000, if i % 2 == 0 { 0.2 } else { 0.8 }, false);
        }
        assert!((v.sigma() - SIGMA_PRIOR).abs() < 1e-12, "wide-book increments are ignored");
    }
}

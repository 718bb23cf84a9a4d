//! An always-valid sequential comparison of two arms (issue 24's A/B tests): the mixture
//! sequential probability ratio test (mSPRT) of Johari, Pekelis and Walsh ("Always valid
//! inference", 2017) on paired observations. Each slot (a market, a time slot) yields one
//! observation of each arm on the declared metric; their difference `d` is what is tested, for a
//! mean of zero against a normal mixture `N(0, tau²)` of alternatives:
//!
//! `Λn = sqrt(σ² / (σ² + n·tau²)) · exp(n²·tau²·d̄n² / (2·σ²·(σ² + n·tau²)))`
//!
//! with `σ²` the variance of a difference: declared, or the sample variance of the differences
//! seen (used once `burn_in` pairs are in). The stopping rule is fixed in advance: stop at the
//! first `n` with `Λn ≥ 1/α` and name the arm whose mean is higher as the better one; or, after
//! `max_pairs` pairs, stop without a decision. Under the null the probability of ever stopping is
//! at most `α` however long the test runs and however often it is looked at (the
//! always-valid p-value is `min over k ≤ n of 1/Λk`). Statistics, not accounting: the
//! metric arrives as integers (micro-USDC) and the test's arithmetic is floating point.

use serde::{Deserialize, Serialize};

/// The test's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MsprtConfig {
    /// The false-stop probability bound, in (0, 1).
    pub alpha: f64,
    /// Variance of the mixture over alternatives (the effect sizes it is tuned to find), in the
    /// metric's units squared.
    pub tau2: f64,
    /// The variance of a difference, when known; `None` estimates it from the differences.
    pub sigma2: Option<f64>,
    /// Pairs seen before the test may stop (and before an estimated variance is used).
    pub burn_in: u64,
    /// Pairs after which the test ends without a decision.
    pub max_pairs: u64,
}

impl MsprtConfig {
    /// The rule as a Strategy declares it in integers: α in basis points, the effect it is tuned
    /// to in micro-USDC per slot (τ² its square), the variance estimated from the pairs.
    pub fn declared(alpha_bps: u32, effect_micros: u64, burn_in: u64, max_pairs: u64) -> MsprtConfig {
        let effect = effect_micros as f64;
        MsprtConfig { alpha: f64::from(alpha_bps) / 10_000.0, tau2: effect * effect, sigma2: None, burn_in, max_pairs }
    }
}

/// Which arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arm {
    /// The first arm (A, often the control).
    A,
    /// The second arm (B).
    B,
}

/// Where the test stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// No decision yet.
    Running,
    /// Stopped: this arm's metric is higher (the difference is not zero at level α).
    Better {
        /// The better arm.
        arm: Arm,
        /// Pairs seen at the stop.
        pairs: u64,
    },
    /// `max_pairs` reached without a decision.
    Inconclusive {
        /// Pairs seen.
        pairs: u64,
    },
}

/// The test's state: feed it pairs with [`Msprt::observe`]. It serializes whole (settings and
/// running figures, every float finite), so a test kept between processes (the operator's live
/// comparison, in the data plane's KV bucket) resumes exactly where it stood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msprt {
    cfg: MsprtConfig,
    n: u64,
    mean: f64,
    m2: f64,
    ratio: f64,
    p_value: f64,
    outcome: Outcome,
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MsprtError {
    /// α outside (0, 1).
    #[error("alpha {0} is not in (0, 1)")]
    Alpha(f64),
    /// A variance that is not positive and finite.
    #[error("{0} must be positive and finite")]
    Variance(&'static str),
    /// No room to decide.
    #[error("max_pairs ({max}) must exceed burn_in ({burn_in})")]
    Pairs {
        /// Burn-in.
        burn_in: u64,
        /// Maximum.
        max: u64,
    },
}

impl Msprt {
    /// A test with `cfg`, or why it cannot run.
    pub fn new(cfg: MsprtConfig) -> Result<Msprt, MsprtError> {
        if !(cfg.alpha > 0.0 && cfg.alpha < 1.0) {
            return Err(MsprtError::Alpha(cfg.alpha));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(cfg.tau2) {
            return Err(MsprtError::Variance("tau2"));
        }
        if cfg.sigma2.is_some_and(|s| !positive(s)) {
            return Err(MsprtError::Variance("sigma2"));
        }
        if cfg.max_pairs <= cfg.burn_in {
            return Err(MsprtError::Pairs { burn_in: cfg.burn_in, max: cfg.max_pairs });
        }
        Ok(Msprt { cfg, n: 0, mean: 0.0, m2: 0.0, ratio: 1.0, p_value: 1.0, outcome: Outcome::Running })
    }

    /// The mixture likelihood ratio after `n` differences of mean `mean` and variance `sigma2`.
    pub fn lambda(n: u64, mean: f64, sigma2: f64, tau2: f64) -> f64 {
        let n = n as f64;
        let v = sigma2 + n * tau2;
        (sigma2 / v).sqrt() * (n * n * tau2 * mean * mean / (2.0 * sigma2 * v)).exp()
    }

    /// One slot's observation of each arm; the outcome once it is decided (then unchanged).
    pub fn observe(&mut self, a: i64, b: i64) -> Outcome {
        if self.outcome != Outcome::Running {
            return self.outcome;
        }
        // Welford's running mean and variance of the differences.
        let d = a as f64 - b as f64;
        self.n += 1;
        let delta = d - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (d - self.mean);
        if self.n < self.cfg.burn_in.max(2) {
            return self.outcome;
        }
        let sigma2 = self.cfg.sigma2.unwrap_or(self.m2 / (self.n - 1) as f64);
        if sigma2 > 0.0 {
            // Finite even when the exponential overflows (a decisive stop), so the state serializes.
            let l = Msprt::lambda(self.n, self.mean, sigma2, self.cfg.tau2).min(f64::MAX);
            self.ratio = l;
            self.p_value = self.p_value.min(1.0 / l);
            if l >= 1.0 / self.cfg.alpha {
                let arm = if self.mean > 0.0 { Arm::A } else { Arm::B };
                self.outcome = Outcome::Better { arm, pairs: self.n };
                return self.outcome;
            }
        }
        if self.n >= self.cfg.max_pairs {
            self.outcome = Outcome::Inconclusive { pairs: self.n };
        }
        self.outcome
    }

    /// The always-valid p-value so far (1 before any evidence).
    pub fn p_value(&self) -> f64 {
        self.p_value
    }

    /// The mixture likelihood ratio at the last pair (1 before the burn-in ends).
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Pairs seen.
    pub fn pairs(&self) -> u64 {
        self.n
    }

    /// Mean difference (A − B) so far.
    pub fn mean_difference(&self) -> f64 {
        self.mean
    }

    /// Where the test stands.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Its settings.
    pub fn config(&self) -> &MsprtConfig {
        &self.cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_testkit::normal::Normal;

    fn cfg(sigma2: Option<f64>) -> MsprtConfig {
        // Metric in micro-USDC per slot: sd 1 USDC per arm; tuned to effects of about 0.3 USDC.
        MsprtConfig { alpha: 0.05, tau2: 0.09e12, sigma2, burn_in: 20, max_pairs: 2_000 }
    }

    /// Runs one test: arm B's mean is `shift` below A's (micro-USDC), sd 1 USDC each.
    fn run(seed: u64, shift: f64, sigma2: Option<f64>) -> Outcome {
        let mut rng = Normal::new(seed);
        let mut t = Msprt::new(cfg(sigma2)).unwrap();
        loop {
            let (a, b) = (rng.sample(0.0, 1e6), rng.sample(-shift, 1e6));
            match t.observe(a, b) {
                Outcome::Running => {}
                done => return done,
            }
        }
    }

    #[test]
    fn the_ratio_is_the_closed_form_and_grows_with_evidence() {
        // σ² = 4, τ² = 1, n = 10, d̄ = 0.5: sqrt(4/14) · exp(100 · 0.25 / (2 · 4 · 14)).
        let l = Msprt::lambda(10, 0.5, 4.0, 1.0);
        let by_hand = (4.0f64 / 14.0).sqrt() * (25.0f64 / 112.0).exp();
        assert!((l - by_hand).abs() < 1e-15, "{l} {by_hand}");
        // No evidence: below one, and shrinking as n grows with a zero mean.
        assert!(Msprt::lambda(10, 0.0, 4.0, 1.0) < 1.0);
        assert!(Msprt::lambda(100, 0.0, 4.0, 1.0) < Msprt::lambda(10, 0.0, 4.0, 1.0));
        assert!(Msprt::lambda(100, 0.5, 4.0, 1.0) > l);
    }

    #[test]
    fn the_ratio_with_an_estimated_variance_matches_numpy() {
        // numpy 2.4.6: d.mean(), d.var(ddof=1), then the closed form (script in the closing note).
        let cases: [(&[i64], f64, f64); 2] = [
            (&[3, -1, 4, 1, -5, 9, 2, -6, 5, 3], 1.0, 0.981451314213723),
            (
                &[
                    1_200_000, -300_000, 800_000, 450_000, -100_000, 900_000, 300_000, -250_000, 700_000, 600_000,
                    150_000, 500_000,
                ],
                0.09e12,
                19.250824634320644,
            ),
        ];
        for (d, tau2, numpy) in cases {
            let cfg = MsprtConfig { alpha: 0.01, tau2, sigma2: None, burn_in: 2, max_pairs: 1_000 };
            let mut t = Msprt::new(cfg).unwrap();
            for x in d {
                assert_eq!(t.observe(*x, 0), Outcome::Running);
            }
            assert!((t.ratio() - numpy).abs() <= 1e-9 * numpy, "{} against numpy's {numpy}", t.ratio());
        }
    }

    #[test]
    fn an_a_a_test_rarely_stops_and_never_more_often_than_alpha() {
        for sigma2 in [Some(2e12), None] {
            let runs = 400u32;
            let stops = (0..runs).filter(|s| matches!(run(u64::from(*s), 0.0, sigma2), Outcome::Better { .. })).count();
            let rate = stops as f64 / f64::from(runs);
            eprintln!("A/A (σ² {sigma2:?}): stopped in {stops} of {runs} runs");
            assert!(rate <= 0.05, "false-stop rate {rate} over {runs} A/A runs (σ² {sigma2:?})");
        }
    }

    #[test]
    fn a_worse_arm_is_found_and_rarely_taken_for_the_better() {
        for sigma2 in [Some(2e12), None] {
            let (mut found, mut wrong, mut pairs) = (0u32, 0u32, 0u64);
            let runs = 400u32;
            for seed in 0..runs {
                match run(u64::from(seed), 0.3e6, sigma2) {
                    Outcome::Better { arm: Arm::A, pairs: n } => {
                        found += 1;
                        pairs += n;
                    }
                    Outcome::Better { arm: Arm::B, .. } => wrong += 1,
                    _ => {}
                }
            }
            eprintln!(
                "A/B, B 0.3 sd worse (σ² {sigma2:?}): A found in {found} of {runs} runs after {} pairs on average, B taken in {wrong}",
                pairs / u64::from(found.max(1))
            );
            assert!(found >= runs * 95 / 100, "the better arm found in {found} of {runs} runs");
            // Stopping on the wrong arm is an error of the test's α (half of it on this side).
            assert!(f64::from(wrong) / f64::from(runs) <= 0.025, "B taken for the better in {wrong} of {runs} runs");
        }
    }

    #[test]
    fn a_decision_stands_and_bad_settings_are_refused() {
        let mut t = Msprt::new(cfg(Some(2e12))).unwrap();
        let mut out = Outcome::Running;
        for _ in 0..2_000 {
            out = t.observe(1_000_000, 0);
            if out != Outcome::Running {
                break;
            }
        }
        assert!(matches!(out, Outcome::Better { arm: Arm::A, .. }), "{out:?}");
        assert_eq!(t.observe(0, 9_000_000), out, "a stopped test stays stopped");
        assert!(t.p_value() <= 0.05);
        let bad = |f: fn(&mut MsprtConfig)| {
            let mut c = cfg(None);
            f(&mut c);
            Msprt::new(c).unwrap_err()
        };
        assert_eq!(bad(|c| c.alpha = 1.0), MsprtError::Alpha(1.0));
        assert_eq!(bad(|c| c.tau2 = 0.0), MsprtError::Variance("tau2"));
        assert_eq!(bad(|c| c.sigma2 = Some(f64::NAN)), MsprtError::Variance("sigma2"));
        assert_eq!(bad(|c| c.max_pairs = 20), MsprtError::Pairs { burn_in: 20, max: 20 });
    }
}

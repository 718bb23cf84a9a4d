//! Arrival intensity of taker orders against one side of the book, λ(δ) = A·e^(−κδ): takers
//! arrive at rate A and reach a distance δ from the mid with probability e^(−κδ). Estimated from
//! counted taker events (never volume) and the distance of each from the mid before it: with
//! exponentially decaying weights, the maximum-likelihood estimates are A = events / time and
//! κ = events / Σδ; both are shrunk towards a prior worth a few events, so they exist from the
//! first moment (quoting never waits), stay positive and bounded, and follow the data as it
//! comes.

use super::quote::Arrivals;

/// A before any data: taker events per second on a side.
pub const A_PRIOR: f64 = 0.05;
/// κ before any data, per unit of price (e-fold per cent).
pub const KAPPA_PRIOR: f64 = 100.0;
/// The prior's weight, in events.
const PRIOR_EVENTS: f64 = 10.0;
/// Bounds of κ.
const KAPPA_BOUNDS: (f64, f64) = (1.0, 20_000.0);

/// One side's estimator.
#[derive(Debug, Clone)]
pub struct ArrivalEstimator {
    decay_per_s: f64,
    events: f64,
    distance: f64,
    time: f64,
    last_ns: Option<u64>,
    counted: u64,
}

impl ArrivalEstimator {
    /// With weights halving every `half_life_s` seconds.
    pub fn new(half_life_s: u64) -> ArrivalEstimator {
        ArrivalEstimator {
            decay_per_s: std::f64::consts::LN_2 / (half_life_s.max(1) as f64),
            events: 0.0,
            distance: 0.0,
            time: 0.0,
            last_ns: None,
            counted: 0,
        }
    }

    /// A new half-life (the data kept).
    pub fn set_half_life(&mut self, half_life_s: u64) {
        self.decay_per_s = std::f64::consts::LN_2 / (half_life_s.max(1) as f64);
    }

    /// Time passes to `now_ns` (the exposure the rate is measured over).
    pub fn advance(&mut self, now_ns: u64) {
        if let Some(t) = self.last_ns
            && now_ns > t
        {
            let dt = (now_ns - t) as f64 / 1e9;
            let f = (-self.decay_per_s * dt).exp();
            self.events *= f;
            self.distance *= f;
            self.time = self.time * f + (1.0 - f) / self.decay_per_s;
        }
        if self.last_ns.is_none_or(|t| now_ns > t) {
            self.last_ns = Some(now_ns);
        }
    }

    /// A taker event at `now_ns`, `delta` from the mid before it (price units).
    pub fn event(&mut self, now_ns: u64, delta: f64) {
        self.advance(now_ns);
        if delta.is_finite() && delta >= 0.0 {
            self.events += 1.0;
            self.distance += delta;
            self.counted += 1;
        }
    }

    /// Events counted.
    pub fn counted(&self) -> u64 {
        self.counted
    }

    /// The current estimate; `kappa`: a fixed κ instead of the estimated one.
    pub fn estimate(&self, kappa: Option<f64>) -> Arrivals {
        let a = (self.events + PRIOR_EVENTS) / (self.time + PRIOR_EVENTS / A_PRIOR);
        let k = kappa.unwrap_or_else(|| {
            ((self.events + PRIOR_EVENTS) / (self.distance + PRIOR_EVENTS / KAPPA_PRIOR))
                .clamp(KAPPA_BOUNDS.0, KAPPA_BOUNDS.1)
        });
        Arrivals { a, kappa: k }
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "simulated times in ns")]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
    }

    #[test]
    fn recovers_known_a_and_kappa_within_fifteen_percent() {
        for (a, kappa, seed) in [(0.5, 200.0, 3u64), (2.0, 50.0, 5), (0.1, 800.0, 9)] {
            let mut rng = Rng(seed);
            let mut est = ArrivalEstimator::new(86_400);
            let mut t = 0.0f64;
            est.advance(0);
            // Poisson arrivals at rate a, each reaching an exponential distance of rate kappa.
            while t < 20_000.0 / a {
                t += -rng.uniform().ln() / a;
                let delta = -rng.uniform().ln() / kappa;
                est.event((t * 1e9) as u64, delta);
            }
            let got = est.estimate(None);
            assert!((got.a - a).abs() / a < 0.15, "A {a}: {}", got.a);
            assert!((got.kappa - kappa).abs() / kappa < 0.15, "kappa {kappa}: {}", got.kappa);
        }
    }

    #[test]
    fn no_data_gives_the_prior_and_kappa_stays_positive_and_bounded() {
        let est = ArrivalEstimator::new(300);
        let p = est.estimate(None);
        assert!((p.a - A_PRIOR).abs() < 1e-12 && (p.kappa - KAPPA_PRIOR).abs() < 1e-9);
        let mut est = ArrivalEstimator::new(300);
        for i in 0..1_000u64 {
            est.event(i * 1_000_000, 0.0);
        }
        let k = est.estimate(None).kappa;
        assert!(k > 0.0 && k <= KAPPA_BOUNDS.1, "{k}");
        assert_eq!(est.estimate(Some(42.0)).kappa, 42.0, "a fixed kappa wins");
    }
}

//! A deterministic normal sampler for statistical tests (xorshift64* and Box–Muller): the same
//! seed gives the same draws on every machine, so a test's counts (stops, false stops) replay.

/// The sampler's state.
pub struct Normal(u64);

impl Normal {
    /// A sampler for `seed` (any value; spread so nearby seeds give unrelated streams).
    pub fn new(seed: u64) -> Normal {
        Normal(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A uniform draw in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A draw of N(mean, sd²), rounded to an integer (callers work in micro-units).
    #[allow(clippy::cast_possible_truncation, reason = "draws of a few million micro-units fit i64")]
    pub fn sample(&mut self, mean: f64, sd: f64) -> i64 {
        let (u, v) = (self.uniform(), self.uniform());
        (mean + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()).round() as i64
    }
}

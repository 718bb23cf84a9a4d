//! Crypto up/down rounds (5- and 15-minute markets on BTC, ETH, SOL, XRP): the probability that
//! the reference price at the round's end is at or above its start ("up"; a tie resolves up).
//!
//! Log returns over `τ` seconds are modelled as `σ·√τ` times a Student-t with `ν > 2` degrees of
//! freedom scaled to unit variance, so `P(up) = 1 − F_ν(d·√(ν/(ν−2)))` with
//! `d = ln(K/S)/(σ√τ)`. (A public bot divides by that factor instead, widening σ 1.5× at ν = 6.)
//! `σ` is per √second, estimated from intraday returns of the raw feed (never the TWAP, and never
//! daily volatility for a 15-minute round).
//!
//! Markets that resolve on a `w`-second TWAP (the Chainlink TWAP streams) average the price over
//! the last `w` seconds: with `τ ≥ w` seconds left the variance is `σ²(τ − 2w/3)` (an effective
//! horizon); inside the window the part already observed (`A`, the integral of the price so far)
//! is known and only the rest is uncertain: `TWAP = (A + τ·S)/w` in the mean, with standard
//! deviation `S·σ·τ^1.5/(w√3)`.

use std::f64::consts::PI;

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error below 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (k, c) in C.iter().enumerate().skip(1) {
        a += c / (x + k as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function `I_x(a, b)` (continued fraction, modified Lentz).
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // The continued fraction converges fast for x < (a + 1)/(a + b + 2); use symmetry otherwise.
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    const TINY: f64 = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        for coef in [even, -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))] {
            d = 1.0 + coef * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coef / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    front * h / a
}

/// The Student-t cumulative distribution with `nu` degrees of freedom.
pub fn student_t_cdf(t: f64, nu: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(nu / 2.0, 0.5, nu / (nu + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// `P(S_T ≥ K)` for spot `spot`, strike `strike`, volatility `sigma` per √second, `tau` seconds
/// left, Student-t with `nu > 2` degrees of freedom scaled to unit variance.
pub fn p_up(spot: f64, strike: f64, sigma: f64, tau: f64, nu: f64) -> f64 {
    if tau <= 0.0 || sigma <= 0.0 {
        return if spot >= strike { 1.0 } else { 0.0 };
    }
    let d = (strike / spot).ln() / (sigma * tau.sqrt());
    1.0 - student_t_cdf(d * (nu / (nu - 2.0)).sqrt(), nu)
}

/// `P(TWAP_T ≥ K)` for a market that resolves on a `window`-second TWAP: `integral` is the
/// integral of the price over the part of the window already past (price × seconds; 0 before
/// the window opens).
pub fn p_up_twap(spot: f64, strike: f64, sigma: f64, tau: f64, window: f64, integral: f64, nu: f64) -> f64 {
    if tau >= window {
        return p_up(spot, strike, sigma, tau - 2.0 * window / 3.0, nu);
    }
    if tau <= 0.0 || sigma <= 0.0 {
        let twap = (integral + tau.max(0.0) * spot) / window;
        return if twap >= strike { 1.0 } else { 0.0 };
    }
    let mean = (integral + tau * spot) / window;
    let sd = spot * sigma * tau.powf(1.5) / (window * 3f64.sqrt());
    1.0 - student_t_cdf((strike - mean) / sd * (nu / (nu - 2.0)).sqrt(), nu)
}

/// Volatility per √second from price samples `(seconds, price)` in time order: the root of the
/// summed squared log returns over the time they span. `None` with fewer than two samples.
pub fn sigma_per_sqrt_second(samples: &[(f64, f64)]) -> Option<f64> {
    let (mut sum, mut span) = (0.0, 0.0);
    for w in samples.windows(2) {
        let (dt, r) = (w[1].0 - w[0].0, (w[1].1 / w[0].1).ln());
        if dt > 0.0 && r.is_finite() {
            sum += r * r;
            span += dt;
        }
    }
    (span > 0.0).then(|| (sum / span).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    /// Against `scipy.stats.t` (scipy 1.x), printed by `scripts/reference/crypto_updown.py`.
    #[test]
    fn probabilities_match_scipy_to_1e9() {
        within(student_t_cdf(-1.5, 6.0), 0.092_140_368_070_741);
        within(student_t_cdf(0.3, 3.5), 0.609_433_295_080_055);
        within(student_t_cdf(2.7, 30.0), 0.994_357_766_744_640);
        within(p_up(100_000.0, 100_050.0, 0.0004, 600.0, 6.0), 0.476_103_319_392_509);
        within(p_up(3_000.0, 2_990.0, 0.0006, 120.0, 4.0), 0.743_886_251_659_891);
        within(p_up_twap(100_000.0, 100_050.0, 0.0004, 600.0, 60.0, 0.0, 6.0), 0.475_265_925_485_463);
        within(p_up_twap(100_020.0, 100_000.0, 0.0004, 20.0, 60.0, 40.0 * 99_995.0, 6.0), 0.545_253_809_835_453);
    }

    #[test]
    fn the_variance_scaling_is_the_right_way_round() {
        // Scaled to unit variance, a Student-t is narrower in the middle than the normal: the
        // same d gives a probability further from one half than the wrong scaling's.
        let right = p_up(100.0, 100.1, 0.0004, 300.0, 6.0);
        let d = (100.1f64 / 100.0).ln() / (0.0004 * 300f64.sqrt());
        let wrong = 1.0 - student_t_cdf(d * (4.0f64 / 6.0).sqrt(), 6.0);
        assert!((0.5 - right) > (0.5 - wrong), "{right} vs {wrong}");
        // At the strike: one half; at expiry: the outcome.
        within(p_up(100.0, 100.0, 0.0004, 300.0, 6.0), 0.5);
        within(p_up(100.0, 99.0, 0.0004, 0.0, 6.0), 1.0);
    }

    #[test]
    fn volatility_from_intraday_returns() {
        // Returns +1 %, −1 % over 2 s: σ² = 2 · ln(1.01)² ... per second.
        let s = sigma_per_sqrt_second(&[(0.0, 100.0), (1.0, 101.0), (2.0, 100.0)]).unwrap_or(0.0);
        let r1 = (1.01f64).ln();
        let r2 = (100.0f64 / 101.0).ln();
        within(s, ((r1 * r1 + r2 * r2) / 2.0).sqrt());
        assert!(sigma_per_sqrt_second(&[(0.0, 100.0)]).is_none());
    }
}

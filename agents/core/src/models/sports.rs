//! Sports markets priced against bookmaker consensus: implied probabilities from decimal odds
//! with the bookmaker's margin removed (multiplicative, or Shin's method, which also corrects
//! the favourite–longshot bias), a weighted consensus over several books, totals from a Poisson
//! scoring model in closed form with pushes taken out, and closing-line value.

/// How the margin is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Devig {
    /// `p_i = (1/o_i) / Σ_j (1/o_j)`.
    Multiplicative,
    /// Shin (1993): the share `z` of insider money that makes the implied probabilities sum to
    /// one, `p_i = (√(z² + 4(1 − z)·π_i²/Π) − z) / (2(1 − z))` with `π_i = 1/o_i`, `Π = Σ π_i`.
    Shin,
}

/// Why odds cannot be turned into probabilities.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OddsError {
    /// Fewer than two outcomes.
    #[error("a market needs at least two outcomes")]
    TooFew,
    /// Decimal odds must exceed 1.
    #[error("decimal odds {0} are not above 1")]
    BadOdds(f64),
    /// The books disagree on the number of outcomes, or give no weight.
    #[error("books must price the same outcomes with positive weights")]
    Mismatch,
}

/// The margin-free probabilities of decimal `odds` (one per outcome, same order).
pub fn devig(odds: &[f64], method: Devig) -> Result<Vec<f64>, OddsError> {
    if odds.len() < 2 {
        return Err(OddsError::TooFew);
    }
    if let Some(&o) = odds.iter().find(|o| !(o.is_finite() && **o > 1.0)) {
        return Err(OddsError::BadOdds(o));
    }
    let implied: Vec<f64> = odds.iter().map(|o| 1.0 / o).collect();
    let total: f64 = implied.iter().sum();
    Ok(match method {
        Devig::Multiplicative => implied.iter().map(|p| p / total).collect(),
        Devig::Shin => {
            let at = |z: f64| -> Vec<f64> {
                implied
                    .iter()
                    .map(|p| ((z * z + 4.0 * (1.0 - z) * p * p / total).sqrt() - z) / (2.0 * (1.0 - z)))
                    .collect()
            };
            // Σ p_i(z) falls from Π (z = 0) as z grows: bisect for Σ = 1 (z = 0 when there is
            // no margin to remove).
            if total <= 1.0 {
                implied.iter().map(|p| p / total).collect()
            } else {
                let (mut lo, mut hi) = (0.0_f64, 0.999_999);
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if at(mid).iter().sum::<f64>() > 1.0 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                let p = at(0.5 * (lo + hi));
                let s: f64 = p.iter().sum();
                p.iter().map(|x| x / s).collect()
            }
        }
    })
}

/// The weighted consensus of several books' margin-free probabilities: `(weight, odds)` per book,
/// every book pricing the same outcomes in the same order.
pub fn consensus(books: &[(f64, Vec<f64>)], method: Devig) -> Result<Vec<f64>, OddsError> {
    let n = books.first().map(|(_, o)| o.len()).ok_or(OddsError::TooFew)?;
    let weight: f64 = books.iter().map(|(w, _)| *w).sum();
    if books.iter().any(|(w, o)| o.len() != n || !(w.is_finite() && *w > 0.0)) || weight <= 0.0 {
        return Err(OddsError::Mismatch);
    }
    let mut out = vec![0.0; n];
    for (w, odds) in books {
        for (acc, p) in out.iter_mut().zip(devig(odds, method)?) {
            *acc += w * p;
        }
    }
    Ok(out.into_iter().map(|p| p / weight).collect())
}

/// A total (over/under) line on a Poisson number of goals or points with mean `lambda`
/// (the two sides' means added): the probabilities of over and under with pushes taken out
/// (`P(X > L) / (1 − P(X = L))`; a half line has no push), and the push probability itself.
pub fn poisson_total(lambda: f64, line: f64) -> (f64, f64, f64) {
    // P(X ≤ ⌊L⌋) and P(X = ⌊L⌋), summed term by term in closed form (no simulation).
    let floor = line.floor();
    let (mut term, mut cdf, mut at_floor) = ((-lambda).exp(), 0.0, 0.0);
    let mut k = 0.0;
    while k <= floor {
        if k > 0.0 {
            term *= lambda / k;
        }
        cdf += term;
        at_floor = term;
        k += 1.0;
    }
    let push = if (line - floor).abs() < 1e-12 && floor >= 0.0 { at_floor } else { 0.0 };
    let under = cdf - push;
    let over = 1.0 - cdf;
    let rest = 1.0 - push;
    (over / rest, under / rest, push)
}

/// Closing-line value of an entry: the margin-free closing probability of the outcome bought
/// less the price paid for it (positive: the market moved towards the bet).
pub fn closing_line_value(closing_probability: f64, entry_price: f64) -> f64 {
    closing_probability - entry_price
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn multiplicative_devig_by_hand() {
        // 2.00 / 1.80: implied 0.5 + 0.555556 = 1.055556; 0.5 / 1.055556 = 0.473684.
        let p = devig(&[2.0, 1.8], Devig::Multiplicative).unwrap_or_default();
        assert!(close(p[0], 0.5 / (0.5 + 1.0 / 1.8)) && close(p[0], 9.0 / 19.0), "{p:?}");
        assert!(close(p[1], 10.0 / 19.0));
        assert!(devig(&[1.0, 2.0], Devig::Multiplicative).is_err());
        assert!(devig(&[2.0], Devig::Multiplicative).is_err());
    }

    #[test]
    fn shin_devig_by_hand() {
        // Against values computed independently (Python, bisection on z to 1e-300 steps):
        // 2.00 / 1.80 gives z = 0.0555646, p = 0.4722222..., 0.5277777...; a three-way
        // 1.25 / 4.50 / 12.0 gives z = 0.0572246, p = 0.7538406, 0.1894238, 0.0567356.
        let p = devig(&[2.0, 1.8], Devig::Shin).unwrap_or_default();
        assert!(close(p[0], 0.472_222_222_222_222_3) && close(p[1], 0.527_777_777_777_777_8), "{p:?}");
        let three = devig(&[1.25, 4.5, 12.0], Devig::Shin).unwrap_or_default();
        for (got, want) in
            three.iter().zip([0.753_840_557_531_644_6, 0.189_423_798_758_826_78, 0.056_735_643_709_528_76])
        {
            assert!(close(*got, want), "{three:?}");
        }
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // The favourite gains against multiplicative (the longshot loses): the favourite-longshot
        // correction.
        let m = devig(&[2.0, 1.8], Devig::Multiplicative).unwrap_or_default();
        assert!(p[1] > m[1] && p[0] < m[0], "{p:?} vs {m:?}");
        // Equal odds: both methods give one half.
        let even = devig(&[1.9, 1.9], Devig::Shin).unwrap_or_default();
        assert!(close(even[0], 0.5) && close(even[1], 0.5));
    }

    #[test]
    fn consensus_weights_books() {
        // Book A (weight 2) says 2.0/2.0 = 0.5; book B (weight 1) 1.5/3.0 = 2/3, 1/3.
        let p = consensus(&[(2.0, vec![2.0, 2.0]), (1.0, vec![1.5, 3.0])], Devig::Multiplicative).unwrap_or_default();
        assert!(close(p[0], (2.0 * 0.5 + 2.0 / 3.0) / 3.0), "{p:?}");
        assert!(consensus(&[(1.0, vec![2.0, 2.0]), (1.0, vec![3.0, 3.0, 3.0])], Devig::Multiplicative).is_err());
        assert!(consensus(&[(0.0, vec![2.0, 2.0])], Devig::Multiplicative).is_err());
    }

    #[test]
    fn poisson_totals_by_hand() {
        // λ = 2.5, line 2.5: P(X ≤ 2) = e^-2.5 (1 + 2.5 + 3.125) = 0.543813...; no push.
        let cdf2 = (-2.5f64).exp() * (1.0 + 2.5 + 3.125);
        let (over, under, push) = poisson_total(2.5, 2.5);
        assert!(close(under, cdf2) && close(over, 1.0 - cdf2) && push == 0.0, "{over} {under} {push}");
        // Line 3: push P(X = 3) = e^-2.5 · 2.5³/6 = 0.213763...; over and under without it.
        let p3 = (-2.5f64).exp() * 2.5f64.powi(3) / 6.0;
        let (over, under, push) = poisson_total(2.5, 3.0);
        assert!(close(push, p3), "{push}");
        assert!(close(under, cdf2 / (1.0 - p3)) && close(over, (1.0 - cdf2 - p3) / (1.0 - p3)));
        assert!(close(over + under, 1.0));
        // Line 0: the push is a goalless game.
        let (_, under, push) = poisson_total(1.0, 0.0);
        assert!(close(push, (-1.0f64).exp()) && close(under, 0.0));
        assert!(close(closing_line_value(0.55, 0.50), 0.05));
    }
}

//! Markouts of our fills: m(τ) = s·(mid(t+τ) − p), s = +1 for a buy of YES (or a sale of NO) and
//! −1 for the reverse, at τ = 1, 5, 30 and 120 seconds, in YES price terms. A fill is measured
//! at each horizon by the first mid seen at or after it. The averages over recent fills (each new
//! one weighs a tenth) feed the quotes: a negative 5-second markout widens both sides by as much,
//! and a 30-second markout below the toxic threshold pulls the quotes for a while.

use std::collections::VecDeque;

pub use crate::analytics::markouts::HORIZONS_S;
/// Weight of a new markout in the average.
const WEIGHT: f64 = 0.1;

#[derive(Debug, Clone)]
struct Pending {
    at_ns: u64,
    sign: f64,
    price: f64,
    next: usize,
}

/// The tracker of one market.
#[derive(Debug, Clone, Default)]
pub struct Markouts {
    pending: VecDeque<Pending>,
    average: [f64; 4],
    count: [u64; 4],
}

impl Markouts {
    /// A fill at `now_ns`: `buy` in YES terms, at YES price `price`.
    pub fn fill(&mut self, now_ns: u64, buy: bool, price: f64) {
        self.pending.push_back(Pending { at_ns: now_ns, sign: if buy { 1.0 } else { -1.0 }, price, next: 0 });
    }

    /// The YES mid at `now_ns`: measures every fill whose horizon has come. Returns the markouts
    /// taken, as (horizon index, value).
    pub fn mid(&mut self, now_ns: u64, mid: f64) -> Vec<(usize, f64)> {
        let mut out = vec![];
        for p in &mut self.pending {
            while p.next < HORIZONS_S.len() && now_ns >= p.at_ns + HORIZONS_S[p.next] * 1_000_000_000 {
                let m = p.sign * (mid - p.price);
                let k = p.next;
                self.average[k] = if self.count[k] == 0 { m } else { self.average[k] + WEIGHT * (m - self.average[k]) };
                self.count[k] += 1;
                out.push((k, m));
                p.next += 1;
            }
        }
        self.pending.retain(|p| p.next < HORIZONS_S.len());
        out
    }

    /// The average markout at horizon `k` and the fills it covers.
    pub fn average(&self, k: usize) -> (f64, u64) {
        (self.average.get(k).copied().unwrap_or(0.0), self.count.get(k).copied().unwrap_or(0))
    }

    /// How much to widen each side by: the 5-second markout when negative (three fills at least).
    pub fn widening(&self) -> f64 {
        let (m, n) = self.average(1);
        if n >= 3 { (-m).max(0.0) } else { 0.0 }
    }

    /// True when the 30-second markout is below `-threshold` over five fills at least.
    pub fn toxic(&self, threshold: f64) -> bool {
        let (m, n) = self.average(2);
        n >= 5 && m < -threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn each_fill_is_measured_once_per_horizon_with_its_sign() {
        let mut m = Markouts::default();
        m.fill(0, true, 0.50);
        m.fill(0, false, 0.50);
        assert!(m.mid(S / 2, 0.9).is_empty());
        let got = m.mid(S, 0.52);
        assert_eq!(got.len(), 2);
        assert!((got[0].1 - 0.02).abs() < 1e-12 && (got[1].1 + 0.02).abs() < 1e-12);
        assert_eq!(m.mid(200 * S, 0.40).len(), 6, "the three other horizons of both fills at once");
        assert!(m.mid(400 * S, 0.40).is_empty());
        assert_eq!(m.average(3).1, 2);
    }

    #[test]
    fn adverse_fills_widen_then_alarm() {
        let mut m = Markouts::default();
        for i in 0..6u64 {
            // Bought at 0.50 and the price fell three cents each time.
            m.fill(i * 100 * S, true, 0.50);
            m.mid(i * 100 * S + 60 * S, 0.47);
        }
        assert!((m.widening() - 0.03).abs() < 1e-9);
        assert!(m.toxic(0.02) && !m.toxic(0.05));
    }
}

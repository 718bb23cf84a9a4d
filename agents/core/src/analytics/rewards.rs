//! Polymarket's liquidity rewards (docs /market-makers/liquidity-rewards; strategy notes §1),
//! sampled once a minute:
//!
//! - an order's score is `S = ((v − s)/v)²·b`: `v` the market's max spread from the mid
//!   (`rewardsMaxSpread`, used as is), `s` the order's distance from the size-cutoff-adjusted mid
//!   (the mid of the best levels holding at least `rewardsMinSize`), `b` its size; orders below
//!   the minimum size or beyond `v` score nothing;
//! - in YES terms, `Q_one` sums the scores of bids (a NO ask is a YES bid) and `Q_two` of asks
//!   (a NO bid is a YES ask);
//! - with the adjusted mid in [0.10, 0.90], `Q_min = max(min(Q_one, Q_two), max(Q_one, Q_two)/3)`
//!   (one side alone scores a third); outside it two-sided quoting is required, `min(...)`;
//! - a sample pays `pool/1440 · Q_min / ΣQ_min` (1440 minutes a day).
//!
//! The other makers are not visible one by one: the rest of the book (less our own orders when
//! the book includes them) is scored as one other maker, which is what a backtest can know.
//! Scores are exact integers over the common denominator `v²`.

use crate::wire::Level;
use crate::{BookSide, Money, Price, Quantity};

/// A market's reward program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RewardRules {
    /// Orders smaller than this score nothing.
    pub min_size: Quantity,
    /// `v`: the largest distance from the adjusted mid that scores.
    pub max_spread: Price,
    /// The market's daily pool.
    pub daily_pool: Money,
}

/// One resting order of ours in YES terms (a NO bid at `q` is a YES ask at `1 − q`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// Bid or ask, on YES.
    pub side: BookSide,
    /// YES price.
    pub price: Price,
    /// Size.
    pub size: Quantity,
}

/// Minutes in a day: samples per daily pool.
pub const SAMPLES_PER_DAY: i128 = 1440;

/// The size-cutoff-adjusted mid, in price ticks times two (a half tick stays exact): the mid of
/// the best bid and ask levels holding at least `min_size`.
pub fn adjusted_mid_x2(bids: &[Level], asks: &[Level], min_size: Quantity) -> Option<i128> {
    let bid = bids.iter().find(|l| l.size >= min_size)?;
    let ask = asks.iter().find(|l| l.size >= min_size)?;
    Some(i128::from(bid.price.ticks()) + i128::from(ask.price.ticks()))
}

/// An order's score times `v²` (zero beyond `v` or below the minimum size).
pub fn score(rules: &RewardRules, mid_x2: i128, price: Price, size: Quantity) -> i128 {
    if size < rules.min_size {
        return 0;
    }
    let v2 = 2 * i128::from(rules.max_spread.ticks());
    let s2 = (2 * i128::from(price.ticks()) - mid_x2).abs();
    if s2 >= v2 {
        return 0;
    }
    // ((v − s)/v)² = (v2 − s2)² / v2²; the caller's denominator is v² = v2²/4.
    (v2 - s2) * (v2 - s2) / 4 * i128::from(size.micros())
}

/// `Q_min` of the two sides' scores at an adjusted mid.
pub fn q_min(q_one: i128, q_two: i128, mid_x2: i128) -> i128 {
    let scale_x2 = 2 * i128::from(Price::SCALE);
    let inside = mid_x2 * 10 >= scale_x2 && mid_x2 * 10 <= scale_x2 * 9;
    let (lo, hi) = (q_one.min(q_two), q_one.max(q_two));
    if inside { lo.max(hi / 3) } else { lo }
}

/// What the reward meter has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RewardSummary {
    /// Samples taken.
    pub samples: u64,
    /// Samples in which our quotes scored.
    pub scoring: u64,
    /// Estimated rewards earned, USDC.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub earned: Money,
}

/// One strategy's estimated liquidity rewards.
#[derive(Debug, Clone, Default)]
pub struct RewardMeter {
    samples: u64,
    scoring: u64,
    /// micro-USDC x [`SAMPLES_PER_DAY`], exact.
    earned: i128,
}

impl RewardMeter {
    /// One sample of a market: its YES book's levels (best first) and our resting orders on it;
    /// `own_in_book` when the book includes them (live), false when it does not (paper on a
    /// recording). Returns the sample's share of the pool, as (ours, everyone's) `Q_min`.
    pub fn sample(
        &mut self,
        rules: &RewardRules,
        bids: &[Level],
        asks: &[Level],
        ours: &[Quote],
        own_in_book: bool,
    ) -> (i128, i128) {
        self.samples += 1;
        let Some(mid) = adjusted_mid_x2(bids, asks, rules.min_size) else { return (0, 0) };
        let side_score = |side: BookSide| -> i128 {
            ours.iter().filter(|q| q.side == side).map(|q| score(rules, mid, q.price, q.size)).sum()
        };
        let others = |levels: &[Level], side: BookSide| -> i128 {
            levels
                .iter()
                .map(|l| {
                    let mine: u64 = if own_in_book {
                        ours.iter().filter(|q| q.side == side && q.price == l.price).map(|q| q.size.micros()).sum()
                    } else {
                        0
                    };
                    score(rules, mid, l.price, Quantity::from_micros(l.size.micros().saturating_sub(mine)))
                })
                .sum()
        };
        let ours_q = q_min(side_score(BookSide::Bid), side_score(BookSide::Ask), mid);
        let others_q = q_min(others(bids, BookSide::Bid), others(asks, BookSide::Ask), mid);
        let total = ours_q + others_q;
        if ours_q > 0 && total > 0 {
            self.scoring += 1;
            self.earned += i128::from(rules.daily_pool.micros()) * ours_q / total;
        }
        (ours_q, total)
    }

    /// The summary so far.
    pub fn summary(&self) -> RewardSummary {
        RewardSummary {
            samples: self.samples,
            scoring: self.scoring,
            earned: Money::from_micros_i128(self.earned / SAMPLES_PER_DAY).unwrap_or(Money::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::test_values::{p, q};

    fn l(price: &str, size: &str) -> Level {
        Level { price: p(price), size: q(size) }
    }
    fn rules() -> RewardRules {
        // The sample 5-minute market: min size 50, max spread 4.5 cents; a 14.4 USDC daily pool.
        RewardRules { min_size: q("50"), max_spread: p("0.045"), daily_pool: Money::parse("14.4").unwrap() }
    }

    #[test]
    fn an_order_scores_the_square_of_its_closeness_times_its_size() {
        let r = rules();
        let mid = 2 * 5000; // 0.50
        // At the mid: the full size (times v² = 450²).
        assert_eq!(score(&r, mid, p("0.50"), q("100")), 450 * 450 * 100_000_000);
        // 1.5 cents away of 4.5: (3/4.5)² = 4/9 of the size.
        assert_eq!(score(&r, mid, p("0.485"), q("100")) * 9, 4 * 450 * 450 * 100_000_000);
        assert_eq!(score(&r, mid, p("0.455"), q("100")), 0, "at v: nothing");
        assert_eq!(score(&r, mid, p("0.49"), q("49.99")), 0, "below the minimum size");
    }

    #[test]
    fn the_adjusted_mid_skips_small_levels_and_one_side_scores_a_third_inside_the_band() {
        let bids = [l("0.49", "10"), l("0.48", "100")];
        let asks = [l("0.52", "60")];
        assert_eq!(adjusted_mid_x2(&bids, &asks, q("50")), Some(4800 + 5200));
        assert_eq!(q_min(900, 0, 10_000), 300);
        assert_eq!(q_min(900, 600, 10_000), 600);
        assert_eq!(q_min(900, 0, 2 * 500), 0, "at 0.05 two-sided quoting is required");
    }

    #[test]
    fn two_sided_quotes_beside_an_equal_book_earn_half_the_samples_pool() {
        let r = rules();
        let mut m = RewardMeter::default();
        let bids = [l("0.49", "100")];
        let asks = [l("0.51", "100")];
        let ours = [
            Quote { side: BookSide::Bid, price: p("0.49"), size: q("100") },
            Quote { side: BookSide::Ask, price: p("0.51"), size: q("100") },
        ];
        // Paper: the book is the others'; equal orders, half each.
        let (o, t) = m.sample(&r, &bids, &asks, &ours, false);
        assert_eq!(2 * o, t);
        // Live: the book holds only ours: all of it.
        let (o, t) = m.sample(&r, &bids, &asks, &ours, true);
        assert_eq!(o, t);
        let s = m.summary();
        assert_eq!((s.samples, s.scoring), (2, 2));
        // 14.4 / 1440 = 0.01 per sample: 0.005 + 0.01.
        assert_eq!(s.earned, Money::parse("0.015").unwrap());
        // No book, no sample score.
        assert_eq!(m.sample(&r, &[], &asks, &ours, false), (0, 0));
    }
}

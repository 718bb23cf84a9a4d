//! The exact worst-case loss of a book of positions at resolution. Prediction-market outcomes
//! are discrete: an event's markets resolve together (a neg-risk event: exactly one of its
//! markets resolves YES; a binary market: YES or NO), so what the positions pay at resolution
//! takes finitely many values, and the worst of them is found exactly, without sampling.
//!
//! For an event with markets `1..k` holding `yes_i` and `no_i` shares, when market `j` resolves
//! YES the positions pay `yes_j + Σ_{i≠j} no_i`; when none does (a binary market's NO, or an
//! augmented neg-risk event's unnamed outcome) they pay `Σ no_i`. The least payout is therefore
//! `Σ no_i + min(min_j (yes_j − no_j), 0 if none may win)`, in O(k). Independent events resolve
//! independently, so their worst cases add up. A share pays exactly 1 USDC, so shares in
//! micro-shares are payouts in micro-USDC: the arithmetic is exact integers throughout.

use crate::money::{Money, Quantity};

/// One market's holdings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Holding {
    /// YES shares held.
    pub yes: Quantity,
    /// NO shares held.
    pub no: Quantity,
}

/// The positions in one event, and what they cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPositions {
    /// Each market of the event (one for a binary market).
    pub markets: Vec<Holding>,
    /// Whether the event may resolve with no market YES: true for a binary market (its NO) and
    /// an augmented neg-risk event; false for a neg-risk event whose markets cover every outcome.
    pub none_may_win: bool,
    /// What the positions cost (their basis), which the payout is measured against.
    pub cost: Money,
}

/// Which resolution pays least.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Market `i` of the event resolves YES.
    Yes(usize),
    /// No market resolves YES.
    None,
}

/// The worst case of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorstCase {
    /// The least the positions pay.
    pub payout: Money,
    /// Cost minus that payout: the loss if that resolution happens (negative: a sure profit).
    pub loss: Money,
    /// The resolution that pays least.
    pub resolution: Resolution,
}

fn micros(q: Quantity) -> i128 {
    i128::from(q.micros())
}

/// What the positions pay when `resolution` happens.
pub fn payout(event: &EventPositions, resolution: Resolution) -> Option<Money> {
    let all_no: i128 = event.markets.iter().map(|h| micros(h.no)).sum();
    let v = match resolution {
        Resolution::None => all_no,
        Resolution::Yes(j) => {
            let h = event.markets.get(j)?;
            all_no - micros(h.no) + micros(h.yes)
        }
    };
    Money::from_micros_i128(v)
}

/// The exact worst case of one event; `None` for an event with no possible resolution (no
/// markets and no "none" outcome) or amounts beyond `Money`.
pub fn worst_case(event: &EventPositions) -> Option<WorstCase> {
    let all_no: i128 = event.markets.iter().map(|h| micros(h.no)).sum();
    let mut best: Option<(i128, Resolution)> = event.none_may_win.then_some((0, Resolution::None));
    for (j, h) in event.markets.iter().enumerate() {
        let d = micros(h.yes) - micros(h.no);
        if best.is_none_or(|(b, _)| d < b) {
            best = Some((d, Resolution::Yes(j)));
        }
    }
    let (d, resolution) = best?;
    let payout = Money::from_micros_i128(all_no + d)?;
    let loss = event.cost.checked_sub(payout)?;
    Some(WorstCase { payout, loss, resolution })
}

/// The worst-case loss of independent events together: the sum of each event's.
pub fn total_worst_loss(events: &[EventPositions]) -> Option<Money> {
    events.iter().try_fold(Money::ZERO, |acc, e| acc.checked_add(worst_case(e)?.loss))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(shares: u64) -> Quantity {
        Quantity::from_micros(shares * Quantity::SCALE)
    }

    fn usdc(x: i64) -> Money {
        Money::from_micros(x * Money::SCALE)
    }

    #[test]
    fn a_binary_long_loses_its_cost_when_no_wins() {
        let e = EventPositions { markets: vec![Holding { yes: q(10), no: q(0) }], none_may_win: true, cost: usdc(6) };
        let w = worst_case(&e).unwrap();
        assert_eq!((w.payout, w.loss, w.resolution), (Money::ZERO, usdc(6), Resolution::None));
    }

    #[test]
    fn a_complete_set_pays_one_whatever_happens() {
        // YES on every outcome of a three-way neg-risk event, bought for 0.97 a set.
        let markets = vec![Holding { yes: q(1), no: q(0) }; 3];
        let e = EventPositions { markets, none_may_win: false, cost: Money::from_micros(970_000) };
        let w = worst_case(&e).unwrap();
        assert_eq!(w.payout, usdc(1));
        assert_eq!(w.loss, Money::from_micros(-30_000), "a sure profit of 0.03");
        // Augmented: the unnamed outcome may win, and then the YES set pays nothing.
        let e = EventPositions { none_may_win: true, ..e };
        assert_eq!(worst_case(&e).unwrap().resolution, Resolution::None);
    }

    #[test]
    fn no_baskets_pay_k_minus_one() {
        // NO on each of four outcomes: exactly one loses, three pay.
        let markets = vec![Holding { yes: q(0), no: q(2) }; 4];
        let e = EventPositions { markets, none_may_win: false, cost: usdc(5) };
        let w = worst_case(&e).unwrap();
        assert_eq!((w.payout, w.loss), (usdc(6), usdc(-1)));
    }

    #[test]
    fn no_resolution_at_all_is_none() {
        let e = EventPositions { markets: vec![], none_may_win: false, cost: Money::ZERO };
        assert_eq!(worst_case(&e), None);
    }

    /// Every assignment of YES/NO to the markets that the event allows, valued share by share.
    fn brute_force_least_payout(e: &EventPositions) -> Option<i128> {
        let k = e.markets.len();
        let mut least: Option<i128> = None;
        for mask in 0u32..(1 << k) {
            let yes_count = mask.count_ones();
            if !(yes_count == 1 || (yes_count == 0 && e.none_may_win)) {
                continue;
            }
            let v: i128 = e
                .markets
                .iter()
                .enumerate()
                .map(|(i, h)| if mask & (1 << i) != 0 { micros(h.yes) } else { micros(h.no) })
                .sum();
            least = Some(least.map_or(v, |l| l.min(v)));
        }
        least
    }

    fn event() -> impl Strategy<Value = EventPositions> {
        (
            prop::collection::vec((0u64..5_000_000_000, 0u64..5_000_000_000), 0..8),
            any::<bool>(),
            -1_000_000_000_000i64..1_000_000_000_000,
        )
            .prop_map(|(hs, none_may_win, cost)| EventPositions {
                markets: hs
                    .into_iter()
                    .map(|(y, n)| Holding { yes: Quantity::from_micros(y), no: Quantity::from_micros(n) })
                    .collect(),
                none_may_win,
                cost: Money::from_micros(cost),
            })
    }

    proptest! {
        #[test]
        fn equals_brute_force_enumeration(e in event()) {
            let exact = worst_case(&e);
            match brute_force_least_payout(&e) {
                None => prop_assert_eq!(exact, None),
                Some(least) => {
                    let w = exact.unwrap();
                    prop_assert_eq!(i128::from(w.payout.micros()), least);
                    prop_assert_eq!(w.loss.micros(), e.cost.micros() - w.payout.micros());
                    // The reported resolution does pay that least amount.
                    prop_assert_eq!(payout(&e, w.resolution), Some(w.payout));
                }
            }
        }

        #[test]
        fn independent_events_add_up(events in prop::collection::vec(event(), 0..5)) {
            let each: Option<Vec<i64>> = events.iter().map(|e| worst_case(e).map(|w| w.loss.micros())).collect();
            match each {
                Some(losses) => prop_assert_eq!(total_worst_loss(&events).map(|m| m.micros()), Some(losses.iter().sum())),
                None => prop_assert_eq!(total_worst_loss(&events), None),
            }
        }
    }
}

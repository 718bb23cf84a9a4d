//! A/B experiments between two Strategies (issue 24): what an arm declares, its bounds (shared
//! with the CRD's `spec.experiment`), and how the arms interleave by market. Both arms select
//! the same markets; [`split`] orders them by a stable hash of `<experiment>/<market>` and deals
//! them alternately, the first to arm A, so each arm trades its half at the same time and never
//! competes with the other for a book. Their PnL per slot is then compared pair by pair with the
//! always-valid sequential test of [`super::sequential`]: in backtests from the run's equity
//! samples, in the cluster by [`Live`], which the operator steps with each arm's marked PnL at the
//! start of each slot.

use serde::{Deserialize, Serialize};

use super::sequential::{Arm, Msprt, MsprtConfig, MsprtError, Outcome};

/// Longest slot, seconds (a day).
pub const MAX_SLOT_S: u64 = 86_400;
/// Largest α, basis points (50 %).
pub const MAX_ALPHA_BPS: u32 = 5_000;
/// Largest effect, micro-USDC per slot (a million USDC).
pub const MAX_EFFECT_MICROS: u64 = 1_000_000_000_000;
/// Longest burn-in, pairs.
pub const MAX_BURN_IN: u64 = 100_000;
/// Most pairs.
pub const MAX_PAIRS: u64 = 10_000_000;

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The experiment's name, shared by its arms.
    pub name: String,
    /// This arm.
    pub arm: Arm,
    /// Slot length, ns.
    pub slot_ns: i64,
    /// The stopping rule (`tau2` in micro-USDC², the variance estimated from the pairs).
    pub config: MsprtConfig,
}

/// Why an experiment's settings are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExperimentError {
    /// A setting outside its bounds.
    #[error("experiment.{field} {value} is outside 1..={max}")]
    Bound {
        /// Which.
        field: &'static str,
        /// Given.
        value: u64,
        /// Largest.
        max: u64,
    },
    /// The test refuses the rule.
    #[error("experiment: {0}")]
    Rule(#[from] MsprtError),
}

impl Experiment {
    /// An arm from its declared settings, checked against the bounds and the test's rule.
    pub fn new(
        name: &str,
        arm: Arm,
        slot_s: u64,
        alpha_bps: u32,
        effect_micros: u64,
        burn_in: u64,
        max_pairs: u64,
    ) -> Result<Experiment, ExperimentError> {
        let check = |field, value: u64, max: u64| {
            if (1..=max).contains(&value) { Ok(value) } else { Err(ExperimentError::Bound { field, value, max }) }
        };
        let slot_s = check("slotSeconds", slot_s, MAX_SLOT_S)?;
        check("alphaBps", u64::from(alpha_bps), u64::from(MAX_ALPHA_BPS))?;
        let config = MsprtConfig::declared(
            alpha_bps,
            check("effectMicros", effect_micros, MAX_EFFECT_MICROS)?,
            check("burnIn", burn_in, MAX_BURN_IN)?,
            check("maxPairs", max_pairs, MAX_PAIRS)?,
        );
        Msprt::new(config)?;
        let slot_ns = i64::try_from(slot_s * 1_000_000_000).unwrap_or(i64::MAX);
        Ok(Experiment { name: name.to_string(), arm, slot_ns, config })
    }
}

/// FNV-1a, 64 bits: a hash that never changes between builds or machines.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The markets (of `markets`, by name) that `arm` of experiment `name` trades: all of them
/// ordered by the hash of `<name>/<market>` (then by name), dealt alternately, the first to A.
pub fn split<'a>(name: &str, arm: Arm, markets: &[&'a str]) -> Vec<&'a str> {
    let mut ordered: Vec<(u64, &'a str)> =
        markets.iter().map(|m| (fnv1a(format!("{name}/{m}").as_bytes()), *m)).collect();
    ordered.sort_unstable();
    ordered.dedup_by_key(|(_, m)| *m);
    let first = usize::from(arm == Arm::B);
    ordered.into_iter().skip(first).step_by(2).map(|(_, m)| m).collect()
}

/// A live comparison of an experiment's arms, stepped with both arms' marked PnL totals
/// (micro-USDC) as time passes: the first sample of each slot (slots counted from the Unix epoch)
/// closes the pair of the slot before, each arm's PnL over it being its total now less its total
/// at that slot's first sample. A slot with no sample (an arm stopped or unreachable, the
/// operator down or late) yields no pair: it is counted as missed and the next sample starts
/// afresh. Pure and serializable: the operator keeps it between reconciles (and restarts) in the
/// data plane's KV bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Live {
    /// Slot length, ns, of the rule it runs (another rule starts the comparison anew).
    pub slot_ns: i64,
    /// The slot of the last sample.
    pub slot: i64,
    /// Arm A's total at the first sample of that slot.
    pub a_micros: i64,
    /// Arm B's total then.
    pub b_micros: i64,
    /// Slots that yielded no pair.
    pub missed: u64,
    /// When the test stopped (Unix ns).
    pub decided_ns: Option<i64>,
    /// The test so far.
    pub test: Msprt,
}

impl Live {
    /// A comparison whose first slot starts with this sample.
    pub fn start(e: &Experiment, now_ns: i64, a_micros: i64, b_micros: i64) -> Result<Live, MsprtError> {
        Ok(Live {
            slot_ns: e.slot_ns,
            slot: now_ns.div_euclid(e.slot_ns.max(1)),
            a_micros,
            b_micros,
            missed: 0,
            decided_ns: None,
            test: Msprt::new(e.config)?,
        })
    }

    /// The comparison after sampling both arms' totals at `now_ns` (`prev`: where it stood; none,
    /// or one under another rule, starts anew). The first sample of the slot after the last
    /// sample's closes a pair; one in a later slot starts that slot afresh (the slots between
    /// missed); one in the same slot changes nothing. A stopped test takes no more pairs.
    pub fn step(
        prev: Option<Live>,
        e: &Experiment,
        now_ns: i64,
        a_micros: i64,
        b_micros: i64,
    ) -> Result<Live, MsprtError> {
        let Some(mut live) = prev.filter(|l| l.slot_ns == e.slot_ns && l.test.config() == &e.config) else {
            return Live::start(e, now_ns, a_micros, b_micros);
        };
        let slot = now_ns.div_euclid(e.slot_ns.max(1));
        if slot <= live.slot {
            return Ok(live);
        }
        if slot == live.slot + 1 {
            let (a, b) = (a_micros.saturating_sub(live.a_micros), b_micros.saturating_sub(live.b_micros));
            if live.test.outcome() == Outcome::Running && live.test.observe(a, b) != Outcome::Running {
                live.decided_ns = Some(now_ns);
            }
        } else {
            live.missed += u64::try_from(slot - live.slot - 1).unwrap_or(u64::MAX);
        }
        (live.slot, live.a_micros, live.b_micros) = (slot, a_micros, b_micros);
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arms_split_the_markets_in_halves_that_do_not_overlap_whatever_their_order() {
        let markets: Vec<String> = (0..9).map(|i| format!("m{i}")).collect();
        let names: Vec<&str> = markets.iter().map(String::as_str).collect();
        let a = split("spread", Arm::A, &names);
        let b = split("spread", Arm::B, &names);
        assert_eq!((a.len(), b.len()), (5, 4));
        assert!(a.iter().all(|m| !b.contains(m)));
        let mut reversed = names.clone();
        reversed.reverse();
        assert_eq!(split("spread", Arm::A, &reversed), a, "the order the markets come in does not matter");
        assert_ne!(split("other", Arm::A, &names), a, "another experiment deals another way");
    }

    #[test]
    fn settings_outside_their_bounds_are_refused() {
        assert!(Experiment::new("x", Arm::A, 60, 500, 1_000_000, 30, 10_000).is_ok());
        assert!(matches!(
            Experiment::new("x", Arm::A, 0, 500, 1_000_000, 30, 10_000),
            Err(ExperimentError::Bound { field: "slotSeconds", .. })
        ));
        assert!(Experiment::new("x", Arm::A, 60, 5_001, 1_000_000, 30, 10_000).is_err());
        assert!(matches!(Experiment::new("x", Arm::A, 60, 500, 1, 30, 30), Err(ExperimentError::Rule(_))));
    }

    #[test]
    fn a_live_comparison_pairs_consecutive_slots_and_skips_the_missed_ones() {
        let e = Experiment::new("x", Arm::A, 10, 500, 1_000_000, 2, 1_000).unwrap();
        let s = 10_000_000_000i64;
        let live = Live::step(None, &e, 5 * s + 3, 100, 50).unwrap();
        assert_eq!((live.slot, live.test.pairs()), (5, 0));
        // The same slot again: nothing changes, the slot's first totals stay.
        let same = Live::step(Some(live.clone()), &e, 5 * s + 9_000_000_000, 900, 900).unwrap();
        assert_eq!(same, live);
        // The next slot closes the pair: A made 400, B 100 over slot 5.
        let next = Live::step(Some(same), &e, 6 * s + 1, 500, 150).unwrap();
        assert_eq!((next.slot, next.test.pairs(), next.a_micros), (6, 1, 500));
        assert_eq!(next.test.mean_difference(), 300.0);
        // Slots 7 and 8 unsampled: slot 9 starts afresh, no pair, two missed.
        let late = Live::step(Some(next), &e, 9 * s, 10_000, -10_000).unwrap();
        assert_eq!((late.slot, late.test.pairs(), late.missed), (9, 1, 2));
        // Another rule starts anew.
        let other = Experiment::new("x", Arm::A, 20, 500, 1_000_000, 2, 1_000).unwrap();
        assert_eq!(Live::step(Some(late), &other, 9 * s, 0, 0).unwrap().test.pairs(), 0);
    }

    #[test]
    fn a_live_comparison_kept_between_steps_decides_as_one_uninterrupted_test() {
        let e = Experiment::new("x", Arm::A, 1, 500, 1_000_000, 3, 1_000).unwrap();
        let (mut a, mut b) = (0i64, 0i64);
        let mut live: Option<Live> = None;
        let mut whole = Msprt::new(e.config).unwrap();
        let mut decided = None;
        for k in 0..200i64 {
            let (da, db) = (1_500_000 + (k % 3) * 700_000, (k % 2) * 400_000);
            // The state goes through its JSON between steps, as the operator keeps it.
            let kept = live.map(|l| serde_json::from_slice(&serde_json::to_vec(&l).unwrap()).unwrap());
            let l = Live::step(kept, &e, k * 1_000_000_000 + 7, a, b).unwrap();
            if k > 0 && whole.outcome() == Outcome::Running {
                let (pa, pb) = (1_500_000 + ((k - 1) % 3) * 700_000, ((k - 1) % 2) * 400_000);
                whole.observe(pa, pb);
            }
            assert_eq!(l.test, whole, "slot {k}");
            if l.decided_ns.is_some() && decided.is_none() {
                decided = Some((k, l.test.outcome()));
            }
            live = Some(l);
            (a, b) = (a + da, b + db);
        }
        let (k, outcome) = decided.expect("A makes 1.2 USDC a slot more than B: the test stops");
        assert_eq!(outcome, Outcome::Better { arm: Arm::A, pairs: u64::try_from(k).unwrap() });
        let l = live.unwrap();
        assert_eq!(l.decided_ns, Some(k * 1_000_000_000 + 7), "the stop's time stays");
    }
}

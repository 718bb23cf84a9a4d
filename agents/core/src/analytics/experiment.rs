//! A/B experiments between two Strategies (issue 24): what an arm declares, its bounds (shared
//! with the CRD's `spec.experiment`), and how the arms interleave. Both arms select the same
//! markets, and share them one of two ways ([`Interleave`]):
//!
//! - **by market**: [`split`] orders them by a stable hash of `<experiment>/<market>` and deals
//!   them alternately, the first to arm A, so each arm trades its half at the same time and never
//!   competes with the other for a book; each slot's PnL of A and of B make a pair;
//! - **by time slot**: both trade every market, in turns. Slots (of the Unix epoch) go in blocks
//!   of two, [`arm_in_slot`] gives each arm one slot of each block (which first, by a stable hash
//!   of `<experiment>/<block>`), and the arm off its turn is parked ([`SlotSchedule`], obeyed by
//!   the strategy runner: its orders cancelled, nothing placed, its holdings kept and marked). A
//!   block's pair is each arm's PnL over the whole block ([`block_pairs`]): its turn, and its
//!   parked slot, where what it bought on its turn goes on making or losing money (a quote's
//!   adverse selection shows after its fill). Both arms are measured over the same window, and
//!   every micro-USDC of each arm's PnL falls in exactly one block.
//!
//! The pairs are compared in order with the always-valid sequential test of
//! [`super::sequential`]: in backtests from the run's equity samples, in the cluster by [`Live`],
//! which the operator steps with each arm's marked PnL at the start of each slot.

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

/// How an experiment's arms share the markets both select.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Interleave {
    /// Each arm trades its half of the markets ([`split`]), both all the time.
    #[default]
    Market,
    /// Both arms trade all the markets, in turns of one slot ([`arm_in_slot`]).
    TimeSlot,
}

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
    /// How the arms share the markets.
    pub interleave: Interleave,
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
        Ok(Experiment { name: name.to_string(), arm, slot_ns, config, interleave: Interleave::Market })
    }

    /// The same arm, its arms sharing the markets as `interleave` says.
    pub fn interleaved(self, interleave: Interleave) -> Experiment {
        Experiment { interleave, ..self }
    }

    /// Whether `other` (the other arm) runs under the same rule: slot, stopping rule and
    /// interleaving. Arms that differ are not compared.
    pub fn same_rule(&self, other: &Experiment) -> bool {
        self.slot_ns == other.slot_ns && self.config == other.config && self.interleave == other.interleave
    }

    /// This arm's turns when the arms interleave by time slot (none by market).
    pub fn schedule(&self) -> Option<SlotSchedule> {
        (self.interleave == Interleave::TimeSlot).then(|| SlotSchedule {
            experiment: self.name.clone(),
            arm: self.arm,
            slot_seconds: u64::try_from(self.slot_ns / 1_000_000_000).unwrap_or(1),
        })
    }
}

/// FNV-1a, 64 bits: a hash that never changes between builds or machines.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// MurmurHash3's 64-bit finalizer: every input bit reaches every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
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

/// The arm whose turn slot `slot` (counted from the Unix epoch) is, in the time-slot experiment
/// `name`: slots `2k` and `2k + 1` make block `k`, one slot to each arm; the hash of
/// `<name>/<k>` says whether A takes the first. The order within blocks is fixed but varies from
/// block to block, so neither arm always goes first (a drift within blocks favours neither).
pub fn arm_in_slot(name: &str, slot: i64) -> Arm {
    // FNV-1a alone mixes a short key's last bytes into few bits (its lowest bit is only the
    // parity of the bytes' lowest bits, alternating with the block's last digit): MurmurHash3's
    // finalizer spreads them over every bit before one is taken.
    let a_first = fmix64(fnv1a(format!("{name}/{}", slot.div_euclid(2)).as_bytes())) >> 63 == 0;
    if a_first == (slot.rem_euclid(2) == 0) { Arm::A } else { Arm::B }
}

/// The pairs of a time-slot experiment from both arms' PnL per slot (`a[i]`, `b[i]`: over slot
/// `first_slot + i` of the Unix epoch): one pair per whole block (slots `2k`, `2k + 1`), each
/// arm's PnL over both its slots, in block order. A block cut by either end of the series yields
/// none.
pub fn block_pairs(first_slot: i64, a: &[i64], b: &[i64]) -> Vec<(i64, i64)> {
    let skip = usize::from(first_slot.rem_euclid(2) == 1);
    let n = a.len().min(b.len());
    let (a, b) = (a.get(skip..n).unwrap_or_default(), b.get(skip..n).unwrap_or_default());
    let sum = |x: &[i64]| x.iter().fold(0i64, |t, v| t.saturating_add(*v));
    a.chunks_exact(2).zip(b.chunks_exact(2)).map(|(x, y)| (sum(x), sum(y))).collect()
}

/// A time-slot arm's turns, as its strategy runner obeys them ([`crate::strategy::parking`]):
/// part of the strategy agent's configuration (the operator writes it from `spec.experiment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlotSchedule {
    /// The experiment's name (the turns' hash).
    pub experiment: String,
    /// This arm.
    pub arm: Arm,
    /// Slot length, seconds (1 to [`MAX_SLOT_S`]).
    pub slot_seconds: u64,
}

impl SlotSchedule {
    /// Checks the bounds (the CRD's).
    pub fn validate(&self) -> Result<(), ExperimentError> {
        if !(1..=MAX_SLOT_S).contains(&self.slot_seconds) {
            return Err(ExperimentError::Bound { field: "slotSeconds", value: self.slot_seconds, max: MAX_SLOT_S });
        }
        if self.experiment.is_empty() {
            return Err(ExperimentError::Bound { field: "name (length)", value: 0, max: 63 });
        }
        Ok(())
    }

    /// The slot `now_ns` falls in.
    pub fn slot(&self, now_ns: u64) -> i64 {
        let slot_ns = self.slot_seconds.clamp(1, MAX_SLOT_S) * 1_000_000_000;
        i64::try_from(now_ns / slot_ns).unwrap_or(i64::MAX)
    }

    /// Whether the arm trades at `now_ns` (its turn), or is parked.
    pub fn trades_at(&self, now_ns: u64) -> bool {
        arm_in_slot(&self.experiment, self.slot(now_ns)) == self.arm
    }
}

/// The first half of a time-slot block: what each arm made over its first slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalfBlock {
    /// The block (slot / 2).
    pub block: i64,
    /// Arm A's PnL over the slot, micro-USDC.
    pub a_micros: i64,
    /// Arm B's.
    pub b_micros: i64,
}

/// A live comparison of an experiment's arms, stepped with both arms' marked PnL totals
/// (micro-USDC) as time passes: the first sample of each slot (slots counted from the Unix epoch)
/// closes the pair of the slot before, each arm's PnL over it being its total now less its total
/// at that slot's first sample. A slot with no sample (an arm stopped or unreachable, the
/// operator down or late) yields no pair: it is counted as missed and the next sample starts
/// afresh. When the arms interleave by time slot, a block's two slots make its pair, each arm's
/// PnL over both ([`block_pairs`]); a missed slot loses its block's pair. Pure and serializable:
/// the operator keeps it between reconciles (and restarts) in the data plane's KV bucket.
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
    /// How the arms share the markets (states kept before time slots existed are by market).
    #[serde(default)]
    pub interleave: Interleave,
    /// By time slot: the current block's first slot, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half: Option<HalfBlock>,
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
            interleave: e.interleave,
            half: None,
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
        let Some(mut live) =
            prev.filter(|l| l.slot_ns == e.slot_ns && l.test.config() == &e.config && l.interleave == e.interleave)
        else {
            return Live::start(e, now_ns, a_micros, b_micros);
        };
        let slot = now_ns.div_euclid(e.slot_ns.max(1));
        if slot <= live.slot {
            return Ok(live);
        }
        if slot == live.slot + 1 {
            let (a, b) = (a_micros.saturating_sub(live.a_micros), b_micros.saturating_sub(live.b_micros));
            let pair = match live.interleave {
                Interleave::Market => Some((a, b)),
                Interleave::TimeSlot => live.block(a, b),
            };
            if let Some((a, b)) = pair
                && live.test.outcome() == Outcome::Running
                && live.test.observe(a, b) != Outcome::Running
            {
                live.decided_ns = Some(now_ns);
            }
        } else {
            live.missed += u64::try_from(slot - live.slot - 1).unwrap_or(u64::MAX);
            live.half = None;
        }
        (live.slot, live.a_micros, live.b_micros) = (slot, a_micros, b_micros);
        Ok(live)
    }

    /// By time slot: slot `self.slot` closed with the arms' PnL `a` and `b` over it; the first
    /// slot of a block is kept, the second gives the block's pair when the first was kept.
    fn block(&mut self, a: i64, b: i64) -> Option<(i64, i64)> {
        let block = self.slot.div_euclid(2);
        if self.slot.rem_euclid(2) == 0 {
            self.half = Some(HalfBlock { block, a_micros: a, b_micros: b });
            return None;
        }
        let first = self.half.take().filter(|h| h.block == block)?;
        Some((first.a_micros.saturating_add(a), first.b_micros.saturating_add(b)))
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

    #[test]
    fn time_slots_give_each_arm_one_slot_of_every_block_and_neither_always_first() {
        let mut a_first = 0;
        for block in -500i64..500 {
            let (x, y) = (arm_in_slot("q", 2 * block), arm_in_slot("q", 2 * block + 1));
            assert_ne!(x, y, "block {block}: one slot each");
            a_first += i32::from(x == Arm::A);
        }
        assert!((400..=600).contains(&a_first), "A goes first in {a_first} of 1000 blocks");
        // Not a fixed pattern: consecutive blocks keep or change their order about as often.
        let changes = (-500i64..499).filter(|k| arm_in_slot("q", 2 * k) != arm_in_slot("q", 2 * k + 2)).count();
        assert!((400..=600).contains(&changes), "the order changes between {changes} of 999 neighbouring blocks");
        assert_eq!(arm_in_slot("q", 7), arm_in_slot("q", 7), "the same turns on every machine");
        let s = SlotSchedule { experiment: "q".into(), arm: Arm::B, slot_seconds: 5 };
        let at = |slot: u64| slot * 5_000_000_000 + 1;
        for slot in 0..40u64 {
            assert_eq!(s.trades_at(at(slot)), arm_in_slot("q", i64::try_from(slot).unwrap()) == Arm::B);
        }
        assert!(s.validate().is_ok());
        assert!(SlotSchedule { slot_seconds: 0, ..s.clone() }.validate().is_err());
        assert!(SlotSchedule { experiment: String::new(), ..s }.validate().is_err());
    }

    #[test]
    fn a_blocks_pair_is_each_arms_pnl_over_the_whole_block() {
        // Slots 3..=10: block 1 is cut (only slot 3), blocks 2, 3, 4 are whole, block 5 is cut.
        let a: Vec<i64> = (3..=10).map(|s| 100 * s).collect();
        let b: Vec<i64> = (3..=10).map(|s| -s).collect();
        let expect: Vec<(i64, i64)> = (2..=4).map(|k: i64| (100 * (4 * k + 1), -(4 * k + 1))).collect();
        assert_eq!(block_pairs(3, &a, &b), expect);
        assert_eq!(block_pairs(4, &a, &b).len(), 4, "from an even slot every two slots are a block");
        assert!(block_pairs(4, &a[..1], &b[..1]).is_empty(), "half a block makes no pair");
    }

    #[test]
    fn a_live_time_slot_comparison_pairs_each_block_as_the_series_does_and_loses_a_cut_block() {
        let e = Experiment::new("q", Arm::A, 1, 500, 1_000_000, 2, 1_000).unwrap().interleaved(Interleave::TimeSlot);
        assert!(e.same_rule(&e.clone()) && !e.same_rule(&e.clone().interleaved(Interleave::Market)));
        assert_eq!(e.schedule(), Some(SlotSchedule { experiment: "q".into(), arm: Arm::A, slot_seconds: 1 }));
        let s = 1_000_000_000i64;
        // Per-slot PnL, slots 10..30; each arm's total is sampled at the start of each slot.
        let pa: Vec<i64> = (10..30).map(|k| 1_000 + 37 * (k % 5)).collect();
        let pb: Vec<i64> = (10..30).map(|k| 300 - 11 * (k % 3)).collect();
        let (mut ta, mut tb) = (0i64, 0i64);
        let mut live: Option<Live> = None;
        for (i, k) in (10..=30i64).enumerate() {
            live = Some(Live::step(live, &e, k * s + 5, ta, tb).unwrap());
            if let (Some(x), Some(y)) = (pa.get(i), pb.get(i)) {
                (ta, tb) = (ta + x, tb + y);
            }
        }
        let pairs = block_pairs(10, &pa, &pb);
        assert_eq!(pairs.len(), 10, "ten whole blocks");
        let mut whole = Msprt::new(e.config).unwrap();
        for (x, y) in pairs {
            if whole.outcome() == Outcome::Running {
                whole.observe(x, y);
            }
        }
        assert_eq!(live.as_ref().unwrap().test, whole);
        // Slot 31 unsampled: the block of slots 30 and 31 is lost, 32 starts afresh.
        let late = Live::step(live, &e, 32 * s, ta, tb).unwrap();
        assert_eq!((late.test.pairs(), late.missed, late.half), (whole.pairs(), 1, None));
        // A state kept by market does not go on by time slot.
        let by_market = Experiment::new("q", Arm::A, 1, 500, 1_000_000, 2, 1_000).unwrap();
        assert_eq!(Live::step(Some(late), &by_market, 33 * s, 0, 0).unwrap().test.pairs(), 0);
    }
}

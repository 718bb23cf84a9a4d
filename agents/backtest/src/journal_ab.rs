//! A/B comparison of two strategies in a journal report (`polyfleet report --ab A,B`): each
//! strategy's PnL per time slot ([`polyfleet_core::analytics::performance::Slots`]) paired slot by
//! slot (or, for arms that took turns in time slots, block by block) and fed, in time order, to the core's always-valid sequential test
//! ([`polyfleet_core::analytics::sequential`], mSPRT) with a stopping rule fixed before looking:
//! α, the effect size it is tuned to (its mixture's τ), a burn-in and a maximum of pairs. The
//! decision is the test's at its stop (later slots do not change it), and its p-value stays valid
//! however often the report is run.

use polyfleet_core::Money;
use polyfleet_core::analytics::experiment::block_pairs;
use polyfleet_core::analytics::performance::Slots;
use polyfleet_core::analytics::sequential::{Arm, Msprt, MsprtConfig, Outcome};
use serde::Serialize;

/// What to compare, and the stopping rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AbSpec {
    /// Arm A: a strategy's `name` or `namespace/name`.
    pub a: String,
    /// Arm B.
    pub b: String,
    /// Slot length, ns.
    pub slot_ns: i64,
    /// The test's settings (`tau2` in micro-USDC²).
    pub config: MsprtConfig,
    /// The arms took turns in time slots: each block of two slots (of the Unix epoch) makes a
    /// pair, each arm's PnL over the whole block ([`block_pairs`]); otherwise slot by slot.
    pub turns: bool,
}

/// The comparison's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbResult {
    /// Arm A (`namespace/name`).
    pub a: String,
    /// Arm B.
    pub b: String,
    /// Slot length, seconds.
    pub slot_s: f64,
    /// The arms took turns in time slots: pairs are blocks of two slots.
    pub turns: bool,
    /// The false-stop bound.
    pub alpha: f64,
    /// The effect size (per slot) the test is tuned to, USDC: √τ².
    pub effect_usdc: f64,
    /// Pairs before the test may stop.
    pub burn_in: u64,
    /// Pairs after which it ends undecided.
    pub max_pairs: u64,
    /// Pairs observed (up to the stop).
    pub pairs: u64,
    /// `A better`, `B better`, `no decision yet` or `inconclusive` (the maximum reached).
    pub decision: String,
    /// The always-valid p-value at the stop, or now.
    pub p_value: f64,
    /// Mean of A − B per slot over the pairs observed, USDC.
    pub mean_difference_usdc: f64,
    /// Each arm's PnL over all the period's slots.
    #[serde(serialize_with = "polyfleet_core::analytics::decimal")]
    pub a_pnl: Money,
    /// Arm B's.
    #[serde(serialize_with = "polyfleet_core::analytics::decimal")]
    pub b_pnl: Money,
}

impl AbResult {
    /// What one pair is, `("slot", "5 s")`, or `("block", "2 × 5 s")` for arms taking turns.
    fn pair(&self) -> (&'static str, String) {
        if self.turns { ("block", format!("2 × {} s", self.slot_s)) } else { ("slot", format!("{} s", self.slot_s)) }
    }

    /// What one pair is: `slot of 5 s`, or `block of 2 × 5 s`.
    pub fn pair_unit(&self) -> String {
        let (noun, of) = self.pair();
        format!("{noun} of {of}")
    }

    /// The comparison in one line: `A vs B: <decision> after <n> pairs (p, mean A - B a pair)`.
    pub fn describe(&self) -> String {
        let (noun, of) = self.pair();
        format!(
            "{} vs {}: {} after {} {noun}s of {of} (p = {:.4}, mean A - B {:.6} USDC a {noun})",
            self.a, self.b, self.decision, self.pairs, self.p_value, self.mean_difference_usdc
        )
    }
}

/// Why there is no comparison.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbError {
    /// The name matches no strategy of the period, or several.
    #[error("arm {0}: {1}")]
    Arm(String, String),
    /// The stopping rule is refused.
    #[error("{0}")]
    Config(String),
}

/// The series of `name` (`namespace/name`, or a name unique among the strategies).
fn series<'a>(slots: &'a Slots, name: &str) -> Result<(&'a String, &'a Vec<i64>), AbError> {
    let found: Vec<(&String, &Vec<i64>)> = slots
        .pnl
        .iter()
        .filter(|(k, _)| *k == name || (!name.contains('/') && k.rsplit('/').next() == Some(name)))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(AbError::Arm(name.into(), "no booking of this strategy in the period".into())),
        many => Err(AbError::Arm(name.into(), format!("names {} strategies; give namespace/name", many.len()))),
    }
}

/// Runs the comparison over `slots`.
pub fn compare(spec: &AbSpec, slots: &Slots) -> Result<AbResult, AbError> {
    let (a_name, a) = series(slots, &spec.a)?;
    let (b_name, b) = series(slots, &spec.b)?;
    let mut test = Msprt::new(spec.config).map_err(|e| AbError::Config(e.to_string()))?;
    let pairs: Vec<(i64, i64)> = if spec.turns {
        block_pairs(slots.start_ns.div_euclid(spec.slot_ns.max(1)), a, b)
    } else {
        a.iter().copied().zip(b.iter().copied()).collect()
    };
    let mut outcome = Outcome::Running;
    for (x, y) in pairs {
        outcome = test.observe(x, y);
        if outcome != Outcome::Running {
            break;
        }
    }
    let decision = match outcome {
        Outcome::Running => "no decision yet".to_string(),
        Outcome::Better { arm: Arm::A, .. } => "A better".to_string(),
        Outcome::Better { arm: Arm::B, .. } => "B better".to_string(),
        Outcome::Inconclusive { .. } => "inconclusive".to_string(),
    };
    Ok(AbResult {
        a: a_name.clone(),
        b: b_name.clone(),
        slot_s: spec.slot_ns as f64 / 1e9,
        turns: spec.turns,
        alpha: spec.config.alpha,
        effect_usdc: spec.config.tau2.sqrt() / 1e6,
        burn_in: spec.config.burn_in,
        max_pairs: spec.config.max_pairs,
        pairs: test.pairs(),
        decision,
        p_value: test.p_value(),
        mean_difference_usdc: test.mean_difference() / 1e6,
        a_pnl: Money::from_micros(a.iter().sum()),
        b_pnl: Money::from_micros(b.iter().sum()),
    })
}

//! A/B experiments between two Strategies (issue 24): what an arm declares, its bounds (shared
//! with the CRD's `spec.experiment`), and how the arms interleave by market. Both arms select
//! the same markets; [`split`] orders them by a stable hash of `<experiment>/<market>` and deals
//! them alternately, the first to arm A, so each arm trades its half at the same time and never
//! competes with the other for a book. Their PnL per slot is then compared pair by pair with the
//! always-valid sequential test of [`super::sequential`].

use super::sequential::{Arm, Msprt, MsprtConfig, MsprtError};

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
}

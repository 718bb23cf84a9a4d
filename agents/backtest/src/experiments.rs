//! A/B experiments in a backtest: the two arms of each experiment (Strategies declaring the same
//! `spec.experiment.name`, each trading its half of the Markets, or all of them in turns of a
//! time slot) compared on their PnL per slot, taken from the run's equity samples (each arm's
//! marked equity at the end of a slot less at the end of the one before), paired in time order
//! (slot by slot; for turns block by block, each arm's PnL over both slots of a block) through
//! the core's always-valid sequential test with the stopping rule the arms declare
//! ([`crate::journal_ab::compare`], as the journal report does). Slots of arms taking turns are
//! those of the Unix epoch their runners kept; others start at the run's first sample.

use std::collections::BTreeMap;

use polyfleet_core::analytics::experiment::{Experiment, Interleave};
use polyfleet_core::analytics::performance::Slots;
use polyfleet_core::analytics::sequential::Arm;
use serde::Serialize;

use crate::journal::Journal;
use crate::journal_ab::{AbResult, AbSpec, compare};

/// One experiment's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentReport {
    /// The experiment's name.
    pub name: String,
    /// The comparison, when both arms ran with the same rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<AbResult>,
    /// Why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Each strategy's PnL per slot of `slot_ns` from the equity samples, micro-USDC; the first slot
/// starts at the first sample, or (`on_epoch`) at the epoch's slot that sample falls in.
pub fn slots(j: &Journal, slot_ns: i64, on_epoch: bool) -> Slots {
    let first = j.samples.first().map_or(0, |s| i64::try_from(s.ts_ns).unwrap_or(i64::MAX));
    let start = if on_epoch { first - first.rem_euclid(slot_ns.max(1)) } else { first };
    let slot = |ts: u64| (i64::try_from(ts).unwrap_or(i64::MAX) - start) / slot_ns.max(1);
    // The equity at the end of each slot: its last sample's.
    let mut ends: BTreeMap<i64, &[polyfleet_core::Money]> = BTreeMap::new();
    for s in &j.samples {
        ends.insert(slot(s.ts_ns), &s.per_strategy);
    }
    let n = ends.keys().next_back().map_or(0, |k| usize::try_from(*k + 1).unwrap_or(0));
    let mut pnl = BTreeMap::new();
    for (i, st) in j.strategies.iter().enumerate() {
        let mut series = vec![0i64; n];
        // Slots without a sample changed nothing (they stay 0).
        let mut prev = 0i64;
        for (k, eq) in &ends {
            let e = eq.get(i).map_or(prev, |m| m.micros());
            if let Some(s) = usize::try_from(*k).ok().and_then(|k| series.get_mut(k)) {
                *s = e - prev;
            }
            prev = e;
        }
        pnl.insert(st.name.clone(), series);
    }
    Slots { slot_ns, start_ns: start, pnl }
}

/// The experiments among `arms` (strategy name, its arm), each compared over the run `j`.
pub fn compare_all(arms: &[(String, Experiment)], j: &Journal) -> Vec<ExperimentReport> {
    let mut by_name: BTreeMap<&str, Vec<&(String, Experiment)>> = BTreeMap::new();
    for a in arms {
        by_name.entry(a.1.name.as_str()).or_default().push(a);
    }
    by_name
        .into_iter()
        .map(|(name, arms)| {
            let arm = |which: Arm| arms.iter().filter(|(_, e)| e.arm == which).collect::<Vec<_>>();
            let outcome = match (arm(Arm::A).as_slice(), arm(Arm::B).as_slice()) {
                ([a], [b]) if a.1.same_rule(&b.1) => {
                    let turns = a.1.interleave == Interleave::TimeSlot;
                    let spec =
                        AbSpec { a: a.0.clone(), b: b.0.clone(), slot_ns: a.1.slot_ns, config: a.1.config, turns };
                    compare(&spec, &slots(j, spec.slot_ns, turns)).map_err(|e| e.to_string())
                }
                ([_], [_]) => Err("the arms declare different slots, stopping rules or interleavings".to_string()),
                (a, b) => Err(format!("needs one arm A and one arm B; has {} A and {} B", a.len(), b.len())),
            };
            let (result, error) = match outcome {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e)),
            };
            ExperimentReport { name: name.to_string(), result, error }
        })
        .collect()
}

//! A/B experiments compared live (issue 24): a Strategy's `status.experiment` and its
//! `ExperimentDecided` condition. Arm A's reconcile owns the test: at the start of each slot it
//! reads both arms' marked PnL from the risk store and steps the core's [`Live`] comparison,
//! which it keeps in the data plane's KV bucket (`subjects::experiment_key`) so an operator
//! restart resumes it; arm B's reconcile shows arm A's result as its own. The status figures,
//! the peer lookup and the time to the next slot are pure; [`step`] is the data-plane shell.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use polyfleet_core::analytics::experiment::{Interleave, Live};
use polyfleet_core::analytics::sequential::{Arm, Outcome};
use polyfleet_crds::Strategy;
use polyfleet_crds::conditions::{Condition, ConditionStatus};
use polyfleet_crds::strategy::{ExperimentArm, ExperimentOutcome, ExperimentStatus};

use crate::controller::{Context, Error};

/// Condition type: the experiment's test stopped (True), or not yet (False).
pub const EXPERIMENT_DECIDED: &str = "ExperimentDecided";

/// After a slot starts, arm A samples this late (the reconcile's own delay aside)…
const A_AFTER_SLOT: Duration = Duration::from_millis(200);
/// …and arm B reads arm A's result this late, once it is written.
const B_AFTER_SLOT: Duration = Duration::from_millis(1_500);

/// The experiment's other arm among the namespace's Strategies: the one Strategy declaring the
/// same experiment name with the other arm, or why there is none.
pub fn peer<'a>(me: &Strategy, all: &'a [Arc<Strategy>]) -> Result<&'a Arc<Strategy>, String> {
    let Some(mine) = &me.spec.experiment else { return Err("not an experiment arm".into()) };
    let other = match mine.arm {
        ExperimentArm::A => ExperimentArm::B,
        ExperimentArm::B => ExperimentArm::A,
    };
    let found: Vec<&Arc<Strategy>> = all
        .iter()
        .filter(|s| s.name_any() != me.name_any())
        .filter(|s| s.spec.experiment.as_ref().is_some_and(|e| e.name == mine.name && e.arm == other))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no Strategy declares arm {other:?} of experiment {}", mine.name)),
        many => Err(format!(
            "{} Strategies declare arm {other:?} of experiment {}: {}",
            many.len(),
            mine.name,
            many.iter().map(|s| s.name_any()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// USDC as a decimal from a float of micro-USDC (rounded to the micro).
fn usdc(micros: f64) -> String {
    let m = micros.round();
    // In range: a mean of i64 differences.
    #[allow(clippy::cast_possible_truncation, reason = "rounded, and within i64 as a mean of i64 values")]
    polyfleet_core::Money::from_micros(m as i64).to_string()
}

/// RFC 3339 (seconds) of a Unix time in ns.
fn rfc3339(ns: i64) -> Option<String> {
    let t = k8s_openapi::jiff::Timestamp::from_nanosecond(i128::from(ns)).ok()?;
    Some(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// An arm's status (experiment `name`, this Strategy's `arm`) from where the comparison stands
/// (`live`; none before the first sample), or `waiting`: why there is no comparison now (a
/// missing or paused arm).
pub fn status_of(
    name: &str,
    arm: ExperimentArm,
    peer: Option<&str>,
    live: Option<&Live>,
    waiting: Option<String>,
) -> ExperimentStatus {
    let mut s = ExperimentStatus {
        name: name.to_string(),
        arm,
        peer: peer.map(str::to_string),
        outcome: ExperimentOutcome::Waiting,
        message: waiting.clone().unwrap_or_default(),
        pairs: 0,
        missed_slots: 0,
        mean_difference: "0".into(),
        p_value: "1".into(),
        decided_at: None,
    };
    let Some(l) = live else {
        if waiting.is_none() {
            s.message = "waiting for the first slot".into();
        }
        return s;
    };
    let t = &l.test;
    s.pairs = i64::try_from(t.pairs()).unwrap_or(i64::MAX);
    s.missed_slots = i64::try_from(l.missed).unwrap_or(i64::MAX);
    s.mean_difference = usdc(t.mean_difference());
    s.p_value = format!("{:.4}", t.p_value());
    // A pair is a slot, or (arms taking turns) a block of two slots.
    let unit = if l.interleave == Interleave::TimeSlot { "blocks of two slots" } else { "slots" };
    let (outcome, said) = match t.outcome() {
        Outcome::Running => (ExperimentOutcome::Running, format!("{} {unit} compared", t.pairs())),
        Outcome::Better { arm, pairs } => {
            let o = if arm == Arm::A { ExperimentOutcome::ABetter } else { ExperimentOutcome::BBetter };
            (o, format!("{arm:?} better after {pairs} {unit} (p {:.4})", t.p_value()))
        }
        Outcome::Inconclusive { pairs } => {
            (ExperimentOutcome::Inconclusive, format!("no decision after {pairs} {unit} (the most declared)"))
        }
    };
    s.decided_at = l.decided_ns.and_then(rfc3339);
    // A paused comparison keeps its figures and says why it is paused.
    s.outcome =
        if waiting.is_some() && outcome == ExperimentOutcome::Running { ExperimentOutcome::Waiting } else { outcome };
    s.message = match waiting {
        Some(w) if outcome == ExperimentOutcome::Running => format!("{said}; paused: {w}"),
        _ => said,
    };
    s
}

/// Arm B's status (experiment `name`): arm A's (`a`, as arm A's Strategy `a_name` shows it), as
/// B sees it.
pub fn mirrored(name: &str, a_name: &str, a: Option<&ExperimentStatus>) -> ExperimentStatus {
    match a {
        Some(a) if a.name == name && a.arm == ExperimentArm::A => {
            ExperimentStatus { arm: ExperimentArm::B, peer: Some(a_name.to_string()), ..a.clone() }
        }
        _ => {
            let why = format!("arm A ({a_name}) has not compared yet");
            status_of(name, ExperimentArm::B, Some(a_name), None, Some(why))
        }
    }
}

/// The condition a status gives.
pub fn condition(s: &ExperimentStatus, generation: i64, now: &str) -> Condition {
    let (status, reason) = match s.outcome {
        ExperimentOutcome::ABetter => (ConditionStatus::True, "ABetter"),
        ExperimentOutcome::BBetter => (ConditionStatus::True, "BBetter"),
        ExperimentOutcome::Inconclusive => (ConditionStatus::True, "Inconclusive"),
        ExperimentOutcome::Running => (ConditionStatus::False, "Running"),
        ExperimentOutcome::Waiting => (ConditionStatus::False, "Waiting"),
    };
    Condition::new(EXPERIMENT_DECIDED, status, reason, s.message.clone(), Some(generation), now)
}

/// Whether an outcome is a stop that `was` (the status before) did not show.
pub fn newly_decided(was: Option<ExperimentOutcome>, now: ExperimentOutcome) -> bool {
    let decided = |o: ExperimentOutcome| {
        matches!(o, ExperimentOutcome::ABetter | ExperimentOutcome::BBetter | ExperimentOutcome::Inconclusive)
    };
    decided(now) && was.is_none_or(|w| !decided(w))
}

/// How long from `now_ns` until `after` past the start of the next slot of `slot_ns`.
pub fn until_next_slot(now_ns: i64, slot_ns: i64, after: Duration) -> Duration {
    let slot = slot_ns.max(1);
    let left = slot - now_ns.rem_euclid(slot);
    Duration::from_nanos(u64::try_from(left).unwrap_or(0)) + after
}

/// The arm's experiment status and when to look again: arm A samples both arms' marked PnL
/// (`own_total`: its own, none when its book could not be read) and steps the comparison kept in
/// the KV bucket; arm B mirrors arm A's status. A data-plane failure is an error (retried).
pub async fn step(
    strategy: &Strategy,
    own_total: Option<i64>,
    now_ns: i64,
    ctx: &Context,
) -> Result<Option<(ExperimentStatus, Duration)>, Error> {
    let Some(spec) = &strategy.spec.experiment else { return Ok(None) };
    let (name, arm) = (spec.name.as_str(), spec.arm);
    let e = match crate::contract::experiment(spec) {
        Ok(e) => e,
        Err(err) => {
            // The CRD's schema keeps these out; an object stored under an older schema may not.
            let s = status_of(name, arm, None, None, Some(err.to_string()));
            return Ok(Some((s, Duration::from_secs(30))));
        }
    };
    let ns = strategy.namespace().unwrap_or_default();
    let all = ctx.cache.strategies_in(&ns);
    let found = peer(strategy, &all);
    if e.arm == Arm::B {
        let s = match found {
            Ok(a) => mirrored(name, &a.name_any(), a.status.as_ref().and_then(|s| s.experiment.as_ref())),
            Err(why) => status_of(name, arm, None, None, Some(why)),
        };
        return Ok(Some((s, until_next_slot(now_ns, e.slot_ns, B_AFTER_SLOT))));
    }
    let next = until_next_slot(now_ns, e.slot_ns, A_AFTER_SLOT);
    let key = polyfleet_core::wire::subjects::experiment_key(&ns, &strategy.name_any());
    let kept: Option<Live> = match ctx.params.get(&key).await? {
        Some(b) => match serde_json::from_slice(&b) {
            Ok(l) => Some(l),
            Err(err) => {
                tracing::warn!(key, error = %err, "experiment state unreadable; the comparison starts anew");
                None
            }
        },
        None => None,
    };
    let b = match found {
        Ok(b) => b,
        Err(why) => return Ok(Some((status_of(name, arm, None, kept.as_ref(), Some(why)), next))),
    };
    let b_name = b.name_any();
    let paused = |why: String| Ok(Some((status_of(name, arm, Some(&b_name), kept.as_ref(), Some(why)), next)));
    let same_rule =
        b.spec.experiment.as_ref().and_then(|s| crate::contract::experiment(s).ok()).is_some_and(|x| x.same_rule(&e));
    if !same_rule {
        return paused(format!("arm B ({b_name}) declares another slot, stopping rule or interleaving"));
    }
    if strategy.spec.suspend || b.spec.suspend {
        return paused("an arm is suspended".into());
    }
    let Some(a_total) = own_total else { return paused("arm A's book is unreadable".into()) };
    let b_book =
        ctx.risk.book(&ns, &b.spec.risk_policy_ref.name, &b_name).await.map_err(|err| Error::Store(err.to_string()))?;
    let (pnl, _) = crate::controller::strategy::book_status(&b_book, |_| String::new());
    let b_total = pnl.realized_micros.saturating_add(pnl.unrealized_micros);
    let live = Live::step(kept.clone(), &e, now_ns, a_total, b_total).map_err(|err| Error::Store(err.to_string()))?;
    if kept.as_ref() != Some(&live) {
        let doc = serde_json::to_vec(&live).map_err(|err| Error::Encode(err.to_string()))?;
        ctx.params.put(&key, doc).await?;
    }
    Ok(Some((status_of(name, arm, Some(&b_name), Some(&live), None), next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::analytics::experiment::Experiment;

    fn arm(name: &str, experiment: &str, arm: &str) -> Arc<Strategy> {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/examples/experiment/strategy-quoting-control.yaml");
        let mut s: Strategy = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        s.metadata.name = Some(name.into());
        s.metadata.namespace = Some("desk".into());
        let e = s.spec.experiment.as_mut().unwrap();
        e.name = experiment.into();
        e.arm = if arm == "A" { ExperimentArm::A } else { ExperimentArm::B };
        Arc::new(s)
    }

    #[test]
    fn the_peer_is_the_one_strategy_declaring_the_other_arm() {
        let all = vec![arm("a", "x", "A"), arm("b", "x", "B"), arm("c", "y", "B")];
        assert_eq!(peer(&all[0], &all).unwrap().name_any(), "b");
        assert_eq!(peer(&all[1], &all).unwrap().name_any(), "a");
        assert_eq!(peer(&all[2], &all).unwrap_err(), "no Strategy declares arm A of experiment y");
        let two = vec![arm("a", "x", "A"), arm("b", "x", "B"), arm("b2", "x", "B")];
        assert_eq!(peer(&two[0], &two).unwrap_err(), "2 Strategies declare arm B of experiment x: b, b2");
    }

    fn live_after(pairs: &[(i64, i64)]) -> Live {
        let e = Experiment::new("x", Arm::A, 1, 500, 1_000_000, 3, 1_000).unwrap();
        let (mut a, mut b) = (0, 0);
        let mut live = Live::start(&e, 0, 0, 0).unwrap();
        for (k, (da, db)) in pairs.iter().enumerate() {
            (a, b) = (a + da, b + db);
            let at = i64::try_from(k + 1).unwrap() * 1_000_000_000;
            live = Live::step(Some(live), &e, at, a, b).unwrap();
        }
        live
    }

    #[test]
    fn the_status_reads_the_comparison_and_says_why_it_waits() {
        let first = status_of("x", ExperimentArm::A, Some("b"), None, None);
        assert_eq!((first.outcome, first.message.as_str()), (ExperimentOutcome::Waiting, "waiting for the first slot"));
        let running = live_after(&[(2_000_000, 0), (1_000_000, 500_000)]);
        let s = status_of("x", ExperimentArm::A, Some("b"), Some(&running), None);
        assert_eq!((s.outcome, s.pairs, s.mean_difference.as_str()), (ExperimentOutcome::Running, 2, "1.25"));
        assert_eq!(condition(&s, 3, "t").status, ConditionStatus::False);
        let paused = status_of("x", ExperimentArm::A, Some("b"), Some(&running), Some("an arm is suspended".into()));
        assert_eq!(paused.outcome, ExperimentOutcome::Waiting);
        assert_eq!(paused.message, "2 slots compared; paused: an arm is suspended");
        let pairs: Vec<(i64, i64)> = (0..40).map(|k| (1_000_000 + (k % 3) * 600_000, (k % 2) * 300_000)).collect();
        let decided = live_after(&pairs);
        let s = status_of("x", ExperimentArm::A, Some("b"), Some(&decided), None);
        assert_eq!(s.outcome, ExperimentOutcome::ABetter, "{s:?}");
        assert!(s.message.starts_with("A better after "), "{}", s.message);
        let c = condition(&s, 3, "t");
        assert_eq!((c.status, c.reason.as_str()), (ConditionStatus::True, "ABetter"));
        assert!(s.decided_at.as_deref().is_some_and(|t| t.starts_with("1970-01-01T00:00:")), "{s:?}");
        // Arm B shows the same, as arm B.
        let b = mirrored("x", "a", Some(&s));
        assert_eq!(
            (b.arm, b.peer.as_deref(), b.outcome, &b.message),
            (ExperimentArm::B, Some("a"), s.outcome, &s.message)
        );
        assert_eq!(mirrored("x", "a", None).message, "arm A (a) has not compared yet");
        assert!(newly_decided(Some(ExperimentOutcome::Running), s.outcome));
        assert!(!newly_decided(Some(ExperimentOutcome::ABetter), s.outcome));
        assert!(!newly_decided(None, ExperimentOutcome::Running));
    }

    #[test]
    fn the_next_look_is_just_after_the_next_slot_starts() {
        let after = Duration::from_millis(200);
        assert_eq!(until_next_slot(61_500_000_000, 60_000_000_000, after), Duration::from_millis(58_700));
        assert_eq!(until_next_slot(120_000_000_000, 60_000_000_000, after), Duration::from_millis(60_200));
    }
}

//! A Strategy's `Drift` condition, and the Warning Event a new alarm posts, from the drift
//! alarms its agent reports ([`DriftReport`], under `subjects::drift_key`). Pure: the Strategy
//! controller reads the report and writes what this returns.

use polyfleet_core::strategy::drift::{DriftMetric, DriftReport};
use polyfleet_crds::conditions::{Condition, ConditionStatus};

/// The condition type.
pub const DRIFT: &str = "Drift";

/// The `Drift` condition for a Strategy that declares drift alarms, given the agent's `report`
/// (none yet: False, `Watching`), and, when an alarm is new against `previous` (the condition
/// was not True, or another metric drifted), the Event's reason and note.
pub fn drift_condition(
    previous: Option<&Condition>,
    report: Option<&DriftReport>,
    generation: i64,
    now: &str,
) -> (Condition, Option<(&'static str, String)>) {
    let cond = |ok: bool, reason: &str, msg: String| {
        let status = if ok { ConditionStatus::True } else { ConditionStatus::False };
        Condition::new(DRIFT, status, reason, msg, Some(generation), now)
    };
    let Some(r) = report else {
        return (cond(false, "Watching", "no drift report from the agent yet".into()), None);
    };
    if r.alarms.is_empty() {
        let msg = format!(
            "no alarm: {} markouts, {} slippage and {} forecast samples; fired {} times so far",
            r.samples[0],
            r.samples[1],
            r.samples[2],
            r.fired.iter().sum::<u64>()
        );
        return (cond(false, "NoDrift", msg), None);
    }
    let metrics: Vec<&str> = r.alarms.iter().map(|a| a.metric.as_str()).collect();
    let reason = match r.alarms.as_slice() {
        [one] => match one.metric {
            DriftMetric::Markouts => "MarkoutsDrift",
            DriftMetric::Slippage => "SlippageDrift",
            DriftMetric::Calibration => "CalibrationDrift",
        },
        _ => "SeveralDrifts",
    };
    let details: Vec<String> = r.alarms.iter().map(|a| a.detail.clone()).collect();
    let msg = format!(
        "{}: {}; new positions at {}.{:02}% of full size",
        metrics.join(", "),
        details.join("; "),
        r.size_factor_bps / 100,
        r.size_factor_bps % 100
    );
    let new = previous
        .is_none_or(|p| p.status != ConditionStatus::True || p.message.split(':').next() != msg.split(':').next());
    let event = new.then(|| ("DriftAlarm", msg.clone()));
    (cond(true, reason, msg), event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::strategy::drift::DriftAlarm;

    fn report(alarms: &[DriftMetric]) -> DriftReport {
        DriftReport {
            alarms: alarms
                .iter()
                .map(|m| DriftAlarm { metric: *m, since_ns: 1, fired: 1, detail: format!("{} fell", m.as_str()) })
                .collect(),
            size_factor_bps: if alarms.is_empty() { 10_000 } else { 5000 },
            samples: [40, 30, 0],
            fired: [alarms.len() as u64, 0, 0],
        }
    }

    #[test]
    fn the_condition_follows_the_report_and_a_new_alarm_posts_an_event() {
        let (c, e) = drift_condition(None, None, 1, "t0");
        assert_eq!((c.reason.as_str(), c.is_true(), e), ("Watching", false, None));
        let (quiet, e) = drift_condition(Some(&c), Some(&report(&[])), 1, "t1");
        assert_eq!((quiet.reason.as_str(), quiet.is_true(), e), ("NoDrift", false, None));
        assert!(quiet.message.contains("40 markouts, 30 slippage"), "{}", quiet.message);
        let (up, e) = drift_condition(Some(&quiet), Some(&report(&[DriftMetric::Markouts])), 1, "t2");
        assert_eq!((up.reason.as_str(), up.is_true()), ("MarkoutsDrift", true));
        assert_eq!(up.message, "markouts: markouts fell; new positions at 50.00% of full size");
        assert_eq!(e, Some(("DriftAlarm", up.message.clone())));
        // The same alarm standing: no second Event.
        let (same, e) = drift_condition(Some(&up), Some(&report(&[DriftMetric::Markouts])), 1, "t3");
        assert!(same.is_true() && e.is_none());
        // Another metric drifts too: an Event.
        let (both, e) =
            drift_condition(Some(&same), Some(&report(&[DriftMetric::Markouts, DriftMetric::Slippage])), 1, "t4");
        assert_eq!(both.reason, "SeveralDrifts");
        assert!(e.is_some_and(|(_, note)| note.starts_with("markouts, slippage:")));
    }
}

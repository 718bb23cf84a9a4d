//! Kubernetes-style status conditions shared by every polyfleet resource.
//!
//! The shape follows `metav1.Condition` (type, status, reason, message, lastTransitionTime,
//! observedGeneration) so `kubectl wait --for=condition=Ready` and GitOps health checks work.
//! [`set_condition`] is the one place that decides when `lastTransitionTime` moves: only when
//! the status flips, never on a re-write of the same status, so idle reconciles write nothing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The summary condition every kind carries.
pub const READY: &str = "Ready";
/// True while the operator is working towards the desired state.
pub const RECONCILING: &str = "Reconciling";
/// True when progress is blocked and needs a person (bad reference, refused mode ...).
pub const STALLED: &str = "Stalled";
/// Condition type: the operator reaches the data plane (NATS, Redis) this object needs; False
/// with the server and the error while it does not (the operator keeps retrying).
pub const DATA_PLANE: &str = "DataPlaneReachable";

/// Status of a condition: True, False or Unknown.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// One observation of an aspect of the resource's state (a `metav1.Condition`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Kind of condition in CamelCase, e.g. Ready, Reconciling, Stalled, ParametersApplied.
    #[serde(rename = "type")]
    #[schemars(length(max = 316))]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,
    /// Machine-readable CamelCase reason for the last transition.
    #[schemars(length(max = 1024))]
    pub reason: String,
    /// Human-readable message with details about the last transition.
    #[serde(default)]
    #[schemars(length(max = 32768))]
    pub message: String,
    /// RFC 3339 time at which the status last changed.
    pub last_transition_time: String,
    /// The metadata.generation the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// A condition with the given fields, stamped with `now` (RFC 3339) as its transition time.
    pub fn new(
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
        generation: Option<i64>,
        now: &str,
    ) -> Self {
        Self {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message: message.into(),
            last_transition_time: now.to_owned(),
            observed_generation: generation,
        }
    }

    /// True when the condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// Inserts or updates `new` in `conditions`, keyed by type.
///
/// Keeps the previous `lastTransitionTime` when the status did not change, so re-applying the
/// same observation yields an identical list (no API write). Returns true when anything changed.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time.clone();
            }
            if *old == new {
                return false;
            }
            *old = new;
            true
        }
        None => {
            conditions.push(new);
            true
        }
    }
}

/// Looks up a condition by type.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(status: ConditionStatus, reason: &str, now: &str) -> Condition {
        Condition::new(READY, status, reason, "m", Some(3), now)
    }

    #[test]
    fn same_status_keeps_transition_time_and_reports_no_change() {
        let mut list = vec![];
        assert!(set_condition(&mut list, ready(ConditionStatus::True, "Ok", "t1")));
        assert!(!set_condition(&mut list, ready(ConditionStatus::True, "Ok", "t2")));
        assert_eq!(list[0].last_transition_time, "t1");
    }

    #[test]
    fn reason_change_without_flip_keeps_time_but_updates() {
        let mut list = vec![ready(ConditionStatus::True, "Ok", "t1")];
        assert!(set_condition(&mut list, ready(ConditionStatus::True, "Other", "t2")));
        assert_eq!(list[0].reason, "Other");
        assert_eq!(list[0].last_transition_time, "t1");
    }

    #[test]
    fn status_flip_moves_transition_time() {
        let mut list = vec![ready(ConditionStatus::True, "Ok", "t1")];
        assert!(set_condition(&mut list, ready(ConditionStatus::False, "Down", "t2")));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].last_transition_time, "t2");
        assert!(!find_condition(&list, READY).unwrap().is_true());
    }
}

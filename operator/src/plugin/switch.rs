//! `kubectl polyfleet kill|reduce-only|resume`: a RiskPolicy's kill switch (`spec.killSwitch`,
//! and for `resume --reset-trips` the `spec.resetTrips` counter) set by server-side apply under
//! the field manager `kubectl-polyfleet`, optionally waiting until the operator reports the mode
//! in force. A target is a RiskPolicy (`NAME`, `riskpolicy/NAME`) or a Strategy
//! (`strategy/NAME`), which stands for its RiskPolicy: the switch is a policy's, for every
//! Strategy under it at once, and the output names them all.
//!
//! Under GitOps the switch is a spec field that the repository may also set: when another field
//! manager owned it, the output says so, since that tool's next sync may set it back.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use polyfleet_crds::risk_policy::RiskMode;
use polyfleet_crds::{RiskPolicy, Strategy};
use serde::Serialize;
use serde_json::json;

use super::PluginError;

/// The field manager of the plugin's changes.
pub const FIELD_MANAGER: &str = "kubectl-polyfleet";

/// What to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// `halt`: nothing passes, every open order is cancelled.
    Kill,
    /// `reduceOnly`: only what reduces exposure passes, open buys are cancelled.
    ReduceOnly,
    /// `off`: the limits alone decide.
    Resume,
}

impl Switch {
    /// The kill switch it declares.
    pub fn mode(self) -> RiskMode {
        match self {
            Switch::Kill => RiskMode::Halt,
            Switch::ReduceOnly => RiskMode::ReduceOnly,
            Switch::Resume => RiskMode::Off,
        }
    }
}

/// What a command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A RiskPolicy.
    Policy(String),
    /// A Strategy: its RiskPolicy.
    Strategy(String),
}

impl Target {
    /// `NAME` or `riskpolicy/NAME` (also `riskpolicies`, `pfr`, with or without `.polyfleet.dev`),
    /// or `strategy/NAME` (`strategies`, `pfs`).
    pub fn parse(s: &str) -> Result<Target, PluginError> {
        let Some((kind, name)) = s.split_once('/') else {
            return Ok(Target::Policy(s.to_string()));
        };
        let kind = kind.strip_suffix(".polyfleet.dev").unwrap_or(kind).to_ascii_lowercase();
        if name.is_empty() {
            return Err(PluginError::Usage(format!("{s}: no name after the kind")));
        }
        match kind.as_str() {
            "riskpolicy" | "riskpolicies" | "pfr" => Ok(Target::Policy(name.to_string())),
            "strategy" | "strategies" | "pfs" => Ok(Target::Strategy(name.to_string())),
            other => Err(PluginError::Usage(format!(
                "{other}: the kill switch is a RiskPolicy's; name a riskpolicy/NAME or a strategy/NAME"
            ))),
        }
    }
}

/// What a switch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SwitchOutcome {
    /// Namespace.
    pub namespace: String,
    /// The RiskPolicy.
    pub risk_policy: String,
    /// The kill switch before.
    pub was: RiskMode,
    /// The kill switch now declared.
    pub declared: RiskMode,
    /// `resetTrips` before and after, when `--reset-trips` raised it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_trips: Option<(i64, i64)>,
    /// Strategies under the policy, all affected.
    pub strategies: Vec<String>,
    /// The mode in force the operator reported (with `--wait`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_in_force: Option<String>,
    /// The trip still standing, when the mode in force is stricter than declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trip: Option<String>,
    /// Other field managers that had set `killSwitch` (a GitOps tool may set it back).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_managers: Vec<String>,
}

impl SwitchOutcome {
    /// The lines a person reads.
    pub fn text(&self) -> String {
        let name =
            |m: RiskMode| serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let mut out = format!(
            "riskpolicy.polyfleet.dev/{} killSwitch {} (was {})",
            self.risk_policy,
            name(self.declared),
            name(self.was)
        );
        if let Some((from, to)) = self.reset_trips {
            out.push_str(&format!(", resetTrips {to} (was {from})"));
        }
        out.push('\n');
        if self.strategies.is_empty() {
            out.push_str("no Strategy uses this policy\n");
        } else {
            out.push_str(&format!("strategies under it: {}\n", self.strategies.join(", ")));
        }
        if let Some(mode) = &self.mode_in_force {
            out.push_str(&format!("mode in force: {mode}\n"));
        }
        if let Some(trip) = &self.trip {
            out.push_str(&format!(
                "a {trip} trip stands: reduce-only until `resume --reset-trips` or the policy's cooldown\n"
            ));
        }
        if !self.other_managers.is_empty() {
            out.push_str(&format!(
                "note: killSwitch was set by {} too; a GitOps tool's next sync may set it back: change it in the source as well\n",
                self.other_managers.join(", ")
            ));
        }
        out
    }
}

/// Field managers other than `me` that own `spec.<field>` in these managed-field entries.
pub fn other_owners(managed: &[ManagedFieldsEntry], field: &str, me: &str) -> Vec<String> {
    let key = format!("f:{field}");
    let mut out: Vec<String> = managed
        .iter()
        .filter(|m| m.manager.as_deref() != Some(me))
        .filter(|m| m.fields_v1.as_ref().is_some_and(|f| f.0.get("f:spec").and_then(|s| s.get(&key)).is_some()))
        .filter_map(|m| m.manager.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Resolves the target to its RiskPolicy's name.
async fn policy_name(client: &Client, ns: &str, target: &Target) -> Result<String, PluginError> {
    match target {
        Target::Policy(name) => Ok(name.clone()),
        Target::Strategy(name) => {
            let strategies: Api<Strategy> = Api::namespaced(client.clone(), ns);
            let s = strategies.get_opt(name).await?.ok_or_else(|| PluginError::NotFound {
                kind: "strategy",
                name: name.clone(),
                namespace: ns.to_string(),
            })?;
            Ok(s.spec.risk_policy_ref.name)
        }
    }
}

/// Sets the switch; with `wait`, waits until the operator's status has observed the change.
pub async fn apply(
    client: &Client,
    ns: &str,
    target: &Target,
    switch: Switch,
    reset_trips: bool,
    wait: Option<Duration>,
) -> Result<SwitchOutcome, PluginError> {
    let name = policy_name(client, ns, target).await?;
    let policies: Api<RiskPolicy> = Api::namespaced(client.clone(), ns);
    // The resourceVersion makes each attempt conditional: a policy changed meanwhile (a status
    // refresh, another resetTrips) fails it with a conflict, and the next attempt starts from
    // the policy as it is then, so a raised resetTrips counts from the latest value.
    let mut attempts = 0;
    let (before, after, reset) = loop {
        let before = policies.get_opt(&name).await?.ok_or_else(|| PluginError::NotFound {
            kind: "riskpolicy",
            name: name.clone(),
            namespace: ns.to_string(),
        })?;
        let mut spec = json!({"killSwitch": switch.mode()});
        let reset = reset_trips.then(|| (before.spec.reset_trips, before.spec.reset_trips.saturating_add(1)));
        if let Some((_, to)) = reset {
            spec["resetTrips"] = json!(to);
        }
        let patch = json!({
            "apiVersion": "polyfleet.dev/v1alpha1",
            "kind": "RiskPolicy",
            "metadata": {"name": name, "resourceVersion": before.metadata.resource_version},
            "spec": spec,
        });
        match policies.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await {
            Ok(after) => break (before, after, reset),
            Err(kube::Error::Api(e)) if e.code == 409 && attempts < 10 => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let other_managers =
        other_owners(before.metadata.managed_fields.as_deref().unwrap_or_default(), "killSwitch", FIELD_MANAGER);
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), ns);
    let mut under: Vec<String> = strategies
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|s| s.spec.risk_policy_ref.name == name)
        .filter_map(|s| s.metadata.name)
        .collect();
    under.sort();
    let mut outcome = SwitchOutcome {
        namespace: ns.to_string(),
        risk_policy: name.clone(),
        was: before.spec.kill_switch,
        declared: after.spec.kill_switch,
        reset_trips: reset,
        strategies: under,
        mode_in_force: None,
        trip: None,
        other_managers,
    };
    if let Some(timeout) = wait {
        let generation = after.metadata.generation.unwrap_or_default();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let p = policies.get(&name).await?;
            let observed = p.status.as_ref().filter(|s| s.observed_generation.unwrap_or_default() >= generation);
            let applied = observed.filter(|s| reset.is_none_or(|(_, to)| s.reset_trips_applied >= to));
            if let Some(s) = applied.filter(|s| !s.mode.is_empty()) {
                outcome.mode_in_force = Some(s.mode.clone());
                outcome.trip = s.trip.as_ref().map(|t| t.reason.clone());
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PluginError::Timeout(format!(
                    "riskpolicy.polyfleet.dev/{name}: the operator did not report generation {generation} within {timeout:?} \
                     (the change is made; is the operator running?)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;

    #[test]
    fn targets_name_a_policy_or_a_strategy() {
        assert_eq!(Target::parse("default").unwrap(), Target::Policy("default".into()));
        assert_eq!(Target::parse("riskpolicy/desk").unwrap(), Target::Policy("desk".into()));
        assert_eq!(Target::parse("riskpolicies.polyfleet.dev/desk").unwrap(), Target::Policy("desk".into()));
        assert_eq!(Target::parse("pfr/desk").unwrap(), Target::Policy("desk".into()));
        assert_eq!(Target::parse("strategy/arb").unwrap(), Target::Strategy("arb".into()));
        assert_eq!(Target::parse("Strategies/arb").unwrap(), Target::Strategy("arb".into()));
        assert!(matches!(Target::parse("market/x"), Err(PluginError::Usage(m)) if m.contains("RiskPolicy's")));
        assert!(matches!(Target::parse("strategy/"), Err(PluginError::Usage(_))));
    }

    #[test]
    fn another_manager_of_the_kill_switch_is_named() {
        let entry = |manager: &str, fields: serde_json::Value| ManagedFieldsEntry {
            manager: Some(manager.into()),
            fields_v1: Some(FieldsV1(fields)),
            ..Default::default()
        };
        let managed = vec![
            entry("argocd-controller", json!({"f:spec": {"f:killSwitch": {}, "f:maxDailyLossMicros": {}}})),
            entry("polyfleet-operator", json!({"f:status": {"f:mode": {}}})),
            entry(FIELD_MANAGER, json!({"f:spec": {"f:killSwitch": {}}})),
            entry("kustomize-controller", json!({"f:spec": {"f:resetTrips": {}}})),
        ];
        assert_eq!(other_owners(&managed, "killSwitch", FIELD_MANAGER), vec!["argocd-controller".to_string()]);
        assert_eq!(other_owners(&managed, "resetTrips", FIELD_MANAGER), vec!["kustomize-controller".to_string()]);
        assert!(other_owners(&[], "killSwitch", FIELD_MANAGER).is_empty());
    }

    #[test]
    fn the_outcome_reads_as_a_sentence_per_fact() {
        let o = SwitchOutcome {
            namespace: "desk".into(),
            risk_policy: "default".into(),
            was: RiskMode::Halt,
            declared: RiskMode::Off,
            reset_trips: Some((0, 1)),
            strategies: vec!["arb".into(), "mm".into()],
            mode_in_force: Some("reduceOnly".into()),
            trip: Some("dailyLoss".into()),
            other_managers: vec!["argocd-controller".into()],
        };
        let t = o.text();
        assert!(
            t.starts_with("riskpolicy.polyfleet.dev/default killSwitch off (was halt), resetTrips 1 (was 0)\n"),
            "{t}"
        );
        assert!(t.contains("strategies under it: arb, mm\n"), "{t}");
        assert!(t.contains("mode in force: reduceOnly\n"), "{t}");
        assert!(t.contains("a dailyLoss trip stands"), "{t}");
        assert!(t.contains("set by argocd-controller too"), "{t}");
    }
}

//! The RiskPolicy controller. Apply: write the limits to the risk store when they differ from
//! what is there (so `killSwitch: true` reaches the gateway on the next reconcile, and idle
//! resyncs write nothing), and aggregate the store's state into status (exposure, daily PnL,
//! drawdown, worst-case loss at resolution, tripped breakers, the Strategies under the policy,
//! counted from the operator's Strategy store) at a throttled rate: the reconcile requeues every 10 s and patches
//! status only when it changed. Cleanup (finalizer): remove the limits, after which the gateway
//! rejects every intent of the policy (`unknown_policy`).

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use polyfleet_core::Money;
use polyfleet_core::risk::{RiskLimits, RiskSnapshot};
use polyfleet_crds::conditions::{Condition, ConditionStatus, DATA_PLANE, READY, set_condition};
use polyfleet_crds::{RiskPolicy, RiskPolicyStatus};

use super::Error;
use crate::limits::LimitsStore;
use crate::planner::risk::limits;

/// The finalizer of RiskPolicies.
pub const FINALIZER: &str = "polyfleet.dev/riskpolicy";
/// How often status is refreshed from the store.
pub const STATUS_EVERY: Duration = Duration::from_secs(10);

/// What a RiskPolicy reconcile needs.
#[derive(Clone)]
pub struct RiskContext {
    /// The API client.
    pub client: kube::Client,
    /// The risk store.
    pub store: Arc<dyn LimitsStore>,
    /// Events.
    pub recorder: kube::runtime::events::Recorder,
    /// The operator's metrics.
    pub metrics: Arc<crate::metrics::OperatorMetrics>,
    /// The Strategies the operator watches, to count each policy's (`status.strategies`).
    pub strategies: kube::runtime::reflector::Store<polyfleet_crds::Strategy>,
}

/// How many Strategies of `namespace` name the policy `name`.
pub fn strategies_of(
    store: &kube::runtime::reflector::Store<polyfleet_crds::Strategy>,
    namespace: &str,
    name: &str,
) -> i32 {
    let n = store
        .state()
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(namespace) && s.spec.risk_policy_ref.name == name)
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The status from the store's snapshot, or why the store could not be reached (then `Ready`
/// is False with the reason and the figures keep their last known values); `now_ms` decides
/// whether the breaker is tripped.
pub fn desired_status(
    current: Option<&RiskPolicyStatus>,
    generation: i64,
    snap: Result<&RiskSnapshot, String>,
    now_ms: u64,
    now: &str,
) -> RiskPolicyStatus {
    let mut s = current.cloned().unwrap_or_default();
    s.observed_generation = Some(generation);
    let g = Some(generation);
    let snap = match snap {
        Ok(snap) => snap,
        Err(e) => {
            let c = |t: &str| Condition::new(t, ConditionStatus::False, "DataPlaneUnreachable", e.clone(), g, now);
            set_condition(&mut s.conditions, c(READY));
            set_condition(&mut s.conditions, c(DATA_PLANE));
            return s;
        }
    };
    s.exposure_micros = snap.exposure.micros();
    s.exposure = snap.exposure.to_string();
    s.daily_pnl_micros = snap.daily_pnl.micros();
    s.daily_pnl = snap.daily_pnl.to_string();
    s.drawdown_micros = snap.peak.checked_sub(snap.equity).unwrap_or(Money::ZERO).micros().max(0);
    s.worst_case_loss_micros = snap.worst_loss().micros();
    s.worst_case_loss = snap.worst_loss().to_string();
    s.tripped_breakers = if now_ms < snap.breaker_until_ms { vec!["consecutiveLosses".to_string()] } else { vec![] };
    let c = |t: &str, reason: &str, msg: &str| Condition::new(t, ConditionStatus::True, reason, msg, g, now);
    set_condition(&mut s.conditions, c(READY, "LimitsInForce", "limits written to the risk store"));
    set_condition(&mut s.conditions, c(DATA_PLANE, "Connected", ""));
    s
}

/// Reconciles one RiskPolicy.
#[tracing::instrument(skip_all, fields(kind = "RiskPolicy", namespace = policy.namespace().unwrap_or_default(), name = %policy.name_any()))]
pub async fn reconcile(policy: Arc<RiskPolicy>, ctx: Arc<RiskContext>) -> Result<Action, Error> {
    let ns = policy.namespace().unwrap_or_default();
    let api: Api<RiskPolicy> = Api::namespaced(ctx.client.clone(), &ns);
    let started = std::time::Instant::now();
    let result = finalizer(&api, FINALIZER, policy, |event| async {
        match event {
            Finalizer::Apply(p) => apply(&p, &ctx).await,
            Finalizer::Cleanup(p) => {
                ctx.store.remove(&ns, &p.name_any()).await.map_err(|e| Error::Store(e.to_string()))?;
                ctx.metrics.forget_policy(&ns, &p.name_any());
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(Error::from);
    ctx.metrics.reconciled("RiskPolicy", started.elapsed(), &result);
    result
}

async fn apply(policy: &RiskPolicy, ctx: &RiskContext) -> Result<Action, Error> {
    let ns = policy.namespace().unwrap_or_default();
    let name = policy.name_any();
    let desired = limits(&policy.spec);
    let snap = sync_limits(policy, &desired, ctx).await;
    let now = k8s_openapi::jiff::Timestamp::now();
    let status = desired_status(
        policy.status.as_ref(),
        policy.metadata.generation.unwrap_or(0),
        snap.as_ref().map_err(|e| e.to_string()),
        now.as_millisecond().max(0) as u64,
        &now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    let mut status = status;
    status.strategies = strategies_of(&ctx.strategies, &ns, &name);
    if snap.is_ok()
        && let Ok(life) = ctx.store.lifecycle(&ns, &name).await
    {
        status.lifecycle = crate::limits::lifecycle_status(&life);
    }
    ctx.metrics.policy(&ns, &name, &status, &desired);
    if policy.status.as_ref() != Some(&status) {
        let api: Api<RiskPolicy> = Api::namespaced(ctx.client.clone(), &ns);
        super::apply::apply_status(&api, &name, &status).await?;
    }
    // Without the risk store: retried with the error policy's backoff, after status said why.
    snap?;
    Ok(Action::requeue(STATUS_EVERY))
}

/// Writes the limits to the risk store when they differ (with an Event), then reads its state.
async fn sync_limits(policy: &RiskPolicy, desired: &RiskLimits, ctx: &RiskContext) -> Result<RiskSnapshot, Error> {
    let ns = policy.namespace().unwrap_or_default();
    let name = policy.name_any();
    let store = |e: crate::limits::LimitsError| Error::Store(e.to_string());
    if ctx.store.limits(&ns, &name).await.map_err(store)?.as_ref() != Some(desired) {
        ctx.store.set_limits(&ns, &name, desired).await.map_err(store)?;
        let note =
            if desired.kill_switch { "kill switch ENGAGED: every new order is rejected" } else { "limits written" };
        let ev = Event {
            type_: if desired.kill_switch { EventType::Warning } else { EventType::Normal },
            reason: "LimitsApplied".into(),
            note: Some(note.into()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let _ = ctx.recorder.publish(&ev, &policy.object_ref(&())).await;
    }
    ctx.store.snapshot(&ns, &name).await.map_err(store)
}

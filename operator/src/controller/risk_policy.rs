//! The RiskPolicy controller. Apply: write the limits to the risk store when they differ from
//! what is there (so a `killSwitch` mode or a `resetTrips` change reaches the gateway on the next
//! reconcile, and idle resyncs write nothing), and aggregate the store's state into status
//! (exposure, daily PnL, drawdown, worst-case loss at resolution, the mode in force and the
//! daily-loss / drawdown trip with the `Tripped` condition, tripped breakers, the Strategies under
//! the policy, counted from the operator's Strategy store) at a throttled rate: the reconcile
//! requeues every 10 s and patches status only when it changed. Every mode change, trip, reset
//! and cooldown end is recorded in an Event (trips are counted in the store, so one that came and
//! went between two refreshes still shows). Cleanup (finalizer): remove the limits, after which
//! the gateway rejects every intent of the policy (`unknown_policy`).

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use polyfleet_core::risk::{RiskLimits, RiskMode, RiskSnapshot, Trip};
use polyfleet_crds::conditions::{Condition, ConditionStatus, DATA_PLANE, READY, set_condition};
use polyfleet_crds::{RiskPolicy, RiskPolicyStatus};

use super::Error;
use crate::limits::LimitsStore;
use crate::planner::risk::limits;

/// The finalizer of RiskPolicies.
pub const FINALIZER: &str = "polyfleet.dev/riskpolicy";
/// How often status is refreshed from the store.
pub const STATUS_EVERY: Duration = Duration::from_secs(10);
/// The condition that is True while a daily-loss or drawdown trip holds the policy in reduce-only.
pub const TRIPPED: &str = "Tripped";

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
    /// Fleet settings (the notifier's pod).
    pub settings: crate::settings::FleetSettings,
    /// The operator's children (the notifier's Deployment and NetworkPolicy).
    pub children: crate::children::Children,
    /// Where notices for people go (trips, resets, modes, daily summaries).
    pub notices: Arc<dyn crate::notices::NoticeSink>,
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

/// The status from the store's snapshot under `limits` (the declared mode and the trip cooldown),
/// or why the store could not be reached (then `Ready` is False with the reason and the figures
/// keep their last known values); `now_ms` decides whether the breaker and a trip's cooldown are
/// over.
pub fn desired_status(
    current: Option<&RiskPolicyStatus>,
    generation: i64,
    limits: &RiskLimits,
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
    s.pnl_day = i64::try_from(now_ms / 86_400_000).ok();
    s.exposure_micros = snap.exposure.micros();
    s.exposure = snap.exposure.to_string();
    s.daily_pnl_micros = snap.daily_pnl_marked().micros();
    s.daily_pnl = snap.daily_pnl_marked().to_string();
    s.realized_daily_pnl_micros = snap.daily_pnl.micros();
    s.unrealized_pnl_micros = snap.unrealized.micros();
    s.unrealized_pnl = snap.unrealized.to_string();
    s.equity_micros = snap.equity_marked().micros();
    s.drawdown_micros = snap.drawdown().micros();
    s.worst_case_loss_micros = snap.worst_loss().micros();
    s.worst_case_loss = snap.worst_loss().to_string();
    // A trip whose cooldown is over no longer holds (the next decision clears it in the store).
    let mode = snap.trips.effective_at(limits.mode, limits.trip_cooldown_ms, now_ms);
    let trip = snap.trips.holding(limits.trip_cooldown_ms, now_ms);
    s.mode = mode.as_str().to_string();
    s.trip = trip.map(|(t, since)| polyfleet_crds::risk_policy::TripStatus {
        reason: trip_name(t).to_string(),
        since: rfc3339(since),
        until: snap.trips.until(limits.trip_cooldown_ms).map(rfc3339),
    });
    s.daily_loss_trips = i64::try_from(snap.trips.daily_loss_trips).unwrap_or(i64::MAX);
    s.drawdown_trips = i64::try_from(snap.trips.drawdown_trips).unwrap_or(i64::MAX);
    s.reset_trips_applied = i64::try_from(snap.reset_seen).unwrap_or(i64::MAX);
    // The count belongs to the snapshot's UTC day; a day with no decision yet has none.
    s.orders_today = if snap.day == now_ms / 86_400_000 { i64::from(snap.day_orders) } else { 0 };
    s.tripped_breakers = trip.map(|(t, _)| trip_name(t).to_string()).into_iter().collect();
    if now_ms < snap.breaker_until_ms {
        s.tripped_breakers.push("consecutiveLosses".to_string());
    }
    let c = |t: &str, reason: &str, msg: &str| Condition::new(t, ConditionStatus::True, reason, msg, g, now);
    set_condition(&mut s.conditions, c(READY, "LimitsInForce", "limits written to the risk store"));
    set_condition(&mut s.conditions, c(DATA_PLANE, "Connected", ""));
    let tripped = match (&s.trip, trip) {
        (Some(t), Some((kind, _))) => Condition::new(
            TRIPPED,
            ConditionStatus::True,
            match kind {
                Trip::DailyLoss => "DailyLoss",
                Trip::Drawdown => "Drawdown",
            },
            format!(
                "reduce-only since {}: only sells, merges, redemptions and conversions pass; {}",
                t.since,
                t.until.as_ref().map_or_else(
                    || "change spec.resetTrips to resume".to_string(),
                    |u| format!("resumes at {u} or when spec.resetTrips changes")
                )
            ),
            g,
            now,
        ),
        _ => Condition::new(TRIPPED, ConditionStatus::False, "NotTripped", "", g, now),
    };
    set_condition(&mut s.conditions, tripped);
    s
}

/// A trip as status and Events name it.
fn trip_name(t: Trip) -> &'static str {
    match t {
        Trip::DailyLoss => "dailyLoss",
        Trip::Drawdown => "drawdown",
    }
}

fn rfc3339(ms: u64) -> String {
    k8s_openapi::jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The Events a status change calls for: new trips (counted in the store, so none is missed
/// between two refreshes) and a trip that ended by its cooldown. Declared mode changes and resets
/// are recorded when the limits carrying them are written.
pub fn transitions(old: Option<&RiskPolicyStatus>, new: &RiskPolicyStatus) -> Vec<(EventType, &'static str, String)> {
    let mut out = vec![];
    let Some(old) = old else { return out };
    for (name, before, after) in [
        ("dailyLoss", old.daily_loss_trips, new.daily_loss_trips),
        ("drawdown", old.drawdown_trips, new.drawdown_trips),
    ] {
        if after > before {
            out.push((
                EventType::Warning,
                "Tripped",
                format!("{name} trip ({} in all): the policy is reduce-only; new buys are refused", after),
            ));
        }
    }
    if old.trip.is_some() && new.trip.is_none() && new.reset_trips_applied == old.reset_trips_applied {
        out.push((EventType::Normal, "TripCooldownOver", "the trip's cooldown is over: trading resumes".into()));
    }
    out
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

/// Applies the policy's notifier (or removes it when the policy declares no notifications).
async fn apply_notifier(policy: &RiskPolicy, ctx: &RiskContext) -> Result<(), Error> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let ns = policy.namespace().unwrap_or_default();
    let live = &ctx.children;
    match crate::planner::notify::plan_notifier(policy, &ctx.settings) {
        Ok(Some(plan)) => {
            super::apply::apply_if_changed(&ctx.client, live, plan.network_policy).await?;
            if super::apply::apply_if_changed(&ctx.client, live, plan.deployment).await? {
                let ev = Event {
                    type_: EventType::Normal,
                    reason: "NotifierApplied".into(),
                    note: Some(format!("applied {}", crate::planner::notify::notifier_name(&policy.name_any()))),
                    action: "Reconcile".into(),
                    secondary: None,
                };
                let _ = ctx.recorder.publish(&ev, &policy.object_ref(&())).await;
            }
        }
        Ok(None) => {
            let name = crate::planner::notify::notifier_name(&policy.name_any());
            let dp = kube::api::DeleteParams::background();
            if live.live::<Deployment>(&ns, &name).is_some() {
                let _ = Api::<Deployment>::namespaced(ctx.client.clone(), &ns).delete(&name, &dp).await;
            }
            if live.live::<NetworkPolicy>(&ns, &name).is_some() {
                let _ = Api::<NetworkPolicy>::namespaced(ctx.client.clone(), &ns).delete(&name, &dp).await;
            }
        }
        Err(e) => {
            let ev = Event {
                type_: EventType::Warning,
                reason: "NotificationsInvalid".into(),
                note: Some(format!("no notifier: {e}")),
                action: "Reconcile".into(),
                secondary: None,
            };
            let _ = ctx.recorder.publish(&ev, &policy.object_ref(&())).await;
        }
    }
    Ok(())
}

async fn apply(policy: &RiskPolicy, ctx: &RiskContext) -> Result<Action, Error> {
    let ns = policy.namespace().unwrap_or_default();
    let name = policy.name_any();
    apply_notifier(policy, ctx).await?;
    let desired = limits(&policy.spec);
    let snap = sync_limits(policy, &desired, ctx).await;
    let now = k8s_openapi::jiff::Timestamp::now();
    let status = desired_status(
        policy.status.as_ref(),
        policy.metadata.generation.unwrap_or(0),
        &desired,
        snap.as_ref().map_err(|e| e.to_string()),
        now.as_millisecond().max(0) as u64,
        &now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    let mut status = status;
    status.strategies = strategies_of(&ctx.strategies, &ns, &name);
    status.capital_micros = policy.spec.capital_micros;
    status.effective_limits = Some(policy.spec.effective_limits());
    if snap.is_ok()
        && let Ok(life) = ctx.store.lifecycle(&ns, &name).await
    {
        status.lifecycle = crate::limits::lifecycle_status(&life);
    }
    ctx.metrics.policy(&ns, &name, &status, &desired);
    if snap.is_ok() {
        // Published before status moves on: a failure leaves the old status, so the next
        // reconcile finds the same changes and republishes the same ids (dropped as repeats).
        let notices = crate::notices::status_notices(
            &ns,
            &name,
            policy.status.as_ref(),
            &status,
            now.as_millisecond().max(0) as u64,
        );
        for n in &notices {
            ctx.notices.publish(n).await?;
        }
        for (type_, reason, note) in transitions(policy.status.as_ref(), &status) {
            let ev =
                Event { type_, reason: reason.into(), note: Some(note), action: "Observe".into(), secondary: None };
            let _ = ctx.recorder.publish(&ev, &policy.object_ref(&())).await;
        }
    }
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
    let stored = ctx.store.limits(&ns, &name).await.map_err(store)?;
    if stored.as_ref() != Some(desired) {
        // Told before the write: a failed write is retried with the same ids (dropped as repeats).
        let notices = crate::notices::limits_notices(
            &ns,
            &name,
            policy.metadata.generation.unwrap_or(0),
            stored.as_ref(),
            desired,
            policy.status.as_ref().and_then(|s| s.trip.as_ref()),
            k8s_openapi::jiff::Timestamp::now().as_millisecond().max(0) as u64,
        );
        for n in &notices {
            ctx.notices.publish(n).await?;
        }
        ctx.store.set_limits(&ns, &name, desired).await.map_err(store)?;
        let mut notes = vec![];
        if stored.as_ref().is_none_or(|s| s.mode != desired.mode) {
            notes.push(match desired.mode {
                RiskMode::Off => "mode off".to_string(),
                RiskMode::ReduceOnly => "mode REDUCE-ONLY: only what reduces exposure passes".to_string(),
                RiskMode::Halt => "mode HALT (kill switch): every new order is refused".to_string(),
            });
        }
        let reset = stored.as_ref().is_some_and(|s| s.reset != desired.reset);
        if reset {
            let was = policy.status.as_ref().and_then(|s| s.trip.as_ref());
            notes.push(match was {
                Some(t) => format!(
                    "trips reset (resetTrips {}): the {} trip since {} is cleared",
                    desired.reset, t.reason, t.since
                ),
                None => format!("trips reset (resetTrips {}): no trip stood", desired.reset),
            });
        }
        if notes.is_empty() {
            notes.push("limits written".to_string());
        }
        let warn = desired.mode != RiskMode::Off;
        let ev = Event {
            type_: if warn { EventType::Warning } else { EventType::Normal },
            reason: if reset { "TripsReset".into() } else { "LimitsApplied".into() },
            note: Some(notes.join("; ")),
            action: "Reconcile".into(),
            secondary: None,
        };
        let _ = ctx.recorder.publish(&ev, &policy.object_ref(&())).await;
    }
    ctx.store.snapshot(&ns, &name).await.map_err(store)
}

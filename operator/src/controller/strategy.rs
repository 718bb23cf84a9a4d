//! The Strategy controller. Apply: plan the agent ([`crate::planner::strategy`]), apply its
//! ConfigMap, Deployment and Service when they differ, write the parameter document when it
//! differs, and record status: `Ready` (the agent is planned and applied, or why not),
//! `Stalled` (a refusal such as live trading not acknowledged), `Reconciling`, and
//! `ParametersApplied` (True only once the agent acknowledged this generation's parameters).
//! `suspend: true` cancels the strategy's open orders once (condition `Suspended`) and scales the
//! agent to zero. Cleanup (finalizer): cancel every open order, delete the parameter entry; the
//! children go with their owner (garbage collection).

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use polyfleet_core::{Money, TokenId};
use polyfleet_crds::conditions::{Condition, ConditionStatus, DATA_PLANE, READY, RECONCILING, STALLED, set_condition};
use polyfleet_crds::strategy::{Pnl, PositionStatus};
use polyfleet_crds::{Strategy, StrategyStatus};

use super::apply::{apply_if_changed, prune_agents};
use super::{Context, Error};
use crate::limits::StrategyBook;
use crate::params::{ParamsAck, ParamsError, ack};
use crate::planner::markets::MarketView;
use crate::planner::strategy::{Refusal, StrategyPlan, plan_strategy};
use crate::pods::Role;
use polyfleet_core::analytics::scores::ModelScore;
use polyfleet_core::strategy::drift::DriftReport;

/// The finalizer of Strategies.
pub const FINALIZER: &str = "polyfleet.dev/strategy";
/// Condition type: the agent runs this generation's parameters.
pub const PARAMETERS_APPLIED: &str = "ParametersApplied";
/// Condition type: suspended, open orders cancelled, agent scaled to zero.
pub const SUSPENDED: &str = "Suspended";

/// PnL and positions for status from the risk store's book; `market_of` names a token's Market.
pub fn book_status(book: &StrategyBook, market_of: impl Fn(&TokenId) -> String) -> (Pnl, Vec<PositionStatus>) {
    let realized = book.positions.iter().fold(Money::ZERO, |a, (_, p)| a.checked_add(p.realized).unwrap_or(a));
    let unrealized = book.unrealized.iter().fold(Money::ZERO, |a, (_, u)| a.checked_add(*u).unwrap_or(a));
    let total = realized.checked_add(unrealized).unwrap_or(realized);
    let pnl =
        Pnl { realized_micros: realized.micros(), unrealized_micros: unrealized.micros(), total: total.to_string() };
    let positions = book
        .positions
        .iter()
        .filter(|(_, p)| !p.size.is_zero())
        .map(|(t, p)| PositionStatus {
            market: market_of(t),
            token_id: t.to_string(),
            size_micros: i64::try_from(p.size.micros()).unwrap_or(i64::MAX),
            avg_price: p.avg_price().map(|x| x.to_string()).unwrap_or_default(),
        })
        .collect();
    (pnl, positions)
}

/// The status a Strategy should have, from its current status, the plan's outcome, the agent's
/// acknowledgement and its book, or why the data plane holding them could not be reached
/// (`unreachable`: then `Ready` is False with that message, and the acknowledgement, PnL and
/// positions keep their last known values). Pure; `now` stamps conditions that change.
#[allow(clippy::too_many_arguments)]
pub fn desired_status(
    current: Option<&StrategyStatus>,
    generation: i64,
    suspended: bool,
    outcome: &Result<StrategyPlan, Refusal>,
    acked: Option<&ParamsAck>,
    book: Option<(Pnl, Vec<PositionStatus>)>,
    unreachable: Option<&str>,
    now: &str,
) -> StrategyStatus {
    let mut s = current.cloned().unwrap_or_default();
    s.observed_generation = Some(generation);
    if let Some((pnl, positions)) = book {
        s.pnl = pnl;
        s.positions = positions;
    }
    let g = Some(generation);
    let cond = |t: &str, ok: bool, reason: &str, msg: String| {
        Condition::new(t, if ok { ConditionStatus::True } else { ConditionStatus::False }, reason, msg, g, now)
    };
    let (reason, msg) = if suspended {
        ("OrdersCancelled", "open orders cancelled; the agent runs no replica")
    } else {
        ("Running", "")
    };
    set_condition(&mut s.conditions, cond(SUSPENDED, suspended, reason, msg.into()));
    let reached = match unreachable {
        Some(e) => cond(DATA_PLANE, false, "DataPlaneUnreachable", e.to_string()),
        None => cond(DATA_PLANE, true, "Connected", String::new()),
    };
    set_condition(&mut s.conditions, reached);
    match outcome {
        Ok(_) if unreachable.is_some() => {
            let e = unreachable.unwrap_or_default();
            set_condition(&mut s.conditions, cond(READY, false, "DataPlaneUnreachable", e.to_string()));
            set_condition(&mut s.conditions, cond(STALLED, false, "DataPlaneUnreachable", String::new()));
            set_condition(&mut s.conditions, cond(RECONCILING, true, "DataPlaneUnreachable", String::new()));
        }
        Ok(plan) => {
            set_condition(
                &mut s.conditions,
                cond(READY, true, "AgentApplied", format!("trading {}", plan.markets.join(", "))),
            );
            set_condition(&mut s.conditions, cond(STALLED, false, "AgentApplied", String::new()));
            let (ok, reason, msg) = match acked {
                Some(a) if acks(a, generation) && a.applied => (true, "Acknowledged", String::new()),
                Some(a) if acks(a, generation) => {
                    (false, "Refused", a.error.clone().unwrap_or_else(|| "refused by the agent".into()))
                }
                _ => (false, "Pending", format!("waiting for the agent to acknowledge generation {generation}")),
            };
            if ok {
                s.parameters_generation = Some(generation);
            }
            set_condition(&mut s.conditions, cond(PARAMETERS_APPLIED, ok, reason, msg));
            set_condition(&mut s.conditions, cond(RECONCILING, !ok, reason, String::new()));
        }
        Err(r) => {
            set_condition(&mut s.conditions, cond(READY, false, r.reason, r.message.clone()));
            set_condition(&mut s.conditions, cond(STALLED, true, r.reason, r.message.clone()));
            set_condition(&mut s.conditions, cond(RECONCILING, false, r.reason, String::new()));
        }
    }
    s
}

/// RFC 3339 now, seconds.
/// Whether `ack` answers the Strategy's `generation` (the API's i64; the contract's u64).
fn acks(ack: &ParamsAck, generation: i64) -> bool {
    u64::try_from(generation).is_ok_and(|g| g == ack.generation)
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Reconciles one Strategy.
#[tracing::instrument(skip_all, fields(kind = "Strategy", namespace = strategy.namespace().unwrap_or_default(), name = %strategy.name_any()))]
pub async fn reconcile(strategy: Arc<Strategy>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = strategy.namespace().unwrap_or_default();
    let api: Api<Strategy> = Api::namespaced(ctx.client.clone(), &ns);
    let started = std::time::Instant::now();
    let result = finalizer(&api, FINALIZER, strategy, |event| async {
        match event {
            Finalizer::Apply(s) => apply(&s, &ctx).await,
            Finalizer::Cleanup(s) => cleanup(&s, &ctx).await,
        }
    })
    .await
    .map_err(Error::from);
    ctx.metrics.reconciled("Strategy", started.elapsed(), &result);
    result
}

async fn apply(strategy: &Strategy, ctx: &Context) -> Result<Action, Error> {
    let ns = strategy.namespace().unwrap_or_default();
    let name = strategy.name_any();
    let client = ctx.client.clone();
    ctx.cache.ready().await;
    let venue = ctx.cache.venue(&ns, &strategy.spec.venue_ref.name);
    let policy = ctx.cache.policy(&ns, &strategy.spec.risk_policy_ref.name);
    let markets: Vec<MarketView> = ctx.cache.markets_in(&ns).iter().filter_map(|m| MarketView::of(m)).collect();
    let outcome = plan_strategy(strategy, venue.as_deref(), policy.as_deref(), &markets, &ctx.settings);
    let generation = strategy.metadata.generation.unwrap_or(0);
    let mut wrote = vec![];
    let suspended = strategy.spec.suspend;
    let was_suspended =
        strategy.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == SUSPENDED && c.is_true()));
    // Cancel first, then the Deployment goes to zero replicas below. Without the data plane the
    // cancel waits (the condition stays unset, so it is retried), while the scale-down goes on.
    let cancelled = if suspended && !was_suspended {
        let r = ctx.control.cancel_all(&ns, &name, "strategy suspended").await;
        if r.is_ok() {
            wrote.push("cancel-all");
        }
        r.map_err(Error::from)
    } else {
        Ok(())
    };
    if let Ok(plan) = &outcome {
        if let Some(c) = &ctx.credentials {
            c.ensure_copy(&ns).await?;
        }
        let live = &ctx.cache.children;
        if apply_if_changed(&client, live, plan.config_map.clone()).await? {
            wrote.push("ConfigMap");
        }
        if apply_if_changed(&client, live, plan.deployment.clone()).await? {
            wrote.push("Deployment");
        }
        if apply_if_changed(&client, live, plan.service.clone()).await? {
            wrote.push("Service");
        }
        for (d, svc) in &plan.model_objects {
            if apply_if_changed(&client, live, d.clone()).await? {
                wrote.push("model Deployment");
            }
            apply_if_changed(&client, live, svc.clone()).await?;
        }
    }
    // Built-in model publishers no longer asked for (or none, the Strategy refused) go.
    let planned: Vec<String> =
        outcome.as_ref().map(|p| p.models.iter().map(|m| m.name.clone()).collect()).unwrap_or_default();
    for role in [Role::UpDownModel, Role::SportsModel] {
        let labels = [("polyfleet.dev/strategy", name.as_str()), ("app.kubernetes.io/component", role.as_str())];
        if !prune_agents(&client, &ctx.cache.children, &ns, &labels, &planned).await?.is_empty() {
            wrote.push("removed model Deployments");
        }
    }
    // The data plane: the parameter document, the agent's acknowledgement, the book.
    let data = data_plane(strategy, &outcome, ctx, &mut wrote).await;
    let market_of = |t: &TokenId| {
        markets.iter().find(|m| m.all_tokens().any(|x| x == t)).map(|m| m.name.clone()).unwrap_or_default()
    };
    let (acked, book, mut unreachable) = match &data {
        Ok(d) => (d.acked.as_ref(), Some(book_status(&d.book, market_of)), None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    if let Err(e) = &cancelled {
        unreachable.get_or_insert_with(|| e.to_string());
    }
    let status = desired_status(
        strategy.status.as_ref(),
        generation,
        // Suspended only once the cancel went out.
        suspended && (was_suspended || cancelled.is_ok()),
        &outcome,
        acked,
        book,
        unreachable.as_deref(),
        &now(),
    );
    let mut status = status;
    let mut drift_event = None;
    if let Ok(d) = &data {
        status.lifecycle = crate::limits::lifecycle_status(&d.book.lifecycle);
        if let Some(scores) = &d.scores {
            status.scores = scores.iter().map(crate::contract::model_score_status).collect();
        }
        status.twin =
            strategy.spec.shadow_of.as_deref().map(|live| crate::contract::twin_status(live, d.twin.as_ref()));
        // Declared drift alarms: the condition from the agent's report, an Event when new.
        if strategy.spec.drift.is_some() {
            let previous = polyfleet_crds::conditions::find_condition(&status.conditions, crate::drift::DRIFT);
            let (condition, event) = crate::drift::drift_condition(previous, d.drift.as_ref(), generation, &now());
            set_condition(&mut status.conditions, condition);
            drift_event = event;
        } else {
            status.conditions.retain(|c| c.type_ != crate::drift::DRIFT);
        }
    }
    // An experiment arm: the live comparison (arm A steps it, arm B shows it).
    let own_total = data.as_ref().ok().map(|_| status.pnl.realized_micros.saturating_add(status.pnl.unrealized_micros));
    let now_ns = i64::try_from(k8s_openapi::jiff::Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX);
    let mut experiment_wait = None;
    let mut experiment_event = None;
    match crate::experiment::step(strategy, own_total, now_ns, ctx).await {
        Ok(Some((x, wait))) => {
            let was = strategy.status.as_ref().and_then(|s| s.experiment.as_ref()).map(|p| p.outcome);
            set_condition(&mut status.conditions, crate::experiment::condition(&x, generation, &now()));
            if crate::experiment::newly_decided(was, x.outcome) {
                experiment_event = Some(format!("experiment {}: {}", x.name, x.message));
            }
            status.experiment = Some(x);
            experiment_wait = Some(wait);
        }
        Ok(None) => {
            status.experiment = None;
            status.conditions.retain(|c| c.type_ != crate::experiment::EXPERIMENT_DECIDED);
        }
        Err(e) => {
            // Kept as it was; tried again soon.
            tracing::warn!(error = %e, "experiment not compared");
            experiment_wait = Some(Duration::from_secs(5));
        }
    }
    ctx.metrics.strategy(&ns, &name, Some(&status.pnl));
    if strategy.status.as_ref() != Some(&status) {
        let api: Api<Strategy> = Api::namespaced(client, &ns);
        super::apply::apply_status(&api, &name, &status).await?;
    }
    if let Some((reason, note)) = drift_event {
        let ev = Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(note),
            action: "Drift".into(),
            secondary: None,
        };
        let _ = ctx.recorder.publish(&ev, &strategy.object_ref(&())).await;
    }
    if let Some(note) = experiment_event {
        let ev = Event {
            type_: EventType::Normal,
            reason: "ExperimentDecided".into(),
            note: Some(note),
            action: "Experiment".into(),
            secondary: None,
        };
        let _ = ctx.recorder.publish(&ev, &strategy.object_ref(&())).await;
    }
    if !wrote.is_empty() || outcome.is_err() {
        let (type_, reason, note) = match &outcome {
            Ok(_) => (EventType::Normal, "Applied", format!("applied {}", wrote.join(", "))),
            Err(r) => (EventType::Warning, r.reason, r.message.clone()),
        };
        let ev = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
        // Events are best effort: a failure to record one must not fail the reconcile.
        let _ = ctx.recorder.publish(&ev, &strategy.object_ref(&())).await;
    }
    // Data-plane failures are retried with the error policy's backoff, after status said why.
    cancelled?;
    data?;
    // Until the agent acknowledges, look again soon; afterwards a slow resync is enough.
    let settled = status.conditions.iter().any(|c| c.type_ == PARAMETERS_APPLIED && c.is_true());
    // PnL in status refreshes at this throttled rate, never per fill.
    let resync = if settled { Duration::from_secs(30) } else { Duration::from_secs(5) };
    // An experiment arm looks again at the start of its next slot.
    Ok(Action::requeue(experiment_wait.map_or(resync, |w| w.min(resync))))
}

/// What the Strategy's status takes from NATS and Redis.
struct DataPlane {
    acked: Option<ParamsAck>,
    book: StrategyBook,
    scores: Option<Vec<ModelScore>>,
    drift: Option<DriftReport>,
    twin: Option<polyfleet_core::analytics::twins::TwinReport>,
}

/// Writes the parameter document when it differs, then reads the agent's acknowledgement, its
/// forecast scores and drift alarms (an unreadable document counts as none) and the strategy's
/// book: everything the Strategy needs from NATS and Redis.
async fn data_plane(
    strategy: &Strategy,
    outcome: &Result<StrategyPlan, Refusal>,
    ctx: &Context,
    wrote: &mut Vec<&'static str>,
) -> Result<DataPlane, Error> {
    let acked = match outcome {
        Ok(plan) => {
            let doc = plan.params_doc.to_json().map_err(|e| Error::Params(ParamsError(e.to_string())))?;
            if ctx.params.get(&plan.params_key).await?.as_deref() != Some(&doc[..]) {
                ctx.params.put(&plan.params_key, doc).await?;
                wrote.push("parameters");
            }
            ack(ctx.params.as_ref(), &plan.params_key).await?
        }
        Err(_) => None,
    };
    let ns = strategy.namespace().unwrap_or_default();
    let key = polyfleet_core::wire::subjects::scores_key(&ns, &strategy.name_any());
    let scores = ctx.params.get(&key).await?.and_then(|b| serde_json::from_slice(&b).ok());
    let key = polyfleet_core::wire::subjects::drift_key(&ns, &strategy.name_any());
    let drift = match strategy.spec.drift {
        Some(_) => ctx.params.get(&key).await?.and_then(|b| serde_json::from_slice(&b).ok()),
        None => None,
    };
    let twin = match strategy.spec.shadow_of {
        Some(_) => {
            let key = polyfleet_core::wire::subjects::twins_key(&ns, &strategy.name_any());
            ctx.params.get(&key).await?.and_then(|b| serde_json::from_slice(&b).ok())
        }
        None => None,
    };
    let book = ctx
        .risk
        .book(&ns, &strategy.spec.risk_policy_ref.name, &strategy.name_any())
        .await
        .map_err(|e| Error::Store(e.to_string()))?;
    Ok(DataPlane { acked, book, scores, drift, twin })
}

async fn cleanup(strategy: &Strategy, ctx: &Context) -> Result<Action, Error> {
    let ns = strategy.namespace().unwrap_or_default();
    let name = strategy.name_any();
    ctx.control.cancel_all(&ns, &name, "strategy deleted").await?;
    ctx.params.delete(&polyfleet_core::wire::subjects::params_key(&ns, &name)).await?;
    ctx.params.delete(&polyfleet_core::wire::subjects::scores_key(&ns, &name)).await?;
    ctx.params.delete(&polyfleet_core::wire::subjects::drift_key(&ns, &name)).await?;
    ctx.params.delete(&polyfleet_core::wire::subjects::experiment_key(&ns, &name)).await?;
    ctx.params.delete(&polyfleet_core::wire::subjects::twins_key(&ns, &name)).await?;
    ctx.metrics.strategy(&ns, &name, None);
    let ev = Event {
        type_: EventType::Normal,
        reason: "Deleting".into(),
        note: Some("open orders cancelled, parameters removed; children go with the Strategy".into()),
        action: "Cleanup".into(),
        secondary: None,
    };
    let _ = ctx.recorder.publish(&ev, &strategy.object_ref(&())).await;
    Ok(Action::await_change())
}

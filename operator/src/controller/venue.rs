//! The Venue controller. Apply: plan the Venue's agents for the namespace's Markets
//! ([`crate::planner::venue`]): the simulator of a simulator Venue, one market-data Deployment
//! per shard (shards that are no longer planned are deleted, so Markets coming and going
//! rebalance), the execution agent and its markets file; the namespace's risk gateway while the
//! namespace has RiskPolicies; and the agents' NetworkPolicy, owned by every Venue of the
//! namespace. Status: shards, assigned tokens, `Ready`. No finalizer: everything a Venue runs is
//! a Kubernetes object it owns, garbage-collected with it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use polyfleet_crds::conditions::{Condition, ConditionStatus, READY, RECONCILING, set_condition};
use polyfleet_crds::venue::VenueKind;
use polyfleet_crds::{Venue, VenueStatus};

use super::Error;
use super::apply::{apply_if_changed, delete_all, prune_agents};
use crate::children::{Child, Children};
use crate::metrics::OperatorMetrics;
use crate::planner::markets::MarketView;
use crate::planner::network::agents_policy;
use crate::planner::owner_ref;
use crate::planner::risk::{gateway, liquidity_band_bps};
use crate::planner::venue::{VenuePlan, clock_env, plan_venue};
use crate::settings::FleetSettings;

/// How often a settled Venue is looked at again (watches bring every change sooner).
pub const RESYNC: Duration = Duration::from_secs(60);

/// What a Venue reconcile needs.
#[derive(Clone)]
pub struct VenueContext {
    /// The API client.
    pub client: kube::Client,
    /// Fleet settings.
    pub settings: FleetSettings,
    /// The Venues, RiskPolicies and Markets (reflector stores).
    pub cache: crate::cache::Cache,
    /// Events.
    pub recorder: Recorder,
    /// The operator's metrics.
    pub metrics: Arc<OperatorMetrics>,
    /// The agents' Redis credentials, copied into a namespace before its agents are applied.
    pub credentials: Option<Arc<crate::credentials::Credentials>>,
}

/// The status of a Venue with `plan`.
pub fn desired_status(current: Option<&VenueStatus>, generation: i64, plan: &VenuePlan, now: &str) -> VenueStatus {
    let mut s = current.cloned().unwrap_or_default();
    s.observed_generation = Some(generation);
    s.shards = i32::try_from(plan.shards.len()).unwrap_or(i32::MAX);
    s.assigned_assets = i32::try_from(plan.shards.iter().map(|x| x.tokens.len()).sum::<usize>()).unwrap_or(i32::MAX);
    let msg = format!("{} market-data shards serving {} tokens", s.shards, s.assigned_assets);
    let g = Some(generation);
    set_condition(&mut s.conditions, Condition::new(READY, ConditionStatus::True, "AgentsApplied", msg, g, now));
    set_condition(&mut s.conditions, Condition::new(RECONCILING, ConditionStatus::False, "AgentsApplied", "", g, now));
    s
}

/// Reconciles one Venue.
#[tracing::instrument(skip_all, fields(kind = "Venue", namespace = venue.namespace().unwrap_or_default(), name = %venue.name_any()))]
pub async fn reconcile(venue: Arc<Venue>, ctx: Arc<VenueContext>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = apply(&venue, &ctx).await;
    ctx.metrics.reconciled("Venue", started.elapsed(), &result);
    result
}

/// Deletes the child `name` of kind `K` in `ns` if the children's store has it.
async fn delete_if_present<K: Child>(
    client: &kube::Client,
    live: &Children,
    ns: &str,
    name: String,
) -> Result<bool, Error> {
    if live.live::<K>(ns, &name).is_none() {
        return Ok(false);
    }
    Ok(delete_all(&Api::<K>::namespaced(client.clone(), ns), [name]).await? > 0)
}

async fn apply(venue: &Venue, ctx: &VenueContext) -> Result<Action, Error> {
    let ns = venue.namespace().unwrap_or_default();
    let name = venue.name_any();
    let client = ctx.client.clone();
    ctx.cache.ready().await;
    let all_markets = ctx.cache.markets_in(&ns);
    let markets: Vec<MarketView> = all_markets.iter().filter_map(|m| MarketView::of(m)).collect();
    let declared: Vec<&polyfleet_crds::Market> = all_markets.iter().map(|m| m.as_ref()).collect();
    let policies = ctx.cache.policies_in(&ns);
    let venues = ctx.cache.venues_in(&ns);
    let plan = plan_venue(venue, &markets, &declared, &ctx.settings).map_err(|e| Error::Encode(e.0))?;
    if let Some(c) = &ctx.credentials {
        c.ensure_copy(&ns).await?;
    }
    let live = &ctx.cache.children;
    let mut wrote = vec![];
    for cm in &plan.config_maps {
        if apply_if_changed(&client, live, cm.clone()).await? {
            wrote.push(cm.name_any());
        }
    }
    for d in &plan.deployments {
        if apply_if_changed(&client, live, d.clone()).await? {
            wrote.push(d.name_any());
        }
    }
    for s in &plan.services {
        apply_if_changed(&client, live, s.clone()).await?;
    }
    // Shards no longer planned (Markets went away): their Deployments and Services go.
    let planned: Vec<String> = plan.deployments.iter().map(|d| d.name_any()).collect();
    let labels = [("polyfleet.dev/venue", name.as_str()), ("app.kubernetes.io/component", "market-data")];
    let stale = prune_agents(&client, live, &ns, &labels, &planned).await?;
    if !stale.is_empty() {
        wrote.push(format!("removed {}", stale.join(", ")));
    }
    // The namespace's risk gateway, while it has RiskPolicies.
    let specs: Vec<_> = policies.iter().map(|p| &p.spec).collect();
    let (gw, gw_svc) =
        gateway(&ns, &name, liquidity_band_bps(&specs), clock_env(venue), &ctx.settings, owner_ref(venue));
    if policies.is_empty() {
        if delete_if_present::<Deployment>(&client, live, &ns, gw.name_any()).await? {
            wrote.push(format!("removed {} (no RiskPolicy)", gw.name_any()));
        }
        delete_if_present::<Service>(&client, live, &ns, gw_svc.name_any()).await?;
    } else {
        if apply_if_changed(&client, live, gw.clone()).await? {
            wrote.push(gw.name_any());
        }
        apply_if_changed(&client, live, gw_svc).await?;
    }
    // The agents' NetworkPolicy: owned by every Venue here, so it goes with the last one.
    let owners = venues
        .iter()
        .filter(|v| v.meta().deletion_timestamp.is_none())
        .filter_map(|v| {
            owner_ref(&**v).map(|mut o| {
                o.controller = None;
                o
            })
        })
        .collect();
    let simulator = venues.iter().any(|v| v.spec.kind == VenueKind::Simulator);
    let np = agents_policy(&ns, &ctx.settings, simulator, owners);
    if apply_if_changed(&client, live, np).await? {
        wrote.push("NetworkPolicy".into());
    }
    let now = k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let status = desired_status(venue.status.as_ref(), venue.metadata.generation.unwrap_or(0), &plan, &now);
    if venue.status.as_ref() != Some(&status) {
        let api: Api<Venue> = Api::namespaced(client, &ns);
        super::apply::apply_status(&api, &name, &status).await?;
    }
    if !wrote.is_empty() {
        let ev = Event {
            type_: EventType::Normal,
            reason: "Applied".into(),
            note: Some(format!("applied {}", wrote.join(", "))),
            action: "Reconcile".into(),
            secondary: None,
        };
        let _ = ctx.recorder.publish(&ev, &venue.object_ref(&())).await;
    }
    Ok(Action::requeue(RESYNC))
}

//! The running operator: the Strategy and RiskPolicy controllers (kube-runtime `Controller`s)
//! over all namespaces, with their children owned (a deleted Deployment, ConfigMap or Service
//! comes back) and cross-resource watches (a RiskPolicy, Market or Venue change requeues the
//! Strategies that use it). Stops cleanly on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};

use crate::controller::risk_policy::{self, RiskContext};
use crate::controller::{Context, Error, strategy};
use crate::limits::LimitsStore;
use crate::metrics::{KindLabel, OperatorMetrics};
use crate::params::ParamsStore;
use crate::settings::FleetSettings;

fn error_policy<K>(obj: Arc<K>, error: &Error, _ctx: Arc<impl Send + Sync>) -> Action
where
    K: ResourceExt,
{
    tracing::warn!(object = %obj.name_any(), namespace = ?obj.namespace(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(15))
}

/// Runs both controllers until SIGTERM.
pub async fn run(
    client: Client,
    settings: FleetSettings,
    params: Arc<dyn ParamsStore>,
    control: Arc<dyn crate::control::OrderControl>,
    limits: Arc<dyn LimitsStore>,
    metrics: Arc<OperatorMetrics>,
) -> anyhow::Result<()> {
    let reporter = Reporter { controller: "polyfleet-operator".into(), instance: std::env::var("POD_NAME").ok() };
    let recorder = Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings,
        params,
        control,
        risk: limits.clone(),
        recorder: recorder.clone(),
        metrics: metrics.clone(),
    });
    let strategies = Controller::new(Api::<Strategy>::all(client.clone()), watcher::Config::default());
    let store = strategies.store();
    let counted = store.clone();
    let strategy_metrics = metrics.clone();
    // Strategies in `ns` matching `pred`, as requeue targets.
    let users = move |ns: Option<String>, pred: Box<dyn Fn(&Strategy) -> bool + Send>| {
        store
            .state()
            .into_iter()
            .filter(|s| s.namespace() == ns && pred(s))
            .map(|s| ObjectRef::from_obj(&*s))
            .collect::<Vec<_>>()
    };
    let (u1, u2, u3) = (users.clone(), users.clone(), users);
    let strategy_loop = strategies
        .owns(Api::<Deployment>::all(client.clone()), watcher::Config::default())
        .owns(Api::<ConfigMap>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Service>::all(client.clone()), watcher::Config::default())
        .watches(Api::<RiskPolicy>::all(client.clone()), watcher::Config::default(), move |rp| {
            let name = rp.name_any();
            u1(rp.namespace(), Box::new(move |s| s.spec.risk_policy_ref.name == name))
        })
        .watches(Api::<Venue>::all(client.clone()), watcher::Config::default(), move |v| {
            let name = v.name_any();
            u2(v.namespace(), Box::new(move |s| s.spec.venue_ref.name == name))
        })
        .watches(Api::<Market>::all(client.clone()), watcher::Config::default(), move |m| {
            u3(m.namespace(), Box::new(|_| true))
        })
        .shutdown_on_signal()
        .run(strategy::reconcile, error_policy, ctx)
        .for_each(|r| {
            strategy_metrics.managed.get_or_create(&KindLabel { kind: "Strategy" }).set(counted.state().len() as i64);
            async move {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "strategy reconcile");
                }
            }
        });
    let rctx = Arc::new(RiskContext { client: client.clone(), store: limits, recorder, metrics: metrics.clone() });
    let policy_loop = Controller::new(Api::<RiskPolicy>::all(client), watcher::Config::default())
        .shutdown_on_signal()
        .run(risk_policy::reconcile, error_policy, rctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "risk policy reconcile");
            }
        });
    metrics.set_ready(true);
    tracing::info!("controllers running");
    futures::join!(strategy_loop, policy_loop);
    tracing::info!("controllers stopped");
    Ok(())
}

//! The running operator: the Venue, Market, Strategy and RiskPolicy controllers (kube-runtime
//! `Controller`s) over all namespaces, or over a list of namespaces ([`Scope`]: one set of
//! controllers per namespace, for shared clusters where the operator has Roles only), with their
//! children owned (a deleted Deployment, ConfigMap, Service or NetworkPolicy comes back; the
//! children are watched once per kind, through the operator's label selector, for both
//! controllers: [`crate::children`]) and cross-resource watches (a Market change requeues its
//! Venue and the Strategies that select it, a RiskPolicy change its Venues and Strategies, a
//! Venue change its Markets and Strategies). Only the replica holding the leader Lease runs
//! them ([`crate::leader`]); each runs at most [`CONCURRENCY`] reconciles at once. SIGTERM or
//! Ctrl-C stops them gracefully (in-flight reconciles finish) and releases the lease. Failed
//! reconciles retry with exponential backoff per object ([`crate::backoff`]). Reconciles read other objects from the controllers' reflector stores
//! ([`crate::cache`]), never by GET/LIST. NATS and Redis may be down: the controllers run anyway
//! and report it ([`crate::dataplane`]).

use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::books::BookProbe;
use crate::cache::Cache;
use crate::children::ChildWatches;
use crate::controller::market::{self, MarketContext};
use crate::controller::risk_policy::{self, RiskContext};
use crate::controller::venue::{self, VenueContext};
use crate::controller::{Context, Error, strategy};
use crate::leader::Leadership;
use crate::limits::LimitsStore;
use crate::lookup::MarketLookup;
use crate::metrics::{KindLabel, OperatorMetrics};
use crate::params::ParamsStore;
use crate::settings::FleetSettings;

/// What the operator talks to besides the API server.
#[derive(Clone)]
pub struct Stores {
    /// The parameter KV bucket.
    pub params: Arc<dyn ParamsStore>,
    /// Cancelling strategies' orders.
    pub control: Arc<dyn crate::control::OrderControl>,
    /// The risk store.
    pub limits: Arc<dyn LimitsStore>,
    /// The venue's REST answers about Markets.
    pub lookup: Arc<dyn MarketLookup>,
    /// Top of book from the market-data agents.
    pub books: Arc<dyn BookProbe>,
    /// The agents' Redis credentials ([`crate::credentials`]), when Redis has a password.
    pub credentials: Option<Arc<crate::credentials::Credentials>>,
    /// Where notices for people go ([`crate::notices`]).
    pub notices: Arc<dyn crate::notices::NoticeSink>,
}

/// Leader election settings; `None` runs the controllers at once (a single replica, local runs).
pub struct Election {
    /// The operator's namespace (where its Lease lives).
    pub namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
}

/// Where the controllers look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace (a ClusterRole).
    Cluster,
    /// Only these namespaces (a Role in each).
    Namespaces(Vec<String>),
}

impl Scope {
    /// `Cluster` for an empty list, else those namespaces.
    pub fn of(namespaces: Vec<String>) -> Scope {
        if namespaces.is_empty() { Scope::Cluster } else { Scope::Namespaces(namespaces) }
    }
}

/// An API of `K` over the whole cluster (`None`) or one namespace.
pub(crate) fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The backoff key of an object.
fn key<K: Resource<DynamicType = ()>>(name: &str, namespace: Option<&str>) -> String {
    format!("{}/{}/{name}", K::kind(&()), namespace.unwrap_or_default())
}

/// After a failed reconcile: log it and retry with exponential backoff per object.
fn error_policy<K, C>(backoff: Arc<Backoff>) -> impl Fn(Arc<K>, &Error, Arc<C>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    move |obj, error, _ctx| {
        let wait = backoff.failed(&key::<K>(&obj.name_any(), obj.namespace().as_deref()));
        tracing::warn!(object = %obj.name_any(), namespace = ?obj.namespace(), reason = error.reason(), %error, retry_in_s = wait.as_secs(), "reconcile failed");
        Action::requeue(wait)
    }
}

/// The objects in `store` in namespace `ns` matching `pred`, as requeue targets.
fn in_namespace<K>(store: &Store<K>, ns: Option<String>, pred: impl Fn(&K) -> bool) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store.state().into_iter().filter(|o| o.namespace() == ns && pred(o)).map(|o| ObjectRef::from_obj(&*o)).collect()
}

/// Reconciles one controller runs at once. Unbounded (kube-runtime's default), 1,000 new
/// Strategies sent 1,000 reconciles at the API server together and most failed (throttled or
/// timed out) and retried; bounded, they queue in the controller and each goes through once.
pub const CONCURRENCY: u16 = 16;

fn limits() -> controller::Config {
    controller::Config::default().concurrency(CONCURRENCY)
}

/// Resolves on SIGTERM or Ctrl-C.
fn stop_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        let _ = tx.send(true);
    });
    rx
}

async fn fired(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Runs every controller until SIGTERM (or, under leader election, until the lease is lost:
/// then it returns an error so the process restarts and competes again).
pub async fn run(
    client: Client,
    settings: FleetSettings,
    stores: Stores,
    metrics: Arc<OperatorMetrics>,
    election: Option<Election>,
) -> anyhow::Result<()> {
    run_scoped(client, settings, stores, metrics, election, Scope::Cluster).await
}

/// [`run`] over `scope`.
pub async fn run_scoped(
    client: Client,
    settings: FleetSettings,
    stores: Stores,
    metrics: Arc<OperatorMetrics>,
    election: Option<Election>,
    scope: Scope,
) -> anyhow::Result<()> {
    let stop = stop_signal();
    let mut leadership = match election {
        Some(e) => Some(Leadership::join(client.clone(), &e.namespace, &e.identity).await?),
        None => None,
    };
    // A standby is ready: it serves probes and takes over when the leader goes.
    metrics.set_ready(true);
    if let Some(l) = leadership.as_mut() {
        tracing::info!("waiting for the leader lease");
        tokio::select! {
            ok = l.acquired() => anyhow::ensure!(ok, "leader election ended"),
            _ = fired(stop.clone()) => {
                if let Some(l) = leadership.take() {
                    l.release().await;
                }
                return Ok(());
            }
        }
        tracing::info!("leading");
    }
    metrics.leader.set(1);
    let lost = leadership.as_ref().map(|l| l.lost().boxed().shared());
    let shutdown = {
        let lost = lost.clone();
        let stop = stop.clone();
        move || {
            let lost = lost.clone();
            let stop = fired(stop.clone());
            async move {
                match lost {
                    Some(l) => {
                        tokio::select! { _ = l => {}, _ = stop => {} }
                    }
                    None => stop.await,
                }
            }
        }
    };
    match scope {
        Scope::Cluster => controllers(client, settings, stores, metrics.clone(), &shutdown, None).await,
        Scope::Namespaces(list) => {
            let sets = list.iter().map(|ns| {
                controllers(client.clone(), settings.clone(), stores.clone(), metrics.clone(), &shutdown, Some(ns))
            });
            futures::future::join_all(sets).await;
        }
    }
    metrics.leader.set(0);
    let was_stopped = *stop.borrow();
    if let Some(l) = leadership {
        l.release().await;
    }
    anyhow::ensure!(was_stopped, "lost the leader lease; exiting so that a restart competes again");
    Ok(())
}

async fn controllers<S, F>(
    client: Client,
    settings: FleetSettings,
    stores: Stores,
    metrics: Arc<OperatorMetrics>,
    shutdown: S,
    ns: Option<&str>,
) where
    S: Fn() -> F,
    F: Future<Output = ()> + Send + Sync + 'static,
{
    let reporter = Reporter { controller: "polyfleet-operator".into(), instance: std::env::var("POD_NAME").ok() };
    let recorder = Recorder::new(client.clone(), reporter);
    let cfg = watcher::Config::default;
    let backoff = Arc::new(Backoff::default());
    // Children: only what the operator made, each kind watched once for both controllers.
    let children = ChildWatches::new(&client, ns);

    // The controllers first, for their stores: every reconcile reads the others' from them.
    let strategies = Controller::new(api::<Strategy>(&client, ns), cfg()).with_config(limits());
    let venues = Controller::new(api::<Venue>(&client, ns), cfg()).with_config(limits());
    let markets = Controller::new(api::<Market>(&client, ns), cfg()).with_config(limits());
    let policies = Controller::new(api::<RiskPolicy>(&client, ns), cfg()).with_config(limits());
    let (s_store, v_store, m_store, p_store) = (strategies.store(), venues.store(), markets.store(), policies.store());
    let cache = Cache::new(v_store.clone(), p_store.clone(), m_store.clone(), children.stores())
        .with_strategies(s_store.clone());
    let gate = cache.clone();

    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: settings.clone(),
        cache: cache.clone(),
        params: stores.params.clone(),
        control: stores.control,
        risk: stores.limits.clone(),
        recorder: recorder.clone(),
        metrics: metrics.clone(),
        credentials: stores.credentials.clone(),
    });

    // Strategies: requeued by their RiskPolicy, their Venue and any Market of the namespace.
    let (s1, s2, s3, s4) = (s_store.clone(), s_store.clone(), s_store.clone(), s_store.clone());
    let strategy_loop = strategies
        .owns_shared_stream(children.deployments.subscribe())
        .owns_shared_stream(children.config_maps.subscribe())
        .owns_shared_stream(children.services.subscribe())
        .watches(api::<RiskPolicy>(&client, ns), cfg(), move |rp| {
            let name = rp.name_any();
            in_namespace(&s1, rp.namespace(), |s: &Strategy| s.spec.risk_policy_ref.name == name)
        })
        .watches(api::<Venue>(&client, ns), cfg(), move |v| {
            let name = v.name_any();
            in_namespace(&s2, v.namespace(), |s: &Strategy| s.spec.venue_ref.name == name)
        })
        .watches(api::<Market>(&client, ns), cfg(), move |m| {
            // Only the Strategies that select this Market (by name or labels): a Market's status
            // changes every few seconds, and requeueing the whole namespace each time starves
            // the queue at scale.
            let (name, labels) = (m.name_any(), m.labels().clone());
            in_namespace(&s3, m.namespace(), |s: &Strategy| {
                crate::planner::strategy::selects_market(&s.spec.markets, &name, &labels)
            })
        })
        .graceful_shutdown_on(shutdown())
        .run(strategy::reconcile, error_policy(backoff.clone()), ctx)
        .for_each(counting(metrics.clone(), "Strategy", s_store, backoff.clone()));

    // Venues: requeued by their Markets (sharding) and the namespace's RiskPolicies (gateway).
    let vctx = Arc::new(VenueContext {
        client: client.clone(),
        settings: settings.clone(),
        cache: cache.clone(),
        recorder: recorder.clone(),
        metrics: metrics.clone(),
        credentials: stores.credentials.clone(),
    });
    let (v1, v2) = (v_store.clone(), v_store.clone());
    let venue_loop = venues
        .owns_shared_stream(children.deployments.subscribe())
        .owns_shared_stream(children.config_maps.subscribe())
        .owns_shared_stream(children.services.subscribe())
        .owns_shared_stream(children.network_policies.subscribe())
        .watches(api::<Market>(&client, ns), cfg(), move |m| {
            let name = m.spec.venue_ref.name.clone();
            in_namespace(&v1, m.namespace(), |v: &Venue| v.name_any() == name)
        })
        .watches(api::<RiskPolicy>(&client, ns), cfg(), move |rp| in_namespace(&v2, rp.namespace(), |_| true))
        .graceful_shutdown_on(shutdown())
        .run(venue::reconcile, error_policy(backoff.clone()), vctx)
        .for_each(counting(metrics.clone(), "Venue", v_store, backoff.clone()));

    // Markets: requeued by their Venue (endpoints) and by the other Markets of the namespace
    // (their shard moves when Markets come and go).
    let mctx = Arc::new(
        MarketContext::new(client.clone(), stores.lookup, stores.books, cache, recorder.clone(), metrics.clone())
            .with_rounds_kv(stores.params),
    );
    let m1 = m_store.clone();
    let market_loop = markets
        .watches(api::<Venue>(&client, ns), cfg(), move |v| {
            let name = v.name_any();
            in_namespace(&m1, v.namespace(), |m: &Market| m.spec.venue_ref.name == name)
        })
        .graceful_shutdown_on(shutdown())
        .run(market::reconcile, error_policy(backoff.clone()), mctx)
        .for_each(counting(metrics.clone(), "Market", m_store, backoff.clone()));

    let rctx = Arc::new(RiskContext {
        client: client.clone(),
        store: stores.limits,
        recorder,
        metrics: metrics.clone(),
        strategies: s4,
        settings,
        children: children.stores(),
        notices: stores.notices,
    });
    let policy_loop = policies
        .graceful_shutdown_on(shutdown())
        .run(risk_policy::reconcile, error_policy(backoff.clone()), rctx)
        .for_each(counting(metrics.clone(), "RiskPolicy", p_store, backoff.clone()));

    tracing::info!(namespace = ns.unwrap_or("*"), "controllers running");
    futures::join!(gate.gate(), children.run(&shutdown), strategy_loop, venue_loop, market_loop, policy_loop);
    tracing::info!(namespace = ns.unwrap_or("*"), "controllers stopped");
}

/// After each reconcile: the managed-objects gauge of `kind` from its controller's store, and a
/// success clears the object's backoff.
fn counting<K, E>(
    metrics: Arc<OperatorMetrics>,
    kind: &'static str,
    store: Store<K>,
    backoff: Arc<Backoff>,
) -> impl FnMut(Result<(ObjectRef<K>, Action), E>) -> std::future::Ready<()>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
    E: std::fmt::Display,
{
    move |r| {
        metrics.managed.get_or_create(&KindLabel { kind }).set(store.state().len() as i64);
        match r {
            Ok((obj, _)) => backoff.succeeded(&key::<K>(&obj.name, obj.namespace.as_deref())),
            Err(e) => tracing::debug!(kind, error = %e, "controller"),
        }
        std::future::ready(())
    }
}

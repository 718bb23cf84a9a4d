//! The operator's children (the Deployments, ConfigMaps, Services and NetworkPolicies it made),
//! each kind watched once through the operator's label selector into a shared reflector store.
//! The Strategy and Venue controllers are triggered from the same watch
//! (`Controller::owns_shared_stream`), and reconciles read the live child from the store
//! ([`Children::live`]) instead of a GET: at 1,000 Strategies, three GETs per reconcile were the
//! bulk of the operator's API traffic, and seven separate watches held seven copies of the events.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use crate::pods::MANAGED_SELECTOR;

/// Events a shared watch buffers for a subscriber that is busy (the watch waits when one is
/// full, so a slow controller slows the watch instead of losing events).
const BUFFER: usize = 1024;

/// A kind of child, and where [`Children`] keeps it.
pub trait Child:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + serde::Serialize
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// This kind's store.
    fn store(children: &Children) -> &Store<Self>;
}

macro_rules! child {
    ($kind:ty, $field:ident) => {
        impl Child for $kind {
            fn store(children: &Children) -> &Store<Self> {
                &children.$field
            }
        }
    };
}
child!(Deployment, deployments);
child!(ConfigMap, config_maps);
child!(Service, services);
child!(NetworkPolicy, network_policies);

/// The stores of every child kind.
#[derive(Clone)]
pub struct Children {
    deployments: Store<Deployment>,
    config_maps: Store<ConfigMap>,
    services: Store<Service>,
    network_policies: Store<NetworkPolicy>,
}

impl Children {
    /// Stores holding exactly these objects, each with its initial list (tests, benchmarks).
    pub fn of(
        deployments: Vec<Deployment>,
        config_maps: Vec<ConfigMap>,
        services: Vec<Service>,
        network_policies: Vec<NetworkPolicy>,
    ) -> Children {
        Children {
            deployments: filled(deployments),
            config_maps: filled(config_maps),
            services: filled(services),
            network_policies: filled(network_policies),
        }
    }

    /// The child `name` of kind `K` in `ns`, as last seen by the watch.
    pub fn live<K: Child>(&self, ns: &str, name: &str) -> Option<Arc<K>> {
        K::store(self).get(&ObjectRef::new(name).within(ns))
    }

    /// The children of kind `K` in `ns` carrying every label of `labels`.
    pub fn labelled<K: Child>(&self, ns: &str, labels: &[(&str, &str)]) -> Vec<Arc<K>> {
        K::store(self)
            .state()
            .into_iter()
            .filter(|o| o.namespace().as_deref() == Some(ns))
            .filter(|o| labels.iter().all(|(k, v)| o.labels().get(*k).map(String::as_str) == Some(*v)))
            .collect()
    }

    /// The kinds whose store has no initial list yet.
    pub fn pending(&self) -> Vec<&'static str> {
        [
            unready(&self.deployments, "Deployment"),
            unready(&self.config_maps, "ConfigMap"),
            unready(&self.services, "Service"),
            unready(&self.network_policies, "NetworkPolicy"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// `Some(kind)` while `store` has no initial list yet (checked without waiting).
pub(crate) fn unready<K>(store: &Store<K>, kind: &'static str) -> Option<&'static str>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    use futures::FutureExt;
    store.wait_until_ready().now_or_never().is_none().then_some(kind)
}

/// A store holding `objects` after its initial list.
pub(crate) fn filled<K>(objects: Vec<K>) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let (reader, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Init);
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(o));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    reader
}

/// One kind of child watched once: its store, and subscriptions for the controllers it triggers.
pub struct Shared<K: Child> {
    api: Api<K>,
    store: Store<K>,
    writer: Writer<K>,
}

impl<K: Child> Shared<K> {
    /// The watch of `api` through the operator's label selector (not started: see [`Shared::run`]).
    pub fn new(api: Api<K>) -> Shared<K> {
        let (store, writer) = reflector::store_shared(BUFFER);
        Shared { api, store, writer }
    }

    /// A stream of every changed child, for `Controller::owns_shared_stream`.
    #[allow(
        clippy::expect_used,
        reason = "kube-runtime's Writer::subscribe is None only for stores not made by store_shared, and new() makes this one so"
    )]
    pub fn subscribe(&self) -> ReflectHandle<K> {
        self.writer.subscribe().expect("a shared store has a dispatcher")
    }

    /// Drives the watch (with kube-runtime's default backoff on errors) until `stop`.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        let kind = K::kind(&());
        watcher(self.api, watcher::Config::default().labels(MANAGED_SELECTOR))
            .default_backoff()
            .reflect_shared(self.writer)
            .take_until(stop)
            .for_each(|r| {
                if let Err(error) = r {
                    tracing::warn!(%kind, %error, "watch of children failed; retrying");
                }
                std::future::ready(())
            })
            .await;
    }
}

/// The four shared watches of one scope (all namespaces, or one).
pub struct ChildWatches {
    /// Deployments.
    pub deployments: Shared<Deployment>,
    /// ConfigMaps.
    pub config_maps: Shared<ConfigMap>,
    /// Services.
    pub services: Shared<Service>,
    /// NetworkPolicies.
    pub network_policies: Shared<NetworkPolicy>,
}

impl ChildWatches {
    /// The watches over `ns` (`None`: every namespace).
    pub fn new(client: &Client, ns: Option<&str>) -> ChildWatches {
        use crate::run::api;
        ChildWatches {
            deployments: Shared::new(api(client, ns)),
            config_maps: Shared::new(api(client, ns)),
            services: Shared::new(api(client, ns)),
            network_policies: Shared::new(api(client, ns)),
        }
    }

    /// Their stores.
    pub fn stores(&self) -> Children {
        Children {
            deployments: self.deployments.store.clone(),
            config_maps: self.config_maps.store.clone(),
            services: self.services.store.clone(),
            network_policies: self.network_policies.store.clone(),
        }
    }

    /// Drives all four until `stop` resolves (each gets its own copy of the signal).
    pub async fn run<F>(self, stop: impl Fn() -> F)
    where
        F: Future<Output = ()> + Send,
    {
        futures::join!(
            self.deployments.run(stop()),
            self.config_maps.run(stop()),
            self.services.run(stop()),
            self.network_policies.run(stop()),
        );
    }
}

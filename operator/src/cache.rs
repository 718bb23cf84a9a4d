//! What a reconcile reads about other objects, from the controllers' reflector stores instead of
//! GET/LIST calls: the Venues, RiskPolicies and Markets of a namespace. The stores are the ones
//! the Venue, RiskPolicy and Market controllers keep anyway, so the operator holds one copy of
//! each kind and a reconcile costs no API read for them. A reconcile first waits until every
//! store has its initial list ([`Cache::ready`]), so a Strategy is never judged against a
//! half-filled cache (e.g. "Venue not found" at start-up).

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use polyfleet_crds::{Market, RiskPolicy, Venue};

/// The shared reflector stores.
#[derive(Clone)]
pub struct Cache {
    venues: Store<Venue>,
    policies: Store<RiskPolicy>,
    markets: Store<Market>,
}

impl Cache {
    /// Over the controllers' stores.
    pub fn new(venues: Store<Venue>, policies: Store<RiskPolicy>, markets: Store<Market>) -> Cache {
        Cache { venues, policies, markets }
    }

    /// A cache holding exactly these objects (tests, benchmarks, the local planner).
    pub fn of(venues: Vec<Venue>, policies: Vec<RiskPolicy>, markets: Vec<Market>) -> Cache {
        fn filled<K>(objects: Vec<K>) -> Store<K>
        where
            K: kube::Resource<DynamicType = ()> + Clone + 'static,
        {
            let (reader, mut writer) = reflector::store();
            writer.apply_watcher_event(&watcher::Event::Init);
            for o in objects {
                writer.apply_watcher_event(&watcher::Event::InitApply(o));
            }
            writer.apply_watcher_event(&watcher::Event::InitDone);
            reader
        }
        Cache { venues: filled(venues), policies: filled(policies), markets: filled(markets) }
    }

    /// Waits until every store holds its initial list.
    pub async fn ready(&self) {
        let _ = self.venues.wait_until_ready().await;
        let _ = self.policies.wait_until_ready().await;
        let _ = self.markets.wait_until_ready().await;
    }

    /// The Venue `name` of namespace `ns`.
    pub fn venue(&self, ns: &str, name: &str) -> Option<Arc<Venue>> {
        self.venues.get(&ObjectRef::new(name).within(ns))
    }

    /// The RiskPolicy `name` of namespace `ns`.
    pub fn policy(&self, ns: &str, name: &str) -> Option<Arc<RiskPolicy>> {
        self.policies.get(&ObjectRef::new(name).within(ns))
    }

    /// Every Venue of `ns`, by name.
    pub fn venues_in(&self, ns: &str) -> Vec<Arc<Venue>> {
        in_namespace(&self.venues, ns)
    }

    /// Every RiskPolicy of `ns`, by name.
    pub fn policies_in(&self, ns: &str) -> Vec<Arc<RiskPolicy>> {
        in_namespace(&self.policies, ns)
    }

    /// Every Market of `ns`, by name.
    pub fn markets_in(&self, ns: &str) -> Vec<Arc<Market>> {
        in_namespace(&self.markets, ns)
    }
}

/// The objects of `store` in `ns`, sorted by name (a store's order is arbitrary, and plans such
/// as the shard assignment must not depend on it).
fn in_namespace<K>(store: &Store<K>, ns: &str) -> Vec<Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let mut v: Vec<Arc<K>> = store.state().into_iter().filter(|o| o.namespace().as_deref() == Some(ns)).collect();
    v.sort_by_key(|o| o.name_any());
    v
}

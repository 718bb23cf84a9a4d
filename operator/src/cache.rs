//! What a reconcile reads about other objects, from the controllers' reflector stores instead of
//! GET/LIST calls: the Venues, RiskPolicies, Markets and Strategies (an experiment's other arm) of
//! a namespace, and the operator's own children ([`crate::children`]). The stores are the ones the controllers keep anyway, so the
//! operator holds one copy of each kind and a reconcile costs no API read for them. A reconcile
//! first waits until every store has its initial list ([`Cache::ready`]), so a Strategy is never
//! judged against a half-filled cache (e.g. "Venue not found" at start-up).

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};

use crate::children::{Children, filled, unready};

/// The shared reflector stores, and whether all of them hold their initial list.
#[derive(Clone)]
pub struct Cache {
    venues: Store<Venue>,
    policies: Store<RiskPolicy>,
    markets: Store<Market>,
    strategies: Store<Strategy>,
    /// The operator's children, as last seen.
    pub children: Children,
    ready: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Cache {
    /// Over the controllers' stores; not ready until [`Cache::gate`] has seen every initial list.
    pub fn new(venues: Store<Venue>, policies: Store<RiskPolicy>, markets: Store<Market>, children: Children) -> Cache {
        let strategies = filled(vec![]);
        Cache {
            venues,
            policies,
            markets,
            strategies,
            children,
            ready: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// This cache reading Strategies from `strategies` (the Strategy controller's store).
    pub fn with_strategies(mut self, strategies: Store<Strategy>) -> Cache {
        self.strategies = strategies;
        self
    }

    /// A cache holding exactly these objects and no children, ready (tests, benchmarks, the
    /// local planner).
    pub fn of(venues: Vec<Venue>, policies: Vec<RiskPolicy>, markets: Vec<Market>) -> Cache {
        let none = Children::of(vec![], vec![], vec![], vec![]);
        let cache = Cache::new(filled(venues), filled(policies), filled(markets), none);
        cache.ready.send_replace(true);
        cache
    }

    /// This cache with `children` as the live children.
    pub fn with_children(mut self, children: Children) -> Cache {
        self.children = children;
        self
    }

    /// Runs beside the controllers until every store holds its initial list, then opens
    /// [`Cache::ready`]; says which store it still waits for every 10 s.
    ///
    /// The stores' own `wait_until_ready` keeps a single waker (a oneshot inside kube-runtime):
    /// with the controllers' runners and many reconciles waiting on it at once, all but the last
    /// registered waiter can miss the wake-up and hang for good (seen as a Venue never
    /// reconciled). So one gate checks the stores on a timer, and every reconcile waits on the
    /// gate's watch channel, which wakes all of its waiters.
    pub async fn gate(&self) {
        let started = tokio::time::Instant::now();
        let mut warned = 0;
        loop {
            let mut pending: Vec<&str> = [
                unready(&self.venues, "Venue"),
                unready(&self.policies, "RiskPolicy"),
                unready(&self.markets, "Market"),
                unready(&self.strategies, "Strategy"),
            ]
            .into_iter()
            .flatten()
            .collect();
            pending.extend(self.children.pending());
            if pending.is_empty() {
                self.ready.send_replace(true);
                return;
            }
            let waited = started.elapsed().as_secs();
            if waited >= warned + 10 {
                warned = waited;
                tracing::warn!(waited_s = waited, "still waiting for the initial list of {}", pending.join(", "));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits until every store holds its initial list (see [`Cache::gate`]).
    pub async fn ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
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

    /// Every Strategy of `ns`, by name.
    pub fn strategies_in(&self, ns: &str) -> Vec<Arc<Strategy>> {
        in_namespace(&self.strategies, ns)
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

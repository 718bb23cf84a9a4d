//! The fleet implementations of the operator's stores, over the same transports the agents use
//! (`polyfleet-runtime`'s bus and risk store), so the KV keys and the Redis layout are defined
//! once: parameters in the bus's KV bucket (NATS JetStream in the cluster), limits and state in
//! the risk store (Redis). The operator links only these transports, none of the trading logic.

use futures::future::BoxFuture;
use polyfleet_core::risk::{RiskLimits, RiskSnapshot};
use polyfleet_runtime::bus::Bus;
use polyfleet_runtime::risk_store::{PolicyKey, RiskStore};

use crate::limits::{LimitsError, LimitsStore};
use crate::params::{ParamsError, ParamsStore};

/// Parameters in a bus's KV bucket.
pub struct BusParams<B: Bus>(pub B);

impl<B: Bus> ParamsStore for BusParams<B> {
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, ParamsError>> {
        let key = key.to_string();
        Box::pin(async move {
            let e = self.0.kv_get(&key).await.map_err(|e| ParamsError(e.to_string()))?;
            Ok(e.map(|e| e.value.to_vec()))
        })
    }

    fn put(&self, key: &str, doc: Vec<u8>) -> BoxFuture<'_, Result<(), ParamsError>> {
        let key = key.to_string();
        Box::pin(
            async move { self.0.kv_put(&key, doc.into()).await.map(|_| ()).map_err(|e| ParamsError(e.to_string())) },
        )
    }
}

/// Limits and state in a risk store.
pub struct StoreLimits<S: RiskStore>(pub S);

fn err(e: impl std::fmt::Display) -> LimitsError {
    LimitsError(e.to_string())
}

impl<S: RiskStore> LimitsStore for StoreLimits<S> {
    fn limits(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<Option<RiskLimits>, LimitsError>> {
        let key = PolicyKey::new(namespace, policy);
        Box::pin(async move { self.0.limits(&key).await.map_err(err) })
    }

    fn set_limits(&self, namespace: &str, policy: &str, limits: &RiskLimits) -> BoxFuture<'_, Result<(), LimitsError>> {
        let (key, limits) = (PolicyKey::new(namespace, policy), limits.clone());
        Box::pin(async move { self.0.set_limits(&key, &limits).await.map_err(err) })
    }

    fn snapshot(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<RiskSnapshot, LimitsError>> {
        let key = PolicyKey::new(namespace, policy);
        Box::pin(async move { self.0.snapshot(&key).await.map_err(err) })
    }

    fn remove(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<(), LimitsError>> {
        let key = PolicyKey::new(namespace, policy);
        Box::pin(async move { self.0.remove_limits(&key).await.map_err(err) })
    }
}

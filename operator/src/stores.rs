//! The fleet implementations of the operator's stores, over the same transports the agents use
//! (`polyfleet-io`'s bus and risk store), so the KV keys and the Redis layout are defined
//! once: parameters in the bus's KV bucket (NATS JetStream in the cluster), limits and state in
//! the risk store (Redis). The operator links only these transports, none of the trading logic.
//! Each holds its client through [`Lazy`]: until the data plane is reachable every call fails
//! with the reason, and the controllers report it in status.

use std::sync::Arc;

use futures::future::BoxFuture;
use polyfleet_core::risk::{RiskLimits, RiskSnapshot};
use polyfleet_io::bus::Bus;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};

use polyfleet_core::wire::{CancelRequest, Intent, encode, subjects};

use crate::control::{ControlError, OrderControl};
use crate::dataplane::Lazy;
use crate::limits::{LimitsError, LimitsStore, StrategyBook};
use crate::params::{ParamsError, ParamsStore};

fn perr(e: impl std::fmt::Display) -> ParamsError {
    ParamsError(e.to_string())
}

/// Parameters in a bus's KV bucket.
pub struct BusParams<B: Bus>(pub Arc<Lazy<B>>);

impl<B: Bus> ParamsStore for BusParams<B> {
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, ParamsError>> {
        let key = key.to_string();
        Box::pin(async move {
            let e = self.0.get().map_err(perr)?.kv_get(&key).await.map_err(perr)?;
            Ok(e.map(|e| e.value.to_vec()))
        })
    }

    fn put(&self, key: &str, doc: Vec<u8>) -> BoxFuture<'_, Result<(), ParamsError>> {
        let key = key.to_string();
        Box::pin(async move { self.0.get().map_err(perr)?.kv_put(&key, doc.into()).await.map(|_| ()).map_err(perr) })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, Result<(), ParamsError>> {
        let key = key.to_string();
        Box::pin(async move { self.0.get().map_err(perr)?.kv_delete(&key).await.map_err(perr) })
    }
}

/// Cancels through the bus: a cancel-all intent on the strategy's intents subject, which the
/// execution agent takes from the intents stream.
pub struct BusControl<B: Bus>(pub Arc<Lazy<B>>);

impl<B: Bus> OrderControl for BusControl<B> {
    fn cancel_all(&self, namespace: &str, strategy: &str, reason: &str) -> BoxFuture<'_, Result<(), ControlError>> {
        let request = Intent::Cancel(CancelRequest {
            client_order_id: None,
            namespace: namespace.to_string(),
            strategy: strategy.to_string(),
            reason: reason.to_string(),
            created_ts_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        });
        let subject = subjects::intents(namespace, strategy);
        Box::pin(async move {
            self.0
                .get()
                .map_err(|e| ControlError(e.to_string()))?
                .persist(&subject, vec![], encode(&request).into(), None)
                .await
                .map(|_| ())
                .map_err(|e| ControlError(e.to_string()))
        })
    }
}

/// Limits and state in a risk store.
pub struct StoreLimits<S: RiskStore>(pub Arc<Lazy<S>>);

fn err(e: impl std::fmt::Display) -> LimitsError {
    LimitsError(e.to_string())
}

impl<S: RiskStore> LimitsStore for StoreLimits<S> {
    fn limits(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<Option<RiskLimits>, LimitsError>> {
        let key = PolicyKey::new(namespace, policy);
        Box::pin(async move { self.0.get().map_err(err)?.limits(&key).await.map_err(err) })
    }

    fn set_limits(&self, namespace: &str, policy: &str, limits: &RiskLimits) -> BoxFuture<'_, Result<(), LimitsError>> {
        let (key, limits) = (PolicyKey::new(namespace, policy), limits.clone());
        Box::pin(async move { self.0.get().map_err(err)?.set_limits(&key, &limits).await.map_err(err) })
    }

    fn snapshot(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<RiskSnapshot, LimitsError>> {
        let key = PolicyKey::new(namespace, policy);
        Box::pin(async move { self.0.get().map_err(err)?.snapshot(&key).await.map_err(err) })
    }

    fn remove(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<(), LimitsError>> {
        let key = PolicyKey::new(namespace, policy);
        Box::pin(async move { self.0.get().map_err(err)?.remove_limits(&key).await.map_err(err) })
    }

    fn book(&self, namespace: &str, policy: &str, strategy: &str) -> BoxFuture<'_, Result<StrategyBook, LimitsError>> {
        let (key, strategy) = (PolicyKey::new(namespace, policy), strategy.to_string());
        Box::pin(async move {
            Ok(StrategyBook {
                positions: self.0.get().map_err(err)?.positions(&key, &strategy).await.map_err(err)?,
                unrealized: self.0.get().map_err(err)?.unrealized(&key, &strategy).await.map_err(err)?,
                lifecycle: self.0.get().map_err(err)?.lifecycle_totals(&key, Some(&strategy)).await.map_err(err)?,
            })
        })
    }

    fn lifecycle(
        &self,
        namespace: &str,
        policy: &str,
    ) -> BoxFuture<'_, Result<polyfleet_core::accounting::lifecycle::LifecycleTotals, LimitsError>> {
        let key = PolicyKey::new(namespace, policy);
        Box::pin(async move { self.0.get().map_err(err)?.lifecycle_totals(&key, None).await.map_err(err) })
    }
}

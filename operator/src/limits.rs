//! Where RiskPolicy limits go and where the policy's state is read back: the risk store (Redis in
//! the fleet). A trait so the controller is tested without Redis; [`MemoryLimits`] for tests and
//! the local run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use polyfleet_core::accounting::Position;
use polyfleet_core::accounting::lifecycle::LifecycleTotals;
use polyfleet_core::risk::{RiskLimits, RiskSnapshot};
use polyfleet_core::{Money, TokenId};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("risk store: {0}")]
pub struct LimitsError(pub String);

/// The risk store as the operator uses it.
pub trait LimitsStore: Send + Sync + 'static {
    /// The limits in force for `namespace/policy`.
    fn limits(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<Option<RiskLimits>, LimitsError>>;
    /// Writes them (the gateway reads them on its next decision).
    fn set_limits(&self, namespace: &str, policy: &str, limits: &RiskLimits) -> BoxFuture<'_, Result<(), LimitsError>>;
    /// The policy's state (exposure, PnL, breaker).
    fn snapshot(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<RiskSnapshot, LimitsError>>;
    /// Removes the policy's limits (the policy is being deleted: nothing is approved under it).
    fn remove(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<(), LimitsError>>;
    /// A strategy's positions (booked under `policy`) and their last unrealized PnL, by token.
    fn book(&self, namespace: &str, policy: &str, strategy: &str) -> BoxFuture<'_, Result<StrategyBook, LimitsError>>;
    /// The policy's lifecycle totals (every strategy booked under it).
    fn lifecycle(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<LifecycleTotals, LimitsError>>;
}

/// A strategy's positions and marks as the risk store holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyBook {
    /// Ledger positions, by token.
    pub positions: Vec<(TokenId, Position)>,
    /// Unrealized PnL at the executor's last mark, by token.
    pub unrealized: Vec<(TokenId, Money)>,
    /// Merges, splits, redemptions and settlements booked for the strategy.
    pub lifecycle: LifecycleTotals,
}

/// The status block of lifecycle totals.
pub fn lifecycle_status(t: &LifecycleTotals) -> polyfleet_crds::lifecycle::LifecycleStatus {
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    let q = |x: polyfleet_core::Quantity| n(x.micros());
    polyfleet_crds::lifecycle::LifecycleStatus {
        merges: n(t.merges),
        merged_micros: q(t.merged),
        splits: n(t.splits),
        split_micros: q(t.split),
        redemptions: n(t.redemptions),
        redeemed_micros: q(t.redeemed),
        conversions: n(t.conversions),
        settlements: n(t.settlements),
        settled_pnl_micros: t.settled_pnl.micros(),
        capital_returned_micros: t.capital_returned.micros(),
    }
}

/// In memory.
#[derive(Clone, Default)]
pub struct MemoryLimits {
    limits: Arc<Mutex<HashMap<(String, String), RiskLimits>>>,
    /// Snapshots to report, by policy.
    pub snapshots: Arc<Mutex<HashMap<(String, String), RiskSnapshot>>>,
    /// Number of limit writes.
    pub writes: Arc<Mutex<u64>>,
    /// Books to report, by (namespace, strategy).
    pub books: Arc<Mutex<HashMap<(String, String), StrategyBook>>>,
    /// Lifecycle totals to report, by policy.
    pub lifecycles: Arc<Mutex<HashMap<(String, String), LifecycleTotals>>>,
}

fn key(ns: &str, p: &str) -> (String, String) {
    (ns.to_string(), p.to_string())
}

impl LimitsStore for MemoryLimits {
    fn limits(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<Option<RiskLimits>, LimitsError>> {
        let v = self.limits.lock().unwrap_or_else(|e| e.into_inner()).get(&key(namespace, policy)).cloned();
        Box::pin(async move { Ok(v) })
    }

    fn set_limits(&self, namespace: &str, policy: &str, limits: &RiskLimits) -> BoxFuture<'_, Result<(), LimitsError>> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner()).insert(key(namespace, policy), limits.clone());
        *self.writes.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Box::pin(async { Ok(()) })
    }

    fn snapshot(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<RiskSnapshot, LimitsError>> {
        let v = self.snapshots.lock().unwrap_or_else(|e| e.into_inner()).get(&key(namespace, policy)).cloned();
        Box::pin(async move { Ok(v.unwrap_or_default()) })
    }

    fn remove(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<(), LimitsError>> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner()).remove(&key(namespace, policy));
        Box::pin(async { Ok(()) })
    }

    fn book(&self, namespace: &str, _policy: &str, strategy: &str) -> BoxFuture<'_, Result<StrategyBook, LimitsError>> {
        let b = self.books.lock().unwrap_or_else(|e| e.into_inner()).get(&key(namespace, strategy)).cloned();
        Box::pin(async move { Ok(b.unwrap_or_default()) })
    }

    fn lifecycle(&self, namespace: &str, policy: &str) -> BoxFuture<'_, Result<LifecycleTotals, LimitsError>> {
        let v = self.lifecycles.lock().unwrap_or_else(|e| e.into_inner()).get(&key(namespace, policy)).copied();
        Box::pin(async move { Ok(v.unwrap_or_default()) })
    }
}

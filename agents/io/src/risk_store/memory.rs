//! The in-memory risk store: the core's reference model ([`RiskState`]) per policy behind a
//! mutex, with the same idempotency records as the Redis store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use polyfleet_core::accounting::Position;
use polyfleet_core::accounting::lifecycle::{Booking, Lifecycle, LifecycleTotals};
use polyfleet_core::risk::{RiskLimits, RiskMode, RiskSnapshot, RiskState};
use polyfleet_core::wire::{FillStatus, OrderIntent, RejectReason, Resolution};
use polyfleet_core::{ClientOrderId, Money, Side, TokenId, TokenMap};

use super::{Claim, FillCommit, PolicyKey, RiskStore, RiskStoreError, commit_key};

#[derive(Default)]
struct Policy {
    limits: Option<RiskLimits>,
    risk: RiskState,
    fills: HashSet<String>,
    ledgers: HashMap<String, TokenMap<Position>>,
    settled: std::collections::BTreeMap<String, Resolution>,
    /// Lifecycle totals: the policy's, and by strategy.
    life: LifecycleTotals,
    life_by: HashMap<String, LifecycleTotals>,
    /// None: claimed, not finished; Some: executed, with its outcome.
    orders: HashMap<ClientOrderId, Option<Bytes>>,
}

/// The in-memory risk store; clones share it.
#[derive(Clone, Default)]
pub struct MemoryRiskStore {
    policies: Arc<Mutex<HashMap<PolicyKey, Policy>>>,
    live: Arc<Mutex<std::collections::BTreeMap<(String, String), Bytes>>>,
}

impl MemoryRiskStore {
    /// An empty store.
    pub fn new() -> MemoryRiskStore {
        MemoryRiskStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PolicyKey, Policy>> {
        self.policies.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RiskStore for MemoryRiskStore {
    async fn remember_live(&self, venue: &str, venue_order_id: &str, intent: Bytes) -> Result<(), RiskStoreError> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).insert((venue.into(), venue_order_id.into()), intent);
        Ok(())
    }

    async fn forget_live(&self, venue: &str, venue_order_id: &str) -> Result<(), RiskStoreError> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).remove(&(venue.to_string(), venue_order_id.to_string()));
        Ok(())
    }

    async fn committed(&self, policy: &PolicyKey, keys: &[String]) -> Result<Vec<bool>, RiskStoreError> {
        let all = self.lock();
        Ok(keys.iter().map(|k| all.get(policy).is_some_and(|p| p.fills.contains(k))).collect())
    }

    async fn live_orders(&self, venue: &str) -> Result<Vec<(String, Bytes)>, RiskStoreError> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        Ok(live.iter().filter(|((v, _), _)| v == venue).map(|((_, id), b)| (id.clone(), b.clone())).collect())
    }

    async fn commit_lifecycle_marked(
        &self,
        policy: &PolicyKey,
        strategy: &str,
        id: &str,
        booked: &Lifecycle,
        what: Booking<'_>,
        marks: &[(TokenId, Money)],
        now_ms: u64,
    ) -> Result<bool, RiskStoreError> {
        let mut all = self.lock();
        let p = all.entry(policy.clone()).or_default();
        if !p.fills.insert(id.to_string()) {
            return Ok(false);
        }
        p.risk.on_marks(strategy, marks, false, now_ms);
        let payouts = match what {
            Booking::Settlement(r) => r.payouts.as_slice(),
            Booking::Ctf(_) => &[],
        };
        p.risk.on_lifecycle(&booked.shares, booked.cost, booked.realized, payouts, now_ms);
        let ledger = p.ledgers.entry(strategy.to_string()).or_default();
        for (t, pos) in &booked.positions {
            ledger.insert(*t, *pos);
        }
        if let Booking::Settlement(r) = what {
            p.settled.insert(r.market.to_string(), r.clone());
        }
        let delta = LifecycleTotals::of(what, booked);
        p.life = p.life.plus(&delta);
        let mine = p.life_by.entry(strategy.to_string()).or_default();
        *mine = mine.plus(&delta);
        Ok(true)
    }

    async fn lifecycle_totals(
        &self,
        policy: &PolicyKey,
        strategy: Option<&str>,
    ) -> Result<LifecycleTotals, RiskStoreError> {
        let all = self.lock();
        let Some(p) = all.get(policy) else { return Ok(LifecycleTotals::default()) };
        Ok(match strategy {
            None => p.life,
            Some(s) => p.life_by.get(s).copied().unwrap_or_default(),
        })
    }

    async fn settlements(&self, policy: &PolicyKey) -> Result<Vec<Resolution>, RiskStoreError> {
        Ok(self.lock().get(policy).map(|p| p.settled.values().cloned().collect()).unwrap_or_default())
    }

    async fn set_limits(&self, policy: &PolicyKey, limits: &RiskLimits) -> Result<(), RiskStoreError> {
        let mut all = self.lock();
        let p = all.entry(policy.clone()).or_default();
        p.risk.set_limits(limits);
        p.limits = Some(limits.clone());
        Ok(())
    }

    async fn mode(&self, policy: &PolicyKey, now_ms: u64) -> Result<Option<RiskMode>, RiskStoreError> {
        let all = self.lock();
        Ok(all.get(policy).and_then(|p| Some(p.risk.effective_mode(p.limits.as_ref()?, now_ms))))
    }

    async fn limits(&self, policy: &PolicyKey) -> Result<Option<RiskLimits>, RiskStoreError> {
        Ok(self.lock().get(policy).and_then(|p| p.limits.clone()))
    }

    async fn remove_limits(&self, policy: &PolicyKey) -> Result<(), RiskStoreError> {
        if let Some(p) = self.lock().get_mut(policy) {
            p.limits = None;
        }
        Ok(())
    }

    async fn decide_set(
        &self,
        policy: &PolicyKey,
        legs: &[OrderIntent],
        book_liquidity: &[Option<Money>],
        now_ms: u64,
    ) -> Result<Result<(), RejectReason>, RiskStoreError> {
        let mut all = self.lock();
        let p = all.entry(policy.clone()).or_default();
        let Some(limits) = p.limits.clone() else { return Ok(Err(RejectReason::UnknownPolicy)) };
        Ok(p.risk.check_set(&limits, legs, book_liquidity, now_ms))
    }

    async fn release(&self, policy: &PolicyKey, id: &ClientOrderId) -> Result<(), RiskStoreError> {
        self.lock().entry(policy.clone()).or_default().risk.release(id);
        Ok(())
    }

    async fn claim(&self, policy: &PolicyKey, id: &ClientOrderId) -> Result<Claim, RiskStoreError> {
        let mut all = self.lock();
        let p = all.entry(policy.clone()).or_default();
        Ok(match p.orders.get(id) {
            None => {
                p.orders.insert(*id, None);
                Claim::Fresh
            }
            Some(None) => Claim::Pending,
            Some(Some(outcome)) => Claim::Done(outcome.clone()),
        })
    }

    async fn commit_marked(
        &self,
        policy: &PolicyKey,
        id: &ClientOrderId,
        fills: &[FillCommit],
        marks: &[(TokenId, Money)],
        finished: bool,
        outcome: Option<Bytes>,
        now_ms: u64,
    ) -> Result<(), RiskStoreError> {
        let mut all = self.lock();
        let p = all.entry(policy.clone()).or_default();
        let breaker = p.limits.as_ref().and_then(|l| l.circuit_breaker);
        if let Some(first) = fills.first() {
            p.risk.on_marks(&first.fill.strategy, marks, false, now_ms);
        }
        for c in fills {
            if !p.fills.insert(commit_key(&c.fill).into_owned()) {
                continue;
            }
            let f = &c.fill;
            if f.status == FillStatus::Failed {
                p.risk.on_reversal(f.side, f.size, c.cost, f.token);
                p.risk.on_realized(breaker, c.realized, None, now_ms);
            } else {
                p.risk.on_fill(id, f.side, f.size, c.cost, f.token);
                p.risk.on_realized(breaker, c.realized, (f.side == Side::Sell).then_some(&c.round_trip), now_ms);
            }
            p.ledgers.entry(f.strategy.clone()).or_default().insert(f.token, c.position);
        }
        if finished {
            p.risk.release(id);
        }
        let slot = p.orders.entry(*id).or_default();
        *slot = outcome.or_else(|| slot.take()).or(Some(Bytes::new()));
        Ok(())
    }

    async fn snapshot(&self, policy: &PolicyKey) -> Result<RiskSnapshot, RiskStoreError> {
        Ok(self.lock().get(policy).map(|p| p.risk.snapshot()).unwrap_or_default())
    }

    async fn revalue(
        &self,
        policy: &PolicyKey,
        strategy: &str,
        marks: &[(TokenId, Money)],
        now_ms: u64,
    ) -> Result<(), RiskStoreError> {
        let mut all = self.lock();
        let p = all.entry(policy.clone()).or_default();
        p.risk.revalue(p.limits.as_ref(), strategy, marks, now_ms);
        Ok(())
    }

    async fn unrealized(&self, policy: &PolicyKey, strategy: &str) -> Result<Vec<(TokenId, Money)>, RiskStoreError> {
        Ok(self.lock().get(policy).map(|p| p.risk.marks(strategy)).unwrap_or_default())
    }

    async fn positions(&self, policy: &PolicyKey, strategy: &str) -> Result<Vec<(TokenId, Position)>, RiskStoreError> {
        let all = self.lock();
        let mut out: Vec<(TokenId, Position)> = all
            .get(policy)
            .and_then(|p| p.ledgers.get(strategy))
            .map(|l| l.iter().map(|(t, p)| (*t, *p)).collect())
            .unwrap_or_default();
        out.sort_by_key(|(t, _)| t.to_string());
        Ok(out)
    }
}

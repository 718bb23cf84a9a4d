//! The operator's Prometheus metrics and its HTTP endpoint (`/metrics`, `/healthz`, `/readyz`):
//! reconciles and failures by kind (and failure reason), reconcile duration, objects managed,
//! leadership, and the trading state the controllers already read at their throttled rates
//! (each RiskPolicy's exposure, daily PnL, drawdown, kill switch and breaker; each Strategy's
//! PnL), so alerts and dashboards need no other exporter. These gauges are for display and
//! alerting only; the accounted values stay fixed point in Redis and in status.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::controller::Error;

/// Label: the resource kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The resource kind.
    pub kind: &'static str,
}

/// Label: a RiskPolicy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabel {
    /// Namespace.
    pub namespace: String,
    /// RiskPolicy name.
    pub policy: String,
}

/// Label: one limit of a RiskPolicy (`gross_exposure`, `daily_loss`, `drawdown`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    /// Namespace.
    pub namespace: String,
    /// RiskPolicy name.
    pub policy: String,
    /// The limit.
    pub limit: &'static str,
}

/// Label: a RiskPolicy's mode (`off`, `reduceOnly`, `halt`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabel {
    /// Namespace.
    pub namespace: String,
    /// RiskPolicy name.
    pub policy: String,
    /// The mode.
    pub mode: &'static str,
}

/// The modes, as labelled.
const MODES: [&str; 3] = ["off", "reduceOnly", "halt"];

/// Label: a Strategy's PnL part (`realized` or `unrealized`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PnlLabel {
    /// Namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// `realized` or `unrealized`.
    pub part: &'static str,
}

type Usdc<L> = Family<L, Gauge<f64, AtomicU64>>;

/// Label: kind and failure reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabel {
    /// The resource kind.
    pub kind: &'static str,
    /// Why it failed.
    pub reason: &'static str,
}

type Durations = Family<KindLabel, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0])
}

/// Every metric of the operator.
pub struct OperatorMetrics {
    /// Reconciles run, by kind.
    pub reconciles: Family<KindLabel, Counter>,
    /// Reconciles failed, by kind and reason.
    pub failures: Family<FailureLabel, Counter>,
    /// Reconcile duration, seconds, by kind.
    pub duration: Durations,
    /// Objects seen by their controller, by kind.
    pub managed: Family<KindLabel, Gauge>,
    /// 1 while this replica holds the leader lease and runs the controllers.
    pub leader: Gauge,
    /// Gross exposure per RiskPolicy, USDC.
    pub policy_exposure: Usdc<PolicyLabel>,
    /// Today's PnL per RiskPolicy, USDC.
    pub policy_daily_pnl: Usdc<PolicyLabel>,
    /// Drop from the equity peak per RiskPolicy, USDC.
    pub policy_drawdown: Usdc<PolicyLabel>,
    /// Worst-case loss at resolution per RiskPolicy, USDC.
    pub policy_worst_case_loss: Usdc<PolicyLabel>,
    /// Per RiskPolicy and mode: 1 for the mode in force (declared or tripped), 0 for the others.
    pub policy_mode: Family<ModeLabel, Gauge>,
    /// Daily-loss and drawdown trips per RiskPolicy so far (kept in the risk store), by `limit`.
    pub policy_trips: Family<LimitLabel, Gauge>,
    /// Breakers tripped per RiskPolicy.
    pub policy_breakers_tripped: Family<PolicyLabel, Gauge>,
    /// Money limits per RiskPolicy, USDC (to draw exposure and losses against).
    pub policy_limit: Usdc<LimitLabel>,
    /// PnL per Strategy and part, USDC.
    pub strategy_pnl: Usdc<PnlLabel>,
    ready: AtomicBool,
    registry: Registry,
}

impl OperatorMetrics {
    /// Registers under `polyfleet_operator`.
    pub fn new() -> Arc<OperatorMetrics> {
        let mut registry = Registry::with_prefix("polyfleet_operator");
        let m = OperatorMetrics {
            reconciles: Family::default(),
            failures: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            managed: Family::default(),
            leader: Gauge::default(),
            policy_exposure: Family::default(),
            policy_daily_pnl: Family::default(),
            policy_drawdown: Family::default(),
            policy_worst_case_loss: Family::default(),
            policy_mode: Family::default(),
            policy_trips: Family::default(),
            policy_breakers_tripped: Family::default(),
            policy_limit: Family::default(),
            strategy_pnl: Family::default(),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("reconciles", "Reconciles run, by kind", m.reconciles.clone());
        registry.register("failures", "Reconciles failed, by kind and reason", m.failures.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration", m.duration.clone());
        registry.register("managed_objects", "Objects seen by their controller", m.managed.clone());
        registry.register("leader", "1 while this replica holds the leader lease", m.leader.clone());
        registry.register("policy_exposure_usdc", "Gross exposure per RiskPolicy", m.policy_exposure.clone());
        registry.register("policy_daily_pnl_usdc", "Today's PnL per RiskPolicy", m.policy_daily_pnl.clone());
        registry.register(
            "policy_drawdown_usdc",
            "Drop from the equity peak per RiskPolicy",
            m.policy_drawdown.clone(),
        );
        registry.register(
            "policy_worst_case_loss_usdc",
            "Worst-case loss at resolution per RiskPolicy (exposure minus the least the positions pay)",
            m.policy_worst_case_loss.clone(),
        );
        registry.register(
            "policy_mode",
            "1 for the mode in force per RiskPolicy (off, reduceOnly, halt), 0 for the others",
            m.policy_mode.clone(),
        );
        registry.register(
            "policy_trips",
            "Daily-loss and drawdown trips per RiskPolicy so far",
            m.policy_trips.clone(),
        );
        registry.register(
            "policy_breakers_tripped",
            "Breakers tripped per RiskPolicy",
            m.policy_breakers_tripped.clone(),
        );
        registry.register("policy_limit_usdc", "Money limits per RiskPolicy", m.policy_limit.clone());
        registry.register("strategy_pnl_usdc", "PnL per Strategy (realized, unrealized)", m.strategy_pnl.clone());
        Arc::new(OperatorMetrics { registry, ..m })
    }

    /// Records one reconcile.
    pub fn reconciled<T>(&self, kind: &'static str, took: Duration, result: &Result<T, Error>) {
        self.reconciles.get_or_create(&KindLabel { kind }).inc();
        self.duration.get_or_create(&KindLabel { kind }).observe(took.as_secs_f64());
        if let Err(e) = result {
            self.failures.get_or_create(&FailureLabel { kind, reason: e.reason() }).inc();
        }
    }

    /// Records a RiskPolicy's state (from its status) and money limits.
    pub fn policy(
        &self,
        namespace: &str,
        policy: &str,
        s: &polyfleet_crds::RiskPolicyStatus,
        limits: &polyfleet_core::risk::RiskLimits,
    ) {
        let loss_at_resolution = limits.max_loss_at_resolution.map(|m| ("loss_at_resolution", m));
        for (limit, m) in [
            ("gross_exposure", limits.max_gross_exposure),
            ("daily_loss", limits.max_daily_loss),
            ("drawdown", limits.max_drawdown),
        ]
        .into_iter()
        .chain(loss_at_resolution)
        {
            let l = LimitLabel { namespace: namespace.into(), policy: policy.into(), limit };
            self.policy_limit.get_or_create(&l).set(m.micros() as f64 / 1e6);
        }
        let l = PolicyLabel { namespace: namespace.into(), policy: policy.into() };
        let usdc = |micros: i64| micros as f64 / 1e6;
        self.policy_exposure.get_or_create(&l).set(usdc(s.exposure_micros));
        self.policy_daily_pnl.get_or_create(&l).set(usdc(s.daily_pnl_micros));
        self.policy_drawdown.get_or_create(&l).set(usdc(s.drawdown_micros));
        self.policy_worst_case_loss.get_or_create(&l).set(usdc(s.worst_case_loss_micros));
        for mode in MODES {
            let m = ModeLabel { namespace: namespace.into(), policy: policy.into(), mode };
            self.policy_mode.get_or_create(&m).set(i64::from(s.mode == mode));
        }
        for (limit, n) in [("daily_loss", s.daily_loss_trips), ("drawdown", s.drawdown_trips)] {
            let t = LimitLabel { namespace: namespace.into(), policy: policy.into(), limit };
            self.policy_trips.get_or_create(&t).set(n);
        }
        self.policy_breakers_tripped.get_or_create(&l).set(s.tripped_breakers.len() as i64);
    }

    /// Forgets a deleted RiskPolicy.
    pub fn forget_policy(&self, namespace: &str, policy: &str) {
        let l = PolicyLabel { namespace: namespace.into(), policy: policy.into() };
        self.policy_exposure.remove(&l);
        self.policy_daily_pnl.remove(&l);
        self.policy_drawdown.remove(&l);
        self.policy_worst_case_loss.remove(&l);
        for mode in MODES {
            self.policy_mode.remove(&ModeLabel { namespace: namespace.into(), policy: policy.into(), mode });
        }
        for limit in ["daily_loss", "drawdown"] {
            self.policy_trips.remove(&LimitLabel { namespace: namespace.into(), policy: policy.into(), limit });
        }
        self.policy_breakers_tripped.remove(&l);
        for limit in ["gross_exposure", "daily_loss", "drawdown", "loss_at_resolution"] {
            self.policy_limit.remove(&LimitLabel { namespace: namespace.into(), policy: policy.into(), limit });
        }
    }

    /// Records a Strategy's PnL (from its status); `None` forgets it.
    pub fn strategy(&self, namespace: &str, strategy: &str, pnl: Option<&polyfleet_crds::strategy::Pnl>) {
        for (part, micros) in
            [("realized", pnl.map(|p| p.realized_micros)), ("unrealized", pnl.map(|p| p.unrealized_micros))]
        {
            let l = PnlLabel { namespace: namespace.into(), strategy: strategy.into(), part };
            match micros {
                Some(m) => {
                    self.strategy_pnl.get_or_create(&l).set(m as f64 / 1e6);
                }
                None => {
                    self.strategy_pnl.remove(&l);
                }
            }
        }
    }

    /// Marks the operator ready (leading, or a standby waiting for the lease).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

pub use polyfleet_io::probes::{Probe, serve};

impl Probe for OperatorMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

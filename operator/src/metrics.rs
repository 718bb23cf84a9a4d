//! The operator's Prometheus metrics and its HTTP endpoint (`/metrics`, `/healthz`, `/readyz`):
//! reconciles and failures by kind (and failure reason), reconcile duration, and objects
//! managed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    pub kind: &'static str,
}

/// Label: kind and failure reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabel {
    pub kind: &'static str,
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
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("reconciles", "Reconciles run, by kind", m.reconciles.clone());
        registry.register("failures", "Reconciles failed, by kind and reason", m.failures.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration", m.duration.clone());
        registry.register("managed_objects", "Objects seen by their controller", m.managed.clone());
        registry.register("leader", "1 while this replica holds the leader lease", m.leader.clone());
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

    /// Marks the operator ready (leading, or a standby waiting for the lease).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

pub use polyfleet_runtime::probes::{Probe, serve};

impl Probe for OperatorMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

//! The notifier's metrics: notices by target, kind and outcome, and malformed notices skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polyfleet_core::wire::NoticeKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::send::Outcome;
use crate::metrics::Probe;

/// Labels of a notice counted.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NoticeLabel {
    /// The target's name.
    pub target: String,
    /// The notice's kind.
    pub kind: String,
    /// sent, refused or gave_up.
    pub outcome: String,
}

/// Every metric of the notifier.
pub struct NotifyMetrics {
    /// Notices per target, kind and outcome.
    pub notices: Family<NoticeLabel, Counter>,
    /// Notices that did not decode, skipped.
    pub malformed: Counter,
    ready: AtomicBool,
    registry: Registry,
}

impl NotifyMetrics {
    /// Registers the metrics.
    pub fn new() -> Arc<NotifyMetrics> {
        let mut registry = Registry::with_prefix("polyfleet_notify");
        let notices = Family::<NoticeLabel, Counter>::default();
        registry.register("notices", "Notices per target, kind and outcome", notices.clone());
        let malformed = Counter::default();
        registry.register("malformed", "Notices that did not decode, skipped", malformed.clone());
        Arc::new(NotifyMetrics { notices, malformed, ready: AtomicBool::new(false), registry })
    }

    /// Counts one notice's outcome at one target.
    pub fn count(&self, target: &str, kind: NoticeKind, outcome: Outcome) {
        let label = NoticeLabel { target: target.into(), kind: kind.as_str().into(), outcome: outcome.as_str().into() };
        self.notices.get_or_create(&label).inc();
    }

    /// Marks the agent ready (consuming) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

impl Probe for NotifyMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

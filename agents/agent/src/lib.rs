//! polyfleet's agents: thin async shells around the sans-IO core.
//!
//! - [`market_data`]: the market-data agent (`polyfleet-agent market-data`).
//! - [`metrics`]: its Prometheus metrics and Kubernetes probes.

pub mod market_data;
pub mod metrics;

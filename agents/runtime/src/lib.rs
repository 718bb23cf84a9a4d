//! polyfleet's runtime: the transports and stores the agents, the local run and the backtester
//! share, each a trait with a networked and an in-memory implementation held to one conformance
//! suite:
//!
//! - [`bus`]: NATS (core subjects, JetStream, KV) or in-memory.
//! - [`risk_store`]: Redis (one Lua script per operation, hash-tagged keys) or in-memory (the
//!   core's reference model).
//! - [`probes`]: the `/metrics`, `/healthz`, `/readyz` endpoint.
//! - [`telemetry`]: tracing with OpenTelemetry export and W3C trace context carried in bus
//!   headers.

pub mod bus;
pub mod probes;
pub mod risk_store;
pub mod telemetry;

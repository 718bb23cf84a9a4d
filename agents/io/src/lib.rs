//! polyfleet's I/O: everything the sans-IO core leaves out, shared by the agents, the local run
//! and the backtester, each a trait with a networked and an in-memory implementation held to one
//! conformance suite where both exist:
//!
//! - [`bus`]: NATS (core subjects, JetStream, KV) or in-memory.
//! - [`risk_store`]: Redis (one Lua script per operation, hash-tagged keys) or in-memory (the
//!   core's reference model).
//! - [`execution`]: the venue-neutral execution interface (a venue crate implements it for live
//!   trading) and the paper executor.
//! - [`probes`]: the `/metrics`, `/healthz`, `/readyz` endpoint.
//! - [`telemetry`]: tracing with OpenTelemetry export and W3C trace context carried in bus
//!   headers.

pub mod bus;
pub mod execution;
pub mod probes;
pub mod risk_store;
pub mod telemetry;

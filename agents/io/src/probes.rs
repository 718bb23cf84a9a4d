//! The HTTP endpoint every polyfleet process serves for Prometheus and the Kubernetes probes:
//! `/metrics` (the text exposition of a registry), `/healthz` (the process is up) and `/readyz`
//! (the process's own readiness). One implementation for the agents and the operator.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::registry::Registry;

/// What the HTTP endpoint serves.
pub trait Probe: Send + Sync + 'static {
    /// The metrics registry.
    fn registry(&self) -> &Registry;
    /// Readiness.
    fn is_ready(&self) -> bool;
    /// The text exposition.
    fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, self.registry());
        out
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr`; returns the bound address.
pub async fn serve<M: Probe>(addr: SocketAddr, metrics: Arc<M>) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/metrics", get(|State(m): State<Arc<M>>| async move { m.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(m): State<Arc<M>>| async move {
                if m.is_ready() { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }
            }),
        )
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok(bound)
}

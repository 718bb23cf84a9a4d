//! Prometheus metrics of the market-data agent, and the HTTP endpoint that serves them with the
//! Kubernetes probes (`/metrics`, `/healthz`, `/readyz`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of a per-kind counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

/// Every metric of the market-data agent.
pub struct MarketDataMetrics {
    /// Market-channel events decoded, by event type.
    pub events: Family<KindLabel, Counter>,
    /// Frames received.
    pub frames: Counter,
    /// Decode problems, by kind (malformed_frame, invalid_event, unknown_type).
    pub decode_errors: Family<KindLabel, Counter>,
    /// WebSocket (re)connections made.
    pub connects: Counter,
    /// Connections lost.
    pub disconnects: Counter,
    /// Inbound-silence watchdog trips.
    pub watchdog_trips: Counter,
    /// Rebuilt books whose hash disagreed with the venue's.
    pub hash_mismatches: Counter,
    /// REST resyncs done.
    pub resyncs: Counter,
    /// Venue snapshots whose hash could not be reproduced (their deltas go unchecked).
    pub unverifiable_snapshots: Counter,
    /// Normalized events published on NATS.
    pub published: Counter,
    /// Snapshot requests answered.
    pub snapshot_requests: Counter,
    /// Venue timestamp to receipt, seconds.
    pub event_lag: Histogram,
    /// Tokens with a live book.
    pub live_tokens: Gauge,
    ready: AtomicBool,
    registry: Registry,
}

impl MarketDataMetrics {
    /// Registers every metric under the `polyfleet_md` prefix.
    pub fn new() -> Arc<MarketDataMetrics> {
        let mut registry = Registry::with_prefix("polyfleet_md");
        let m = MarketDataMetrics {
            events: Family::default(),
            frames: Counter::default(),
            decode_errors: Family::default(),
            connects: Counter::default(),
            disconnects: Counter::default(),
            watchdog_trips: Counter::default(),
            hash_mismatches: Counter::default(),
            resyncs: Counter::default(),
            unverifiable_snapshots: Counter::default(),
            published: Counter::default(),
            snapshot_requests: Counter::default(),
            event_lag: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
            live_tokens: Gauge::default(),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("events", "Market-channel events decoded, by type", m.events.clone());
        registry.register("frames", "WebSocket frames received", m.frames.clone());
        registry.register("decode_errors", "Frames or events skipped, by reason", m.decode_errors.clone());
        registry.register("connects", "WebSocket connections established", m.connects.clone());
        registry.register("disconnects", "WebSocket connections lost", m.disconnects.clone());
        registry.register("watchdog_trips", "Inbound-silence watchdog trips", m.watchdog_trips.clone());
        registry.register(
            "hash_mismatches",
            "Rebuilt books disagreeing with the venue hash",
            m.hash_mismatches.clone(),
        );
        registry.register("resyncs", "REST book resyncs", m.resyncs.clone());
        registry.register(
            "unverifiable_snapshots",
            "Venue snapshots whose hash could not be reproduced",
            m.unverifiable_snapshots.clone(),
        );
        registry.register("published", "Normalized events published", m.published.clone());
        registry.register("snapshot_requests", "Snapshot requests answered", m.snapshot_requests.clone());
        registry.register("event_lag_seconds", "Venue timestamp to receipt", m.event_lag.clone());
        registry.register("live_tokens", "Tokens with a live book", m.live_tokens.clone());
        Arc::new(MarketDataMetrics { registry, ..m })
    }

    /// Marks the agent ready (every token has a live book) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// True when ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Serves `/metrics`, `/healthz` (the process is up) and `/readyz` (every book live).
pub async fn serve(addr: SocketAddr, metrics: Arc<MarketDataMetrics>) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/metrics", get(|State(m): State<Arc<MarketDataMetrics>>| async move { m.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(m): State<Arc<MarketDataMetrics>>| async move {
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

//! Logs and traces of an agent. `init` sets up `tracing` (env-filtered `RUST_LOG`, text or JSON
//! lines) and, when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is
//! set, an OpenTelemetry OTLP/gRPC span exporter configured by the standard `OTEL_*` variables
//! (service name, batch delays, headers). The W3C trace-context propagator is installed either
//! way, so [`inject`] and [`extract`] carry `traceparent` in bus headers and the spans of one order
//! share a trace id across processes.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::bus::{Headers, Message};

/// Transport crates whose trace output carries the bytes they move (WebSocket frame payloads,
/// HTTP headers and bodies). The user channel's subscription frame and the venue's L2 headers
/// hold credentials, so these never log below debug, whatever `RUST_LOG` says. A cap only
/// lowers: at `RUST_LOG=warn` they log warnings, as everything else does.
pub const TRANSPORT_TARGETS: [&str; 8] =
    ["tungstenite", "tokio_tungstenite", "hyper", "hyper_util", "h2", "reqwest", "rustls", "polymarket_client_sdk_v2"];

/// True when `target` is one of [`TRANSPORT_TARGETS`] or a module of one.
pub fn is_transport(target: &str) -> bool {
    TRANSPORT_TARGETS.iter().any(|t| target == *t || target.strip_prefix(t).is_some_and(|rest| rest.starts_with("::")))
}

/// The filter that refuses trace events of the [`TRANSPORT_TARGETS`] (beside `RUST_LOG`'s).
pub fn transport_cap() -> tracing_subscriber::filter::FilterFn {
    tracing_subscriber::filter::filter_fn(|meta| *meta.level() != tracing::Level::TRACE || !is_transport(meta.target()))
}

/// Flushes and shuts the exporter down when dropped (at the end of `main`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// True when spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.force_flush();
            let _ = p.shutdown();
        }
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

/// Sets up logging and tracing for `service` (the default `service.name`, unless
/// `OTEL_SERVICE_NAME` says otherwise). `json` switches log lines to JSON.
pub fn init(service: &str, json: bool) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let otlp = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
    let provider = if otlp {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_string());
        let resource = opentelemetry_sdk::Resource::builder().with_service_name(name).build();
        Some(SdkTracerProvider::builder().with_resource(resource).with_batch_exporter(exporter).build())
    } else {
        None
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Both filters must let an event through: RUST_LOG's, and the transports' cap.
    let cap = transport_cap();
    // Colour only on a terminal: a log file or a pod's log must stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fmt = if json {
        tracing_subscriber::fmt::layer().json().boxed()
    } else {
        tracing_subscriber::fmt::layer().with_ansi(ansi).boxed()
    };
    let otel = provider.as_ref().map(|p| {
        let tracer = p.tracer("polyfleet");
        tracing_opentelemetry::layer().with_tracer(tracer)
    });
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(filter).with(cap).with(fmt).with(otel).try_init();
    Ok(Telemetry { provider })
}

/// The trace context of `span` as bus headers (`traceparent`, `tracestate`).
pub fn inject(span: &tracing::Span) -> Headers {
    let cx = span.context();
    let mut map: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut map);
    let mut headers: Headers = map.into_iter().collect();
    headers.sort();
    headers
}

/// Makes `span` a child of the trace context carried by `message`, if any. Call before anything
/// reads the span's context.
pub fn follow(span: &tracing::Span, message: &Message) {
    if message.header("traceparent").is_none() {
        return;
    }
    let map: HashMap<String, String> =
        message.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
    let cx = TraceContextPropagator::new().extract(&map);
    let _ = span.set_parent(cx);
}

/// Links `span` to `to` (a span that serves several traces, such as one venue request for
/// several orders, is linked to each order's span; each order keeps its own trace).
pub fn link(span: &tracing::Span, to: &tracing::Span) {
    use opentelemetry::trace::TraceContextExt;
    let cx = to.context().span().span_context().clone();
    if cx.is_valid() {
        span.add_link(cx);
    }
}

/// The trace id of `span` as 32 hex digits (all zeros when not traced).
pub fn trace_id(span: &tracing::Span) -> String {
    use opentelemetry::trace::TraceContextExt;
    span.context().span().span_context().trace_id().to_string()
}

#[cfg(test)]
mod cap_tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{EnvFilter, Layer};

    /// The (target, level) of every event that passes `directives` and the cap.
    fn passed(directives: &str, emit: impl FnOnce()) -> Vec<(String, tracing::Level)> {
        #[derive(Clone, Default)]
        struct Seen(Arc<Mutex<Vec<(String, tracing::Level)>>>);
        impl<S: tracing::Subscriber> Layer<S> for Seen {
            fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
                self.0.lock().unwrap().push((e.metadata().target().to_string(), *e.metadata().level()));
            }
        }
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::new(directives))
            .with(super::transport_cap())
            .with(seen.clone());
        tracing::subscriber::with_default(subscriber, emit);
        seen.0.lock().unwrap().clone()
    }

    #[test]
    fn the_cap_only_lowers_transport_levels() {
        use tracing::Level;
        // At warn, transports log warnings only: the cap never raises them to debug.
        let at_warn = passed("warn", || {
            tracing::debug!(target: "hyper_util::client::legacy::pool", "pooling idle connection");
            tracing::warn!(target: "hyper_util::client::legacy::pool", "a warning");
            tracing::info!(target: "polyfleet", "info");
        });
        assert_eq!(at_warn, vec![("hyper_util::client::legacy::pool".to_string(), Level::WARN)]);
        // At trace, transports stop at debug; everything else traces.
        let at_trace = passed("trace", || {
            tracing::trace!(target: "tungstenite::protocol", "frame bytes");
            tracing::debug!(target: "tungstenite::protocol", "a debug line");
            tracing::trace!(target: "tungstenite_like", "not a transport");
            tracing::trace!(target: "polyfleet", "ours");
        });
        assert_eq!(
            at_trace,
            vec![
                ("tungstenite::protocol".to_string(), Level::DEBUG),
                ("tungstenite_like".to_string(), Level::TRACE),
                ("polyfleet".to_string(), Level::TRACE)
            ]
        );
    }
}

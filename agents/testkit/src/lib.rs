//! Real servers for tests, never mocks: a `nats-server` with JetStream, a `redis-server` and a
//! `postgres`, each on a free loopback port with its own temporary directory, stopped (and
//! cleaned) when dropped (`scripts/setup.sh` installs them); a real Kubernetes control plane ([`envtest`]); an HTTP
//! server that records the webhooks it receives ([`webhook`]); and an OTLP/gRPC trace receiver
//! the agents export their spans to ([`otlp`]); what benchmarks read from `/proc` and the
//! percentiles they print ([`procstat`]); and a deterministic normal sampler for
//! statistical tests ([`normal`]).
//!
//! A dev-dependency only: a server that cannot start fails the test that asked for it, by
//! panicking, as a failed assertion does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test support: failing is panicking")]

pub mod envtest;
mod nats;
pub mod normal;
pub mod otlp;
mod postgres;
pub mod procstat;
mod redis;
pub mod webhook;

pub use nats::NatsServer;
pub use postgres::PostgresServer;
pub use redis::{Fsync, RedisServer};
pub use webhook::WebhookReceiver;

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The value of the Prometheus sample whose line starts with `series` (name and labels as
/// exposed) in an exposition `text`; 0 when absent.
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh temporary directory for one server.
fn temp_dir(kind: &str, port: u16) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("polyfleet-{kind}-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a temporary directory");
    dir
}

//! The operator's connections to the data plane (NATS, Redis), made in the background: the
//! operator starts, serves its probes, takes the leader lease and reconciles whether or not the
//! data plane is reachable. [`Lazy`] retries the connection with exponential backoff (0.5 s
//! doubling to 30 s) until it succeeds; until then every use fails at once with
//! [`Unreachable`], whose message names the server and the last connection error, and which the
//! controllers put into each object's status (condition `DataPlaneReachable`). Once connected,
//! the clients reconnect by themselves (async-nats, the Redis connection manager).

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The data plane could not be reached (yet).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} at {url} is unreachable: {reason}")]
pub struct Unreachable {
    /// `NATS` or `Redis`.
    pub what: &'static str,
    /// The server's URL (without credentials).
    pub url: String,
    /// The last connection error, or that no attempt finished yet.
    pub reason: String,
}

/// A client connected in the background.
pub struct Lazy<T> {
    what: &'static str,
    url: String,
    client: OnceLock<T>,
    last_error: Mutex<String>,
}

impl<T: Clone + Send + Sync + 'static> Lazy<T> {
    /// An already connected client (tests, local runs).
    pub fn ready(what: &'static str, client: T) -> Arc<Lazy<T>> {
        let lazy = Lazy { what, url: String::new(), client: OnceLock::new(), last_error: Mutex::default() };
        let _ = lazy.client.set(client);
        Arc::new(lazy)
    }

    /// Starts connecting with `connect` in a background task, retrying with backoff until it
    /// succeeds. `url` is shown in errors and logs (pass it without credentials).
    pub fn connect<F, Fut, E>(what: &'static str, url: &str, connect: F) -> Arc<Lazy<T>>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send,
        E: std::fmt::Display,
    {
        let lazy = Arc::new(Lazy {
            what,
            url: redact(url),
            client: OnceLock::new(),
            last_error: Mutex::new("connecting".into()),
        });
        let l = lazy.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(500);
            loop {
                match connect().await {
                    Ok(c) => {
                        let _ = l.client.set(c);
                        tracing::info!(what, url = %l.url, "data plane connected");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(what, url = %l.url, error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "data plane unreachable");
                        *l.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e.to_string();
                    }
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        });
        lazy
    }

    /// The client, or why there is none yet.
    pub fn get(&self) -> Result<&T, Unreachable> {
        self.client.get().ok_or_else(|| Unreachable {
            what: self.what,
            url: self.url.clone(),
            reason: self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        })
    }

    /// Whether the client is connected.
    pub fn is_connected(&self) -> bool {
        self.client.get().is_some()
    }
}

/// `url` without any `user:password@` part.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***@{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        assert_eq!(redact("redis://:hunter2@redis.ns.svc:6379"), "redis://***@redis.ns.svc:6379");
        assert_eq!(redact("nats://nats:4222"), "nats://nats:4222");
    }

    #[tokio::test]
    async fn unreachable_until_connected_then_ready() {
        let attempts = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let a = attempts.clone();
        let lazy = Lazy::connect("NATS", "nats://127.0.0.1:1", move || {
            let n = a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { if n < 2 { Err(format!("refused #{n}")) } else { Ok(7u32) } }
        });
        let err = lazy.get().unwrap_err();
        assert_eq!(err.what, "NATS");
        assert!(err.to_string().starts_with("NATS at nats://127.0.0.1:1 is unreachable"), "{err}");
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        assert_eq!(*lazy.get().unwrap(), 7);
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}

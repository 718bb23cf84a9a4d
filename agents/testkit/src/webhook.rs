//! A webhook receiver for notification tests: a real HTTP server on a free loopback port that
//! records every POST (path, headers, body) and answers with scripted statuses (a queue of
//! statuses for the next requests, then 200), so retries and refusals can be exercised.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its path.
    pub path: String,
    /// Its headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<(u16, Option<u64>)>,
}

/// The receiver; stops when dropped.
pub struct WebhookReceiver {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(State(inner): State<Arc<Mutex<Inner>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut g = inner.lock().unwrap_or_else(|e| e.into_inner());
    let (status, retry_after) = g.script.pop_front().unwrap_or((200, None));
    g.received.push(Received {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: body.to_vec(),
        status,
    });
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match retry_after {
        Some(s) => (code, [("retry-after", s.to_string())], "").into_response(),
        None => (code, "").into_response(),
    }
}

impl WebhookReceiver {
    /// Starts on a free port (inside a Tokio runtime).
    pub async fn start() -> WebhookReceiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(record).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the webhook receiver");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { url, inner, task }
    }

    /// The next requests get these statuses (with a `Retry-After` in seconds when given), in
    /// order; after them, 200.
    pub fn answer_next(&self, statuses: &[(u16, Option<u64>)]) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).script.extend(statuses.iter().copied());
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).received.clone()
    }

    /// The requests received on `path` that were answered 2xx.
    pub fn delivered(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path && (200..300).contains(&r.status)).collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! The ApiServerVerifier pattern over kube's tower-test mock: scripted, ordered expectations of
//! the requests a reconciler makes, each answered, and nothing else allowed afterwards.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::Resource;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::Handle;

pub type ApiHandle = Handle<Request<Body>, Response<Body>>;

pub fn example<K: serde::de::DeserializeOwned + Resource>(file: &str) -> K {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples").join(file);
    let mut obj: K = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let meta = obj.meta_mut();
    meta.namespace = Some("trading".into());
    meta.uid = Some(format!("uid-{file}"));
    meta.generation = Some(3);
    meta.resource_version = Some("100".into());
    obj
}

pub struct Step {
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    pub response: Value,
    /// Checks on the request body.
    pub check: Box<dyn Fn(&Value) + Send>,
}

pub fn step(method: Method, path: &str, status: StatusCode, response: Value) -> Step {
    Step { method, path: path.into(), status, response, check: Box::new(|_| {}) }
}

pub fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})
}

/// Answers the expected requests in order, then requires that nothing else is asked.
pub async fn verify(mut handle: ApiHandle, steps: Vec<Step>) {
    for (i, s) in steps.into_iter().enumerate() {
        let (req, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("step {i}: no request ({} {})", s.method, s.path))
            .expect("the client is alive");
        let uri = req.uri().to_string();
        assert_eq!(req.method(), s.method, "step {i}: {uri}");
        assert!(uri.contains(&s.path), "step {i}: {uri} does not contain {}", s.path);
        let body = req.into_body().collect_bytes().await.unwrap();
        let body: Value = if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap() };
        (s.check)(&body);
        let answer = serde_json::to_vec(&s.response).unwrap();
        send.send_response(Response::builder().status(s.status).body(Body::from(answer)).unwrap());
    }
    if let Ok(Some((req, _))) = tokio::time::timeout(Duration::from_millis(300), handle.next_request()).await {
        panic!("unexpected request {} {}", req.method(), req.uri());
    }
}

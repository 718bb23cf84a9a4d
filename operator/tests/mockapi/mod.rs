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

/// A list response of `kind` items.
pub fn list(api_version: &str, kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": {}, "items": items})
}

/// What the API answers to an Event creation.
pub fn event_created() -> Value {
    json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null, "reportingController": "polyfleet-operator", "reportingInstance": "polyfleet-operator"})
}

/// `v` as the operator left it: with the hash annotation of its desired content.
pub fn with_hash(mut v: Value) -> Value {
    let hash = polyfleet_operator::controller::apply::desired_hash(&v).unwrap();
    v["metadata"]["annotations"][polyfleet_operator::controller::apply::DESIRED_HASH] = hash.into();
    v
}

/// `desired` as the operator applied it: with the hash annotation (what the children's store
/// holds after an apply).
pub fn applied<K: serde::Serialize + serde::de::DeserializeOwned>(desired: &K) -> K {
    serde_json::from_value(with_hash(serde_json::to_value(desired).unwrap())).unwrap()
}

/// The server-side apply (field manager, force) of a child the children's store does not hold,
/// with `check` on the applied body.
pub fn created(path: &str, api_version: &str, kind: &str, check: impl Fn(&Value) + Send + 'static) -> Vec<Step> {
    let name = path.rsplit('/').next().unwrap_or_default().to_string();
    let kind_owned = kind.to_string();
    let mut apply = step(
        Method::PATCH,
        path,
        StatusCode::OK,
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}),
    );
    apply.check = Box::new(move |body| {
        assert_eq!(body["kind"], kind_owned.as_str());
        assert!(body["metadata"]["annotations"][polyfleet_operator::controller::apply::DESIRED_HASH].is_string());
        check(body);
    });
    vec![apply]
}

/// The PATCH path of a server-side apply by the operator's field manager.
pub fn ssa_query() -> &'static str {
    "fieldManager=polyfleet-operator"
}

//! Reconcile throughput of the Strategy controller at scale, and the operator's memory: 1000
//! Strategies (default; `POLYFLEET_BENCH_STRATEGIES` changes it) reconciled through the real
//! reconcile function and kube client against an in-memory API server behind kube's tower-test
//! mock (it stores what is applied and answers reads from it). Two passes: the first creates every
//! Strategy's ConfigMap, Deployment, Service, parameters and status; the second is an idle resync
//! (everything already right, the children in the children's store as the operator's watch would
//! hold them), which must write nothing. Printed: reconciles per second, p50/p99
//! reconcile latency, API requests by method, and the process's resident memory (peak and now).
//!
//! Run: `cargo bench -p polyfleet-operator --bench reconcile_scale`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, Resource};
use polyfleet_crds::Strategy;
use polyfleet_operator::cache::Cache;
use polyfleet_operator::children::Children;
use polyfleet_operator::control::MemoryControl;
use polyfleet_operator::controller::Context;
use polyfleet_operator::controller::strategy::{FINALIZER, reconcile};
use polyfleet_operator::limits::MemoryLimits;
use polyfleet_operator::params::MemoryParams;
use polyfleet_operator::settings::FleetSettings;
use serde_json::{Value, json};

type Objects = Arc<Mutex<HashMap<String, Value>>>;

/// Requests seen, by method.
#[derive(Default, Debug)]
struct Counts {
    get: u64,
    patch: u64,
    post: u64,
    other: u64,
}

fn example(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples").join(file);
    let mut v: Value = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["metadata"]["namespace"] = "trading".into();
    v["metadata"]["uid"] = format!("uid-{file}").into();
    v["metadata"]["generation"] = 1.into();
    v["metadata"]["resourceVersion"] = "1".into();
    v
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})
}

/// The in-memory API server: GET answers from the store (the Market list is stored as one
/// object), PATCH stores the body
/// (status patches merge into the object), POST (events) is accepted.
async fn serve(
    mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
    objects: Objects,
    counts: Arc<Mutex<Counts>>,
) {
    while let Some((req, send)) = handle.next_request().await {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let body = req.into_body().collect_bytes().await.unwrap_or_default();
        let (status, answer) = {
            let mut objects = objects.lock().unwrap();
            let mut c = counts.lock().unwrap();
            match method.as_str() {
                "GET" => {
                    c.get += 1;
                    if let Some(o) = objects.get(&path) {
                        (StatusCode::OK, o.clone())
                    } else {
                        (StatusCode::NOT_FOUND, not_found())
                    }
                }
                "PATCH" => {
                    c.patch += 1;
                    let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if let Some(base) = path.strip_suffix("/status") {
                        let obj = objects.get_mut(base).expect("status of a stored object");
                        obj["status"] = patch["status"].clone();
                        (StatusCode::OK, obj.clone())
                    } else {
                        objects.insert(path.clone(), patch.clone());
                        (StatusCode::OK, patch)
                    }
                }
                "POST" => {
                    c.post += 1;
                    (
                        StatusCode::CREATED,
                        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null, "reportingController": "x", "reportingInstance": "x"}),
                    )
                }
                _ => {
                    c.other += 1;
                    (StatusCode::METHOD_NOT_ALLOWED, not_found())
                }
            }
        };
        let bytes = serde_json::to_vec(&answer).unwrap();
        send.send_response(Response::builder().status(status).body(Body::from(bytes)).unwrap());
    }
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn pass(
    name: &str,
    strategies: &[Arc<Strategy>],
    ctx: &Arc<Context>,
    objects: &Objects,
    counts: &Arc<Mutex<Counts>>,
) {
    *counts.lock().unwrap() = Counts::default();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(strategies.iter().cloned())
        .map(|s| {
            let ctx = ctx.clone();
            let objects = objects.clone();
            async move {
                // What the watch would deliver: the object as stored now (status included).
                let path = format!(
                    "/apis/polyfleet.dev/v1alpha1/namespaces/trading/strategies/{}",
                    s.meta().name.as_deref().unwrap()
                );
                let current: Strategy = serde_json::from_value(objects.lock().unwrap()[&path].clone()).unwrap();
                let t = Instant::now();
                reconcile(Arc::new(current), ctx).await.expect("reconcile");
                t.elapsed()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let took = started.elapsed();
    latencies.sort();
    // The p-th percentile (p in percent), nearest rank below.
    let q = |p: usize| latencies[(latencies.len() - 1) * p / 100];
    let c = counts.lock().unwrap();
    println!(
        "{name:>8}: {} reconciles in {:.2} s = {:.0}/s; latency p50 {:.2} ms p99 {:.2} ms; API requests GET {} PATCH {} POST {} other {}",
        strategies.len(),
        took.as_secs_f64(),
        strategies.len() as f64 / took.as_secs_f64(),
        q(50).as_secs_f64() * 1e3,
        q(99).as_secs_f64() * 1e3,
        c.get,
        c.patch,
        c.post,
        c.other
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("POLYFLEET_BENCH_STRATEGIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let rss_start = rss_kib("VmRSS:");
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let objects: Objects = Arc::default();
    let counts: Arc<Mutex<Counts>> = Arc::default();
    let base = "/apis/polyfleet.dev/v1alpha1/namespaces/trading";
    // The Venue, RiskPolicy and Markets come from the reflector stores, as in the operator.
    fn ex<K: serde::de::DeserializeOwned>(f: &str) -> K {
        serde_json::from_value(example(f)).unwrap()
    }
    let cache = Cache::of(
        vec![ex("venue-simulator.yaml")],
        vec![ex("riskpolicy.yaml")],
        vec![ex("market-negrisk-event.yaml"), ex("market-binary.yaml")],
    );
    let mut strategies = vec![];
    for i in 0..n {
        let mut s = example("strategy-arbitrage.yaml");
        let name = format!("arb-{i:04}");
        s["metadata"]["name"] = name.clone().into();
        s["metadata"]["uid"] = format!("uid-{name}").into();
        s["metadata"]["finalizers"] = json!([FINALIZER]);
        objects.lock().unwrap().insert(format!("{base}/strategies/{name}"), s.clone());
        strategies.push(Arc::new(serde_json::from_value::<Strategy>(s).unwrap()));
    }
    tokio::spawn(serve(handle, objects.clone(), counts.clone()));
    let client = Client::new(service, "trading");
    let recorder = Recorder::new(client.clone(), Reporter { controller: "polyfleet-operator".into(), instance: None });
    let params = MemoryParams::default();
    let ctx = Arc::new(Context {
        client,
        settings: FleetSettings::default(),
        cache,
        params: Arc::new(params.clone()),
        control: Arc::new(MemoryControl::default()),
        risk: Arc::new(MemoryLimits::default()),
        recorder,
        metrics: polyfleet_operator::metrics::OperatorMetrics::new(),
        credentials: None,
    });
    println!("{n} Strategies, 64 reconciles in flight, 2 worker threads");
    pass("create", &strategies, &ctx, &objects, &counts).await;
    let puts_after_create = *params.puts.lock().unwrap();
    // What the operator's watch of its children now holds: everything the first pass applied.
    let children = {
        let objects = objects.lock().unwrap();
        fn of<K: serde::de::DeserializeOwned>(objects: &HashMap<String, Value>, kind: &str) -> Vec<K> {
            objects
                .iter()
                .filter(|(path, _)| path.contains(&format!("/{kind}/")))
                .map(|(_, v)| serde_json::from_value(v.clone()).unwrap())
                .collect()
        }
        Children::of(of(&objects, "deployments"), of(&objects, "configmaps"), of(&objects, "services"), vec![])
    };
    let ctx = Arc::new(Context { cache: ctx.cache.clone().with_children(children), ..(*ctx).clone() });
    pass("idle", &strategies, &ctx, &objects, &counts).await;
    let api_writes = {
        let c = counts.lock().unwrap();
        c.patch + c.post + c.other
    };
    let idle_writes = api_writes + (*params.puts.lock().unwrap() - puts_after_create);
    println!("idle resync writes: {idle_writes} (API patches/posts + parameter puts)");
    let stored: usize = objects.lock().unwrap().values().map(|v| serde_json::to_vec(v).map_or(0, |b| b.len())).sum();
    println!(
        "memory: RSS at start {} KiB, now {} KiB, peak {} KiB (includes the fake API server's {} objects, {} KiB of JSON)",
        rss_start,
        rss_kib("VmRSS:"),
        rss_kib("VmHWM:"),
        objects.lock().unwrap().len(),
        stored / 1024
    );
    assert_eq!(idle_writes, 0, "an idle resync must not write");
}

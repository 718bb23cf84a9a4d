//! Scale and fault figures of the operator on a real control plane (an envtest control plane
//! started here: etcd, kube-apiserver, kube-controller-manager; NATS and Redis as local servers).
//! Two operator processes (`target/<profile>/polyfleet-operator run`, leader election on) and:
//!
//! 1. scale: 10 RiskPolicies, 100 Markets and 1,000 Strategies applied at once; time until every
//!    Strategy is Ready, and the leader's resident memory (VmRSS, VmHWM);
//! 2. idle: the API server's `apiserver_request_total` write verbs (POST, PUT, PATCH, DELETE,
//!    APPLY) by resource over `POLYFLEET_IDLE_SECONDS` (default 300) of idle afterwards; every
//!    write other than Lease renewals is printed and counted;
//! 3. failover: the leader killed with SIGKILL (no lease release); time until the standby holds
//!    the Lease, 409 Conflicts on polyfleet objects during the takeover, and a Strategy edited
//!    right after the kill reconciled by the new leader;
//! 4. API server restart (same etcd) under the running operator: a Strategy created afterwards
//!    becomes Ready with the same operator process (its watches recovered by themselves).
//!
//! Run: `cargo bench -p polyfleet-operator --bench cluster_faults` (needs `cargo build
//! --workspace --release` or the dev binaries: it uses the `polyfleet-operator` beside it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

#[path = "../tests/cluster/mod.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use polyfleet_crds::Strategy;
use polyfleet_crds::conditions::find_condition;
use polyfleet_testkit::{NatsServer, RedisServer, free_port};
use serde_json::{Value, json};

const NS: &str = "scale";
const SYSTEM: &str = "scale-system";

fn start_operator(kubeconfig: &std::path::Path, id: &str, nats: &str, redis: &str) -> Child {
    let log = std::fs::File::create(log_path(id)).unwrap();
    Command::new(cluster::workspace_binary("polyfleet-operator"))
        .arg("run")
        .env("KUBECONFIG", kubeconfig)
        .env("POLYFLEET_NATS_URL", nats)
        .env("POLYFLEET_REDIS_URL", redis)
        .env("POLYFLEET_METRICS_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("POLYFLEET_LEADER_ELECT", "true")
        .env("POD_NAMESPACE", SYSTEM)
        .env("POD_NAME", id)
        .env("RUST_LOG", "warn")
        .env("POLYFLEET_LOG_JSON", "false")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

/// `polyfleet venue-sim` on a free loopback port serving `venue` and `markets`; its address.
fn start_venue_sim(venue: &Value, markets: &[Value]) -> (Child, String) {
    let dir = std::env::temp_dir().join(format!("cluster_faults-venue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resources.yaml");
    let docs: Vec<String> = std::iter::once(venue).chain(markets).map(|d| serde_json::to_string(d).unwrap()).collect();
    std::fs::write(&file, docs.join("\n---\n")).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(cluster::workspace_binary("polyfleet"))
        .args(["venue-sim", "--filename"])
        .arg(&file)
        .args(["--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.join("venue-sim.log")).unwrap()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "venue-sim did not listen on {addr}; log in {}", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, addr)
}

/// Where operator `id` logs (warnings and errors).
fn log_path(id: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("cluster_faults-{id}.log"))
}

/// The operator's failed reconciles by kind and reason, from its log.
fn failures(id: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string(log_path(id)).unwrap_or_default().lines() {
        if let Some(rest) = line.split("reconcile failed").nth(1) {
            let error = rest.split("error=").nth(1).unwrap_or(rest);
            let short: String = error.chars().take(90).collect();
            *out.entry(short).or_insert(0) += 1;
        }
    }
    out
}

/// VmRSS and VmHWM of `pid`, MiB.
fn memory(pid: u32) -> (f64, f64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

/// `apiserver_request_total` by (verb, resource, code), summed over the other labels.
async fn requests(client: &Client) -> BTreeMap<(String, String, String), f64> {
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(req).await.unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let (labels, value) = line.rsplit_once(' ').unwrap();
        let label = |k: &str| {
            labels.split(&format!("{k}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string()
        };
        *out.entry((label("verb"), label("resource"), label("code"))).or_insert(0.0) +=
            value.parse::<f64>().unwrap_or(0.0);
    }
    out
}

fn delta(
    before: &BTreeMap<(String, String, String), f64>,
    after: &BTreeMap<(String, String, String), f64>,
) -> BTreeMap<(String, String, String), f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect()
}

const WRITES: &[&str] = &["POST", "PUT", "PATCH", "DELETE", "APPLY"];

async fn ready_count(api: &Api<Strategy>) -> usize {
    api.list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|s| {
                    s.status
                        .as_ref()
                        .is_some_and(|st| find_condition(&st.conditions, "Ready").is_some_and(|c| c.is_true()))
                })
                .count()
        })
        .unwrap_or(0)
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases.get_opt(polyfleet_operator::leader::LEASE_NAME).await.ok()??.spec?.holder_identity
}

fn strategy(i: usize) -> Value {
    json!({
        "apiVersion": "polyfleet.dev/v1alpha1", "kind": "Strategy",
        "metadata": {"name": format!("s-{i:04}"), "namespace": NS},
        "spec": {
            "type": "arbitrage", "venueRef": {"name": "sim"}, "mode": "paper",
            "markets": {"names": [format!("m-{:03}", i % 100)]},
            "riskPolicyRef": {"name": format!("p-{}", i % 10)},
            "arbitrage": {"minEdgeBps": 50, "maxNotionalPerLegMicros": 25000000, "orderType": "FOK", "legTimeoutMs": 2000, "cooldownMs": 1000},
        },
    })
}

fn market(i: usize) -> Value {
    let token = |k: usize| format!("{}", 1_000_000_000u64 + (i * 10 + k) as u64);
    json!({
        "apiVersion": "polyfleet.dev/v1alpha1", "kind": "Market",
        "metadata": {"name": format!("m-{i:03}"), "namespace": NS, "labels": {"polyfleet.dev/arbitrage": "true"}},
        "spec": {
            "venueRef": {"name": "sim"}, "type": "negRiskEvent",
            "tokens": (0..3).map(|k| json!({"outcome": format!("o{k}"), "tokenId": token(k),
                "conditionId": format!("0x{:064x}", i * 10 + k + 1)})).collect::<Vec<_>>(),
        },
    })
}

fn policy(i: usize) -> Value {
    let mut p: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/riskpolicy.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    p["metadata"] = json!({"name": format!("p-{i}"), "namespace": NS});
    p
}

async fn apply_all(client: &Client, docs: Vec<Value>) {
    let pp = PatchParams::apply("polyfleet-bench").force();
    stream::iter(docs)
        .for_each_concurrent(32, |doc| {
            let pp = pp.clone();
            async move {
                let name = doc["metadata"]["name"].as_str().unwrap().to_string();
                cluster::api_for(client, NS, &doc)
                    .patch(&name, &pp, &Patch::Apply(&cluster::object(&doc)))
                    .await
                    .unwrap();
            }
        })
        .await;
}

#[tokio::main]
async fn main() {
    let Some(plane) = tokio::task::spawn_blocking(polyfleet_testkit::envtest::control_plane).await.unwrap() else {
        return;
    };
    let client = cluster::admin_client().await.unwrap();
    cluster::install_crds(&client).await;
    for ns in [NS, SYSTEM] {
        let obj: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &obj).await.unwrap();
    }
    let (nats, redis) = (NatsServer::start(), RedisServer::start());
    let mut ops: BTreeMap<String, Child> = ["op-a", "op-b"]
        .iter()
        .map(|id| (id.to_string(), start_operator(&plane.kubeconfig, id, &nats.url, &redis.url)))
        .collect();
    let leases: Api<Lease> = Api::namespaced(client.clone(), SYSTEM);
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), NS);
    while holder(&leases).await.is_none() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 1. Scale.
    let n: usize = std::env::var("POLYFLEET_BENCH_STRATEGIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let t0 = Instant::now();
    let mut docs: Vec<Value> = serde_saphyr::from_multiple::<Value>(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/venue-simulator.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    docs[0]["metadata"]["namespace"] = NS.into();
    // The venue answers the Markets' lookups: a simulator on this host serving the same Venue and
    // Markets (as the in-cluster one would; nothing runs the cluster's Pods here). Without it
    // every lookup fails, and failures are not a steady state to measure idle writes in.
    let markets: Vec<Value> = (0..100).map(market).collect();
    let venue_sim = start_venue_sim(&docs[0], &markets);
    let url = format!("http://{}", venue_sim.1);
    docs[0]["spec"]["endpoints"] = json!({"clob": url, "gamma": url});
    docs.extend((0..10).map(policy));
    docs.extend(markets);
    apply_all(&client, docs).await;
    apply_all(&client, (0..n).map(strategy).collect()).await;
    let applied = t0.elapsed();
    let mut said = Instant::now();
    loop {
        let ready = ready_count(&strategies).await;
        if said.elapsed() >= Duration::from_secs(15) {
            said = Instant::now();
            println!("scale: {ready} of {n} Ready after {:.0} s", t0.elapsed().as_secs_f64());
        }
        if ready == n {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(900), "only {ready} of {n} Strategies Ready after 15 minutes");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let all_ready = t0.elapsed();
    let leader = holder(&leases).await.unwrap();
    let (rss, hwm) = memory(ops[&leader].id());
    println!(
        "scale: {n} Strategies, 100 Markets, 10 RiskPolicies applied in {:.1} s; all Ready {:.1} s after the first apply",
        applied.as_secs_f64(),
        all_ready.as_secs_f64()
    );
    println!("scale: leader {leader} RSS {rss:.1} MiB (peak {hwm:.1} MiB)");

    // 2. Idle writes.
    let idle: u64 = std::env::var("POLYFLEET_IDLE_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    // The controller manager works through 1,000 new Deployments (ReplicaSets, Pods, Events)
    // for minutes after the operator is done: idle starts when 15 s pass without a write other
    // than a Lease's.
    let settling = Instant::now();
    let mut last = requests(&client).await;
    loop {
        tokio::time::sleep(Duration::from_secs(15)).await;
        let now = requests(&client).await;
        let busy: f64 = delta(&last, &now)
            .iter()
            .filter(|((verb, resource, _), _)| WRITES.contains(&verb.as_str()) && resource != "leases")
            .map(|(_, d)| d)
            .sum();
        last = now;
        if busy == 0.0 {
            break;
        }
        assert!(settling.elapsed() < Duration::from_secs(900), "the control plane still writes after 15 minutes");
    }
    println!("idle: the control plane settled {:.0} s after all were Ready", settling.elapsed().as_secs_f64());
    let before = requests(&client).await;
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let after = requests(&client).await;
    let mut other = 0.0;
    let mut lease_writes = 0.0;
    for ((verb, resource, code), d) in delta(&before, &after) {
        if !WRITES.contains(&verb.as_str()) {
            continue;
        }
        if resource == "leases" {
            lease_writes += d;
        } else {
            other += d;
            println!("idle: write {verb} {resource} (code {code}): {d}");
        }
    }
    println!("idle: {idle} s: {lease_writes} Lease writes (renewals), {other} other writes");

    // 3. Failover: SIGKILL the leader (no release), edit a Strategy, time the takeover.
    let before = requests(&client).await;
    let killed = Instant::now();
    let mut dead = ops.remove(&leader).unwrap();
    let _ = dead.kill();
    let _ = dead.wait();
    let edit = json!({"spec": {"suspend": true}});
    let edited = strategies.patch("s-0007", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    let generation = edited.metadata.generation.unwrap();
    let new_leader = loop {
        match holder(&leases).await {
            Some(h) if h != leader => break h,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let takeover = killed.elapsed();
    loop {
        let s = strategies.get("s-0007").await.unwrap();
        if s.status.and_then(|x| x.observed_generation) == Some(generation) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reconciled = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let conflicted: Vec<((String, String, String), f64)> = delta(&before, &requests(&client).await)
        .into_iter()
        .filter(|((_, r, c), _)| c == "409" && r != "leases")
        .collect();
    for ((verb, resource, _), d) in &conflicted {
        println!("failover: 409 Conflict on {verb} {resource}: {d}");
    }
    let conflicts: f64 = conflicted.iter().map(|(_, d)| d).sum();
    println!(
        "failover: leader {leader} killed; {new_leader} holds the Lease after {:.1} s (lease duration {} s); the edited Strategy reconciled after {:.1} s; {conflicts} 409 Conflicts on non-Lease objects",
        takeover.as_secs_f64(),
        polyfleet_operator::leader::LEASE_SECONDS,
        reconciled.as_secs_f64()
    );

    // 4. API server restart under the running operator.
    let survivor = ops.get_mut(&new_leader).unwrap();
    let pid = survivor.id();
    let t = Instant::now();
    tokio::task::spawn_blocking(move || polyfleet_testkit::envtest::control_plane().unwrap().restart_apiserver())
        .await
        .unwrap()
        .unwrap();
    let restarted = t.elapsed();
    let fresh = strategy(n);
    let t = Instant::now();
    apply_all(&client, vec![fresh]).await;
    let name = format!("s-{n:04}");
    loop {
        let s = strategies.get(&name).await.unwrap();
        if s.status.as_ref().is_some_and(|st| find_condition(&st.conditions, "Ready").is_some_and(|c| c.is_true())) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the Strategy created after the API server restart never became Ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(survivor.try_wait().unwrap().is_none(), "the operator exited");
    println!(
        "apiserver restart: down and ready again in {:.1} s; a Strategy created afterwards Ready {:.1} s later, same operator process (pid {pid}, {} Strategies named in the namespace)",
        restarted.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        strategies
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|s| s.name_any().starts_with("s-"))
            .count()
    );
    for id in ["op-a", "op-b"] {
        for (error, count) in failures(id) {
            println!("failed reconciles of {id}: {count} x {error}");
        }
        println!("log of {id}: {}", log_path(id).display());
    }
    let (mut sim, _) = venue_sim;
    let _ = sim.kill();
    let _ = sim.wait();
    for (_, mut c) in ops {
        let _ = c.kill();
        let _ = c.wait();
    }
}

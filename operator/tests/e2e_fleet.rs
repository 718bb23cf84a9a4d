//! The whole fleet on a real control plane, run by the operator's own Deployment: the envtest
//! control plane of this binary (KUBECONFIG's cluster is never used: this suite registers a
//! Node) and a test node (`testnode/`) that runs Pods as processes of the workspace's binaries,
//! each in its own network namespace, with Services reachable by their cluster names.
//!
//! It installs `manifests/base` as a user does (namespace, CRDs, the generated RBAC, the
//! operator's Deployment with two replicas under leader election), with NATS and Redis as
//! selector-less Services `nats`/`redis` of `polyfleet-system` backed by local servers, then
//! applies `manifests/examples` to a namespace and checks: every kind Ready; the neg-risk event's
//! conversion fee read from the simulator's chain into its Market's status; every agent Pod
//! Running and Ready; the arbitrage strategy fills in paper mode and its PnL and positions reach
//! its status; a parameter edit is acknowledged for the new generation with the Deployment's pod
//! template unchanged; the kill switch stops approvals; deleting the Strategy cancels its orders
//! and the garbage collector removes its children; the operator never hit a Forbidden.
//!
//! Beside it, in a namespace of its own, a series: the crypto up/down example as a 15-minute
//! series on a simulator Venue whose clock runs 30 times the wall's. Its Market rolls through
//! several rounds (the Market controller keeps them in status and writes the rounds document),
//! the built-in model's Pod prices them, the strategy trades them without its Pod being replaced,
//! rounds resolve and settle, and the model's Brier score and its skill against the market show
//! in `kubectl get strategies`.
//!
//! Needs root and iproute2 (network namespaces), `nats-server`, `redis-server`, and the
//! workspace's binaries built (`cargo test --workspace` builds them). Skips with a message
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod cluster;
mod testnode;
mod tools;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use cluster::{MANAGER, api_for, install_crds, object};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use polyfleet_core::wire::messages::{RejectReason, RiskDecision, Verdict};
use polyfleet_core::wire::{codec, subjects};
use polyfleet_crds::conditions::find_condition;
use polyfleet_crds::examples::{examples_dir, load_dir, load_file};
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_testkit::{NatsServer, RedisServer};
use serde_json::{Value, json};
use testnode::{Options, TestNode, pod_ready};

const SYSTEM: &str = "polyfleet-system";
const FLEET: &str = "fleet";

/// [`cluster::eventually_or`] with this suite's [`diagnostics`].
async fn eventually<T, F, Fut>(secs: u64, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    cluster::eventually_or(secs, what, check, diagnostics).await
}

/// The node's state directory and an admin client, for [`diagnostics`].
static DIAG: std::sync::OnceLock<(std::path::PathBuf, Client)> = std::sync::OnceLock::new();

/// Every object of kind `K` with its status, on stderr.
async fn dump_status<K>(client: &Client, kind: &str)
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    for o in Api::<K>::all(client.clone()).list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default() {
        let v = serde_json::to_value(&o).unwrap_or_default();
        eprintln!("diagnostics: {kind} {}: {}", o.name_any(), v["status"]);
    }
}

/// On a failure: every polyfleet object's conditions, every Pod's phase, and the tail of every
/// Pod's log.
async fn diagnostics() {
    let Some((dir, client)) = DIAG.get() else { return };
    dump_status::<Strategy>(client, "Strategy").await;
    dump_status::<Venue>(client, "Venue").await;
    dump_status::<Market>(client, "Market").await;
    dump_status::<RiskPolicy>(client, "RiskPolicy").await;
    for p in Api::<Pod>::all(client.clone()).list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default() {
        let phase = p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        eprintln!(
            "diagnostics: Pod {}/{} {phase} ready={}",
            p.namespace().unwrap_or_default(),
            p.name_any(),
            pod_ready(&p)
        );
    }
    for entry in std::fs::read_dir(dir.join("logs")).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("diagnostics: log {} (last 15 lines):", entry.file_name().to_string_lossy());
        for l in &lines[lines.len().saturating_sub(15)..] {
            eprintln!("  {}", &l[..l.len().min(400)]);
        }
    }
}

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

async fn apply_docs(client: &Client, docs: &[Value], default_ns: &str) {
    let pp = PatchParams::apply(MANAGER).force();
    for doc in docs {
        let name = doc["metadata"]["name"].as_str().unwrap();
        let kind = doc["kind"].as_str().unwrap();
        let ns = doc["metadata"]["namespace"].as_str().unwrap_or(default_ns);
        let api = match kind {
            "Namespace" | "ClusterRole" | "ClusterRoleBinding" => {
                let (group, version) = doc["apiVersion"].as_str().unwrap().rsplit_once('/').unwrap_or(("", "v1"));
                let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
                let ar = kube::core::ApiResource::from_gvk_with_plural(&gvk, &cluster::plural(kind));
                Api::all_with(client.clone(), &ar)
            }
            _ => api_for(client, ns, doc),
        };
        api.patch(name, &pp, &Patch::Apply(&object(doc)))
            .await
            .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }
}

fn ready<K>(conds: Option<Vec<polyfleet_crds::conditions::Condition>>) -> bool {
    let _ = std::marker::PhantomData::<K>;
    conds.is_some_and(|c| find_condition(&c, "Ready").is_some_and(|c| c.is_true()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operators_deployment_runs_the_whole_fleet() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if !TestNode::can_run("fleet suite") {
        return;
    }
    let Some(plane) = tokio::task::spawn_blocking(polyfleet_testkit::envtest::control_plane).await.unwrap() else {
        return;
    };
    let admin = cluster::admin_client().await.unwrap();
    let nats = NatsServer::start();
    let redis = RedisServer::start();
    let port_of = |url: &str| url.rsplit(':').next().unwrap().trim_end_matches('/').parse::<u16>().unwrap();
    let apiserver_port = port_of(&plane.server().unwrap());
    let node = TestNode::start(
        admin.clone(),
        Options {
            binaries: cluster::workspace_binaries(),
            ca_crt: plane.dir().unwrap().join("pki/ca.crt"),
            host_services: HashMap::from([
                ("default/kubernetes".to_string(), apiserver_port),
                (format!("{SYSTEM}/nats"), port_of(&nats.url)),
                (format!("{SYSTEM}/redis"), port_of(&redis.url)),
            ]),
        },
    )
    .await
    .unwrap();
    let _ = DIAG.set((node.node.dir.clone(), admin.clone()));

    // manifests/base as a user installs it: namespace, CRDs, RBAC, the operator's Deployment;
    // NATS and Redis as the Services the operator's environment names.
    install_crds(&admin).await;
    let base = workspace().join("manifests");
    for file in ["base/namespace.yaml", "operator/rbac.yaml", "base/operator.yaml"] {
        let docs = load_file(&base.join(file)).unwrap().docs;
        apply_docs(&admin, &docs, SYSTEM).await;
        if file.ends_with("namespace.yaml") {
            let services: Vec<Value> = [("nats", 4222), ("redis", 6379)]
                .iter()
                .map(|(n, p)| {
                    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": SYSTEM},
                                     "spec": {"ports": [{"name": n, "port": p}]}})
                })
                .collect();
            apply_docs(&admin, &services, SYSTEM).await;
        }
    }
    let sys_pods: Api<Pod> = Api::namespaced(admin.clone(), SYSTEM);
    eventually(120, "both operator Pods Running and Ready", || {
        let p = sys_pods.clone();
        async move {
            let l = p.list(&ListParams::default().labels("app.kubernetes.io/name=polyfleet-operator")).await.unwrap();
            (l.items.len() == 2 && l.items.iter().all(pod_ready)).then_some(())
        }
    })
    .await;

    // A series in a namespace of its own, on a simulator at 30 times the wall clock: it rolls
    // while the checks below run, and is checked at the end.
    let series_started = std::time::Instant::now();
    apply_series(&admin).await;

    // The examples, as a user applies them.
    let ns_obj: Namespace = serde_json::from_value(json!({"metadata": {"name": FLEET}})).unwrap();
    Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns_obj).await.unwrap();
    for ex in load_dir(&examples_dir()).unwrap() {
        apply_docs(&admin, &ex.docs, FLEET).await;
    }
    let strategies: Api<Strategy> = Api::namespaced(admin.clone(), FLEET);
    let (policies, venues, markets) = (
        Api::<RiskPolicy>::namespaced(admin.clone(), FLEET),
        Api::<Venue>::namespaced(admin.clone(), FLEET),
        Api::<Market>::namespaced(admin.clone(), FLEET),
    );
    let all_ready = || {
        let (s, p, v, m) = (strategies.clone(), policies.clone(), venues.clone(), markets.clone());
        async move {
            let sr = ready::<Strategy>(s.get("negrisk-arb").await.ok()?.status.map(|x| x.conditions));
            let pr = ready::<RiskPolicy>(p.get("default").await.ok()?.status.map(|x| x.conditions));
            let vr = ready::<Venue>(v.get("sim").await.ok()?.status.map(|x| x.conditions));
            // The arbitrage strategy's Market (the example's other Market names a real Polymarket
            // condition id the simulator does not list: it stays NotFound, as in `polyfleet up`).
            let mr = ready::<Market>(m.get("election-winner").await.ok()?.status.map(|x| x.conditions));
            (sr && pr && vr && mr).then_some(())
        }
    };
    eventually(240, "Strategy negrisk-arb, RiskPolicy default, Venue sim and Market election-winner Ready", all_ready)
        .await;
    // The event's conversion fee, read by the operator from the simulator Pod's chain (the outcome's
    // CLOB question id, then the adapter's getFeeBips over JSON-RPC) into the Market's status: what
    // the Strategy's NO basket is priced at.
    let fee = eventually(120, "the event's conversion fee in the Market's status", || {
        let m = markets.clone();
        async move { m.get("election-winner").await.ok()?.status?.convert_fee_bips }
    })
    .await;
    assert_eq!(fee, 0, "the simulator's adapter charges no fee");

    let pods: Api<Pod> = Api::namespaced(admin.clone(), FLEET);
    let agents = eventually(180, "every agent Pod Running and Ready", || {
        let p = pods.clone();
        async move {
            let l = p.list(&ListParams::default()).await.unwrap().items;
            let roles: Vec<String> =
                l.iter().filter_map(|p| p.labels().get("app.kubernetes.io/component").cloned()).collect();
            let complete = ["simulator", "market-data", "strategy", "risk", "execution"]
                .iter()
                .all(|r| roles.iter().any(|x| x == r));
            (complete && l.iter().all(pod_ready)).then_some(l)
        }
    })
    .await;
    eprintln!(
        "fleet: {} agent Pods Running and Ready: {:?}",
        agents.len(),
        agents.iter().map(|p| p.name_any()).collect::<Vec<_>>()
    );

    // Paper fills reach the Strategy's status: an open position, or realized PnL once a set was
    // closed (broken sets are unwound to flat, so a sample may fall between the two).
    let filled = eventually(180, "paper fills in the Strategy's status", || {
        let s = strategies.clone();
        async move {
            let st = s.get("negrisk-arb").await.unwrap().status?;
            let traded = !st.positions.is_empty() || st.pnl.realized_micros != 0;
            (traded && !st.pnl.total.is_empty()).then_some(st)
        }
    })
    .await;
    eprintln!(
        "fleet: negrisk-arb PnL {} (realized {} micros) with {} positions",
        filled.pnl.total,
        filled.pnl.realized_micros,
        filled.positions.len()
    );

    // A parameter edit: acknowledged for the new generation; the pod template unchanged. The
    // baseline is the Deployment of the settled plan: its ConfigMap prices the NO basket (the
    // fee above is in it) and its pod template carries that ConfigMap's checksum. Fills may
    // come before the plan settles, and a leader handover (the lease is lost on a loaded
    // machine) can hold the fee's reconcile back until the new leader starts.
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), FLEET);
    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), FLEET);
    let before = eventually(120, "the Strategy's Deployment on the plan with the NO basket", || {
        let (d, c) = (deployments.clone(), config_maps.clone());
        async move {
            let json = c.get("strategy-negrisk-arb").await.ok()?.data?.remove("strategy.json")?;
            let mut config: Value = serde_json::from_str(&json).ok()?;
            let basket = config["sets"].as_array()?.iter().any(|s| s["kind"] == json!("noBasket"));
            config["parameters"] = Value::Null;
            let sum = polyfleet_operator::planner::checksum(&serde_json::to_vec(&config).ok()?);
            let dep = d.get("strategy-negrisk-arb").await.ok()?;
            let template = dep.spec.as_ref()?.template.metadata.as_ref()?.annotations.as_ref()?;
            let current = template.get("polyfleet.dev/config-checksum") == Some(&sum);
            (basket && current).then_some(dep)
        }
    })
    .await;
    let patch = json!({"spec": {"arbitrage": {"minEdgeBps": 75}}});
    let g2 = strategies
        .patch("negrisk-arb", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap()
        .metadata
        .generation
        .unwrap();
    eventually(90, "ParametersApplied for the edited generation", || {
        let s = strategies.clone();
        async move {
            let st = s.get("negrisk-arb").await.unwrap().status?;
            let ok = st.parameters_generation == Some(g2)
                && find_condition(&st.conditions, "ParametersApplied")
                    .is_some_and(|c| c.is_true() && c.observed_generation == Some(g2));
            ok.then_some(())
        }
    })
    .await;
    let after = deployments.get("strategy-negrisk-arb").await.unwrap();
    let strategy_pods: String = before
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(after.metadata.generation, before.metadata.generation, "a parameter edit must not touch the Deployment");
    assert_eq!(after.spec.unwrap().template, before.spec.unwrap().template);

    // The kill switch: once it is in force, the risk gateway approves nothing.
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let mut decisions = bus.subscribe(&subjects::decisions(FLEET, "negrisk-arb")).await.unwrap();
    policies
        .patch("default", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"killSwitch": "halt"}})))
        .await
        .unwrap();
    // In force once it is in the risk store the gateway decides against.
    let store = RedisRiskStore::connect(&redis.url).await.unwrap();
    let key = PolicyKey::new(FLEET, "default");
    eventually(60, "the kill switch in the risk store", || {
        let (store, key) = (store.clone(), key.clone());
        async move {
            store.limits(&key).await.unwrap().filter(|l| l.mode == polyfleet_core::risk::RiskMode::Halt).map(|_| ())
        }
    })
    .await;
    // Decisions already in flight when it landed are not counted.
    tokio::time::sleep(Duration::from_secs(1)).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(10), decisions.next()).await {}
    let (mut approved, mut refused, mut by_kill_switch) = (0, 0, 0);
    let window = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(m)) = tokio::time::timeout_at(window, decisions.next()).await {
        match codec::decode::<RiskDecision>(&m.payload).map(|d| d.verdict) {
            Ok(Verdict::Approved) => approved += 1,
            Ok(Verdict::Rejected { reason, .. }) => {
                refused += 1;
                by_kill_switch += usize::from(reason == RejectReason::KillSwitch);
            }
            Err(_) => {}
        }
    }
    eprintln!(
        "fleet: with the kill switch on, 10 s of decisions: {approved} approved, {refused} refused ({by_kill_switch} by the kill switch)"
    );
    assert_eq!(approved, 0, "the kill switch must stop approvals");

    // Deleting the Strategy: a cancel-all, then the garbage collector removes its children.
    let mut intents = bus.subscribe(&subjects::intents(FLEET, "negrisk-arb")).await.unwrap();
    strategies.delete("negrisk-arb", &DeleteParams::default()).await.unwrap();
    eventually(60, "the Strategy gone (finalizer done)", || {
        let s = strategies.clone();
        async move { s.get_opt("negrisk-arb").await.unwrap().is_none().then_some(()) }
    })
    .await;
    let cancel = tokio::time::timeout(Duration::from_secs(5), intents.next()).await;
    assert!(matches!(cancel, Ok(Some(_))), "a cancel-all intent on deletion");
    eventually(120, "the strategy's Deployment, ConfigMap and Pods garbage-collected", || {
        let (d, c, p) = (deployments.clone(), Api::<ConfigMap>::namespaced(admin.clone(), FLEET), pods.clone());
        let sel = ListParams::default().labels(&strategy_pods);
        async move {
            let d_gone = d.get_opt("strategy-negrisk-arb").await.unwrap().is_none();
            let c_gone = c.get_opt("strategy-negrisk-arb").await.unwrap().is_none();
            let p_gone = p.list(&sel).await.unwrap().items.is_empty();
            (d_gone && c_gone && p_gone).then_some(())
        }
    })
    .await;

    check_series(&admin, &plane.kubeconfig, series_started).await;

    // The operator ran under its own RBAC throughout: never refused.
    let ops = sys_pods.list(&ListParams::default().labels("app.kubernetes.io/name=polyfleet-operator")).await.unwrap();
    for p in &ops.items {
        let log = std::fs::read_to_string(node.node.pod_log(SYSTEM, &p.name_any())).unwrap_or_default();
        assert!(
            !log.contains("forbidden"),
            "the operator was refused by its RBAC:\n{}",
            node.tail(SYSTEM, &p.name_any(), 40)
        );
    }
    node.shutdown().await;
}

/// The namespace of the series scenario.
const ROUNDS: &str = "rounds";

/// The crypto up/down example as a 15-minute series on a simulator Venue (`fast`: market-data
/// subjects are named by Venue, not namespace) whose clock runs 30 times the wall's (a round
/// every 30 s), with the example RiskPolicy; the Strategy's signals
/// valid for a wall second (30 venue seconds) and held to the resolution (no early exit), so
/// that rounds settle under a loaded test machine.
async fn apply_series(admin: &Client) {
    let ns_obj: Namespace = serde_json::from_value(json!({"metadata": {"name": ROUNDS}})).unwrap();
    Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns_obj).await.unwrap();
    let venue = json!({
        "apiVersion": "polyfleet.dev/v1alpha1", "kind": "Venue", "metadata": {"name": "fast"},
        "spec": {"kind": "simulator", "defaultMode": "paper",
                 "simulator": {"seed": 7, "eventsPerSecond": 60, "clockRate": 30}},
    });
    let mut docs = vec![venue];
    docs.extend(load_file(&examples_dir().join("riskpolicy.yaml")).unwrap().docs);
    let mut market = load_file(&examples_dir().join("crypto-updown/market-btc-5m.yaml")).unwrap().docs.remove(0);
    market["metadata"]["name"] = json!("btc-15m");
    market["spec"]["venueRef"]["name"] = json!("fast");
    market["spec"]["series"]["period"] = json!("15m");
    let mut strategy =
        load_file(&examples_dir().join("crypto-updown/strategy-crypto-updown.yaml")).unwrap().docs.remove(0);
    strategy["spec"]["markets"]["names"] = json!(["btc-15m"]);
    strategy["spec"]["venueRef"]["name"] = json!("fast");
    let d = &mut strategy["spec"]["directional"];
    d["signals"][0]["cryptoUpDown"]["validForMs"] = json!(30_000);
    d["maxSignalAgeMs"] = json!(30_000);
    d.as_object_mut().unwrap().remove("closeBeforeEndSeconds");
    docs.extend([market, strategy]);
    apply_docs(admin, &docs, ROUNDS).await;
}

/// The series rolled through several rounds without restarting the agents, rounds settled, and
/// the model's Brier score is in the Strategy's status and in `kubectl get strategies`.
async fn check_series(admin: &Client, kubeconfig: &std::path::Path, started: std::time::Instant) {
    let markets: Api<Market> = Api::namespaced(admin.clone(), ROUNDS);
    let strategies: Api<Strategy> = Api::namespaced(admin.clone(), ROUNDS);
    let pods: Api<Pod> = Api::namespaced(admin.clone(), ROUNDS);
    let strategy_pod = || {
        let pods = pods.clone();
        async move {
            let l = pods.list(&ListParams::default().labels("polyfleet.dev/strategy=btc-updown")).await.ok()?;
            l.items
                .into_iter()
                .find(|p| p.labels().get("app.kubernetes.io/component").is_some_and(|c| c == "strategy"))
                .filter(pod_ready)
        }
    };
    let first = eventually(120, "the series' strategy Pod Running and Ready", strategy_pod).await;
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), ROUNDS);
    let generations = || async {
        let l = deployments.list(&ListParams::default()).await.unwrap().items;
        l.iter().map(|d| (d.name_any(), d.metadata.generation)).collect::<std::collections::BTreeMap<_, _>>()
    };
    let before = generations().await;
    // Rounds come and go in the Market's status; several later, rounds have settled and been
    // scored.
    let seen: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>> = Default::default();
    let status = eventually(300, "several rounds rolled, settled and scored", || {
        let (m, s, seen) = (markets.clone(), strategies.clone(), seen.clone());
        async move {
            let rounds = m.get("btc-15m").await.ok()?.status?.rounds;
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.extend(rounds.into_iter().map(|r| r.slug));
                seen.len()
            };
            let st = s.get("btc-updown").await.ok()?.status?;
            let scored = st.scores.first().is_some_and(|x| x.forecasts > 0 && !x.brier.is_empty());
            (n >= 5 && st.lifecycle.settlements >= 2 && scored).then_some(st)
        }
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    let score = &status.scores[0];
    eprintln!(
        "series: {} rounds seen in {:.0} s, {} settled ({} micro-USDC), PnL {}, Brier {} (market {:?}) over {} forecasts",
        seen.len(),
        started.elapsed().as_secs_f64(),
        status.lifecycle.settlements,
        status.lifecycle.settled_pnl_micros,
        status.pnl.total,
        score.brier,
        score.market_brier,
        score.forecasts
    );
    // The same strategy Pod throughout, its Deployment never changed: the rounds came through
    // the rounds document, not a new configuration. (Containers the test node restarts for a
    // liveness probe timed out on a loaded machine keep their Pod; they are reported.)
    let last = strategy_pod().await.expect("the strategy Pod");
    assert_eq!(last.uid(), first.uid(), "the strategy Pod was replaced while the series rolled");
    assert_eq!(generations().await, before, "a Deployment changed while the series rolled");
    let restarts: Vec<(String, i32)> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| {
            let n = p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()).map(|c| c.restart_count).sum();
            (p.name_any(), n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    eprintln!("series: container restarts (liveness on a loaded machine): {restarts:?}");
    // What `kubectl get strategies` shows: the Brier and skill columns.
    let kc = kubeconfig.display().to_string();
    let (ok, out, err) = tools::run("kubectl", &["--kubeconfig", &kc, "get", "strategies", "-n", ROUNDS]);
    assert!(ok, "kubectl get strategies: {err}");
    eprintln!("series: kubectl get strategies -n {ROUNDS}:\n{out}");
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    let row: Vec<&str> = out.lines().find(|l| l.starts_with("btc-updown")).unwrap().split_whitespace().collect();
    let col = header.iter().position(|h| *h == "BRIER").expect("a BRIER column");
    let shown: f64 = row[col].parse().unwrap();
    assert!((0.0..=1.0).contains(&shown), "{out}");
    // And the skill against the market beside it (a number of either sign; `<none>` while no
    // forecast had a market mid to compare with).
    let col = header.iter().position(|h| *h == "SKILL").expect("a SKILL column");
    if score.brier_skill.is_some() {
        let skill: f64 = row[col].parse().unwrap_or_else(|_| panic!("{out}"));
        assert!(skill <= 1.0, "{out}");
    }
}

//! The operator end to end against a real Kubernetes API server, run when `KUBECONFIG` is set
//! (skipped with a message otherwise). It needs `nats-server` and `redis-server` on this machine
//! (scripts/setup.sh installs them) and the workspace's binaries built (`cargo build --workspace`,
//! which `cargo test --workspace` does).
//!
//! In a fresh namespace it installs the CRDs and the operator's own RBAC (the generated
//! ClusterRole and leader Role, bound to a ServiceAccount), then runs the operator in process
//! with a client that impersonates that ServiceAccount (so every call it makes is checked against
//! its RBAC), under leader election, with NATS and Redis from local servers. It applies
//! `manifests/examples` and checks: the agents' Deployments, the risk gateway and the
//! NetworkPolicy appear; the Strategy, RiskPolicy and Venue become Ready. A strategy agent runs
//! locally with the Deployment's own arguments and the ConfigMap's content (the cluster's pods
//! need the image, which `POLYFLEET_E2E_IMAGE` names; when set, the Deployments must also become
//! Available). The parameters are acknowledged (`ParametersApplied` for the generation); a
//! parameter change is acknowledged for the new generation with the Deployment untouched (same
//! generation, same pod template); `kubectl polyfleet status|pnl` (the plugin's binary, as the
//! admin) show the statuses; the kill switch (`kubectl polyfleet kill strategy/negrisk-arb`, then
//! `resume`) reaches Redis and status; a daily-loss trip booked in Redis shows as reduce-only in
//! status, the `Tripped` condition and an Event, and `kubectl polyfleet resume --reset-trips`
//! clears it with a `TripsReset` Event; the experiment example's two arms are compared live (their
//! marked PnL moved in Redis slot by slot: arm A's status stops on A, arm B's shows it, with the
//! `ExperimentDecided` condition and Event); deleting the Strategy cancels
//! its orders, removes its parameters and garbage-collects its children; the ServiceAccount
//! cannot read Secrets. `kubectl polyfleet report` reads a real PostgreSQL journal through the
//! journal agent's Deployment and Secret, directly and `--via` a forwarded port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod cluster;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cluster::{MANAGER, api_for, cluster_config, eventually, install_crds, object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use polyfleet_core::analytics::experiment::Interleave;
use polyfleet_core::wire::subjects;
use polyfleet_core::wire::{Fill, FillStatus, Liquidity};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_crds::conditions::find_condition;
use polyfleet_crds::examples::{examples_dir, load_dir};
use polyfleet_crds::{RiskPolicy, Strategy, Venue};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_journal::{JournalStore, Record};
use polyfleet_operator::books::BusBooks;
use polyfleet_operator::dataplane::Lazy;
use polyfleet_operator::lookup::RestLookup;
use polyfleet_operator::notices::BusNotices;
use polyfleet_operator::rbac::{cluster_role, leader_role};
use polyfleet_operator::run::{Election, Stores, run};
use polyfleet_operator::settings::FleetSettings;
use polyfleet_operator::stores::{BusControl, BusParams, StoreLimits};
use polyfleet_testkit::{NatsServer, PostgresServer, RedisServer, free_port};
use serde_json::json;

const SA: &str = "polyfleet-operator";

fn condition_true<K>(
    obj: &K,
    status: impl Fn(&K) -> Option<Vec<polyfleet_crds::conditions::Condition>>,
    t: &str,
) -> bool {
    status(obj).is_some_and(|c| find_condition(&c, t).is_some_and(|c| c.is_true()))
}

/// A local strategy agent with the Deployment's arguments, the ConfigMap's files in a temp
/// directory instead of the mount, and NATS from the local server.
struct LocalAgent(Child);

impl Drop for LocalAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_agent(client: &Client, ns: &str, name: &str, nats: &str) -> LocalAgent {
    let d: Deployment = Api::namespaced(client.clone(), ns).get(name).await.unwrap();
    let cm: ConfigMap = Api::namespaced(client.clone(), ns).get(name).await.unwrap();
    let dir = std::env::temp_dir().join(format!("polyfleet-e2e-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, content) in cm.data.unwrap_or_default() {
        std::fs::write(dir.join(file), content).unwrap();
    }
    let container = &d.spec.unwrap().template.spec.unwrap().containers[0];
    let args: Vec<String> = container
        .args
        .clone()
        .unwrap()
        .into_iter()
        .map(|a| a.replace(polyfleet_operator::pods::CONFIG_DIR, dir.to_str().unwrap()))
        .collect();
    let child = Command::new(cluster::workspace_binary("polyfleet-agent"))
        .args(&args)
        .env("POLYFLEET_NATS_URL", nats)
        .env("POLYFLEET_METRICS_ADDR", format!("127.0.0.1:{}", free_port()))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    LocalAgent(child)
}

/// A local notifier with the Deployment's arguments and environment, each `secretKeyRef`
/// resolved from its Secret (read by the test's admin, as the kubelet would), NATS from the local
/// server.
async fn start_notifier(admin: &Client, ns: &str, name: &str, nats: &str) -> LocalAgent {
    let d: Deployment = Api::namespaced(admin.clone(), ns).get(name).await.unwrap();
    let container = d.spec.unwrap().template.spec.unwrap().containers[0].clone();
    let mut cmd = Command::new(cluster::workspace_binary("polyfleet-agent"));
    cmd.args(container.args.unwrap());
    for e in container.env.unwrap_or_default() {
        if let Some(v) = e.value {
            cmd.env(&e.name, v);
        } else if let Some(r) = e.value_from.and_then(|f| f.secret_key_ref) {
            let secret: Secret = Api::namespaced(admin.clone(), ns).get(&r.name).await.unwrap();
            let value = secret.data.unwrap()[&r.key].0.clone();
            cmd.env(&e.name, String::from_utf8(value).unwrap());
        }
    }
    let child = cmd
        .env("POLYFLEET_NATS_URL", nats)
        .env("POLYFLEET_METRICS_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("POLYFLEET_LOG_JSON", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    LocalAgent(child)
}

/// Installs the operator's RBAC for a ServiceAccount of `ns`; returns the ClusterRole's (and its
/// binding's) name.
/// `kubectl polyfleet ARGS -n NS` as the cluster's admin; its standard output, parsed as JSON
/// when `-o json` is among the arguments.
async fn plugin(ns: &str, args: &[&str]) -> String {
    let plane = polyfleet_testkit::envtest::control_plane().expect("a control plane");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-polyfleet"))
        .args(args)
        .args(["-n", ns])
        .env("KUBECONFIG", &plane.kubeconfig)
        .output()
        .await
        .expect("running kubectl-polyfleet");
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "kubectl polyfleet {args:?} failed: {stderr}{stdout}");
    eprintln!("e2e: kubectl polyfleet {}\n{stdout}", args.join(" "));
    stdout
}

async fn plugin_json(ns: &str, args: &[&str]) -> serde_json::Value {
    let args: Vec<&str> = args.iter().copied().chain(["-o", "json"]).collect();
    serde_json::from_str(&plugin(ns, &args).await).expect("JSON from -o json")
}

async fn install_rbac(admin: &Client, ns: &str) -> String {
    let pp = PatchParams::apply(MANAGER).force();
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": SA, "namespace": ns}})).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), ns).create(&PostParams::default(), &sa).await.unwrap();
    let subject = json!([{"kind": "ServiceAccount", "name": SA, "namespace": ns}]);
    let mut role = cluster_role();
    let cluster_name = format!("polyfleet-operator-{ns}");
    role.metadata.name = Some(cluster_name.clone());
    Api::<ClusterRole>::all(admin.clone()).patch(&cluster_name, &pp, &Patch::Apply(&role)).await.unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": cluster_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
        "subjects": subject,
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(admin.clone()).patch(&cluster_name, &pp, &Patch::Apply(&binding)).await.unwrap();
    let leader = leader_role(ns);
    let leader_name = leader.name_any();
    Api::<Role>::namespaced(admin.clone(), ns).patch(&leader_name, &pp, &Patch::Apply(&leader)).await.unwrap();
    let rb: RoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": leader_name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": leader_name},
        "subjects": subject,
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), ns).patch(&leader_name, &pp, &Patch::Apply(&rb)).await.unwrap();
    cluster_name
}

#[tokio::test]
async fn the_operator_runs_the_examples_under_its_own_rbac() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let Some(mut config) = cluster_config().await else { return };
    let admin = Client::try_from(config.clone()).unwrap();
    install_crds(&admin).await;
    let ns = format!("polyfleet-op-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let ns_obj: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    namespaces.create(&PostParams::default(), &ns_obj).await.expect("create the test namespace");
    let cluster_role_name = install_rbac(&admin, &ns).await;

    // The operator as its ServiceAccount.
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{ns}:{SA}"));
    let as_operator = Client::try_from(config).unwrap();
    let secrets = Api::<Secret>::namespaced(as_operator.clone(), &ns).list(&Default::default()).await;
    assert!(matches!(secrets, Err(kube::Error::Api(ref e)) if e.code == 403), "the operator must not read Secrets");

    let nats = NatsServer::start();
    let redis = RedisServer::start();
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let store = RedisRiskStore::connect(&redis.url).await.unwrap();
    let settings = FleetSettings {
        image: std::env::var("POLYFLEET_E2E_IMAGE").unwrap_or_else(|_| FleetSettings::default().image),
        ..FleetSettings::default()
    };
    let stores = Stores {
        params: Arc::new(BusParams(Lazy::ready("NATS", bus.clone()))),
        control: Arc::new(BusControl(Lazy::ready("NATS", bus.clone()))),
        limits: Arc::new(StoreLimits(Lazy::ready("Redis", store.clone()))),
        lookup: Arc::new(RestLookup::default()),
        books: Arc::new(BusBooks(Lazy::ready("NATS", bus.clone()))),
        credentials: None,
        notices: Arc::new(BusNotices(Lazy::ready("NATS", bus.clone()))),
    };
    let metrics = polyfleet_operator::metrics::OperatorMetrics::new();
    let election = Election { namespace: ns.clone(), identity: "e2e".into() };
    let operator = tokio::spawn(run(as_operator, settings, stores, metrics.clone(), Some(election)));

    // The examples, as a user applies them.
    let pp = PatchParams::apply(MANAGER).force();
    for ex in load_dir(&examples_dir()).unwrap() {
        for doc in &ex.docs {
            let name = doc["metadata"]["name"].as_str().unwrap();
            api_for(&admin, &ns, doc).patch(name, &pp, &Patch::Apply(&object(doc))).await.unwrap();
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns);
    for name in ["sim-sim", "md-sim-0", "exec-sim", "risk-sim", "strategy-negrisk-arb"] {
        let d = deployments.clone();
        eventually(120, &format!("Deployment {name}"), || {
            let d = d.clone();
            async move { d.get_opt(name).await.unwrap() }
        })
        .await;
    }
    let np: Api<NetworkPolicy> = Api::namespaced(admin.clone(), &ns);
    eventually(60, "the agents' NetworkPolicy", || {
        let np = np.clone();
        async move { np.get_opt("polyfleet-agents").await.unwrap() }
    })
    .await;
    if std::env::var_os("POLYFLEET_E2E_IMAGE").is_some() {
        for name in ["sim-sim", "md-sim-0", "exec-sim", "risk-sim"] {
            let d = deployments.clone();
            eventually(300, &format!("Deployment {name} Available"), || {
                let d = d.clone();
                async move {
                    let dep = d.get(name).await.unwrap();
                    let ok = dep
                        .status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Available" && c.status == "True");
                    ok.then_some(())
                }
            })
            .await;
        }
    } else {
        eprintln!(
            "POLYFLEET_E2E_IMAGE is not set: the agents' pods are not expected to run; only the objects are checked"
        );
    }
    let strategies: Api<Strategy> = Api::namespaced(admin.clone(), &ns);
    let policies: Api<RiskPolicy> = Api::namespaced(admin.clone(), &ns);
    let venues: Api<Venue> = Api::namespaced(admin.clone(), &ns);
    let ready = |t: &'static str| {
        let (s, p, v) = (strategies.clone(), policies.clone(), venues.clone());
        async move {
            let sr = s.get("negrisk-arb").await.unwrap();
            let pr = p.get("default").await.unwrap();
            let vr = v.get("sim").await.unwrap();
            (condition_true(&sr, |x| x.status.clone().map(|s| s.conditions), t)
                && condition_true(&pr, |x| x.status.clone().map(|s| s.conditions), t)
                && condition_true(&vr, |x| x.status.clone().map(|s| s.conditions), t))
            .then_some(())
        }
    };
    eventually(120, "Strategy, RiskPolicy and Venue Ready", || ready("Ready")).await;
    // The RiskPolicy counts the Strategies under it (its status refreshes every 10 s).
    let counted = |want: i32| {
        let p = policies.clone();
        async move {
            let have = p.get("default").await.unwrap().status.map_or(-1, |s| s.strategies);
            (have == want).then_some(())
        }
    };
    let under_default = |s: Vec<Strategy>| {
        i32::try_from(s.iter().filter(|x| x.spec.risk_policy_ref.name == "default").count()).unwrap()
    };
    let n = under_default(strategies.list(&Default::default()).await.unwrap().items);
    assert!(n >= 1);
    eventually(60, "RiskPolicy status.strategies counts its Strategies", || counted(n)).await;

    // The strategy agent acknowledges the parameters of the current generation.
    let _agent = start_agent(&admin, &ns, "strategy-negrisk-arb", &nats.url).await;
    let applied = |generation: i64| {
        let s = strategies.clone();
        async move {
            let st = s.get("negrisk-arb").await.unwrap();
            let ok = st.status.as_ref().is_some_and(|x| {
                x.parameters_generation == Some(generation)
                    && find_condition(&x.conditions, "ParametersApplied")
                        .is_some_and(|c| c.is_true() && c.observed_generation == Some(generation))
            });
            ok.then_some(())
        }
    };
    let g1 = strategies.get("negrisk-arb").await.unwrap().metadata.generation.unwrap();
    eventually(90, "ParametersApplied for the first generation", || applied(g1)).await;

    // A parameter change: acknowledged for the new generation, the Deployment untouched.
    let before = deployments.get("strategy-negrisk-arb").await.unwrap();
    let patch = json!({"spec": {"arbitrage": {"minEdgeBps": 75}}});
    let changed = strategies.patch("negrisk-arb", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let g2 = changed.metadata.generation.unwrap();
    assert!(g2 > g1);
    eventually(90, "ParametersApplied for the changed parameters", || applied(g2)).await;
    let after = deployments.get("strategy-negrisk-arb").await.unwrap();
    assert_eq!(
        after.metadata.generation, before.metadata.generation,
        "a parameter change must not touch the Deployment"
    );
    assert_eq!(after.spec.unwrap().template, before.spec.unwrap().template);
    let doc = bus.kv_get(&subjects::params_key(&ns, "negrisk-arb")).await.unwrap().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&doc.value).unwrap();
    assert_eq!(doc["parameters"]["minEdgeBps"], 75);

    // Notifications: a generic webhook with a bearer token from a Secret. The operator runs the
    // policy's notifier (a Deployment with the Secret as environment, and its egress), without
    // reading the Secret itself.
    let rx = polyfleet_testkit::WebhookReceiver::start().await;
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "desk-webhook", "namespace": ns}, "stringData": {"token": "e2e-SECRET-token"}}),
    )
    .unwrap();
    Api::<Secret>::namespaced(admin.clone(), &ns).create(&PostParams::default(), &secret).await.unwrap();
    let notify = json!({"spec": {"notifications": {"maxPerMinute": 600, "maxAttempts": 5, "targets": [
        {"name": "desk", "kind": "generic", "url": format!("{}/desk", rx.url),
         "tokenSecretRef": {"name": "desk-webhook", "key": "token"}}
    ]}}});
    policies.patch("default", &PatchParams::default(), &Patch::Merge(&notify)).await.unwrap();
    let notifier_name = polyfleet_operator::planner::notify::notifier_name("default");
    eventually(60, "the notifier's Deployment and NetworkPolicy", || {
        let (d, np) = (deployments.clone(), np.clone());
        let n = notifier_name.clone();
        async move { (d.get_opt(&n).await.unwrap().is_some() && np.get_opt(&n).await.unwrap().is_some()).then_some(()) }
    })
    .await;
    let _notifier = start_notifier(&admin, &ns, &notifier_name, &nats.url).await;
    let desk = |id_part: String| {
        let rx = &rx;
        move || {
            let hits: Vec<_> = rx
                .delivered("/desk")
                .into_iter()
                .filter(|r| r.header("idempotency-key").is_some_and(|k| k.contains(&id_part)))
                .collect();
            async move { (!hits.is_empty()).then_some(hits) }
        }
    };

    // `kubectl polyfleet status` and `pnl` show what the statuses hold.
    let status = plugin_json(&ns, &["status"]).await;
    let arb = status["strategies"].as_array().unwrap().iter().find(|s| s["name"] == "negrisk-arb").unwrap().clone();
    assert_eq!(
        (arb["type"].as_str(), arb["ready"].as_str(), arb["riskMode"].as_str()),
        (Some("arbitrage"), Some("True"), Some("off"))
    );
    assert_eq!(arb["parametersCurrent"], true, "{arb}");
    let default = status["riskPolicies"].as_array().unwrap().iter().find(|p| p["name"] == "default").unwrap().clone();
    assert_eq!((default["killSwitch"].as_str(), default["mode"].as_str()), (Some("off"), Some("off")));
    assert_eq!(default["strategies"].as_array().unwrap().len(), usize::try_from(n).unwrap());
    let table = plugin(&ns, &["status"]).await;
    assert!(
        table.starts_with("NAME ")
            && table.contains("strategy.polyfleet.dev/negrisk-arb ")
            && table.contains("\nriskpolicy.polyfleet.dev/default "),
        "{table}"
    );
    let pnl = plugin_json(&ns, &["pnl", "negrisk-arb"]).await;
    let st = strategies.get("negrisk-arb").await.unwrap().status.unwrap();
    assert_eq!(pnl["strategies"].as_array().unwrap().len(), 1);
    assert_eq!(
        (pnl["realizedMicros"].as_i64(), pnl["unrealizedMicros"].as_i64()),
        (Some(st.pnl.realized_micros), Some(st.pnl.unrealized_micros))
    );
    let yaml = plugin(&ns, &["pnl", "-o", "yaml"]).await;
    assert!(yaml.contains("realizedMicros:"), "{yaml}");

    // The kill switch, by `kubectl polyfleet kill` naming a Strategy under the policy, reaches
    // the risk store and the policy's status.
    let killed = plugin_json(&ns, &["kill", "strategy/negrisk-arb", "--wait"]).await;
    assert_eq!(
        (killed["riskPolicy"].as_str(), killed["was"].as_str(), killed["declared"].as_str()),
        (Some("default"), Some("off"), Some("halt"))
    );
    assert_eq!(killed["modeInForce"], "halt", "{killed}");
    assert!(killed["strategies"].as_array().unwrap().iter().any(|s| s == "negrisk-arb"), "{killed}");
    assert_eq!(killed["otherManagers"], json!([MANAGER]), "the examples' applier owned killSwitch: {killed}");
    let managers = policies.get("default").await.unwrap().metadata.managed_fields.unwrap_or_default();
    assert!(
        managers
            .iter()
            .any(|m| m.manager.as_deref() == Some("kubectl-polyfleet") && m.operation.as_deref() == Some("Apply")),
        "the change is the plugin's, by server-side apply"
    );
    let key = PolicyKey::new(&ns, "default");
    eventually(60, "the kill switch in Redis", || {
        let (store, key) = (store.clone(), key.clone());
        async move {
            store.limits(&key).await.unwrap().filter(|l| l.mode == polyfleet_core::risk::RiskMode::Halt).map(|_| ())
        }
    })
    .await;

    eventually(60, "status.mode halt", || {
        let p = policies.clone();
        async move { p.get("default").await.unwrap().status.filter(|s| s.mode == "halt").map(|_| ()) }
    })
    .await;

    // A trip through unrealized PnL: the execution agent's marks put an open position 101 USDC
    // under its cost (the policy's daily loss limit is 10% of its 1000 USDC capital); the marks
    // alone trip it into reduce-only, and a buy is refused: status (mode, trip, the Tripped
    // condition, the marked and realized daily PnL, the effective limits) and a Tripped Event;
    // then a reset by spec change clears it, recorded in a TripsReset Event.
    let resumed = plugin(&ns, &["resume", "default", "--wait"]).await;
    assert!(resumed.starts_with("riskpolicy.polyfleet.dev/default killSwitch off (was halt)\n"), "{resumed}");
    assert!(resumed.contains("mode in force: off\n"), "{resumed}");
    eventually(60, "status.mode off", || {
        let p = policies.clone();
        async move { p.get("default").await.unwrap().status.filter(|s| s.mode == "off").map(|_| ()) }
    })
    .await;
    let market = polyfleet_core::ConditionId::from_bytes([7; 32]);
    let tokens = [polyfleet_core::TokenId::from_u128(71), polyfleet_core::TokenId::from_u128(72)];
    let now_ms = || u64::try_from(k8s_openapi::jiff::Timestamp::now().as_millisecond()).unwrap();
    let under = polyfleet_core::Money::from_micros(-101_000_000);
    store.revalue(&key, "e2e", &[(tokens[0], under)], now_ms()).await.unwrap();
    assert_eq!(store.mode(&key, now_ms()).await.unwrap(), Some(polyfleet_core::risk::RiskMode::ReduceOnly));
    let buy = polyfleet_core::wire::OrderIntent {
        client_order_id: polyfleet_core::ClientOrderId::new("e2e-buy-1").unwrap(),
        group: None,
        namespace: ns.clone(),
        strategy: "e2e".into(),
        risk_policy: "default".into(),
        venue: "sim".into(),
        market,
        token: tokens[0],
        side: polyfleet_core::Side::Buy,
        price: polyfleet_core::Price::parse("0.5").unwrap(),
        size: polyfleet_core::Quantity::from_micros(1_000_000),
        tif: polyfleet_core::wire::TimeInForce::Gtc,
        post_only: false,
        mode: polyfleet_core::wire::Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
        outcome: None,
        kelly: None,
    };
    let v = store.decide(&key, &buy, None, now_ms()).await.unwrap();
    assert_eq!(v, Err(polyfleet_core::wire::RejectReason::DailyLoss));
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(admin.clone(), &ns);
    let event = |reason: &'static str| {
        let events = events.clone();
        async move {
            let all = events.list(&Default::default()).await.unwrap().items;
            all.into_iter()
                .find(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("default")
                })
                .map(|e| e.note.unwrap_or_default())
        }
    };
    eventually(60, "status: reduce-only on a dailyLoss trip, the Tripped condition", || {
        let p = policies.clone();
        async move {
            let s = p.get("default").await.unwrap().status?;
            let tripped =
                find_condition(&s.conditions, "Tripped").is_some_and(|c| c.is_true() && c.reason == "DailyLoss");
            let limits = s.effective_limits?;
            let marked = s.unrealized_pnl_micros == -101_000_000
                && s.daily_pnl_micros == -101_000_000
                && s.realized_daily_pnl_micros == 0
                && limits.max_daily_loss_micros == 100_000_000
                && s.capital_micros == Some(1_000_000_000);
            (s.mode == "reduceOnly" && s.trip.as_ref()?.reason == "dailyLoss" && s.daily_loss_trips == 1 && tripped)
                .then_some(())
                .filter(|()| marked)
        }
    })
    .await;
    let note = eventually(30, "a Tripped Event", || event("Tripped")).await;
    eprintln!("e2e: Tripped Event: {note}");
    let trip = eventually(60, "the trip at the webhook", desk(format!("{ns}/default/trip/dailyLoss/1"))).await;
    let body: serde_json::Value = serde_json::from_slice(&trip[0].body).unwrap();
    assert_eq!((body["kind"].as_str(), body["severity"].as_str()), (Some("trip"), Some("warning")));
    assert!(body["text"].as_str().unwrap().contains("daily PnL -101 USDC"), "{body}");
    assert_eq!(trip[0].header("authorization"), Some("Bearer e2e-SECRET-token"));
    let still = plugin_json(&ns, &["resume", "default"]).await;
    assert_eq!(still["declared"], "off");
    assert_eq!(plugin_json(&ns, &["status"]).await["riskPolicies"][0]["trip"], "dailyLoss", "the trip stands");
    let reset = plugin_json(&ns, &["resume", "riskpolicy/default", "--reset-trips", "--wait"]).await;
    assert_eq!(reset["resetTrips"], json!([0, 1]), "{reset}");
    assert_eq!(reset["modeInForce"], "off", "{reset}");
    assert!(reset.get("trip").is_none(), "{reset}");
    eventually(60, "status: the trip reset, mode off", || {
        let p = policies.clone();
        async move {
            let s = p.get("default").await.unwrap().status?;
            let clear = find_condition(&s.conditions, "Tripped").is_some_and(|c| !c.is_true());
            (s.mode == "off" && s.trip.is_none() && s.reset_trips_applied == 1 && clear).then_some(())
        }
    })
    .await;
    let note = eventually(30, "a TripsReset Event", || event("TripsReset")).await;
    assert!(note.contains("dailyLoss"), "{note}");
    eventually(60, "the reset at the webhook", desk(format!("{ns}/default/reset/1"))).await;
    // A new UTC day's first refresh sends the day before's summary: the status is set back a day.
    let today = i64::try_from(now_ms() / 86_400_000).unwrap();
    let back = json!({"status": {"pnlDay": today - 1}});
    policies.patch_status("default", &PatchParams::default(), &Patch::Merge(&back)).await.unwrap();
    let summary = eventually(60, "the daily summary at the webhook", desk(format!("/summary/{}", today - 1))).await;
    let body: serde_json::Value = serde_json::from_slice(&summary[0].body).unwrap();
    assert_eq!(body["kind"], "dailySummary");
    // Each notice arrived once: halt, off, the trip, the reset, the summary; nothing twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids: Vec<String> =
        rx.delivered("/desk").iter().map(|r| r.header("idempotency-key").unwrap_or_default().to_string()).collect();
    eprintln!("e2e: notices delivered: {ids:?}");
    for part in ["/halt", "/off", "/trip/dailyLoss/1", "/reset/1", &format!("/summary/{}", today - 1)] {
        assert_eq!(ids.iter().filter(|i| i.ends_with(part)).count(), 1, "{part} once in {ids:?}");
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no notice twice: {ids:?}");
    let again = polyfleet_core::wire::OrderIntent {
        client_order_id: polyfleet_core::ClientOrderId::new("e2e-buy-2").unwrap(),
        ..buy
    };
    assert_eq!(store.decide(&key, &again, None, now_ms()).await.unwrap(), Ok(()), "trading resumes");

    an_experiment_is_compared_live(&admin, &ns, &store, &bus, Interleaving::Market).await;
    an_experiment_is_compared_live(&admin, &ns, &store, &bus, Interleaving::TimeSlot).await;
    a_shadow_shows_its_live_twin(&admin, &ns, &bus).await;

    // Deleting the Strategy: orders cancelled, parameters gone, children garbage-collected.
    let mut cancels = bus.subscribe(&subjects::intents(&ns, "negrisk-arb")).await.unwrap();
    strategies.delete("negrisk-arb", &DeleteParams::default()).await.unwrap();
    eventually(60, "the Strategy gone (finalizer done)", || {
        let s = strategies.clone();
        async move { s.get_opt("negrisk-arb").await.unwrap().is_none().then_some(()) }
    })
    .await;
    let cancel = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut cancels)).await;
    assert!(matches!(cancel, Ok(Some(_))), "a cancel-all intent on deletion");
    eventually(60, "RiskPolicy status.strategies one fewer", || counted(n - 1)).await;
    assert!(bus.kv_get(&subjects::params_key(&ns, "negrisk-arb")).await.unwrap().is_none());
    for kind in ["deployments", "configmaps"] {
        eventually(120, &format!("garbage collection of the strategy's {kind}"), || {
            let (d, c) = (deployments.clone(), Api::<ConfigMap>::namespaced(admin.clone(), &ns));
            async move {
                let gone = if kind == "deployments" {
                    d.get_opt("strategy-negrisk-arb").await.unwrap().is_none()
                } else {
                    c.get_opt("strategy-negrisk-arb").await.unwrap().is_none()
                };
                gone.then_some(())
            }
        })
        .await;
    }
    let text = polyfleet_operator::metrics::Probe::render(&*metrics);
    assert!(text.contains("polyfleet_operator_leader 1"), "{text}");

    operator.abort();
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
    let _ = Api::<ClusterRoleBinding>::all(admin.clone()).delete(&cluster_role_name, &DeleteParams::default()).await;
    let _ = Api::<ClusterRole>::all(admin).delete(&cluster_role_name, &DeleteParams::default()).await;
}

/// A shadow of the arbitrage Strategy (`shadowOf`): `status.twin` waits for its agent's report,
/// then shows it (written here under the twins key as the shadow's agent writes it); deleting the
/// shadow deletes the key.
async fn a_shadow_shows_its_live_twin(admin: &Client, ns: &str, bus: &NatsBus) {
    let pp = PatchParams::apply(MANAGER).force();
    let ex = load_dir(&examples_dir())
        .unwrap()
        .into_iter()
        .flat_map(|e| e.docs)
        .find(|d| d["metadata"]["name"] == "negrisk-arb");
    let mut doc = ex.expect("the arbitrage example");
    doc["metadata"]["name"] = json!("arb-shadow");
    doc["spec"]["shadowOf"] = json!("negrisk-arb");
    doc["spec"]["mode"] = json!("paper");
    api_for(admin, ns, &doc).patch("arb-shadow", &pp, &Patch::Apply(&object(&doc))).await.unwrap();
    let strategies: Api<Strategy> = Api::namespaced(admin.clone(), ns);
    let twin = |want: i64| {
        let s = strategies.clone();
        move || {
            let s = s.clone();
            async move {
                let t = s.get("arb-shadow").await.unwrap().status?.twin?;
                (t.paired == want).then_some(t)
            }
        }
    };
    let waiting = eventually(60, "the shadow's status names its twin", twin(0)).await;
    assert_eq!(waiting.live, "negrisk-arb");
    assert!(waiting.message.starts_with("no comparison"), "{waiting:?}");
    let report = polyfleet_core::analytics::twins::TwinReport {
        live: "negrisk-arb".into(),
        orders: [9, 8],
        since_ns: 1_790_812_800_000_000_000,
        paired: 7,
        only_shadow: 2,
        only_live: 1,
        same_orders: 6,
        shadow_filled_micros: 70_000_000,
        live_filled_micros: 65_000_000,
        slippage_micros: 350_000,
        fee_difference_micros: 0,
        unmatched_fills: 0,
    };
    let key = subjects::twins_key(ns, "arb-shadow");
    bus.kv_put(&key, serde_json::to_vec(&report).unwrap().into()).await.unwrap();
    let shown = eventually(60, "the shadow's status shows its agent's comparison", twin(7)).await;
    assert_eq!(
        (
            shown.shadow_orders,
            shown.live_orders,
            shown.same_orders,
            shown.slippage.as_str(),
            shown.live_filled.as_str()
        ),
        (9, 8, 6, "0.35", "65")
    );
    eprintln!("e2e: shadow status: {shown:?}");
    strategies.delete("arb-shadow", &DeleteParams::default()).await.unwrap();
    eventually(60, "the shadow's comparison deleted with it", || {
        let (bus, key) = (bus.clone(), key.clone());
        async move { bus.kv_get(&key).await.unwrap().is_none().then_some(()) }
    })
    .await;
}

/// How the arms of [`an_experiment_is_compared_live`] share their Markets.
#[derive(Clone, Copy, PartialEq)]
enum Interleaving {
    /// The example as it is (`interleave: market`).
    Market,
    /// `interleave: timeSlot`, as Strategies `<name>-turns` of experiment `quoting-turns`: pairs are
    /// blocks of two slots.
    TimeSlot,
}

/// An A/B experiment compared live by the operator: the experiment example's arms with 1-second
/// slots, each arm's marked PnL driven in Redis in the middle of each slot (arm A gains 1 to 2.2
/// USDC a slot, arm B 0 to 0.3). Arm A's reconcile steps the test at each slot's start: its
/// status stops on A with the `ExperimentDecided` condition and an Event, arm B's status shows
/// the same result, and the comparison is kept in the KV bucket (what a restarted operator
/// resumes from). By time slot the pairs are blocks of two slots.
async fn an_experiment_is_compared_live(
    admin: &Client,
    ns: &str,
    store: &RedisRiskStore,
    bus: &NatsBus,
    interleaving: Interleaving,
) {
    use polyfleet_crds::strategy::{ExperimentArm, ExperimentOutcome};
    let turns = interleaving == Interleaving::TimeSlot;
    let suffix = if turns { "-turns" } else { "" };
    let (control, aggressive) = (format!("quoting-control{suffix}"), format!("quoting-aggressive{suffix}"));
    let pp = PatchParams::apply(MANAGER).force();
    for ex in load_dir(&examples_dir().join("experiment")).unwrap() {
        for doc in &ex.docs {
            let mut doc = doc.clone();
            if doc["kind"] == "Strategy" {
                let e = &mut doc["spec"]["experiment"];
                (e["slotSeconds"], e["burnIn"], e["effectMicros"]) = (json!(1), json!(3), json!(1_000_000));
                if turns {
                    (e["interleave"], e["name"]) = (json!("timeSlot"), json!("quoting-turns"));
                    let name = format!("{}{suffix}", doc["metadata"]["name"].as_str().unwrap());
                    doc["metadata"]["name"] = json!(name);
                }
            }
            let name = doc["metadata"]["name"].as_str().unwrap().to_string();
            api_for(admin, ns, &doc).patch(&name, &pp, &Patch::Apply(&object(&doc))).await.unwrap();
        }
    }
    let strategies: Api<Strategy> = Api::namespaced(admin.clone(), ns);
    let now_ms = || u64::try_from(k8s_openapi::jiff::Timestamp::now().as_millisecond()).unwrap();
    let token = TokenId::from_u128(991);
    let arms = [
        (control.as_str(), PolicyKey::new(ns, "quoting-control")),
        (aggressive.as_str(), PolicyKey::new(ns, "quoting-aggressive")),
    ];
    let (mut a, mut b) = (0i64, 0i64);
    let mut seen = vec![];
    let mut decided = None;
    for k in 0..90i64 {
        // The middle of the next second: one move per slot, away from its start.
        tokio::time::sleep(Duration::from_millis(1_500 - now_ms() % 1_000)).await;
        (a, b) = (a + 1_000_000 + (k % 3) * 600_000, b + (k % 2) * 300_000);
        for ((name, key), total) in arms.iter().zip([a, b]) {
            store.revalue(key, name, &[(token, Money::from_micros(total))], now_ms()).await.unwrap();
        }
        let x = strategies.get(&control).await.unwrap().status.and_then(|s| s.experiment);
        if let Some(x) = x {
            seen.push((x.outcome, x.pairs));
            if x.outcome == ExperimentOutcome::ABetter {
                decided = Some(x);
                break;
            }
        }
    }
    let Some(x) = decided else { panic!("no decision on arm A's status; seen {seen:?}") };
    eprintln!("e2e: experiment decided: {x:?}; seen {seen:?}");
    assert!(seen.iter().any(|(o, p)| *o == ExperimentOutcome::Running && *p > 0), "ran before it stopped: {seen:?}");
    assert_eq!((x.arm, x.peer.as_deref()), (ExperimentArm::A, Some(aggressive.as_str())));
    let unit = if turns { "blocks of two slots" } else { "slots" };
    assert!(x.pairs >= 3 && x.message.starts_with(&format!("A better after {} {unit}", x.pairs)), "{x:?}");
    // A pair is one slot's difference (1 to 2.2 USDC less 0 to 0.3), or a block's (two slots').
    let least = if turns { 1.5 } else { 0.5 };
    assert!(x.decided_at.is_some() && x.mean_difference.parse::<f64>().unwrap() > least, "{x:?}");
    let kept = bus.kv_get(&subjects::experiment_key(ns, &control)).await.unwrap().expect("kept in KV");
    let live: polyfleet_core::analytics::experiment::Live = serde_json::from_slice(&kept.value).unwrap();
    assert_eq!(i64::try_from(live.test.pairs()).unwrap(), x.pairs);
    let interleave = if turns { Interleave::TimeSlot } else { Interleave::Market };
    assert_eq!(live.interleave, interleave);
    let a_status = strategies.get(&control).await.unwrap().status.unwrap();
    let c = find_condition(&a_status.conditions, "ExperimentDecided").unwrap();
    assert!(c.is_true() && c.reason == "ABetter", "{c:?}");
    let b_shows = eventually(30, "arm B's status shows the decision", || {
        let (s, aggressive) = (strategies.clone(), aggressive.clone());
        async move {
            let x = s.get(&aggressive).await.unwrap().status?.experiment?;
            (x.outcome == ExperimentOutcome::ABetter).then_some(x)
        }
    })
    .await;
    assert_eq!(
        (b_shows.arm, b_shows.peer.as_deref(), b_shows.pairs),
        (ExperimentArm::B, Some(control.as_str()), x.pairs)
    );
    let wide = plugin(ns, &["status", "-o", "wide"]).await;
    let shown = format!("quoting{suffix}/B: ABetter after {} pairs", x.pairs);
    assert!(wide.contains(" EXPERIMENT ") && wide.contains(&shown), "{wide}");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(admin.clone(), ns);
    eventually(30, "an ExperimentDecided Event on arm A", || {
        let (events, control) = (events.clone(), control.clone());
        async move {
            events.list(&Default::default()).await.unwrap().items.into_iter().find(|e| {
                e.reason.as_deref() == Some("ExperimentDecided")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(control.as_str())
            })
        }
    })
    .await;
}

/// A fill of `strategy` in namespace `ns`: 100 shares of token 7 at `ticks`.
fn journal_fill(ns: &str, strategy: &str, id: &str, side: Side, ticks: u32, ts_ns: u64) -> Fill {
    Fill {
        fill_id: id.into(),
        client_order_id: ClientOrderId::new(id).unwrap(),
        namespace: ns.into(),
        strategy: strategy.into(),
        risk_policy: "default".into(),
        market: ConditionId::from_bytes([7; 32]),
        token: TokenId::from_u128(7),
        side,
        price: Price::from_ticks(ticks).unwrap(),
        size: Quantity::from_micros(100_000_000),
        fee: Money::ZERO,
        liquidity: Liquidity::Maker,
        status: FillStatus::Matched,
        mode: polyfleet_core::wire::Mode::Paper,
        ts_ns,
    }
}

/// `kubectl polyfleet report` finds the journal the way the journal agent does (its Deployment's
/// `POLYFLEET_JOURNAL_URL` from a Secret), reads the namespace's strategies from a real
/// PostgreSQL, and writes the same report as `polyfleet report`; `--via` reaches a database whose
/// Secret names an in-cluster host, with the Secret's credentials; the password is never printed.
#[tokio::test]
async fn kubectl_polyfleet_report_reads_the_journal_agents_database() {
    let Some(config) = cluster_config().await else { return };
    let admin = Client::try_from(config).unwrap();
    let ns = format!("polyfleet-report-e2e-{}", std::process::id());
    let ns_obj: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns_obj).await.unwrap();
    let pg = PostgresServer::start();
    // Trust authentication: the password is not checked, only carried (and never to be shown).
    const PASSWORD: &str = "e2e-s3cret-not-for-logs";
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres", pg.port());
    let journal = SqlJournal::open(&url).await.unwrap();
    let t0 = 1_790_812_800_000_000_000u64;
    let records: Vec<Record> = [
        journal_fill(&ns, "mm", "b1", Side::Buy, 4000, t0),
        journal_fill(&ns, "mm", "s1", Side::Sell, 4500, t0 + 60_000_000_000),
        journal_fill("elsewhere", "other", "b2", Side::Buy, 3000, t0),
    ]
    .iter()
    .map(|f| Record::fill(f, None).unwrap())
    .collect();
    assert_eq!(journal.append(&records).await.unwrap(), 3);
    journal.close().await;

    let pp = PatchParams::apply(MANAGER).force();
    let secret = |uri: String| {
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "journal-db-app", "namespace": ns}, "stringData": {"uri": uri}})
    };
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    secrets.patch("journal-db-app", &pp, &Patch::Apply(secret(url.clone()))).await.unwrap();
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "polyfleet-journal", "namespace": ns,
            "labels": {"app.kubernetes.io/component": "journal"}},
        "spec": {"selector": {"matchLabels": {"app": "journal"}},
            "template": {"metadata": {"labels": {"app": "journal"}},
                "spec": {"containers": [{"name": "journal", "image": "polyfleet:e2e",
                    "env": [{"name": "POLYFLEET_JOURNAL_URL",
                        "valueFrom": {"secretKeyRef": {"name": "journal-db-app", "key": "uri"}}}]}]}}}});
    Api::<Deployment>::namespaced(admin.clone(), &ns)
        .patch("polyfleet-journal", &pp, &Patch::Apply(deployment))
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("polyfleet-plugin-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let check = |out: &std::path::Path, printed: &str| {
        assert!(!printed.contains(PASSWORD), "the password printed: {printed}");
        assert!(printed.contains(&format!("Secret {ns}/journal-db-app key uri of Deployment {ns}/polyfleet-journal")));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        assert_eq!(report["summary"]["pnl"], "5", "100 shares bought at 0.40 and sold at 0.45: {report}");
        let strategies = report["summary"]["strategies"].as_array().unwrap();
        assert_eq!(strategies.len(), 1, "only the namespace's strategies: {strategies:?}");
        assert_eq!(strategies[0]["strategy"], "mm");
        assert_eq!(report["source"], "postgres", "the report names no credential");
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("Plotly.newPlot(\"equity\"") && html.contains("<table id=\"trades\">"));
        assert!(
            !html.contains(PASSWORD) && !std::fs::read_to_string(out.join("report.json")).unwrap().contains(PASSWORD)
        );
    };
    let direct = dir.join("direct");
    let printed = plugin(&ns, &["report", "--out", direct.to_str().unwrap()]).await;
    check(&direct, &printed);
    assert!(printed.contains(&format!("  {ns}/mm: PnL 5 (realized 5), 2 fills")), "{printed}");

    // The Secret names the database's in-cluster Service; `--via` stands for a port-forward.
    let in_cluster = format!("postgres://postgres:{PASSWORD}@journal-db-rw.{ns}.svc:5432/postgres");
    secrets.patch("journal-db-app", &pp, &Patch::Apply(secret(in_cluster))).await.unwrap();
    let via = dir.join("via");
    let hostport = format!("127.0.0.1:{}", pg.port());
    let printed = plugin(&ns, &["report", "--via", &hostport, "--out", via.to_str().unwrap()]).await;
    check(&via, &printed);

    Api::<Namespace>::all(admin.clone()).delete(&ns, &DeleteParams::default()).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

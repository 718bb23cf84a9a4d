//! The chart and the kustomizations checked with the real tools (`tools/`): `helm lint
//! --strict` with Helm 4 and Helm 3; `helm template` with the defaults and with every optional
//! feature on (and the other documented modes), each validated by `kubeconform -strict` against
//! Kubernetes 1.30, 1.32 and 1.37 and the project's own CRD schemas; values the schema must
//! refuse are refused by helm itself; every kustomize directory built and validated the same
//! way. Then one test per defect of the install issue, each on the rendered objects: the default
//! install bundles its data plane under fully qualified names; renders hold no password and are
//! stable; no disruption budget blocks a drain; identity and security settings can be overridden
//! and names fit their limits; RBAC can be narrowed to namespaces or left out; labels,
//! annotations, NOTES, the chart README and the Dockerfile are as a platform team expects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::tools;

use serde_json::Value;
use tools::{KUBE_VERSIONS, docs, kubeconform, kustomize, root, template};

const NS: &str = "polyfleet-system";

/// Every optional feature on at once.
const ALL_ON: &[&str] = &[
    "--set",
    "operator.replicas=3",
    "--set",
    "operator.venueCidrs={104.18.0.0/16}",
    "--set",
    "operator.priorityClassName=system-cluster-critical",
    "--set",
    "operator.nodeSelector.kubernetes\\.io/os=linux",
    "--set",
    "imagePullSecrets[0].name=registry",
    "--set",
    "agentImage=registry.example/polyfleet:1.2.3",
    "--set",
    "redis.auth.existingSecret=redis-auth",
    "--set",
    "nats.bundled.persistence.enabled=false",
    "--set",
    "otlp.endpoint=http://otel-collector.observability:4317",
    "--set",
    "networkPolicy.apiServerCidrs={10.0.0.1/32}",
    "--set",
    "metrics.serviceMonitor.enabled=true",
    "--set",
    "metrics.serviceMonitor.labels.release=kube-prometheus-stack",
    "--set",
    "metrics.podMonitor.enabled=true",
    "--set",
    "metrics.podMonitor.labels.release=kube-prometheus-stack",
    "--set",
    "prometheusRule.enabled=true",
    "--set",
    "prometheusRule.labels.release=kube-prometheus-stack",
    "--set",
    "grafanaDashboard.enabled=true",
    "--set",
    "journal.enabled=true",
    "--set",
    "journal.database.cnpgCluster=trading-db",
];

/// The other documented modes.
const MODES: &[(&str, &[&str])] = &[
    ("defaults", &[]),
    ("all features on", ALL_ON),
    (
        "external NATS and Redis",
        &[
            "--set",
            "nats.bundled.enabled=false",
            "--set",
            "nats.url=nats://nats.messaging.svc.cluster.local:4222",
            "--set",
            "redis.bundled.enabled=false",
            "--set",
            "redis.url=redis://redis.data.svc.cluster.local:6379",
            "--set",
            "redis.auth.existingSecret=redis-auth",
        ],
    ),
    ("namespace-scoped", &["--set", "operator.watchNamespaces={team-a,team-b}"]),
    (
        "OpenShift",
        &[
            "--set",
            "operator.podSecurityContext.runAsUser=null",
            "--set",
            "operator.podSecurityContext.runAsGroup=null",
            "--set",
            "nats.bundled.podSecurityContext.runAsUser=null",
            "--set",
            "nats.bundled.podSecurityContext.fsGroup=null",
            "--set",
            "redis.bundled.podSecurityContext.runAsUser=null",
            "--set",
            "redis.bundled.podSecurityContext.fsGroup=null",
            "--set",
            "operator.agentRunAsUser=null",
        ],
    ),
    (
        "RBAC and ServiceAccount made elsewhere",
        &[
            "--set",
            "rbac.create=false",
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=trading-ops",
        ],
    ),
    ("overridden names", &["--set", "fullnameOverride=fleet", "--set", "nameOverride=pf"]),
    (
        "journal on an existing database",
        &["--set", "journal.enabled=true", "--set", "journal.database.existingSecret=journal-db"],
    ),
];

fn render(args: &[&str]) -> Vec<Value> {
    docs(&template("helm", "polyfleet", NS, args).unwrap_or_else(|e| panic!("helm template {args:?}: {e}")))
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn operator(docs: &[Value]) -> &Value {
    of_kind(docs, "Deployment")
        .into_iter()
        .find(|d| d["metadata"]["labels"]["app.kubernetes.io/component"] != "journal")
        .expect("the operator's Deployment")
}

fn env(deploy: &Value, name: &str) -> Option<String> {
    deploy["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_string))
}

#[test]
fn helm_lint_strict_passes_with_helm_4_and_helm_3() {
    if tools::tools().is_none() {
        return;
    }
    for helm in ["helm", "helm3"] {
        let (_, version, _) = tools::run(helm, &["version", "--short"]);
        for args in [&[][..], ALL_ON] {
            let chart = tools::chart();
            let mut all: Vec<&str> = vec!["lint", "--strict", chart.to_str().unwrap()];
            all.extend_from_slice(args);
            let (ok, out, err) = tools::run(helm, &all);
            assert!(ok && out.contains("0 chart(s) failed"), "{helm} lint --strict {args:?}:\n{out}\n{err}");
            tools::say(&format!(
                "{} lint --strict ({} options): passed",
                version.trim(),
                if args.is_empty() { "default" } else { "all" }
            ));
        }
    }
}

#[test]
fn every_render_is_valid_for_kubernetes_1_30_1_32_and_1_37() {
    if tools::tools().is_none() {
        return;
    }
    for helm in ["helm", "helm3"] {
        for (mode, args) in MODES {
            let yaml =
                template(helm, "polyfleet", NS, args).unwrap_or_else(|e| panic!("{helm} template ({mode}): {e}"));
            assert!(docs(&yaml).len() >= 10, "{helm} ({mode}) rendered too little");
            for v in KUBE_VERSIONS {
                let summary = kubeconform(&yaml, v, &format!("{helm} template ({mode})"));
                tools::say(&format!("kubeconform -strict {v}, {helm} template ({mode}): {summary}"));
            }
        }
    }
}

#[test]
fn the_schema_and_the_templates_refuse_wrong_values() {
    if tools::tools().is_none() {
        return;
    }
    let refused: &[(&str, &[&str], &str)] = &[
        ("no NATS at all", &["--set", "nats.bundled.enabled=false"], "nats"),
        ("no Redis at all", &["--set", "redis.bundled.enabled=false"], "redis"),
        (
            "a password in the Redis URL",
            &["--set", "redis.bundled.enabled=false", "--set", "redis.url=redis://:hunter2@redis.data:6379"],
            "redis",
        ),
        (
            "an HTTP NATS URL",
            &["--set", "nats.bundled.enabled=false", "--set", "nats.url=http://nats.messaging:4222"],
            "nats",
        ),
        ("no replicas", &["--set", "operator.replicas=0"], "replicas"),
        ("a misspelt key", &["--set", "operator.replica=2"], "replica"),
        ("a made-up pull policy", &["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
        ("RBAC bound to the default ServiceAccount", &["--set", "serviceAccount.create=false"], "serviceAccount"),
        (
            "a budget no drain can meet",
            &["--set", "operator.replicas=2", "--set", "podDisruptionBudget.minAvailable=2"],
            "minAvailable",
        ),
        (
            "the agents' copy as the source",
            &["--set", "redis.auth.existingSecret=polyfleet-agent-redis"],
            "existingSecret",
        ),
        ("an invalid name override", &["--set", "nameOverride=Fleet_A"], "nameOverride"),
        ("an invalid watched namespace", &["--set", "operator.watchNamespaces={Team_A}"], "watchNamespaces"),
        ("a journal without a database", &["--set", "journal.enabled=true"], "journal"),
    ];
    for helm in ["helm", "helm3"] {
        for (what, args, mention) in refused {
            match template(helm, "polyfleet", NS, args) {
                Ok(_) => panic!("{helm} accepted {what} ({args:?})"),
                Err(e) => assert!(e.contains(mention), "{helm} refused {what} without naming {mention}: {e}"),
            }
        }
    }
    tools::say(&format!("{} wrong value sets refused by helm 4 and helm 3", refused.len()));
}

#[test]
fn every_kustomization_builds_and_is_valid() {
    if tools::tools().is_none() {
        return;
    }
    for (dir, must) in [
        ("manifests/crds", vec!["CustomResourceDefinition"]),
        ("manifests/operator", vec!["ClusterRole", "Role"]),
        (
            "manifests/base",
            vec!["Namespace", "CustomResourceDefinition", "ClusterRoleBinding", "Deployment", "Service"],
        ),
        ("manifests/overlays/dev", vec!["StatefulSet", "Deployment", "PodDisruptionBudget"]),
        ("manifests/overlays/examples", vec!["Namespace", "Venue", "Market", "RiskPolicy", "Strategy"]),
        ("manifests/examples", vec!["Venue", "Strategy"]),
    ] {
        let yaml = kustomize(dir);
        let all = docs(&yaml);
        for kind in must {
            assert!(all.iter().any(|d| d["kind"] == kind), "{dir} has no {kind}");
        }
        if dir == "manifests/overlays/examples" {
            assert!(all.iter().filter(|d| d["kind"] != "Namespace").all(|d| d["metadata"]["namespace"] == "trading"));
        }
        for v in KUBE_VERSIONS {
            let summary = kubeconform(&yaml, v, &format!("kustomize {dir}"));
            tools::say(&format!("kubeconform -strict {v}, kubectl kustomize {dir}: {summary}"));
        }
    }
}

// ---- defect 1: a plain install becomes ready; setup builds what the run needs ----

#[test]
fn a_default_install_bundles_nats_and_redis_under_fully_qualified_names() {
    if tools::tools().is_none() {
        return;
    }
    let d = render(&[]);
    let sets: Vec<String> =
        of_kind(&d, "StatefulSet").iter().map(|s| s["metadata"]["name"].as_str().unwrap().into()).collect();
    assert_eq!(sets, ["polyfleet-nats", "polyfleet-redis"], "the default install brings its own NATS and Redis");
    let op = operator(&d);
    assert_eq!(env(op, "POLYFLEET_NATS_URL").as_deref(), Some("nats://polyfleet-nats.polyfleet-system.svc:4222"));
    assert_eq!(env(op, "POLYFLEET_REDIS_URL").as_deref(), Some("redis://polyfleet-redis.polyfleet-system.svc:6379"));
    // Every Service a URL names exists in the render.
    let services: Vec<&str> = of_kind(&d, "Service").iter().map(|s| s["metadata"]["name"].as_str().unwrap()).collect();
    assert!(services.contains(&"polyfleet-nats") && services.contains(&"polyfleet-redis"), "{services:?}");
    // The set-up builds what the run command needs, not every test and bench.
    let setup = std::fs::read_to_string(root().join("scripts/setup.sh")).unwrap();
    assert!(!setup.contains("--all-targets"), "scripts/setup.sh builds every target");
    assert!(setup.contains("--bin polyfleet"), "scripts/setup.sh does not build the run command's binary");
}

// ---- defect 2: stable credentials that reach every namespace ----

#[test]
fn renders_hold_no_password_and_are_stable() {
    if tools::tools().is_none() {
        return;
    }
    for (mode, args) in MODES {
        let a = template("helm", "polyfleet", NS, args).unwrap();
        let b = template("helm", "polyfleet", NS, args).unwrap();
        assert_eq!(a, b, "two renders ({mode}) differ: GitOps would never be in sync");
        assert!(of_kind(&docs(&a), "Secret").is_empty(), "the chart renders a Secret ({mode})");
    }
    let d = render(&[]);
    let op = operator(&d);
    assert_eq!(env(op, "POLYFLEET_REDIS_PASSWORD_SECRET").as_deref(), Some("polyfleet-redis-password/password"));
    assert_eq!(env(op, "POLYFLEET_REDIS_PASSWORD_GENERATE").as_deref(), Some("true"));
    let d = render(&["--set", "redis.auth.existingSecret=vault-redis", "--set", "redis.auth.existingSecretKey=pw"]);
    let op = operator(&d);
    assert_eq!(env(op, "POLYFLEET_REDIS_PASSWORD_SECRET").as_deref(), Some("vault-redis/pw"));
    assert_eq!(env(op, "POLYFLEET_REDIS_PASSWORD_GENERATE").as_deref(), Some("false"));
    // The operator may read exactly that Secret in its namespace, and create none when it is given.
    let leader = of_kind(&d, "Role").into_iter().find(|r| r["metadata"]["name"] == "polyfleet-leader").unwrap();
    let secret_rules: Vec<&Value> =
        leader["rules"].as_array().unwrap().iter().filter(|r| r["resources"][0] == "secrets").collect();
    assert_eq!(secret_rules.len(), 1, "{secret_rules:?}");
    assert_eq!(secret_rules[0]["resourceNames"][0], "vault-redis");
    // The bundled Redis reads the same Secret.
    let redis = of_kind(&d, "StatefulSet").into_iter().find(|s| s["metadata"]["name"] == "polyfleet-redis").unwrap();
    let r = &redis["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"];
    assert_eq!((r["name"].as_str(), r["key"].as_str()), (Some("vault-redis"), Some("pw")));
}

/// The journal agent runs only when asked, and reads its database URL (which holds a password)
/// only from a Secret: the one given, or the application Secret of the CloudNativePG Cluster named.
#[test]
fn the_journal_reads_its_database_url_only_from_a_secret() {
    if tools::tools().is_none() {
        return;
    }
    let journal = |d: &[Value]| -> Value {
        of_kind(d, "Deployment")
            .into_iter()
            .find(|x| x["metadata"]["labels"]["app.kubernetes.io/component"] == "journal")
            .cloned()
            .expect("the journal's Deployment")
    };
    assert_eq!(of_kind(&render(&[]), "Deployment").len(), 1, "a journal without being asked");
    let d = render(&["--set", "journal.enabled=true", "--set", "journal.database.cnpgCluster=trading-db"]);
    let j = journal(&d);
    let c = &j["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"][0], "/usr/local/bin/polyfleet-agent");
    assert_eq!(c["args"][0], "journal");
    assert_eq!(env(&j, "POLYFLEET_NATS_URL"), env(operator(&d), "POLYFLEET_NATS_URL"));
    let url = c["env"].as_array().unwrap().iter().find(|e| e["name"] == "POLYFLEET_JOURNAL_URL").unwrap();
    assert!(url.get("value").is_none(), "the URL is written into the Deployment: {url}");
    let r = &url["valueFrom"]["secretKeyRef"];
    assert_eq!((r["name"].as_str(), r["key"].as_str()), (Some("trading-db-app"), Some("uri")));
    assert_eq!(j["spec"]["template"]["spec"]["automountServiceAccountToken"], false);
    // A Secret of the user's own wins over the Cluster's.
    let d = render(&[
        "--set",
        "journal.enabled=true",
        "--set",
        "journal.database.cnpgCluster=trading-db",
        "--set",
        "journal.database.existingSecret=journal-db",
        "--set",
        "journal.database.existingSecretKey=url",
    ]);
    let j = journal(&d);
    let url = j["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POLYFLEET_JOURNAL_URL")
        .cloned()
        .unwrap();
    let r = &url["valueFrom"]["secretKeyRef"];
    assert_eq!((r["name"].as_str(), r["key"].as_str()), (Some("journal-db"), Some("url")));
}

// ---- defect 3: no budget blocks a drain ----

fn check_budgets(d: &[Value], what: &str) {
    for pdb in of_kind(d, "PodDisruptionBudget") {
        let sel = &pdb["spec"]["selector"]["matchLabels"];
        let target = of_kind(d, "Deployment")
            .into_iter()
            .find(|x| {
                sel.as_object().unwrap().iter().all(|(k, v)| x["spec"]["template"]["metadata"]["labels"][k] == *v)
            })
            .unwrap_or_else(|| panic!("{what}: a PodDisruptionBudget selects no Deployment"));
        let replicas = target["spec"]["replicas"].as_i64().unwrap_or(1);
        if let Some(min) = pdb["spec"]["minAvailable"].as_i64() {
            assert!(min < replicas, "{what}: minAvailable {min} with {replicas} replicas blocks every drain");
        } else {
            assert!(pdb["spec"]["maxUnavailable"].as_i64().unwrap_or(0) >= 1, "{what}: {pdb}");
        }
    }
}

#[test]
fn no_disruption_budget_blocks_a_node_drain() {
    if tools::tools().is_none() {
        return;
    }
    for dir in ["manifests/base", "manifests/overlays/dev"] {
        check_budgets(&docs(&kustomize(dir)), dir);
    }
    for (mode, args) in MODES {
        check_budgets(&render(args), mode);
    }
    assert_eq!(of_kind(&render(&[]), "PodDisruptionBudget").len(), 0, "one replica, no budget");
}

// ---- defect 4: identity and security can be overridden ----

#[test]
fn identity_and_security_can_be_overridden_and_names_fit() {
    if tools::tools().is_none() {
        return;
    }
    // OpenShift: the IDs go, the rest of the hardening stays.
    let d = render(MODES[4].1);
    for w in of_kind(&d, "Deployment").into_iter().chain(of_kind(&d, "StatefulSet")) {
        let psc = &w["spec"]["template"]["spec"]["securityContext"];
        assert!(psc.get("runAsUser").is_none() && psc.get("fsGroup").is_none(), "{}: {psc}", w["metadata"]["name"]);
        assert_eq!(psc["runAsNonRoot"], true);
        assert_eq!(
            w["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"],
            false
        );
    }
    // The agent pods the operator makes follow suit.
    assert_eq!(env(operator(&d), "POLYFLEET_AGENT_RUN_AS_USER").as_deref(), Some("none"));
    assert_eq!(env(operator(&render(&[])), "POLYFLEET_AGENT_RUN_AS_USER").as_deref(), Some("65532"));
    // RBAC and the ServiceAccount made by the platform team.
    let d = render(MODES[5].1);
    for kind in ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"] {
        let own: Vec<&Value> =
            of_kind(&d, kind).into_iter().filter(|o| o["metadata"]["annotations"]["helm.sh/hook"] != "test").collect();
        assert!(own.is_empty(), "rbac.create=false still renders a {kind}");
    }
    assert_eq!(operator(&d)["spec"]["template"]["spec"]["serviceAccountName"], "trading-ops");
    // Names: overrides apply, and a long release name still gives valid names.
    let d = render(MODES[6].1);
    assert_eq!(operator(&d)["metadata"]["name"], "fleet");
    assert_eq!(operator(&d)["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"], "pf-operator");
    // Helm's own limit for release names is 53 characters.
    let long = "a-release-name-that-a-platform-team-generated-for-us1";
    assert_eq!(long.len(), 53);
    let d = docs(&template("helm", long, NS, &[]).unwrap());
    for o in &d {
        let name = o["metadata"]["name"].as_str().unwrap();
        let limit = match o["kind"].as_str().unwrap() {
            "StatefulSet" => 52,
            "Service" | "Deployment" | "Pod" => 63,
            _ => 253,
        };
        assert!(name.len() <= limit, "{} {name} is {} characters (limit {limit})", o["kind"], name.len());
    }
}

// ---- defect 5: narrow access, one owner per CRD, and the smaller ones ----

#[test]
fn watch_namespaces_grants_roles_only() {
    if tools::tools().is_none() {
        return;
    }
    let d = render(MODES[3].1);
    let op = operator(&d);
    assert_eq!(env(op, "POLYFLEET_WATCH_NAMESPACES").as_deref(), Some("team-a,team-b"));
    let not_hook = |o: &&Value| o["metadata"]["annotations"]["helm.sh/hook"] != "test";
    assert!(of_kind(&d, "ClusterRole").into_iter().filter(not_hook).count() == 0, "a ClusterRole in namespace mode");
    assert!(of_kind(&d, "ClusterRoleBinding").into_iter().filter(not_hook).count() == 0);
    let mut scoped: Vec<&str> = of_kind(&d, "Role")
        .into_iter()
        .filter(not_hook)
        .filter(|r| r["rules"].as_array().unwrap().iter().any(|x| x["resources"][0] == "deployments"))
        .map(|r| r["metadata"]["namespace"].as_str().unwrap())
        .collect();
    scoped.sort();
    assert_eq!(scoped, ["team-a", "team-b"], "write access outside the watched namespaces");
    // The default ClusterRole writes workloads but can read no Secret except the agents' copy.
    let d = render(&[]);
    let cr = of_kind(&d, "ClusterRole").into_iter().find(not_hook).unwrap();
    for r in cr["rules"].as_array().unwrap() {
        if r["resources"].as_array().unwrap().iter().any(|x| x == "secrets") {
            let verbs: Vec<&str> = r["verbs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert!(verbs == ["create"] || r["resourceNames"][0] == "polyfleet-agent-redis", "{r}");
        }
    }
}

#[test]
fn labels_annotations_notes_readme_and_image_are_as_a_platform_team_expects() {
    if tools::tools().is_none() {
        return;
    }
    let d = render(ALL_ON);
    for crd in of_kind(&d, "CustomResourceDefinition") {
        let l = &crd["metadata"]["labels"];
        for k in
            ["app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "helm.sh/chart"]
        {
            assert!(l.get(k).is_some(), "CRD {} has no {k}", crd["metadata"]["name"]);
        }
        assert_eq!(crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep");
    }
    // Pod templates: no chart label (a chart bump would restart the operator), no scrape
    // annotations beside a ServiceMonitor.
    for w in of_kind(&d, "Deployment").into_iter().chain(of_kind(&d, "StatefulSet")) {
        let meta = &w["spec"]["template"]["metadata"];
        assert!(
            meta["labels"].get("helm.sh/chart").is_none(),
            "{}: helm.sh/chart on the pod template",
            w["metadata"]["name"]
        );
        assert!(meta["annotations"].get("prometheus.io/scrape").is_none(), "double scrape: {}", w["metadata"]["name"]);
    }
    assert_eq!(env(operator(&d), "POLYFLEET_SCRAPE_ANNOTATIONS").as_deref(), Some("false"));
    for kind in ["ServiceMonitor", "PodMonitor", "PrometheusRule"] {
        let m = of_kind(&d, kind);
        assert!(!m.is_empty(), "{kind} missing");
        assert!(m.iter().all(|x| x["metadata"]["labels"]["release"] == "kube-prometheus-stack"), "{kind} label");
    }
    let defaults = render(&[]);
    let meta = &operator(&defaults)["spec"]["template"]["metadata"];
    assert_eq!(meta["annotations"]["prometheus.io/scrape"], "true", "without a ServiceMonitor, annotations");
    // NOTES: no placeholder address.
    let notes = std::fs::read_to_string(tools::chart().join("templates/NOTES.txt")).unwrap();
    assert!(!notes.contains("example.invalid"), "NOTES.txt points at a placeholder URL");
    // The chart README is generated from values.yaml and fresh.
    let head = std::fs::read_to_string(tools::chart().join("README.head.md")).unwrap();
    let values = std::fs::read_to_string(tools::chart().join("values.yaml")).unwrap();
    let readme = std::fs::read_to_string(tools::chart().join("README.md")).unwrap_or_default();
    assert_eq!(
        readme,
        polyfleet_operator::chart_docs::render(&head, &values).unwrap(),
        "stale: cargo run -p polyfleet-operator -- chart-readme > charts/polyfleet/README.md"
    );
    let documented = polyfleet_operator::chart_docs::documented(&values).unwrap();
    assert!(documented.len() >= 60, "only {} values documented", documented.len());
    // The image.
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(dockerfile.starts_with("# syntax=docker/dockerfile:"), "no syntax line for RUN --mount");
    assert!(!dockerfile.contains("crdgen"), "the runtime image ships crdgen");
    assert!(
        dockerfile.contains("ARG VERSION") && !dockerfile.contains("version=\"0.1.0\""),
        "hard-coded version label"
    );
    assert!(dockerfile.contains("--profile dist"));
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap_or_default();
    assert!(ignore.lines().any(|l| l.trim() == "target/") && ignore.contains(".git"), ".dockerignore: {ignore}");
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let dist = cargo.split("[profile.dist]").nth(1).expect("a dist profile");
    let dist = dist.split("\n[").next().unwrap();
    assert!(dist.contains("strip = true") && dist.contains("lto ="), "{dist}");
}

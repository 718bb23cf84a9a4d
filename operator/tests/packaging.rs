//! The packaging checks that need no tool: every YAML file under `charts/`
//! (outside the templates), `manifests/` and `crds/` parses; the chart's CRD templates are the
//! generated CRDs byte for byte inside the `polyfleet.installCrd` guard; `values.yaml` validates against
//! `values.schema.json` and the schema refuses wrong values; every environment variable the chart
//! and the base manifests give the operator is one the operator reads. `tests/chart.rs` runs the
//! real tools (helm, kubeconform, kubectl kustomize).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_files(dir: &Path, skip: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if skip.iter().any(|s| p.ends_with(s)) {
            continue;
        }
        if p.is_dir() {
            yaml_files(&p, skip, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_yaml_file_parses() {
    let mut files = vec![];
    yaml_files(&root().join("charts"), &["templates"], &mut files);
    yaml_files(&root().join("manifests"), &[], &mut files);
    yaml_files(&root().join("crds"), &["src", "tests"], &mut files);
    assert!(files.len() >= 20, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!docs.is_empty(), "{}: no document", f.display());
    }
}

#[test]
fn the_charts_crds_are_the_generated_ones() {
    let dir = root().join("charts/polyfleet/templates/crds");
    let mut n = 0;
    // The chart's copy adds the guard and the keep annotation; everything else is the same bytes.
    let keep = "  annotations:\n    helm.sh/resource-policy: keep\n";
    let labels = "  labels:\n    {{- include \"polyfleet.labels\" . | nindent 4 }}\n";
    let body = |s: &str| {
        let s = s.replace(keep, "").replace(labels, "");
        s.lines().filter(|l| !l.starts_with('#') && !l.starts_with("{{")).collect::<Vec<_>>().join("\n")
    };
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let chart = std::fs::read_to_string(entry.path()).unwrap();
        let plain = std::fs::read_to_string(root().join("crds").join(entry.file_name())).unwrap();
        let name = entry.file_name();
        let guard = format!(
            "{{{{- if include \"polyfleet.installCrd\" (list . \"{}\") }}}}\n",
            name.to_string_lossy().trim_end_matches(".yaml")
        );
        assert!(chart.contains(&guard) && chart.contains(keep), "{name:?}");
        assert!(body(&chart) == body(&plain), "{name:?} differs from the generated CRD");
        n += 1;
    }
    assert_eq!(n, 4);
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("charts/polyfleet/values.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("a valid JSON schema")
}

fn values() -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(root().join("charts/polyfleet/values.yaml")).unwrap()).unwrap()
}

#[test]
fn values_validate_against_the_schema_which_refuses_mistakes() {
    let v = schema();
    let defaults = values();
    let errors: Vec<String> = v.iter_errors(&defaults).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "values.yaml: {errors:?}");
    let refused = |patch: Value| {
        let mut x = defaults.clone();
        json_patch(&mut x, &patch);
        assert!(!v.is_valid(&x), "accepted {patch}");
    };
    refused(json!({"operator": {"replicas": 0}}));
    refused(json!({"operator": {"replica": 2}}));
    refused(json!({"redis": {"url": "redis://:hunter2@redis:6379"}}));
    refused(json!({"redis": {"bundled": {"enabled": false}, "url": ""}}));
    refused(json!({"nats": {"bundled": {"enabled": false}}}));
    refused(json!({"serviceAccount": {"create": false}}));
    refused(json!({"image": {"pullPolicy": "Sometimes"}}));
    refused(json!({"nats": {"url": "http://nats:4222"}}));
    refused(json!({"prometheusRule": {"fillFailureRatio": 2}}));
    // Every options-on combination the chart documents is valid.
    let mut all_on = defaults.clone();
    json_patch(
        &mut all_on,
        &json!({
            "operator": {"replicas": 3, "venueCidrs": ["104.18.0.0/16"]},
            "nats": {"bundled": {"enabled": true}},
            "redis": {"bundled": {"enabled": true}, "auth": {"existingSecret": "redis-auth"}},
            "otlp": {"endpoint": "http://otel-collector.observability:4317"},
            "metrics": {"serviceMonitor": {"enabled": true}, "podMonitor": {"enabled": true}},
            "prometheusRule": {"enabled": true},
            "grafanaDashboard": {"enabled": true},
        }),
    );
    let errors: Vec<String> = v.iter_errors(&all_on).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "all options on: {errors:?}");
}

/// Merges `patch` into `target` (objects recursively, everything else replaced).
fn json_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                json_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[test]
fn the_operator_reads_every_variable_it_is_given() {
    let main = std::fs::read_to_string(root().join("operator/src/main.rs")).unwrap();
    let read_elsewhere =
        ["POD_NAME", "POD_NAMESPACE", "RUST_LOG", "REDIS_PASSWORD", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT"];
    for file in ["charts/polyfleet/templates/deployment.yaml", "manifests/base/operator.yaml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let names: Vec<&str> = text
            .split("name: ")
            .skip(1)
            .filter_map(|s| s.split([',', '\n', '}']).next())
            .map(str::trim)
            .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_') && n.len() > 3)
            .collect();
        assert!(names.len() >= 6, "{file}: {names:?}");
        for n in names {
            assert!(
                main.contains(&format!("env = \"{n}\"")) || read_elsewhere.contains(&n),
                "{file} sets {n}, which the operator does not read"
            );
        }
    }
}

fn exported_metrics() -> Vec<String> {
    use polyfleet_agent::metrics::{KindLabel, MarketDataMetrics, OrderPathMetrics, ReasonLabel};
    use polyfleet_io::probes::Probe;
    // Labelled families appear once they have a sample: give each one.
    let op = polyfleet_operator::metrics::OperatorMetrics::new();
    let example: polyfleet_crds::RiskPolicy =
        serde_saphyr::from_str(&std::fs::read_to_string(root().join("manifests/examples/riskpolicy.yaml")).unwrap())
            .unwrap();
    op.policy("ns", "p", &Default::default(), &polyfleet_operator::planner::risk::limits(&example.spec));
    op.strategy("ns", "s", Some(&Default::default()));
    let failed: Result<(), _> = Err(polyfleet_operator::controller::Error::Finalizer("x".into()));
    op.reconciled("Strategy", std::time::Duration::ZERO, &failed);
    op.managed.get_or_create(&polyfleet_operator::metrics::KindLabel { kind: "Strategy" }).set(1);
    let mut text = op.render();
    let md = MarketDataMetrics::new();
    md.events.get_or_create(&KindLabel { kind: "book".into() }).inc();
    md.decode_errors.get_or_create(&KindLabel { kind: "x".into() }).inc();
    text += &md.render();
    for prefix in ["polyfleet_strategy", "polyfleet_risk", "polyfleet_execution"] {
        let m = OrderPathMetrics::new(prefix);
        m.decisions.get_or_create(&ReasonLabel { reason: "approved" }).inc();
        m.orders.get_or_create(&KindLabel { kind: "accepted".into() }).inc();
        m.fills.get_or_create(&KindLabel { kind: "taker".into() }).inc();
        m.observe("end_to_end", 1, 2);
        text += &m.render();
    }
    let notify = polyfleet_agent::notify::NotifyMetrics::new();
    notify.count("desk", polyfleet_core::wire::NoticeKind::Trip, polyfleet_agent::notify::send::Outcome::Sent);
    text += &notify.render();
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(String::from)
        .collect()
}

/// The `polyfleet_*` metric names a text refers to.
fn referenced_metrics(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(i) = rest.find("polyfleet_") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn alerts_and_dashboard_use_metrics_the_fleet_exports() {
    let exported = exported_metrics();
    assert!(exported.len() > 30, "{exported:?}");
    let known = |name: &str| {
        let base = ["_total", "_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        exported.iter().any(|e| e == name || e == base)
    };
    let dashboard = std::fs::read_to_string(root().join("charts/polyfleet/files/dashboard.json")).unwrap();
    let parsed: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(parsed["panels"].as_array().unwrap().len() >= 15);
    let rules = std::fs::read_to_string(root().join("charts/polyfleet/templates/prometheusrule.yaml")).unwrap();
    for (what, text) in [("dashboard", &dashboard), ("alerts", &rules)] {
        let names = referenced_metrics(text);
        assert!(names.len() >= 8, "{what}: {names:?}");
        for n in names.iter().filter(|n| !n.starts_with("polyfleet_fleet") && n.as_str() != "polyfleet_") {
            assert!(known(n), "{what} uses {n}, which nothing exports");
        }
    }
    for alert in [
        "Drawdown",
        "MarketFeedStale",
        "RiskGatewayFailingClosed",
        "KillSwitchEngaged",
        "PolicyReduceOnly",
        "PolicyTripped",
        "OrderPathSlow",
        "OrdersFailing",
        "ReconcileErrors",
        "NotificationsFailing",
    ] {
        assert!(rules.contains(&format!("alert: Polyfleet{alert}")), "no {alert} alert");
    }
}

/// The Alertmanager routing example beside the PrometheusRule: every alert it names exists,
/// every receiver a route names is declared.
#[test]
fn the_alertmanager_example_routes_the_charts_alerts() {
    let rules = std::fs::read_to_string(root().join("charts/polyfleet/templates/prometheusrule.yaml")).unwrap();
    let text = std::fs::read_to_string(root().join("charts/polyfleet/examples/alertmanager-routing.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    let receivers: Vec<&str> =
        doc["receivers"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(receivers.contains(&doc["route"]["receiver"].as_str().unwrap()));
    for r in doc["route"]["routes"].as_array().unwrap() {
        assert!(receivers.contains(&r["receiver"].as_str().unwrap()), "{r}");
    }
    let mut named = 0;
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| w.starts_with("Polyfleet") && w.len() > 9) {
        assert!(rules.contains(&format!("alert: {word}")), "the example names {word}, which no rule raises");
        named += 1;
    }
    assert!(named >= 4, "{named}");
}

#[test]
fn chart_templates_never_merge_two_helpers_that_share_a_label() {
    // polyfleet.labels and polyfleet.operatorSelector both carry app.kubernetes.io/instance: in one
    // mapping they would make a duplicate key, which the API server refuses.
    let dir = root().join("charts/polyfleet/templates");
    let mut files = vec![];
    yaml_files(&dir, &[], &mut files);
    assert!(files.len() >= 10);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for w in lines.windows(2) {
            let both = [w[0], w[1]];
            let has = |h: &str| both.iter().any(|l| l.contains(&format!("include \"{h}\"")));
            assert!(!(has("polyfleet.labels") && has("polyfleet.operatorSelector")), "{}: {w:?}", f.display());
        }
        let helpers = std::fs::read_to_string(dir.join("_helpers.tpl")).unwrap();
        assert!(helpers.contains("define \"polyfleet.commonLabels\""));
    }
}

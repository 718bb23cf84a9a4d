//! The committed CRD YAML under `crds/` is exactly what the Rust types generate, and the schema is
//! one `kubectl explain` can use: every property carries a description.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::Path;

use polyfleet_crds::{all_crds, render_yaml};
use serde_json::Value;

#[test]
fn committed_generated_files_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (rel, want) in polyfleet_crds::generated_files().unwrap() {
        let have = std::fs::read_to_string(root.join(&rel)).unwrap_or_default();
        assert!(have == want, "{rel} is stale: run `cargo run -p polyfleet-crds --bin crdgen` and commit");
    }
}

#[test]
fn kustomization_lists_every_crd() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("kustomization.yaml")).unwrap();
    let k: Value = serde_saphyr::from_str(&text).unwrap();
    let mut listed: Vec<&str> = k["resources"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let mut want: Vec<String> = all_crds().into_iter().map(|f| f.file_name).collect();
    listed.sort();
    want.sort();
    assert_eq!(listed, want);
}

#[test]
fn chart_templates_hold_the_same_crds_with_keep_policy() {
    for file in all_crds() {
        let t = polyfleet_crds::render_chart_template(&file.crd).unwrap();
        let name = file.crd.metadata.name.clone().unwrap();
        let guard = format!("{{{{- if include \"polyfleet.installCrd\" (list . \"{name}\") }}}}\n");
        let body = t.split_once(&guard).unwrap().1.strip_suffix("{{- end }}\n").unwrap();
        // The labels line is the chart's template; the rest is the CRD.
        let labels = "  labels:\n    {{- include \"polyfleet.labels\" . | nindent 4 }}\n";
        assert!(body.contains(labels), "{}: no release labels", file.file_name);
        let mut back: Value = serde_saphyr::from_str(&body.replace(labels, "")).unwrap();
        let ann = back["metadata"]["annotations"].as_object_mut().unwrap().remove("helm.sh/resource-policy");
        assert_eq!(ann, Some(Value::from("keep")));
        if back["metadata"]["annotations"].as_object().unwrap().is_empty() {
            back["metadata"].as_object_mut().unwrap().remove("annotations");
        }
        assert_eq!(back, serde_json::to_value(&file.crd).unwrap(), "{}", file.file_name);
    }
}

#[test]
fn generated_yaml_parses_back_to_the_same_crd() {
    for file in all_crds() {
        let yaml = render_yaml(&file.crd).unwrap();
        let back: Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, serde_json::to_value(&file.crd).unwrap(), "{}", file.file_name);
    }
}

fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let p = format!("{path}.{name}");
            let described = sub.get("description").and_then(Value::as_str).is_some_and(|d| !d.trim().is_empty());
            // metadata is documented by Kubernetes itself.
            if !described && p != ".metadata" {
                out.push(p.clone());
            }
            undocumented(sub, &p, out);
        }
    }
    if let Some(items) = schema.get("items") {
        undocumented(items, &format!("{path}[]"), out);
    }
}

#[test]
fn every_field_has_a_description() {
    for file in all_crds() {
        let crd = serde_json::to_value(&file.crd).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let mut missing = vec![];
        undocumented(schema, "", &mut missing);
        assert!(missing.is_empty(), "{}: fields without description: {missing:?}", file.file_name);
    }
}

#[test]
fn every_kind_is_namespaced_categorised_and_has_status_and_ready_column() {
    for file in all_crds() {
        let crd = &file.crd;
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.group, "polyfleet.dev");
        assert_eq!(crd.spec.names.categories.as_deref(), Some(&["polyfleet".to_owned()][..]));
        assert!(crd.spec.names.short_names.as_ref().is_some_and(|s| !s.is_empty()));
        let v = &crd.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(v.served && v.storage);
        assert!(v.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(), "{}", file.file_name);
        let cols = v.additional_printer_columns.as_ref().unwrap();
        assert!(cols.iter().any(|c| c.name == "Ready"), "{}", file.file_name);
        assert!(cols.iter().any(|c| c.name == "Age"), "{}", file.file_name);
    }
}

fn untyped(schema: &Value, path: &str, out: &mut Vec<String>) {
    let preserves = schema.get("x-kubernetes-preserve-unknown-fields").is_some()
        || schema.get("x-kubernetes-int-or-string").is_some();
    if schema.get("type").is_none() && !preserves {
        out.push(path.to_owned());
    }
    for key in ["anyOf", "oneOf", "allOf", "not", "$ref"] {
        if schema.get(key).is_some() {
            out.push(format!("{path} uses {key}"));
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            untyped(sub, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        untyped(items, &format!("{path}[]"), out);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        untyped(extra, &format!("{path}{{}}"), out);
    }
}

#[test]
fn schemas_are_structural_and_every_cel_rule_compiles() {
    for file in all_crds() {
        let crd = serde_json::to_value(&file.crd).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let mut bad = vec![];
        untyped(schema, "", &mut bad);
        assert!(bad.is_empty(), "{}: not structural at {bad:?}", file.file_name);
        let compiled = kube::core::cel::compile_schema(schema);
        assert!(!compiled.has_errors(), "{}: CEL errors {:?}", file.file_name, compiled.compilation_errors());
    }
}

//! The committed CRD YAML under `crds/` is exactly what the Rust types generate, and the schema is
//! one `kubectl explain` can use: every property carries a description.

use std::path::Path;

use polyfleet_crds::{all_crds, render_yaml};
use serde_json::Value;

#[test]
fn committed_crds_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in all_crds() {
        let want = render_yaml(&file.crd).unwrap();
        let have = std::fs::read_to_string(dir.join(&file.file_name)).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `cargo run -p polyfleet-crds --bin crdgen` and commit",
            file.file_name
        );
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

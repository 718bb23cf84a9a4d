//! The examples under `manifests/examples/` against the API: every valid one deserializes into the
//! Rust types and passes offline admission; every invalid one is rejected by exactly the layer
//! and rule its header comment names (`# rejected-by:`, `# field:`, `# message:`).

use std::path::{Path, PathBuf};

use polyfleet_crds::validate::{Layer, ValidateError, Violation, validate};
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};
use serde_json::Value;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    files
}

fn docs(path: &Path) -> (String, Vec<Value>) {
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (text, docs)
}

fn violations(result: Result<(), ValidateError>, path: &Path) -> Vec<Violation> {
    match result {
        Err(ValidateError::Invalid(v)) => v,
        other => panic!("{}: expected violations, got {other:?}", path.display()),
    }
}

#[test]
fn valid_examples_deserialize_and_pass_admission() {
    let files = yaml_files(&examples_dir());
    assert!(files.len() >= 7, "expected the example set, found {files:?}");
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for path in files {
        let (_, docs) = docs(&path);
        for doc in docs {
            validate(&doc, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let kind = doc["kind"].as_str().unwrap().to_owned();
            let typed: Result<(), serde_json::Error> = match kind.as_str() {
                "Venue" => serde_json::from_value::<Venue>(doc).map(drop),
                "Market" => serde_json::from_value::<Market>(doc).map(drop),
                "Strategy" => serde_json::from_value::<Strategy>(doc).map(drop),
                "RiskPolicy" => serde_json::from_value::<RiskPolicy>(doc).map(drop),
                other => panic!("{}: unexpected kind {other}", path.display()),
            };
            typed.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            *kinds.entry(kind).or_default() += 1;
        }
    }
    assert_eq!(kinds["Venue"], 1);
    assert_eq!(kinds["Market"], 2);
    assert_eq!(kinds["RiskPolicy"], 1);
    assert_eq!(kinds["Strategy"], 3);
}

#[test]
fn every_strategy_type_has_an_example() {
    let mut types = vec![];
    for path in yaml_files(&examples_dir()) {
        for doc in docs(&path).1 {
            if doc["kind"] == "Strategy" {
                types.push(doc["spec"]["type"].as_str().unwrap().to_owned());
            }
        }
    }
    types.sort();
    assert_eq!(types, ["arbitrage", "directional", "marketMaking"]);
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("# {key}:")).map(|v| v.trim().to_owned()))
}

#[test]
fn invalid_examples_fail_the_rule_their_comment_names() {
    let files = yaml_files(&examples_dir().join("invalid"));
    assert!(files.len() >= 8, "at least 8 invalid examples, found {}", files.len());
    for path in files {
        let (text, docs) = docs(&path);
        let by = header(&text, "rejected-by").unwrap_or_else(|| panic!("{}: no rejected-by", path.display()));
        let message = header(&text, "message").unwrap_or_else(|| panic!("{}: no message", path.display()));
        match by.as_str() {
            "schema" => {
                assert_eq!(docs.len(), 1, "{}", path.display());
                let field = header(&text, "field").unwrap_or_else(|| panic!("{}: no field", path.display()));
                let v = violations(validate(&docs[0], None), &path);
                assert!(v.iter().all(|v| v.layer == Layer::Schema), "{}: {v:?}", path.display());
                assert!(v.iter().all(|v| v.field == field), "{}: expected only {field}, got {v:?}", path.display());
            }
            "cel" => {
                assert_eq!(docs.len(), 1, "{}", path.display());
                let v = violations(validate(&docs[0], None), &path);
                assert!(v.iter().all(|v| v.layer == Layer::Cel), "{}: {v:?}", path.display());
                assert!(v.iter().all(|v| v.message == message), "{}: expected only {message:?}, got {v:?}", path.display());
            }
            "cel-update" => {
                assert_eq!(docs.len(), 2, "{}: old and new object", path.display());
                validate(&docs[0], None).unwrap_or_else(|e| panic!("{}: old object: {e}", path.display()));
                validate(&docs[1], None).unwrap_or_else(|e| panic!("{}: new object as a create: {e}", path.display()));
                let v = violations(validate(&docs[1], Some(&docs[0])), &path);
                assert!(v.iter().all(|v| v.layer == Layer::Cel && v.message == message), "{}: {v:?}", path.display());
            }
            other => panic!("{}: unknown rejected-by {other}", path.display()),
        }
    }
}

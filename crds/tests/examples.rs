//! The examples under `manifests/examples/` against the API: every valid one deserializes into the
//! Rust types and passes offline admission; every invalid one is rejected by exactly the layer
//! and rule its header comment names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_crds::examples::{RejectedBy, examples_dir, load_dir};
use polyfleet_crds::validate::{Layer, ValidateError, Violation, validate};
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};
use serde_json::Value;

fn violations(result: Result<(), ValidateError>, what: &str) -> Vec<Violation> {
    match result {
        Err(ValidateError::Invalid(v)) => v,
        other => panic!("{what}: expected violations, got {other:?}"),
    }
}

fn typed(doc: Value) -> Result<(), serde_json::Error> {
    match doc["kind"].as_str().unwrap_or_default() {
        "Venue" => serde_json::from_value::<Venue>(doc).map(drop),
        "Market" => serde_json::from_value::<Market>(doc).map(drop),
        "Strategy" => serde_json::from_value::<Strategy>(doc).map(drop),
        "RiskPolicy" => serde_json::from_value::<RiskPolicy>(doc).map(drop),
        other => panic!("unexpected kind {other}"),
    }
}

#[test]
fn valid_examples_deserialize_and_pass_admission() {
    let examples = load_dir(&examples_dir()).unwrap();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for ex in examples {
        assert!(ex.expect.is_none(), "{}: a valid example makes no rejection promise", ex.path.display());
        for doc in ex.docs {
            validate(&doc, None).unwrap_or_else(|e| panic!("{}: {e}", ex.path.display()));
            *kinds.entry(doc["kind"].as_str().unwrap().to_owned()).or_default() += 1;
            typed(doc).unwrap_or_else(|e| panic!("{}: {e}", ex.path.display()));
        }
    }
    assert_eq!(kinds["Venue"], 1);
    assert_eq!(kinds["Market"], 2);
    assert_eq!(kinds["RiskPolicy"], 2);
    assert_eq!(kinds["Strategy"], 3);
}

/// The built-in model examples, kept apart from the local run's default directory: crypto
/// up/down (a series Market and a Strategy running the model; no RTDS-reading runtime
/// in-process) and sports (two Markets of a match on Polymarket and a Strategy pricing them from
/// a real odds feed), and an A/B experiment (eight Markets, two arms each under its policy).
#[test]
fn the_built_in_model_examples_deserialize_and_pass_admission() {
    for (dir, want) in [
        ("crypto-updown", &["Market", "Strategy"][..]),
        ("sports", &["Market", "Market", "Strategy"][..]),
        ("experiment", &[&["Market"; 8][..], &["RiskPolicy"; 2], &["Strategy"; 2]].concat()[..]),
    ] {
        let examples = load_dir(&examples_dir().join(dir)).unwrap();
        let kinds: Vec<String> =
            examples.iter().flat_map(|e| &e.docs).map(|d| d["kind"].as_str().unwrap().to_owned()).collect();
        assert_eq!(kinds, want, "{dir}");
        for ex in examples {
            for doc in ex.docs {
                validate(&doc, None).unwrap_or_else(|e| panic!("{}: {e}", ex.path.display()));
                typed(doc).unwrap_or_else(|e| panic!("{}: {e}", ex.path.display()));
            }
        }
    }
}

#[test]
fn every_strategy_type_has_an_example() {
    let mut types: Vec<String> = load_dir(&examples_dir())
        .unwrap()
        .into_iter()
        .flat_map(|ex| ex.docs)
        .filter(|d| d["kind"] == "Strategy")
        .map(|d| d["spec"]["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["arbitrage", "directional", "marketMaking"]);
}

#[test]
fn invalid_examples_fail_the_rule_their_comment_names() {
    let examples = load_dir(&examples_dir().join("invalid")).unwrap();
    assert!(examples.len() >= 8, "at least 8 invalid examples, found {}", examples.len());
    for ex in examples {
        let what = ex.path.display().to_string();
        let expect = ex.expect.unwrap_or_else(|| panic!("{what}: no rejected-by header"));
        let docs = &ex.docs;
        match expect.rejected_by {
            RejectedBy::Schema => {
                assert_eq!(docs.len(), 1, "{what}");
                let field = expect.field.unwrap();
                let v = violations(validate(&docs[0], None), &what);
                assert!(
                    v.iter().all(|v| v.layer == Layer::Schema && v.field == field),
                    "{what}: expected only {field}, got {v:?}"
                );
            }
            RejectedBy::Cel => {
                assert_eq!(docs.len(), 1, "{what}");
                let v = violations(validate(&docs[0], None), &what);
                assert!(
                    v.iter().all(|v| v.layer == Layer::Cel && v.message == expect.message),
                    "{what}: expected only {:?}, got {v:?}",
                    expect.message
                );
            }
            RejectedBy::CelUpdate => {
                assert_eq!(docs.len(), 2, "{what}: old and new object");
                validate(&docs[0], None).unwrap_or_else(|e| panic!("{what}: old object: {e}"));
                validate(&docs[1], None).unwrap_or_else(|e| panic!("{what}: new object as a create: {e}"));
                let v = violations(validate(&docs[1], Some(&docs[0])), &what);
                assert!(v.iter().all(|v| v.layer == Layer::Cel && v.message == expect.message), "{what}: {v:?}");
            }
        }
    }
}

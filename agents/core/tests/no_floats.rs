//! Guard: no floating-point type in the money types, the wire protocol or the API's limits.
//! Scans the sources of `agents/core` and `crds` for `f32`/`f64` used as a type. The market
//! maker's model (estimators and quote distances), the forecast scores' log loss and the
//! sequential A/B test's likelihood ratio, the annualized ratios and the drift detectors' samples
//! (statistics, not accounts) are the places allowed floats;
//! the market maker's parameters (the contract) are not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn money_wire_and_limits_hold_no_floats() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("../../crds/src"), &mut files);
    assert!(files.len() > 10, "scanned only {files:?}");
    let mut hits = vec![];
    let model = root.join("src/strategy/market_making");
    // Forecast scores (log loss), the A/B test's likelihood ratio and the built-in models'
    // probabilities are statistics, not accounts.
    let scores = root.join("src/analytics/scores.rs");
    let sequential = root.join("src/analytics/sequential.rs");
    let ratios = root.join("src/analytics/ratios.rs");
    let detectors = root.join("src/analytics/drift.rs");
    let monitor = root.join("src/strategy/drift.rs");
    let models = root.join("src/models");
    for f in files {
        if f.starts_with(&model) && !f.ends_with("params.rs")
            || f == scores
            || f == sequential
            || f == ratios
            || f == detectors
            || f == monitor
            || f.starts_with(&models)
        {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let is_float = |ty: &str| {
                code.match_indices(ty).any(|(i, _)| {
                    let before = code[..i].chars().last().is_none_or(|c| !c.is_alphanumeric() && c != '_');
                    let after = code[i + ty.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric() && c != '_');
                    before && after
                })
            };
            if is_float("f64") || is_float("f32") {
                hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(hits.is_empty(), "floats found:\n{}", hits.join("\n"));
}

//! The packaging checks' real tools (`scripts/tools.sh` provides them: helm 4.3, helm 3.17,
//! kubeconform, the offline Kubernetes schemas from `../shared/tools`, and kubectl for
//! kustomize), and helpers to render the chart, build a kustomization and validate the result.
//! Without `../shared/tools` the callers skip with a message; with it, a tool that cannot be
//! provided fails the test, and under CI (`CI` set) so does a missing `../shared/tools`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// The Kubernetes versions every render is validated against.
pub const KUBE_VERSIONS: &[&str] = &["1.30.0", "1.32.0", "1.37.0"];

/// Kinds of the Prometheus Operator: `../shared/tools` has no schemas for them, so kubeconform
/// skips them (by name, never by "ignore missing schemas").
pub const NO_SCHEMA: &str = "ServiceMonitor,PodMonitor,PrometheusRule";

/// A line for the test log that the test harness does not capture (written to the stderr file
/// descriptor, not through `eprintln!`), so CI output shows every tool run that passed.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn chart() -> PathBuf {
    root().join("charts/polyfleet")
}

/// The tools directory, or `None` (with a message) where `../shared/tools` is absent.
pub fn tools() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if !root().join("../shared/tools").is_dir() {
            // CI runs these checks or fails: a skipped packaging check must never look green.
            assert!(std::env::var_os("CI").is_none(), "CI: ../shared/tools is absent, so the chart cannot be checked");
            eprintln!("SKIPPED: ../shared/tools is absent, so there is no helm or kubeconform here");
            return None;
        }
        let out = Command::new("bash").arg(root().join("scripts/tools.sh")).output().expect("running scripts/tools.sh");
        assert!(out.status.success(), "scripts/tools.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string()))
    })
    .as_deref()
}

/// The CRDs' strict JSON schemas, written once for kubeconform (`polyfleet_crds::kubeconform_schemas`).
pub fn crd_schemas() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("polyfleet-crd-schemas-{}", std::process::id()));
        for (rel, schema) in polyfleet_crds::kubeconform_schemas() {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, serde_json::to_vec(&schema).unwrap()).unwrap();
        }
        dir
    })
}

/// Runs a tool of the tools directory; (success, stdout, stderr).
pub fn run(tool: &str, args: &[&str]) -> (bool, String, String) {
    let bin = tools().expect("tools").join(tool);
    let out = Command::new(&bin).args(args).output().unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// `helm template` of the chart as release `release` in `namespace` with `--set`/`-f` style
/// `args`, by `helm` ("helm" or "helm3"); the rendered YAML or helm's error.
pub fn template(helm: &str, release: &str, namespace: &str, args: &[&str]) -> Result<String, String> {
    let chart = chart();
    let mut all = vec!["template", release, chart.to_str().unwrap(), "--namespace", namespace];
    all.extend_from_slice(args);
    let (ok, out, err) = run(helm, &all);
    if ok { Ok(out) } else { Err(err) }
}

/// The documents of a YAML stream.
pub fn docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap_or_else(|e| panic!("unparseable render: {e}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// `kubeconform -strict` of `yaml` against Kubernetes `version` and the CRDs' schemas; the
/// summary line, or a panic naming `what` with kubeconform's complaints.
pub fn kubeconform(yaml: &str, version: &str, what: &str) -> String {
    let t = tools().expect("tools");
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("polyfleet-render-{}-{n}.yaml", std::process::id()));
    std::fs::write(&file, yaml).unwrap();
    let k8s = format!(
        "{}/schemas/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        t.display()
    );
    let crds = format!(
        "{}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
        crd_schemas().display()
    );
    let (ok, out, err) = run(
        "kubeconform",
        &[
            "-strict",
            "-summary",
            "-kubernetes-version",
            version,
            "-schema-location",
            &k8s,
            "-schema-location",
            &crds,
            "-skip",
            NO_SCHEMA,
            file.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&file);
    assert!(ok, "kubeconform {version} refused {what}:\n{out}\n{err}");
    let summary = out.lines().last().unwrap_or_default().to_string();
    assert!(summary.contains("Invalid: 0, Errors: 0"), "kubeconform {version} on {what}: {summary}");
    summary
}

/// `kubectl kustomize` of a directory of the repository.
pub fn kustomize(dir: &str) -> String {
    let path = root().join(dir);
    let (ok, out, err) = run("kubectl", &["kustomize", path.to_str().unwrap()]);
    assert!(ok, "kubectl kustomize {dir}: {err}");
    out
}

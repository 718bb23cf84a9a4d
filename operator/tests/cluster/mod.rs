//! Helpers of the cluster suites: the control plane they run against (`KUBECONFIG`'s cluster, or
//! an envtest control plane this test binary starts: see `polyfleet_testkit::envtest`), clients
//! for it, installing the generated CRDs and waiting until they are Established, and a dynamic
//! API for a YAML document.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

pub const MANAGER: &str = "polyfleet-e2e";

/// The client configuration of this binary's control plane, or `None` (the suite is skipped,
/// with a message) when there is none. Installs the ring crypto provider first.
pub async fn cluster_config() -> Option<kube::Config> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plane = tokio::task::spawn_blocking(polyfleet_testkit::envtest::control_plane).await.unwrap()?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&plane.kubeconfig).expect("reading the kubeconfig");
    let options = kube::config::KubeConfigOptions::default();
    Some(kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("a client configuration"))
}

/// An admin client of this binary's control plane (see [`cluster_config`]).
pub async fn admin_client() -> Option<Client> {
    Some(Client::try_from(cluster_config().await?).expect("a client"))
}

pub fn api_for(client: &Client, ns: &str, doc: &Value) -> Api<DynamicObject> {
    let (group, version) = doc["apiVersion"].as_str().unwrap().split_once('/').unwrap_or(("", "v1"));
    let gvk = GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap());
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural(gvk.kind.as_str()));
    Api::namespaced_with(client.clone(), ns, &ar)
}

pub fn plural(kind: &str) -> String {
    match kind {
        "Strategy" => "strategies".into(),
        "RiskPolicy" => "riskpolicies".into(),
        "NetworkPolicy" => "networkpolicies".into(),
        other => format!("{}s", other.to_lowercase()),
    }
}

pub fn object(doc: &Value) -> DynamicObject {
    serde_json::from_value(doc.clone()).unwrap()
}

pub async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in polyfleet_crds::all_crds() {
        let name = file.crd.metadata.name.clone().unwrap();
        crds.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&file.crd))
            .await
            .unwrap_or_else(|e| panic!("the API server refused CRD {name}: {e}"));
        let mut established = false;
        for _ in 0..60 {
            let crd = crds.get(&name).await.unwrap();
            let conds = crd.status.and_then(|s| s.conditions).unwrap_or_default();
            if conds.iter().any(|c| c.type_ == "Established" && c.status == "True") {
                established = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(established, "CRD {name} never became Established");
    }
}

/// Polls `check` every half second until it returns Some, or fails after `secs` with `what`
/// (running `on_timeout` first, for diagnostics).
pub async fn eventually_or<T, F, Fut, D, DFut>(secs: u64, what: &str, mut check: F, on_timeout: D) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
    D: FnOnce() -> DFut,
    DFut: Future<Output = ()>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            on_timeout().await;
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// [`eventually_or`] without diagnostics.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_or(secs, what, check, || async {}).await
}

/// The workspace binary `name` beside this test (or bench) binary's `deps/` directory.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|d| d.parent()).unwrap().join(name);
    assert!(bin.exists(), "{} is missing: run `cargo build --workspace` first", bin.display());
    bin
}

/// The directory of the workspace's binaries (`polyfleet-operator`, `polyfleet-agent`,
/// `polyfleet`), checking that each is built.
pub fn workspace_binaries() -> PathBuf {
    let dir = workspace_binary("polyfleet-operator").parent().unwrap().to_path_buf();
    for bin in ["polyfleet", "polyfleet-agent"] {
        workspace_binary(bin);
    }
    dir
}

//! End-to-end suite against a real Kubernetes API server, run when `KUBECONFIG` is set (skipped
//! with a message otherwise): the generated CRDs are accepted and become Established, every valid
//! example passes a server-side dry-run create, and every invalid example is rejected with the
//! message its header comment promises (update pairs: the first object is created for real, the
//! update is a dry-run server-side apply). Everything happens in a fresh namespace that is deleted
//! afterwards.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Error};
use polyfleet_crds::examples::{RejectedBy, examples_dir, load_dir};
use serde_json::Value;

const MANAGER: &str = "polyfleet-e2e";

fn cluster_configured() -> bool {
    if std::env::var_os("KUBECONFIG").is_some() {
        return true;
    }
    eprintln!("SKIPPED: KUBECONFIG is not set; the cluster end-to-end suite did not run");
    false
}

fn api_for(client: &Client, ns: &str, doc: &Value) -> Api<DynamicObject> {
    let (group, version) = doc["apiVersion"].as_str().unwrap().split_once('/').unwrap();
    let gvk = GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap());
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural(gvk.kind.as_str()));
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn plural(kind: &str) -> String {
    match kind {
        "Strategy" => "strategies".into(),
        "RiskPolicy" => "riskpolicies".into(),
        other => format!("{}s", other.to_lowercase()),
    }
}

fn object(doc: &Value) -> DynamicObject {
    serde_json::from_value(doc.clone()).unwrap()
}

fn dry_run() -> PostParams {
    PostParams { dry_run: true, field_manager: Some(MANAGER.into()) }
}

async fn install_crds(client: &Client) {
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

fn rejection_message(result: Result<DynamicObject, Error>) -> Option<String> {
    match result {
        Ok(_) => None,
        Err(Error::Api(status)) => Some(status.message.clone()),
        Err(other) => panic!("transport error instead of an API verdict: {other}"),
    }
}

#[tokio::test]
async fn crds_and_examples_against_a_real_api_server() {
    if !cluster_configured() {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::try_default().await.expect("a client from KUBECONFIG");
    install_crds(&client).await;

    let ns = format!("polyfleet-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_obj: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
    namespaces.create(&PostParams::default(), &ns_obj).await.expect("create the test namespace");

    let mut failures = vec![];
    for ex in load_dir(&examples_dir()).unwrap() {
        for doc in &ex.docs {
            if let Err(e) = api_for(&client, &ns, doc).create(&dry_run(), &object(doc)).await {
                failures.push(format!("{}: valid example refused: {e}", ex.path.display()));
            }
        }
    }
    for ex in load_dir(&examples_dir().join("invalid")).unwrap() {
        let expect = ex.expect.clone().unwrap();
        let what = ex.path.display().to_string();
        let new = ex.docs.last().unwrap();
        let api = api_for(&client, &ns, new);
        let verdict = match expect.rejected_by {
            RejectedBy::Schema | RejectedBy::Cel => rejection_message(api.create(&dry_run(), &object(new)).await),
            RejectedBy::CelUpdate => {
                let old = &ex.docs[0];
                api.create(&PostParams::default(), &object(old))
                    .await
                    .unwrap_or_else(|e| panic!("{what}: storing the old object: {e}"));
                let name = new["metadata"]["name"].as_str().unwrap();
                let params = PatchParams::apply(MANAGER).force().dry_run();
                let result = api.patch(name, &params, &Patch::Apply(new)).await;
                rejection_message(result)
            }
        };
        match verdict {
            None => failures.push(format!("{what}: accepted, but it promises a rejection ({:?})", expect.message)),
            Some(msg) if !msg.contains(&expect.message) => {
                failures.push(format!("{what}: rejected with {msg:?}, which lacks the promised {:?}", expect.message))
            }
            Some(_) => {}
        }
    }
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

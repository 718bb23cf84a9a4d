//! End-to-end suite against a real Kubernetes API server (`KUBECONFIG`'s, or an envtest control
//! plane started for this binary; skipped with a message when there is neither): the generated CRDs are accepted and become Established, every valid
//! example passes a server-side dry-run create, and every invalid example is rejected with the
//! message its header comment promises (update pairs: the first object is created for real, the
//! update is a dry-run server-side apply). Everything happens in a fresh namespace that is deleted
//! afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use k8s_openapi::api::core::v1::Namespace;
use kube::Error;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use polyfleet_crds::examples::{RejectedBy, examples_dir, load_dir};

mod cluster;

use cluster::{MANAGER, admin_client, api_for, install_crds, object};

fn dry_run() -> PostParams {
    PostParams { dry_run: true, field_manager: Some(MANAGER.into()) }
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
    let Some(client) = admin_client().await else { return };
    install_crds(&client).await;

    let ns = format!("polyfleet-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_obj: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
    namespaces.create(&PostParams::default(), &ns_obj).await.expect("create the test namespace");

    let mut failures = vec![];
    let valid = [
        examples_dir(),
        examples_dir().join("crypto-updown"),
        examples_dir().join("sports"),
        examples_dir().join("experiment"),
    ];
    for ex in valid.iter().flat_map(|d| load_dir(d).unwrap()) {
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

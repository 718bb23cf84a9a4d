//! Applying children without writing when nothing changed: every desired object carries the
//! hash of its own desired content in an annotation; the live object is looked up in the
//! children's store ([`crate::children`], no API read) and the server-side apply is sent only
//! when the hash differs (or the object is missing). Idle resyncs therefore cost no API call.
//! A store that lags behind a write at worst repeats an apply, which changes nothing. Status
//! goes by server-side apply too ([`apply_status`]).

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, MANAGER};
use crate::children::{Child, Children};
use crate::planner::checksum;

/// Annotation holding the hash of what the operator last applied.
pub const DESIRED_HASH: &str = "polyfleet.dev/desired-hash";

/// The hash of a desired object: over its JSON with sorted keys, so it does not depend on field
/// order. An object that does not serialize is an error, never the hash of nothing.
pub fn desired_hash<K: Serialize>(desired: &K) -> Result<String, serde_json::Error> {
    let canonical = serde_json::to_value(desired).and_then(|v| serde_json::to_vec(&v))?;
    Ok(checksum(&canonical))
}

/// Applies `desired` (named and namespaced) unless the live object in `children` already has its
/// hash. Returns true when it wrote.
pub async fn apply_if_changed<K: Child>(
    client: &kube::Client,
    children: &Children,
    mut desired: K,
) -> Result<bool, Error> {
    let hash = desired_hash(&desired).map_err(|e| Error::Encode(e.to_string()))?;
    desired.annotations_mut().insert(DESIRED_HASH.to_string(), hash.clone());
    let name = desired.name_any();
    let ns = desired.namespace().unwrap_or_default();
    if children.live::<K>(&ns, &name).is_some_and(|live| live.annotations().get(DESIRED_HASH) == Some(&hash)) {
        return Ok(false);
    }
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    let dt = ();
    let mut body = serde_json::to_value(&desired).map_err(|e| Error::Encode(e.to_string()))?;
    // Server-side apply needs apiVersion and kind in the body.
    body["apiVersion"] = K::api_version(&dt).into();
    body["kind"] = K::kind(&dt).into();
    api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(body)).await?;
    Ok(true)
}

/// Writes `status` as the whole status of `name` by server-side apply on the status
/// subresource, with the operator's field manager: conditions merge by type (they are list maps),
/// and a field the operator no longer sets is removed instead of lingering.
pub async fn apply_status<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
    S: Serialize,
{
    let dt = K::DynamicType::default();
    let body = serde_json::json!({
        "apiVersion": K::api_version(&dt),
        "kind": K::kind(&dt),
        "status": status,
    });
    api.patch_status(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(body)).await?;
    Ok(())
}

/// Deletes the named objects (those already gone count for nothing); how many it deleted.
pub async fn delete_all<K>(api: &Api<K>, names: impl IntoIterator<Item = String>) -> Result<usize, Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut n = 0;
    for name in names {
        match api.delete(&name, &kube::api::DeleteParams::background()).await {
            Ok(_) => n += 1,
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// Deletes the Deployments (and their metrics Services and ConfigMaps, named alike) in `ns` that
/// carry `labels` but are not in `planned`; the names deleted.
pub async fn prune_agents(
    client: &kube::Client,
    live: &Children,
    ns: &str,
    labels: &[(&str, &str)],
    planned: &[String],
) -> Result<Vec<String>, Error> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Service};
    let stale: Vec<String> =
        live.labelled::<Deployment>(ns, labels).iter().map(|d| d.name_any()).filter(|n| !planned.contains(n)).collect();
    if !stale.is_empty() {
        delete_all(&Api::<Deployment>::namespaced(client.clone(), ns), stale.clone()).await?;
        delete_all(&Api::<Service>::namespaced(client.clone(), ns), stale.clone()).await?;
        delete_all(&Api::<ConfigMap>::namespaced(client.clone(), ns), stale.clone()).await?;
    }
    Ok(stale)
}

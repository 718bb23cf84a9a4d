//! The desired-state planner: pure functions from custom resources (and the operator's
//! settings) to the Kubernetes objects and external writes that should exist. No I/O and no
//! clock: the controllers apply what these return, the local run (`polyfleet up`) runs the same
//! plan without a cluster, and the unit tests check it directly.
//!
//! - [`market`]: a Market's status from what the venue answered, its top of book and its shard.
//! - [`markets`]: a Market as the planner sees it (tokens, conditions, rules).
//! - [`shards`]: assignment of a Venue's tokens to market-data pods.
//! - [`venue`]: a Venue -> market-data Deployments (one per shard), the execution Deployment and
//!   its ConfigMap, metrics Services.
//! - [`strategy`]: a Strategy -> its ConfigMap, Deployment and the parameter document for the KV
//!   bucket; or a refusal (live trading not acknowledged, references missing).
//! - [`models`]: a directional Strategy's built-in model publishers (crypto up/down per series).
//! - [`risk`]: a RiskPolicy -> the limits written to Redis; the namespace's risk gateway.
//! - [`rounds`]: a series Market's rounds in play and the document its agents follow.
//! - [`network`]: the NetworkPolicy that confines a namespace's agents.
//! - [`notify`]: a RiskPolicy's notifications -> its notifier Deployment and its egress.

pub mod market;
pub mod markets;
pub mod models;
pub mod network;
pub mod notify;
pub mod risk;
pub mod rounds;
pub mod shards;
pub mod strategy;
pub mod venue;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};
use sha1::{Digest, Sha1};

/// The controller owner reference of `obj` (children are garbage-collected with it).
pub fn owner_ref<K: Resource<DynamicType = ()>>(obj: &K) -> Option<OwnerReference> {
    obj.controller_owner_ref(&())
}

/// A short, stable checksum (hex SHA-1) of `data`, for pod-template annotations.
pub fn checksum(data: &[u8]) -> String {
    let digest = Sha1::digest(data);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A DNS-1123 object name `<prefix>-<name>`, cut to 63 characters with a checksum suffix when it
/// is longer.
pub fn child_name(prefix: &str, name: &str) -> String {
    let full = format!("{prefix}-{name}");
    if full.len() <= 63 {
        return full;
    }
    let sum = checksum(full.as_bytes());
    format!("{}-{}", full[..(63 - 17)].trim_end_matches('-'), &sum[..16])
}

/// The namespace of a namespaced resource (empty when unset, which the API never allows).
pub fn namespace_of<K: ResourceExt>(obj: &K) -> String {
    obj.namespace().unwrap_or_default()
}

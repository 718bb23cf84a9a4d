//! References from one resource to another and to Secrets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Reference to another polyfleet resource in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalRef {
    /// Name of the referenced resource (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Reference to a Kubernetes Secret in the same namespace; the operator mounts it into the agent
/// that needs it as environment variables and never copies its contents anywhere else.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretRef {
    /// Name of the Secret (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// One key of a Kubernetes Secret in the same namespace, handed to the agent that needs it as an
/// environment variable (`secretKeyRef`); its value never appears in a spec, status or log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key in it.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

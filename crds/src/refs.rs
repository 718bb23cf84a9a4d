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

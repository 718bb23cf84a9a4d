//! Controllers, kube-rs style: each reconcile is a function of one object and what it references,
//! built on the pure [`crate::planner`]; children are server-side applied with one field manager
//! and skipped when unchanged, status goes through its own subresource and only when it differs.
//!
//! - [`strategy`]: Strategy -> ConfigMap, Deployment, Service, KV parameters; status with
//!   `Ready`, `Reconciling`, `Stalled`, `ParametersApplied`.
//! - [`risk_policy`]: RiskPolicy -> limits in the risk store; status from the store's state.
//! - [`venue`]: Venue -> simulator, market-data shards, execution, the namespace's risk gateway
//!   and NetworkPolicy; status with shards and assigned tokens.
//! - [`market`]: Market -> resolved tokens, phase, fee, throttled top of book, feed health, shard.

pub mod apply;
pub mod market;
pub mod risk_policy;
pub mod strategy;
pub mod venue;

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::Recorder;

use crate::params::ParamsStore;
use crate::settings::FleetSettings;

/// The field manager of every write.
pub const MANAGER: &str = "polyfleet-operator";

/// What every reconcile needs.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Fleet settings.
    pub settings: FleetSettings,
    /// The Venues, RiskPolicies and Markets (reflector stores).
    pub cache: crate::cache::Cache,
    /// The parameter KV bucket.
    pub params: Arc<dyn ParamsStore>,
    /// Cancelling a strategy's orders.
    pub control: Arc<dyn crate::control::OrderControl>,
    /// The risk store (positions and PnL for status).
    pub risk: Arc<dyn crate::limits::LimitsStore>,
    /// Kubernetes Events.
    pub recorder: Recorder,
    /// The operator's metrics.
    pub metrics: Arc<crate::metrics::OperatorMetrics>,
    /// The agents' Redis credentials, copied into a namespace before its agents are applied.
    pub credentials: Option<Arc<crate::credentials::Credentials>>,
}

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or was unreachable.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The parameter store failed.
    #[error(transparent)]
    Params(#[from] crate::params::ParamsError),
    /// A finalizer step failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The risk store failed.
    #[error("risk store: {0}")]
    Store(String),
    /// Cancelling orders failed.
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    /// A desired object did not serialize (nothing was applied).
    #[error("desired object does not serialize: {0}")]
    Encode(String),
    /// A notice for people could not be published.
    #[error(transparent)]
    Notices(#[from] crate::notices::NoticeError),
    /// The agents' Redis credentials could not be provided in the namespace.
    #[error("Redis credentials: {0}")]
    Credentials(#[from] crate::credentials::CredentialsError),
}

impl Error {
    /// A stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube_api",
            Error::Params(_) => "parameter_store",
            Error::Finalizer(_) => "finalizer",
            Error::Store(_) => "risk_store",
            Error::Control(_) => "order_control",
            Error::Encode(_) => "encode",
            Error::Credentials(_) => "credentials",
            Error::Notices(_) => "notices",
        }
    }
}

impl From<kube::runtime::finalizer::Error<Error>> for Error {
    fn from(e: kube::runtime::finalizer::Error<Error>) -> Self {
        use kube::runtime::finalizer::Error as F;
        match e {
            F::ApplyFailed(e) | F::CleanupFailed(e) => e,
            other => Error::Finalizer(other.to_string()),
        }
    }
}

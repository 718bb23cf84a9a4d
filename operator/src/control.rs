//! Orders of a Strategy that the operator must stop: on deletion (finalizer) and on suspension
//! the operator asks the execution agents to cancel every open order of the strategy, through
//! the intents stream the execution agent already consumes cancels from. A trait so the
//! controller is tested without NATS; [`MemoryControl`] records the requests.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[error("order control: {0}")]
pub struct ControlError(pub String);

/// Cancelling a strategy's orders.
pub trait OrderControl: Send + Sync + 'static {
    /// Asks for every open order of `namespace/strategy` to be cancelled (idempotent).
    fn cancel_all(&self, namespace: &str, strategy: &str, reason: &str) -> BoxFuture<'_, Result<(), ControlError>>;
}

/// In memory: records the requests.
#[derive(Clone, Default)]
pub struct MemoryControl {
    /// (namespace, strategy, reason) per request.
    pub requests: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl OrderControl for MemoryControl {
    fn cancel_all(&self, namespace: &str, strategy: &str, reason: &str) -> BoxFuture<'_, Result<(), ControlError>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).push((
            namespace.into(),
            strategy.into(),
            reason.into(),
        ));
        Box::pin(async { Ok(()) })
    }
}

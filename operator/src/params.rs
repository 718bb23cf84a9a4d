//! Where Strategy parameters go: the KV entry `<ns>.<strategy>` the strategy agent watches, and
//! the acknowledgement `<ns>.<strategy>.ack` it writes back. A trait so the controller is tested
//! without NATS; [`MemoryParams`] for tests and the local run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

/// What the strategy agent acknowledged (the contract's type, shared with the agent).
pub use polyfleet_core::config::ParamsAck;

/// Why the parameter store failed.
#[derive(Debug, thiserror::Error)]
#[error("parameter store: {0}")]
pub struct ParamsError(pub String);

/// The parameter KV bucket.
pub trait ParamsStore: Send + Sync + 'static {
    /// The current document under `key`.
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, ParamsError>>;
    /// Writes the document.
    fn put(&self, key: &str, doc: Vec<u8>) -> BoxFuture<'_, Result<(), ParamsError>>;
    /// Removes the document (the Strategy is gone).
    fn delete(&self, key: &str) -> BoxFuture<'_, Result<(), ParamsError>>;
}

/// The acknowledgement under `<key>.ack`, if any (an unreadable one counts as none).
pub async fn ack(store: &dyn ParamsStore, key: &str) -> Result<Option<ParamsAck>, ParamsError> {
    Ok(store.get(&format!("{key}.ack")).await?.and_then(|b| serde_json::from_slice(&b).ok()))
}

/// In memory.
#[derive(Clone, Default)]
pub struct MemoryParams {
    entries: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// Number of `put` calls (tests check that idle reconciles write nothing).
    pub puts: Arc<Mutex<u64>>,
}

impl ParamsStore for MemoryParams {
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, ParamsError>> {
        let v = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned();
        Box::pin(async move { Ok(v) })
    }

    fn put(&self, key: &str, doc: Vec<u8>) -> BoxFuture<'_, Result<(), ParamsError>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), doc);
        *self.puts.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Box::pin(async { Ok(()) })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, Result<(), ParamsError>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        Box::pin(async { Ok(()) })
    }
}

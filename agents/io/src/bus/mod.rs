//! The message bus as a trait, with two implementations that behave the same (one conformance
//! suite, `tests/bus_conformance.rs`, runs against both):
//!
//! - [`nats::NatsBus`]: core NATS subjects for market data and request/reply; JetStream streams
//!   (`POLYFLEET_INTENTS`, `_DECISIONS`, `_ORDERS`, `_FILLS`) with durable pull consumers for the
//!   order path, de-duplicated by message id; a KV bucket for strategy parameters. The fleet's.
//! - [`memory::MemoryBus`]: the same semantics in one process, for the embedded local run and
//!   backtests.
//!
//! Semantics both keep:
//! - `publish`: fire and forget to current subscribers of matching patterns (`*` one token, `>`
//!   the rest).
//! - `persist`: stored in the stream capturing the subject, at most once per message id within
//!   the duplicate window; subscribers of the subject receive it too.
//! - `consume`: a durable consumer; consumers sharing a durable name share the work (each message
//!   goes to one of them); a message not acknowledged within `ack_wait` is delivered again, to
//!   this or another consumer, and so is one whose consumer went away; acknowledged messages are
//!   never delivered again under that durable name.
//! - KV: `kv_put` returns a revision that grows; `kv_watch` of a key, or of a pattern (`*` one
//!   token, `>` the rest), yields the current entries first (if any, by revision), then every
//!   later put.

pub mod memory;
pub mod nats;
mod subject;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use subject::subject_matches;

/// Message headers, in order (trace context, message ids).
pub type Headers = Vec<(String, String)>;

/// A message on a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject it was published on.
    pub subject: String,
    /// Its headers.
    pub headers: Headers,
    /// Its body.
    pub payload: Bytes,
    /// Where to answer, for requests.
    pub reply: Option<String>,
}

impl Message {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why the bus failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Connecting or talking to the server failed.
    #[error("bus connection: {0}")]
    Connection(String),
    /// No stream captures the subject.
    #[error("no stream captures subject {0}")]
    NoStream(String),
    /// A request got no answer in time.
    #[error("request on {0} timed out")]
    Timeout(String),
    /// The server refused the operation.
    #[error("bus operation refused: {0}")]
    Refused(String),
}

/// A durable consumer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// The stream.
    pub stream: String,
    /// The durable name; consumers sharing it share the work.
    pub durable: String,
    /// Subjects of the stream to receive (a pattern).
    pub filter: String,
    /// Time to acknowledge before redelivery.
    pub ack_wait: Duration,
}

/// A stored message handed to a consumer; acknowledge it once handled.
pub struct Delivery {
    /// The message.
    pub message: Message,
    /// 1 on first delivery, more on redeliveries.
    pub delivered: u64,
    acker: Acker,
}

enum Acker {
    Nats(Box<async_nats::jetstream::Message>),
    Memory(memory::AckHandle),
}

impl Delivery {
    /// Acknowledges: the durable name never gets it again.
    pub async fn ack(self) -> Result<(), BusError> {
        match self.acker {
            Acker::Nats(m) => m.ack().await.map_err(|e| BusError::Connection(e.to_string())),
            Acker::Memory(h) => {
                h.ack();
                Ok(())
            }
        }
    }
}

/// One KV entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// Its revision.
    pub revision: u64,
    /// Its value.
    pub value: Bytes,
}

/// A stream of subscribed messages.
pub type Subscription = BoxStream<'static, Message>;
/// A durable consumer's deliveries.
pub type Deliveries = BoxStream<'static, Result<Delivery, BusError>>;
/// A KV watch.
pub type KvWatch = BoxStream<'static, Result<KvEntry, BusError>>;

/// The bus (see the module doc for the semantics).
pub trait Bus: Clone + Send + Sync + 'static {
    /// Publishes to current subscribers.
    fn publish(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> impl Future<Output = Result<(), BusError>> + Send;
    /// Subscribes to a subject pattern.
    fn subscribe(&self, pattern: &str) -> impl Future<Output = Result<Subscription, BusError>> + Send;
    /// Sends a request and waits for one answer.
    fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> impl Future<Output = Result<Bytes, BusError>> + Send;
    /// Stores a message in the stream capturing its subject; `Ok(false)` when `msg_id` was stored
    /// already (a duplicate, dropped).
    fn persist(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        msg_id: Option<&str>,
    ) -> impl Future<Output = Result<bool, BusError>> + Send;
    /// Opens (creating if needed) a durable consumer.
    fn consume(&self, spec: ConsumerSpec) -> impl Future<Output = Result<Deliveries, BusError>> + Send;
    /// Writes a KV entry; returns its revision.
    fn kv_put(&self, key: &str, value: Bytes) -> impl Future<Output = Result<u64, BusError>> + Send;
    /// Reads a KV entry.
    fn kv_get(&self, key: &str) -> impl Future<Output = Result<Option<KvEntry>, BusError>> + Send;
    /// Deletes a KV entry (reads then find nothing; watchers see no new entry).
    fn kv_delete(&self, key: &str) -> impl Future<Output = Result<(), BusError>> + Send;
    /// Watches a key: its current entry first, then every put.
    fn kv_watch(&self, key: &str) -> impl Future<Output = Result<KvWatch, BusError>> + Send;
}

/// Watches every one of `keys` ([`Bus::kv_watch`]) as one stream (no keys: a stream that ends
/// at once).
pub async fn kv_watch_all<B: Bus>(bus: &B, keys: &[String]) -> Result<KvWatch, BusError> {
    let watches = futures::future::try_join_all(keys.iter().map(|k| bus.kv_watch(k))).await?;
    Ok(futures::StreamExt::boxed(futures::stream::select_all(watches)))
}

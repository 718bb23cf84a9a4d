//! The NATS implementation of the bus: core subjects, JetStream streams with durable pull
//! consumers, and the parameters KV bucket. `connect` creates the wire protocol's streams (file
//! storage, 24 h retention, 2 min duplicate window for message ids) and the bucket when missing.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, kv, stream};
use bytes::Bytes;
use futures::StreamExt;
use polyfleet_core::wire::subjects::{PARAMS_BUCKET, STREAMS};

use super::{
    Acker, Bus, BusError, ConsumerSpec, Deliveries, Delivery, Headers, KvEntry, KvWatch, Message, Subscription,
};

/// The bus over a NATS server with JetStream; clones share the connection. The agents clone it
/// for every message they send off their loop, so a clone is one reference count: the JetStream
/// context and the KV handle (which holds the bucket's whole stream description) are shared, not
/// copied.
#[derive(Clone)]
pub struct NatsBus(Arc<Inner>);

struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    kv: kv::Store,
}

fn conn<E: std::fmt::Display>(e: E) -> BusError {
    BusError::Connection(e.to_string())
}

fn to_header_map(headers: &Headers) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(k.as_str(), v.as_str());
    }
    map
}

fn from_header_map(map: Option<&HeaderMap>) -> Headers {
    let mut out = vec![];
    if let Some(map) = map {
        for (k, values) in map.iter() {
            for v in values {
                out.push((k.to_string(), v.as_str().to_string()));
            }
        }
    }
    out
}

fn message(m: &async_nats::Message) -> Message {
    Message {
        subject: m.subject.to_string(),
        headers: from_header_map(m.headers.as_ref()),
        payload: m.payload.clone(),
        reply: m.reply.as_ref().map(|r| r.to_string()),
    }
}

/// Gets or creates a stream, tolerating another process creating it at the same moment: agents
/// started together on a fresh server race to create the same streams, and the loser's create
/// fails ("subjects overlap" / "name already in use") although the stream it wants now exists.
async fn ensure_stream(js: &jetstream::Context, config: stream::Config) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..5u64 {
        match js.get_or_create_stream(config.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        if js.get_stream(&config.name).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
    }
    Err(last)
}

impl NatsBus {
    /// Connects and makes sure the streams and the KV bucket exist.
    pub async fn connect(url: &str) -> Result<NatsBus, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name("polyfleet")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(conn)?;
        NatsBus::with_client(client).await
    }

    /// Connects once, failing at once when the server cannot be reached (for a caller that
    /// retries by itself, such as the operator); once connected the client reconnects as usual.
    pub async fn connect_once(url: String) -> Result<NatsBus, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name("polyfleet")
            .connection_timeout(Duration::from_secs(5))
            .connect(url.as_str())
            .await
            .map_err(conn)?;
        NatsBus::with_client(client).await
    }

    /// Uses an existing connection.
    pub async fn with_client(client: async_nats::Client) -> Result<NatsBus, BusError> {
        let js = jetstream::new(client.clone());
        for (name, subjects) in STREAMS {
            ensure_stream(
                &js,
                stream::Config {
                    name: name.to_string(),
                    subjects: vec![subjects.to_string()],
                    storage: stream::StorageType::File,
                    max_age: Duration::from_secs(24 * 3600),
                    duplicate_window: Duration::from_secs(120),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| BusError::Connection(format!("creating stream {name}: {e}")))?;
        }
        // The KV bucket's stream, made the way the KV API makes it. `create_key_value` first asks
        // for the account's API level, which nats-server 2.9 answers in a shape async-nats 0.51
        // cannot parse; creating the stream directly works on every server version.
        ensure_stream(
            &js,
            stream::Config {
                name: format!("KV_{PARAMS_BUCKET}"),
                subjects: vec![format!("$KV.{PARAMS_BUCKET}.>")],
                max_messages_per_subject: 5,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                num_replicas: 1,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| BusError::Connection(format!("creating KV bucket {PARAMS_BUCKET}: {e}")))?;
        let kv = js.get_key_value(PARAMS_BUCKET).await.map_err(conn)?;
        Ok(NatsBus(Arc::new(Inner { client, js, kv })))
    }

    /// The raw client (for the market-data agent's existing code and flushes).
    pub fn client(&self) -> &async_nats::Client {
        &self.0.client
    }
}

impl Bus for NatsBus {
    async fn publish(&self, subject: &str, headers: Headers, payload: Bytes) -> Result<(), BusError> {
        let subject = subject.to_string();
        if headers.is_empty() {
            self.0.client.publish(subject, payload).await.map_err(conn)
        } else {
            self.0.client.publish_with_headers(subject, to_header_map(&headers), payload).await.map_err(conn)
        }
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError> {
        let sub = self.0.client.subscribe(pattern.to_string()).await.map_err(conn)?;
        Ok(sub.map(|m| message(&m)).boxed())
    }

    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<Bytes, BusError> {
        match tokio::time::timeout(timeout, self.0.client.request(subject.to_string(), payload)).await {
            Ok(Ok(m)) => Ok(m.payload),
            Ok(Err(e)) => Err(conn(e)),
            Err(_) => Err(BusError::Timeout(subject.to_string())),
        }
    }

    async fn persist(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        msg_id: Option<&str>,
    ) -> Result<bool, BusError> {
        let mut map = to_header_map(&headers);
        if let Some(id) = msg_id {
            map.insert("Nats-Msg-Id", id);
        }
        let ack = self
            .0
            .js
            .publish_with_headers(subject.to_string(), map, payload)
            .await
            .map_err(|e| BusError::NoStream(format!("{subject}: {e}")))?
            .await
            .map_err(|e| BusError::Refused(e.to_string()))?;
        Ok(!ack.duplicate)
    }

    async fn consume(&self, spec: ConsumerSpec) -> Result<Deliveries, BusError> {
        let stream = self.0.js.get_stream(&spec.stream).await.map_err(|_| BusError::NoStream(spec.stream.clone()))?;
        let consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(
                &spec.durable,
                consumer::pull::Config {
                    durable_name: Some(spec.durable.clone()),
                    filter_subject: spec.filter.clone(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: spec.ack_wait,
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(conn)?;
        let messages = consumer.messages().await.map_err(conn)?;
        Ok(messages
            .map(|r| match r {
                Ok(m) => {
                    let delivered = m.info().map(|i| i.delivered.max(1) as u64).unwrap_or(1);
                    Ok(Delivery { message: message(&m.message), delivered, acker: Acker::Nats(Box::new(m)) })
                }
                Err(e) => Err(conn(e)),
            })
            .boxed())
    }

    async fn kv_put(&self, key: &str, value: Bytes) -> Result<u64, BusError> {
        self.0.kv.put(key, value).await.map_err(conn)
    }

    async fn kv_get(&self, key: &str) -> Result<Option<KvEntry>, BusError> {
        Ok(self.0.kv.entry(key).await.map_err(conn)?.filter(|e| e.operation == kv::Operation::Put).map(|e| KvEntry {
            key: e.key,
            revision: e.revision,
            value: e.value,
        }))
    }

    async fn kv_delete(&self, key: &str) -> Result<(), BusError> {
        self.0.kv.delete(key).await.map_err(conn)
    }

    async fn kv_watch(&self, key: &str) -> Result<KvWatch, BusError> {
        let watch = self.0.kv.watch_with_history(key).await.map_err(conn)?;
        Ok(watch
            .filter_map(|r| async move {
                match r {
                    Ok(e) if e.operation == kv::Operation::Put => {
                        Some(Ok(KvEntry { key: e.key, revision: e.revision, value: e.value }))
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(conn(e))),
                }
            })
            .boxed())
    }
}

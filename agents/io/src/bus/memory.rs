//! The in-memory bus: one process, the same semantics as NATS JetStream (module doc of
//! [`super`]). Streams are the wire protocol's four; every stored message stays for the life of
//! the bus (a local run or a backtest is bounded).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_core::wire::subjects::STREAMS;
use tokio::sync::{Notify, mpsc};

use super::{
    Acker, Bus, BusError, ConsumerSpec, Deliveries, Delivery, Headers, KvEntry, KvWatch, Message, Subscription,
    subject_matches,
};

#[derive(Default)]
struct Consumer {
    filter: String,
    ack_wait: Duration,
    /// Next stream index never delivered.
    next: usize,
    /// Delivered, not acknowledged: index -> (redelivery deadline, deliveries so far).
    pending: BTreeMap<usize, (Instant, u64)>,
}

struct Stream {
    name: String,
    subjects: String,
    messages: Vec<Message>,
    ids: HashSet<String>,
    consumers: HashMap<String, Consumer>,
}

#[derive(Default)]
struct State {
    /// (pattern, sender, counted): `counted` for subscriptions whose deliveries count towards
    /// [`MemoryBus::unconsumed`] (all but request inboxes).
    subscribers: Vec<(String, mpsc::UnboundedSender<Message>, bool)>,
    /// Counted deliveries sent to subscriptions.
    sent: u64,
    streams: Vec<Stream>,
    kv: BTreeMap<String, KvEntry>,
    kv_revision: u64,
    kv_watchers: Vec<(String, mpsc::UnboundedSender<Result<KvEntry, BusError>>)>,
    inbox: u64,
    /// Messages sent, acknowledged or stored so far (see [`MemoryBus::activity`]).
    activity: u64,
}

struct Shared {
    state: Mutex<State>,
    stored: Notify,
    /// Counted deliveries taken out of subscriptions.
    consumed: std::sync::atomic::AtomicU64,
}

/// The in-memory bus; clones share it.
#[derive(Clone)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        MemoryBus::new()
    }
}

/// Acknowledges one delivery of the in-memory bus.
pub struct AckHandle {
    shared: Arc<Shared>,
    stream: usize,
    durable: String,
    index: usize,
}

impl AckHandle {
    pub(super) fn ack(self) {
        let mut st = lock(&self.shared);
        st.activity += 1;
        if let Some(c) = st.streams[self.stream].consumers.get_mut(&self.durable) {
            c.pending.remove(&self.index);
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind; keep going.
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryBus {
    /// A bus with the wire protocol's streams and an empty KV bucket.
    pub fn new() -> MemoryBus {
        let streams = STREAMS
            .iter()
            .map(|(name, subjects)| Stream {
                name: name.to_string(),
                subjects: subjects.to_string(),
                messages: vec![],
                ids: HashSet::new(),
                consumers: HashMap::new(),
            })
            .collect();
        MemoryBus {
            shared: Arc::new(Shared {
                state: Mutex::new(State { streams, ..State::default() }),
                stored: Notify::new(),
                consumed: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// A counter that moves whenever anything is sent, stored, acknowledged or put in the KV
    /// bucket: a replay steps only once it stops moving (the fleet has settled).
    pub fn activity(&self) -> u64 {
        lock(&self.shared).activity
    }

    /// Messages sent to subscriptions that their subscribers have not taken yet (a subscription
    /// nobody reads holds this above zero until it is dropped and sent to again).
    pub fn unconsumed(&self) -> u64 {
        let sent = lock(&self.shared).sent;
        sent.saturating_sub(self.shared.consumed.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Stored messages durable consumers have not acknowledged yet (delivered or not).
    pub fn backlog(&self) -> usize {
        let st = lock(&self.shared);
        st.streams
            .iter()
            .flat_map(|s| {
                s.consumers.values().map(|c| {
                    let new = s.messages[c.next.min(s.messages.len())..]
                        .iter()
                        .filter(|m| subject_matches(&c.filter, &m.subject))
                        .count();
                    new + c.pending.len()
                })
            })
            .sum()
    }

    fn fan_out(st: &mut State, msg: &Message) {
        st.activity += 1;
        let mut sent = 0;
        st.subscribers.retain(|(pattern, tx, counted)| {
            if !subject_matches(pattern, &msg.subject) {
                return true;
            }
            let ok = tx.send(msg.clone()).is_ok();
            sent += u64::from(ok && *counted);
            ok
        });
        st.sent += sent;
    }

    fn has_work(shared: &Arc<Shared>, stream: usize, durable: &str) -> bool {
        let st = lock(shared);
        let s = &st.streams[stream];
        let Some(c) = s.consumers.get(durable) else { return false };
        let now = Instant::now();
        c.pending.values().any(|(deadline, _)| *deadline <= now)
            || s.messages[c.next.min(s.messages.len())..].iter().any(|m| subject_matches(&c.filter, &m.subject))
    }

    /// The next message for `durable` on `stream`: an expired pending one first, else the next new
    /// one matching the filter.
    fn next_for(shared: &Arc<Shared>, stream: usize, durable: &str) -> Option<Delivery> {
        let mut st = lock(shared);
        let now = Instant::now();
        let s = &mut st.streams[stream];
        let c = s.consumers.get_mut(durable)?;
        let expired = c.pending.iter().find(|(_, (deadline, _))| *deadline <= now).map(|(i, (_, n))| (*i, *n));
        let (index, delivered) = match expired {
            Some((i, n)) => (i, n + 1),
            None => {
                let i = (c.next..s.messages.len()).find(|&i| subject_matches(&c.filter, &s.messages[i].subject));
                c.next = s.messages.len();
                if let Some(i) = i {
                    // Anything skipped did not match the filter; resume right after the match.
                    c.next = i + 1;
                }
                (i?, 1)
            }
        };
        c.pending.insert(index, (now + c.ack_wait, delivered));
        Some(Delivery {
            message: s.messages[index].clone(),
            delivered,
            acker: Acker::Memory(AckHandle { shared: shared.clone(), stream, durable: durable.to_string(), index }),
        })
    }
}

impl Bus for MemoryBus {
    async fn publish(&self, subject: &str, headers: Headers, payload: Bytes) -> Result<(), BusError> {
        let msg = Message { subject: subject.to_string(), headers, payload, reply: None };
        MemoryBus::fan_out(&mut lock(&self.shared), &msg);
        Ok(())
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.shared).subscribers.push((pattern.to_string(), tx, true));
        let shared = self.shared.clone();
        let rx = tokio_stream(rx).inspect(move |_| {
            shared.consumed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        Ok(rx.boxed())
    }

    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<Bytes, BusError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let msg = {
            let mut st = lock(&self.shared);
            st.inbox += 1;
            let inbox = format!("_INBOX.memory.{}", st.inbox);
            st.subscribers.push((inbox.clone(), tx, false));
            let msg = Message { subject: subject.to_string(), headers: vec![], payload, reply: Some(inbox) };
            MemoryBus::fan_out(&mut st, &msg);
            msg
        };
        let answer = tokio::time::timeout(timeout, rx.recv()).await;
        // Drop the inbox subscription.
        drop(rx);
        match answer {
            Ok(Some(m)) => Ok(m.payload),
            _ => Err(BusError::Timeout(msg.subject)),
        }
    }

    async fn persist(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        msg_id: Option<&str>,
    ) -> Result<bool, BusError> {
        let msg = Message { subject: subject.to_string(), headers, payload, reply: None };
        {
            let mut st = lock(&self.shared);
            let s = st
                .streams
                .iter_mut()
                .find(|s| subject_matches(&s.subjects, subject))
                .ok_or_else(|| BusError::NoStream(subject.to_string()))?;
            if let Some(id) = msg_id
                && !s.ids.insert(id.to_string())
            {
                return Ok(false);
            }
            s.messages.push(msg.clone());
            MemoryBus::fan_out(&mut st, &msg);
        }
        self.shared.stored.notify_waiters();
        Ok(true)
    }

    async fn consume(&self, spec: ConsumerSpec) -> Result<Deliveries, BusError> {
        let stream = {
            let mut st = lock(&self.shared);
            let i = st
                .streams
                .iter()
                .position(|s| s.name == spec.stream)
                .ok_or_else(|| BusError::NoStream(spec.stream.clone()))?;
            let c = st.streams[i].consumers.entry(spec.durable.clone()).or_default();
            c.filter = spec.filter.clone();
            c.ack_wait = spec.ack_wait;
            i
        };
        let shared = self.shared.clone();
        let durable = spec.durable.clone();
        // Redeliveries are found by polling at a fraction of the ack wait.
        let poll = (spec.ack_wait / 4).clamp(Duration::from_millis(5), Duration::from_millis(200));
        Ok(futures::stream::unfold((shared, durable), move |(shared, durable)| async move {
            loop {
                {
                    let notified = shared.stored.notified();
                    tokio::pin!(notified);
                    // Register interest before looking, so a store in between is not missed.
                    notified.as_mut().enable();
                    if !MemoryBus::has_work(&shared, stream, &durable) {
                        let _ = tokio::time::timeout(poll, notified).await;
                    }
                }
                if let Some(d) = MemoryBus::next_for(&shared, stream, &durable) {
                    return Some((Ok(d), (shared, durable)));
                }
            }
        })
        .boxed())
    }

    async fn kv_put(&self, key: &str, value: Bytes) -> Result<u64, BusError> {
        let mut st = lock(&self.shared);
        st.kv_revision += 1;
        st.activity += 1;
        let entry = KvEntry { key: key.to_string(), revision: st.kv_revision, value };
        st.kv.insert(key.to_string(), entry.clone());
        st.kv_watchers.retain(|(k, tx)| !subject_matches(k, key) || tx.send(Ok(entry.clone())).is_ok());
        Ok(entry.revision)
    }

    async fn kv_get(&self, key: &str) -> Result<Option<KvEntry>, BusError> {
        Ok(lock(&self.shared).kv.get(key).cloned())
    }

    async fn kv_delete(&self, key: &str) -> Result<(), BusError> {
        lock(&self.shared).kv.remove(key);
        Ok(())
    }

    async fn kv_watch(&self, key: &str) -> Result<KvWatch, BusError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = lock(&self.shared);
        let mut current: Vec<&KvEntry> = st.kv.values().filter(|e| subject_matches(key, &e.key)).collect();
        current.sort_by_key(|e| e.revision);
        for e in current {
            let _ = tx.send(Ok(e.clone()));
        }
        st.kv_watchers.push((key.to_string(), tx));
        Ok(tokio_stream(rx).boxed())
    }
}

/// An unbounded receiver as a stream.
fn tokio_stream<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) })
}

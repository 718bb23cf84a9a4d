//! The journal agent (`polyfleet-agent journal`): reads the order path's JetStream streams
//! (intents, decisions, order updates and conditional-token reports, fills) through durable
//! consumers of its own and writes every message to the journal ([`polyfleet_journal`]) in
//! batches, acknowledging a batch's messages only once the database has committed it.
//!
//! What that keeps: nothing is lost (a message unacknowledged when the agent dies, however it
//! dies, is delivered again) and nothing is counted twice (each message's entry has a key that
//! repeats when the message does, and the store writes a key once). A batch the database refuses
//! or cannot take is kept and written again, without acknowledging anything, until it goes in;
//! a message that does not decode is counted, logged and acknowledged (it would never decode).
//! Stopping, it first writes what is still waiting (the last fills of a run that stops with it).
//! It also watches the parameters KV bucket: every generation the operator writes for a strategy,
//! and the strategy agent's acknowledgement of it (applied, or refused and why), so the journal
//! says which parameters were in force when, and the strategy agents' drift reports, journaled
//! when a strategy's standing alarms change (raised or cleared; reports that only counted more
//! samples are not), so the journal says when a strategy's markouts, slippage or calibration
//! drifted. A drift change made and undone while the journal agent was down is not seen: the
//! bucket keeps only each key's last report. And it journals the mids of the tokens the
//! strategies trade ([`crate::journal_mids`]), which reports measure fills and holdings against.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use polyfleet_core::wire::{Intent, decode, subjects};
use polyfleet_io::bus::{Bus, ConsumerSpec, Delivery};
use polyfleet_journal::from_bus::{Skip, drift, drift_signature, params, record};
use polyfleet_journal::{JournalStore, Range};
use tokio::sync::watch;

use crate::journal_mids::{Mids, RESUME_WINDOW};
use crate::metrics::{JournalMetrics, KindLabel};

/// Settings of the journal agent.
#[derive(Debug, Clone)]
pub struct JournalAgentConfig {
    /// Namespace whose messages it journals (`*` for all).
    pub namespace: String,
    /// Prefix of its durable consumers' names (one per stream).
    pub durable: String,
    /// Most messages written in one batch.
    pub batch: usize,
    /// How long a batch waits for more messages after its first.
    pub window: Duration,
    /// Each traded token's mid is journaled at most once per this interval
    /// ([`crate::journal_mids`]); `None`: no mids.
    pub mid_interval: Option<Duration>,
}

/// How long a delivered message may stay unacknowledged before JetStream delivers it again: what
/// an agent killed mid-batch had taken comes back to its successor after this long.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// A stopping agent writes what keeps arriving until this long passes without a message.
const DRAIN_QUIET: Duration = Duration::from_millis(250);

/// The streams journaled, with their subjects' first token.
const STREAMS: [(&str, &str); 4] = [
    (subjects::STREAM_INTENTS, "intent"),
    (subjects::STREAM_DECISIONS, "decision"),
    (subjects::STREAM_ORDERS, "order"),
    (subjects::STREAM_FILLS, "fill"),
];

/// Runs until `shutdown` turns true.
pub async fn run<B: Bus, J: JournalStore>(
    bus: B,
    journal: J,
    cfg: JournalAgentConfig,
    metrics: Arc<JournalMetrics>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let ns = if cfg.namespace == "*" { "*".to_string() } else { subjects::token(&cfg.namespace).into_owned() };
    let mut consumers = vec![];
    for (stream, first) in STREAMS {
        consumers.push(
            bus.consume(ConsumerSpec {
                stream: stream.into(),
                durable: format!("{}-{first}", cfg.durable),
                filter: format!("{first}.{ns}.>"),
                ack_wait: ACK_WAIT,
            })
            .await?,
        );
    }
    let mut deliveries = futures::stream::select_all(consumers);
    let mut params = futures::stream::select_all([
        bus.kv_watch(&format!("{ns}.*")).await?,
        bus.kv_watch(&format!("{ns}.*.ack")).await?,
        bus.kv_watch(&format!("{ns}.*.drift")).await?,
    ]);
    // Each strategy's standing drift alarms as last journaled (by drift key), from the journal
    // itself, so a restart journals only changes too.
    let mut alarms = std::collections::HashMap::new();
    for e in journal.entries(polyfleet_journal::Kind::Drift, polyfleet_journal::Range::ALL).await? {
        if let Ok(r) = serde_json::from_slice(&e.payload) {
            alarms.insert(subjects::drift_key(&e.namespace, &e.strategy), drift_signature(&r));
        }
    }
    let mut mids = match cfg.mid_interval {
        Some(every) => {
            let mut mids = Mids::new(bus.clone(), journal.clone(), every, metrics.clone(), shutdown.clone());
            let since =
                i64::try_from(u128::from(crate::time::now_ns()).saturating_sub(RESUME_WINDOW.as_nanos())).unwrap_or(0);
            for o in polyfleet_journal::orders::read(&journal, Range { since_ns: since, until_ns: i64::MAX }).await? {
                if cfg.namespace == "*" || o.namespace == cfg.namespace {
                    mids.follow(&o.venue, o.market, o.token);
                }
            }
            Some(mids)
        }
        None => None,
    };
    metrics.set_ready(true);
    tracing::info!(namespace = %cfg.namespace, "journal agent running");
    let mut draining = false;
    loop {
        let first = if draining {
            // Stopping: what is still waiting is written first; the first quiet moment ends it.
            match tokio::time::timeout(DRAIN_QUIET, deliveries.next()).await {
                Ok(next) => next,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                _ = shutdown.changed() => {
                    draining = true;
                    continue;
                }
                Some(entry) = params.next() => {
                    match entry {
                        Ok(e) if e.key.ends_with(".drift") => {
                            write_drift(&journal, &e, &mut alarms, &metrics, &mut shutdown).await
                        }
                        Ok(e) => write_params(&journal, &e, &metrics, &mut shutdown).await,
                        Err(e) => tracing::warn!(error = %e, "parameters watch error"),
                    }
                    // A stop that came while it was written is seen here.
                    draining = *shutdown.borrow();
                    continue;
                }
                next = deliveries.next() => next,
            }
        };
        let mut batch = match first {
            Some(Ok(d)) => vec![d],
            Some(Err(e)) => {
                tracing::warn!(error = %e, "journal consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            None => anyhow::bail!("journal consumers ended"),
        };
        // What else arrives within the window joins the batch: one transaction for many.
        let deadline = tokio::time::Instant::now() + cfg.window;
        while batch.len() < cfg.batch {
            match tokio::time::timeout_at(deadline, deliveries.next()).await {
                Ok(Some(Ok(d))) => batch.push(d),
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "journal consumer error"),
                Ok(None) | Err(_) => break,
            }
        }
        if let Some(mids) = mids.as_mut() {
            follow_orders(mids, &batch);
        }
        if !write(&journal, batch, &metrics, &mut shutdown, draining).await {
            break;
        }
    }
    if let Some(mids) = mids {
        mids.stopped().await;
    }
    tracing::info!("journal agent stopped");
    Ok(())
}

/// Follows the tokens of the orders a batch's intents place.
fn follow_orders<B: Bus, J: JournalStore>(mids: &mut Mids<B, J>, batch: &[Delivery]) {
    for d in batch.iter().filter(|d| d.message.subject.starts_with("intent.")) {
        let orders = match decode::<Intent>(&d.message.payload) {
            Ok(Intent::Place(o)) => vec![o],
            Ok(Intent::PlaceSet(legs)) => legs,
            _ => continue,
        };
        for o in orders {
            mids.follow(&o.venue, o.market, o.token);
        }
    }
}

/// Journals a parameters KV entry (a generation written, or its acknowledgement): see
/// [`write_kv`].
async fn write_params<J: JournalStore>(
    journal: &J,
    e: &polyfleet_io::bus::KvEntry,
    metrics: &JournalMetrics,
    shutdown: &mut watch::Receiver<bool>,
) {
    match params(&e.key, &e.value, crate::time::now_ns()) {
        Ok(r) => write_kv(journal, &r, &e.key, metrics, shutdown).await,
        Err(skip) => {
            metrics.skipped.get_or_create(&KindLabel { kind: "malformed".into() }).inc();
            tracing::warn!(key = %e.key, error = %skip, "parameters entry not journaled");
        }
    }
}

/// Journals a drift report when its standing alarms differ from the last journaled for its
/// strategy (`alarms`, by key): see [`write_kv`].
async fn write_drift<J: JournalStore>(
    journal: &J,
    e: &polyfleet_io::bus::KvEntry,
    alarms: &mut std::collections::HashMap<String, Vec<(String, u64)>>,
    metrics: &JournalMetrics,
    shutdown: &mut watch::Receiver<bool>,
) {
    match drift(&e.key, &e.value, e.revision, crate::time::now_ns()) {
        Ok((r, report)) => {
            let signature = drift_signature(&report);
            if alarms.get(&e.key) != Some(&signature) {
                write_kv(journal, &r, &e.key, metrics, shutdown).await;
                alarms.insert(e.key.clone(), signature);
            }
        }
        Err(skip) => {
            metrics.skipped.get_or_create(&KindLabel { kind: "malformed".into() }).inc();
            tracing::warn!(key = %e.key, error = %skip, "drift report not journaled");
        }
    }
}

/// Writes the record of a KV entry, retrying until the database takes it or shutdown comes (the
/// watch replays the bucket at the next start, and the entry's key makes that a no-op for what
/// was written).
async fn write_kv<J: JournalStore>(
    journal: &J,
    r: &polyfleet_journal::Record,
    key: &str,
    metrics: &JournalMetrics,
    shutdown: &mut watch::Receiver<bool>,
) {
    let mut wait = Duration::from_millis(100);
    loop {
        match journal.append(std::slice::from_ref(r)).await {
            Ok(new) => {
                metrics.messages.get_or_create(&KindLabel { kind: r.entry.kind.as_str().into() }).inc();
                metrics.written.inc_by(new);
                metrics.duplicates.inc_by(1 - new.min(1));
                return;
            }
            Err(err) => {
                metrics.write_errors.inc();
                tracing::error!(error = %err, key, "KV entry not written; trying again");
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Writes one batch until the database takes it, then acknowledges its messages; false when
/// shutdown came first (nothing acknowledged: the messages are delivered again).
async fn write<J: JournalStore>(
    journal: &J,
    batch: Vec<Delivery>,
    metrics: &JournalMetrics,
    shutdown: &mut watch::Receiver<bool>,
    draining: bool,
) -> bool {
    let mut records = Vec::with_capacity(batch.len());
    for d in &batch {
        let traceparent = d.message.headers.iter().find(|(k, _)| k == "traceparent").map(|(_, v)| v.as_str());
        match record(&d.message.payload, traceparent) {
            Ok(r) => {
                metrics.messages.get_or_create(&KindLabel { kind: r.entry.kind.as_str().into() }).inc();
                records.push(r);
            }
            Err(skip) => {
                let why = match &skip {
                    Skip::Malformed(_) => "malformed",
                    Skip::Unfit(_) => "unfit",
                    Skip::NotJournaled(_) => "not_journaled",
                    Skip::Params(_) => "malformed",
                };
                metrics.skipped.get_or_create(&KindLabel { kind: why.into() }).inc();
                if !matches!(skip, Skip::NotJournaled(_)) {
                    tracing::warn!(subject = %d.message.subject, error = %skip, "message not journaled");
                }
            }
        }
    }
    let mut wait = Duration::from_millis(100);
    loop {
        match journal.append(&records).await {
            Ok(new) => {
                metrics.written.inc_by(new);
                metrics.duplicates.inc_by((records.len() as u64).saturating_sub(new));
                metrics.batch.observe(batch.len() as f64);
                break;
            }
            Err(e) => {
                metrics.write_errors.inc();
                tracing::error!(error = %e, messages = batch.len(), "journal batch not written; trying again");
                if draining {
                    // Stopping with the database down: left unacknowledged, delivered again
                    // to the next run of the agent.
                    return false;
                }
                tokio::select! {
                    _ = shutdown.changed() => return false,
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
    for d in batch {
        if let Err(e) = d.ack().await {
            // Delivered again and found written: counted as a duplicate, nothing lost.
            tracing::warn!(error = %e, "journal acknowledgement not sent");
        }
    }
    true
}

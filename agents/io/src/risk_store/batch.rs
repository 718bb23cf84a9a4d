//! Batching of concurrent risk decisions for the Redis store: the gateway decides many intents
//! at once (up to its concurrency), and one script call per intent spends most of its time on
//! the round trip, the script's start and the reads every decision repeats (the limits). A
//! batcher task takes every decision waiting, groups them by policy (a batch's keys share the
//! policy's hash tag, as Redis Cluster requires) and decides each group in one call of the
//! decision script, which decides its intents one after the other exactly as separate calls
//! would: each verdict is the one a call of its own would have given at that point. Up to
//! [`IN_FLIGHT`] batches run at once; while they do, the next decisions queue and form the
//! next batch, so a lone decision waits for nothing and a burst shares calls.

use std::sync::Arc;

use polyfleet_core::wire::RejectReason;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{PolicyKey, RiskStoreError};

/// Most intents decided in one script call.
pub const MAX_BATCH: usize = 64;
/// Most batches in the air at once.
pub const IN_FLIGHT: usize = 4;

/// A verdict, or why the store could not give one.
pub type Verdict = Result<Result<(), RejectReason>, RiskStoreError>;

/// One decision waiting: an intent (one order, or a set's legs) of a policy, its arguments
/// already encoded by the caller (what the decider sends for it, in its layout).
pub struct Job {
    /// The policy.
    pub policy: PolicyKey,
    /// The decision's time.
    pub now_ms: u64,
    /// The intent's arguments.
    pub args: Vec<Vec<u8>>,
    /// Where the verdict goes.
    pub reply: oneshot::Sender<Verdict>,
}

/// Decides one policy's jobs in one call, returning a verdict per job in order.
pub trait Decider: Clone + Send + Sync + 'static {
    /// Runs the decision script over `jobs` (all of `policy`).
    fn decide_batch(
        &self,
        policy: &PolicyKey,
        jobs: &[Job],
    ) -> impl std::future::Future<Output = Result<Vec<Result<(), RejectReason>>, RiskStoreError>> + Send;
}

/// Starts the batcher; it ends when every sender is dropped.
pub fn spawn<D: Decider>(decider: D) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        while let Some(first) = rx.recv().await {
            // A slot first: while every slot is busy, decisions queue and join the next batch.
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let decider = decider.clone();
            tokio::spawn(async move {
                for (policy, group) in by_policy(jobs) {
                    let verdicts = decider.decide_batch(&policy, &group).await;
                    answer(group, verdicts);
                }
                drop(slot);
            });
        }
    });
    tx
}

/// Jobs grouped by policy, each group in arrival order.
fn by_policy(jobs: Vec<Job>) -> Vec<(PolicyKey, Vec<Job>)> {
    let mut groups: Vec<(PolicyKey, Vec<Job>)> = vec![];
    for j in jobs {
        match groups.iter_mut().find(|(p, _)| *p == j.policy) {
            Some((_, g)) => g.push(j),
            None => groups.push((j.policy.clone(), vec![j])),
        }
    }
    groups
}

/// Sends each job its verdict (an answer of the wrong length fails them all as corrupt).
fn answer(jobs: Vec<Job>, verdicts: Result<Vec<Result<(), RejectReason>>, RiskStoreError>) {
    let verdicts = verdicts.and_then(|v| {
        if v.len() == jobs.len() {
            Ok(v)
        } else {
            Err(RiskStoreError::Corrupt(format!("{} verdicts for {} decisions", v.len(), jobs.len())))
        }
    });
    match verdicts {
        Ok(v) => {
            for (job, verdict) in jobs.into_iter().zip(v) {
                let _ = job.reply.send(Ok(verdict));
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

//! The notifier agent (`polyfleet-agent notify`): one per RiskPolicy that declares notification
//! targets. It consumes the policy's notices from the JetStream stream `POLYFLEET_NOTICES` with a
//! durable consumer and posts each to every target that follows its kind ([`send`]), paced per
//! target and retried with backoff; the notice is acknowledged once every target has it (or gave
//! up or refused it), so a restart resends only what was not delivered. Nothing here is on the
//! order path: the operator and the execution agent publish notices and move on.
//!
//! Delivery is once per notice id and target: the stream drops a republished id, and the agent
//! remembers the (id, target) pairs it delivered (a redelivery after a slow send is not posted
//! twice). A crash between a post and its acknowledgement can repeat that one post; receivers get
//! the id as `Idempotency-Key` to drop it.

pub mod metrics;
pub mod send;

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures::StreamExt;
use polyfleet_core::notify::{NotifyConfig, Pacer, TargetSecrets};
use polyfleet_core::wire::{Notice, decode, subjects};
use polyfleet_io::bus::{Bus, ConsumerSpec, Delivery};
use tokio::sync::watch;

pub use metrics::NotifyMetrics;
use send::{Outcome, Target};

/// How long a notice may take (all its retries) before the stream offers it again.
pub const ACK_WAIT: Duration = Duration::from_secs(15 * 60);
/// (id, target) pairs remembered as delivered.
const REMEMBERED: usize = 8192;

/// What one notifier runs.
#[derive(Debug, Clone)]
pub struct NotifyAgentConfig {
    /// The policy and its targets.
    pub config: NotifyConfig,
    /// Each target's secrets, in the order of `config.targets`.
    pub secrets: Vec<TargetSecrets>,
}

impl NotifyAgentConfig {
    /// The configuration with each target's secrets read from the environment variables it names.
    pub fn from_env(config: NotifyConfig) -> NotifyAgentConfig {
        let var = |name: &Option<String>| name.as_ref().and_then(|n| std::env::var(n).ok());
        let secrets =
            config.targets.iter().map(|t| TargetSecrets { url: var(&t.url_env), token: var(&t.token_env) }).collect();
        NotifyAgentConfig { config, secrets }
    }

    /// The durable consumer's name.
    pub fn durable(&self) -> String {
        format!("notify-{}-{}", subjects::token(&self.config.namespace), subjects::token(&self.config.risk_policy))
    }
}

/// The (id, target) pairs delivered lately.
#[derive(Default)]
struct Delivered {
    set: HashSet<(String, usize)>,
    order: VecDeque<(String, usize)>,
}

impl Delivered {
    fn has(&self, id: &str, target: usize) -> bool {
        self.set.contains(&(id.to_string(), target))
    }
    fn add(&mut self, id: &str, target: usize) {
        if self.set.insert((id.to_string(), target)) {
            self.order.push_back((id.to_string(), target));
            if self.order.len() > REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

/// Runs until `stop` turns true.
pub async fn run<B: Bus>(
    bus: B,
    cfg: NotifyAgentConfig,
    metrics: std::sync::Arc<NotifyMetrics>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    cfg.config.validate()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let start = tokio::time::Instant::now();
    let now_ms = move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut targets: Vec<Target> = cfg
        .config
        .targets
        .iter()
        .zip(cfg.secrets.iter().cloned().chain(std::iter::repeat(TargetSecrets::default())))
        .map(|(t, s)| Target { spec: t.clone(), secrets: s, pacer: Pacer::new(cfg.config.max_per_minute, now_ms()) })
        .collect();
    let mut notices = bus
        .consume(ConsumerSpec {
            stream: subjects::STREAM_NOTICES.into(),
            durable: cfg.durable(),
            filter: subjects::notices(&cfg.config.namespace, &cfg.config.risk_policy),
            ack_wait: ACK_WAIT,
        })
        .await?;
    let mut delivered = Delivered::default();
    metrics.set_ready(true);
    tracing::info!(
        namespace = %cfg.config.namespace,
        policy = %cfg.config.risk_policy,
        targets = targets.len(),
        "notifier running"
    );
    loop {
        let d = tokio::select! {
            _ = stop.changed() => break,
            next = notices.next() => match next {
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "notice stream");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                None => break,
            },
        };
        if !handle(&http, &mut targets, &mut delivered, &cfg.config, d, &metrics, &now_ms, &mut stop).await {
            break;
        }
    }
    metrics.set_ready(false);
    Ok(())
}

/// Sends one notice to its targets and acknowledges it; false when stopped midway (the notice
/// stays unacknowledged and comes back).
#[allow(clippy::too_many_arguments, reason = "the loop's state, passed by reference")]
async fn handle(
    http: &reqwest::Client,
    targets: &mut [Target],
    delivered: &mut Delivered,
    config: &NotifyConfig,
    d: Delivery,
    metrics: &NotifyMetrics,
    now_ms: &(impl Fn() -> u64 + Sync),
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let notice = match decode::<Notice>(&d.message.payload) {
        Ok(n) => n,
        Err(e) => {
            metrics.malformed.inc();
            tracing::warn!(error = %e, subject = %d.message.subject, "malformed notice skipped");
            let _ = d.ack().await;
            return true;
        }
    };
    let n = &notice;
    let due = |i: usize, t: &Target| t.spec.follows(n.kind) && !delivered.has(&n.id, i);
    let sends = targets.iter_mut().enumerate().filter(|(i, t)| due(*i, t));
    let work = futures::future::join_all(
        sends.map(|(i, t)| async move { (i, send::deliver(http, t, n, config.max_attempts, now_ms).await) }),
    );
    let results = tokio::select! {
        r = work => r,
        _ = stop.changed() => return false,
    };
    for (i, outcome) in results {
        let name = &config.targets[i].name;
        metrics.count(name, notice.kind, outcome);
        match outcome {
            Outcome::Sent => delivered.add(&notice.id, i),
            Outcome::Refused | Outcome::GaveUp => {
                tracing::warn!(target_name = %name, id = %notice.id, outcome = outcome.as_str(), "notice not delivered");
            }
        }
    }
    if let Err(e) = d.ack().await {
        tracing::warn!(error = %e, "acknowledging a notice");
    }
    true
}

//! The strategy agent (`polyfleet-agent strategy`): runs one Strategy's state machine
//! ([`StrategyRunner`]) on the bus. Market events of its tokens come from `md.<venue>.<token>`, one
//! subscription a token (a snapshot is requested for a book with none or with a gap); events that
//! queued while the agent was busy are heard conflated, one decision per book on the latest (the
//! books still take every event), so a burst sheds stale decisions instead of delaying orders
//! (`polyfleet_strategy_market_events_conflated_total`); its decisions, order updates and
//! fills (and the decisions and reports of its conditional-token operations) from their subjects;
//! a directional strategy's fair-value signals from `signal.<venue>.<token>` (counted by what
//! became of them); parameters from the KV bucket, applied live and acknowledged under
//! `<key>.ack` with the generation applied (or the error). Intents go to JetStream with the
//! client order id as message id and the order's trace context in the headers: a `market_event`
//! span is the root of each order's trace, `signal` its child.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt as _, StreamExt};
use polyfleet_core::TokenId;
use polyfleet_core::strategy::runner::StrategyRunner;
use polyfleet_core::wire::signal::{self, FairValue};
use polyfleet_core::wire::{
    CtfDecision, CtfReport, Fill, Intent, MarketEvent, OrderUpdate, RiskDecision, SettlementReport, WireMessage,
    decode, encode, kind_of, subjects,
};
use polyfleet_io::bus::{Bus, Message};
use polyfleet_io::telemetry;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::config::StrategyConfig;
use crate::feed::Feed;
use crate::metrics::OrderPathMetrics;
use crate::time::now_ns;
use polyfleet_core::config::RoundsDoc;
pub use polyfleet_core::config::{ParamsAck, ParamsDoc, StrategyType};

/// Settings of the agent process (the strategy's own configuration is the operator's file).
#[derive(Debug, Clone, Copy)]
pub struct StrategyAgentConfig {
    /// Market events heard together at most: what queued behind the one received, conflated
    /// ([`StrategyRunner::on_market_batch`]); 1 hears every event on its own.
    pub conflate_max: usize,
}

impl Default for StrategyAgentConfig {
    fn default() -> Self {
        StrategyAgentConfig { conflate_max: DEFAULT_CONFLATE_MAX }
    }
}

/// [`StrategyAgentConfig::conflate_max`] unless told.
pub const DEFAULT_CONFLATE_MAX: usize = 512;

/// Publishes one reaction's intents in the order the strategy asked for them: each send is handed
/// to the connection in this turn of the loop (so the intents of successive reactions reach the
/// bus in order too, unless the connection's send queue is full, when what is left goes on a task
/// of its own), and the acknowledgements are awaited together off the loop (the next event need
/// not wait for the store's).
async fn publish_intents<B: Bus>(bus: &B, cfg: &StrategyConfig, intents: Vec<Intent>, metrics: &OrderPathMetrics) {
    if intents.is_empty() {
        return;
    }
    let subject = subjects::intents(&cfg.namespace, &cfg.name);
    let mut sends = Vec::with_capacity(intents.len());
    for intent in intents {
        // The message id (deduplication), the span's order, and a set's legs (one trace for all).
        let (msg_id, order, set) = match &intent {
            Intent::Place(o) => {
                metrics.signals.inc();
                metrics.observe("md_to_signal", o.cause_recv_ts_ns, o.created_ts_ns);
                (o.client_order_id.to_string(), o.client_order_id.to_string(), None)
            }
            Intent::PlaceSet(legs) => {
                let Some(first) = legs.first() else { continue };
                metrics.signals.inc_by(legs.len() as u64);
                metrics.observe("md_to_signal", first.cause_recv_ts_ns, first.created_ts_ns);
                (format!("set-{}", first.client_order_id), first.client_order_id.to_string(), Some(set_legs(legs)))
            }
            Intent::Ctf(c) => {
                metrics.signals.inc();
                metrics.observe("md_to_signal", c.cause_recv_ts_ns, c.created_ts_ns);
                (format!("ctf-{}", c.id), c.id.to_string(), None)
            }
            Intent::Signal(u) => {
                let id = format!("signal-{}", u.client_order_id);
                (id.clone(), id, None)
            }
            Intent::Cancel(c) => {
                metrics.cancels.inc();
                let id = format!("cancel-{}", c.client_order_id.map(|i| i.to_string()).unwrap_or_default());
                (id.clone(), id, None)
            }
        };
        let span = tracing::info_span!("signal", order = %order, set = tracing::field::Empty);
        if let Some(set) = &set {
            span.record("set", set.as_str());
        }
        let headers = telemetry::inject(&span);
        let (bus, subject) = (bus.clone(), subject.clone());
        sends.push(
            async move {
                let sent = bus.persist(&subject, headers, Bytes::from(encode(&intent)), Some(&msg_id)).await;
                if let Err(e) = sent {
                    tracing::error!(error = %e, order = %msg_id, "intent not published");
                }
            }
            .instrument(span),
        );
    }
    // Polled once here, so each send is handed to the connection now, in this turn of the loop;
    // the acknowledgements are awaited off the loop.
    let mut sends = Box::pin(futures::future::join_all(sends));
    if futures::FutureExt::now_or_never(&mut sends).is_none() {
        tokio::spawn(sends);
    }
}

/// The ids of a set's legs, space-separated (a span attribute: one trace carries every leg).
pub fn set_legs(legs: &[polyfleet_core::wire::OrderIntent]) -> String {
    legs.iter().map(|l| l.client_order_id.as_str()).collect::<Vec<_>>().join(" ")
}

/// Runs until `shutdown` turns true.
pub async fn run<B: Bus>(
    bus: B,
    cfg: StrategyConfig,
    agent: StrategyAgentConfig,
    metrics: Arc<OrderPathMetrics>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // Ids start with the start time: unique per run, so a restart never reuses one.
    let prefix = format!("{}-{:x}", &cfg.name.chars().take(12).collect::<String>(), now_ns() / 1_000_000);
    let mut runner = polyfleet_core::strategy::build::build(&cfg, &prefix)?;
    // A series Market's rounds in play, before the positions are restored (a restarted agent
    // holds shares of rounds it must know), then followed as the venue lists new ones.
    for key in &cfg.series {
        if let Ok(Some(entry)) = bus.kv_get(key).await {
            on_rounds(&mut runner, key, &entry.value, &metrics);
        }
    }
    let mut rounds = polyfleet_io::bus::kv_watch_all(&bus, &cfg.series).await?;
    let mut tokens: HashSet<TokenId> = runner.tokens().into_iter().collect();
    let mut feed = Feed::open_tokens(&bus, &cfg.venue, tokens.iter().copied()).await?;
    let mut decisions = bus.subscribe(&subjects::decisions(&cfg.namespace, &cfg.name)).await?;
    let mut orders = bus.subscribe(&subjects::order_updates(&cfg.namespace, &cfg.name)).await?;
    let mut fills = bus.subscribe(&subjects::fills(&cfg.namespace, &cfg.name)).await?;
    // A directional strategy's models publish fair values per token (core NATS, JSON); one
    // trading a series takes the venue's (its rounds' tokens come while it runs).
    let mut signals = if cfg.type_ == StrategyType::Directional && !cfg.series.is_empty() {
        bus.subscribe(&signal::subject_all(&cfg.venue)).await?.boxed()
    } else if cfg.type_ == StrategyType::Directional {
        let mut subs = vec![];
        for t in &tokens {
            subs.push(bus.subscribe(&signal::subject(&cfg.venue, t)).await?);
        }
        futures::stream::select_all(subs).boxed()
    } else {
        futures::stream::pending().boxed()
    };
    restore(&bus, &cfg, &mut runner, &metrics, &mut shutdown).await;
    // A shadow compares its orders with its live twin's.
    let (mut twins, mut twin_msgs) = match crate::twins::Twins::open(&bus, &cfg, now_ns()).await? {
        Some((t, msgs)) => (Some(t), msgs),
        None => (None, futures::stream::pending().boxed()),
    };
    let params_key = subjects::params_key(&cfg.namespace, &cfg.name);
    let mut params = bus.kv_watch(&params_key).await?;
    // Every STRATEGY_TIMER_NS of venue time (a simulator Venue's clock may run faster than the
    // wall), but not more often than every MIN_TIMER of wall time.
    let every = crate::time::wall_span(Duration::from_nanos(polyfleet_core::config::STRATEGY_TIMER_NS));
    let mut timer = tokio::time::interval(every.max(MIN_TIMER));
    // Under a replay's clock the strategy's timer follows that clock, as the backtest's engine
    // drives it: due before the event or signal that reaches its time.
    let mut next_timer_ns = 0u64;
    let mut events_seen = std::collections::HashMap::new();
    let mut scores_written: Option<Vec<u8>> = None;
    let mut drift_written: Option<Vec<u8>> = None;
    // The market events heard together, kept between events (no allocation per event).
    let mut batch: Vec<MarketEvent> = Vec::new();
    metrics.set_ready(true);
    tracing::info!(strategy = %cfg.name, tokens = tokens.len(), "strategy agent running");
    loop {
        // Biased: market data first, so an order is never handled on a book older than the
        // event that caused it (the event is queued before anything it causes can arrive).
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            Some(ev) = feed.next() => {
                // What else has queued comes with it (up to conflate_max) and is heard conflated: an
                // agent that fell behind decides once per book, on the latest, instead of working
                // through stale ones and sending orders for them. Under a replay's clock one at a
                // time (its timer falls between events).
                batch.clear();
                let mut next = Some(ev);
                while let Some(ev) = next.take() {
                    match ev {
                        Ok(ev) if tokens.contains(&ev.token) => batch.push(ev),
                        Ok(_) => {}
                        Err(_) => {
                            metrics.malformed.inc();
                        }
                    }
                    if batch.len() < agent.conflate_max && !crate::time::replaying() {
                        next = feed.next().now_or_never().flatten();
                    }
                }
                if !batch.is_empty() {
                    replay_timer(&bus, &cfg, &mut runner, &mut next_timer_ns, &metrics).await;
                    on_market(&bus, &cfg, &mut runner, &mut feed, &batch, &metrics).await;
                }
            }
            Some(msg) = signals.next() => {
                replay_timer(&bus, &cfg, &mut runner, &mut next_timer_ns, &metrics).await;
                on_signal(&bus, &cfg, &mut runner, &msg, &metrics).await;
            }
            Some(msg) = decisions.next() => {
                // Orders' decisions and conditional-token operations' share the subject.
                let out = if kind_of(&msg.payload) == Some(CtfDecision::KIND) {
                    decoded::<CtfDecision>(&msg, &metrics).map(|d| runner.on_ctf_decision(&d, now_ns()))
                } else {
                    decoded::<RiskDecision>(&msg, &metrics).map(|d| runner.on_decision(&d, now_ns()))
                };
                publish_intents(&bus, &cfg, out.unwrap_or_default(), &metrics).await;
            }
            Some(msg) = orders.next() => {
                let kind = kind_of(&msg.payload);
                let out = if kind == Some(CtfReport::KIND) {
                    decoded::<CtfReport>(&msg, &metrics).map(|r| runner.on_ctf(&r, now_ns()))
                } else if kind == Some(SettlementReport::KIND) {
                    // For the journal; the strategy knows the resolution from the market's own event.
                    None
                } else {
                    decoded::<OrderUpdate>(&msg, &metrics).map(|u| runner.on_order(&u, now_ns()))
                };
                publish_intents(&bus, &cfg, out.unwrap_or_default(), &metrics).await;
            }
            Some(msg) = fills.next() => {
                if let Some(f) = decoded::<Fill>(&msg, &metrics) {
                    if let Some(t) = twins.as_mut() {
                        t.own_fill(&f);
                    }
                    let out = runner.on_fill(&f, now_ns());
                    publish_intents(&bus, &cfg, out, &metrics).await;
                }
            }
            Some(entry) = rounds.next() => {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => { tracing::warn!(error = %e, "rounds watch failed"); continue }
                };
                for t in on_rounds(&mut runner, &entry.key, &entry.value, &metrics) {
                    tokens.insert(t);
                    follow(&mut feed, t).await;
                }
            }
            Some(entry) = params.next() => {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => { tracing::warn!(error = %e, "parameter watch failed"); continue }
                };
                let ack = apply_params(&mut runner, cfg.type_, &entry.value, &metrics);
                let body = match serde_json::to_vec(&ack) {
                    Ok(b) => b,
                    Err(e) => { tracing::error!(error = %e, "parameter acknowledgement does not serialize: not written"); continue }
                };
                if let Err(e) = bus.kv_put(&subjects::params_ack_key(&cfg.namespace, &cfg.name), body.into()).await {
                    tracing::warn!(error = %e, "parameter acknowledgement not written");
                }
            }
            _ = timer.tick() => {
                if !crate::time::replaying() {
                    let out = runner.on_timer(now_ns());
                    publish_intents(&bus, &cfg, out, &metrics).await;
                }
                OrderPathMetrics::catch_up(&metrics.rule_events, &runner.counters(), &mut events_seen);
                if let Some(e) = runner.earnings(now_ns()) {
                    metrics.set_earnings(&e);
                }
                publish_scores(&bus, &cfg, runner.scores(), &metrics, &mut scores_written).await;
                publish_drift(&bus, &cfg, runner.drift(), &metrics, &mut drift_written).await;
                if let Some(t) = twins.as_mut() {
                    t.publish(&bus, now_ns()).await;
                }
            }
            Some(msg) = twin_msgs.next() => {
                if let Some(t) = twins.as_mut() {
                    t.on_message(&msg);
                }
            }
        }
    }
    tracing::info!("strategy agent stopped");
    Ok(())
}

/// A series Market's rounds document ([`RoundsDoc`]): the rounds the strategy did not trade yet
/// are added (`polyfleet_strategy_rounds_total{kind="added"}` per round); an unreadable document
/// or one the strategy refuses is counted (`kind="refused"`) and changes nothing. Returns the
/// tokens added.
fn on_rounds(runner: &mut StrategyRunner, key: &str, value: &[u8], metrics: &OrderPathMetrics) -> Vec<TokenId> {
    let added = RoundsDoc::from_json(value).map_err(|e| e.to_string()).and_then(|doc| runner.add_rounds(&doc.rounds));
    match added {
        Ok(tokens) => {
            if !tokens.is_empty() {
                tracing::info!(series = key, tokens = tokens.len(), "trading the series' new rounds");
                metrics.count_rounds("added", tokens.len() / 2);
            }
            tokens
        }
        Err(e) => {
            tracing::warn!(series = key, error = %e, "rounds document refused: nothing added");
            metrics.count_rounds("refused", 1);
            vec![]
        }
    }
}

/// The strategy's timer fires at most this often (wall clock), however fast a Venue's clock runs.
const MIN_TIMER: Duration = Duration::from_millis(25);

/// How long a starting agent asks the risk gateway for its positions before it starts flat.
const RESTORE_FOR: Duration = Duration::from_secs(10);

/// Starts the strategy from the ledger's positions (asked of the risk gateway, which reads them
/// from the risk store; asked again every 500 ms while it does not answer, up to
/// [`RESTORE_FOR`]). If none comes, it starts flat and says so
/// (`polyfleet_strategy_positions_restored{kind="unavailable"}`).
async fn restore<B: Bus>(
    bus: &B,
    cfg: &StrategyConfig,
    runner: &mut StrategyRunner,
    metrics: &OrderPathMetrics,
    shutdown: &mut watch::Receiver<bool>,
) {
    let subject = subjects::positions_request(&cfg.namespace, &cfg.name);
    let deadline = tokio::time::Instant::now() + RESTORE_FOR;
    while tokio::time::Instant::now() < deadline && !*shutdown.borrow() {
        let answer = bus.request(&subject, Bytes::from(cfg.risk_policy.clone()), Duration::from_millis(500)).await;
        let Ok(answer) = answer else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        match polyfleet_io::risk_store::decode_positions(&String::from_utf8_lossy(&answer)) {
            Some(positions) => {
                let taken = runner.restore(&positions);
                tracing::info!(strategy = %cfg.name, positions = taken, "started from the ledger's positions");
                metrics.count_restore("restored", taken);
                return;
            }
            None => tracing::warn!(strategy = %cfg.name, "unreadable positions answer"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tracing::warn!(strategy = %cfg.name, "no positions from the risk gateway: starting flat");
    metrics.count_restore("unavailable", 1);
}

/// Under a replay's clock, fires the strategy's timer when the clock has reached it.
async fn replay_timer<B: Bus>(
    bus: &B,
    cfg: &StrategyConfig,
    runner: &mut StrategyRunner,
    next_timer_ns: &mut u64,
    metrics: &OrderPathMetrics,
) {
    let now = now_ns();
    if !crate::time::replaying() || now < *next_timer_ns {
        return;
    }
    *next_timer_ns = now + polyfleet_core::config::STRATEGY_TIMER_NS;
    let out = runner.on_timer(now);
    publish_intents(bus, cfg, out, metrics).await;
}

fn decoded<M: polyfleet_core::wire::WireMessage>(msg: &Message, metrics: &OrderPathMetrics) -> Option<M> {
    match decode::<M>(&msg.payload) {
        Ok(m) => Some(m),
        Err(e) => {
            metrics.malformed.inc();
            tracing::warn!(subject = %msg.subject, error = %e, "skipping a message that does not decode");
            None
        }
    }
}

fn apply_params(
    runner: &mut StrategyRunner,
    kind: StrategyType,
    value: &[u8],
    metrics: &OrderPathMetrics,
) -> ParamsAck {
    let doc = match ParamsDoc::decode(kind, value) {
        Ok(d) => d,
        Err((generation, e)) => {
            metrics.params_rejected.inc();
            tracing::warn!(?generation, error = %e, "parameters refused; previous ones stay");
            return ParamsAck { generation: generation.unwrap_or(0), applied: false, error: Some(e.to_string()) };
        }
    };
    match runner.on_params(&doc.parameters, doc.generation) {
        Ok(()) => {
            metrics.params_generation.set(doc.generation as i64);
            tracing::info!(generation = doc.generation, "parameters applied");
            ParamsAck { generation: doc.generation, applied: true, error: None }
        }
        Err(e) => {
            metrics.params_rejected.inc();
            tracing::warn!(generation = doc.generation, error = %e, "parameters refused; previous ones stay");
            ParamsAck { generation: doc.generation, applied: false, error: Some(e.to_string()) }
        }
    }
}

/// The strategy's forecast scores, as metrics and (when they changed) under the KV key the
/// operator reads into the Strategy's status.
async fn publish_scores<B: Bus>(
    bus: &B,
    cfg: &StrategyConfig,
    scores: Vec<polyfleet_core::analytics::scores::ModelScore>,
    metrics: &OrderPathMetrics,
    written: &mut Option<Vec<u8>>,
) {
    if scores.is_empty() {
        return;
    }
    metrics.set_scores(&scores);
    put_if_changed(bus, &subjects::scores_key(&cfg.namespace, &cfg.name), &scores, written, "forecast scores").await;
}

/// The strategy's drift alarms, as metrics and (when they changed) under the KV key the
/// operator reads into the Strategy's `Drift` condition and Events.
async fn publish_drift<B: Bus>(
    bus: &B,
    cfg: &StrategyConfig,
    report: Option<polyfleet_core::strategy::drift::DriftReport>,
    metrics: &OrderPathMetrics,
    written: &mut Option<Vec<u8>>,
) {
    let Some(report) = report else { return };
    metrics.set_drift(&report);
    put_if_changed(bus, &subjects::drift_key(&cfg.namespace, &cfg.name), &report, written, "drift alarms").await;
}

/// Writes `value` as JSON under `key` unless it is what was `written` last.
pub(crate) async fn put_if_changed<B: Bus, T: serde::Serialize>(
    bus: &B,
    key: &str,
    value: &T,
    written: &mut Option<Vec<u8>>,
    what: &str,
) {
    let Ok(body) = serde_json::to_vec(value) else { return };
    if written.as_ref() == Some(&body) {
        return;
    }
    match bus.kv_put(key, body.clone().into()).await {
        Ok(_) => *written = Some(body),
        Err(e) => tracing::warn!(error = %e, "{what} not written"),
    }
}

/// A fair-value signal: checked ([`FairValue::decode`]), handed to the strategy, counted by what
/// became of it (`accepted`, `malformed`, `stale`, `unfollowed`, `unknown_token`); the orders it
/// causes continue the publisher's trace when the message carries one.
async fn on_signal<B: Bus>(
    bus: &B,
    cfg: &StrategyConfig,
    runner: &mut StrategyRunner,
    msg: &Message,
    metrics: &OrderPathMetrics,
) {
    let now = now_ns();
    let fv = match FairValue::decode(&msg.payload, now / 1_000_000, None) {
        Ok(fv) => fv,
        Err(e) => {
            OrderPathMetrics::count(&metrics.signals_received, e.kind());
            tracing::debug!(subject = %msg.subject, error = %e, "signal ignored");
            return;
        }
    };
    let span = tracing::info_span!("fair_value", token = %fv.token, model = %fv.model, version = %fv.model_version);
    telemetry::follow(&span, msg);
    match runner.on_signal(&fv, now) {
        Ok(intents) => {
            OrderPathMetrics::count(&metrics.signals_received, "accepted");
            publish_intents(bus, cfg, intents, metrics).instrument(span).await;
        }
        Err(why) => {
            OrderPathMetrics::count(&metrics.signals_received, why);
            tracing::debug!(token = %fv.token, model = %fv.model, reason = why, "signal ignored");
        }
    }
}

/// Follows `token` on the feed (subscribed if it was not, its snapshot asked for); a failed
/// subscription is logged and the token asked for again at its next snapshot request.
async fn follow<B: Bus>(feed: &mut Feed<B>, token: TokenId) {
    if let Err(e) = feed.follow(token).await {
        tracing::warn!(%token, error = %e, "subscribing to a token's market data failed");
    }
}

async fn on_market<B: Bus>(
    bus: &B,
    cfg: &StrategyConfig,
    runner: &mut StrategyRunner,
    feed: &mut Feed<B>,
    events: &[MarketEvent],
    metrics: &OrderPathMetrics,
) {
    let out = runner.on_market_batch(events, now_ns());
    metrics.conflated.inc_by(out.conflated);
    for t in out.snapshot_requests {
        follow(feed, t).await;
    }
    let Some(ev) = events.last() else { return };
    if !out.intents.is_empty() {
        tracing::debug!(token = %ev.token, seq = ev.seq, events = events.len(), intents = out.intents.len(), "signal");
        // Only events that lead to orders start a trace (every event would flood the collector).
        let span = tracing::info_span!("market_event", token = %ev.token, seq = ev.seq, md_recv_ts_ns = ev.recv_ts_ns);
        publish_intents(bus, cfg, out.intents, metrics).instrument(span).await;
    }
}

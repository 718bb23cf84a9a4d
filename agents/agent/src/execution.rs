//! The execution agent (`polyfleet-agent execution`): takes approved orders from the decisions
//! stream (a durable consumer) and executes them with an [`Executor`], commits fills to the risk
//! store (exposure, positions, PnL) and publishes order updates and fills.
//!
//! Exactly one execution per client order id, across redeliveries and restarts:
//! 1. claim the order in the store (atomically: fresh, pending, or done);
//! 2. fresh: execute, then commit the fills, the release of what is left, and the encoded outcome
//!    in one script call; then publish (message ids make republishing harmless); then ack;
//! 3. done (an approval redelivered after a crash between commit and ack): publish the recorded
//!    outcome again, ack;
//! 4. pending (a crash between claim and commit: nothing was committed): the executor is asked
//!    what became of it ([`Executor::recover`]: a live order may have reached the venue, and is
//!    then adopted, not sent again); otherwise it is reported rejected and its reservation
//!    released, never executed late.
//!
//! A live order is executed only while its RiskPolicy's mode admits it (read from the store right
//! before: `halt` admits nothing, `reduceOnly` (declared, or tripped by a daily loss or drawdown)
//! only sells). On every timer tick the modes of the policies with working orders are read again
//! and what a mode no longer admits is cancelled at the venue: every open order under `halt`,
//! open buys under `reduceOnly`. Events the venue reports on its own (fills of resting orders, settlement,
//! FAILED trades, venue cancels) are committed like any other; orders that finished recently
//! stay known so that their late fills and settlements still book.
//!
//! When a market resolves (the market channel's `market_resolved`), orders still working in it
//! are cancelled and every strategy's position in it is settled at the payout, once per market
//! (`settle:<market>` in the store), in the ledger and the store; a strategy whose ledger is
//! loaded later (its first order since this agent started) gets the store's settlements and the
//! resolutions seen since start applied first.
//!
//! Conditional-token operations (merge, split, redeem, convert) come as their own decisions on
//! the same subject and follow the same claim protocol under their id: done at the venue (paper:
//! nothing to send), booked in the ledger, committed to the store by id (once, however often
//! redelivered), a split's reservations released, and a report published on the order subject.
//!
//! Decisions already waiting when one arrives are taken with it (up to [`DECISION_BATCH`]): each
//! order is claimed and checked alone, the fresh ones go to the executor in one call
//! ([`Executor::submit_many`]; live: `POST /orders` requests), and each outcome is committed,
//! published and acknowledged alone, so the protocol above holds per order. Conditional-token
//! operations among them keep their place in the sequence.
//!
//! When the store is unreachable nothing is acknowledged and the approval is redelivered.
//! Cancels come straight from the intents stream (they need no approval).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{FutureExt as _, StreamExt};
use polyfleet_core::accounting::Ledger;
use polyfleet_core::accounting::lifecycle::Booking;
use polyfleet_core::accounting::mark::{self, Quote};
use polyfleet_core::exec::paper::{ExecEvent, refusal, short_of_shares};
use polyfleet_core::notify::order_failures;
use polyfleet_core::risk::RiskMode;
use polyfleet_core::wire::{
    CtfDecision, CtfIntent, CtfOp, CtfReport, CtfStatus, Fill, Intent, Liquidity, MarketEvent, MarketEventBody, Mode,
    OrderIntent, OrderStatus, OrderUpdate, Resolution, RiskDecision, SettlementReport, TimeInForce, Verdict,
    WireMessage, decode, encode, kind_of, subjects,
};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Side, TokenId, TokenMap};
use polyfleet_io::bus::{Bus, ConsumerSpec, Deliveries, Delivery};
use polyfleet_io::risk_store::{Claim, FillCommit, PolicyKey, RiskStore, RiskStoreError};
use polyfleet_io::telemetry;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::feed::Feed;
use crate::metrics::{CtfLabel, KindLabel, OrderPathMetrics};
use crate::time::{now_ms, now_ns};
use polyfleet_io::execution::Executor;

/// Settings of the agent.
#[derive(Debug, Clone)]
pub struct ExecutionAgentConfig {
    /// Venue whose orders it executes and whose books it follows.
    pub venue: String,
    /// Namespace whose decisions it takes (`*` for all).
    pub namespace: String,
    /// Durable consumer name (one execution agent per venue account).
    pub durable: String,
    /// A book with no market event for this long (ms) is stale: positions in it are marked at
    /// nothing beyond their complete sets (see [`polyfleet_core::accounting::mark`]).
    pub mark_stale_ms: u64,
    /// KV keys of the `series` Markets whose rounds it executes as they come
    /// ([`polyfleet_core::config::RoundsDoc`]), beside the markets it started with.
    pub series: Vec<String>,
}

/// Default of [`ExecutionAgentConfig::mark_stale_ms`]: 30 s without a market event.
pub const MARK_STALE_MS: u64 = 30_000;

/// Encodes an order's outcome (its updates and fills) for the store: `[u32 len][wire message]*`.
pub fn encode_outcome(events: &[ExecEvent]) -> Bytes {
    let mut out = BytesMut::new();
    for e in events {
        let body = match e {
            ExecEvent::Update(u) => encode(u),
            ExecEvent::Fill(f) => encode(f),
        };
        out.put_u32(u32::try_from(body.len()).unwrap_or(u32::MAX));
        out.put_slice(&body);
    }
    out.freeze()
}

/// The inverse of [`encode_outcome`]; `None` if it is damaged.
pub fn decode_outcome(mut b: Bytes) -> Option<Vec<ExecEvent>> {
    let mut out = vec![];
    while b.has_remaining() {
        if b.remaining() < 4 {
            return None;
        }
        let len = b.get_u32() as usize;
        if b.remaining() < len || len < 2 {
            return None;
        }
        let body = b.split_to(len);
        out.push(match body[1] {
            4 => ExecEvent::Update(decode::<OrderUpdate>(&body).ok()?),
            5 => ExecEvent::Fill(decode::<Fill>(&body).ok()?),
            _ => return None,
        });
    }
    Some(out)
}

struct Agent<B: Bus, S: RiskStore, E: Executor> {
    bus: B,
    store: S,
    executor: E,
    metrics: Arc<OrderPathMetrics>,
    ledgers: HashMap<(String, String), Ledger>,
    /// The policy each strategy's fills are booked under.
    policies: HashMap<(String, String), PolicyKey>,
    /// Policy of each order still working (for cancels and maker fills).
    working: HashMap<ClientOrderId, OrderIntent>,
    /// Orders finished lately, oldest first (their trades may still settle or fail).
    finished: VecDeque<ClientOrderId>,
    finished_intents: HashMap<ClientOrderId, OrderIntent>,
    /// Markets resolved since start, in order (applied to ledgers loaded later).
    resolutions: Vec<Resolution>,
    /// Settlements the store could not take yet: (strategy, resolution), retried on the timer.
    unsettled: Vec<((String, String), Resolution)>,
    /// Markets the venue does not take orders on now (closed, awaiting resolution).
    halted: HashSet<ConditionId>,
    /// Orders a mode cancelled, with when (Unix ns): asked again only after [`MODE_CANCEL_RETRY_NS`]
    /// (a live cancel is confirmed by the venue later; the order stays working until then).
    mode_cancelled: HashMap<ClientOrderId, u64>,
    /// Each token's market and the last market event seen for it (Unix ns), for the stale-book
    /// rule of the marks.
    seen: TokenMap<(ConditionId, u64)>,
    mark_stale_ns: u64,
    /// Each strategy's unrealized PnL per token as last written to the store: a commit sends
    /// what its fills changed.
    marked: HashMap<(String, String), TokenMap<Money>>,
}

/// A mode's cancel of an order still working this long after it was asked is asked again.
const MODE_CANCEL_RETRY_NS: u64 = 5_000_000_000;

/// Deliveries of a redemption this agent defers while its market's settlement is not booked
/// (ack wait apart: about 20 s); the last one executes it.
const REDEEM_DEFERRALS: u64 = 5;

/// Finished orders kept for late settlement.
const FINISHED_KEPT: usize = 20_000;

/// Cancels taken from the consumer together at most (one venue request).
const CANCEL_BATCH: usize = 64;

/// Decisions taken from the consumer together at most (live orders: up to 15 per venue request).
const DECISION_BATCH: usize = 60;

/// An approved order claimed for execution, with the delivery to acknowledge once its outcome
/// is committed and the span of its trace.
struct FreshOrder {
    intent: OrderIntent,
    delivery: Delivery,
    span: tracing::Span,
}

/// Runs until `shutdown` turns true.
pub async fn run<B: Bus, S: RiskStore, E: Executor>(
    bus: B,
    store: S,
    executor: E,
    cfg: ExecutionAgentConfig,
    metrics: Arc<OrderPathMetrics>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let ns = if cfg.namespace == "*" { "*".to_string() } else { subjects::token(&cfg.namespace).into_owned() };
    let mut decisions = bus
        .consume(ConsumerSpec {
            stream: subjects::STREAM_DECISIONS.into(),
            durable: cfg.durable.clone(),
            filter: format!("decision.{ns}.>"),
            ack_wait: Duration::from_secs(5),
        })
        .await?;
    let mut cancels = bus
        .consume(ConsumerSpec {
            stream: subjects::STREAM_INTENTS.into(),
            durable: format!("{}-cancels", cfg.durable),
            filter: format!("intent.{ns}.>"),
            ack_wait: Duration::from_secs(5),
        })
        .await?;
    let mut feed = Feed::open_venue(&bus, &cfg.venue, executor.tokens()).await?;
    let mut agent = Agent {
        bus: bus.clone(),
        store,
        executor,
        metrics: metrics.clone(),
        ledgers: HashMap::new(),
        policies: HashMap::new(),
        working: HashMap::new(),
        finished: VecDeque::new(),
        finished_intents: HashMap::new(),
        resolutions: vec![],
        unsettled: vec![],
        halted: HashSet::new(),
        mode_cancelled: HashMap::new(),
        seen: TokenMap::default(),
        mark_stale_ns: cfg.mark_stale_ms.saturating_mul(1_000_000),
        marked: HashMap::new(),
    };
    // Orders a previous run left at the venue: adopted, and what happened to them booked.
    let (adopted, events) = agent.executor.start_up(now_ns()).await;
    for i in adopted {
        agent.working.insert(i.client_order_id, i);
    }
    agent.settle(events).await;
    // Series rounds: their market rules as they come (the current document first).
    let mut rounds = polyfleet_io::bus::kv_watch_all(&bus, &cfg.series).await?;
    // Wall time: marking, mode enforcement and retries are the agent's own cadence (a Venue's
    // faster clock only makes order expiries coarser in its time).
    let mut timer = tokio::time::interval(Duration::from_nanos(polyfleet_core::config::EXPIRY_TIMER_NS));
    metrics.set_ready(true);
    tracing::info!(venue = %cfg.venue, "execution agent running");
    loop {
        // Biased: market data first, so an order is never handled on a book older than the
        // event that caused it (the event is queued before anything it causes can arrive).
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            Some(ev) = feed.next() => {
                let Ok(ev) = ev else { metrics.malformed.inc(); continue };
                agent.on_market(&ev, &mut feed).await;
            }
            next = decisions.next() => match next {
                // Decisions already waiting go with it (a requote's orders: one venue request).
                Some(Ok(d)) => agent.on_decisions(waiting(d, &mut decisions, DECISION_BATCH, "decision")).await,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "decision consumer error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => anyhow::bail!("decision consumer ended"),
            },
            next = cancels.next() => match next {
                // Cancels already waiting go with it, as one batch (a requote's cancels).
                Some(Ok(d)) => agent.on_cancels(waiting(d, &mut cancels, CANCEL_BATCH, "cancel")).await,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cancel consumer error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => anyhow::bail!("cancel consumer ended"),
            },
            Some(entry) = rounds.next() => match entry {
                Ok(e) => agent.on_rounds(&e.key, &e.value, &mut feed),
                Err(e) => tracing::warn!(error = %e, "rounds watch failed"),
            },
            events = agent.executor.venue_events() => agent.settle(events).await,
            _ = timer.tick() => {
                let events = agent.executor.on_timer(now_ns());
                agent.settle(events).await;
                agent.retry_settlements().await;
                agent.mark_to_market().await;
                agent.enforce_modes().await;
            }
        }
    }
    let events = agent.executor.shut_down(now_ns()).await;
    agent.settle(events).await;
    tracing::info!("execution agent stopped");
    Ok(())
}

/// `first` and the deliveries already waiting behind it on `stream`, `max` at most (never waits).
fn waiting(first: Delivery, stream: &mut Deliveries, max: usize, what: &str) -> Vec<Delivery> {
    let mut batch = vec![first];
    while batch.len() < max {
        match stream.next().now_or_never() {
            Some(Some(Ok(d))) => batch.push(d),
            Some(Some(Err(e))) => tracing::warn!(error = %e, "{what} consumer error"),
            _ => break,
        }
    }
    batch
}

impl<B: Bus, S: RiskStore, E: Executor> Agent<B, S, E> {
    /// A series Market's rounds document: the rounds' market rules taken by the executor and
    /// their books asked for (`polyfleet_execution_rounds_total{kind="added"}` per round); a
    /// document that does not read, or that the executor refuses, is counted (`refused`).
    fn on_rounds<X: Bus>(&mut self, key: &str, value: &[u8], feed: &mut Feed<X>) {
        let taken = polyfleet_core::config::RoundsDoc::from_json(value)
            .map_err(|e| e.to_string())
            .and_then(|doc| {
                let tokens: Vec<_> = doc.rounds.iter().flat_map(|r| [r.yes.clone(), r.no.clone()]).collect();
                polyfleet_core::config::instruments(&tokens).map_err(|e| e.to_string())
            })
            .and_then(|inst| {
                let tokens: Vec<TokenId> = inst.keys().copied().collect();
                let added = self.executor.add_instruments(inst)?;
                Ok((tokens, added))
            });
        match taken {
            Ok((tokens, added)) => {
                if added > 0 {
                    tracing::info!(series = key, tokens = added, "executing the series' new rounds");
                    self.metrics.count_rounds("added", added / 2);
                    for t in tokens {
                        feed.resync(t);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(series = key, error = %e, "rounds document refused: nothing added");
                self.metrics.count_rounds("refused", 1);
            }
        }
    }

    async fn on_market<X: Bus>(&mut self, ev: &MarketEvent, feed: &mut Feed<X>) {
        match ev.body {
            MarketEventBody::Resolved { .. } => self.on_resolved(ev).await,
            MarketEventBody::Trading { accepting_orders: false } if self.halted.insert(ev.market) => {
                tracing::info!(market = %ev.market, "the venue closed the market to orders: new orders on it are refused, positions held");
            }
            MarketEventBody::Trading { accepting_orders: true } => {
                self.halted.remove(&ev.market);
            }
            _ => {}
        }
        self.seen.insert(ev.token, (ev.market, now_ns()));
        let (events, gap) = self.executor.on_market(ev, now_ns());
        if gap {
            feed.resync(ev.token);
        }
        self.settle(events).await;
    }

    /// A market resolved: its working orders are cancelled and every loaded ledger's position in
    /// it settled (once per market; a repeated announcement changes nothing).
    async fn on_resolved(&mut self, ev: &MarketEvent) {
        let tokens = self.executor.market_tokens(&ev.market);
        let Some(res) = Resolution::from_event(ev, &tokens) else { return };
        if self.resolutions.iter().any(|r| r.market == res.market) {
            return;
        }
        tracing::info!(market = %res.market, "market resolved: cancelling its orders and settling its positions");
        let mut open: Vec<ClientOrderId> =
            self.working.iter().filter(|(_, i)| i.market == res.market).map(|(id, _)| *id).collect();
        open.sort();
        for id in open {
            let events = self.executor.cancel(&id, "market resolved", now_ns()).await;
            self.settle(events).await;
        }
        let mut keys: Vec<(String, String)> = self.ledgers.keys().cloned().collect();
        keys.sort();
        for key in keys {
            self.settle_ledger(&key, &res).await;
        }
        self.resolutions.push(res);
    }

    /// Settles one strategy's position in `res`'s market, in its ledger and the store.
    async fn settle_ledger(&mut self, key: &(String, String), res: &Resolution) {
        let (Some(policy), Some(ledger)) = (self.policies.get(key).cloned(), self.ledgers.get(key)) else { return };
        // Settled on a copy that replaces the ledger once the store has the settlement too, so
        // the two never disagree; a store error leaves both unsettled and the settlement is
        // retried on the timer.
        let mut next = ledger.clone();
        let booked = match next.settle(res) {
            Ok(Some(b)) if !b.positions.is_empty() => b,
            Ok(_) => {
                self.ledgers.insert(key.clone(), next);
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, market = %res.market, strategy = %key.1, "settlement not booked in the ledger");
                return;
            }
        };
        let (marks, marked) = self.mark_changes(key, &next);
        let what = Booking::Settlement(res);
        match self
            .store
            .commit_lifecycle_marked(&policy, &key.1, &res.settlement_key(&key.1), &booked, what, &marks, now_ms())
            .await
        {
            Ok(applied) => {
                self.ledgers.insert(key.clone(), next);
                self.marked.insert(key.clone(), marked);
                if applied {
                    self.metrics.settlements.inc();
                    self.metrics.settled_pnl_micros.inc_by(booked.realized.micros());
                }
                tracing::info!(market = %res.market, strategy = %key.1, realized = %booked.realized, applied, "position settled");
                // Published whether or not this commit was the first: the message id (the
                // settlement key) makes a repeat the same message.
                let report = SettlementReport {
                    namespace: key.0.clone(),
                    strategy: key.1.clone(),
                    resolution: res.clone(),
                    cash: booked.cash,
                    realized: booked.realized,
                    ts_ns: now_ns(),
                };
                let subject = subjects::order_updates(&key.0, &key.1);
                let id = res.settlement_key(&key.1);
                if let Err(err) = self.bus.persist(&subject, vec![], Bytes::from(encode(&report)), Some(&id)).await {
                    tracing::error!(error = %err, subject, "settlement report not published");
                }
            }
            Err(e) => {
                self.metrics.store_errors.inc();
                self.unsettled.push((key.clone(), res.clone()));
                tracing::error!(error = %e, market = %res.market, strategy = %key.1, "settlement not committed (risk store unreachable): retried");
            }
        }
    }

    /// Settlements the store could not take, tried again.
    async fn retry_settlements(&mut self) {
        for (key, res) in std::mem::take(&mut self.unsettled) {
            self.settle_ledger(&key, &res).await;
        }
    }

    /// Commits and publishes events that came without an approval (maker fills, expiries),
    /// grouped by order.
    async fn settle(&mut self, events: Vec<ExecEvent>) {
        let mut by_order: Vec<(ClientOrderId, Vec<ExecEvent>)> = vec![];
        for e in events {
            let id = match &e {
                ExecEvent::Update(u) => u.client_order_id,
                ExecEvent::Fill(f) => f.client_order_id,
            };
            match by_order.iter_mut().find(|(i, _)| *i == id) {
                Some((_, v)) => v.push(e),
                None => by_order.push((id, vec![e])),
            }
        }
        for (id, events) in by_order {
            let Some(intent) = self.working.get(&id).or_else(|| self.finished_intents.get(&id)).cloned() else {
                tracing::warn!(order = %id, "events of an order this agent does not know: not booked");
                continue;
            };
            if let Err(e) = self.commit_and_publish(&intent, events, None).await {
                tracing::error!(error = %e, order = %id, "maker fill not committed (risk store unreachable)");
            }
        }
    }

    /// The decision in `delivery` when it decodes and approves; otherwise it is acknowledged
    /// (counted when malformed) and there is nothing to execute.
    async fn approved<M: WireMessage>(
        &self,
        delivery: Delivery,
        verdict: impl Fn(&M) -> &Verdict,
    ) -> Option<(M, Delivery)> {
        match decode::<M>(&delivery.message.payload) {
            Ok(d) if matches!(verdict(&d), Verdict::Approved) => Some((d, delivery)),
            Ok(_) => {
                let _ = delivery.ack().await;
                None
            }
            Err(e) => {
                self.metrics.malformed.inc();
                tracing::warn!(error = %e, "skipping a decision that does not decode");
                let _ = delivery.ack().await;
                None
            }
        }
    }

    /// Decisions that arrived together, in order: conditional-token operations one by one, the
    /// approved orders between them each claimed and checked alone and the fresh ones executed in
    /// one executor call (live: batch requests to the venue), then each committed and
    /// acknowledged alone.
    async fn on_decisions(&mut self, deliveries: Vec<Delivery>) {
        let mut fresh: Vec<FreshOrder> = vec![];
        for delivery in deliveries {
            if kind_of(&delivery.message.payload) == Some(CtfDecision::KIND) {
                self.execute_fresh(std::mem::take(&mut fresh)).await;
                self.on_ctf_decision(delivery).await;
            } else if let Some(order) = self.take_decision(delivery).await {
                fresh.push(order);
            }
        }
        self.execute_fresh(fresh).await;
    }

    /// An order decision: `Some` when it is an approval claimed fresh for an open market and a
    /// mode that admits it (to execute); everything else is done here (not an approval: acked;
    /// executed before: its recorded outcome published again; claimed by an executor that
    /// stopped: recovered or rejected; refused by the market or the mode).
    async fn take_decision(&mut self, delivery: Delivery) -> Option<FreshOrder> {
        let received = now_ns();
        let (decision, delivery) = self.approved::<RiskDecision>(delivery, |d| &d.verdict).await?;
        let intent = decision.intent;
        self.metrics.observe("decision_to_execution", decision.decided_ts_ns, received);
        self.metrics.observe("end_to_end", intent.cause_recv_ts_ns, received);
        let span = tracing::info_span!("execution", order = %intent.client_order_id, outcome = tracing::field::Empty);
        telemetry::follow(&span, &delivery.message);
        let policy = PolicyKey::of_intent(&intent);
        let claimed = async {
            match self.store.claim(&policy, &intent.client_order_id).await {
                Ok(Claim::Fresh) if let Some(why) = self.market_closed(&intent) => {
                    self.refuse_claimed(&intent, why).await.map(|()| false)
                }
                Ok(Claim::Fresh) if intent.mode == Mode::Live && !self.admitted(&policy, intent.side).await => {
                    self.refuse_claimed(&intent, "the risk policy's mode no longer admits it").await.map(|()| false)
                }
                Ok(Claim::Fresh) => Ok(true),
                Ok(Claim::Done(outcome)) => {
                    self.metrics.replays.inc();
                    tracing::info!(order = %intent.client_order_id, "approval seen again: publishing the recorded outcome");
                    let events = decode_outcome(outcome).unwrap_or_default();
                    self.publish(&events).await;
                    Ok(false)
                }
                Ok(Claim::Pending) if let Some(events) = self.executor.recover(&intent, now_ns()).await => {
                    let outcome = encode_outcome(&events);
                    self.commit_and_publish(&intent, events, Some(outcome)).await.map(|()| false)
                }
                Ok(Claim::Pending) => {
                    tracing::warn!(order = %intent.client_order_id, "claimed by an executor that stopped before committing: rejecting");
                    let update = ExecEvent::Update(OrderUpdate {
                        client_order_id: intent.client_order_id,
                        namespace: intent.namespace.clone(),
                        strategy: intent.strategy.clone(),
                        venue_order_id: None,
                        status: OrderStatus::Rejected,
                        filled: polyfleet_core::Quantity::ZERO,
                        remaining: intent.size,
                        reason: Some("executor restarted before completing; not executed".into()),
                        ts_ns: now_ns(),
                    });
                    self.executed(&intent, vec![update]).await.map(|()| false)
                }
                Err(e) => Err(e),
            }
        }
        .instrument(span.clone())
        .await;
        match claimed {
            Ok(true) => Some(FreshOrder { intent, delivery, span }),
            Ok(false) => {
                let _ = delivery.ack().await;
                None
            }
            Err(e) => {
                self.metrics.store_errors.inc();
                tracing::error!(error = %e, order = %intent.client_order_id, "risk store unreachable: the approval will be redelivered");
                None
            }
        }
    }

    /// A claimed order refused before the executor saw it, committed as its outcome.
    async fn refuse_claimed(&mut self, intent: &OrderIntent, why: &str) -> Result<(), RiskStoreError> {
        let events = vec![refusal(intent, why, now_ns())];
        let outcome = encode_outcome(&events);
        self.commit_and_publish(intent, events, Some(outcome)).await
    }

    /// An order's outcome committed (as what a redelivery publishes again) and published, and
    /// its failures notified.
    async fn executed(&mut self, intent: &OrderIntent, events: Vec<ExecEvent>) -> Result<(), RiskStoreError> {
        let failures = order_failures(intent, &events);
        let outcome = encode_outcome(&events);
        let done = self.commit_and_publish(intent, events, Some(outcome)).await;
        self.notify(failures);
        done
    }

    /// Fresh orders executed together. One order keeps the venue's calls in its own trace;
    /// several share a span (the venue's batch request) linked to each order's.
    async fn execute_fresh(&mut self, fresh: Vec<FreshOrder>) {
        let fresh = self.with_shares(fresh).await;
        if fresh.is_empty() {
            return;
        }
        let intents: Vec<OrderIntent> = fresh.iter().map(|f| f.intent.clone()).collect();
        let span = match fresh.as_slice() {
            [one] => one.span.clone(),
            many => {
                let batch = tracing::info_span!("execution_batch", orders = many.len());
                for f in many {
                    telemetry::link(&batch, &f.span);
                }
                batch
            }
        };
        self.metrics.execution_batch.observe(intents.len() as f64);
        let results = self.executor.submit_many(&intents, now_ns()).instrument(span).await;
        for (f, events) in fresh.into_iter().zip(results) {
            let done = self.executed(&f.intent, events).instrument(f.span).await;
            match done {
                Ok(()) => {
                    let _ = f.delivery.ack().await;
                }
                Err(e) => {
                    self.metrics.store_errors.inc();
                    tracing::error!(error = %e, order = %f.intent.client_order_id, "outcome not committed (risk store unreachable): the approval will be redelivered");
                }
            }
        }
    }

    /// The paper and shadow sales of `fresh` the strategy holds the shares for, beyond what its
    /// resting sales and the batch's earlier ones offer; the others are refused as the venue
    /// refuses them ("not enough balance"), their outcome committed and their approval
    /// acknowledged. Live sales are checked by the venue and the executor's pre-flight.
    async fn with_shares(&mut self, fresh: Vec<FreshOrder>) -> Vec<FreshOrder> {
        let mut batch: HashMap<(String, String, TokenId), polyfleet_core::Quantity> = HashMap::new();
        let mut kept = Vec::with_capacity(fresh.len());
        for f in fresh {
            let i = &f.intent;
            if i.side != Side::Sell || i.mode == Mode::Live {
                kept.push(f);
                continue;
            }
            let key = (i.namespace.clone(), i.strategy.clone());
            let loaded = self.load_ledger(&key, &PolicyKey::of_intent(i)).await;
            let held = self.ledgers.get(&key).map(|l| l.position(&i.token).size);
            let (Ok(()), Some(held)) = (loaded, held) else {
                // The ledger cannot be read (the store is down): not acknowledged, so redelivered,
                // when the claim made finds it unfinished and rejects it, not executed.
                self.metrics.store_errors.inc();
                continue;
            };
            let earlier = batch.entry((key.0, key.1, i.token)).or_insert(polyfleet_core::Quantity::ZERO);
            let offered = self.executor.offered(&i.namespace, &i.strategy, &i.token).saturating_add(*earlier);
            match short_of_shares(i, held, offered) {
                None => {
                    *earlier = earlier.saturating_add(i.size);
                    kept.push(f);
                }
                Some(why) => {
                    let FreshOrder { intent, delivery, span } = f;
                    match self.refuse_claimed(&intent, &why).instrument(span).await {
                        Ok(()) => {
                            let _ = delivery.ack().await;
                        }
                        Err(e) => {
                            self.metrics.store_errors.inc();
                            tracing::error!(error = %e, order = %intent.client_order_id, "refusal not committed (risk store unreachable): the approval will be redelivered");
                        }
                    }
                }
            }
        }
        kept
    }

    /// Cancel intents that arrived together: every order they name, in one executor call.
    async fn on_cancels(&mut self, deliveries: Vec<Delivery>) {
        let mut orders: Vec<(ClientOrderId, String)> = vec![];
        for delivery in &deliveries {
            let c = match decode::<Intent>(&delivery.message.payload) {
                Ok(Intent::Cancel(c)) => c,
                Ok(_) => continue,
                Err(e) => {
                    self.metrics.malformed.inc();
                    tracing::warn!(error = %e, "skipping a cancel that does not decode");
                    continue;
                }
            };
            let ids: Vec<ClientOrderId> = match c.client_order_id {
                Some(id) => vec![id],
                None => self
                    .working
                    .values()
                    .filter(|i| i.namespace == c.namespace && i.strategy == c.strategy)
                    .map(|i| i.client_order_id)
                    .collect(),
            };
            for id in ids {
                if !orders.iter().any(|(o, _)| *o == id) {
                    orders.push((id, c.reason.clone()));
                }
            }
        }
        if !orders.is_empty() {
            let events = self.executor.cancel_many(&orders, now_ns()).await;
            self.settle(events).await;
        }
        for delivery in deliveries {
            let _ = delivery.ack().await;
        }
    }

    /// Why no order can go to the intent's market now: it resolved, or the venue closed it to
    /// orders before resolving it (as the venue itself would refuse the order).
    fn market_closed(&self, intent: &OrderIntent) -> Option<&'static str> {
        if self.resolutions.iter().any(|r| r.market == intent.market) {
            Some("the market has resolved")
        } else if self.halted.contains(&intent.market) {
            Some("the venue does not accept orders on this market (closed, awaiting resolution)")
        } else {
            None
        }
    }

    /// Whether the policy's mode admits an order on `side` now (an unreadable store or a policy
    /// without limits admits nothing).
    async fn admitted(&self, policy: &PolicyKey, side: Side) -> bool {
        matches!(self.store.mode(policy, now_ms()).await, Ok(Some(mode)) if mode.admits(side))
    }

    /// Cancels the resting orders their policy's mode no longer admits (all under `halt`, buys
    /// under `reduceOnly`). A policy whose mode cannot be read keeps its orders until the next
    /// tick: a store outage must not cancel a book of quotes.
    async fn enforce_modes(&mut self) {
        let mut modes: HashMap<PolicyKey, Option<RiskMode>> = HashMap::new();
        let mut doomed = vec![];
        let now = now_ns();
        self.mode_cancelled
            .retain(|id, at| self.working.contains_key(id) && now < at.saturating_add(MODE_CANCEL_RETRY_NS));
        // FOK and FAK orders never rest (one still "working" awaits its trades' settlement).
        let rests = |i: &OrderIntent| matches!(i.tif, TimeInForce::Gtc | TimeInForce::Gtd { .. });
        for (id, intent) in self.working.iter().filter(|(id, i)| rests(i) && !self.mode_cancelled.contains_key(id)) {
            let policy = PolicyKey::of_intent(intent);
            if !modes.contains_key(&policy) {
                let mode = self.store.mode(&policy, now_ms()).await.ok().flatten();
                modes.insert(policy.clone(), mode);
            }
            if let Some(Some(mode)) = modes.get(&policy)
                && !mode.admits(intent.side)
            {
                doomed.push((*id, *mode));
            }
        }
        for (id, mode) in doomed {
            self.mode_cancelled.insert(id, now);
            self.metrics.mode_cancels.get_or_create(&KindLabel { kind: mode.as_str().to_string() }).inc();
            let why = format!("the risk policy is {}", mode.as_str());
            tracing::warn!(order = %id, mode = mode.as_str(), "cancelling an order its policy's mode no longer admits");
            let events = self.executor.cancel(&id, &why, now_ns()).await;
            self.settle(events).await;
        }
    }

    /// A strategy's unrealized PnL per token at conservative marks now (see
    /// [`polyfleet_core::accounting::mark`]): a settled token at its payout, complete binary sets
    /// at 1 USDC, the rest at what selling into the live book would pay, nothing for a book with
    /// no market event for `mark_stale_ms` (unless the venue closed its market: its last book
    /// stands until it resolves).
    fn marks_of(&self, ledger: &Ledger) -> Vec<(TokenId, Money)> {
        let now = now_ns();
        let quote = |t: &TokenId| {
            if let Some(payout) = ledger.payout(t) {
                return Quote::Settled(payout);
            }
            let seen = self.seen.get(t);
            let closed = seen.is_some_and(|(market, _)| self.halted.contains(market));
            let fresh = mark::fresh(seen.map(|(_, at)| *at), now, self.mark_stale_ns, closed);
            match self.executor.book(t) {
                Some(book) if fresh => Quote::Book(book),
                _ => Quote::Unknown,
            }
        };
        mark::unrealized(&ledger.positions(), quote, |t| self.executor.complement(t))
    }

    /// The changes of a strategy's marks against what the store has (zero: a token gone), and
    /// the new marks to remember once the store took them.
    fn mark_changes(&self, key: &(String, String), ledger: &Ledger) -> (Vec<(TokenId, Money)>, TokenMap<Money>) {
        let now: TokenMap<Money> = self.marks_of(ledger).into_iter().collect();
        let before = self.marked.get(key);
        let mut changes: Vec<(TokenId, Money)> =
            now.iter().filter(|(t, u)| before.and_then(|b| b.get(t)) != Some(u)).map(|(t, u)| (*t, *u)).collect();
        if let Some(before) = before {
            changes.extend(before.keys().filter(|t| !now.contains_key(t)).map(|t| (*t, Money::ZERO)));
        }
        (changes, now)
    }

    /// Writes every strategy's marks to the store, which runs the policy's trip rules on them: a
    /// position losing value trips the daily loss or drawdown without any order.
    async fn mark_to_market(&mut self) {
        let keys: Vec<(String, String)> = self.ledgers.keys().cloned().collect();
        for key in keys {
            let (Some(policy), Some(ledger)) = (self.policies.get(&key), self.ledgers.get(&key)) else { continue };
            let marks = self.marks_of(ledger);
            match self.store.revalue(policy, &key.1, &marks, now_ms()).await {
                Ok(()) => {
                    self.marked.insert(key, marks.into_iter().collect());
                }
                Err(e) => {
                    self.metrics.store_errors.inc();
                    tracing::warn!(error = %e, "unrealized PnL not recorded");
                }
            }
        }
    }

    fn ledger(&mut self, intent: &OrderIntent) -> &mut Ledger {
        self.ledgers.entry((intent.namespace.clone(), intent.strategy.clone())).or_default()
    }

    /// Loads a strategy's ledger on its first order or operation since start: it continues from
    /// the stored positions and settlements, then settles what resolved since start.
    async fn load_ledger(
        &mut self,
        key: &(String, String),
        policy: &PolicyKey,
    ) -> Result<(), polyfleet_io::risk_store::RiskStoreError> {
        if self.ledgers.contains_key(key) {
            return Ok(());
        }
        let mut ledger = Ledger::new();
        for (token, p) in self.store.positions(policy, &key.1).await? {
            ledger.restore(token, p);
        }
        for r in self.store.settlements(policy).await? {
            ledger.restore_settlement(&r);
        }
        self.policies.insert(key.clone(), policy.clone());
        self.ledgers.insert(key.clone(), ledger);
        for r in self.resolutions.clone() {
            self.settle_ledger(key, &r).await;
        }
        Ok(())
    }

    /// An approved conditional-token operation, executed once by its id (the claim protocol of
    /// orders): done at the venue (paper: nothing to send), booked in the strategy's ledger and
    /// committed to the store by its id (exposure, shares, PnL, ledger positions at once); then
    /// a split's reservations are released and the report recorded as the outcome, published,
    /// and the decision acknowledged. A report already recorded is published again.
    async fn on_ctf_decision(&mut self, delivery: Delivery) {
        let Some((decision, delivery)) = self.approved::<CtfDecision>(delivery, |d| &d.verdict).await else {
            return;
        };
        let intent = decision.intent;
        self.metrics.observe("decision_to_execution", decision.decided_ts_ns, now_ns());
        let span = tracing::info_span!("execution", order = %intent.id, ctf = intent.op.name(), outcome = tracing::field::Empty);
        telemetry::follow(&span, &delivery.message);
        let done = async {
            if delivery.delivered < REDEEM_DEFERRALS && !self.redeemable(&intent).await? {
                // Not acknowledged: delivered again after the consumer's ack wait, by then
                // settled (the last delivery executes it whatever, and fails honestly).
                self.metrics.ctf_ops.get_or_create(&CtfLabel { op: intent.op.name(), outcome: "deferred" }).inc();
                tracing::info!(order = %intent.id, delivered = delivery.delivered, "redemption before its market's settlement is booked here: deferred");
                return Ok(false);
            }
            self.execute_ctf(&intent).await.map(|()| true)
        }
        .instrument(span)
        .await;
        match done {
            Ok(true) => {
                let _ = delivery.ack().await;
            }
            Ok(false) => {}
            Err(e) => {
                self.metrics.store_errors.inc();
                tracing::error!(error = %e, order = %intent.id, "risk store unreachable: the operation will be redelivered");
            }
        }
    }

    /// Whether an operation can run now: anything but a redemption can; a redemption once this
    /// agent has booked its market's settlement in the strategy's ledger (a settlement the store
    /// refused earlier is tried again first). The strategy hears of the resolution from the
    /// market channel as this agent does, and may ask before the settlement is booked here.
    async fn redeemable(&mut self, intent: &CtfIntent) -> Result<bool, polyfleet_io::risk_store::RiskStoreError> {
        let CtfOp::Redeem { market, token, .. } = &intent.op else { return Ok(true) };
        let key = (intent.namespace.clone(), intent.strategy.clone());
        if self.unsettled.iter().any(|(k, r)| *k == key && r.market == *market) {
            self.retry_settlements().await;
        }
        self.load_ledger(&key, &PolicyKey::new(&intent.namespace, &intent.risk_policy)).await?;
        Ok(self.ledgers.get(&key).is_some_and(|l| l.payout(token).is_some()))
    }

    async fn execute_ctf(&mut self, intent: &CtfIntent) -> Result<(), polyfleet_io::risk_store::RiskStoreError> {
        let policy = PolicyKey::new(&intent.namespace, &intent.risk_policy);
        let key = (intent.namespace.clone(), intent.strategy.clone());
        let id = intent.id.to_string();
        let report = match self.store.claim(&policy, &intent.id).await? {
            Claim::Done(outcome) => {
                self.metrics.replays.inc();
                if let Ok(report) = decode::<CtfReport>(&outcome) {
                    self.publish_ctf(&report).await;
                }
                return Ok(());
            }
            Claim::Pending
                if self.store.committed(&policy, std::slice::from_ref(&id)).await?.first() == Some(&true) =>
            {
                // Booked before the executor stopped; the positions restored include it.
                self.load_ledger(&key, &policy).await?;
                if let Some(ledger) = self.ledgers.get_mut(&key) {
                    ledger.restore_op(&id);
                }
                CtfReport::of(
                    intent,
                    CtfStatus::Done,
                    polyfleet_core::Money::ZERO,
                    polyfleet_core::Money::ZERO,
                    now_ns(),
                )
            }
            Claim::Pending if intent.mode == Mode::Live => {
                // The transaction may have been sent before the stop: not booked, and said so
                // (the wallet is to be reconciled), never run a second time.
                self.metrics.ctf_ops.get_or_create(&CtfLabel { op: intent.op.name(), outcome: "unknown" }).inc();
                tracing::error!(op = intent.op.name(), id = %intent.id, "live conditional-token operation interrupted: it may have happened on chain; not booked, reconcile the wallet");
                CtfReport::failed(
                    intent,
                    "executor restarted while the operation was under way: it may have happened on chain; not booked (reconcile the wallet)",
                    now_ns(),
                )
            }
            Claim::Pending | Claim::Fresh => {
                self.load_ledger(&key, &policy).await?;
                match self.executor.ctf(intent, now_ns()).await {
                    Err(why) => CtfReport::failed(intent, why, now_ns()),
                    Ok(()) => self.book_ctf(&key, &policy, intent).await?,
                }
            }
        };
        let outcome = Bytes::from(encode(&report));
        self.store.commit(&policy, &intent.id, &[], true, Some(outcome), now_ms()).await?;
        for extra in polyfleet_core::exec::ctf::reservation_ids(intent).iter().skip(1) {
            self.store.release(&policy, extra).await?;
        }
        let outcome = match &report.status {
            CtfStatus::Done => "done",
            CtfStatus::Failed { .. } => "failed",
        };
        tracing::Span::current().record("outcome", outcome);
        self.metrics.ctf_ops.get_or_create(&CtfLabel { op: intent.op.name(), outcome }).inc();
        if report.status == CtfStatus::Done {
            self.metrics
                .ctf_size_micros
                .get_or_create(&KindLabel { kind: intent.op.name().into() })
                .inc_by(intent.op.size().micros());
            if report.cash.micros() > 0 {
                self.metrics.capital_returned_micros.inc_by(report.cash.micros().unsigned_abs());
            }
        }
        self.publish_ctf(&report).await;
        Ok(())
    }

    /// Books an operation in a copy of the strategy's ledger and commits it to the store; the
    /// copy replaces the ledger only once the store has it (a store error leaves both as they
    /// were, and the redelivered operation books again).
    async fn book_ctf(
        &mut self,
        key: &(String, String),
        policy: &PolicyKey,
        intent: &CtfIntent,
    ) -> Result<CtfReport, polyfleet_io::risk_store::RiskStoreError> {
        let id = intent.id.to_string();
        let Some(mut next) = self.ledgers.get(key).cloned() else {
            return Ok(CtfReport::failed(intent, "no ledger for the strategy", now_ns()));
        };
        let booked = match next.on_ctf(&id, &intent.op) {
            Ok(Some(b)) => b,
            Ok(None) => {
                let zero = polyfleet_core::Money::ZERO;
                return Ok(CtfReport::of(intent, CtfStatus::Done, zero, zero, now_ns()));
            }
            Err(e) => return Ok(CtfReport::failed(intent, e.to_string(), now_ns())),
        };
        let (marks, marked) = self.mark_changes(key, &next);
        self.store
            .commit_lifecycle_marked(policy, &key.1, &id, &booked, Booking::Ctf(&intent.op), &marks, now_ms())
            .await?;
        self.ledgers.insert(key.clone(), next);
        self.marked.insert(key.clone(), marked);
        tracing::info!(order = %id, op = intent.op.name(), cash = %booked.cash, realized = %booked.realized, "conditional-token operation booked");
        Ok(CtfReport::of(intent, CtfStatus::Done, booked.cash, booked.realized, now_ns()))
    }

    async fn publish_ctf(&self, report: &CtfReport) {
        let headers = telemetry::inject(&tracing::Span::current());
        let subject = subjects::order_updates(&report.namespace, &report.strategy);
        let id = format!("c-{}", report.id);
        if let Err(err) = self.bus.persist(&subject, headers, Bytes::from(encode(report)), Some(&id)).await {
            tracing::error!(error = %err, subject, "conditional-token report not published");
        }
    }

    /// Books fills in the strategy's ledger, commits them (and the release when the order is
    /// over) to the store, then publishes the events.
    async fn commit_and_publish(
        &mut self,
        intent: &OrderIntent,
        events: Vec<ExecEvent>,
        outcome: Option<Bytes>,
    ) -> Result<(), polyfleet_io::risk_store::RiskStoreError> {
        let policy = PolicyKey::of_intent(intent);
        let key = (intent.namespace.clone(), intent.strategy.clone());
        self.load_ledger(&key, &policy).await?;
        let mut commits = vec![];
        let mut finished = false;
        for e in &events {
            match e {
                ExecEvent::Fill(f) => match self.ledger(intent).book(f) {
                    Ok(b) => commits.push(FillCommit {
                        fill: f.clone(),
                        cost: b.cost,
                        realized: b.realized,
                        position: b.position,
                        round_trip: intent.round_trip(),
                    }),
                    Err(err) => tracing::error!(error = %err, fill = %f.fill_id, "fill not booked in the ledger"),
                },
                ExecEvent::Update(u) => finished |= u.status.is_terminal(),
            }
        }
        let (marks, marked) = match self.ledgers.get(&key) {
            Some(ledger) if !commits.is_empty() => self.mark_changes(&key, ledger),
            _ => (vec![], TokenMap::default()),
        };
        self.store
            .commit_marked(&policy, &intent.client_order_id, &commits, &marks, finished, outcome, now_ms())
            .await?;
        if !commits.is_empty() {
            self.marked.insert(key.clone(), marked);
        }
        if finished {
            if self.working.remove(&intent.client_order_id).is_some()
                || !self.finished_intents.contains_key(&intent.client_order_id)
            {
                self.finished.push_back(intent.client_order_id);
                self.finished_intents.insert(intent.client_order_id, intent.clone());
                while self.finished.len() > FINISHED_KEPT {
                    if let Some(old) = self.finished.pop_front() {
                        self.finished_intents.remove(&old);
                    }
                }
            }
        } else {
            self.working.insert(intent.client_order_id, intent.clone());
        }
        self.publish(&events).await;
        Ok(())
    }

    /// Publishes notices for people (live order failures) off the order path: a task of their
    /// own, de-duplicated by id in the notices stream.
    fn notify(&self, notices: Vec<polyfleet_core::wire::Notice>) {
        for n in notices {
            let bus = self.bus.clone();
            tokio::spawn(async move {
                let subject = subjects::notices(&n.namespace, &n.risk_policy);
                if let Err(e) = bus.persist(&subject, vec![], Bytes::from(encode(&n)), Some(&n.id)).await {
                    tracing::warn!(error = %e, id = %n.id, "notice not published");
                }
            });
        }
    }

    async fn publish(&self, events: &[ExecEvent]) {
        for e in events {
            let span = tracing::info_span!("fill_or_update");
            let headers = telemetry::inject(&tracing::Span::current());
            let (subject, id, body) = match e {
                ExecEvent::Update(u) => {
                    self.metrics
                        .orders
                        .get_or_create(&KindLabel { kind: format!("{:?}", u.status).to_lowercase() })
                        .inc();
                    let id = format!("u-{}-{:?}-{}", u.client_order_id, u.status, u.filled.micros());
                    (subjects::order_updates(&u.namespace, &u.strategy), id, encode(u))
                }
                ExecEvent::Fill(f) => {
                    let kind = match f.liquidity {
                        Liquidity::Maker => "maker",
                        Liquidity::Taker => "taker",
                    };
                    self.metrics.fills.get_or_create(&KindLabel { kind: kind.into() }).inc();
                    (subjects::fills(&f.namespace, &f.strategy), format!("f-{}-{:?}", f.fill_id, f.status), encode(f))
                }
            };
            let _entered = span.enter();
            if let Err(err) = self.bus.persist(&subject, headers, Bytes::from(body), Some(&id)).await {
                tracing::error!(error = %err, subject, "order update or fill not published");
            }
        }
    }
}

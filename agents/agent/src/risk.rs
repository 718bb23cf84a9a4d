//! The risk gateway (`polyfleet-agent risk`): decides every order intent of its namespace in one
//! atomic risk-store call (the Redis script) and publishes the decision with its reason. Runs as
//! a horizontally scaled set: every replica binds the same durable JetStream consumer, so each
//! intent is decided by exactly one of them, and an intent whose replica died unacknowledged is
//! redelivered to another (the store returns the first verdict again). Cancels are not checked.
//! The legs of a set arrive as one intent and are decided as one (every leg approved or none),
//! each leg then getting its own decision. Conditional-token operations are decided too: a split
//! reserves its cost like the purchase of both tokens, a merge, redeem or convert is approved
//! when well formed unless the policy is halted (it only gives exposure back; see
//! [`polyfleet_core::exec::ctf`]).
//!
//! Fails closed: when the store cannot be reached the intent is rejected with
//! `risk_store_unavailable`, counted, and logged; nothing is approved without the store.
//!
//! Book liquidity for the policy's minimum comes from the gateway's own books of the tokens it
//! has been asked about: at a token's first intent it subscribes to the token's events
//! (`md.<venue>.<token>`) and fetches its book, so it decodes those tokens' events only, not the
//! whole venue's; a token without a live book counts as having none.
//!
//! It also answers a starting strategy agent's request for its ledger positions
//! (`riskpos.<namespace>.<strategy>`), so that a restarted strategy goes on from what it holds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_core::book::BookFollower;
use polyfleet_core::risk::{RiskMode, book_liquidity};
use polyfleet_core::wire::{
    CtfDecision, CtfIntent, Intent, MarketEvent, OrderIntent, RejectReason, RiskDecision, Verdict, decode, encode,
    subjects,
};
use polyfleet_core::{Money, TokenMap};
use polyfleet_io::bus::{Bus, ConsumerSpec, Delivery, Message};
use polyfleet_io::risk_store::{PolicyKey, RiskStore, encode_positions};
use polyfleet_io::telemetry;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::feed::Feed;
use crate::metrics::{OrderPathMetrics, ReasonLabel};
use crate::time::{now_ms, now_ns};

/// Settings of the gateway.
#[derive(Debug, Clone)]
pub struct RiskAgentConfig {
    /// Namespace whose intents it decides (`*` for all).
    pub namespace: String,
    /// Venue whose books give the liquidity check its numbers.
    pub venue: String,
    /// Liquidity counts levels within this many basis points of the best price.
    pub liquidity_band_bps: u32,
    /// Durable consumer name shared by the replicas.
    pub durable: String,
    /// Decisions in flight at once per replica.
    pub concurrency: usize,
}

/// Runs until `shutdown` turns true.
pub async fn run<B: Bus, S: RiskStore>(
    bus: B,
    store: S,
    cfg: RiskAgentConfig,
    metrics: Arc<OrderPathMetrics>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let filter =
        format!("intent.{}.>", if cfg.namespace == "*" { "*".into() } else { subjects::token(&cfg.namespace) });
    let mut intents = bus
        .consume(ConsumerSpec {
            stream: subjects::STREAM_INTENTS.into(),
            durable: cfg.durable.clone(),
            filter,
            ack_wait: Duration::from_secs(5),
        })
        .await?;
    let mut feed = Feed::open_tokens(&bus, &cfg.venue, []).await?;
    let mut positions = bus.subscribe(&subjects::positions_requests(&cfg.namespace)).await?;
    let mut books: TokenMap<BookFollower> = TokenMap::default();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    metrics.set_ready(true);
    tracing::info!(namespace = %cfg.namespace, venue = %cfg.venue, "risk gateway running");
    loop {
        // Biased: market data first, so an order is never handled on a book older than the
        // event that caused it (the event is queued before anything it causes can arrive).
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            Some(ev) = feed.next() => {
                let Ok(ev) = ev else { metrics.malformed.inc(); continue };
                follow(&mut books, &mut feed, &ev);
            }
            Some(req) = positions.next() => answer_positions(&bus, &store, req).await,
            next = intents.next() => {
                match next {
                    Some(Ok(d)) => handle(&bus, &store, &cfg, &mut books, &mut feed, d, &metrics, &in_flight).await,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "intent consumer error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    None => anyhow::bail!("intent consumer ended"),
                }
            }
        }
    }
    tracing::info!("risk gateway stopped");
    Ok(())
}

/// Answers a restarted strategy agent's request for its ledger positions
/// (`riskpos.<namespace>.<strategy>`, the body its RiskPolicy): [`encode_positions`], or
/// `error <why>` when the store cannot say (which is no positions answer: the agent asks again,
/// never taking it for flat).
async fn answer_positions<B: Bus, S: RiskStore>(bus: &B, store: &S, req: Message) {
    let Some(reply) = req.reply else { return };
    let mut parts = req.subject.splitn(3, '.').skip(1);
    let (Some(ns), Some(strategy)) = (parts.next(), parts.next()) else { return };
    let policy = String::from_utf8_lossy(&req.payload).to_string();
    let body = match store.positions(&PolicyKey::new(ns, &policy), strategy).await {
        Ok(p) => encode_positions(&p),
        Err(e) => {
            tracing::warn!(error = %e, %strategy, "positions not read for a restarted strategy");
            format!("error {e}")
        }
    };
    if let Err(e) = bus.publish(&reply, vec![], Bytes::from(body)).await {
        tracing::warn!(error = %e, "positions answer not sent");
    }
}

fn follow<B: Bus>(books: &mut TokenMap<BookFollower>, feed: &mut Feed<B>, ev: &MarketEvent) {
    use polyfleet_core::book::Followed;
    if let Followed::Gap { .. } = books.entry(ev.token).or_default().on_event(ev) {
        feed.resync(ev.token);
    }
}

/// Decodes an intent (one order, or the legs of a set) and measures each leg's book liquidity
/// (in the loop, which owns the books and the feed), then decides and publishes on a task of its
/// own: decisions of different intents run concurrently (the store's script keeps each atomic),
/// up to the semaphore's limit.
#[allow(clippy::too_many_arguments, reason = "the loop's state, lent for one intent")]
async fn handle<B: Bus, S: RiskStore>(
    bus: &B,
    store: &S,
    cfg: &RiskAgentConfig,
    books: &mut TokenMap<BookFollower>,
    feed: &mut Feed<B>,
    delivery: Delivery,
    metrics: &Arc<OrderPathMetrics>,
    limit: &Arc<tokio::sync::Semaphore>,
) {
    let received_ns = now_ns();
    let legs = match decode::<Intent>(&delivery.message.payload) {
        Ok(Intent::Place(o)) => vec![o],
        Ok(Intent::PlaceSet(legs)) if !legs.is_empty() => legs,
        Ok(Intent::Ctf(c)) => {
            let span =
                tracing::info_span!("risk_decision", order = %c.id, ctf = c.op.name(), verdict = tracing::field::Empty);
            telemetry::follow(&span, &delivery.message);
            metrics.observe("intent_to_decision", c.created_ts_ns, received_ns);
            let Ok(permit) = limit.clone().acquire_owned().await else { return };
            let (bus, store, metrics) = (bus.clone(), store.clone(), metrics.clone());
            tokio::spawn(
                async move {
                    decide_ctf(&bus, &store, c, delivery, &metrics).await;
                    drop(permit);
                }
                .instrument(span),
            );
            return;
        }
        Ok(Intent::Cancel(_) | Intent::PlaceSet(_) | Intent::Signal(_)) => {
            // Cancels never need approval; the execution agent takes them from the stream. A
            // signal report is the journal's.
            let _ = delivery.ack().await;
            return;
        }
        Err(e) => {
            metrics.malformed.inc();
            tracing::warn!(subject = %delivery.message.subject, error = %e, "skipping an intent that does not decode");
            let _ = delivery.ack().await;
            return;
        }
    };
    let span = tracing::info_span!(
        "risk_decision",
        order = %legs[0].client_order_id,
        set = tracing::field::Empty,
        verdict = tracing::field::Empty
    );
    if legs.len() > 1 {
        span.record("set", crate::strategy::set_legs(&legs).as_str());
    }
    telemetry::follow(&span, &delivery.message);
    metrics.observe("intent_to_decision", legs[0].created_ts_ns, received_ns);
    let mut liquidity = Vec::with_capacity(legs.len());
    for leg in &legs {
        if !books.get(&leg.token).is_some_and(BookFollower::is_live) {
            // First order on this token (or its book fell behind): listen to its events from now
            // on (subscribed once), then fetch the book now rather than judge its liquidity as
            // none; events older than the book are stale to the follower, later ones apply.
            if let Err(e) = feed.listen(leg.token).await {
                tracing::warn!(token = %leg.token, error = %e, "not subscribed to the token's market events");
            }
            let subject = subjects::snapshot_request(&cfg.venue, &leg.token);
            if let Ok(payload) = bus.request(&subject, Bytes::new(), Duration::from_millis(500)).await
                && let Ok(ev) = decode::<MarketEvent>(&payload)
            {
                books.entry(ev.token).or_default().on_event(&ev);
            }
        }
        liquidity.push(book_liquidity(books, leg, cfg.liquidity_band_bps));
    }
    let Ok(permit) = limit.clone().acquire_owned().await else { return };
    let (bus, store, metrics) = (bus.clone(), store.clone(), metrics.clone());
    tokio::spawn(
        async move {
            decide(&bus, &store, legs, liquidity, delivery, &metrics).await;
            drop(permit);
        }
        .instrument(span),
    );
}

/// Decides one order or a set (every leg or none), then publishes one decision per leg and
/// acknowledges the intent once all are out.
async fn decide<B: Bus, S: RiskStore>(
    bus: &B,
    store: &S,
    legs: Vec<OrderIntent>,
    liquidity: Vec<Money>,
    delivery: Delivery,
    metrics: &OrderPathMetrics,
) {
    let policy = PolicyKey::of_intent(&legs[0]);
    let started = now_ns();
    let liq: Vec<Option<Money>> = liquidity.iter().copied().map(Some).collect();
    let decided = store.decide_set(&policy, &legs, &liq, now_ms()).await;
    metrics.observe("risk_store_call", started, now_ns());
    let verdict_of = |leg: &OrderIntent, liquidity: Money| match &decided {
        Ok(Ok(())) => Verdict::Approved,
        Ok(Err(reason)) => Verdict::Rejected { reason: *reason, detail: detail(*reason, leg, liquidity, legs.len()) },
        Err(e) => Verdict::Rejected { reason: RejectReason::RiskStoreUnavailable, detail: e.to_string() },
    };
    if let Err(e) = &decided {
        metrics.store_errors.inc();
        tracing::error!(error = %e, order = %legs[0].client_order_id, "risk store unreachable: rejecting (fail closed)");
    }
    let reason = match &decided {
        Ok(Ok(())) => "approved",
        Ok(Err(reason)) => reason.as_str(),
        Err(_) => RejectReason::RiskStoreUnavailable.as_str(),
    };
    tracing::Span::current().record("verdict", reason);
    let headers = telemetry::inject(&tracing::Span::current());
    let mut published = true;
    for (leg, liquidity) in legs.iter().zip(liquidity) {
        metrics.decisions.get_or_create(&ReasonLabel { reason }).inc();
        let decision =
            RiskDecision { intent: leg.clone(), verdict: verdict_of(leg, liquidity), decided_ts_ns: now_ns() };
        let subject = subjects::decisions(&leg.namespace, &leg.strategy);
        let msg_id = format!("d-{}", leg.client_order_id);
        if let Err(e) = bus.persist(&subject, headers.clone(), Bytes::from(encode(&decision)), Some(&msg_id)).await {
            // Not acknowledged: redelivered, the store answers with the same verdict, and the
            // decisions already out are dropped as duplicates by their message ids.
            tracing::error!(error = %e, "decision not published; the intent will be redelivered");
            published = false;
            break;
        }
    }
    if published {
        let _ = delivery.ack().await;
    }
}

/// Decides a conditional-token operation (see [`polyfleet_core::exec::ctf`]): a split as two
/// purchases, reserved in the store's one atomic call; a merge, redeem or convert approved when
/// well formed and the policy is known and not halted (it only gives exposure back, so it passes
/// under reduce-only). Publishes the decision.
async fn decide_ctf<B: Bus, S: RiskStore>(
    bus: &B,
    store: &S,
    intent: CtfIntent,
    delivery: Delivery,
    metrics: &OrderPathMetrics,
) {
    use polyfleet_core::exec::ctf;
    let policy = PolicyKey::new(&intent.namespace, &intent.risk_policy);
    let started = now_ns();
    let verdict = match (ctf::shape(&intent.op), ctf::reservation_legs(&intent)) {
        (Err(why), _) => {
            Verdict::Rejected { reason: RejectReason::Invalid, detail: format!("{}: {why}", intent.op.name()) }
        }
        (Ok(()), None) => Verdict::Rejected {
            reason: RejectReason::Invalid,
            detail: format!("the id {} leaves no room for the split's second leg", intent.id),
        },
        (Ok(()), Some(legs)) => {
            let decided = if legs.is_empty() {
                // It only gives exposure back: refused only when the policy is halted.
                store.limits(&policy).await.map(|l| match l {
                    None => Err(RejectReason::UnknownPolicy),
                    Some(l) if l.mode == RiskMode::Halt => Err(RejectReason::KillSwitch),
                    Some(_) => Ok(()),
                })
            } else {
                store.decide_set(&policy, &legs, &[None, None], now_ms()).await
            };
            match decided {
                Ok(Ok(())) => Verdict::Approved,
                Ok(Err(reason)) => {
                    Verdict::Rejected { reason, detail: polyfleet_core::exec::ctf::refusal_detail(&intent.op, reason) }
                }
                Err(e) => {
                    metrics.store_errors.inc();
                    tracing::error!(error = %e, order = %intent.id, "risk store unreachable: rejecting (fail closed)");
                    Verdict::Rejected { reason: RejectReason::RiskStoreUnavailable, detail: e.to_string() }
                }
            }
        }
    };
    metrics.observe("risk_store_call", started, now_ns());
    let reason = match &verdict {
        Verdict::Approved => "approved",
        Verdict::Rejected { reason, .. } => reason.as_str(),
    };
    tracing::Span::current().record("verdict", reason);
    metrics.decisions.get_or_create(&ReasonLabel { reason }).inc();
    let subject = subjects::decisions(&intent.namespace, &intent.strategy);
    let msg_id = format!("d-{}", intent.id);
    let decision = CtfDecision { intent, verdict, decided_ts_ns: now_ns() };
    let headers = telemetry::inject(&tracing::Span::current());
    match bus.persist(&subject, headers, Bytes::from(encode(&decision)), Some(&msg_id)).await {
        Ok(_) => {
            let _ = delivery.ack().await;
        }
        Err(e) => tracing::error!(error = %e, "decision not published; the intent will be redelivered"),
    }
}

fn detail(reason: RejectReason, intent: &OrderIntent, liquidity: Money, legs: usize) -> String {
    let what = match reason {
        RejectReason::BookLiquidity => format!("book liquidity {liquidity} USDC is below the policy's minimum"),
        RejectReason::UnknownPolicy => format!("no limits for RiskPolicy {}/{}", intent.namespace, intent.risk_policy),
        r => format!("{} limit", r.as_str()),
    };
    if legs > 1 { format!("the set of {legs} legs is refused whole: {what} (on one of its legs)") } else { what }
}

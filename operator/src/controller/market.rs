//! The Market controller. Apply: ask the venue what the Market names ([`crate::lookup`]) when it
//! was never asked, when the spec changed, when a series moved to its next round, or every
//! [`RESOLVE_EVERY`] (phase changes: closed, halted); probe each token's top of book at the
//! market-data agents ([`crate::books`]) at this controller's requeue rate, never per tick; find
//! the shard serving it; patch status only when it changed. A neg-risk event's conversion fee is
//! read from the chain with each venue answer. No finalizer: a Market owns nothing
//! outside Kubernetes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_crds::Market;
use polyfleet_crds::market::MarketType;

use super::Error;
use crate::books::BookProbe;
use crate::lookup::{Lookup, MarketLookup, MarketQuery};
use crate::metrics::OperatorMetrics;
use crate::params::ParamsStore;
use crate::planner::market::{Resolution, market_status, next_round_in_s, query};
use crate::planner::markets::MarketView;
use crate::planner::venue::{VenueEndpoints, endpoints, shard_name, shards};

/// How often a resolved Market is asked about again (phase: closed, not accepting orders).
pub const RESOLVE_EVERY: Duration = Duration::from_secs(300);
/// How often the top of book in status refreshes.
pub const TOP_EVERY: Duration = Duration::from_secs(15);

/// A venue answer kept between reconciles.
#[derive(Debug, Clone)]
struct Cached {
    generation: i64,
    query: MarketQuery,
    at: Instant,
    answer: Option<Lookup>,
    /// The conversion fee could not be read and a Warning said so ([`convert_fee`]).
    fee_warned: bool,
}

/// What a Market reconcile needs.
pub struct MarketContext {
    /// The API client.
    pub client: kube::Client,
    /// The venue's REST answers.
    pub lookup: Arc<dyn MarketLookup>,
    /// Top of book from the market-data agents.
    pub books: Arc<dyn BookProbe>,
    /// The Venues, RiskPolicies and Markets (reflector stores).
    pub markets: crate::cache::Cache,
    /// Events.
    pub recorder: Recorder,
    /// The operator's metrics.
    pub metrics: Arc<OperatorMetrics>,
    /// The last answer per Market (namespace/name).
    cache: Mutex<HashMap<String, Cached>>,
    /// How long an answer is kept ([`RESOLVE_EVERY`]).
    resolve_every: Duration,
    /// Where a series' rounds document goes for its agents (the parameter KV bucket); none: the
    /// rounds are kept in status only.
    rounds_kv: Option<Arc<dyn ParamsStore>>,
}

impl MarketContext {
    /// A context with an empty answer cache.
    pub fn new(
        client: kube::Client,
        lookup: Arc<dyn MarketLookup>,
        books: Arc<dyn BookProbe>,
        markets: crate::cache::Cache,
        recorder: Recorder,
        metrics: Arc<OperatorMetrics>,
    ) -> MarketContext {
        MarketContext {
            client,
            lookup,
            books,
            markets,
            recorder,
            metrics,
            cache: Mutex::default(),
            rounds_kv: None,
            resolve_every: RESOLVE_EVERY,
        }
    }

    /// Asks the venue again about a resolved Market after `every` ([`RESOLVE_EVERY`] unless told).
    pub fn with_resolve_every(mut self, every: Duration) -> MarketContext {
        self.resolve_every = every;
        self
    }

    /// Writes series' rounds documents to `kv` (the parameter KV bucket the agents watch).
    pub fn with_rounds_kv(mut self, kv: Arc<dyn ParamsStore>) -> MarketContext {
        self.rounds_kv = Some(kv);
        self
    }
}

/// How often (wall clock) a series Market with an ended round not yet closed, or a listed round
/// not found yet, asks the venue again.
const ROUNDS_EVERY: Duration = Duration::from_secs(5);

/// A series Market's rounds in play ([`crate::rounds::refresh`] on the Venue's clock): the status
/// list, and the agents' document written when it changed. A venue that cannot be asked keeps the
/// rounds as they were (told by the Reconciling condition of the current round's lookup). Returns
/// when to look again.
async fn roll_rounds(
    ctx: &MarketContext,
    market: &Market,
    venue: &polyfleet_crds::Venue,
    status: &mut polyfleet_crds::MarketStatus,
    venue_ms: u64,
    now: &k8s_openapi::jiff::Timestamp,
) -> Option<Duration> {
    let series = market.spec.series.as_ref()?;
    let wall_ms = now.as_millisecond().max(0) as u64;
    let prev = market.status.as_ref().map(|s| s.rounds.clone()).unwrap_or_default();
    let stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    match crate::rounds::refresh(ctx.lookup.as_ref(), &endpoints(venue), series, &prev, venue_ms, wall_ms, &stamp).await
    {
        Ok(rounds) => status.rounds = rounds,
        Err(e) => tracing::warn!(error = %e, "series rounds not refreshed; kept as they were"),
    }
    if let Some(kv) = &ctx.rounds_kv {
        let ns = market.namespace().unwrap_or_default();
        let groups: Vec<String> = market.labels().iter().map(|(k, v)| format!("{k}={v}")).collect();
        let doc = crate::planner::rounds::doc(&status.rounds, &groups);
        let key = polyfleet_core::wire::subjects::rounds_key(&ns, &market.name_any());
        match serde_json::to_vec(&doc) {
            Ok(body) if kv.get(&key).await.ok().flatten().as_deref() != Some(body.as_slice()) => {
                if let Err(e) = kv.put(&key, body).await {
                    tracing::warn!(error = %e, "series rounds document not written; written at the next reconcile");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "series rounds document does not serialize"),
        }
    }
    let listed = crate::planner::rounds::listed(series, venue_ms / 1000);
    let waiting = !crate::planner::rounds::awaiting_close(&status.rounds, venue_ms).is_empty()
        || status.rounds.iter().any(|r| r.closed_at.is_some())
        || listed.iter().any(|slug| !status.rounds.iter().any(|r| &r.slug == slug));
    waiting.then_some(ROUNDS_EVERY)
}

/// A neg-risk event's conversion fee, read from the chain through its first outcome's market;
/// `None` when it is not one or the read failed, which leaves the fee unknown for this answer
/// (the status keeps the last one read). A failure is told as a Warning Event unless `warned`
/// (told already for this generation: a standing failure is told once, not at every
/// RESOLVE_EVERY); the second value says whether it has been told.
async fn convert_fee(
    ctx: &MarketContext,
    market: &Market,
    at: &VenueEndpoints,
    l: &Lookup,
    warned: bool,
) -> (Option<u32>, bool) {
    if market.spec.type_ != MarketType::NegRiskEvent {
        return (None, false);
    }
    let from_spec =
        market.spec.tokens.as_ref().and_then(|ts| ConditionId::parse(ts.first()?.condition_id.as_deref()?).ok());
    let Some(condition) = from_spec.or_else(|| Some(l.markets.first()?.condition_id)) else { return (None, false) };
    match ctx.lookup.convert_fee_bips(at, &condition).await {
        Ok(fee) => (fee, false),
        Err(_) if warned => (None, true),
        Err(e) => {
            let ev = Event {
                type_: EventType::Warning,
                reason: "ConvertFeeUnknown".into(),
                note: Some(format!("{e}; the event's NO basket is not traded until it is read")),
                action: "Resolve".into(),
                secondary: None,
            };
            let _ = ctx.recorder.publish(&ev, &market.object_ref(&())).await;
            (None, true)
        }
    }
}

/// Reconciles one Market.
#[tracing::instrument(skip_all, fields(kind = "Market", namespace = market.namespace().unwrap_or_default(), name = %market.name_any()))]
pub async fn reconcile(market: Arc<Market>, ctx: Arc<MarketContext>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = apply(&market, &ctx).await;
    ctx.metrics.reconciled("Market", started.elapsed(), &result);
    result
}

async fn apply(market: &Market, ctx: &MarketContext) -> Result<Action, Error> {
    let ns = market.namespace().unwrap_or_default();
    let name = market.name_any();
    let key = format!("{ns}/{name}");
    let generation = market.metadata.generation.unwrap_or(0);
    let now = k8s_openapi::jiff::Timestamp::now();
    ctx.markets.ready().await;
    let venue = ctx.markets.venue(&ns, &market.spec.venue_ref.name);
    // Rounds roll on the Venue's clock (a simulator's may run faster than the wall's).
    let clock = venue.as_deref().and_then(crate::planner::venue::clock);
    let wall_ms = now.as_millisecond().max(0) as u64;
    let now_s = clock.map_or(wall_ms, |c| c.venue_ms(wall_ms)) / 1000;
    let mut requeue = TOP_EVERY;
    if let Some(next) = next_round_in_s(&market.spec, now_s) {
        // A series moves to its next round on time, not at the next resync.
        let wall_s = clock.map_or(next, |c| next.div_ceil(u64::from(c.rate)));
        requeue = requeue.min(Duration::from_secs(wall_s + 1));
    }
    let q = query(&market.spec, now_s);
    let mut asked = false;
    let cached = ctx.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
    let answer: Result<Option<Lookup>, String> = match (&q, &venue) {
        (Err(e), _) => Err(e.clone()),
        (_, None) => Ok(None),
        (Ok(q), Some(v)) => match cached {
            Some(c) if c.generation == generation && c.query == *q && c.at.elapsed() < ctx.resolve_every => {
                Ok(c.answer)
            }
            previous => {
                asked = true;
                let at = endpoints(v);
                let warned = previous.is_some_and(|c| c.generation == generation && c.fee_warned);
                match ctx.lookup.lookup(&at, q).await {
                    Ok(mut answer) => {
                        let mut fee_warned = false;
                        if let Some(l) = answer.as_mut() {
                            (l.convert_fee_bips, fee_warned) = convert_fee(ctx, market, &at, l, warned).await;
                        }
                        let entry = Cached {
                            generation,
                            query: q.clone(),
                            at: Instant::now(),
                            answer: answer.clone(),
                            fee_warned,
                        };
                        ctx.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), entry);
                        Ok(answer)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        },
    };
    let resolution = match (&q, &answer) {
        (Err(e), _) => Resolution::Invalid(e),
        (_, Ok(Some(l))) => Resolution::Found(l),
        (_, Ok(None)) => Resolution::Unknown,
        (_, Err(e)) => Resolution::Failed(e),
    };
    // The status tokens this round will have, then their top of book.
    let draft = market_status(market.status.as_ref(), generation, &market.spec, resolution, &[], None, "");
    let mut tops = vec![];
    if let Some(v) = &venue {
        for t in &draft.tokens {
            let top = match TokenId::parse(&t.token_id) {
                Ok(id) => ctx.books.top(&v.name_any(), &id).await,
                Err(_) => None,
            };
            tops.push((t.token_id.clone(), top));
        }
    }
    // The shard that serves it, as the Venue controller plans it.
    let shard = match &venue {
        Some(v) => {
            let v = &**v;
            let mut views: Vec<MarketView> = ctx
                .markets
                .markets_in(&ns)
                .iter()
                .filter(|m| m.name_any() != name)
                .filter_map(|m| MarketView::of(m))
                .collect();
            let mut me = market.clone();
            me.status = Some(draft);
            views.extend(MarketView::of(&me));
            shards(v, &views).iter().find(|s| s.markets.contains(&name)).map(|s| shard_name(&v.name_any(), s.index))
        }
        None => None,
    };
    let stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut status = market_status(market.status.as_ref(), generation, &market.spec, resolution, &tops, shard, &stamp);
    if let Some(v) = &venue
        && let Some(again) = roll_rounds(ctx, market, v, &mut status, now_s * 1000 + wall_ms % 1000, &now).await
    {
        requeue = requeue.min(again);
    }
    if market.status.as_ref() != Some(&status) {
        let api: Api<Market> = Api::namespaced(ctx.client.clone(), &ns);
        super::apply::apply_status(&api, &name, &status).await?;
    }
    let before = market.status.as_ref().map(|s| (s.phase, s.tokens.len()));
    if asked && before != Some((status.phase, status.tokens.len())) {
        let (type_, reason, note) = match resolution {
            Resolution::Found(_) => {
                (EventType::Normal, "Resolved", format!("{} tokens, phase {:?}", status.tokens.len(), status.phase))
            }
            Resolution::Unknown => (EventType::Warning, "NotFound", "the venue does not know this market".into()),
            Resolution::Failed(e) | Resolution::Invalid(e) => (EventType::Warning, "LookupFailed", e.to_string()),
        };
        let ev = Event { type_, reason: reason.into(), note: Some(note), action: "Resolve".into(), secondary: None };
        let _ = ctx.recorder.publish(&ev, &market.object_ref(&())).await;
    }
    Ok(Action::requeue(requeue))
}

//! The Redis risk store: one Lua script per operation (`lua/`), loaded once at connect and run by
//! SHA (re-loaded automatically if the server lost it), every key of a policy under one hash tag
//! (layout in the module doc of [`super`]). Works with a single server through a
//! [`ConnectionManager`] (reconnects on its own) or with a Redis Cluster connection. Timeouts are
//! short: an unreachable Redis must turn into a rejection quickly, not a stalled order path.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use polyfleet_core::accounting::Position;
use polyfleet_core::risk::{RiskLimits, RiskMode, RiskSnapshot, Trip, TripState};
use polyfleet_core::wire::{Fill, FillStatus, KellyBasis, OrderIntent, Outcome, RejectReason};
use polyfleet_core::{ClientOrderId, Money, Quantity, Side, TokenId};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};
use tokio::sync::{mpsc, oneshot};

use super::batch::{self, Decider, Job};
use super::{
    Claim, FillCommit, PolicyKey, RiskStore, RiskStoreError, commit_key, decode_payouts, decode_position,
    encode_payouts, encode_position,
};
use polyfleet_core::accounting::lifecycle::{Booking, Lifecycle, LifecycleTotals};
use polyfleet_core::wire::Resolution;

const COMMON: &str = include_str!("lua/common.lua");
const FLOOR: &str = include_str!("lua/floor.lua");
const MOVES: &str = include_str!("lua/moves.lua");
const DECIDE: &str = include_str!("lua/decide.lua");
const MARKS: &str = include_str!("lua/marks.lua");

/// The decision script's full source as the store loads it (for `redis-benchmark` comparisons).
pub fn decide_script_source() -> String {
    format!("{COMMON}\n{FLOOR}\n{DECIDE}")
}

struct Scripts {
    decide: Script,
    release: Script,
    claim: Script,
    commit: Script,
    lifecycle: Script,
    limits: Script,
    mark: Script,
}

impl Scripts {
    fn new() -> Scripts {
        // Each script carries only the helpers it calls: Redis runs a script's whole body on
        // every call, so every helper defined is a closure built per call.
        let moving = |body: &str| Script::new(&format!("{COMMON}\n{FLOOR}\n{MOVES}\n{body}"));
        let marking = |body: &str| Script::new(&format!("{COMMON}\n{FLOOR}\n{MOVES}\n{MARKS}\n{body}"));
        Scripts {
            decide: Script::new(&decide_script_source()),
            release: moving(include_str!("lua/release.lua")),
            claim: Script::new(&format!("{COMMON}\n{}", include_str!("lua/claim.lua"))),
            commit: marking(include_str!("lua/commit.lua")),
            lifecycle: marking(include_str!("lua/lifecycle.lua")),
            limits: Script::new(include_str!("lua/limits.lua")),
            mark: Script::new(&format!("{COMMON}\n{MARKS}\n{}", include_str!("lua/mark.lua"))),
        }
    }
}

/// The Redis risk store; clones share the connection.
#[derive(Clone)]
pub struct RedisRiskStore<C = ConnectionManager> {
    con: C,
    scripts: Arc<Scripts>,
    /// The decision batcher ([`super::batch`]).
    decisions: mpsc::UnboundedSender<Job>,
}

/// Runs the decision script over a batch (the batcher's side of the store).
#[derive(Clone)]
struct ScriptDecider<C> {
    con: C,
    scripts: Arc<Scripts>,
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> Decider for ScriptDecider<C> {
    async fn decide_batch(
        &self,
        policy: &PolicyKey,
        jobs: &[Job],
    ) -> Result<Vec<Result<(), RejectReason>>, RiskStoreError> {
        let mut inv = self.scripts.decide.prepare_invoke();
        inv.key(key(policy, "limits"))
            .key(key(policy, "state"))
            .key(key(policy, "pos"))
            .key(key(policy, "resv"))
            .key(key(policy, "rate"));
        // The verdicts' hashes: the batch's UTC day and the day before.
        let day = jobs.first().map_or(0, |j| j.now_ms / 86_400_000);
        inv.key(key(policy, &format!("d:{day}"))).key(key(policy, &format!("d:{}", day.saturating_sub(1))));
        inv.arg(jobs.len());
        for job in jobs {
            for a in &job.args {
                inv.arg(a.as_slice());
            }
        }
        let inv = &inv;
        let v: Vec<String> = retried_on(&self.con, |mut con| async move { inv.invoke_async(&mut con).await }).await?;
        v.iter().map(|s| verdict(s)).collect()
    }
}

fn unavailable(e: redis::RedisError) -> RiskStoreError {
    RiskStoreError::Unavailable(e.to_string())
}

fn key(p: &PolicyKey, suffix: &str) -> String {
    format!("pf:{{{}/{}}}:{suffix}", p.namespace, p.name)
}

/// The live orders of a venue: venue order id -> encoded intent.
fn live_key(venue: &str) -> String {
    format!("pf:live:{{{venue}}}")
}

fn side_code(side: Side) -> &'static str {
    match side {
        Side::Buy => "B",
        Side::Sell => "S",
    }
}

/// A fill's side code in `commit.lua`: its side, or the reversal of it for a FAILED trade.
fn fill_code(fill: &Fill) -> &'static str {
    match (fill.side, fill.status == FillStatus::Failed) {
        (Side::Buy, false) => "B",
        (Side::Sell, false) => "S",
        (Side::Buy, true) => "XB",
        (Side::Sell, true) => "XS",
    }
}

/// An outcome as `decide.lua` reads it: `event index Y|N markets exhaustive(0|1)`.
fn outcome_arg(o: &Outcome) -> String {
    let mut s =
        format!("{} {} {} {} {}", o.event, o.index, if o.yes { "Y" } else { "N" }, o.markets, u8::from(o.exhaustive));
    for g in &o.groups {
        s.push(' ');
        s.push_str(g);
    }
    s
}

/// An intent's arguments to `decide.lua`: now, the leg count, then per leg its fields.
fn decision_args(legs: &[OrderIntent], book_liquidity: &[Option<Money>], now_ms: u64) -> Vec<Vec<u8>> {
    let mut a: Vec<Vec<u8>> = Vec::with_capacity(2 + legs.len() * 8);
    let mut push = |s: String| a.push(s.into_bytes());
    push(now_ms.to_string());
    push(legs.len().to_string());
    for (i, leg) in legs.iter().enumerate() {
        push(leg.client_order_id.as_str().to_string());
        push(leg.token.to_string());
        push(side_code(leg.side).to_string());
        push(leg.price.ticks().to_string());
        push(leg.size.micros().to_string());
        push(book_liquidity.get(i).copied().flatten().map_or(-1, |m| m.micros()).to_string());
        push(leg.outcome.as_ref().map_or_else(|| "-".to_string(), outcome_arg));
        push(leg.kelly.map_or(-1, |k| i64::from(k.probability_ppm)).to_string());
    }
    a
}

/// The verdict strings of `decide.lua`.
fn verdict(s: &str) -> Result<Result<(), RejectReason>, RiskStoreError> {
    use RejectReason::*;
    let r = match s {
        "ok" => return Ok(Ok(())),
        "kill_switch" => KillSwitch,
        "reduce_only" => ReduceOnly,
        "circuit_breaker" => CircuitBreaker,
        "daily_loss" => DailyLoss,
        "drawdown" => Drawdown,
        "order_rate" => OrderRate,
        "daily_orders" => DailyOrders,
        "max_order_size" => MaxOrderSize,
        "max_order_notional" => MaxOrderNotional,
        "max_position" => MaxPosition,
        "gross_exposure" => GrossExposure,
        "book_liquidity" => BookLiquidity,
        "unknown_policy" => UnknownPolicy,
        "max_loss_at_resolution" => MaxLossAtResolution,
        "event_exposure" => EventExposure,
        "group_exposure" => GroupExposure,
        "kelly_cap" => KellyCap,
        other => return Err(RiskStoreError::Corrupt(format!("verdict {other:?}"))),
    };
    Ok(Err(r))
}

impl RedisRiskStore<ConnectionManager> {
    /// Connects to one Redis server (`redis://host:port`) and loads the scripts. A password comes
    /// from the `REDIS_PASSWORD` environment variable (a Kubernetes Secret reference in the pods),
    /// never from a spec or a flag; a password in the URL wins.
    pub async fn connect(url: &str) -> Result<RedisRiskStore<ConnectionManager>, RiskStoreError> {
        RedisRiskStore::connect_with(url, std::env::var("REDIS_PASSWORD").ok().filter(|p| !p.is_empty())).await
    }

    /// Connects with an explicit password (when the URL has none).
    pub async fn connect_with(
        url: &str,
        password: Option<String>,
    ) -> Result<RedisRiskStore<ConnectionManager>, RiskStoreError> {
        use redis::IntoConnectionInfo;
        let mut info = url.into_connection_info().map_err(unavailable)?;
        if let Some(p) = password
            && info.redis_settings().password().is_none()
        {
            let settings = info.redis_settings().clone().set_password(p);
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let con = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
        RedisRiskStore::with_connection(con).await
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> RedisRiskStore<C> {
    /// Uses a connection (single server or cluster) and loads the scripts.
    pub async fn with_connection(mut con: C) -> Result<RedisRiskStore<C>, RiskStoreError> {
        let scripts = Scripts::new();
        for s in
            [&scripts.decide, &scripts.release, &scripts.claim, &scripts.commit, &scripts.lifecycle, &scripts.limits]
        {
            s.prepare_invoke().load_async(&mut con).await.map_err(unavailable)?;
        }
        let scripts = Arc::new(scripts);
        let decisions = batch::spawn(ScriptDecider { con: con.clone(), scripts: scripts.clone() });
        Ok(RedisRiskStore { con, scripts, decisions })
    }

    async fn hgetall(&self, k: String) -> Result<HashMap<String, String>, RiskStoreError> {
        let cmd = redis::cmd("HGETALL").arg(k).clone();
        let cmd = &cmd;
        self.retried(|mut con| async move { cmd.query_async(&mut con).await }).await
    }

    /// Runs `f`, once more if the connection had dropped (the manager reconnects in between):
    /// after a Redis restart the first call on the old connection fails. Safe for every script
    /// here: decisions return their first verdict, commits apply each fill once, and a claim
    /// repeated reads "pending" (the order is then reported not executed, never run twice).
    async fn retried<T, F, Fut>(&self, f: F) -> Result<T, RiskStoreError>
    where
        F: Fn(C) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        retried_on(&self.con, f).await
    }
}

/// [`RedisRiskStore::retried`] on a connection.
async fn retried_on<C: Clone, T, F, Fut>(con: &C, f: F) -> Result<T, RiskStoreError>
where
    F: Fn(C) -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    match f(con.clone()).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_connection_dropped() || e.is_io_error() => f(con.clone()).await.map_err(unavailable),
        Err(e) => Err(unavailable(e)),
    }
}

fn field<T: std::str::FromStr + Default>(m: &HashMap<String, String>, name: &str) -> Result<T, RiskStoreError> {
    match m.get(name) {
        None => Ok(T::default()),
        Some(v) => v.parse().map_err(|_| RiskStoreError::Corrupt(format!("{name}={v}"))),
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> RiskStore for RedisRiskStore<C> {
    async fn remember_live(&self, venue: &str, venue_order_id: &str, intent: Bytes) -> Result<(), RiskStoreError> {
        let cmd = redis::cmd("HSET").arg(live_key(venue)).arg(venue_order_id).arg(intent.as_ref()).clone();
        let cmd = &cmd;
        self.retried(|mut con| async move { cmd.query_async::<()>(&mut con).await }).await
    }

    async fn forget_live(&self, venue: &str, venue_order_id: &str) -> Result<(), RiskStoreError> {
        let cmd = redis::cmd("HDEL").arg(live_key(venue)).arg(venue_order_id).clone();
        let cmd = &cmd;
        self.retried(|mut con| async move { cmd.query_async::<()>(&mut con).await }).await
    }

    async fn committed(&self, policy: &PolicyKey, keys: &[String]) -> Result<Vec<bool>, RiskStoreError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let cmd = redis::cmd("SMISMEMBER").arg(key(policy, "fills")).arg(keys).clone();
        let cmd = &cmd;
        let found: Vec<bool> = self.retried(|mut con| async move { cmd.query_async(&mut con).await }).await?;
        Ok(found)
    }

    async fn live_orders(&self, venue: &str) -> Result<Vec<(String, Bytes)>, RiskStoreError> {
        let cmd = redis::cmd("HGETALL").arg(live_key(venue)).clone();
        let cmd = &cmd;
        let all: HashMap<String, Vec<u8>> =
            self.retried(|mut con| async move { cmd.query_async(&mut con).await }).await?;
        let mut out: Vec<(String, Bytes)> = all.into_iter().map(|(k, v)| (k, Bytes::from(v))).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn set_limits(&self, policy: &PolicyKey, l: &RiskLimits) -> Result<(), RiskStoreError> {
        let (losses, cooldown) = l.circuit_breaker.filter(|(n, _)| *n > 0).unwrap_or((0, 0));
        let mut fields: Vec<(String, String)> = [
            ("mode", l.mode.code().to_string()),
            ("max_order_size", l.max_order_size.micros().to_string()),
            ("max_order_notional", l.max_order_notional.micros().to_string()),
            ("max_position_per_market", l.max_position_per_market.micros().to_string()),
            ("max_gross_exposure", l.max_gross_exposure.micros().to_string()),
            ("max_daily_loss", l.max_daily_loss.micros().to_string()),
            ("max_drawdown", l.max_drawdown.micros().to_string()),
            ("max_orders_per_minute", l.max_orders_per_minute.to_string()),
            ("min_book_liquidity", l.min_book_liquidity.map_or(-1, |m| m.micros()).to_string()),
            ("breaker_losses", losses.to_string()),
            ("breaker_cooldown_ms", cooldown.to_string()),
            ("max_loss_at_resolution", l.max_loss_at_resolution.map_or(-1, |m| m.micros()).to_string()),
            ("trip_cooldown_ms", l.trip_cooldown_ms.filter(|c| *c > 0).unwrap_or(0).to_string()),
            ("reset", l.reset.to_string()),
            ("max_orders_per_day", l.max_orders_per_day.map_or(-1, i64::from).to_string()),
            ("max_event_exposure", l.max_event_exposure.map_or(-1, |m| m.micros()).to_string()),
            ("kelly_budget", l.kelly_budget.map_or(-1, |m| m.micros()).to_string()),
        ]
        .into_iter()
        .map(|(f, v)| (f.to_string(), v))
        .collect();
        // Group limits in one field ("label=max ..."): the decision reads it with the others.
        let groups: Vec<String> =
            l.group_limits.iter().map(|(label, max)| format!("{label}={}", max.micros())).collect();
        fields.push(("group_limits".into(), groups.join(" ")));
        let mut inv = self.scripts.limits.prepare_invoke();
        inv.key(key(policy, "limits")).key(key(policy, "state")).arg(l.reset);
        for (f, v) in &fields {
            inv.arg(f).arg(v);
        }
        let inv = &inv;
        self.retried(|mut con| async move { inv.invoke_async::<()>(&mut con).await }).await
    }

    async fn limits(&self, policy: &PolicyKey) -> Result<Option<RiskLimits>, RiskStoreError> {
        let m = self.hgetall(key(policy, "limits")).await?;
        if m.is_empty() {
            return Ok(None);
        }
        let micros = |f: &str| field::<i64>(&m, f);
        let losses: u32 = field(&m, "breaker_losses")?;
        let min_liq = micros("min_book_liquidity")?;
        let cooldown: u64 = field(&m, "breaker_cooldown_ms")?;
        // Absent (written before the limit existed) or -1: no limit.
        let max_loss = m.get("max_loss_at_resolution").map_or(Ok(-1), |_| micros("max_loss_at_resolution"))?;
        let mode = field::<u8>(&m, "mode")?;
        let trip_cooldown: u64 = field(&m, "trip_cooldown_ms")?;
        let per_day = m.get("max_orders_per_day").map_or(Ok(-1), |_| field::<i64>(&m, "max_orders_per_day"))?;
        let optional = |f: &str| -> Result<Option<Money>, RiskStoreError> {
            let v = m.get(f).map_or(Ok(-1), |_| micros(f))?;
            Ok((v >= 0).then(|| Money::from_micros(v)))
        };
        let mut group_limits = vec![];
        for entry in m.get("group_limits").map(String::as_str).unwrap_or_default().split_whitespace() {
            let bad = || RiskStoreError::Corrupt(format!("group_limits entry {entry}"));
            let (label, max) = entry.rsplit_once('=').ok_or_else(bad)?;
            group_limits.push((label.to_string(), Money::from_micros(max.parse().map_err(|_| bad())?)));
        }
        Ok(Some(RiskLimits {
            mode: RiskMode::from_code(mode).ok_or_else(|| RiskStoreError::Corrupt(format!("mode={mode}")))?,
            reset: field(&m, "reset")?,
            trip_cooldown_ms: (trip_cooldown > 0).then_some(trip_cooldown),
            max_order_size: Quantity::from_micros(field(&m, "max_order_size")?),
            max_order_notional: Money::from_micros(micros("max_order_notional")?),
            max_position_per_market: Quantity::from_micros(field(&m, "max_position_per_market")?),
            max_gross_exposure: Money::from_micros(micros("max_gross_exposure")?),
            max_daily_loss: Money::from_micros(micros("max_daily_loss")?),
            max_drawdown: Money::from_micros(micros("max_drawdown")?),
            max_orders_per_minute: field(&m, "max_orders_per_minute")?,
            max_orders_per_day: u32::try_from(per_day).ok(),
            min_book_liquidity: (min_liq >= 0).then(|| Money::from_micros(min_liq)),
            circuit_breaker: (losses > 0).then_some((losses, cooldown)),
            max_loss_at_resolution: (max_loss >= 0).then(|| Money::from_micros(max_loss)),
            max_event_exposure: optional("max_event_exposure")?,
            group_limits,
            kelly_budget: optional("kelly_budget")?,
        }))
    }

    async fn mode(&self, policy: &PolicyKey, now_ms: u64) -> Result<Option<RiskMode>, RiskStoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET").arg(key(policy, "limits")).arg(&["mode", "trip_cooldown_ms"]);
        pipe.cmd("HMGET").arg(key(policy, "state")).arg(&["trip", "trip_since"]);
        let pipe = &pipe;
        // (mode, trip cooldown ms), (trip, trip since ms).
        type Read = ((Option<u8>, Option<u64>), (Option<String>, Option<u64>));
        let (l, s): Read = self.retried(|mut con| async move { pipe.query_async(&mut con).await }).await?;
        let Some(code) = l.0 else { return Ok(None) };
        let declared = RiskMode::from_code(code).ok_or_else(|| RiskStoreError::Corrupt(format!("mode={code}")))?;
        let trips = TripState {
            current: s.0.as_deref().and_then(Trip::parse).map(|t| (t, s.1.unwrap_or(0))),
            ..TripState::default()
        };
        Ok(Some(trips.effective_at(declared, l.1.filter(|c| *c > 0), now_ms)))
    }

    async fn remove_limits(&self, policy: &PolicyKey) -> Result<(), RiskStoreError> {
        let cmd = redis::cmd("DEL").arg(key(policy, "limits")).clone();
        let cmd = &cmd;
        self.retried(|mut con| async move { cmd.query_async::<()>(&mut con).await }).await
    }

    async fn decide_set(
        &self,
        policy: &PolicyKey,
        legs: &[OrderIntent],
        book_liquidity: &[Option<Money>],
        now_ms: u64,
    ) -> Result<Result<(), RejectReason>, RiskStoreError> {
        if legs.is_empty() {
            return Ok(Ok(()));
        }
        // A malformed outcome never reaches the script (its fields are space-separated there),
        // nor a probability above one.
        if legs.iter().filter_map(|l| l.outcome.as_ref()).any(|o| o.validate().is_err())
            || legs.iter().filter_map(|l| l.kelly).any(|k| k.probability_ppm > KellyBasis::ONE_PPM)
        {
            return Ok(Err(RejectReason::Invalid));
        }
        let (reply, verdict) = oneshot::channel();
        let job = Job { policy: policy.clone(), now_ms, args: decision_args(legs, book_liquidity, now_ms), reply };
        let gone = || RiskStoreError::Unavailable("the decision batcher stopped".into());
        self.decisions.send(job).map_err(|_| gone())?;
        verdict.await.map_err(|_| gone())?
    }

    async fn release(&self, policy: &PolicyKey, id: &ClientOrderId) -> Result<(), RiskStoreError> {
        let mut inv = self.scripts.release.prepare_invoke();
        inv.key(key(policy, "state")).key(key(policy, "pos")).key(key(policy, "resv"));
        inv.arg(id.as_str());
        let inv = &inv;
        self.retried(|mut con| async move { inv.invoke_async::<()>(&mut con).await }).await
    }

    async fn claim(&self, policy: &PolicyKey, id: &ClientOrderId) -> Result<Claim, RiskStoreError> {
        // Retried like the others: if a first attempt did claim before the connection dropped,
        // the retry reads "pending" and the order is reported not executed: never executed twice.
        let mut inv = self.scripts.claim.prepare_invoke();
        inv.key(key(policy, &format!("x:{}", id.as_str())));
        let inv = &inv;
        let v: Vec<Value> = self.retried(|mut con| async move { inv.invoke_async(&mut con).await }).await?;
        let text = |v: &Value| match v {
            Value::BulkString(b) => Some(Bytes::copy_from_slice(b)),
            Value::SimpleString(s) => Some(Bytes::copy_from_slice(s.as_bytes())),
            _ => None,
        };
        match v.first().and_then(text).as_deref() {
            Some(b"fresh") => Ok(Claim::Fresh),
            Some(b"pending") => Ok(Claim::Pending),
            Some(b"done") => Ok(Claim::Done(v.get(1).and_then(text).unwrap_or_default())),
            _ => Err(RiskStoreError::Corrupt(format!("claim answered {v:?}"))),
        }
    }

    async fn commit_marked(
        &self,
        policy: &PolicyKey,
        id: &ClientOrderId,
        fills: &[FillCommit],
        marks: &[(TokenId, Money)],
        finished: bool,
        outcome: Option<Bytes>,
        now_ms: u64,
    ) -> Result<(), RiskStoreError> {
        let strategy = fills.first().map(|c| c.fill.strategy.as_str()).unwrap_or("-");
        let mut inv = self.scripts.commit.prepare_invoke();
        inv.key(key(policy, "limits"))
            .key(key(policy, "state"))
            .key(key(policy, "pos"))
            .key(key(policy, "resv"))
            .key(key(policy, "fills"))
            .key(key(policy, &format!("ledger:{strategy}")))
            .key(key(policy, &format!("x:{}", id.as_str())))
            .key(key(policy, &format!("unrealized:{strategy}")));
        inv.arg(id.as_str())
            .arg(now_ms)
            .arg(u8::from(finished))
            .arg(u8::from(outcome.is_some()))
            .arg(outcome.as_deref().unwrap_or_default())
            .arg(fills.len());
        for c in fills {
            inv.arg(commit_key(&c.fill).as_ref())
                .arg(fill_code(&c.fill))
                .arg(c.fill.size.micros())
                .arg(c.cost.micros())
                .arg(c.fill.token.to_string())
                .arg(c.realized.micros())
                .arg(encode_position(&c.position))
                .arg(c.round_trip.as_str());
        }
        // Marks only with fills: they are the fills' strategy's.
        let marks = if fills.is_empty() { &[] } else { marks };
        inv.arg(marks.len());
        for (token, value) in marks {
            inv.arg(token.to_string()).arg(value.micros());
        }
        let inv = &inv;
        self.retried(|mut con| async move { inv.invoke_async::<()>(&mut con).await }).await
    }

    async fn commit_lifecycle_marked(
        &self,
        policy: &PolicyKey,
        strategy: &str,
        id: &str,
        booked: &Lifecycle,
        what: Booking<'_>,
        marks: &[(TokenId, Money)],
        now_ms: u64,
    ) -> Result<bool, RiskStoreError> {
        let resolution = match what {
            Booking::Settlement(r) => Some(r),
            Booking::Ctf(_) => None,
        };
        let mut inv = self.scripts.lifecycle.prepare_invoke();
        inv.key(key(policy, "state"))
            .key(key(policy, "pos"))
            .key(key(policy, "fills"))
            .key(key(policy, &format!("ledger:{strategy}")))
            .key(key(policy, "settled"))
            .key(key(policy, "life"))
            .key(key(policy, &format!("life:{strategy}")))
            .key(key(policy, &format!("unrealized:{strategy}")));
        inv.arg(id)
            .arg(now_ms)
            .arg(booked.cost.micros())
            .arg(booked.realized.micros())
            .arg(resolution.map(|r| r.market.to_string()).unwrap_or_default())
            .arg(resolution.map(encode_payouts).unwrap_or_default())
            .arg(booked.positions.len());
        for (token, position) in &booked.positions {
            let change = booked.shares.iter().find(|(t, _)| t == token).map_or(0, |(_, c)| *c);
            inv.arg(token.to_string()).arg(change).arg(encode_position(position));
        }
        inv.arg(marks.len());
        for (token, value) in marks {
            inv.arg(token.to_string()).arg(value.micros());
        }
        for (field, by) in LifecycleTotals::FIELDS.iter().zip(LifecycleTotals::of(what, booked).values()) {
            inv.arg(*field).arg(by);
        }
        let inv = &inv;
        let applied: i64 = self.retried(|mut con| async move { inv.invoke_async(&mut con).await }).await?;
        Ok(applied == 1)
    }

    async fn lifecycle_totals(
        &self,
        policy: &PolicyKey,
        strategy: Option<&str>,
    ) -> Result<LifecycleTotals, RiskStoreError> {
        let name = strategy.map_or_else(|| "life".to_string(), |s| format!("life:{s}"));
        let all = self.hgetall(key(policy, &name)).await?;
        let mut v = [0i64; 11];
        for (i, f) in LifecycleTotals::FIELDS.iter().enumerate() {
            v[i] = field(&all, f)?;
        }
        LifecycleTotals::from_values(v).ok_or_else(|| RiskStoreError::Corrupt(format!("lifecycle totals {all:?}")))
    }

    async fn settlements(&self, policy: &PolicyKey) -> Result<Vec<Resolution>, RiskStoreError> {
        let all = self.hgetall(key(policy, "settled")).await?;
        let mut out = all
            .iter()
            .map(|(m, p)| decode_payouts(m, p).ok_or_else(|| RiskStoreError::Corrupt(format!("settlement {m}: {p}"))))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|r| r.market.to_string());
        Ok(out)
    }

    async fn snapshot(&self, policy: &PolicyKey) -> Result<RiskSnapshot, RiskStoreError> {
        let state = self.hgetall(key(policy, "state")).await?;
        // Shares, and the worst-case bookkeeping beside them (binary `e:` entries): read raw.
        let pos = redis::cmd("HGETALL").arg(key(policy, "pos")).clone();
        let pos = &pos;
        let pos: HashMap<String, Vec<u8>> =
            self.retried(|mut con| async move { pos.query_async(&mut con).await }).await?;
        let (hlen, llen) =
            (redis::cmd("HLEN").arg(key(policy, "resv")).clone(), redis::cmd("LLEN").arg(key(policy, "rate")).clone());
        let (hlen, llen) = (&hlen, &llen);
        let open: usize = self.retried(|mut con| async move { hlen.query_async(&mut con).await }).await?;
        let recent: usize = self.retried(|mut con| async move { llen.query_async(&mut con).await }).await?;
        let mut positions = vec![];
        // The worst-case bookkeeping shares the hash (`t:` and `e:` fields).
        for (t, q) in pos.iter().filter(|(t, _)| !t.contains(':')) {
            let token = TokenId::parse(t).map_err(|_| RiskStoreError::Corrupt(format!("token {t}")))?;
            let q = String::from_utf8_lossy(q);
            let q: u64 = q.parse().map_err(|_| RiskStoreError::Corrupt(format!("shares {q}")))?;
            if q > 0 {
                positions.push((token, Quantity::from_micros(q)));
            }
        }
        positions.sort_by_key(|(t, _)| t.to_string());
        // Exposure per event (`x:`) and per group (`g:`), zero entries left out.
        let exposures = |prefix: &str| -> Result<Vec<(String, Money)>, RiskStoreError> {
            let mut v = vec![];
            for (k, x) in &pos {
                let Some(name) = k.strip_prefix(prefix) else { continue };
                let x = String::from_utf8_lossy(x);
                let x: i64 = x.parse().map_err(|_| RiskStoreError::Corrupt(format!("{k} = {x}")))?;
                if x != 0 {
                    v.push((name.to_string(), Money::from_micros(x)));
                }
            }
            v.sort();
            Ok(v)
        };
        Ok(RiskSnapshot {
            event_exposure: exposures("x:")?,
            group_exposure: exposures("g:")?,
            exposure: Money::from_micros(field(&state, "exposure")?),
            positions,
            open_reservations: open,
            recent_orders: recent,
            day_orders: field(&state, "day_orders")?,
            day: field(&state, "day")?,
            daily_pnl: Money::from_micros(field(&state, "daily_pnl")?),
            equity: Money::from_micros(field(&state, "equity")?),
            peak: Money::from_micros(field(&state, "peak")?),
            consecutive_losses: field(&state, "losses")?,
            breaker_until_ms: field(&state, "breaker_until")?,
            floor: Money::from_micros(field(&state, "floor")?),
            daily_base: Money::from_micros(field(&state, "daily_base")?),
            trips: TripState {
                current: state
                    .get("trip")
                    .and_then(|t| Trip::parse(t))
                    .map(|t| field(&state, "trip_since").map(|since| (t, since)))
                    .transpose()?,
                daily_loss_trips: field(&state, "trips_daily_loss")?,
                drawdown_trips: field(&state, "trips_drawdown")?,
            },
            reset_seen: field(&state, "reset_seen")?,
            unrealized: Money::from_micros(field(&state, "unrealized")?),
            day_unrealized: Money::from_micros(field(&state, "day_unrealized")?),
        })
    }

    async fn revalue(
        &self,
        policy: &PolicyKey,
        strategy: &str,
        marks: &[(TokenId, Money)],
        now_ms: u64,
    ) -> Result<(), RiskStoreError> {
        let mut inv = self.scripts.mark.prepare_invoke();
        inv.key(key(policy, "limits")).key(key(policy, "state")).key(key(policy, &format!("unrealized:{strategy}")));
        inv.arg(now_ms).arg(marks.len());
        for (token, value) in marks {
            inv.arg(token.to_string()).arg(value.micros());
        }
        let inv = &inv;
        self.retried(|mut con| async move { inv.invoke_async::<()>(&mut con).await }).await
    }

    async fn unrealized(&self, policy: &PolicyKey, strategy: &str) -> Result<Vec<(TokenId, Money)>, RiskStoreError> {
        let m = self.hgetall(key(policy, &format!("unrealized:{strategy}"))).await?;
        let mut out = vec![];
        for (t, v) in &m {
            let token = TokenId::parse(t).map_err(|_| RiskStoreError::Corrupt(format!("token {t}")))?;
            let v: i64 = v.parse().map_err(|_| RiskStoreError::Corrupt(format!("unrealized {v}")))?;
            out.push((token, Money::from_micros(v)));
        }
        out.sort_by_key(|(t, _)| t.to_string());
        Ok(out)
    }

    async fn positions(&self, policy: &PolicyKey, strategy: &str) -> Result<Vec<(TokenId, Position)>, RiskStoreError> {
        let ledger = self.hgetall(key(policy, &format!("ledger:{strategy}"))).await?;
        let mut out = vec![];
        for (t, v) in &ledger {
            let token = TokenId::parse(t).map_err(|_| RiskStoreError::Corrupt(format!("token {t}")))?;
            let p = decode_position(v).ok_or_else(|| RiskStoreError::Corrupt(format!("position {v}")))?;
            out.push((token, p));
        }
        out.sort_by_key(|(t, _)| t.to_string());
        Ok(out)
    }
}

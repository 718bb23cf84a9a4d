//! The risk store as a trait, with a Redis implementation for the fleet and an in-memory one for
//! the embedded local run and backtests, held to one conformance suite
//! (`tests/risk_store_conformance.rs`) that also checks the Redis scripts against the core's
//! reference model ([`polyfleet_core::risk::RiskState`]) over random operation sequences.
//!
//! Per RiskPolicy it keeps the limits, the pre-trade state (exposure, reserved and held shares,
//! the order-rate window, daily PnL, equity and drawdown, the loss streak and breaker), every
//! decision (so a redelivered intent gets its first verdict), every applied fill id, the
//! positions of each strategy's ledger, and the execution claim and outcome of every order.
//!
//! Redis layout: every key of a policy carries the hash tag `{<namespace>/<policy>}` so one Redis
//! Cluster slot holds them all and each script stays atomic:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `pf:{ns/p}:limits` | hash | the limits (`mode` 0 off / 1 reduce-only / 2 halt, `max_*`, `min_book_liquidity` and `max_loss_at_resolution` -1 = none, `breaker_losses` 0 = none, `breaker_cooldown_ms`, `trip_cooldown_ms` 0 = none, `reset` the trip-reset counter, `max_orders_per_day`, `max_event_exposure` and `kelly_budget` -1 = none, `group_limits` the exposure limit of the groups each label makes, as `label=max ...`) |
//! | `pf:{ns/p}:state` | hash | `exposure`, `day`, `daily_pnl`, `equity`, `peak`, `losses` (losing round trips in a row), `loss_order` / `loss_net` / `loss_counted` (the round trip whose sell fills came last, their net, and whether it counts as a loss), `breaker_until`, `floor` (the least the positions pay at resolution: the worst-case loss is `exposure - floor`), `trip` (`daily_loss`, `drawdown` or empty) / `trip_since` (ms) / `trips_daily_loss` / `trips_drawdown` (counts), `daily_base` (the daily PnL the daily loss counts from), `day_orders` (approvals this UTC day), `reset_seen` (the last trip-reset counter applied), `unrealized` (every strategy's unrealized PnL at its last marks), `day_unrealized` (its value when the UTC day began) |
//! | `pf:{ns/p}:pos` | hash | token -> shares held or reserved to buy; and the worst-case loss's bookkeeping beside them: `t:<token>` -> `event index Y|N` (from the first approved order that described the token) or `=<payout ticks> <event>` once its market settled, `e:<event>` -> `floor markets exhaustive(0/1) y0 n0 y1 n1 ...` (the event's floor and each market's YES and NO shares); `x:<event>` -> the event's exposure, `G:<event>` -> its exposure groups (space-separated `label=value`, recorded with the event), `g:<group>` -> the group's exposure |
//! | `pf:{ns/p}:resv` | hash | client order id -> `token side limit size notional` |
//! | `pf:{ns/p}:rate` | list | approval times (ms) in the last minute |
//! | `pf:{ns/p}:d:<UTC day>` | hash | client order id -> the verdict given that day (the decision reads that day's and the day before's; each hash expires two days after its last write) |
//! | `pf:{ns/p}:fills` | set | fill ids and lifecycle ids (CTF operations, `settle:<market>:<strategy>`) applied |
//! | `pf:{ns/p}:settled` | hash | market -> payouts of its settlement ([`encode_payouts`]) |
//! | `pf:{ns/p}:life`, `pf:{ns/p}:life:<strategy>` | hash | lifecycle totals of the policy and of each strategy ([`LifecycleTotals::FIELDS`]: merges, sets merged, splits, redemptions, settlements, settled PnL, capital returned ...) |
//! | `pf:{ns/p}:ledger:<strategy>` | hash | token -> `size cost realized fees deficit` (micros) |
//! | `pf:{ns/p}:unrealized:<strategy>` | hash | token -> unrealized PnL (micros) at the executor's last mark (their sum over strategies is `state.unrealized`) |
//! | `pf:{ns/p}:x:<coid>` | hash | execution `state` (pending/done) and `outcome`, for 7 days |

mod batch;
pub mod memory;
pub mod redis;

use std::future::Future;

use bytes::Bytes;
use polyfleet_core::accounting::Position;
use polyfleet_core::accounting::lifecycle::{Booking, Lifecycle, LifecycleTotals};
use polyfleet_core::risk::{RiskLimits, RiskMode, RiskSnapshot};
use polyfleet_core::wire::{Fill, FillStatus, OrderIntent, RejectReason, Resolution};
use polyfleet_core::{ClientOrderId, Money, Quantity, TokenId};

/// A RiskPolicy: namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl PolicyKey {
    /// A key.
    pub fn new(namespace: &str, name: &str) -> PolicyKey {
        PolicyKey { namespace: namespace.to_string(), name: name.to_string() }
    }

    /// The policy of an intent.
    pub fn of_intent(i: &OrderIntent) -> PolicyKey {
        PolicyKey::new(&i.namespace, &i.risk_policy)
    }

    /// The policy of a fill.
    pub fn of_fill(f: &Fill) -> PolicyKey {
        PolicyKey::new(&f.namespace, &f.risk_policy)
    }
}

/// Why the store could not answer. The risk gateway turns this into a rejection: fail closed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RiskStoreError {
    /// The store is unreachable or timed out.
    #[error("risk store unavailable: {0}")]
    Unavailable(String),
    /// The store answered something this code does not understand.
    #[error("risk store answered unexpectedly: {0}")]
    Corrupt(String),
}

/// One fill to commit, with what the executor's ledger computed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillCommit {
    /// The fill.
    pub fill: Fill,
    /// Buy: the cost added to the position (notional rounded up). Sell: the cost basis removed.
    pub cost: Money,
    /// Realized PnL of the fill, fees included.
    pub realized: Money,
    /// The strategy's position in the token after the fill.
    pub position: Position,
    /// The round trip a sell fill closes, for the loss streak: the order's set (its `group`) or
    /// the order itself (see [`polyfleet_core::risk::RiskState::on_realized`]).
    pub round_trip: ClientOrderId,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Never executed: go ahead.
    Fresh,
    /// Claimed earlier by an executor that did not finish (it crashed mid-way): nothing of it was
    /// committed.
    Pending,
    /// Executed; here is the recorded outcome to publish again.
    Done(Bytes),
}

/// The risk store.
pub trait RiskStore: Clone + Send + Sync + 'static {
    /// Writes a policy's limits (the operator does; the kill switch is one of them).
    fn set_limits(
        &self,
        policy: &PolicyKey,
        limits: &RiskLimits,
    ) -> impl Future<Output = Result<(), RiskStoreError>> + Send;
    /// The limits in force, if any.
    fn limits(&self, policy: &PolicyKey) -> impl Future<Output = Result<Option<RiskLimits>, RiskStoreError>> + Send;
    /// The mode in force at `now_ms` (the declared one, or reduce-only while a trip stands), if
    /// the policy has limits; for the executor, which cancels what the mode no longer allows.
    fn mode(
        &self,
        policy: &PolicyKey,
        now_ms: u64,
    ) -> impl Future<Output = Result<Option<RiskMode>, RiskStoreError>> + Send;
    /// Removes the limits: every later intent of the policy is rejected as `unknown_policy`.
    fn remove_limits(&self, policy: &PolicyKey) -> impl Future<Output = Result<(), RiskStoreError>> + Send;
    /// Decides an intent atomically: the verdict, and on approval the reservation (a set of one).
    fn decide(
        &self,
        policy: &PolicyKey,
        intent: &OrderIntent,
        book_liquidity: Option<Money>,
        now_ms: u64,
    ) -> impl Future<Output = Result<Result<(), RejectReason>, RiskStoreError>> + Send {
        async move { self.decide_set(policy, std::slice::from_ref(intent), &[book_liquidity], now_ms).await }
    }
    /// Decides the legs of a set atomically and as one: every leg approved and reserved, or none
    /// (see [`polyfleet_core::risk::RiskState::check_set`]). `book_liquidity` is per leg.
    fn decide_set(
        &self,
        policy: &PolicyKey,
        legs: &[OrderIntent],
        book_liquidity: &[Option<Money>],
        now_ms: u64,
    ) -> impl Future<Output = Result<Result<(), RejectReason>, RiskStoreError>> + Send;
    /// Gives back what an order still holds (rejected by the venue, cancelled, expired).
    fn release(
        &self,
        policy: &PolicyKey,
        id: &ClientOrderId,
    ) -> impl Future<Output = Result<(), RiskStoreError>> + Send;
    /// Claims an order for execution.
    fn claim(
        &self,
        policy: &PolicyKey,
        id: &ClientOrderId,
    ) -> impl Future<Output = Result<Claim, RiskStoreError>> + Send;
    /// Commits an order's fills (each once), releases the rest when `finished`, and records the
    /// order as executed with `outcome` when given; no unrealized PnL changes.
    fn commit(
        &self,
        policy: &PolicyKey,
        id: &ClientOrderId,
        fills: &[FillCommit],
        finished: bool,
        outcome: Option<Bytes>,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), RiskStoreError>> + Send {
        self.commit_marked(policy, id, fills, &[], finished, outcome, now_ms)
    }
    /// [`RiskStore::commit`] with the unrealized PnL of the fills' strategy that they changed
    /// (per token; zero removes it), set first in the same atomic step (see
    /// [`polyfleet_core::risk::RiskState::on_marks`]): a closed position is never counted as both
    /// realized and unrealized PnL.
    #[allow(clippy::too_many_arguments, reason = "the commit's parts, each needed in the one atomic step")]
    fn commit_marked(
        &self,
        policy: &PolicyKey,
        id: &ClientOrderId,
        fills: &[FillCommit],
        marks: &[(TokenId, Money)],
        finished: bool,
        outcome: Option<Bytes>,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), RiskStoreError>> + Send;
    /// Commits a market-lifecycle booking of `strategy` (`what`: a conditional-token operation or
    /// a market's settlement) once by `id`, atomically: the policy's exposure and shares and its
    /// daily PnL and equity (never the loss streak), the strategy's ledger positions, a
    /// settlement's payouts (for redemptions after a restart), and the lifecycle totals of the
    /// strategy and the policy. `Ok(false)`: it was committed before and nothing changed.
    fn commit_lifecycle(
        &self,
        policy: &PolicyKey,
        strategy: &str,
        id: &str,
        booked: &Lifecycle,
        what: Booking<'_>,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, RiskStoreError>> + Send {
        self.commit_lifecycle_marked(policy, strategy, id, booked, what, &[], now_ms)
    }
    /// [`RiskStore::commit_lifecycle`] with the strategy's unrealized PnL the booking changed,
    /// set first in the same atomic step (as [`RiskStore::commit_marked`]).
    #[allow(clippy::too_many_arguments, reason = "the booking's parts, each needed in the one atomic step")]
    fn commit_lifecycle_marked(
        &self,
        policy: &PolicyKey,
        strategy: &str,
        id: &str,
        booked: &Lifecycle,
        what: Booking<'_>,
        marks: &[(TokenId, Money)],
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, RiskStoreError>> + Send;
    /// The lifecycle totals of `strategy` under the policy, or of the whole policy (`None`).
    fn lifecycle_totals(
        &self,
        policy: &PolicyKey,
        strategy: Option<&str>,
    ) -> impl Future<Output = Result<LifecycleTotals, RiskStoreError>> + Send;
    /// Every settlement committed under the policy, by market.
    fn settlements(&self, policy: &PolicyKey) -> impl Future<Output = Result<Vec<Resolution>, RiskStoreError>> + Send;
    /// The policy's state.
    fn snapshot(&self, policy: &PolicyKey) -> impl Future<Output = Result<RiskSnapshot, RiskStoreError>> + Send;
    /// New marks of a strategy's whole book (the executor's periodic mark, from its books; see
    /// [`polyfleet_core::accounting::mark`]): its unrealized PnL per token is replaced (tokens not
    /// listed are dropped), and the policy's trip rules run on the marked daily PnL and equity
    /// ([`polyfleet_core::risk::RiskState::revalue`]).
    fn revalue(
        &self,
        policy: &PolicyKey,
        strategy: &str,
        marks: &[(TokenId, Money)],
        now_ms: u64,
    ) -> impl Future<Output = Result<(), RiskStoreError>> + Send;
    /// A strategy's unrealized PnL per token as last recorded, sorted by token.
    fn unrealized(
        &self,
        policy: &PolicyKey,
        strategy: &str,
    ) -> impl Future<Output = Result<Vec<(TokenId, Money)>, RiskStoreError>> + Send;
    /// A strategy's ledger positions, sorted by token.
    fn positions(
        &self,
        policy: &PolicyKey,
        strategy: &str,
    ) -> impl Future<Output = Result<Vec<(TokenId, Position)>, RiskStoreError>> + Send;
    /// Records a live order sent to `venue` (its venue order id and the encoded intent), so that
    /// a restarted executor knows what its orders at the venue belong to.
    fn remember_live(
        &self,
        venue: &str,
        venue_order_id: &str,
        intent: Bytes,
    ) -> impl Future<Output = Result<(), RiskStoreError>> + Send;
    /// Forgets a live order that is over (filled, cancelled, expired) and settled.
    fn forget_live(&self, venue: &str, venue_order_id: &str)
    -> impl Future<Output = Result<(), RiskStoreError>> + Send;
    /// Whether each fill key ([`commit_key`]) was committed under `policy`.
    fn committed(
        &self,
        policy: &PolicyKey,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<bool>, RiskStoreError>> + Send;
    /// Every live order remembered for `venue`, sorted by venue order id.
    fn live_orders(&self, venue: &str) -> impl Future<Output = Result<Vec<(String, Bytes)>, RiskStoreError>> + Send;
}

/// The key a fill is committed under, once: its id, or for the reversal of a FAILED trade its id
/// with `:failed` (so the reversal commits once too, after the fill it undoes).
pub fn commit_key(fill: &Fill) -> std::borrow::Cow<'_, str> {
    if fill.status == FillStatus::Failed {
        std::borrow::Cow::Owned(format!("{}:failed", fill.fill_id))
    } else {
        std::borrow::Cow::Borrowed(&fill.fill_id)
    }
}

/// A settlement's payouts: `token:ticks` pairs, space-separated.
pub fn encode_payouts(r: &Resolution) -> String {
    r.payouts.iter().map(|(t, p)| format!("{t}:{}", p.ticks())).collect::<Vec<_>>().join(" ")
}

/// The inverse of [`encode_payouts`], for `market`.
pub fn decode_payouts(market: &str, s: &str) -> Option<Resolution> {
    let market = polyfleet_core::ConditionId::parse(market).ok()?;
    let payouts = s
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(|pair| {
            let (t, ticks) = pair.split_once(':')?;
            Some((TokenId::parse(t).ok()?, polyfleet_core::Price::from_ticks(ticks.parse().ok()?)?))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Resolution { market, payouts })
}

/// `size cost realized fees deficit`, in micros.
pub fn encode_position(p: &Position) -> String {
    format!(
        "{} {} {} {} {}",
        p.size.micros(),
        p.cost.micros(),
        p.realized.micros(),
        p.fees.micros(),
        p.deficit.micros()
    )
}

/// A strategy's positions as the risk gateway answers a positions request: a line
/// `<token> <encode_position>` per token.
pub fn encode_positions(positions: &[(TokenId, Position)]) -> String {
    positions.iter().map(|(t, p)| format!("{t} {}\n", encode_position(p))).collect()
}

/// The inverse of [`encode_positions`]; `None` if any line is not one.
pub fn decode_positions(s: &str) -> Option<Vec<(TokenId, Position)>> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (t, p) = l.split_once(' ')?;
            Some((TokenId::parse(t).ok()?, decode_position(p)?))
        })
        .collect()
}

/// The inverse of [`encode_position`].
pub fn decode_position(s: &str) -> Option<Position> {
    let mut it = s.split(' ');
    let mut next = || it.next().map(str::parse::<i64>);
    let (size, cost, realized, fees, deficit) =
        (next()?.ok()?, next()?.ok()?, next()?.ok()?, next()?.ok()?, next()?.ok()?);
    Some(Position {
        size: Quantity::from_micros(u64::try_from(size).ok()?),
        cost: Money::from_micros(cost),
        realized: Money::from_micros(realized),
        fees: Money::from_micros(fees),
        deficit: Quantity::from_micros(u64::try_from(deficit).ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_answer_round_trips() {
        let p = Position {
            size: Quantity::from_micros(85_040_000),
            cost: Money::from_micros(35_485_491),
            realized: Money::from_micros(-12),
            fees: Money::from_micros(1_469_491),
            deficit: Quantity::ZERO,
        };
        let all = vec![(TokenId::from_u128(7), p), (TokenId::from_u128(8), Position::default())];
        assert_eq!(decode_positions(&encode_positions(&all)), Some(all));
        assert_eq!(decode_positions(""), Some(vec![]));
        assert_eq!(decode_positions("7 1 2 3"), None, "a line that is not one");
    }
}

//! The message types of the wire protocol. Each is a plain struct of fixed-point values and ids;
//! timestamps are integers (venue milliseconds, or nanoseconds since the Unix epoch taken by the
//! agent that handled the message) so latency per hop can be measured from the messages alone.

use serde::{Deserialize, Serialize};

use crate::ids::{ClientOrderId, ConditionId, TokenId};
use crate::money::{Money, Price, Quantity};
use crate::side::{BookSide, Side};

/// One price level: price and the total size resting there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// Level price.
    pub price: Price,
    /// Total size at the price.
    pub size: Quantity,
}

/// A change of one level: the level's new total size (zero removes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelChange {
    /// Bid or ask.
    pub side: BookSide,
    /// Level price.
    pub price: Price,
    /// New total size at the price; zero removes the level.
    pub size: Quantity,
}

/// A normalized market-data event for one token, published on `md.<venue>.<token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketEvent {
    /// The token the event belongs to.
    pub token: TokenId,
    /// The token's market (condition id).
    pub market: ConditionId,
    /// Per-token sequence number, +1 per published event; a jump means a gap: request a snapshot.
    pub seq: u64,
    /// The venue's timestamp (Unix ms).
    pub venue_ts_ms: u64,
    /// When the market-data agent received the frame (Unix ns).
    pub recv_ts_ns: u64,
    /// What happened.
    pub body: MarketEventBody,
}

/// What a [`MarketEvent`] says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarketEventBody {
    /// The whole book; replaces any previous state. Levels best-first.
    Snapshot {
        /// Bids, best (highest) first.
        bids: Vec<Level>,
        /// Asks, best (lowest) first.
        asks: Vec<Level>,
        /// The market's tick size.
        tick: Price,
        /// The venue's book hash, when it sent one.
        hash: Option<String>,
    },
    /// Level changes applied in order.
    Delta(Vec<LevelChange>),
    /// A trade printed on the venue.
    Trade {
        /// Taker side.
        side: Side,
        /// Trade price.
        price: Price,
        /// Trade size.
        size: Quantity,
        /// Fee rate the venue reported, in basis points.
        fee_rate_bps: u32,
    },
    /// The tick size changed; the book is void until the next snapshot.
    TickSize {
        /// The new tick.
        tick: Price,
    },
    /// The market resolved.
    Resolved {
        /// True when this token won.
        winner: bool,
    },
    /// The feed for this token is unhealthy (disconnected, silent, hash mismatch) or healthy again.
    FeedStatus {
        /// True when data flows and the book is trusted.
        healthy: bool,
    },
    /// Whether the venue takes orders on this token's market (from its REST market status). A
    /// market that closed without resolving yet stops accepting orders: nothing new is placed on
    /// it, positions are held (and marked) until it resolves. Restated by the market-data agent on
    /// every status poll while it holds, so a late subscriber learns it too.
    Trading {
        /// False while the venue refuses orders on the market.
        accepting_orders: bool,
    },
}

/// Execution mode of an order (`paper`, `shadow`, `live` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Matched against the book locally; nothing sent.
    Paper,
    /// Built and signed, compared with paper, not sent.
    Shadow,
    /// Sent to the venue.
    Live,
}

/// Time in force of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc,
    /// Good till the given time (Unix seconds, before the venue's 60 s buffer is added).
    Gtd {
        /// Expiry, Unix seconds.
        expires_at_s: u64,
    },
    /// Fill or kill: all at once or nothing.
    Fok,
    /// Fill and kill: what is available now, the rest cancelled.
    Fak,
}

/// A strategy's request to place an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIntent {
    /// Idempotency key, unique per strategy.
    pub client_order_id: ClientOrderId,
    /// Legs of one arbitrage set share a group id (the first leg's id).
    pub group: Option<ClientOrderId>,
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// RiskPolicy name (same namespace).
    pub risk_policy: String,
    /// Venue name.
    pub venue: String,
    /// The token's market.
    pub market: ConditionId,
    /// The token to trade.
    pub token: TokenId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price (the worst acceptable price for FOK/FAK).
    pub price: Price,
    /// Size in shares.
    pub size: Quantity,
    /// Time in force.
    pub tif: TimeInForce,
    /// Rest only; refuse if it would cross.
    pub post_only: bool,
    /// Paper, shadow or live.
    pub mode: Mode,
    /// `seq` of the market event that caused the intent.
    pub cause_seq: u64,
    /// When the market-data agent received that event (Unix ns): the start of the order path's
    /// end-to-end latency.
    pub cause_recv_ts_ns: u64,
    /// When the strategy emitted it (Unix ns).
    pub created_ts_ns: u64,
    /// The token's place in its event, from the operator's plan (`None`: not described; the
    /// gateway then counts the token as paying nothing at resolution).
    pub outcome: Option<crate::wire::Outcome>,
    /// For an order a model sized (a directional strategy's), the probability the model gives
    /// the token of paying 1 USDC, in millionths: the gateway then holds the stake in the token to
    /// the RiskPolicy's Kelly cap at the order's price (`None`: not model-sized, no Kelly cap).
    pub kelly: Option<KellyBasis>,
}

/// What a model-sized order's Kelly cap is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KellyBasis {
    /// The model's probability that the token pays 1 USDC, in millionths (0..=1000000).
    pub probability_ppm: u32,
}

impl KellyBasis {
    /// Millionths in a probability of one.
    pub const ONE_PPM: u32 = 1_000_000;
}

impl OrderIntent {
    /// The round trip the order's sell fills close, for the consecutive-loss breaker: its set
    /// (the group) when it is a set's leg, else the order itself.
    pub fn round_trip(&self) -> ClientOrderId {
        self.group.unwrap_or(self.client_order_id)
    }
}

/// A request to cancel an order (or all of a strategy's orders when `client_order_id` is None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// The order to cancel; None cancels every open order of the strategy.
    pub client_order_id: Option<ClientOrderId>,
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// Why (for logs and the order update).
    pub reason: String,
    /// When it was requested (Unix ns).
    pub created_ts_ns: u64,
}

/// What a strategy publishes on `intent.<namespace>.<strategy>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Intent {
    /// Place an order (checked by the risk gateway).
    Place(OrderIntent),
    /// Cancel (never blocked by risk; always forwarded).
    Cancel(CancelRequest),
    /// Place the legs of a set (all with `group` = the first leg's id), decided as one: the
    /// gateway approves every leg or none, so a limit can never break a set. Each leg then gets
    /// its own decision and executes as its own order.
    PlaceSet(Vec<OrderIntent>),
    /// A conditional-token operation (merge, split, redeem, convert), decided by the gateway
    /// (a split reserves exposure; the others only give it back) and executed once by its id.
    Ctf(CtfIntent),
    /// The model signal an order just placed was sized on: nothing to decide or execute (the
    /// gateway and the execution agent acknowledge it and go on); the journal keeps it, so a
    /// model's forecasts are scored per model version from the journal. Appended last: the
    /// other variants' encoding is unchanged (see [`super`], Encoding).
    Signal(SignalUsed),
}

/// The model signal a model-sized order was sized on ([`Intent::Signal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalUsed {
    /// The order (placed just before, on the same subject).
    pub client_order_id: ClientOrderId,
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// The order's market.
    pub market: ConditionId,
    /// The order's token.
    pub token: TokenId,
    /// The model's id (as in the Strategy's `signals`).
    pub model: String,
    /// Its version.
    pub model_version: String,
    /// The model's probability that `token` pays 1 USDC, in millionths (the order's Kelly basis).
    pub probability_ppm: u32,
    /// The signal's standard error, millionths, when the model gave one.
    pub std_error_ppm: Option<u32>,
    /// When the model computed it (Unix ms), when it said.
    pub published_ms: Option<u64>,
    /// When the signal stops being tradable (Unix ms).
    pub valid_until_ms: u64,
    /// When the order was made (Unix ns).
    pub created_ts_ns: u64,
}

/// A strategy's request for a conditional-token operation: it travels the order path (intent,
/// decision, execution, report) under its own id, in the strategy's id space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtfIntent {
    /// Idempotency key, unique per strategy (shared with its orders' ids).
    pub id: ClientOrderId,
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// RiskPolicy name (same namespace).
    pub risk_policy: String,
    /// Venue name.
    pub venue: String,
    /// The operation.
    pub op: super::CtfOp,
    /// Paper (booked exactly, nothing sent), shadow, or live (sent to the venue's contracts).
    pub mode: Mode,
    /// `seq` of the market event behind it.
    pub cause_seq: u64,
    /// When the market-data agent received that event (Unix ns).
    pub cause_recv_ts_ns: u64,
    /// When the strategy emitted it (Unix ns).
    pub created_ts_ns: u64,
}

/// The gateway's decision on a [`CtfIntent`], published on `decision.<namespace>.<strategy>`
/// beside the order decisions (the kind byte tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtfDecision {
    /// The operation decided on.
    pub intent: CtfIntent,
    /// Approved or rejected.
    pub verdict: Verdict,
    /// When the gateway decided (Unix ns).
    pub decided_ts_ns: u64,
}

/// How a conditional-token operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtfStatus {
    /// Done and booked.
    Done,
    /// Refused by the gateway, the ledger (too few tokens, market not resolved) or the venue;
    /// nothing changed.
    Failed {
        /// Why, for people.
        reason: String,
    },
}

/// What became of a conditional-token operation, published on `order.<namespace>.<strategy>`
/// (the kind byte tells it from an order update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtfReport {
    /// The operation's id.
    pub id: ClientOrderId,
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// The operation.
    pub op: super::CtfOp,
    /// Done or failed.
    pub status: CtfStatus,
    /// Cash it brought in (negative: paid out), micro-USDC; zero when failed.
    pub cash: Money,
    /// PnL it realized; zero when failed.
    pub realized: Money,
    /// Paper, shadow or live.
    pub mode: Mode,
    /// When (Unix ns).
    pub ts_ns: u64,
}

impl CtfReport {
    /// The report of `intent` ending with `status`, having moved `cash` and realized `realized`.
    pub fn of(intent: &CtfIntent, status: CtfStatus, cash: Money, realized: Money, ts_ns: u64) -> CtfReport {
        CtfReport {
            id: intent.id,
            namespace: intent.namespace.clone(),
            strategy: intent.strategy.clone(),
            op: intent.op.clone(),
            status,
            cash,
            realized,
            mode: intent.mode,
            ts_ns,
        }
    }

    /// A failure of `intent`, which changed nothing.
    pub fn failed(intent: &CtfIntent, reason: impl Into<String>, ts_ns: u64) -> CtfReport {
        CtfReport::of(intent, CtfStatus::Failed { reason: reason.into() }, Money::ZERO, Money::ZERO, ts_ns)
    }
}

/// Why the risk gateway refused an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RejectReason {
    /// The RiskPolicy is halted (`killSwitch: halt`).
    KillSwitch,
    /// The RiskPolicy is reduce-only (`killSwitch: reduceOnly`) and the order would add exposure.
    ReduceOnly,
    /// The order is larger than `maxOrderSize`.
    MaxOrderSize,
    /// The order's notional is above `maxOrderNotional`.
    MaxOrderNotional,
    /// The position (with open orders) would pass `maxPositionPerMarket`.
    MaxPosition,
    /// Held plus reserved cost would pass `maxGrossExposure`.
    GrossExposure,
    /// More than `maxOrdersPerMinute` in the last minute.
    OrderRate,
    /// `maxOrdersPerDay` orders approved already this UTC day.
    DailyOrders,
    /// A daily-loss trip stands (the day's PnL reached minus `maxDailyLoss`) and the order would
    /// add exposure.
    DailyLoss,
    /// A drawdown trip stands (equity fell `maxDrawdown` below its peak) and the order would add
    /// exposure.
    Drawdown,
    /// The loss circuit breaker tripped.
    CircuitBreaker,
    /// Too little size rests within the policy's band on the side the order takes from.
    BookLiquidity,
    /// The risk store could not be reached: fail closed.
    RiskStoreUnavailable,
    /// The intent names a RiskPolicy the gateway has no limits for.
    UnknownPolicy,
    /// The client order id was already decided.
    Duplicate,
    /// The intent itself is malformed (price off tick, zero size ...).
    Invalid,
    /// A buy would take its event's exposure above `maxEventExposure`.
    EventExposure,
    /// A buy would take an exposure group's exposure above its `groupLimits` entry.
    GroupExposure,
    /// A model-sized buy would take the stake in its token above the RiskPolicy's Kelly cap.
    KellyCap,
    /// The worst-case loss at resolution would rise above `maxLossAtResolution`.
    MaxLossAtResolution,
    /// Not the gateway's: the strategy is an arm of a time-slot experiment off its turn, and its
    /// own runner refused the order ([`crate::strategy::parking`]); never on the bus. Appended
    /// last, so payloads written before it stay readable.
    ExperimentParked,
}

impl RejectReason {
    /// A stable snake_case label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::KillSwitch => "kill_switch",
            RejectReason::ReduceOnly => "reduce_only",
            RejectReason::MaxOrderSize => "max_order_size",
            RejectReason::MaxOrderNotional => "max_order_notional",
            RejectReason::MaxPosition => "max_position",
            RejectReason::GrossExposure => "gross_exposure",
            RejectReason::OrderRate => "order_rate",
            RejectReason::DailyOrders => "daily_orders",
            RejectReason::DailyLoss => "daily_loss",
            RejectReason::Drawdown => "drawdown",
            RejectReason::CircuitBreaker => "circuit_breaker",
            RejectReason::BookLiquidity => "book_liquidity",
            RejectReason::RiskStoreUnavailable => "risk_store_unavailable",
            RejectReason::UnknownPolicy => "unknown_policy",
            RejectReason::Duplicate => "duplicate",
            RejectReason::Invalid => "invalid",
            RejectReason::MaxLossAtResolution => "max_loss_at_resolution",
            RejectReason::EventExposure => "event_exposure",
            RejectReason::GroupExposure => "group_exposure",
            RejectReason::KellyCap => "kelly_cap",
            RejectReason::ExperimentParked => "experiment_parked",
        }
    }
}

/// The risk gateway's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Approved; exposure reserved.
    Approved,
    /// Refused, with the rule and a human-readable detail.
    Rejected {
        /// The rule that refused.
        reason: RejectReason,
        /// What the rule saw, for people.
        detail: String,
    },
}

/// A decision on one intent, published on `decision.<namespace>.<strategy>`. Carries the intent
/// so the execution agent needs nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskDecision {
    /// The intent decided on.
    pub intent: OrderIntent,
    /// Approved or rejected.
    pub verdict: Verdict,
    /// When the gateway decided (Unix ns).
    pub decided_ts_ns: u64,
}

/// Lifecycle state of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Accepted by the executor (paper book or venue).
    Accepted,
    /// Resting on the book.
    Resting,
    /// Partly filled, rest still working.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled (by request, FAK remainder, FOK kill, dead-man switch).
    Cancelled,
    /// Expired (GTD).
    Expired,
    /// Refused by the executor or the venue.
    Rejected,
}

impl OrderStatus {
    /// True when the order is over (filled, cancelled, expired or rejected): nothing more can
    /// happen to it, and what it reserved is released.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Rejected)
    }
}

/// An order's state change, published on `order.<namespace>.<strategy>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// Our id.
    pub client_order_id: ClientOrderId,
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// The venue's order id (the EIP-712 hash on Polymarket), once known.
    pub venue_order_id: Option<String>,
    /// New state.
    pub status: OrderStatus,
    /// Cumulative filled size.
    pub filled: Quantity,
    /// Size still working.
    pub remaining: Quantity,
    /// Why, for Cancelled/Rejected.
    pub reason: Option<String>,
    /// When (Unix ns).
    pub ts_ns: u64,
}

/// Maker or taker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Liquidity {
    /// The order rested and was hit.
    Maker,
    /// The order took resting liquidity.
    Taker,
}

/// Settlement state of a fill: only Confirmed is final; a Matched fill can still Fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FillStatus {
    /// Matched by the venue, not yet final on chain.
    Matched,
    /// Final.
    Confirmed,
    /// The trade failed on chain: reverse it.
    Failed,
}

/// An execution, published on `fill.<namespace>.<strategy>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Unique per fill (venue trade id, or a paper id); with `status` it is the idempotency key.
    pub fill_id: String,
    /// The order that filled.
    pub client_order_id: ClientOrderId,
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// RiskPolicy the exposure is booked against.
    pub risk_policy: String,
    /// The token's market.
    pub market: ConditionId,
    /// The token.
    pub token: TokenId,
    /// Our side.
    pub side: Side,
    /// Execution price.
    pub price: Price,
    /// Executed size.
    pub size: Quantity,
    /// Fee paid (positive) or rebate (negative).
    pub fee: Money,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Matched, confirmed or failed.
    pub status: FillStatus,
    /// Paper, shadow or live.
    pub mode: Mode,
    /// When (Unix ns).
    pub ts_ns: u64,
}

/// Operator -> agents commands on `control.<namespace>.<kind>.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// A RiskPolicy's kill switch flipped.
    KillSwitch {
        /// The RiskPolicy it applies to.
        risk_policy: String,
        /// Engaged (true) or released.
        engaged: bool,
    },
    /// Cancel every open order of a strategy (suspend, deletion).
    CancelAll {
        /// The strategy whose orders to cancel.
        strategy: String,
        /// Why, for people.
        reason: String,
    },
}

//! `Strategy`: what to run, on which markets, under which RiskPolicy, in which mode.
//!
//! Exactly one typed parameter block, the one named by `spec.type`, must be set (CEL). Parameter
//! blocks are what GitOps changes live: the operator writes them to the NATS KV bucket and the
//! running agent applies them without a restart, acknowledging the generation in
//! `status.parametersGeneration` and the `ParametersApplied` condition.
//!
//! Money is integer micro-units (1 USDC = 1_000_000), shares are micro-shares, ratios are basis
//! points; no field that is accounted is a float. Model coefficients that are not money (the
//! Avellaneda-Stoikov gamma and kappa) are decimal strings, parsed exactly by the agent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::Condition;
use crate::refs::LocalRef;
use crate::venue::ExecutionMode;

/// Strategy type: `arbitrage` (complete-set arbitrage), `marketMaking` (Avellaneda-Stoikov
/// quoting) or `directional` (model-driven positions sized by fractional Kelly).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum StrategyType {
    Arbitrage,
    MarketMaking,
    Directional,
}

/// Immediate-or-kill order type for arbitrage legs: `FOK` (fill all or nothing) or `FAK`
/// (fill what is available, cancel the rest).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum LegOrderType {
    #[default]
    #[serde(rename = "FOK")]
    Fok,
    #[serde(rename = "FAK")]
    Fak,
}

/// How a directional strategy enters: `taker` (fill-and-kill at the ask, fees paid) or
/// `passive` (a post-only bid one tick inside the spread, cancelled when its edge goes).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum DirectionalEntry {
    #[default]
    Taker,
    Passive,
}

/// A Strategy: a trading agent the operator runs.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "polyfleet.dev",
    version = "v1alpha1",
    kind = "Strategy",
    plural = "strategies",
    namespaced,
    status = "StrategyStatus",
    shortname = "pfs",
    category = "polyfleet",
    doc = "A trading strategy: its type and parameters, the markets it trades, its RiskPolicy and execution mode.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type", description = "Strategy type"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode", description = "paper, shadow or live"),
    printcolumn(
        name = "PnL",
        type_ = "string",
        json_path = ".status.pnl.total",
        description = "Realized + unrealized PnL in USDC"
    ),
    printcolumn(name = "Open", type_ = "integer", json_path = ".status.openOrders", description = "Open orders"),
    printcolumn(
        name = "Brier",
        type_ = "string",
        json_path = ".status.scores[0].brier",
        description = "Brier score of the first model version it trades on (directional)"
    ),
    printcolumn(
        name = "Skill",
        type_ = "string",
        json_path = ".status.scores[0].brierSkill",
        description = "Its Brier skill score against the market's mid (positive: better than the market)"
    ),
    printcolumn(
        name = "Experiment",
        type_ = "string",
        json_path = ".status.experiment.outcome",
        description = "Where the experiment this Strategy is an arm of stands (Waiting, Running, ABetter, BBetter, Inconclusive)",
        priority = 1
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp", description = "Age")
)]
#[x_kube(validation = Rule::new("has(self.arbitrage) == (self.type == 'arbitrage') && has(self.marketMaking) == (self.type == 'marketMaking') && has(self.directional) == (self.type == 'directional')").message("exactly the parameter block named by spec.type must be set"))]
#[x_kube(validation = Rule::new("!has(self.shadowOf) || !has(self.mode) || self.mode != 'live'").message("a Strategy that shadows another (shadowOf) must not trade live: mode paper or shadow"))]
#[serde(rename_all = "camelCase")]
pub struct StrategySpec {
    /// Strategy type; selects which parameter block applies. Immutable.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("type is immutable"))]
    pub type_: StrategyType,
    /// Venue the strategy trades on. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("venueRef is immutable"))]
    pub venue_ref: LocalRef,
    /// Markets to trade, by name or by label selector.
    pub markets: MarketSelection,
    /// RiskPolicy (same namespace) whose limits every order of this strategy is checked against.
    pub risk_policy_ref: LocalRef,
    /// paper (default), shadow or live. live is refused unless the Venue acknowledges live
    /// trading and has credentials.
    #[serde(default)]
    pub mode: ExecutionMode,
    /// When true, open orders are cancelled and the agent is scaled to zero; status is still kept.
    #[serde(default)]
    pub suspend: bool,
    /// Parameters of a complete-set arbitrage strategy (type arbitrage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbitrage: Option<ArbitrageParams>,
    /// Parameters of an Avellaneda-Stoikov market maker (type marketMaking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_making: Option<MarketMakingParams>,
    /// Parameters of a directional strategy (type directional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directional: Option<DirectionalParams>,
    /// Drift alarms: watch the fills' markouts and slippage and the forecasts' calibration, raise
    /// the `Drift` condition and an Event when they fall off, and size new positions at
    /// `sizeFactorBps` while an alarm stands. Nothing is retrained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftAlarms>,
    /// This Strategy is one arm of an A/B experiment: it and the other arm (a Strategy of the
    /// same namespace with the same `experiment.name`, the other `arm`, selecting the same
    /// Markets) share those Markets by Market (disjoint halves at the same time) or by time slot
    /// (all of them, in turns), and their PnL per slot is compared by an always-valid sequential
    /// test (mSPRT) with the stopping rule given here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<Experiment>,
    /// The live Strategy (same namespace) this one shadows: its agent compares its orders with
    /// that Strategy's order by order (paired by the market event each answered, the token and
    /// the side) over the last 24 hours, and `status.twin` shows the totals: orders paired and
    /// unpaired, the same price and size or not, shares each filled, and the live twin's
    /// slippage and extra fees. Not with `mode: live`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub shadow_of: Option<String>,
}

/// One arm of an A/B experiment. By `interleave: market` (the default) the Markets both select
/// are ordered by a stable hash (FNV-1a) of `<experiment name>/<market name>` and dealt
/// alternately, the first to arm A, so each arm trades its half and never competes with the other
/// for the same book; each slot's marked PnL of A and of B make a pair. By `interleave: timeSlot`
/// both arms trade every Market, in turns: slots (counted from the Unix epoch) go in blocks of
/// two, each arm trading one slot of each block (which first, by a stable hash of
/// `<experiment name>/<block>`); off its turn an arm is parked (its orders cancelled, nothing
/// placed, its holdings kept and marked), and a block's pair is each arm's PnL over its own slot.
/// The test stops at the first pair count where the evidence reaches 1/α (naming the better
/// arm), or after `maxPairs` (undecided). Its false-stop probability is at most α however often
/// it is looked at.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("self.maxPairs > self.burnIn").message("maxPairs must exceed burnIn"))]
#[serde(rename_all = "camelCase")]
pub struct Experiment {
    /// The experiment's name, shared by its two arms (a DNS label).
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// This Strategy's arm: `A` (often the control) or `B`.
    pub arm: ExperimentArm,
    /// How the arms share the Markets: `market` (disjoint halves, both trading all the time;
    /// the default) or `timeSlot` (all of them, in turns of `slotSeconds`).
    #[serde(default)]
    pub interleave: ExperimentInterleave,
    /// Slot length, seconds: each arm's PnL over a slot is one observation, or by time slot
    /// the length of each turn (default 60).
    #[serde(default = "default_slot_seconds")]
    #[schemars(range(min = 1, max = 86400))]
    pub slot_seconds: i64,
    /// The false-stop bound α, basis points (default 500: 5 %).
    #[serde(default = "default_alpha_bps")]
    #[schemars(range(min = 1, max = 5000))]
    pub alpha_bps: i32,
    /// The PnL difference a pair the test is tuned to find, micro-USDC (default 1 USDC): a
    /// slot's, or by time slot a block's (two slots).
    #[serde(default = "default_effect_micros")]
    #[schemars(range(min = 1, max = 1000000000000_i64))]
    pub effect_micros: i64,
    /// Pairs before the test may stop (the variance it estimates from them is used from then on;
    /// default 30).
    #[serde(default = "default_experiment_burn_in")]
    #[schemars(range(min = 2, max = 100000))]
    pub burn_in: i32,
    /// Pairs after which the test ends undecided (default 10000).
    #[serde(default = "default_max_pairs")]
    #[schemars(range(min = 2, max = 10000000))]
    pub max_pairs: i32,
}

/// How an experiment's arms share the Markets: `market` or `timeSlot`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum ExperimentInterleave {
    #[default]
    Market,
    TimeSlot,
}

/// An experiment arm: `A` or `B`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum ExperimentArm {
    A,
    B,
}

fn default_slot_seconds() -> i64 {
    60
}
fn default_alpha_bps() -> i32 {
    500
}
fn default_effect_micros() -> i64 {
    1_000_000
}
fn default_experiment_burn_in() -> i32 {
    30
}
fn default_max_pairs() -> i32 {
    10_000
}

/// Drift alarms of a Strategy. Markouts and slippage are in price ppm (1 000 000 is a whole
/// USDC a share; a tick of 0.01 is 10 000).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftAlarms {
    /// Horizon of the markouts watched, milliseconds (default 5000).
    #[serde(default = "default_markout_horizon_ms")]
    #[schemars(range(min = 1, max = 600000))]
    pub markout_horizon_ms: i64,
    /// Page–Hinkley's tolerance on markouts: falls smaller than this per fill are ignored
    /// (default 2000 ppm).
    #[serde(default = "default_markout_delta_ppm")]
    #[schemars(range(min = 0, max = 1000000))]
    pub markout_delta_ppm: i64,
    /// Page–Hinkley's threshold on markouts: the cumulated fall that fires (default 200000 ppm).
    #[serde(default = "default_markout_lambda_ppm")]
    #[schemars(range(min = 1))]
    pub markout_lambda_ppm: i64,
    /// CUSUM's allowance on slippage above its reference, per fill (default 5000 ppm).
    #[serde(default = "default_slippage_allowance_ppm")]
    #[schemars(range(min = 0, max = 1000000))]
    pub slippage_allowance_ppm: i64,
    /// CUSUM's threshold on slippage: the cumulated excess that fires (default 150000 ppm).
    #[serde(default = "default_slippage_threshold_ppm")]
    #[schemars(range(min = 1))]
    pub slippage_threshold_ppm: i64,
    /// Samples before a test may fire (CUSUM's reference is their mean); an alarm clears after
    /// as many samples of its metric without firing again (default 30).
    #[serde(default = "default_burn_in")]
    #[schemars(range(min = 1, max = 100000))]
    pub burn_in: i32,
    /// Size of new positions while an alarm stands, basis points of full size: 10000 only
    /// reports, 0 opens nothing (default 5000).
    #[serde(default = "default_size_factor_bps")]
    #[schemars(range(min = 0, max = 10000))]
    pub size_factor_bps: i32,
}

fn default_markout_horizon_ms() -> i64 {
    5000
}
fn default_markout_delta_ppm() -> i64 {
    2000
}
fn default_markout_lambda_ppm() -> i64 {
    200_000
}
fn default_slippage_allowance_ppm() -> i64 {
    5000
}
fn default_slippage_threshold_ppm() -> i64 {
    150_000
}
fn default_burn_in() -> i32 {
    30
}
fn default_size_factor_bps() -> i32 {
    5000
}

/// Which Markets a Strategy trades: a list of names, a label selector, or both (union).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.names) && size(self.names) > 0) || has(self.selector)").message("markets needs names or a selector"))]
pub struct MarketSelection {
    /// Market names in the strategy's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub names: Option<Vec<String>>,
    /// Label selector over Markets in the strategy's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// Complete-set arbitrage: buy every outcome when the asks (plus taker fees) sum below 1 minus the
/// edge, sell them when the bids sum above 1 plus the edge while holding the set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArbitrageParams {
    /// Minimum edge after fees, in basis points of the 1 USDC a complete set is worth. A set is
    /// traded only when it keeps this edge with every leg filled at its limit: the limits take
    /// the edge beyond it (buy limits raised, sell limits lowered), so a book that moves before
    /// the orders arrive does not break the set.
    #[schemars(range(min = 0, max = 9999))]
    pub min_edge_bps: i32,
    /// Maximum notional per leg in micro-USDC (1 USDC = 1000000).
    #[schemars(range(min = 1))]
    pub max_notional_per_leg_micros: i64,
    /// Order type of the legs: FOK (default) or FAK.
    #[serde(default)]
    pub order_type: LegOrderType,
    /// Milliseconds to wait for every leg to fill before unwinding what did.
    #[serde(default = "default_leg_timeout_ms")]
    #[schemars(range(min = 1, max = 600000))]
    pub leg_timeout_ms: i32,
    /// Milliseconds to wait after a set (or an unwind) before trading the same market again.
    #[serde(default = "default_cooldown_ms")]
    #[schemars(range(min = 0, max = 86400000))]
    pub cooldown_ms: i32,
    /// Sell a held neg-risk set back once its bids (less fees) pay more than it cost plus the
    /// edge, so its capital works again, instead of always holding it to resolution (default
    /// true).
    #[serde(default = "default_true")]
    pub sell_back_above_cost: bool,
}

fn default_true() -> bool {
    true
}

fn default_leg_timeout_ms() -> i32 {
    2000
}
fn default_cooldown_ms() -> i32 {
    1000
}

/// A price strictly between 0 and 1 with at most 4 decimals, as a string, e.g. "0.05".
pub(crate) const PRICE_PATTERN: &str = r"^0?\.[0-9]{0,3}[1-9]0{0,2}$";
/// A non-negative decimal with at most 6 decimals, as a string, e.g. "0.1".
pub(crate) const DECIMAL_PATTERN: &str = r"^[0-9]{1,6}(\.[0-9]{1,6})?$";

/// Market making on binary markets: GLFT quotes for prices in (0, 1) with inventory bounds, from
/// estimators of volatility and order arrivals that never hold quoting back, markout feedback and
/// the venue's manners (post-only, tick, hysteresis). Every field applies live.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minSpreadBps <= self.maxSpreadBps").message("minSpreadBps must not exceed maxSpreadBps"))]
#[x_kube(validation = Rule::new("double(self.gamma) > 0.0").message("gamma must be above 0"))]
#[x_kube(validation = Rule::new("self.kappa == 'auto' || double(self.kappa) > 0.0").message("kappa must be auto or above 0"))]
#[x_kube(validation = Rule::new("self.inventoryTargetMicros <= self.maxInventoryMicros && -self.inventoryTargetMicros <= self.maxInventoryMicros").message("inventoryTargetMicros must lie within maxInventoryMicros either way"))]
pub struct MarketMakingParams {
    /// Risk aversion γ, a decimal string (e.g. "0.1"): per lot of inventory (one order size),
    /// how much the quotes skew and widen against what is held.
    #[schemars(regex(pattern = DECIMAL_PATTERN))]
    pub gamma: String,
    /// Order-arrival decay κ per unit of price (100: arrivals fall e-fold per cent from the mid),
    /// a decimal string, or "auto" to estimate it (and the arrival rate) from counted taker
    /// trades, starting from 100.
    #[serde(default = "default_kappa")]
    #[schemars(regex(pattern = r"^(auto|[0-9]{1,6}(\.[0-9]{1,6})?)$"))]
    pub kappa: String,
    /// Quote levels per side.
    #[serde(default = "default_levels")]
    #[schemars(range(min = 1, max = 10))]
    pub levels: i32,
    /// Ticks between levels.
    #[serde(default = "one_i32")]
    #[schemars(range(min = 1, max = 100))]
    pub level_spacing_ticks: i32,
    /// Size of each quote in micro-shares: one lot of inventory.
    #[schemars(range(min = 1))]
    pub order_size_micros: i64,
    /// Least total spread (ask less bid of the first level), in basis points of the 1 USDC a
    /// share pays at most (100 = one cent).
    #[schemars(range(min = 0, max = 10000))]
    pub min_spread_bps: i32,
    /// Most total spread, in basis points of 1 USDC.
    #[schemars(range(min = 0, max = 10000))]
    pub max_spread_bps: i32,
    /// Inventory the quotes skew towards (YES shares less NO shares), in micro-shares (usually 0).
    #[serde(default)]
    pub inventory_target_micros: i64,
    /// Largest inventory either way per market, micro-shares; beyond it only the side that
    /// reduces it is quoted.
    #[schemars(range(min = 1))]
    pub max_inventory_micros: i64,
    /// Largest inventory of an event's markets together (sum of each market's absolute
    /// inventory), micro-shares; beyond it each market quotes only its reducing side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_event_inventory_micros: Option<i64>,
    /// Least time between two requotes of a market (pulls are immediate), ms.
    #[serde(default = "default_refresh_ms")]
    #[schemars(range(min = 10, max = 3600000))]
    pub refresh_interval_ms: i32,
    /// A quote is replaced when the model moved its price by at least this many ticks.
    #[serde(default = "one_i32")]
    #[schemars(range(min = 1, max = 100))]
    pub refresh_tolerance_ticks: i32,
    /// ... or its size by more than this many percent.
    #[serde(default = "default_size_tolerance")]
    #[schemars(range(min = 0, max = 100))]
    pub size_tolerance_pct: i32,
    /// ... or it is older than this, ms.
    #[serde(default = "default_max_order_age_ms")]
    #[schemars(range(min = 1000, max = 86400000))]
    pub max_order_age_ms: i64,
    /// Quoting stops this many seconds before the Market's end date.
    #[serde(default = "default_stop_before_end")]
    #[schemars(range(min = 0, max = 2592000))]
    pub stop_before_end_seconds: i64,
    /// The inventory limit shrinks linearly to zero over this many seconds before the end date.
    #[serde(default = "default_inventory_ramp")]
    #[schemars(range(min = 0, max = 2592000))]
    pub inventory_ramp_seconds: i64,
    /// Half-life of the volatility and arrival estimators, seconds.
    #[serde(default = "default_half_life")]
    #[schemars(range(min = 1, max = 86400))]
    pub estimator_half_life_seconds: i64,
    /// Quotes are pulled when the average 30-second markout of the strategy's fills falls below
    /// minus this (basis points of 1 USDC) over five fills at least; 0 turns the alarm off.
    #[serde(default = "default_toxic_markout")]
    #[schemars(range(min = 0, max = 10000))]
    pub toxic_markout_bps: i32,
    /// How long a toxic-flow alarm keeps the quotes pulled, ms.
    #[serde(default = "default_toxic_pause")]
    #[schemars(range(min = 0, max = 3600000))]
    pub toxic_pause_ms: i64,
    /// Quotes are GTD living this many seconds (the venue's 60-second minimum added); unset: GTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub quote_ttl_seconds: Option<i64>,
    /// Never quote outside this price band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_band: Option<PriceBand>,
}

fn default_kappa() -> String {
    "auto".to_owned()
}
fn default_levels() -> i32 {
    1
}
fn one_i32() -> i32 {
    1
}
fn default_refresh_ms() -> i32 {
    1000
}
fn default_size_tolerance() -> i32 {
    20
}
fn default_max_order_age_ms() -> i64 {
    60_000
}
fn default_stop_before_end() -> i64 {
    300
}
fn default_inventory_ramp() -> i64 {
    3600
}
fn default_half_life() -> i64 {
    300
}
fn default_toxic_markout() -> i32 {
    300
}
fn default_toxic_pause() -> i64 {
    30_000
}

/// A price band, both ends strictly between 0 and 1.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("double(self.min) < double(self.max)").message("priceBand.min must be below priceBand.max"))]
pub struct PriceBand {
    /// Lowest price, a decimal string in (0, 1), e.g. "0.05".
    #[schemars(regex(pattern = PRICE_PATTERN))]
    pub min: String,
    /// Highest price, a decimal string in (0, 1), e.g. "0.95".
    #[schemars(regex(pattern = PRICE_PATTERN))]
    pub max: String,
}

/// Directional trading on models' fair-value signals (published on `signal.<venue>.<token>`, see
/// the README): enter the token whose edge after fees beats `entryEdgeBps`, sized by a fraction of
/// Kelly at the cost with fees; exit on the first of: `closeBeforeEndSeconds`, signal expiry,
/// `stopLossBps`, `takeProfitBps`, edge below `exitEdgeBps`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.exitEdgeBps < self.entryEdgeBps").message("exitEdgeBps must be below entryEdgeBps"))]
pub struct DirectionalParams {
    /// The models whose signals it trades on (their `model` ids, 1 to 16).
    #[schemars(length(min = 1, max = 16))]
    pub signals: Vec<SignalSource>,
    /// A signal published longer ago than this is stale (besides its own validUntilMs), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400000))]
    pub max_signal_age_ms: Option<i64>,
    /// Fraction of the Kelly stake to bet, in basis points (2500 = quarter Kelly); the
    /// RiskPolicy's kellyFractionCapBps bounds it too.
    #[schemars(range(min = 1, max = 10000))]
    pub kelly_fraction_bps: i32,
    /// Edge of the model's probability over the cost with fees, in basis points of 1 USDC,
    /// needed to enter or scale in.
    #[schemars(range(min = 0, max = 10000))]
    pub entry_edge_bps: i32,
    /// Edge (probability less what selling pays after fees) below which the position is
    /// closed, in basis points of 1 USDC.
    #[schemars(range(min = 0, max = 10000))]
    pub exit_edge_bps: i32,
    /// Close when the position's value at the bid has lost this share of its cost, bps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub stop_loss_bps: Option<i32>,
    /// Close when it has gained this share of its cost, bps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub take_profit_bps: Option<i32>,
    /// Entries as taker or passive.
    #[serde(default)]
    pub entry: DirectionalEntry,
    /// Entries after the first that may add to a position, towards its Kelly stake.
    #[serde(default)]
    #[schemars(range(min = 0, max = 20))]
    pub max_scale_ins: i32,
    /// Positions are closed, and none opened, this many seconds before the Market's end date;
    /// unset: held to resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2592000))]
    pub close_before_end_seconds: Option<i64>,
    /// After a position is closed, no new one in that market for this long, ms.
    #[serde(default)]
    #[schemars(range(min = 0, max = 86400000))]
    pub reentry_cooldown_ms: i64,
    /// Never enter outside this price band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_band: Option<PriceBand>,
}

/// A model a directional strategy follows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.cryptoUpDown) && has(self.sportsOdds))").message("a signal source runs at most one built-in model"))]
pub struct SignalSource {
    /// The model id its signals carry (1 to 128 printable characters).
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[^\x00-\x1f\x7f]+$"))]
    pub model: String,
    /// Run the built-in crypto up/down model under this id: one publisher per series Market
    /// the Strategy selects, reading the Venue's real-time data stream (endpoints.rtds). Without
    /// it the signals come from a model the user runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto_up_down: Option<CryptoUpDownModel>,
    /// Run the built-in sports model under this id: one publisher pricing the listed Markets
    /// from a bookmaker odds feed (the weighted consensus of its books, margin removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sports_odds: Option<SportsOddsModel>,
}

/// How the sports model removes the bookmakers' margin: `shin` (Shin's method, which also
/// corrects the favourite-longshot bias) or `multiplicative`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum DevigMethod {
    Shin,
    Multiplicative,
}

/// Settings of the built-in sports model: where the odds come from, which books count and how
/// much, and which Market each event prices. It publishes until each event's kick-off, so its
/// last signal is the closing line fills are valued against.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SportsOddsModel {
    /// The odds feed: an HTTP(S) URL answering a document in The Odds API v4 format (events with
    /// bookmakers with `h2h` and `totals` markets in decimal odds) to GET.
    #[schemars(length(min = 8, max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub url: String,
    /// The feed's key, sent as its `apiKey` query parameter; never in a spec, status or log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<crate::refs::SecretKeyRef>,
    /// How often the feed is read, seconds (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub poll_seconds: Option<i32>,
    /// Margin removal (default shin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devig: Option<DevigMethod>,
    /// The books that count and their weights (none: every book of the feed at weight 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub books: Vec<BookWeight>,
    /// How long a signal stays tradable after the read it came from, ms (default 90000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 3600000))]
    pub valid_for_ms: Option<i32>,
    /// The version its signals carry (scores are kept per version; default the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub version: Option<String>,
    /// What each priced Market pays on (1 to 256).
    #[schemars(length(min = 1, max = 256))]
    pub markets: Vec<SportsMarketPick>,
}

/// A book and its weight in the consensus.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookWeight {
    /// The feed's key of the book (`pinnacle`).
    #[schemars(length(min = 1, max = 64))]
    pub key: String,
    /// Its weight (1 to 1000).
    #[schemars(range(min = 1, max = 1000))]
    pub weight: i32,
}

/// One Market the sports model prices: its first outcome's token pays when the pick happens
/// (the other token is the complement).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.outcome) != has(self.total)").message("a pick is exactly one of outcome and total"))]
pub struct SportsMarketPick {
    /// The Market (one the Strategy selects, binary).
    #[schemars(length(min = 1, max = 253))]
    pub market: String,
    /// The feed's event id.
    #[schemars(length(min = 1, max = 128))]
    pub event: String,
    /// The `h2h` outcome it pays on: a team's name as the feed spells it, or `Draw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub outcome: Option<String>,
    /// The total it pays on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<TotalLine>,
}

/// Over or under a line of total goals or points.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotalLine {
    /// Over (true) or under (false) the line.
    pub over: bool,
    /// The line, a decimal string in halves ("2.5", "3").
    #[schemars(regex(pattern = r"^[0-9]{1,3}(\.[05])?$"))]
    pub line: String,
}

/// Settings of the built-in crypto up/down model (a Student-t on the Chainlink price, volatility
/// from its returns, the TWAP correction when the round resolves on one).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CryptoUpDownModel {
    /// Degrees of freedom of the Student-t (3 to 100; default 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3, max = 100))]
    pub degrees_of_freedom: Option<i32>,
    /// Half-life of the volatility estimate, seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 86400))]
    pub volatility_half_life_seconds: Option<i32>,
    /// Price returns needed before the model publishes (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 10000))]
    pub min_returns: Option<i32>,
    /// How long a signal stays tradable after the price it was computed from, ms (default 3000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 600000))]
    pub valid_for_ms: Option<i32>,
    /// The version its signals carry (scores are kept per version; default the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub version: Option<String>,
}

/// Observed state of a Strategy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrategyStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled and ParametersApplied conditions.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The metadata.generation whose parameters the running agent acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_generation: Option<i64>,
    /// Profit and loss.
    #[serde(default)]
    pub pnl: Pnl,
    /// Orders resting at the venue (or the paper book).
    #[serde(default)]
    pub open_orders: i32,
    /// Positions per token.
    #[serde(default)]
    pub positions: Vec<PositionStatus>,
    /// What merges, splits, redemptions and settlements did for the strategy.
    #[serde(default)]
    pub lifecycle: crate::lifecycle::LifecycleStatus,
    /// RFC 3339 time of the last signal the strategy emitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_signal_time: Option<String>,
    /// Forecast scores of the models a directional strategy traded on, per model version (each
    /// model version's last forecast on a market, scored when the market resolved).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<ModelScoreStatus>,
    /// The experiment this Strategy is an arm of (`spec.experiment`), compared live: arm A's
    /// reconcile steps the test with both arms' marked PnL at the start of each slot; arm B shows
    /// the same result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentStatus>,
    /// This shadow against its live twin (`spec.shadowOf`), as its agent last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin: Option<TwinStatus>,
}

/// A shadow Strategy against its live twin, order by order, over a window.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwinStatus {
    /// The live twin.
    pub live: String,
    /// What stands in the way (no report from the agent yet), or the result in words.
    #[serde(default)]
    pub message: String,
    /// RFC 3339 start of the window compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Orders of the shadow in the window.
    #[serde(default)]
    pub shadow_orders: i64,
    /// Orders of the live twin in the window.
    #[serde(default)]
    pub live_orders: i64,
    /// Orders paired (the same market event, token and side).
    #[serde(default)]
    pub paired: i64,
    /// Pairs that asked the same price and size.
    #[serde(default)]
    pub same_orders: i64,
    /// The shadow's orders the live twin did not place.
    #[serde(default)]
    pub only_shadow: i64,
    /// The live twin's orders the shadow did not place.
    #[serde(default)]
    pub only_live: i64,
    /// Shares the shadow filled over the pairs, decimal.
    #[serde(default)]
    pub shadow_filled: String,
    /// Shares the live twin filled over the pairs, decimal.
    #[serde(default)]
    pub live_filled: String,
    /// Over the shares both filled, what the live twin paid more or received less, USDC
    /// (positive: live did worse).
    #[serde(default)]
    pub slippage: String,
    /// Live fees less the shadow's over the pairs, USDC.
    #[serde(default)]
    pub fee_difference: String,
}

/// Where an experiment's live comparison stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentStatus {
    /// The experiment.
    pub name: String,
    /// This Strategy's arm.
    pub arm: ExperimentArm,
    /// The other arm's Strategy, once found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// `Waiting` (no comparison: the message says why), `Running`, `ABetter`, `BBetter`
    /// (stopped: that arm's PnL per slot is higher at level alpha) or `Inconclusive` (maxPairs
    /// reached without a decision).
    pub outcome: ExperimentOutcome,
    /// What stands in the way, or the result in words.
    #[serde(default)]
    pub message: String,
    /// Pairs compared: the arms' PnL over one slot, or (by time slot) over one block of two.
    #[serde(default)]
    pub pairs: i64,
    /// Slots that yielded no pair (an arm stopped or unreachable, the operator late or down).
    #[serde(default)]
    pub missed_slots: i64,
    /// Mean PnL per slot of arm A less arm B's, USDC as a decimal.
    #[serde(default)]
    pub mean_difference: String,
    /// The always-valid p-value so far, decimal.
    #[serde(default)]
    pub p_value: String,
    /// RFC 3339 time the test stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// Where an experiment's comparison stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the field's doc names each value"
)]
pub enum ExperimentOutcome {
    Waiting,
    Running,
    ABetter,
    BBetter,
    Inconclusive,
}

/// A model version's forecast scores.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelScoreStatus {
    /// Model id.
    pub model: String,
    /// Model version.
    pub version: String,
    /// Resolved forecasts scored.
    pub forecasts: i64,
    /// Brier score (0 is perfect, 0.25 is always saying one half), decimal.
    pub brier: String,
    /// The market's Brier score over the same forecasts (its mid when each came), decimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_brier: Option<String>,
    /// Brier skill score against the market (positive: better than the market), decimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brier_skill: Option<String>,
    /// Mean log loss, decimal.
    pub log_loss: String,
    /// Fills valued against the closing line (the model's last fair value before the market
    /// resolved).
    #[serde(default)]
    pub clv_fills: i64,
    /// Their mean closing-line value per share, decimal (positive: bought below the close or
    /// sold above it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clv_mean: Option<String>,
    /// Fills that beat the close.
    #[serde(default)]
    pub clv_beat: i64,
}

/// Profit and loss in micro-USDC, plus a human-readable total.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pnl {
    /// Realized PnL in micro-USDC.
    #[serde(default)]
    pub realized_micros: i64,
    /// Unrealized PnL (marked to the mid) in micro-USDC.
    #[serde(default)]
    pub unrealized_micros: i64,
    /// realized + unrealized in USDC as a decimal string, for display.
    #[serde(default)]
    pub total: String,
}

/// Position in one token.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PositionStatus {
    /// Market name.
    pub market: String,
    /// Token id (decimal uint256).
    pub token_id: String,
    /// Shares held, in micro-shares.
    pub size_micros: i64,
    /// Average entry price as a decimal string.
    pub avg_price: String,
}

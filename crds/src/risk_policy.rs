//! `RiskPolicy`: limits shared by every Strategy that references it, enforced atomically by the
//! risk gateway (one Redis script per intent), with a mode (`killSwitch`: off, reduce-only, halt)
//! and daily-loss / drawdown trips into reduce-only that a reset or a cooldown ends.
//!
//! Every money limit is an integer in micro-USDC (1 USDC = 1000000), every size limit in
//! micro-shares, every ratio in basis points: no float holds a limit.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::conditions::Condition;

/// A RiskPolicy: the limits its Strategies trade under.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "polyfleet.dev",
    version = "v1alpha1",
    kind = "RiskPolicy",
    plural = "riskpolicies",
    namespaced,
    status = "RiskPolicyStatus",
    shortname = "pfr",
    category = "polyfleet",
    doc = "Risk limits shared by the Strategies that reference it, with a fleet-wide kill switch.",
    printcolumn(
        name = "Mode",
        type_ = "string",
        json_path = ".status.mode",
        description = "Mode in force: off, reduceOnly (declared or tripped) or halt"
    ),
    printcolumn(
        name = "Exposure",
        type_ = "string",
        json_path = ".status.exposure",
        description = "Gross exposure in USDC"
    ),
    printcolumn(
        name = "DailyPnL",
        type_ = "string",
        json_path = ".status.dailyPnl",
        description = "Today's PnL in USDC"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp", description = "Age")
)]
#[x_kube(validation = Rule::new("!has(self.maxOrderNotionalMicros) || !has(self.maxGrossExposureMicros) || self.maxOrderNotionalMicros <= self.maxGrossExposureMicros").message("maxOrderNotionalMicros must not exceed maxGrossExposureMicros"))]
#[x_kube(validation = Rule::new("!has(self.shareOfCapital) || has(self.capitalMicros)").message("shareOfCapital needs capitalMicros: a share of what"))]
#[x_kube(validation = Rule::new("!has(self.groupLimits) || has(self.capitalMicros) || self.groupLimits.all(g, !has(g.shareOfCapitalBps))").message("a groupLimits shareOfCapitalBps needs capitalMicros: a share of what"))]
#[x_kube(validation = Rule::new("has(self.maxOrderNotionalMicros) || (has(self.shareOfCapital) && has(self.shareOfCapital.maxOrderNotionalBps))").message("give maxOrderNotionalMicros or shareOfCapital.maxOrderNotionalBps"))]
#[x_kube(validation = Rule::new("has(self.maxGrossExposureMicros) || (has(self.shareOfCapital) && has(self.shareOfCapital.maxGrossExposureBps))").message("give maxGrossExposureMicros or shareOfCapital.maxGrossExposureBps"))]
#[x_kube(validation = Rule::new("has(self.maxDailyLossMicros) || (has(self.shareOfCapital) && has(self.shareOfCapital.maxDailyLossBps))").message("give maxDailyLossMicros or shareOfCapital.maxDailyLossBps"))]
#[x_kube(validation = Rule::new("has(self.maxDrawdownMicros) || (has(self.shareOfCapital) && has(self.shareOfCapital.maxDrawdownBps))").message("give maxDrawdownMicros or shareOfCapital.maxDrawdownBps"))]
#[serde(rename_all = "camelCase")]
pub struct RiskPolicySpec {
    /// The policy's mode, for every Strategy under it at once: `off` (the limits alone decide),
    /// `reduceOnly` (only sells, merges, redemptions and conversions pass; open buys are
    /// cancelled) or `halt` (nothing passes; every open order is cancelled). Cancels always pass.
    #[serde(default)]
    pub kill_switch: RiskMode,
    /// Trip-reset counter: a daily-loss or drawdown trip puts the policy in reduce-only until
    /// this number changes (or `tripCooldownSeconds` pass); the loss it tripped on then becomes
    /// the baseline the limits count from. Recorded in an Event.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub reset_trips: i64,
    /// A daily-loss or drawdown trip ends by itself this long after it happened. Unset: only a
    /// change of `resetTrips` ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604800))]
    pub trip_cooldown_seconds: Option<i32>,
    /// Largest single order, in micro-shares.
    #[schemars(range(min = 1))]
    pub max_order_size_micros: i64,
    /// The capital the limits protect, in micro-USDC: the money limits may then be given as a
    /// share of it (`shareOfCapital`). Reported in status with the limits it gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub capital_micros: Option<i64>,
    /// Money limits as shares of `capitalMicros`, in basis points. A limit given both ways is the
    /// tighter of the two; each of the four required money limits needs one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_of_capital: Option<CapitalShares>,
    /// Largest single order's notional (price x size), in micro-USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_order_notional_micros: Option<i64>,
    /// Largest absolute position per market (per token), in micro-shares.
    #[schemars(range(min = 1))]
    pub max_position_per_market_micros: i64,
    /// Largest gross exposure (cost of all positions plus open buy orders), in micro-USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_gross_exposure_micros: Option<i64>,
    /// Loss since the start of the UTC day (or the last trip reset), marked to market (realized
    /// plus the change of unrealized PnL), that trips the policy into reduce-only, in micro-USDC
    /// (positive number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_daily_loss_micros: Option<i64>,
    /// Drop of the marked equity (realized plus unrealized PnL) from its peak (since the last trip
    /// reset) that trips the policy into reduce-only, in micro-USDC (positive number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_drawdown_micros: Option<i64>,
    /// Orders (intents) per rolling minute across the policy's strategies.
    #[schemars(range(min = 1, max = 1000000))]
    pub max_orders_per_minute: i32,
    /// Orders (intents) per UTC day across the policy's strategies. Unset: no daily limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_orders_per_day: Option<i32>,
    /// Refuse orders when the book is thinner than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_book_liquidity: Option<MinBookLiquidity>,
    /// Consecutive-loss circuit breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Largest worst-case loss at resolution, in micro-USDC: what the positions and open buys
    /// cost minus the least they pay over every way their events may resolve (exact per event:
    /// a complete set loses nothing, a bare YES its cost). An order that would raise it above
    /// this is refused; one that lowers it (a hedge, a set's last leg) passes. Unset: no limit
    /// (the figure is still reported in status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_loss_at_resolution_micros: Option<i64>,
    /// Largest exposure (cost of positions plus open buys) in any one event (a binary market,
    /// or a neg-risk event's markets together), in micro-USDC. A buy that would take its event
    /// above it is refused. Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_event_exposure_micros: Option<i64>,
    /// Exposure limits per group of events, a group being the Markets that share a label's value
    /// (e.g. `category: crypto`, or a correlated underlying): each entry limits every group its
    /// label makes, each on its own. A Market without the label is in no group of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["label"]))]
    pub group_limits: Vec<GroupLimit>,
    /// Cap on a model-sized order's Kelly stake, in basis points of full Kelly (10000 = full
    /// Kelly): the gateway holds the stake in a token a directional model sized (its shares held
    /// and on order at the order's price) to `(p − c)/(1 − c)` of `capitalMicros` (else the gross
    /// exposure limit) times this. Orders no model sized are not bounded by it.
    #[serde(default = "default_kelly_cap")]
    #[schemars(range(min = 0, max = 10000))]
    pub kelly_fraction_cap_bps: i32,
    /// Webhook targets for trips, resets, mode changes, live order failures and the daily PnL
    /// summary (a notifier agent per policy sends them, paced and retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<crate::notifications::Notifications>,
}

/// A RiskPolicy's declared mode: `off` (the limits alone decide), `reduceOnly` (only what reduces
/// exposure passes) or `halt` (nothing passes).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum RiskMode {
    #[default]
    Off,
    ReduceOnly,
    Halt,
}

fn default_kelly_cap() -> i32 {
    2500
}

/// The exposure limit of the groups one Market label makes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.maxExposureMicros) || has(self.shareOfCapitalBps)").message("give maxExposureMicros or shareOfCapitalBps"))]
#[serde(rename_all = "camelCase")]
pub struct GroupLimit {
    /// The Market label whose values make the groups (a Kubernetes label key).
    #[schemars(
        length(min = 1, max = 317),
        regex(pattern = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    )]
    pub label: String,
    /// Largest exposure of each group, in micro-USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_exposure_micros: Option<i64>,
    /// Largest exposure of each group as a share of `capitalMicros`, in basis points (with
    /// `maxExposureMicros` too, the tighter applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub share_of_capital_bps: Option<i32>,
}

/// Money limits as shares of a RiskPolicy's `capitalMicros`, in basis points (10000 = all of it).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapitalShares {
    /// Largest single order's notional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_order_notional_bps: Option<i32>,
    /// Largest gross exposure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_gross_exposure_bps: Option<i32>,
    /// Daily loss (marked to market) that trips the policy into reduce-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_daily_loss_bps: Option<i32>,
    /// Drawdown of the marked equity that trips the policy into reduce-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_drawdown_bps: Option<i32>,
    /// Largest worst-case loss at resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_loss_at_resolution_bps: Option<i32>,
    /// Largest exposure in one event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_event_exposure_bps: Option<i32>,
}

/// The money limits in force, in micro-USDC: each the tighter of its absolute value and its
/// share of the capital (see [`RiskPolicySpec::capital_micros`]).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveLimits {
    /// Largest single order's notional.
    pub max_order_notional_micros: i64,
    /// Largest gross exposure.
    pub max_gross_exposure_micros: i64,
    /// Daily loss that trips the policy.
    pub max_daily_loss_micros: i64,
    /// Drawdown that trips the policy.
    pub max_drawdown_micros: i64,
    /// Largest worst-case loss at resolution; unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_loss_at_resolution_micros: Option<i64>,
    /// Largest exposure in one event; unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_event_exposure_micros: Option<i64>,
    /// The Kelly budget: the capital (else the gross exposure limit) times `kellyFractionCapBps`.
    #[serde(default)]
    pub kelly_budget_micros: i64,
}

impl RiskPolicySpec {
    /// The money limits in force: each the tighter of the absolute value and the share of the
    /// capital given (a share rounds down); a limit given neither way (the schema refuses that)
    /// is 0, which refuses every order it bounds.
    pub fn effective_limits(&self) -> EffectiveLimits {
        let shares = self.share_of_capital.clone().unwrap_or_default();
        let pick = |abs, bps| self.tighter(abs, bps);
        let gross = pick(self.max_gross_exposure_micros, shares.max_gross_exposure_bps).unwrap_or(0);
        let bankroll = i128::from(self.capital_micros.unwrap_or(gross).max(0));
        let kelly = bankroll * i128::from(self.kelly_fraction_cap_bps.clamp(0, 10_000)) / 10_000;
        EffectiveLimits {
            max_event_exposure_micros: pick(self.max_event_exposure_micros, shares.max_event_exposure_bps),
            kelly_budget_micros: i64::try_from(kelly).unwrap_or(i64::MAX),
            max_order_notional_micros: pick(self.max_order_notional_micros, shares.max_order_notional_bps).unwrap_or(0),
            max_gross_exposure_micros: gross,
            max_daily_loss_micros: pick(self.max_daily_loss_micros, shares.max_daily_loss_bps).unwrap_or(0),
            max_drawdown_micros: pick(self.max_drawdown_micros, shares.max_drawdown_bps).unwrap_or(0),
            max_loss_at_resolution_micros: pick(self.max_loss_at_resolution_micros, shares.max_loss_at_resolution_bps),
        }
    }

    /// Each group label's exposure limit in force, in micro-USDC: the tighter of the absolute
    /// value and the share of the capital given.
    pub fn effective_group_limits(&self) -> Vec<(String, i64)> {
        self.group_limits
            .iter()
            .map(|g| (g.label.clone(), self.tighter(g.max_exposure_micros, g.share_of_capital_bps).unwrap_or(0)))
            .collect()
    }

    /// The tighter of an absolute limit and a share (bps) of the capital, either given (a share
    /// rounds down; without capital it is not given).
    fn tighter(&self, abs: Option<i64>, bps: Option<i32>) -> Option<i64> {
        let share = bps.zip(self.capital_micros).map(|(bps, capital)| {
            let v = i128::from(capital.max(0)) * i128::from(bps.max(0)) / 10_000;
            i64::try_from(v).unwrap_or(i64::MAX)
        });
        match (abs, share) {
            (Some(a), Some(s)) => Some(a.min(s)),
            (a, s) => a.or(s),
        }
    }
}

/// Minimum resting liquidity on the side an order takes from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinBookLiquidity {
    /// Notional resting within withinBps of the best price, in micro-USDC.
    #[schemars(range(min = 1))]
    pub depth_micros: i64,
    /// Price distance from the best level that counts, in basis points.
    #[serde(default = "default_within_bps")]
    #[schemars(range(min = 1, max = 10000))]
    pub within_bps: i32,
}

fn default_within_bps() -> i32 {
    200
}

/// After this many losing round trips in a row, stop the strategy for a cooldown.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    /// Losing sell orders in a row that trip the breaker (an order that loses over several fills
    /// counts once; a sell at no loss ends the streak).
    #[schemars(range(min = 1, max = 1000))]
    pub consecutive_losses: i32,
    /// Seconds new orders are refused after a trip.
    #[schemars(range(min = 1, max = 604800))]
    pub cooldown_seconds: i32,
}

/// Observed risk state, aggregated from the risk store at a throttled rate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RiskPolicyStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled and LimitsApplied conditions.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Gross exposure in micro-USDC.
    #[serde(default)]
    pub exposure_micros: i64,
    /// Gross exposure in USDC as a decimal string, for display.
    #[serde(default)]
    pub exposure: String,
    /// Today's PnL marked to market in micro-USDC: realized today plus the change of unrealized
    /// PnL since the UTC day began (what `maxDailyLossMicros` counts).
    #[serde(default)]
    pub daily_pnl_micros: i64,
    /// Today's marked PnL in USDC as a decimal string, for display.
    #[serde(default)]
    pub daily_pnl: String,
    /// Today's realized PnL in micro-USDC (fills, settlements, conditional-token operations).
    #[serde(default)]
    pub realized_daily_pnl_micros: i64,
    /// Unrealized PnL of every Strategy's positions at the executor's conservative marks (bids
    /// for the size held, complete sets at 1 USDC, nothing for a stale book), in micro-USDC.
    #[serde(default)]
    pub unrealized_pnl_micros: i64,
    /// Unrealized PnL in USDC as a decimal string, for display.
    #[serde(default)]
    pub unrealized_pnl: String,
    /// Equity marked to market (realized PnL since the policy began plus unrealized), in micro-USDC.
    #[serde(default)]
    pub equity_micros: i64,
    /// Current drop of the marked equity from its peak in micro-USDC (what `maxDrawdownMicros` counts).
    #[serde(default)]
    pub drawdown_micros: i64,
    /// Worst-case loss at resolution in micro-USDC: exposure minus the least the positions and
    /// open buys pay over every allowed resolution (negative: a profit whatever happens).
    #[serde(default)]
    pub worst_case_loss_micros: i64,
    /// Worst-case loss at resolution in USDC as a decimal string, for display.
    #[serde(default)]
    pub worst_case_loss: String,
    /// Breakers currently tripped: `dailyLoss` or `drawdown` (the policy is reduce-only until a
    /// reset or the cooldown), `consecutiveLosses` (every order waits for the breaker's cooldown).
    #[serde(default)]
    pub tripped_breakers: Vec<String>,
    /// The mode in force: the declared `killSwitch`, or `reduceOnly` while a trip stands.
    #[serde(default)]
    pub mode: String,
    /// The daily-loss or drawdown trip in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trip: Option<TripStatus>,
    /// Daily-loss trips so far.
    #[serde(default)]
    pub daily_loss_trips: i64,
    /// Drawdown trips so far.
    #[serde(default)]
    pub drawdown_trips: i64,
    /// Orders approved this UTC day (against `maxOrdersPerDay`).
    #[serde(default)]
    pub orders_today: i64,
    /// The `resetTrips` counter the risk store applied last.
    #[serde(default)]
    pub reset_trips_applied: i64,
    /// Strategies referencing this policy.
    #[serde(default)]
    pub strategies: i32,
    /// The declared capital the share limits are taken of, in micro-USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capital_micros: Option<i64>,
    /// The money limits in force (each the tighter of its absolute value and its share of the
    /// capital), as the risk store holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_limits: Option<EffectiveLimits>,
    /// The UTC day (days since 1970-01-01) of the last status refresh: a refresh on a later day
    /// sends the summary of this one to the policy's notification targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pnl_day: Option<i64>,
    /// What merges, splits, redemptions and settlements did under the policy (all its strategies).
    #[serde(default)]
    pub lifecycle: crate::lifecycle::LifecycleStatus,
}

/// A standing daily-loss or drawdown trip.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TripStatus {
    /// `dailyLoss` or `drawdown`.
    pub reason: String,
    /// When it happened (RFC 3339).
    pub since: String,
    /// When its cooldown ends (RFC 3339); unset: it stands until `resetTrips` changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_limits_take_the_tighter_of_absolute_and_share() {
        let yaml = r#"
capitalMicros: 2000000000
shareOfCapital: {maxDailyLossBps: 250, maxGrossExposureBps: 5000, maxLossAtResolutionBps: 3333}
maxOrderSizeMicros: 1
maxOrderNotionalMicros: 40000000
maxPositionPerMarketMicros: 1
maxGrossExposureMicros: 900000000
maxDrawdownMicros: 70000000
maxOrdersPerMinute: 1
"#;
        let spec: RiskPolicySpec = serde_saphyr::from_str(yaml).unwrap();
        let e = spec.effective_limits();
        // 2.5% of 2000 = 50 (share only); 50% = 1000 above the absolute 900; 33.33% rounds down.
        assert_eq!(e.max_daily_loss_micros, 50_000_000);
        assert_eq!(e.max_gross_exposure_micros, 900_000_000);
        assert_eq!(e.max_drawdown_micros, 70_000_000);
        assert_eq!(e.max_order_notional_micros, 40_000_000);
        assert_eq!(e.max_loss_at_resolution_micros, Some(666_600_000));
        let tighter = RiskPolicySpec { max_gross_exposure_micros: Some(1_500_000_000), ..spec };
        assert_eq!(tighter.effective_limits().max_gross_exposure_micros, 1_000_000_000);
    }
}

//! `Market`: one tradable market on a Venue, named by exactly one source (condition id, slug,
//! explicit token ids, a rolling crypto series, or a neg-risk event), plus what the operator
//! resolved about it (token ids, question, end date, phase, top of book, feed health).
//!
//! Identity fields are immutable (CEL `self == oldSelf`): a Market that points somewhere else is
//! a different Market. Strategies select Markets by name or by label.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::Condition;
use crate::refs::LocalRef;

/// `binary` (one condition, YES and NO tokens) or `negRiskEvent` (a multi-outcome event of
/// mutually exclusive binary markets whose YES prices sum to 1).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum MarketType {
    #[default]
    Binary,
    NegRiskEvent,
}

/// Underlying asset of a rolling crypto up/down series.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum SeriesAsset {
    Btc,
    Eth,
    Sol,
    Xrp,
}

/// Round length of a rolling series: 5m, 15m, 1h, 4h or 1d.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum SeriesPeriod {
    #[serde(rename = "5m")]
    FiveMinutes,
    #[serde(rename = "15m")]
    FifteenMinutes,
    #[serde(rename = "1h")]
    OneHour,
    #[serde(rename = "4h")]
    FourHours,
    #[serde(rename = "1d")]
    OneDay,
}

/// Lifecycle phase of a Market: Pending (not yet resolved into tokens or not served by the CLOB
/// yet), Active, Halted (not accepting orders, or feed lost), Resolved.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum MarketPhase {
    #[default]
    Pending,
    Active,
    Halted,
    Resolved,
}

/// A Market: what to trade on a Venue.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "polyfleet.dev",
    version = "v1alpha1",
    kind = "Market",
    namespaced,
    status = "MarketStatus",
    shortname = "pfm",
    category = "polyfleet",
    doc = "A tradable market (binary or multi-outcome neg-risk event) on a Venue, and what was resolved about it.",
    printcolumn(name = "Venue", type_ = "string", json_path = ".spec.venueRef.name", description = "Venue"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type", description = "binary or negRiskEvent"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase", description = "Lifecycle phase"),
    printcolumn(
        name = "Bid",
        type_ = "string",
        json_path = ".status.tokens[0].bestBid",
        description = "Best bid of the first outcome"
    ),
    printcolumn(
        name = "Ask",
        type_ = "string",
        json_path = ".status.tokens[0].bestAsk",
        description = "Best ask of the first outcome"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp", description = "Age")
)]
#[x_kube(validation = Rule::new("[has(self.conditionId), has(self.slug), has(self.tokens), has(self.series), has(self.eventSlug)].filter(x, x).size() == 1").message("exactly one of conditionId, slug, tokens, series, eventSlug must be set"))]
#[x_kube(validation = Rule::new("!has(self.series) || self.type == 'binary'").message("series markets are binary").field_path(".series"))]
#[x_kube(validation = Rule::new("!has(self.eventSlug) || self.type == 'negRiskEvent'").message("eventSlug requires type negRiskEvent").field_path(".eventSlug"))]
#[x_kube(validation = Rule::new("!has(self.tokens) || self.type != 'binary' || size(self.tokens) == 2").message("a binary market has exactly 2 tokens (YES and NO)").field_path(".tokens"))]
#[x_kube(validation = Rule::new("!has(self.tokens) || self.type != 'negRiskEvent' || (size(self.tokens) >= 2 && self.tokens.all(t, has(t.conditionId)))").message("a negRiskEvent lists one YES token per outcome (at least 2), each with its conditionId").field_path(".tokens"))]
#[x_kube(validation = Rule::new("!has(self.tokens) || self.type == 'negRiskEvent' || self.tokens.all(t, !has(t.noTokenId))").message("noTokenId names a negRiskEvent outcome's NO; a binary market lists its NO as its second token").field_path(".tokens"))]
#[x_kube(validation = Rule::new("has(oldSelf.conditionId) == has(self.conditionId) && has(oldSelf.slug) == has(self.slug) && has(oldSelf.eventSlug) == has(self.eventSlug) && has(oldSelf.tokens) == has(self.tokens)").message("the market's identity (conditionId, slug, eventSlug, tokens) cannot be added or removed"))]
#[serde(rename_all = "camelCase")]
pub struct MarketSpec {
    /// Venue this market trades on. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("venueRef is immutable"))]
    pub venue_ref: LocalRef,
    /// binary (default) or negRiskEvent. Immutable.
    #[serde(default, rename = "type")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("type is immutable"))]
    pub type_: MarketType,
    /// Condition id (bytes32, 0x-prefixed hex) of a binary market. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^0x[0-9a-fA-F]{64}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("conditionId is immutable"))]
    pub condition_id: Option<String>,
    /// Gamma slug of a market. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("slug is immutable"))]
    pub slug: Option<String>,
    /// Explicit token ids: YES and NO for a binary market, one YES token per outcome for a
    /// negRiskEvent. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("tokens are immutable"))]
    pub tokens: Option<Vec<OutcomeToken>>,
    /// A rolling series (e.g. BTC 15-minute up/down rounds): the operator follows the current round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Series>,
    /// Gamma slug of a multi-outcome neg-risk event. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("eventSlug is immutable"))]
    pub event_slug: Option<String>,
}

/// One outcome token of a market.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeToken {
    /// Outcome label, e.g. Yes, No, or the candidate's name in a neg-risk event.
    #[schemars(length(min = 1, max = 128))]
    pub outcome: String,
    /// Token (position) id: a decimal uint256.
    #[schemars(regex(pattern = r"^[0-9]{1,78}$"))]
    pub token_id: String,
    /// Condition id of the binary market this token belongs to (required in a negRiskEvent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^0x[0-9a-fA-F]{64}$"))]
    pub condition_id: Option<String>,
    /// In a negRiskEvent: the NO token of this outcome's market (`tokenId` is its YES). With
    /// every outcome's NO named, complete-set arbitrage also trades the NO basket, which converts
    /// into n − 1 USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{1,78}$"))]
    pub no_token_id: Option<String>,
}

/// A rolling series of short crypto up/down markets, named on Polymarket
/// `{coin}-updown-{period}-{window start epoch}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    /// Underlying asset: btc, eth, sol or xrp.
    pub asset: SeriesAsset,
    /// Round length: 5m, 15m, 1h, 4h or 1d.
    pub period: SeriesPeriod,
}

/// What the operator resolved and observes about a Market.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled and FeedHealthy conditions.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Lifecycle phase.
    #[serde(default)]
    pub phase: MarketPhase,
    /// The market's question (or the event's title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// RFC 3339 end date announced by the venue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Whether the venue's neg-risk exchange trades this market.
    #[serde(default)]
    pub neg_risk: bool,
    /// Price tick as a decimal string, e.g. "0.01".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_size: Option<String>,
    /// Minimum order size in shares, as a decimal string, e.g. "5".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_order_size: Option<String>,
    /// The venue's taker base fee in basis points (0 when fees are off), as the CLOB reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_rate_bps: Option<i32>,
    /// The makers' share of taker fees paid back as rebates, basis points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maker_rebate_bps: Option<i32>,
    /// A neg-risk event's conversion fee, basis points: the neg-risk adapter's `getFeeBips` for the
    /// event, read from the chain at the Venue's Polygon RPC. Complete-set arbitrage prices the
    /// event's NO basket at it; while it is unknown the basket is not traded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_fee_bips: Option<u32>,
    /// The market's liquidity-reward program, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewards: Option<crate::rewards::RewardProgram>,
    /// Resolved tokens with a throttled top of book.
    #[serde(default)]
    pub tokens: Vec<TokenStatus>,
    /// Name of the market-data shard serving this market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// A series: the rounds in play, oldest first. The venue lists the running round and the
    /// next; an ended round stays until the venue has resolved it and a grace period has passed,
    /// so its positions settle. The agents trading, serving and executing the series follow
    /// them live, without restarting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<SeriesRound>,
}

/// One round of a series Market.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesRound {
    /// The round's market slug (`btc-updown-15m-<window start>`).
    pub slug: String,
    /// Condition id of its market.
    pub condition_id: String,
    /// The Up token (decimal uint256).
    pub up_token_id: String,
    /// The Down token.
    pub down_token_id: String,
    /// RFC 3339 end of the round's window.
    pub end_date: String,
    /// Minimum order size in shares, as a decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_order_size: Option<String>,
    /// The taker base fee, basis points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_rate_bps: Option<i32>,
    /// RFC 3339 time at which the operator first saw the venue close the round (resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

/// One resolved token and its throttled top of book.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenStatus {
    /// Outcome label.
    pub outcome: String,
    /// Token id (decimal uint256).
    pub token_id: String,
    /// Condition id of the token's binary market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_id: Option<String>,
    /// A neg-risk event's outcome: the NO token of its market (`tokenId` is the YES). Complete-set
    /// arbitrage buys the NO of every outcome as a basket that converts into n − 1 USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_token_id: Option<String>,
    /// Best bid price as a decimal string (throttled; not for trading decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_bid: Option<String>,
    /// Best ask price as a decimal string (throttled; not for trading decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_ask: Option<String>,
}

//! `Venue`: where to trade (Polymarket, or the local simulator), how to connect, how to shard
//! market data, and whether live trading is acknowledged.
//!
//! The operator runs one market-data Deployment per shard of the venue's assigned tokens and one
//! execution gateway per Venue. No real order can ever be sent unless
//! `spec.liveTrading.acknowledged` is true and a credentials Secret is referenced; the CEL rules
//! below make the second half of that impossible to forget.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::Condition;
use crate::refs::SecretRef;

/// Which venue protocol the agents speak: `polymarket` (CLOB V2) or `simulator` (polyfleet's own
/// venue simulator, speaking the same protocol; the default for local runs and tests).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum VenueKind {
    Polymarket,
    Simulator,
}

/// Execution mode: `paper` (match against the live book, nothing sent), `shadow` (orders built and
/// signed but not sent, compared with paper) or `live` (sent to the venue).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum ExecutionMode {
    #[default]
    Paper,
    Shadow,
    Live,
}

/// Signature type of the trading account (Polymarket): `eoa` (0), `polyProxy` (1, Magic/email
/// wallets), `gnosisSafe` (2) or `poly1271` (3, deposit wallets).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum SignatureType {
    #[default]
    Eoa,
    PolyProxy,
    GnosisSafe,
    Poly1271,
}

/// A Venue: connection, sharding and trading settings of one venue account.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "polyfleet.dev",
    version = "v1alpha1",
    kind = "Venue",
    namespaced,
    status = "VenueStatus",
    shortname = "pfv",
    category = "polyfleet",
    doc = "A trading venue account: endpoints, market-data sharding, rate limits and the live-trading acknowledgement.",
    printcolumn(name = "Kind", type_ = "string", json_path = ".spec.kind", description = "Venue protocol"),
    printcolumn(
        name = "Live",
        type_ = "boolean",
        json_path = ".spec.liveTrading.acknowledged",
        description = "Live trading acknowledged"
    ),
    printcolumn(
        name = "Shards",
        type_ = "integer",
        json_path = ".status.shards",
        description = "Market-data shards running"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp", description = "Age")
)]
#[x_kube(validation = Rule::new("!has(self.liveTrading) || !self.liveTrading.acknowledged || has(self.credentialsSecretRef)").message("liveTrading.acknowledged requires credentialsSecretRef").field_path(".liveTrading"))]
#[x_kube(validation = Rule::new("!has(self.simulator) || self.kind == 'simulator'").message("the simulator block is only allowed when kind is simulator").field_path(".simulator"))]
#[serde(rename_all = "camelCase")]
pub struct VenueSpec {
    /// Venue protocol: polymarket or simulator. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("kind is immutable"))]
    pub kind: VenueKind,
    /// Endpoints of the venue; empty fields take the venue's production defaults (Polymarket) or
    /// the operator-run simulator's addresses (simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    /// Secret holding the trading credentials: key privateKey (the signer's key, required for
    /// live and signed shadow orders), and optionally apiKey, apiSecret and apiPassphrase (derived
    /// from the key when absent), polygonRpcUrl and relayerApiKey (the relayer key of a Safe, proxy or deposit-wallet account).
    /// Only the execution agent gets them, as environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// How the venue's market data is split over connections and pods.
    #[serde(default)]
    pub sharding: Sharding,
    /// Execution mode used by Strategies on this venue that do not set one.
    #[serde(default)]
    pub default_mode: ExecutionMode,
    /// Live trading settings. Nothing is ever sent to the venue unless acknowledged is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_trading: Option<LiveTrading>,
    /// Client-side rate limits, per signer (token buckets).
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Model settings of the venue simulator (kind simulator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<SimulatorSettings>,
}

/// Venue endpoints (URLs). Each is optional and defaults per kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// CLOB REST base URL, e.g. https://clob.polymarket.com.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub clob: Option<String>,
    /// Gamma REST base URL, e.g. https://gamma-api.polymarket.com.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub gamma: Option<String>,
    /// Market-channel WebSocket URL, e.g. wss://ws-subscriptions-clob.polymarket.com/ws/market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub market_ws: Option<String>,
    /// User-channel WebSocket URL, e.g. wss://ws-subscriptions-clob.polymarket.com/ws/user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub user_ws: Option<String>,
    /// Real-time data stream WebSocket URL (crypto reference prices for the built-in up/down
    /// model), e.g. wss://ws-live-data.polymarket.com.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub rtds: Option<String>,
    /// Polygon JSON-RPC URL for live conditional-token operations (merge, split, redeem,
    /// convert): sent from the signer's own address (EOA accounts), or read (Safe, proxy and
    /// deposit-wallet accounts, whose transactions the relayer sends). The operator reads each
    /// neg-risk event's conversion fee here too (the Secret's URL is the agents' only: the
    /// operator reads no Secret). A URL that carries an API key belongs in
    /// the credentials Secret instead (key polygonRpcUrl); this field wins when both are set.
    /// Simulator Venues default to the simulator's chain; without either, live operations are
    /// refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub polygon_rpc: Option<String>,
    /// Polymarket's gasless relayer base URL, e.g. https://relayer-v2.polymarket.com: a Safe
    /// account's (signature type 2) conditional-token operations go through it, authenticated
    /// by the Secret's relayerApiKey. Simulator Venues default to the simulator's relayer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub relayer: Option<String>,
}

/// Market-data sharding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sharding {
    /// Maximum assets (token ids) subscribed on one WebSocket connection. Polymarket silently drops
    /// initial snapshots beyond about 500.
    #[serde(default = "default_assets_per_connection")]
    #[schemars(range(min = 1, max = 500))]
    pub assets_per_connection: i32,
    /// WebSocket connections held by one market-data pod; assets per pod = this x assetsPerConnection.
    #[serde(default = "default_connections_per_pod")]
    #[schemars(range(min = 1, max = 16))]
    pub connections_per_pod: i32,
}

fn default_assets_per_connection() -> i32 {
    200
}
fn default_connections_per_pod() -> i32 {
    2
}

impl Default for Sharding {
    fn default() -> Self {
        Self {
            assets_per_connection: default_assets_per_connection(),
            connections_per_pod: default_connections_per_pod(),
        }
    }
}

/// Live-trading acknowledgement and account settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveTrading {
    /// Must be true before any real order can be sent from this Venue. Setting it is the
    /// operator's explicit acknowledgement that real money is at stake.
    #[serde(default)]
    pub acknowledged: bool,
    /// Signature type of the account.
    #[serde(default)]
    pub signature_type: SignatureType,
    /// Funder (maker) wallet address, 0x-prefixed; required for proxy, safe and deposit wallets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^0x[0-9a-fA-F]{40}$"))]
    pub funder_address: Option<String>,
}

/// Per-signer token-bucket limits (Polymarket Standard tier by default: orders 40/s burst 60,
/// cancels 80/s burst 120).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.ordersBurst >= self.ordersPerSecond").message("ordersBurst must be at least ordersPerSecond"))]
#[x_kube(validation = Rule::new("self.cancelsBurst >= self.cancelsPerSecond").message("cancelsBurst must be at least cancelsPerSecond"))]
pub struct RateLimits {
    /// Sustained orders per second.
    #[serde(default = "default_orders_per_second")]
    #[schemars(range(min = 1, max = 10000))]
    pub orders_per_second: i32,
    /// Order bucket size (burst).
    #[serde(default = "default_orders_burst")]
    #[schemars(range(min = 1, max = 10000))]
    pub orders_burst: i32,
    /// Sustained cancels per second.
    #[serde(default = "default_cancels_per_second")]
    #[schemars(range(min = 1, max = 10000))]
    pub cancels_per_second: i32,
    /// Cancel bucket size (burst).
    #[serde(default = "default_cancels_burst")]
    #[schemars(range(min = 1, max = 10000))]
    pub cancels_burst: i32,
}

fn default_orders_per_second() -> i32 {
    40
}
fn default_orders_burst() -> i32 {
    60
}
fn default_cancels_per_second() -> i32 {
    80
}
fn default_cancels_burst() -> i32 {
    120
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            orders_per_second: default_orders_per_second(),
            orders_burst: default_orders_burst(),
            cancels_per_second: default_cancels_per_second(),
            cancels_burst: default_cancels_burst(),
        }
    }
}

/// Settings of the seeded venue simulator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.tradePercent + self.movePercent <= 100").message("tradePercent and movePercent share one step: at most 100 together"))]
pub struct SimulatorSettings {
    /// Seed of the stochastic model; the same seed gives the same market history.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub seed: i64,
    /// Market events per second the simulator emits across all its markets.
    #[serde(default = "default_sim_rate")]
    #[schemars(range(min = 1, max = 1000000))]
    pub events_per_second: i32,
    /// Share of neg-risk sets mispriced at any time, in basis points (0-10000), so an arbitrage
    /// strategy has something to find.
    #[serde(default = "default_mispricing_bps")]
    #[schemars(range(min = 0, max = 10000))]
    pub mispricing_bps: i32,
    /// Every simulated market resolves this many seconds (model time) after the simulator
    /// starts: YES wins where its fair price is at least one half, and a neg-risk event's
    /// favourite wins. Absent: markets resolve only on command (`POST /sim/resolve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31536000))]
    pub resolve_after_seconds: Option<i64>,
    /// Percent of a market's steps that are a taker trade against the top of its book.
    #[serde(default = "default_trade_percent")]
    #[schemars(range(min = 0, max = 100))]
    pub trade_percent: i32,
    /// Percent of a market's steps that move its fair price one tick (its quotes move with it,
    /// crossing resting orders in the way).
    #[serde(default = "default_move_percent")]
    #[schemars(range(min = 0, max = 100))]
    pub move_percent: i32,
    /// Percent of trades that are informed: the taker trades the way the fair price moves next,
    /// and it then moves (adverse selection a market maker can measure). The rest are
    /// uninformed: their side is a coin's and nothing follows them.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub informed_percent: i32,
    /// Taker fee rate of the simulated markets, basis points (the V2 formula
    /// `C·rate·p(1−p)`; 0: no fees).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub fee_rate_bps: i32,
    /// The makers' share of the taker fees, paid as rebates, basis points (the venue pays 2000
    /// in crypto, 2500 elsewhere).
    #[serde(default = "default_rebate_bps")]
    #[schemars(range(min = 0, max = 10000))]
    pub maker_rebate_bps: i32,
    /// A liquidity-reward program on every simulated market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewards: Option<crate::rewards::RewardProgram>,
    /// Venue seconds per wall-clock second (1: real time). The simulator runs its model, its
    /// up/down rounds and its resolutions at this pace, and every process of the Venue reads the
    /// same accelerated clock (its agents, its built-in models, and the operator's Market
    /// controller as it rolls a series to its next round), anchored at the Venue's creation: at 20
    /// a 15-minute round passes in 45 seconds. `eventsPerSecond` stays per wall second.
    #[serde(default = "default_clock_rate")]
    #[schemars(range(min = 1, max = 100))]
    pub clock_rate: i32,
}

impl Default for SimulatorSettings {
    /// What an empty `simulator: {}` block means (the fields' own defaults).
    fn default() -> Self {
        SimulatorSettings {
            seed: 0,
            events_per_second: default_sim_rate(),
            mispricing_bps: default_mispricing_bps(),
            resolve_after_seconds: None,
            trade_percent: default_trade_percent(),
            move_percent: default_move_percent(),
            informed_percent: 0,
            fee_rate_bps: 0,
            maker_rebate_bps: default_rebate_bps(),
            rewards: None,
            clock_rate: default_clock_rate(),
        }
    }
}

fn default_clock_rate() -> i32 {
    1
}

fn default_rebate_bps() -> i32 {
    2500
}

fn default_trade_percent() -> i32 {
    8
}
fn default_move_percent() -> i32 {
    32
}

fn default_sim_rate() -> i32 {
    200
}
fn default_mispricing_bps() -> i32 {
    500
}

/// Observed state of a Venue.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled and venue-specific conditions.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Market-data shards (Deployments) currently desired for this venue.
    #[serde(default)]
    pub shards: i32,
    /// Token ids assigned to this venue's shards.
    #[serde(default)]
    pub assigned_assets: i32,
}

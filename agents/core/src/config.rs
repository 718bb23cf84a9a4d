//! The contract between the operator and the agents, one typed definition for both sides: what an
//! order-path agent is told to do (the JSON the operator's planner writes into a ConfigMap, and the
//! local run into a file), the live parameter document the operator writes into the KV bucket
//! and the agent's acknowledgement of it, and the timer periods the agents and the backtest share.
//! Modes, strategy types and set kinds are enums; parameters are the strategy type's own struct,
//! whose bounds ([`ArbParams::validate`]) the CRD schema states too (a test in the operator holds
//! the two equal). Secrets never appear here.

use serde::{Deserialize, Serialize};

use crate::analytics::rewards::RewardRules;
use crate::money::FeeSchedule;
use crate::strategy::Instrument;
use crate::strategy::ParamsError;
use crate::strategy::arbitrage::{ArbParams, ArbSet, SetKind};
use crate::strategy::directional::params::DirParams;
use crate::strategy::market_making::QuotedMarket;
use crate::strategy::market_making::params::MmParams;
use crate::wire::{Mode, Outcome};
use crate::{ConditionId, Money, Price, Quantity, TokenId, TokenMap};

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// One token with its market's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenConfig {
    /// Condition id (0x + 64 hex).
    pub market: String,
    /// Token id (decimal).
    pub token: String,
    /// Minimum order size, micro-shares.
    pub min_size_micros: u64,
    /// Taker fee rate, basis points.
    #[serde(default)]
    pub fee_rate_bps: u32,
    /// Fee exponent.
    #[serde(default = "one")]
    pub fee_exponent: u32,
    /// The token's place in its event, planned by the operator from the Market (`None`: the
    /// risk gateway counts the token as paying nothing at resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The market's maker-rebate share of taker fees, basis points (at most 10 000).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub maker_rebate_bps: u32,
    /// The market's liquidity-reward program, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewards: Option<RewardConfig>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A market's liquidity-reward program, as the venue publishes it (Gamma `rewardsMinSize`,
/// `rewardsMaxSpread`, the daily rate of `clobRewards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RewardConfig {
    /// Orders smaller than this score nothing, micro-shares.
    pub min_size_micros: u64,
    /// The largest distance from the mid that scores, in ticks of 0.0001 (1 to 10 000).
    pub max_spread_ticks: u32,
    /// The daily pool, micro-USDC.
    pub daily_pool_micros: u64,
}

impl RewardConfig {
    /// As the core's rules; an error for a spread outside (0, 1].
    pub fn rules(&self) -> Result<RewardRules, ConfigError> {
        let max_spread = Price::from_ticks(self.max_spread_ticks)
            .filter(|p| p.ticks() > 0)
            .ok_or_else(|| bad(format!("reward max spread {} ticks: expected 1 to 10000", self.max_spread_ticks)))?;
        let pool = i64::try_from(self.daily_pool_micros).map_err(|_| bad("reward pool beyond range"))?;
        Ok(RewardRules {
            min_size: Quantity::from_micros(self.min_size_micros),
            max_spread,
            daily_pool: Money::from_micros(pool),
        })
    }
}

fn one() -> u32 {
    1
}

impl TokenConfig {
    /// As a core instrument.
    pub fn instrument(&self) -> Result<Instrument, ConfigError> {
        Ok(Instrument {
            market: ConditionId::parse(&self.market).map_err(|e| bad(format!("market {}: {e}", self.market)))?,
            token: TokenId::parse(&self.token).map_err(|e| bad(format!("token {}: {e}", self.token)))?,
            min_size: Quantity::from_micros(self.min_size_micros),
            fees: FeeSchedule { rate_bps: self.fee_rate_bps, exponent: self.fee_exponent },
        })
    }
}

/// The strategy agent's timer period (strategies' leg timeouts and the like are checked on it).
pub const STRATEGY_TIMER_NS: u64 = 100_000_000;
/// The execution agent's order-expiry period (GTD orders).
pub const EXPIRY_TIMER_NS: u64 = 500_000_000;

/// A complete set: the YES and NO of a binary market, the YES of every neg-risk outcome, or the
/// NO of every neg-risk outcome (a basket that converts into n − 1 USDC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetConfig {
    /// `binary`, `negRisk` or `noBasket`.
    pub kind: SetKind,
    /// The legs.
    pub legs: Vec<TokenConfig>,
    /// A NO basket's conversion fee: the neg-risk adapter's `negRiskFeeBips` for the event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub convert_fee_bips: u32,
}

/// A binary market to quote (market making): its YES and NO, end date and event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotedConfig {
    /// YES.
    pub yes: TokenConfig,
    /// NO.
    pub no: TokenConfig,
    /// End date, Unix ms (quoting stops before it and inventory shrinks towards it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
}

impl QuotedConfig {
    /// As the market maker's market; its event is the YES outcome's, else the market itself.
    pub fn quoted(&self) -> Result<QuotedMarket, ConfigError> {
        let yes = self.yes.instrument()?;
        let no = self.no.instrument()?;
        if yes.market != no.market || yes.token == no.token {
            return Err(bad(format!("quoted market {}: YES and NO of one market", self.yes.market)));
        }
        let event = self.yes.outcome.as_ref().map_or_else(|| self.yes.market.clone(), |o| o.event.clone());
        if self.yes.maker_rebate_bps > 10_000 {
            return Err(bad(format!("maker rebate {} bps: at most 10000", self.yes.maker_rebate_bps)));
        }
        let rewards = self.yes.rewards.as_ref().map(RewardConfig::rules).transpose()?;
        Ok(QuotedMarket {
            yes,
            no,
            end_ms: self.end_ms,
            event: Some(event),
            rebate_bps: self.yes.maker_rebate_bps,
            rewards,
        })
    }
}

/// The risk policy's per-order caps, which the strategy sizes within.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RiskCaps {
    /// Max order size, micro-shares.
    pub max_order_size_micros: u64,
    /// Max order notional, micro-USDC.
    pub max_order_notional_micros: i64,
    /// The policy's gross exposure limit, micro-USDC: the capital the strategy plans within (0:
    /// not given, the strategy leaves it to the risk gateway).
    #[serde(default)]
    pub max_gross_exposure_micros: i64,
    /// The policy's declared capital, micro-USDC (0: not declared): what model-sized stakes are
    /// fractions of (else the gross exposure limit).
    #[serde(default)]
    pub capital_micros: i64,
    /// The policy's Kelly budget (capital, else the gross limit, × `kellyFractionCapBps`),
    /// micro-USDC: the gateway caps a model-sized stake in a token at `f*` times it.
    #[serde(default)]
    pub kelly_budget_micros: i64,
}

/// The strategy types the agents implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StrategyType {
    /// Complete-set arbitrage.
    Arbitrage,
    /// Market making on binary markets.
    MarketMaking,
    /// Trading binary markets on models' fair-value signals.
    Directional,
    /// One tiny far-from-market order per book update: a latency probe for benchmarks, never for
    /// trading.
    Probe,
}

/// The probe's parameters: none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeParams {}

/// A strategy's parameters: its type's block. In JSON, just that block (the type is known from
/// the configuration it belongs to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StrategyParams {
    /// `arbitrage`.
    Arbitrage(ArbParams),
    /// `marketMaking`.
    MarketMaking(MmParams),
    /// `directional`.
    Directional(DirParams),
    /// `probe`.
    Probe(ProbeParams),
}

impl StrategyParams {
    /// The type they belong to.
    pub fn kind(&self) -> StrategyType {
        match self {
            StrategyParams::Arbitrage(_) => StrategyType::Arbitrage,
            StrategyParams::MarketMaking(_) => StrategyType::MarketMaking,
            StrategyParams::Directional(_) => StrategyType::Directional,
            StrategyParams::Probe(_) => StrategyType::Probe,
        }
    }

    /// Decodes and checks the block of a strategy of type `kind`.
    pub fn decode(kind: StrategyType, value: serde_json::Value) -> Result<StrategyParams, ParamsError> {
        let decoded = match kind {
            StrategyType::Arbitrage => serde_json::from_value(value).map(StrategyParams::Arbitrage),
            StrategyType::MarketMaking => serde_json::from_value(value).map(StrategyParams::MarketMaking),
            StrategyType::Directional => serde_json::from_value(value).map(StrategyParams::Directional),
            StrategyType::Probe => serde_json::from_value(value).map(StrategyParams::Probe),
        };
        let params = decoded.map_err(|e| ParamsError::Decode(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), ParamsError> {
        match self {
            StrategyParams::Arbitrage(p) => p.validate(),
            StrategyParams::MarketMaking(p) => p.validate(),
            StrategyParams::Directional(p) => p.validate(),
            StrategyParams::Probe(_) => Ok(()),
        }
    }
}

/// The live parameter document in the KV bucket `polyfleet-params`, key `<ns>.<strategy>`: the
/// Strategy's generation and its type's parameter block. The operator writes it; the agent
/// applies it and acknowledges it under `<key>.ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamsDoc {
    /// The Strategy's `metadata.generation`.
    pub generation: u64,
    /// The parameters.
    pub parameters: StrategyParams,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParamsDoc {
    generation: u64,
    parameters: serde_json::Value,
}

impl ParamsDoc {
    /// Decodes a document for a strategy of type `kind`; refused (with the generation when it
    /// could be read) when it is not one or its parameters are out of bounds.
    pub fn decode(kind: StrategyType, bytes: &[u8]) -> Result<ParamsDoc, (Option<u64>, ParamsError)> {
        let raw: RawParamsDoc = serde_json::from_slice(bytes)
            .map_err(|e| (None, ParamsError::Decode(format!("not a parameter document: {e}"))))?;
        let parameters = StrategyParams::decode(kind, raw.parameters).map_err(|e| (Some(raw.generation), e))?;
        Ok(ParamsDoc { generation: raw.generation, parameters })
    }

    /// As JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// The agent's answer to a parameter document, under `<key>.ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsAck {
    /// The document's generation (0 when it could not be read).
    pub generation: u64,
    /// Whether the parameters are now in force.
    pub applied: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A strategy agent's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawStrategyConfig")]
pub struct StrategyConfig {
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub name: String,
    /// RiskPolicy name.
    pub risk_policy: String,
    /// Venue name.
    pub venue: String,
    /// Paper, shadow or live.
    pub mode: Mode,
    /// The strategy type.
    #[serde(rename = "type")]
    pub type_: StrategyType,
    /// Per-order caps of the risk policy.
    pub risk_caps: RiskCaps,
    /// Arbitrage: the sets.
    #[serde(default)]
    pub sets: Vec<SetConfig>,
    /// Probe: the tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Market making: the markets quoted; directional: the binary markets traded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quoted: Vec<QuotedConfig>,
    /// Directional: the KV keys ([`crate::wire::subjects::rounds_key`]) of the `series` Markets
    /// whose rounds it trades as the venue lists them ([`RoundsDoc`]), added while it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<String>,
    /// Parameters until the KV bucket has some (of `type_`).
    pub parameters: StrategyParams,
    /// Drift alarms, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftConfig>,
    /// The live Strategy (same namespace) this one shadows: the agent compares their orders
    /// ([`crate::analytics::twins::TwinTracker`]) and reports under
    /// [`crate::wire::subjects::twins_key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_of: Option<String>,
    /// The turns it takes as an arm of a time-slot experiment (parked off them; see
    /// [`crate::strategy::parking`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_slots: Option<crate::analytics::experiment::SlotSchedule>,
}

/// A Strategy's drift alarms (its `drift` block; see [`crate::strategy::drift`]): what is
/// watched, how sensitive each test is, and the sizing rule while an alarm stands. The bounds
/// are the CRD schema's (a test in the operator holds them equal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DriftConfig {
    /// Horizon of the markouts watched, milliseconds.
    pub markout_horizon_ms: u64,
    /// Page–Hinkley's tolerance δ on markouts, price ppm per fill.
    pub markout_delta_ppm: u32,
    /// Page–Hinkley's threshold λ on markouts, price ppm cumulated.
    pub markout_lambda_ppm: u64,
    /// CUSUM's allowance k on slippage, price ppm per fill.
    pub slippage_allowance_ppm: u32,
    /// CUSUM's threshold h on slippage, price ppm cumulated.
    pub slippage_threshold_ppm: u64,
    /// Samples before a test may fire (CUSUM's reference is their mean); an alarm clears after
    /// as many samples of its metric without firing again.
    pub burn_in: u32,
    /// Size of new positions while an alarm stands, basis points of what the strategy would
    /// size (10 000: report only; 0: open nothing).
    pub size_factor_bps: u32,
}

impl DriftConfig {
    /// Full size: no cut.
    pub const FULL_SIZE_BPS: u32 = 10_000;
    /// The longest markout horizon (10 minutes).
    pub const MAX_HORIZON_MS: u64 = 600_000;
    /// The largest burn-in.
    pub const MAX_BURN_IN: u32 = 100_000;
    /// The largest per-fill tolerance (δ, k): a whole USDC a share.
    pub const MAX_PER_FILL_PPM: u32 = 1_000_000;

    /// Checks the bounds (the CRD schema states the same ones).
    pub fn validate(&self) -> Result<(), ParamsError> {
        let bad = |field: &'static str, reason: &str| Err(ParamsError::Invalid { field, message: reason.to_string() });
        if self.markout_horizon_ms == 0 || self.markout_horizon_ms > Self::MAX_HORIZON_MS {
            return bad("drift.markoutHorizonMs", "must be 1 ..= 600000");
        }
        if self.markout_delta_ppm > Self::MAX_PER_FILL_PPM || self.slippage_allowance_ppm > Self::MAX_PER_FILL_PPM {
            return bad("drift", "a per-fill tolerance is at most 1000000 ppm (a whole USDC a share)");
        }
        if self.markout_lambda_ppm == 0 || self.slippage_threshold_ppm == 0 {
            return bad("drift", "thresholds must be above 0");
        }
        if self.burn_in == 0 || self.burn_in > Self::MAX_BURN_IN {
            return bad("drift.burnIn", "must be 1 ..= 100000");
        }
        if self.size_factor_bps > Self::FULL_SIZE_BPS {
            return bad("drift.sizeFactorBps", "must be 0 ..= 10000");
        }
        Ok(())
    }
}

/// The rounds of a `series` Market in play: those the venue lists now (the running one and the
/// next) and those that ended and have not resolved yet, each a binary market with its end date.
/// Agents add the rounds they do not know yet and keep the ones they know (a resolved round is
/// inert). Written by the operator's Market controller under [`crate::wire::subjects::rounds_key`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoundsDoc {
    /// The rounds, oldest first.
    pub rounds: Vec<QuotedConfig>,
}

impl RoundsDoc {
    /// Parses and checks a document: every round a valid binary market with an end date.
    pub fn from_json(bytes: &[u8]) -> Result<RoundsDoc, ConfigError> {
        let doc: RoundsDoc = serde_json::from_slice(bytes).map_err(|e| bad(format!("rounds document: {e}")))?;
        for r in &doc.rounds {
            r.quoted()?;
            if r.end_ms.is_none() {
                return Err(bad(format!("round {}: no end date", r.yes.market)));
            }
        }
        Ok(doc)
    }
}

/// [`StrategyConfig`] as it reads, before its parameters are decoded for its type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawStrategyConfig {
    namespace: String,
    name: String,
    risk_policy: String,
    venue: String,
    mode: Mode,
    #[serde(rename = "type")]
    type_: StrategyType,
    risk_caps: RiskCaps,
    #[serde(default)]
    sets: Vec<SetConfig>,
    #[serde(default)]
    tokens: Vec<TokenConfig>,
    #[serde(default)]
    quoted: Vec<QuotedConfig>,
    #[serde(default)]
    series: Vec<String>,
    parameters: serde_json::Value,
    #[serde(default)]
    drift: Option<DriftConfig>,
    #[serde(default)]
    shadow_of: Option<String>,
    #[serde(default)]
    time_slots: Option<crate::analytics::experiment::SlotSchedule>,
}

impl TryFrom<RawStrategyConfig> for StrategyConfig {
    type Error = ParamsError;
    fn try_from(r: RawStrategyConfig) -> Result<StrategyConfig, ParamsError> {
        if let Some(d) = &r.drift {
            d.validate()?;
        }
        if let Some(t) = &r.time_slots {
            t.validate().map_err(|e| ParamsError::Invalid { field: "timeSlots", message: e.to_string() })?;
        }
        Ok(StrategyConfig {
            parameters: StrategyParams::decode(r.type_, r.parameters)?,
            drift: r.drift,
            namespace: r.namespace,
            name: r.name,
            risk_policy: r.risk_policy,
            venue: r.venue,
            mode: r.mode,
            type_: r.type_,
            risk_caps: r.risk_caps,
            sets: r.sets,
            tokens: r.tokens,
            quoted: r.quoted,
            series: r.series,
            shadow_of: r.shadow_of,
            time_slots: r.time_slots,
        })
    }
}

impl StrategyConfig {
    /// Parses and checks a configuration document.
    pub fn from_json(text: &str) -> Result<StrategyConfig, ConfigError> {
        serde_json::from_str(text).map_err(|e| bad(e.to_string()))
    }

    /// The arbitrage sets.
    pub fn arb_sets(&self) -> Result<Vec<ArbSet>, ConfigError> {
        self.sets
            .iter()
            .map(|s| {
                if s.kind == SetKind::Binary && s.legs.len() != 2 {
                    return Err(bad("a binary set has two legs (YES, NO)"));
                }
                if s.legs.len() < 2 {
                    return Err(bad("a set has at least two legs"));
                }
                if s.convert_fee_bips > 10_000 || (s.kind != SetKind::NoBasket && s.convert_fee_bips != 0) {
                    return Err(bad("convertFeeBips: a NO basket's, at most 10000"));
                }
                Ok(ArbSet {
                    kind: s.kind,
                    legs: s.legs.iter().map(TokenConfig::instrument).collect::<Result<_, _>>()?,
                    convert_fee_bips: s.convert_fee_bips,
                })
            })
            .collect()
    }

    /// Every token the strategy trades, with its market's rules: set legs, probe tokens, quoted
    /// markets' YES and NO.
    pub fn traded_tokens(&self) -> impl Iterator<Item = &TokenConfig> {
        let quoted = self.quoted.iter().flat_map(|q| [&q.yes, &q.no]);
        self.sets.iter().flat_map(|s| s.legs.iter()).chain(self.tokens.iter()).chain(quoted)
    }

    /// The planned outcome of every token that has one (every traded token), checked.
    pub fn outcomes(&self) -> Result<TokenMap<Outcome>, ConfigError> {
        let mut out = TokenMap::default();
        for t in self.traded_tokens() {
            let Some(o) = &t.outcome else { continue };
            o.validate().map_err(|e| bad(format!("token {}: {e}", t.token)))?;
            out.insert(TokenId::parse(&t.token).map_err(|e| bad(format!("token {}: {e}", t.token)))?, o.clone());
        }
        Ok(out)
    }

    /// The capital the strategy plans within (the policy's gross exposure limit), when given.
    pub fn capital(&self) -> Option<Money> {
        (self.risk_caps.max_gross_exposure_micros > 0)
            .then(|| Money::from_micros(self.risk_caps.max_gross_exposure_micros))
    }

    /// What model-sized stakes are fractions of: the policy's declared capital, else its gross
    /// exposure limit (zero when neither is given: nothing is sized).
    pub fn bankroll(&self) -> Money {
        let c = self.risk_caps.capital_micros;
        Money::from_micros(if c > 0 { c } else { self.risk_caps.max_gross_exposure_micros.max(0) })
    }

    /// The policy's Kelly budget.
    pub fn kelly_budget(&self) -> Money {
        Money::from_micros(self.risk_caps.kelly_budget_micros.max(0))
    }

    /// Max order size and notional.
    pub fn caps(&self) -> (Quantity, Money) {
        (
            Quantity::from_micros(self.risk_caps.max_order_size_micros),
            Money::from_micros(self.risk_caps.max_order_notional_micros),
        )
    }
}

/// Market rules an executor needs per token: minimum size and fees (the tick comes with the book).
pub fn instruments(tokens: &[TokenConfig]) -> Result<TokenMap<Instrument>, ConfigError> {
    tokens.iter().map(|t| t.instrument().map(|i| (i.token, i))).collect()
}

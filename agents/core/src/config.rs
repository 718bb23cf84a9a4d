//! What an order-path agent is told to do: the JSON the operator's planner writes into a
//! ConfigMap (and the local run into a file), and the agents read. One definition for both sides.
//! Secrets never appear here.

use serde::{Deserialize, Serialize};

use crate::money::FeeSchedule;
use crate::strategy::Instrument;
use crate::strategy::arbitrage::{ArbSet, SetKind};
use crate::wire::Mode;
use crate::{ConditionId, Money, Quantity, TokenId, TokenMap};

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

/// A complete set: the YES and NO of a binary market, or the YES of every neg-risk outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetConfig {
    /// `binary` or `negRisk`.
    pub kind: String,
    /// The legs.
    pub legs: Vec<TokenConfig>,
}

/// The risk policy's per-order caps, which the strategy sizes within.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RiskCaps {
    /// Max order size, micro-shares.
    pub max_order_size_micros: u64,
    /// Max order notional, micro-USDC.
    pub max_order_notional_micros: i64,
}

/// A strategy agent's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrategyConfig {
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub name: String,
    /// RiskPolicy name.
    pub risk_policy: String,
    /// Venue name.
    pub venue: String,
    /// `paper`, `shadow` or `live`.
    pub mode: String,
    /// `arbitrage`, or `probe` (one tiny far-from-market order per book update: a latency probe
    /// for benchmarks, never for trading).
    #[serde(rename = "type")]
    pub type_: String,
    /// Per-order caps of the risk policy.
    pub risk_caps: RiskCaps,
    /// Arbitrage: the sets.
    #[serde(default)]
    pub sets: Vec<SetConfig>,
    /// Probe: the tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Parameters until the KV bucket has some (the strategy type's block).
    pub parameters: serde_json::Value,
}

impl StrategyConfig {
    /// Parses and checks a configuration document.
    pub fn from_json(text: &str) -> Result<StrategyConfig, ConfigError> {
        let c: StrategyConfig = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        c.mode()?;
        Ok(c)
    }

    /// The execution mode.
    pub fn mode(&self) -> Result<Mode, ConfigError> {
        match self.mode.as_str() {
            "paper" => Ok(Mode::Paper),
            "shadow" => Ok(Mode::Shadow),
            "live" => Ok(Mode::Live),
            other => Err(bad(format!("mode {other:?}: expected paper, shadow or live"))),
        }
    }

    /// The arbitrage sets.
    pub fn arb_sets(&self) -> Result<Vec<ArbSet>, ConfigError> {
        self.sets
            .iter()
            .map(|s| {
                let kind = match s.kind.as_str() {
                    "binary" => SetKind::Binary,
                    "negRisk" => SetKind::NegRisk,
                    other => return Err(bad(format!("set kind {other:?}: expected binary or negRisk"))),
                };
                if kind == SetKind::Binary && s.legs.len() != 2 {
                    return Err(bad("a binary set has two legs (YES, NO)"));
                }
                if s.legs.len() < 2 {
                    return Err(bad("a set has at least two legs"));
                }
                Ok(ArbSet { kind, legs: s.legs.iter().map(TokenConfig::instrument).collect::<Result<_, _>>()? })
            })
            .collect()
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

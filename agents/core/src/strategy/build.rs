//! Builds the strategy a configuration document names, with its runner: one place, so the
//! strategy agent, the local fleet and the backtester run exactly the same state machine.

use super::Strategy;
use super::arbitrage::CompleteSetArb;
use super::directional::{DirCaps, Directional};
use super::market_making::MarketMaker;
use super::probe::Probe;
use super::runner::{Identity, StrategyRunner};
use crate::config::{ConfigError, QuotedConfig, StrategyConfig, StrategyParams, StrategyType, instruments};

/// The runner of `cfg`'s strategy; client order ids start with `prefix`.
pub fn build(cfg: &StrategyConfig, prefix: &str) -> Result<StrategyRunner, ConfigError> {
    let (max_size, max_notional) = cfg.caps();
    let strategy: Box<dyn Strategy> = match (&cfg.type_, &cfg.parameters) {
        (StrategyType::Arbitrage, StrategyParams::Arbitrage(params)) => Box::new(
            CompleteSetArb::new(cfg.arb_sets()?, params.clone(), max_size, max_notional)
                .map(|s| match cfg.capital() {
                    Some(capital) => s.with_capital(capital),
                    None => s,
                })
                .map_err(|e| ConfigError(e.to_string()))?,
        ),
        (StrategyType::MarketMaking, StrategyParams::MarketMaking(params)) => {
            let markets = cfg.quoted.iter().map(QuotedConfig::quoted).collect::<Result<Vec<_>, _>>()?;
            if markets.is_empty() {
                return Err(ConfigError("a market maker needs at least one binary market".into()));
            }
            // Live orders show in the venue's books; paper and shadow orders never do.
            let own_in_book = cfg.mode == crate::wire::Mode::Live;
            Box::new(
                MarketMaker::new(markets, params.clone())
                    .map_err(|e| ConfigError(e.to_string()))?
                    .with_own_orders_in_book(own_in_book),
            )
        }
        (StrategyType::Directional, StrategyParams::Directional(params)) => {
            let markets = cfg.quoted.iter().map(QuotedConfig::quoted).collect::<Result<Vec<_>, _>>()?;
            if markets.is_empty() && cfg.series.is_empty() {
                return Err(ConfigError("a directional strategy needs at least one binary market or series".into()));
            }
            let caps = DirCaps { bankroll: cfg.bankroll(), kelly_budget: cfg.kelly_budget(), max_size, max_notional };
            Box::new(Directional::new(markets, params.clone(), caps).map_err(|e| ConfigError(e.to_string()))?)
        }
        (StrategyType::Probe, StrategyParams::Probe(_)) => {
            Box::new(Probe::new(instruments(&cfg.tokens)?.into_values().collect()))
        }
        (t, p) => return Err(ConfigError(format!("{t:?} strategy with {:?} parameters", p.kind()))),
    };
    let id = Identity {
        namespace: cfg.namespace.clone(),
        strategy: cfg.name.clone(),
        risk_policy: cfg.risk_policy.clone(),
        venue: cfg.venue.clone(),
        mode: cfg.mode,
    };
    let outcomes = cfg.outcomes()?;
    StrategyRunner::new(id, strategy, prefix)
        .map(|r| r.with_outcomes(outcomes).with_drift(cfg.drift.clone()).with_turns(cfg.time_slots.clone()))
        .map_err(|e| ConfigError(format!("client order id prefix: {e}")))
}

//! The agents' configuration documents are defined once in the core
//! ([`polyfleet_core::config`]), shared with the operator that writes them; this file reads them.

pub use polyfleet_core::config::*;

/// Reads and checks a strategy configuration file.
pub fn load_strategy(path: &std::path::Path) -> anyhow::Result<StrategyConfig> {
    let text = std::fs::read_to_string(path)?;
    Ok(StrategyConfig::from_json(&text)?)
}

//! A market catalog: what the venue's Gamma API would answer about a set of markets (each
//! market's tokens, rules and neg-risk event), kept beside a recording (`<recording>.markets.json`)
//! so a backtest resolves `Market` resources without the venue, and built from the simulator's
//! model for a local run.

use std::path::{Path, PathBuf};

use polyfleet_core::{ConditionId, TokenId};
use serde::{Deserialize, Serialize};

use crate::http::markets::ResolvedMarket;

/// A neg-risk event: its slug and its markets (one per outcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEvent {
    /// Event slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Condition ids of its markets.
    pub markets: Vec<ConditionId>,
    /// The neg-risk adapter's conversion fee for the event, basis points (`getFeeBips`), when it
    /// was known as the catalog was written: a NO basket of the event is priced at it, and with
    /// none known no basket is traded.
    #[serde(default, rename = "convertFeeBips", skip_serializing_if = "Option::is_none")]
    pub convert_fee_bips: Option<u32>,
}

/// Markets and events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Every market.
    pub markets: Vec<ResolvedMarket>,
    /// Every neg-risk event.
    pub events: Vec<CatalogEvent>,
}

/// Why a catalog could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("market catalog {path}: {message}")]
pub struct CatalogError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl Catalog {
    /// Where the catalog of `recording` lives.
    pub fn beside(recording: &Path) -> PathBuf {
        let mut name = recording.as_os_str().to_owned();
        name.push(".markets.json");
        PathBuf::from(name)
    }

    /// Reads a catalog file.
    pub fn read(path: &Path) -> Result<Catalog, CatalogError> {
        let err = |message: String| CatalogError { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// Writes it (pretty JSON).
    pub fn write(&self, path: &Path) -> Result<(), CatalogError> {
        let err = |message: String| CatalogError { path: path.display().to_string(), message };
        let text = serde_json::to_string_pretty(self).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| err(e.to_string()))
    }

    /// The market of a condition id.
    pub fn by_condition(&self, c: &ConditionId) -> Option<&ResolvedMarket> {
        self.markets.iter().find(|m| m.condition_id == *c)
    }

    /// The market with a slug.
    pub fn by_slug(&self, slug: &str) -> Option<&ResolvedMarket> {
        self.markets.iter().find(|m| m.slug == slug)
    }

    /// The market a token belongs to.
    pub fn by_token(&self, t: &TokenId) -> Option<&ResolvedMarket> {
        self.markets.iter().find(|m| m.tokens.iter().any(|x| x.token_id == *t))
    }

    /// The neg-risk event one of whose markets is `c`.
    pub fn event_of(&self, c: &ConditionId) -> Option<&CatalogEvent> {
        self.events.iter().find(|e| e.markets.contains(c))
    }

    /// The markets of a neg-risk event, in outcome order; `None` for an unknown slug.
    pub fn event(&self, slug: &str) -> Option<Vec<&ResolvedMarket>> {
        let e = self.events.iter().find(|e| e.slug == slug)?;
        Some(e.markets.iter().filter_map(|c| self.by_condition(c)).collect())
    }
}

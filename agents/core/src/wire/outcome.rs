//! Where a token sits among the outcomes that resolve together: what the risk gateway needs to
//! compute the exact worst-case loss at resolution ([`crate::risk::worst_case`]).
//!
//! An *event* is a set of binary markets of which at most one resolves YES: a plain binary market
//! is an event of one market (its NO wins when it does not resolve YES); a neg-risk event's
//! markets are its outcomes, exactly one of which wins when the markets listed cover every
//! outcome (`exhaustive`). The structure comes from the operator's plan of a strategy's Markets
//! (never from a strategy's own judgement) and rides on every order intent; the gateway records
//! it for a token at the token's first approved order, and the first record stands.
//!
//! An outcome also names the exposure *groups* of its event (`label=value` of the Market's labels
//! that its RiskPolicy groups by, e.g. a category or a correlated underlying): the gateway limits
//! the exposure of each group as it does each event's. They are recorded with the event, at its
//! first approved order, and that record stands too.

use serde::{Deserialize, Serialize};

use crate::ids::ConditionId;

/// Most markets one event may have (the Market CRD allows 64 tokens).
pub const MAX_EVENT_MARKETS: u16 = 64;
/// Longest event key.
pub const MAX_EVENT_KEY: usize = 128;
/// Most exposure groups one event may belong to (a RiskPolicy groups by at most this many labels).
pub const MAX_GROUPS: usize = 4;
/// Longest group key (`label=value`: a label key of up to 253 + 63 characters and a value of 63).
pub const MAX_GROUP_KEY: usize = 384;

/// A token's place in its event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Outcome {
    /// The event's key: a binary market's condition id, or `event:<Market name>` for a neg-risk
    /// event (no whitespace, not starting with `=`, which marks settled tokens in the store).
    pub event: String,
    /// The token's market within the event, `0..markets`.
    pub index: u16,
    /// True for the market's YES token, false for its NO token.
    pub yes: bool,
    /// How many markets the event has.
    pub markets: u16,
    /// True when exactly one of the markets resolves YES (a neg-risk event whose markets cover
    /// every outcome); false when none may (a binary market's NO; an event listed in part).
    pub exhaustive: bool,
    /// The event's exposure groups, `label=value` each (no whitespace, at most [`MAX_GROUPS`]).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Why an [`Outcome`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutcomeError {
    /// The event key is empty, too long, starts with `=` or holds whitespace.
    #[error("event key {0:?} is empty, longer than {MAX_EVENT_KEY} bytes, starts with '=' or holds whitespace")]
    Key(String),
    /// The market count or index is out of range.
    #[error("market {index} of {markets}: out of range (1..={MAX_EVENT_MARKETS} markets)")]
    Index {
        /// The index.
        index: u16,
        /// The count.
        markets: u16,
    },
    /// A group key is malformed, or there are too many.
    #[error("exposure groups {0:?}: at most {MAX_GROUPS}, each label=value without whitespace")]
    Groups(Vec<String>),
}

impl Outcome {
    /// The YES (`yes`) or NO token of a plain binary market.
    pub fn binary(market: &ConditionId, yes: bool) -> Outcome {
        Outcome { event: market.to_string(), index: 0, yes, markets: 1, exhaustive: false, groups: vec![] }
    }

    /// Checks the ranges and the key.
    pub fn validate(&self) -> Result<(), OutcomeError> {
        if self.event.is_empty()
            || self.event.len() > MAX_EVENT_KEY
            || self.event.starts_with('=')
            || self.event.chars().any(char::is_whitespace)
        {
            return Err(OutcomeError::Key(self.event.clone()));
        }
        if self.markets == 0 || self.markets > MAX_EVENT_MARKETS || self.index >= self.markets {
            return Err(OutcomeError::Index { index: self.index, markets: self.markets });
        }
        let bad_group = |g: &String| {
            g.len() > MAX_GROUP_KEY
                || g.chars().any(char::is_whitespace)
                || g.split_once('=').is_none_or(|(k, _)| k.is_empty())
        };
        if self.groups.len() > MAX_GROUPS || self.groups.iter().any(bad_group) {
            return Err(OutcomeError::Groups(self.groups.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ranges_are_checked() {
        let ok = Outcome {
            event: "event:who-wins".into(),
            index: 2,
            yes: true,
            markets: 3,
            exhaustive: true,
            groups: vec!["category=politics".into(), "polyfleet.dev/underlying=".into()],
        };
        assert_eq!(ok.validate(), Ok(()));
        for groups in [vec!["no-equals".to_string()], vec!["=v".into()], vec!["a=b c".into()], vec!["a=b".into(); 5]] {
            let bad = Outcome { groups: groups.clone(), ..ok.clone() };
            assert_eq!(bad.validate(), Err(OutcomeError::Groups(groups)));
        }
        let bad_key = Outcome { event: "a b".into(), ..ok.clone() };
        assert!(matches!(bad_key.validate(), Err(OutcomeError::Key(_))));
        let bad_index = Outcome { index: 3, ..ok.clone() };
        assert!(matches!(bad_index.validate(), Err(OutcomeError::Index { .. })));
        let too_many = Outcome { markets: MAX_EVENT_MARKETS + 1, ..ok };
        assert!(too_many.validate().is_err());
    }
}

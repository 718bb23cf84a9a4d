//! The directional strategy's parameters: the `directional` block of a Strategy as the agent runs
//! it, with the bounds the CRD schema states too (the operator's contract test holds them equal).
//! Edges are in basis points of the 1 USDC a share pays at most (100 = one cent).

use serde::{Deserialize, Serialize};

use crate::strategy::ParamsError;
use crate::strategy::market_making::params::Band;

/// How a position is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Entry {
    /// Take the ask (fill-and-kill at the ask; fees paid).
    Taker,
    /// Rest a post-only bid inside the spread (no fee; filled only when flow comes).
    Passive,
}

/// Parameters of [`super::Directional`]. In JSON each field has the CRD's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirParams {
    /// The models whose fair-value signals it trades on (their `model` ids); others are ignored.
    pub signals: Vec<String>,
    /// A signal published longer ago than this is stale (besides its own `validUntilMs`), ms.
    pub max_signal_age_ms: Option<u64>,
    /// Fraction of the Kelly stake bet, bps (2500 = quarter Kelly); the RiskPolicy's Kelly cap
    /// bounds it too.
    pub kelly_fraction_bps: u32,
    /// Edge (probability less cost with fees) needed to enter or scale in, bps of 1 USDC.
    pub entry_edge_bps: u32,
    /// A position is closed when its edge (probability less what selling pays after fees)
    /// falls below this, bps of 1 USDC; below the entry edge.
    pub exit_edge_bps: u32,
    /// Close when the position's value at the bid has lost this share of its cost, bps.
    pub stop_loss_bps: Option<u32>,
    /// Close when it has gained this share of its cost, bps.
    pub take_profit_bps: Option<u32>,
    /// Taker or passive entries.
    pub entry: Entry,
    /// Entries after the first that may add to a position (towards its Kelly target).
    pub max_scale_ins: u32,
    /// Positions are closed, and none opened, this long before the market's end date (s);
    /// `None`: held to resolution.
    #[serde(rename = "closeBeforeEndSeconds")]
    pub close_before_end_s: Option<u64>,
    /// After a position is closed, no new one in the market for this long, ms.
    pub reentry_cooldown_ms: u64,
    /// Never enter outside this price band.
    pub price_band: Option<Band>,
}

impl DirParams {
    /// Most signal sources a Strategy follows.
    pub const MAX_SIGNALS: usize = 16;
    /// Most scale-ins.
    pub const MAX_SCALE_INS: u32 = 20;
    /// Longest close-before-end window (30 days).
    pub const MAX_CLOSE_BEFORE_END_S: u64 = 2_592_000;
    /// Longest re-entry cooldown (1 day).
    pub const MAX_COOLDOWN_MS: u64 = 86_400_000;
    /// Longest signal age (1 day).
    pub const MAX_SIGNAL_AGE_MS: u64 = 86_400_000;

    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let bad = |field: &'static str, message: String| Err(ParamsError::Invalid { field, message });
        if self.signals.is_empty() || self.signals.len() > Self::MAX_SIGNALS {
            return bad("signals", format!("must name 1 to {} models", Self::MAX_SIGNALS));
        }
        if self.signals.iter().any(|s| s.is_empty() || s.len() > 128 || s.chars().any(char::is_control)) {
            return bad("signals", "model ids are 1 to 128 printable characters".into());
        }
        if self.max_signal_age_ms.is_some_and(|a| a == 0 || a > Self::MAX_SIGNAL_AGE_MS) {
            return bad("maxSignalAgeMs", format!("must be 1 to {}", Self::MAX_SIGNAL_AGE_MS));
        }
        if self.kelly_fraction_bps == 0 || self.kelly_fraction_bps > 10_000 {
            return bad("kellyFractionBps", "must be 1 to 10000".into());
        }
        if self.entry_edge_bps > 10_000 {
            return bad("entryEdgeBps", "must be at most 10000".into());
        }
        if self.exit_edge_bps >= self.entry_edge_bps {
            return bad("exitEdgeBps", "must be below entryEdgeBps".into());
        }
        if self.stop_loss_bps.is_some_and(|b| b == 0 || b > 10_000) {
            return bad("stopLossBps", "must be 1 to 10000".into());
        }
        if self.take_profit_bps.is_some_and(|b| b == 0 || b > 100_000) {
            return bad("takeProfitBps", "must be 1 to 100000".into());
        }
        if self.max_scale_ins > Self::MAX_SCALE_INS {
            return bad("maxScaleIns", format!("must be at most {}", Self::MAX_SCALE_INS));
        }
        if self.close_before_end_s.is_some_and(|s| s > Self::MAX_CLOSE_BEFORE_END_S) {
            return bad("closeBeforeEndSeconds", format!("must be at most {}", Self::MAX_CLOSE_BEFORE_END_S));
        }
        if self.reentry_cooldown_ms > Self::MAX_COOLDOWN_MS {
            return bad("reentryCooldownMs", format!("must be at most {}", Self::MAX_COOLDOWN_MS));
        }
        if let Some(b) = self.price_band
            && (b.min >= b.max || b.min.ticks() == 0 || b.max >= crate::money::Price::ONE)
        {
            return bad("priceBand", "must lie strictly inside (0, 1) with min below max".into());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Valid parameters: quarter Kelly, 3 cents to enter, 1 to stay, taker entries.
    pub(crate) fn params() -> DirParams {
        DirParams {
            signals: vec!["m".into()],
            max_signal_age_ms: None,
            kelly_fraction_bps: 2500,
            entry_edge_bps: 300,
            exit_edge_bps: 100,
            stop_loss_bps: None,
            take_profit_bps: None,
            entry: Entry::Taker,
            max_scale_ins: 0,
            close_before_end_s: None,
            reentry_cooldown_ms: 0,
            price_band: None,
        }
    }

    #[test]
    fn bounds_are_checked() {
        assert_eq!(params().validate(), Ok(()));
        let field = |p: DirParams| match p.validate() {
            Err(ParamsError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(DirParams { signals: vec![], ..params() }), "signals");
        assert_eq!(field(DirParams { kelly_fraction_bps: 0, ..params() }), "kellyFractionBps");
        assert_eq!(field(DirParams { exit_edge_bps: 300, ..params() }), "exitEdgeBps");
        assert_eq!(field(DirParams { stop_loss_bps: Some(0), ..params() }), "stopLossBps");
        assert_eq!(field(DirParams { max_scale_ins: 21, ..params() }), "maxScaleIns");
        assert_eq!(field(DirParams { max_signal_age_ms: Some(0), ..params() }), "maxSignalAgeMs");
    }
}

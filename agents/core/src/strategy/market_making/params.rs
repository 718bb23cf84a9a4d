//! The market maker's parameters: the `marketMaking` block of a Strategy as the agent runs it,
//! with the bounds the CRD schema states too (the operator's contract test holds them equal).
//! Decimals (γ, κ) travel as millionths, parsed exactly from the CRD's decimal strings; nothing
//! here is a float (the model turns them into its own numbers).

use serde::{Deserialize, Serialize};

use crate::money::{Price, Quantity};
use crate::strategy::ParamsError;

/// A price band quotes stay inside (both ends strictly between 0 and 1, `min < max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Lowest price quoted.
    pub min: Price,
    /// Highest price quoted.
    pub max: Price,
}

/// Parameters of [`super::MarketMaker`]. Sizes in micro-shares, prices in the book's units,
/// spreads in basis points of the 1 USDC a share pays at most (100 = one cent). In JSON (the KV
/// document, sweep keys) each field has the CRD's name, but γ and κ are `gammaMicros` and
/// `kappaMicros` (millionths, not decimal strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MmParams {
    /// Risk aversion γ, in millionths (per share of inventory in order-size lots).
    pub gamma_micros: u64,
    /// Order-arrival decay κ per unit of price distance, in millionths; `None`: estimated from
    /// the taker flow (shrunk to a prior of 100 per unit, i.e. e-fold per cent).
    pub kappa_micros: Option<u64>,
    /// Quote levels per side.
    pub levels: u32,
    /// Ticks between levels.
    pub level_spacing_ticks: u32,
    /// Size of each quote, micro-shares (one inventory lot).
    pub order_size_micros: u64,
    /// Least total spread quoted (ask − bid of the first level), bps of 1 USDC.
    pub min_spread_bps: u32,
    /// Most total spread quoted, bps of 1 USDC.
    pub max_spread_bps: u32,
    /// Inventory the quotes skew towards (YES shares less NO shares), micro-shares.
    pub inventory_target_micros: i64,
    /// Largest inventory (either way) a market may hold: beyond it only reducing quotes.
    pub max_inventory_micros: u64,
    /// Largest inventory of an event's markets together (sum of absolute inventories); beyond
    /// it only reducing quotes. `None`: no event limit.
    pub max_event_inventory_micros: Option<u64>,
    /// Least time between two requotes of one market (pulls are immediate), ms.
    pub refresh_interval_ms: u32,
    /// A quote is replaced when its price is this many ticks or more from the model's.
    pub refresh_tolerance_ticks: u32,
    /// ... or its size differs from the model's by more than this many percent.
    pub size_tolerance_pct: u32,
    /// ... or it is older than this (ms).
    pub max_order_age_ms: u64,
    /// Quoting stops this long before the market's end date (s).
    #[serde(rename = "stopBeforeEndSeconds")]
    pub stop_before_end_s: u64,
    /// The inventory limit shrinks linearly over the last this-many seconds before the end.
    #[serde(rename = "inventoryRampSeconds")]
    pub inventory_ramp_s: u64,
    /// Half-life of the volatility and arrival estimators (s).
    #[serde(rename = "estimatorHalfLifeSeconds")]
    pub estimator_half_life_s: u64,
    /// Quotes are pulled when the average 30-second markout of our fills falls below minus this
    /// (bps of 1 USDC) over at least five fills: toxic flow.
    pub toxic_markout_bps: u32,
    /// How long a toxic-flow alarm keeps quotes pulled (ms).
    pub toxic_pause_ms: u64,
    /// Quotes are GTD with this life (s; the venue adds its 60-second minimum); `None`: GTC.
    #[serde(rename = "quoteTtlSeconds")]
    pub quote_ttl_s: Option<u64>,
    /// Never quote outside this band.
    pub price_band: Option<Band>,
}

impl MmParams {
    /// Largest γ or κ (the CRD's decimal strings: six digits and six decimals).
    pub const MAX_DECIMAL_MICROS: u64 = 999_999_999_999;
    /// Most levels per side.
    pub const MAX_LEVELS: u32 = 10;
    /// Most ticks between levels.
    pub const MAX_LEVEL_SPACING_TICKS: u32 = 100;
    /// Most spread, bps.
    pub const MAX_SPREAD_BPS: u32 = 10_000;
    /// Refresh interval bounds, ms.
    pub const REFRESH_MS: (u32, u32) = (10, 3_600_000);
    /// Most refresh tolerance, ticks.
    pub const MAX_TOLERANCE_TICKS: u32 = 100;
    /// Most size tolerance, percent.
    pub const MAX_SIZE_TOLERANCE_PCT: u32 = 100;
    /// Order age bounds, ms.
    pub const ORDER_AGE_MS: (u64, u64) = (1_000, 86_400_000);
    /// Most of the end-date windows, s.
    pub const MAX_WINDOW_S: u64 = 30 * 86_400;
    /// Half-life bounds, s.
    pub const HALF_LIFE_S: (u64, u64) = (1, 86_400);
    /// Most toxic pause, ms.
    pub const MAX_TOXIC_PAUSE_MS: u64 = 3_600_000;
    /// Most quote life, s.
    pub const MAX_TTL_S: u64 = 86_400;

    /// One lot.
    pub fn lot(&self) -> Quantity {
        Quantity::from_micros(self.order_size_micros)
    }

    /// Checks every bound.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let bad = |field: &'static str, message: String| Err(ParamsError::Invalid { field, message });
        if self.gamma_micros == 0 || self.gamma_micros > Self::MAX_DECIMAL_MICROS {
            return bad("gamma", "must be above 0 and below 1000000".into());
        }
        if self.kappa_micros.is_some_and(|k| k == 0 || k > Self::MAX_DECIMAL_MICROS) {
            return bad("kappa", "must be auto, or above 0 and below 1000000".into());
        }
        if self.levels == 0 || self.levels > Self::MAX_LEVELS {
            return bad("levels", format!("must be 1 to {}", Self::MAX_LEVELS));
        }
        if self.level_spacing_ticks == 0 || self.level_spacing_ticks > Self::MAX_LEVEL_SPACING_TICKS {
            return bad("levelSpacingTicks", format!("must be 1 to {}", Self::MAX_LEVEL_SPACING_TICKS));
        }
        if self.order_size_micros == 0 || self.order_size_micros > i64::MAX as u64 {
            return bad("orderSizeMicros", "must be positive".into());
        }
        if self.max_spread_bps > Self::MAX_SPREAD_BPS {
            return bad("maxSpreadBps", format!("must be at most {}", Self::MAX_SPREAD_BPS));
        }
        if self.min_spread_bps > self.max_spread_bps {
            return bad("minSpreadBps", "must not exceed maxSpreadBps".into());
        }
        if self.max_inventory_micros == 0 || self.max_inventory_micros > i64::MAX as u64 {
            return bad("maxInventoryMicros", "must be positive".into());
        }
        if self.inventory_target_micros.unsigned_abs() > self.max_inventory_micros {
            return bad("inventoryTargetMicros", "must be within maxInventoryMicros either way".into());
        }
        if self.max_event_inventory_micros.is_some_and(|m| m == 0 || m > i64::MAX as u64) {
            return bad("maxEventInventoryMicros", "must be positive".into());
        }
        let (lo, hi) = Self::REFRESH_MS;
        if !(lo..=hi).contains(&self.refresh_interval_ms) {
            return bad("refreshIntervalMs", format!("must be {lo} to {hi}"));
        }
        if self.refresh_tolerance_ticks == 0 || self.refresh_tolerance_ticks > Self::MAX_TOLERANCE_TICKS {
            return bad("refreshToleranceTicks", format!("must be 1 to {}", Self::MAX_TOLERANCE_TICKS));
        }
        if self.size_tolerance_pct > Self::MAX_SIZE_TOLERANCE_PCT {
            return bad("sizeTolerancePct", format!("must be at most {}", Self::MAX_SIZE_TOLERANCE_PCT));
        }
        let (lo, hi) = Self::ORDER_AGE_MS;
        if !(lo..=hi).contains(&self.max_order_age_ms) {
            return bad("maxOrderAgeMs", format!("must be {lo} to {hi}"));
        }
        if self.stop_before_end_s > Self::MAX_WINDOW_S {
            return bad("stopBeforeEndSeconds", format!("must be at most {}", Self::MAX_WINDOW_S));
        }
        if self.inventory_ramp_s > Self::MAX_WINDOW_S {
            return bad("inventoryRampSeconds", format!("must be at most {}", Self::MAX_WINDOW_S));
        }
        let (lo, hi) = Self::HALF_LIFE_S;
        if !(lo..=hi).contains(&self.estimator_half_life_s) {
            return bad("estimatorHalfLifeSeconds", format!("must be {lo} to {hi}"));
        }
        if self.toxic_markout_bps > Self::MAX_SPREAD_BPS {
            return bad("toxicMarkoutBps", format!("must be at most {}", Self::MAX_SPREAD_BPS));
        }
        if self.toxic_pause_ms > Self::MAX_TOXIC_PAUSE_MS {
            return bad("toxicPauseMs", format!("must be at most {}", Self::MAX_TOXIC_PAUSE_MS));
        }
        if self.quote_ttl_s.is_some_and(|t| t == 0 || t > Self::MAX_TTL_S) {
            return bad("quoteTtlSeconds", format!("must be 1 to {}", Self::MAX_TTL_S));
        }
        if let Some(b) = self.price_band
            && (!b.min.is_tradable() || !b.max.is_tradable() || b.min >= b.max)
        {
            return bad("priceBand", "both ends in (0, 1), min below max".into());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) fn example() -> MmParams {
    MmParams {
        gamma_micros: 100_000,
        kappa_micros: None,
        levels: 2,
        level_spacing_ticks: 1,
        order_size_micros: 10_000_000,
        min_spread_bps: 200,
        max_spread_bps: 1_000,
        inventory_target_micros: 0,
        max_inventory_micros: 50_000_000,
        max_event_inventory_micros: None,
        refresh_interval_ms: 500,
        refresh_tolerance_ticks: 1,
        size_tolerance_pct: 20,
        max_order_age_ms: 60_000,
        stop_before_end_s: 300,
        inventory_ramp_s: 3_600,
        estimator_half_life_s: 300,
        toxic_markout_bps: 300,
        toxic_pause_ms: 30_000,
        quote_ttl_s: None,
        price_band: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_valid_and_each_bound_is_checked() {
        assert_eq!(example().validate(), Ok(()));
        let field = |p: MmParams| match p.validate() {
            Err(ParamsError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(MmParams { gamma_micros: 0, ..example() }), "gamma");
        assert_eq!(field(MmParams { kappa_micros: Some(0), ..example() }), "kappa");
        assert_eq!(field(MmParams { levels: 11, ..example() }), "levels");
        assert_eq!(field(MmParams { min_spread_bps: 2_000, ..example() }), "minSpreadBps");
        assert_eq!(field(MmParams { inventory_target_micros: -60_000_000, ..example() }), "inventoryTargetMicros");
        assert_eq!(field(MmParams { refresh_interval_ms: 5, ..example() }), "refreshIntervalMs");
        assert_eq!(field(MmParams { max_order_age_ms: 10, ..example() }), "maxOrderAgeMs");
        assert_eq!(field(MmParams { quote_ttl_s: Some(0), ..example() }), "quoteTtlSeconds");
        let band = Band { min: Price::parse("0.9").unwrap(), max: Price::parse("0.1").unwrap() };
        assert_eq!(field(MmParams { price_band: Some(band), ..example() }), "priceBand");
    }
}

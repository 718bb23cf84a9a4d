//! The market-lifecycle block shared by Strategy and RiskPolicy status: what conditional-token
//! operations and settlements did (counts, sizes and money in micro-units, from the risk store).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Merges, splits, redemptions, conversions and settlements so far, with the PnL settlements
/// realized and the collateral brought back.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleStatus {
    /// Complete binary sets merged back into USDC (operations).
    #[serde(default)]
    pub merges: i64,
    /// Sets merged, micro-units.
    #[serde(default)]
    pub merged_micros: i64,
    /// USDC split into binary sets (operations).
    #[serde(default)]
    pub splits: i64,
    /// Sets split, micro-units.
    #[serde(default)]
    pub split_micros: i64,
    /// Winning tokens redeemed after resolution (operations).
    #[serde(default)]
    pub redemptions: i64,
    /// Shares redeemed, micro-units.
    #[serde(default)]
    pub redeemed_micros: i64,
    /// Neg-risk conversions (operations).
    #[serde(default)]
    pub conversions: i64,
    /// Markets whose resolution settled a position.
    #[serde(default)]
    pub settlements: i64,
    /// PnL those settlements realized, micro-USDC.
    #[serde(default)]
    pub settled_pnl_micros: i64,
    /// Collateral merges, redemptions and conversions brought back, micro-USDC.
    #[serde(default)]
    pub capital_returned_micros: i64,
}

//! A market's liquidity-reward program and maker-rebate share, as the venue publishes them
//! (Gamma `rewardsMinSize`, `rewardsMaxSpread`, the daily rate of `clobRewards`): reported in a
//! Market's status, declared for a simulator's markets, and planned into the market maker's
//! configuration, which scores its quotes and reports what they earned.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::strategy::{DECIMAL_PATTERN, PRICE_PATTERN};

/// A liquidity-reward program.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewardProgram {
    /// Orders smaller than this many shares score nothing, a decimal string (e.g. "50").
    #[schemars(regex(pattern = DECIMAL_PATTERN))]
    pub min_size: String,
    /// The largest distance from the mid that scores, as a price (e.g. "0.045" for the venue's
    /// `rewardsMaxSpread` of 4.5 cents).
    #[schemars(regex(pattern = PRICE_PATTERN))]
    pub max_spread: String,
    /// USDC the market's makers share each day, a decimal string (e.g. "25").
    #[schemars(regex(pattern = DECIMAL_PATTERN))]
    pub daily_pool: String,
}

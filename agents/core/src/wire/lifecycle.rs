//! A market's life after trading: the conditional-token operations a strategy asks for (merge,
//! split, redeem, neg-risk convert) and the resolution that settles every position in a market.
//!
//! Polymarket's outcome tokens are ERC-1155 positions of the Conditional Token Framework: one
//! USDC (pUSD) splits into one YES and one NO of a binary market and a complete set merges back;
//! after resolution each winning token redeems for one USDC; in a neg-risk event, NO tokens on k
//! outcomes convert into YES tokens on the other outcomes plus k−1 USDC per unit, less the
//! adapter's fee (`../shared/docs/venue-polymarket.md` §2.8). Amounts are fixed point.

use serde::{Deserialize, Serialize};

use crate::ids::{ConditionId, TokenId};
use crate::money::{Price, Quantity, Rounding};
use crate::wire::{MarketEvent, MarketEventBody};

/// One conditional-token operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtfOp {
    /// A complete binary set back into collateral: `size` of each of `tokens` become `size` USDC.
    Merge {
        /// The binary market.
        market: ConditionId,
        /// Its two tokens (YES, NO).
        tokens: [TokenId; 2],
        /// Sets merged.
        size: Quantity,
    },
    /// Collateral into a complete binary set: `size` USDC become `size` of each of `tokens`.
    Split {
        /// The binary market.
        market: ConditionId,
        /// Its two tokens (YES, NO).
        tokens: [TokenId; 2],
        /// Sets split.
        size: Quantity,
    },
    /// Tokens of a resolved market into collateral, at the market's payout (1 USDC a winning
    /// token, 0 a losing one, 0.5 each after a 50-50 resolution).
    Redeem {
        /// The resolved market.
        market: ConditionId,
        /// The token redeemed.
        token: TokenId,
        /// Shares redeemed.
        size: Quantity,
    },
    /// Neg-risk: `size` NO tokens on each outcome of `no_tokens` (k of them) become YES tokens on
    /// each outcome of `yes_tokens` (the other outcomes of the event) plus k−1 USDC per unit,
    /// both scaled by what the adapter's fee leaves.
    Convert {
        /// The NO tokens given up (k ≥ 1).
        no_tokens: Vec<TokenId>,
        /// The YES tokens received (the event's other outcomes).
        yes_tokens: Vec<TokenId>,
        /// Units converted.
        size: Quantity,
        /// The adapter's `negRiskFeeBips`.
        fee_bips: u32,
    },
}

impl CtfOp {
    /// `merge`, `split`, `redeem` or `convert` (metric labels, logs).
    pub fn name(&self) -> &'static str {
        match self {
            CtfOp::Merge { .. } => "merge",
            CtfOp::Split { .. } => "split",
            CtfOp::Redeem { .. } => "redeem",
            CtfOp::Convert { .. } => "convert",
        }
    }

    /// Sets merged or split, shares redeemed, units converted.
    pub fn size(&self) -> Quantity {
        match self {
            CtfOp::Merge { size, .. }
            | CtfOp::Split { size, .. }
            | CtfOp::Redeem { size, .. }
            | CtfOp::Convert { size, .. } => *size,
        }
    }

    /// What a conversion yields per unit once the adapter's fee is taken: `size` less
    /// `size × fee_bips / 10000` rounded down, as the neg-risk adapter's `convertPositions`
    /// computes it (`feeAmount = amount * feeBips / FEE_DENOMINATOR` in integer arithmetic), so
    /// that the ledger books what the chain pays to the micro-unit.
    pub fn convert_out(size: Quantity, fee_bips: u32) -> Quantity {
        let fee = crate::money::div_round(
            i128::from(size.micros()) * i128::from(fee_bips.min(10_000)),
            10_000,
            Rounding::Down,
        );
        let fee = u64::try_from(fee).unwrap_or(size.micros());
        Quantity::from_micros(size.micros().saturating_sub(fee))
    }
}

/// A market's resolution: what each of its tokens pays out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// The market (condition id).
    pub market: ConditionId,
    /// Every token of the market with its payout per share (1 the winner, 0 the others; 0.5 each
    /// after a 50-50 resolution).
    pub payouts: Vec<(TokenId, Price)>,
}

impl Resolution {
    /// A market won by `winner` among `tokens`.
    pub fn won_by(market: ConditionId, tokens: &[TokenId], winner: TokenId) -> Resolution {
        let payouts = tokens.iter().map(|t| (*t, if *t == winner { Price::ONE } else { Price::ZERO })).collect();
        Resolution { market, payouts }
    }

    /// The resolution a market-channel `Resolved` event announces for its market, of which
    /// `tokens` are the ones traded (every CTF condition is binary, YES and NO, a neg-risk event
    /// being a group of them; a strategy may trade one side only): the event's token pays 1 if it
    /// won and 0 if it lost, the other token the opposite. `None` for any other event, or when
    /// the event's token is not among `tokens`.
    pub fn from_event(ev: &MarketEvent, tokens: &[TokenId]) -> Option<Resolution> {
        let MarketEventBody::Resolved { winner } = ev.body else { return None };
        if tokens.is_empty() || tokens.len() > 2 || !tokens.contains(&ev.token) {
            return None;
        }
        let pays = |won: bool| if won { Price::ONE } else { Price::ZERO };
        let payouts = tokens.iter().map(|t| (*t, pays((*t == ev.token) == winner))).collect();
        Some(Resolution { market: ev.market, payouts })
    }

    /// The settlement id in one strategy's ledger: one settlement per market, whoever reports
    /// it and however often.
    pub fn settlement_id(&self) -> String {
        format!("settle:{}", self.market)
    }

    /// The key a strategy's settlement is committed under in its RiskPolicy's store (a policy's
    /// strategies each settle their own position in the market).
    pub fn settlement_key(&self, strategy: &str) -> String {
        format!("settle:{}:{strategy}", self.market)
    }
}

/// A market's resolution booked against one strategy's positions: what the execution agent
/// publishes on `order.<namespace>.<strategy>` once it settled them (message id
/// [`Resolution::settlement_key`], so a repeat is the same message), for the trade journal and
/// whoever else follows the strategy's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementReport {
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// The resolution settled.
    pub resolution: Resolution,
    /// Cash the positions paid out (micro-USDC; what redeeming them brings).
    pub cash: crate::Money,
    /// PnL the settlement realized.
    pub realized: crate::Money,
    /// When (Unix ns).
    pub ts_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adapter's integer arithmetic: the fee is rounded down, the payout keeps the rest.
    #[test]
    fn a_conversion_pays_what_the_adapter_pays_to_the_micro_unit() {
        let out = |micros: u64, bips: u32| CtfOp::convert_out(Quantity::from_micros(micros), bips).micros();
        assert_eq!(out(3, 5_000), 2, "a fee of 1.5 micro-units is 1");
        assert_eq!(out(1_000_001, 100), 990_001, "a fee of 10 000.01 micro-units is 10 000");
        assert_eq!(out(4_000_000, 0), 4_000_000);
        assert_eq!(out(4_000_000, 250), 3_900_000);
        assert_eq!(out(7, 10_000), 0);
        assert_eq!(out(7, 20_000), 0, "a fee above 100 % is capped");
    }
}

//! The simulated chain's balances: collateral (pUSD) and outcome tokens per address, in 6-decimal
//! units. Every address starts with the exchange's initial collateral and no tokens; confirmed
//! trades move them (a buy gives tokens for its cost and fee, a sell the reverse), and the
//! conditional-token calls of [`crate::chain`] split, merge and redeem them. Each address's
//! collateral allowance to the exchanges is unlimited unless a fault sets it
//! (`POST /sim/faults/allowance`); outcome tokens count as approved. The exchange refuses an
//! order whose cost (or shares) with the address's open orders passes its balance or allowance,
//! with the venue's "not enough balance / allowance".

use std::collections::HashMap;

use alloy::primitives::Address;
use polyfleet_core::TokenId;

/// Balances of every address the simulated chain has seen.
#[derive(Debug, Clone, Default)]
pub struct Wallets {
    initial: i128,
    collateral: HashMap<Address, i128>,
    tokens: HashMap<(Address, TokenId), i128>,
    allowance: HashMap<Address, i128>,
}

impl Wallets {
    /// Wallets that each start with `initial_collateral` micro-USDC.
    pub fn new(initial_collateral: i128) -> Wallets {
        Wallets { initial: initial_collateral, ..Wallets::default() }
    }

    /// Collateral held by `who`, micro-USDC.
    pub fn collateral(&self, who: &Address) -> i128 {
        self.collateral.get(who).copied().unwrap_or(self.initial)
    }

    /// Tokens of `token` held by `who`, micro-shares.
    pub fn tokens(&self, who: &Address, token: &TokenId) -> i128 {
        self.tokens.get(&(*who, *token)).copied().unwrap_or(0)
    }

    /// Collateral `who` allows the exchanges to spend, micro-USDC (`i128::MAX`: unlimited).
    pub fn allowance(&self, who: &Address) -> i128 {
        self.allowance.get(who).copied().unwrap_or(i128::MAX)
    }

    /// Sets `who`'s collateral allowance (`None`: unlimited again).
    pub fn set_allowance(&mut self, who: &Address, amount: Option<i128>) {
        match amount {
            Some(a) => {
                self.allowance.insert(*who, a);
            }
            None => {
                self.allowance.remove(who);
            }
        }
    }

    /// Adds `delta` (negative: removes) micro-USDC of collateral to `who`.
    pub fn move_collateral(&mut self, who: &Address, delta: i128) {
        let now = self.collateral(who);
        self.collateral.insert(*who, now + delta);
    }

    /// Adds `delta` (negative: removes) micro-shares of `token` to `who`.
    pub fn move_tokens(&mut self, who: &Address, token: &TokenId, delta: i128) {
        *self.tokens.entry((*who, *token)).or_default() += delta;
    }
}

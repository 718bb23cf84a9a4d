//! PnL attribution of one strategy, the market maker's decomposition (strategy notes §3):
//! `PnL at mid = spread capture + inventory − fees + lifecycle basis`, exactly.
//!
//! - **Spread capture**: what each fill earned against the mid at that instant,
//!   `s·C·(mid − p)` with `s = +1` for a buy.
//! - **Inventory**: what holding earned as mids moved, `Σ q·Δmid` per token (a resolution moves
//!   the mid to the payout).
//! - **Fees**: taker fees paid.
//! - **Lifecycle basis**: what merges, splits, conversions, redemptions and settlements brought
//!   against the mid value of the shares they moved (a merge of a set whose mids sum to 0.98
//!   brings 0.02 a set); zero for a settlement, whose mids are the payouts.
//!
//! Everything is kept exactly, in micro-USDC times the price scale, and rounded once when read;
//! the identity above holds to the unit ([`Attribution::check`] recomputes the right side from
//! cash and positions).

use crate::analytics::{UNIT, money};
use crate::{Money, Price, Quantity, Side, TokenId, TokenMap};

#[derive(Debug, Clone, Copy, Default)]
struct Held {
    /// Net micro-shares (negative: owed).
    qty: i128,
    /// The last mid seen, price ticks.
    mid: Option<i128>,
}

/// The decomposition, in USDC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Breakdown {
    /// Fills against the mid at their instant.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub spread_capture: Money,
    /// Positions held while mids moved.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub inventory: Money,
    /// Taker fees paid.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub fees: Money,
    /// Conditional-token operations and settlements against the mid value of their shares.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub lifecycle_basis: Money,
    /// `spread_capture + inventory − fees + lifecycle_basis`: the PnL marked at the mids.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub total_at_mid: Money,
}

/// The attribution of one strategy's fills and operations.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    held: TokenMap<Held>,
    spread: i128,
    inventory: i128,
    basis: i128,
    fees: i128,
    /// Cash moved (fills, fees, operations), for [`Attribution::check`].
    cash: i128,
}

fn signed(side: Side, size: Quantity) -> i128 {
    let q = i128::from(size.micros());
    if side == Side::Buy { q } else { -q }
}

impl Attribution {
    /// The mid of `token` now (ticks of [`Price::SCALE`]; half ticks are whole here since mids
    /// are computed by the book on its own scale).
    pub fn mid(&mut self, token: TokenId, mid: Price) {
        let h = self.held.entry(token).or_default();
        let m = i128::from(mid.ticks());
        // Shares that came before any mid were valued at nothing (see `exchange`).
        self.inventory += h.qty * (m - h.mid.unwrap_or(0));
        h.mid = Some(m);
    }

    /// A fill; `mid` the token's mid at that instant (`None`: unknown, the fill price stands in
    /// and captures nothing).
    pub fn fill(&mut self, token: TokenId, side: Side, price: Price, size: Quantity, fee: Money, mid: Option<Price>) {
        let p = i128::from(price.ticks());
        let known = self.held.get(&token).is_some_and(|h| h.mid.is_some());
        match mid {
            Some(m) => self.mid(token, m),
            None if !known => self.mid(token, price),
            None => {}
        }
        let h = self.held.entry(token).or_default();
        let q = signed(side, size);
        let m = h.mid.unwrap_or(p);
        self.spread += q * (m - p);
        h.qty += q;
        let fee = i128::from(fee.micros()) * UNIT;
        self.fees += fee;
        self.cash += -q * p - fee;
    }

    /// An operation or settlement that moved `shares` (micro-shares per token, negative: out)
    /// and `cash`; each token valued at its last mid (none seen: at nothing).
    pub fn exchange(&mut self, shares: &[(TokenId, i64)], cash: Money) {
        let c = i128::from(cash.micros()) * UNIT;
        let mut value = 0;
        for (t, d) in shares {
            let h = self.held.entry(*t).or_default();
            let d = i128::from(*d);
            value += d * h.mid.unwrap_or(0);
            h.qty += d;
        }
        self.basis += c + value;
        self.cash += c;
    }

    /// Net micro-shares held of `token`.
    pub fn held(&self, token: &TokenId) -> i128 {
        self.held.get(token).map_or(0, |h| h.qty)
    }

    /// Every token held or owed, with its net micro-shares, in token order.
    pub fn positions(&self) -> Vec<(TokenId, i128)> {
        let mut v: Vec<(TokenId, i128)> =
            self.held.iter().filter(|(_, h)| h.qty != 0).map(|(t, h)| (*t, h.qty)).collect();
        v.sort();
        v
    }

    /// The decomposition so far.
    pub fn breakdown(&self) -> Breakdown {
        Breakdown {
            spread_capture: money(self.spread),
            inventory: money(self.inventory),
            fees: money(self.fees),
            lifecycle_basis: money(self.basis),
            total_at_mid: money(self.spread + self.inventory - self.fees + self.basis),
        }
    }

    /// Checks the identity exactly: the parts sum to cash plus every position at its last mid.
    pub fn check(&self) -> bool {
        let marked: i128 = self.held.values().map(|h| h.qty * h.mid.unwrap_or(0)).sum();
        self.spread + self.inventory - self.fees + self.basis == self.cash + marked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::test_values::{m, p, q};
    use proptest::prelude::*;

    fn t(n: u64) -> TokenId {
        TokenId::from_u128(u128::from(n))
    }

    #[test]
    fn a_round_trip_across_the_spread_is_spread_capture_and_a_move_is_inventory() {
        let mut a = Attribution::default();
        a.mid(t(1), p("0.50"));
        // Bought 100 at 0.49 with the mid at 0.50: +1 captured.
        a.fill(t(1), Side::Buy, p("0.49"), q("100"), Money::ZERO, Some(p("0.50")));
        // The mid moves to 0.52 while held: +2 of inventory.
        a.mid(t(1), p("0.52"));
        // Sold at 0.53 against a 0.52 mid: +1 captured; a taker fee of 0.1.
        a.fill(t(1), Side::Sell, p("0.53"), q("100"), m("0.1"), Some(p("0.52")));
        let b = a.breakdown();
        assert_eq!(b.spread_capture, m("2"));
        assert_eq!(b.inventory, m("2"));
        assert_eq!(b.fees, m("0.1"));
        assert_eq!(b.total_at_mid, m("3.9"), "bought at 49, sold at 53, less the fee");
        assert!(a.check());
    }

    #[test]
    fn a_merge_counts_its_set_against_the_mids_and_a_settlement_moves_inventory_only() {
        let mut a = Attribution::default();
        a.fill(t(1), Side::Buy, p("0.40"), q("10"), Money::ZERO, Some(p("0.41")));
        a.fill(t(2), Side::Buy, p("0.55"), q("10"), Money::ZERO, Some(p("0.57")));
        // Mids sum to 0.98: merging brings 0.02 a set above them.
        a.exchange(&[(t(1), -10_000_000), (t(2), -10_000_000)], m("10"));
        assert_eq!(a.breakdown().lifecycle_basis, m("0.2"));
        assert_eq!(a.breakdown().total_at_mid, m("0.5"), "1 − 0.95 per set");
        assert!(a.check());
        // A settlement: the mid jumps to the payout (inventory), then shares leave at it.
        a.fill(t(1), Side::Buy, p("0.40"), q("5"), Money::ZERO, Some(p("0.40")));
        a.mid(t(1), p("1"));
        a.exchange(&[(t(1), -5_000_000)], m("5"));
        let b = a.breakdown();
        assert_eq!(b.inventory, m("3"));
        assert_eq!(b.lifecycle_basis, m("0.2"));
        assert!(a.check());
    }

    proptest! {
        #[test]
        fn the_parts_always_sum_to_the_mid_marked_pnl(
            steps in prop::collection::vec((0u8..4, 0u64..3, 1u32..9999, 1u64..1_000_000_000, 0i64..100_000), 1..200)
        ) {
            let mut a = Attribution::default();
            for (kind, tok, price, size, x) in steps {
                let tok = t(tok);
                let price = Price::from_ticks(price).unwrap();
                match kind {
                    0 => a.mid(tok, price),
                    1 => a.fill(tok, Side::Buy, price, Quantity::from_micros(size), Money::from_micros(x), None),
                    2 => a.fill(tok, Side::Sell, price, Quantity::from_micros(size), Money::ZERO, Some(price)),
                    _ => a.exchange(&[(tok, -(size as i64))], Money::from_micros(x)),
                }
                prop_assert!(a.check());
            }
        }
    }
}

//! What the report says about how each strategy made its money, collected as the run goes: the
//! PnL attribution and markout curves of the core's analytics ([`polyfleet_core::analytics`]),
//! the fill ratio of its resting orders, its inventory over time, and the maker rebates and
//! liquidity rewards its quotes earned ([`polyfleet_core::strategy::Strategy::earnings`]).

use std::collections::BTreeMap;

use polyfleet_core::analytics::Earnings;
use polyfleet_core::analytics::attribution::{Attribution, Breakdown};
use polyfleet_core::analytics::markouts::{Curve, Markouts};
use polyfleet_core::wire::{Fill, Liquidity, OrderIntent};
use polyfleet_core::{Money, Price, Quantity, TokenId};
use serde::Serialize;

/// How much of what the strategy rested got filled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FillRatio {
    /// Post-only orders that reached the venue.
    pub orders_posted: u64,
    /// Their shares.
    #[serde(serialize_with = "polyfleet_core::analytics::decimal")]
    pub shares_posted: Quantity,
    /// Maker fills.
    pub maker_fills: u64,
    /// Their shares.
    #[serde(serialize_with = "polyfleet_core::analytics::decimal")]
    pub maker_shares: Quantity,
    /// `maker_shares / shares_posted`, percent with two decimals ("0.00" when nothing rested).
    pub share_fill_pct: String,
}

/// The attribution with what quoting earned besides fills.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PnlAttribution {
    /// Spread capture, inventory, fees, lifecycle basis and their sum at the mids.
    #[serde(flatten)]
    pub parts: Breakdown,
    /// Maker rebates accrued (the venue pays each UTC day's at its end, from 1 USDC).
    #[serde(serialize_with = "polyfleet_core::analytics::decimal")]
    pub rebates: Money,
    /// Liquidity rewards, estimated.
    #[serde(serialize_with = "polyfleet_core::analytics::decimal")]
    pub rewards: Money,
    /// `total_at_mid + rebates + rewards`.
    #[serde(serialize_with = "polyfleet_core::analytics::decimal")]
    pub total: Money,
}

/// One token's inventory over the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InventorySeries {
    /// The token.
    pub token: String,
    /// (Unix ns, net shares), at each equity sample where it changed, thinned like the equity curve.
    pub points: Vec<(u64, String)>,
}

/// Everything the report says about one strategy's trading.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StrategyAnalytics {
    /// PnL decomposition.
    pub pnl_attribution: PnlAttribution,
    /// The decomposition's parts sum exactly (to the micro-USDC unit, before rounding) to cash
    /// plus every position at its last mid.
    pub reconciled: bool,
    /// Markout curves.
    pub markouts: Option<Curve>,
    /// Fill ratio of resting orders.
    pub fill_ratio: FillRatio,
    /// Inventory over time, per token traded.
    pub inventory: Vec<InventorySeries>,
    /// Rebates and rewards in detail (strategies that quote).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earnings: Option<Earnings>,
}

/// The collector of one strategy.
#[derive(Debug, Default)]
pub struct Tracker {
    attribution: Attribution,
    markouts: Markouts,
    ratio: FillRatio,
    inventory: BTreeMap<TokenId, Vec<(u64, i128)>>,
}

impl Tracker {
    /// A token's mid now.
    pub fn mid(&mut self, now_ns: u64, token: TokenId, mid: Price) {
        self.attribution.mid(token, mid);
        self.markouts.mid(now_ns, &token, mid);
    }

    /// A post-only order reached the venue.
    pub fn posted(&mut self, o: &OrderIntent) {
        if o.post_only {
            self.ratio.orders_posted += 1;
            self.ratio.shares_posted = self.ratio.shares_posted.saturating_add(o.size);
        }
    }

    /// A fill booked, against the last mid tracked: the mid before the event that filled it (a
    /// settled token's is its payout).
    pub fn fill(&mut self, now_ns: u64, f: &Fill) {
        let maker = f.liquidity == Liquidity::Maker;
        self.attribution.fill(f.token, f.side, f.price, f.size, f.fee, None);
        self.markouts.fill(now_ns, f);
        if maker {
            self.ratio.maker_fills += 1;
            self.ratio.maker_shares = self.ratio.maker_shares.saturating_add(f.size);
        }
    }

    /// A fill booked, measured (markouts, fill ratio) only when `in_period` (a report's period;
    /// before it, a fill only builds the positions of the attribution).
    pub fn book(&mut self, now_ns: u64, f: &Fill, in_period: bool) {
        if in_period {
            self.fill(now_ns, f);
        } else {
            self.attribution.fill(f.token, f.side, f.price, f.size, f.fee, None);
        }
    }

    /// A fill booked earlier failed at the venue: the attribution takes it back at the token's
    /// mid now (its shares and cash return; what it captured and what holding it earned cancel).
    pub fn unwind(&mut self, f: &Fill) {
        let fee = f.fee.checked_neg().unwrap_or(Money::ZERO);
        self.attribution.fill(f.token, f.side.opposite(), f.price, f.size, fee, None);
    }

    /// The attribution so far.
    pub fn breakdown(&self) -> Breakdown {
        self.attribution.breakdown()
    }

    /// A conditional-token operation or settlement booked.
    pub fn exchange(&mut self, shares: &[(TokenId, i64)], cash: Money) {
        self.attribution.exchange(shares, cash);
    }

    /// An equity sample: the inventory of every token it has held, where it changed.
    pub fn sample(&mut self, now_ns: u64) {
        for (t, _) in self.attribution.positions() {
            self.inventory.entry(t).or_default();
        }
        for (t, series) in &mut self.inventory {
            let q = self.attribution.held(t);
            if series.last().is_none_or(|(_, last)| *last != q) {
                series.push((now_ns, q));
            }
        }
    }

    /// The analytics at the end, with the strategy's earnings.
    pub fn finish(&self, earnings: Option<Earnings>, points: usize) -> StrategyAnalytics {
        let parts = self.attribution.breakdown();
        let rebates = earnings.map_or(Money::ZERO, |e| e.rebates.accrued);
        let rewards = earnings.map_or(Money::ZERO, |e| e.rewards.earned);
        let total =
            parts.total_at_mid.checked_add(rebates).and_then(|t| t.checked_add(rewards)).unwrap_or(parts.total_at_mid);
        let mut ratio = self.ratio.clone();
        let posted = u128::from(ratio.shares_posted.micros());
        ratio.share_fill_pct = (u128::from(ratio.maker_shares.micros()) * 10_000)
            .checked_div(posted)
            .map_or_else(|| "0.00".into(), |bp| format!("{}.{:02}", bp / 100, bp % 100));
        let inventory = self
            .inventory
            .iter()
            .map(|(t, s)| InventorySeries {
                token: t.to_string(),
                points: crate::report::thin(s.len(), points).into_iter().map(|i| (s[i].0, shares(s[i].1))).collect(),
            })
            .collect();
        let curve = self.markouts.curve();
        StrategyAnalytics {
            pnl_attribution: PnlAttribution { parts, rebates, rewards, total },
            reconciled: self.attribution.check(),
            markouts: (curve.all.iter().any(|p| p.fills > 0) || curve.unmeasured.iter().any(|n| *n > 0))
                .then_some(curve),
            fill_ratio: ratio,
            inventory,
            earnings,
        }
    }
}

/// Net micro-shares as a decimal string ("-12.5").
fn shares(micros: i128) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let q = Quantity::from_micros(u64::try_from(micros.unsigned_abs()).unwrap_or(u64::MAX));
    format!("{sign}{q}")
}

//! What a backtest run recorded: every fill, the equity and exposure sampled over event time,
//! and per-strategy counters (signals, approvals, rejections by reason, orders by final state,
//! conditional-token operations, settlements, fair values taken and forecast scores).
//! Money stays fixed point here; only the report's statistics are ratios.

use std::collections::BTreeMap;

use polyfleet_core::{Money, Price, Quantity, Side, TokenId};
use serde::Serialize;

/// One fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FillRecord {
    /// Event time, Unix ns.
    pub ts_ns: u64,
    /// Index of the strategy.
    pub strategy: usize,
    /// Token.
    pub token: TokenId,
    /// Side.
    pub side: Side,
    /// Price.
    pub price: Price,
    /// Shares.
    pub size: Quantity,
    /// Fee paid.
    pub fee: Money,
    /// Maker (resting order filled) or taker.
    pub maker: bool,
}

/// One equity sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Event time, Unix ns.
    pub ts_ns: u64,
    /// Total equity (PnL so far, marked).
    pub equity: Money,
    /// Cost basis of open positions.
    pub exposure: Money,
    /// Each strategy's equity, in the order of [`Journal::strategies`].
    pub per_strategy: Vec<Money>,
}

/// One strategy's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StrategyCounters {
    /// Strategy name.
    pub name: String,
    /// Orders it asked for.
    pub signals: u64,
    /// Orders risk approved.
    pub approved: u64,
    /// Cancels it asked for.
    pub cancels: u64,
    /// Risk rejections by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Order updates by state.
    pub orders: BTreeMap<String, u64>,
    /// Realized PnL (fees included) at the end.
    pub realized: Money,
    /// Fees paid.
    pub fees: Money,
    /// Tokens held at the end.
    pub positions: u64,
    /// Orders cancelled because their market resolved.
    pub resolved_cancels: u64,
    /// Settlements, merges, splits, redemptions and conversions booked, with what they moved
    /// (counted as the risk store counts them).
    pub lifecycle: polyfleet_core::accounting::lifecycle::LifecycleTotals,
    /// Conditional-token operations refused by risk or by the ledger.
    pub ctf_failures: u64,
    /// Cash at the end: what fills, operations and settlements moved (realized PnL less the cost
    /// of what is still held).
    pub cash: Money,
    /// Equity at the last sample.
    pub equity: Money,
    /// The strategy's own rule counts by kind at the end (`Strategy::counters`: the market maker's
    /// quotes placed and replaced, pulls by reason, merges, ...).
    pub rule_events: BTreeMap<String, u64>,
    /// PnL attribution, markouts, fill ratio, inventory, rebates and rewards.
    pub analytics: crate::analytics::StrategyAnalytics,
    /// Fair values handed to it, by what it made of them (`accepted`, or why not).
    pub fair_values: BTreeMap<String, u64>,
    /// Its forecasts scored at resolution, per model version (`Strategy::scores`).
    pub scores: Vec<polyfleet_core::analytics::scores::ModelScore>,
    /// Its drift alarms at the end, when it declares them.
    pub drift: Option<polyfleet_core::strategy::drift::DriftReport>,
}

/// The run's record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Journal {
    /// Market events processed.
    pub events: u64,
    /// Every fill, in order.
    pub fills: Vec<FillRecord>,
    /// Equity samples.
    pub samples: Vec<Sample>,
    /// Per strategy.
    pub strategies: Vec<StrategyCounters>,
    /// Fills the ledger refused (should stay zero).
    pub unbooked_fills: u64,
    /// Orders still resting at the end.
    pub open_orders: u64,
    /// Orders and cancels still on their way to the venue at the end.
    pub in_flight: u64,
    /// The decision-to-venue latency the run assumed, ns.
    pub latency_ns: u64,
    /// Mid price of every followed token at each sample.
    pub prices: BTreeMap<TokenId, Vec<(u64, Price)>>,
}

impl Journal {
    /// An empty journal for these strategies.
    pub fn new(names: Vec<String>) -> Journal {
        Journal {
            strategies: names.into_iter().map(|name| StrategyCounters { name, ..Default::default() }).collect(),
            ..Default::default()
        }
    }

    /// Records a sample (replacing one at the same instant).
    pub fn sample(&mut self, ts_ns: u64, equity: Money, exposure: Money, per_strategy: Vec<Money>) {
        if self.samples.last().is_some_and(|s| s.ts_ns == ts_ns) {
            self.samples.pop();
        }
        for (c, e) in self.strategies.iter_mut().zip(&per_strategy) {
            c.equity = *e;
        }
        self.samples.push(Sample { ts_ns, equity, exposure, per_strategy });
    }

    /// Records a token's mid price.
    pub fn price(&mut self, ts_ns: u64, token: TokenId, mid: Price) {
        let series = self.prices.entry(token).or_default();
        if series.last().is_some_and(|(t, _)| *t == ts_ns) {
            series.pop();
        }
        series.push((ts_ns, mid));
    }
}

//! The backtest report: what ran on what, the statistics, each strategy's counters and the
//! equity curve, as JSON (stable field order and formatting: the same run gives the same bytes)
//! and as a self-contained HTML page (see [`crate::html`]).

use serde::Serialize;

use crate::journal::{Journal, StrategyCounters};
use crate::stats::{Stats, stats};
use polyfleet_core::Money;

/// Points kept of each curve in the report (evenly spaced samples, the last one always).
pub const CURVE_POINTS: usize = 1000;

/// Where the events came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Input {
    /// Recording file name (no directories: reports compare across machines).
    pub recording: String,
    /// Market-channel frames read (RTDS frames are counted in `read` and `models`).
    pub frames: u64,
    /// Market events processed.
    pub events: u64,
    /// Malformed frames skipped.
    pub malformed: u64,
    /// Events in a schema the decoder does not support, skipped.
    pub unsupported_schema: u64,
    /// Books the venue's hash disagreed with.
    pub resyncs: u64,
    /// Every line of the recording, accounted for; `partial()` when bad input was skipped.
    pub read: polyfleet_polymarket::data::recording::ReadStats,
    /// Every market-channel frame by what became of it: `frames` = the sum of `by_outcome`
    /// (events, malformed, unsupported_schema, other_channel, token_not_served, ...).
    pub frame_outcomes: polyfleet_polymarket::data::normalize::FrameLedger,
    /// For a columnar recording: the JSON Lines recording it was converted from. Its frames
    /// were normalized then for every token of the catalog, so `frame_outcomes` counts a frame
    /// of a token no strategy trades as `events` where a run on the source counts it as
    /// `token_not_served`; everything after the frames is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<String>,
    /// What each built-in model made of the recording's RTDS frames (empty without models).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<crate::signals::ModelRun>,
}

/// One strategy's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyLine {
    /// Name.
    pub name: String,
    /// Equity at the end, USDC.
    pub pnl_usdc: String,
    /// Realized, USDC.
    pub realized_usdc: String,
    /// Fees, USDC.
    pub fees_usdc: String,
    /// Orders asked for.
    pub signals: u64,
    /// Orders approved by risk.
    pub approved: u64,
    /// Cancels asked for.
    pub cancels: u64,
    /// Rejections by reason.
    pub rejections: std::collections::BTreeMap<String, u64>,
    /// Order updates by state.
    pub orders: std::collections::BTreeMap<String, u64>,
    /// Tokens held at the end.
    pub positions: u64,
    /// Markets whose resolution settled a position of the strategy.
    pub settlements: u64,
    /// PnL those settlements realized, USDC.
    pub settled_usdc: String,
    /// Merges booked, and sets merged.
    pub merges: u64,
    /// Sets merged.
    pub merged_sets: String,
    /// Splits booked.
    pub splits: u64,
    /// Sets split.
    pub split_sets: String,
    /// Redemptions booked.
    pub redemptions: u64,
    /// Winning shares redeemed.
    pub redeemed_shares: String,
    /// Conversions booked.
    pub conversions: u64,
    /// Conditional-token operations refused (risk, ledger).
    pub ctf_failures: u64,
    /// Collateral merges and redemptions brought back, USDC.
    pub capital_returned_usdc: String,
    /// Cash at the end (realized PnL less the cost of what is still held), USDC.
    pub cash_usdc: String,
    /// Set when risk refused most of the strategy's orders: the run then shows the RiskPolicy's
    /// limits more than the strategy, and says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_bound: Option<String>,
    /// The strategy's own rule counts by kind (quotes placed, pulls by reason, merges, ...).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rule_events: std::collections::BTreeMap<String, u64>,
    /// PnL attribution (spread capture, inventory, fees, lifecycle basis, rebates, rewards),
    /// markout curves, fill ratio, inventory over time.
    pub analytics: crate::analytics::StrategyAnalytics,
    /// Fair values handed to it, by what it made of them (a directional strategy's signals).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fair_values: std::collections::BTreeMap<String, u64>,
    /// Its forecasts scored at resolution per model version: Brier, the market's Brier, skill,
    /// log loss and calibration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forecasts: Vec<polyfleet_core::analytics::scores::ModelScore>,
    /// Its drift alarms at the end (standing alarms, samples watched, times each fired), when
    /// it declares them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<polyfleet_core::strategy::drift::DriftReport>,
}

/// Says so when risk refused more orders than it approved.
fn risk_bound(signals: u64, approved: u64, rejections: &std::collections::BTreeMap<String, u64>) -> Option<String> {
    let refused: u64 = rejections.values().sum();
    if refused == 0 || refused <= approved {
        return None;
    }
    let mut by: Vec<(&String, &u64)> = rejections.iter().collect();
    by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let reasons: Vec<String> = by.iter().map(|(r, n)| format!("{r} {n}")).collect();
    Some(format!(
        "risk refused {refused} of {signals} orders ({}): the results show the RiskPolicy's limits more than the strategy",
        reasons.join(", ")
    ))
}

impl From<&StrategyCounters> for StrategyLine {
    fn from(c: &StrategyCounters) -> StrategyLine {
        StrategyLine {
            name: c.name.clone(),
            pnl_usdc: c.equity.to_string(),
            realized_usdc: c.realized.to_string(),
            fees_usdc: c.fees.to_string(),
            signals: c.signals,
            approved: c.approved,
            cancels: c.cancels,
            rejections: c.rejections.clone(),
            orders: c.orders.clone(),
            positions: c.positions,
            settlements: c.lifecycle.settlements,
            settled_usdc: c.lifecycle.settled_pnl.to_string(),
            merges: c.lifecycle.merges,
            merged_sets: c.lifecycle.merged.to_string(),
            splits: c.lifecycle.splits,
            split_sets: c.lifecycle.split.to_string(),
            redemptions: c.lifecycle.redemptions,
            redeemed_shares: c.lifecycle.redeemed.to_string(),
            conversions: c.lifecycle.conversions,
            ctf_failures: c.ctf_failures,
            capital_returned_usdc: c.lifecycle.capital_returned.to_string(),
            cash_usdc: c.cash.to_string(),
            risk_bound: risk_bound(c.signals, c.approved, &c.rejections),
            rule_events: c.rule_events.clone(),
            analytics: c.analytics.clone(),
            fair_values: c.fair_values.clone(),
            forecasts: c.scores.clone(),
            drift: c.drift.clone(),
        }
    }
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Input.
    pub input: Input,
    /// Parameter overrides of this run (a sweep's point), `key=value`.
    pub overrides: Vec<String>,
    /// Statistics.
    pub metrics: Stats,
    /// Per strategy.
    pub strategies: Vec<StrategyLine>,
    /// Orders resting at the end.
    pub open_orders: u64,
    /// Assumed time from a risk decision to the order (or cancel) at the venue, ms.
    pub latency_ms: f64,
    /// Orders and cancels still on their way to the venue when the data ended (never executed).
    pub in_flight: u64,
    /// Fills a strategy's ledger refused (a sale beyond its holdings): zero unless something is
    /// wrong, since paper execution refuses such sales as the venue does.
    pub unbooked_fills: u64,
    /// Equity curve: (seconds since the first sample, equity USDC, exposure USDC).
    pub equity: Vec<(f64, String, String)>,
    /// A/B experiments between arms of the run, each compared slot by slot.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<crate::experiments::ExperimentReport>,
    #[serde(skip)]
    /// The full journal (for the HTML plots).
    pub journal: Journal,
}

/// Indexes of at most `n` evenly spaced items of `len`, always with the last.
pub fn thin(len: usize, n: usize) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..n - 1).map(|k| k * (len - 1) / (n - 1)).collect();
    v.push(len - 1);
    v.dedup();
    v
}

impl Report {
    /// The report of a journal.
    pub fn new(input: Input, overrides: Vec<String>, journal: Journal, capital: Money) -> Report {
        let first = journal.samples.first().map_or(0, |s| s.ts_ns);
        let equity = thin(journal.samples.len(), CURVE_POINTS)
            .into_iter()
            .map(|i| {
                let s = &journal.samples[i];
                (((s.ts_ns - first) / 1_000_000) as f64 / 1e3, s.equity.to_string(), s.exposure.to_string())
            })
            .collect();
        Report {
            input,
            overrides,
            metrics: stats(&journal, capital),
            strategies: journal.strategies.iter().map(StrategyLine::from).collect(),
            open_orders: journal.open_orders,
            latency_ms: journal.latency_ns as f64 / 1e6,
            in_flight: journal.in_flight,
            unbooked_fills: journal.unbooked_fills,
            equity,
            experiments: vec![],
            journal,
        }
    }

    /// With the experiments among `arms` (strategy name, its arm) compared over the run.
    pub fn with_experiments(mut self, arms: &[(String, polyfleet_core::analytics::experiment::Experiment)]) -> Report {
        self.experiments = crate::experiments::compare_all(arms, &self.journal);
        self
    }

    /// As pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_mostly_refused_by_risk_says_so() {
        let mut r = std::collections::BTreeMap::new();
        assert_eq!(risk_bound(10, 10, &r), None, "nothing refused");
        r.insert("gross_exposure".to_string(), 240);
        r.insert("book_liquidity".to_string(), 3);
        assert_eq!(
            risk_bound(288, 45, &r).as_deref(),
            Some(
                "risk refused 243 of 288 orders (gross_exposure 240, book_liquidity 3): the results show the RiskPolicy's limits more than the strategy"
            )
        );
        assert_eq!(risk_bound(288, 250, &r), None, "fewer refused than approved");
    }
}

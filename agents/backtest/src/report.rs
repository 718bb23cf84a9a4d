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
    /// Frames read.
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
    pub read: polyfleet_polymarket::recording::ReadStats,
    /// Every frame by what became of it: `frames` = the sum of `by_outcome` (events,
    /// malformed, unsupported_schema, other_channel, token_not_served, ...).
    pub frame_outcomes: polyfleet_polymarket::normalize::FrameLedger,
}

/// One strategy's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Equity curve: (seconds since the first sample, equity USDC, exposure USDC).
    pub equity: Vec<(f64, String, String)>,
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
                let s = journal.samples[i];
                (((s.ts_ns - first) / 1_000_000) as f64 / 1e3, s.equity.to_string(), s.exposure.to_string())
            })
            .collect();
        Report {
            input,
            overrides,
            metrics: stats(&journal, capital),
            strategies: journal.strategies.iter().map(StrategyLine::from).collect(),
            open_orders: journal.open_orders,
            equity,
            journal,
        }
    }

    /// As pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

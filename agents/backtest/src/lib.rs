//! Backtests: a recording's frames through the market-data agent's normalizer ([`source`]),
//! then the same strategy, risk and paper-execution state machines the agents run, driven
//! without a bus ([`engine`]); the run's record ([`journal`]), its statistics ([`stats`]), each strategy's attribution,
//! markouts, fill ratio, inventory and earnings ([`analytics`]) and the
//! report as JSON ([`report`]) and HTML ([`html`], the forecasts in [`html_forecasts`]); parameter
//! sweeps ([`sweep`]); A/B experiments between arms ([`experiments`]); the built-in models' fair values from a recording's reference prices
//! ([`signals`]). The trade journal's report of any period (`polyfleet report`) shares the
//! statistics and the page's style: [`journal_report`], [`journal_html`], A/B comparisons
//! ([`journal_ab`]), a shadow against its live twin ([`journal_twins`]), the calibration of the
//! probabilities orders were sized on ([`journal_calibration`]), and the journal read into
//! them ([`journal_read`], shared with `kubectl polyfleet report`).

pub mod analytics;
pub mod charts;
pub mod columnar;
pub mod engine;
pub mod experiments;
pub mod html;
pub mod html_analytics;
pub mod html_drift;
pub mod html_forecasts;
pub mod journal;
pub mod journal_ab;
pub mod journal_analytics;
pub mod journal_calibration;
pub mod journal_html;
pub mod journal_read;
pub mod journal_report;
pub mod journal_twins;
pub mod report;
pub mod signals;
pub mod source;
pub mod stats;
pub mod sweep;
pub mod valuation;

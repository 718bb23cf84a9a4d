//! Execution, sans-IO: the paper matching engine ([`paper`]) that fills approved orders against
//! the current book as the venue would, used by paper mode, shadow comparisons and backtests.

pub mod paper;

pub use paper::{ExecEvent, MarketRules, PaperEngine};

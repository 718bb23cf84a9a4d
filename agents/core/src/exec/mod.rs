//! Execution, sans-IO: the paper matching engine ([`paper`]) that fills approved orders against
//! the current book as the venue would, used by paper mode, shadow comparisons and backtests; and
//! the client-side rate limit of live execution ([`rate`]); and what the order path checks and
//! reserves for a conditional-token operation ([`ctf`]); and the balance and allowance pre-flight
//! of live orders ([`funds`]).

pub mod ctf;
pub mod funds;
pub mod paper;
pub mod rate;

pub use paper::{ExecEvent, MarketRules, PaperEngine};
pub use rate::TokenBucket;

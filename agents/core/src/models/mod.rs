//! Built-in fair-value models: pure functions from their inputs (bookmaker odds, reference price
//! streams) to probabilities, which a model publisher turns into fair-value signals
//! ([`crate::wire::signal`]). Statistics, not accounts: floats are allowed here; a probability
//! becomes exact millionths only when it is published.

pub mod crypto;
pub mod odds;
pub mod rounds;
pub mod sports;
pub mod updown;

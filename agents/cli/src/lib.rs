//! The `polyfleet` command line's library: [`record`] (market-channel recordings).

pub mod record;

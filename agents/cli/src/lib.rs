//! The `polyfleet` command line's library: [`record`] (market-channel recordings) and
//! [`generate`] (recordings of the simulator's model).

pub mod generate;
pub mod record;

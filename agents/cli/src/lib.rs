//! The `polyfleet` command line's library: [`local`] (a resource directory planned without a
//! cluster), [`up`] (the local fleet), [`backtest`], [`convert`] (columnar recordings), [`record`] (market-channel recordings), [`generate`] (recordings of
//! the simulator's model) and [`report`] (the trade journal's report of a period).

pub mod backtest;
pub mod convert;
pub mod generate;
pub mod local;
pub mod record;
pub mod report;
pub mod up;

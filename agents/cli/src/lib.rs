//! The `polyfleet` command line's library: [`local`] (a resource directory planned without a
//! cluster), [`up`] (the local fleet), [`backtest`], [`convert`] (columnar recordings), [`record`] (market-channel recordings) and [`generate`] (recordings of
//! the simulator's model).

pub mod backtest;
pub mod convert;
pub mod generate;
pub mod local;
pub mod record;
pub mod up;

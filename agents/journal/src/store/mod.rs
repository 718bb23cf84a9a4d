//! The journal's storage behind one trait. [`sql::SqlJournal`] implements it on PostgreSQL (the
//! cluster's, from a Secret's URL) and on an embedded SQLite file (`polyfleet up`), choosing the
//! backend by the URL's scheme; `tests/conformance.rs` runs one suite against both, on a real
//! `postgres` server and a real file.
//!
//! What every implementation keeps:
//! - [`JournalStore::append`] writes a batch in one transaction: all of it or none. A record whose
//!   key (kind and key; a fill's row by fill id and status) was written before changes nothing,
//!   so a redelivered, replayed or re-read message is never counted twice; the answer says how
//!   many records were new.
//! - Money is stored as the core's integers (ticks, micro-units): sums are exact.
//! - Reads return entries and fills oldest first (ties by key), within a half-open time range.

pub mod sql;

use std::future::Future;

use crate::{Entry, FillRow, JournalError, Kind, Record};

/// A half-open time range `[since_ns, until_ns)` (Unix ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// From (inclusive).
    pub since_ns: i64,
    /// To (exclusive).
    pub until_ns: i64,
}

impl Range {
    /// All time.
    pub const ALL: Range = Range { since_ns: i64::MIN, until_ns: i64::MAX };
}

/// Which fills to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FillFilter {
    /// Only this namespace's.
    pub namespace: Option<String>,
    /// Only this strategy's (of any namespace, unless one is given).
    pub strategy: Option<String>,
}

/// The journal's storage.
pub trait JournalStore: Clone + Send + Sync + 'static {
    /// The schema version in force (the highest migration applied).
    fn schema_version(&self) -> impl Future<Output = Result<i64, JournalError>> + Send;
    /// Writes `records` in one transaction; returns how many were new (the rest were written
    /// before and are left as they were).
    fn append(&self, records: &[Record]) -> impl Future<Output = Result<u64, JournalError>> + Send;
    /// The entries of `kind` within `range`, oldest first.
    fn entries(&self, kind: Kind, range: Range) -> impl Future<Output = Result<Vec<Entry>, JournalError>> + Send;
    /// The fills within `range` that `filter` lets through, oldest first.
    fn fills(
        &self,
        filter: &FillFilter,
        range: Range,
    ) -> impl Future<Output = Result<Vec<FillRow>, JournalError>> + Send;
    /// How many entries of each kind the journal holds (every kind, zeros included).
    fn counts(&self) -> impl Future<Output = Result<Vec<(Kind, u64)>, JournalError>> + Send;
}

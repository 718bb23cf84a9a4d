//! The trade journal (issue 24): what happened on the order path, kept durably and idempotently
//! beyond JetStream's 24 hours, for reports and analytics over any time range.
//!
//! - [`bookings`]: fills, operations and settlements read back in order, for the core's
//!   performance fold.
//! - [`mids`]: the tokens' mids as the market moved (spread capture, inventory, markouts).
//! - [`orders`]: the orders placed (every leg of a set), read back from the intents.
//! - [`from_bus`]: what each message of the order path's streams becomes (the journal agent's
//!   decoding, pure).
//! - [`record`]: the entries (every kind, with the key that makes a second write a no-op) and the
//!   typed fill rows, built from the wire messages.
//! - [`store`]: the storage trait ([`JournalStore`]) with two implementations that pass one
//!   conformance suite (`tests/conformance.rs`): [`store::sql::SqlJournal`] on PostgreSQL for the
//!   cluster and on an embedded SQLite file for `polyfleet up`. It applies the versioned schema
//!   migrations when opened.

pub mod bookings;
pub mod from_bus;
pub mod mids;
pub mod orders;
pub mod record;
pub mod store;

pub use record::{Entry, FillRow, Kind, Record};
pub use store::{FillFilter, JournalStore, Range};

/// Why the journal could not do something.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The database could not be reached or refused a statement.
    #[error("journal database: {0}")]
    Database(#[from] sqlx::Error),
    /// Its schema could not be brought to this version.
    #[error("journal schema migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A value does not fit its column (a time past 2262, a size beyond 9.2e12 shares).
    #[error("out of range for the journal: {0}")]
    Range(String),
    /// A stored row the journal cannot read back.
    #[error("journal row unreadable: {0}")]
    Corrupt(String),
}

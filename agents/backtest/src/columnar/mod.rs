//! Columnar recordings: the normalized market events of a recording (and its RTDS frames) in one
//! Arrow IPC file (`.arrow`, lz4-compressed record batches), so a backtest or a replay loads them
//! at engine speed instead of decoding JSON frames, and a person opens them with pyarrow, pandas
//! (`pd.read_feather`) or polars (`pl.read_ipc`). JSON Lines stay the raw capture; a columnar file
//! is made from one by [`convert::convert`] (`polyfleet convert`, or `polyfleet record --columnar`
//! when a capture ends) with the market-data agent's own normalizer, so it holds exactly the
//! events the agents would have seen.
//!
//! One row per event, its book levels (or its trade) in a list; every price and size is an
//! integer in the core's fixed-point units (`df.explode("levels")` in pandas or polars gives one
//! row per level):
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `recv_ns` | timestamp[ns, UTC] | when the market-data agent received the frame |
//! | `venue_ts_ms` | timestamp[ms, UTC] | the venue's timestamp (null for RTDS rows) |
//! | `seq` | uint64 | per-token sequence number (null for RTDS rows) |
//! | `token` | dictionary<uint32, utf8> | token id, decimal (null for RTDS rows) |
//! | `market` | dictionary<uint32, utf8> | condition id, `0x` hex (null for RTDS rows) |
//! | `kind` | dictionary<uint8, utf8> | `snapshot`, `delta`, `trade`, `tick_size`, `resolved`, `feed_status`, `trading`, `rtds` |
//! | `levels` | list<struct<side: dictionary<uint8, utf8>, price_e4: uint32, size_e6: uint64>> | a snapshot's levels (bids best first, then asks best first), a delta's changes (size 0 removes the level), a trade (side `buy`/`sell`: the taker's); empty otherwise |
//! | `tick_e4` | uint32 | tick size, 1e-4 USDC (`snapshot`, `tick_size`) |
//! | `fee_rate_bps` | uint32 | the trade's fee rate |
//! | `flag` | bool | `resolved`: this token won; `feed_status`: healthy; `trading`: accepting orders |
//! | `hash` | utf8 | the venue's book hash (`snapshot`) |
//! | `text` | utf8 | the RTDS frame (`rtds`) |
//!
//! Prices are in 1e-4 USDC (ticks of the core's `Price`), sizes in 1e-6 shares. Files are
//! lz4-compressed unless written uncompressed (bigger, read faster; every Arrow reader takes both).
//!
//! The schema's metadata names the format and version (`polyfleet.format`); the footer carries
//! the conversion's accounting ([`Accounting`]: every line and frame of the source by outcome),
//! so a report made from the columnar file says what its source held.

pub mod convert;
pub mod read;
pub mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use polyfleet_polymarket::data::normalize::{FrameLedger, FrameOutcome};
use polyfleet_polymarket::data::recording::ReadStats;
use serde::{Deserialize, Serialize};

/// The `polyfleet.format` value of a columnar recording.
pub const FORMAT: &str = "polyfleet-events";
/// The version of the layout above; a reader refuses other versions.
pub const VERSION: &str = "1";
/// Schema metadata key naming the format.
pub const FORMAT_KEY: &str = "polyfleet.format";
/// Schema metadata key naming the version.
pub const VERSION_KEY: &str = "polyfleet.version";
/// Footer metadata key of the [`Accounting`] (JSON).
pub const ACCOUNTING_KEY: &str = "polyfleet.accounting";
/// Events per record batch.
pub const BATCH_ROWS: usize = 65_536;

/// Values of the `kind` column, by code.
pub const KINDS: [&str; 8] = ["snapshot", "delta", "trade", "tick_size", "resolved", "feed_status", "trading", "rtds"];
/// Values of the `side` column, by code.
pub const SIDES: [&str; 4] = ["bid", "ask", "buy", "sell"];

/// Codes of the `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A whole book.
    Snapshot = 0,
    /// Level changes.
    Delta = 1,
    /// A trade.
    Trade = 2,
    /// A tick size change.
    TickSize = 3,
    /// The market resolved.
    Resolved = 4,
    /// The feed's health changed.
    FeedStatus = 5,
    /// Whether the venue takes orders.
    Trading = 6,
    /// A frame of the real-time data stream.
    Rtds = 7,
}

impl Kind {
    /// The kind of a code.
    pub fn of(code: u8) -> Option<Kind> {
        use Kind::*;
        [Snapshot, Delta, Trade, TickSize, Resolved, FeedStatus, Trading, Rtds].get(usize::from(code)).copied()
    }
}

/// Why a columnar recording could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ColumnarError {
    /// The file could not be opened, read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// Arrow refused the file or a batch.
    #[error("{0}: {1}")]
    Arrow(String, arrow_schema::ArrowError),
    /// The file is Arrow but not a columnar recording of this version, or a row breaks the layout.
    #[error("{0}: {1}")]
    Format(String, String),
    /// The source recording could not be read.
    #[error(transparent)]
    Source(#[from] polyfleet_polymarket::data::recording::RecordingError),
}

/// What the conversion read, and what became of it: the numbers a backtest report gives about
/// its input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    /// The source recording's file name.
    pub source: String,
    /// Receive time of the source's first line (Unix ns): where a run's clock starts.
    pub first_recv_ns: u64,
    /// Every line of the source.
    pub read: ReadStats,
    /// Market-channel frames by outcome, outcome names as in [`FrameOutcome::as_str`].
    pub frame_outcomes: BTreeMap<String, u64>,
    /// Malformed frames skipped.
    pub malformed: u64,
    /// Events in a schema the decoder does not support, skipped.
    pub unsupported_schema: u64,
    /// Books the venue's hash disagreed with.
    pub resyncs: u64,
    /// Market events written.
    pub events: u64,
    /// RTDS frames written.
    pub rtds: u64,
}

impl Accounting {
    /// The frame ledger (outcome names this build does not know are refused).
    pub fn ledger(&self) -> Result<FrameLedger, String> {
        let mut ledger = FrameLedger::default();
        for (name, n) in &self.frame_outcomes {
            let outcome = FrameOutcome::ALL
                .iter()
                .find(|o| o.as_str() == name)
                .ok_or_else(|| format!("unknown frame outcome {name:?} in the accounting"))?;
            ledger.frames += n;
            ledger.by_outcome.insert(outcome.as_str(), *n);
        }
        Ok(ledger)
    }

    /// The outcome counts of a ledger, by name.
    pub fn outcomes_of(ledger: &FrameLedger) -> BTreeMap<String, u64> {
        ledger.by_outcome.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }
}

/// The schema of a columnar recording (metadata included).
pub fn schema() -> Schema {
    let utc = Some(Arc::from("UTC"));
    let fields = vec![
        Field::new("recv_ns", DataType::Timestamp(TimeUnit::Nanosecond, utc.clone()), false),
        Field::new("venue_ts_ms", DataType::Timestamp(TimeUnit::Millisecond, utc), true),
        Field::new("seq", DataType::UInt64, true),
        Field::new("token", dictionary(DataType::UInt32), true),
        Field::new("market", dictionary(DataType::UInt32), true),
        Field::new("kind", dictionary(DataType::UInt8), false),
        Field::new("levels", DataType::List(level_field()), false),
        Field::new("tick_e4", DataType::UInt32, true),
        Field::new("fee_rate_bps", DataType::UInt32, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("hash", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, true),
    ];
    let meta = [(FORMAT_KEY.to_string(), FORMAT.to_string()), (VERSION_KEY.to_string(), VERSION.to_string())];
    Schema::new(fields).with_metadata(meta.into_iter().collect::<std::collections::HashMap<_, _>>())
}

fn dictionary(key: DataType) -> DataType {
    DataType::Dictionary(Box::new(key), Box::new(DataType::Utf8))
}

/// The fields of one level.
pub fn level_fields() -> arrow_schema::Fields {
    arrow_schema::Fields::from(vec![
        Field::new("side", dictionary(DataType::UInt8), false),
        Field::new("price_e4", DataType::UInt32, false),
        Field::new("size_e6", DataType::UInt64, false),
    ])
}

/// The list item of `levels`.
pub fn level_field() -> arrow_schema::FieldRef {
    Arc::new(Field::new("item", DataType::Struct(level_fields()), false))
}

/// True when `path` starts like an Arrow IPC file (`ARROW1`): how readers of recordings tell a
/// columnar recording from JSON Lines, whatever its name.
pub fn is_columnar(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 6];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"ARROW1"
}

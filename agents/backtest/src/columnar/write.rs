//! Writes a columnar recording (see the layout in [`super`]): market events and RTDS frames in
//! the order given, [`BATCH_ROWS`] events per record batch (lz4-compressed unless asked not to),
//! the accounting in the footer. Token and market columns use one dictionary for the whole file (the tokens named at
//! creation), so every Arrow reader takes the file as is.

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, PrimitiveBuilder, StringBuilder, UInt8Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::types::{TimestampMillisecondType, UInt8Type, UInt32Type};
use arrow_array::{
    ArrayRef, DictionaryArray, ListArray, RecordBatch, StringArray, StructArray, TimestampNanosecondArray, UInt8Array,
    UInt32Array, UInt64Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_ipc::CompressionType;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_schema::SchemaRef;
use polyfleet_core::wire::{MarketEvent, MarketEventBody};
use polyfleet_core::{BookSide, ConditionId, Side, TokenId};

use super::{
    ACCOUNTING_KEY, Accounting, BATCH_ROWS, ColumnarError, KINDS, Kind, SIDES, level_field, level_fields, schema,
};

/// Writes one columnar recording.
pub struct Writer {
    name: String,
    out: FileWriter<BufWriter<std::fs::File>>,
    schema: SchemaRef,
    tokens: HashMap<TokenId, u32>,
    markets: HashMap<ConditionId, u32>,
    dictionaries: Dictionaries,
    rows: Rows,
    events: u64,
}

struct Dictionaries {
    tokens: ArrayRef,
    markets: ArrayRef,
    kinds: ArrayRef,
    sides: ArrayRef,
}

/// The columns of the batch being filled.
#[derive(Default)]
struct Rows {
    recv_ns: Vec<i64>,
    venue_ts_ms: PrimitiveBuilder<TimestampMillisecondType>,
    seq: UInt64Builder,
    token: UInt32Builder,
    market: UInt32Builder,
    kind: UInt8Builder,
    /// `levels` offsets (one more than rows), then each level's side key, price and size.
    offsets: Vec<i32>,
    side: Vec<u8>,
    price: Vec<u32>,
    size: Vec<u64>,
    tick: UInt32Builder,
    fee: UInt32Builder,
    flag: BooleanBuilder,
    hash: StringBuilder,
    text: StringBuilder,
}

/// One event's columns but its levels (pushed before it).
#[derive(Default, Clone, Copy)]
struct Row<'a> {
    recv_ns: i64,
    venue_ts_ms: Option<i64>,
    seq: Option<u64>,
    token: Option<u32>,
    market: Option<u32>,
    kind: u8,
    tick: Option<u32>,
    fee: Option<u32>,
    flag: Option<bool>,
    hash: Option<&'a str>,
    text: Option<&'a str>,
}

fn book_side(s: BookSide) -> u8 {
    match s {
        BookSide::Bid => 0,
        BookSide::Ask => 1,
    }
}

fn taker_side(s: Side) -> u8 {
    match s {
        Side::Buy => 2,
        Side::Sell => 3,
    }
}

fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn ns(name: &str, v: u64) -> Result<i64, ColumnarError> {
    i64::try_from(v).map_err(|_| ColumnarError::Format(name.to_string(), format!("time {v} beyond the year 2262")))
}

impl Writer {
    /// Creates `path` for the events of `tokens` (each with its market), lz4-compressed unless
    /// `compress` is false.
    pub fn create(path: &Path, tokens: &[(TokenId, ConditionId)], compress: bool) -> Result<Writer, ColumnarError> {
        let name = path.display().to_string();
        let file = std::fs::File::create(path).map_err(|e| ColumnarError::Io(name.clone(), e))?;
        let arrow = |e| ColumnarError::Arrow(name.clone(), e);
        let options = IpcWriteOptions::default()
            .try_with_compression(compress.then_some(CompressionType::LZ4_FRAME))
            .map_err(arrow)?;
        let schema = Arc::new(schema());
        let out = FileWriter::try_new_with_options(BufWriter::with_capacity(1 << 20, file), &schema, options)
            .map_err(arrow)?;
        let mut token_ix = HashMap::new();
        let mut token_names = vec![];
        let mut market_ix = HashMap::new();
        let mut market_names = vec![];
        let too_many = || ColumnarError::Format(name.clone(), "more than 2^32 tokens".into());
        for (t, m) in tokens {
            if !token_ix.contains_key(t) {
                token_ix.insert(*t, u32::try_from(token_names.len()).map_err(|_| too_many())?);
                token_names.push(t.to_string());
            }
            if !market_ix.contains_key(m) {
                market_ix.insert(*m, u32::try_from(market_names.len()).map_err(|_| too_many())?);
                market_names.push(m.to_string());
            }
        }
        let dictionaries = Dictionaries {
            tokens: strings(token_names.iter().map(String::as_str)),
            markets: strings(market_names.iter().map(String::as_str)),
            kinds: strings(KINDS),
            sides: strings(SIDES),
        };
        Ok(Writer {
            name,
            out,
            schema,
            tokens: token_ix,
            markets: market_ix,
            dictionaries,
            rows: Rows { offsets: vec![0], ..Rows::default() },
            events: 0,
        })
    }

    /// Appends one market event.
    pub fn event(&mut self, ev: &MarketEvent) -> Result<(), ColumnarError> {
        let unknown = |what: String| ColumnarError::Format(self.name.clone(), what);
        let token =
            *self.tokens.get(&ev.token).ok_or_else(|| unknown(format!("event for token {} not declared", ev.token)))?;
        let market = *self
            .markets
            .get(&ev.market)
            .ok_or_else(|| unknown(format!("event for market {} not declared", ev.market)))?;
        let mut row = Row {
            recv_ns: ns(&self.name, ev.recv_ts_ns)?,
            venue_ts_ms: Some(ns(&self.name, ev.venue_ts_ms)?),
            seq: Some(ev.seq),
            token: Some(token),
            market: Some(market),
            ..Row::default()
        };
        let r = &mut self.rows;
        let kind = match &ev.body {
            MarketEventBody::Snapshot { bids, asks, tick, hash } => {
                for l in bids {
                    r.level(book_side(BookSide::Bid), l.price.ticks(), l.size.micros());
                }
                for l in asks {
                    r.level(book_side(BookSide::Ask), l.price.ticks(), l.size.micros());
                }
                row.tick = Some(tick.ticks());
                row.hash = hash.as_deref();
                Kind::Snapshot
            }
            MarketEventBody::Delta(changes) => {
                for c in changes {
                    r.level(book_side(c.side), c.price.ticks(), c.size.micros());
                }
                Kind::Delta
            }
            MarketEventBody::Trade { side, price, size, fee_rate_bps } => {
                r.level(taker_side(*side), price.ticks(), size.micros());
                row.fee = Some(*fee_rate_bps);
                Kind::Trade
            }
            MarketEventBody::TickSize { tick } => {
                row.tick = Some(tick.ticks());
                Kind::TickSize
            }
            MarketEventBody::Resolved { winner } => {
                row.flag = Some(*winner);
                Kind::Resolved
            }
            MarketEventBody::FeedStatus { healthy } => {
                row.flag = Some(*healthy);
                Kind::FeedStatus
            }
            MarketEventBody::Trading { accepting_orders } => {
                row.flag = Some(*accepting_orders);
                Kind::Trading
            }
        };
        row.kind = kind as u8;
        self.push(row)
    }

    /// Appends one RTDS frame received at `recv_ns`.
    pub fn rtds(&mut self, recv_ns: u64, text: &str) -> Result<(), ColumnarError> {
        let row = Row { recv_ns: ns(&self.name, recv_ns)?, kind: Kind::Rtds as u8, text: Some(text), ..Row::default() };
        self.push(row)
    }

    fn push(&mut self, row: Row<'_>) -> Result<(), ColumnarError> {
        let levels = i32::try_from(self.rows.side.len())
            .map_err(|_| ColumnarError::Format(self.name.clone(), "more than 2^31 levels in a batch".into()))?;
        self.rows.push(row, levels);
        self.events += 1;
        if self.rows.recv_ns.len() >= BATCH_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), ColumnarError> {
        if self.rows.recv_ns.is_empty() {
            return Ok(());
        }
        let arrow = |e| ColumnarError::Arrow(self.name.clone(), e);
        let r = &mut self.rows;
        let d = &self.dictionaries;
        let dict32 = |keys: &mut UInt32Builder, values: &ArrayRef| -> Result<ArrayRef, arrow_schema::ArrowError> {
            Ok(Arc::new(DictionaryArray::<UInt32Type>::try_new(keys.finish(), values.clone())?))
        };
        let dict8 = |keys: UInt8Array, values: &ArrayRef| -> Result<ArrayRef, arrow_schema::ArrowError> {
            Ok(Arc::new(DictionaryArray::<UInt8Type>::try_new(keys, values.clone())?))
        };
        let level_columns: Vec<ArrayRef> = vec![
            dict8(UInt8Array::from(std::mem::take(&mut r.side)), &d.sides).map_err(arrow)?,
            Arc::new(UInt32Array::from(std::mem::take(&mut r.price))),
            Arc::new(UInt64Array::from(std::mem::take(&mut r.size))),
        ];
        let levels = StructArray::try_new(level_fields(), level_columns, None).map_err(arrow)?;
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(&mut r.offsets, vec![0])));
        let levels = ListArray::try_new(level_field(), offsets, Arc::new(levels), None).map_err(arrow)?;
        let kinds = r.kind.finish();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(std::mem::take(&mut r.recv_ns)).with_timezone("UTC")),
            Arc::new(r.venue_ts_ms.finish().with_timezone("UTC")),
            Arc::new(r.seq.finish()),
            dict32(&mut r.token, &d.tokens).map_err(arrow)?,
            dict32(&mut r.market, &d.markets).map_err(arrow)?,
            dict8(kinds, &d.kinds).map_err(arrow)?,
            Arc::new(levels),
            Arc::new(r.tick.finish()),
            Arc::new(r.fee.finish()),
            Arc::new(r.flag.finish()),
            Arc::new(r.hash.finish()),
            Arc::new(r.text.finish()),
        ];
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(arrow)?;
        self.out.write(&batch).map_err(arrow)
    }

    /// Writes what is left and the footer with the accounting; the file is complete only then.
    pub fn finish(mut self, accounting: &Accounting) -> Result<(), ColumnarError> {
        self.flush()?;
        let json =
            serde_json::to_string(accounting).map_err(|e| ColumnarError::Format(self.name.clone(), e.to_string()))?;
        self.out.write_metadata(ACCOUNTING_KEY, json);
        self.out.finish().map_err(|e| ColumnarError::Arrow(self.name.clone(), e))?;
        let inner = self.out.into_inner().map_err(|e| ColumnarError::Arrow(self.name.clone(), e))?;
        inner
            .into_inner()
            .map_err(|e| ColumnarError::Io(self.name.clone(), e.into_error()))?
            .sync_all()
            .map_err(|e| ColumnarError::Io(self.name, e))
    }
}

impl Rows {
    fn level(&mut self, side: u8, price: u32, size: u64) {
        self.side.push(side);
        self.price.push(price);
        self.size.push(size);
    }

    /// Appends one event, its levels (pushed before) ending at `levels`.
    fn push(&mut self, r: Row<'_>, levels: i32) {
        self.recv_ns.push(r.recv_ns);
        self.venue_ts_ms.append_option(r.venue_ts_ms);
        self.seq.append_option(r.seq);
        self.token.append_option(r.token);
        self.market.append_option(r.market);
        self.kind.append_value(r.kind);
        self.offsets.push(levels);
        self.tick.append_option(r.tick);
        self.fee.append_option(r.fee);
        self.flag.append_option(r.flag);
        self.hash.append_option(r.hash);
        self.text.append_option(r.text);
    }
}

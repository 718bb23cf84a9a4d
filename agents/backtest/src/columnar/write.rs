//! Writes a columnar recording (see the layout in [`super`]): market events and RTDS frames in
//! the order given, [`BATCH_ROWS`] rows per lz4-compressed record batch, the accounting in the
//! footer. Token and market columns use one dictionary for the whole file (the tokens named at
//! creation), so every Arrow reader takes the file as is.

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, PrimitiveBuilder, StringBuilder, UInt8Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::types::{TimestampMillisecondType, UInt8Type, UInt32Type};
use arrow_array::{ArrayRef, DictionaryArray, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_ipc::CompressionType;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_schema::SchemaRef;
use polyfleet_core::wire::{MarketEvent, MarketEventBody};
use polyfleet_core::{BookSide, ConditionId, Side, TokenId};

use super::{ACCOUNTING_KEY, Accounting, BATCH_ROWS, ColumnarError, KINDS, Kind, SIDES, schema};

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
    event: UInt64Builder,
    recv_ns: Vec<i64>,
    venue_ts_ms: PrimitiveBuilder<TimestampMillisecondType>,
    seq: UInt64Builder,
    token: UInt32Builder,
    market: UInt32Builder,
    kind: UInt8Builder,
    side: UInt8Builder,
    price: UInt32Builder,
    size: UInt64Builder,
    tick: UInt32Builder,
    fee: UInt32Builder,
    flag: BooleanBuilder,
    hash: StringBuilder,
    text: StringBuilder,
}

/// One row's own values (the event's are shared by its rows).
#[derive(Default, Clone, Copy)]
struct Row<'a> {
    side: Option<u8>,
    price: Option<u32>,
    size: Option<u64>,
    tick: Option<u32>,
    fee: Option<u32>,
    flag: Option<bool>,
    hash: Option<&'a str>,
}

/// Where an event's rows come from.
struct Head {
    event: u64,
    recv_ns: i64,
    venue_ts_ms: Option<i64>,
    seq: Option<u64>,
    token: Option<u32>,
    market: Option<u32>,
    kind: Kind,
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
    /// Creates `path` for the events of `tokens` (each with its market).
    pub fn create(path: &Path, tokens: &[(TokenId, ConditionId)]) -> Result<Writer, ColumnarError> {
        let name = path.display().to_string();
        let file = std::fs::File::create(path).map_err(|e| ColumnarError::Io(name.clone(), e))?;
        let arrow = |e| ColumnarError::Arrow(name.clone(), e);
        let options =
            IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME)).map_err(arrow)?;
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
            rows: Rows::default(),
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
        let kind = match &ev.body {
            MarketEventBody::Snapshot { .. } => Kind::Snapshot,
            MarketEventBody::Delta(_) => Kind::Delta,
            MarketEventBody::Trade { .. } => Kind::Trade,
            MarketEventBody::TickSize { .. } => Kind::TickSize,
            MarketEventBody::Resolved { .. } => Kind::Resolved,
            MarketEventBody::FeedStatus { .. } => Kind::FeedStatus,
            MarketEventBody::Trading { .. } => Kind::Trading,
        };
        let head = Head {
            event: self.events,
            recv_ns: ns(&self.name, ev.recv_ts_ns)?,
            venue_ts_ms: Some(ns(&self.name, ev.venue_ts_ms)?),
            seq: Some(ev.seq),
            token: Some(token),
            market: Some(market),
            kind,
        };
        let level = |side: u8, price: u32, size: u64| Row {
            side: Some(side),
            price: Some(price),
            size: Some(size),
            ..Row::default()
        };
        match &ev.body {
            MarketEventBody::Snapshot { bids, asks, tick, hash } => {
                let levels = bids.iter().map(|l| (BookSide::Bid, l)).chain(asks.iter().map(|l| (BookSide::Ask, l)));
                let mut first = true;
                for (side, l) in levels {
                    let row = Row {
                        tick: Some(tick.ticks()),
                        hash: hash.as_deref().filter(|_| first),
                        ..level(book_side(side), l.price.ticks(), l.size.micros())
                    };
                    self.rows.push(&head, row);
                    first = false;
                }
                if first {
                    self.rows.push(&head, Row { tick: Some(tick.ticks()), hash: hash.as_deref(), ..Row::default() });
                }
            }
            MarketEventBody::Delta(changes) => {
                for c in changes {
                    self.rows.push(&head, level(book_side(c.side), c.price.ticks(), c.size.micros()));
                }
                if changes.is_empty() {
                    self.rows.push(&head, Row::default());
                }
            }
            MarketEventBody::Trade { side, price, size, fee_rate_bps } => {
                let row = Row { fee: Some(*fee_rate_bps), ..level(taker_side(*side), price.ticks(), size.micros()) };
                self.rows.push(&head, row);
            }
            MarketEventBody::TickSize { tick } => {
                self.rows.push(&head, Row { tick: Some(tick.ticks()), ..Row::default() })
            }
            MarketEventBody::Resolved { winner: flag }
            | MarketEventBody::FeedStatus { healthy: flag }
            | MarketEventBody::Trading { accepting_orders: flag } => {
                self.rows.push(&head, Row { flag: Some(*flag), ..Row::default() })
            }
        }
        self.events += 1;
        self.flush_full()
    }

    /// Appends one RTDS frame received at `recv_ns`.
    pub fn rtds(&mut self, recv_ns: u64, text: &str) -> Result<(), ColumnarError> {
        let head = Head {
            event: self.events,
            recv_ns: ns(&self.name, recv_ns)?,
            venue_ts_ms: None,
            seq: None,
            token: None,
            market: None,
            kind: Kind::Rtds,
        };
        self.rows.push(&head, Row::default());
        self.rows.text.append_value(text);
        self.events += 1;
        self.flush_full()
    }

    fn flush_full(&mut self) -> Result<(), ColumnarError> {
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
        let dict8 = |keys: &mut UInt8Builder, values: &ArrayRef| -> Result<ArrayRef, arrow_schema::ArrowError> {
            Ok(Arc::new(DictionaryArray::<UInt8Type>::try_new(keys.finish(), values.clone())?))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(r.event.finish()),
            Arc::new(TimestampNanosecondArray::from(std::mem::take(&mut r.recv_ns)).with_timezone("UTC")),
            Arc::new(r.venue_ts_ms.finish().with_timezone("UTC")),
            Arc::new(r.seq.finish()),
            dict32(&mut r.token, &d.tokens).map_err(arrow)?,
            dict32(&mut r.market, &d.markets).map_err(arrow)?,
            dict8(&mut r.kind, &d.kinds).map_err(arrow)?,
            dict8(&mut r.side, &d.sides).map_err(arrow)?,
            Arc::new(r.price.finish()),
            Arc::new(r.size.finish()),
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
    /// Appends one row; a caller adding `text` appends it after (the only column rows fill
    /// later), every other column is filled here.
    fn push(&mut self, h: &Head, r: Row<'_>) {
        self.event.append_value(h.event);
        self.recv_ns.push(h.recv_ns);
        self.venue_ts_ms.append_option(h.venue_ts_ms);
        self.seq.append_option(h.seq);
        self.token.append_option(h.token);
        self.market.append_option(h.market);
        self.kind.append_value(h.kind as u8);
        self.side.append_option(r.side);
        self.price.append_option(r.price);
        self.size.append_option(r.size);
        self.tick.append_option(r.tick);
        self.fee.append_option(r.fee);
        self.flag.append_option(r.flag);
        self.hash.append_option(r.hash);
        if h.kind != Kind::Rtds {
            self.text.append_null();
        }
    }
}

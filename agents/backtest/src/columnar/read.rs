//! Reads a columnar recording (see the layout in [`super`]) back into market events, one record
//! batch at a time: as an iterator it yields the events of the tokens asked for, in file order,
//! and sets the RTDS frames aside with their receive times (as [`crate::source::Events`] does for
//! JSON Lines). A file that is not a columnar recording of this version, a cut file (no footer)
//! and a row that breaks the layout are errors, never a silently shorter run: the iterator stops
//! there and [`Columnar::finish`] says why.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, TimestampNanosecondType, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::OffsetBuffer;
use arrow_ipc::reader::FileReader;
use polyfleet_core::wire::{Level, LevelChange, MarketEvent, MarketEventBody};
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, Side, TokenId, TokenMap};

use super::{ACCOUNTING_KEY, Accounting, ColumnarError, FORMAT, FORMAT_KEY, KINDS, Kind, SIDES, VERSION, VERSION_KEY};

/// A columnar recording being read.
pub struct Columnar {
    name: String,
    reader: FileReader<BufReader<File>>,
    accounting: Accounting,
    keep: Option<TokenMap<()>>,
    batch: Option<Batch>,
    cache: Decoded,
    row: usize,
    /// RTDS frames read so far: (receive time ns, text), in file order.
    pub rtds: Vec<(u64, String)>,
    /// Market events yielded so far.
    pub events: u64,
    /// Rows read so far (events of every token, RTDS frames).
    read: u64,
    error: Option<ColumnarError>,
}

/// One record batch's columns, typed, with its dictionaries decoded.
struct Batch {
    len: usize,
    recv_ns: PrimitiveArray<TimestampNanosecondType>,
    venue_ts_ms: PrimitiveArray<TimestampMillisecondType>,
    seq: PrimitiveArray<UInt64Type>,
    token: PrimitiveArray<UInt32Type>,
    market: PrimitiveArray<UInt32Type>,
    kind: PrimitiveArray<UInt8Type>,
    /// `levels`: each event's range of the level columns.
    offsets: OffsetBuffer<i32>,
    side: PrimitiveArray<UInt8Type>,
    price: PrimitiveArray<UInt32Type>,
    size: PrimitiveArray<UInt64Type>,
    tick: PrimitiveArray<UInt32Type>,
    fee: PrimitiveArray<UInt32Type>,
    flag: BooleanArray,
    hash: StringArray,
    text: StringArray,
    tokens: Arc<Vec<TokenId>>,
    markets: Arc<Vec<ConditionId>>,
    kinds: Vec<Option<Kind>>,
    /// Side codes of [`SIDES`] by dictionary key.
    sides: Vec<Option<u8>>,
}

/// Dictionaries decoded once per file, not per batch (batches share them).
#[derive(Default)]
struct Decoded {
    tokens: Option<(ArrayRef, Arc<Vec<TokenId>>)>,
    markets: Option<(ArrayRef, Arc<Vec<ConditionId>>)>,
}

impl Columnar {
    /// Opens `path`, yielding events of `tokens` only (every token's with `None`).
    pub fn open(path: &Path, tokens: Option<&[TokenId]>) -> Result<Columnar, ColumnarError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| ColumnarError::Io(name.clone(), e))?;
        let reader = FileReader::try_new(BufReader::with_capacity(1 << 20, file), None)
            .map_err(|e| ColumnarError::Arrow(name.clone(), e))?;
        let format = |why: String| ColumnarError::Format(name.clone(), why);
        let meta = reader.schema().metadata().clone();
        if meta.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT) {
            return Err(format("an Arrow file, but not a polyfleet columnar recording".into()));
        }
        if meta.get(VERSION_KEY).map(String::as_str) != Some(VERSION) {
            return Err(format(format!(
                "columnar recording version {:?}; this build reads version {VERSION}",
                meta.get(VERSION_KEY)
            )));
        }
        let accounting = reader
            .custom_metadata()
            .get(ACCOUNTING_KEY)
            .ok_or_else(|| format("no accounting in the footer".into()))
            .and_then(|j| serde_json::from_str(j).map_err(|e| format(format!("accounting: {e}"))))?;
        let keep = tokens.map(|ts| ts.iter().map(|t| (*t, ())).collect());
        Ok(Columnar {
            name,
            reader,
            accounting,
            keep,
            batch: None,
            cache: Decoded::default(),
            row: 0,
            rtds: vec![],
            events: 0,
            read: 0,
            error: None,
        })
    }

    /// What the conversion read and wrote.
    pub fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    /// Reads what is left, then: the accounting, or why the file could not be read to its end
    /// (its rows must be the events and RTDS frames the footer counts).
    pub fn finish(mut self) -> Result<Accounting, ColumnarError> {
        for _ in self.by_ref() {}
        if let Some(e) = self.error {
            return Err(e);
        }
        let counted = self.accounting.events + self.accounting.rtds;
        if self.read != counted {
            let why = format!("{} rows, but the footer counts {counted} events and RTDS frames", self.read);
            return Err(ColumnarError::Format(self.name, why));
        }
        Ok(self.accounting)
    }

    fn fail(&mut self, why: String) -> Option<MarketEvent> {
        self.error = Some(ColumnarError::Format(self.name.clone(), why));
        self.batch = None;
        None
    }

    /// Moves to the next batch; false at the end or on an error (kept).
    fn load(&mut self) -> bool {
        let batch = match self.reader.next() {
            None => return false,
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                self.error = Some(ColumnarError::Arrow(self.name.clone(), e));
                return false;
            }
        };
        match Batch::new(&batch, &mut self.cache) {
            Ok(b) => {
                self.batch = Some(b);
                self.row = 0;
                true
            }
            Err(why) => {
                self.fail(why);
                false
            }
        }
    }
}

impl Iterator for Columnar {
    type Item = MarketEvent;

    fn next(&mut self) -> Option<MarketEvent> {
        loop {
            if self.error.is_some() {
                return None;
            }
            if self.batch.as_ref().is_none_or(|b| self.row >= b.len) {
                if !self.load() {
                    return None;
                }
                continue;
            }
            let b = self.batch.as_ref()?;
            let row = self.row;
            self.row += 1;
            let ordinal = self.read;
            self.read += 1;
            let Some(kind) = b.kinds.get(usize::from(b.kind.value(row))).copied().flatten() else {
                return self.fail(format!("event {ordinal}: unknown kind"));
            };
            let Ok(recv_ns) = u64::try_from(b.recv_ns.value(row)) else {
                return self.fail(format!("event {ordinal}: receive time before 1970"));
            };
            if kind == Kind::Rtds {
                if b.text.is_null(row) {
                    return self.fail(format!("event {ordinal}: an rtds row without text"));
                }
                let text = b.text.value(row).to_string();
                self.rtds.push((recv_ns, text));
                continue;
            }
            let token = match b.token_at(row) {
                Ok(t) => t,
                Err(why) => return self.fail(format!("event {ordinal}: {why}")),
            };
            if self.keep.as_ref().is_some_and(|k| !k.contains_key(&token)) {
                continue;
            }
            match b.event_at(row, kind, token, recv_ns) {
                Ok(ev) => {
                    self.events += 1;
                    return Some(ev);
                }
                Err(why) => return self.fail(format!("event {ordinal}: {why}")),
            }
        }
    }
}

/// A dictionary column's keys and values.
fn dictionary<K: arrow_array::types::ArrowDictionaryKeyType>(
    batch: &RecordBatch,
    name: &str,
) -> Result<(PrimitiveArray<K>, ArrayRef), String> {
    let col = batch.column_by_name(name).ok_or_else(|| format!("no column {name}"))?;
    let d = col
        .as_dictionary_opt::<K>()
        .ok_or_else(|| format!("column {name}: not a dictionary of the expected key type"))?;
    Ok((d.keys().clone(), d.values().clone()))
}

fn primitive<T: arrow_array::ArrowPrimitiveType>(batch: &RecordBatch, name: &str) -> Result<PrimitiveArray<T>, String> {
    let col = batch.column_by_name(name).ok_or_else(|| format!("no column {name}"))?;
    col.as_primitive_opt::<T>().cloned().ok_or_else(|| format!("column {name}: not of type {}", T::DATA_TYPE))
}

fn utf8(values: &ArrayRef, name: &str) -> Result<StringArray, String> {
    values.as_string_opt::<i32>().cloned().ok_or_else(|| format!("column {name}: dictionary values are not utf8"))
}

/// Decodes a dictionary's values once per distinct dictionary (batches of one file share it).
fn decoded<T>(
    cache: &mut Option<(ArrayRef, Arc<Vec<T>>)>,
    values: &ArrayRef,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Arc<Vec<T>>, String> {
    if let Some((v, d)) = cache
        && (Arc::ptr_eq(v, values) || v.to_data() == values.to_data())
    {
        return Ok(d.clone());
    }
    let strings = utf8(values, name)?;
    let parsed: Vec<T> = strings.iter().map(|s| parse(s.unwrap_or_default())).collect::<Result<_, _>>()?;
    let parsed = Arc::new(parsed);
    *cache = Some((values.clone(), parsed.clone()));
    Ok(parsed)
}

impl Batch {
    fn new(batch: &RecordBatch, cache: &mut Decoded) -> Result<Batch, String> {
        let (token, token_values) = dictionary::<UInt32Type>(batch, "token")?;
        let (market, market_values) = dictionary::<UInt32Type>(batch, "market")?;
        let (kind, kind_values) = dictionary::<UInt8Type>(batch, "kind")?;
        let tokens = decoded(&mut cache.tokens, &token_values, "token", |s| {
            TokenId::parse(s).map_err(|e| format!("token {s:?}: {e}"))
        })?;
        let markets = decoded(&mut cache.markets, &market_values, "market", |s| {
            ConditionId::parse(s).map_err(|e| format!("market {s:?}: {e}"))
        })?;
        let kinds = utf8(&kind_values, "kind")?
            .iter()
            .map(|k| KINDS.iter().position(|n| Some(*n) == k).and_then(|i| Kind::of(u8::try_from(i).ok()?)))
            .collect();
        let levels = batch
            .column_by_name("levels")
            .and_then(|c| c.as_list_opt::<i32>())
            .ok_or_else(|| "column levels: missing or not a list".to_string())?;
        let items =
            levels.values().as_struct_opt().ok_or_else(|| "column levels: items are not structs".to_string())?;
        let level = |name: &str| items.column_by_name(name).ok_or_else(|| format!("levels: no field {name}"));
        let sides_dict = level("side")?
            .as_dictionary_opt::<UInt8Type>()
            .ok_or_else(|| "levels.side: not a dictionary of uint8".to_string())?;
        let sides = utf8(sides_dict.values(), "levels.side")?
            .iter()
            .map(|k| SIDES.iter().position(|n| Some(*n) == k).and_then(|i| u8::try_from(i).ok()))
            .collect();
        let typed = |name: &str| -> Result<PrimitiveArray<UInt32Type>, String> {
            level(name)?.as_primitive_opt::<UInt32Type>().cloned().ok_or_else(|| format!("levels.{name}: not uint32"))
        };
        let size = level("size_e6")?
            .as_primitive_opt::<UInt64Type>()
            .cloned()
            .ok_or_else(|| "levels.size_e6: not uint64".to_string())?;
        let string = |name: &str| -> Result<StringArray, String> {
            let col = batch.column_by_name(name).ok_or_else(|| format!("no column {name}"))?;
            col.as_string_opt::<i32>().cloned().ok_or_else(|| format!("column {name}: not utf8"))
        };
        let flag = batch
            .column_by_name("flag")
            .and_then(|c| c.as_boolean_opt().cloned())
            .ok_or_else(|| "column flag: missing or not boolean".to_string())?;
        if items.null_count() > 0 || sides_dict.keys().null_count() > 0 {
            return Err("levels: a null level or side".into());
        }
        Ok(Batch {
            len: batch.num_rows(),
            recv_ns: primitive(batch, "recv_ns")?,
            venue_ts_ms: primitive(batch, "venue_ts_ms")?,
            seq: primitive(batch, "seq")?,
            token,
            market,
            kind,
            offsets: levels.offsets().clone(),
            side: sides_dict.keys().clone(),
            price: typed("price_e4")?,
            size,
            tick: primitive(batch, "tick_e4")?,
            fee: primitive(batch, "fee_rate_bps")?,
            flag,
            hash: string("hash")?,
            text: string("text")?,
            tokens,
            markets,
            kinds,
            sides,
        })
    }

    fn token_at(&self, row: usize) -> Result<TokenId, String> {
        if self.token.is_null(row) {
            return Err("no token".into());
        }
        self.tokens.get(self.token.value(row) as usize).copied().ok_or_else(|| "token key out of range".into())
    }

    /// The levels of `row`: (side code, price, size).
    fn levels_at(
        &self,
        row: usize,
    ) -> Result<impl Iterator<Item = (Option<u8>, Option<Price>, Quantity)> + '_, String> {
        let (start, end) = (self.offsets[row], self.offsets[row + 1]);
        let (start, end) =
            (usize::try_from(start).map_err(|_| "bad offsets")?, usize::try_from(end).map_err(|_| "bad offsets")?);
        if start > end || end > self.price.len() {
            return Err("levels out of range".into());
        }
        Ok((start..end).map(|i| {
            let side = self.sides.get(usize::from(self.side.value(i))).copied().flatten();
            (side, Price::from_ticks(self.price.value(i)), Quantity::from_micros(self.size.value(i)))
        }))
    }

    fn tick_at(&self, row: usize) -> Result<Price, String> {
        if self.tick.is_null(row) {
            return Err("no tick size".into());
        }
        Price::from_ticks(self.tick.value(row)).ok_or_else(|| format!("tick {} out of range", self.tick.value(row)))
    }

    fn flag_at(&self, row: usize) -> Result<bool, String> {
        if self.flag.is_null(row) { Err("no flag".into()) } else { Ok(self.flag.value(row)) }
    }

    /// The event in `row`.
    fn event_at(&self, row: usize, kind: Kind, token: TokenId, recv_ns: u64) -> Result<MarketEvent, String> {
        if self.seq.is_null(row) || self.venue_ts_ms.is_null(row) {
            return Err("no seq or venue time".into());
        }
        let (seq, venue_ts_ms) = (self.seq.value(row), self.venue_ts_ms.value(row));
        if self.market.is_null(row) {
            return Err("no market".into());
        }
        let market = *self.markets.get(self.market.value(row) as usize).ok_or("market key out of range")?;
        let book_side = |side: Option<u8>| match side {
            Some(0) => Ok(BookSide::Bid),
            Some(1) => Ok(BookSide::Ask),
            _ => Err("a level without a book side".to_string()),
        };
        let price = |p: Option<Price>| p.ok_or_else(|| "a price out of range".to_string());
        let body = match kind {
            Kind::Snapshot => {
                let (mut bids, mut asks) = (vec![], vec![]);
                for (side, p, size) in self.levels_at(row)? {
                    let level = Level { price: price(p)?, size };
                    match book_side(side)? {
                        BookSide::Bid => bids.push(level),
                        BookSide::Ask => asks.push(level),
                    }
                }
                let hash = (!self.hash.is_null(row)).then(|| self.hash.value(row).to_string());
                MarketEventBody::Snapshot { bids, asks, tick: self.tick_at(row)?, hash }
            }
            Kind::Delta => {
                let changes = self
                    .levels_at(row)?
                    .map(|(side, p, size)| Ok(LevelChange { side: book_side(side)?, price: price(p)?, size }))
                    .collect::<Result<Vec<_>, String>>()?;
                MarketEventBody::Delta(changes)
            }
            Kind::Trade => {
                let mut levels = self.levels_at(row)?;
                let (Some((side, p, size)), None) = (levels.next(), levels.next()) else {
                    return Err("a trade is one level".into());
                };
                let side = match side {
                    Some(2) => Side::Buy,
                    Some(3) => Side::Sell,
                    _ => return Err("a trade without a taker side".into()),
                };
                if self.fee.is_null(row) {
                    return Err("a trade without a fee rate".into());
                }
                MarketEventBody::Trade { side, price: price(p)?, size, fee_rate_bps: self.fee.value(row) }
            }
            Kind::TickSize => MarketEventBody::TickSize { tick: self.tick_at(row)? },
            Kind::Resolved => MarketEventBody::Resolved { winner: self.flag_at(row)? },
            Kind::FeedStatus => MarketEventBody::FeedStatus { healthy: self.flag_at(row)? },
            Kind::Trading => MarketEventBody::Trading { accepting_orders: self.flag_at(row)? },
            Kind::Rtds => return Err("an rtds row read as a market event".into()),
        };
        let venue_ts_ms = u64::try_from(venue_ts_ms).map_err(|_| "negative venue time")?;
        Ok(MarketEvent { token, market, seq, venue_ts_ms, recv_ts_ns: recv_ns, body })
    }
}

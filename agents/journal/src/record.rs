//! What the journal keeps: one [`Entry`] per thing that happened on the order path (an intent, a
//! risk decision, an order's change of state, a fill, a settlement, a conditional-token
//! operation, a parameter generation, a signal used, a change of a strategy's drift alarms, a token's
//! mid), each with the key that makes writing it
//! idempotent, and for fills a typed [`FillRow`] whose money columns are the core's fixed-point
//! integers (price in ticks, sizes and cash in micro-units), so sums in SQL are exact.

use polyfleet_core::wire::{Fill, FillStatus, Liquidity, Mode, OrderUpdate, RiskDecision};
use polyfleet_core::{Side, wire};

use crate::JournalError;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An order intent of a strategy.
    Intent,
    /// The risk gateway's decision on an intent.
    Decision,
    /// An order's change of state at the executor.
    Order,
    /// A fill (matched, confirmed or failed).
    Fill,
    /// A market's resolution booked against positions.
    Settlement,
    /// A conditional-token operation (split, merge, redeem, convert) and its report.
    Ctf,
    /// A parameter generation a strategy applied.
    Params,
    /// A model's signal a strategy used.
    Signal,
    /// A change of a strategy's standing drift alarms (raised or cleared).
    Drift,
    /// A token's mid as the market moved ([`crate::mids`]).
    Mid,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 10] = [
        Kind::Intent,
        Kind::Decision,
        Kind::Order,
        Kind::Fill,
        Kind::Settlement,
        Kind::Ctf,
        Kind::Params,
        Kind::Signal,
        Kind::Drift,
        Kind::Mid,
    ];

    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Intent => "intent",
            Kind::Decision => "decision",
            Kind::Order => "order",
            Kind::Fill => "fill",
            Kind::Settlement => "settlement",
            Kind::Ctf => "ctf",
            Kind::Params => "params",
            Kind::Signal => "signal",
            Kind::Drift => "drift",
            Kind::Mid => "mid",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(s: &str) -> Result<Kind, JournalError> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| JournalError::Corrupt(format!("kind {s:?}")))
    }
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it records.
    pub kind: Kind,
    /// Unique within its kind: a second write of the same key (a redelivery, a replay, a restart
    /// reading the stream again) changes nothing.
    pub key: String,
    /// When it happened (Unix ns, the event's own time).
    pub ts_ns: i64,
    /// The strategy's namespace.
    pub namespace: String,
    /// The strategy.
    pub strategy: String,
    /// The order's trace (W3C trace id, 32 hex digits) when it travelled with one.
    pub trace_id: Option<String>,
    /// The message exactly as it crossed the bus (`polyfleet_core::wire` encoding).
    pub payload: Vec<u8>,
}

/// A fill's typed row (besides its entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRow {
    /// The venue's (or the paper executor's) fill id.
    pub fill_id: String,
    /// `matched`, `confirmed` or `failed`: with `fill_id`, the key.
    pub status: String,
    /// When (Unix ns).
    pub ts_ns: i64,
    /// The strategy's namespace.
    pub namespace: String,
    /// The strategy.
    pub strategy: String,
    /// The RiskPolicy it is booked against.
    pub risk_policy: String,
    /// The order.
    pub client_order_id: String,
    /// The market (condition id, hex).
    pub market: String,
    /// The token (decimal id).
    pub token: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Price in ticks (1e-4 USDC).
    pub price_ticks: i64,
    /// Size in micro-shares.
    pub size_micros: i64,
    /// Fee paid (positive) or rebate (negative), micro-USDC.
    pub fee_micros: i64,
    /// `maker` or `taker`.
    pub liquidity: String,
    /// `paper`, `shadow` or `live`.
    pub mode: String,
    /// The order's trace id.
    pub trace_id: Option<String>,
}

impl FillRow {
    /// The row's key: fill id and status.
    pub fn key(&self) -> (String, String) {
        (self.fill_id.clone(), self.status.clone())
    }
}

/// The key a fill's row gets (fill id and status), as [`FillRow::key`] gives it back.
pub fn fill_key(f: &Fill) -> (String, String) {
    (f.fill_id.clone(), fill_status(f.status).to_string())
}

/// An entry and, for a fill, its typed row: written together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The entry.
    pub entry: Entry,
    /// The fill's row.
    pub fill: Option<FillRow>,
}

/// A wire time (Unix ns) as the journal's column, or why it does not fit.
pub(crate) fn ts(ns: u64) -> Result<i64, JournalError> {
    i64::try_from(ns).map_err(|_| JournalError::Range(format!("time {ns} ns")))
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// The stored name of a fill status.
pub fn fill_status(s: FillStatus) -> &'static str {
    match s {
        FillStatus::Matched => "matched",
        FillStatus::Confirmed => "confirmed",
        FillStatus::Failed => "failed",
    }
}

fn mode(m: Mode) -> &'static str {
    match m {
        Mode::Paper => "paper",
        Mode::Shadow => "shadow",
        Mode::Live => "live",
    }
}

impl Record {
    /// A fill: its entry (keyed by fill id and status: a matched fill and its confirmation are
    /// two entries) and its typed row.
    pub fn fill(f: &Fill, trace_id: Option<String>) -> Result<Record, JournalError> {
        let status = fill_status(f.status);
        let row = FillRow {
            fill_id: f.fill_id.clone(),
            status: status.into(),
            ts_ns: ts(f.ts_ns)?,
            namespace: f.namespace.clone(),
            strategy: f.strategy.clone(),
            risk_policy: f.risk_policy.clone(),
            client_order_id: f.client_order_id.to_string(),
            market: f.market.to_string(),
            token: f.token.to_string(),
            side: side(f.side).into(),
            price_ticks: i64::from(f.price.ticks()),
            size_micros: i64::try_from(f.size.micros())
                .map_err(|_| JournalError::Range(format!("fill {} size {}", f.fill_id, f.size)))?,
            fee_micros: f.fee.micros(),
            liquidity: match f.liquidity {
                Liquidity::Maker => "maker".into(),
                Liquidity::Taker => "taker".into(),
            },
            mode: mode(f.mode).into(),
            trace_id: trace_id.clone(),
        };
        let entry = Entry {
            kind: Kind::Fill,
            key: format!("{}/{status}", f.fill_id),
            ts_ns: row.ts_ns,
            namespace: f.namespace.clone(),
            strategy: f.strategy.clone(),
            trace_id,
            payload: wire::encode(f),
        };
        Ok(Record { entry, fill: Some(row) })
    }

    /// A risk decision (one per order: keyed by its client order id).
    pub fn decision(d: &RiskDecision, trace_id: Option<String>) -> Result<Record, JournalError> {
        Ok(Record::of(Entry {
            kind: Kind::Decision,
            key: d.intent.client_order_id.to_string(),
            ts_ns: ts(d.decided_ts_ns)?,
            namespace: d.intent.namespace.clone(),
            strategy: d.intent.strategy.clone(),
            trace_id,
            payload: wire::encode(d),
        }))
    }

    /// An order's change of state (keyed by order, status and the size filled by then: every
    /// partial fill's update is its own entry, a repeat of one is not).
    pub fn order(u: &OrderUpdate, trace_id: Option<String>) -> Result<Record, JournalError> {
        Ok(Record::of(Entry {
            kind: Kind::Order,
            key: format!("{}/{:?}/{}", u.client_order_id, u.status, u.filled.micros()),
            ts_ns: ts(u.ts_ns)?,
            namespace: u.namespace.clone(),
            strategy: u.strategy.clone(),
            trace_id,
            payload: wire::encode(u),
        }))
    }

    /// Any other entry, without a typed row.
    pub fn of(entry: Entry) -> Record {
        Record { entry, fill: None }
    }
}

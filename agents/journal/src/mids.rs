//! The mids the journal keeps: each followed token's mid price as the market moved, so that a
//! report from the journal can measure what fills earned against the mid (spread capture), what
//! holding earned as mids moved (inventory) and where the mid went after each fill (markouts),
//! as backtests do. The journal agent writes one entry per change of a token's mid, at most one
//! per token per conflation interval (the last mid of the interval wins); a token's mid between
//! two entries is the earlier one's ("as of").
//!
//! Entries are of kind [`Kind::Mid`], keyed `<venue>/<token>/<event time ns>`, with no namespace
//! or strategy (a mid belongs to the market, not to a strategy), and a small JSON payload whose
//! price is an integer number of ticks: nothing is a float.

use polyfleet_core::{ConditionId, Price, TokenId};
use serde::{Deserialize, Serialize};

use crate::record::{Entry, ts};
use crate::{JournalError, JournalStore, Kind, Range, Record};

/// One token's mid at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MidMark {
    /// The venue's name.
    pub venue: String,
    /// The token's market (condition id, hex).
    pub market: String,
    /// The token (decimal id).
    pub token: String,
    /// The mid, in ticks of 0.0001 (a half tick is rounded as the core's book rounds it).
    pub mid_ticks: u32,
}

impl MidMark {
    /// The mark of `token` (of `market` on `venue`) at `mid`.
    pub fn new(venue: &str, market: &ConditionId, token: &TokenId, mid: Price) -> MidMark {
        MidMark {
            venue: venue.to_string(),
            market: market.to_string(),
            token: token.to_string(),
            mid_ticks: mid.ticks(),
        }
    }

    /// Its journal record at `ts_ns` (the market event's time).
    pub fn record(&self, ts_ns: u64) -> Result<Record, JournalError> {
        let ts_ns = ts(ts_ns)?;
        Ok(Record::of(Entry {
            kind: Kind::Mid,
            key: format!("{}/{}/{ts_ns}", self.venue, self.token),
            ts_ns,
            namespace: String::new(),
            strategy: String::new(),
            trace_id: None,
            payload: serde_json::to_vec(self).map_err(|e| JournalError::Range(e.to_string()))?,
        }))
    }
}

/// A mid read back: (Unix ns, token, mid).
pub type Mid = (u64, TokenId, Price);

/// Every mid journaled within `range`, oldest first.
pub async fn read<S: JournalStore>(store: &S, range: Range) -> Result<Vec<Mid>, JournalError> {
    let mut out = Vec::new();
    for e in store.entries(Kind::Mid, range).await? {
        let corrupt = |why: String| JournalError::Corrupt(format!("mid {}: {why}", e.key));
        let m: MidMark = serde_json::from_slice(&e.payload).map_err(|err| corrupt(err.to_string()))?;
        let token = TokenId::parse(&m.token).map_err(|err| corrupt(err.to_string()))?;
        let mid = Price::from_ticks(m.mid_ticks).ok_or_else(|| corrupt(format!("{} ticks", m.mid_ticks)))?;
        out.push((u64::try_from(e.ts_ns).unwrap_or(0), token, mid));
    }
    out.sort_by_key(|(ts, _, _)| *ts);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mid_round_trips_through_its_record() {
        let token = TokenId::parse("12345").unwrap();
        let market = ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap();
        let m = MidMark::new("sim", &market, &token, Price::from_ticks(5_250).unwrap());
        let r = m.record(1_700_000_000_123_456_789).unwrap();
        assert_eq!(r.entry.kind, Kind::Mid);
        assert_eq!(r.entry.key, "sim/12345/1700000000123456789");
        assert_eq!(r.entry.ts_ns, 1_700_000_000_123_456_789);
        let text = String::from_utf8(r.entry.payload.clone()).unwrap();
        assert!(text.contains("\"midTicks\":5250"), "{text}");
        assert_eq!(serde_json::from_slice::<MidMark>(&r.entry.payload).unwrap(), m);
        assert!(m.record(u64::MAX).is_err(), "a time past 2262 does not fit the column");
    }
}

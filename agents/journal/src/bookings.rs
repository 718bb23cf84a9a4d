//! What changed the strategies' accounts, read back from the journal in the order it happened:
//! fills, conditional-token operations' reports (not their intents) and settlements, decoded
//! from the stored wire payloads into the core's [`Booking`]s for its performance fold
//! (`polyfleet report`, and tests that check a run's journal against its risk store).

use polyfleet_core::analytics::performance::Booking;
use polyfleet_core::wire::{CtfReport, WireMessage as _, decode, kind_of};

use crate::{JournalError, JournalStore, Kind, Range};

/// Every booking up to `until_ns` (exclusive) of the strategies `wanted` (namespace, name) lets
/// through, in [`Booking::sort_key`] order, each with its trace id.
pub async fn read<S: JournalStore>(
    store: &S,
    until_ns: i64,
    wanted: impl Fn(&str, &str) -> bool,
) -> Result<Vec<(Booking, Option<String>)>, JournalError> {
    let upto = Range { since_ns: i64::MIN, until_ns };
    let corrupt = |e: &crate::Entry, err: polyfleet_core::wire::WireError| {
        JournalError::Corrupt(format!("{} {}: {err}", e.kind.as_str(), e.key))
    };
    let mut out = Vec::new();
    for e in store.entries(Kind::Fill, upto).await? {
        out.push((Booking::Fill(decode(&e.payload).map_err(|err| corrupt(&e, err))?), e.trace_id));
    }
    for e in store.entries(Kind::Ctf, upto).await? {
        // The operations' intents share the kind; only their reports book anything.
        if kind_of(&e.payload) == Some(CtfReport::KIND) {
            out.push((Booking::Ctf(decode(&e.payload).map_err(|err| corrupt(&e, err))?), e.trace_id));
        }
    }
    for e in store.entries(Kind::Settlement, upto).await? {
        out.push((Booking::Settlement(decode(&e.payload).map_err(|err| corrupt(&e, err))?), e.trace_id));
    }
    out.retain(|(b, _)| {
        let (ns, strategy) = b.strategy();
        wanted(ns, strategy)
    });
    out.sort_by_key(|(b, _)| b.sort_key());
    Ok(out)
}

//! The orders the strategies placed, read back from the journal's intents in the order they were
//! made: each placed order (every leg of a set) decoded from its stored wire payload. Cancels
//! and conditional-token operations are not orders. Shared by the shadow-against-live comparison
//! and the calibration of model-sized orders in `polyfleet report`.

use polyfleet_core::wire::{Intent, OrderIntent, WireMessage as _, decode, kind_of};

use crate::{JournalError, JournalStore, Kind, Range};

/// Every order placed within `range`, oldest first.
pub async fn read<S: JournalStore>(store: &S, range: Range) -> Result<Vec<OrderIntent>, JournalError> {
    let mut out = Vec::new();
    for e in store.entries(Kind::Intent, range).await? {
        if kind_of(&e.payload) != Some(Intent::KIND) {
            continue;
        }
        let intent = decode::<Intent>(&e.payload)
            .map_err(|err| JournalError::Corrupt(format!("{} {}: {err}", e.kind.as_str(), e.key)))?;
        match intent {
            Intent::Place(o) => out.push(o),
            Intent::PlaceSet(legs) => out.extend(legs),
            Intent::Ctf(_) | Intent::Cancel(_) | Intent::Signal(_) => {}
        }
    }
    Ok(out)
}

//! JSON Lines recording → columnar recording: every market-channel frame through the market-data
//! agent's normalizer for every token of the catalog ([`crate::source::Events`]), the RTDS frames
//! kept in their place, and the source's accounting in the footer. Bad input is treated as every
//! reader of recordings treats it ([`BadInput`]); the output is written beside a `.part` name and
//! renamed when complete, so a failed conversion never leaves a file that looks whole.

use std::path::{Path, PathBuf};

use polyfleet_polymarket::data::catalog::Catalog;
use polyfleet_polymarket::data::recording::{BadInput, Reader};

use super::write::Writer;
use super::{Accounting, ColumnarError};
use crate::source::Events;

/// How a conversion treats its input and writes its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// What to do with unreadable lines.
    pub bad_input: BadInput,
    /// lz4-compress the record batches (smaller; uncompressed files read faster).
    pub compress: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { bad_input: BadInput::Fail, compress: true }
    }
}

/// Converts the recording at `from` (its markets in `catalog`) into `to`; returns the accounting.
pub fn convert(from: &Path, catalog: &Catalog, to: &Path, options: Options) -> Result<Accounting, ColumnarError> {
    let pairs: Vec<_> =
        catalog.markets.iter().flat_map(|m| m.tokens.iter().map(move |t| (t.token_id, m.condition_id))).collect();
    let tokens = pairs.iter().map(|(t, _)| *t).collect();
    let part = part_name(to);
    let mut reader = Reader::open(from, options.bad_input)?;
    let mut first_recv_ns = None;
    let lines = reader.by_ref().inspect(|l| {
        first_recv_ns.get_or_insert(l.recv_ns);
    });
    let mut events = Events::new(lines, tokens);
    let mut out = Writer::create(&part, &pairs, options.compress)?;
    let (mut written, mut rtds) = (0u64, 0u64);
    let mut result = Ok(());
    while let Some(ev) = events.next() {
        // RTDS lines read on the way to this event came before it.
        for (at, text) in events.rtds.drain(..) {
            rtds += 1;
            result = result.and(out.rtds(at, &text));
        }
        written += 1;
        result = result.and(out.event(&ev));
        if result.is_err() {
            break;
        }
    }
    for (at, text) in events.rtds.drain(..) {
        rtds += 1;
        result = result.and(out.rtds(at, &text));
    }
    let (ledger, malformed, unsupported_schema, resyncs) =
        (events.ledger.clone(), events.malformed(), events.unsupported(), events.resyncs);
    drop(events);
    let finished = result.and_then(|()| Ok(reader.finish()?)).and_then(|read| {
        let accounting = Accounting {
            source: from.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            first_recv_ns: first_recv_ns.unwrap_or_default(),
            read,
            frame_outcomes: Accounting::outcomes_of(&ledger),
            malformed,
            unsupported_schema,
            resyncs,
            events: written,
            rtds,
        };
        out.finish(&accounting)?;
        Ok(accounting)
    });
    match finished {
        Ok(a) => {
            std::fs::rename(&part, to).map_err(|e| ColumnarError::Io(to.display().to_string(), e))?;
            Ok(a)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

fn part_name(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

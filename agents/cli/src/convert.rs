//! `polyfleet convert`: a JSON Lines recording into a columnar one (see
//! [`polyfleet_backtest::columnar`]), its market catalog written beside it, so `backtest` and
//! `up --replay` take the columnar file exactly as they take the recording. Also what
//! `polyfleet record --columnar` runs when a capture ends.

use std::path::{Path, PathBuf};

pub use polyfleet_backtest::columnar::convert::Options;
use polyfleet_backtest::columnar::{Accounting, convert::convert};
use polyfleet_polymarket::data::catalog::Catalog;

use crate::local;

/// The columnar file's default name: the recording's, `.jsonl`/`.jsonl.gz` replaced by `.arrow`.
pub fn default_out(recording: &Path) -> PathBuf {
    let name = recording.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = ["jsonl.gz", "json.gz", "gz", "jsonl", "json"]
        .iter()
        .find_map(|ext| name.strip_suffix(&format!(".{ext}")))
        .unwrap_or(&name);
    recording.with_file_name(format!("{stem}.arrow"))
}

/// Converts `recording` (markets from `catalog`, default beside it) into `out`, and writes the
/// catalog beside `out`.
pub fn run(recording: &Path, catalog: Option<&Path>, out: &Path, options: Options) -> anyhow::Result<Accounting> {
    let cat = local::catalog_of(recording, catalog)?;
    let accounting = convert(recording, &cat, out, options)?;
    cat.write(&Catalog::beside(out))?;
    Ok(accounting)
}

/// One line about a conversion, sizes included.
pub fn describe(recording: &Path, out: &Path, a: &Accounting) -> String {
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    format!(
        "{} ({}, {} bytes) -> {} ({} market events, {} RTDS frames, {} bytes)",
        recording.display(),
        a.read.describe(),
        size(recording),
        out.display(),
        a.events,
        a.rtds,
        size(out)
    )
}

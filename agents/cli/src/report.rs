//! `polyfleet report`: the trade journal's report of a period, local (`polyfleet up`'s SQLite
//! file) or the cluster's (its PostgreSQL, the URL from `POLYFLEET_JOURNAL_URL`). The reading,
//! the report and its files are `polyfleet_backtest::journal_read`'s, shared with
//! `kubectl polyfleet report`; this finds the journal.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
pub use polyfleet_backtest::journal_read::{AbQuery as AbArgs, Query};
use polyfleet_backtest::journal_report::JournalReport;

/// What to report on.
/// No `Debug`: the journal URL may hold a database password, and nothing may print it.
#[derive(Clone)]
pub struct ReportArgs {
    /// The journal: a file, `sqlite://<file>` or `postgres://…`; `None`: `polyfleet up`'s default file.
    pub journal: Option<String>,
    /// The period, strategies and comparison.
    pub query: Query,
    /// Directory of `report.json` and `report.html`.
    pub out: PathBuf,
}

/// The journal's URL: as given, or `polyfleet up`'s default file, which must exist.
fn url(given: Option<&str>) -> anyhow::Result<String> {
    let url = crate::up::journal_url(given.filter(|g| *g != "none"))?.context("a journal is needed")?;
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or(path);
        anyhow::ensure!(
            Path::new(file).exists(),
            "no journal at {file}: `polyfleet up` writes one there, or give --journal"
        );
    }
    Ok(url)
}

/// Builds the report and writes it under `args.out`.
pub async fn run(args: &ReportArgs) -> anyhow::Result<JournalReport> {
    let url = url(args.journal.as_deref())?;
    let report = polyfleet_backtest::journal_read::report(&url, &args.query).await?;
    polyfleet_backtest::journal_read::write(&report, &args.out)?;
    Ok(report)
}

//! `polyfleet report`: the trade journal's report of a period, local (`polyfleet up`'s SQLite
//! file) or the cluster's (its PostgreSQL, the URL from `POLYFLEET_JOURNAL_URL`): reads the
//! fills, conditional-token reports and settlements up to the period's end (earlier ones build the
//! positions), and the period's risk decisions, folds them in time order through the core's
//! performance analytics, and writes `report.json` and `report.html` (see
//! `polyfleet_backtest::journal_report`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use polyfleet_backtest::journal_ab::AbSpec;
use polyfleet_backtest::journal_report::{Inputs, JournalReport};
use polyfleet_core::analytics::sequential::MsprtConfig;
use polyfleet_core::wire::{RiskDecision, WireMessage as _, decode, kind_of};
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_journal::{JournalStore, Kind, Range};

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportArgs {
    /// The journal: a file, `sqlite://<file>` or `postgres://…`; `None`: `polyfleet up`'s default file.
    pub journal: Option<String>,
    /// Start of the period: RFC 3339 or a UTC date (`2026-12-01`).
    pub since: Option<String>,
    /// End of the period (exclusive), same forms.
    pub until: Option<String>,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this strategy.
    pub strategy: Option<String>,
    /// Directory of `report.json` and `report.html`.
    pub out: PathBuf,
    /// Two strategies to compare (`A,B`) with the sequential test, and its stopping rule.
    pub ab: Option<AbArgs>,
}

/// An A/B comparison's command-line settings.
#[derive(Debug, Clone)]
pub struct AbArgs {
    /// Arm A and arm B, `A,B`: each `name` or `namespace/name`.
    pub arms: String,
    /// Slot length: `30s`, `15m`, `1h`, `1d`.
    pub slot: String,
    /// False-stop bound.
    pub alpha: f64,
    /// The per-slot PnL difference the test is tuned to find, USDC.
    pub effect: String,
    /// Pairs before it may stop.
    pub burn_in: u64,
    /// Pairs after which it ends undecided.
    pub max_pairs: u64,
}

/// Nanoseconds of `30s`, `15m`, `1h`, `1d`.
pub fn parse_slot(s: &str) -> anyhow::Result<i64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n.parse().with_context(|| format!("{s:?}: a number and a unit (s, m, h, d) expected"))?;
    let unit_s = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => anyhow::bail!("{s:?}: the unit is s, m, h or d"),
    };
    anyhow::ensure!(n > 0, "{s:?}: a slot lasts a while");
    n.checked_mul(unit_s * 1_000_000_000).context("a slot past 292 years")
}

impl AbArgs {
    /// The report's comparison.
    pub fn spec(&self) -> anyhow::Result<AbSpec> {
        let effect = polyfleet_core::Money::parse(&self.effect).context("--ab-effect")?;
        anyhow::ensure!(effect.micros() > 0, "--ab-effect must be positive");
        let tau = effect.micros() as f64;
        let (a, b) = self
            .arms
            .split_once(',')
            .filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains(','))
            .with_context(|| format!("--ab {}: two strategies, A,B", self.arms))?;
        Ok(AbSpec {
            a: a.to_string(),
            b: b.to_string(),
            slot_ns: parse_slot(&self.slot).context("--slot")?,
            config: MsprtConfig {
                alpha: self.alpha,
                tau2: tau * tau,
                sigma2: None,
                burn_in: self.burn_in,
                max_pairs: self.max_pairs,
            },
        })
    }
}

/// Unix ns of an RFC 3339 time or a UTC date.
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    let ts = match s.parse::<jiff::Timestamp>() {
        Ok(t) => t,
        Err(_) => {
            let date: jiff::civil::Date =
                s.parse().with_context(|| format!("{s:?}: an RFC 3339 time or a date (2026-12-01) expected"))?;
            date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp()
        }
    };
    i64::try_from(ts.as_nanosecond()).context("a time past 2262")
}

/// What the report names as its journal: the scheme and, for a file, its name (a database URL's
/// user, password and host are never shown).
fn source(url: &str) -> String {
    match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Some(path) => {
            let file = path.split('?').next().unwrap_or(path);
            format!("sqlite {}", Path::new(file).file_name().map_or(file.into(), |f| f.to_string_lossy()))
        }
        None => url.split("://").next().unwrap_or("database").to_string(),
    }
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
    let since_ns = args.since.as_deref().map(parse_time).transpose().context("--since")?;
    let until_ns = args.until.as_deref().map(parse_time).transpose().context("--until")?;
    if let (Some(a), Some(b)) = (since_ns, until_ns) {
        anyhow::ensure!(a < b, "--since must come before --until");
    }
    let url = url(args.journal.as_deref())?;
    let journal = SqlJournal::open(&url).await.context("opening the journal")?;
    let upto = Range { since_ns: i64::MIN, until_ns: until_ns.unwrap_or(i64::MAX) };
    let period = Range { since_ns: since_ns.unwrap_or(i64::MIN), until_ns: upto.until_ns };
    let wanted = |ns: &str, strategy: &str| {
        args.namespace.as_deref().is_none_or(|n| n == ns) && args.strategy.as_deref().is_none_or(|s| s == strategy)
    };
    let bookings = polyfleet_journal::bookings::read(&journal, upto.until_ns, wanted).await?;
    let mut decisions = Vec::new();
    for e in journal.entries(Kind::Decision, period).await? {
        if kind_of(&e.payload) == Some(RiskDecision::KIND) {
            let d: RiskDecision = decode(&e.payload).with_context(|| format!("decision {} in the journal", e.key))?;
            if wanted(&d.intent.namespace, &d.intent.strategy) {
                decisions.push(d);
            }
        }
    }
    journal.close().await;
    let report = JournalReport::new(&Inputs {
        source: source(&url),
        since_ns,
        until_ns,
        bookings: &bookings,
        decisions: &decisions,
        ab: args.ab.as_ref().map(AbArgs::spec).transpose()?,
    });
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    std::fs::write(args.out.join("report.json"), report.to_json()?)?;
    std::fs::write(args.out.join("report.html"), polyfleet_backtest::journal_html::html(&report))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_utc_dates() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000_000_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1_000_000_000);
        assert_eq!(parse_time("2026-12-01T01:00:00+01:00").unwrap(), parse_time("2026-12-01").unwrap());
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn slots_are_a_number_and_a_unit() {
        assert_eq!(parse_slot("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_slot("1h").unwrap(), 3_600_000_000_000);
        assert_eq!(parse_slot("2d").unwrap(), 172_800_000_000_000);
        for bad in ["h", "0m", "5w", "1.5h", ""] {
            assert!(parse_slot(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_source_never_shows_credentials() {
        assert_eq!(source("sqlite:///home/me/.local/share/polyfleet/journal.db?mode=rwc"), "sqlite journal.db");
        assert_eq!(source("postgres://trader:s3cret@db.internal:5432/journal"), "postgres");
    }
}

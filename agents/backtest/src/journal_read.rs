//! A period of the trade journal read into its report ([`crate::journal_report`]), written as
//! `report.json` and `report.html` and summed up in a few lines. Shared by `polyfleet report` (a
//! local SQLite file or `POLYFLEET_JOURNAL_URL`) and `kubectl polyfleet report` (the database
//! the cluster's journal agent writes), so both give the same report of the same journal.
//!
//! The fills, conditional-token reports and settlements up to the period's end are read (earlier
//! ones build the positions the period starts from), and the period's risk decisions; the
//! model-sized orders up to the end are scored against the markets that resolved in the period.

use std::path::{Path, PathBuf};

use polyfleet_core::analytics::sequential::MsprtConfig;
use polyfleet_core::wire::{RiskDecision, WireMessage as _, decode, kind_of};
use polyfleet_core::{Money, Quantity};
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_journal::{JournalError, JournalStore, Kind, Range};

use crate::journal_ab::AbSpec;
use crate::journal_report::{Inputs, JournalReport};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A time that is neither RFC 3339 nor a date.
    #[error("{what} {value:?}: an RFC 3339 time or a date (2026-12-01) expected")]
    Time {
        /// Which option.
        what: &'static str,
        /// What was given.
        value: String,
    },
    /// The period ends before it starts.
    #[error("--since must come before --until")]
    Period,
    /// The A/B comparison's settings.
    #[error("{0}")]
    Ab(String),
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A stored risk decision that does not decode.
    #[error("decision {key} in the journal: {reason}")]
    Decision {
        /// Its journal key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The report could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What to report on.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Start of the period: RFC 3339 or a UTC date (`2026-12-01`).
    pub since: Option<String>,
    /// End of the period (exclusive), same forms.
    pub until: Option<String>,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this strategy.
    pub strategy: Option<String>,
    /// Two strategies to compare with the sequential test, and its stopping rule.
    pub ab: Option<AbQuery>,
    /// A shadow and its live twin to compare order by order: `SHADOW,LIVE`, each `name` or
    /// `namespace/name`.
    pub twins: Option<String>,
}

/// An A/B comparison's settings, as given on a command line (`polyfleet report` and
/// `kubectl polyfleet report` flatten the same options).
#[derive(Debug, Clone, clap::Args)]
pub struct AbQuery {
    /// Compare two strategies, `A,B` (`name` or `namespace/name`), with an always-valid
    /// sequential test (mSPRT) on their PnL per slot.
    #[arg(long = "ab", value_name = "A,B")]
    pub arms: Option<String>,
    /// The comparison's slot: `30s`, `15m`, `1h`, `1d`.
    #[arg(long, default_value = "1h", requires = "arms")]
    pub slot: String,
    /// The comparison's false-stop bound.
    #[arg(long = "ab-alpha", default_value_t = 0.05, requires = "arms")]
    pub alpha: f64,
    /// The per-slot PnL difference the test is tuned to find, USDC.
    #[arg(long = "ab-effect", default_value = "1", requires = "arms")]
    pub effect: String,
    /// Pairs of slots before the test may stop (and before the variance it estimates from them
    /// is used; with 10, equal arms were stopped on 6% of simulated runs at α 0.05, with 30 on
    /// 4.5%).
    #[arg(long = "ab-burn-in", default_value_t = 30, requires = "arms")]
    pub burn_in: u64,
    /// Pairs after which the test ends undecided.
    #[arg(long = "ab-max-pairs", default_value_t = 10_000, requires = "arms")]
    pub max_pairs: u64,
    /// The arms took turns in time slots (`spec.experiment.interleave: timeSlot`, with `--slot`
    /// its `slotSeconds`): each block of two slots of the epoch makes one pair, each arm's PnL
    /// over the whole block.
    #[arg(long = "ab-turns", requires = "arms")]
    pub turns: bool,
}

/// Nanoseconds of `30s`, `15m`, `1h`, `1d`.
pub fn parse_slot(s: &str) -> Result<i64, ReadError> {
    let bad = |why: &str| ReadError::Ab(format!("--slot {s:?}: {why}"));
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n.parse().map_err(|_| bad("a number and a unit (s, m, h, d) expected"))?;
    let unit_s = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad("the unit is s, m, h or d")),
    };
    if n <= 0 {
        return Err(bad("a slot lasts a while"));
    }
    n.checked_mul(unit_s * 1_000_000_000).ok_or_else(|| bad("a slot past 292 years"))
}

impl AbQuery {
    /// The report's comparison.
    pub fn spec(&self) -> Result<AbSpec, ReadError> {
        let effect = Money::parse(&self.effect)
            .ok()
            .filter(|e| e.micros() > 0)
            .ok_or_else(|| ReadError::Ab(format!("--ab-effect {:?}: a positive USDC amount", self.effect)))?;
        let tau = effect.micros() as f64;
        let arms = self.arms.as_deref().unwrap_or_default();
        let (a, b) = arms
            .split_once(',')
            .filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains(','))
            .ok_or_else(|| ReadError::Ab(format!("--ab {arms}: two strategies, A,B")))?;
        Ok(AbSpec {
            a: a.to_string(),
            b: b.to_string(),
            slot_ns: parse_slot(&self.slot)?,
            config: MsprtConfig {
                alpha: self.alpha,
                tau2: tau * tau,
                sigma2: None,
                burn_in: self.burn_in,
                max_pairs: self.max_pairs,
            },
            turns: self.turns,
        })
    }
}

/// Unix ns of an RFC 3339 time or a UTC date (`what` names the option in the error).
pub fn parse_time(what: &'static str, s: &str) -> Result<i64, ReadError> {
    let bad = || ReadError::Time { what, value: s.to_string() };
    let ts = match s.parse::<jiff::Timestamp>() {
        Ok(t) => t,
        Err(_) => {
            let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
            date.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?.timestamp()
        }
    };
    i64::try_from(ts.as_nanosecond()).map_err(|_| bad())
}

/// What the report names as its journal: the scheme and, for a file, its name (a database URL's
/// user, password and host are never shown).
pub fn source(url: &str) -> String {
    match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Some(path) => {
            let file = path.split('?').next().unwrap_or(path);
            format!("sqlite {}", Path::new(file).file_name().map_or(file.into(), |f| f.to_string_lossy()))
        }
        None => url.split("://").next().unwrap_or("database").to_string(),
    }
}

/// The report of the journal at `url` for `q`.
pub async fn report(url: &str, q: &Query) -> Result<JournalReport, ReadError> {
    let since_ns = q.since.as_deref().map(|s| parse_time("--since", s)).transpose()?;
    let until_ns = q.until.as_deref().map(|s| parse_time("--until", s)).transpose()?;
    if let (Some(a), Some(b)) = (since_ns, until_ns)
        && a >= b
    {
        return Err(ReadError::Period);
    }
    let ab = q.ab.as_ref().filter(|a| a.arms.is_some()).map(AbQuery::spec).transpose()?;
    let journal = SqlJournal::open(url).await?;
    let upto = Range { since_ns: i64::MIN, until_ns: until_ns.unwrap_or(i64::MAX) };
    let period = Range { since_ns: since_ns.unwrap_or(i64::MIN), until_ns: upto.until_ns };
    let wanted = |ns: &str, strategy: &str| {
        q.namespace.as_deref().is_none_or(|n| n == ns) && q.strategy.as_deref().is_none_or(|s| s == strategy)
    };
    let read = async {
        let bookings = polyfleet_journal::bookings::read(&journal, upto.until_ns, wanted).await?;
        let mut decisions = Vec::new();
        for e in journal.entries(Kind::Decision, period).await? {
            if kind_of(&e.payload) == Some(RiskDecision::KIND) {
                let d: RiskDecision = decode(&e.payload)
                    .map_err(|err| ReadError::Decision { key: e.key.clone(), reason: err.to_string() })?;
                if wanted(&d.intent.namespace, &d.intent.strategy) {
                    decisions.push(d);
                }
            }
        }
        // Every order placed up to the period's end, read once: the calibration takes the
        // model-sized ones, the attribution counts those of the period.
        let mut orders = polyfleet_journal::orders::read(&journal, upto).await?;
        orders.retain(|o| wanted(&o.namespace, &o.strategy));
        let (sized, resolved) = crate::journal_calibration::read(&journal, upto, &orders).await?;
        let twins = match &q.twins {
            Some(spec) => Some(crate::journal_twins::read(&journal, spec, period).await),
            None => None,
        };
        let mids = polyfleet_journal::mids::read(&journal, upto).await?;
        Ok::<_, ReadError>((bookings, decisions, twins, sized, resolved, mids, orders))
    };
    let read = read.await;
    journal.close().await;
    let (bookings, decisions, twins, sized, resolved, mids, orders) = read?;
    let mut report = JournalReport::new(&Inputs {
        source: source(url),
        since_ns,
        until_ns,
        bookings: &bookings,
        decisions: &decisions,
        ab,
    });
    // Forecasts are scored in the period their market resolved in.
    let mut resolved = resolved;
    resolved.retain(|_, r| i64::try_from(r.ts_ns).is_ok_and(|t| t >= period.since_ns));
    report.calibration = crate::journal_calibration::scores(&sized, &resolved);
    report.analytics =
        crate::journal_analytics::analytics(since_ns, &bookings, &mids, &orders, crate::report::CURVE_POINTS);
    report.mids = mids.len() as u64;
    match twins {
        Some(Ok(t)) => report.twins = Some(t),
        Some(Err(e)) => report.twins_error = Some(e.to_string()),
        None => {}
    }
    Ok(report)
}

/// Writes `report.json` and `report.html` under `out` (created if missing).
pub fn write(report: &JournalReport, out: &Path) -> Result<(), ReadError> {
    fn failed(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
        move |source| ReadError::Write { path: path.to_path_buf(), source }
    }
    std::fs::create_dir_all(out).map_err(failed(out))?;
    let path = out.join("report.json");
    let json = report.to_json().map_err(|e| std::io::Error::other(e.to_string())).map_err(failed(&path))?;
    std::fs::write(&path, json).map_err(failed(&path))?;
    let path = out.join("report.html");
    std::fs::write(&path, crate::journal_html::html(report)).map_err(failed(&path))
}

/// The report in a few lines: what goes to standard output (PnL, each strategy, the A/B
/// decision) and what goes to standard error (what could not be compared or booked).
pub fn summary(r: &JournalReport) -> (Vec<String>, Vec<String>) {
    let s = &r.summary;
    let mut out = vec![format!(
        "PnL {} USDC (realized {}, fees {}) from {} fills over {} days; max drawdown {}; Sharpe {}",
        s.pnl,
        s.realized,
        s.fees,
        s.fills,
        s.days.len(),
        s.max_drawdown,
        r.ratios.sharpe.map_or_else(|| "n/a".to_string(), |x| format!("{x:.4}"))
    )];
    for l in &s.strategies {
        out.push(format!(
            "  {}/{}: PnL {} (realized {}), {} fills",
            l.namespace, l.strategy, l.pnl, l.realized, l.fills
        ));
    }
    for (name, a) in &r.analytics {
        let p = &a.pnl_attribution.parts;
        out.push(format!(
            "  {name} at mid: spread capture {}, inventory {}, fees {}, lifecycle basis {} = {}{}",
            p.spread_capture,
            p.inventory,
            p.fees,
            p.lifecycle_basis,
            p.total_at_mid,
            if a.reconciled { "" } else { " (does not reconcile: see the report)" }
        ));
    }
    if let Some(ab) = &r.ab {
        out.push(format!("A/B {}", ab.describe()));
    }
    if let Some(t) = &r.twins {
        let c = &t.comparison;
        out.push(format!(
            "twins {} (shadow) vs {} (live): {} orders paired ({} the same), {} only shadow, {} only live; \
             filled {} vs {} shares; live slippage {} USDC, fees {} USDC more",
            t.shadow,
            t.live,
            c.paired,
            c.same_orders,
            c.only_shadow,
            c.only_live,
            Quantity::from_micros(c.shadow_filled_micros),
            Quantity::from_micros(c.live_filled_micros),
            Money::from_micros(c.slippage_micros),
            Money::from_micros(c.fee_difference_micros)
        ));
    }
    let mut err = vec![];
    if let Some(e) = &r.ab_error {
        err.push(format!("A/B: {e}"));
    }
    if let Some(e) = &r.twins_error {
        err.push(format!("twins: {e}"));
    }
    for u in r.unbooked.iter().take(5) {
        err.push(format!("not booked: {u}"));
    }
    if r.unbooked.len() > 5 {
        err.push(format!("... {} not booked in all (listed in the report)", r.unbooked.len()));
    }
    (out, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_utc_dates() {
        assert_eq!(parse_time("t", "1970-01-02").ok(), Some(86_400_000_000_000));
        assert_eq!(parse_time("t", "1970-01-01T00:00:01Z").ok(), Some(1_000_000_000));
        assert_eq!(parse_time("t", "2026-12-01T01:00:00+01:00").ok(), parse_time("t", "2026-12-01").ok());
        assert!(parse_time("t", "yesterday").is_err());
    }

    #[test]
    fn slots_are_a_number_and_a_unit() {
        assert_eq!(parse_slot("30s").ok(), Some(30_000_000_000));
        assert_eq!(parse_slot("1h").ok(), Some(3_600_000_000_000));
        assert_eq!(parse_slot("2d").ok(), Some(172_800_000_000_000));
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

//! The report of a period of the trade journal (`polyfleet report`): the core's performance fold
//! ([`polyfleet_core::analytics::performance`]) over the journal's fills, the annualized ratios of
//! its daily PnL, the risk gateway's decisions per strategy, and the trade list, as JSON (stable
//! field order) and as an HTML page ([`crate::journal_html`]). Built from wire messages, so it
//! does not depend on where the journal is stored.

use std::collections::BTreeMap;

use polyfleet_core::Money;
use polyfleet_core::analytics::performance::{Booking, Performance, Summary};
use polyfleet_core::analytics::ratios::{Annualized, MIN_DAILY_RETURNS, annualized};
use polyfleet_core::wire::{RiskDecision, Verdict};
use serde::Serialize;

use crate::journal_ab::{AbError, AbResult, AbSpec, compare};

/// How marks are taken.
pub const MARKING: &str = "PnL marks what is held at each token's last fill price in the journal, or at its payout once its market resolved; the attribution and markouts are against the tokens' journaled mids";

/// A fill of the trade list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trade {
    /// Unix ns.
    pub ts_ns: i64,
    /// Namespace.
    pub namespace: String,
    /// Strategy.
    pub strategy: String,
    /// Market (condition id).
    pub market: String,
    /// Token.
    pub token: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Price.
    pub price: String,
    /// Shares.
    pub size: String,
    /// Fee (negative: rebate).
    pub fee: String,
    /// `maker` or `taker`.
    pub liquidity: String,
    /// `matched`, `confirmed` or `failed`.
    pub status: String,
    /// The venue's fill id.
    pub fill_id: String,
    /// The order's trace id, when it travelled with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// The risk gateway's decisions on one strategy's orders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decisions {
    /// Approved.
    pub approved: u64,
    /// Refused, by rule.
    pub rejected: BTreeMap<String, u64>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalReport {
    /// Where the journal is (`sqlite` and the file name, or `postgres`: never a credential).
    pub source: String,
    /// The period, RFC 3339 (half-open).
    pub since: Option<String>,
    /// End of the period (exclusive).
    pub until: Option<String>,
    /// How open holdings are marked.
    pub marking: &'static str,
    /// PnL per strategy, market and day; fills, fees, drawdown.
    pub summary: Summary,
    /// Sharpe, Sortino and Calmar of the daily PnL.
    pub ratios: Annualized,
    /// Why there are no ratios, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratios_note: Option<String>,
    /// Share of days with a gain among days with a non-zero PnL.
    pub hit_rate: Option<f64>,
    /// Decisions per strategy (`namespace/strategy`).
    pub decisions: BTreeMap<String, Decisions>,
    /// Fills, operations and settlements that could not be booked (an oversell, a redemption of a
    /// market whose settlement the journal does not hold), with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unbooked: Vec<String>,
    /// Every fill of the period, oldest first.
    pub trades: Vec<Trade>,
    /// The A/B comparison asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbResult>,
    /// Why the comparison asked for could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ab_error: Option<String>,
    /// Per strategy (`namespace/name`): the probabilities its model-sized orders carried,
    /// scored once their markets resolved ([`crate::journal_calibration`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub calibration: BTreeMap<String, Vec<polyfleet_core::analytics::scores::ModelScore>>,
    /// Per strategy (`namespace/name`): PnL attribution against the journaled mids, markouts,
    /// fill ratio and inventory ([`crate::journal_analytics`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub analytics: BTreeMap<String, crate::analytics::StrategyAnalytics>,
    /// Mids the journal holds up to the period's end (none: the journal agent kept none, so
    /// there is no attribution against mids and no markout).
    pub mids: u64,
    /// The shadow-against-live comparison asked for, order by order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twins: Option<crate::journal_twins::TwinsResult>,
    /// Why it could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twins_error: Option<String>,
}

/// What a report is built from.
pub struct Inputs<'a> {
    /// See [`JournalReport::source`].
    pub source: String,
    /// Start of the period (Unix ns; `None`: the journal's beginning).
    pub since_ns: Option<i64>,
    /// End of the period (exclusive).
    pub until_ns: Option<i64>,
    /// Every booking up to `until` (also before `since`: they build the positions), in
    /// [`Booking::sort_key`] order, each with its trace id (fills).
    pub bookings: &'a [(Booking, Option<String>)],
    /// The period's decisions.
    pub decisions: &'a [RiskDecision],
    /// Two strategies to compare, if any.
    pub ab: Option<AbSpec>,
}

/// Unix ns as RFC 3339 (UTC).
pub fn rfc3339(ns: Option<i64>) -> Option<String> {
    ns.and_then(|n| jiff::Timestamp::from_nanosecond(i128::from(n)).ok()).map(|t| t.to_string())
}

fn wire_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

impl JournalReport {
    /// The report of `inputs`.
    pub fn new(inputs: &Inputs<'_>) -> JournalReport {
        let since = inputs.since_ns.unwrap_or(i64::MIN);
        let mut perf = match &inputs.ab {
            Some(ab) => Performance::with_slots(since, ab.slot_ns),
            None => Performance::new(since),
        };
        let mut unbooked = Vec::new();
        let mut trades = Vec::new();
        for (booking, trace) in inputs.bookings {
            if let Err(e) = perf.book(booking) {
                unbooked.push(match booking {
                    Booking::Fill(f) => format!("fill {}: {e}", f.fill_id),
                    Booking::Ctf(r) => format!("{} {}: {e}", r.op.name(), r.id),
                    Booking::Settlement(r) => format!("settlement of {} for {}: {e}", r.resolution.market, r.strategy),
                });
                continue;
            }
            let Booking::Fill(f) = booking else { continue };
            let ts = i64::try_from(f.ts_ns).unwrap_or(i64::MAX);
            if ts >= since {
                trades.push(Trade {
                    ts_ns: ts,
                    namespace: f.namespace.clone(),
                    strategy: f.strategy.clone(),
                    market: f.market.to_string(),
                    token: f.token.to_string(),
                    side: wire_name(&f.side),
                    price: f.price.to_string(),
                    size: f.size.to_string(),
                    fee: f.fee.to_string(),
                    liquidity: wire_name(&f.liquidity),
                    status: wire_name(&f.status),
                    fill_id: f.fill_id.clone(),
                    trace_id: trace.clone(),
                });
            }
        }
        let summary = perf.summary();
        let ab = inputs.ab.as_ref().map(|spec| match perf.slots() {
            Some(slots) => compare(spec, &slots),
            None => Err(AbError::Arm(spec.a.clone(), "no booking in the period".into())),
        });
        let daily = summary.daily_pnl();
        // The capital the returns are taken against cancels out of all three ratios, so none is
        // asked for: returns are taken against 1 USDC.
        let ratios = annualized(&daily, summary.pnl, summary.max_drawdown, Money::from_micros(1_000_000));
        let ratios_note = (ratios.days < MIN_DAILY_RETURNS).then(|| {
            format!(
                "not annualized: the period has {} days with fills or between them; Sharpe, Sortino and Calmar need at least {MIN_DAILY_RETURNS}",
                ratios.days
            )
        });
        let moved = daily.iter().filter(|&&d| d != 0).count();
        let won = daily.iter().filter(|&&d| d > 0).count();
        let mut decisions: BTreeMap<String, Decisions> = BTreeMap::new();
        for d in inputs.decisions {
            let e = decisions.entry(format!("{}/{}", d.intent.namespace, d.intent.strategy)).or_default();
            match &d.verdict {
                Verdict::Approved => e.approved += 1,
                Verdict::Rejected { reason, .. } => *e.rejected.entry(reason.as_str().to_string()).or_default() += 1,
            }
        }
        JournalReport {
            source: inputs.source.clone(),
            since: rfc3339(inputs.since_ns),
            until: rfc3339(inputs.until_ns),
            marking: MARKING,
            summary,
            ratios,
            ratios_note,
            hit_rate: (moved > 0).then(|| won as f64 / moved as f64),
            decisions,
            unbooked,
            trades,
            ab_error: ab.as_ref().and_then(|r| r.as_ref().err()).map(ToString::to_string),
            ab: ab.and_then(Result::ok),
            calibration: BTreeMap::new(),
            analytics: BTreeMap::new(),
            mids: 0,
            twins: None,
            twins_error: None,
        }
    }

    /// As pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }
}

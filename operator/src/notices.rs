//! What the operator tells a desk about its RiskPolicies, as [`Notice`]s on
//! `notice.<namespace>.<policy>` (the policy's notifier agent sends them to its webhooks):
//! trips and cooldown ends seen between two status refreshes, declared mode changes and trip
//! resets when the limits carrying them are written, and, on a new UTC day's first refresh, the
//! summary of the day before. The builders are pure; [`NoticeSink`] publishes (a trait, so the
//! controller is tested without NATS). Every notice has a stable id made from what it reports,
//! so a reconcile repeated after a failure republishes the same id and the stream drops it.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use polyfleet_core::Money;
use polyfleet_core::risk::{RiskLimits, RiskMode};
use polyfleet_core::wire::{Notice, NoticeKind, Severity, encode, subjects};
use polyfleet_crds::RiskPolicyStatus;
use polyfleet_crds::risk_policy::TripStatus;
use polyfleet_io::bus::Bus;

use crate::dataplane::Lazy;

/// Why a notice was not published.
#[derive(Debug, thiserror::Error)]
#[error("notices: {0}")]
pub struct NoticeError(pub String);

/// Publishing notices.
pub trait NoticeSink: Send + Sync + 'static {
    /// Publishes `notice` (idempotent by its id).
    fn publish(&self, notice: &Notice) -> BoxFuture<'_, Result<(), NoticeError>>;
}

/// Into the notices stream of a bus, de-duplicated by id.
pub struct BusNotices<B: Bus>(pub Arc<Lazy<B>>);

impl<B: Bus> NoticeSink for BusNotices<B> {
    fn publish(&self, notice: &Notice) -> BoxFuture<'_, Result<(), NoticeError>> {
        let subject = subjects::notices(&notice.namespace, &notice.risk_policy);
        let (id, body) = (notice.id.clone(), encode(notice));
        Box::pin(async move {
            let bus = self.0.get().map_err(|e| NoticeError(e.to_string()))?;
            bus.persist(&subject, vec![], body.into(), Some(&id))
                .await
                .map(|_| ())
                .map_err(|e| NoticeError(e.to_string()))
        })
    }
}

/// In memory: records what was published.
#[derive(Clone, Default)]
pub struct MemoryNotices {
    /// Every notice published, in order.
    pub sent: Arc<Mutex<Vec<Notice>>>,
}

impl NoticeSink for MemoryNotices {
    fn publish(&self, notice: &Notice) -> BoxFuture<'_, Result<(), NoticeError>> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(notice.clone());
        Box::pin(async { Ok(()) })
    }
}

fn usdc(micros: i64) -> String {
    format!("{} USDC", Money::from_micros(micros))
}

/// The figures a notice quotes from a status.
fn figures(s: &RiskPolicyStatus) -> String {
    let limits = s.effective_limits.unwrap_or_default();
    format!(
        "daily PnL {} (realized {}, unrealized {}; limit -{}), drawdown {} (limit {}), gross exposure {}, \
         worst case at resolution {}, orders today {}",
        usdc(s.daily_pnl_micros),
        usdc(s.realized_daily_pnl_micros),
        usdc(s.unrealized_pnl_micros),
        usdc(limits.max_daily_loss_micros),
        usdc(s.drawdown_micros),
        usdc(limits.max_drawdown_micros),
        usdc(s.exposure_micros),
        usdc(s.worst_case_loss_micros),
        s.orders_today,
    )
}

struct Ids<'a> {
    namespace: &'a str,
    policy: &'a str,
}

impl Ids<'_> {
    fn notice(
        &self,
        id: String,
        kind: NoticeKind,
        severity: Severity,
        title: String,
        text: String,
        ts_ms: u64,
    ) -> Notice {
        Notice {
            id: format!("{}/{}/{id}", self.namespace, self.policy),
            namespace: self.namespace.into(),
            risk_policy: self.policy.into(),
            strategy: None,
            kind,
            severity,
            title,
            text,
            ts_ms,
        }
    }
}

fn how_to_resume(trip: Option<&TripStatus>) -> String {
    match trip.and_then(|t| t.until.as_ref()) {
        Some(u) => format!("trading resumes at {u} or when spec.resetTrips changes"),
        None => "change spec.resetTrips to resume".into(),
    }
}

/// The notices a status refresh calls for: trips counted since the last status (one per trip,
/// numbered by the store's counter), a trip that ended by its cooldown, and the summary of the
/// day the last status belonged to when this refresh is on a later UTC day.
pub fn status_notices(
    namespace: &str,
    policy: &str,
    old: Option<&RiskPolicyStatus>,
    new: &RiskPolicyStatus,
    now_ms: u64,
) -> Vec<Notice> {
    let ids = Ids { namespace, policy };
    let mut out = vec![];
    let Some(old) = old else { return out };
    for (name, before, after) in [
        ("dailyLoss", old.daily_loss_trips, new.daily_loss_trips),
        ("drawdown", old.drawdown_trips, new.drawdown_trips),
    ] {
        for n in (before + 1)..=after {
            out.push(ids.notice(
                format!("trip/{name}/{n}"),
                NoticeKind::Trip,
                Severity::Warning,
                format!("{name} trip: RiskPolicy {namespace}/{policy} is reduce-only"),
                format!(
                    "Only sells, merges, redemptions and conversions pass; new buys are refused and open buys \
                     cancelled; {}. {}.",
                    how_to_resume(new.trip.as_ref()),
                    figures(new)
                ),
                now_ms,
            ));
        }
    }
    if let Some(t) = &old.trip
        && new.trip.is_none()
        && new.reset_trips_applied == old.reset_trips_applied
    {
        out.push(ids.notice(
            format!("cooldown-over/{}/{}", t.reason, t.since),
            NoticeKind::CooldownOver,
            Severity::Info,
            format!("{} trip cooldown over: RiskPolicy {namespace}/{policy} trades again", t.reason),
            format!("The trip since {} ended by its cooldown. {}.", t.since, figures(new)),
            now_ms,
        ));
    }
    if let (Some(day), Some(today)) = (old.pnl_day, new.pnl_day)
        && day < today
    {
        out.push(ids.notice(
            format!("summary/{day}"),
            NoticeKind::DailySummary,
            Severity::Info,
            format!("Daily summary of RiskPolicy {namespace}/{policy}: {}", usdc(old.daily_pnl_micros)),
            format!(
                "UTC day {} (figures of the day's last status refresh, at most a refresh period before its \
                 end): {}; equity {}, mode {}, daily-loss trips {}, drawdown trips {}.",
                day_name(day),
                figures(old),
                usdc(old.equity_micros),
                old.mode,
                old.daily_loss_trips,
                old.drawdown_trips,
            ),
            now_ms,
        ));
    }
    out
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
fn day_name(day: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_second(day.saturating_mul(86_400))
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| day.to_string())
}

/// The notices writing `desired` over `stored` calls for: a declared mode change (a new policy
/// only when it starts in a mode other than `off`) and a trip reset (with the trip it cleared).
pub fn limits_notices(
    namespace: &str,
    policy: &str,
    generation: i64,
    stored: Option<&RiskLimits>,
    desired: &RiskLimits,
    trip: Option<&TripStatus>,
    now_ms: u64,
) -> Vec<Notice> {
    let ids = Ids { namespace, policy };
    let mut out = vec![];
    let changed = match stored {
        Some(s) => s.mode != desired.mode,
        None => desired.mode != RiskMode::Off,
    };
    if changed {
        let (severity, what) = match desired.mode {
            RiskMode::Off => (Severity::Info, "mode off: the limits alone decide"),
            RiskMode::ReduceOnly => {
                (Severity::Warning, "mode REDUCE-ONLY: only what reduces exposure passes; open buys are cancelled")
            }
            RiskMode::Halt => {
                (Severity::Critical, "mode HALT (kill switch): nothing passes; every open order is cancelled")
            }
        };
        out.push(ids.notice(
            format!("mode/{generation}/{}", desired.mode.as_str()),
            NoticeKind::Mode,
            severity,
            format!("RiskPolicy {namespace}/{policy}: {}", what.split(':').next().unwrap_or(what)),
            format!("spec.killSwitch is now {} (generation {generation}): {what}.", desired.mode.as_str()),
            now_ms,
        ));
    }
    if stored.is_some_and(|s| s.reset != desired.reset) {
        let text = match trip {
            Some(t) => format!("The {} trip since {} is cleared; trading resumes.", t.reason, t.since),
            None => "No trip stood.".to_string(),
        };
        out.push(ids.notice(
            format!("reset/{}", desired.reset),
            NoticeKind::Reset,
            Severity::Info,
            format!("RiskPolicy {namespace}/{policy}: trips reset (resetTrips {})", desired.reset),
            text,
            now_ms,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> RiskPolicyStatus {
        RiskPolicyStatus { pnl_day: Some(20_000), mode: "off".into(), ..Default::default() }
    }

    #[test]
    fn each_trip_once_by_its_count_and_a_cooldown_end() {
        let old = status();
        let tripped = RiskPolicyStatus {
            daily_loss_trips: 2,
            daily_pnl_micros: -101_000_000,
            trip: Some(TripStatus { reason: "dailyLoss".into(), since: "2024-10-04T00:00:00Z".into(), until: None }),
            ..status()
        };
        let n = status_notices("ns", "p", Some(&old), &tripped, 5);
        let ids: Vec<&str> = n.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["ns/p/trip/dailyLoss/1", "ns/p/trip/dailyLoss/2"]);
        assert!(n[0].text.contains("daily PnL -101 USDC"), "{}", n[0].text);
        assert!(n[0].text.contains("change spec.resetTrips"), "{}", n[0].text);
        assert!(status_notices("ns", "p", Some(&tripped), &tripped, 6).is_empty(), "no change, no notice");
        assert!(status_notices("ns", "p", None, &tripped, 6).is_empty(), "a first status reports nothing");
        let over = RiskPolicyStatus { trip: None, ..tripped.clone() };
        let n = status_notices("ns", "p", Some(&tripped), &over, 7);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].kind, n[0].id.as_str()),
            (NoticeKind::CooldownOver, "ns/p/cooldown-over/dailyLoss/2024-10-04T00:00:00Z")
        );
        let reset = RiskPolicyStatus { reset_trips_applied: 1, ..over };
        assert!(status_notices("ns", "p", Some(&tripped), &reset, 7).is_empty(), "a reset is told when written");
    }

    #[test]
    fn a_new_day_summarizes_the_last() {
        let old = RiskPolicyStatus { daily_pnl_micros: 12_500_000, orders_today: 42, ..status() };
        let new = RiskPolicyStatus { pnl_day: Some(20_001), ..status() };
        let n = status_notices("ns", "p", Some(&old), &new, 9);
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].kind, n[0].id.as_str()), (NoticeKind::DailySummary, "ns/p/summary/20000"));
        assert!(n[0].title.ends_with("12.5 USDC"), "{}", n[0].title);
        assert!(n[0].text.contains("2024-10-04") && n[0].text.contains("orders today 42"), "{}", n[0].text);
    }

    fn limits(mode: RiskMode) -> RiskLimits {
        use polyfleet_core::Quantity;
        RiskLimits {
            mode,
            reset: 0,
            trip_cooldown_ms: None,
            max_order_size: Quantity::ZERO,
            max_order_notional: Money::ZERO,
            max_position_per_market: Quantity::ZERO,
            max_gross_exposure: Money::ZERO,
            max_daily_loss: Money::ZERO,
            max_drawdown: Money::ZERO,
            max_orders_per_minute: 1,
            max_orders_per_day: None,
            min_book_liquidity: None,
            circuit_breaker: None,
            max_loss_at_resolution: None,
            max_event_exposure: None,
            group_limits: vec![],
            kelly_budget: None,
        }
    }

    #[test]
    fn modes_and_resets_when_written() {
        let off = limits(RiskMode::Off);
        let halt = limits(RiskMode::Halt);
        let n = limits_notices("ns", "p", 3, Some(&off), &halt, None, 1);
        assert_eq!((n[0].severity, n[0].id.as_str()), (Severity::Critical, "ns/p/mode/3/halt"));
        assert!(limits_notices("ns", "p", 1, None, &off, None, 1).is_empty(), "a new policy in mode off");
        let reset = RiskLimits { reset: 1, ..off.clone() };
        let trip = TripStatus { reason: "drawdown".into(), since: "t".into(), until: None };
        let n = limits_notices("ns", "p", 4, Some(&off), &reset, Some(&trip), 1);
        assert_eq!((n[0].kind, n[0].id.as_str()), (NoticeKind::Reset, "ns/p/reset/1"));
        assert!(n[0].text.contains("drawdown trip since t is cleared"));
    }
}

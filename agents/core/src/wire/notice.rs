//! Notices: what a desk is told about a RiskPolicy (trips, resets, mode changes, a trip's
//! cooldown ending, live order failures, the daily PnL summary), published by the operator and
//! the execution agent on `notice.<namespace>.<policy>` (JetStream stream `POLYFLEET_NOTICES`,
//! de-duplicated by [`Notice::id`]) and sent to the policy's webhook targets by its notifier
//! agent. A notice is written for people and carries no secret: names, figures and reasons only.

use serde::{Deserialize, Serialize};

/// What a notice is about; a notification target may follow a subset of kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoticeKind {
    /// A daily-loss or drawdown trip put the policy in reduce-only.
    Trip,
    /// A `resetTrips` change cleared the trips.
    Reset,
    /// A trip's cooldown ended and trading resumed.
    CooldownOver,
    /// The declared mode (`killSwitch`) changed.
    Mode,
    /// The venue refused or failed a live order.
    OrderFailure,
    /// The PnL summary of a UTC day that ended.
    DailySummary,
}

impl NoticeKind {
    /// Every kind, in a stable order.
    pub const ALL: [NoticeKind; 6] = [
        NoticeKind::Trip,
        NoticeKind::Reset,
        NoticeKind::CooldownOver,
        NoticeKind::Mode,
        NoticeKind::OrderFailure,
        NoticeKind::DailySummary,
    ];

    /// The name in the RiskPolicy's `notifications.targets[].events`, metrics and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Trip => "trip",
            NoticeKind::Reset => "reset",
            NoticeKind::CooldownOver => "cooldownOver",
            NoticeKind::Mode => "mode",
            NoticeKind::OrderFailure => "orderFailure",
            NoticeKind::DailySummary => "dailySummary",
        }
    }

    /// The kind of a name given by [`NoticeKind::as_str`].
    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How urgent a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// For the record (a summary, trading resumed).
    Info,
    /// Someone should look (a trip, reduce-only, an order failure).
    Warning,
    /// Trading stopped (halt).
    Critical,
}

impl Severity {
    /// Lower-case name, as payloads carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable id of the event it reports (the same event always gets the same id): the stream
    /// de-duplicates on it, the notifier sends each id once per target, and receivers get it as
    /// the `Idempotency-Key` header and the `id` field.
    pub id: String,
    /// The RiskPolicy's namespace.
    pub namespace: String,
    /// The RiskPolicy.
    pub risk_policy: String,
    /// The Strategy concerned, if one is.
    pub strategy: Option<String>,
    /// What it is about.
    pub kind: NoticeKind,
    /// How urgent.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The details, plain text.
    pub text: String,
    /// When the event happened, milliseconds since the Unix epoch.
    pub ts_ms: u64,
}

//! A RiskPolicy's notification targets: webhooks (generic JSON, Slack-compatible, Telegram) that
//! get trips, resets, mode changes, cooldown ends, live order failures and the daily PnL summary.
//! The operator runs one notifier agent per policy that declares targets, handing it the
//! referenced Secrets as environment variables; URLs that are credentials (a Slack webhook) and
//! tokens come only from Secrets. Cluster alerting stays with the chart's PrometheusRule (an
//! Alertmanager routing example sits beside it).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::refs::SecretKeyRef;

/// Where a RiskPolicy's notices go.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notifications {
    /// The targets (names unique).
    #[schemars(length(min = 1, max = 10))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub targets: Vec<NotificationTarget>,
    /// Requests per minute per target at most (bursts up to the same number); notices beyond
    /// wait their turn, none is dropped.
    #[serde(default = "default_per_minute")]
    #[schemars(range(min = 1, max = 600))]
    pub max_per_minute: i32,
    /// Attempts per notice and target (408, 429, 5xx and unreachable are retried with backoff
    /// from 1 s doubling up to 60 s; other 4xx are not) before the notice is given up.
    #[serde(default = "default_attempts")]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: i32,
}

fn default_per_minute() -> i32 {
    20
}

fn default_attempts() -> i32 {
    8
}

/// One webhook target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.kind != 'slack' || has(self.urlSecretRef)").message("a slack target needs urlSecretRef (the webhook URL is its credential)"))]
#[x_kube(validation = Rule::new("self.kind != 'telegram' || (has(self.tokenSecretRef) && has(self.chatId))").message("a telegram target needs tokenSecretRef and chatId"))]
#[x_kube(validation = Rule::new("self.kind != 'generic' || has(self.url) || has(self.urlSecretRef)").message("a generic target needs url or urlSecretRef"))]
#[x_kube(validation = Rule::new("!has(self.url) || !has(self.urlSecretRef)").message("give url or urlSecretRef, not both"))]
pub struct NotificationTarget {
    /// Its name (metrics and logs).
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// `generic` (the notice as JSON, `Idempotency-Key` header, optional bearer token),
    /// `slack` (an incoming webhook, `{"text": ...}`) or `telegram` (Bot API `sendMessage`).
    pub kind: NotificationKind,
    /// A generic target's URL, when it is not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://"))]
    pub url: Option<String>,
    /// The Secret key holding the URL: a Slack webhook's (required), or a generic target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_secret_ref: Option<SecretKeyRef>,
    /// The Secret key holding the token: a generic target's bearer token, or a Telegram bot's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeyRef>,
    /// Telegram: the chat id to write to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub chat_id: Option<String>,
    /// Telegram: the Bot API base URL (default `https://api.telegram.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://"))]
    pub api_url: Option<String>,
    /// The notices it gets; empty or unset: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 6))]
    pub events: Vec<NotificationEvent>,
}

/// The kind of a notification target.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the field's doc names each value"
)]
pub enum NotificationKind {
    Generic,
    Slack,
    Telegram,
}

/// A kind of notice: `trip` (daily loss or drawdown into reduce-only), `reset` (a `resetTrips`
/// change), `cooldownOver`, `mode` (the declared `killSwitch` changed), `orderFailure` (the venue
/// refused or failed a live order), `dailySummary` (a UTC day's PnL, after it ends).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "a documented variant would turn the schema's enum into a oneOf; the enum's doc names each value"
)]
pub enum NotificationEvent {
    Trip,
    Reset,
    CooldownOver,
    Mode,
    OrderFailure,
    DailySummary,
}

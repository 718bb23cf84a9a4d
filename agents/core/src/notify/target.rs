//! The notifier's configuration, the operator → notifier contract: one RiskPolicy's webhook
//! targets with the notice kinds each follows, the per-target rate limit and the retry budget.
//! Credentials are never in it: a target names the environment variables its URL or token come
//! from (the operator fills them from the Secrets the RiskPolicy references).

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::wire::NoticeKind;

/// Bounds shared with the RiskPolicy's schema.
pub const MAX_PER_MINUTE: std::ops::RangeInclusive<u32> = 1..=600;
/// Bounds of the attempts per notice and target.
pub const MAX_ATTEMPTS: std::ops::RangeInclusive<u32> = 1..=20;
/// Telegram's Bot API base URL.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// The kind of a target: what its requests look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetKind {
    /// The notice as JSON, with an `Idempotency-Key` header and an optional bearer token.
    Generic,
    /// A Slack incoming webhook (or a compatible one: Mattermost, Rocket.Chat): `{"text": ...}`.
    Slack,
    /// Telegram's Bot API `sendMessage` to one chat.
    Telegram,
}

/// One webhook target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifyTarget {
    /// Its name (metrics, logs).
    pub name: String,
    /// What its requests look like.
    pub kind: TargetKind,
    /// The URL when it is not a secret (a generic target's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The environment variable holding the URL when it is one (a Slack webhook's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// The environment variable holding the token (a generic target's bearer token, a Telegram
    /// bot's token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// Telegram: the chat to write to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    /// Telegram: the Bot API base URL (default [`TELEGRAM_API`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// The notice kinds it gets; empty: all.
    #[serde(default)]
    pub events: Vec<NoticeKind>,
}

impl NotifyTarget {
    /// Whether the target gets notices of `kind`.
    pub fn follows(&self, kind: NoticeKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

/// What one notifier agent does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifyConfig {
    /// The RiskPolicy's namespace.
    pub namespace: String,
    /// The RiskPolicy whose notices to send.
    pub risk_policy: String,
    /// Where to send them.
    pub targets: Vec<NotifyTarget>,
    /// Requests per minute per target at most (bursts up to the same number); notices beyond
    /// wait their turn, none is dropped.
    pub max_per_minute: u32,
    /// Attempts per notice and target before it is given up (counted and logged).
    pub max_attempts: u32,
}

impl NotifyConfig {
    /// Checks what the schema states: bounds, unique names, and what each kind needs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError(m));
        if !MAX_PER_MINUTE.contains(&self.max_per_minute) {
            return bad(format!("maxPerMinute {} is outside {MAX_PER_MINUTE:?}", self.max_per_minute));
        }
        if !MAX_ATTEMPTS.contains(&self.max_attempts) {
            return bad(format!("maxAttempts {} is outside {MAX_ATTEMPTS:?}", self.max_attempts));
        }
        if self.targets.is_empty() {
            return bad("no notification target".into());
        }
        for (i, t) in self.targets.iter().enumerate() {
            if self.targets[..i].iter().any(|o| o.name == t.name) {
                return bad(format!("target name {} is used twice", t.name));
            }
            let missing = match t.kind {
                TargetKind::Generic if t.url.is_none() && t.url_env.is_none() => Some("a url or urlSecretRef"),
                TargetKind::Slack if t.url_env.is_none() => Some("urlSecretRef (the webhook URL is its credential)"),
                TargetKind::Telegram if t.token_env.is_none() => Some("tokenSecretRef (the bot token)"),
                TargetKind::Telegram if t.chat_id.is_none() => Some("chatId"),
                _ => None,
            };
            if let Some(m) = missing {
                return bad(format!("target {} needs {m}", t.name));
            }
        }
        Ok(())
    }
}

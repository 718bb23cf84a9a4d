//! The HTTP request a notice becomes for each kind of target. Pure: the agent resolves the
//! secrets (from its environment) and posts what this returns. Every request carries the notice's
//! id as `Idempotency-Key`, so a receiver can drop the rare repeat (a crash between a send and its
//! acknowledgement). [`HttpPost::display`] names the target without its URL: the URL of a Slack
//! webhook or Telegram bot is a credential and never goes into a log.

use serde_json::json;

use super::target::{NotifyTarget, TELEGRAM_API, TargetKind};
use crate::config::ConfigError;
use crate::wire::Notice;

/// The secret parts of a target, read from the environment by the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSecrets {
    /// The URL (from `urlEnv`).
    pub url: Option<String>,
    /// The token (from `tokenEnv`).
    pub token: Option<String>,
}

/// One POST with a JSON body.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpPost {
    /// Where (may hold a credential: never log it).
    pub url: String,
    /// Headers besides `Content-Type: application/json` (may hold a credential).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// What logs and errors may name: the target's name and kind.
    pub display: String,
}

impl std::fmt::Debug for HttpPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPost").field("target", &self.display).field("bytes", &self.body.len()).finish()
    }
}

/// The plain-text rendering chat targets get: a severity tag, the title, the details, and where
/// it comes from.
pub fn text(n: &Notice) -> String {
    let tag = n.severity.as_str().to_uppercase();
    let mut out = format!("[{tag}] {}\n{}", n.title, n.text);
    let source = match &n.strategy {
        Some(s) => format!("\nRiskPolicy {}/{}, Strategy {s}", n.namespace, n.risk_policy),
        None => format!("\nRiskPolicy {}/{}", n.namespace, n.risk_policy),
    };
    out.push_str(&source);
    out
}

/// The request `target` gets for `notice`, or why it cannot be built (a secret missing from the
/// environment).
pub fn request(target: &NotifyTarget, secrets: &TargetSecrets, notice: &Notice) -> Result<HttpPost, ConfigError> {
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError(format!("target {}: {what} is not set", target.name)))
    };
    let mut headers = vec![("Idempotency-Key".to_string(), notice.id.clone())];
    let (url, body) = match target.kind {
        TargetKind::Generic => {
            let url = match &target.url {
                Some(u) => u.clone(),
                None => need(&secrets.url, "the URL (urlSecretRef)")?,
            };
            if let Some(token) = secrets.token.as_ref().filter(|t| !t.is_empty()) {
                headers.push(("Authorization".to_string(), format!("Bearer {token}")));
            }
            let body = json!({
                "id": notice.id,
                "kind": notice.kind.as_str(),
                "severity": notice.severity.as_str(),
                "namespace": notice.namespace,
                "riskPolicy": notice.risk_policy,
                "strategy": notice.strategy,
                "title": notice.title,
                "text": notice.text,
                "tsMs": notice.ts_ms,
            });
            (url, body)
        }
        TargetKind::Slack => (need(&secrets.url, "the webhook URL (urlSecretRef)")?, json!({ "text": text(notice) })),
        TargetKind::Telegram => {
            let token = need(&secrets.token, "the bot token (tokenSecretRef)")?;
            let chat = need(&target.chat_id, "chatId")?;
            let base = target.api_url.as_deref().unwrap_or(TELEGRAM_API).trim_end_matches('/');
            let body = json!({ "chat_id": chat, "text": text(notice), "disable_web_page_preview": true });
            (format!("{base}/bot{token}/sendMessage"), body)
        }
    };
    let kind = match target.kind {
        TargetKind::Generic => "generic",
        TargetKind::Slack => "slack",
        TargetKind::Telegram => "telegram",
    };
    // Serializing a `serde_json::Value` cannot fail.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Ok(HttpPost { url, headers, body, display: format!("{kind} target {}", target.name) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{NoticeKind, Severity};

    fn notice() -> Notice {
        Notice {
            id: "ns/default/trip/dailyLoss/1".into(),
            namespace: "ns".into(),
            risk_policy: "default".into(),
            strategy: None,
            kind: NoticeKind::Trip,
            severity: Severity::Warning,
            title: "dailyLoss trip: reduce-only".into(),
            text: "daily PnL -101.000000 USDC against a limit of 100.000000".into(),
            ts_ms: 1,
        }
    }

    fn target(kind: TargetKind) -> NotifyTarget {
        NotifyTarget {
            name: "desk".into(),
            kind,
            url: None,
            url_env: None,
            token_env: None,
            chat_id: Some("-100".into()),
            api_url: Some("http://127.0.0.1:9/".into()),
            events: vec![],
        }
    }

    #[test]
    fn each_kind_gets_its_shape_and_the_display_holds_no_secret() {
        let secrets =
            TargetSecrets { url: Some("https://hooks.example/T0/SECRET".into()), token: Some("123:SECRET".into()) };
        let generic = NotifyTarget { url: Some("http://r.example/hook".into()), ..target(TargetKind::Generic) };
        let g = request(&generic, &secrets, &notice()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!(g.url, "http://r.example/hook");
        assert_eq!(body["id"], "ns/default/trip/dailyLoss/1");
        assert_eq!(body["kind"], "trip");
        assert!(g.headers.contains(&("Authorization".into(), "Bearer 123:SECRET".into())));
        assert!(g.headers.contains(&("Idempotency-Key".into(), "ns/default/trip/dailyLoss/1".into())));
        let s = request(&target(TargetKind::Slack), &secrets, &notice()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(s.url, "https://hooks.example/T0/SECRET");
        assert!(body["text"].as_str().unwrap().starts_with("[WARNING] dailyLoss trip"));
        let t = request(&target(TargetKind::Telegram), &secrets, &notice()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:9/bot123:SECRET/sendMessage");
        assert_eq!(body["chat_id"], "-100");
        for r in [&g, &s, &t] {
            let shown = format!("{r:?} {}", r.display);
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }

    #[test]
    fn a_missing_secret_is_an_error_naming_the_target_not_the_value() {
        let e = request(&target(TargetKind::Slack), &TargetSecrets::default(), &notice()).unwrap_err();
        assert!(e.0.contains("target desk"), "{e}");
        let e = request(&target(TargetKind::Telegram), &TargetSecrets::default(), &notice()).unwrap_err();
        assert!(e.0.contains("bot token"), "{e}");
    }
}

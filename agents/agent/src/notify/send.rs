//! One notice to one target: wait for the target's rate, post, and follow the core's step rule
//! (sent, retry after a backoff, refused, give up). Errors are logged without their URL (a Slack
//! webhook's or Telegram bot's URL is a credential).

use std::time::Duration;

use polyfleet_core::notify::{Next, NotifyTarget, Pacer, TargetSecrets, next_step, request};
use polyfleet_core::wire::Notice;

/// A target with its secrets and its rate state.
pub struct Target {
    /// Its configuration.
    pub spec: NotifyTarget,
    /// Its URL or token, from the environment.
    pub secrets: TargetSecrets,
    /// Its rate limit.
    pub pacer: Pacer,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered.
    Sent,
    /// Refused for good (a 4xx, or the target misses a secret).
    Refused,
    /// The attempts were used up.
    GaveUp,
}

impl Outcome {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Refused => "refused",
            Outcome::GaveUp => "gave_up",
        }
    }
}

/// The server's `Retry-After` (seconds form), in milliseconds.
fn retry_after_ms(r: &reqwest::Response) -> Option<u64> {
    r.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(|s| s * 1000)
}

/// Delivers `notice` to `t`, with up to `max_attempts` attempts.
pub async fn deliver(
    http: &reqwest::Client,
    t: &mut Target,
    notice: &Notice,
    max_attempts: u32,
    now_ms: &(impl Fn() -> u64 + Sync),
) -> Outcome {
    let post = match request(&t.spec, &t.secrets, notice) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "notification target misconfigured");
            return Outcome::Refused;
        }
    };
    let mut attempt = 0u32;
    loop {
        while let Err(wait) = t.pacer.take(now_ms()) {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        attempt += 1;
        let mut req = http.post(&post.url).header(reqwest::header::CONTENT_TYPE, "application/json");
        for (k, v) in &post.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let (status, retry_after) = match req.body(post.body.clone()).send().await {
            Ok(r) => (Some(r.status().as_u16()), retry_after_ms(&r)),
            Err(e) => {
                tracing::warn!(target_name = %post.display, error = %e.without_url(), attempt, "notification post failed");
                (None, None)
            }
        };
        match next_step(status, retry_after, attempt, max_attempts) {
            Next::Sent => return Outcome::Sent,
            Next::Refused => {
                tracing::warn!(target_name = %post.display, status = ?status, "notification refused by the target");
                return Outcome::Refused;
            }
            Next::GiveUp => return Outcome::GaveUp,
            Next::Retry(ms) => {
                tracing::debug!(target_name = %post.display, status = ?status, attempt, retry_in_ms = ms, "retrying a notification");
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
    }
}

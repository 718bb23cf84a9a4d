//! Notifications, sans IO: what the notifier agent is told (the targets of one RiskPolicy,
//! [`target`]), the HTTP request each kind of target gets for a notice ([`format`]: generic JSON,
//! Slack-compatible, Telegram), and the pacing rules (a per-target rate limit and the retry
//! schedule, [`pace`]); and the notice a live order's failure becomes ([`order_failure`]). The agent (`polyfleet-agent notify`) only moves bytes and sleeps.

pub mod format;
pub mod order_failure;
pub mod pace;
pub mod target;

pub use format::{HttpPost, TargetSecrets, request};
pub use order_failure::order_failures;
pub use pace::{Next, Pacer, next_step};
pub use target::{NotifyConfig, NotifyTarget, TargetKind};

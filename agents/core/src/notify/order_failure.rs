//! The notice a live order's failure becomes: the execution agent calls [`order_failures`] with
//! an order's intent and what the executor reported, and publishes the result off its critical
//! path. Only live orders count (paper and shadow failures are not a desk's emergency), and only
//! a rejection (the venue refused or failed the order, or the executor could not complete it).

use crate::exec::ExecEvent;
use crate::wire::{Mode, Notice, NoticeKind, OrderIntent, OrderStatus, Severity};

/// The notices for the rejections among `events` of a live `intent`.
pub fn order_failures(intent: &OrderIntent, events: &[ExecEvent]) -> Vec<Notice> {
    if intent.mode != Mode::Live {
        return vec![];
    }
    events
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Update(u) if u.status == OrderStatus::Rejected => Some(u),
            _ => None,
        })
        .map(|u| Notice {
            id: format!("{}/{}/order-failure/{}", intent.namespace, intent.risk_policy, intent.client_order_id),
            namespace: intent.namespace.clone(),
            risk_policy: intent.risk_policy.clone(),
            strategy: Some(intent.strategy.clone()),
            kind: NoticeKind::OrderFailure,
            severity: Severity::Warning,
            title: format!("live order {} rejected", intent.client_order_id),
            text: format!(
                "{:?} {} shares of token {} at {} on {}: {}",
                intent.side,
                intent.size,
                intent.token,
                intent.price,
                intent.venue,
                u.reason.as_deref().unwrap_or("no reason given")
            ),
            ts_ms: u.ts_ns / 1_000_000,
        })
        .collect()
}

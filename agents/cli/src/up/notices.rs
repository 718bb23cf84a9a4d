//! The local fleet's notices: what the operator's RiskPolicy controller tells a desk in a cluster
//! (mode, trips, cooldown ends, daily summaries, [`polyfleet_operator::notices`]), computed the
//! same way from the local risk store's state every second and published on the local bus, where
//! the policy's notifier (a task in `inproc`, a `polyfleet-agent notify` process in `processes`)
//! sends them to its webhooks. Each notice is also a line of the run's log.

use std::collections::HashMap;

use bytes::Bytes;
use kube::ResourceExt;
use polyfleet_core::wire::{Notice, encode, subjects};
use polyfleet_crds::{RiskPolicy, RiskPolicyStatus};
use polyfleet_io::bus::Bus;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_operator::controller::risk_policy::desired_status;
use polyfleet_operator::notices::{limits_notices, status_notices};
use polyfleet_operator::planner::namespace_of;
use polyfleet_operator::planner::risk::limits;

/// Follows the RiskPolicies' state and publishes the notices it calls for.
pub struct PolicyNotices {
    policies: Vec<RiskPolicy>,
    last: HashMap<(String, String), RiskPolicyStatus>,
}

impl PolicyNotices {
    /// Follows `policies`.
    pub fn new(policies: Vec<RiskPolicy>) -> PolicyNotices {
        PolicyNotices { policies, last: HashMap::new() }
    }

    /// One look at the store: publishes what changed since the last look (the first one tells a
    /// mode other than `off`); returns the log lines.
    pub async fn poll<B: Bus, S: RiskStore>(&mut self, bus: &B, store: &S) -> Vec<String> {
        let now = k8s_openapi::jiff::Timestamp::now();
        let now_ms = now.as_millisecond().max(0) as u64;
        let stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut out = vec![];
        for p in &self.policies {
            let (ns, name) = (namespace_of(p), p.name_any());
            let Ok(snap) = store.snapshot(&PolicyKey::new(&ns, &name)).await else { continue };
            let desired = limits(&p.spec);
            let key = (ns.clone(), name.clone());
            let last = self.last.get(&key);
            let generation = p.metadata.generation.unwrap_or(1);
            let mut status = desired_status(last, generation, &desired, Ok(&snap), now_ms, &stamp);
            status.capital_micros = p.spec.capital_micros;
            status.effective_limits = Some(p.spec.effective_limits());
            let mut notices: Vec<Notice> = match last {
                None => limits_notices(&ns, &name, generation, None, &desired, None, now_ms),
                Some(_) => vec![],
            };
            notices.extend(status_notices(&ns, &name, last, &status, now_ms));
            for n in notices {
                let subject = subjects::notices(&n.namespace, &n.risk_policy);
                match bus.persist(&subject, vec![], Bytes::from(encode(&n)), Some(&n.id)).await {
                    Ok(_) => out.push(format!("notice {}: {}", n.kind.as_str(), n.title)),
                    Err(e) => out.push(format!("notice {} not published: {e}", n.id)),
                }
            }
            self.last.insert(key, status);
        }
        out
    }
}

//! A local run's live series: the rounds of each `series` Market a directional Strategy trades,
//! kept as the Market controller keeps them ([`polyfleet_operator::rounds::refresh`], on the
//! Venue's clock) and written under the same KV keys ([`rounds_key`]), so the local strategy,
//! market-data and execution agents take each new round as it is listed, as they do in a cluster.
//! The embedded simulator is asked through its catalog; the simulator process through its Gamma
//! API.

use std::collections::HashMap;

use bytes::Bytes;
use kube::ResourceExt;
use polyfleet_core::TokenId;
use polyfleet_core::wire::subjects::rounds_key;
use polyfleet_crds::Market;
use polyfleet_crds::market::{Series, SeriesRound};
use polyfleet_io::bus::Bus;
use polyfleet_operator::local::LocalPlan;
use polyfleet_operator::lookup::MarketLookup;
use polyfleet_operator::planner::rounds::doc;
use polyfleet_operator::planner::venue::VenueEndpoints;

/// One series followed live.
#[derive(Debug, Clone)]
struct LiveSeries {
    key: String,
    series: Series,
    groups: Vec<String>,
}

/// The live series of a run and their rounds in play.
#[derive(Debug, Clone, Default)]
pub struct LocalRounds {
    series: Vec<LiveSeries>,
    rounds: HashMap<String, Vec<SeriesRound>>,
    written: HashMap<String, Vec<u8>>,
}

impl LocalRounds {
    /// The series of `markets` (namespace `namespace`) whose rounds the planned strategies follow.
    pub fn of(plan: &LocalPlan, markets: &[Market], namespace: &str) -> LocalRounds {
        let keys: Vec<&String> = plan.strategies.iter().flat_map(|s| &s.config.series).collect();
        let series = markets
            .iter()
            .filter_map(|m| {
                let ns = m.namespace().unwrap_or_else(|| namespace.to_string());
                let key = rounds_key(&ns, &m.name_any());
                let series = m.spec.series.clone().filter(|_| keys.contains(&&key))?;
                Some(LiveSeries { key, series, groups: m.labels().iter().map(|(k, v)| format!("{k}={v}")).collect() })
            })
            .collect();
        LocalRounds { series, ..LocalRounds::default() }
    }

    /// The KV keys of the series (what the execution and market-data agents follow).
    pub fn keys(&self) -> Vec<String> {
        self.series.iter().map(|s| s.key.clone()).collect()
    }

    /// Whether no series is followed live.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Asks `lookup` at `venue` about every series' rounds (now: the agents' venue clock) and
    /// writes each document that changed on `bus`. Returns the tokens of every round in play.
    pub async fn poll<B: Bus>(&mut self, lookup: &dyn MarketLookup, venue: &VenueEndpoints, bus: &B) -> Vec<TokenId> {
        let venue_ms = polyfleet_agent::time::now_ms();
        let wall = k8s_openapi::jiff::Timestamp::now();
        let wall_ms = u64::try_from(wall.as_millisecond()).unwrap_or(0);
        let stamp = wall.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut tokens = vec![];
        for s in &self.series {
            let prev = self.rounds.get(&s.key).cloned().unwrap_or_default();
            let rounds =
                match polyfleet_operator::rounds::refresh(lookup, venue, &s.series, &prev, venue_ms, wall_ms, &stamp)
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(series = %s.key, error = %e, "series rounds not refreshed");
                        prev
                    }
                };
            let body = serde_json::to_vec(&doc(&rounds, &s.groups)).unwrap_or_default();
            if self.written.get(&s.key) != Some(&body) {
                match bus.kv_put(&s.key, Bytes::from(body.clone())).await {
                    Ok(_) => {
                        self.written.insert(s.key.clone(), body);
                    }
                    Err(e) => tracing::warn!(series = %s.key, error = %e, "rounds document not written"),
                }
            }
            for r in &rounds {
                tokens.extend([&r.up_token_id, &r.down_token_id].into_iter().filter_map(|t| TokenId::parse(t).ok()));
            }
            self.rounds.insert(s.key.clone(), rounds);
        }
        tokens
    }
}

//! The local face of GitOps: `polyfleet up` watches its resource directory, and when a file
//! changes it loads and validates the directory again, plans it with the operator's planner, and
//! hands each Strategy whose parameters changed its new parameter document on the KV bucket,
//! exactly as the operator does in a cluster; the strategy agent applies it live and acknowledges
//! it. Invalid edits are reported and change nothing: parameters out of the strategy's bounds are
//! refused by the planner, as the operator refuses them (the agent would refuse them too). A
//! RiskPolicy's changed limits (its mode included: a kill switch) are written to the risk store at
//! once, as the operator writes them. Other changes (new markets, strategies) apply at the next
//! start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use polyfleet_core::config::{ParamsAck, ParamsDoc, StrategyParams};
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::wire::subjects;
use polyfleet_io::bus::Bus;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_operator::local::{LocalPlan, Resources, plan, resolve};
use polyfleet_operator::settings::FleetSettings;
use polyfleet_polymarket::data::catalog::Catalog;

struct Current {
    namespace: String,
    generation: u64,
    parameters: StrategyParams,
    awaiting_ack: bool,
}

/// Watches a resource directory.
pub struct Watcher {
    dir: PathBuf,
    namespace: String,
    stamp: Vec<(PathBuf, Option<SystemTime>)>,
    strategies: HashMap<String, Current>,
    /// Each policy's limits in force: (namespace, name) -> limits.
    limits: HashMap<(String, String), RiskLimits>,
}

fn stamp(dir: &Path) -> Vec<(PathBuf, Option<SystemTime>)> {
    let files: Vec<PathBuf> = if dir.is_file() {
        vec![dir.to_path_buf()]
    } else {
        std::fs::read_dir(dir).map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default()
    };
    let mut out: Vec<_> = files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .map(|p| {
            let m = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
            (p, m)
        })
        .collect();
    out.sort();
    out
}

impl Watcher {
    /// Watches `dir`, whose strategies run as `plan` says.
    pub fn new(dir: &Path, namespace: &str, plan: &LocalPlan) -> Watcher {
        let strategies = plan
            .strategies
            .iter()
            .map(|p| {
                let c = Current {
                    namespace: p.config.namespace.clone(),
                    generation: p.generation,
                    parameters: p.config.parameters.clone(),
                    awaiting_ack: false,
                };
                (p.config.name.clone(), c)
            })
            .collect();
        let limits = plan.limits.iter().map(|(ns, name, l)| ((ns.clone(), name.clone()), l.clone())).collect();
        Watcher { dir: dir.to_path_buf(), namespace: namespace.to_string(), stamp: stamp(dir), strategies, limits }
    }

    /// Checks the directory and the acknowledgements; what happened, for the user.
    pub async fn poll<B: Bus, S: RiskStore>(&mut self, bus: &B, store: &S, catalog: &Catalog) -> Vec<String> {
        let mut log = vec![];
        for (name, c) in self.strategies.iter_mut().filter(|(_, c)| c.awaiting_ack) {
            let key = subjects::params_ack_key(&c.namespace, name);
            let Ok(Some(entry)) = bus.kv_get(&key).await else { continue };
            let Ok(ack) = serde_json::from_slice::<ParamsAck>(&entry.value) else { continue };
            if ack.generation == c.generation {
                c.awaiting_ack = false;
                log.push(match ack.error {
                    None => format!("{name}: parameters of generation {} applied live", ack.generation),
                    Some(e) => {
                        format!("{name}: parameters of generation {} refused, previous kept: {e}", ack.generation)
                    }
                });
            }
        }
        let now = stamp(&self.dir);
        if now == self.stamp {
            return log;
        }
        self.stamp = now;
        let mut res = match Resources::load(&self.dir, &self.namespace) {
            Ok(r) => r,
            Err(e) => {
                log.push(format!("edit not applied: {e}"));
                return log;
            }
        };
        let now_ms = polyfleet_agent::time::now_ms();
        resolve(&mut res.markets, catalog, now_ms / 1000, "");
        let planned = plan(&res, &FleetSettings::default());
        let mut other = false;
        for (name, refusal) in planned.refused.iter().filter(|(n, _)| self.strategies.contains_key(n)) {
            log.push(format!("{name}: edit not applied, previous parameters kept: {}", refusal.message));
        }
        for p in &planned.strategies {
            let Some(c) = self.strategies.get_mut(&p.config.name) else {
                other = true;
                continue;
            };
            if c.parameters == p.config.parameters {
                continue;
            }
            c.generation += 1;
            c.parameters = p.config.parameters.clone();
            let doc = ParamsDoc { generation: c.generation, parameters: c.parameters.clone() };
            let key = subjects::params_key(&c.namespace, &p.config.name);
            let doc = match doc.to_json() {
                Ok(d) => d,
                Err(e) => {
                    log.push(format!("{}: parameters not sent: {e}", p.config.name));
                    continue;
                }
            };
            match bus.kv_put(&key, Bytes::from(doc)).await {
                Ok(_) => {
                    c.awaiting_ack = true;
                    log.push(format!("{}: parameters changed, generation {} sent", p.config.name, c.generation));
                }
                Err(e) => log.push(format!("{}: parameters not sent: {e}", p.config.name)),
            }
        }
        for (ns, name, limits) in &planned.limits {
            let key = (ns.clone(), name.clone());
            match self.limits.get(&key) {
                Some(l) if l == limits => {}
                Some(_) => match store.set_limits(&PolicyKey::new(ns, name), limits).await {
                    Ok(()) => {
                        self.limits.insert(key, limits.clone());
                        log.push(format!("RiskPolicy {name}: limits applied live (mode {:?})", limits.mode));
                    }
                    Err(e) => log.push(format!("RiskPolicy {name}: limits not written: {e}")),
                },
                None => other = true,
            }
        }
        let known_refused = planned.refused.iter().filter(|(n, _)| self.strategies.contains_key(n)).count();
        if other || planned.strategies.len() + known_refused != self.strategies.len() {
            log.push("changes other than Strategy parameters and RiskPolicy limits apply at the next start".into());
        }
        log
    }
}

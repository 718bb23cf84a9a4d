//! The planner without a cluster: `polyfleet up` and `polyfleet backtest` read the same resource
//! YAML that `kubectl apply` takes, check it the way the API server would
//! ([`polyfleet_crds::validate`]), resolve the Markets from a catalog of the venue's markets with
//! the Market controller's own status function, and plan each Strategy with the Strategy
//! controller's planner. What a cluster would run, decided by the same code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kube::ResourceExt;
use polyfleet_core::config::StrategyConfig;
use polyfleet_core::risk::RiskLimits;
use polyfleet_crds::{Market, RiskPolicy, Strategy, Venue};
use polyfleet_polymarket::data::catalog::Catalog;
use polyfleet_polymarket::http::markets::ResolvedMarket;
use serde_json::Value;

use crate::lookup::{Lookup, MarketQuery};
use crate::planner::market::{Resolution, market_status, query};
use crate::planner::markets::MarketView;
use crate::planner::strategy::{Refusal, plan_strategy};
use crate::planner::{namespace_of, risk};
use crate::settings::FleetSettings;

/// Why resources could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A file or directory could not be read.
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    /// Not YAML, or not the object it says it is.
    #[error("{0}: {1}")]
    Parse(String, String),
    /// Rejected the way the API server would reject it.
    #[error("{path}: {kind} {name} is invalid: {message}")]
    Invalid {
        /// File.
        path: String,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// The violations.
        message: String,
    },
}

/// The API version of every polyfleet kind.
pub const API_VERSION: &str = "polyfleet.dev/v1alpha1";

/// polyfleet's kinds.
pub const KINDS: [&str; 4] = ["Venue", "Market", "Strategy", "RiskPolicy"];

/// Why a document with `apiVersion` `api` and `kind` would be refused by a cluster with
/// polyfleet's CRDs installed, when it concerns polyfleet: one of its kinds under another group
/// or version (a typo such as `polyfleet.io` would otherwise be skipped as a foreign object
/// and surface later as an unrelated "not found"), or a `polyfleet.dev` document of a kind or
/// version that does not exist. `None` for polyfleet objects and other APIs' objects.
pub fn refuse_api(api: &str, kind: &str) -> Option<String> {
    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
    let ours = KINDS.contains(&kind);
    if api == API_VERSION {
        return (!ours).then(|| format!("no kind {kind:?} in {API_VERSION} (its kinds: {})", KINDS.join(", ")));
    }
    if group == "polyfleet.dev" {
        return Some(format!("polyfleet.dev serves only {API_VERSION}, not {api:?}"));
    }
    ours.then(|| {
        format!(
            "apiVersion {api:?} is not polyfleet's API (kubectl apply would answer: no matches for kind {kind:?} in version {api:?}); use {API_VERSION}"
        )
    })
}

/// The polyfleet objects of a directory.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Venues.
    pub venues: Vec<Venue>,
    /// Markets (with status once [`resolve`]d).
    pub markets: Vec<Market>,
    /// Strategies.
    pub strategies: Vec<Strategy>,
    /// RiskPolicies.
    pub policies: Vec<RiskPolicy>,
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, LocalError> {
    let read = |e| LocalError::Read(dir.display().to_string(), e);
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    Ok(files)
}

impl Resources {
    /// Every polyfleet object in `dir`'s YAML files (or the one file `dir` names), placed in
    /// `namespace` when it names none. Other APIs' objects (Namespaces, ...) are skipped; one
    /// invalid object, or one of polyfleet's kinds under a wrong `apiVersion`
    /// ([`refuse_api`]), fails the load naming its file, as `kubectl apply` would refuse it. A
    /// later document of an object already loaded is an update of it, as a second `kubectl
    /// apply` would be: checked with the update rules (immutable fields), then it replaces it.
    pub fn load(dir: &Path, namespace: &str) -> Result<Resources, LocalError> {
        let mut out = Resources::default();
        // What was loaded under each (kind, namespace, name): a later document of the same object
        // is an update of it, checked against it as the API server would (immutable fields).
        let mut loaded: HashMap<(String, String, String), Value> = HashMap::new();
        for file in yaml_files(dir)? {
            let path = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| LocalError::Read(path.clone(), e))?;
            let docs: Vec<Value> =
                serde_saphyr::from_multiple(&text).map_err(|e| LocalError::Parse(path.clone(), e.to_string()))?;
            for mut doc in docs.into_iter().filter(|d| !d.is_null()) {
                out.add(&path, &mut doc, namespace, &mut loaded)?;
            }
        }
        Ok(out)
    }

    fn add(
        &mut self,
        path: &str,
        doc: &mut Value,
        namespace: &str,
        loaded: &mut HashMap<(String, String, String), Value>,
    ) -> Result<(), LocalError> {
        let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(refusal) = refuse_api(&api, &kind) {
            return Err(LocalError::Parse(path.into(), format!("{kind} {name}: {refusal}")));
        }
        if api != API_VERSION {
            // Another API's object (a Namespace, a Secret, ...): nothing to run locally.
            return Ok(());
        }
        let ns = doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(namespace).to_string();
        let key = (kind.clone(), ns.clone(), name.clone());
        let old = loaded.get(&key);
        polyfleet_crds::validate::validate(doc, old).map_err(|e| LocalError::Invalid {
            path: path.into(),
            kind: kind.clone(),
            name: name.clone(),
            message: if old.is_some() { format!("as an update of the document before it: {e}") } else { e.to_string() },
        })?;
        if old.is_some() {
            // The update replaces what was loaded.
            self.remove(&kind, &ns, &name);
        }
        loaded.insert(key, doc.clone());
        if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.entry("namespace").or_insert_with(|| Value::String(namespace.into()));
            meta.entry("generation").or_insert(Value::from(1));
        }
        let parse = |e: serde_json::Error| LocalError::Parse(path.into(), format!("{kind} {name}: {e}"));
        let doc = doc.clone();
        match kind.as_str() {
            "Venue" => self.venues.push(serde_json::from_value(doc).map_err(parse)?),
            "Market" => self.markets.push(serde_json::from_value(doc).map_err(parse)?),
            "Strategy" => self.strategies.push(serde_json::from_value(doc).map_err(parse)?),
            "RiskPolicy" => self.policies.push(serde_json::from_value(doc).map_err(parse)?),
            // refuse_api let only polyfleet's kinds through.
            _ => return Err(LocalError::Parse(path.into(), format!("unknown kind {kind}"))),
        }
        Ok(())
    }

    /// Removes the object `kind` `ns`/`name`.
    fn remove(&mut self, kind: &str, ns: &str, name: &str) {
        fn keep<K: kube::Resource>(v: &mut Vec<K>, ns: &str, name: &str) {
            v.retain(|o| !(namespace_of(o) == ns && o.name_any() == name));
        }
        match kind {
            "Venue" => keep(&mut self.venues, ns, name),
            "Market" => keep(&mut self.markets, ns, name),
            "Strategy" => keep(&mut self.strategies, ns, name),
            _ => keep(&mut self.policies, ns, name),
        }
    }

    /// The Venue of a namespace by name.
    pub fn venue(&self, ns: &str, name: &str) -> Option<&Venue> {
        self.venues.iter().find(|v| namespace_of(*v) == ns && v.name_any() == name)
    }
}

/// What the catalog says about `q` (what the venue's REST APIs would answer, and for a neg-risk
/// event's market the conversion fee the catalog knows).
pub fn answer(catalog: &Catalog, q: &MarketQuery) -> Option<Lookup> {
    fn one(m: &ResolvedMarket) -> (Vec<ResolvedMarket>, &ResolvedMarket) {
        (vec![m.clone()], m)
    }
    let (markets, first) = match q {
        MarketQuery::Condition(c) => one(catalog.by_condition(c)?),
        MarketQuery::Slug(s) => one(catalog.by_slug(s)?),
        MarketQuery::Event(s) => {
            let markets = catalog.event(s)?;
            let first = *markets.first()?;
            (markets.into_iter().cloned().collect(), first)
        }
        MarketQuery::Tokens(ts) => (vec![], catalog.by_token(ts.first()?)?),
    };
    Some(Lookup {
        markets,
        fee_rate_bps: Some(first.taker_base_fee.unwrap_or(0)),
        clob_ready: true,
        convert_fee_bips: catalog.event_of(&first.condition_id).and_then(|e| e.convert_fee_bips),
    })
}

/// The venue's answers from a catalog ([`answer`]), as a [`crate::lookup::MarketLookup`] (a local
/// run's series rounds are found as the Market controller finds them).
pub struct CatalogLookup(pub Catalog);

impl crate::lookup::MarketLookup for CatalogLookup {
    fn lookup<'a>(
        &'a self,
        _venue: &'a crate::planner::venue::VenueEndpoints,
        query: &'a MarketQuery,
    ) -> futures::future::BoxFuture<'a, Result<Option<Lookup>, crate::lookup::LookupError>> {
        Box::pin(async move { Ok(answer(&self.0, query)) })
    }

    fn convert_fee_bips<'a>(
        &'a self,
        _venue: &'a crate::planner::venue::VenueEndpoints,
        condition: &'a polyfleet_core::ConditionId,
    ) -> futures::future::BoxFuture<'a, Result<Option<u32>, crate::lookup::LookupError>> {
        Box::pin(async move { Ok(self.0.event_of(condition).and_then(|e| e.convert_fee_bips)) })
    }
}

/// Gives every Market the status the Market controller would write for the catalog's answer.
pub fn resolve(markets: &mut [Market], catalog: &Catalog, now_s: u64, now: &str) {
    for m in markets {
        let generation = m.metadata.generation.unwrap_or(1);
        let status = match query(&m.spec, now_s) {
            Ok(q) => match answer(catalog, &q) {
                Some(l) => market_status(None, generation, &m.spec, Resolution::Found(&l), &[], None, now),
                None => market_status(None, generation, &m.spec, Resolution::Unknown, &[], None, now),
            },
            Err(e) => market_status(None, generation, &m.spec, Resolution::Invalid(&e), &[], None, now),
        };
        m.status = Some(status);
    }
}

/// For a backtest over a recording: every `series` Market becomes one Market per round of its
/// series the catalog holds that ends after `from_s` (in window start order, each under the
/// Market's name, resolved as the Market controller resolves it while that round runs), so the
/// strategies following it trade every round, as the cluster's would when the controller moves
/// the Market from round to round. A series without rounds in the catalog stays as resolved.
pub fn expand_series(markets: &mut Vec<Market>, catalog: &Catalog, from_s: u64, now: &str) {
    let mut out = Vec::with_capacity(markets.len());
    for m in markets.drain(..) {
        let Some(series) = m.spec.series.as_ref() else {
            out.push(m);
            continue;
        };
        let (coin, period, len) = crate::planner::market::series_parts(series.asset, series.period);
        let prefix = format!("{coin}-updown-{period}-");
        let mut starts: Vec<u64> = catalog
            .markets
            .iter()
            .filter_map(|r| r.slug.strip_prefix(&prefix)?.parse::<u64>().ok())
            .filter(|start| start + len > from_s)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        if starts.is_empty() {
            out.push(m);
            continue;
        }
        for start in starts {
            let mut round = m.clone();
            round.annotations_mut().insert(crate::planner::markets::ROUND_ANNOTATION.to_string(), start.to_string());
            resolve(std::slice::from_mut(&mut round), catalog, start, now);
            out.push(round);
        }
    }
    *markets = out;
}

/// One Strategy as planned.
#[derive(Debug, Clone)]
pub struct PlannedStrategy {
    /// The configuration its agent reads.
    pub config: StrategyConfig,
    /// The Strategy's generation (its parameters' version).
    pub generation: u64,
    /// The built-in model publishers it asks for.
    pub models: Vec<crate::planner::models::ModelPublisher>,
    /// Its arm of an A/B experiment.
    pub experiment: Option<polyfleet_core::analytics::experiment::Experiment>,
}

/// What the resources ask to run.
#[derive(Debug, Clone, Default)]
pub struct LocalPlan {
    /// Strategies that can run.
    pub strategies: Vec<PlannedStrategy>,
    /// Strategies that cannot, with the reason their status would carry.
    pub refused: Vec<(String, Refusal)>,
    /// Limits per RiskPolicy: (namespace, name, limits).
    pub limits: Vec<(String, String, RiskLimits)>,
    /// Band the risk gateway measures book liquidity in.
    pub liquidity_band_bps: u32,
    /// Markets the venue does not know (named for the user).
    pub unresolved: Vec<String>,
    /// The RiskPolicies (their status is followed for notices).
    pub policies: Vec<RiskPolicy>,
    /// A notifier per RiskPolicy with notifications, its secrets named as [`local_secret_var`] says.
    pub notifiers: Vec<polyfleet_core::notify::NotifyConfig>,
}

/// Where the local fleet reads a Secret key from: the environment variable named after it,
/// `<SECRET>_<KEY>` in upper case with every other character `_` (`desk-slack` / `webhook-url`:
/// `DESK_SLACK_WEBHOOK_URL`). There is no API server to hold Secrets on one machine.
pub fn local_secret_var(r: &polyfleet_crds::refs::SecretKeyRef) -> String {
    format!("{}_{}", r.name, r.key)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect()
}

/// The notifier of a RiskPolicy for the local fleet: the cluster's configuration with each
/// secret read from [`local_secret_var`]; `None` without notifications.
pub fn local_notifier(p: &RiskPolicy) -> Option<polyfleet_core::notify::NotifyConfig> {
    let n = p.spec.notifications.as_ref()?;
    let (mut config, env) = crate::contract::notify_config(&namespace_of(p), &p.name_any(), n);
    let local = |var: &mut Option<String>| {
        if let Some(v) = var.as_mut()
            && let Some((_, r)) = env.iter().find(|(name, _)| name == v)
        {
            *v = local_secret_var(r);
        }
    };
    for t in &mut config.targets {
        local(&mut t.url_env);
        local(&mut t.token_env);
    }
    Some(config)
}

/// Plans resolved resources with the controllers' planners.
pub fn plan(res: &Resources, settings: &FleetSettings) -> LocalPlan {
    let views: Vec<MarketView> = res.markets.iter().filter_map(MarketView::of).collect();
    let unresolved =
        res.markets.iter().filter(|m| MarketView::of(m).is_none()).map(|m| m.name_any()).collect::<Vec<_>>();
    let mut out = LocalPlan {
        unresolved,
        liquidity_band_bps: risk::liquidity_band_bps(&res.policies.iter().map(|p| &p.spec).collect::<Vec<_>>()),
        limits: res.policies.iter().map(|p| (namespace_of(p), p.name_any(), risk::limits(&p.spec))).collect(),
        policies: res.policies.clone(),
        notifiers: res.policies.iter().filter_map(local_notifier).collect(),
        ..LocalPlan::default()
    };
    for s in &res.strategies {
        let ns = namespace_of(s);
        let venue = res.venue(&ns, &s.spec.venue_ref.name);
        let policy =
            res.policies.iter().find(|p| namespace_of(*p) == ns && p.name_any() == s.spec.risk_policy_ref.name);
        let mine: Vec<MarketView> = views
            .iter()
            .zip(res.markets.iter().filter(|m| MarketView::of(m).is_some()))
            .filter(|(_, m)| namespace_of(*m) == ns)
            .map(|(v, _)| v.clone())
            .collect();
        let planned = plan_strategy(s, venue, policy, &mine, settings).and_then(|p| {
            let text = p.config_map.data.and_then(|d| d.get("strategy.json").cloned()).unwrap_or_default();
            StrategyConfig::from_json(&text)
                .map(|c| (c, p.models, p.experiment))
                .map_err(|e| Refusal { reason: "InvalidConfiguration", message: e.to_string() })
        });
        // The local fleet's executor is paper: a live Strategy would be filled on paper while
        // saying live. Live trading runs where the Venue's credentials Secret is.
        let planned = planned.and_then(|(c, models, experiment)| match c.mode {
            polyfleet_core::wire::Mode::Live => Err(Refusal {
                reason: "LiveTradingNotLocal",
                message: "the local fleet runs paper and shadow Strategies; live trading runs in the cluster".into(),
            }),
            _ => Ok((c, models, experiment)),
        });
        match planned {
            Ok((config, models, experiment)) => out.strategies.push(PlannedStrategy {
                config,
                generation: s.metadata.generation.unwrap_or(1).max(0) as u64,
                models,
                experiment,
            }),
            Err(r) => out.refused.push((s.name_any(), r)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_secrets_come_from_variables_named_after_the_secret_key() {
        let r = polyfleet_crds::refs::SecretKeyRef { name: "desk-slack".into(), key: "webhook.url".into() };
        assert_eq!(local_secret_var(&r), "DESK_SLACK_WEBHOOK_URL");
    }

    fn load_text(name: &str, text: &str) -> Result<Resources, LocalError> {
        let dir = std::env::temp_dir().join(format!("polyfleet-local-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policy.yaml"), text).unwrap();
        let out = Resources::load(&dir, "default");
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    const POLICY: &str = "kind: RiskPolicy\nmetadata:\n  name: p\nspec:\n  maxGrossExposureMicros: 1000000\n";

    #[test]
    fn a_polyfleet_kind_under_another_group_is_refused_naming_the_file() {
        let err = load_text("group", &format!("apiVersion: polyfleet.io/v1alpha1\n{POLICY}")).unwrap_err().to_string();
        assert!(err.contains("policy.yaml") && err.contains("RiskPolicy p"), "{err}");
        assert!(err.contains("\"polyfleet.io/v1alpha1\" is not polyfleet's API"), "{err}");
        let err = load_text("version", &format!("apiVersion: polyfleet.dev/v1\n{POLICY}")).unwrap_err().to_string();
        assert!(err.contains("serves only polyfleet.dev/v1alpha1"), "{err}");
        let err = load_text("kind", "apiVersion: polyfleet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: f\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no kind \"Fleet\""), "{err}");
    }

    #[test]
    fn other_apis_objects_are_skipped_and_ours_load() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: trading\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n";
        let res = load_text("foreign", text).unwrap();
        assert!(res.policies.is_empty() && res.venues.is_empty());
        assert_eq!(refuse_api("apps/v1", "Deployment"), None);
        assert_eq!(refuse_api(API_VERSION, "Strategy"), None);
    }
}

#[cfg(test)]
mod update_tests {
    use super::*;

    fn invalid(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/invalid").join(name)
    }

    #[test]
    fn the_immutability_examples_are_refused_as_updates_for_their_own_rule() {
        for (file, rule) in [
            ("strategy-venue-immutable.yaml", "venueRef is immutable"),
            ("market-condition-id-immutable.yaml", "immutable"),
        ] {
            let err = Resources::load(&invalid(file), "default").unwrap_err().to_string();
            assert!(err.contains("as an update of the document before it") && err.contains(rule), "{file}: {err}");
        }
    }

    #[test]
    fn a_later_document_of_the_same_object_replaces_it() {
        let dir = std::env::temp_dir().join(format!("polyfleet-local-update-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples");
        let policy = std::fs::read_to_string(examples.join("riskpolicy.yaml")).unwrap();
        let edited = policy.replace("killSwitch: \"off\"", "killSwitch: halt");
        assert_ne!(policy, edited, "the example names killSwitch");
        std::fs::write(dir.join("policy.yaml"), format!("{policy}\n---\n{edited}")).unwrap();
        let res = Resources::load(&dir, "default").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(res.policies.len(), 1);
        assert_eq!(res.policies[0].spec.kill_switch, polyfleet_crds::risk_policy::RiskMode::Halt);
    }
}

//! A Strategy's agent: its ConfigMap (the strategy configuration the agent reads), its Deployment
//! (zero replicas when suspended), and the parameter document for the KV bucket. Parameters are
//! left out of the pod template's checksum: a parameter change rewrites the ConfigMap and the KV
//! entry, never the pod.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;
use polyfleet_core::analytics::experiment::{Experiment, Interleave};
use polyfleet_core::config::{
    ParamsDoc, QuotedConfig, RiskCaps, SetConfig, StrategyConfig, StrategyParams, StrategyType as CoreType,
};
use polyfleet_core::strategy::arbitrage::SetKind;
use polyfleet_core::wire::subjects;
use polyfleet_crds::strategy::{MarketSelection, StrategyType};
use polyfleet_crds::venue::ExecutionMode;
use polyfleet_crds::{RiskPolicy, Strategy, Venue};

use super::markets::MarketView;
use super::{checksum, child_name, namespace_of, owner_ref};
use crate::pods::{AgentSpec, CONFIG_DIR, Role, agent_deployment, labels, metrics_service};
use crate::settings::FleetSettings;

/// Why a Strategy cannot run; becomes its `Ready=False` condition reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// CamelCase reason.
    pub reason: &'static str,
    /// For humans.
    pub message: String,
}

/// What a Strategy needs.
#[derive(Debug, Clone)]
pub struct StrategyPlan {
    /// The configuration the agent reads.
    pub config_map: ConfigMap,
    /// The agent.
    pub deployment: Deployment,
    /// Its metrics Service.
    pub service: Service,
    /// KV key of the parameters.
    pub params_key: String,
    /// The parameter document `{generation, parameters}`.
    pub params_doc: ParamsDoc,
    /// Markets it trades, by name.
    pub markets: Vec<String>,
    /// The built-in model publishers its signal sources ask for.
    pub models: Vec<super::models::ModelPublisher>,
    /// Their Deployments and metrics Services.
    pub model_objects: Vec<(Deployment, Service)>,
    /// Its arm of an A/B experiment (its `markets` are the arm's half).
    pub experiment: Option<polyfleet_core::analytics::experiment::Experiment>,
}

/// Whether a Strategy's market selection takes the Market `name` with `labels`.
pub fn selects_market(selection: &MarketSelection, name: &str, labels: &BTreeMap<String, String>) -> bool {
    selection.names.iter().flatten().any(|n| n == name)
        || selection.selector.as_ref().is_some_and(|s| selects(s, labels))
}

/// True when `labels` satisfy `selector` (matchLabels and matchExpressions).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let by_expr = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    by_labels && by_expr
}

/// Plans `strategy`, given its Venue, RiskPolicy and the resolved Markets of its namespace.
pub fn plan_strategy(
    strategy: &Strategy,
    venue: Option<&Venue>,
    policy: Option<&RiskPolicy>,
    markets: &[MarketView],
    settings: &FleetSettings,
) -> Result<StrategyPlan, Refusal> {
    let spec = &strategy.spec;
    let name = strategy.name_any();
    let ns = namespace_of(strategy);
    let venue = venue.ok_or_else(|| Refusal {
        reason: "VenueNotFound",
        message: format!("Venue {} does not exist in {ns}", spec.venue_ref.name),
    })?;
    let policy = policy.ok_or_else(|| Refusal {
        reason: "RiskPolicyNotFound",
        message: format!("RiskPolicy {} does not exist in {ns}", spec.risk_policy_ref.name),
    })?;
    if spec.mode == ExecutionMode::Live {
        let ack = venue.spec.live_trading.as_ref().is_some_and(|l| l.acknowledged);
        if !ack || venue.spec.credentials_secret_ref.is_none() {
            return Err(Refusal {
                reason: "LiveTradingNotAcknowledged",
                message: format!(
                    "mode live needs Venue {} to set liveTrading.acknowledged: true and credentialsSecretRef",
                    venue.name_any()
                ),
            });
        }
    }
    let invalid =
        |e: polyfleet_core::strategy::ParamsError| Refusal { reason: "InvalidParameters", message: e.to_string() };
    let (type_, parameters) = match (spec.type_, &spec.arbitrage, &spec.market_making, &spec.directional) {
        (StrategyType::Arbitrage, Some(p), _, _) => crate::contract::arbitrage_params(p).map_err(invalid)?,
        (StrategyType::MarketMaking, _, Some(p), _) => {
            (CoreType::MarketMaking, StrategyParams::MarketMaking(crate::contract::market_making(p).map_err(invalid)?))
        }
        (StrategyType::Directional, _, _, Some(p)) => {
            (CoreType::Directional, StrategyParams::Directional(crate::contract::directional(p).map_err(invalid)?))
        }
        (t, _, _, _) => {
            // The schema's rule (the block named by spec.type is set) makes this unreachable for
            // objects the API server admitted.
            return Err(Refusal {
                reason: "InvalidParameters",
                message: format!("spec.type {t:?} without its parameter block"),
            });
        }
    };
    let drift = spec.drift.as_ref().map(crate::contract::drift).transpose().map_err(invalid)?;
    let experiment = spec
        .experiment
        .as_ref()
        .map(crate::contract::experiment)
        .transpose()
        .map_err(|e| Refusal { reason: "InvalidParameters", message: e.to_string() })?;
    let mut chosen: Vec<&MarketView> = markets
        .iter()
        .filter(|m| m.venue == venue.name_any())
        .filter(|m| selects_market(&spec.markets, &m.name, &m.labels))
        .collect();
    if chosen.is_empty() {
        return Err(Refusal { reason: "NoMarkets", message: "no resolved Market matches spec.markets".into() });
    }
    // An arm interleaved by Market trades its half of the Markets (the other arm, the other
    // half); one interleaved by time slot trades them all, in its turns.
    if let Some(e) = experiment.as_ref().filter(|e| e.interleave == Interleave::Market) {
        let names: Vec<&str> = chosen.iter().map(|m| m.name.as_str()).collect();
        let mine: Vec<String> = polyfleet_core::analytics::experiment::split(&e.name, e.arm, &names)
            .into_iter()
            .map(String::from)
            .collect();
        chosen.retain(|m| mine.contains(&m.name));
        if chosen.is_empty() {
            return Err(Refusal {
                reason: "NoMarkets",
                message: format!(
                    "experiment {}: its {} selected Market(s) all go to the other arm; select at least two",
                    e.name,
                    names.len()
                ),
            });
        }
    }
    let models = match &spec.directional {
        Some(d) if spec.type_ == StrategyType::Directional => super::models::publishers(&name, &d.signals, &chosen)?,
        _ => vec![],
    };
    let p = &policy.spec;
    let group_labels: Vec<String> = p.group_limits.iter().map(|g| g.label.clone()).collect();
    // A market maker quotes binary Markets (YES and NO) and a directional strategy trades
    // them; arbitrage trades complete sets.
    let quoting = matches!(type_, CoreType::MarketMaking | CoreType::Directional);
    // A directional strategy trades a series' rounds as they come, from the document the Market
    // controller writes; its other Markets are fixed.
    let live = |m: &MarketView| m.live_rounds && type_ == CoreType::Directional;
    let series: Vec<String> =
        chosen.iter().filter(|m| live(m)).map(|m| polyfleet_core::wire::subjects::rounds_key(&ns, &m.name)).collect();
    let quoted: Vec<QuotedConfig> = chosen
        .iter()
        .filter(|m| quoting && !live(m) && !m.neg_risk_event && m.tokens.len() == 2)
        .filter_map(|m| {
            let mut legs = m.token_configs(&group_labels).into_iter();
            Some(QuotedConfig { yes: legs.next()?, no: legs.next()?, end_ms: m.end_ms })
        })
        .collect();
    if quoting && quoted.is_empty() && series.is_empty() {
        return Err(Refusal {
            reason: "NoMarkets",
            message: format!("a {:?} Strategy trades binary Markets; none of spec.markets is one", spec.type_),
        });
    }
    // A neg-risk event is two sets: the YES of every outcome, and the basket of their NOs (when
    // the venue named them and the adapter's conversion fee is known), which converts into n − 1
    // USDC less that fee.
    let sets = chosen
        .iter()
        .filter(|_| !quoting)
        .filter(|m| m.neg_risk_event || m.tokens.len() == 2)
        .flat_map(|m| {
            let yes = SetConfig {
                kind: if m.neg_risk_event { SetKind::NegRisk } else { SetKind::Binary },
                legs: m.token_configs(&group_labels),
                convert_fee_bips: 0,
            };
            let no = m.no_token_configs(&group_labels);
            // Priced at the fee the Market controller read from the chain; a live conversion
            // checks the adapter's `getFeeBips` again and refuses a mismatch unsent.
            let basket = m.convert_fee_bips.filter(|_| m.neg_risk_event && no.len() >= 2).map(|fee| SetConfig {
                kind: SetKind::NoBasket,
                legs: no,
                convert_fee_bips: fee,
            });
            std::iter::once(yes).chain(basket)
        })
        .collect();
    let config = StrategyConfig {
        namespace: ns.clone(),
        name: name.clone(),
        risk_policy: policy.name_any(),
        venue: venue.name_any(),
        mode: crate::contract::mode(spec.mode),
        type_,
        risk_caps: RiskCaps {
            max_order_size_micros: p.max_order_size_micros.max(0) as u64,
            max_order_notional_micros: p.effective_limits().max_order_notional_micros,
            max_gross_exposure_micros: p.effective_limits().max_gross_exposure_micros,
            capital_micros: p.capital_micros.unwrap_or(0).max(0),
            kelly_budget_micros: p.effective_limits().kelly_budget_micros,
        },
        sets,
        tokens: vec![],
        quoted,
        series,
        parameters,
        drift,
        time_slots: experiment.as_ref().and_then(Experiment::schedule),
        shadow_of: spec.shadow_of.clone(),
    };
    let unwritable = |e: serde_json::Error| Refusal { reason: "InvalidConfiguration", message: e.to_string() };
    let json = serde_json::to_string_pretty(&config).map_err(unwritable)?;
    // The checksum that restarts the pod ignores the parameters (they change live).
    let mut restart_relevant = serde_json::to_value(&config).map_err(unwritable)?;
    if let Some(o) = restart_relevant.as_object_mut() {
        o.insert("parameters".into(), serde_json::Value::Null);
    }
    let restart_relevant = serde_json::to_vec(&restart_relevant).map_err(unwritable)?;
    let owner = owner_ref(strategy);
    let object = child_name("strategy", &name);
    let agent = AgentSpec {
        role: Role::Strategy,
        name: object.clone(),
        namespace: ns.clone(),
        args: vec!["--config".into(), format!("{CONFIG_DIR}/strategy.json")],
        env: super::venue::clock_env(venue),
        config: Some((object.clone(), checksum(&restart_relevant))),
        replicas: if spec.suspend { 0 } else { 1 },
        uses_redis: false,
        owner_labels: BTreeMap::from([("polyfleet.dev/strategy".to_string(), name.clone())]),
    };
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(object),
            namespace: Some(ns.clone()),
            labels: Some(labels(&agent)),
            owner_references: owner.clone().map(|o| vec![o]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("strategy.json".to_string(), json)])),
        ..Default::default()
    };
    let model_objects = super::models::objects(
        &models,
        &agent,
        &super::venue::endpoints(venue),
        &venue.name_any(),
        settings,
        owner.clone(),
    );
    Ok(StrategyPlan {
        model_objects,
        experiment,
        models,
        config_map,
        deployment: agent_deployment(settings, &agent, owner.clone()),
        service: metrics_service(settings, &agent, owner),
        params_key: subjects::params_key(&ns, &name),
        params_doc: ParamsDoc {
            generation: strategy.metadata.generation.unwrap_or(0).max(0) as u64,
            parameters: config.parameters.clone(),
        },
        markets: chosen.iter().map(|m| m.name.clone()).collect(),
    })
}

//! A directional Strategy's built-in model publishers: for every signal source that runs the
//! built-in crypto up/down model (`signals[].cryptoUpDown`), one `polyfleet-agent updown-model`
//! per series Market the Strategy selects, publishing under the source's model id on the
//! Strategy's Venue. The cluster runs each as a Deployment with a metrics Service, owned by the
//! Strategy; the local run (`polyfleet up`) runs the same [`ModelPublisher`] as a process.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use polyfleet_core::models::rounds::{DEFAULT_VALID_FOR_MS, Publishing};
use polyfleet_core::models::updown::UpDownSettings;
use polyfleet_crds::strategy::{CryptoUpDownModel, SignalSource};

use super::child_name;
use super::markets::MarketView;
use super::strategy::Refusal;
use crate::pods::{AgentSpec, Role, agent_deployment, metrics_service};
use crate::settings::FleetSettings;

/// One built-in model publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPublisher {
    /// Its object name (`model-<strategy>-<coin>-<period>[-<k>]`).
    pub name: String,
    /// The model id it publishes under.
    pub model: String,
    /// The series' coin (`btc`).
    pub coin: &'static str,
    /// The series' period (`15m`).
    pub period: &'static str,
    /// The model's settings.
    pub settings: CryptoUpDownModel,
}

impl ModelPublisher {
    /// The model's settings: the source's, the agent's defaults where it gives none.
    pub fn model_settings(&self) -> UpDownSettings {
        let d = UpDownSettings::default();
        let s = &self.settings;
        UpDownSettings {
            nu: s.degrees_of_freedom.map_or(d.nu, f64::from),
            half_life_s: s.volatility_half_life_seconds.map_or(d.half_life_s, f64::from),
            min_returns: s.min_returns.and_then(|v| u32::try_from(v).ok()).unwrap_or(d.min_returns),
            max_gap_ms: d.max_gap_ms,
        }
    }

    /// What its signals carry: the model id, the source's version (else the release's, as the
    /// agent defaults to) and validity.
    pub fn publishing(&self) -> Publishing {
        Publishing {
            model: self.model.clone(),
            model_version: self.settings.version.clone().unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
            valid_for_ms: self
                .settings
                .valid_for_ms
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(DEFAULT_VALID_FOR_MS),
        }
    }

    /// Its command-line arguments after the subcommand, for a Venue reached at `gamma` (REST) and
    /// `rtds` (the real-time data stream).
    pub fn args(&self, venue: &str, gamma: &str, rtds: &str) -> Vec<String> {
        let mut a: Vec<String> = [
            "--venue",
            venue,
            "--coin",
            self.coin,
            "--period",
            self.period,
            "--gamma-url",
            gamma,
            "--rtds-url",
            rtds,
            "--model",
            &self.model,
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let s = &self.settings;
        for (flag, value) in [
            ("--nu", s.degrees_of_freedom),
            ("--vol-half-life-s", s.volatility_half_life_seconds),
            ("--vol-min-returns", s.min_returns),
            ("--valid-for-ms", s.valid_for_ms),
        ] {
            if let Some(v) = value {
                a.extend([flag.to_string(), v.to_string()]);
            }
        }
        if let Some(v) = &s.version {
            a.extend(["--model-version".to_string(), v.clone()]);
        }
        a
    }
}

/// The publishers `signals` ask for over the `chosen` Markets of Strategy `strategy`; refused
/// when a built-in crypto source has no series Market to price.
pub fn publishers(
    strategy: &str,
    signals: &[SignalSource],
    chosen: &[&MarketView],
) -> Result<Vec<ModelPublisher>, Refusal> {
    let mut out = vec![];
    let series: Vec<(&'static str, &'static str)> = {
        let mut s: Vec<_> = chosen.iter().filter_map(|m| m.series).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    for (k, source) in signals.iter().enumerate() {
        let Some(settings) = &source.crypto_up_down else { continue };
        if series.is_empty() {
            return Err(Refusal {
                reason: "NoMarkets",
                message: format!(
                    "signals[{k}] runs the built-in crypto up/down model, which prices series Markets; spec.markets selects none"
                ),
            });
        }
        for (coin, period) in &series {
            // Two built-in sources on one series get apart names.
            let suffix = if k == 0 { String::new() } else { format!("-{k}") };
            out.push(ModelPublisher {
                name: child_name("model", &format!("{strategy}-{coin}-{period}{suffix}")),
                model: source.model.clone(),
                coin,
                period,
                settings: settings.clone(),
            });
        }
    }
    Ok(out)
}

/// The cluster objects of `publishers`: a Deployment and a metrics Service each, with the
/// namespace, replicas and owner labels of the Strategy's own agent `strategy_agent` (so stale
/// ones are found by `polyfleet.dev/strategy` and removed, and a suspended Strategy's stop too).
pub fn objects(
    publishers: &[ModelPublisher],
    strategy_agent: &AgentSpec,
    endpoints: &super::venue::VenueEndpoints,
    venue: &str,
    settings: &FleetSettings,
    owner: Option<OwnerReference>,
) -> Vec<(Deployment, Service)> {
    publishers
        .iter()
        .map(|p| {
            let agent = AgentSpec {
                name: p.name.clone(),
                namespace: strategy_agent.namespace.clone(),
                args: p.args(venue, &endpoints.gamma, &endpoints.rtds),
                replicas: strategy_agent.replicas,
                ..AgentSpec::plain(Role::UpDownModel, &strategy_agent.owner_labels)
            };
            (agent_deployment(settings, &agent, owner.clone()), metrics_service(settings, &agent, owner.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn view(name: &str, series: Option<(&'static str, &'static str)>) -> MarketView {
        MarketView {
            name: name.into(),
            neg_risk_event: false,
            tokens: vec![],
            min_size_micros: 5_000_000,
            fee_rate_bps: 0,
            maker_rebate_bps: 0,
            rewards: None,
            venue: "sim".into(),
            labels: BTreeMap::new(),
            end_ms: None,
            series,
        }
    }

    fn source(model: &str, builtin: bool) -> SignalSource {
        SignalSource {
            model: model.into(),
            crypto_up_down: builtin.then(|| CryptoUpDownModel {
                degrees_of_freedom: Some(5),
                valid_for_ms: Some(2000),
                version: Some("v2".into()),
                ..CryptoUpDownModel::default()
            }),
        }
    }

    #[test]
    fn one_publisher_per_series_and_built_in_source() {
        let (btc, eth, other) = (view("btc", Some(("btc", "15m"))), view("eth", Some(("eth", "5m"))), view("x", None));
        let chosen = [&btc, &eth, &other];
        let p = publishers("dir", &[source("mine", false), source("updown", true)], &chosen).unwrap();
        assert_eq!(
            p.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["model-dir-btc-15m-1", "model-dir-eth-5m-1"]
        );
        assert_eq!(
            p[0].args("sim", "http://g", "ws://r"),
            [
                "--venue",
                "sim",
                "--coin",
                "btc",
                "--period",
                "15m",
                "--gamma-url",
                "http://g",
                "--rtds-url",
                "ws://r",
                "--model",
                "updown",
                "--nu",
                "5",
                "--valid-for-ms",
                "2000",
                "--model-version",
                "v2"
            ]
        );
        // A user's own model needs nothing run.
        assert!(publishers("dir", &[source("mine", false)], &[&other]).unwrap().is_empty());
        // A built-in crypto model without a series Market is refused.
        let refused = publishers("dir", &[source("updown", true)], &[&other]).unwrap_err();
        assert_eq!(refused.reason, "NoMarkets");
    }
}

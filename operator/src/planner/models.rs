//! A directional Strategy's built-in model publishers:
//!
//! - for every signal source that runs the built-in crypto up/down model
//!   (`signals[].cryptoUpDown`), one `polyfleet-agent updown-model` per series Market the
//!   Strategy selects, reading the Venue's real-time data stream;
//! - for every source that runs the built-in sports model (`signals[].sportsOdds`), one
//!   `polyfleet-agent sports-model` pricing the Markets it lists (each one the Strategy selects,
//!   binary: its first outcome's token is YES) from the odds feed, its key from a Secret.
//!
//! Each publishes under the source's model id on the Strategy's Venue. The cluster runs each as
//! a Deployment with a metrics Service, owned by the Strategy; the local run (`polyfleet up`)
//! runs the same [`ModelPublisher`] as a process.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{EnvVar, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use polyfleet_core::models::odds::{Pick, PricedMarket};
use polyfleet_core::models::rounds::{DEFAULT_VALID_FOR_MS, Publishing};
use polyfleet_core::models::updown::UpDownSettings;
use polyfleet_crds::refs::SecretKeyRef;
use polyfleet_crds::strategy::{CryptoUpDownModel, DevigMethod, SignalSource, SportsOddsModel};

use super::child_name;
use super::markets::MarketView;
use super::strategy::Refusal;
use crate::pods::{AgentSpec, Role, agent_deployment, metrics_service, secret_env};
use crate::settings::{FleetSettings, SecretKey};

/// The sports model's default signal validity, ms.
pub const SPORTS_VALID_FOR_MS: i32 = 90_000;

/// The sports model's default feed interval, seconds.
pub const SPORTS_POLL_SECONDS: i32 = 30;

/// One built-in model publisher.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPublisher {
    /// Its object name (`model-<strategy>-<coin>-<period>[-<k>]`, `model-<strategy>-sports[-<k>]`).
    pub name: String,
    /// The model id it publishes under.
    pub model: String,
    /// Which model, with its settings.
    pub kind: PublisherKind,
}

/// The built-in models.
#[derive(Debug, Clone, PartialEq)]
pub enum PublisherKind {
    /// The crypto up/down model on one series.
    UpDown {
        /// The series' coin (`btc`).
        coin: &'static str,
        /// The series' period (`15m`).
        period: &'static str,
        /// The model's settings.
        settings: CryptoUpDownModel,
    },
    /// The sports model.
    Sports {
        /// The source's settings.
        settings: SportsOddsModel,
        /// The Markets it prices, with their tokens.
        markets: Vec<PricedMarket>,
    },
}

impl ModelPublisher {
    /// The agent role (and `polyfleet-agent` subcommand) that runs it.
    pub fn role(&self) -> Role {
        match self.kind {
            PublisherKind::UpDown { .. } => Role::UpDownModel,
            PublisherKind::Sports { .. } => Role::SportsModel,
        }
    }

    /// The crypto model's series and settings (the source's, the agent's defaults where it gives
    /// none), if it is the crypto model.
    pub fn up_down(&self) -> Option<(&'static str, &'static str, UpDownSettings)> {
        let PublisherKind::UpDown { coin, period, settings: s } = &self.kind else { return None };
        let d = UpDownSettings::default();
        Some((
            coin,
            period,
            UpDownSettings {
                nu: s.degrees_of_freedom.map_or(d.nu, f64::from),
                half_life_s: s.volatility_half_life_seconds.map_or(d.half_life_s, f64::from),
                min_returns: s.min_returns.and_then(|v| u32::try_from(v).ok()).unwrap_or(d.min_returns),
                max_gap_ms: d.max_gap_ms,
            },
        ))
    }

    /// What its signals carry: the model id, the source's version (else the release's, as the
    /// agent defaults to) and validity.
    pub fn publishing(&self) -> Publishing {
        let (version, valid_for_ms, default_valid) = match &self.kind {
            PublisherKind::UpDown { settings, .. } => (&settings.version, settings.valid_for_ms, DEFAULT_VALID_FOR_MS),
            PublisherKind::Sports { settings, .. } => {
                (&settings.version, settings.valid_for_ms, u64::from(SPORTS_VALID_FOR_MS.unsigned_abs()))
            }
        };
        Publishing {
            model: self.model.clone(),
            model_version: version.clone().unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
            valid_for_ms: valid_for_ms.and_then(|v| u64::try_from(v).ok()).unwrap_or(default_valid),
        }
    }

    /// The Secret key of the odds feed's key, if it has one.
    pub fn key_secret(&self) -> Option<&SecretKeyRef> {
        match &self.kind {
            PublisherKind::Sports { settings, .. } => settings.api_key_secret_ref.as_ref(),
            PublisherKind::UpDown { .. } => None,
        }
    }

    /// Its command-line arguments after the subcommand, for a Venue reached at `gamma` (REST) and
    /// `rtds` (the real-time data stream).
    pub fn args(&self, venue: &str, gamma: &str, rtds: &str) -> Vec<String> {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<String>>();
        let (mut a, options, version) = match &self.kind {
            PublisherKind::UpDown { coin, period, settings: s } => (
                owned(&[
                    "--venue",
                    venue,
                    "--coin",
                    coin,
                    "--period",
                    period,
                    "--gamma-url",
                    gamma,
                    "--rtds-url",
                    rtds,
                ]),
                vec![
                    ("--nu", s.degrees_of_freedom),
                    ("--vol-half-life-s", s.volatility_half_life_seconds),
                    ("--vol-min-returns", s.min_returns),
                    ("--valid-for-ms", s.valid_for_ms),
                ],
                &s.version,
            ),
            PublisherKind::Sports { settings: s, markets } => {
                let devig = match s.devig.unwrap_or(DevigMethod::Shin) {
                    DevigMethod::Shin => "shin",
                    DevigMethod::Multiplicative => "multiplicative",
                };
                let poll_ms = i64::from(s.poll_seconds.unwrap_or(SPORTS_POLL_SECONDS)) * 1000;
                let json = serde_json::to_string(markets).unwrap_or_default();
                let mut a = owned(&["--venue", venue, "--odds-url", &s.url, "--markets-json", &json]);
                a.extend(owned(&["--poll-ms", &poll_ms.to_string(), "--devig", devig]));
                for b in &s.books {
                    a.extend(["--book".to_string(), format!("{}={}", b.key, b.weight)]);
                }
                (a, vec![("--valid-for-ms", s.valid_for_ms)], &s.version)
            }
        };
        a.extend(["--model".to_string(), self.model.clone()]);
        for (flag, value) in options {
            if let Some(v) = value {
                a.extend([flag.to_string(), v.to_string()]);
            }
        }
        if let Some(v) = version {
            a.extend(["--model-version".to_string(), v.clone()]);
        }
        a
    }
}

/// The publishers `signals` ask for over the `chosen` Markets of Strategy `strategy`; refused
/// when a built-in crypto source has no series Market to price, or a sports source names a
/// Market the Strategy does not select or one that is not binary.
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
        // Two built-in sources get apart names.
        let suffix = if k == 0 { String::new() } else { format!("-{k}") };
        if let Some(settings) = &source.sports_odds {
            out.push(ModelPublisher {
                name: child_name("model", &format!("{strategy}-sports{suffix}")),
                model: source.model.clone(),
                kind: PublisherKind::Sports { settings: settings.clone(), markets: priced(k, settings, chosen)? },
            });
        }
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
            out.push(ModelPublisher {
                name: child_name("model", &format!("{strategy}-{coin}-{period}{suffix}")),
                model: source.model.clone(),
                kind: PublisherKind::UpDown { coin, period, settings: settings.clone() },
            });
        }
    }
    Ok(out)
}

/// The Markets sports source `k` prices, with their tokens.
fn priced(k: usize, s: &SportsOddsModel, chosen: &[&MarketView]) -> Result<Vec<PricedMarket>, Refusal> {
    let refuse = |message: String| Refusal { reason: "NoMarkets", message };
    s.markets
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let view = chosen.iter().find(|v| v.name == m.market).ok_or_else(|| {
                refuse(format!(
                    "signals[{k}].sportsOdds.markets[{j}]: Market {} is not one spec.markets selects",
                    m.market
                ))
            })?;
            let [(_, yes), (_, no)] = view.tokens.as_slice() else {
                return Err(refuse(format!(
                    "signals[{k}].sportsOdds.markets[{j}]: Market {} is not binary ({} tokens)",
                    m.market,
                    view.tokens.len()
                )));
            };
            let pick = match (&m.outcome, &m.total) {
                (Some(o), None) => Pick::Outcome(o.clone()),
                (None, Some(t)) => Pick::Total {
                    over: t.over,
                    line: t.line.parse().map_err(|_| refuse(format!("total line {:?} is not a number", t.line)))?,
                },
                // The schema's rule (exactly one) makes this unreachable for admitted objects.
                _ => {
                    return Err(refuse(format!("signals[{k}].sportsOdds.markets[{j}] needs one of outcome and total")));
                }
            };
            Ok(PricedMarket { yes_token: *yes, no_token: *no, event: m.event.clone(), pick })
        })
        .collect()
}

/// The cluster objects of `publishers`: a Deployment and a metrics Service each, with the
/// namespace, replicas and owner labels of the Strategy's own agent `strategy_agent` (so stale
/// ones are found by `polyfleet.dev/strategy` and removed, and a suspended Strategy's stop too).
/// A sports feed's key reaches its pod from the Secret, as `POLYFLEET_ODDS_API_KEY`
/// ([`polyfleet_core::models::odds::KEY_VAR`]).
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
            let env: Vec<EnvVar> = p
                .key_secret()
                .map(|r| {
                    secret_env(
                        polyfleet_core::models::odds::KEY_VAR,
                        &SecretKey { name: r.name.clone(), key: r.key.clone() },
                    )
                })
                .into_iter()
                // The Venue's clock, as the strategy agent reads it.
                .chain(strategy_agent.env.iter().filter(|e| e.name == polyfleet_core::clock::ENV).cloned())
                .collect();
            let agent = AgentSpec {
                name: p.name.clone(),
                namespace: strategy_agent.namespace.clone(),
                args: p.args(venue, &endpoints.gamma, &endpoints.rtds),
                env,
                replicas: strategy_agent.replicas,
                ..AgentSpec::plain(p.role(), &strategy_agent.owner_labels)
            };
            (agent_deployment(settings, &agent, owner.clone()), metrics_service(settings, &agent, owner.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use polyfleet_core::TokenId;
    use polyfleet_crds::strategy::{BookWeight, SportsMarketPick, TotalLine};

    use super::*;

    fn view(name: &str, series: Option<(&'static str, &'static str)>) -> MarketView {
        MarketView {
            name: name.into(),
            neg_risk_event: false,
            tokens: vec![],
            no_tokens: vec![],
            convert_fee_bips: None,
            min_size_micros: 5_000_000,
            fee_rate_bps: 0,
            maker_rebate_bps: 0,
            rewards: None,
            venue: "sim".into(),
            labels: BTreeMap::new(),
            end_ms: None,
            series,
            live_rounds: series.is_some(),
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
            sports_odds: None,
        }
    }

    fn binary(name: &str, yes: u128, no: u128) -> MarketView {
        MarketView {
            tokens: vec![("Yes".into(), TokenId::from_u128(yes)), ("No".into(), TokenId::from_u128(no))],
            ..view(name, None)
        }
    }

    fn sports(markets: Vec<SportsMarketPick>) -> SignalSource {
        SignalSource {
            model: "epl".into(),
            crypto_up_down: None,
            sports_odds: Some(SportsOddsModel {
                url: "https://odds.example/v4/sports/soccer_epl/odds".into(),
                api_key_secret_ref: Some(SecretKeyRef { name: "odds".into(), key: "apiKey".into() }),
                poll_seconds: Some(20),
                devig: Some(DevigMethod::Multiplicative),
                books: vec![
                    BookWeight { key: "pinnacle".into(), weight: 3 },
                    BookWeight { key: "betfair_ex_eu".into(), weight: 1 },
                ],
                valid_for_ms: None,
                version: Some("s1".into()),
                markets,
            }),
        }
    }

    fn pick(market: &str, outcome: Option<&str>, total: Option<(bool, &str)>) -> SportsMarketPick {
        SportsMarketPick {
            market: market.into(),
            event: "e1".into(),
            outcome: outcome.map(Into::into),
            total: total.map(|(over, line)| TotalLine { over, line: line.into() }),
        }
    }

    #[test]
    fn a_sports_source_prices_the_selected_binary_markets_with_its_key_from_the_secret() {
        let (win, goals, three) = (binary("ars-win", 1, 2), binary("ars-goals", 3, 4), view("three", None));
        let three = MarketView { tokens: (5..8).map(|t| (format!("o{t}"), TokenId::from_u128(t))).collect(), ..three };
        let chosen = [&win, &goals, &three];
        let odds = sports(vec![pick("ars-win", Some("Arsenal"), None), pick("ars-goals", None, Some((false, "2.5")))]);
        let p = publishers("dir", &[source("mine", false), odds], &chosen).unwrap();
        let [m] = p.as_slice() else { panic!("{p:?}") };
        assert_eq!((m.name.as_str(), m.role()), ("model-dir-sports-1", Role::SportsModel));
        let PublisherKind::Sports { markets, .. } = &m.kind else { panic!("{m:?}") };
        assert_eq!(markets[1].pick, Pick::Total { over: false, line: 2.5 });
        assert_eq!((markets[0].yes_token, markets[0].no_token), (TokenId::from_u128(1), TokenId::from_u128(2)));
        let json = serde_json::to_string(markets).unwrap();
        assert_eq!(
            m.args("sim", "http://g", "ws://r"),
            [
                "--venue",
                "sim",
                "--odds-url",
                "https://odds.example/v4/sports/soccer_epl/odds",
                "--markets-json",
                &json,
                "--poll-ms",
                "20000",
                "--devig",
                "multiplicative",
                "--book",
                "pinnacle=3",
                "--book",
                "betfair_ex_eu=1",
                "--model",
                "epl",
                "--model-version",
                "s1"
            ]
        );
        assert_eq!(m.publishing().valid_for_ms, 90_000);
        // The key: from the Secret, never in the arguments.
        let agent = AgentSpec { namespace: "ns".into(), ..AgentSpec::plain(Role::Strategy, &BTreeMap::new()) };
        let endpoints = crate::planner::venue::VenueEndpoints {
            market_ws: "ws://m".into(),
            clob: "http://c".into(),
            gamma: "http://g".into(),
            user_ws: "ws://u".into(),
            polygon_rpc: None,
            rtds: "ws://r".into(),
            relayer: "http://relayer".into(),
        };
        let [(d, _)] = objects(&p, &agent, &endpoints, "sim", &FleetSettings::default(), None).try_into().unwrap();
        let c = &d.spec.unwrap().template.spec.unwrap().containers[0];
        let key = c.env.as_ref().unwrap().iter().find(|e| e.name == "POLYFLEET_ODDS_API_KEY").unwrap();
        let from = key.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
        assert_eq!((from.name.as_str(), from.key.as_str()), ("odds", "apiKey"));
        assert_eq!(c.args.as_ref().unwrap()[0], "sports-model");
        // A Market the Strategy does not select, or one that is not binary, is refused.
        let other = sports(vec![pick("not-chosen", Some("Arsenal"), None)]);
        assert_eq!(publishers("dir", &[other], &chosen).unwrap_err().reason, "NoMarkets");
        let not_binary = sports(vec![pick("three", Some("Arsenal"), None)]);
        let refused = publishers("dir", &[not_binary], &chosen).unwrap_err();
        assert!(refused.message.contains("not binary (3 tokens)"), "{refused:?}");
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

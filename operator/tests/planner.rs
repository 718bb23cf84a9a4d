//! The desired-state planner on the shipped examples: sharding and rebalancing, the agents' pod
//! specs, the strategy configuration the agent itself parses, parameter-only changes that leave
//! the pod alone, suspend, refusals (live without acknowledgement, missing references,
//! unimplemented types, no markets) and RiskPolicy limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::mockapi;

use k8s_openapi::api::apps::v1::Deployment;
use polyfleet_core::analytics::sequential::Arm;
use polyfleet_core::config::StrategyConfig;
use polyfleet_core::strategy::arbitrage::SetKind;
use polyfleet_crds::market::TokenStatus;
use polyfleet_crds::venue::{ExecutionMode, LiveTrading};
use polyfleet_crds::{Market, MarketStatus, RiskPolicy, Strategy, Venue};
use polyfleet_operator::planner::markets::MarketView;
use polyfleet_operator::planner::risk::{gateway, limits};
use polyfleet_operator::planner::shards::assign;
use polyfleet_operator::planner::strategy::plan_strategy;
use polyfleet_operator::planner::venue::plan_venue;
use polyfleet_operator::settings::FleetSettings;

use mockapi::example;

/// The two example Markets, resolved (the binary one gets its tokens in status, as the Market
/// controller would write them).
fn markets() -> Vec<MarketView> {
    let mut binary: Market = example("market-binary.yaml");
    let cond = binary.spec.condition_id.clone().unwrap();
    binary.status = Some(MarketStatus {
        tokens: ["Yes", "No"]
            .iter()
            .zip(["11", "12"])
            .map(|(o, t)| TokenStatus {
                outcome: o.to_string(),
                token_id: t.to_string(),
                condition_id: Some(cond.clone()),
                no_token_id: None,
                best_bid: None,
                best_ask: None,
            })
            .collect(),
        min_order_size: Some("5".into()),
        end_date: Some("2026-12-10T19:00:00Z".into()),
        ..Default::default()
    });
    // The event's conversion fee, as the Market controller reads it from the chain.
    let mut negrisk: Market = example("market-negrisk-event.yaml");
    negrisk.status = Some(MarketStatus { convert_fee_bips: Some(25), ..Default::default() });
    vec![MarketView::of(&binary).unwrap(), MarketView::of(&negrisk).unwrap()]
}

fn pod_spec(d: &Deployment) -> &k8s_openapi::api::core::v1::PodSpec {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn assert_hardened(d: &Deployment) {
    let pod = pod_spec(d);
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.as_ref().unwrap().drop.as_deref(), Some(&["ALL".to_string()][..]));
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    assert!(c.liveness_probe.is_some() && c.readiness_probe.is_some());
    let r = c.resources.as_ref().unwrap();
    assert!(r.requests.is_some() && r.limits.is_some());
    let ann = d.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().annotations.as_ref().unwrap();
    // Every agent is scraped; the simulator has no metrics endpoint.
    let scraped = c.args.as_ref().unwrap()[0] != "venue-sim";
    assert_eq!(ann.get("prometheus.io/scrape").map(String::as_str), Some(if scraped { "true" } else { "false" }));
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(d.metadata.owner_references.as_ref().map(|o| o.len()), Some(1), "owned: garbage-collected");
}

#[test]
fn venue_gets_a_market_data_pod_per_shard_and_an_execution_agent() {
    let venue: Venue = example("venue-simulator.yaml");
    let (binary, event): (Market, Market) = (example("market-binary.yaml"), example("market-negrisk-event.yaml"));
    let plan = plan_venue(&venue, &markets(), &[&event, &binary], &FleetSettings::default()).unwrap();
    // 400 tokens per pod: all eight in one shard (the event's YES and NO, the binary market's
    // two), the market's tokens together.
    assert_eq!(plan.shards.len(), 1);
    assert_eq!(plan.shards[0].markets, vec!["election-winner", "fed-cut-december"]);
    // A simulator Venue runs its simulator first, and its agents use the simulator's Service.
    assert_eq!(plan.deployments.len(), 3);
    assert_eq!(plan.services.len(), 3);
    for d in &plan.deployments {
        assert_hardened(d);
    }
    let sim = pod_spec(&plan.deployments[0]).containers[0].clone();
    assert_eq!(sim.command.as_deref(), Some(&["/usr/local/bin/polyfleet".to_string()][..]));
    let sim_args = sim.args.clone().unwrap();
    assert_eq!(sim_args[0], "venue-sim");
    // The simulator serves the Venue's Markets as declared, from its ConfigMap (as `polyfleet up`).
    assert!(sim_args.windows(2).any(|w| w == ["--filename", "/etc/polyfleet/resources.yaml"]));
    let resources = &plan.config_maps[0].data.as_ref().unwrap()["resources.yaml"];
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(resources).unwrap();
    let names: Vec<(&str, &str)> =
        docs.iter().map(|d| (d["kind"].as_str().unwrap(), d["metadata"]["name"].as_str().unwrap())).collect();
    assert_eq!(names, [("Venue", "sim"), ("Market", "election-winner"), ("Market", "fed-cut-december")]);
    assert_eq!(docs[0]["spec"]["simulator"]["seed"], 42);
    for d in &docs {
        polyfleet_crds::validate::validate(d, None).unwrap();
    }
    assert!(sim.readiness_probe.unwrap().tcp_socket.is_some(), "the simulator has no /readyz; its port is probed");
    let md = &plan.deployments[1];
    let args = pod_spec(md).containers[0].args.clone().unwrap();
    assert_eq!(args[0], "market-data");
    // The shard's tokens come from its ConfigMap (one per line), mounted where the flag says.
    assert!(args.windows(2).any(|w| w == ["--tokens-file", "/etc/polyfleet/tokens.txt"]), "{args:?}");
    let md_name = md.metadata.name.as_deref().unwrap();
    let file_of = |name: &str, key: &str| -> String {
        let cm = plan.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some(name)).unwrap();
        cm.data.as_ref().unwrap()[key].clone()
    };
    assert_eq!(file_of(md_name, "tokens.txt").lines().count(), 8);
    assert!(args.windows(2).any(|w| w == ["--ws-url", "ws://sim-sim.trading.svc:8765/ws/market"]));
    let exec = &plan.deployments[2];
    assert_eq!(pod_spec(exec).containers[0].args.as_ref().unwrap()[0], "execution");
    let env = pod_spec(exec).containers[0].env.clone().unwrap();
    assert!(env.iter().any(|e| e.name == "POLYFLEET_REDIS_URL"), "execution reaches Redis");
    let md_env = pod_spec(md).containers[0].env.clone().unwrap();
    assert!(!md_env.iter().any(|e| e.name == "POLYFLEET_REDIS_URL"), "market data does not");
    let markets_json = &file_of(exec.metadata.name.as_deref().unwrap(), "markets.json");
    let parsed: Vec<polyfleet_core::config::TokenConfig> = serde_json::from_str(markets_json).unwrap();
    assert_eq!(parsed.len(), 5);
}

#[test]
fn the_execution_agent_gets_credentials_only_as_secret_references_and_live_only_when_acknowledged() {
    let mut venue: Venue = example("venue-simulator.yaml");
    let exec_of = |v: &Venue| {
        let plan = plan_venue(v, &markets(), &[], &FleetSettings::default()).unwrap();
        pod_spec(plan.deployments.last().unwrap()).containers[0].clone()
    };
    let c = exec_of(&venue);
    let args = c.args.clone().unwrap();
    assert!(args.windows(2).any(|w| w == ["--clob-url", "http://sim-sim.trading.svc:8765"]));
    assert!(args.windows(2).any(|w| w == ["--user-ws-url", "ws://sim-sim.trading.svc:8765/ws/user"]));
    assert!(args.windows(2).any(|w| w == ["--orders-per-second", "40"]));
    assert!(
        args.windows(2).any(|w| w == ["--polygon-rpc", "http://sim-sim.trading.svc:8765/rpc"]),
        "a simulator Venue's conditional-token operations go to the simulator's chain"
    );
    assert!(args.windows(2).any(|w| w == ["--relayer-url", "http://sim-sim.trading.svc:8765/relayer"]));
    assert!(!args.contains(&"--live-acknowledged".to_string()), "no acknowledgement, no live orders");
    assert!(!c.env.unwrap().iter().any(|e| e.name.starts_with("POLYMARKET_")), "no Secret, no credentials");

    venue.spec.credentials_secret_ref = Some(polyfleet_crds::refs::SecretRef { name: "poly-creds".into() });
    venue.spec.live_trading = Some(LiveTrading {
        acknowledged: false,
        signature_type: polyfleet_crds::venue::SignatureType::Poly1271,
        funder_address: Some("0x70997970c51812dc3a010c7d01b50e0d17dc79c8".into()),
    });
    let c = exec_of(&venue);
    assert!(
        !c.args.unwrap().contains(&"--live-acknowledged".to_string()),
        "credentials alone are not an acknowledgement"
    );
    let env = c.env.unwrap();
    for (key, var) in [
        ("privateKey", "POLYMARKET_PRIVATE_KEY"),
        ("apiSecret", "POLYMARKET_API_SECRET"),
        ("apiPassphrase", "POLYMARKET_API_PASSPHRASE"),
        ("polygonRpcUrl", "POLYGON_RPC_URL"),
        ("relayerApiKey", "POLYMARKET_RELAYER_API_KEY"),
    ] {
        let e = env.iter().find(|e| e.name == var).unwrap_or_else(|| panic!("{var}"));
        assert!(e.value.is_none(), "{var} is a reference, never a value");
        let r = e.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
        assert_eq!((r.name.as_str(), r.key.as_str()), ("poly-creds", key));
    }
    let plain = |name: &str| env.iter().find(|e| e.name == name).and_then(|e| e.value.clone());
    assert_eq!(plain("POLYMARKET_SIGNATURE_TYPE").as_deref(), Some("3"));
    assert_eq!(plain("POLYMARKET_FUNDER").as_deref(), Some("0x70997970c51812dc3a010c7d01b50e0d17dc79c8"));

    venue.spec.live_trading.as_mut().unwrap().acknowledged = true;
    assert!(exec_of(&venue).args.unwrap().contains(&"--live-acknowledged".to_string()));

    // The spec's RPC URL replaces the default.
    venue.spec.endpoints.get_or_insert_default().polygon_rpc = Some("https://polygon.example/rpc".into());
    let args = exec_of(&venue).args.unwrap();
    assert!(args.windows(2).any(|w| w == ["--polygon-rpc", "https://polygon.example/rpc"]));
    // The relayer: the simulator's by default (above), the spec's when set.
    venue.spec.endpoints.get_or_insert_default().relayer = Some("https://relayer.example".into());
    let args = exec_of(&venue).args.unwrap();
    assert!(args.windows(2).any(|w| w == ["--relayer-url", "https://relayer.example"]), "{args:?}");
}

#[test]
fn a_whole_venue_shards_into_pods_that_read_their_tokens_from_a_file() {
    // 10 000 binary markets with 78-digit token ids, 500 per connection, 10 connections a pod.
    let mut venue: Venue = example("venue-simulator.yaml");
    venue.spec.sharding.assets_per_connection = 500;
    venue.spec.sharding.connections_per_pod = 10;
    let template = markets().remove(0);
    let token =
        |i: u64, side: u64| polyfleet_core::TokenId::parse(&format!("1{}{i:08}{side}", "0".repeat(68))).unwrap();
    let views: Vec<MarketView> = (0..10_000u64)
        .map(|i| {
            let mut m = template.clone();
            m.name = format!("m-{i:05}");
            m.tokens = m.tokens.iter().zip([1, 2]).map(|((c, _), side)| (c.clone(), token(i, side))).collect();
            m
        })
        .collect();
    let plan = plan_venue(&venue, &views, &[], &FleetSettings::default()).unwrap();
    assert_eq!(plan.shards.len(), 4, "5 000 tokens a pod");
    let md: Vec<_> =
        plan.deployments.iter().filter(|d| d.metadata.name.as_deref().unwrap().starts_with("md-")).collect();
    assert_eq!(md.len(), 4);
    // No argument near Linux's 128 KiB cap on one argument: the tokens are in files.
    for d in &plan.deployments {
        let args = pod_spec(d).containers[0].args.clone().unwrap();
        assert!(args.iter().all(|a| a.len() < 4096), "{:?}", d.metadata.name);
    }
    let mut all = std::collections::HashSet::new();
    for d in md {
        let name = d.metadata.name.as_deref().unwrap();
        let cm = plan.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some(name)).unwrap();
        let text = &cm.data.as_ref().unwrap()["tokens.txt"];
        assert!(text.len() < 1 << 20, "a ConfigMap holds at most 1 MiB: {}", text.len());
        assert_eq!(text.lines().count(), 5_000);
        all.extend(text.lines().map(str::to_string));
    }
    assert_eq!(all.len(), 20_000, "every token served exactly once");
}

#[test]
fn shards_keep_markets_whole_and_rebalance_only_what_moves() {
    let m = |name: &str, n: usize| (name.to_string(), (0..n).map(|i| format!("{name}{i}")).collect::<Vec<_>>());
    let base = vec![m("a", 2), m("b", 2), m("c", 3), m("d", 1)];
    let shards = assign(&base, 4);
    assert!(shards.iter().all(|s| s.tokens.len() <= 4));
    assert_eq!(shards.iter().map(|s| s.markets.clone()).collect::<Vec<_>>(), vec![vec!["a", "b"], vec!["c", "d"]]);
    // A market with more tokens than a pod holds gets a pod of its own.
    let big = assign(&[m("huge", 7)], 4);
    assert_eq!((big.len(), big[0].tokens.len()), (1, 7));
    // "e" arriving fills a new shard; nothing else moves.
    let mut more = base.clone();
    more.push(m("e", 2));
    let after = assign(&more, 4);
    assert_eq!(&after[..2], &shards[..]);
    // "b" leaving: "c" still does not fit with "a" (2 + 3 > 4), "d" joins "a".
    let fewer: Vec<_> = base.iter().filter(|x| x.0 != "b").cloned().collect();
    let after = assign(&fewer, 4);
    assert_eq!(after.iter().map(|s| s.markets.clone()).collect::<Vec<_>>(), vec![vec!["a", "d"], vec!["c"]]);
    // Deterministic whatever the input order.
    let mut shuffled = base.clone();
    shuffled.reverse();
    assert_eq!(assign(&shuffled, 4), shards);
}

fn strategy_inputs() -> (Strategy, Venue, RiskPolicy) {
    (example("strategy-arbitrage.yaml"), example("venue-simulator.yaml"), example("riskpolicy.yaml"))
}

#[test]
fn strategy_config_is_what_the_agent_parses() {
    let (s, v, p) = strategy_inputs();
    let plan = plan_strategy(&s, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    // Selected by the label polyfleet.dev/arbitrage=true: only the neg-risk event.
    assert_eq!(plan.markets, vec!["election-winner"]);
    let json = &plan.config_map.data.as_ref().unwrap()["strategy.json"];
    let cfg = StrategyConfig::from_json(json).expect("the agent accepts the operator's configuration");
    // The event's YES set and the basket of its NOs, each outcome's NO in its market, the
    // basket priced at the adapter's fee the Market's status holds.
    let sets = cfg.arb_sets().unwrap();
    assert_eq!(
        sets.iter().map(|s| (s.kind, s.legs.len(), s.convert_fee_bips)).collect::<Vec<_>>(),
        [(SetKind::NegRisk, 3, 0), (SetKind::NoBasket, 3, 25)]
    );
    for (yes, no) in sets[0].legs.iter().zip(&sets[1].legs) {
        assert_eq!(yes.market, no.market);
        assert_ne!(yes.token, no.token);
    }
    // Each leg names its event's exposure group: the Market's value of the label the policy
    // groups by; a NO is its outcome's NO.
    let outcomes = cfg.outcomes().unwrap();
    assert_eq!(outcomes.len(), 6);
    for outcome in outcomes.values() {
        assert_eq!(outcome.groups, vec!["polyfleet.dev/category=politics".to_string()]);
    }
    for (yes, no) in sets[0].legs.iter().zip(&sets[1].legs) {
        let (y, n) = (&outcomes[&yes.token], &outcomes[&no.token]);
        assert_eq!((y.yes, n.yes, y.index, y.event.as_str()), (true, false, n.index, n.event.as_str()));
    }
    assert_eq!(cfg.caps().0.micros(), 200_000_000);
    // Until the fee is read, the basket is not traded: only the YES set is planned.
    let mut unknown = markets();
    unknown[1].convert_fee_bips = None;
    let plan = plan_strategy(&s, Some(&v), Some(&p), &unknown, &FleetSettings::default()).unwrap();
    let cfg = StrategyConfig::from_json(&plan.config_map.data.as_ref().unwrap()["strategy.json"]).unwrap();
    assert_eq!(cfg.arb_sets().unwrap().iter().map(|s| s.kind).collect::<Vec<_>>(), [SetKind::NegRisk]);
    // The strategy plans within the policy's gross exposure limit (500 USDC in the example).
    assert_eq!(cfg.capital().map(|m| m.micros()), Some(500_000_000));
    assert_eq!(plan.params_key, "trading.negrisk-arb");
    // The KV document's JSON: `{generation, parameters: <the spec's block>}`.
    let doc = serde_json::to_value(&plan.params_doc).unwrap();
    assert_eq!(doc["generation"], 3);
    assert_eq!(doc["parameters"]["minEdgeBps"], 50);
    assert_eq!(plan.deployment.spec.as_ref().unwrap().replicas, Some(1));
    assert_hardened(&plan.deployment);
}

#[test]
fn a_parameter_change_leaves_the_pod_template_alone() {
    let (s, v, p) = strategy_inputs();
    let before = plan_strategy(&s, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    let mut changed = s.clone();
    changed.spec.arbitrage.as_mut().unwrap().min_edge_bps = 75;
    changed.metadata.generation = Some(4);
    let after = plan_strategy(&changed, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    assert_eq!(before.deployment, after.deployment, "no restart for parameters");
    assert_ne!(before.config_map, after.config_map);
    let doc = serde_json::to_value(&after.params_doc).unwrap();
    assert_eq!(doc["generation"], 4);
    assert_eq!(doc["parameters"]["minEdgeBps"], 75);
    // A change of what it trades does restart it.
    let mut other = s.clone();
    other.spec.markets.names = Some(vec!["fed-cut-december".into()]);
    let moved = plan_strategy(&other, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    assert_ne!(before.deployment, moved.deployment);
}

#[test]
fn suspend_scales_to_zero_with_the_same_template() {
    let (s, v, p) = strategy_inputs();
    let running = plan_strategy(&s, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    let mut suspended = s.clone();
    suspended.spec.suspend = true;
    let plan = plan_strategy(&suspended, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    assert_eq!(plan.deployment.spec.as_ref().unwrap().replicas, Some(0));
    assert_eq!(plan.deployment.spec.as_ref().unwrap().template, running.deployment.spec.as_ref().unwrap().template);
}

#[test]
fn live_trading_is_refused_without_acknowledgement_and_credentials() {
    let (mut s, mut v, p) = strategy_inputs();
    s.spec.mode = ExecutionMode::Live;
    let r = plan_strategy(&s, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap_err();
    assert_eq!(r.reason, "LiveTradingNotAcknowledged");
    v.spec.live_trading = Some(LiveTrading { acknowledged: true, ..Default::default() });
    assert!(plan_strategy(&s, Some(&v), Some(&p), &markets(), &FleetSettings::default()).is_err());
    v.spec.credentials_secret_ref = Some(polyfleet_crds::refs::SecretRef { name: "poly-creds".into() });
    let plan = plan_strategy(&s, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    let cfg = StrategyConfig::from_json(&plan.config_map.data.as_ref().unwrap()["strategy.json"]).unwrap();
    assert_eq!(cfg.mode, polyfleet_core::wire::Mode::Live);
    // The credentials never enter the strategy's configuration or pod.
    let text = format!("{:?}{:?}", plan.config_map, plan.deployment);
    assert!(!text.contains("poly-creds"));
}

#[test]
fn missing_references_and_no_markets_are_refused() {
    let (s, v, p) = strategy_inputs();
    let settings = FleetSettings::default();
    assert_eq!(plan_strategy(&s, None, Some(&p), &markets(), &settings).unwrap_err().reason, "VenueNotFound");
    assert_eq!(plan_strategy(&s, Some(&v), None, &markets(), &settings).unwrap_err().reason, "RiskPolicyNotFound");
    assert_eq!(plan_strategy(&s, Some(&v), Some(&p), &[], &settings).unwrap_err().reason, "NoMarkets");
    // A directional strategy trades binary Markets only.
    let mut directional: Strategy = example("strategy-directional.yaml");
    directional.spec.markets.names = Some(vec!["election-winner".into()]);
    assert_eq!(plan_strategy(&directional, Some(&v), Some(&p), &markets(), &settings).unwrap_err().reason, "NoMarkets");
    // A market maker quotes binary Markets only.
    let mut mm: Strategy = example("strategy-market-making.yaml");
    mm.spec.markets.names = Some(vec!["election-winner".into()]);
    assert_eq!(plan_strategy(&mm, Some(&v), Some(&p), &markets(), &settings).unwrap_err().reason, "NoMarkets");
}

#[test]
fn a_market_maker_quotes_its_binary_markets_with_their_end_dates_and_typed_parameters() {
    let (_, v, p) = strategy_inputs();
    let mm: Strategy = example("strategy-market-making.yaml");
    let plan = plan_strategy(&mm, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    let cfg = StrategyConfig::from_json(&plan.config_map.data.as_ref().unwrap()["strategy.json"]).unwrap();
    assert_eq!(cfg.type_, polyfleet_core::config::StrategyType::MarketMaking);
    assert!(cfg.sets.is_empty());
    let [q] = cfg.quoted.as_slice() else { panic!("one quoted market: {:?}", cfg.quoted) };
    assert_eq!((q.yes.token.as_str(), q.no.token.as_str()), ("11", "12"));
    assert_eq!(q.end_ms, Some(1_796_929_200_000));
    let polyfleet_core::config::StrategyParams::MarketMaking(params) = &plan.params_doc.parameters else {
        panic!("{:?}", plan.params_doc.parameters)
    };
    assert_eq!((params.gamma_micros, params.kappa_micros, params.levels), (100_000, None, 2));
    assert_eq!((params.max_inventory_micros, params.toxic_markout_bps), (50_000_000, 300));
    // The agent builds and runs what the operator planned.
    polyfleet_core::strategy::build::build(&cfg, "t1").unwrap();
}

#[test]
fn risk_policy_limits_and_gateway() {
    let p: RiskPolicy = example("riskpolicy.yaml");
    let l = limits(&p.spec);
    assert_eq!((l.mode, l.reset, l.trip_cooldown_ms), (polyfleet_core::risk::RiskMode::Off, 0, None));
    assert_eq!(l.max_order_size.micros(), 200_000_000);
    assert_eq!(l.max_order_notional.micros(), 50_000_000);
    assert_eq!(l.min_book_liquidity.map(|m| m.micros()), Some(20_000_000));
    assert_eq!(l.circuit_breaker, Some((5, 300_000)));
    // Half the 1000 USDC capital per event and per category; the Kelly budget a quarter of it.
    assert_eq!(l.max_event_exposure.map(|m| m.micros()), Some(500_000_000));
    assert_eq!(
        l.group_limits,
        vec![("polyfleet.dev/category".to_string(), polyfleet_core::Money::from_micros(500_000_000))]
    );
    assert_eq!(l.kelly_budget.map(|m| m.micros()), Some(250_000_000));
    // Without capital the Kelly budget is the gross limit's share.
    let mut uncapitalized = p.spec.clone();
    (uncapitalized.capital_micros, uncapitalized.share_of_capital, uncapitalized.group_limits) = (None, None, vec![]);
    (uncapitalized.max_daily_loss_micros, uncapitalized.max_drawdown_micros) = (Some(1), Some(1));
    assert_eq!(limits(&uncapitalized).kelly_budget.map(|m| m.micros()), Some(125_000_000));
    let mut killed = p.spec.clone();
    killed.kill_switch = polyfleet_crds::risk_policy::RiskMode::ReduceOnly;
    killed.reset_trips = 4;
    killed.trip_cooldown_seconds = Some(90);
    killed.max_orders_per_day = Some(5000);
    let l = limits(&killed);
    assert_eq!((limits(&p.spec).max_orders_per_day, l.max_orders_per_day), (None, Some(5000)));
    assert_eq!((l.mode, l.reset, l.trip_cooldown_ms), (polyfleet_core::risk::RiskMode::ReduceOnly, 4, Some(90_000)));
    let (d, svc) = gateway("trading", "sim", 200, vec![], &FleetSettings::default(), None);
    let args = pod_spec(&d).containers[0].args.clone().unwrap();
    assert_eq!(args[0], "risk");
    assert!(args.windows(2).any(|w| w[0] == "--durable" && w[1] == "risk-trading"));
    assert!(args.windows(2).any(|w| w[0] == "--liquidity-band-bps" && w[1] == "200"));
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2), "the gateway scales out");
    assert!(svc.spec.is_some());
}

#[test]
fn agents_may_reach_only_dns_nats_redis_the_collector_and_the_venue() {
    use polyfleet_operator::planner::network::{agents_policy, url_port};
    assert_eq!(url_port("nats://nats.infra:4222"), Some(4222));
    assert_eq!(url_port("redis://:secret@redis:6380/0"), Some(6380));
    assert_eq!(url_port("redis://redis"), Some(6379));
    assert_eq!(url_port("http://otel-collector:4317"), Some(4317));
    let settings = FleetSettings {
        otlp_endpoint: Some("http://otel-collector.observability:4317".into()),
        venue_cidrs: vec!["104.18.0.0/16".into()],
        ..FleetSettings::default()
    };
    let np = agents_policy("trading", &settings, false, vec![]);
    assert!(np.metadata.owner_references.is_none());
    let spec = np.spec.unwrap();
    assert_eq!(spec.policy_types.unwrap(), vec!["Ingress", "Egress"]);
    let ports = |r: &k8s_openapi::api::networking::v1::NetworkPolicyEgressRule| {
        r.ports.iter().flatten().map(|p| p.port.clone().unwrap()).collect::<Vec<_>>()
    };
    let egress = spec.egress.unwrap();
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int;
    assert_eq!(ports(&egress[1]), vec![Int(4222), Int(6379), Int(4317)]);
    assert_eq!(ports(&egress[2]), vec![Int(443)]);
    assert_eq!(egress[2].to.as_ref().unwrap()[0].ip_block.as_ref().unwrap().cidr, "104.18.0.0/16");
    let ingress = spec.ingress.unwrap();
    assert_eq!(ingress[0].ports.as_ref().unwrap()[0].port, Some(Int(9464)));
    assert_eq!((egress.len(), ingress.len()), (3, 1), "nothing inside the namespace without a simulator");
    // With a simulator Venue: agents reach the simulator's port, and only the simulator's pods.
    let venue: Venue = example("venue-simulator.yaml");
    let owner = polyfleet_operator::planner::owner_ref(&venue).map(|mut o| {
        o.controller = None;
        o
    });
    let np = agents_policy("trading", &settings, true, owner.into_iter().collect());
    assert_eq!(np.metadata.owner_references.as_ref().map(Vec::len), Some(1), "goes with the Venues");
    let spec = np.spec.unwrap();
    let egress = spec.egress.unwrap();
    assert_eq!(ports(&egress[3]), vec![Int(8765)]);
    let to = egress[3].to.as_ref().unwrap()[0].pod_selector.as_ref().unwrap();
    assert_eq!(to.match_labels.as_ref().unwrap()["app.kubernetes.io/component"], "simulator");
    assert_eq!(spec.ingress.unwrap()[1].ports.as_ref().unwrap()[0].port, Some(Int(8765)));
}

#[test]
fn a_market_requeues_only_the_strategies_that_select_it() {
    use polyfleet_operator::planner::strategy::selects_market;
    let s: Strategy = example("strategy-arbitrage.yaml");
    let arb = std::collections::BTreeMap::from([("polyfleet.dev/arbitrage".to_string(), "true".to_string())]);
    assert!(selects_market(&s.spec.markets, "election-winner", &arb), "by label selector");
    assert!(!selects_market(&s.spec.markets, "fed-cut-december", &Default::default()));
    let by_name =
        polyfleet_crds::strategy::MarketSelection { names: Some(vec!["fed-cut-december".into()]), selector: None };
    assert!(selects_market(&by_name, "fed-cut-december", &Default::default()));
    assert!(!selects_market(&by_name, "election-winner", &arb));
}

/// A directional strategy: its binary Markets with their end dates, its typed parameters, and
/// what its Kelly sizing is a fraction of (the policy's capital or gross limit, and the Kelly
/// budget the gateway caps with).
#[test]
fn a_directional_strategy_trades_its_binary_markets_with_its_kelly_budget() {
    let (_, v, p) = strategy_inputs();
    let d: Strategy = example("strategy-directional.yaml");
    let plan = plan_strategy(&d, Some(&v), Some(&p), &markets(), &FleetSettings::default()).unwrap();
    let cfg = StrategyConfig::from_json(&plan.config_map.data.as_ref().unwrap()["strategy.json"]).unwrap();
    assert_eq!(cfg.type_, polyfleet_core::config::StrategyType::Directional);
    let [q] = cfg.quoted.as_slice() else { panic!("one binary market: {:?}", cfg.quoted) };
    assert_eq!((q.yes.token.as_str(), q.no.token.as_str()), ("11", "12"));
    let polyfleet_core::config::StrategyParams::Directional(params) = &plan.params_doc.parameters else {
        panic!("{:?}", plan.params_doc.parameters)
    };
    assert_eq!(params.signals, vec!["fed-model".to_string()]);
    assert_eq!((params.kelly_fraction_bps, params.entry_edge_bps, params.exit_edge_bps), (2500, 300, 50));
    assert_eq!(params.close_before_end_s, Some(600));
    let limits = p.spec.effective_limits();
    assert_eq!(cfg.risk_caps.kelly_budget_micros, limits.kelly_budget_micros);
    assert!(cfg.risk_caps.kelly_budget_micros > 0);
    assert_eq!(cfg.bankroll().micros(), p.spec.capital_micros.unwrap_or(limits.max_gross_exposure_micros));
    // The agent builds it.
    polyfleet_core::strategy::build::build(&cfg, "t").unwrap();
}

/// A directional Strategy on a series Market with the built-in crypto up/down model: one
/// `updown-model` Deployment (hardened, owned by the Strategy, labelled with it) and its metrics
/// Service, reading the simulator Venue's Gamma API and real-time data stream; suspended, it
/// stops with the strategy agent.
#[test]
fn a_built_in_model_runs_beside_its_directional_strategy() {
    let (_, v, p) = strategy_inputs();
    let mut series: Market = example("crypto-updown/market-btc-5m.yaml");
    series.status = Some(MarketStatus {
        tokens: ["Up", "Down"]
            .iter()
            .zip(["21", "22"])
            .map(|(o, t)| TokenStatus {
                outcome: o.to_string(),
                token_id: t.to_string(),
                condition_id: Some(format!("0x{:064x}", 7)),
                no_token_id: None,
                best_bid: None,
                best_ask: None,
            })
            .collect(),
        ..Default::default()
    });
    let mut views = markets();
    views.push(MarketView::of(&series).unwrap());
    let mut s: Strategy = example("crypto-updown/strategy-crypto-updown.yaml");
    let plan = plan_strategy(&s, Some(&v), Some(&p), &views, &FleetSettings::default()).unwrap();
    let [(d, svc)] = plan.model_objects.as_slice() else { panic!("one model: {:?}", plan.models) };
    assert_eq!(d.metadata.name.as_deref(), Some("model-btc-updown-btc-5m"));
    assert_eq!(svc.metadata.name, d.metadata.name);
    assert_hardened(d);
    let labels = d.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/component"], "updown-model");
    assert_eq!(labels["polyfleet.dev/strategy"], "btc-updown");
    let c = &pod_spec(d).containers[0];
    let args = c.args.as_ref().unwrap();
    let after = |flag: &str| args.iter().skip_while(|a| *a != flag).nth(1).cloned().unwrap_or_default();
    assert_eq!(args[0], "updown-model");
    assert_eq!(
        (after("--coin"), after("--period"), after("--model")),
        ("btc".into(), "5m".into(), "btc-updown".into())
    );
    assert_eq!(after("--rtds-url"), "ws://sim-sim.trading.svc:8765/rtds");
    assert_eq!(after("--gamma-url"), "http://sim-sim.trading.svc:8765");
    assert_eq!((after("--nu"), after("--valid-for-ms")), ("6".into(), "3000".into()));
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(1));
    // The strategy follows the model it runs.
    let polyfleet_core::config::StrategyParams::Directional(params) = &plan.params_doc.parameters else { panic!() };
    assert_eq!(params.signals, ["btc-updown"]);
    // It trades the series' rounds as they come, from the Market's rounds document: the running
    // round's tokens are in no agent's arguments or configuration (they change at every roll).
    let cfg =
        polyfleet_core::config::StrategyConfig::from_json(&plan.config_map.data.as_ref().unwrap()["strategy.json"])
            .unwrap();
    assert_eq!(cfg.series, ["trading.btc-5m.rounds"]);
    assert!(cfg.traded_tokens().all(|t| t.token != "21" && t.token != "22"), "{cfg:?}");
    polyfleet_core::strategy::build::build(&cfg, "t").unwrap();
    let vplan = plan_venue(&v, &views, &[], &FleetSettings::default()).unwrap();
    let args_of = |name_part: &str| -> Vec<String> {
        let d = vplan.deployments.iter().find(|d| d.metadata.name.as_deref().unwrap().contains(name_part)).unwrap();
        pod_spec(d).containers[0].args.clone().unwrap()
    };
    let md = args_of("md-sim");
    let exec = args_of("exec-sim");
    let value = |args: &[String], flag: &str| args.iter().skip_while(|a| *a != flag).nth(1).cloned();
    assert_eq!(value(&md, "--series").as_deref(), Some("trading.btc-5m.rounds"), "{md:?}");
    let md_tokens = vplan.config_maps.iter().filter_map(|c| c.data.as_ref()?.get("tokens.txt")).flat_map(|t| t.lines());
    assert!(!md_tokens.clone().any(|t| t == "21") && md_tokens.count() > 0, "{:?}", vplan.config_maps);
    assert_eq!(value(&exec, "--series").as_deref(), Some("trading.btc-5m.rounds"), "{exec:?}");
    s.spec.suspend = true;
    let plan = plan_strategy(&s, Some(&v), Some(&p), &views, &FleetSettings::default()).unwrap();
    assert_eq!(plan.model_objects[0].0.spec.as_ref().unwrap().replicas, Some(0));
    // Without a series Market there is nothing for the built-in model to price.
    s.spec.markets.names = Some(vec!["fed-cut-december".into()]);
    assert_eq!(
        plan_strategy(&s, Some(&v), Some(&p), &views, &FleetSettings::default()).unwrap_err().reason,
        "NoMarkets"
    );
}

/// Six Markets labelled for the experiment example's selector.
fn experiment_markets() -> Vec<MarketView> {
    let base = markets().remove(0);
    (0..6)
        .map(|i| {
            let mut m = base.clone();
            m.name = format!("exp-m{i}");
            m.labels = [("polyfleet.dev/experiment".to_string(), "quoting".to_string())].into();
            m
        })
        .collect()
}

#[test]
fn the_arms_of_an_experiment_trade_disjoint_halves_of_the_markets_they_select() {
    let (_, v, p) = strategy_inputs();
    let shared = experiment_markets();
    let arm = |file: &str| -> (Vec<String>, polyfleet_core::analytics::experiment::Experiment) {
        let s: Strategy = example(file);
        let plan = plan_strategy(&s, Some(&v), Some(&p), &shared, &FleetSettings::default()).unwrap();
        (plan.markets, plan.experiment.unwrap())
    };
    let (a, ea) = arm("experiment/strategy-quoting-control.yaml");
    let (b, eb) = arm("experiment/strategy-quoting-aggressive.yaml");
    assert_eq!((a.len(), b.len()), (3, 3), "{a:?} {b:?}");
    assert!(a.iter().all(|m| !b.contains(m)), "disjoint: {a:?} {b:?}");
    assert_eq!((ea.name.as_str(), ea.slot_ns, ea.config.burn_in), ("quoting", 5_000_000_000, 10));
    assert_eq!((ea.arm, eb.arm), (Arm::A, Arm::B));
    assert_eq!(ea.config, eb.config, "one stopping rule");
    // One Market selected: it goes to arm A, and arm B is refused with why.
    let s: Strategy = example("experiment/strategy-quoting-aggressive.yaml");
    let refused = plan_strategy(&s, Some(&v), Some(&p), &shared[..1], &FleetSettings::default()).unwrap_err();
    assert_eq!(refused.reason, "NoMarkets");
    assert!(refused.message.contains("experiment quoting"), "{}", refused.message);
}

/// Arms interleaved by time slot are not split: each trades every Market both select, and its
/// agent's configuration carries its turns (the schedule its runner obeys); one Market is enough.
#[test]
fn the_arms_of_a_time_slot_experiment_trade_every_market_in_turns() {
    use polyfleet_core::analytics::experiment::{Interleave, SlotSchedule};
    use polyfleet_crds::strategy::ExperimentInterleave;
    let (_, v, p) = strategy_inputs();
    let shared = experiment_markets();
    for (file, arm) in
        [("experiment/strategy-quoting-control.yaml", Arm::A), ("experiment/strategy-quoting-aggressive.yaml", Arm::B)]
    {
        let mut s: Strategy = example(file);
        s.spec.experiment.as_mut().unwrap().interleave = ExperimentInterleave::TimeSlot;
        let plan = plan_strategy(&s, Some(&v), Some(&p), &shared, &FleetSettings::default()).unwrap();
        assert_eq!(plan.markets.len(), 6, "{file}: every Market");
        assert_eq!(plan.experiment.as_ref().unwrap().interleave, Interleave::TimeSlot);
        let cfg = StrategyConfig::from_json(&plan.config_map.data.as_ref().unwrap()["strategy.json"]).unwrap();
        assert_eq!(cfg.time_slots, Some(SlotSchedule { experiment: "quoting".into(), arm, slot_seconds: 5 }));
        assert_eq!(cfg.quoted.len(), 6);
        let one = plan_strategy(&s, Some(&v), Some(&p), &shared[..1], &FleetSettings::default()).unwrap();
        assert_eq!(one.markets, vec!["exp-m0".to_string()], "{file}: one Market is shared in turns");
    }
    // By Market, the agent takes no turns.
    let s: Strategy = example("experiment/strategy-quoting-control.yaml");
    let plan = plan_strategy(&s, Some(&v), Some(&p), &shared, &FleetSettings::default()).unwrap();
    let cfg = StrategyConfig::from_json(&plan.config_map.data.as_ref().unwrap()["strategy.json"]).unwrap();
    assert_eq!(cfg.time_slots, None);
}

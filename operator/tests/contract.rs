//! The operator → agent contract cannot drift from the CRD: for every integer field of a
//! Strategy's `arbitrage` block, the values the CRD schema admits (its `minimum` and `maximum`,
//! read from the generated CRD, as the API server applies them) are exactly the values the
//! operator's conversion and the core's bounds accept; every admitted value runs in the agent's
//! strategy; and the KV parameter document the operator writes is the one the agent decodes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use kube::CustomResourceExt;
use polyfleet_core::config::{ParamsDoc, StrategyParams, StrategyType};
use polyfleet_core::money::Money;
use polyfleet_core::strategy::arbitrage::{ArbParams, CompleteSetArb};
use polyfleet_core::{Quantity, config};
use polyfleet_crds::Strategy;
use polyfleet_crds::strategy::{ArbitrageParams, LegOrderType, MarketMakingParams};
use polyfleet_operator::contract;
use proptest::prelude::*;
use serde_json::Value;

/// The schema of `spec.<block>.<field>` in the generated CRD.
fn block_schema(block: &str, field: &str) -> Value {
    let crd = serde_json::to_value(Strategy::crd()).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    schema["properties"]["spec"]["properties"][block]["properties"][field].clone()
}

/// The schema of `spec.arbitrage.<field>`.
fn field_schema(field: &str) -> Value {
    block_schema("arbitrage", field)
}

/// A bound of the schema (written as a number, e.g. `9999.0`), as an integer.
fn bound(s: &Value, which: &str) -> Option<i64> {
    let b = s[which].as_f64()?;
    assert_eq!(b.fract(), 0.0, "{which} bound {b} is not whole");
    Some(format!("{b:.0}").parse().unwrap())
}

/// What the schema admits for an integer field.
fn admits(field: &str, v: i64) -> bool {
    let s = field_schema(field);
    bound(&s, "minimum").is_none_or(|m| v >= m) && bound(&s, "maximum").is_none_or(|m| v <= m)
}

fn base() -> ArbitrageParams {
    ArbitrageParams {
        min_edge_bps: 50,
        max_notional_per_leg_micros: 25_000_000,
        order_type: LegOrderType::Fok,
        leg_timeout_ms: 2000,
        cooldown_ms: 1000,
        sell_back_above_cost: true,
    }
}

/// `base()` with `field` set to `v`; `None` when `v` does not fit the CRD field's Rust type (the
/// API server would refuse it before any schema rule: an int32 out of range).
fn with(field: &str, v: i64) -> Option<ArbitrageParams> {
    let mut p = base();
    match field {
        "minEdgeBps" => p.min_edge_bps = i32::try_from(v).ok()?,
        "maxNotionalPerLegMicros" => p.max_notional_per_leg_micros = v,
        "legTimeoutMs" => p.leg_timeout_ms = i32::try_from(v).ok()?,
        "cooldownMs" => p.cooldown_ms = i32::try_from(v).ok()?,
        other => panic!("unknown field {other}"),
    }
    Some(p)
}

/// Accepted by the operator's conversion (which runs the core's bounds), and then by the strategy
/// the agent builds.
fn accepted(p: &ArbitrageParams) -> bool {
    let Ok(core) = contract::arbitrage(p) else { return false };
    CompleteSetArb::new(vec![], core, Quantity::from_micros(1), Money::from_micros(1)).is_ok()
}

const FIELDS: [&str; 4] = ["minEdgeBps", "maxNotionalPerLegMicros", "legTimeoutMs", "cooldownMs"];

#[test]
fn every_integer_field_is_bounded_by_the_schema_exactly_as_by_the_core() {
    for field in FIELDS {
        let s = field_schema(field);
        assert!(bound(&s, "minimum").is_some(), "{field} has a schema minimum: {s}");
        // Each bound and its neighbours.
        let mut edges = vec![];
        for b in [bound(&s, "minimum"), bound(&s, "maximum")].into_iter().flatten() {
            edges.extend([b - 1, b, b + 1]);
        }
        for v in edges {
            let Some(p) = with(field, v) else { continue };
            assert_eq!(admits(field, v), accepted(&p), "{field} = {v}: schema and core disagree");
        }
    }
    // The bound that drifted once: 10000 bps is refused by the schema, as by the core.
    assert!(!admits("minEdgeBps", 10_000));
    assert_eq!(bound(&field_schema("minEdgeBps"), "maximum"), Some(i64::from(ArbParams::MAX_MIN_EDGE_BPS)));
}

proptest! {
    #[test]
    fn the_schema_admits_exactly_what_the_core_accepts(
        field in 0..FIELDS.len(),
        v in prop_oneof![-2_000_000_000i64..2_000_000_000, -20_000i64..100_000, any::<i64>()],
        fak in any::<bool>(),
    ) {
        let field = FIELDS[field];
        if let Some(mut p) = with(field, v) {
            p.order_type = if fak { LegOrderType::Fak } else { LegOrderType::Fok };
            prop_assert_eq!(admits(field, v), accepted(&p), "{} = {}", field, v);
        }
    }
}

#[test]
fn the_parameter_document_the_operator_writes_is_the_one_the_agent_reads() {
    let p = contract::arbitrage(&base()).unwrap();
    let doc = ParamsDoc { generation: 7, parameters: StrategyParams::Arbitrage(p) };
    let bytes = doc.to_json().unwrap();
    assert_eq!(ParamsDoc::decode(StrategyType::Arbitrage, &bytes).unwrap(), doc);
    // Its JSON is `{generation, parameters: <the spec's block>}`, the spec's own field names.
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    let spec_block = serde_json::to_value(base()).unwrap();
    assert_eq!(json["parameters"], spec_block);
    // A document out of bounds is refused with its generation, so the ack can name it.
    let bad = serde_json::json!({"generation": 8, "parameters": {"minEdgeBps": 10000, "maxNotionalPerLegMicros": 1,
        "orderType": "FOK", "legTimeoutMs": 1, "cooldownMs": 0}});
    let (generation, err) = ParamsDoc::decode(StrategyType::Arbitrage, bad.to_string().as_bytes()).unwrap_err();
    assert_eq!(generation, Some(8));
    assert!(err.to_string().contains("minEdgeBps"), "{err}");
    // The acknowledgement round-trips too (one type on both sides).
    let ack = config::ParamsAck { generation: 8, applied: false, error: Some(err.to_string()) };
    assert_eq!(serde_json::from_slice::<config::ParamsAck>(&serde_json::to_vec(&ack).unwrap()).unwrap(), ack);
}

/// The `marketMaking` block: every integer field's schema bounds (and their neighbours) are
/// exactly what the operator's conversion and the core accept, and the decimals (γ, κ) are
/// parsed exactly.
#[test]
fn market_making_bounds_are_the_schema_s() {
    let yaml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/strategy-market-making.yaml"),
    )
    .unwrap();
    let example: Strategy = serde_saphyr::from_str(&yaml).unwrap();
    // Wide spreads and no band, so no rule across fields decides.
    let base = MarketMakingParams { max_spread_bps: 10_000, min_spread_bps: 0, ..example.spec.market_making.unwrap() };
    let set = |field: &str, v: i64| -> Option<MarketMakingParams> {
        let mut p = base.clone();
        let i32_of = |v: i64| i32::try_from(v).ok();
        match field {
            "levels" => p.levels = i32_of(v)?,
            "levelSpacingTicks" => p.level_spacing_ticks = i32_of(v)?,
            "orderSizeMicros" => p.order_size_micros = v,
            "minSpreadBps" => p.min_spread_bps = i32_of(v)?,
            "maxSpreadBps" => p.max_spread_bps = i32_of(v)?,
            "maxInventoryMicros" => p.max_inventory_micros = v,
            "maxEventInventoryMicros" => p.max_event_inventory_micros = Some(v),
            "refreshIntervalMs" => p.refresh_interval_ms = i32_of(v)?,
            "refreshToleranceTicks" => p.refresh_tolerance_ticks = i32_of(v)?,
            "sizeTolerancePct" => p.size_tolerance_pct = i32_of(v)?,
            "maxOrderAgeMs" => p.max_order_age_ms = v,
            "stopBeforeEndSeconds" => p.stop_before_end_seconds = v,
            "inventoryRampSeconds" => p.inventory_ramp_seconds = v,
            "estimatorHalfLifeSeconds" => p.estimator_half_life_seconds = v,
            "toxicMarkoutBps" => p.toxic_markout_bps = i32_of(v)?,
            "toxicPauseMs" => p.toxic_pause_ms = v,
            "quoteTtlSeconds" => p.quote_ttl_seconds = Some(v),
            other => panic!("unknown field {other}"),
        }
        Some(p)
    };
    let fields = [
        "levels",
        "levelSpacingTicks",
        "orderSizeMicros",
        "minSpreadBps",
        "maxSpreadBps",
        "maxInventoryMicros",
        "maxEventInventoryMicros",
        "refreshIntervalMs",
        "refreshToleranceTicks",
        "sizeTolerancePct",
        "maxOrderAgeMs",
        "stopBeforeEndSeconds",
        "inventoryRampSeconds",
        "estimatorHalfLifeSeconds",
        "toxicMarkoutBps",
        "toxicPauseMs",
        "quoteTtlSeconds",
    ];
    for field in fields {
        let s = block_schema("marketMaking", field);
        let (lo, hi) = (bound(&s, "minimum"), bound(&s, "maximum"));
        assert!(lo.is_some(), "{field} has a schema minimum: {s}");
        for b in [lo, hi].into_iter().flatten() {
            for v in [b - 1, b, b + 1] {
                let Some(p) = set(field, v) else { continue };
                let admitted = lo.is_none_or(|m| v >= m) && hi.is_none_or(|m| v <= m);
                assert_eq!(admitted, contract::market_making(&p).is_ok(), "{field} = {v}: schema and core disagree");
            }
        }
    }
    let decimal = |g: &str| contract::market_making(&MarketMakingParams { gamma: g.into(), ..base.clone() });
    assert_eq!(decimal("0.000001").unwrap().gamma_micros, 1);
    assert_eq!(decimal("999999.999999").unwrap().gamma_micros, 999_999_999_999);
    assert_eq!(decimal("12.5").unwrap().gamma_micros, 12_500_000);
    assert!(decimal("0").is_err() && decimal("0.0000001").is_err());
    let kappa = contract::market_making(&MarketMakingParams { kappa: "250".into(), ..base.clone() }).unwrap();
    assert_eq!(kappa.kappa_micros, Some(250_000_000));
}

/// The notifier's bounds: the RiskPolicy schema's `notifications.maxPerMinute` and
/// `maxAttempts` admit exactly what the notifier's configuration accepts.
#[test]
fn notification_bounds_are_the_schema_s() {
    use polyfleet_core::notify::target::{MAX_ATTEMPTS, MAX_PER_MINUTE};
    let crd = serde_json::to_value(polyfleet_crds::RiskPolicy::crd()).unwrap();
    let n = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["notifications"]
        ["properties"];
    for (field, range) in [("maxPerMinute", MAX_PER_MINUTE), ("maxAttempts", MAX_ATTEMPTS)] {
        let s = &n[field];
        assert_eq!(bound(s, "minimum"), Some(i64::from(*range.start())), "{field}");
        assert_eq!(bound(s, "maximum"), Some(i64::from(*range.end())), "{field}");
    }
    // And the operator's conversion of the bounds' ends passes the core's check.
    let yaml = r#"
targets: [{name: d, kind: generic, url: "http://x"}]
maxPerMinute: 600
maxAttempts: 20
"#;
    let crd_n: polyfleet_crds::notifications::Notifications = serde_saphyr::from_str(yaml).unwrap();
    let (config, _) = contract::notify_config("ns", "p", &crd_n);
    config.validate().unwrap();
    let over = polyfleet_crds::notifications::Notifications { max_per_minute: 601, ..crd_n };
    assert!(contract::notify_config("ns", "p", &over).0.validate().is_err());
}

/// The `directional` block: every integer field's schema bounds (and their neighbours), with the
/// schema's rule `exitEdgeBps < entryEdgeBps`, are exactly what the operator's conversion and the
/// core accept; so is the number of signal sources.
#[test]
fn directional_bounds_are_the_schema_s() {
    use polyfleet_crds::strategy::{DirectionalParams, SignalSource};
    let yaml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/strategy-directional.yaml"),
    )
    .unwrap();
    let example: Strategy = serde_saphyr::from_str(&yaml).unwrap();
    let base = DirectionalParams { entry_edge_bps: 10_000, exit_edge_bps: 0, ..example.spec.directional.unwrap() };
    let converted = contract::directional(&base).unwrap();
    assert_eq!(converted.signals, vec!["fed-model".to_string()]);
    let set = |field: &str, v: i64| -> Option<DirectionalParams> {
        let mut p = base.clone();
        let i32_of = |v: i64| i32::try_from(v).ok();
        match field {
            "maxSignalAgeMs" => p.max_signal_age_ms = Some(v),
            "kellyFractionBps" => p.kelly_fraction_bps = i32_of(v)?,
            "entryEdgeBps" => p.entry_edge_bps = i32_of(v)?,
            "exitEdgeBps" => p.exit_edge_bps = i32_of(v)?,
            "stopLossBps" => p.stop_loss_bps = Some(i32_of(v)?),
            "takeProfitBps" => p.take_profit_bps = Some(i32_of(v)?),
            "maxScaleIns" => p.max_scale_ins = i32_of(v)?,
            "closeBeforeEndSeconds" => p.close_before_end_seconds = Some(v),
            "reentryCooldownMs" => p.reentry_cooldown_ms = v,
            other => panic!("unknown field {other}"),
        }
        Some(p)
    };
    let fields = [
        "maxSignalAgeMs",
        "kellyFractionBps",
        "entryEdgeBps",
        "exitEdgeBps",
        "stopLossBps",
        "takeProfitBps",
        "maxScaleIns",
        "closeBeforeEndSeconds",
        "reentryCooldownMs",
    ];
    for field in fields {
        let s = block_schema("directional", field);
        let (lo, hi) = (bound(&s, "minimum"), bound(&s, "maximum"));
        assert!(lo.is_some() && hi.is_some(), "{field} has schema bounds: {s}");
        for b in [lo, hi].into_iter().flatten() {
            for v in [b - 1, b, b + 1] {
                let Some(p) = set(field, v) else { continue };
                // The range, and the block's CEL rule, as the API server applies them.
                let admitted =
                    lo.is_none_or(|m| v >= m) && hi.is_none_or(|m| v <= m) && p.exit_edge_bps < p.entry_edge_bps;
                assert_eq!(admitted, contract::directional(&p).is_ok(), "{field} = {v}: schema and core disagree");
            }
        }
    }
    let signals = block_schema("directional", "signals");
    let (lo, hi) = (bound(&signals, "minItems").unwrap(), bound(&signals, "maxItems").unwrap());
    for n in [lo - 1, lo, hi, hi + 1] {
        let sources =
            (0..n).map(|k| SignalSource { model: format!("m{k}"), crypto_up_down: None, sports_odds: None }).collect();
        let admitted = n >= lo && n <= hi;
        let p = DirectionalParams { signals: sources, ..base.clone() };
        assert_eq!(admitted, contract::directional(&p).is_ok(), "{n} signal sources");
    }
}

/// A simulator Venue's `clockRate`: the schema admits exactly the rates the core's venue clock
/// takes, and the clock the operator hands the Venue's pods reads back.
#[test]
fn the_clock_rate_bounds_are_the_schema_s() {
    use polyfleet_core::clock::{MAX_RATE, VenueClock};
    let crd = serde_json::to_value(polyfleet_crds::Venue::crd()).unwrap();
    let s = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["simulator"]["properties"]
        ["clockRate"];
    assert_eq!(bound(s, "minimum"), Some(1));
    assert_eq!(bound(s, "maximum"), Some(i64::from(MAX_RATE)));
    for rate in [1, MAX_RATE] {
        assert!(VenueClock::new(1, rate).is_ok());
    }
    assert!(VenueClock::new(1, 0).is_err() && VenueClock::new(1, MAX_RATE + 1).is_err());
    let mut venue: polyfleet_crds::Venue = serde_saphyr::from_str(
        "apiVersion: polyfleet.dev/v1alpha1\nkind: Venue\nmetadata: {name: sim, namespace: t, creationTimestamp: \"2026-01-01T00:00:00Z\"}\nspec: {kind: simulator, simulator: {clockRate: 20}}\n",
    )
    .unwrap();
    let env = polyfleet_operator::planner::venue::clock_env(&venue);
    assert_eq!(env.len(), 1);
    let clock = VenueClock::parse(env[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(clock, VenueClock::new(1_767_225_600_000, 20).unwrap(), "anchored at the Venue's creation");
    venue.spec.simulator.as_mut().unwrap().clock_rate = 1;
    assert!(polyfleet_operator::planner::venue::clock_env(&venue).is_empty(), "real time: no clock handed");
}

/// A Strategy's `drift` block: every value at and around the schema's bounds is admitted by the
/// schema exactly when the core's drift configuration takes it, and the defaults convert.
#[test]
fn drift_bounds_are_the_schema_s() {
    use polyfleet_crds::strategy::DriftAlarms;
    let base: DriftAlarms = serde_json::from_str("{}").unwrap();
    let converted = contract::drift(&base).unwrap();
    assert_eq!((converted.markout_horizon_ms, converted.burn_in, converted.size_factor_bps), (5000, 30, 5000));
    let set = |field: &str, v: i64| -> Option<DriftAlarms> {
        let mut d = base.clone();
        let i32_of = |v: i64| i32::try_from(v).ok();
        match field {
            "markoutHorizonMs" => d.markout_horizon_ms = v,
            "markoutDeltaPpm" => d.markout_delta_ppm = v,
            "markoutLambdaPpm" => d.markout_lambda_ppm = v,
            "slippageAllowancePpm" => d.slippage_allowance_ppm = v,
            "slippageThresholdPpm" => d.slippage_threshold_ppm = v,
            "burnIn" => d.burn_in = i32_of(v)?,
            "sizeFactorBps" => d.size_factor_bps = i32_of(v)?,
            other => panic!("unknown field {other}"),
        }
        Some(d)
    };
    let fields = [
        "markoutHorizonMs",
        "markoutDeltaPpm",
        "markoutLambdaPpm",
        "slippageAllowancePpm",
        "slippageThresholdPpm",
        "burnIn",
        "sizeFactorBps",
    ];
    for field in fields {
        let s = block_schema("drift", field);
        let (lo, hi) = (bound(&s, "minimum"), bound(&s, "maximum"));
        assert!(lo.is_some(), "{field} has a lower bound: {s}");
        for b in [lo, hi].into_iter().flatten() {
            for v in [b - 1, b, b + 1] {
                let Some(d) = set(field, v) else { continue };
                let admitted = lo.is_none_or(|m| v >= m) && hi.is_none_or(|m| v <= m);
                assert_eq!(admitted, contract::drift(&d).is_ok(), "{field} = {v}: schema and core disagree");
            }
        }
    }
    assert_eq!(
        bound(&block_schema("drift", "sizeFactorBps"), "maximum"),
        Some(i64::from(config::DriftConfig::FULL_SIZE_BPS))
    );
}

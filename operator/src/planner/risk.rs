//! A RiskPolicy's limits as the risk store holds them, and a namespace's risk gateway.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use polyfleet_core::risk::{RiskLimits, RiskMode};
use polyfleet_core::{Money, Quantity};
use polyfleet_crds::RiskPolicySpec;

use super::child_name;
use crate::pods::{AgentSpec, Role, agent_deployment, metrics_service};
use crate::settings::FleetSettings;

/// The liquidity band of a namespace's gateway: the widest `minBookLiquidity.withinBps` of its
/// policies (200 bps when none sets one).
pub fn liquidity_band_bps(policies: &[&RiskPolicySpec]) -> u32 {
    policies
        .iter()
        .filter_map(|p| p.min_book_liquidity.as_ref().map(|l| l.within_bps.max(0) as u32))
        .max()
        .unwrap_or(200)
}

/// The limits of a RiskPolicy spec (amounts already in micros; negative values cannot pass the
/// schema and are clamped to zero here); each money limit the tighter of its absolute value and
/// its share of the declared capital ([`RiskPolicySpec::effective_limits`]).
pub fn limits(spec: &RiskPolicySpec) -> RiskLimits {
    let q = |v: i64| Quantity::from_micros(v.max(0) as u64);
    let m = |v: i64| Money::from_micros(v.max(0));
    let money = spec.effective_limits();
    RiskLimits {
        mode: match spec.kill_switch {
            polyfleet_crds::risk_policy::RiskMode::Off => RiskMode::Off,
            polyfleet_crds::risk_policy::RiskMode::ReduceOnly => RiskMode::ReduceOnly,
            polyfleet_crds::risk_policy::RiskMode::Halt => RiskMode::Halt,
        },
        reset: spec.reset_trips.max(0) as u64,
        trip_cooldown_ms: spec.trip_cooldown_seconds.filter(|s| *s > 0).map(|s| s as u64 * 1000),
        max_order_size: q(spec.max_order_size_micros),
        max_order_notional: m(money.max_order_notional_micros),
        max_position_per_market: q(spec.max_position_per_market_micros),
        max_gross_exposure: m(money.max_gross_exposure_micros),
        max_daily_loss: m(money.max_daily_loss_micros),
        max_drawdown: m(money.max_drawdown_micros),
        max_orders_per_minute: spec.max_orders_per_minute.max(0) as u32,
        max_orders_per_day: spec.max_orders_per_day.map(|n| n.max(0) as u32),
        min_book_liquidity: spec.min_book_liquidity.as_ref().map(|l| m(l.depth_micros)),
        circuit_breaker: spec
            .circuit_breaker
            .as_ref()
            .filter(|c| c.consecutive_losses > 0)
            .map(|c| (c.consecutive_losses as u32, c.cooldown_seconds.max(0) as u64 * 1000)),
        max_loss_at_resolution: money.max_loss_at_resolution_micros.map(m),
        max_event_exposure: money.max_event_exposure_micros.map(m),
        group_limits: spec.effective_group_limits().into_iter().map(|(label, max)| (label, m(max))).collect(),
        kelly_budget: Some(m(money.kelly_budget_micros)),
    }
}

/// The risk gateway of `namespace` for `venue` (its books give the liquidity check its numbers),
/// counting liquidity within `band_bps` of the best price, with the Venue's clock `env`
/// ([`super::venue::clock_env`]); owned by the Venue.
pub fn gateway(
    namespace: &str,
    venue: &str,
    band_bps: u32,
    env: Vec<k8s_openapi::api::core::v1::EnvVar>,
    settings: &FleetSettings,
    owner: Option<OwnerReference>,
) -> (Deployment, Service) {
    let spec = AgentSpec {
        role: Role::Risk,
        name: child_name("risk", venue),
        namespace: namespace.to_string(),
        args: vec![
            "--venue".into(),
            venue.to_string(),
            "--namespace".into(),
            namespace.to_string(),
            "--liquidity-band-bps".into(),
            band_bps.to_string(),
            // Durable consumers are per stream: one name per namespace, shared by the replicas.
            "--durable".into(),
            format!("risk-{namespace}"),
        ],
        env,
        config: None,
        replicas: 2,
        uses_redis: true,
        owner_labels: BTreeMap::from([("polyfleet.dev/venue".to_string(), venue.to_string())]),
    };
    (agent_deployment(settings, &spec, owner.clone()), metrics_service(settings, &spec, owner))
}

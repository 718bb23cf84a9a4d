//! The CRD types turned into the operator → agent contract ([`polyfleet_core::config`]): the one
//! place where a Strategy's spec becomes the typed mode, strategy type and parameters the agents
//! run. The parameters go through the core's own bounds check, so a spec the agent would refuse
//! is refused here (reported in the Strategy's status) rather than shipped; the CRD schema states
//! the same bounds (`tests/contract.rs` holds the two equal over every value the schema admits).
//!
//! Free functions rather than `TryFrom` impls: both sides are other crates' types.

use polyfleet_core::analytics::rewards::RewardRules;
use polyfleet_core::analytics::scores::ModelScore;
use polyfleet_core::config::{RewardConfig, StrategyParams, StrategyType};
use polyfleet_core::money::Price;
use polyfleet_core::strategy::ParamsError;
use polyfleet_core::strategy::arbitrage::{ArbParams, LegOrderType};
use polyfleet_core::strategy::directional::params::{DirParams, Entry};
use polyfleet_core::strategy::market_making::params::{Band, MmParams};
use polyfleet_core::wire::Mode;
use polyfleet_core::{Money, Quantity};
use polyfleet_crds::rewards::RewardProgram;
use polyfleet_crds::strategy::{
    ArbitrageParams, DirectionalEntry, DirectionalParams, LegOrderType as CrdLegOrderType, MarketMakingParams,
    ModelScoreStatus, PriceBand, TwinStatus,
};
use polyfleet_crds::venue::ExecutionMode;

/// The execution mode.
pub fn mode(m: ExecutionMode) -> Mode {
    match m {
        ExecutionMode::Paper => Mode::Paper,
        ExecutionMode::Shadow => Mode::Shadow,
        ExecutionMode::Live => Mode::Live,
    }
}

/// A reward program (a Market's status, a simulator's declaration) as the core's rules; `None`
/// when a field does not parse (the schema's patterns admit only ones that do) or the spread is 0.
pub fn reward_rules(p: &RewardProgram) -> Option<RewardRules> {
    Some(RewardRules {
        min_size: Quantity::parse(&p.min_size).ok()?,
        max_spread: Price::parse(&p.max_spread).ok().filter(|s| s.ticks() > 0)?,
        daily_pool: Money::parse(&p.daily_pool).ok().filter(|m| !m.is_negative())?,
    })
}

/// The core's reward rules as the status reports them.
pub fn reward_program(r: &RewardRules) -> RewardProgram {
    RewardProgram {
        min_size: r.min_size.to_string(),
        max_spread: r.max_spread.to_string(),
        daily_pool: r.daily_pool.to_string(),
    }
}

/// The core's reward rules as the agents' configuration carries them.
pub fn reward_config(r: &RewardRules) -> RewardConfig {
    RewardConfig {
        min_size_micros: r.min_size.micros(),
        max_spread_ticks: r.max_spread.ticks(),
        daily_pool_micros: u64::try_from(r.daily_pool.micros()).unwrap_or(0),
    }
}

/// A field that must not be negative, as the core's unsigned type.
fn unsigned<T: TryFrom<i64>>(field: &'static str, v: i64) -> Result<T, ParamsError> {
    T::try_from(v).map_err(|_| ParamsError::Invalid { field, message: format!("{v} is out of range") })
}

/// The `arbitrage` block as the strategy's parameters, checked by the core's bounds.
pub fn arbitrage(p: &ArbitrageParams) -> Result<ArbParams, ParamsError> {
    let params = ArbParams {
        min_edge_bps: unsigned("minEdgeBps", i64::from(p.min_edge_bps))?,
        max_notional_per_leg_micros: p.max_notional_per_leg_micros,
        order_type: match p.order_type {
            CrdLegOrderType::Fok => LegOrderType::Fok,
            CrdLegOrderType::Fak => LegOrderType::Fak,
        },
        leg_timeout_ms: unsigned("legTimeoutMs", i64::from(p.leg_timeout_ms))?,
        cooldown_ms: unsigned("cooldownMs", i64::from(p.cooldown_ms))?,
        sell_back_above_cost: p.sell_back_above_cost,
    };
    params.validate()?;
    Ok(params)
}

/// The parameters of an `arbitrage` Strategy.
pub fn arbitrage_params(p: &ArbitrageParams) -> Result<(StrategyType, StrategyParams), ParamsError> {
    Ok((StrategyType::Arbitrage, StrategyParams::Arbitrage(arbitrage(p)?)))
}

/// A decimal string of the CRD (digits, optionally a point and at most six more) in millionths,
/// exactly.
fn decimal_micros(field: &'static str, s: &str) -> Result<u64, ParamsError> {
    let invalid = || ParamsError::Invalid { field, message: format!("{s:?} is not a decimal with at most 6 places") };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > 6
        || !(whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()))
    {
        return Err(invalid());
    }
    let w: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
    let f: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().map_err(|_| invalid())? };
    w.checked_mul(1_000_000).and_then(|w| w.checked_add(f)).ok_or_else(invalid)
}

/// A price band of the CRD (decimal strings) as the core's.
fn band(b: &PriceBand) -> Result<Band, ParamsError> {
    let price = |s: &str| {
        Price::parse(s).map_err(|e| ParamsError::Invalid { field: "priceBand", message: format!("{s:?}: {e}") })
    };
    Ok(Band { min: price(&b.min)?, max: price(&b.max)? })
}

/// The `marketMaking` block as the market maker's parameters, checked by the core's bounds.
pub fn market_making(p: &MarketMakingParams) -> Result<MmParams, ParamsError> {
    let params = MmParams {
        gamma_micros: decimal_micros("gamma", &p.gamma)?,
        kappa_micros: if p.kappa == "auto" { None } else { Some(decimal_micros("kappa", &p.kappa)?) },
        levels: unsigned("levels", i64::from(p.levels))?,
        level_spacing_ticks: unsigned("levelSpacingTicks", i64::from(p.level_spacing_ticks))?,
        order_size_micros: unsigned("orderSizeMicros", p.order_size_micros)?,
        min_spread_bps: unsigned("minSpreadBps", i64::from(p.min_spread_bps))?,
        max_spread_bps: unsigned("maxSpreadBps", i64::from(p.max_spread_bps))?,
        inventory_target_micros: p.inventory_target_micros,
        max_inventory_micros: unsigned("maxInventoryMicros", p.max_inventory_micros)?,
        max_event_inventory_micros: p
            .max_event_inventory_micros
            .map(|m| unsigned("maxEventInventoryMicros", m))
            .transpose()?,
        refresh_interval_ms: unsigned("refreshIntervalMs", i64::from(p.refresh_interval_ms))?,
        refresh_tolerance_ticks: unsigned("refreshToleranceTicks", i64::from(p.refresh_tolerance_ticks))?,
        size_tolerance_pct: unsigned("sizeTolerancePct", i64::from(p.size_tolerance_pct))?,
        max_order_age_ms: unsigned("maxOrderAgeMs", p.max_order_age_ms)?,
        stop_before_end_s: unsigned("stopBeforeEndSeconds", p.stop_before_end_seconds)?,
        inventory_ramp_s: unsigned("inventoryRampSeconds", p.inventory_ramp_seconds)?,
        estimator_half_life_s: unsigned("estimatorHalfLifeSeconds", p.estimator_half_life_seconds)?,
        toxic_markout_bps: unsigned("toxicMarkoutBps", i64::from(p.toxic_markout_bps))?,
        toxic_pause_ms: unsigned("toxicPauseMs", p.toxic_pause_ms)?,
        quote_ttl_s: p.quote_ttl_seconds.map(|t| unsigned("quoteTtlSeconds", t)).transpose()?,
        price_band: p.price_band.as_ref().map(band).transpose()?,
    };
    params.validate()?;
    Ok(params)
}

/// The `directional` block as the directional strategy's parameters, checked by the core's
/// bounds.
pub fn directional(p: &DirectionalParams) -> Result<DirParams, ParamsError> {
    let params = DirParams {
        signals: p.signals.iter().map(|s| s.model.clone()).collect(),
        max_signal_age_ms: p.max_signal_age_ms.map(|a| unsigned("maxSignalAgeMs", a)).transpose()?,
        kelly_fraction_bps: unsigned("kellyFractionBps", i64::from(p.kelly_fraction_bps))?,
        entry_edge_bps: unsigned("entryEdgeBps", i64::from(p.entry_edge_bps))?,
        exit_edge_bps: unsigned("exitEdgeBps", i64::from(p.exit_edge_bps))?,
        stop_loss_bps: p.stop_loss_bps.map(|b| unsigned("stopLossBps", i64::from(b))).transpose()?,
        take_profit_bps: p.take_profit_bps.map(|b| unsigned("takeProfitBps", i64::from(b))).transpose()?,
        entry: match p.entry {
            DirectionalEntry::Taker => Entry::Taker,
            DirectionalEntry::Passive => Entry::Passive,
        },
        max_scale_ins: unsigned("maxScaleIns", i64::from(p.max_scale_ins))?,
        close_before_end_s: p.close_before_end_seconds.map(|s| unsigned("closeBeforeEndSeconds", s)).transpose()?,
        reentry_cooldown_ms: unsigned("reentryCooldownMs", p.reentry_cooldown_ms)?,
        price_band: p.price_band.as_ref().map(band).transpose()?,
    };
    params.validate()?;
    Ok(params)
}

/// A Strategy's `drift` block as the core's drift configuration, checked by the core's bounds.
pub fn drift(d: &polyfleet_crds::strategy::DriftAlarms) -> Result<polyfleet_core::config::DriftConfig, ParamsError> {
    let cfg = polyfleet_core::config::DriftConfig {
        markout_horizon_ms: unsigned("drift.markoutHorizonMs", d.markout_horizon_ms)?,
        markout_delta_ppm: unsigned("drift.markoutDeltaPpm", d.markout_delta_ppm)?,
        markout_lambda_ppm: unsigned("drift.markoutLambdaPpm", d.markout_lambda_ppm)?,
        slippage_allowance_ppm: unsigned("drift.slippageAllowancePpm", d.slippage_allowance_ppm)?,
        slippage_threshold_ppm: unsigned("drift.slippageThresholdPpm", d.slippage_threshold_ppm)?,
        burn_in: unsigned("drift.burnIn", i64::from(d.burn_in))?,
        size_factor_bps: unsigned("drift.sizeFactorBps", i64::from(d.size_factor_bps))?,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// A Strategy's experiment arm in the core's terms, checked against the bounds the core shares
/// with the CRD.
pub fn experiment(
    e: &polyfleet_crds::strategy::Experiment,
) -> Result<polyfleet_core::analytics::experiment::Experiment, polyfleet_core::analytics::experiment::ExperimentError> {
    use polyfleet_core::analytics::experiment::{Experiment, ExperimentError, Interleave};
    use polyfleet_core::analytics::sequential::Arm;
    let arm = match e.arm {
        polyfleet_crds::strategy::ExperimentArm::A => Arm::A,
        polyfleet_crds::strategy::ExperimentArm::B => Arm::B,
    };
    let positive = |field: &'static str, v: i64| {
        u64::try_from(v).map_err(|_| ExperimentError::Bound { field, value: 0, max: u64::MAX })
    };
    Experiment::new(
        &e.name,
        arm,
        positive("slotSeconds", e.slot_seconds)?,
        u32::try_from(e.alpha_bps).map_err(|_| ExperimentError::Bound { field: "alphaBps", value: 0, max: 5000 })?,
        positive("effectMicros", e.effect_micros)?,
        positive("burnIn", i64::from(e.burn_in))?,
        positive("maxPairs", i64::from(e.max_pairs))?,
    )
    .map(|x| {
        x.interleaved(match e.interleave {
            polyfleet_crds::strategy::ExperimentInterleave::Market => Interleave::Market,
            polyfleet_crds::strategy::ExperimentInterleave::TimeSlot => Interleave::TimeSlot,
        })
    })
}

/// A shadow Strategy's `status.twin`: its agent's comparison with `live` (`None`: no report yet,
/// or one about another twin, from before `shadowOf` changed).
pub fn twin_status(live: &str, report: Option<&polyfleet_core::analytics::twins::TwinReport>) -> TwinStatus {
    let Some(r) = report.filter(|r| r.live == live) else {
        return TwinStatus {
            live: live.to_string(),
            message: "no comparison from this Strategy's agent yet (it reports every 5 s once running)".into(),
            ..TwinStatus::default()
        };
    };
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let shares = |m: u64| polyfleet_core::Quantity::from_micros(m).to_string();
    let usdc = |m: i64| polyfleet_core::Money::from_micros(m).to_string();
    TwinStatus {
        live: live.to_string(),
        message: format!(
            "{} of {} orders paired ({} the same); live slippage {} USDC, fees {} USDC more",
            r.paired,
            r.orders[0],
            r.same_orders,
            usdc(r.slippage_micros),
            usdc(r.fee_difference_micros)
        ),
        since: i64::try_from(r.since_ns)
            .ok()
            .and_then(|n| k8s_openapi::jiff::Timestamp::from_nanosecond(i128::from(n)).ok())
            .map(|t| t.to_string()),
        shadow_orders: count(r.orders[0]),
        live_orders: count(r.orders[1]),
        paired: count(r.paired),
        same_orders: count(r.same_orders),
        only_shadow: count(r.only_shadow),
        only_live: count(r.only_live),
        shadow_filled: shares(r.shadow_filled_micros),
        live_filled: shares(r.live_filled_micros),
        slippage: usdc(r.slippage_micros),
        fee_difference: usdc(r.fee_difference_micros),
    }
}

/// A model version's forecast scores as the Strategy's status shows them (decimals as text).
pub fn model_score_status(s: &ModelScore) -> ModelScoreStatus {
    let micros = |m: u64| format!("{}.{:06}", m / 1_000_000, m % 1_000_000);
    let bps = |b: i64| {
        format!("{}{}.{:04}", if b < 0 { "-" } else { "" }, b.unsigned_abs() / 10_000, b.unsigned_abs() % 10_000)
    };
    ModelScoreStatus {
        model: s.model.clone(),
        version: s.version.clone(),
        forecasts: i64::try_from(s.forecasts).unwrap_or(i64::MAX),
        brier: micros(s.brier_micros),
        market_brier: s.market_brier_micros.map(micros),
        brier_skill: s.brier_skill_bps.map(bps),
        log_loss: format!("{:.6}", s.log_loss),
        clv_fills: i64::try_from(s.clv_fills).unwrap_or(i64::MAX),
        clv_mean: s.clv_mean_ppm.map(|c| {
            format!(
                "{}{}.{:06}",
                if c < 0 { "-" } else { "" },
                c.unsigned_abs() / 1_000_000,
                c.unsigned_abs() % 1_000_000
            )
        }),
        clv_beat: i64::try_from(s.clv_beat).unwrap_or(i64::MAX),
    }
}

/// A RiskPolicy's `notifications` as the notifier's configuration, with the environment
/// variables its Deployment must fill from Secrets (`POLYFLEET_NOTIFY_URL_<i>` and
/// `POLYFLEET_NOTIFY_TOKEN_<i>` for target `i`). The configuration names the variables, never
/// the values.
pub fn notify_config(
    namespace: &str,
    policy: &str,
    n: &polyfleet_crds::notifications::Notifications,
) -> (polyfleet_core::notify::NotifyConfig, Vec<(String, polyfleet_crds::refs::SecretKeyRef)>) {
    use polyfleet_core::notify::{NotifyConfig, NotifyTarget, TargetKind};
    use polyfleet_core::wire::NoticeKind;
    use polyfleet_crds::notifications::{NotificationEvent as E, NotificationKind as K};
    let mut env = vec![];
    let targets = n
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut var = |what: &str, r: &Option<polyfleet_crds::refs::SecretKeyRef>| {
                r.as_ref().map(|r| {
                    let name = format!("POLYFLEET_NOTIFY_{what}_{i}");
                    env.push((name.clone(), r.clone()));
                    name
                })
            };
            NotifyTarget {
                name: t.name.clone(),
                kind: match t.kind {
                    K::Generic => TargetKind::Generic,
                    K::Slack => TargetKind::Slack,
                    K::Telegram => TargetKind::Telegram,
                },
                url: t.url.clone(),
                url_env: var("URL", &t.url_secret_ref),
                token_env: var("TOKEN", &t.token_secret_ref),
                chat_id: t.chat_id.clone(),
                api_url: t.api_url.clone(),
                events: t
                    .events
                    .iter()
                    .map(|e| match e {
                        E::Trip => NoticeKind::Trip,
                        E::Reset => NoticeKind::Reset,
                        E::CooldownOver => NoticeKind::CooldownOver,
                        E::Mode => NoticeKind::Mode,
                        E::OrderFailure => NoticeKind::OrderFailure,
                        E::DailySummary => NoticeKind::DailySummary,
                    })
                    .collect(),
            }
        })
        .collect();
    let config = NotifyConfig {
        namespace: namespace.into(),
        risk_policy: policy.into(),
        targets,
        max_per_minute: u32::try_from(n.max_per_minute).unwrap_or(1),
        max_attempts: u32::try_from(n.max_attempts).unwrap_or(1),
    };
    (config, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::analytics::twins::TwinReport;

    #[test]
    fn a_twin_report_reads_as_the_shadows_status_and_one_about_another_twin_does_not() {
        let r = TwinReport {
            live: "mm".into(),
            orders: [12, 11],
            since_ns: 1_790_812_800_000_000_000,
            paired: 10,
            only_shadow: 2,
            only_live: 1,
            same_orders: 9,
            shadow_filled_micros: 150_000_000,
            live_filled_micros: 110_500_000,
            slippage_micros: 1_100_000,
            fee_difference_micros: -20_000,
            unmatched_fills: 0,
        };
        let s = twin_status("mm", Some(&r));
        assert_eq!(
            (s.shadow_orders, s.live_orders, s.paired, s.same_orders, s.only_shadow, s.only_live),
            (12, 11, 10, 9, 2, 1)
        );
        assert_eq!(
            (s.shadow_filled.as_str(), s.live_filled.as_str(), s.slippage.as_str(), s.fee_difference.as_str()),
            ("150", "110.5", "1.1", "-0.02")
        );
        assert_eq!(s.since.as_deref(), Some("2026-10-01T00:00:00Z"));
        assert_eq!(s.message, "10 of 12 orders paired (9 the same); live slippage 1.1 USDC, fees -0.02 USDC more");
        // Before the agent reported, or a report about the twin it shadowed before.
        for report in [None, Some(&TwinReport { live: "old".into(), ..r.clone() })] {
            let s = twin_status("mm", report);
            assert_eq!((s.live.as_str(), s.paired, s.since), ("mm", 0, None));
            assert!(s.message.starts_with("no comparison"), "{}", s.message);
        }
    }
}

//! Shared by the tests and the throughput benchmark: an arbitrage strategy over every neg-risk
//! event of a simulator model, wide or given limits, and the model's frames as market events
//! (through the market-data normalizer).

#![allow(dead_code)]

use polyfleet_backtest::engine::EngineConfig;
use polyfleet_core::config::{RiskCaps, SetConfig, StrategyConfig, StrategyParams, StrategyType, TokenConfig};
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::strategy::arbitrage::{ArbParams, LegOrderType, SetKind};
use polyfleet_core::wire::{MarketEvent, Mode};
use polyfleet_core::{Money, Quantity};
use polyfleet_polymarket::data::normalize::{Action, Normalizer};
use polyfleet_sim::Simulator;
use polyfleet_sim::model::SimEvent;

/// Limits that never stop the strategy.
pub fn wide() -> RiskLimits {
    RiskLimits {
        mode: polyfleet_core::risk::RiskMode::Off,
        reset: 0,
        trip_cooldown_ms: None,
        max_order_size: Quantity::from_micros(u64::MAX / 4),
        max_order_notional: Money::from_micros(i64::MAX / 4),
        max_position_per_market: Quantity::from_micros(u64::MAX / 4),
        max_gross_exposure: Money::from_micros(i64::MAX / 4),
        max_daily_loss: Money::from_micros(i64::MAX / 4),
        max_drawdown: Money::from_micros(i64::MAX / 4),
        max_orders_per_minute: u32::MAX,
        max_orders_per_day: None,
        min_book_liquidity: None,
        circuit_breaker: None,
        max_loss_at_resolution: None,
        max_event_exposure: None,
        group_limits: vec![],
        kelly_budget: None,
    }
}

fn legs(sim: &Simulator, e: &SimEvent) -> Vec<TokenConfig> {
    e.markets
        .iter()
        .map(|&i| {
            let m = &sim.markets()[i];
            TokenConfig {
                market: m.condition.to_string(),
                token: m.yes.to_string(),
                min_size_micros: m.min_order_size.micros(),
                fee_rate_bps: 0,
                fee_exponent: 1,
                outcome: None,
                maker_rebate_bps: 0,
                rewards: None,
            }
        })
        .collect()
}

/// Complete-set arbitrage over every event of `sim` under policy `bench/<policy>`.
pub fn arb(sim: &Simulator, policy: &str) -> StrategyConfig {
    StrategyConfig {
        namespace: "bench".into(),
        name: "arb".into(),
        risk_policy: policy.into(),
        venue: "sim".into(),
        mode: Mode::Paper,
        type_: StrategyType::Arbitrage,
        risk_caps: RiskCaps {
            max_order_size_micros: 1_000_000_000,
            max_order_notional_micros: 1_000_000_000,
            max_gross_exposure_micros: 0,
            capital_micros: 0,
            kelly_budget_micros: 0,
        },
        sets: sim
            .events()
            .iter()
            .map(|e| SetConfig { kind: SetKind::NegRisk, legs: legs(sim, e), convert_fee_bips: 0 })
            .collect(),
        tokens: vec![],
        quoted: vec![],
        series: vec![],
        parameters: StrategyParams::Arbitrage(ArbParams {
            min_edge_bps: 50,
            max_notional_per_leg_micros: 25_000_000,
            order_type: LegOrderType::Fok,
            leg_timeout_ms: 2000,
            cooldown_ms: 200,
            sell_back_above_cost: true,
        }),
        drift: None,
        shadow_of: None,
        time_slots: None,
    }
}

/// The arbitrage strategy under `limits` (policy `bench/wide`).
pub fn config(sim: &Simulator, limits: RiskLimits) -> EngineConfig {
    EngineConfig {
        strategies: vec![arb(sim, "wide")],
        limits: vec![("bench".into(), "wide".into(), limits)],
        liquidity_band_bps: 200,
        sample_every_ns: 1_000_000_000,
        latency_ns: 0,
    }
}

/// Turns the model's frames into market events, as the market-data agent would.
pub struct Feed {
    norm: Normalizer,
    actions: Vec<Action>,
    /// Frames fed.
    pub frames: u64,
}

impl Feed {
    /// A feed of every token of `sim`, primed with a snapshot of each.
    pub fn new(sim: &Simulator) -> (Feed, Vec<MarketEvent>) {
        let tokens: Vec<_> = sim.markets().iter().flat_map(|m| [m.yes, m.no]).collect();
        let mut feed = Feed { norm: Normalizer::new(tokens.iter().copied()), actions: vec![], frames: 0 };
        let mut out = vec![];
        for t in &tokens {
            if let Some(f) = sim.snapshot_frame(t) {
                feed.push(f.as_bytes(), sim.now_ms(), &mut out);
            }
        }
        (feed, out)
    }

    /// Normalizes one frame received at `now_ms` into `out`.
    pub fn push(&mut self, frame: &[u8], now_ms: u64, out: &mut Vec<MarketEvent>) {
        self.frames += 1;
        self.norm.on_frame(frame, now_ms * 1_000_000, &mut self.actions);
        out.extend(self.actions.drain(..).filter_map(|a| match a {
            Action::Publish(ev) => Some(ev),
            Action::Resync(_) | Action::ConfirmResolution(_) => None,
        }));
    }

    /// Steps the model until at least `n` more events are in `out`.
    pub fn step(&mut self, sim: &mut Simulator, n: usize, out: &mut Vec<MarketEvent>) {
        let target = out.len() + n;
        while out.len() < target {
            for f in sim.step() {
                self.push(f.text.as_bytes(), sim.now_ms(), out);
            }
        }
    }
}

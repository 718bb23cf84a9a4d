//! What `polyfleet up`, `polyfleet backtest` and `venue-sim --generate -f` share: the resource
//! directory loaded and planned by the operator's own code ([`polyfleet_operator::local`]), the
//! simulator a `simulator` Venue describes, with the directory's Markets declared in it under the
//! ids they name, and the catalog the Markets are resolved from.

use std::path::Path;

use anyhow::Context;
use kube::ResourceExt;
use polyfleet_core::clock::{MAX_RATE, VenueClock};
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_crds::Venue;
use polyfleet_crds::market::MarketType;
use polyfleet_crds::venue::VenueKind;
use polyfleet_operator::local::{LocalPlan, Resources, expand_series, plan, resolve};
use polyfleet_operator::lookup::MarketQuery;
use polyfleet_operator::planner::market::query;
use polyfleet_operator::settings::FleetSettings;
use polyfleet_polymarket::data::catalog::Catalog;
use polyfleet_sim::declare::{Declared, DeclaredOutcome};
use polyfleet_sim::{SimConfig, Simulator};

/// Model time the generated recordings start at (2026-01-01).
pub const DEFAULT_START_MS: u64 = 1_767_225_600_000;

/// Loads a resource directory (see [`Resources::load`]).
pub fn load(dir: &Path, namespace: &str) -> anyhow::Result<Resources> {
    let res = Resources::load(dir, namespace)?;
    anyhow::ensure!(!res.strategies.is_empty(), "{}: no Strategy to run", dir.display());
    Ok(res)
}

/// Loads what a simulator declares (`venue-sim -f`): a Venue of kind simulator and its Markets;
/// unlike [`load`] it needs no Strategy (the operator's in-cluster simulator gets only those).
pub fn load_declared(dir: &Path) -> anyhow::Result<Resources> {
    Ok(Resources::load(dir, "default")?)
}

/// The simulator Venue of the resources (the first one), if any.
pub fn simulator_venue(res: &Resources) -> Option<&Venue> {
    res.venues.iter().find(|v| v.spec.kind == VenueKind::Simulator)
}

/// How a simulator Venue's model is stepped: model milliseconds per step, and steps per wall
/// second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Model time per step.
    pub step_ms: u64,
    /// Steps per wall second.
    pub steps_per_second: u32,
}

/// The pace of `venue`'s simulator: `eventsPerSecond` steps a wall second, each of a share of the
/// wall second; at `clockRate` r, r times as much model time per step, the steps per second
/// rounded so that the model's time runs exactly r times the wall's (the venue clock the agents
/// read). `real_time`: as at r = 1 (a generated recording has no wall clock).
pub fn pace(venue: &Venue, real_time: bool) -> Pace {
    let s = venue.spec.simulator.clone().unwrap_or_default();
    let eps = u64::from(s.events_per_second.max(1).unsigned_abs());
    let r = if real_time { 1 } else { u64::from(s.clock_rate.clamp(1, MAX_RATE as i32).unsigned_abs()) };
    let step_ms = (1000 * r / eps).max(1);
    let steps = if r == 1 { eps } else { 1000 * r / step_ms };
    Pace { step_ms, steps_per_second: u32::try_from(steps).unwrap_or(u32::MAX) }
}

/// The venue clock a local run of `venue` reads, anchored at `anchor_ms` (none: real time).
pub fn venue_clock(venue: &Venue, anchor_ms: u64) -> Option<VenueClock> {
    let rate = venue.spec.simulator.as_ref().map_or(1, |s| s.clock_rate);
    (rate > 1).then(|| VenueClock::new(anchor_ms, rate.unsigned_abs()).ok()).flatten()
}

/// The model of a simulator Venue, started at `start_ms` and stepped at `pace`, with every Market
/// of that Venue declared.
pub fn simulator(res: &Resources, venue: &Venue, start_ms: u64, pace: Pace) -> Simulator {
    let s = venue.spec.simulator.clone().unwrap_or_default();
    let cfg = SimConfig {
        seed: u64::try_from(s.seed).unwrap_or(0),
        binary_markets: 0,
        neg_risk_events: vec![],
        mispricing_bps: u32::try_from(s.mispricing_bps).unwrap_or(0),
        flow: polyfleet_sim::model::Flow {
            trade_pct: u32::try_from(s.trade_percent).unwrap_or(0),
            move_pct: u32::try_from(s.move_percent).unwrap_or(0),
            informed_pct: u32::try_from(s.informed_percent).unwrap_or(0),
        },
        start_ms,
        step_ms: pace.step_ms,
        fee_rate_bps: u32::try_from(s.fee_rate_bps).unwrap_or(0),
        maker_rebate_bps: u32::try_from(s.maker_rebate_bps).unwrap_or(0),
        rewards: s.rewards.as_ref().and_then(polyfleet_operator::contract::reward_rules),
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(cfg);
    sim.set_resolve_after_ms(
        s.resolve_after_seconds.and_then(|r| u64::try_from(r).ok()).map(|r| r.saturating_mul(1000)),
    );
    let now_s = start_ms / 1000;
    for m in res.markets.iter().filter(|m| m.spec.venue_ref.name == venue.name_any()) {
        if let Some(d) = declared(m, now_s) {
            sim.declare(&d);
        }
    }
    sim
}

/// What a Market asks the simulator to simulate.
fn declared(m: &polyfleet_crds::Market, now_s: u64) -> Option<Declared> {
    let event = m.spec.type_ == MarketType::NegRiskEvent;
    Some(match query(&m.spec, now_s).ok()? {
        MarketQuery::Condition(c) => Declared::Binary { condition: Some(c), slug: None, tokens: None },
        MarketQuery::Slug(s) => Declared::Binary { condition: None, slug: Some(s), tokens: None },
        MarketQuery::Event(slug) => Declared::Event {
            slug: Some(slug),
            outcomes: (0..3)
                .map(|k| DeclaredOutcome {
                    label: format!("Outcome {k}"),
                    token: None,
                    condition: None,
                    no_token: None,
                })
                .collect(),
        },
        MarketQuery::Tokens(ts) if event => Declared::Event {
            slug: m.spec.event_slug.clone(),
            outcomes: m
                .spec
                .tokens
                .iter()
                .flatten()
                .zip(ts)
                .map(|(t, id)| DeclaredOutcome {
                    label: t.outcome.clone(),
                    token: Some(id),
                    condition: t.condition_id.as_deref().and_then(|c| ConditionId::parse(c).ok()),
                    no_token: t.no_token_id.as_deref().and_then(|n| TokenId::parse(n).ok()),
                })
                .collect(),
        },
        MarketQuery::Tokens(ts) => {
            let (yes, no): (TokenId, TokenId) = (*ts.first()?, *ts.get(1)?);
            let condition = m.spec.condition_id.as_deref().and_then(|c| ConditionId::parse(c).ok());
            Declared::Binary { condition, slug: None, tokens: Some((yes, no)) }
        }
    })
}

/// Resolves the Markets from `catalog` as of `now_ms` and plans the Strategies; refuses a plan
/// with nothing to run, saying why.
pub fn plan_with(res: &mut Resources, catalog: &Catalog, now_ms: u64) -> anyhow::Result<LocalPlan> {
    resolve(&mut res.markets, catalog, now_ms / 1000, &rfc3339(now_ms));
    planned(res)
}

/// Like [`plan_with`], for a backtest or a local run: a `series` Market stands for every round
/// of it the catalog holds from `now_ms` on ([`expand_series`]), so the strategies trade each
/// round in turn (a recording's catalog lists every round it saw; the embedded simulator's, at
/// start, the running round and the next).
pub fn plan_rounds(res: &mut Resources, catalog: &Catalog, now_ms: u64) -> anyhow::Result<LocalPlan> {
    let now = rfc3339(now_ms);
    resolve(&mut res.markets, catalog, now_ms / 1000, &now);
    expand_series(&mut res.markets, catalog, now_ms / 1000, &now);
    planned(res)
}

fn rfc3339(ms: u64) -> String {
    k8s_openapi::jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(0))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn planned(res: &Resources) -> anyhow::Result<LocalPlan> {
    let p = plan(res, &FleetSettings::default());
    for (name, r) in &p.refused {
        eprintln!("Strategy {name} cannot run: {} ({})", r.message, r.reason);
    }
    if !p.unresolved.is_empty() {
        eprintln!("Markets the venue does not know: {}", p.unresolved.join(", "));
    }
    anyhow::ensure!(!p.strategies.is_empty(), "no Strategy can run");
    Ok(p)
}

/// The built-in model publishers the plan asks for, each once (a series Market expanded into its
/// rounds asks for its model once per round).
pub fn model_specs(plan: &polyfleet_operator::local::LocalPlan) -> Vec<polyfleet_backtest::signals::ModelSpec> {
    let mut out: Vec<polyfleet_backtest::signals::ModelSpec> = vec![];
    for m in plan.strategies.iter().flat_map(|s| &s.models) {
        // The sports model reads a live odds feed, which recordings do not carry.
        let Some((coin, period, settings)) = m.up_down() else { continue };
        let spec = polyfleet_backtest::signals::ModelSpec {
            coin: coin.to_string(),
            period: period.to_string(),
            settings,
            publishing: m.publishing(),
        };
        if !out.contains(&spec) {
            out.push(spec);
        }
    }
    out
}

/// The catalog of a recording (`<recording>.markets.json`), or the one given.
pub fn catalog_of(recording: &Path, given: Option<&Path>) -> anyhow::Result<Catalog> {
    let path = given.map(Path::to_path_buf).unwrap_or_else(|| Catalog::beside(recording));
    Catalog::read(&path).with_context(|| {
        format!(
            "the Markets are resolved from a market catalog; `polyfleet venue-sim --generate` writes one beside \
             its recording, or pass --catalog ({} is missing or unreadable)",
            path.display()
        )
    })
}

//! The simulator's market resolutions, through the market-data normalizer as an agent sees them:
//! on command (one market, once) and on schedule (every market at the given model time, one
//! winner per neg-risk event, a binary market to the side its price favours), after which a
//! resolved market is silent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::HashMap;

use polyfleet_core::TokenId;
use polyfleet_core::wire::MarketEventBody;
use polyfleet_polymarket::data::normalize::{Action, Normalizer};
use polyfleet_sim::{SimConfig, Simulator};

/// Every `Resolved` event the normalizer publishes for `frames`: token -> winner.
fn resolved(norm: &mut Normalizer, frames: &[String]) -> HashMap<TokenId, bool> {
    let mut out = vec![];
    for f in frames {
        norm.on_frame(f.as_bytes(), 1, &mut out);
    }
    out.into_iter()
        .filter_map(|a| match a {
            Action::Publish(ev) => match ev.body {
                MarketEventBody::Resolved { winner } => Some((ev.token, winner)),
                _ => None,
            },
            Action::Resync(_) | Action::ConfirmResolution(_) => None,
        })
        .collect()
}

fn subscribed(sim: &Simulator) -> Normalizer {
    let tokens: Vec<TokenId> = sim.markets().iter().flat_map(|m| [m.yes, m.no]).collect();
    let mut norm = Normalizer::new(tokens.iter().copied());
    let mut out = vec![];
    for t in &tokens {
        norm.on_frame(sim.snapshot_frame(t).unwrap().as_bytes(), 1, &mut out);
    }
    norm
}

#[test]
fn a_market_resolved_on_command_announces_its_winner_once_and_falls_silent() {
    let mut sim = Simulator::new(SimConfig { binary_markets: 1, neg_risk_events: vec![], ..SimConfig::default() });
    let mut norm = subscribed(&sim);
    let m = sim.markets()[0].clone();
    let frame = sim.resolve(0, false).expect("an open market resolves");
    let got = resolved(&mut norm, &[frame.text]);
    assert_eq!(got, HashMap::from([(m.yes, false), (m.no, true)]), "NO won");
    assert_eq!(sim.resolution(0), Some(false));
    assert!(sim.resolve(0, true).is_none(), "a market resolves once");
    // Nothing more comes from it.
    let after: usize = (0..500).map(|_| sim.step().len()).sum();
    assert_eq!(after, 0, "a resolved market is silent");
}

#[test]
fn every_market_resolves_on_schedule_with_one_winner_per_event() {
    let cfg = SimConfig {
        binary_markets: 2,
        neg_risk_events: vec![3],
        resolve_after_ms: Some(2_000),
        step_ms: 5,
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(cfg);
    let mut norm = subscribed(&sim);
    let mut frames = vec![];
    let mut steps_to_resolution = None;
    for k in 0..1_000 {
        let out = sim.step();
        if out.iter().any(|f| f.text.contains("market_resolved")) && steps_to_resolution.is_none() {
            steps_to_resolution = Some(k + 1);
        }
        frames.extend(out.into_iter().map(|f| f.text));
    }
    assert_eq!(steps_to_resolution, Some(400), "2 s of model time at 5 ms a step");
    let got = resolved(&mut norm, &frames);
    // Every token of every market announced, YES and NO opposite.
    for m in sim.markets() {
        assert_eq!(got.get(&m.yes).map(|w| !w), got.get(&m.no).copied(), "{}", m.slug);
        assert!(got.contains_key(&m.yes), "{} resolved", m.slug);
    }
    let event = &sim.events()[0];
    let winners = event.markets.iter().filter(|&&i| got[&sim.markets()[i].yes]).count();
    assert_eq!(winners, 1, "one outcome of the event wins");
    assert!(sim.markets().iter().enumerate().all(|(i, _)| sim.resolution(i).is_some()));
}

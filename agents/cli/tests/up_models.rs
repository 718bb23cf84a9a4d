//! The embedded venue of `polyfleet up` runs the built-in crypto model on the simulator's
//! reference prices: the in-process feed ([`polyfleet_cli::up::feed::run`]) steps a simulator
//! with a BTC 5-minute series at 20 times the wall clock (100 steps of 200 ms a second), and the
//! model prices the round that starts while it runs, publishing on the in-memory bus what the
//! `updown-model` agent publishes: the Up and Down tokens of that round (never the round running
//! at start, whose strike it did not see), each pair summing to one, valid for the configured
//! time after the price it came from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::time::{Duration, Instant};

use futures::StreamExt;
use polyfleet_backtest::signals::ModelSpec;
use polyfleet_core::models::rounds::Publishing;
use polyfleet_core::models::updown::UpDownSettings;
use polyfleet_core::wire::signal::{FairValue, PPM, subject_all};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::memory::MemoryBus;
use polyfleet_sim::{SimConfig, Simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_feed_prices_the_next_round_from_the_simulator_prices() {
    // 20 simulated seconds before a 5-minute boundary.
    let boundary_s = (1_767_225_600_000 + 3_000_000) / 1000;
    let mut sim = Simulator::new(SimConfig {
        binary_markets: 0,
        neg_risk_events: vec![],
        start_ms: boundary_s * 1000 - 20_000,
        step_ms: 200,
        ..SimConfig::default()
    });
    assert!(sim.declare_series("btc", "5m"));
    let round = |start_s: u64| {
        sim.markets().iter().find(|m| m.round.as_ref().is_some_and(|r| r.start_s == start_s)).map(|m| (m.yes, m.no))
    };
    let (up, down) = round(boundary_s).expect("the next round is listed ahead");
    let running = round(boundary_s - 300).expect("the running round is listed");

    let bus = MemoryBus::new();
    let mut signals = bus.subscribe(&subject_all("sim")).await.unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let spec = ModelSpec {
        coin: "btc".into(),
        period: "5m".into(),
        settings: UpDownSettings::default(),
        publishing: Publishing { model: "btc-5m".into(), model_version: "t1".into(), valid_for_ms: 3_000 },
    };
    let live = polyfleet_cli::up::feed::Live { models: vec![spec], rounds: Default::default(), pinned: false };
    let feed = tokio::spawn(polyfleet_cli::up::feed::run(bus.clone(), "sim".into(), sim, 100, live, stop));

    let mut seen: Vec<FairValue> = vec![];
    let deadline = Instant::now() + Duration::from_secs(40);
    while seen.len() < 40 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(m)) = tokio::time::timeout(left, signals.next()).await else {
            panic!("40 signals within 40 s; got {}", seen.len())
        };
        let fv = FairValue::decode(&m.payload, 0, None).unwrap();
        assert_eq!(m.subject, format!("signal.sim.{}", fv.token));
        seen.push(fv);
    }
    let _ = stop_tx.send(true);
    feed.await.unwrap().unwrap();

    assert!(seen.iter().all(|s| s.token == up || s.token == down), "only the round that started while it ran");
    assert!(!seen.iter().any(|s| s.token == running.0 || s.token == running.1));
    for pair in seen.chunks(2) {
        assert_eq!((pair[0].token, pair[1].token), (up, down), "Up then Down");
        assert_eq!(pair[0].probability_ppm + pair[1].probability_ppm, PPM);
        assert!(pair.iter().all(|s| s.model == "btc-5m" && s.model_version == "t1"));
        let published = pair[0].published_ms.unwrap();
        assert!(published >= boundary_s * 1000, "priced from its start on");
        assert_eq!(pair[0].valid_until_ms, published + 3_000);
    }
}

//! Parity with a built-in model: the crypto up/down example over a recording of rolling 5-minute
//! rounds and the reference price stream, through the local fleet (`polyfleet up --replay`: the
//! series Market stands for every round of the recording's catalog, the model's fair values are
//! published on the bus at their time in lockstep with the market events, the real strategy,
//! risk and execution agents trade them) and through `polyfleet backtest`. Rounds roll, resolve
//! and settle in both; the fills, the PnL and the forecast scores (Brier, the market's Brier,
//! skill, closing-line value) are the same, and the `up` summary carries the scores.
//!
//! Its own test binary: a replaying fleet sets the agents' process-wide clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::BTreeMap;

mod common;

use polyfleet_cli::backtest::run as backtest;
use polyfleet_cli::up::run as up;
use polyfleet_core::{Price, Quantity, Side};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_and_the_backtest_trade_rolling_rounds_on_the_model_alike() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("polyfleet-parity-models-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // 2 model steps a second keep the lockstep replay short: about 15 minutes in 6 000 frames.
    let resources = common::crypto_resources(&dir, 2);
    let rec = dir.join("rec.jsonl");
    let res = polyfleet_cli::local::load(&resources, "default").unwrap();
    let venue = polyfleet_cli::local::simulator_venue(&res).unwrap();
    let mut sim = polyfleet_cli::local::simulator(
        &res,
        venue,
        polyfleet_cli::local::DEFAULT_START_MS,
        polyfleet_cli::local::pace(venue, true),
    );
    let mut file = polyfleet_cli::record::create(&rec).unwrap();
    polyfleet_cli::generate::generate_from(&mut sim, 6_000, &mut *file).unwrap();
    drop(file);
    // The catalog at the end: every round listed while the recording ran.
    sim.catalog().write(&polyfleet_polymarket::data::catalog::Catalog::beside(&rec)).unwrap();

    let args = common::backtest_args(&resources, &rec, dir.join("report"));
    let report = tokio::task::spawn_blocking(move || backtest(&args)).await.unwrap().unwrap().remove(0);
    let line = report.strategies.iter().find(|l| l.name == "btc-updown").unwrap();
    let i = report.strategies.iter().position(|l| l.name == "btc-updown").unwrap();
    // Shares filled per token, side and price: the backtest's engine may split one taker order's
    // fill at a price in two where the paper executor reports one.
    let by_price = |fills: &mut dyn Iterator<Item = (String, Side, Price, Quantity)>| {
        let mut out: BTreeMap<(String, String, Price), Quantity> = BTreeMap::new();
        for (token, side, price, size) in fills {
            let q = out.entry((token, format!("{side:?}"), price)).or_insert(Quantity::ZERO);
            *q = q.saturating_add(size);
        }
        out
    };
    let journal = &report.journal.fills;
    let expected = by_price(
        &mut journal.iter().filter(|f| f.strategy == i).map(|f| (f.token.to_string(), f.side, f.price, f.size)),
    );
    assert!(expected.len() > 5, "the model trades: {expected:?}");
    assert!(line.settlements >= 2, "rounds resolve and settle: {line:?}");

    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let up_args = common::replay_args(&resources, &rec);
    let outcome = up(up_args, stop_rx).await.unwrap();
    let (_, fills) = outcome.fills.iter().find(|(n, _)| n == "btc-updown").unwrap();
    let got = by_price(&mut fills.iter().map(|f| (f.token.to_string(), f.side, f.price, f.size)));
    assert_eq!(got, expected, "fills differ");
    let pnl = outcome.strategies.iter().find(|(n, _, _)| n == "btc-updown").unwrap().2.expect("PnL known");
    assert_eq!(pnl.to_string(), line.pnl_usdc, "PnL differs");
    let (_, life) = outcome.lifecycle.iter().find(|(n, _)| n == "btc-updown").unwrap();
    let life = life.expect("lifecycle known");
    assert_eq!((life.settlements, life.redemptions), (line.settlements, line.redemptions));
    // The same forecasts, scored the same: the model's fair values reached the agent at the
    // same moments, against the same books.
    let (_, scores) = outcome.scores.iter().find(|(n, _)| n == "btc-updown").unwrap();
    assert!(!scores.is_empty() && scores[0].forecasts > 0, "the up summary carries scores: {scores:?}");
    assert_eq!(scores, &line.forecasts);
    let _ = std::fs::remove_dir_all(&dir);
}

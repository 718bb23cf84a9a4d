//! Parity: one recording through the local fleet (`polyfleet up --replay`: the real agents on the
//! in-memory bus, paper, replayed in lockstep at the recording's time) and through `polyfleet
//! backtest` (the engine, no bus) gives the same fills and the same PnL. The recording ends with
//! every market resolving: both settle the positions and redeem the winners the same way, and both
//! convert the same NO baskets. The
//! arbitrage strategy is compared here (the directional strategy on a built-in model in
//! `parity_models.rs`; the market maker is not compared). The fleet replays the recording's
//! columnar conversion (`polyfleet convert`), so the comparison also covers the columnar path
//! (`parity_models.rs` replays JSON Lines); a backtest of the conversion gives the same report as
//! one of the recording.
//!
//! Its own test binary: a replaying fleet sets the agents' process-wide clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod common;

use common::examples;
use polyfleet_cli::backtest::run as backtest;
use polyfleet_cli::up::run as up;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_and_the_backtest_fill_the_same_orders_for_the_same_pnl() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("polyfleet-parity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rec = dir.join("rec.jsonl");
    let res = polyfleet_cli::local::load(&examples(), "default").unwrap();
    let venue = polyfleet_cli::local::simulator_venue(&res).unwrap();
    let mut sim = polyfleet_cli::local::simulator(
        &res,
        venue,
        polyfleet_cli::local::DEFAULT_START_MS,
        polyfleet_cli::local::pace(venue, true),
    );
    // Every market resolves 8 s of model time in (about 4 000 frames); the recording ends there.
    sim.set_resolve_after_ms(Some(8_000));
    // For the first 1 500 frames outcome 0 of the event is 6 cents dear: its YES bids sum above 1,
    // so the NO basket costs less than the 2 USDC it converts into. Then outcome 1 stays 6 cents
    // cheap until the end: the strategy buys YES sets and holds them (their bids never pay what
    // they cost), so the resolution settles them and the winners are redeemed.
    let _ = sim.overprice(0, 0, 100_000).expect("event 0 has outcome 0");
    sim.catalog().write(&polyfleet_polymarket::data::catalog::Catalog::beside(&rec)).unwrap();
    let mut file = polyfleet_cli::record::create(&rec).unwrap();
    polyfleet_cli::generate::generate_from(&mut sim, 1_500, &mut *file).unwrap();
    let _ = sim.overprice(0, 0, 0);
    let _ = sim.misprice(0, 1, 100_000).expect("event 0 has outcome 1");
    polyfleet_cli::generate::generate_from(&mut sim, 4_500, &mut *file).unwrap();
    drop(file);

    let args = common::backtest_args(&examples(), &rec, dir.join("report"));
    let report = tokio::task::spawn_blocking(move || backtest(&args)).await.unwrap().unwrap().remove(0);
    let arb = report.strategies.iter().position(|l| l.name == "negrisk-arb").unwrap();
    let mut expected: Vec<String> = report
        .journal
        .fills
        .iter()
        .filter(|f| f.strategy == arb)
        .map(|f| format!("{} {:?} {} {} {}", f.token, f.side, f.price, f.size, f.fee))
        .collect();

    // The columnar conversion backtests to the same report (its frame accounting aside, which
    // counts frames of tokens no strategy trades as events: every catalog token was served).
    let arrow = dir.join("rec.arrow");
    polyfleet_cli::convert::run(&rec, None, &arrow, Default::default()).unwrap();
    let args = common::backtest_args(&examples(), &arrow, dir.join("report-columnar"));
    let columnar = tokio::task::spawn_blocking(move || backtest(&args)).await.unwrap().unwrap().remove(0);
    assert_eq!(columnar.input.converted_from.as_deref(), Some("rec.jsonl"));
    assert_eq!(columnar.input.events, report.input.events);
    assert_eq!(columnar.input.frames, report.input.frames);
    let strip = |r: &polyfleet_backtest::report::Report| {
        let mut v = serde_json::to_value(r).unwrap();
        v.as_object_mut().unwrap().remove("input");
        v
    };
    assert_eq!(strip(&columnar), strip(&report), "the columnar recording backtests differently");

    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let up_args = common::replay_args(&examples(), &arrow);
    let outcome = up(up_args, stop_rx).await.unwrap();
    let (_, fills) = outcome.fills.iter().find(|(n, _)| n == "negrisk-arb").unwrap();
    let mut got: Vec<String> =
        fills.iter().map(|f| format!("{} {:?} {} {} {}", f.token, f.side, f.price, f.size, f.fee)).collect();
    assert!(expected.len() > 5, "the recording has opportunities: {} fills", expected.len());
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "fills differ");
    let pnl = outcome.strategies.iter().find(|(n, _, _)| n == "negrisk-arb").unwrap().2.expect("PnL known");
    let line = &report.strategies[arb];
    assert_eq!(pnl.to_string(), line.pnl_usdc, "PnL differs");
    // The same settlements and redemptions, and the same money from them.
    let (_, life) = outcome.lifecycle.iter().find(|(n, _)| n == "negrisk-arb").unwrap();
    let life = life.expect("lifecycle known");
    assert!(line.settlements > 0 && line.redemptions > 0, "the recording resolves the bought sets: {line:?}");
    assert_eq!(
        (life.settlements, life.settled_pnl.to_string(), life.redemptions, life.redeemed.to_string()),
        (line.settlements, line.settled_usdc.clone(), line.redemptions, line.redeemed_shares.clone())
    );
    // NO baskets converted (the model's premiums), the same in both.
    assert!(line.conversions > 0, "the recording has baskets to convert: {line:?}");
    assert_eq!(life.conversions, line.conversions);
    assert_eq!(life.capital_returned.to_string(), line.capital_returned_usdc);
    assert_eq!(line.cash_usdc, line.realized_usdc, "everything redeemed: cash is the PnL");
    let _ = std::fs::remove_dir_all(&dir);
}

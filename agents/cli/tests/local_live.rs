//! The local fleet runs paper and shadow Strategies only: a `live` one (on a Venue that
//! acknowledges live trading) is refused with a reason instead of being filled on paper while
//! saying live.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::PathBuf;

use polyfleet_crds::refs::SecretRef;
use polyfleet_crds::venue::{ExecutionMode, LiveTrading};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../manifests/examples")
}

#[test]
fn a_live_strategy_is_refused_by_the_local_fleet() {
    let mut res = polyfleet_cli::local::load(&examples(), "default").unwrap();
    let venue = polyfleet_cli::local::simulator_venue(&res).unwrap();
    let catalog = polyfleet_cli::local::simulator(
        &res,
        venue,
        polyfleet_cli::local::DEFAULT_START_MS,
        polyfleet_cli::local::pace(venue, true),
    )
    .catalog();
    let runnable = polyfleet_cli::local::plan_with(&mut res.clone(), &catalog, polyfleet_cli::local::DEFAULT_START_MS)
        .unwrap()
        .strategies
        .len();
    assert!(runnable > 0, "the examples run locally in paper mode");
    for v in &mut res.venues {
        v.spec.live_trading = Some(LiveTrading { acknowledged: true, ..Default::default() });
        v.spec.credentials_secret_ref = Some(SecretRef { name: "creds".into() });
    }
    for s in &mut res.strategies {
        s.spec.mode = ExecutionMode::Live;
    }
    let err = polyfleet_cli::local::plan_with(&mut res, &catalog, polyfleet_cli::local::DEFAULT_START_MS).unwrap_err();
    assert_eq!(err.to_string(), "no Strategy can run");
    let plan = polyfleet_operator::local::plan(&res, &polyfleet_operator::settings::FleetSettings::default());
    assert!(!plan.refused.is_empty());
    assert!(
        plan.refused.iter().all(|(_, r)| r.reason == "LiveTradingNotLocal"),
        "{:?}",
        plan.refused.iter().map(|(n, r)| (n, r.reason)).collect::<Vec<_>>()
    );
    assert!(plan.refused.iter().any(|(_, r)| r.reason == "LiveTradingNotLocal"));
}

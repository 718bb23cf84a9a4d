//! Gamma payloads from `agents/polymarket/tests/data/polymarket/` resolve into markets with exact values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::PathBuf;

use polyfleet_core::models::updown::{Resolution, resolution_of};
use polyfleet_core::{Money, Price, Quantity, TokenId};
use polyfleet_polymarket::http::markets::{parse_fee_rate, parse_gamma_market};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/polymarket").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[test]
fn crypto_round_with_json_encoded_lists() {
    let m = parse_gamma_market(&fixture("gamma_market.json")).unwrap();
    assert_eq!(m.slug, "btc-updown-5m-1773307200");
    assert_eq!(m.tokens.len(), 2);
    assert_eq!(m.tokens[0].outcome, "Up");
    assert_eq!(
        m.tokens[0].token_id,
        TokenId::parse("104239898038807136052399800151408521467737075933964991162589336683346093173875").unwrap()
    );
    assert_eq!(m.tick_size, Some(Price::parse("0.01").unwrap()));
    assert_eq!(m.min_order_size, Quantity::parse("5").unwrap());
    assert_eq!(m.taker_base_fee, Some(1000));
    assert!(m.accepting_orders && !m.closed && !m.neg_risk);
    assert_eq!(m.end_date.as_deref(), Some("2026-03-12T09:25:00Z"));
    assert_eq!(m.start_date.as_deref(), Some("2026-03-12T09:20:00Z"));
    // A round from before August 2026: it resolves on the Chainlink stream itself, not a TWAP.
    let rules = m.rules.as_deref().unwrap();
    assert!(rules.ends_with("https://data.chain.link/streams/btc-usd"), "{rules}");
    assert_eq!(resolution_of(rules), Resolution::Spot);
}

#[test]
fn closed_and_legacy_markets() {
    let closed = parse_gamma_market(&fixture("gamma_market_closed_binary_accepting_false.json")).unwrap();
    assert!(closed.closed && !closed.accepting_orders);
    assert_eq!(closed.tick_size, Some(Price::parse("0.001").unwrap()));
    assert_eq!(closed.taker_base_fee, None, "fees disabled");
    let legacy = parse_gamma_market(&fixture("gamma_market_closed_nonbinary_legacy.json")).unwrap();
    assert_eq!(legacy.tick_size, None, "a legacy market states no tick: none is assumed");
    assert_eq!(legacy.tokens.iter().map(|t| t.outcome.as_str()).collect::<Vec<_>>(), ["Long", "Short"]);
    let sports = parse_gamma_market(&fixture("gamma_market_sports_market_map_handicap.json")).unwrap();
    assert_eq!(sports.tokens[0].outcome, "FaZe");
}

#[test]
fn reward_programs_and_rebate_shares() {
    let m = parse_gamma_market(&fixture("gamma_market.json")).unwrap();
    let r = m.rewards.unwrap();
    assert_eq!(r.min_size, Quantity::parse("50").unwrap());
    assert_eq!(r.max_spread, Price::parse("0.045").unwrap(), "4.5 cents, as is");
    assert_eq!(r.daily_pool, Money::ZERO, "no clobRewards in the payload");
    assert_eq!(m.maker_rebate_bps, None, "no feeSchedule: makerRebatesFeeShareBps is not read");
    let sports = parse_gamma_market(&fixture("gamma_market_sports_market_map_handicap.json")).unwrap();
    assert_eq!(sports.maker_rebate_bps, Some(2500));
    let mut with_pool = fixture("gamma_market.json");
    with_pool["clobRewards"] = serde_json::json!([{"rewardsDailyRate": 25}, {"rewardsDailyRate": 0.5}]);
    assert_eq!(parse_gamma_market(&with_pool).unwrap().rewards.unwrap().daily_pool, Money::parse("25.5").unwrap());
    with_pool["rewardsMaxSpread"] = serde_json::json!(0);
    assert_eq!(parse_gamma_market(&with_pool).unwrap().rewards, None, "a zero spread scores nothing: no program");
}

#[test]
fn neg_risk_event_markets() {
    let events = fixture("gamma_event.json");
    let event = &events[0];
    assert_eq!(event["negRisk"], true);
    let markets: Vec<_> = event["markets"].as_array().unwrap().iter().map(|m| parse_gamma_market(m).unwrap()).collect();
    assert_eq!(markets.len(), 2);
    assert!(markets.iter().all(|m| m.neg_risk && m.tokens.len() == 2));
    assert_ne!(markets[0].condition_id, markets[1].condition_id);
}

#[test]
fn clob_fee_rates() {
    assert_eq!(parse_fee_rate(&fixture("clob_fee_rate_response_nonzero.json")).unwrap(), 150);
    assert_eq!(parse_fee_rate(&fixture("clob_fee_rate_response_zero.json")).unwrap(), 0);
    assert!(parse_fee_rate(&serde_json::json!({"fee": 1})).is_err());
}

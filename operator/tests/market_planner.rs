//! The Market planner on the venue's real payloads (`agents/polymarket/tests/data/polymarket/`): what is
//! asked for each kind of spec (a series names its current round and rolls on time), and the
//! status each venue answer gives: tokens, question, tick, minimum size, fee rate, phase
//! (Active, Pending before the CLOB serves the book, Halted when not accepting orders or the feed
//! is down, Resolved when closed), `Ready` and `FeedHealthy`, and that a failed lookup keeps what
//! was resolved. The fee rate reaches the agents' markets file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::PathBuf;

use polyfleet_core::{ConditionId, Price, TokenId};
use polyfleet_crds::Market;
use polyfleet_crds::market::{MarketPhase, MarketSpec, MarketType, Series, SeriesAsset, SeriesPeriod};
use polyfleet_operator::books::Top;
use polyfleet_operator::lookup::{Lookup, MarketQuery};
use polyfleet_operator::planner::market::{FEED_HEALTHY, Resolution, market_status, next_round_in_s, query};
use polyfleet_operator::planner::markets::MarketView;
use polyfleet_polymarket::http::markets::{ResolvedMarket, parse_gamma_market};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agents/polymarket/tests/data/polymarket").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))).unwrap()
}

fn btc_round() -> ResolvedMarket {
    parse_gamma_market(&fixture("gamma_market.json")).unwrap()
}

fn series_spec() -> MarketSpec {
    serde_json::from_value(serde_json::json!({
        "venueRef": {"name": "polymarket"},
        "series": {"asset": "btc", "period": "5m"},
    }))
    .unwrap()
}

const NOW: u64 = 1_773_307_321;

fn lookup(markets: Vec<ResolvedMarket>) -> Lookup {
    Lookup { markets, fee_rate_bps: Some(1000), clob_ready: true, convert_fee_bips: None }
}

fn tops(m: &ResolvedMarket) -> Vec<(String, Option<Top>)> {
    let p = |t| Price::from_ticks(t).unwrap();
    m.tokens
        .iter()
        .map(|t| (t.token_id.to_string(), Some(Top { best_bid: Some(p(4900)), best_ask: Some(p(5100)) })))
        .collect()
}

fn condition<'a>(s: &'a polyfleet_crds::MarketStatus, t: &str) -> &'a polyfleet_crds::conditions::Condition {
    s.conditions.iter().find(|c| c.type_ == t).unwrap_or_else(|| panic!("no {t} condition"))
}

#[test]
fn each_spec_asks_the_venue_for_what_it_names() {
    assert_eq!(query(&series_spec(), NOW), Ok(MarketQuery::Slug("btc-updown-5m-1773307200".into())));
    assert_eq!(next_round_in_s(&series_spec(), NOW), Some(1_773_307_500 - NOW));
    let mut hourly = series_spec();
    hourly.series = Some(Series { asset: SeriesAsset::Eth, period: SeriesPeriod::OneHour });
    assert_eq!(query(&hourly, 7200 + 5), Ok(MarketQuery::Slug("eth-updown-1h-7200".into())));
    let binary: Market = serde_saphyr::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/examples/market-binary.yaml"))
            .unwrap(),
    )
    .unwrap();
    let cid = ConditionId::parse(binary.spec.condition_id.as_deref().unwrap()).unwrap();
    assert_eq!(query(&binary.spec, NOW), Ok(MarketQuery::Condition(cid)));
    assert_eq!(next_round_in_s(&binary.spec, NOW), None);
    let mut bad = binary.spec.clone();
    bad.condition_id = Some("0x12".into());
    assert!(query(&bad, NOW).unwrap_err().contains("conditionId"));
    let mut event = binary.spec.clone();
    event.condition_id = None;
    event.event_slug = Some("democratic-presidential-nominee-2028".into());
    assert_eq!(query(&event, NOW), Ok(MarketQuery::Event("democratic-presidential-nominee-2028".into())));
}

#[test]
fn a_resolved_live_market_is_active_with_its_tokens_fee_and_top_of_book() {
    let m = btc_round();
    let l = lookup(vec![m.clone()]);
    let s = market_status(None, 4, &series_spec(), Resolution::Found(&l), &tops(&m), Some("md-pm-0".into()), "t0");
    assert_eq!(s.observed_generation, Some(4));
    assert_eq!(s.phase, MarketPhase::Active);
    assert_eq!(s.tokens.len(), 2);
    assert_eq!(s.tokens[0].outcome, "Up");
    assert_eq!(s.tokens[0].token_id, m.tokens[0].token_id.to_string());
    assert_eq!(s.tokens[0].condition_id.as_deref(), Some(m.condition_id.to_string().as_str()));
    assert_eq!((s.tokens[1].best_bid.as_deref(), s.tokens[1].best_ask.as_deref()), (Some("0.49"), Some("0.51")));
    assert_eq!(s.question.as_deref(), Some("Bitcoin Up or Down - March 12, 5:20AM-5:25AM ET"));
    assert_eq!(s.end_date.as_deref(), Some("2026-03-12T09:25:00Z"));
    assert_eq!((s.tick_size.as_deref(), s.min_order_size.as_deref()), (Some("0.01"), Some("5")));
    assert_eq!(s.fee_rate_bps, Some(1000));
    assert_eq!(s.shard.as_deref(), Some("md-pm-0"));
    assert!(condition(&s, "Ready").is_true());
    assert!(condition(&s, FEED_HEALTHY).is_true());
    assert_eq!(condition(&s, "Ready").observed_generation, Some(4));
    // The same answer again: the same status (no write), even with a later clock.
    let again = market_status(Some(&s), 4, &series_spec(), Resolution::Found(&l), &tops(&m), s.shard.clone(), "t1");
    assert_eq!(again, s);
    // The reward program (rewardsMinSize 50, rewardsMaxSpread 4.5 cents, no pool in the payload).
    let rewards = s.rewards.clone().unwrap();
    assert_eq!(
        (rewards.min_size.as_str(), rewards.max_spread.as_str(), rewards.daily_pool.as_str()),
        ("50", "0.045", "0")
    );
    // The fee and the reward program reach the agents' markets file.
    let mut market = Market::new("btc-5m", series_spec());
    market.status = Some(s);
    let view = MarketView::of(&market).unwrap();
    assert!(view.token_configs(&[]).iter().all(|t| t.fee_rate_bps == 1000));
    let r = view.token_configs(&[])[0].rewards.unwrap();
    assert_eq!((r.min_size_micros, r.max_spread_ticks, r.daily_pool_micros), (50_000_000, 450, 0));
}

#[test]
fn the_phase_follows_the_venue_and_the_feed() {
    let m = btc_round();
    let spec = series_spec();
    let phase = |l: &Lookup, tops: &[(String, Option<Top>)]| {
        let s = market_status(None, 1, &spec, Resolution::Found(l), tops, None, "t");
        (s.phase, condition(&s, "Ready").reason.clone(), condition(&s, FEED_HEALTHY).is_true())
    };
    let live = tops(&m);
    let mut not_served = lookup(vec![m.clone()]);
    not_served.clob_ready = false;
    assert_eq!(phase(&not_served, &live).0, MarketPhase::Pending);
    let mut halted = m.clone();
    halted.accepting_orders = false;
    assert_eq!(phase(&lookup(vec![halted]), &live).0, MarketPhase::Halted);
    let mut closed = m.clone();
    closed.closed = true;
    assert_eq!(phase(&lookup(vec![closed]), &live).0, MarketPhase::Resolved);
    // One token without a trusted book: the feed is down, the market halted, bid/ask cleared.
    let mut half = live.clone();
    half[1].1 = None;
    let (p, reason, healthy) = phase(&lookup(vec![m.clone()]), &half);
    assert_eq!((p, reason.as_str(), healthy), (MarketPhase::Halted, "Halted", false));
    let s = market_status(None, 1, &spec, Resolution::Found(&lookup(vec![m.clone()])), &half, None, "t");
    assert_eq!(s.tokens[1].best_bid, None);
    assert_eq!(condition(&s, FEED_HEALTHY).message, "1 of 2 tokens have no live book");
}

#[test]
fn unknown_failed_and_invalid_answers() {
    let m = btc_round();
    let spec = series_spec();
    let unknown = market_status(None, 1, &spec, Resolution::Unknown, &[], None, "t");
    assert_eq!(unknown.phase, MarketPhase::Pending);
    assert_eq!(condition(&unknown, "Ready").reason, "NotFound");
    assert!(unknown.tokens.is_empty());
    // A venue outage keeps what was resolved: strategies keep their markets.
    let l = lookup(vec![m.clone()]);
    let good = market_status(None, 1, &spec, Resolution::Found(&l), &tops(&m), None, "t");
    let kept = market_status(Some(&good), 1, &spec, Resolution::Failed("timeout"), &tops(&m), None, "t2");
    assert_eq!(kept.tokens, good.tokens);
    assert_eq!(kept.phase, MarketPhase::Active);
    assert!(condition(&kept, "Ready").is_true());
    assert_eq!(condition(&kept, "Reconciling").reason, "LookupFailed");
    let first_fail = market_status(None, 1, &spec, Resolution::Failed("timeout"), &[], None, "t");
    assert_eq!(condition(&first_fail, "Ready").reason, "LookupFailed");
    let invalid = market_status(Some(&good), 2, &spec, Resolution::Invalid("conditionId 0x12: bad"), &[], None, "t");
    assert!(condition(&invalid, "Stalled").is_true());
    assert!(invalid.tokens.is_empty());
}

#[test]
fn an_event_resolves_to_each_outcomes_yes_token() {
    let event = fixture("gamma_event.json");
    let event = if let Value::Array(a) = &event { a[0].clone() } else { event };
    let markets: Vec<ResolvedMarket> =
        event["markets"].as_array().unwrap().iter().map(|m| parse_gamma_market(m).unwrap()).collect();
    let spec: MarketSpec = serde_json::from_value(serde_json::json!({
        "venueRef": {"name": "polymarket"},
        "type": "negRiskEvent",
        "eventSlug": "democratic-presidential-nominee-2028",
    }))
    .unwrap();
    assert_eq!(spec.type_, MarketType::NegRiskEvent);
    let l = lookup(markets.clone());
    let s = market_status(None, 1, &spec, Resolution::Found(&l), &[], None, "t");
    assert_eq!(s.tokens.len(), markets.len());
    assert_eq!(s.tokens[0].outcome, "Stephen A. Smith");
    assert_eq!(s.tokens[1].token_id, markets[1].tokens[0].token_id.to_string(), "each outcome's YES token");
    assert_eq!(s.tokens[1].condition_id, Some(markets[1].condition_id.to_string()));
    assert!(s.neg_risk);
    assert_eq!(s.question.as_deref(), Some("democratic-presidential-nominee-2028"));
    // No market-data agent has the books yet: feed down, halted.
    assert_eq!((s.phase, condition(&s, FEED_HEALTHY).is_true()), (MarketPhase::Halted, false));
    let view = {
        let mut market = Market::new("dem-nominee", spec);
        market.status = Some(s);
        MarketView::of(&market).unwrap()
    };
    assert!(view.neg_risk_event);
    assert_eq!(view.tokens[0].1, TokenId::parse(&markets[0].tokens[0].token_id.to_string()).unwrap());
}

//! The REST client against the simulator's Gamma and CLOB endpoints: markets by condition id,
//! by slug and by neg-risk event; pagination; `/book` readiness; a CLOB `/book` body decodes
//! into the same book the model holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::net::SocketAddr;

use polyfleet_core::book::OrderBook;
use polyfleet_polymarket::http::markets::{RestClient, Retry};
use polyfleet_polymarket::{Decoder, MarketMessage};
use polyfleet_sim::SimConfig;
use polyfleet_sim::server;

#[tokio::test]
async fn resolves_markets_from_the_simulator() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig { binary_markets: 120, neg_risk_events: vec![3], ..SimConfig::default() };
    let sim = server::serve(cfg, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 0).await.unwrap();
    let rest = RestClient::new(sim.http_url(), sim.http_url(), Retry::default()).unwrap();
    let (first, event_slug, event_size) = sim
        .with_model(|m| (m.markets()[0].clone(), m.events()[0].slug.clone(), m.events()[0].markets.len()))
        .await
        .unwrap();

    let by_cid = rest.market_by_condition(&first.condition).await.unwrap().unwrap();
    assert_eq!(by_cid.slug, first.slug);
    assert_eq!(by_cid.tokens[0].token_id, first.yes);
    assert_eq!(by_cid.tokens[1].token_id, first.no);
    let mut by_slug = rest.market_by_slug(&first.slug).await.unwrap().unwrap();
    assert_eq!(by_slug.condition_id, first.condition);
    rest.check_clob(&mut by_slug).await.unwrap();
    assert!(by_slug.clob_ready);
    assert!(rest.market_by_slug("no-such-market").await.unwrap().is_none());
    assert_eq!(rest.fee_rate_bps(&first.yes).await.unwrap(), 0);

    let event = rest.event_markets(&event_slug).await.unwrap();
    assert_eq!(event.len(), event_size);
    assert!(event.iter().all(|m| m.neg_risk));

    // 123 markets over pages of 100.
    let all = rest.list_markets("active=true", 1000).await.unwrap();
    assert_eq!(all.len(), 123);

    // /book decodes into the model's book.
    let body =
        reqwest::get(format!("{}/book?token_id={}", sim.http_url(), first.no)).await.unwrap().text().await.unwrap();
    let mut book = OrderBook::new();
    Decoder::new().decode(body.as_bytes(), |m| {
        let MarketMessage::Book(b) = m else { panic!("{m:?}") };
        book.apply_snapshot(b.bids.iter().copied(), b.asks.iter().copied(), b.tick_size.unwrap()).unwrap();
    });
    assert_eq!(Some(book), sim.truth(&first.no).await.map(|t| t.0));
    let missing = reqwest::get(format!("{}/book?token_id=1", sim.http_url())).await.unwrap();
    assert_eq!(missing.status(), 404);
}

/// Fees, the rebate share and a reward program declared for the simulator come back through its
/// Gamma API exactly as the venue's fields would (and as the catalog the local run reads).
#[tokio::test]
async fn gamma_serves_fees_rebates_and_rewards_as_declared() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rules = polyfleet_core::analytics::rewards::RewardRules {
        min_size: polyfleet_core::Quantity::parse("50").unwrap(),
        max_spread: polyfleet_core::Price::parse("0.045").unwrap(),
        daily_pool: polyfleet_core::Money::parse("25.5").unwrap(),
    };
    let cfg = SimConfig {
        binary_markets: 1,
        neg_risk_events: vec![],
        fee_rate_bps: 700,
        maker_rebate_bps: 2000,
        rewards: Some(rules),
        ..SimConfig::default()
    };
    let sim = server::serve(cfg, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 0).await.unwrap();
    let rest = RestClient::new(sim.http_url(), sim.http_url(), Retry::default()).unwrap();
    let (first, catalog) = sim.with_model(|m| (m.markets()[0].clone(), m.catalog())).await.unwrap();
    let m = rest.market_by_condition(&first.condition).await.unwrap().unwrap();
    assert_eq!(m.rewards, Some(rules));
    assert_eq!(m.maker_rebate_bps, Some(2000));
    assert_eq!(m.taker_base_fee, Some(700));
    let listed = catalog.by_condition(&first.condition).unwrap();
    assert_eq!((listed.rewards, listed.maker_rebate_bps), (m.rewards, m.maker_rebate_bps));
}

/// The CLOB market status follows the model: open, closed to orders (halted), open again,
/// resolved with its winner; unknown markets are 404.
#[tokio::test]
async fn market_status_follows_halts_and_resolutions() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = server::serve(SimConfig::default(), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 0).await.unwrap();
    let rest = RestClient::new(sim.http_url(), sim.http_url(), Retry::default()).unwrap();
    let m = sim.with_model(|m| m.markets()[0].clone()).await.unwrap();
    let st = rest.market_status(&m.condition).await.unwrap().unwrap();
    assert!(st.accepting_orders && !st.closed && st.winner().is_none());
    assert_eq!(st.tokens.iter().map(|t| t.token_id).collect::<Vec<_>>(), vec![m.yes, m.no]);

    assert!(sim.halt(0, true).await);
    let st = rest.market_status(&m.condition).await.unwrap().unwrap();
    assert!(!st.accepting_orders && !st.closed && st.winner().is_none());
    assert!(!rest.market_by_condition(&m.condition).await.unwrap().unwrap().accepting_orders);
    assert!(sim.halt(0, false).await);
    assert!(rest.market_status(&m.condition).await.unwrap().unwrap().accepting_orders);

    assert!(sim.resolve(0, false).await);
    let st = rest.market_status(&m.condition).await.unwrap().unwrap();
    assert!(st.closed && !st.accepting_orders);
    assert_eq!(st.winner(), Some(m.no));
    assert!(!sim.halt(0, true).await, "a resolved market cannot be halted");

    let unknown = polyfleet_core::ConditionId::from_bytes([9; 32]);
    assert!(rest.market_status(&unknown).await.unwrap().is_none());
}

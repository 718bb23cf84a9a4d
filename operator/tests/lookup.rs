//! The operator's REST lookup against the simulator's real HTTP server and its simulated Polygon
//! JSON-RPC: a neg-risk event's conversion fee is read from the chain (the outcome's CLOB
//! `question_id` gives the event's neg-risk market id, the adapter's `getFeeBips` the fee); a
//! market the venue does not know, or a Venue naming no Polygon RPC, has no fee; an RPC that does
//! not answer is an error that says what was being read.

use std::net::SocketAddr;

use polyfleet_core::ConditionId;
use polyfleet_operator::lookup::{MarketLookup, RestLookup};
use polyfleet_operator::planner::venue::VenueEndpoints;
use polyfleet_sim::SimConfig;
use polyfleet_sim::server;

#[tokio::test]
async fn the_rest_lookup_reads_an_events_conversion_fee_from_the_chain() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig { binary_markets: 1, neg_risk_events: vec![3], convert_fee_bips: 35, ..SimConfig::default() };
    let sim = server::serve(cfg, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 0).await.unwrap();
    let markets = sim.with_model(|m| m.markets().to_vec()).await.unwrap();
    let at = VenueEndpoints {
        market_ws: sim.market_ws_url(),
        clob: sim.http_url(),
        gamma: sim.http_url(),
        user_ws: sim.user_ws_url(),
        polygon_rpc: Some(sim.rpc_url()),
        relayer: sim.relayer_url(),
        rtds: sim.rtds_url(),
    };
    let lookup = RestLookup::default();
    // Every outcome of the event names the same adapter market, so the same fee.
    for outcome in &markets[1..] {
        assert!(outcome.event.is_some());
        assert_eq!(lookup.convert_fee_bips(&at, &outcome.condition).await.unwrap(), Some(35));
    }
    // A market the venue does not know: no fee, no error.
    let unknown = ConditionId::from_bytes([7; 32]);
    assert_eq!(lookup.convert_fee_bips(&at, &unknown).await.unwrap(), None);
    // No Polygon RPC named: unknown, not guessed.
    let no_rpc = VenueEndpoints { polygon_rpc: None, ..at.clone() };
    assert_eq!(lookup.convert_fee_bips(&no_rpc, &markets[1].condition).await.unwrap(), None);
    // An RPC that does not answer: an error naming the fee.
    let dead = VenueEndpoints { polygon_rpc: Some("http://127.0.0.1:1/rpc".into()), ..at.clone() };
    let err = lookup.convert_fee_bips(&dead, &markets[1].condition).await.unwrap_err();
    assert!(err.to_string().contains("the neg-risk adapter's fee"), "{err}");
}

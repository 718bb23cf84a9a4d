//! The WebSocket client against the simulator: subscribe, change the asset set live (subscribe
//! brings the new token's snapshot; unsubscribe stops its frames), and reconnect with a fresh
//! subscription after the venue drops the connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::net::SocketAddr;
use std::time::Duration;

use polyfleet_core::TokenId;
use polyfleet_polymarket::websocket::client::{self, WsCommand, WsConfig, WsEvent};
use polyfleet_polymarket::{Decoder, MarketMessage};
use polyfleet_sim::{SimConfig, server};
use tokio::sync::{mpsc, watch};

/// Tokens named by the next frames received within `d` (book snapshots and price changes).
async fn tokens_seen(rx: &mut mpsc::Receiver<WsEvent>, d: Duration) -> (Vec<TokenId>, Vec<WsEvent>) {
    let mut decoder = Decoder::new();
    let mut seen = vec![];
    let mut other = vec![];
    let deadline = tokio::time::Instant::now() + d;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        match ev {
            WsEvent::Frame(text) => decoder.decode(text.as_bytes(), |m| match m {
                MarketMessage::Book(b) => seen.push(b.asset),
                MarketMessage::PriceChange { changes, .. } => seen.extend(changes.iter().map(|c| c.asset)),
                _ => {}
            }),
            ev => other.push(ev),
        }
    }
    seen.sort();
    seen.dedup();
    (seen, other)
}

#[tokio::test]
async fn live_subscription_changes_and_reconnect() {
    let sim = server::serve(SimConfig::default(), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 2000).await.unwrap();
    let markets = sim.with_model(|m| m.markets().to_vec()).await.unwrap();
    let (a, b) = (&markets[0], &markets[1]);
    let (tx, mut rx) = mpsc::channel(4096);
    let (cmd_tx, cmd_rx) = mpsc::channel(4);
    let (stop_tx, stop) = watch::channel(false);
    let mut cfg = WsConfig::new(sim.market_ws_url());
    cfg.backoff_min = Duration::from_millis(20);
    let client = tokio::spawn(client::run(cfg, vec![a.yes], cmd_rx, tx, stop));

    let (seen, other) = tokens_seen(&mut rx, Duration::from_millis(700)).await;
    assert!(matches!(other.first(), Some(WsEvent::Connected { assets }) if assets == &vec![a.yes]));
    // A price change names both tokens of the market; nothing of market b arrives.
    assert!(seen.contains(&a.yes) && !seen.contains(&b.yes) && !seen.contains(&b.no), "{seen:?}");

    cmd_tx.send(WsCommand::Subscribe(vec![b.yes])).await.unwrap();
    let (seen, _) = tokens_seen(&mut rx, Duration::from_millis(700)).await;
    assert!(seen.contains(&a.yes) && seen.contains(&b.yes), "{seen:?}");

    // After an unsubscribe, frames already in flight may still arrive: within a few windows one
    // must show b and no a.
    cmd_tx.send(WsCommand::Unsubscribe(vec![a.yes])).await.unwrap();
    let mut clean = false;
    for _ in 0..10 {
        let (seen, _) = tokens_seen(&mut rx, Duration::from_millis(300)).await;
        if !seen.contains(&a.yes) && seen.contains(&b.yes) {
            clean = true;
            break;
        }
    }
    assert!(clean, "frames of the unsubscribed token kept coming");

    sim.drop_connections();
    // Wait for the reconnect; it subscribes the current asset set (b only).
    let mut reconnected = false;
    let mut disconnected = false;
    for _ in 0..20 {
        let (_, other) = tokens_seen(&mut rx, Duration::from_millis(100)).await;
        disconnected |= other.iter().any(|e| matches!(e, WsEvent::Disconnected { .. }));
        if other.iter().any(|e| matches!(e, WsEvent::Connected { assets } if assets == &vec![b.yes])) {
            reconnected = true;
            break;
        }
    }
    assert!(disconnected && reconnected, "no disconnect and resubscribe");
    let (seen, _) = tokens_seen(&mut rx, Duration::from_millis(700)).await;
    assert!(seen.contains(&b.yes) && !seen.contains(&a.yes), "{seen:?}");

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), client).await.unwrap().unwrap();
}

//! The market-data agent end to end, with a real `nats-server`: the simulator serves the market
//! channel, the agent (several WebSocket connections) publishes numbered events, and a NATS
//! subscriber keeps books. Through dropped connections, a silent freeze (PING still answered),
//! malformed frames and a late subscriber start, the subscriber's books end equal to the
//! simulator's truth, every gap having been repaired by a snapshot request, and the agent kept
//! reconnecting. Market status: a market closed to orders is published as not trading and as
//! trading again when it reopens; a resolution is published once REST confirms it, and an agent
//! started after a resolution publishes it from REST alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_agent::metrics::Probe;
use polyfleet_testkit as support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use polyfleet_agent::market_data::{self, MarketDataConfig};
use polyfleet_agent::metrics::MarketDataMetrics;
use polyfleet_core::TokenId;
use polyfleet_core::wire::{MarketEvent, MarketEventBody, decode, subjects};
use polyfleet_polymarket::data::normalize::{BookFollower, Followed};
use polyfleet_polymarket::websocket::client::WsConfig;
use polyfleet_sim::SimConfig;
use polyfleet_sim::server::{self, SimHandle};
use tokio::sync::watch;

struct Subscriber {
    followers: HashMap<TokenId, BookFollower>,
    events: u64,
    gaps: u64,
}

impl Subscriber {
    async fn on_event(&mut self, nats: &async_nats::Client, ev: MarketEvent) {
        self.events += 1;
        let f = self.followers.entry(ev.token).or_default();
        if let Followed::Gap { .. } = f.on_event(&ev) {
            self.gaps += 1;
            // Ask the agent for a consistent snapshot; an empty reply means "not live yet".
            let subject = subjects::snapshot_request("sim", &ev.token);
            if let Ok(reply) = nats.request(subject, "".into()).await
                && !reply.payload.is_empty()
            {
                let snap: MarketEvent = decode(&reply.payload).unwrap();
                f.on_event(&snap);
            }
        }
    }
}

async fn converged(sim: &SimHandle, sub: &Subscriber, tokens: &[TokenId]) -> bool {
    for t in tokens {
        let Some(f) = sub.followers.get(t) else { return false };
        let (truth, _) = sim.truth(t).await.unwrap();
        if !f.is_live() || f.book() != &truth {
            return false;
        }
    }
    true
}

/// Pumps events into the subscriber for `d`.
async fn pump(sub: &mut Subscriber, nats: &async_nats::Client, stream: &mut async_nats::Subscriber, d: Duration) {
    let deadline = tokio::time::Instant::now() + d;
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, stream.next()).await {
        let ev: MarketEvent = decode(&msg.payload).unwrap();
        sub.on_event(nats, ev).await;
    }
}

/// Pauses the market and pumps until the subscriber equals the truth (or fails after 15 s).
async fn settle(
    sim: &SimHandle,
    sub: &mut Subscriber,
    nats: &async_nats::Client,
    stream: &mut async_nats::Subscriber,
    tokens: &[TokenId],
    what: &str,
) {
    sim.pause(true);
    let start = Instant::now();
    loop {
        pump(sub, nats, stream, Duration::from_millis(200)).await;
        if converged(sim, sub, tokens).await {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{what}: subscriber never converged to the truth");
    }
    sim.pause(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_books_equal_the_simulator_through_faults() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let nats_server = support::NatsServer::start();
    let cfg = SimConfig { binary_markets: 3, neg_risk_events: vec![3], ..SimConfig::default() };
    let sim = server::serve(cfg, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 1000).await.unwrap();
    let tokens: Vec<TokenId> =
        sim.with_model(|m| m.markets().iter().flat_map(|m| [m.yes, m.no]).collect()).await.unwrap();

    let nats = async_nats::connect(&nats_server.url).await.unwrap();
    // A late subscriber: it starts listening after the agent is already publishing.
    let metrics = MarketDataMetrics::new();
    let mut ws = WsConfig::new(sim.market_ws_url());
    ws.ping_every = Duration::from_millis(200);
    ws.silence_timeout = Duration::from_millis(1500);
    ws.backoff_min = Duration::from_millis(50);
    ws.backoff_max = Duration::from_millis(400);
    let agent_cfg = MarketDataConfig {
        venue: "sim".into(),
        ws_url: sim.market_ws_url(),
        rest_url: Some(sim.http_url()),
        tokens: tokens.clone(),
        series: vec![],
        assets_per_connection: 4,
        nats_url: nats_server.url.clone(),
        ws,
        status_every: MarketDataConfig::STATUS_EVERY,
        confirm_every: MarketDataConfig::CONFIRM_EVERY,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let agent = tokio::spawn(market_data::run(agent_cfg, metrics.clone(), stop_rx));
    tokio::time::sleep(Duration::from_millis(800)).await;

    let mut stream = nats.subscribe(subjects::market_data_all("sim")).await.unwrap();
    let mut sub = Subscriber { followers: HashMap::new(), events: 0, gaps: 0 };
    pump(&mut sub, &nats, &mut stream, Duration::from_secs(2)).await;
    settle(&sim, &mut sub, &nats, &mut stream, &tokens, "late start").await;
    assert!(metrics.is_ready(), "agent not ready with every book live");

    // Fault 1: the venue drops every connection.
    let connects_before = metrics.connects.get();
    sim.drop_connections();
    pump(&mut sub, &nats, &mut stream, Duration::from_secs(2)).await;
    settle(&sim, &mut sub, &nats, &mut stream, &tokens, "after drop").await;
    assert!(metrics.connects.get() >= connects_before + 2, "the agent did not reconnect every shard");
    // Reconnects bring consistent snapshots: nothing disagreed with the venue's hashes so far.
    assert_eq!(metrics.hash_mismatches.get(), 0, "hash mismatches before any data was lost");

    // Fault 2: data freezes while PING is still answered; the watchdog must notice.
    sim.freeze(true);
    pump(&mut sub, &nats, &mut stream, Duration::from_millis(2500)).await;
    sim.freeze(false);
    pump(&mut sub, &nats, &mut stream, Duration::from_secs(2)).await;
    settle(&sim, &mut sub, &nats, &mut stream, &tokens, "after freeze").await;
    assert!(metrics.watchdog_trips.get() >= 1, "the silence watchdog never tripped");
    // The freeze swallowed deltas after a snapshot: the hash check caught every such book and a
    // REST resync repaired it.
    assert!(metrics.resyncs.get() >= metrics.hash_mismatches.get(), "a mismatch was not resynced");

    // Fault 3: malformed frames in the stream are counted and skipped.
    sim.malformed_every(10);
    pump(&mut sub, &nats, &mut stream, Duration::from_secs(1)).await;
    sim.malformed_every(0);
    settle(&sim, &mut sub, &nats, &mut stream, &tokens, "after malformed frames").await;
    assert!(metrics.render().contains("polyfleet_md_decode_errors_total{kind=\"malformed_frame\"}"));

    // The agent is still connected and publishing.
    let published = metrics.published.get();
    pump(&mut sub, &nats, &mut stream, Duration::from_millis(500)).await;
    assert!(metrics.published.get() > published, "the agent stopped publishing");
    assert!(sub.events > 1000, "only {} events seen", sub.events);
    eprintln!(
        "market data e2e: {} events, {} subscriber gaps repaired, {} connects, {} watchdog trips, {} hash mismatches, {} resyncs",
        sub.events,
        sub.gaps,
        metrics.connects.get(),
        metrics.watchdog_trips.get(),
        metrics.hash_mismatches.get(),
        metrics.resyncs.get()
    );

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), agent).await.expect("agent stops on shutdown").unwrap().unwrap();
}

fn agent_config(sim: &SimHandle, nats: &str, tokens: Vec<TokenId>) -> MarketDataConfig {
    MarketDataConfig {
        venue: "sim".into(),
        ws_url: sim.market_ws_url(),
        rest_url: Some(sim.http_url()),
        tokens,
        series: vec![],
        assets_per_connection: 10,
        nats_url: nats.into(),
        ws: WsConfig::new(sim.market_ws_url()),
        status_every: Duration::from_millis(300),
        confirm_every: Duration::from_millis(100),
    }
}

/// Waits (up to 10 s) for an event of `token` whose body `want` accepts.
async fn wait_for(
    stream: &mut async_nats::Subscriber,
    token: TokenId,
    what: &str,
    want: impl Fn(&MarketEventBody) -> bool,
) -> MarketEvent {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} for {token} within 10 s"))
            .unwrap();
        let ev: MarketEvent = decode(&msg.payload).unwrap();
        if ev.token == token && want(&ev.body) {
            return ev;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_status_halts_and_confirmed_resolutions() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let nats_server = support::NatsServer::start();
    let cfg = SimConfig { binary_markets: 2, neg_risk_events: vec![], ..SimConfig::default() };
    let sim = server::serve(cfg, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 500).await.unwrap();
    let markets = sim.with_model(|m| m.markets().to_vec()).await.unwrap();
    let tokens: Vec<TokenId> = markets.iter().flat_map(|m| [m.yes, m.no]).collect();
    let nats = async_nats::connect(&nats_server.url).await.unwrap();
    let mut stream = nats.subscribe(subjects::market_data_all("sim")).await.unwrap();
    let metrics = MarketDataMetrics::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let agent =
        tokio::spawn(market_data::run(agent_config(&sim, &nats_server.url, tokens.clone()), metrics.clone(), stop_rx));
    let trading =
        |accepting: bool| move |b: &MarketEventBody| *b == MarketEventBody::Trading { accepting_orders: accepting };

    // Closed to orders, then open again: both tokens hear it.
    let _ =
        wait_for(&mut stream, markets[0].yes, "a snapshot", |b| matches!(b, MarketEventBody::Snapshot { .. })).await;
    assert!(sim.halt(0, true).await);
    let _ = wait_for(&mut stream, markets[0].yes, "a halt", trading(false)).await;
    let _ = wait_for(&mut stream, markets[0].no, "a halt", trading(false)).await;
    assert_eq!(metrics.markets_halted.get(), 1);
    assert!(sim.halt(0, false).await);
    let _ = wait_for(&mut stream, markets[0].no, "a reopening", trading(true)).await;

    // Resolved: published with REST's winner, to both tokens.
    assert!(sim.resolve(1, false).await);
    let ev =
        wait_for(&mut stream, markets[1].no, "a resolution", |b| matches!(b, MarketEventBody::Resolved { .. })).await;
    assert_eq!(ev.body, MarketEventBody::Resolved { winner: true });
    let ev =
        wait_for(&mut stream, markets[1].yes, "a resolution", |b| matches!(b, MarketEventBody::Resolved { .. })).await;
    assert_eq!(ev.body, MarketEventBody::Resolved { winner: false });
    assert_eq!(metrics.resolutions.get(), 1);
    assert_eq!(metrics.resolution_disagreements.get(), 0);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), agent).await.expect("agent stops").unwrap().unwrap();

    // An agent started after the resolution (no frame will announce it again) finds it over REST.
    let metrics = MarketDataMetrics::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let agent =
        tokio::spawn(market_data::run(agent_config(&sim, &nats_server.url, tokens.clone()), metrics.clone(), stop_rx));
    let ev = wait_for(&mut stream, markets[1].yes, "a resolution found over REST", |b| {
        matches!(b, MarketEventBody::Resolved { .. })
    })
    .await;
    assert_eq!(ev.body, MarketEventBody::Resolved { winner: false });
    assert!(metrics.render().contains("polyfleet_md_market_status_total{kind=\"ok\"}"));
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), agent).await.expect("agent stops").unwrap().unwrap();
}

//! A strategy agent that falls behind its market data hears what queued conflated, with a real
//! `nats-server`: a burst of book changes published faster than it decides reaches its book whole
//! (the next change applies in sequence, no snapshot asked for), it decides once per book on the
//! latest (the latency-probe strategy places one order per book it hears, the last on the latest),
//! and every change it did not hear on its own is counted in
//! `polyfleet_strategy_market_events_conflated_total`: orders plus conflated changes equal the
//! changes sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use polyfleet_core::wire::{Intent, Level, LevelChange, MarketEvent, MarketEventBody, decode, encode, subjects};
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, TokenId};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_testkit::NatsServer;

use crate::harness::{Agent, args, wait_until_ready};

const BURST: u64 = 3_000;

fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_agent_behind_a_burst_decides_once_per_book_on_the_latest() {
    let nats = NatsServer::start();
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let (token, market) = (TokenId::from_u128(77), ConditionId::from_bytes([7; 32]));
    let event =
        |seq: u64, body: MarketEventBody| MarketEvent { token, market, seq, venue_ts_ms: 0, recv_ts_ns: seq, body };
    let level = |ticks: u32, micros: u64| Level {
        price: Price::from_ticks(ticks).unwrap(),
        size: Quantity::from_micros(micros),
    };
    // This test answers snapshot requests as the market-data agent does: the book at sequence 1.
    let snapshot = encode(&event(
        1,
        MarketEventBody::Snapshot {
            bids: vec![level(4900, 100_000_000)],
            asks: vec![level(5100, 100_000_000)],
            tick: Price::from_ticks(100).unwrap(),
            hash: None,
        },
    ));
    let snapshots = Arc::new(AtomicU64::new(0));
    {
        let mut reqs = bus.subscribe(&subjects::snapshot_request("sim", &token)).await.unwrap();
        let (bus, snapshots) = (bus.clone(), snapshots.clone());
        tokio::spawn(async move {
            while let Some(m) = reqs.next().await {
                snapshots.fetch_add(1, Ordering::Relaxed);
                let _ = bus.publish(m.reply.as_deref().unwrap(), vec![], snapshot.clone().into()).await;
            }
        });
    }
    let mut intents = bus.subscribe(&subjects::intents("bench", "probe")).await.unwrap();
    let dir = std::env::temp_dir().join(format!("polyfleet-conflation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("probe.json");
    let cfg = serde_json::json!({
        "namespace": "bench", "name": "probe", "riskPolicy": "main", "venue": "sim", "mode": "paper", "type": "probe",
        "riskCaps": {"maxOrderSizeMicros": 1_000_000_000u64, "maxOrderNotionalMicros": 1_000_000_000},
        "tokens": [{"market": market.to_string(), "token": token.to_string(), "minSizeMicros": 5_000_000}],
        "parameters": {},
    });
    std::fs::write(&config, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let agent = Agent::spawn(
        "strategy",
        args(&["strategy", "--config", config.to_str().unwrap(), "--nats", &nats.url]),
        vec![],
    );
    wait_until_ready(&agent).await;
    // It heard the snapshot: one order, caused by sequence 1.
    let first =
        tokio::time::timeout(Duration::from_secs(20), intents.next()).await.expect("an order on the snapshot").unwrap();
    let Intent::Place(o) = decode::<Intent>(&first.payload).unwrap() else { panic!("a place intent") };
    assert_eq!(o.cause_seq, 1);
    let asked = snapshots.load(Ordering::Relaxed);

    // The burst: BURST changes of the bid's size, sequences 2 to BURST + 1, published at once.
    for seq in 2..=BURST + 1 {
        let change = LevelChange {
            side: BookSide::Bid,
            price: Price::from_ticks(4900).unwrap(),
            size: Quantity::from_micros(1_000_000 * seq),
        };
        bus.publish(
            &subjects::market_data("sim", &token),
            vec![],
            encode(&event(seq, MarketEventBody::Delta(vec![change]))).into(),
        )
        .await
        .unwrap();
    }
    // Orders may reach the stream out of order (each reaction's sends go off the loop): collect
    // until the latest book's order came and nothing more follows.
    let mut causes = vec![];
    loop {
        let wait = if causes.contains(&(BURST + 1)) { Duration::from_millis(500) } else { Duration::from_secs(30) };
        let Ok(m) = tokio::time::timeout(wait, intents.next()).await else {
            assert!(causes.contains(&(BURST + 1)), "no order on the last book: {causes:?}");
            break;
        };
        let Intent::Place(o) = decode::<Intent>(&m.unwrap().payload).unwrap() else { panic!("a place intent") };
        causes.push(o.cause_seq);
    }
    // Once per book heard.
    causes.sort_unstable();
    assert!(causes.windows(2).all(|w| w[0] < w[1]), "{causes:?}");
    let orders = causes.len() as u64;
    assert!(orders < BURST, "{orders} orders for {BURST} changes: nothing conflated");
    let text = agent.metrics_text().await;
    let conflated = metric(&text, "polyfleet_strategy_market_events_conflated_total");
    assert_eq!(orders + conflated, BURST, "{orders} orders, {conflated} conflated");
    // The book took every change: no gap, so no snapshot asked for since.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshots.load(Ordering::Relaxed), asked);
    let _ = std::fs::remove_dir_all(&dir);
    println!("conflation: {BURST} changes heard as {orders} decisions ({conflated} conflated)");
}

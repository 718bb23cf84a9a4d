//! The risk gateway's market data: it follows the books of the tokens it is asked about, from
//! each token's first intent on, and is sent nothing of the venue's other tokens (a gateway of a
//! whole venue would otherwise decode every event of it). Runs the gateway's loop in process on
//! the in-memory bus and store; this test answers the snapshot requests as the market-data agent
//! does.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_agent::metrics::OrderPathMetrics;
use polyfleet_agent::risk::{self, RiskAgentConfig};
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::wire::{
    Intent, Level, LevelChange, MarketEvent, MarketEventBody, Mode, OrderIntent, RejectReason, RiskDecision,
    TimeInForce, Verdict, decode, encode, subjects,
};
use polyfleet_core::{BookSide, ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::memory::MemoryBus;
use polyfleet_io::risk_store::memory::MemoryRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};

const VENUE: &str = "sim";
fn a() -> TokenId {
    TokenId::from_u128(11)
}

fn b() -> TokenId {
    TokenId::from_u128(22)
}

fn market() -> ConditionId {
    ConditionId::from_bytes([3; 32])
}

fn p(ticks: u32) -> Price {
    Price::from_ticks(ticks).unwrap()
}

fn q(units: u64) -> Quantity {
    Quantity::from_micros(units * 1_000_000)
}

/// A's book as the market-data agent would answer for it: 500 shares each side.
fn snapshot(seq: u64) -> MarketEvent {
    MarketEvent {
        token: a(),
        market: market(),
        seq,
        venue_ts_ms: 1,
        recv_ts_ns: 1,
        body: MarketEventBody::Snapshot {
            bids: vec![Level { price: p(4900), size: q(500) }],
            asks: vec![Level { price: p(5100), size: q(500) }],
            tick: p(100),
            hash: None,
        },
    }
}

fn buy(id: &str) -> Intent {
    Intent::Place(OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "desk".into(),
        strategy: "s".into(),
        risk_policy: "main".into(),
        venue: VENUE.into(),
        market: market(),
        token: a(),
        side: Side::Buy,
        price: p(5100),
        size: q(5),
        tif: TimeInForce::Fak,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 1,
        outcome: None,
        kelly: None,
    })
}

async fn decision(decisions: &mut polyfleet_io::bus::Subscription) -> Verdict {
    let m = tokio::time::timeout(Duration::from_secs(5), decisions.next()).await.expect("a decision").unwrap();
    decode::<RiskDecision>(&m.payload).unwrap().verdict
}

#[tokio::test]
async fn the_gateway_follows_the_tokens_it_decides_on_and_no_other() {
    let bus = MemoryBus::new();
    let store = MemoryRiskStore::new();
    let limits =
        RiskLimits { min_book_liquidity: Some(Money::from_micros(100_000_000)), ..super::harness::limits(false) };
    store.set_limits(&PolicyKey::new("desk", "main"), &limits).await.unwrap();
    {
        let mut requests = bus.subscribe(&format!("mdsnap.{VENUE}.*")).await.unwrap();
        let bus = bus.clone();
        tokio::spawn(async move {
            while let Some(r) = requests.next().await {
                if r.subject == subjects::snapshot_request(VENUE, &a()) {
                    let _ = bus.publish(&r.reply.unwrap(), vec![], encode(&snapshot(1)).into()).await;
                }
            }
        });
    }
    let metrics = OrderPathMetrics::new("test");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let cfg = RiskAgentConfig {
        namespace: "desk".into(),
        venue: VENUE.into(),
        liquidity_band_bps: 500,
        durable: "risk-gateway".into(),
        concurrency: 4,
    };
    let gateway = tokio::spawn(risk::run(bus.clone(), store.clone(), cfg, metrics.clone(), stopped));
    let mut decisions = bus.subscribe("decision.>").await.unwrap();
    let intents = subjects::intents("desk", "s");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Before any intent nothing of the venue is followed: a frame that does not decode, on a token
    // nobody asked about, never reaches the gateway.
    let junk = Bytes::from_static(b"not a market event");
    bus.publish(&subjects::market_data(VENUE, &b()), vec![], junk.clone()).await.unwrap();
    bus.publish(&subjects::market_data(VENUE, &a()), vec![], junk.clone()).await.unwrap();

    // The first intent on A: its book is fetched (255 USDC of asks within the band) and approved.
    bus.persist(&intents, vec![], encode(&buy("a-1")).into(), Some("a-1")).await.unwrap();
    assert_eq!(decision(&mut decisions).await, Verdict::Approved);

    // From then on A's events are followed: the asks thin to 10 shares (5.10 USDC, below the
    // policy's 100) and the next buy is refused for liquidity.
    let thin = MarketEvent {
        token: a(),
        market: market(),
        seq: 2,
        venue_ts_ms: 2,
        recv_ts_ns: 2,
        body: MarketEventBody::Delta(vec![LevelChange { side: BookSide::Ask, price: p(5100), size: q(10) }]),
    };
    bus.publish(&subjects::market_data(VENUE, &a()), vec![], encode(&thin).into()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    bus.persist(&intents, vec![], encode(&buy("a-2")).into(), Some("a-2")).await.unwrap();
    assert!(
        matches!(decision(&mut decisions).await, Verdict::Rejected { reason: RejectReason::BookLiquidity, .. }),
        "the thinned book, followed since the first intent"
    );

    // A's undecodable frame now reaches it (and is counted); B's still does not.
    assert_eq!(metrics.malformed.get(), 0, "nothing of A or B before A's first intent");
    bus.publish(&subjects::market_data(VENUE, &b()), vec![], junk.clone()).await.unwrap();
    bus.publish(&subjects::market_data(VENUE, &a()), vec![], junk).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(metrics.malformed.get(), 1, "A's frame only");

    stop.send(true).unwrap();
    gateway.await.unwrap().unwrap();
}

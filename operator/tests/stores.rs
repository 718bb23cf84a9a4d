//! The operator's stores over the real transports: parameters and their acknowledgement through
//! NATS KV (a real `nats-server -js`), limits and state through the Redis risk store (a real
//! `redis-server`), the same keys the agents read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::Money;
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::{Quantity, wire::subjects};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_operator::dataplane::Lazy;
use polyfleet_operator::limits::LimitsStore;
use polyfleet_operator::params::{ParamsStore, ack};
use polyfleet_operator::stores::{BusParams, StoreLimits};
use polyfleet_testkit::{NatsServer, RedisServer};

#[tokio::test]
async fn parameters_and_acknowledgements_travel_through_nats_kv() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = NatsServer::start();
    let bus = NatsBus::connect(&server.url).await.unwrap();
    let params = BusParams(Lazy::ready("NATS", bus.clone()));
    let key = subjects::params_key("trading", "arb");
    assert_eq!(params.get(&key).await.unwrap(), None);
    params.put(&key, br#"{"generation":2,"parameters":{}}"#.to_vec()).await.unwrap();
    // What the strategy agent watches:
    let seen = bus.kv_get(&key).await.unwrap().unwrap();
    assert_eq!(&seen.value[..], br#"{"generation":2,"parameters":{}}"#);
    // What it writes back:
    bus.kv_put(
        &subjects::params_ack_key("trading", "arb"),
        br#"{"generation":2,"applied":true,"error":null}"#.to_vec().into(),
    )
    .await
    .unwrap();
    let a = ack(&params, &key).await.unwrap().unwrap();
    assert_eq!((a.generation, a.applied), (2, true));
    params.delete(&key).await.unwrap();
    assert_eq!(params.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn cancel_all_reaches_the_intents_stream_the_execution_agent_reads() {
    use futures::StreamExt;
    use polyfleet_core::wire::{Intent, decode};
    use polyfleet_io::bus::ConsumerSpec;
    use polyfleet_operator::control::OrderControl;
    use polyfleet_operator::stores::BusControl;
    let server = NatsServer::start();
    let bus = NatsBus::connect(&server.url).await.unwrap();
    BusControl(Lazy::ready("NATS", bus.clone())).cancel_all("trading", "arb", "strategy deleted").await.unwrap();
    let mut d = bus
        .consume(ConsumerSpec {
            stream: subjects::STREAM_INTENTS.into(),
            durable: "exec-trading-sim-cancels".into(),
            filter: "intent.trading.>".into(),
            ack_wait: std::time::Duration::from_secs(5),
        })
        .await
        .unwrap();
    let m = tokio::time::timeout(std::time::Duration::from_secs(5), d.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(m.message.subject, "intent.trading.arb");
    match decode::<Intent>(&m.message.payload).unwrap() {
        Intent::Cancel(c) => {
            assert_eq!((c.client_order_id, c.strategy.as_str(), c.reason.as_str()), (None, "arb", "strategy deleted"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn limits_travel_through_the_redis_risk_store() {
    let server = RedisServer::start();
    let store = RedisRiskStore::connect(&server.url).await.unwrap();
    let limits_store = StoreLimits(Lazy::ready("Redis", store.clone()));
    let l = RiskLimits {
        mode: polyfleet_core::risk::RiskMode::Halt,
        reset: 0,
        trip_cooldown_ms: None,
        max_order_size: Quantity::from_micros(1_000_000),
        max_order_notional: Money::from_micros(2_000_000),
        max_position_per_market: Quantity::from_micros(3_000_000),
        max_gross_exposure: Money::from_micros(4_000_000),
        max_daily_loss: Money::from_micros(5_000_000),
        max_drawdown: Money::from_micros(6_000_000),
        max_orders_per_minute: 7,
        max_orders_per_day: None,
        min_book_liquidity: Some(Money::from_micros(8_000_000)),
        circuit_breaker: Some((3, 9_000)),
        max_loss_at_resolution: Some(Money::from_micros(10_000_000)),
        max_event_exposure: Some(Money::from_micros(11_000_000)),
        group_limits: vec![
            ("category".into(), Money::from_micros(12_000_000)),
            ("polyfleet.dev/underlying".into(), Money::from_micros(13_000_000)),
        ],
        kelly_budget: Some(Money::from_micros(14_000_000)),
    };
    limits_store.set_limits("trading", "main", &l).await.unwrap();
    // What the gateway's script reads is what the operator wrote.
    assert_eq!(store.limits(&PolicyKey::new("trading", "main")).await.unwrap(), Some(l.clone()));
    assert_eq!(limits_store.limits("trading", "main").await.unwrap(), Some(l));
    assert_eq!(limits_store.snapshot("trading", "main").await.unwrap().exposure, Money::ZERO);
    // The execution agent's marks, read back for Strategy status.
    let token = polyfleet_core::TokenId::from_u128(77);
    let key = PolicyKey::new("trading", "main");
    store.revalue(&key, "arb", &[(token, Money::from_micros(-5))], 1_700_000_000_000).await.unwrap();
    let book = limits_store.book("trading", "main", "arb").await.unwrap();
    assert_eq!((book.positions.len(), book.unrealized), (0, vec![(token, Money::from_micros(-5))]));
    assert_eq!(limits_store.snapshot("trading", "main").await.unwrap().unrealized, Money::from_micros(-5));
    limits_store.remove("trading", "main").await.unwrap();
    assert_eq!(limits_store.limits("trading", "main").await.unwrap(), None);
}

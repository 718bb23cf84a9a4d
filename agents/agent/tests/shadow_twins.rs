//! A shadow strategy's agent against its live twin on a real NATS server: both strategies'
//! intents (an order each on the same market event, a set's legs, an order only the live twin
//! placed) and their fills (the live one's matched then confirmed) reach the shadow's comparison
//! over the bus, and its report lands under the twins KV key the operator reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_agent::twins::Twins;
use polyfleet_core::analytics::twins::TwinReport;
use polyfleet_core::wire::{Fill, FillStatus, Intent, Liquidity, Mode, OrderIntent, TimeInForce, encode, subjects};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_testkit::NatsServer;

fn order(strategy: &str, id: &str, seq: u64, price: u32) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "desk".into(),
        strategy: strategy.into(),
        risk_policy: "main".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([9; 32]),
        token: TokenId::from_u128(77),
        side: Side::Buy,
        price: Price::from_ticks(price).unwrap(),
        size: Quantity::from_micros(100_000_000),
        tif: TimeInForce::Fak,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: seq,
        cause_recv_ts_ns: 0,
        created_ts_ns: 1,
        outcome: None,
        kelly: None,
    }
}

fn fill(o: &OrderIntent, id: &str, price: u32, micros: u64, status: FillStatus) -> Fill {
    Fill {
        fill_id: id.into(),
        client_order_id: o.client_order_id,
        namespace: o.namespace.clone(),
        strategy: o.strategy.clone(),
        risk_policy: o.risk_policy.clone(),
        market: o.market,
        token: o.token,
        side: o.side,
        price: Price::from_ticks(price).unwrap(),
        size: Quantity::from_micros(micros),
        fee: Money::ZERO,
        liquidity: Liquidity::Taker,
        status,
        mode: Mode::Paper,
        ts_ns: 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadows_agent_compares_its_orders_with_its_live_twins_over_the_bus() {
    let nats = NatsServer::start();
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let (mut twins, mut msgs) = Twins::of(&bus, "desk", "mm-shadow", "mm", 0).await.unwrap();
    let (s1, l1) = (order("mm-shadow", "s1", 10, 4000), order("mm", "l1", 10, 4000));
    let legs = vec![order("mm-shadow", "s2", 11, 4100), order("mm-shadow", "s3", 11, 4200)];
    let live_legs = vec![order("mm", "l2", 11, 4100), order("mm", "l3", 11, 4300)];
    let only_live = order("mm", "l4", 12, 4000);
    let intents = [
        ("mm-shadow", Intent::Place(s1.clone())),
        ("mm", Intent::Place(l1.clone())),
        ("mm-shadow", Intent::PlaceSet(legs)),
        ("mm", Intent::PlaceSet(live_legs)),
        ("mm", Intent::Place(only_live)),
    ];
    for (strategy, intent) in &intents {
        bus.publish(&subjects::intents("desk", strategy), vec![], Bytes::from(encode(intent))).await.unwrap();
    }
    // The live order filled 100 at 0.41 (matched, then confirmed: one fill); the shadow's own
    // fill comes from its agent's fill subscription (100 at 0.40), here before its intent came
    // off the bus: it waits for its order.
    for status in [FillStatus::Matched, FillStatus::Confirmed] {
        let f = fill(&l1, "lf1", 4100, 100_000_000, status);
        bus.publish(&subjects::fills("desk", "mm"), vec![], Bytes::from(encode(&f))).await.unwrap();
    }
    twins.own_fill(&fill(&s1, "sf1", 4000, 100_000_000, FillStatus::Matched));
    // 5 intents and 2 fills of the bus.
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..7 {
        let m = tokio::time::timeout_at(deadline.into(), msgs.next()).await.expect("bus messages").unwrap();
        twins.on_message(&m);
    }
    twins.publish(&bus, 3).await;
    let entry = bus.kv_get(&subjects::twins_key("desk", "mm-shadow")).await.unwrap().expect("the twins report");
    let r: TwinReport = serde_json::from_slice(&entry.value).unwrap();
    assert_eq!(
        (r.live.as_str(), r.orders, r.paired, r.only_shadow, r.only_live, r.same_orders),
        ("mm", [3, 4], 3, 0, 1, 2)
    );
    // 100 shares: live paid 41 USDC against the shadow's 40.
    assert_eq!(
        (r.shadow_filled_micros, r.live_filled_micros, r.slippage_micros),
        (100_000_000, 100_000_000, 1_000_000)
    );
}

//! One conformance suite for both buses: every case runs against the in-memory bus and against a
//! real `nats-server -js` (one per case).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use polyfleet_io::bus::memory::MemoryBus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::bus::{Bus, BusError, ConsumerSpec, Deliveries, Delivery};
use polyfleet_testkit::NatsServer;

const WAIT: Duration = Duration::from_secs(5);

fn spec(durable: &str, filter: &str, ack_wait_ms: u64) -> ConsumerSpec {
    ConsumerSpec {
        stream: "POLYFLEET_INTENTS".into(),
        durable: durable.into(),
        filter: filter.into(),
        ack_wait: Duration::from_millis(ack_wait_ms),
    }
}

async fn next(d: &mut Deliveries) -> Delivery {
    tokio::time::timeout(WAIT, d.next()).await.expect("a delivery in time").expect("stream open").expect("no error")
}

async fn nothing_within(d: &mut Deliveries, ms: u64) {
    if let Ok(Some(Ok(x))) = tokio::time::timeout(Duration::from_millis(ms), d.next()).await {
        panic!("unexpected delivery of {:?}", x.message.payload);
    }
}

async fn publish_reaches_matching_subscribers_with_headers<B: Bus>(bus: B) {
    let mut sub = bus.subscribe("md.sim.*").await.unwrap();
    let mut all = bus.subscribe("md.>").await.unwrap();
    bus.publish("md.other.1", vec![], Bytes::from_static(b"other")).await.unwrap();
    bus.publish("md.sim.1", vec![("traceparent".into(), "00-abc-01".into())], Bytes::from_static(b"one"))
        .await
        .unwrap();
    let m = tokio::time::timeout(WAIT, sub.next()).await.unwrap().unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("md.sim.1", &b"one"[..]));
    assert_eq!(m.header("traceparent"), Some("00-abc-01"));
    let first = tokio::time::timeout(WAIT, all.next()).await.unwrap().unwrap();
    assert_eq!(first.subject, "md.other.1");
}

async fn request_gets_the_reply<B: Bus>(bus: B) {
    let mut requests = bus.subscribe("svc.echo").await.unwrap();
    let responder = bus.clone();
    tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            let mut body = b"echo:".to_vec();
            body.extend_from_slice(&m.payload);
            responder.publish(m.reply.as_deref().unwrap(), vec![], body.into()).await.unwrap();
        }
    });
    let answer = bus.request("svc.echo", Bytes::from_static(b"hi"), WAIT).await.unwrap();
    assert_eq!(&answer[..], b"echo:hi");
    assert!(bus.request("svc.nobody", Bytes::new(), Duration::from_millis(300)).await.is_err());
}

async fn durable_consumer_delivers_in_order_and_remembers_acks<B: Bus>(bus: B) {
    let mut live = bus.subscribe("intent.>").await.unwrap();
    for i in 0..3 {
        assert!(bus.persist("intent.ns.s", vec![], vec![i].into(), None).await.unwrap());
    }
    // Subscribers of the subject see stored messages too.
    assert_eq!(tokio::time::timeout(WAIT, live.next()).await.unwrap().unwrap().payload[0], 0);
    let mut d = bus.consume(spec("risk", "intent.>", 30_000)).await.unwrap();
    for i in 0..3 {
        let got = next(&mut d).await;
        assert_eq!((got.message.payload[0], got.delivered), (i, 1));
        got.ack().await.unwrap();
    }
    drop(d);
    // Give the server a moment to record the acks, then reopen: nothing old comes back.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = bus.consume(spec("risk", "intent.>", 30_000)).await.unwrap();
    nothing_within(&mut d, 300).await;
    bus.persist("intent.ns.s", vec![], vec![9].into(), None).await.unwrap();
    assert_eq!(next(&mut d).await.message.payload[0], 9);
}

async fn message_ids_deduplicate<B: Bus>(bus: B) {
    assert!(bus.persist("intent.ns.s", vec![], vec![1].into(), Some("coid-1")).await.unwrap());
    assert!(!bus.persist("intent.ns.s", vec![], vec![1].into(), Some("coid-1")).await.unwrap());
    assert!(bus.persist("intent.ns.s", vec![], vec![2].into(), Some("coid-2")).await.unwrap());
    let mut d = bus.consume(spec("dedup", "intent.>", 30_000)).await.unwrap();
    let a = next(&mut d).await;
    let b = next(&mut d).await;
    assert_eq!((a.message.payload[0], b.message.payload[0]), (1, 2));
    a.ack().await.unwrap();
    b.ack().await.unwrap();
    nothing_within(&mut d, 300).await;
}

async fn unacknowledged_messages_are_redelivered<B: Bus>(bus: B) {
    bus.persist("intent.ns.s", vec![], vec![7].into(), None).await.unwrap();
    let mut d = bus.consume(spec("crashy", "intent.>", 500)).await.unwrap();
    let first = next(&mut d).await;
    assert_eq!(first.delivered, 1);
    // The consumer "crashes": no ack, gone.
    drop(first);
    drop(d);
    let mut d = bus.consume(spec("crashy", "intent.>", 500)).await.unwrap();
    let again = next(&mut d).await;
    assert_eq!(again.message.payload[0], 7);
    assert!(again.delivered >= 2, "delivered {}", again.delivered);
    again.ack().await.unwrap();
    nothing_within(&mut d, 800).await;
}

async fn consumers_sharing_a_durable_share_the_work<B: Bus>(bus: B) {
    let a = bus.consume(spec("shared", "intent.>", 30_000)).await.unwrap();
    let b = bus.consume(spec("shared", "intent.>", 30_000)).await.unwrap();
    for i in 0..40u8 {
        bus.persist("intent.ns.s", vec![], vec![i].into(), None).await.unwrap();
    }
    let got = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let mut tasks = vec![];
    for mut d in [a, b] {
        let got = got.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(700), d.next()).await {
                got.lock().unwrap().push(m.message.payload[0]);
                m.ack().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 40, "each message exactly once: {got:?}");
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>().len(), 40);
}

async fn filters_select_subjects<B: Bus>(bus: B) {
    bus.persist("intent.ns1.a", vec![], vec![1].into(), None).await.unwrap();
    bus.persist("intent.ns2.a", vec![], vec![2].into(), None).await.unwrap();
    bus.persist("intent.ns1.b", vec![], vec![3].into(), None).await.unwrap();
    let mut d = bus.consume(spec("ns1", "intent.ns1.>", 30_000)).await.unwrap();
    let x = next(&mut d).await;
    let y = next(&mut d).await;
    assert_eq!((x.message.payload[0], y.message.payload[0]), (1, 3));
    assert_eq!(y.message.subject, "intent.ns1.b");
}

async fn persisting_outside_every_stream_fails<B: Bus>(bus: B) {
    assert!(matches!(
        bus.persist("nowhere.x", vec![], Bytes::new(), None).await,
        Err(BusError::NoStream(_) | BusError::Refused(_))
    ));
}

async fn kv_revisions_and_watch<B: Bus>(bus: B) {
    assert!(bus.kv_get("ns.arb").await.unwrap().is_none());
    let r1 = bus.kv_put("ns.arb", Bytes::from_static(b"{\"g\":1}")).await.unwrap();
    let e = bus.kv_get("ns.arb").await.unwrap().unwrap();
    assert_eq!((e.revision, &e.value[..]), (r1, &b"{\"g\":1}"[..]));
    let mut w = bus.kv_watch("ns.arb").await.unwrap();
    let current = tokio::time::timeout(WAIT, w.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(current.revision, r1);
    bus.kv_put("ns.other", Bytes::from_static(b"x")).await.unwrap();
    let r2 = bus.kv_put("ns.arb", Bytes::from_static(b"{\"g\":2}")).await.unwrap();
    assert!(r2 > r1);
    let update = tokio::time::timeout(WAIT, w.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((update.key.as_str(), update.revision, &update.value[..]), ("ns.arb", r2, &b"{\"g\":2}"[..]));
    bus.kv_delete("ns.arb").await.unwrap();
    assert!(bus.kv_get("ns.arb").await.unwrap().is_none());
    assert_eq!(&bus.kv_get("ns.other").await.unwrap().unwrap().value[..], b"x");
}

async fn kv_watch_takes_patterns<B: Bus>(bus: B) {
    let r1 = bus.kv_put("ns.arb", Bytes::from_static(b"p1")).await.unwrap();
    let r2 = bus.kv_put("ns.arb.ack", Bytes::from_static(b"a1")).await.unwrap();
    let mut docs = bus.kv_watch("*.*").await.unwrap();
    let mut acks = bus.kv_watch("*.*.ack").await.unwrap();
    let first = next_entry(&mut docs).await;
    assert_eq!((first.key.as_str(), first.revision), ("ns.arb", r1));
    let first = next_entry(&mut acks).await;
    assert_eq!((first.key.as_str(), first.revision), ("ns.arb.ack", r2));
    bus.kv_put("other.mm.ack", Bytes::from_static(b"a2")).await.unwrap();
    let r4 = bus.kv_put("other.mm", Bytes::from_static(b"p2")).await.unwrap();
    let d = next_entry(&mut docs).await;
    assert_eq!((d.key.as_str(), d.revision, &d.value[..]), ("other.mm", r4, &b"p2"[..]), "acks are not documents");
    assert_eq!(next_entry(&mut acks).await.key, "other.mm.ack");
}

async fn next_entry(w: &mut polyfleet_io::bus::KvWatch) -> polyfleet_io::bus::KvEntry {
    tokio::time::timeout(WAIT, w.next()).await.unwrap().unwrap().unwrap()
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::MemoryBus::new()).await;
            })*
        }
        mod nats {
            $(#[tokio::test]
            async fn $case() {
                let server = super::NatsServer::start();
                let bus = super::NatsBus::connect(&server.url).await.unwrap();
                super::$case(bus).await;
            })*
        }
    };
}

suite!(
    publish_reaches_matching_subscribers_with_headers,
    request_gets_the_reply,
    durable_consumer_delivers_in_order_and_remembers_acks,
    message_ids_deduplicate,
    unacknowledged_messages_are_redelivered,
    consumers_sharing_a_durable_share_the_work,
    filters_select_subjects,
    persisting_outside_every_stream_fails,
    kv_revisions_and_watch,
    kv_watch_takes_patterns,
);

/// Agents started together on a fresh server race to create the same streams; every one of them
/// must come up (the loser of a create sees "subjects overlap" for a stream that now exists).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_processes_connecting_at_once_to_a_fresh_server_all_succeed() {
    let server = NatsServer::start();
    let connects = (0..16).map(|_| {
        let url = server.url.clone();
        tokio::spawn(async move { NatsBus::connect(&url).await.map(|_| ()) })
    });
    for outcome in futures::future::join_all(connects).await {
        outcome.unwrap().expect("every concurrent connect creates or finds the streams");
    }
}

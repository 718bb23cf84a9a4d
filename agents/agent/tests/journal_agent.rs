//! The journal agent as a process against a real NATS server and a real database (an SQLite file;
//! a real `postgres`): the order path's messages (intents, decisions, order updates, fills), with
//! the agent killed with SIGKILL in the middle of the run and started again, and then the whole
//! run published again under new message ids (a replay JetStream cannot de-duplicate), end with
//! exactly one entry per message, fills exact to the micro-unit with their trace ids; a message
//! that does not decode is counted and skipped without holding anything up. Parameter
//! generations and acknowledgements, and the changes of a strategy's drift alarms, come from the
//! KV bucket, each kept once across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use crate::harness;

use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::{Agent, args, wait_until_ready};
use polyfleet_core::wire::{
    Fill, FillStatus, Intent, Liquidity, Mode, OrderIntent, OrderStatus, OrderUpdate, RiskDecision, TimeInForce,
    Verdict, encode, subjects,
};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_journal::{FillFilter, JournalStore, Kind, Range};
use polyfleet_testkit::{NatsServer, PostgresServer, metric_value};

const ORDERS: u64 = 600;

fn intent(i: u64) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(&format!("arb-{i}")).unwrap(),
        group: None,
        namespace: "desk".into(),
        strategy: "arb".into(),
        risk_policy: "main".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([9; 32]),
        token: TokenId::from_u128(77),
        side: Side::Buy,
        price: Price::from_ticks(3000 + u32::try_from(i % 500).unwrap()).unwrap(),
        size: Quantity::from_micros(5_000_000 + i),
        tif: TimeInForce::Fak,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: i,
        cause_recv_ts_ns: 1_764_000_000_000_000_000 + i * 1_000,
        created_ts_ns: 1_764_000_000_000_000_000 + i * 1_000 + 10,
        outcome: None,
        kelly: None,
    }
}

fn traceparent(i: u64) -> String {
    format!("00-{:032x}-{:016x}-01", 0xabc0_0000 + i, i + 1)
}

/// Publishes order `i`'s four messages as the agents do (JetStream, message ids; the fill with
/// its trace context). `again` publishes them under new ids, as a replay would.
async fn publish(bus: &NatsBus, i: u64, again: bool) {
    let o = intent(i);
    let tag = if again { "replay-" } else { "" };
    let id = o.client_order_id.to_string();
    let headers = vec![("traceparent".to_string(), traceparent(i))];
    let t = o.created_ts_ns;
    let decision = RiskDecision { intent: o.clone(), verdict: Verdict::Approved, decided_ts_ns: t + 100 };
    let update = OrderUpdate {
        client_order_id: o.client_order_id,
        namespace: o.namespace.clone(),
        strategy: o.strategy.clone(),
        venue_order_id: None,
        status: OrderStatus::Filled,
        filled: o.size,
        remaining: Quantity::ZERO,
        reason: None,
        ts_ns: t + 200,
    };
    let fill = Fill {
        fill_id: format!("paper-{i}"),
        client_order_id: o.client_order_id,
        namespace: o.namespace.clone(),
        strategy: o.strategy.clone(),
        risk_policy: o.risk_policy.clone(),
        market: o.market,
        token: o.token,
        side: o.side,
        price: o.price,
        size: o.size,
        fee: Money::from_micros(-i64::try_from(i).unwrap()),
        liquidity: Liquidity::Maker,
        status: FillStatus::Confirmed,
        mode: Mode::Paper,
        ts_ns: t + 300,
    };
    let sends = [
        (subjects::intents("desk", "arb"), format!("{tag}{id}"), encode(&Intent::Place(o))),
        (subjects::decisions("desk", "arb"), format!("{tag}d-{id}"), encode(&decision)),
        (subjects::order_updates("desk", "arb"), format!("{tag}u-{id}"), encode(&update)),
        (subjects::fills("desk", "arb"), format!("{tag}f-{id}"), encode(&fill)),
    ];
    for (subject, msg_id, body) in sends {
        bus.persist(&subject, headers.clone(), Bytes::from(body), Some(&msg_id)).await.unwrap();
    }
}

async fn counts(j: &SqlJournal) -> Vec<u64> {
    let c = j.counts().await.unwrap();
    [Kind::Intent, Kind::Decision, Kind::Order, Kind::Fill]
        .iter()
        .map(|k| c.iter().find(|(kind, _)| kind == k).unwrap().1)
        .collect()
}

async fn wait_for(j: &SqlJournal, want: u64, agent: &Agent) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = counts(j).await;
        if c.iter().all(|n| *n == want) {
            return;
        }
        assert!(c.iter().all(|n| *n <= want), "more entries than messages: {c:?} (at most {want} each)");
        assert!(
            Instant::now() < deadline,
            "journal stuck at {c:?} of {want}; metrics:\n{}",
            agent.metrics_text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run(url: &str) {
    let nats = NatsServer::start();
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let env = vec![("POLYFLEET_JOURNAL_URL".to_string(), url.to_string())];
    let mut agent = Agent::spawn("journal", args(&["journal", "--nats", &nats.url]), env);
    wait_until_ready(&agent).await;
    let journal = SqlJournal::open(url).await.unwrap();

    // The run, with the agent killed (SIGKILL) while it is being written, then started again.
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for i in 0..ORDERS {
                publish(&bus, i, false).await;
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while counts(&journal).await[3] < ORDERS / 4 {
        assert!(Instant::now() < deadline, "nothing journaled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.kill();
    let at_kill = counts(&journal).await;
    assert!(at_kill[3] < ORDERS, "the kill came after the run: {at_kill:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent.start();
    wait_until_ready(&agent).await;
    publisher.await.unwrap();
    wait_for(&journal, ORDERS, &agent).await;

    // The same run again under new message ids (stored again by JetStream): nothing new. A
    // message that does not decode is counted and skipped, and the rest still goes in.
    bus.persist(&subjects::fills("desk", "arb"), vec![], Bytes::from_static(b"\x01garbage"), Some("bad-1"))
        .await
        .unwrap();
    for i in 0..ORDERS {
        publish(&bus, i, true).await;
    }
    let text = loop {
        let text = agent.metrics_text().await;
        if metric_value(&text, "polyfleet_journal_duplicates_total") >= (ORDERS * 4) as f64 {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(metric_value(&text, "polyfleet_journal_skipped_total{kind=\"malformed\"}"), 1.0, "{text}");
    assert_eq!(counts(&journal).await, vec![ORDERS; 4]);

    // Fills exact: sizes and rebates sum to what was published, each with its order's trace.
    let fills = journal.fills(&FillFilter::default(), Range::ALL).await.unwrap();
    assert_eq!(fills.len() as u64, ORDERS);
    let size: i64 = fills.iter().map(|f| f.size_micros).sum();
    let want: u64 = (0..ORDERS).map(|i| 5_000_000 + i).sum();
    assert_eq!(size, i64::try_from(want).unwrap());
    assert_eq!(fills.iter().map(|f| f.fee_micros).sum::<i64>(), -((0..ORDERS).sum::<u64>() as i64));
    let f7 = fills.iter().find(|f| f.fill_id == "paper-7").unwrap();
    assert_eq!(f7.trace_id.as_deref(), Some(format!("{:032x}", 0xabc0_0000u64 + 7).as_str()));

    // Parameter generations and their acknowledgements, from the KV bucket: one entry each, kept
    // once across a restart (the watch replays the bucket), the strategy's name decoded.
    let (doc, ack) = (subjects::params_key("desk", "arb.v2"), subjects::params_ack_key("desk", "arb.v2"));
    let put = |k: String, v: &'static str| {
        let bus = bus.clone();
        async move { bus.kv_put(&k, Bytes::from_static(v.as_bytes())).await.unwrap() }
    };
    put(doc.clone(), r#"{"generation":1,"parameters":{"arbitrage":{"minEdgeBps":50}}}"#).await;
    put(ack.clone(), r#"{"generation":1,"applied":true}"#).await;
    put(doc.clone(), r#"{"generation":2,"parameters":{"arbitrage":{"minEdgeBps":-3}}}"#).await;
    put(ack.clone(), r#"{"generation":2,"applied":false,"error":"minEdgeBps below 0"}"#).await;
    put(subjects::scores_key("desk", "arb.v2"), "[]").await;
    let params = || async { journal.entries(Kind::Params, Range::ALL).await.unwrap() };
    let deadline = Instant::now() + Duration::from_secs(30);
    while params().await.len() < 4 {
        assert!(Instant::now() < deadline, "parameters not journaled: {:?}", params().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Drift reports: journaled when the standing alarms change (none yet, markouts raised,
    // cleared), not when only more samples were counted.
    use polyfleet_core::strategy::drift::{DriftAlarm, DriftMetric, DriftReport};
    let report = |samples: u64, alarm: bool| DriftReport {
        alarms: if alarm {
            vec![DriftAlarm { metric: DriftMetric::Markouts, since_ns: 100, fired: 1, detail: "mean -300 ppm".into() }]
        } else {
            vec![]
        },
        size_factor_bps: if alarm { 5_000 } else { 10_000 },
        samples: [samples, 0, 0],
        fired: [u64::from(alarm || samples > 30), 0, 0],
    };
    let drift_key = subjects::drift_key("desk", "arb.v2");
    let drifts = || async { journal.entries(Kind::Drift, Range::ALL).await.unwrap() };
    for (samples, alarm) in [(5, false), (9, false), (20, true), (25, true), (40, false), (45, false)] {
        bus.kv_put(&drift_key, serde_json::to_vec(&report(samples, alarm)).unwrap().into()).await.unwrap();
        // One at a time: the watch would see only the last of several quick puts.
        let want = match samples {
            5 | 9 => 1,
            20 | 25 => 2,
            _ => 3,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while drifts().await.len() < want {
            assert!(Instant::now() < deadline, "drift {samples} not journaled: {:?}", drifts().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    agent.stop();
    agent.start();
    wait_until_ready(&agent).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got: Vec<(String, String, String)> =
        params().await.into_iter().map(|e| (e.key, e.strategy, String::from_utf8(e.payload).unwrap())).collect();
    got.sort();
    assert_eq!(
        got.iter().map(|(k, s, _)| (k.as_str(), s.as_str())).collect::<Vec<_>>(),
        [
            ("desk/arb.v2/1", "arb.v2"),
            ("desk/arb.v2/1/ack", "arb.v2"),
            ("desk/arb.v2/2", "arb.v2"),
            ("desk/arb.v2/2/ack", "arb.v2")
        ]
    );
    assert!(got[3].2.contains("minEdgeBps below 0"), "{got:?}");
    let drift: Vec<DriftReport> = drifts().await.iter().map(|e| serde_json::from_slice(&e.payload).unwrap()).collect();
    assert_eq!(
        drift.iter().map(|r| (r.samples[0], r.alarms.len())).collect::<Vec<_>>(),
        [(5, 0), (20, 1), (40, 0)],
        "raised and cleared once each, kept once across the restart"
    );
    assert!(drifts().await.iter().all(|e| e.strategy == "arb.v2" && e.key.starts_with("desk/arb.v2/drift/")));
    agent.stop();
    journal.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_run_on_an_sqlite_file_the_journal_loses_and_duplicates_nothing() {
    let dir = std::env::temp_dir().join(format!("polyfleet-journal-agent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    run(&format!("sqlite://{}", dir.join("journal.db").display())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_run_on_a_real_postgres_the_journal_loses_and_duplicates_nothing() {
    let pg = PostgresServer::start();
    run(&pg.url).await;
}

/// A book of token `t` at `seq` with one bid and one ask (ticks), received at `recv_ns`.
fn book(t: u128, seq: u64, bid: u32, ask: u32, recv_ns: u64) -> polyfleet_core::wire::MarketEvent {
    use polyfleet_core::wire::{Level, MarketEvent, MarketEventBody};
    let level = |ticks| Level { price: Price::from_ticks(ticks).unwrap(), size: Quantity::from_micros(10_000_000) };
    MarketEvent {
        token: TokenId::from_u128(t),
        market: ConditionId::from_bytes([9; 32]),
        seq,
        venue_ts_ms: recv_ns / 1_000_000,
        recv_ts_ns: recv_ns,
        body: MarketEventBody::Snapshot {
            bids: vec![level(bid)],
            asks: vec![level(ask)],
            tick: Price::from_ticks(100).unwrap(),
            hash: None,
        },
    }
}

/// The mids of the tokens the strategies trade: followed from the first intent on them (a
/// snapshot asked for), journaled once per change at most once per interval (two changes within
/// one give the last; a change undone within one gives nothing), asked for again after a sequence
/// gap; a token no strategy traded is not journaled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traded_tokens_mids_are_journaled_once_per_change_and_interval() {
    use futures::StreamExt;
    use polyfleet_core::BookSide;
    use polyfleet_core::wire::{LevelChange, MarketEvent, MarketEventBody};
    let dir = std::env::temp_dir().join(format!("polyfleet-journal-mids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("journal.db").display());
    let nats = NatsServer::start();
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    // The market-data agent's part: snapshots of the current book on request.
    let current = std::sync::Arc::new(std::sync::Mutex::new(book(77, 1, 4000, 5000, 1_000)));
    let mut requests = bus.subscribe("mdsnap.sim.*").await.unwrap();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let responder = {
        let (bus, current, asked) = (bus.clone(), current.clone(), asked.clone());
        tokio::spawn(async move {
            while let Some(m) = requests.next().await {
                asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let ev = current.lock().unwrap().clone();
                bus.publish(m.reply.as_deref().unwrap(), vec![], Bytes::from(encode(&ev))).await.unwrap();
            }
        })
    };
    let env = vec![("POLYFLEET_JOURNAL_URL".to_string(), url.clone())];
    let mut agent = Agent::spawn("journal", args(&["journal", "--nats", &nats.url, "--mid-interval-ms", "300"]), env);
    wait_until_ready(&agent).await;
    let journal = SqlJournal::open(&url).await.unwrap();
    let mids = || async {
        polyfleet_journal::mids::read(&journal, Range::ALL)
            .await
            .unwrap()
            .into_iter()
            .map(|(ts, t, p)| (ts, t.to_string(), p.ticks()))
            .collect::<Vec<_>>()
    };
    let wait = |n: usize| async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = mids().await;
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{n} mids not journaled: {got:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let md = |ev: MarketEvent| {
        let bus = bus.clone();
        async move {
            bus.publish(&subjects::market_data("sim", &ev.token), vec![], Bytes::from(encode(&ev))).await.unwrap();
        }
    };
    // Token 88 moves, but nothing trades it.
    md(book(88, 1, 1000, 2000, 500)).await;
    // An intent on 77: its book is asked for, its mid (0.45) journaled at the snapshot's time.
    bus.persist(&subjects::intents("desk", "arb"), vec![], Bytes::from(encode(&Intent::Place(intent(0)))), Some("m-0"))
        .await
        .unwrap();
    assert_eq!(wait(1).await, [(1_000, "77".to_string(), 4500)]);
    // Two changes within an interval: the last (0.47) is written.
    md(book(77, 2, 4200, 5000, 2_000)).await;
    md(book(77, 3, 4400, 5000, 3_000)).await;
    assert_eq!(wait(2).await[1], (3_000, "77".to_string(), 4700));
    // A change undone within an interval writes nothing; a delta with no mid change neither.
    md(book(77, 4, 4600, 5000, 4_000)).await;
    let resting = LevelChange {
        side: BookSide::Bid,
        price: Price::from_ticks(4300).unwrap(),
        size: Quantity::from_micros(1_000_000),
    };
    md(MarketEvent { seq: 5, recv_ts_ns: 4_500, body: MarketEventBody::Delta(vec![resting]), ..book(77, 5, 0, 0, 0) })
        .await;
    md(book(77, 6, 4400, 5000, 5_000)).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(mids().await.len(), 2, "{:?}", mids().await);
    // A gap: the book is asked for again and its snapshot's mid (0.52) journaled.
    let before = asked.load(std::sync::atomic::Ordering::SeqCst);
    *current.lock().unwrap() = book(77, 20, 5000, 5400, 20_000);
    md(MarketEvent { seq: 9, recv_ts_ns: 9_000, body: MarketEventBody::Delta(vec![resting]), ..book(77, 9, 0, 0, 0) })
        .await;
    assert_eq!(wait(3).await[2], (20_000, "77".to_string(), 5200));
    assert!(asked.load(std::sync::atomic::Ordering::SeqCst) > before, "the gap asked for a snapshot");
    assert!(mids().await.iter().all(|(_, t, _)| t == "77"), "token 88 is not followed: {:?}", mids().await);
    let text = agent.metrics_text().await;
    assert_eq!(metric_value(&text, "polyfleet_journal_messages_total{kind=\"mid\"}"), 3.0, "{text}");
    agent.stop();
    responder.abort();
    journal.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

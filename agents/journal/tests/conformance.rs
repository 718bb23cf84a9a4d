//! One conformance suite for the journal's storage, run against an SQLite file and against a real
//! `postgres` (`polyfleet_testkit::PostgresServer`): migrations applied once and kept, batches
//! written whole and idempotently (a redelivered or replayed batch adds nothing, concurrent
//! writers of overlapping batches in any order add each record once), money exact to the
//! micro-unit, reads ordered and filtered, payloads that decode to the message written, and
//! what was committed surviving a kill of the database or of the process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test fails by panicking")]

use polyfleet_core::wire::{
    Fill, FillStatus, Liquidity, Mode, OrderIntent, OrderStatus, OrderUpdate, RiskDecision, TimeInForce, Verdict,
    decode,
};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_journal::store::sql::{Backend, SqlJournal};
use polyfleet_journal::{Entry, FillFilter, JournalError, JournalStore, Kind, Range, Record};
use polyfleet_testkit::PostgresServer;

const T0: u64 = 1_764_000_000_000_000_000;

fn fill(i: u64, status: FillStatus, strategy: &str) -> Fill {
    Fill {
        fill_id: format!("f-{i}"),
        client_order_id: ClientOrderId::new(&format!("o-{i}")).unwrap(),
        namespace: if i.is_multiple_of(2) { "desk-a".into() } else { "desk-b".into() },
        strategy: strategy.into(),
        risk_policy: "main".into(),
        market: ConditionId::from_bytes([u8::try_from(i % 200).unwrap(); 32]),
        token: TokenId::from_u128(u128::from(1000 + i)),
        side: if i.is_multiple_of(3) { Side::Sell } else { Side::Buy },
        // Both ends of the price range and odd ticks between.
        price: Price::from_ticks(if i == 1 { 10_000 } else { u32::try_from((i * 37) % 10_001).unwrap() }).unwrap(),
        size: Quantity::from_micros(5_000_000 + i * 1_000_001),
        // Rebates are negative fees.
        fee: Money::from_micros(if i.is_multiple_of(5) { -((i * 7) as i64) } else { (i * 13) as i64 }),
        liquidity: if i.is_multiple_of(5) { Liquidity::Maker } else { Liquidity::Taker },
        status,
        mode: Mode::Paper,
        ts_ns: T0 + i * 1_000_000,
    }
}

fn decision(i: u64) -> RiskDecision {
    RiskDecision {
        intent: OrderIntent {
            client_order_id: ClientOrderId::new(&format!("o-{i}")).unwrap(),
            group: None,
            namespace: "desk-a".into(),
            strategy: "arb".into(),
            risk_policy: "main".into(),
            venue: "sim".into(),
            market: ConditionId::from_bytes([7; 32]),
            token: TokenId::from_u128(42),
            side: Side::Buy,
            price: Price::from_ticks(4200).unwrap(),
            size: Quantity::from_micros(5_000_000),
            tif: TimeInForce::Gtc,
            post_only: false,
            mode: Mode::Paper,
            cause_seq: i,
            cause_recv_ts_ns: T0,
            created_ts_ns: T0 + i,
            outcome: None,
            kelly: None,
        },
        verdict: Verdict::Approved,
        decided_ts_ns: T0 + i * 1_000_000 + 1,
    }
}

fn update(i: u64, status: OrderStatus, filled: u64) -> OrderUpdate {
    OrderUpdate {
        client_order_id: ClientOrderId::new(&format!("o-{i}")).unwrap(),
        namespace: "desk-a".into(),
        strategy: "arb".into(),
        venue_order_id: Some(format!("v-{i}")),
        status,
        filled: Quantity::from_micros(filled),
        remaining: Quantity::from_micros(5_000_000 - filled),
        reason: None,
        ts_ns: T0 + i * 1_000_000 + 2,
    }
}

/// A run's worth of records: per order a decision, a partial fill's and the final update, its
/// fill matched and then confirmed.
fn run(orders: std::ops::Range<u64>) -> Vec<Record> {
    let mut out = vec![];
    for i in orders {
        let trace = Some(format!("{i:032x}"));
        out.push(Record::decision(&decision(i), trace.clone()).unwrap());
        out.push(Record::order(&update(i, OrderStatus::PartiallyFilled, 2_000_000), trace.clone()).unwrap());
        out.push(Record::order(&update(i, OrderStatus::Filled, 5_000_000), trace.clone()).unwrap());
        out.push(Record::fill(&fill(i, FillStatus::Matched, "arb"), trace.clone()).unwrap());
        out.push(Record::fill(&fill(i, FillStatus::Confirmed, "arb"), trace).unwrap());
    }
    out
}

fn count(counts: &[(Kind, u64)], kind: Kind) -> u64 {
    counts.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n).unwrap()
}

/// The suite, on the database at `url` (empty when it starts).
async fn suite(url: &str) {
    let j = SqlJournal::open(url).await.unwrap();
    assert_eq!(j.schema_version().await.unwrap(), 1);
    assert!(j.counts().await.unwrap().iter().all(|(_, n)| *n == 0));

    // Written once; the same batch again (a redelivery) adds nothing; a batch that overlaps adds
    // only what is new.
    let first = run(0..40);
    assert_eq!(j.append(&first).await.unwrap(), 200);
    assert_eq!(j.append(&first).await.unwrap(), 0);
    assert_eq!(j.append(&run(30..50)).await.unwrap(), 50);
    let counts = j.counts().await.unwrap();
    assert_eq!(count(&counts, Kind::Decision), 50);
    assert_eq!(count(&counts, Kind::Order), 100);
    assert_eq!(count(&counts, Kind::Fill), 100);
    assert_eq!(count(&counts, Kind::Settlement), 0);

    // Concurrent writers of overlapping batches, each in its own order: every record once.
    let mut writers = vec![];
    for w in 0..6u64 {
        let j = j.clone();
        writers.push(tokio::spawn(async move {
            let mut batch = run(40 + w * 10..100 + w * 10);
            if w % 2 == 1 {
                batch.reverse();
            }
            let mut new = 0;
            for chunk in batch.chunks(25) {
                new += j.append(chunk).await.unwrap();
            }
            new
        }));
    }
    let mut new = 0;
    for w in writers {
        new += w.await.unwrap();
    }
    // Orders 50..150 were new: 5 records each.
    assert_eq!(new, 500);
    assert_eq!(count(&j.counts().await.unwrap(), Kind::Fill), 300);

    // Fills read back exactly (money to the micro-unit, a rebate negative), oldest first, and the
    // entry's payload decodes to the fill written.
    let fills = j.fills(&FillFilter::default(), Range::ALL).await.unwrap();
    assert_eq!(fills.len(), 300);
    let mut expected = vec![];
    for i in 0..150 {
        for status in [FillStatus::Confirmed, FillStatus::Matched] {
            let r = Record::fill(&fill(i, status, "arb"), Some(format!("{i:032x}"))).unwrap();
            expected.push(r.fill.unwrap());
        }
    }
    assert_eq!(fills, expected);
    let fee_sum: i64 = fills.iter().filter(|f| f.status == "confirmed").map(|f| f.fee_micros).sum();
    let expected_fee: i64 = (0..150u64).map(|i| fill(i, FillStatus::Confirmed, "arb").fee.micros()).sum();
    assert_eq!(fee_sum, expected_fee);
    assert!(fills.iter().any(|f| f.fee_micros < 0) && fills.iter().any(|f| f.price_ticks == 10_000));
    let entries = j.entries(Kind::Fill, Range::ALL).await.unwrap();
    let back: Fill = decode(&entries.iter().find(|e| e.key == "f-7/confirmed").unwrap().payload).unwrap();
    assert_eq!(back, fill(7, FillStatus::Confirmed, "arb"));

    // Ranges are half-open; filters by namespace and strategy.
    let range = Range { since_ns: (T0 + 10 * 1_000_000) as i64, until_ns: (T0 + 20 * 1_000_000) as i64 };
    let decisions = j.entries(Kind::Decision, range).await.unwrap();
    assert_eq!(
        decisions.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        (10..20).map(|i| format!("o-{i}")).collect::<Vec<_>>()
    );
    let a = FillFilter { namespace: Some("desk-a".into()), strategy: None };
    assert_eq!(j.fills(&a, Range::ALL).await.unwrap().len(), 150);
    let none = FillFilter { namespace: None, strategy: Some("mm".into()) };
    assert!(j.fills(&none, Range::ALL).await.unwrap().is_empty());

    // Any other kind, with its own key; an entry without a trace.
    let params = Entry {
        kind: Kind::Params,
        key: "desk-a/arb/gen-3".into(),
        ts_ns: T0 as i64,
        namespace: "desk-a".into(),
        strategy: "arb".into(),
        trace_id: None,
        payload: b"{\"edgeBps\":25}".to_vec(),
    };
    assert_eq!(j.append(&[Record::of(params.clone())]).await.unwrap(), 1);
    assert_eq!(j.entries(Kind::Params, Range::ALL).await.unwrap(), vec![params]);

    // A batch is whole or nothing: one bad record (a price the schema refuses) leaves none of it.
    let mut bad = run(500..502);
    let mut broken = Record::fill(&fill(501, FillStatus::Matched, "arb"), None).unwrap();
    broken.entry.key = "f-bad/matched".into();
    broken.fill.as_mut().unwrap().fill_id = "f-bad".into();
    broken.fill.as_mut().unwrap().price_ticks = 10_001;
    bad.push(broken);
    assert!(matches!(j.append(&bad).await, Err(JournalError::Database(_))));
    assert_eq!(count(&j.counts().await.unwrap(), Kind::Decision), 150);

    // Opened again (a restart): migrations are not applied twice and nothing is lost.
    j.close().await;
    let again = SqlJournal::open(url).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 1);
    assert_eq!(count(&again.counts().await.unwrap(), Kind::Fill), 300);
    assert_eq!(again.append(&run(0..150)).await.unwrap(), 0);
    again.close().await;
}

#[test]
fn a_time_or_size_beyond_the_columns_is_refused_with_the_reason() {
    let mut f = fill(1, FillStatus::Matched, "arb");
    f.ts_ns = u64::MAX;
    assert!(matches!(Record::fill(&f, None), Err(JournalError::Range(why)) if why.contains("time")));
    let mut f = fill(1, FillStatus::Matched, "arb");
    f.size = Quantity::from_micros(u64::MAX);
    assert!(matches!(Record::fill(&f, None), Err(JournalError::Range(why)) if why.contains("size")));
}

#[tokio::test]
async fn conformance_on_an_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("polyfleet-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("journal.db").display());
    assert_eq!(Backend::of(&url), Some(Backend::Sqlite));
    suite(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn conformance_on_a_real_postgres() {
    let pg = PostgresServer::start();
    assert_eq!(Backend::of(&pg.url), Some(Backend::Postgres));
    suite(&pg.url).await;
}

#[tokio::test]
async fn what_postgres_committed_survives_its_kill_and_writes_fail_clearly_while_it_is_down() {
    let mut pg = PostgresServer::start();
    let j = SqlJournal::open(&pg.url).await.unwrap();
    assert_eq!(j.append(&run(0..20)).await.unwrap(), 100);
    pg.stop();
    // Down: an error that says so, no panic, nothing half-written.
    assert!(matches!(j.append(&run(20..30)).await, Err(JournalError::Database(_))));
    pg.resume();
    // Back: the pool reconnects; the failed batch goes again in full.
    let mut again = None;
    for _ in 0..50 {
        match j.append(&run(20..30)).await {
            Ok(n) => {
                again = Some(n);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert_eq!(again, Some(50));
    assert_eq!(count(&j.counts().await.unwrap(), Kind::Fill), 60);
}

#[tokio::test]
async fn a_url_of_another_database_is_refused() {
    assert!(matches!(SqlJournal::open("mysql://localhost/x").await, Err(JournalError::Range(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_new_sqlite_file_opened_from_many_places_at_once_is_migrated_once() {
    let dir = std::env::temp_dir().join(format!("polyfleet-journal-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("journal.db").display());
    let mut opens = vec![];
    for _ in 0..6 {
        let url = url.clone();
        opens.push(tokio::spawn(async move { SqlJournal::open(&url).await }));
    }
    for o in opens {
        let j = o.await.unwrap().expect("every opener gets the journal");
        assert_eq!(j.schema_version().await.unwrap(), 1);
        j.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

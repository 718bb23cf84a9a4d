//! Columnar recordings: every kind of market event survives the round trip through the Arrow
//! file (across batch boundaries, with a token filter); a recording of the simulator converts to
//! exactly the events, RTDS frames and accounting its JSON Lines give through the normalizer; a
//! cut file, an Arrow file of another layout and a JSON Lines file are refused with clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::PathBuf;

use polyfleet_backtest::columnar::convert::{Options, convert};
use polyfleet_backtest::columnar::read::Columnar;
use polyfleet_backtest::columnar::write::Writer;
use polyfleet_backtest::columnar::{Accounting, BATCH_ROWS, is_columnar};
use polyfleet_backtest::source::Events;
use polyfleet_core::wire::{Level, LevelChange, MarketEvent, MarketEventBody};
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, Side, TokenId};
use polyfleet_polymarket::data::recording::{BadInput, Reader, RecordLine};
use polyfleet_sim::{SimConfig, Simulator};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("polyfleet-columnar-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token(n: u64) -> TokenId {
    TokenId::parse(&format!("{}", 1_000_000_000_000u64 + n)).unwrap()
}

fn market(n: u8) -> ConditionId {
    ConditionId::parse(&format!("0x{}", format!("{n:02x}").repeat(32))).unwrap()
}

fn price(ticks: u32) -> Price {
    Price::from_ticks(ticks).unwrap()
}

/// One event of every kind (empty books and empty deltas too), for token `t`, from `seq`.
fn every_kind(t: TokenId, m: ConditionId, seq: u64, at: u64) -> Vec<MarketEvent> {
    let level = |p: u32, s: u64| Level { price: price(p), size: Quantity::from_micros(s) };
    let bodies = vec![
        MarketEventBody::Snapshot {
            bids: vec![level(4_900, 10_000_000), level(4_800, 5_500_000)],
            asks: vec![level(5_100, 7_000_000)],
            tick: price(100),
            hash: Some("0xabc".into()),
        },
        MarketEventBody::Snapshot { bids: vec![], asks: vec![], tick: price(10), hash: None },
        MarketEventBody::Delta(vec![
            LevelChange { side: BookSide::Bid, price: price(4_950), size: Quantity::from_micros(1) },
            LevelChange { side: BookSide::Ask, price: price(5_100), size: Quantity::ZERO },
        ]),
        MarketEventBody::Delta(vec![]),
        MarketEventBody::Trade {
            side: Side::Sell,
            price: price(4_900),
            size: Quantity::from_micros(2_500_000),
            fee_rate_bps: 30,
        },
        MarketEventBody::TickSize { tick: price(10) },
        MarketEventBody::FeedStatus { healthy: false },
        MarketEventBody::Trading { accepting_orders: false },
        MarketEventBody::Resolved { winner: true },
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| MarketEvent {
            token: t,
            market: m,
            seq: seq + i as u64,
            venue_ts_ms: (at / 1_000_000).saturating_sub(3),
            recv_ts_ns: at + i as u64,
            body,
        })
        .collect()
}

#[test]
fn every_kind_of_event_and_rtds_frames_survive_the_round_trip_across_batches() {
    round_trip(true);
    round_trip(false);
}

fn round_trip(compress: bool) {
    let dir = tmp(if compress { "kinds-lz4" } else { "kinds-plain" });
    let path = dir.join("events.arrow");
    let (a, b) = (token(1), token(2));
    let pairs = [(a, market(1)), (b, market(2))];
    let mut writer = Writer::create(&path, &pairs, compress).unwrap();
    let mut written = vec![];
    let mut rtds = vec![];
    // Enough rounds to fill several batches (every round writes 2 × 9 events and one RTDS frame).
    let rounds = 3 * BATCH_ROWS / 19 + 7;
    for r in 0..rounds as u64 {
        let at = 1_767_225_600_000_000_000 + r * 1_000_000;
        let text = format!("{{\"topic\":\"crypto_prices\",\"n\":{r}}}");
        writer.rtds(at, &text).unwrap();
        rtds.push((at, text));
        for (t, m) in pairs {
            for ev in every_kind(t, m, r * 10, at) {
                writer.event(&ev).unwrap();
                written.push(ev);
            }
        }
    }
    let accounting = Accounting {
        source: "hand-made".into(),
        events: written.len() as u64,
        rtds: rtds.len() as u64,
        ..Accounting::default()
    };
    writer.finish(&accounting).unwrap();
    assert!(is_columnar(&path));

    let mut all = Columnar::open(&path, None).unwrap();
    let read: Vec<MarketEvent> = all.by_ref().collect();
    assert_eq!(read.len(), written.len());
    assert!(read == written, "events differ after the round trip");
    assert_eq!(all.rtds, rtds, "RTDS frames differ");
    assert_eq!(all.finish().unwrap(), accounting);

    // A filter keeps one token's events, in order, and still sets every RTDS frame aside.
    let mut only_b = Columnar::open(&path, Some(&[b])).unwrap();
    let read_b: Vec<MarketEvent> = only_b.by_ref().collect();
    let expected_b: Vec<MarketEvent> = written.iter().filter(|e| e.token == b).cloned().collect();
    assert!(read_b == expected_b, "the filtered events differ");
    assert_eq!(only_b.rtds.len(), rounds);
    only_b.finish().unwrap();
    // An event of a token not declared at creation is refused, not written under another id.
    let mut w = Writer::create(&dir.join("other.arrow"), &pairs, compress).unwrap();
    let stray = every_kind(token(3), market(1), 1, 1_000).remove(0);
    let err = w.event(&stray).unwrap_err().to_string();
    assert!(err.contains("not declared"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_recording_converts_to_exactly_what_its_frames_normalize_to() {
    let dir = tmp("convert");
    let rec = dir.join("rec.jsonl");
    let mut sim =
        Simulator::new(SimConfig { seed: 5, binary_markets: 2, neg_risk_events: vec![3], ..SimConfig::default() });
    sim.set_resolve_after_ms(Some(3_000));
    let catalog = sim.catalog();
    let ns = |ms: u64| ms * 1_000_000;
    let mut out = std::fs::File::create(&rec).unwrap();
    RecordLine::connection(ns(sim.now_ms()), "connected").write_to(&mut out).unwrap();
    for m in sim.markets().to_vec() {
        for t in [m.yes, m.no] {
            RecordLine::frame(ns(sim.now_ms()), sim.snapshot_frame(&t).unwrap()).write_to(&mut out).unwrap();
        }
    }
    let mut steps = 0;
    while (0..sim.markets().len()).any(|i| sim.resolution(i).is_none()) {
        let frames = sim.step();
        steps += 1;
        let now = ns(sim.now_ms());
        if steps % 20 == 0 {
            RecordLine::rtds(now, format!("{{\"step\":{steps}}}")).write_to(&mut out).unwrap();
        }
        if steps == 100 {
            // A dropped connection: every book stale until the next snapshots.
            RecordLine::connection(now, "disconnected").write_to(&mut out).unwrap();
        }
        for f in frames {
            RecordLine::frame(now, f.text).write_to(&mut out).unwrap();
        }
    }
    drop(out);
    let tokens: Vec<TokenId> = catalog.markets.iter().flat_map(|m| m.tokens.iter().map(|t| t.token_id)).collect();

    // What a backtest of the JSON Lines sees.
    let mut reader = Reader::open(&rec, BadInput::Fail).unwrap();
    let mut source = Events::new(reader.by_ref(), tokens.clone());
    let expected: Vec<MarketEvent> = source.by_ref().collect();
    let expected_rtds = std::mem::take(&mut source.rtds);
    let ledger = source.ledger.clone();
    drop(source);
    let read = reader.finish().unwrap();
    assert!(expected.iter().any(|e| matches!(e.body, MarketEventBody::Resolved { .. })), "markets resolve");
    assert!(
        expected.iter().any(|e| matches!(e.body, MarketEventBody::FeedStatus { healthy: false })),
        "a disconnection"
    );
    assert!(expected.iter().any(|e| matches!(e.body, MarketEventBody::Trade { .. })), "trades");

    let arrow = dir.join("rec.arrow");
    let acc = convert(&rec, &catalog, &arrow, Options::default()).unwrap();
    assert_eq!(acc.read, read);
    assert_eq!(acc.ledger().unwrap(), ledger);
    assert_eq!((acc.events, acc.rtds), (expected.len() as u64, expected_rtds.len() as u64));
    assert_eq!(acc.first_recv_ns, ns(SimConfig::default().start_ms));
    assert!(!dir.join("rec.arrow.part").exists(), "the partial file is renamed when complete");

    let mut col = Columnar::open(&arrow, None).unwrap();
    let got: Vec<MarketEvent> = col.by_ref().collect();
    assert!(got == expected, "converted events differ ({} against {})", got.len(), expected.len());
    assert_eq!(col.rtds, expected_rtds);
    assert_eq!(col.finish().unwrap(), acc);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cut_foreign_and_json_files_are_refused_with_the_reason() {
    let dir = tmp("refused");
    let path = dir.join("ok.arrow");
    let pairs = [(token(1), market(1))];
    let mut w = Writer::create(&path, &pairs, true).unwrap();
    for ev in every_kind(token(1), market(1), 1, 1_767_225_600_000_000_000) {
        w.event(&ev).unwrap();
    }
    // A footer that counts other rows than the file holds is refused at the end.
    w.finish(&Accounting { events: 3, ..Accounting::default() }).unwrap();
    let mut miscounted = Columnar::open(&path, None).unwrap();
    assert_eq!(miscounted.by_ref().count(), 9, "every event is read");
    let err = miscounted.finish().unwrap_err().to_string();
    assert!(err.contains("9 rows, but the footer counts 3"), "{err}");

    // Cut short: the footer is gone.
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.join("cut.arrow");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let err = Columnar::open(&cut, None).err().expect("a cut file is refused").to_string();
    assert!(err.contains("cut.arrow"), "{err}");

    // Arrow, but another layout.
    let foreign = dir.join("foreign.arrow");
    {
        use arrow_array::{ArrayRef, Int32Array, RecordBatch};
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "x",
            arrow_schema::DataType::Int32,
            false,
        )]));
        let mut fw = arrow_ipc::writer::FileWriter::try_new(std::fs::File::create(&foreign).unwrap(), &schema).unwrap();
        let col: ArrayRef = std::sync::Arc::new(Int32Array::from(vec![1, 2]));
        fw.write(&RecordBatch::try_new(schema.clone(), vec![col]).unwrap()).unwrap();
        fw.finish().unwrap();
    }
    assert!(is_columnar(&foreign));
    let err = Columnar::open(&foreign, None).err().expect("a foreign file is refused").to_string();
    assert!(err.contains("not a polyfleet columnar recording"), "{err}");

    // JSON Lines are not columnar, and the reader says it cannot read them.
    let json = dir.join("rec.jsonl");
    std::fs::write(&json, "{\"recv_ns\":1,\"frame\":\"[]\"}\n").unwrap();
    assert!(!is_columnar(&json));
    assert!(Columnar::open(&json, None).is_err());

    // Converting a broken recording leaves no file behind.
    let broken = dir.join("broken.jsonl");
    std::fs::write(&broken, "{\"recv_ns\":1,\"frame\":\"[]\"}\nnot json\n").unwrap();
    let out = dir.join("broken.arrow");
    let err = convert(&broken, &Default::default(), &out, Options::default()).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
    assert!(!out.exists() && !dir.join("broken.arrow.part").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

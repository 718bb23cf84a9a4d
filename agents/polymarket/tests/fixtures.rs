//! Every market-channel and `/book` payload in `agents/polymarket/tests/data/polymarket/` decodes, with the
//! values the venue sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::PathBuf;

use polyfleet_core::book::OrderBook;
use polyfleet_core::{BookSide, Price, Quantity, Side, TokenId};
use polyfleet_polymarket::{Decoder, EventKind, MarketMessage};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/polymarket").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode_all(name: &str) -> (Decoder, Vec<String>) {
    let mut d = Decoder::new();
    let mut seen = vec![];
    d.decode(&fixture(name), |m| seen.push(format!("{m:?}")));
    (d, seen)
}

const MARKET_CHANNEL: [&str; 11] = [
    "ws_market_book_msg.json",
    "ws_book_snapshot.json",
    "ws_market_price_change_msg.json",
    "ws_quotes.json",
    "ws_market_last_trade_msg.json",
    "ws_last_trade.json",
    "ws_market_tick_size_msg.json",
    "ws_market_best_bid_ask_msg.json",
    "ws_market_new_market_msg.json",
    "ws_market_resolved_msg.json",
    "clob_book_response.json",
];

#[test]
fn every_market_channel_fixture_decodes_cleanly() {
    for name in MARKET_CHANNEL {
        let (d, seen) = decode_all(name);
        let st = d.stats();
        assert_eq!(seen.len(), 1, "{name}: {st:?}");
        assert_eq!((st.invalid_event, st.malformed_frame, st.unknown_type), (0, 0, 0), "{name}: {st:?}");
    }
}

#[test]
fn book_snapshot_levels_and_rebuilt_book() {
    let frame = fixture("ws_book_snapshot.json");
    let mut d = Decoder::new();
    let mut book = OrderBook::new();
    d.decode(&frame, |m| {
        let MarketMessage::Book(b) = m else { panic!("{m:?}") };
        assert_eq!(b.bids.len(), 3);
        assert_eq!(b.asks[0].price, Price::parse("0.53").unwrap(), "levels kept as sent (worst first)");
        book.apply_snapshot(b.bids.iter().copied(), b.asks.iter().copied(), Price::parse("0.01").unwrap()).unwrap();
    });
    assert_eq!(book.best_bid().unwrap().price.to_string(), "0.5");
    assert_eq!(book.best_ask().unwrap().size, Quantity::parse("150").unwrap());
}

#[test]
fn price_change_with_both_tokens() {
    let frame = fixture("ws_quotes.json");
    let mut d = Decoder::new();
    d.decode(&frame, |m| {
        let MarketMessage::PriceChange { changes, frame, timestamp_ms, .. } = m else { panic!("{m:?}") };
        assert_eq!(*timestamp_ms, 1_703_875_201_000);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].side, BookSide::Bid);
        assert_eq!(changes[1].side, BookSide::Ask);
        assert_ne!(changes[0].asset, changes[1].asset);
        assert_eq!(changes[1].hash(frame), Some("0xhash002"));
        assert_eq!(changes[1].best_bid, Some(Price::parse("0.48").unwrap()));
    });
    assert_eq!(d.stats().events_of(EventKind::PriceChange), 1);
}

#[test]
fn trades_ticks_bbo_new_and_resolved() {
    let mut d = Decoder::new();
    d.decode(&fixture("ws_market_last_trade_msg.json"), |m| {
        let MarketMessage::LastTrade { side, price, size, fee_rate_bps, .. } = m else { panic!("{m:?}") };
        assert_eq!(
            (*side, price.to_string(), size.to_string(), *fee_rate_bps),
            (Side::Buy, "0.51".into(), "25".into(), 0)
        );
    });
    d.decode(&fixture("ws_market_tick_size_msg.json"), |m| {
        let MarketMessage::TickSize { old, new, .. } = m else { panic!("{m:?}") };
        assert_eq!((old.unwrap().to_string(), new.to_string()), ("0.1".into(), "0.01".into()));
    });
    d.decode(&fixture("ws_market_best_bid_ask_msg.json"), |m| {
        let MarketMessage::BestBidAsk { best_bid, best_ask, .. } = m else { panic!("{m:?}") };
        assert_eq!((best_bid.unwrap().ticks(), best_ask.unwrap().ticks()), (7300, 7700));
    });
    d.decode(&fixture("ws_market_new_market_msg.json"), |m| {
        let MarketMessage::NewMarket { question, slug, assets, .. } = m else { panic!("{m:?}") };
        assert!(question.as_deref().unwrap().starts_with("Will NVIDIA"));
        assert_eq!(slug.as_deref(), Some("nvda-above-240-on-january-30-2026"));
        assert_eq!(assets.len(), 2);
    });
    d.decode(&fixture("ws_market_resolved_msg.json"), |m| {
        let MarketMessage::Resolved { winning_asset, assets, .. } = m else { panic!("{m:?}") };
        assert_eq!(*winning_asset, Some(assets[0]));
        assert_eq!(
            assets[0],
            TokenId::parse("76043073756653678226373981964075571318267289248134717369284518995922789326425").unwrap()
        );
    });
    assert_eq!(d.stats().events.iter().sum::<u64>(), 5);
}

#[test]
fn array_frames_count_every_element_and_bad_elements_alone() {
    let book = String::from_utf8(fixture("ws_market_book_msg.json")).unwrap();
    let bad = book.replace("\"0.50\"", "\"abc\"");
    let unknown = r#"{"event_type":"mystery","market":"0x00"}"#;
    let frame = format!("[{book},{bad},{unknown},{book}]");
    let mut d = Decoder::new();
    let mut books = 0;
    d.decode(frame.as_bytes(), |m| books += usize::from(matches!(m, MarketMessage::Book(_))));
    assert_eq!(books, 2);
    let st = d.stats();
    assert_eq!((st.invalid_event, st.unknown_type, st.malformed_frame), (1, 1, 0), "{st:?}");
    d.decode(b"PONG", |_| panic!("PONG is not an event"));
    d.decode(b"{\"event_type\":\"book\",", |_| panic!("broken JSON yields nothing"));
    assert_eq!((d.stats().pongs, d.stats().malformed_frame), (1, 1));
}

#[test]
fn a_flat_price_change_is_counted_as_unsupported_never_read_as_empty() {
    // The older flat schema: price, side and size at the top level, no price_changes list.
    let frame = br#"{"event_type":"price_change","market":"0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917","asset_id":"71321045679252212594626385532706912750332728571942532289631379312455583992563","price":"0.51","side":"BUY","size":"150.0","timestamp":"1703875201000"}"#;
    let mut d = Decoder::new();
    let mut seen = vec![];
    d.decode(frame, |m| seen.push(format!("{m:?}")));
    assert!(seen.is_empty(), "no event with zero changes: {seen:?}");
    let st = d.stats();
    assert_eq!((st.unsupported_schema, st.invalid_event, st.malformed_frame), (1, 0, 0), "{st:?}");
}

/// REST `/book` bodies in each shape the venue has served: with the timestamp as a string, as
/// a number, and without one (and without tick size, minimum size or neg-risk flag).
#[test]
fn rest_book_bodies_decode_with_and_without_a_timestamp() {
    let body = |ts: &str| {
        format!(
            r#"{{"market":"0x2f1ab0ffaf465c4acd76b9a4a1f8980db26bfae7d248a6bb289350586028307e","asset_id":"42"{ts},"hash":"ab","bids":[{{"price":"0.3","size":"209.99"}}],"asks":[{{"price":"0.34","size":"914.14"}}]}}"#
        )
    };
    for (ts, want) in [
        (r#","timestamp":"1761179949036""#, 1_761_179_949_036),
        (r#","timestamp":1761179949036"#, 1_761_179_949_036),
        ("", 0),
    ] {
        let mut d = Decoder::new();
        let mut seen = None;
        d.decode(body(ts).as_bytes(), |m| {
            let MarketMessage::Book(b) = m else { panic!("{m:?}") };
            seen = Some((b.timestamp_ms, b.tick_size, b.bids[0].price, b.asks[0].size));
        });
        let (t, tick, bid, ask_size) = seen.unwrap_or_else(|| panic!("{ts}: not decoded: {:?}", d.stats()));
        assert_eq!(t, want, "{ts}");
        assert_eq!(tick, None, "absent, not assumed");
        assert_eq!((bid, ask_size), (Price::parse("0.3").unwrap(), Quantity::parse("914.14").unwrap()));
    }
    // A typed event still needs its timestamp.
    let mut d = Decoder::new();
    d.decode(body("").replacen('{', r#"{"event_type":"book","#, 1).as_bytes(), |m| panic!("{m:?}"));
    assert_eq!(d.stats().invalid_event, 1);
}

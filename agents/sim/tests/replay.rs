//! `venue-sim --replay` serves what was recorded: a neg-risk market that ticks at 0.001 (prices
//! 0.001 and 0.002, a 0.511/0.514 spread, minimum size 5, the venue's own hash) reaches a new
//! subscriber as the recorded `book` object byte for byte, every recorded frame goes out as
//! recorded, and once a price change has moved the book the rebuilt snapshot keeps the recorded
//! tick, flag and minimum size and writes numbers as the venue does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use polyfleet_core::TokenId;
use polyfleet_polymarket::data::recording::RecordLine;
use polyfleet_sim::replay::Replay;
use polyfleet_sim::server;
use polyfleet_sim::source::Source;
use tokio_tungstenite::tungstenite::Message;

const MARKET: &str = "0x5eed000000000000000000000000000000000000000000000000000000000001";
const YES: &str = "1111111111111111111111111111111111111111111111111111111111111111111111111111";
const NO: &str = "2222222222222222222222222222222222222222222222222222222222222222222222222222";

fn book(asset: &str, bids: &str, asks: &str, hash: &str) -> String {
    format!(
        r#"{{"event_type":"book","market":"{MARKET}","asset_id":"{asset}","timestamp":"1764000000000","hash":"{hash}","bids":[{bids}],"asks":[{asks}],"min_order_size":"5","tick_size":"0.001","neg_risk":true,"last_trade_price":"0.512"}}"#
    )
}

/// The recording: both books in one frame (with, when `padding` > 0, a book of another market
/// and `padding` price changes of it before YES moves), then a price change of YES.
fn recording(padding: usize) -> (Vec<RecordLine>, String, String, String) {
    let yes = book(
        YES,
        r#"{"price":"0.001","size":"1500"},{"price":"0.002","size":"700"},{"price":"0.511","size":"42.5"}"#,
        r#"{"price":"0.999","size":"10"},{"price":"0.514","size":"18"}"#,
        "8d0b1c3f6a2e4d5b9c7a0f1e2d3c4b5a69788796",
    );
    let no = book(
        NO,
        r#"{"price":"0.486","size":"18"}"#,
        r#"{"price":"0.489","size":"42.5"}"#,
        "f00dfeed00112233445566778899aabbccddeeff",
    );
    let change = format!(
        r#"{{"event_type":"price_change","market":"{MARKET}","timestamp":"1764000000100","price_changes":[{{"asset_id":"{YES}","price":"0.512","size":"9","side":"BUY","hash":"00","best_bid":"0.512","best_ask":"0.514"}}]}}"#
    );
    const OTHER_MARKET: &str = "0x5eed000000000000000000000000000000000000000000000000000000000002";
    let mut frames = vec![format!("[{yes},{no}]")];
    if padding > 0 {
        let other = book("3", r#"{"price":"0.2","size":"1"}"#, r#"{"price":"0.3","size":"1"}"#, "aa");
        frames[0] = format!("[{yes},{no},{}]", other.replace(MARKET, OTHER_MARKET));
        for i in 0..padding {
            frames.push(format!(
                r#"{{"event_type":"price_change","market":"{OTHER_MARKET}","timestamp":"1764000000050","price_changes":[{{"asset_id":"3","price":"0.2","size":"{}","side":"BUY","hash":"00","best_bid":"0.2","best_ask":"0.3"}}]}}"#,
                i + 2
            ));
        }
    }
    frames.push(change.clone());
    let lines = frames.iter().enumerate().map(|(i, f)| RecordLine::frame(i as u64, f.clone()));
    (lines.collect(), yes, no, change)
}

#[test]
fn recorded_books_are_served_as_recorded_and_rebuilt_ones_keep_the_recorded_rules() {
    let (lines, yes, no, change) = recording(0);
    let (y, n) = (TokenId::parse(YES).unwrap(), TokenId::parse(NO).unwrap());
    let mut replay = Replay::new(lines);
    assert_eq!(replay.snapshot_frame(&y).as_deref(), Some(yes.as_str()), "byte for byte");
    assert_eq!(replay.snapshot_frame(&n).as_deref(), Some(no.as_str()));
    let book = replay.book(&y).unwrap();
    assert_eq!(book.tick().to_string(), "0.001");
    assert_eq!(book.depth(polyfleet_core::BookSide::Bid), 3, "0.001 and 0.002 are two levels");

    // The next frame goes out as recorded; YES's book moved, NO's did not.
    let out = replay.step();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, change);
    assert_eq!(replay.snapshot_frame(&n).as_deref(), Some(no.as_str()));
    let rebuilt = replay.snapshot_frame(&y).unwrap();
    for part in [
        r#""bids":[{"price":"0.001","size":"1500"},{"price":"0.002","size":"700"},{"price":"0.511","size":"42.5"},{"price":"0.512","size":"9"}]"#,
        r#""asks":[{"price":"0.999","size":"10"},{"price":"0.514","size":"18"}]"#,
        r#""tick_size":"0.001","min_order_size":"5","neg_risk":true,"last_trade_price":"0.512""#,
    ] {
        assert!(rebuilt.contains(part), "{part} not in {rebuilt}");
    }
}

#[tokio::test]
async fn a_subscriber_of_the_replay_server_receives_the_recorded_bytes() {
    let (lines, yes, no, _) = recording(10);
    let replay = Replay::new(lines);
    // One step a second, and ten steps of another market first: nothing moves these books while
    // the test subscribes.
    let sim = server::serve_source(Box::new(replay), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 1).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(sim.market_ws_url()).await.unwrap();
    let sub = format!(r#"{{"assets_ids":["{YES}","{NO}"],"type":"market"}}"#);
    ws.send(Message::Text(sub.into())).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                return t.to_string();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(first, format!("[{yes},{no}]"));
}

/// A recording whose `book` frames state no minimum size and no neg-risk flag (as the venue's
/// WebSocket has sent them): a rebuilt snapshot does not invent them.
#[test]
fn a_rebuilt_snapshot_states_only_what_the_recording_stated() {
    let bare = |s: String| s.replace(r#","min_order_size":"5""#, "").replace(r#","neg_risk":true"#, "");
    let (lines, yes, _, _) = recording(0);
    let lines: Vec<RecordLine> = lines.into_iter().map(|l| RecordLine { frame: l.frame.map(bare), ..l }).collect();
    let y = TokenId::parse(YES).unwrap();
    let mut replay = Replay::new(lines);
    assert_eq!(replay.snapshot_frame(&y), Some(bare(yes)), "the recorded bytes first");
    replay.step();
    let rebuilt = replay.snapshot_frame(&y).unwrap();
    assert!(!rebuilt.contains("min_order_size") && !rebuilt.contains("neg_risk"), "{rebuilt}");
    assert!(rebuilt.contains(r#""tick_size":"0.001""#), "{rebuilt}");
}

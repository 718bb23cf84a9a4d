//! Writing market-channel frames in the venue's wire format (every number a string, timestamps in
//! milliseconds as strings). The venue simulator speaks through these, and tests use them to build
//! inputs; the decoder in [`crate::websocket::market`] reads them back.

use std::fmt::Write;

use polyfleet_core::book::OrderBook;
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, Side, TokenId};

use crate::data::book_hash::{BookMeta, book_hash, format_price, write_levels};

/// One entry of a `price_change` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOut {
    /// The token.
    pub asset: TokenId,
    /// The book side changed.
    pub side: BookSide,
    /// The level's price.
    pub price: Price,
    /// The level's new size (0 removes it).
    pub size: Quantity,
    /// The book's hash after the change.
    pub hash: String,
    /// Best bid after the change.
    pub best_bid: Option<Price>,
    /// Best ask after the change.
    pub best_ask: Option<Price>,
}

fn opt_price(p: Option<Price>) -> String {
    p.map(format_price).unwrap_or_default()
}

/// Which optional summary fields a `book` frame states (the venue's WebSocket `book` events
/// have been seen without `min_order_size` and `neg_risk`; a frame rebuilt from such a
/// recording must not invent them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stated {
    /// `min_order_size` is known.
    pub min_order_size: bool,
    /// `neg_risk` is known.
    pub neg_risk: bool,
}

impl Stated {
    /// Every field known.
    pub const ALL: Stated = Stated { min_order_size: true, neg_risk: true };
}

/// A `book` event for one token, levels worst first, with its hash.
pub fn book_frame(meta: &BookMeta, book: &OrderBook) -> String {
    book_frame_stating(meta, book, Stated::ALL)
}

/// A `book` event stating only the optional fields that are known.
pub fn book_frame_stating(meta: &BookMeta, book: &OrderBook, stated: Stated) -> String {
    let mut s = String::with_capacity(512);
    let _ = write!(s, r#"{{"event_type":"book","market":"{}","asset_id":"{}","bids":["#, meta.market, meta.asset);
    write_levels(&mut s, book);
    let _ = write!(
        s,
        r#""timestamp":"{}","hash":"{}","tick_size":"{}""#,
        meta.timestamp_ms,
        book_hash(meta, book),
        format_price(meta.tick_size)
    );
    if stated.min_order_size {
        let _ = write!(s, r#","min_order_size":"{}""#, meta.min_order_size);
    }
    if stated.neg_risk {
        let _ = write!(s, r#","neg_risk":{}"#, meta.neg_risk);
    }
    let _ = write!(s, r#","last_trade_price":"{}"}}"#, opt_price(meta.last_trade_price));
    s
}

/// A `price_change` event.
pub fn price_change_frame(market: ConditionId, timestamp_ms: u64, changes: &[ChangeOut]) -> String {
    let mut s = String::with_capacity(128 + 300 * changes.len());
    let _ = write!(s, r#"{{"market":"{market}","price_changes":["#);
    for (i, c) in changes.iter().enumerate() {
        let side = match c.side {
            BookSide::Bid => "BUY",
            BookSide::Ask => "SELL",
        };
        let _ = write!(
            s,
            r#"{}{{"asset_id":"{}","price":"{}","size":"{}","side":"{side}","hash":"{}","best_bid":"{}","best_ask":"{}"}}"#,
            if i == 0 { "" } else { "," },
            c.asset,
            format_price(c.price),
            c.size,
            c.hash,
            opt_price(c.best_bid),
            opt_price(c.best_ask),
        );
    }
    let _ = write!(s, r#"],"timestamp":"{timestamp_ms}","event_type":"price_change"}}"#);
    s
}

/// A `tick_size_change` event.
pub fn tick_size_frame(market: ConditionId, asset: TokenId, old: Price, new: Price, timestamp_ms: u64) -> String {
    format!(
        r#"{{"event_type":"tick_size_change","market":"{market}","asset_id":"{asset}","old_tick_size":"{}","new_tick_size":"{}","timestamp":"{timestamp_ms}"}}"#,
        format_price(old),
        format_price(new),
    )
}

/// A trade for [`last_trade_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeOut {
    /// The taker's side.
    pub side: Side,
    /// Trade price.
    pub price: Price,
    /// Trade size.
    pub size: Quantity,
    /// Fee rate, basis points.
    pub fee_rate_bps: u32,
}

/// A `last_trade_price` event.
pub fn last_trade_frame(market: ConditionId, asset: TokenId, trade: &TradeOut, timestamp_ms: u64) -> String {
    let TradeOut { side, price, size, fee_rate_bps } = *trade;
    let side = match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    };
    format!(
        r#"{{"event_type":"last_trade_price","market":"{market}","asset_id":"{asset}","price":"{}","size":"{size}","side":"{side}","fee_rate_bps":"{fee_rate_bps}","timestamp":"{timestamp_ms}"}}"#,
        format_price(price),
    )
}

/// A `market_resolved` event: `winner` (one of `assets`) won, its outcome labelled `outcome`.
pub fn market_resolved_frame(
    market: ConditionId,
    assets: &[TokenId],
    winner: TokenId,
    outcome: &str,
    timestamp_ms: u64,
) -> String {
    let ids: Vec<String> = assets.iter().map(|a| format!("\"{a}\"")).collect();
    let outcome = serde_json::Value::from(outcome);
    format!(
        r#"{{"event_type":"market_resolved","id":"{market}","market":"{market}","assets_ids":[{}],"winning_asset_id":"{winner}","winning_outcome":{outcome},"timestamp":"{timestamp_ms}"}}"#,
        ids.join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder, MarketMessage};
    use polyfleet_core::wire::Level;

    #[test]
    fn written_frames_decode_back() {
        let tick = Price::parse("0.01").unwrap();
        let mut book = OrderBook::new();
        let l = |p: &str, s: &str| Level { price: Price::parse(p).unwrap(), size: Quantity::parse(s).unwrap() };
        book.apply_snapshot([l("0.4", "10"), l("0.41", "3.5")], [l("0.45", "7")], tick).unwrap();
        let meta = BookMeta {
            market: ConditionId::from_bytes([7; 32]),
            asset: TokenId::from_u128(99),
            timestamp_ms: 5,
            min_order_size: Quantity::parse("5").unwrap(),
            tick_size: tick,
            neg_risk: true,
            last_trade_price: None,
        };
        let mut d = Decoder::new();
        let mut rebuilt = OrderBook::new();
        d.decode(book_frame(&meta, &book).as_bytes(), |m| {
            let MarketMessage::Book(b) = m else { panic!("{m:?}") };
            assert_eq!(b.hash, Some(book_hash(&meta, &book).as_str()));
            assert_eq!(b.neg_risk, Some(true));
            rebuilt.apply_snapshot(b.bids.iter().copied(), b.asks.iter().copied(), b.tick_size.unwrap()).unwrap();
        });
        assert_eq!(rebuilt, book);
        let change = ChangeOut {
            asset: meta.asset,
            side: BookSide::Ask,
            price: Price::parse("0.44").unwrap(),
            size: Quantity::parse("1").unwrap(),
            hash: "abc".into(),
            best_bid: Some(Price::parse("0.41").unwrap()),
            best_ask: None,
        };
        d.decode(price_change_frame(meta.market, 6, &[change]).as_bytes(), |m| {
            let MarketMessage::PriceChange { changes, frame, .. } = m else { panic!("{m:?}") };
            assert_eq!(changes[0].hash(frame), Some("abc"));
            assert_eq!(changes[0].best_ask, None);
        });
        d.decode(tick_size_frame(meta.market, meta.asset, tick, Price::parse("0.001").unwrap(), 7).as_bytes(), |m| {
            assert!(matches!(m, MarketMessage::TickSize { .. }));
        });
        let t = TradeOut {
            side: Side::Sell,
            price: Price::parse("0.4").unwrap(),
            size: Quantity::parse("2").unwrap(),
            fee_rate_bps: 720,
        };
        let trade = last_trade_frame(meta.market, meta.asset, &t, 8);
        d.decode(trade.as_bytes(), |m| assert!(matches!(m, MarketMessage::LastTrade { fee_rate_bps: 720, .. })));
        assert_eq!(d.stats().invalid_event + d.stats().malformed_frame, 0);
    }
}

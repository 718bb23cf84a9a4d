//! Recomputation of Polymarket's book hash, to prove a book rebuilt from a snapshot and deltas
//! equals the venue's.
//!
//! The venue's official clients compute `hash` as SHA-1 (hex) over the book summary serialized as
//! compact JSON with the keys, in order: `market, asset_id, timestamp, hash` (set to `""`),
//! `bids, asks` (levels as `{"price","size"}` strings, in the venue's order: worst first),
//! `min_order_size, tick_size, neg_risk` (a JSON boolean) `, last_trade_price`.
//!
//! Rebuilding the strings is the delicate part: the venue writes prices and sizes with minimal
//! decimals ("0.5" and "0.51" at tick 0.01, "150.5"). The simulator writes
//! its frames and hashes with these same rules, so the two always agree; against the live venue a
//! disagreement is counted as a hash mismatch and repaired with a REST resync.

use std::fmt::Write;

use polyfleet_core::book::OrderBook;
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, TokenId};
use sha1::{Digest, Sha1};

/// The non-level fields of a book summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookMeta {
    /// The market (condition id).
    pub market: ConditionId,
    /// The token.
    pub asset: TokenId,
    /// Venue time, Unix milliseconds.
    pub timestamp_ms: u64,
    /// Minimum order size.
    pub min_order_size: Quantity,
    /// Tick size.
    pub tick_size: Price,
    /// Whether the market is neg-risk.
    pub neg_risk: bool,
    /// Last trade price, if any.
    pub last_trade_price: Option<Price>,
}

/// A price as the venue writes it: minimal decimals, whatever the tick ("0.5" and "0.51" at tick
/// 0.01, "0.511" at 0.001, "1" for 1), as in the venue's `book` and `price_change` frames.
pub fn format_price(price: Price) -> String {
    let mut ticks = price.ticks();
    let mut decimals = Price::DECIMALS;
    while decimals > 0 && ticks.is_multiple_of(10) {
        ticks /= 10;
        decimals -= 1;
    }
    if decimals == 0 {
        return ticks.to_string();
    }
    let unit = 10u32.pow(decimals);
    format!("{}.{:0width$}", ticks / unit, ticks % unit, width = decimals as usize)
}

/// Appends `<bids>],"asks":[<asks>],` with levels worst first (the venue's order) as
/// `{"price","size"}` strings: the shared middle of the hash summary and of `book` frames, whose
/// `"bids":[` the caller has written.
pub fn write_levels(s: &mut String, book: &OrderBook) {
    for (side, close) in [(BookSide::Bid, "],\"asks\":["), (BookSide::Ask, "],")] {
        for (i, level) in book.levels(side).rev().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(s, r#"{sep}{{"price":"{}","size":"{}"}}"#, format_price(level.price), level.size);
        }
        s.push_str(close);
    }
}

/// The summary JSON the hash covers, levels worst first (the venue's order).
pub fn summary_json(meta: &BookMeta, book: &OrderBook) -> String {
    let mut s = String::with_capacity(256 + 48 * (book.depth(BookSide::Bid) + book.depth(BookSide::Ask)));
    let _ = write!(
        s,
        r#"{{"market":"{}","asset_id":"{}","timestamp":"{}","hash":"","bids":["#,
        meta.market, meta.asset, meta.timestamp_ms
    );
    write_levels(&mut s, book);
    let _ = write!(
        s,
        r#""min_order_size":"{}","tick_size":"{}","neg_risk":{},"last_trade_price":"{}"}}"#,
        meta.min_order_size,
        format_price(meta.tick_size),
        meta.neg_risk,
        meta.last_trade_price.map(format_price).unwrap_or_default()
    );
    s
}

/// SHA-1 hex of the summary.
pub fn book_hash(meta: &BookMeta, book: &OrderBook) -> String {
    let digest = Sha1::digest(summary_json(meta, book).as_bytes());
    let mut hex = String::with_capacity(40);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::wire::Level;

    fn l(p: &str, s: &str) -> Level {
        Level { price: Price::parse(p).unwrap(), size: Quantity::parse(s).unwrap() }
    }

    #[test]
    fn matches_an_independent_reference() {
        // Reference: Python's json.dumps(summary, separators=(",", ":")) then hashlib.sha1, on
        // the same book, prices in minimal decimals as the venue writes them ("0.5"), computed
        // outside this code base.
        let tick = Price::parse("0.01").unwrap();
        let mut book = OrderBook::new();
        book.apply_snapshot(
            [l("0.50", "200"), l("0.48", "500"), l("0.49", "350")],
            [l("0.51", "150.5"), l("0.53", "400"), l("0.52", "250")],
            tick,
        )
        .unwrap();
        let meta = BookMeta {
            market: ConditionId::parse("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917").unwrap(),
            asset: TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563")
                .unwrap(),
            timestamp_ms: 1_703_875_200_000,
            min_order_size: Quantity::parse("5").unwrap(),
            tick_size: tick,
            neg_risk: false,
            last_trade_price: Some(Price::parse("0.5").unwrap()),
        };
        assert_eq!(book_hash(&meta, &book), "7c57b846f8f45f804256268c0cabc895714cc624");
    }

    #[test]
    fn prices_take_minimal_decimals_as_the_venue_writes_them() {
        let p = |t: &str| Price::parse(t).unwrap();
        assert_eq!(format_price(p("0.5")), "0.5");
        assert_eq!(format_price(p("0.50")), "0.5");
        assert_eq!(format_price(p("0.51")), "0.51");
        assert_eq!(format_price(p("0.511")), "0.511");
        assert_eq!(format_price(p("0.0123")), "0.0123");
        assert_eq!(format_price(p("0.001")), "0.001");
        assert_eq!(format_price(Price::ONE), "1");
        assert_eq!(format_price(Price::ZERO), "0");
    }
}

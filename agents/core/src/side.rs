//! Order side (what we do) and book side (where a level rests).

use serde::{Deserialize, Serialize};

/// The side of an order: buy or sell outcome tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Buy outcome tokens (pay USDC).
    Buy,
    /// Sell outcome tokens held (receive USDC).
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// The book side an order of this side rests on (a buy rests on the bids).
    pub fn resting_side(self) -> BookSide {
        match self {
            Side::Buy => BookSide::Bid,
            Side::Sell => BookSide::Ask,
        }
    }

    /// The book side an order of this side takes liquidity from (a buy takes the asks).
    pub fn taking_side(self) -> BookSide {
        self.opposite().resting_side()
    }

    /// Parses the venue's `"BUY"` / `"SELL"`.
    pub fn from_venue(s: &str) -> Option<Side> {
        match s {
            "BUY" | "buy" => Some(Side::Buy),
            "SELL" | "sell" => Some(Side::Sell),
            _ => None,
        }
    }
}

/// A side of an order book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BookSide {
    /// Resting buy orders.
    Bid,
    /// Resting sell orders.
    Ask,
}

impl BookSide {
    /// The other side of the book.
    pub fn opposite(self) -> BookSide {
        match self {
            BookSide::Bid => BookSide::Ask,
            BookSide::Ask => BookSide::Bid,
        }
    }
}

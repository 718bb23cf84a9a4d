//! [`BinaryBooks`]: the YES and NO books of one binary market, which mirror each other on the
//! venue (a bid for YES at p is an ask for NO at 1 - p). The combined view takes, for each side,
//! the better of the token's own book and the mirrored other book.

use super::OrderBook;
use crate::money::Price;
use crate::side::BookSide;
use crate::wire::Level;

/// YES and NO books of a binary market.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryBooks {
    /// The YES token's book.
    pub yes: OrderBook,
    /// The NO token's book.
    pub no: OrderBook,
}

impl BinaryBooks {
    /// Best ask for YES across both books: YES asks, or NO bids complemented.
    pub fn best_yes_ask(&self) -> Option<Price> {
        better(self.yes.best_ask().map(|l| l.price), self.no.best_bid().map(|l| l.price.complement()), BookSide::Ask)
    }

    /// Best bid for YES across both books: YES bids, or NO asks complemented.
    pub fn best_yes_bid(&self) -> Option<Price> {
        better(self.yes.best_bid().map(|l| l.price), self.no.best_ask().map(|l| l.price.complement()), BookSide::Bid)
    }

    /// True when the NO book is exactly the mirror of the YES book (the venue's invariant).
    pub fn is_mirrored(&self) -> bool {
        self.yes.mirrored().levels(BookSide::Bid).eq(self.no.levels(BookSide::Bid))
            && self.yes.mirrored().levels(BookSide::Ask).eq(self.no.levels(BookSide::Ask))
    }

    /// Cost in ticks of one complete set from the best asks (YES ask + NO ask; may exceed
    /// [`Price::SCALE`]); below `Price::SCALE` is an arbitrage before fees.
    pub fn set_ask_ticks(&self) -> Option<u32> {
        let (y, n): (Level, Level) = (self.yes.best_ask()?, self.no.best_ask()?);
        Some(y.price.ticks() + n.price.ticks())
    }
}

fn better(a: Option<Price>, b: Option<Price>, side: BookSide) -> Option<Price> {
    match (a, b, side) {
        (Some(a), Some(b), BookSide::Ask) => Some(a.min(b)),
        (Some(a), Some(b), BookSide::Bid) => Some(a.max(b)),
        (a, b, _) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Quantity;

    fn l(price: &str, size: &str) -> Level {
        Level { price: Price::parse(price).unwrap(), size: Quantity::parse(size).unwrap() }
    }

    #[test]
    fn mirrored_books_agree_and_combine() {
        let mut books = BinaryBooks::default();
        books.yes.apply_snapshot([l("0.40", "10")], [l("0.45", "5")], Price::parse("0.01").unwrap()).unwrap();
        books.no = books.yes.mirrored();
        assert!(books.is_mirrored());
        assert_eq!(books.best_yes_ask(), Some(Price::parse("0.45").unwrap()));
        assert_eq!(books.best_yes_bid(), Some(Price::parse("0.40").unwrap()));
        assert_eq!(books.set_ask_ticks(), Some(10_500));
        books.no.apply_level(BookSide::Bid, Price::parse("0.57").unwrap(), Quantity::parse("1").unwrap()).unwrap();
        assert!(!books.is_mirrored());
        assert_eq!(books.best_yes_ask(), Some(Price::parse("0.43").unwrap()));
    }
}

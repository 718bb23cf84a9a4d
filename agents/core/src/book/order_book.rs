//! [`OrderBook`]: one token's L2 book.

use crate::money::{Money, Price, Quantity, Rounding};
use crate::side::{BookSide, Side};
use crate::wire::Level;

/// Whether the book can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookState {
    /// No snapshot yet, or the tick size changed: deltas are refused until the next snapshot.
    AwaitingSnapshot,
    /// Built from a snapshot and the deltas since.
    Live,
}

/// Why a book update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// A delta arrived while the book waits for a snapshot.
    #[error("book is awaiting a snapshot; delta refused")]
    AwaitingSnapshot,
    /// A level price outside (0, 1).
    #[error("level price {0} is outside (0, 1)")]
    PriceOutOfRange(Price),
}

/// The result of sweeping the book for a quantity: how much could be filled, at what cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// Shares available up to the requested quantity.
    pub filled: Quantity,
    /// Cash paid (buying) or received (selling), rounded against us (up for a buy, down for a
    /// sell) per level.
    pub notional: Money,
    /// The worst price touched.
    pub worst_price: Option<Price>,
}

impl Fill {
    /// Volume-weighted average price in ticks, rounded against us; `None` if nothing filled.
    pub fn vwap(&self, side: Side) -> Option<Price> {
        if self.filled.is_zero() {
            return None;
        }
        let rounding = match side {
            Side::Buy => Rounding::Up,
            Side::Sell => Rounding::Down,
        };
        let ticks = crate::money::div_round(
            i128::from(self.notional.micros()) * i128::from(Price::SCALE),
            i128::from(self.filled.micros()),
            rounding,
        );
        Price::from_ticks(u32::try_from(ticks).ok()?)
    }
}

/// One token's L2 book: levels in ticks and micro-shares, best level last on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBook {
    /// Ascending by price: best (highest) bid last.
    bids: Vec<Level>,
    /// Descending by price: best (lowest) ask last.
    asks: Vec<Level>,
    tick: Price,
    state: BookState,
}

impl Default for OrderBook {
    fn default() -> Self {
        OrderBook::new()
    }
}

impl OrderBook {
    /// An empty book awaiting its first snapshot.
    pub fn new() -> OrderBook {
        OrderBook {
            bids: Vec::new(),
            asks: Vec::new(),
            tick: Price::from_ticks(100).unwrap_or(Price::ZERO),
            state: BookState::AwaitingSnapshot,
        }
    }

    /// Live or awaiting a snapshot.
    pub fn state(&self) -> BookState {
        self.state
    }

    /// The market's tick size.
    pub fn tick(&self) -> Price {
        self.tick
    }

    /// Replaces the whole book. Levels may come in any order; a zero size is dropped; a price
    /// repeated within one side keeps its last size. Prices outside (0, 1) are refused and leave
    /// the book untouched.
    pub fn apply_snapshot<B, A>(&mut self, bids: B, asks: A, tick: Price) -> Result<(), BookError>
    where
        B: IntoIterator<Item = Level>,
        A: IntoIterator<Item = Level>,
    {
        let mut new_bids = std::mem::take(&mut self.bids);
        let mut new_asks = std::mem::take(&mut self.asks);
        let result = fill_side(&mut new_bids, bids, false).and_then(|_| fill_side(&mut new_asks, asks, true));
        self.bids = new_bids;
        self.asks = new_asks;
        match result {
            Ok(()) => {
                self.tick = tick;
                self.state = BookState::Live;
                Ok(())
            }
            Err(e) => {
                self.bids.clear();
                self.asks.clear();
                self.state = BookState::AwaitingSnapshot;
                Err(e)
            }
        }
    }

    /// Sets a level's total size (zero removes it).
    #[inline]
    pub fn apply_level(&mut self, side: BookSide, price: Price, size: Quantity) -> Result<(), BookError> {
        if self.state != BookState::Live {
            return Err(BookError::AwaitingSnapshot);
        }
        if !price.is_tradable() {
            return Err(BookError::PriceOutOfRange(price));
        }
        let (levels, descending) = match side {
            BookSide::Bid => (&mut self.bids, false),
            BookSide::Ask => (&mut self.asks, true),
        };
        set_level(levels, descending, price, size);
        Ok(())
    }

    /// The tick size changed: the book is void until the next snapshot.
    pub fn tick_size_changed(&mut self, tick: Price) {
        self.tick = tick;
        self.bids.clear();
        self.asks.clear();
        self.state = BookState::AwaitingSnapshot;
    }

    /// Best bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last().copied()
    }

    /// Best ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.last().copied()
    }

    /// Best level of a side.
    pub fn best(&self, side: BookSide) -> Option<Level> {
        match side {
            BookSide::Bid => self.best_bid(),
            BookSide::Ask => self.best_ask(),
        }
    }

    /// Levels of a side, best first.
    pub fn levels(&self, side: BookSide) -> impl DoubleEndedIterator<Item = &Level> + ExactSizeIterator {
        match side {
            BookSide::Bid => self.bids.iter().rev(),
            BookSide::Ask => self.asks.iter().rev(),
        }
    }

    /// Number of levels on a side.
    pub fn depth(&self, side: BookSide) -> usize {
        match side {
            BookSide::Bid => self.bids.len(),
            BookSide::Ask => self.asks.len(),
        }
    }

    /// Best bid >= best ask: the book cannot be right (a missed delta, or a stale snapshot).
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// Mid price rounded down, when both sides have a level.
    pub fn mid(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Price::from_ticks((b.price.ticks() + a.price.ticks()) / 2)
    }

    /// Sweeps the book for an order of `side` and `qty` with an optional limit price: what would
    /// fill, for how much. A buy walks the asks from the best; a sell walks the bids.
    pub fn sweep(&self, side: Side, qty: Quantity, limit: Option<Price>) -> Fill {
        let rounding = match side {
            Side::Buy => Rounding::Up,
            Side::Sell => Rounding::Down,
        };
        let mut left = qty;
        let mut notional = Money::ZERO;
        let mut worst_price = None;
        for level in self.levels(side.taking_side()) {
            if left.is_zero() {
                break;
            }
            let beyond = match (side, limit) {
                (Side::Buy, Some(l)) => level.price > l,
                (Side::Sell, Some(l)) => level.price < l,
                (_, None) => false,
            };
            if beyond {
                break;
            }
            let take = left.min(level.size);
            let cost = level.price.notional(take, rounding).unwrap_or(Money::from_micros(i64::MAX));
            notional = notional.checked_add(cost).unwrap_or(Money::from_micros(i64::MAX));
            left = left.saturating_sub(take);
            worst_price = Some(level.price);
        }
        Fill { filled: qty.saturating_sub(left), notional, worst_price }
    }

    /// Cash resting on a side within `within_ticks` of its best price.
    pub fn liquidity(&self, side: BookSide, within_ticks: u32) -> Money {
        let Some(best) = self.best(side) else { return Money::ZERO };
        let mut total = Money::ZERO;
        for level in self.levels(side) {
            if level.price.ticks().abs_diff(best.price.ticks()) > within_ticks {
                break;
            }
            let cash = level.price.notional(level.size, Rounding::Down).unwrap_or(Money::ZERO);
            total = total.checked_add(cash).unwrap_or(Money::from_micros(i64::MAX));
        }
        total
    }

    /// The book of the complementary token: a bid at p is an ask at 1 - p, and the other way.
    pub fn mirrored(&self) -> OrderBook {
        let flip = |l: &Level| Level { price: l.price.complement(), size: l.size };
        OrderBook {
            // Ascending bids come from asks (descending) complemented: same iteration order.
            bids: self.asks.iter().map(flip).collect(),
            asks: self.bids.iter().map(flip).collect(),
            tick: self.tick,
            state: self.state,
        }
    }
}

fn fill_side<I: IntoIterator<Item = Level>>(
    levels: &mut Vec<Level>,
    input: I,
    descending: bool,
) -> Result<(), BookError> {
    levels.clear();
    let in_order = |a: &Level, b: &Level| if descending { a.price >= b.price } else { a.price <= b.price };
    let mut sorted = true;
    for l in input {
        if !l.price.is_tradable() {
            return Err(BookError::PriceOutOfRange(l.price));
        }
        if let Some(last) = levels.last() {
            sorted &= in_order(last, &l);
        }
        levels.push(l);
    }
    // Venues send levels worst first, which is already this order: sort only when they did not.
    // The sort is stable, so a repeated price keeps its last size below.
    if !sorted {
        if descending {
            levels.sort_by_key(|l| std::cmp::Reverse(l.price));
        } else {
            levels.sort_by_key(|l| l.price);
        }
    }
    // One pass: keep the last size of a repeated price, then drop empty levels.
    let mut out = 0;
    for i in 0..levels.len() {
        let l = levels[i];
        if out > 0 && levels[out - 1].price == l.price {
            levels[out - 1] = l;
        } else {
            levels[out] = l;
            out += 1;
        }
    }
    levels.truncate(out);
    if levels.iter().any(|l| l.size.is_zero()) {
        levels.retain(|l| !l.size.is_zero());
    }
    Ok(())
}

fn set_level(levels: &mut Vec<Level>, descending: bool, price: Price, size: Quantity) {
    // Search from the top (the end): most updates are near the best price.
    let pos = if descending {
        levels.binary_search_by(|l| price.cmp(&l.price))
    } else {
        levels.binary_search_by(|l| l.price.cmp(&price))
    };
    match (pos, size.is_zero()) {
        (Ok(i), true) => {
            levels.remove(i);
        }
        (Ok(i), false) => levels[i].size = size,
        (Err(_), true) => {}
        (Err(i), false) => levels.insert(i, Level { price, size }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }
    fn l(price: &str, size: &str) -> Level {
        Level { price: p(price), size: q(size) }
    }

    fn fixture_book() -> OrderBook {
        // ws_book_snapshot.json: levels arrive worst-first.
        let mut b = OrderBook::new();
        b.apply_snapshot(
            [l("0.48", "500"), l("0.49", "350"), l("0.50", "200")],
            [l("0.53", "400"), l("0.52", "250"), l("0.51", "150")],
            p("0.01"),
        )
        .unwrap();
        b
    }

    #[test]
    fn snapshot_order_does_not_matter() {
        let b = fixture_book();
        assert_eq!(b.best_bid(), Some(l("0.50", "200")));
        assert_eq!(b.best_ask(), Some(l("0.51", "150")));
        let bids: Vec<_> = b.levels(BookSide::Bid).map(|l| l.price.to_string()).collect();
        assert_eq!(bids, ["0.5", "0.49", "0.48"]);
        assert!(!b.is_crossed());
        assert_eq!(b.mid(), Some(p("0.505")));
    }

    #[test]
    fn deltas_set_totals_and_zero_removes() {
        let mut b = fixture_book();
        b.apply_level(BookSide::Bid, p("0.505"), q("10")).unwrap();
        assert_eq!(b.best_bid(), Some(l("0.505", "10")));
        b.apply_level(BookSide::Bid, p("0.505"), q("0")).unwrap();
        b.apply_level(BookSide::Ask, p("0.51"), q("0")).unwrap();
        assert_eq!(b.best_ask(), Some(l("0.52", "250")));
        b.apply_level(BookSide::Ask, p("0.52"), q("7")).unwrap();
        assert_eq!(b.best_ask(), Some(l("0.52", "7")));
        b.apply_level(BookSide::Ask, p("0.60"), q("0")).unwrap();
        assert_eq!(b.depth(BookSide::Ask), 2);
        b.apply_level(BookSide::Bid, p("0.52"), q("1")).unwrap();
        assert!(b.is_crossed());
    }

    #[test]
    fn tick_change_gates_deltas_until_snapshot() {
        let mut b = fixture_book();
        b.tick_size_changed(p("0.001"));
        assert_eq!(b.state(), BookState::AwaitingSnapshot);
        assert_eq!(b.best_bid(), None);
        assert_eq!(b.apply_level(BookSide::Bid, p("0.5"), q("1")), Err(BookError::AwaitingSnapshot));
        b.apply_snapshot([l("0.501", "1")], [], p("0.001")).unwrap();
        assert_eq!(b.state(), BookState::Live);
        assert_eq!(b.tick(), p("0.001"));
    }

    #[test]
    fn sweep_walks_levels_with_vwap_and_limit() {
        let b = fixture_book();
        let f = b.sweep(Side::Buy, q("300"), None);
        assert_eq!(f.filled, q("300"));
        // 150 @ 0.51 + 150 @ 0.52 = 76.5 + 78 = 154.5
        assert_eq!(f.notional, Money::parse("154.5").unwrap());
        assert_eq!(f.vwap(Side::Buy), Some(p("0.515")));
        assert_eq!(f.worst_price, Some(p("0.52")));
        let limited = b.sweep(Side::Buy, q("300"), Some(p("0.51")));
        assert_eq!(limited.filled, q("150"));
        let sell = b.sweep(Side::Sell, q("10000"), None);
        assert_eq!(sell.filled, q("1050"));
        assert_eq!(sell.vwap(Side::Sell).unwrap().to_string(), "0.4871");
        assert_eq!(b.sweep(Side::Buy, q("0"), None).vwap(Side::Buy), None);
    }

    #[test]
    fn liquidity_within_band() {
        let b = fixture_book();
        // asks within 1 tick (100 ticks of 0.0001) of 0.51: 150 @ 0.51 + 250 @ 0.52
        assert_eq!(b.liquidity(BookSide::Ask, 100), Money::parse("206.5").unwrap());
    }

    #[test]
    fn mirror_swaps_sides_and_complements() {
        let b = fixture_book();
        let m = b.mirrored();
        assert_eq!(m.best_bid(), Some(l("0.49", "150")));
        assert_eq!(m.best_ask(), Some(l("0.50", "200")));
        assert_eq!(m.mirrored(), b);
    }

    #[test]
    fn bad_snapshot_voids_the_book() {
        let mut b = fixture_book();
        assert!(b.apply_snapshot([l("1", "1")], [], p("0.01")).is_err());
        assert_eq!(b.state(), BookState::AwaitingSnapshot);
        assert_eq!(b.best_bid(), None);
    }

    #[test]
    fn duplicate_prices_in_a_snapshot_keep_the_last() {
        let mut b = OrderBook::new();
        b.apply_snapshot([l("0.4", "1"), l("0.4", "2"), l("0.3", "0")], [], p("0.01")).unwrap();
        assert_eq!(b.levels(BookSide::Bid).copied().collect::<Vec<_>>(), [l("0.4", "2")]);
    }
}

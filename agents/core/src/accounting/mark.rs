//! Conservative marks: what a strategy's positions are worth now, for mark-to-market risk (the
//! daily loss, equity and drawdown of a RiskPolicy count unrealized PnL at these marks).
//!
//! The rules, per token held, never valuing a share above what can be had for it now:
//! - a settled token is worth its payout;
//! - shares that form complete binary sets with the complement token held by the same strategy
//!   are worth 1 USDC per set (a merge returns exactly that, whatever the books say), half to
//!   each token;
//! - the rest is worth what selling it into the bids would pay, level by level (the best bid for
//!   what the best level holds, less below it; nothing for shares beyond the book's depth);
//! - a token whose book is not usable (none, out of sequence, or stale by the caller's rule) is
//!   worth nothing beyond its sets: an unknown price is the least the share pays for sure.
//!
//! Unrealized PnL is that value (rounded down) minus the cost basis.

use crate::book::OrderBook;
use crate::ids::TokenId;
use crate::money::{Money, Price, Quantity, Rounding};
use crate::side::Side;

use super::Position;

/// What the caller knows of a token's price.
#[derive(Debug, Clone, Copy)]
pub enum Quote<'a> {
    /// The market settled: the token pays this.
    Settled(Price),
    /// A live, fresh book.
    Book(&'a OrderBook),
    /// No usable book.
    Unknown,
}

/// The stale-book rule: a book is usable for marks when a market event for its token came within
/// `stale_ns` of `now_ns`, or when the venue closed its market to orders (no events come then;
/// its last book stands until the market resolves).
pub fn fresh(last_event_ns: Option<u64>, now_ns: u64, stale_ns: u64, closed: bool) -> bool {
    closed || last_event_ns.is_some_and(|at| now_ns.saturating_sub(at) <= stale_ns)
}

/// Half a USDC: each token's share of a complete set's value.
const HALF: Price = match Price::from_ticks(Price::SCALE / 2) {
    Some(p) => p,
    None => panic!("half a USDC is a price"),
};

/// Unrealized PnL per token of `positions` (closed positions left out), by the rules above.
/// `complement` names the other token of a binary market.
pub fn unrealized<'a>(
    positions: &[(TokenId, Position)],
    quote: impl Fn(&TokenId) -> Quote<'a>,
    complement: impl Fn(&TokenId) -> Option<TokenId>,
) -> Vec<(TokenId, Money)> {
    let held = |t: &TokenId| positions.iter().find(|(x, _)| x == t).map_or(Quantity::ZERO, |(_, p)| p.size);
    positions
        .iter()
        .filter(|(_, p)| !p.size.is_zero())
        .map(|(token, p)| {
            let q = quote(token);
            let sets = match (q, complement(token)) {
                (Quote::Settled(_), _) | (_, None) => Quantity::ZERO,
                (_, Some(other)) if matches!(quote(&other), Quote::Settled(_)) => Quantity::ZERO,
                (_, Some(other)) => p.size.min(held(&other)),
            };
            let rest = p.size.saturating_sub(sets);
            let rest_value = match q {
                Quote::Settled(payout) => payout.notional(rest, Rounding::Down).unwrap_or(Money::ZERO),
                Quote::Book(book) => book.sweep(Side::Sell, rest, None).notional,
                Quote::Unknown => Money::ZERO,
            };
            let set_value = HALF.notional(sets, Rounding::Down).unwrap_or(Money::ZERO);
            let value = set_value.checked_add(rest_value).unwrap_or(set_value);
            (*token, value.checked_sub(p.cost).unwrap_or(Money::ZERO))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Level;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }
    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }
    fn p(s: &str) -> Price {
        s.parse().unwrap()
    }
    fn pos(size: &str, cost: &str) -> Position {
        Position { size: q(size), cost: m(cost), ..Position::default() }
    }

    fn book(bids: &[(&str, &str)]) -> OrderBook {
        let mut b = OrderBook::new();
        let level = |px: &str, sz: &str| Level { price: p(px), size: q(sz) };
        b.apply_snapshot(bids.iter().map(|(px, sz)| level(px, sz)), [level("0.99", "1000")], p("0.01")).unwrap();
        b
    }

    #[test]
    fn depth_aware_bid_value_and_nothing_beyond_the_book() {
        let (y, n) = (TokenId::from_u128(1), TokenId::from_u128(2));
        let b = book(&[("0.40", "10"), ("0.30", "5")]);
        let none = |_: &TokenId| None;
        // 10 at 0.40 + 5 at 0.30 = 5.50; the last 5 shares have no bid: 0. Cost 10.
        let u = unrealized(&[(y, pos("20", "10"))], |_| Quote::Book(&b), none);
        assert_eq!(u, vec![(y, m("-4.5"))]);
        // Unknown: worth nothing; settled: its payout.
        assert_eq!(unrealized(&[(y, pos("20", "10"))], |_| Quote::Unknown, none), vec![(y, m("-10"))]);
        assert_eq!(unrealized(&[(y, pos("20", "10"))], |_| Quote::Settled(p("1")), none), vec![(y, m("10"))]);
        // Closed positions are left out.
        assert!(unrealized(&[(n, pos("0", "0"))], |_| Quote::Unknown, none).is_empty());
    }

    #[test]
    fn a_book_without_events_for_the_window_is_stale_unless_its_market_closed() {
        assert!(fresh(Some(1_000), 31_000, 30_000, false));
        assert!(!fresh(Some(1_000), 31_001, 30_000, false));
        assert!(!fresh(None, 5, 30_000, false));
        assert!(fresh(None, 5, 30_000, true) && fresh(Some(0), u64::MAX, 30_000, true));
    }

    #[test]
    fn complete_sets_are_worth_one_whatever_the_books() {
        let (y, n) = (TokenId::from_u128(1), TokenId::from_u128(2));
        let other = move |t: &TokenId| Some(if *t == y { n } else { y });
        let b = book(&[("0.40", "100")]);
        // 10 sets (cost 9.70): worth 10; the 5 extra YES (cost 2.35) at the bid 0.40: 2.
        let u = unrealized(&[(y, pos("15", "7.35")), (n, pos("10", "4.7"))], |_| Quote::Book(&b), other);
        assert_eq!(u, vec![(y, m("-0.35")), (n, m("0.3"))]);
        let total: i64 = u.iter().map(|(_, x)| x.micros()).sum();
        assert_eq!(total, m("-0.05").micros());
        // No book at all: the sets still count, the extra YES does not.
        let u = unrealized(&[(y, pos("15", "7.35")), (n, pos("10", "4.7"))], |_| Quote::Unknown, other);
        assert_eq!(u.iter().map(|(_, x)| x.micros()).sum::<i64>(), m("-2.05").micros());
        // A settled complement: no sets, each at its own quote.
        let u = unrealized(
            &[(y, pos("10", "5")), (n, pos("10", "5"))],
            |t| if *t == y { Quote::Settled(p("1")) } else { Quote::Settled(Price::ZERO) },
            other,
        );
        assert_eq!(u, vec![(y, m("5")), (n, m("-5"))]);
    }
}

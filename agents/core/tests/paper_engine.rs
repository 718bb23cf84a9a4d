//! The paper matching engine against a known book: FOK/FAK/GTC/GTD and post-only semantics, the
//! venue's tick and size rules, V2 taker fees, maker fills when the book comes to a resting
//! order, liquidity taken only once, and at-most-once execution per client order id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::book::OrderBook;
use polyfleet_core::exec::{ExecEvent, MarketRules, PaperEngine};
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::wire::{Fill, Level, Liquidity, Mode, OrderIntent, OrderStatus, OrderUpdate, TimeInForce};
use polyfleet_core::{BookSide, ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}

const TOKEN: TokenId = TokenId::from_u128(7);

fn book() -> OrderBook {
    let mut b = OrderBook::new();
    let l = |price: &str, size: &str| Level { price: p(price), size: q(size) };
    b.apply_snapshot([l("0.48", "100"), l("0.49", "50")], [l("0.52", "30"), l("0.51", "20")], p("0.01")).unwrap();
    b
}

fn rules() -> MarketRules {
    MarketRules { tick: p("0.01"), min_size: q("5"), fees: FeeSchedule { rate_bps: 720, exponent: 1 } }
}

fn intent(id: &str, side: Side, price: &str, size: &str, tif: TimeInForce) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "ns".into(),
        strategy: "s".into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([1; 32]),
        token: TOKEN,
        side,
        price: p(price),
        size: q(size),
        tif,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: 1,
        cause_recv_ts_ns: 0,
        created_ts_ns: 0,
        outcome: None,
        kelly: None,
    }
}

fn split(events: Vec<ExecEvent>) -> (Vec<Fill>, Vec<OrderUpdate>) {
    let mut fills = vec![];
    let mut updates = vec![];
    for e in events {
        match e {
            ExecEvent::Fill(f) => fills.push(f),
            ExecEvent::Update(u) => updates.push(u),
        }
    }
    (fills, updates)
}

#[test]
fn fok_fills_across_levels_with_fees_or_not_at_all() {
    let mut e = PaperEngine::new();
    let (fills, updates) =
        split(e.submit(&intent("a", Side::Buy, "0.52", "40", TimeInForce::Fok), &book(), &rules(), 1));
    assert_eq!(fills.len(), 2);
    assert_eq!((fills[0].price, fills[0].size), (p("0.51"), q("20")));
    assert_eq!((fills[1].price, fills[1].size), (p("0.52"), q("20")));
    // 20 x 0.072 x 0.51 x 0.49 = 0.359856 -> 0.35986; 20 x 0.072 x 0.52 x 0.48 = 0.359424 -> 0.35942
    assert_eq!(fills[0].fee, Money::parse("0.35986").unwrap());
    assert_eq!(fills[1].fee, Money::parse("0.35942").unwrap());
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Taker));
    assert_eq!(updates.last().unwrap().status, OrderStatus::Filled);

    let (fills, updates) =
        split(e.submit(&intent("b", Side::Buy, "0.52", "60", TimeInForce::Fok), &book(), &rules(), 2));
    assert!(fills.is_empty());
    assert_eq!(updates[0].status, OrderStatus::Cancelled);
}

#[test]
fn liquidity_is_taken_once_until_the_book_changes() {
    let mut e = PaperEngine::new();
    let b = book();
    let (fills, _) = split(e.submit(&intent("a", Side::Buy, "0.51", "15", TimeInForce::Fak), &b, &rules(), 1));
    assert_eq!(fills[0].size, q("15"));
    let (fills, updates) = split(e.submit(&intent("b", Side::Buy, "0.51", "15", TimeInForce::Fak), &b, &rules(), 2));
    assert_eq!(fills[0].size, q("5"), "only what the first order left");
    assert_eq!((updates[0].status, updates[0].filled), (OrderStatus::Cancelled, q("5")));
    // The venue's next book shows the level refilled: it is available again.
    let mut b2 = b.clone();
    b2.apply_level(BookSide::Ask, p("0.51"), q("25")).unwrap();
    let (fills, _) = split(e.submit(&intent("c", Side::Buy, "0.51", "25", TimeInForce::Fok), &b2, &rules(), 3));
    assert_eq!(fills.iter().map(|f| f.size.micros()).sum::<u64>(), q("25").micros());
}

#[test]
fn gtc_takes_then_rests_and_fills_as_maker_later() {
    let mut e = PaperEngine::new();
    let (fills, updates) =
        split(e.submit(&intent("a", Side::Buy, "0.51", "30", TimeInForce::Gtc), &book(), &rules(), 1));
    assert_eq!(fills[0].size, q("20"));
    assert_eq!((updates[0].status, updates[0].remaining), (OrderStatus::PartiallyFilled, q("10")));
    assert_eq!(e.open_orders(), 1);
    // A seller arrives at 0.50: the resting buy at 0.51 is crossed and fills as maker at 0.51.
    let mut b2 = book();
    b2.apply_level(BookSide::Ask, p("0.51"), q("0")).unwrap();
    b2.apply_level(BookSide::Ask, p("0.50"), q("4")).unwrap();
    let (fills, updates) = split(e.on_book(&TOKEN, &b2, 2));
    assert_eq!(
        (fills[0].price, fills[0].size, fills[0].liquidity, fills[0].fee),
        (p("0.51"), q("4"), Liquidity::Maker, Money::ZERO)
    );
    assert_eq!((updates[0].status, updates[0].filled), (OrderStatus::PartiallyFilled, q("24")));
    let (_, updates) = split(e.cancel(&ClientOrderId::new("a").unwrap(), "strategy asked", 3));
    assert_eq!((updates[0].status, updates[0].filled), (OrderStatus::Cancelled, q("24")));
    assert_eq!(e.open_orders(), 0);
    assert!(e.cancel(&ClientOrderId::new("a").unwrap(), "again", 4).is_empty());
}

#[test]
fn post_only_and_validation() {
    let mut e = PaperEngine::new();
    let mut crossing = intent("a", Side::Buy, "0.51", "10", TimeInForce::Gtc);
    crossing.post_only = true;
    let (fills, updates) = split(e.submit(&crossing, &book(), &rules(), 1));
    assert!(fills.is_empty());
    assert_eq!(updates[0].status, OrderStatus::Rejected);
    let mut passive = intent("b", Side::Buy, "0.50", "10", TimeInForce::Gtc);
    passive.post_only = true;
    let (_, updates) = split(e.submit(&passive, &book(), &rules(), 2));
    assert_eq!(updates[0].status, OrderStatus::Resting);
    let mut fok_post = intent("c", Side::Buy, "0.50", "10", TimeInForce::Fok);
    fok_post.post_only = true;
    for bad in [
        fok_post,
        intent("d", Side::Buy, "0.505", "10", TimeInForce::Gtc),
        intent("e", Side::Buy, "0.50", "4", TimeInForce::Gtc),
        intent("f", Side::Buy, "0.50", "10.001", TimeInForce::Gtc),
        intent("g", Side::Sell, "1", "10", TimeInForce::Gtc),
    ] {
        let (fills, updates) = split(e.submit(&bad, &book(), &rules(), 3));
        assert!(fills.is_empty());
        assert_eq!(updates[0].status, OrderStatus::Rejected, "{:?}", bad.client_order_id);
    }
}

#[test]
fn sells_walk_the_bids_and_gtd_expires() {
    let mut e = PaperEngine::new();
    let (fills, updates) =
        split(e.submit(&intent("a", Side::Sell, "0.48", "60", TimeInForce::Fak), &book(), &rules(), 1));
    assert_eq!((fills[0].price, fills[0].size), (p("0.49"), q("50")));
    assert_eq!((fills[1].price, fills[1].size), (p("0.48"), q("10")));
    assert_eq!(updates[0].status, OrderStatus::Filled);
    let gtd = intent("b", Side::Sell, "0.60", "10", TimeInForce::Gtd { expires_at_s: 100 });
    e.submit(&gtd, &book(), &rules(), 2);
    assert!(e.expire(99, 3).is_empty());
    let (_, updates) = split(e.expire(100, 4));
    assert_eq!(updates[0].status, OrderStatus::Expired);
}

#[test]
fn a_redelivered_order_never_executes_twice() {
    let mut e = PaperEngine::new();
    let i = intent("a", Side::Buy, "0.52", "10", TimeInForce::Fok);
    assert!(!e.submit(&i, &book(), &rules(), 1).is_empty());
    assert!(e.submit(&i, &book(), &rules(), 2).is_empty());
    // Even a refused order's id is spent.
    let bad = intent("b", Side::Buy, "0.505", "10", TimeInForce::Fok);
    assert_eq!(e.submit(&bad, &book(), &rules(), 3).len(), 1);
    assert!(e.submit(&bad, &book(), &rules(), 4).is_empty());
}

/// A resting order joins the back of its level: trades at its price fill the queue ahead
/// first; a trade through its price fills it; the queue ahead shrinks with the level; an order
/// improving the best price has nobody ahead; fills go best price first, then arrival.
#[test]
fn resting_orders_fill_from_trades_behind_their_queue() {
    let mut e = PaperEngine::new();
    let b = book();
    // A bid at 0.49 (50 resting there already) and one at 0.50 (a new best: nobody ahead).
    let behind = intent("q-1", Side::Buy, "0.49", "20", TimeInForce::Gtc);
    let front = intent("q-2", Side::Buy, "0.50", "10", TimeInForce::Gtc);
    e.submit(&behind, &b, &rules(), 0);
    e.submit(&front, &b, &rules(), 0);
    // A taker sells 30 at 0.49: it went through 0.50 (our 10 fill there first), then 20 of the
    // 50 ahead of us at 0.49.
    let (fills, _) = split(e.on_trade(&TOKEN, Side::Sell, p("0.49"), q("30"), 1));
    assert_eq!(fills.len(), 1);
    assert_eq!(
        (fills[0].client_order_id, fills[0].size, fills[0].liquidity),
        (front.client_order_id, q("10"), Liquidity::Maker)
    );
    assert_eq!(fills[0].fee, Money::ZERO);
    // The level shrank to 35 (15 ahead cancelled or traded): 30 are ahead of us now.
    let mut smaller = OrderBook::new();
    let l = |price: &str, size: &str| Level { price: p(price), size: q(size) };
    smaller.apply_snapshot([l("0.48", "100"), l("0.49", "35")], [l("0.52", "30"), l("0.51", "20")], p("0.01")).unwrap();
    assert!(e.on_book(&TOKEN, &smaller, 2).is_empty());
    // 25 sold at 0.49: all to the queue ahead; then 15: 5 ahead, 10 to us.
    assert!(split(e.on_trade(&TOKEN, Side::Sell, p("0.49"), q("25"), 3)).0.is_empty());
    let (fills, updates) = split(e.on_trade(&TOKEN, Side::Sell, p("0.49"), q("15"), 4));
    assert_eq!((fills[0].size, updates[0].status), (q("10"), OrderStatus::PartiallyFilled));
    // A buy-side trade does not touch bids; a sell through 0.49 fills the rest.
    assert!(e.on_trade(&TOKEN, Side::Buy, p("0.51"), q("100"), 5).is_empty());
    let (fills, updates) = split(e.on_trade(&TOKEN, Side::Sell, p("0.48"), q("100"), 6));
    assert_eq!((fills[0].size, updates[0].status), (q("10"), OrderStatus::Filled));
    assert_eq!(e.open_orders(), 0);
}

#[test]
fn open_sales_offer_their_remainder_and_a_sale_beyond_holdings_is_short() {
    use polyfleet_core::exec::paper::short_of_shares;
    let mut e = PaperEngine::new();
    // A resting sale of 40 at 0.55 (nothing bids that high), then one of 20 by another strategy.
    e.submit(&intent("a", Side::Sell, "0.55", "40", TimeInForce::Gtc), &book(), &rules(), 1);
    let other = OrderIntent { strategy: "other".into(), ..intent("b", Side::Sell, "0.56", "20", TimeInForce::Gtc) };
    e.submit(&other, &book(), &rules(), 1);
    assert_eq!(e.offered("ns", "s", &TOKEN), q("40"));
    assert_eq!(e.offered("ns", "other", &TOKEN), q("20"));
    assert_eq!(e.offered("ns", "s", &TokenId::from_u128(8)), Quantity::ZERO);
    // The book comes down to 0.55: 25 of it fill, 15 still offered.
    let mut b = book();
    b.apply_snapshot(
        [Level { price: p("0.55"), size: q("25") }],
        [Level { price: p("0.57"), size: q("10") }],
        p("0.01"),
    )
    .unwrap();
    let (fills, _) = split(e.on_book(&TOKEN, &b, 2));
    assert_eq!(fills.iter().map(|f| f.size).fold(Quantity::ZERO, Quantity::saturating_add), q("25"));
    assert_eq!(e.offered("ns", "s", &TOKEN), q("15"));
    // With 15 held beyond the sale's 15, a sale of 15 passes and one of 16 is short; a buy never is.
    let sale = |size: &str| intent("c", Side::Sell, "0.60", size, TimeInForce::Gtc);
    assert_eq!(short_of_shares(&sale("15"), q("30"), q("15")), None);
    let why = short_of_shares(&sale("16"), q("30"), q("15")).expect("short");
    assert!(why.starts_with("not enough balance"), "{why}");
    assert_eq!(
        short_of_shares(&intent("d", Side::Buy, "0.40", "500", TimeInForce::Gtc), Quantity::ZERO, q("15")),
        None
    );
    // Cancelled: it offers nothing.
    e.cancel(&ClientOrderId::new("a").unwrap(), "test", 3);
    assert_eq!(e.offered("ns", "s", &TOKEN), Quantity::ZERO);
}

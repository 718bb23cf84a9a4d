//! Position and PnL accounting: average cost, realized/unrealized PnL with fees, at-most-once
//! booking, exact reversal of FAILED fills in any order, and the cash identity
//! `realized - cost = proceeds - purchases - fees` over random fill sequences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::accounting::{AccountingError, Ledger};
use polyfleet_core::wire::{Fill, FillStatus, Liquidity, Mode};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Rounding, Side, TokenId};
use proptest::prelude::*;

const T: TokenId = TokenId::from_u128(1);

fn fill(id: &str, side: Side, price: Price, size: Quantity, fee: Money, status: FillStatus) -> Fill {
    Fill {
        fill_id: id.into(),
        client_order_id: ClientOrderId::new("o").unwrap(),
        namespace: "ns".into(),
        strategy: "s".into(),
        risk_policy: "rp".into(),
        market: ConditionId::from_bytes([0; 32]),
        token: T,
        side,
        price,
        size,
        fee,
        liquidity: Liquidity::Taker,
        status,
        mode: Mode::Paper,
        ts_ns: 0,
    }
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

#[test]
fn average_cost_realized_unrealized_and_fees() {
    let mut l = Ledger::new();
    l.on_fill(&fill("1", Side::Buy, p("0.40"), q("100"), m("0.1"), FillStatus::Matched)).unwrap();
    l.on_fill(&fill("2", Side::Buy, p("0.50"), q("100"), Money::ZERO, FillStatus::Confirmed)).unwrap();
    let pos = l.position(&T);
    assert_eq!((pos.size, pos.cost, pos.avg_price()), (q("200"), m("90"), Some(p("0.45"))));
    l.on_fill(&fill("3", Side::Sell, p("0.60"), q("50"), m("0.05"), FillStatus::Matched)).unwrap();
    // 50 x 0.60 = 30 proceeds, cost share 22.5: +7.5, fees 0.15 in all.
    let pos = l.position(&T);
    assert_eq!((pos.size, pos.cost, pos.realized, pos.fees), (q("150"), m("67.5"), m("7.35"), m("0.15")));
    assert_eq!(l.unrealized(|_| Some(p("0.50"))), m("7.5"));
    assert_eq!(l.realized(), m("7.35"));
    assert_eq!(l.gross_cost(), m("67.5"));
}

#[test]
fn at_most_once_and_failed_fills_reverse() {
    let mut l = Ledger::new();
    let buy = fill("1", Side::Buy, p("0.40"), q("10"), m("0.01"), FillStatus::Matched);
    l.on_fill(&buy).unwrap();
    l.on_fill(&buy).unwrap();
    l.on_fill(&Fill { status: FillStatus::Confirmed, ..buy.clone() }).unwrap();
    assert_eq!(l.position(&T).size, q("10"));
    l.on_fill(&Fill { status: FillStatus::Failed, ..buy.clone() }).unwrap();
    l.on_fill(&Fill { status: FillStatus::Failed, ..buy }).unwrap();
    let pos = l.position(&T);
    assert_eq!((pos.size, pos.cost, pos.realized, pos.fees), (Quantity::ZERO, Money::ZERO, Money::ZERO, Money::ZERO));
}

#[test]
fn outcome_tokens_cannot_be_shorted() {
    let mut l = Ledger::new();
    let err = l.on_fill(&fill("1", Side::Sell, p("0.5"), q("1"), Money::ZERO, FillStatus::Matched)).unwrap_err();
    assert!(matches!(err, AccountingError::Oversell { .. }));
    assert_eq!(l.position(&T).size, Quantity::ZERO);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn cash_identity_and_exact_reversal(
        ops in prop::collection::vec((any::<bool>(), 1u32..10_000, 1u64..50_000_000, 0i64..100_000), 1..60),
        order in any::<u64>(),
    ) {
        let mut l = Ledger::new();
        let mut booked = vec![];
        let (mut purchases, mut proceeds, mut fees) = (0i64, 0i64, 0i64);
        for (i, (buy, ticks, size, fee)) in ops.into_iter().enumerate() {
            let price = Price::from_ticks(ticks).unwrap();
            let held = l.position(&T).size.micros();
            let (side, size) = if buy || held == 0 { (Side::Buy, size) } else { (Side::Sell, size.min(held)) };
            let f = fill(&i.to_string(), side, price, Quantity::from_micros(size), Money::from_micros(fee), FillStatus::Matched);
            l.on_fill(&f).unwrap();
            match side {
                Side::Buy => purchases += price.notional(f.size, Rounding::Up).unwrap().micros(),
                Side::Sell => proceeds += price.notional(f.size, Rounding::Down).unwrap().micros(),
            }
            fees += fee;
            booked.push(f);
        }
        let pos = l.position(&T);
        prop_assert_eq!(pos.realized.micros() - pos.cost.micros(), proceeds - purchases - fees);
        prop_assert_eq!(pos.fees.micros(), fees);
        // Fail every fill, in a scrambled order: the ledger returns exactly to empty.
        let n = booked.len();
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by_key(|i| (*i as u64).wrapping_mul(order | 1).rotate_left(17));
        for i in idx {
            l.on_fill(&Fill { status: FillStatus::Failed, ..booked[i].clone() }).unwrap();
        }
        let pos = l.position(&T);
        prop_assert_eq!(
            (pos.size, pos.deficit, pos.cost, pos.realized, pos.fees),
            (Quantity::ZERO, Quantity::ZERO, Money::ZERO, Money::ZERO, Money::ZERO)
        );
    }
}

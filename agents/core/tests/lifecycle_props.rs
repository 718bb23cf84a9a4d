//! The ledger through a market's whole life, as properties: any sequence of fills (with FAILED
//! reversals), merges, splits, neg-risk conversions, a resolution and redemptions books to the
//! same ledger when every message is delivered again at any later point (the resolution twice);
//! and the ledger's cash equals the cash the operations moved, computed independently, to the
//! micro-USDC. Plus hand-worked cases of each operation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::accounting::{AccountingError, Ledger};
use polyfleet_core::wire::{CtfOp, Fill, FillStatus, Liquidity, Mode, Resolution};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Rounding, Side, TokenId};
use proptest::prelude::*;

const A: ConditionId = ConditionId::from_bytes([0xA; 32]);
const A_YES: TokenId = TokenId::from_u128(1);
const A_NO: TokenId = TokenId::from_u128(2);
/// A neg-risk event of three outcomes: YES and NO token of each.
const EV_YES: [TokenId; 3] = [TokenId::from_u128(11), TokenId::from_u128(12), TokenId::from_u128(13)];
const EV_NO: [TokenId; 3] = [TokenId::from_u128(21), TokenId::from_u128(22), TokenId::from_u128(23)];

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}
fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

fn fill(id: &str, token: TokenId, side: Side, price: Price, size: Quantity, fee: Money, status: FillStatus) -> Fill {
    Fill {
        fill_id: id.into(),
        client_order_id: ClientOrderId::new("o-1").unwrap(),
        namespace: "ns".into(),
        strategy: "s".into(),
        risk_policy: "r".into(),
        market: A,
        token,
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

/// One message to the ledger.
#[derive(Debug, Clone)]
enum Msg {
    Fill(Fill),
    Ctf(String, CtfOp),
    Resolve(Resolution),
}

fn apply(l: &mut Ledger, msg: &Msg) -> bool {
    match msg {
        Msg::Fill(f) => l.on_fill(f).is_ok(),
        Msg::Ctf(id, op) => l.on_ctf(id, op).is_ok(),
        Msg::Resolve(r) => l.settle(r).is_ok(),
    }
}

/// A small deterministic generator (proptest supplies the seed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[usize::try_from(self.below(xs.len() as u64)).unwrap()]
    }
}

/// A random life of market A and the event: trading (fills, failures, merges, splits,
/// conversions), then A's resolution, then redemptions.
fn life(seed: u64, n: usize) -> Vec<Msg> {
    let mut r = Rng(seed | 1);
    let tokens = [A_YES, A_NO, EV_YES[0], EV_YES[1], EV_YES[2], EV_NO[0], EV_NO[1], EV_NO[2]];
    let mut out = vec![];
    let mut fills: Vec<Fill> = vec![];
    for i in 0..n {
        let size = Quantity::from_micros((1 + r.below(40)) * 250_000);
        match r.below(10) {
            0..=4 => {
                let side = if r.below(3) == 0 { Side::Sell } else { Side::Buy };
                let price = Price::from_ticks(u32::try_from(100 + r.below(9800)).unwrap()).unwrap();
                let fee = Money::from_micros(i64::try_from(r.below(20_000)).unwrap());
                let f = fill(&format!("f{i}"), r.pick(&tokens), side, price, size, fee, FillStatus::Matched);
                fills.push(f.clone());
                out.push(Msg::Fill(f));
            }
            5 if !fills.is_empty() => {
                let mut f = fills[usize::try_from(r.below(fills.len() as u64)).unwrap()].clone();
                f.status = FillStatus::Failed;
                out.push(Msg::Fill(f));
            }
            6 => out.push(Msg::Ctf(format!("m{i}"), CtfOp::Merge { market: A, tokens: [A_YES, A_NO], size })),
            7 => out.push(Msg::Ctf(format!("s{i}"), CtfOp::Split { market: A, tokens: [A_YES, A_NO], size })),
            _ => {
                // NO on k outcomes -> YES on the others.
                let k = 1 + usize::try_from(r.below(3)).unwrap();
                let start = usize::try_from(r.below(3)).unwrap();
                let no: Vec<TokenId> = (0..k).map(|j| EV_NO[(start + j) % 3]).collect();
                let yes: Vec<TokenId> = (k..3).map(|j| EV_YES[(start + j) % 3]).collect();
                let fee_bips = u32::try_from(r.below(3)).unwrap() * 50;
                out.push(Msg::Ctf(format!("c{i}"), CtfOp::Convert { no_tokens: no, yes_tokens: yes, size, fee_bips }));
            }
        }
    }
    let res = match r.below(3) {
        0 => Resolution::won_by(A, &[A_YES, A_NO], A_YES),
        1 => Resolution::won_by(A, &[A_YES, A_NO], A_NO),
        _ => Resolution { market: A, payouts: vec![(A_YES, p("0.5")), (A_NO, p("0.5"))] },
    };
    out.push(Msg::Resolve(res));
    for i in 0..4 {
        let size = Quantity::from_micros((1 + r.below(20)) * 500_000);
        out.push(Msg::Ctf(format!("r{i}"), CtfOp::Redeem { market: A, token: r.pick(&[A_YES, A_NO]), size }));
    }
    out
}

/// The cash each booked message moved, computed from the message alone (and, for a FAILED
/// fill, from the fill it reverses; for a redemption, from the payout).
struct CashModel {
    cash: i128,
    fills: std::collections::HashMap<String, (i128, bool)>,
    payouts: std::collections::HashMap<TokenId, Price>,
}

impl CashModel {
    fn on(&mut self, msg: &Msg) {
        match msg {
            Msg::Fill(f) if f.status == FillStatus::Failed => {
                if let Some((delta, reversed)) = self.fills.get_mut(&f.fill_id)
                    && !*reversed
                {
                    *reversed = true;
                    self.cash -= *delta;
                }
            }
            Msg::Fill(f) => {
                let delta = match f.side {
                    Side::Buy => -i128::from(f.price.notional(f.size, Rounding::Up).unwrap().micros()),
                    Side::Sell => i128::from(f.price.notional(f.size, Rounding::Down).unwrap().micros()),
                } - i128::from(f.fee.micros());
                self.fills.insert(f.fill_id.clone(), (delta, false));
                self.cash += delta;
            }
            Msg::Ctf(_, CtfOp::Merge { size, .. }) => self.cash += i128::from(size.micros()),
            Msg::Ctf(_, CtfOp::Split { size, .. }) => self.cash -= i128::from(size.micros()),
            Msg::Ctf(_, CtfOp::Redeem { token, size, .. }) => {
                self.cash += i128::from(self.payouts[token].notional(*size, Rounding::Down).unwrap().micros())
            }
            Msg::Ctf(_, CtfOp::Convert { no_tokens, size, fee_bips, .. }) => {
                let out = i128::from(CtfOp::convert_out(*size, *fee_bips).micros());
                self.cash += (i128::try_from(no_tokens.len()).unwrap() - 1) * out;
            }
            Msg::Resolve(r) => self.payouts.extend(r.payouts.iter().copied()),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn redelivery_in_any_order_books_the_same_ledger_and_cash_is_exact(seed in any::<u64>(), n in 1usize..60, dup_seed in any::<u64>()) {
        let msgs = life(seed, n);
        // First delivery: what books, and the cash it moved by the independent model.
        let mut first = Ledger::new();
        let mut model = CashModel { cash: 0, fills: Default::default(), payouts: Default::default() };
        let mut booked = vec![];
        for msg in &msgs {
            if apply(&mut first, msg) {
                model.on(msg);
                booked.push(msg.clone());
            }
        }
        prop_assert_eq!(i128::from(first.cash().micros()), model.cash, "cash identity");
        // Every booked message delivered again at a random later point (the resolution too).
        let mut r = Rng(dup_seed | 1);
        let mut again: Vec<(u64, usize, &Msg)> = vec![];
        for (i, msg) in booked.iter().enumerate() {
            again.push((i as u64 * 1000, 0, msg));
            let later = i as u64 * 1000 + 1 + r.below((booked.len() - i) as u64 * 1000);
            again.push((later, 1, msg));
        }
        again.sort_by_key(|(at, dup, _)| (*at, *dup));
        let mut second = Ledger::new();
        for (_, _, msg) in &again {
            let _ = apply(&mut second, msg);
        }
        prop_assert_eq!(second.positions(), first.positions());
        prop_assert_eq!(second.realized(), first.realized());
        prop_assert_eq!(second.cash(), first.cash());
    }
}

#[test]
fn a_complete_set_bought_under_one_dollar_merges_into_its_edge() {
    let mut l = Ledger::new();
    l.on_fill(&fill("y", A_YES, Side::Buy, p("0.48"), q("10"), m("0.05"), FillStatus::Matched)).unwrap();
    l.on_fill(&fill("n", A_NO, Side::Buy, p("0.49"), q("10"), m("0.05"), FillStatus::Matched)).unwrap();
    assert_eq!(l.cash(), m("-9.8"));
    assert_eq!(l.gross_cost(), m("9.7"));
    let op = CtfOp::Merge { market: A, tokens: [A_YES, A_NO], size: q("10") };
    let done = l.on_ctf("merge-1", &op).unwrap().unwrap();
    assert_eq!(done.cash, m("10"));
    assert_eq!(done.realized, m("0.3"));
    assert_eq!(done.cost, m("-9.7"));
    // The edge is shared in proportion to cost: 10 × 4.8/9.7 = 4.948454 (+0.148454) and the rest.
    assert_eq!(l.position(&A_YES).realized, m("0.098454"));
    assert_eq!(l.position(&A_NO).realized, m("0.101546"));
    assert_eq!((l.position(&A_YES).size, l.position(&A_NO).size), (Quantity::ZERO, Quantity::ZERO));
    assert_eq!(l.realized(), m("0.2"));
    assert_eq!(l.cash(), m("0.2"));
    // Redelivered: nothing more.
    assert_eq!(l.on_ctf("merge-1", &op).unwrap(), None);
    assert_eq!(l.cash(), m("0.2"));
}

#[test]
fn a_merge_of_more_than_is_held_changes_nothing() {
    let mut l = Ledger::new();
    l.on_fill(&fill("y", A_YES, Side::Buy, p("0.5"), q("5"), Money::ZERO, FillStatus::Matched)).unwrap();
    let op = CtfOp::Merge { market: A, tokens: [A_YES, A_NO], size: q("5") };
    let err = l.on_ctf("merge-1", &op).unwrap_err();
    assert!(matches!(err, AccountingError::Short { token, .. } if token == A_NO), "{err}");
    assert_eq!(l.position(&A_YES).size, q("5"));
    assert_eq!(l.position(&A_YES).cost, m("2.5"));
}

#[test]
fn split_then_sell_both_sides_above_one_dollar_realizes_the_excess() {
    let mut l = Ledger::new();
    let op = CtfOp::Split { market: A, tokens: [A_YES, A_NO], size: q("10") };
    let done = l.on_ctf("split-1", &op).unwrap().unwrap();
    assert_eq!((done.cash, done.cost, done.realized), (m("-10"), m("10"), Money::ZERO));
    l.on_fill(&fill("y", A_YES, Side::Sell, p("0.53"), q("10"), Money::ZERO, FillStatus::Matched)).unwrap();
    l.on_fill(&fill("n", A_NO, Side::Sell, p("0.49"), q("10"), Money::ZERO, FillStatus::Matched)).unwrap();
    assert_eq!(l.realized(), m("0.2"));
    assert_eq!(l.cash(), m("0.2"));
    assert_eq!(l.gross_cost(), Money::ZERO);
}

#[test]
fn resolution_settles_once_and_winners_redeem_at_one_dollar() {
    let mut l = Ledger::new();
    l.on_fill(&fill("y", A_YES, Side::Buy, p("0.6"), q("10"), Money::ZERO, FillStatus::Matched)).unwrap();
    l.on_fill(&fill("n", A_NO, Side::Buy, p("0.3"), q("4"), Money::ZERO, FillStatus::Matched)).unwrap();
    let redeem = CtfOp::Redeem { market: A, token: A_YES, size: q("10") };
    assert!(matches!(l.on_ctf("redeem-1", &redeem), Err(AccountingError::NotResolved { .. })));
    let res = Resolution::won_by(A, &[A_YES, A_NO], A_YES);
    let settled = l.settle(&res).unwrap().unwrap();
    // YES: 10 worth 10 against 6 paid (+4); NO: 4 worth 0 against 1.2 paid (-1.2).
    assert_eq!(settled.realized, m("2.8"));
    assert_eq!(settled.cash, Money::ZERO);
    assert_eq!(l.position(&A_YES).cost, m("10"));
    assert_eq!(l.position(&A_NO).size, Quantity::ZERO);
    assert_eq!(l.settle(&res).unwrap(), None, "a second report of the resolution changes nothing");
    let done = l.on_ctf("redeem-1", &redeem).unwrap().unwrap();
    assert_eq!((done.cash, done.realized, done.cost), (m("10"), Money::ZERO, m("-10")));
    assert_eq!(l.cash(), m("2.8"));
    assert_eq!(l.gross_cost(), Money::ZERO);
}

#[test]
fn a_fifty_fifty_resolution_pays_half_a_dollar_each() {
    let mut l = Ledger::new();
    l.on_fill(&fill("y", A_YES, Side::Buy, p("0.7"), q("10"), Money::ZERO, FillStatus::Matched)).unwrap();
    let res = Resolution { market: A, payouts: vec![(A_YES, p("0.5")), (A_NO, p("0.5"))] };
    assert_eq!(l.settle(&res).unwrap().unwrap().realized, m("-2"));
    let done = l.on_ctf("r", &CtfOp::Redeem { market: A, token: A_YES, size: q("10") }).unwrap().unwrap();
    assert_eq!(done.cash, m("5"));
    assert_eq!(l.cash(), m("-2"));
}

#[test]
fn converting_no_on_two_outcomes_gives_yes_on_the_third_and_a_dollar_less_the_fee() {
    let mut l = Ledger::new();
    l.on_fill(&fill("a", EV_NO[0], Side::Buy, p("0.7"), q("10"), Money::ZERO, FillStatus::Matched)).unwrap();
    l.on_fill(&fill("b", EV_NO[1], Side::Buy, p("0.6"), q("10"), Money::ZERO, FillStatus::Matched)).unwrap();
    let op = CtfOp::Convert {
        no_tokens: vec![EV_NO[0], EV_NO[1]],
        yes_tokens: vec![EV_YES[2]],
        size: q("10"),
        fee_bips: 100,
    };
    let done = l.on_ctf("convert-1", &op).unwrap().unwrap();
    // 1% fee: 9.9 out; (2-1) × 9.9 USDC in; YES takes the 13 - 9.9 = 3.1 the cash does not cover.
    assert_eq!(done.cash, m("9.9"));
    assert_eq!(done.realized, Money::ZERO);
    assert_eq!(l.position(&EV_YES[2]).size, q("9.9"));
    assert_eq!(l.position(&EV_YES[2]).cost, m("3.1"));
    assert_eq!((l.position(&EV_NO[0]).size, l.position(&EV_NO[1]).size), (Quantity::ZERO, Quantity::ZERO));
    assert_eq!(l.cash(), m("-3.1"));
}

#[test]
fn the_generated_lives_book_every_kind_of_message() {
    // The property above is only as strong as what books: over 200 lives, every kind must.
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for seed in 0..200 {
        let mut l = Ledger::new();
        for msg in life(seed, 50) {
            if apply(&mut l, &msg) {
                let kind = match &msg {
                    Msg::Fill(f) if f.status == FillStatus::Failed => "failed",
                    Msg::Fill(f) if f.side == Side::Sell => "sell",
                    Msg::Fill(_) => "buy",
                    Msg::Ctf(_, CtfOp::Merge { .. }) => "merge",
                    Msg::Ctf(_, CtfOp::Split { .. }) => "split",
                    Msg::Ctf(_, CtfOp::Redeem { .. }) => "redeem",
                    Msg::Ctf(_, CtfOp::Convert { .. }) => "convert",
                    Msg::Resolve(_) => "resolve",
                };
                *counts.entry(kind).or_default() += 1;
            }
        }
    }
    for kind in ["buy", "sell", "failed", "merge", "split", "redeem", "convert", "resolve"] {
        assert!(counts.get(kind).copied().unwrap_or(0) >= 20, "only {:?} {kind} booked: {counts:?}", counts.get(kind));
    }
}

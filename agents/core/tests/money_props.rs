//! Property tests of the money types over their whole domains: exact parse/format round trips,
//! no panic on any input string or any operand, and arithmetic equal to a wide-integer reference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::money::FeeSchedule;
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Rounding, TokenId};
use proptest::prelude::*;

/// `s` as a canonical decimal: no sign for zero, no leading zeros, no trailing fractional zeros.
fn normalize(s: &str) -> String {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() { int.to_owned() } else { format!("{int}.{frac}") };
    if neg && body != "0" { format!("-{body}") } else { body }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn price_round_trips(ticks in 0u32..=10_000) {
        let p = Price::from_ticks(ticks).unwrap();
        prop_assert_eq!(Price::parse(&p.to_string()).unwrap(), p);
        prop_assert_eq!(p.complement().complement(), p);
    }

    #[test]
    fn quantity_round_trips(micros in any::<u64>()) {
        let q = Quantity::from_micros(micros);
        prop_assert_eq!(Quantity::parse(&q.to_string()).unwrap(), q);
    }

    #[test]
    fn money_round_trips(micros in any::<i64>()) {
        let m = Money::from_micros(micros);
        prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
    }

    #[test]
    fn decimal_strings_parse_exactly_or_not_at_all(s in "-?[0-9]{0,22}(\\.[0-9]{0,9})?") {
        if let Ok(q) = Quantity::parse(&s) {
            prop_assert_eq!(q.to_string(), normalize(&s));
        }
        if let Ok(m) = Money::parse(&s) {
            prop_assert_eq!(m.to_string(), normalize(&s));
        }
        if let Ok(p) = Price::parse(&s) {
            prop_assert_eq!(p.to_string(), normalize(&s));
        }
    }

    #[test]
    fn no_input_string_panics(s in "\\PC{0,40}") {
        let _ = Price::parse(&s);
        let _ = Quantity::parse(&s);
        let _ = Money::parse(&s);
        let _ = TokenId::parse(&s);
        let _ = ConditionId::parse(&s);
        let _ = ClientOrderId::new(&s);
    }

    #[test]
    fn money_arithmetic_matches_i128(a in any::<i64>(), b in any::<i64>(), bps in any::<i64>()) {
        let (ma, mb) = (Money::from_micros(a), Money::from_micros(b));
        let fits = |v: i128| i64::try_from(v).ok().map(Money::from_micros);
        prop_assert_eq!(ma.checked_add(mb), fits(a as i128 + b as i128));
        prop_assert_eq!(ma.checked_sub(mb), fits(a as i128 - b as i128));
        prop_assert_eq!(ma.checked_neg(), fits(-(a as i128)));
        prop_assert_eq!(ma.checked_abs(), fits((a as i128).abs()));
        let exact = a as i128 * bps as i128;
        prop_assert_eq!(ma.mul_bps(bps, Rounding::Down), fits(exact.div_euclid(10_000)));
        let up = ma.mul_bps(bps, Rounding::Up);
        if let (Some(d), Some(u)) = (ma.mul_bps(bps, Rounding::Down), up) {
            prop_assert!(u.micros() - d.micros() == i64::from(exact % 10_000 != 0));
            let n = ma.mul_bps(bps, Rounding::Nearest).unwrap();
            prop_assert!(d <= n && n <= u);
            // Nearest is within half a unit of the exact value.
            prop_assert!((i128::from(n.micros()) * 10_000 - exact).abs() * 2 <= 10_000);
        }
    }

    #[test]
    fn quantity_arithmetic_is_checked(a in any::<u64>(), b in any::<u64>(), step in any::<u64>()) {
        let (qa, qb) = (Quantity::from_micros(a), Quantity::from_micros(b));
        prop_assert_eq!(qa.checked_add(qb).map(Quantity::micros), a.checked_add(b));
        prop_assert_eq!(qa.checked_sub(qb).map(Quantity::micros), a.checked_sub(b));
        prop_assert_eq!(qa.saturating_sub(qb).micros(), a.saturating_sub(b));
        let r = qa.round_down_to(step);
        prop_assert!(r <= qa);
        if step != 0 { prop_assert_eq!(r.micros() % step, 0); }
    }

    #[test]
    fn notional_brackets_the_exact_product(ticks in 0u32..=10_000, micros in any::<u64>()) {
        let p = Price::from_ticks(ticks).unwrap();
        let q = Quantity::from_micros(micros);
        let exact = ticks as i128 * micros as i128; // in units of 1e-10 USDC
        let down = p.notional(q, Rounding::Down);
        let up = p.notional(q, Rounding::Up);
        prop_assert_eq!(down.map(|m| m.micros() as i128), i64::try_from(exact / 10_000).ok().map(i128::from));
        if let (Some(d), Some(u)) = (down, up) {
            prop_assert!(d.micros() as i128 * 10_000 <= exact && exact <= u.micros() as i128 * 10_000);
            prop_assert!(u.micros() - d.micros() <= 1);
        }
    }

    #[test]
    fn price_arithmetic_stays_in_domain(a in 0u32..=10_000, b in 0u32..=10_000, tick in 0u32..=10_000) {
        let (pa, pb) = (Price::from_ticks(a).unwrap(), Price::from_ticks(b).unwrap());
        prop_assert_eq!(pa.checked_add(pb).map(Price::ticks), Some(a + b).filter(|&v| v <= 10_000));
        prop_assert_eq!(pa.checked_sub(pb).map(Price::ticks), a.checked_sub(b));
        let t = Price::from_ticks(tick).unwrap();
        for r in [Rounding::Down, Rounding::Up] {
            if let Some(x) = pa.round_to_tick(t, r) {
                prop_assert!(x.is_on_tick(t));
            }
        }
    }

    #[test]
    fn fees_are_non_negative_monotonic_and_symmetric(ticks in 0u32..=10_000, a in 0u64..1_000_000_000_000, b in 0u64..1_000_000_000_000, rate in 0u32..10_000, e in 1u32..=2) {
        let f = FeeSchedule { rate_bps: rate, exponent: e };
        let p = Price::from_ticks(ticks).unwrap();
        let (lo, hi) = (a.min(b), a.max(b));
        let fl = f.taker_fee(p, Quantity::from_micros(lo)).unwrap();
        let fh = f.taker_fee(p, Quantity::from_micros(hi)).unwrap();
        prop_assert!(!fl.is_negative() && fl <= fh);
        prop_assert_eq!(fh.micros() % 10, 0);
        prop_assert_eq!(f.taker_fee(p.complement(), Quantity::from_micros(hi)), Some(fh));
    }

    #[test]
    #[allow(clippy::cast_possible_truncation, reason = "the reference routine splits limbs into u32 words")]
    fn token_ids_round_trip(limbs in any::<[u64; 4]>()) {
        // Build the decimal from the limbs with a reference big-number routine (u32 digits).
        let mut words: Vec<u32> = limbs.iter().flat_map(|l| [*l as u32, (*l >> 32) as u32]).collect();
        let mut digits = vec![];
        while words.iter().any(|&w| w != 0) {
            let mut rem = 0u64;
            for w in words.iter_mut().rev() {
                let cur = (rem << 32) | *w as u64;
                *w = (cur / 10) as u32;
                rem = cur % 10;
            }
            digits.push(b'0' + rem as u8);
        }
        if digits.is_empty() { digits.push(b'0'); }
        digits.reverse();
        let s = String::from_utf8(digits).unwrap();
        let t = TokenId::parse(&s).unwrap();
        prop_assert_eq!(t.limbs(), limbs);
        prop_assert_eq!(t.to_string(), s);
    }
}

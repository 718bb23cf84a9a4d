//! Conditional-token operations on the order path, sans-IO: the shape check every stage applies
//! to a [`CtfIntent`], and what the risk gateway reserves for one.
//!
//! A **split** of `q` sets pays `q` USDC for `q` YES and `q` NO: for risk it is the purchase of
//! both tokens at half a USDC each, so the gateway decides it as a set of two buy legs (the
//! operation's id for the first token, `<id>:2` for the second), with every limit a purchase
//! meets (kill switch, losses, order rate, size, notional, position, gross exposure); the
//! execution releases both reservations once the split is booked. A **merge**, a **redeem** or
//! a **convert** only gives exposure back (a set turns into collateral, a resolved token into
//! its payout, NO tokens into YES tokens and collateral): the gateway approves any well-formed
//! one without a reservation, even under the kill switch (it reduces risk, like a cancel), and
//! the booking releases the exposure it frees.

use crate::ids::ClientOrderId;
use crate::money::Price;
use crate::side::Side;
use crate::wire::{CtfIntent, CtfOp, OrderIntent, TimeInForce};

/// Why an operation is malformed, or `Ok` when every stage can take it.
pub fn shape(op: &CtfOp) -> Result<(), &'static str> {
    let distinct = |tokens: &[crate::ids::TokenId]| tokens.iter().enumerate().all(|(i, t)| !tokens[..i].contains(t));
    match op {
        CtfOp::Merge { tokens, size, .. } | CtfOp::Split { tokens, size, .. } => {
            if size.is_zero() {
                Err("zero sets")
            } else if !distinct(tokens) {
                Err("a token appears twice")
            } else {
                Ok(())
            }
        }
        CtfOp::Redeem { size, .. } if size.is_zero() => Err("zero shares"),
        CtfOp::Redeem { .. } => Ok(()),
        CtfOp::Convert { no_tokens, yes_tokens, size, fee_bips } => {
            if no_tokens.is_empty() || size.is_zero() {
                Err("nothing to convert")
            } else if *fee_bips > 10_000 {
                Err("fee above 100%")
            } else if !distinct(&[no_tokens.as_slice(), yes_tokens.as_slice()].concat()) {
                Err("a token appears twice")
            } else {
                Ok(())
            }
        }
    }
}

/// What a refusal of `op` by `reason` says to people (the gateway's and the backtest's).
pub fn refusal_detail(op: &CtfOp, reason: crate::wire::RejectReason) -> String {
    format!("{} of {} sets: {} limit", op.name(), op.size(), reason.as_str())
}

/// The id of a split's reservation on its second token.
pub fn second_leg_id(id: &ClientOrderId) -> Option<ClientOrderId> {
    ClientOrderId::new(&format!("{id}:2")).ok()
}

/// What the gateway reserves for `intent`: a split's two buy legs at half a USDC each (the
/// split's cost basis in the ledger); nothing for the others. `None` when a split's id leaves no
/// room for its second leg's id.
pub fn reservation_legs(intent: &CtfIntent) -> Option<Vec<OrderIntent>> {
    let CtfOp::Split { market, tokens, size } = &intent.op else { return Some(vec![]) };
    let half = Price::from_ticks(Price::ONE.ticks() / 2)?;
    let ids = [intent.id, second_leg_id(&intent.id)?];
    Some(
        tokens
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(i, (token, client_order_id))| OrderIntent {
                client_order_id,
                group: Some(intent.id),
                namespace: intent.namespace.clone(),
                strategy: intent.strategy.clone(),
                risk_policy: intent.risk_policy.clone(),
                venue: intent.venue.clone(),
                market: *market,
                token: *token,
                side: Side::Buy,
                price: half,
                size: *size,
                tif: TimeInForce::Fok,
                post_only: false,
                mode: intent.mode,
                cause_seq: intent.cause_seq,
                cause_recv_ts_ns: intent.cause_recv_ts_ns,
                created_ts_ns: intent.created_ts_ns,
                outcome: Some(crate::wire::Outcome::binary(market, i == 0)),
                kelly: None,
            })
            .collect(),
    )
}

/// The reservations an executed (or failed) operation gives back: a split's two legs.
pub fn reservation_ids(intent: &CtfIntent) -> Vec<ClientOrderId> {
    match intent.op {
        CtfOp::Split { .. } => [Some(intent.id), second_leg_id(&intent.id)].into_iter().flatten().collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConditionId, TokenId};
    use crate::money::{Quantity, Rounding};
    use crate::wire::Mode;

    fn intent(op: CtfOp) -> CtfIntent {
        CtfIntent {
            id: ClientOrderId::new("s-1").unwrap(),
            namespace: "ns".into(),
            strategy: "arb".into(),
            risk_policy: "main".into(),
            venue: "sim".into(),
            op,
            mode: Mode::Paper,
            cause_seq: 0,
            cause_recv_ts_ns: 0,
            created_ts_ns: 0,
        }
    }

    #[test]
    fn a_split_reserves_its_cost_on_both_tokens_and_the_rest_reserve_nothing() {
        let (yes, no) = (TokenId::from_u128(1), TokenId::from_u128(2));
        let market = ConditionId::from_bytes([1; 32]);
        let size = Quantity::from_micros(7_000_001);
        let split = intent(CtfOp::Split { market, tokens: [yes, no], size });
        let legs = reservation_legs(&split).unwrap();
        assert_eq!(legs.len(), 2);
        assert_eq!((legs[0].token, legs[1].token), (yes, no));
        assert_eq!(legs[1].client_order_id.as_str(), "s-1:2");
        let reserved: i64 = legs.iter().map(|l| l.price.notional(l.size, Rounding::Up).unwrap().micros()).sum();
        assert!((7_000_001..=7_000_002).contains(&reserved), "{reserved}");
        assert_eq!(reservation_ids(&split), vec![legs[0].client_order_id, legs[1].client_order_id]);
        let merge = intent(CtfOp::Merge { market, tokens: [yes, no], size });
        assert!(reservation_legs(&merge).unwrap().is_empty());
        assert!(reservation_ids(&merge).is_empty());
    }

    #[test]
    fn malformed_operations_are_named() {
        let (yes, no) = (TokenId::from_u128(1), TokenId::from_u128(2));
        let market = ConditionId::from_bytes([1; 32]);
        assert_eq!(
            shape(&CtfOp::Merge { market, tokens: [yes, yes], size: Quantity::from_micros(1_000_000) }),
            Err("a token appears twice")
        );
        assert_eq!(shape(&CtfOp::Split { market, tokens: [yes, no], size: Quantity::ZERO }), Err("zero sets"));
        assert_eq!(shape(&CtfOp::Redeem { market, token: yes, size: Quantity::ZERO }), Err("zero shares"));
        let convert = |fee_bips| CtfOp::Convert {
            no_tokens: vec![no],
            yes_tokens: vec![yes],
            size: Quantity::from_micros(1_000_000),
            fee_bips,
        };
        assert_eq!(shape(&convert(10_001)), Err("fee above 100%"));
        assert_eq!(shape(&convert(0)), Ok(()));
    }
}

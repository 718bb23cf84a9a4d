//! Round trips of every wire message through the versioned binary codec, and refusal (never a
//! panic) of foreign versions, wrong kinds, truncated and random payloads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::wire::*;
use polyfleet_core::{BookSide, ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use proptest::prelude::*;

fn price() -> impl Strategy<Value = Price> {
    (0u32..=10_000).prop_map(|t| Price::from_ticks(t).unwrap())
}
fn qty() -> impl Strategy<Value = Quantity> {
    any::<u64>().prop_map(Quantity::from_micros)
}
fn token() -> impl Strategy<Value = TokenId> {
    any::<u128>().prop_map(TokenId::from_u128)
}
fn market() -> impl Strategy<Value = ConditionId> {
    any::<[u8; 32]>().prop_map(ConditionId::from_bytes)
}
fn coid() -> impl Strategy<Value = ClientOrderId> {
    "[A-Za-z0-9._:-]{1,48}".prop_map(|s| ClientOrderId::new(&s).unwrap())
}
fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}
fn book_side() -> impl Strategy<Value = BookSide> {
    prop_oneof![Just(BookSide::Bid), Just(BookSide::Ask)]
}
fn level() -> impl Strategy<Value = Level> {
    (price(), qty()).prop_map(|(price, size)| Level { price, size })
}
fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Paper), Just(Mode::Shadow), Just(Mode::Live)]
}

fn body() -> impl Strategy<Value = MarketEventBody> {
    prop_oneof![
        (
            prop::collection::vec(level(), 0..20),
            prop::collection::vec(level(), 0..20),
            price(),
            prop::option::of("[0-9a-f]{40}")
        )
            .prop_map(|(bids, asks, tick, hash)| MarketEventBody::Snapshot { bids, asks, tick, hash }),
        prop::collection::vec(
            (book_side(), price(), qty()).prop_map(|(side, price, size)| LevelChange { side, price, size }),
            0..8
        )
        .prop_map(MarketEventBody::Delta),
        (side(), price(), qty(), any::<u32>()).prop_map(|(side, price, size, fee_rate_bps)| MarketEventBody::Trade {
            side,
            price,
            size,
            fee_rate_bps
        }),
        price().prop_map(|tick| MarketEventBody::TickSize { tick }),
        any::<bool>().prop_map(|winner| MarketEventBody::Resolved { winner }),
        any::<bool>().prop_map(|healthy| MarketEventBody::FeedStatus { healthy }),
        any::<bool>().prop_map(|accepting_orders| MarketEventBody::Trading { accepting_orders }),
    ]
}

fn market_event() -> impl Strategy<Value = MarketEvent> {
    (token(), market(), any::<u64>(), any::<u64>(), any::<u64>(), body()).prop_map(
        |(token, market, seq, venue_ts_ms, recv_ts_ns, body)| MarketEvent {
            token,
            market,
            seq,
            venue_ts_ms,
            recv_ts_ns,
            body,
        },
    )
}

fn tif() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![
        Just(TimeInForce::Gtc),
        any::<u64>().prop_map(|expires_at_s| TimeInForce::Gtd { expires_at_s }),
        Just(TimeInForce::Fok),
        Just(TimeInForce::Fak),
    ]
}

fn intent() -> impl Strategy<Value = OrderIntent> {
    (
        (coid(), prop::option::of(coid()), "[a-z0-9-]{1,20}", "[a-z0-9.-]{1,30}", "[a-z0-9-]{1,20}", "[a-z]{1,10}"),
        (market(), token(), side(), price(), qty(), tif(), any::<bool>(), mode(), any::<u64>(), any::<u64>()),
        prop::option::of(
            (
                "[a-z0-9:-]{1,40}",
                any::<u16>(),
                any::<bool>(),
                any::<u16>(),
                any::<bool>(),
                prop::collection::vec("[a-z./]{1,20}=[a-z0-9]{0,10}", 0..4),
            )
                .prop_map(|(event, index, yes, markets, exhaustive, groups)| Outcome {
                    event,
                    index,
                    yes,
                    markets,
                    exhaustive,
                    groups,
                }),
        ),
        prop::option::of(any::<u32>().prop_map(|probability_ppm| KellyBasis { probability_ppm })),
    )
        .prop_map(
            |(
                (client_order_id, group, namespace, strategy, risk_policy, venue),
                (market, token, side, price, size, tif, post_only, mode, cause_seq, created_ts_ns),
                outcome,
                kelly,
            )| OrderIntent {
                client_order_id,
                group,
                namespace,
                strategy,
                risk_policy,
                venue,
                market,
                token,
                side,
                price,
                size,
                tif,
                post_only,
                mode,
                cause_seq,
                cause_recv_ts_ns: created_ts_ns / 2,
                created_ts_ns,
                outcome,
                kelly,
            },
        )
}

fn fill() -> impl Strategy<Value = Fill> {
    (
        ("[a-zA-Z0-9-]{1,40}", coid(), "[a-z0-9-]{1,20}", "[a-z0-9-]{1,20}", "[a-z0-9-]{1,20}"),
        (market(), token(), side(), price(), qty(), any::<i64>().prop_map(Money::from_micros)),
        (
            prop_oneof![Just(Liquidity::Maker), Just(Liquidity::Taker)],
            prop_oneof![Just(FillStatus::Matched), Just(FillStatus::Confirmed), Just(FillStatus::Failed)],
            mode(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (fill_id, client_order_id, namespace, strategy, risk_policy),
                (market, token, side, price, size, fee),
                (liquidity, status, mode, ts_ns),
            )| Fill {
                fill_id,
                client_order_id,
                namespace,
                strategy,
                risk_policy,
                market,
                token,
                side,
                price,
                size,
                fee,
                liquidity,
                status,
                mode,
                ts_ns,
            },
        )
}

fn ctf_op() -> impl Strategy<Value = CtfOp> {
    prop_oneof![
        (market(), token(), token(), qty()).prop_map(|(market, a, b, size)| CtfOp::Merge {
            market,
            tokens: [a, b],
            size
        }),
        (market(), token(), token(), qty()).prop_map(|(market, a, b, size)| CtfOp::Split {
            market,
            tokens: [a, b],
            size
        }),
        (market(), token(), qty()).prop_map(|(market, token, size)| CtfOp::Redeem { market, token, size }),
        (prop::collection::vec(token(), 0..5), prop::collection::vec(token(), 0..5), qty(), any::<u32>()).prop_map(
            |(no_tokens, yes_tokens, size, fee_bips)| CtfOp::Convert { no_tokens, yes_tokens, size, fee_bips }
        ),
    ]
}

fn ctf_intent() -> impl Strategy<Value = CtfIntent> {
    (coid(), "[a-z0-9-]{1,20}", "[a-z0-9-]{1,20}", ctf_op(), mode(), any::<(u64, u64, u64)>()).prop_map(
        |(id, namespace, strategy, op, mode, (cause_seq, cause_recv_ts_ns, created_ts_ns))| CtfIntent {
            id,
            namespace,
            strategy: strategy.clone(),
            risk_policy: strategy,
            venue: "sim".into(),
            op,
            mode,
            cause_seq,
            cause_recv_ts_ns,
            created_ts_ns,
        },
    )
}

fn round_trip<M: WireMessage + PartialEq + std::fmt::Debug>(msg: &M) -> Result<(), TestCaseError> {
    let bytes = encode(msg);
    prop_assert_eq!(bytes[0], WIRE_VERSION);
    prop_assert_eq!(bytes[1], M::KIND);
    prop_assert_eq!(&decode::<M>(&bytes).unwrap(), msg);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn market_events_round_trip(ev in market_event()) { round_trip(&ev)?; }

    #[test]
    fn intents_round_trip(i in intent(), reason in "\\PC{0,30}", all in any::<bool>(), ns in any::<u64>()) {
        round_trip(&Intent::Place(i.clone()))?;
        let cancel = CancelRequest {
            client_order_id: if all { None } else { Some(i.client_order_id) },
            namespace: i.namespace.clone(), strategy: i.strategy.clone(), reason, created_ts_ns: ns,
        };
        round_trip(&Intent::Cancel(cancel))?;
        let used = polyfleet_core::wire::SignalUsed {
            client_order_id: i.client_order_id, namespace: i.namespace.clone(), strategy: i.strategy.clone(),
            market: i.market, token: i.token, model: i.venue.clone(), model_version: i.risk_policy.clone(),
            probability_ppm: i.price.ticks(), std_error_ppm: all.then_some(12), published_ms: all.then_some(ns / 3),
            valid_until_ms: ns / 2, created_ts_ns: ns,
        };
        round_trip(&Intent::Signal(used))?;
    }

    #[test]
    fn decisions_round_trip(i in intent(), approved in any::<bool>(), detail in "\\PC{0,40}", ts in any::<u64>()) {
        let verdict = if approved { Verdict::Approved } else { Verdict::Rejected { reason: RejectReason::GrossExposure, detail } };
        round_trip(&RiskDecision { intent: i, verdict, decided_ts_ns: ts })?;
    }

    #[test]
    fn fills_round_trip(f in fill()) { round_trip(&f)?; }

    #[test]
    fn ctf_operations_round_trip(c in ctf_intent(), approved in any::<bool>(), why in "\\PC{0,30}", cash in any::<i64>(), ts in any::<u64>()) {
        round_trip(&Intent::Ctf(c.clone()))?;
        let verdict = if approved { Verdict::Approved } else { Verdict::Rejected { reason: RejectReason::GrossExposure, detail: why.clone() } };
        round_trip(&CtfDecision { intent: c.clone(), verdict, decided_ts_ns: ts })?;
        let status = if approved { CtfStatus::Done } else { CtfStatus::Failed { reason: why } };
        round_trip(&CtfReport::of(&c, status, Money::from_micros(cash), Money::from_micros(cash / 2), ts))?;
        // The kind byte tells a subject's message types apart.
        prop_assert_eq!(kind_of(&encode(&CtfDecision { intent: c, verdict: Verdict::Approved, decided_ts_ns: ts })), Some(CtfDecision::KIND));
    }

    #[test]
    fn order_updates_round_trip(id in coid(), venue_id in prop::option::of("0x[0-9a-f]{64}"), filled in qty(), remaining in qty(), ts in any::<u64>()) {
        for status in [OrderStatus::Accepted, OrderStatus::Resting, OrderStatus::PartiallyFilled, OrderStatus::Filled, OrderStatus::Cancelled, OrderStatus::Expired, OrderStatus::Rejected] {
            round_trip(&OrderUpdate {
                client_order_id: id, namespace: "ns".into(), strategy: "s".into(), venue_order_id: venue_id.clone(),
                status, filled, remaining, reason: Some("why".into()), ts_ns: ts,
            })?;
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode::<MarketEvent>(&bytes);
        let _ = decode::<Intent>(&bytes);
        let _ = decode::<RiskDecision>(&bytes);
        let _ = decode::<OrderUpdate>(&bytes);
        let _ = decode::<Fill>(&bytes);
        let _ = decode::<Control>(&bytes);
        let _ = decode::<CtfDecision>(&bytes);
        let _ = decode::<CtfReport>(&bytes);
        let _ = decode::<Notice>(&bytes);
    }

    #[test]
    fn notices_round_trip(id in "\\PC{0,40}", title in "\\PC{0,60}", text in "\\PC{0,200}", strategy in prop::option::of("[a-z-]{1,20}"), ts in any::<u64>(), k in 0usize..6, sev in 0usize..3) {
        round_trip(&Notice {
            id, namespace: "ns".into(), risk_policy: "default".into(), strategy,
            kind: NoticeKind::ALL[k], severity: [Severity::Info, Severity::Warning, Severity::Critical][sev],
            title, text, ts_ms: ts,
        })?;
        prop_assert_eq!(NoticeKind::parse(NoticeKind::ALL[k].as_str()), Some(NoticeKind::ALL[k]));
    }

    #[test]
    fn truncated_payloads_are_refused(ev in market_event(), cut in 0usize..1000) {
        let bytes = encode(&ev);
        let cut = cut % bytes.len();
        prop_assert!(decode::<MarketEvent>(&bytes[..cut]).is_err());
    }
}

#[test]
fn control_messages_round_trip() {
    for c in [
        Control::KillSwitch { risk_policy: "default".into(), engaged: true },
        Control::CancelAll { strategy: "arb".into(), reason: "suspend".into() },
    ] {
        assert_eq!(decode::<Control>(&encode(&c)).unwrap(), c);
    }
}

#[test]
fn foreign_version_wrong_kind_and_trailing_bytes_are_refused() {
    let c = Control::KillSwitch { risk_policy: "p".into(), engaged: false };
    let mut bytes = encode(&c);
    assert!(matches!(decode::<Fill>(&bytes), Err(WireError::Kind { found: 6, .. })));
    bytes.push(0);
    assert!(matches!(decode::<Control>(&bytes), Err(WireError::Trailing(..))));
    bytes.pop();
    bytes[0] = WIRE_VERSION + 1;
    assert!(matches!(decode::<Control>(&bytes), Err(WireError::Version { .. })));
    assert!(matches!(decode::<Control>(&[]), Err(WireError::Truncated(0))));
}

#[test]
fn a_one_level_delta_is_compact() {
    let ev = MarketEvent {
        token: TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563").unwrap(),
        market: ConditionId::parse("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917").unwrap(),
        seq: 1_234_567,
        venue_ts_ms: 1_703_875_200_000,
        recv_ts_ns: 1_703_875_200_123_456_789,
        body: MarketEventBody::Delta(vec![LevelChange {
            side: BookSide::Bid,
            price: Price::parse("0.5").unwrap(),
            size: Quantity::parse("200").unwrap(),
        }]),
    };
    let n = encode(&ev).len();
    let json = serde_json::to_string(&ev).unwrap().len();
    // Measured: 100 bytes against 306 as JSON (the 78-digit token id dominates the JSON).
    assert!(n <= 100, "a one-level delta took {n} bytes");
    assert!(n * 3 <= json, "{n} bytes is not a third of JSON's {json}");
}

//! Helpers the strategy tests share: parsing, book snapshots, the intents placed, and the
//! updates and fills the execution side would send back.
#![allow(dead_code, reason = "each test file uses its own part")]

use polyfleet_core::strategy::runner::Identity;
use polyfleet_core::wire::{
    Fill, FillStatus, Intent, Level, Liquidity, MarketEvent, MarketEventBody, Mode, OrderIntent, OrderStatus,
    OrderUpdate,
};
use polyfleet_core::{ConditionId, Money, Price, Quantity, TokenId};

pub fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
pub fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}
pub fn lv(price: &str, size: &str) -> Level {
    Level { price: p(price), size: q(size) }
}

/// The strategy "arb" (or any) of policy "rp" on venue "sim", paper.
pub fn identity(strategy: &str) -> Identity {
    Identity {
        namespace: "ns".into(),
        strategy: strategy.into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        mode: Mode::Paper,
    }
}

/// An event of `token` (of market `[1; 32]`) at `seq`.
pub fn event(token: u128, seq: u64, body: MarketEventBody) -> MarketEvent {
    MarketEvent {
        token: TokenId::from_u128(token),
        market: ConditionId::from_bytes([1; 32]),
        seq,
        venue_ts_ms: 0,
        recv_ts_ns: 0,
        body,
    }
}

/// A snapshot of `token` (of market `[1; 32]`) at `seq`, tick 0.01.
pub fn snap(token: u128, seq: u64, bids: Vec<Level>, asks: Vec<Level>) -> MarketEvent {
    event(token, seq, MarketEventBody::Snapshot { bids, asks, tick: p("0.01"), hash: None })
}

/// Market `[1; 32]` resolving at `seq` (announced on `token`): `winner` says whether `token` won.
pub fn resolved(token: u128, seq: u64, winner: bool) -> MarketEvent {
    event(token, seq, MarketEventBody::Resolved { winner })
}

/// The orders placed, the legs of a set included.
pub fn places(intents: &[Intent]) -> Vec<OrderIntent> {
    intents
        .iter()
        .flat_map(|i| match i {
            Intent::Place(o) => vec![o.clone()],
            Intent::PlaceSet(legs) => legs.clone(),
            Intent::Cancel(_) | Intent::Ctf(_) | Intent::Signal(_) => vec![],
        })
        .collect()
}

/// An update of `o` to `status` with `filled` shares done.
pub fn update(o: &OrderIntent, status: OrderStatus, filled: &str) -> OrderUpdate {
    OrderUpdate {
        client_order_id: o.client_order_id,
        namespace: "ns".into(),
        strategy: o.strategy.clone(),
        venue_order_id: None,
        status,
        filled: q(filled),
        remaining: Quantity::ZERO,
        reason: None,
        ts_ns: 0,
    }
}

/// A confirmed taker fill of `size` of `o` at its price.
pub fn fill(o: &OrderIntent, id: &str, size: &str) -> Fill {
    Fill {
        fill_id: id.into(),
        client_order_id: o.client_order_id,
        namespace: "ns".into(),
        strategy: o.strategy.clone(),
        risk_policy: "rp".into(),
        market: o.market,
        token: o.token,
        side: o.side,
        price: o.price,
        size: q(size),
        fee: Money::ZERO,
        liquidity: Liquidity::Taker,
        status: FillStatus::Confirmed,
        mode: Mode::Paper,
        ts_ns: 0,
    }
}

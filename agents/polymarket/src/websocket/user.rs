//! The user channel's messages (`order` and `trade` events, §2.3 of the venue notes), decoded
//! into fixed point, sans-IO. The same trade shape comes back from `GET /data/trades`, so REST
//! reconciliation decodes with [`trade_from_value`].
//!
//! Tolerant of what the venue actually sends: `event_type` may be missing (then `type` says
//! `TRADE` or an order event kind), numbers are strings, `size_matched` may be empty, a cancel's
//! status may carry its reason (`CANCELED_<reason>`), and a frame may be one object or an array.

use polyfleet_core::{Price, Quantity, Side};
use serde_json::Value;

/// What an order event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEventKind {
    /// Placed (resting).
    Placement,
    /// Partly matched.
    Update,
    /// Cancelled.
    Cancellation,
}

/// An `order` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    /// Venue order id.
    pub id: String,
    /// What the event reports.
    pub kind: OrderEventKind,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Size when placed.
    pub original_size: Quantity,
    /// Size matched so far.
    pub size_matched: Quantity,
    /// `LIVE`, `MATCHED`, `CANCELED`, `INVALID`, or `CANCELED_<reason>`.
    pub status: String,
}

/// Settlement state of a trade. Only `Confirmed` is final; `Failed` reverses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeStatus {
    /// Matched off chain.
    Matched,
    /// Mined, not yet final.
    Mined,
    /// Being retried on chain.
    Retrying,
    /// Final.
    Confirmed,
    /// Failed on chain: reversed.
    Failed,
}

/// One maker order in a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakerFill {
    /// The maker order's venue id.
    pub order_id: String,
    /// Shares it matched.
    pub matched: Quantity,
    /// Its price.
    pub price: Price,
}

/// A `trade` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeEvent {
    /// Trade id.
    pub id: String,
    /// Settlement state.
    pub status: TradeStatus,
    /// The taker order's venue id.
    pub taker_order_id: String,
    /// Taker's side, price and size.
    pub side: Side,
    /// Taker price.
    pub price: Price,
    /// Taker size.
    pub size: Quantity,
    /// The maker orders it matched.
    pub maker_orders: Vec<MakerFill>,
}

/// A decoded user-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMessage {
    /// An `order` event.
    Order(OrderEvent),
    /// A `trade` event.
    Trade(TradeEvent),
}

/// Why a message did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The message is not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// A field is missing or malformed.
    #[error("field {0} missing or malformed")]
    Field(&'static str),
    /// An event type this decoder does not know.
    #[error("unknown user event {0:?}")]
    Unknown(String),
}

fn text<'a>(v: &'a Value, f: &'static str) -> Result<&'a str, UserError> {
    v.get(f).and_then(Value::as_str).ok_or(UserError::Field(f))
}

fn price(v: &Value, f: &'static str) -> Result<Price, UserError> {
    Price::parse(text(v, f)?).map_err(|_| UserError::Field(f))
}

fn qty(v: &Value, f: &'static str) -> Result<Quantity, UserError> {
    match v.get(f) {
        None | Some(Value::Null) => Ok(Quantity::ZERO),
        Some(Value::String(s)) if s.is_empty() => Ok(Quantity::ZERO),
        Some(Value::String(s)) => Quantity::parse(s).map_err(|_| UserError::Field(f)),
        Some(_) => Err(UserError::Field(f)),
    }
}

fn side(v: &Value) -> Result<Side, UserError> {
    match text(v, "side")? {
        "BUY" | "buy" => Ok(Side::Buy),
        "SELL" | "sell" => Ok(Side::Sell),
        _ => Err(UserError::Field("side")),
    }
}

/// Decodes a trade object (user channel or `GET /data/trades`).
pub fn trade_from_value(v: &Value) -> Result<TradeEvent, UserError> {
    let status = match text(v, "status")? {
        "MATCHED" => TradeStatus::Matched,
        "MINED" => TradeStatus::Mined,
        "RETRYING" => TradeStatus::Retrying,
        "CONFIRMED" => TradeStatus::Confirmed,
        "FAILED" => TradeStatus::Failed,
        _ => return Err(UserError::Field("status")),
    };
    let makers = match v.get("maker_orders") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| {
                Ok(MakerFill {
                    order_id: text(m, "order_id")?.to_string(),
                    matched: qty(m, "matched_amount")?,
                    price: price(m, "price")?,
                })
            })
            .collect::<Result<Vec<_>, UserError>>()?,
        _ => vec![],
    };
    Ok(TradeEvent {
        id: text(v, "id")?.to_string(),
        status,
        taker_order_id: text(v, "taker_order_id")?.to_string(),
        side: side(v)?,
        price: price(v, "price")?,
        size: qty(v, "size")?,
        maker_orders: makers,
    })
}

fn order_from_value(v: &Value, kind: OrderEventKind) -> Result<OrderEvent, UserError> {
    Ok(OrderEvent {
        id: text(v, "id")?.to_string(),
        kind,
        side: side(v)?,
        price: price(v, "price")?,
        original_size: qty(v, "original_size")?,
        size_matched: qty(v, "size_matched")?,
        status: text(v, "status")?.to_string(),
    })
}

fn one(v: &Value) -> Result<UserMessage, UserError> {
    let event = v.get("event_type").and_then(Value::as_str);
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
    let order_kind = match kind {
        "PLACEMENT" => Some(OrderEventKind::Placement),
        "UPDATE" => Some(OrderEventKind::Update),
        "CANCELLATION" => Some(OrderEventKind::Cancellation),
        _ => None,
    };
    if event == Some("trade") || kind == "TRADE" {
        return trade_from_value(v).map(UserMessage::Trade);
    }
    match order_kind {
        Some(k) if event.is_none_or(|e| e == "order") => order_from_value(v, k).map(UserMessage::Order),
        _ => Err(UserError::Unknown(event.unwrap_or(kind).to_string())),
    }
}

/// Decodes a user-channel frame (one object or an array). Each element decodes on its own: a
/// malformed one is reported without losing its neighbours.
pub fn decode(frame: &str) -> Result<Vec<Result<UserMessage, UserError>>, UserError> {
    let v: Value = serde_json::from_str(frame).map_err(|e| UserError::Json(e.to_string()))?;
    Ok(match &v {
        Value::Array(items) => items.iter().map(one).collect(),
        _ => vec![one(&v)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/data/polymarket/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn only(frame: &str) -> UserMessage {
        let mut v = decode(frame).unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0).unwrap()
    }

    #[test]
    fn venue_order_events_decode() {
        let UserMessage::Order(o) = only(&fixture("ws_user_order_msg.json")) else { panic!() };
        assert_eq!(o.kind, OrderEventKind::Placement);
        assert_eq!(o.original_size, Quantity::parse("100").unwrap());
        assert_eq!(o.price, Price::parse("0.5").unwrap());
        let UserMessage::Order(o) = only(&fixture("ws_user_order_update.json")) else { panic!() };
        assert_eq!((o.kind, o.size_matched), (OrderEventKind::Update, Quantity::parse("25").unwrap()));
        let UserMessage::Order(o) = only(&fixture("ws_user_order_fok_killed.json")) else { panic!() };
        assert_eq!(o.kind, OrderEventKind::Cancellation);
        assert_eq!(o.size_matched, Quantity::ZERO);
        assert!(o.status.starts_with("CANCELED_order couldn't be fully filled"));
        let UserMessage::Order(o) = only(&fixture("ws_user_order_venue_cancel.json")) else { panic!() };
        assert_eq!((o.kind, o.status.as_str()), (OrderEventKind::Cancellation, "INVALID"));
    }

    #[test]
    fn venue_trade_events_decode() {
        let rest: Value = serde_json::from_str(&fixture("http_trade_report.json")).unwrap();
        let from_rest = trade_from_value(&rest).unwrap();
        for f in ["ws_user_trade.json", "ws_user_trade_msg.json"] {
            let UserMessage::Trade(t) = only(&fixture(f)) else { panic!("{f}") };
            assert_eq!(t.status, TradeStatus::Confirmed, "{f}");
            assert_eq!(t.taker_order_id, "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef12");
            assert_eq!(t.side, Side::Buy);
            assert_eq!(t.size, Quantity::parse("25").unwrap());
        }
        assert_eq!((from_rest.status, from_rest.size), (TradeStatus::Confirmed, Quantity::parse("25").unwrap()));
        assert_eq!(from_rest.maker_orders.len(), 2);
        assert_eq!(from_rest.maker_orders[1].matched, Quantity::parse("5").unwrap());
    }

    #[test]
    fn malformed_elements_are_reported_alone() {
        let good = fixture("ws_user_trade_msg.json");
        let frame = format!(r#"[{good}, {{"event_type":"trade","id":"x"}}, {{"event_type":"weird"}}]"#);
        let v = decode(&frame).unwrap();
        assert!(v[0].is_ok());
        assert_eq!(v[1], Err(UserError::Field("status")));
        assert!(matches!(v[2], Err(UserError::Unknown(_))));
        assert!(matches!(decode("{not json"), Err(UserError::Json(_))));
    }
}

//! Polymarket's real-time data stream (RTDS, `wss://ws-live-data.polymarket.com`), the crypto
//! reference prices only, sans-IO: the subscription request and the decoding of price frames.
//!
//! Frames are `{"topic","type","timestamp","payload":{"symbol","timestamp","value",...}}`:
//! `crypto_prices` (Binance, `btcusdt`), `crypto_prices_chainlink` (`btc/usd`) and the Chainlink
//! TWAP topics `crypto_prices_twap_thirty` / `crypto_prices_twap_sixty`, whose payload adds
//! `full_accuracy_value` (an E18 integer string, read in preference to `value`) and `window_s`.
//!
//! The official SDK's filtered subscription sends a filter the server drops silently, so the
//! topics are subscribed unfiltered and symbols are filtered here ([`RtdsTick::symbol`]).
//! Anything else on the stream (`PONG`, other topics, connection notices) is [`Decoded::Other`];
//! a price frame that does not parse is an error the caller counts and skips.

use serde::Deserialize;

/// Which price a tick is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceKind {
    /// Binance spot (`crypto_prices`).
    Spot,
    /// Chainlink data stream (`crypto_prices_chainlink`).
    Chainlink,
    /// Chainlink TWAP over a window of this many seconds.
    Twap {
        /// The window, seconds.
        window_s: u32,
    },
}

/// One reference price.
#[derive(Debug, Clone, PartialEq)]
pub struct RtdsTick {
    /// Which price.
    pub kind: PriceKind,
    /// The symbol as the stream names it (`btcusdt`, `btc/usd`).
    pub symbol: String,
    /// Observation time (Unix ms): the payload's, else the frame's.
    pub ts_ms: u64,
    /// The price in USD.
    pub value: f64,
}

impl RtdsTick {
    /// The coin (`btc`) of the symbol, whichever topic.
    pub fn coin(&self) -> &str {
        self.symbol.strip_suffix("usdt").or_else(|| self.symbol.strip_suffix("/usd")).unwrap_or(&self.symbol)
    }
}

/// What a text frame was.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A reference price.
    Tick(RtdsTick),
    /// Anything that is not a crypto price (PONG, other topics).
    Other,
}

/// Why a price frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed RTDS frame: {0}")]
pub struct RtdsError(pub String);

/// The topics the crypto models read, each subscribed unfiltered.
pub const CRYPTO_TOPICS: [(&str, &str); 4] = [
    ("crypto_prices", "update"),
    ("crypto_prices_chainlink", "*"),
    ("crypto_prices_twap_thirty", "*"),
    ("crypto_prices_twap_sixty", "*"),
];

/// The subscription request for [`CRYPTO_TOPICS`].
pub fn subscribe_request() -> String {
    let subs: Vec<serde_json::Value> =
        CRYPTO_TOPICS.iter().map(|(topic, kind)| serde_json::json!({"topic": topic, "type": kind})).collect();
    serde_json::json!({"action": "subscribe", "subscriptions": subs}).to_string()
}

#[derive(Deserialize)]
struct Frame {
    topic: Option<String>,
    timestamp: Option<u64>,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    symbol: Option<String>,
    timestamp: Option<u64>,
    value: Option<serde_json::Number>,
    full_accuracy_value: Option<String>,
    window_s: Option<u32>,
}

/// Decodes one text frame.
pub fn decode(text: &str) -> Result<Decoded, RtdsError> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Ok(Decoded::Other);
    }
    let frame: Frame = serde_json::from_str(trimmed).map_err(|e| RtdsError(e.to_string()))?;
    let kind = match frame.topic.as_deref() {
        Some("crypto_prices") => PriceKind::Spot,
        Some("crypto_prices_chainlink") => PriceKind::Chainlink,
        Some("crypto_prices_twap_thirty") => PriceKind::Twap { window_s: 30 },
        Some("crypto_prices_twap_sixty") => PriceKind::Twap { window_s: 60 },
        _ => return Ok(Decoded::Other),
    };
    let p = frame.payload.ok_or_else(|| RtdsError("no payload".into()))?;
    let kind = match (kind, p.window_s) {
        (PriceKind::Twap { .. }, Some(w)) if w > 0 => PriceKind::Twap { window_s: w },
        (k, _) => k,
    };
    let symbol = p.symbol.filter(|s| !s.is_empty()).ok_or_else(|| RtdsError("no symbol".into()))?;
    let ts_ms = p.timestamp.or(frame.timestamp).ok_or_else(|| RtdsError("no timestamp".into()))?;
    let value = match p.full_accuracy_value.as_deref() {
        Some(e18) => e18_to_f64(e18)?,
        None => p.value.and_then(|n| n.as_f64()).ok_or_else(|| RtdsError("no value".into()))?,
    };
    if !(value.is_finite() && value > 0.0) {
        return Err(RtdsError(format!("price {value}")));
    }
    Ok(Decoded::Tick(RtdsTick { kind, symbol: symbol.to_ascii_lowercase(), ts_ms, value }))
}

/// An E18 fixed-point integer string as a number (integer and fraction parts apart, so no
/// precision is lost beyond what f64 keeps).
fn e18_to_f64(text: &str) -> Result<f64, RtdsError> {
    let bad = || RtdsError(format!("full_accuracy_value {text:?}"));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let split = text.len().saturating_sub(18);
    let (int, frac) = text.split_at(split);
    let int: f64 = if int.is_empty() { 0.0 } else { int.parse().map_err(|_| bad())? };
    let frac: f64 = format!("0.{frac:0>18}").parse().map_err(|_| bad())?;
    Ok(int + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames shaped as RTDS sends them (the topic table of `strategy-notes.md` §2: frame
    /// `{topic,type,timestamp,payload}`, TWAP payloads with `full_accuracy_value` and `window_s`).
    const SPOT: &str = r#"{"topic":"crypto_prices","type":"update","timestamp":1753314088421,"payload":{"symbol":"btcusdt","timestamp":1753314088395,"value":67234.5}}"#;
    const CHAINLINK: &str = r#"{"topic":"crypto_prices_chainlink","type":"update","timestamp":1753314088421,"payload":{"symbol":"eth/usd","timestamp":1753314088000,"value":3456.78}}"#;
    const TWAP: &str = r#"{"topic":"crypto_prices_twap_sixty","type":"update","timestamp":1753314089000,"payload":{"symbol":"btc/usd","timestamp":1753314089000,"value":67230.1,"full_accuracy_value":"67230123456789012345678","window_s":60}}"#;

    fn tick(text: &str) -> RtdsTick {
        match decode(text).unwrap() {
            Decoded::Tick(t) => t,
            Decoded::Other => panic!("not a tick: {text}"),
        }
    }

    #[test]
    fn price_frames_decode() {
        let t = tick(SPOT);
        assert_eq!(
            (t.kind, t.symbol.as_str(), t.coin(), t.ts_ms),
            (PriceKind::Spot, "btcusdt", "btc", 1_753_314_088_395)
        );
        assert_eq!(t.value, 67_234.5);
        let t = tick(CHAINLINK);
        assert_eq!((t.kind, t.coin(), t.value), (PriceKind::Chainlink, "eth", 3456.78));
        let t = tick(TWAP);
        assert_eq!(t.kind, PriceKind::Twap { window_s: 60 });
        // The E18 value wins over the rounded one.
        assert!((t.value - 67_230.123_456_789).abs() < 1e-9, "{}", t.value);
    }

    #[test]
    fn other_frames_pass_and_bad_ones_are_errors() {
        assert_eq!(decode("PONG").unwrap(), Decoded::Other);
        assert_eq!(decode(r#"{"topic":"activity","type":"trades","payload":{}}"#).unwrap(), Decoded::Other);
        for bad in [
            r#"{"topic":"crypto_prices","payload":{"symbol":"btcusdt","timestamp":1}}"#,
            r#"{"topic":"crypto_prices","payload":{"symbol":"btcusdt","timestamp":1,"value":-3}}"#,
            r#"{"topic":"crypto_prices_twap_sixty","payload":{"symbol":"btc/usd","timestamp":1,"full_accuracy_value":"1e18"}}"#,
            r#"{"topic":"crypto_prices","payload":{"timestamp":1,"value":3}}"#,
            r#"{"topic":"crypto_prices","payload":"#,
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_subscription_is_unfiltered() {
        let v: serde_json::Value = serde_json::from_str(&subscribe_request()).unwrap();
        assert_eq!(v["action"], "subscribe");
        let subs = v["subscriptions"].as_array().unwrap();
        assert_eq!(subs.len(), 4);
        assert!(subs.iter().all(|s| s.get("filters").is_none()));
    }
}

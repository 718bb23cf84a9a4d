//! Fair-value signals: what a model (in any language, with a stock NATS client) publishes for a
//! `directional` Strategy to trade on. Unlike the agents' own messages these are JSON, so that a
//! Python or R model needs no codec; the document names its schema and version, and anything that
//! is not exactly a valid version-1 document is refused with a reason (the strategy agent counts
//! it and trades nothing on it).
//!
//! Subject: `signal.<venue>.<token>` (core NATS; a stale signal has no value, so none is kept).
//! Trace context: the W3C `traceparent` header, as on every other subject; the order a signal
//! causes continues its trace.
//!
//! ```json
//! {
//!   "schema": "polyfleet.signal.fairValue/v1",
//!   "token": "71321045679252212594626385532706912750332728571942532289631379312455583992563",
//!   "probability": 0.62,
//!   "model": "btc-updown",
//!   "modelVersion": "1.4.0",
//!   "stdError": 0.015,
//!   "validUntilMs": 1796000000000,
//!   "publishedMs": 1795999990000
//! }
//! ```
//!
//! `probability` is the model's probability that `token` pays 1 USDC, strictly between 0 and 1;
//! a number or a decimal string, read exactly to millionths (a number is read from its shortest
//! decimal form, so `0.62` is exactly 620 000 ppm). `stdError` (optional) is its standard error,
//! likewise. `validUntilMs` is when the signal stops being tradable (Unix ms); `publishedMs`
//! (optional) when the model computed it. Unknown fields are refused: a misspelt field must not
//! be silently ignored.

use serde::{Deserialize, Deserializer};

use crate::TokenId;

/// The schema name and version a version-1 document declares.
pub const FAIR_VALUE_V1: &str = "polyfleet.signal.fairValue/v1";

/// Millionths in a probability of one.
pub const PPM: u32 = 1_000_000;

/// `signal.<venue>.<token>`: fair values of one token.
pub fn subject(venue: &str, token: &TokenId) -> String {
    format!("signal.{}.{token}", super::subjects::token(venue))
}

/// `signal.<venue>.*`: every token of a venue.
pub fn subject_all(venue: &str) -> String {
    format!("signal.{}.*", super::subjects::token(venue))
}

/// A model's fair value for one token, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairValue {
    /// The token it prices.
    pub token: TokenId,
    /// The probability that the token pays 1 USDC, in millionths (strictly inside 0..1 000 000).
    pub probability_ppm: u32,
    /// The model's id (what Strategies name in `signals`).
    pub model: String,
    /// The model's version (scores are kept per version).
    pub model_version: String,
    /// Standard error of the probability, in millionths, if the model gives one.
    pub std_error_ppm: Option<u32>,
    /// Tradable until (Unix ms).
    pub valid_until_ms: u64,
    /// Computed at (Unix ms), if given.
    pub published_ms: Option<u64>,
}

/// Why a signal is refused (the strategy agent's `signals{kind=...}` counter takes [`SignalError::kind`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// Not a version-1 fair-value document.
    #[error("malformed signal: {0}")]
    Malformed(String),
    /// Its `validUntilMs` has passed, or it was published too long ago.
    #[error("stale signal: valid until {valid_until_ms}, now {now_ms}")]
    Stale {
        /// The signal's end of validity.
        valid_until_ms: u64,
        /// Now.
        now_ms: u64,
    },
}

impl SignalError {
    /// A short label.
    pub fn kind(&self) -> &'static str {
        match self {
            SignalError::Malformed(_) => "malformed",
            SignalError::Stale { .. } => "stale",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawFairValue {
    schema: String,
    token: String,
    #[serde(deserialize_with = "ppm")]
    probability: u32,
    model: String,
    model_version: String,
    #[serde(default, deserialize_with = "opt_ppm")]
    std_error: Option<u32>,
    valid_until_ms: u64,
    #[serde(default)]
    published_ms: Option<u64>,
}

/// A non-negative decimal (a JSON number or string; `1.5e-3` notation too) in millionths,
/// rounded half up to the nearest.
fn decimal_ppm(text: &str) -> Option<u32> {
    let text = text.trim();
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && frac.is_empty() || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    // The digits as one integer `d`, and how many of them are decimals once the exponent moved
    // the point: the value is d / 10^decimals.
    let all: String = whole.chars().chain(frac.chars()).collect();
    let all = all.trim_start_matches('0');
    if all.len() > 36 {
        return None;
    }
    let d: u128 = if all.is_empty() { 0 } else { all.parse().ok()? };
    let decimals = i64::try_from(frac.len()).ok()? - i64::from(exp);
    let ppm = if decimals <= 6 {
        d.checked_mul(10u128.checked_pow(u32::try_from(6 - decimals).ok()?)?)?
    } else {
        let div = 10u128.checked_pow(u32::try_from(decimals - 6).ok()?).unwrap_or(u128::MAX);
        let (q, r) = (d / div, d % div);
        q + u128::from(r >= div - r)
    };
    u32::try_from(ppm).ok()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(serde_json::Number),
    Text(String),
}

impl NumberOrText {
    fn ppm(&self) -> Option<u32> {
        match self {
            // A JSON number is written back in its shortest round-trip decimal form: 0.62 reads
            // as "0.62" (and a negative one fails the digits check).
            NumberOrText::Number(n) => decimal_ppm(&n.to_string()),
            NumberOrText::Text(s) => decimal_ppm(s),
        }
    }
}

fn ppm<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = NumberOrText::deserialize(d)?;
    v.ppm().ok_or_else(|| serde::de::Error::custom("not a non-negative decimal"))
}

fn opt_ppm<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Option::<NumberOrText>::deserialize(d)?
        .map(|v| v.ppm().ok_or_else(|| serde::de::Error::custom("not a non-negative decimal")))
        .transpose()
}

/// Millionths as a decimal text (`620000` → `0.62`).
fn ppm_text(ppm: u32) -> String {
    let s = format!("{}.{:06}", ppm / PPM, ppm % PPM);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Millionths as a JSON number (its shortest form is the decimal text, so it reads back exactly).
fn decimal(ppm: u32) -> serde_json::Value {
    ppm_text(ppm).parse::<serde_json::Number>().map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
}

impl FairValue {
    /// The version-1 document (what a built-in model publishes; [`FairValue::decode`] reads it
    /// back exactly). Probabilities are written as decimal numbers with up to six places.
    pub fn encode(&self) -> String {
        let mut doc = serde_json::json!({
            "schema": FAIR_VALUE_V1,
            "token": self.token.to_string(),
            "probability": decimal(self.probability_ppm),
            "model": self.model,
            "modelVersion": self.model_version,
            "validUntilMs": self.valid_until_ms,
        });
        if let Some(se) = self.std_error_ppm {
            doc["stdError"] = decimal(se);
        }
        if let Some(p) = self.published_ms {
            doc["publishedMs"] = p.into();
        }
        doc.to_string()
    }

    /// Decodes and checks a document received at `now_ms`: the schema, a token id, a probability
    /// strictly inside (0, 1), a standard error at most 0.5, non-empty model id and version, not
    /// expired, and (when `max_age_ms` is given) published at most that long ago.
    pub fn decode(bytes: &[u8], now_ms: u64, max_age_ms: Option<u64>) -> Result<FairValue, SignalError> {
        let bad = |m: String| SignalError::Malformed(m);
        let raw: RawFairValue = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if raw.schema != FAIR_VALUE_V1 {
            return Err(bad(format!("schema {:?} is not {FAIR_VALUE_V1:?}", raw.schema)));
        }
        let token = TokenId::parse(&raw.token).map_err(|e| bad(format!("token {:?}: {e}", raw.token)))?;
        if raw.probability == 0 || raw.probability >= PPM {
            return Err(bad(format!("probability {} ppm is not strictly between 0 and 1", raw.probability)));
        }
        if raw.std_error.is_some_and(|s| s > PPM / 2) {
            return Err(bad("stdError above 0.5".into()));
        }
        let ident = |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control);
        if !ident(&raw.model) || !ident(&raw.model_version) {
            return Err(bad("model and modelVersion must be 1 to 128 printable characters".into()));
        }
        let too_old = match (raw.published_ms, max_age_ms) {
            (Some(p), Some(age)) => now_ms.saturating_sub(p) > age,
            _ => false,
        };
        if raw.valid_until_ms <= now_ms || too_old {
            return Err(SignalError::Stale { valid_until_ms: raw.valid_until_ms, now_ms });
        }
        Ok(FairValue {
            token,
            probability_ppm: raw.probability,
            model: raw.model,
            model_version: raw.model_version,
            std_error_ppm: raw.std_error,
            valid_until_ms: raw.valid_until_ms,
            published_ms: raw.published_ms,
        })
    }

    /// The probability that the other token of a binary market pays (`1 − p`).
    pub fn complement_ppm(&self) -> u32 {
        PPM - self.probability_ppm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a built-in model writes reads back exactly.
    #[test]
    fn encoded_documents_decode_to_themselves() {
        for (p, se, published) in
            [(620_000, Some(15_000), Some(1_000)), (1, None, None), (999_999, Some(123_456), None)]
        {
            let fv = FairValue {
                token: TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563")
                    .unwrap(),
                probability_ppm: p,
                model: "crypto-updown".into(),
                model_version: "0.1.0".into(),
                std_error_ppm: se,
                valid_until_ms: 5_000,
                published_ms: published,
            };
            let text = fv.encode();
            assert_eq!(FairValue::decode(text.as_bytes(), 2_000, None).unwrap(), fv, "{text}");
        }
        assert_eq!(ppm_text(620_000), "0.62");
        assert_eq!(ppm_text(1), "0.000001");
    }

    const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";

    fn doc(extra: &str, probability: &str) -> Vec<u8> {
        format!(
            r#"{{"schema":"{FAIR_VALUE_V1}","token":"{TOKEN}","probability":{probability},"model":"m","modelVersion":"1"{extra},"validUntilMs":2000}}"#
        )
        .into_bytes()
    }

    #[test]
    fn probabilities_read_exactly_as_numbers_or_strings() {
        for (text, ppm) in [
            ("0.62", 620_000),
            ("\"0.62\"", 620_000),
            ("0.1", 100_000),
            ("0.3333333", 333_333),
            ("0.0000005", 1),
            ("0.999999", 999_999),
            ("1e-3", 1_000),
            ("5e-7", 1),
            ("\"6.2E-1\"", 620_000),
            ("0.62e0", 620_000),
        ] {
            let s = FairValue::decode(&doc("", text), 1000, None).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(s.probability_ppm, ppm, "{text}");
            assert_eq!(s.complement_ppm(), PPM - ppm);
        }
    }

    #[test]
    fn bad_documents_are_refused_with_a_reason() {
        let malformed = |b: &[u8]| matches!(FairValue::decode(b, 1000, None), Err(SignalError::Malformed(_)));
        assert!(malformed(b"not json"));
        assert!(malformed(&doc("", "0")), "0 is not inside (0, 1)");
        assert!(malformed(&doc("", "1")));
        assert!(malformed(&doc("", "1.5")));
        assert!(malformed(&doc("", "-0.2")));
        assert!(malformed(&doc("", "\"abc\"")));
        assert!(malformed(&doc(r#","stdError":0.6"#, "0.5")));
        assert!(malformed(&doc(r#","extra":1"#, "0.5")), "unknown fields are refused");
        let text = String::from_utf8(doc("", "0.5")).unwrap_or_default();
        assert!(malformed(text.replace("/v1", "/v2").as_bytes()), "another schema version");
        assert!(malformed(text.replace(TOKEN, "0xnot").as_bytes()));
        let s = FairValue::decode(&doc(r#","stdError":"0.02","publishedMs":900"#, "0.5"), 1000, Some(200));
        assert_eq!(s.map(|s| (s.std_error_ppm, s.published_ms)), Ok((Some(20_000), Some(900))));
        assert_eq!(FairValue::decode(&doc("", "0.5"), 2000, None).map_err(|e| e.kind()), Err("stale"));
        let old = doc(r#","publishedMs":100"#, "0.5");
        assert_eq!(FairValue::decode(&old, 1000, Some(500)).map_err(|e| e.kind()), Err("stale"));
        assert!(FairValue::decode(&old, 1000, None).is_ok(), "no age limit: only validUntilMs");
    }

    #[test]
    fn subjects_escape_the_venue() {
        let Ok(t) = TokenId::parse("12") else { panic!("token") };
        assert_eq!(subject("my.venue", &t), format!("signal.{}.12", crate::wire::subjects::token("my.venue")));
        assert!(subject_all("sim").ends_with(".*"));
    }
}

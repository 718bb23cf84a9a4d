//! What a message of the order path's JetStream streams becomes in the journal: the journal
//! agent's decoding, pure. Every wire message kind of the intents, decisions, orders and fills
//! streams maps to one [`Record`] whose key repeats when the message does (a JetStream
//! redelivery, the same message published again under its message id, a stream read again from
//! the start; a settlement by market, namespace and strategy); the order's trace id comes from the W3C `traceparent` header it travelled with.
//! The parameters KV bucket's entries become [`Kind::Params`] records too ([`params`]): each
//! generation the operator wrote, and the strategy agent's acknowledgement of it; so do the
//! strategy agents' drift reports whose standing alarms changed ([`drift`]).

use polyfleet_core::wire::{
    CtfDecision, CtfReport, Fill, Intent, Notice, OrderUpdate, RiskDecision, SettlementReport, WireError, WireMessage,
    decode, kind_of,
};

use polyfleet_core::config::ParamsAck;
use polyfleet_core::strategy::drift::DriftReport;
use polyfleet_core::wire::subjects;

use crate::record::ts;
use crate::{Entry, JournalError, Kind, Record};

/// Why a message was not journaled.
#[derive(Debug, thiserror::Error)]
pub enum Skip {
    /// Its payload does not decode (counted as malformed and skipped).
    #[error("malformed: {0}")]
    Malformed(#[from] WireError),
    /// A value that does not fit the journal (a time past 2262).
    #[error("{0}")]
    Unfit(#[from] JournalError),
    /// A kind the journal does not keep (notices are alerts, not trades).
    #[error("not journaled: wire kind {0}")]
    NotJournaled(u8),
    /// A parameters key or document that does not read.
    #[error("parameters: {0}")]
    Params(String),
}

/// The trace id (32 hex digits) of a W3C `traceparent` value (`00-<trace>-<span>-<flags>`).
pub fn trace_id(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    (trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()) && trace.bytes().any(|b| b != b'0'))
        .then(|| trace.to_ascii_lowercase())
}

fn entry(
    kind: Kind,
    key: String,
    ts_ns: u64,
    ns: &str,
    strategy: &str,
    trace: Option<String>,
    payload: &[u8],
) -> Result<Record, Skip> {
    Ok(Record::of(Entry {
        kind,
        key,
        ts_ns: ts(ts_ns)?,
        namespace: ns.to_string(),
        strategy: strategy.to_string(),
        trace_id: trace,
        payload: payload.to_vec(),
    }))
}

/// The record a bus message's `payload` (with its `traceparent` header, if any) becomes.
pub fn record(payload: &[u8], traceparent: Option<&str>) -> Result<Record, Skip> {
    let trace = traceparent.and_then(trace_id);
    let Some(kind) = kind_of(payload) else {
        // Too short, or of another wire version: decoding says which.
        return Err(match decode::<Fill>(payload) {
            Err(e) => Skip::Malformed(e),
            Ok(_) => Skip::Malformed(WireError::Truncated(payload.len())),
        });
    };
    match kind {
        Intent::KIND => match decode::<Intent>(payload)? {
            Intent::Place(o) => entry(
                Kind::Intent,
                o.client_order_id.to_string(),
                o.created_ts_ns,
                &o.namespace,
                &o.strategy,
                trace,
                payload,
            ),
            Intent::PlaceSet(legs) => {
                let Some(first) = legs.first() else { return Err(Skip::NotJournaled(Intent::KIND)) };
                let key = format!("set/{}", first.client_order_id);
                entry(Kind::Intent, key, first.created_ts_ns, &first.namespace, &first.strategy, trace, payload)
            }
            Intent::Ctf(c) => {
                entry(Kind::Ctf, format!("intent/{}", c.id), c.created_ts_ns, &c.namespace, &c.strategy, trace, payload)
            }
            Intent::Cancel(c) => {
                let which = c.client_order_id.map(|i| i.to_string()).unwrap_or_else(|| "all".into());
                let key = format!("cancel/{which}/{}", c.created_ts_ns);
                entry(Kind::Intent, key, c.created_ts_ns, &c.namespace, &c.strategy, trace, payload)
            }
            // Keyed by the order it sized.
            Intent::Signal(u) => entry(
                Kind::Signal,
                u.client_order_id.to_string(),
                u.created_ts_ns,
                &u.namespace,
                &u.strategy,
                trace,
                payload,
            ),
        },
        RiskDecision::KIND => Ok(Record::decision(&decode::<RiskDecision>(payload)?, trace)?),
        OrderUpdate::KIND => Ok(Record::order(&decode::<OrderUpdate>(payload)?, trace)?),
        Fill::KIND => Ok(Record::fill(&decode::<Fill>(payload)?, trace)?),
        CtfDecision::KIND => {
            let d = decode::<CtfDecision>(payload)?;
            let i = &d.intent;
            entry(Kind::Decision, format!("ctf/{}", i.id), d.decided_ts_ns, &i.namespace, &i.strategy, trace, payload)
        }
        CtfReport::KIND => {
            let r = decode::<CtfReport>(payload)?;
            entry(Kind::Ctf, format!("{}/{:?}", r.id, r.status), r.ts_ns, &r.namespace, &r.strategy, trace, payload)
        }
        SettlementReport::KIND => {
            let r = decode::<SettlementReport>(payload)?;
            let key = format!("{}/{}", r.namespace, r.resolution.settlement_key(&r.strategy));
            entry(Kind::Settlement, key, r.ts_ns, &r.namespace, &r.strategy, trace, payload)
        }
        Notice::KIND => Err(Skip::NotJournaled(kind)),
        other => {
            Err(Skip::Malformed(WireError::Kind { expected: "an order-path message", expected_kind: 0, found: other }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::wire::{Resolution, encode};
    use polyfleet_core::{ConditionId, Money, TokenId};

    #[test]
    fn a_settlement_is_journaled_once_per_market_and_strategy() {
        let market = ConditionId::from_bytes([3; 32]);
        let report = SettlementReport {
            namespace: "desk".into(),
            strategy: "dir".into(),
            resolution: Resolution::won_by(
                market,
                &[TokenId::from_u128(1), TokenId::from_u128(2)],
                TokenId::from_u128(1),
            ),
            cash: Money::from_micros(10_000_000),
            realized: Money::from_micros(2_500_000),
            ts_ns: 7,
        };
        let payload = encode(&report);
        let Record { entry, fill } = record(&payload, None).unwrap();
        assert!(fill.is_none());
        assert_eq!((entry.kind, entry.ts_ns, entry.strategy.as_str()), (Kind::Settlement, 7, "dir"));
        assert_eq!(entry.key, format!("desk/settle:{market}:dir"));
        let later = SettlementReport { ts_ns: 9, ..report };
        assert_eq!(record(&encode(&later), None).unwrap().entry.key, entry.key, "a repeat has the same key");
    }
}

/// The generation a parameters document names (the rest is the strategy type's block, kept as
/// written).
#[derive(serde::Deserialize)]
struct Generation {
    generation: u64,
}

/// The record of a parameters KV entry seen at `seen_ns`: a generation the operator wrote under
/// [`subjects::params_key`] (keyed `<ns>/<strategy>/<generation>`), or the strategy agent's
/// acknowledgement under [`subjects::params_ack_key`] (keyed `…/<generation>/ack`: applied, or
/// refused and why). The
/// payload is the JSON as written; a watch that replays the bucket repeats the keys.
pub fn params(key: &str, value: &[u8], seen_ns: u64) -> Result<Record, Skip> {
    let (ns, strategy, ack) =
        subjects::parse_params_key(key).ok_or_else(|| Skip::Params(format!("{key:?} is not a parameters key")))?;
    let generation = if ack {
        serde_json::from_slice::<ParamsAck>(value).map(|a| a.generation)
    } else {
        serde_json::from_slice::<Generation>(value).map(|g| g.generation)
    }
    .map_err(|e| Skip::Params(format!("{key}: {e}")))?;
    // Unique across strategies (the journal's key is per kind); Kubernetes names hold no '/'.
    let key = format!("{ns}/{strategy}/{generation}{}", if ack { "/ack" } else { "" });
    entry(Kind::Params, key, seen_ns, &ns, &strategy, None, value)
}

/// What identifies a drift report's standing alarms: each alarm's metric and when it fired.
/// Reports whose signature is the same only counted more samples.
pub fn drift_signature(report: &DriftReport) -> Vec<(String, u64)> {
    let mut s: Vec<(String, u64)> = report.alarms.iter().map(|a| (a.metric.as_str().to_string(), a.since_ns)).collect();
    s.sort();
    s
}

/// The record of a strategy's drift report (KV key [`subjects::drift_key`], revision
/// `revision`, seen at `seen_ns`), keyed `<ns>/<strategy>/drift/<revision>` so a watch that
/// replays the bucket repeats it; with the report it decoded. The journal agent writes one only
/// when the standing alarms changed ([`drift_signature`]). The payload is the JSON as written.
pub fn drift(key: &str, value: &[u8], revision: u64, seen_ns: u64) -> Result<(Record, DriftReport), Skip> {
    let bad = || Skip::Params(format!("{key:?} is not a drift key"));
    let stem = key.strip_suffix(".drift").ok_or_else(bad)?;
    let (ns, strategy, ack) = subjects::parse_params_key(stem).ok_or_else(bad)?;
    if ack {
        return Err(bad());
    }
    let report: DriftReport = serde_json::from_slice(value).map_err(|e| Skip::Params(format!("{key}: {e}")))?;
    let record = entry(Kind::Drift, format!("{ns}/{strategy}/drift/{revision}"), seen_ns, &ns, &strategy, None, value)?;
    Ok((record, report))
}

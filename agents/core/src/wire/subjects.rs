//! Subject names, stream names and KV keys of the wire protocol (see the module doc of
//! [`crate::wire`] for the table).

use std::borrow::Cow;
use std::fmt::Write;

use crate::ids::TokenId;

/// JetStream stream holding order intents (`intent.>`).
pub const STREAM_INTENTS: &str = "POLYFLEET_INTENTS";
/// JetStream stream holding risk decisions (`decision.>`).
pub const STREAM_DECISIONS: &str = "POLYFLEET_DECISIONS";
/// JetStream stream holding order updates (`order.>`).
pub const STREAM_ORDERS: &str = "POLYFLEET_ORDERS";
/// JetStream stream holding fills (`fill.>`).
pub const STREAM_FILLS: &str = "POLYFLEET_FILLS";
/// JetStream stream holding notices for people (`notice.>`).
pub const STREAM_NOTICES: &str = "POLYFLEET_NOTICES";
/// JetStream KV bucket of strategy parameters and their acknowledgements.
pub const PARAMS_BUCKET: &str = "polyfleet-params";

/// Every JetStream stream with the subjects it captures.
pub const STREAMS: [(&str, &str); 5] = [
    (STREAM_INTENTS, "intent.>"),
    (STREAM_DECISIONS, "decision.>"),
    (STREAM_ORDERS, "order.>"),
    (STREAM_FILLS, "fill.>"),
    (STREAM_NOTICES, "notice.>"),
];

/// Escapes a name into one NATS subject token that is also a valid KV key part: `[A-Za-z0-9_-]`
/// pass through, every other byte becomes `=xx` (hex; `=` is one of the few other characters a
/// JetStream KV key may hold, so a Strategy named `arb.v2` gets a parameters key too). Injective,
/// so two names never share a subject.
pub fn token(name: &str) -> Cow<'_, str> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    if name.is_empty() {
        out.push('=');
    }
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            let _ = write!(out, "={b:02x}");
        }
    }
    Cow::Owned(out)
}

/// `md.<venue>.<token>`: market events of one token.
pub fn market_data(venue: &str, token_id: &TokenId) -> String {
    format!("md.{}.{token_id}", token(venue))
}

/// `md.<venue>.*`: every token of a venue.
pub fn market_data_all(venue: &str) -> String {
    format!("md.{}.*", token(venue))
}

/// `mdsnap.<venue>.<token>`: snapshot request/reply.
pub fn snapshot_request(venue: &str, token_id: &TokenId) -> String {
    format!("mdsnap.{}.{token_id}", token(venue))
}

/// `intent.<namespace>.<strategy>`.
pub fn intents(namespace: &str, strategy: &str) -> String {
    format!("intent.{}.{}", token(namespace), token(strategy))
}

/// `decision.<namespace>.<strategy>`.
pub fn decisions(namespace: &str, strategy: &str) -> String {
    format!("decision.{}.{}", token(namespace), token(strategy))
}

/// `order.<namespace>.<strategy>`.
pub fn order_updates(namespace: &str, strategy: &str) -> String {
    format!("order.{}.{}", token(namespace), token(strategy))
}

/// `fill.<namespace>.<strategy>`.
pub fn fills(namespace: &str, strategy: &str) -> String {
    format!("fill.{}.{}", token(namespace), token(strategy))
}

/// `control.<namespace>.<kind>.<name>`, e.g. kind `riskpolicy` for a kill switch.
pub fn control(namespace: &str, kind: &str, name: &str) -> String {
    format!("control.{}.{}.{}", token(namespace), token(kind), token(name))
}

/// `notice.<namespace>.<policy>`: notices about one RiskPolicy.
pub fn notices(namespace: &str, policy: &str) -> String {
    format!("notice.{}.{}", token(namespace), token(policy))
}

/// `riskpos.<namespace>.<strategy>`: a request to the risk gateway for a strategy's ledger
/// positions (the body names its RiskPolicy), which a restarted strategy agent starts from.
pub fn positions_request(namespace: &str, strategy: &str) -> String {
    format!("riskpos.{}.{}", token(namespace), token(strategy))
}

/// Every positions request the risk gateway of `namespace` (`*`: all) answers.
pub fn positions_requests(namespace: &str) -> String {
    format!("riskpos.{}.*", if namespace == "*" { "*".into() } else { token(namespace) })
}

/// The name [`token`] escaped, or `None` when `t` is not one of its tokens.
pub fn untoken(t: &str) -> Option<String> {
    if t == "=" {
        return Some(String::new());
    }
    let mut out = Vec::with_capacity(t.len());
    let mut bytes = t.bytes();
    while let Some(b) = bytes.next() {
        if b == b'=' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b);
        } else {
            return None;
        }
    }
    let name = String::from_utf8(out).ok()?;
    (token(&name) == t).then_some(name)
}

/// KV keys of every strategy's parameters ([`params_key`]), as a watch pattern.
pub const PARAMS_KEYS: &str = "*.*";
/// KV keys of every strategy's acknowledgements ([`params_ack_key`]), as a watch pattern.
pub const PARAMS_ACK_KEYS: &str = "*.*.ack";

/// The namespace and strategy of a [`params_key`] or [`params_ack_key`], and whether it is the
/// acknowledgement; `None` for any other key.
pub fn parse_params_key(key: &str) -> Option<(String, String, bool)> {
    let mut parts = key.split('.');
    let (ns, name, rest, more) = (parts.next()?, parts.next()?, parts.next(), parts.next());
    let ack = match (rest, more) {
        (None, _) => false,
        (Some("ack"), None) => true,
        _ => return None,
    };
    Some((untoken(ns)?, untoken(name)?, ack))
}

/// KV key of a strategy's parameters: `<namespace>.<strategy>`.
pub fn params_key(namespace: &str, strategy: &str) -> String {
    format!("{}.{}", token(namespace), token(strategy))
}

/// KV key where the agent acknowledges the generation it applied: `<namespace>.<strategy>.ack`.
pub fn params_ack_key(namespace: &str, strategy: &str) -> String {
    format!("{}.ack", params_key(namespace, strategy))
}

/// `<ns>.<strategy>.scores`: a directional strategy's forecast scores per model version (JSON,
/// [`crate::analytics::scores::ModelScore`] list), written by its agent for the Strategy's status.
pub fn scores_key(namespace: &str, strategy: &str) -> String {
    format!("{}.scores", params_key(namespace, strategy))
}

/// `<ns>.<strategy>.drift`: the strategy's drift alarms (JSON,
/// [`crate::strategy::drift::DriftReport`]), written by its agent when they change; the operator
/// reads them into the Strategy's `Drift` condition and Events.
pub fn drift_key(namespace: &str, strategy: &str) -> String {
    format!("{}.drift", params_key(namespace, strategy))
}

/// `<ns>.<strategy>.experiment`: the live comparison of the experiment whose arm A the strategy
/// is (JSON, [`crate::analytics::experiment::Live`]), kept by the operator between reconciles.
pub fn experiment_key(namespace: &str, strategy: &str) -> String {
    format!("{}.experiment", params_key(namespace, strategy))
}

/// `<ns>.<strategy>.twins`: a shadow Strategy's comparison with its live twin, as its agent
/// reports it (JSON [`crate::analytics::twins::TwinReport`]); the operator reads it into
/// `status.twin`.
pub fn twins_key(namespace: &str, strategy: &str) -> String {
    format!("{}.twins", params_key(namespace, strategy))
}

/// `<ns>.<market>.rounds`: the rounds of a `series` Market the venue lists now, and the ended
/// ones not resolved yet (JSON, [`crate::config::RoundsDoc`]), written by the operator's Market
/// controller (locally, by `polyfleet up`) and followed live by the strategy, market-data and
/// execution agents, so a series rolls without restarting them.
pub fn rounds_key(namespace: &str, market: &str) -> String {
    format!("{}.{}.rounds", token(namespace), token(market))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_single_tokens() {
        assert_eq!(token("negrisk-arb"), "negrisk-arb");
        assert_eq!(token("a.b"), "a=2eb");
        assert_eq!(token("a*>"), "a=2a=3e");
        assert_eq!(token(""), "=");
        assert_ne!(token("a.b"), token("a=2eb"));
    }

    #[test]
    fn tokens_decode_back_to_their_names_and_params_keys_parse() {
        for name in ["negrisk-arb", "a.b", "a*>", "", "=", "~", "é"] {
            assert_eq!(untoken(&token(name)).as_deref(), Some(name));
        }
        assert_eq!(untoken("a.b"), None);
        assert_eq!(untoken("a=2"), None);
        assert_eq!(untoken("a=2E"), None, "not the escape token() writes");
        let ns_name = |k: &str| parse_params_key(k);
        assert_eq!(ns_name(&params_key("default", "arb.v2")), Some(("default".into(), "arb.v2".into(), false)));
        assert_eq!(ns_name(&params_ack_key("ns", "mm")), Some(("ns".into(), "mm".into(), true)));
        assert_eq!(ns_name(&scores_key("ns", "mm")), None);
        assert_eq!(ns_name(&rounds_key("ns", "btc-5m")), None);
        assert_eq!(rounds_key("ns", "btc.5m"), "ns.btc=2e5m.rounds");
        assert_eq!(ns_name("ns"), None);
    }

    #[test]
    fn subjects_have_the_documented_shape() {
        let t = TokenId::from_u128(42);
        assert_eq!(market_data("sim", &t), "md.sim.42");
        assert_eq!(snapshot_request("sim", &t), "mdsnap.sim.42");
        assert_eq!(intents("default", "arb.v2"), "intent.default.arb=2ev2");
        assert_eq!(fills("default", "arb"), "fill.default.arb");
        assert_eq!(control("default", "riskpolicy", "main"), "control.default.riskpolicy.main");
        assert_eq!(params_ack_key("default", "arb"), "default.arb.ack");
        for (_, subject) in STREAMS {
            assert!(subject.ends_with(".>"));
        }
    }
}

//! A market's trading and resolution status from the CLOB's market endpoint
//! (`GET /markets/{condition_id}`): whether it accepts orders, whether it closed, and which token
//! won. The market-data agent asks it to confirm a `market_resolved` frame before anything
//! settles, and on a timer to learn of markets that stopped accepting orders (closed, awaiting
//! resolution) or that resolved while no connection heard it. [`market_status_json`] writes the
//! same body, for the simulator.

use polyfleet_core::{ConditionId, TokenId};
use serde_json::{Value, json};

use super::markets::RestError;

/// One token of a market as the CLOB reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusToken {
    /// The token (position) id.
    pub token_id: TokenId,
    /// Its outcome label.
    pub outcome: String,
    /// True once the market resolved to this token.
    pub winner: bool,
}

/// What the CLOB says about a market now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketStatus {
    /// The condition id.
    pub market: ConditionId,
    /// Whether the market is closed (trading over; resolved or awaiting resolution).
    pub closed: bool,
    /// Whether the CLOB takes orders on it.
    pub accepting_orders: bool,
    /// Its tokens.
    pub tokens: Vec<StatusToken>,
    /// The question id (`question_id`): for an outcome of a neg-risk event, the event's neg-risk
    /// market id with the outcome's index in its last byte ([`neg_risk_question`]).
    pub question_id: Option<[u8; 32]>,
}

/// A neg-risk question id split as the neg-risk adapter reads it: the event's market id (the id
/// with its last byte cleared) and the outcome's index (the last byte).
pub fn neg_risk_question(question_id: &[u8; 32]) -> ([u8; 32], u8) {
    let mut market = *question_id;
    market[31] = 0;
    (market, question_id[31])
}

impl MarketStatus {
    /// The winning token once the market resolved (exactly one token flagged a winner); `None`
    /// while it has not, or when the flags are inconsistent.
    pub fn winner(&self) -> Option<TokenId> {
        let mut winners = self.tokens.iter().filter(|t| t.winner);
        match (winners.next(), winners.next()) {
            (Some(w), None) => Some(w.token_id),
            _ => None,
        }
    }
}

/// Reads a `GET /markets/{condition_id}` body.
pub fn parse_market_status(body: &Value) -> Result<MarketStatus, RestError> {
    let field = |k: &str| body.get(k).unwrap_or(&Value::Null);
    let market = field("condition_id")
        .as_str()
        .and_then(|s| ConditionId::parse(s).ok())
        .ok_or_else(|| RestError::Payload(format!("market without a valid condition_id: {body}")))?;
    let flag = |k: &str| {
        field(k).as_bool().ok_or_else(|| RestError::Payload(format!("market {market}: `{k}` is not a boolean")))
    };
    let tokens = field("tokens")
        .as_array()
        .ok_or_else(|| RestError::Payload(format!("market {market}: no `tokens` list")))?
        .iter()
        .map(|t| {
            let token_id =
                t.get("token_id").and_then(Value::as_str).and_then(|s| TokenId::parse(s).ok()).ok_or_else(|| {
                    RestError::Payload(format!("market {market}: token without a valid token_id: {t}"))
                })?;
            Ok(StatusToken {
                token_id,
                outcome: t.get("outcome").and_then(Value::as_str).unwrap_or_default().to_string(),
                winner: t.get("winner").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect::<Result<Vec<_>, RestError>>()?;
    let question_id = field("question_id").as_str().and_then(|s| ConditionId::parse(s).ok()).map(|q| *q.as_bytes());
    Ok(MarketStatus {
        market,
        closed: flag("closed")?,
        accepting_orders: flag("accepting_orders")?,
        tokens,
        question_id,
    })
}

/// The CLOB's body for `status` (the fields [`parse_market_status`] reads, as the venue names them).
pub fn market_status_json(status: &MarketStatus) -> Value {
    json!({
        "condition_id": status.market.to_string(),
        "question_id": status.question_id.map(|q| ConditionId::from_bytes(q).to_string()),
        "active": !status.closed,
        "closed": status.closed,
        "accepting_orders": status.accepting_orders,
        "tokens": status.tokens.iter().map(|t| json!({
            "token_id": t.token_id.to_string(),
            "outcome": t.outcome,
            "winner": t.winner,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(winners: [bool; 2]) -> MarketStatus {
        MarketStatus {
            market: ConditionId::from_bytes([7; 32]),
            closed: winners.contains(&true),
            accepting_orders: false,
            tokens: vec![
                StatusToken { token_id: TokenId::from_u128(1), outcome: "Yes".into(), winner: winners[0] },
                StatusToken { token_id: TokenId::from_u128(2), outcome: "No".into(), winner: winners[1] },
            ],
            question_id: Some([9; 32]),
        }
    }

    #[test]
    fn round_trips_and_names_one_winner() {
        let s = status([false, true]);
        assert_eq!(parse_market_status(&market_status_json(&s)).unwrap(), s);
        assert_eq!(s.winner(), Some(TokenId::from_u128(2)));
        assert_eq!(status([false, false]).winner(), None);
        assert_eq!(status([true, true]).winner(), None, "two winners is no resolution");
    }

    #[test]
    fn refuses_bodies_without_the_fields_it_decides_on() {
        let mut body = market_status_json(&status([true, false]));
        body["accepting_orders"] = Value::Null;
        assert!(parse_market_status(&body).is_err());
        assert!(parse_market_status(&json!({"condition_id": "0x12"})).is_err());
        let mut body = market_status_json(&status([true, false]));
        body["tokens"][0]["token_id"] = json!("not a number");
        assert!(parse_market_status(&body).is_err());
    }
}

//! Gamma and CLOB REST: resolving what a `Market` resource names (a condition id, a slug, a
//! neg-risk event, a rolling crypto series) into token ids, tick size, minimum order size,
//! neg-risk flag, fees and end date.
//!
//! Gamma quirks handled here: `outcomes` and `clobTokenIds` are JSON arrays encoded as strings;
//! Protocol V2 markets carry `version` and a plain `positionIds` array instead; tick sizes are JSON
//! numbers (read back through their shortest decimal text, never used as floats); `limit` is
//! capped at 100 and `offset` above 10000 is refused. Requests are retried with exponential
//! backoff on 429 and 5xx (honouring `Retry-After`). Gamma lists a new market minutes before the
//! CLOB serves its book: [`ResolvedMarket::clob_ready`] says whether the book exists yet.

use std::time::Duration;

use polyfleet_core::analytics::rewards::RewardRules;
use polyfleet_core::models::rounds::KnownRound;
use polyfleet_core::models::updown::{Round, resolution_of};
use polyfleet_core::{ConditionId, Money, Price, Quantity, TokenId};
use serde_json::Value;

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The request failed (connection, TLS, body).
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The API kept answering an error status.
    #[error("{url}: status {status} after {attempts} attempts")]
    Status {
        /// The URL asked.
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// The body is not what the API documents.
    #[error("unexpected payload: {0}")]
    Payload(String),
}

/// One outcome token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolvedToken {
    /// Outcome label.
    pub outcome: String,
    /// Token (position) id.
    pub token_id: TokenId,
}

/// What a market resolved to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolvedMarket {
    /// The condition id.
    pub condition_id: ConditionId,
    /// The question.
    pub question: String,
    /// The market's slug.
    pub slug: String,
    /// RFC 3339 end date.
    pub end_date: Option<String>,
    /// Whether the market is neg-risk.
    pub neg_risk: bool,
    /// Its outcome tokens.
    pub tokens: Vec<ResolvedToken>,
    /// `orderPriceMinTickSize`; `None` when Gamma gives none (legacy markets).
    pub tick_size: Option<Price>,
    /// Minimum order size.
    pub min_order_size: Quantity,
    /// Gamma's `takerBaseFee` when fees are enabled.
    pub taker_base_fee: Option<u32>,
    /// Whether the CLOB accepts orders.
    pub accepting_orders: bool,
    /// Whether the market is closed.
    pub closed: bool,
    /// Label within a neg-risk event (`groupItemTitle`).
    pub group_item_title: Option<String>,
    /// Whether the CLOB serves the book yet (set by [`RestClient::check_clob`]).
    pub clob_ready: bool,
    /// The makers' share of taker fees paid back as rebates, basis points (`feeSchedule.rebateRate`,
    /// else `makerRebatesFeeShareBps`).
    #[serde(default)]
    pub maker_rebate_bps: Option<u32>,
    /// The liquidity-reward program (`rewardsMinSize`, `rewardsMaxSpread` in cents, the daily rate
    /// of `clobRewards`), when the market has one.
    #[serde(default)]
    pub rewards: Option<RewardRules>,
    /// What resolves it: Gamma's `description` and `resolutionSource`, one after the other
    /// (crypto up/down models read the resolution rule from it).
    #[serde(default)]
    pub rules: Option<String>,
    /// Window start of a crypto up/down round (`eventStartTime`, RFC 3339).
    #[serde(default)]
    pub start_date: Option<String>,
}

fn json_list(v: &Value) -> Result<Vec<String>, RestError> {
    match v {
        Value::String(s) => {
            serde_json::from_str::<Vec<String>>(s).map_err(|e| RestError::Payload(format!("{s:?}: {e}")))
        }
        Value::Array(a) => {
            a.iter().map(|x| x.as_str().map(str::to_owned).ok_or_else(|| RestError::Payload(x.to_string()))).collect()
        }
        Value::Null => Ok(vec![]),
        other => Err(RestError::Payload(format!("expected a list, got {other}"))),
    }
}

fn decimal_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        // serde_json prints a number back in its shortest decimal form ("0.01"), which the exact
        // parsers then read: no arithmetic ever happens on the float.
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The makers' rebate share in basis points, from `feeSchedule.rebateRate` (a fraction). The
/// older `makerRebatesFeeShareBps` (10000 on crypto rounds whose documented share is 20 %) is not
/// read: its meaning is not documented.
fn rebate_bps(m: &Value) -> Option<u32> {
    let rate = m.get("feeSchedule").and_then(|f| f.get("rebateRate")).and_then(decimal_text)?;
    // A fraction with at most 4 decimals is a whole number of basis points: read it as a price.
    Price::parse(&rate).ok().map(Price::ticks)
}

/// The reward program: min size and max spread (cents); the daily pool is the sum of
/// `clobRewards` rates when Gamma gives them (zero otherwise: quotes are scored, nothing is
/// estimated as earned).
fn rewards(m: &Value) -> Option<RewardRules> {
    let min_size = decimal_text(m.get("rewardsMinSize")?).and_then(|t| Quantity::parse(&t).ok())?;
    // Cents with up to 2 decimals, exactly: read as shares (6 decimals), a cent is 100 ticks.
    let cents = decimal_text(m.get("rewardsMaxSpread")?).and_then(|t| Quantity::parse(&t).ok())?;
    let max_spread = Price::from_ticks(u32::try_from(cents.micros() / 10_000).ok()?).filter(|p| p.ticks() > 0)?;
    let rate = m
        .get("clobRewards")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| decimal_text(r.get("rewardsDailyRate")?).and_then(|t| Money::parse(&t).ok()))
        .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap_or(a));
    Some(RewardRules { min_size, max_spread, daily_pool: rate })
}

/// Reads one Gamma market object.
pub fn parse_gamma_market(m: &Value) -> Result<ResolvedMarket, RestError> {
    let field = |k: &str| m.get(k).unwrap_or(&Value::Null);
    let condition_id = field("conditionId")
        .as_str()
        .and_then(|c| ConditionId::parse(c).ok())
        .ok_or_else(|| RestError::Payload("conditionId missing or invalid".into()))?;
    let outcomes = json_list(field("outcomes"))?;
    // Protocol V2 markets name their tokens positionIds; V1 markets clobTokenIds.
    let v2 =
        field("version").as_str().is_some_and(|v| v.eq_ignore_ascii_case("v2")) || field("version").as_u64() == Some(2);
    let ids = if v2 && !field("positionIds").is_null() {
        json_list(field("positionIds"))?
    } else {
        json_list(field("clobTokenIds"))?
    };
    if ids.len() != outcomes.len() {
        return Err(RestError::Payload(format!("{} token ids for {} outcomes", ids.len(), outcomes.len())));
    }
    let tokens = outcomes
        .into_iter()
        .zip(ids)
        .map(|(outcome, id)| {
            TokenId::parse(&id)
                .map(|token_id| ResolvedToken { outcome, token_id })
                .map_err(|e| RestError::Payload(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Never assumed: legacy markets carry none, and a market's books say it when they come.
    let tick_size = decimal_text(field("orderPriceMinTickSize")).and_then(|t| Price::parse(&t).ok());
    let min_order_size = decimal_text(field("orderMinSize"))
        .and_then(|t| Quantity::parse(&t).ok())
        .unwrap_or(Quantity::from_micros(5_000_000));
    let fees = field("feesEnabled").as_bool().unwrap_or(false);
    Ok(ResolvedMarket {
        condition_id,
        question: field("question").as_str().unwrap_or_default().to_owned(),
        slug: field("slug").as_str().unwrap_or_default().to_owned(),
        end_date: field("endDate").as_str().map(str::to_owned),
        neg_risk: field("negRisk").as_bool().unwrap_or(false),
        tokens,
        tick_size,
        min_order_size,
        taker_base_fee: if fees { field("takerBaseFee").as_u64().and_then(|f| u32::try_from(f).ok()) } else { None },
        accepting_orders: field("acceptingOrders").as_bool().unwrap_or(false),
        closed: field("closed").as_bool().unwrap_or(false),
        group_item_title: field("groupItemTitle").as_str().map(str::to_owned),
        clob_ready: false,
        maker_rebate_bps: rebate_bps(m),
        rewards: rewards(m),
        rules: {
            let parts: Vec<&str> = ["description", "resolutionSource"]
                .iter()
                .filter_map(|k| field(k).as_str().filter(|t| !t.trim().is_empty()))
                .collect();
            (!parts.is_empty()).then(|| parts.join("\n"))
        },
        start_date: field("eventStartTime").as_str().map(str::to_owned),
    })
}

/// Reads a CLOB `/fee-rate` body: `{"base_fee": 150}` or `{"base_fee": "150"}` (basis points).
pub fn parse_fee_rate(body: &Value) -> Result<u32, RestError> {
    decimal_text(body.get("base_fee").unwrap_or(&Value::Null))
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| RestError::Payload(format!("fee-rate body {body}")))
}

/// The slug of a rolling crypto up/down round: `{coin}-updown-{period}-{window start epoch}`.
pub fn series_slug(coin: &str, period: &str, now_s: u64) -> Option<String> {
    let len = polyfleet_core::models::updown::period_seconds(period)?;
    Some(format!("{coin}-updown-{period}-{}", now_s - now_s % len))
}

/// A round of a crypto up/down series from its market: the window starting at `start_ms` (its
/// slug's epoch) and lasting `period_ms`, the resolution rule read from the rules text, the Up
/// and Down tokens by outcome label; `None` without both.
pub fn up_down_round(m: &ResolvedMarket, start_ms: u64, period_ms: u64) -> Option<KnownRound> {
    let token = |label: &str| m.tokens.iter().find(|t| t.outcome.eq_ignore_ascii_case(label)).map(|t| t.token_id);
    let resolution = resolution_of(m.rules.as_deref().unwrap_or_default());
    Some(KnownRound {
        round: Round { start_ms, end_ms: start_ms + period_ms, resolution },
        up: token("Up")?,
        down: token("Down")?,
    })
}

/// Retry policy for REST calls.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// First delay; doubles each retry.
    pub first_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 5, first_delay: Duration::from_millis(200), max_delay: Duration::from_secs(10) }
    }
}

/// Gamma + CLOB REST client.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    gamma: String,
    clob: String,
    retry: Retry,
}

impl RestClient {
    /// A client for the given base URLs (no trailing slash).
    pub fn new(gamma: impl Into<String>, clob: impl Into<String>, retry: Retry) -> Result<RestClient, RestError> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
        Ok(RestClient { http, gamma: gamma.into(), clob: clob.into(), retry })
    }

    /// GET with retries on 429/5xx and transport errors; `Ok(None)` on 404.
    async fn get_json(&self, url: &str) -> Result<Option<Value>, RestError> {
        let mut delay = self.retry.first_delay;
        let attempts = self.retry.attempts.max(1);
        for attempt in 1..=attempts {
            let last = attempt == attempts;
            match self.http.get(url).send().await {
                Ok(resp) if resp.status().is_success() => return Ok(Some(resp.json().await?)),
                Ok(resp) if resp.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Ok(resp) if (resp.status().as_u16() == 429 || resp.status().is_server_error()) && !last => {
                    let wait = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs)
                        .unwrap_or(delay);
                    tokio::time::sleep(wait.min(self.retry.max_delay)).await;
                }
                Ok(resp) => {
                    return Err(RestError::Status {
                        url: url.into(),
                        status: resp.status().as_u16(),
                        attempts: attempt,
                    });
                }
                Err(_) if !last => tokio::time::sleep(delay).await,
                Err(e) => return Err(e.into()),
            }
            delay = (delay * 2).min(self.retry.max_delay);
        }
        Err(RestError::Payload(format!("{url}: no attempt made")))
    }

    async fn markets(&self, query: &str) -> Result<Vec<ResolvedMarket>, RestError> {
        let url = format!("{}/markets?{query}", self.gamma);
        match self.get_json(&url).await? {
            Some(Value::Array(list)) => list.iter().map(parse_gamma_market).collect(),
            Some(other) => Err(RestError::Payload(format!("/markets returned {other}"))),
            None => Ok(vec![]),
        }
    }

    /// The market with this condition id, if Gamma knows it.
    pub async fn market_by_condition(&self, id: &ConditionId) -> Result<Option<ResolvedMarket>, RestError> {
        Ok(self.markets(&format!("condition_ids={id}")).await?.into_iter().next())
    }

    /// The market with this slug.
    pub async fn market_by_slug(&self, slug: &str) -> Result<Option<ResolvedMarket>, RestError> {
        Ok(self.markets(&format!("slug={slug}")).await?.into_iter().next())
    }

    /// The current round of a rolling series (e.g. btc 15m).
    pub async fn series_round(
        &self,
        coin: &str,
        period: &str,
        now_s: u64,
    ) -> Result<Option<ResolvedMarket>, RestError> {
        let slug = series_slug(coin, period, now_s).ok_or_else(|| RestError::Payload(format!("period {period}")))?;
        self.market_by_slug(&slug).await
    }

    /// Every market of a neg-risk event.
    pub async fn event_markets(&self, slug: &str) -> Result<Vec<ResolvedMarket>, RestError> {
        let url = format!("{}/events?slug={slug}", self.gamma);
        let Some(Value::Array(events)) = self.get_json(&url).await? else { return Ok(vec![]) };
        let Some(event) = events.first() else { return Ok(vec![]) };
        let markets = event.get("markets").and_then(Value::as_array).cloned().unwrap_or_default();
        markets.iter().map(parse_gamma_market).collect()
    }

    /// Walks `/markets` pages (100 per page; Gamma refuses offsets above 10000).
    pub async fn list_markets(&self, filter: &str, max: usize) -> Result<Vec<ResolvedMarket>, RestError> {
        let mut out = vec![];
        let mut offset = 0;
        while out.len() < max && offset <= 10_000 {
            let page = self.markets(&format!("{filter}&limit=100&offset={offset}")).await?;
            let n = page.len();
            out.extend(page);
            if n < 100 {
                break;
            }
            offset += n;
        }
        out.truncate(max);
        Ok(out)
    }

    /// The CLOB's taker base fee for a token (`GET /fee-rate`), in basis points.
    pub async fn fee_rate_bps(&self, token: &TokenId) -> Result<u32, RestError> {
        let url = format!("{}/fee-rate?token_id={token}", self.clob);
        let body = self.get_json(&url).await?.ok_or_else(|| RestError::Payload(format!("{url}: not found")))?;
        parse_fee_rate(&body)
    }

    /// Whether the CLOB serves the book of `token` (`GET /book`).
    pub async fn book_exists(&self, token: &TokenId) -> Result<bool, RestError> {
        let url = format!("{}/book?token_id={token}", self.clob);
        Ok(self.get_json(&url).await?.is_some())
    }

    /// The CLOB's status of a market (`GET /markets/{condition_id}`): accepting orders, closed,
    /// the winning token once resolved. `Ok(None)` when the CLOB does not know it.
    pub async fn market_status(
        &self,
        id: &ConditionId,
    ) -> Result<Option<super::market_status::MarketStatus>, RestError> {
        let url = format!("{}/markets/{id}", self.clob);
        self.get_json(&url).await?.map(|body| super::market_status::parse_market_status(&body)).transpose()
    }

    /// Marks whether the CLOB already serves the market's books (`/book` of its first token).
    pub async fn check_clob(&self, market: &mut ResolvedMarket) -> Result<(), RestError> {
        let Some(first) = market.tokens.first() else { return Ok(()) };
        market.clob_ready = self.book_exists(&first.token_id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyfleet_core::models::updown::Resolution;

    #[test]
    fn series_slugs_start_at_the_window() {
        assert_eq!(series_slug("btc", "5m", 1_773_307_321).as_deref(), Some("btc-updown-5m-1773307200"));
        assert_eq!(series_slug("eth", "15m", 900 * 10 + 1).as_deref(), Some("eth-updown-15m-9000"));
        assert_eq!(series_slug("btc", "2m", 1), None);
    }

    #[test]
    fn v2_markets_use_position_ids() {
        let m = serde_json::json!({
            "conditionId": format!("0x{}", "ab".repeat(32)),
            "outcomes": ["Yes", "No"],
            "version": "v2",
            "positionIds": ["1", "2"],
            "clobTokenIds": "[\"8\", \"9\"]",
            "orderPriceMinTickSize": "0.001",
        });
        let r = parse_gamma_market(&m).unwrap();
        assert_eq!(r.tokens[1].token_id, TokenId::from_u128(2));
        assert_eq!(r.tick_size.map(|t| t.to_string()).as_deref(), Some("0.001"));
        assert!(parse_gamma_market(&serde_json::json!({"conditionId": "0x1"})).is_err());
    }

    /// A Gamma round is read as the model's round: window from its start and period, the rule
    /// from its rules text, Up and Down by label.
    #[test]
    fn a_gamma_round_is_a_known_round() {
        let m = parse_gamma_market(&serde_json::json!({
            "conditionId": format!("0x{:064x}", 1_800_000_000u64),
            "slug": "btc-updown-5m-1800000000",
            "outcomes": "[\"Up\", \"Down\"]",
            "clobTokenIds": "[\"11\", \"22\"]",
            "description": "Resolves Up if the Chainlink BTC/USD 60-second TWAP at the end is at least the one at the start.",
        }))
        .unwrap();
        let k = up_down_round(&m, 1_800_000_000_000, 300_000).unwrap();
        assert_eq!(k.round.resolution, Resolution::Twap { window_s: 60 });
        assert_eq!((k.round.start_ms, k.round.end_ms), (1_800_000_000_000, 1_800_000_300_000));
        assert_eq!((k.up, k.down), (TokenId::from_u128(11), TokenId::from_u128(22)));
    }
}

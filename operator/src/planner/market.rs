//! A Market's status as a pure function of what the venue answered ([`crate::lookup`]), the
//! throttled top of book ([`crate::books`]) and the shard serving it: resolved tokens, question,
//! end date, tick, minimum size, fee rate, a neg-risk event's conversion fee, phase, and the `Ready`, `FeedHealthy`, `Stalled` and
//! `Reconciling` conditions. Also what to ask the venue for a Market spec, and when a rolling
//! series moves to its next round.

use polyfleet_core::{ConditionId, TokenId};
use polyfleet_crds::MarketStatus;
use polyfleet_crds::conditions::{Condition, ConditionStatus, READY, RECONCILING, STALLED, set_condition};
use polyfleet_crds::market::{MarketPhase, MarketSpec, MarketType, SeriesAsset, SeriesPeriod, TokenStatus};

use crate::books::Top;
use crate::lookup::{Lookup, MarketQuery};

/// Condition type: every token has a trusted book at a market-data agent.
pub const FEED_HEALTHY: &str = "FeedHealthy";

/// The venue's answer as the status sees it.
#[derive(Debug, Clone, Copy)]
pub enum Resolution<'a> {
    /// The venue knows the market.
    Found(&'a Lookup),
    /// The venue does not know it (yet).
    Unknown,
    /// The venue could not be asked; what status holds is kept.
    Failed(&'a str),
    /// The spec cannot name anything (e.g. an unparsable id): nothing to retry.
    Invalid(&'a str),
}

/// A series' coin, period label and length in seconds.
pub fn series_parts(asset: SeriesAsset, period: SeriesPeriod) -> (&'static str, &'static str, u64) {
    let coin = match asset {
        SeriesAsset::Btc => "btc",
        SeriesAsset::Eth => "eth",
        SeriesAsset::Sol => "sol",
        SeriesAsset::Xrp => "xrp",
    };
    let (p, len) = match period {
        SeriesPeriod::FiveMinutes => ("5m", 300),
        SeriesPeriod::FifteenMinutes => ("15m", 900),
        SeriesPeriod::OneHour => ("1h", 3600),
        SeriesPeriod::FourHours => ("4h", 14_400),
        SeriesPeriod::OneDay => ("1d", 86_400),
    };
    (coin, p, len)
}

/// What to ask the venue for `spec` at `now_s` (a series names its current round).
pub fn query(spec: &MarketSpec, now_s: u64) -> Result<MarketQuery, String> {
    if let Some(tokens) = &spec.tokens {
        return tokens
            .iter()
            .map(|t| TokenId::parse(&t.token_id).map_err(|e| format!("token {}: {e}", t.token_id)))
            .collect::<Result<_, _>>()
            .map(MarketQuery::Tokens);
    }
    if let Some(c) = &spec.condition_id {
        return ConditionId::parse(c).map(MarketQuery::Condition).map_err(|e| format!("conditionId {c}: {e}"));
    }
    if let Some(s) = &spec.slug {
        return Ok(MarketQuery::Slug(s.clone()));
    }
    if let Some(s) = &spec.event_slug {
        return Ok(MarketQuery::Event(s.clone()));
    }
    if let Some(series) = &spec.series {
        let (coin, period, len) = series_parts(series.asset, series.period);
        return Ok(MarketQuery::Slug(format!("{coin}-updown-{period}-{}", now_s - now_s % len)));
    }
    Err("the spec names no market".into())
}

/// Seconds until a series Market moves to its next round (None for other Markets).
pub fn next_round_in_s(spec: &MarketSpec, now_s: u64) -> Option<u64> {
    let series = spec.series.as_ref()?;
    let (_, _, len) = series_parts(series.asset, series.period);
    Some(len - now_s % len)
}

/// The tokens a lookup resolves `spec` to: the spec's own when it lists them; an event's YES
/// token of each outcome; a binary market's tokens.
fn resolved_tokens(spec: &MarketSpec, l: &Lookup) -> Vec<TokenStatus> {
    if let Some(tokens) = &spec.tokens {
        return tokens
            .iter()
            .map(|t| TokenStatus {
                outcome: t.outcome.clone(),
                token_id: t.token_id.clone(),
                condition_id: t.condition_id.clone(),
                no_token_id: t.no_token_id.clone().filter(|_| spec.type_ == MarketType::NegRiskEvent),
                ..Default::default()
            })
            .collect();
    }
    if spec.type_ == MarketType::NegRiskEvent {
        return l
            .markets
            .iter()
            .filter_map(|m| {
                let yes = m.tokens.first()?;
                Some(TokenStatus {
                    outcome: m.group_item_title.clone().unwrap_or_else(|| m.question.clone()),
                    token_id: yes.token_id.to_string(),
                    condition_id: Some(m.condition_id.to_string()),
                    no_token_id: m.tokens.get(1).map(|no| no.token_id.to_string()),
                    ..Default::default()
                })
            })
            .collect();
    }
    l.markets
        .iter()
        .take(1)
        .flat_map(|m| {
            m.tokens.iter().map(|t| TokenStatus {
                outcome: t.outcome.clone(),
                token_id: t.token_id.to_string(),
                condition_id: Some(m.condition_id.to_string()),
                ..Default::default()
            })
        })
        .collect()
}

/// The status `current` should become. `tops` holds the probed top of book of each token (None:
/// no trusted book anywhere); `shard` names the market-data Deployment serving the Market.
#[allow(clippy::too_many_arguments)]
pub fn market_status(
    current: Option<&MarketStatus>,
    generation: i64,
    spec: &MarketSpec,
    resolution: Resolution<'_>,
    tops: &[(String, Option<Top>)],
    shard: Option<String>,
    now: &str,
) -> MarketStatus {
    let mut s = current.cloned().unwrap_or_default();
    s.observed_generation = Some(generation);
    let g = Some(generation);
    let cond = |t: &str, ok: bool, reason: &str, msg: String| {
        Condition::new(t, if ok { ConditionStatus::True } else { ConditionStatus::False }, reason, msg, g, now)
    };
    let mut venue_phase = None;
    match resolution {
        Resolution::Found(l) => {
            s.tokens = resolved_tokens(spec, l);
            let first = l.markets.first();
            s.question = first.map(|m| m.question.clone()).filter(|q| !q.is_empty()).or(s.question.take());
            if spec.type_ == MarketType::NegRiskEvent && spec.event_slug.is_some() {
                s.question = spec.event_slug.clone();
            }
            s.end_date = first.and_then(|m| m.end_date.clone()).or(s.end_date.take());
            s.neg_risk = spec.type_ == MarketType::NegRiskEvent || first.is_some_and(|m| m.neg_risk);
            if let Some(m) = first {
                s.tick_size = m.tick_size.map(|t| t.to_string());
                s.min_order_size = Some(m.min_order_size.to_string());
                s.maker_rebate_bps = m.maker_rebate_bps.map(|b| i32::try_from(b).unwrap_or(i32::MAX));
                s.rewards = m.rewards.map(|r| crate::contract::reward_program(&r));
            }
            s.fee_rate_bps = l.fee_rate_bps.map(|f| i32::try_from(f).unwrap_or(i32::MAX)).or(s.fee_rate_bps);
            // Kept when a later read fails: the adapter's fee of an event rarely changes.
            s.convert_fee_bips = match spec.type_ {
                MarketType::NegRiskEvent => l.convert_fee_bips.or(s.convert_fee_bips),
                _ => None,
            };
            venue_phase = Some(if l.markets.iter().any(|m| m.closed) {
                (MarketPhase::Resolved, "the venue closed the market".to_string())
            } else if !l.clob_ready {
                (MarketPhase::Pending, "the CLOB does not serve the book yet".to_string())
            } else if l.markets.iter().any(|m| !m.accepting_orders) {
                (MarketPhase::Halted, "the venue does not accept orders".to_string())
            } else {
                (MarketPhase::Active, String::new())
            });
            set_condition(&mut s.conditions, cond(STALLED, false, "Resolved", String::new()));
            set_condition(&mut s.conditions, cond(RECONCILING, false, "Resolved", String::new()));
        }
        Resolution::Unknown => {
            s.tokens.clear();
            s.phase = MarketPhase::Pending;
            set_condition(
                &mut s.conditions,
                cond(READY, false, "NotFound", "the venue does not know this market (yet)".into()),
            );
            set_condition(&mut s.conditions, cond(RECONCILING, true, "NotFound", "asking the venue again".into()));
        }
        Resolution::Failed(e) => {
            set_condition(&mut s.conditions, cond(RECONCILING, true, "LookupFailed", e.to_string()));
            if s.tokens.is_empty() {
                set_condition(&mut s.conditions, cond(READY, false, "LookupFailed", e.to_string()));
            }
        }
        Resolution::Invalid(e) => {
            s.tokens.clear();
            s.phase = MarketPhase::Pending;
            set_condition(&mut s.conditions, cond(READY, false, "InvalidSpec", e.to_string()));
            set_condition(&mut s.conditions, cond(STALLED, true, "InvalidSpec", e.to_string()));
        }
    }
    // Top of book, throttled by the caller; cleared where no agent has a trusted book.
    for t in &mut s.tokens {
        let top = tops.iter().find(|(id, _)| *id == t.token_id).and_then(|(_, top)| *top);
        t.best_bid = top.and_then(|x| x.best_bid).map(|p| p.to_string());
        t.best_ask = top.and_then(|x| x.best_ask).map(|p| p.to_string());
    }
    let missing = s.tokens.iter().filter(|t| !tops.iter().any(|(id, top)| *id == t.token_id && top.is_some())).count();
    if !s.tokens.is_empty() {
        let healthy = missing == 0;
        let msg =
            if healthy { String::new() } else { format!("{missing} of {} tokens have no live book", s.tokens.len()) };
        set_condition(
            &mut s.conditions,
            cond(FEED_HEALTHY, healthy, if healthy { "BooksLive" } else { "NoBook" }, msg),
        );
        if let Some((phase, msg)) = venue_phase {
            s.phase = phase;
            let why = if phase == MarketPhase::Active && !healthy {
                s.phase = MarketPhase::Halted;
                "the feed is down".to_string()
            } else {
                msg
            };
            let ready = s.phase == MarketPhase::Active;
            let reason = if ready { "Trading".to_string() } else { format!("{:?}", s.phase) };
            set_condition(&mut s.conditions, cond(READY, ready, &reason, why));
        }
    }
    s.shard = shard;
    s
}

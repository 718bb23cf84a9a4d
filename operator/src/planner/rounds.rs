//! A `series` Market's rounds in play: which rounds to ask the venue for (the running one and the
//! next, on the Venue's clock), which to keep (an ended round until the venue has closed it and
//! [`GRACE_MS`] has passed, so the agents hear its resolution and settle it), and the document
//! the agents follow ([`RoundsDoc`], under [`polyfleet_core::wire::subjects::rounds_key`]). Pure:
//! [`crate::rounds`] does the asking for the Market controller and for `polyfleet up`.

use polyfleet_core::config::{QuotedConfig, RoundsDoc, TokenConfig};
use polyfleet_core::wire::Outcome;
use polyfleet_core::{ConditionId, Quantity};
use polyfleet_crds::market::{Series, SeriesRound};
use polyfleet_polymarket::http::markets::ResolvedMarket;

use super::market::series_parts;
use super::markets::DEFAULT_MIN_SIZE_MICROS;

/// How long (wall clock) a round stays in play after the operator first saw the venue close it:
/// the market-data agents confirm a resolution over REST and restate it every 30 s, so the
/// execution agents settle it within this.
pub const GRACE_MS: u64 = 120_000;

/// The slugs of the rounds the venue lists at venue time `now_s`: the running one and the next.
pub fn listed(series: &Series, now_s: u64) -> [String; 2] {
    let (coin, period, len) = series_parts(series.asset, series.period);
    let start = now_s - now_s % len;
    [start, start + len].map(|s| format!("{coin}-updown-{period}-{s}"))
}

/// A round from the venue's answer for its slug: its Up and Down tokens (by outcome label, else
/// the first and second) and end date; `None` when it has not both.
pub fn round_of(m: &ResolvedMarket, fee_rate_bps: Option<u32>) -> Option<SeriesRound> {
    let by_label = |label: &str| m.tokens.iter().find(|t| t.outcome.eq_ignore_ascii_case(label));
    let (up, down) = match (by_label("Up"), by_label("Down")) {
        (Some(u), Some(d)) => (u, d),
        _ => (m.tokens.first()?, m.tokens.get(1)?),
    };
    Some(SeriesRound {
        slug: m.slug.clone(),
        condition_id: m.condition_id.to_string(),
        up_token_id: up.token_id.to_string(),
        down_token_id: down.token_id.to_string(),
        end_date: m.end_date.clone()?,
        min_order_size: Some(m.min_order_size.to_string()),
        fee_rate_bps: fee_rate_bps.map(|f| i32::try_from(f).unwrap_or(i32::MAX)),
        closed_at: None,
    })
}

/// End of `r`'s window, Unix ms (`None` when its end date does not parse).
pub fn end_ms(r: &SeriesRound) -> Option<u64> {
    let t = r.end_date.parse::<k8s_openapi::jiff::Timestamp>().ok()?;
    u64::try_from(t.as_millisecond()).ok()
}

/// Rounds that ended by venue time `now_ms` and that the venue has not been seen closing: the
/// ones to ask about.
pub fn awaiting_close(rounds: &[SeriesRound], now_ms: u64) -> Vec<&SeriesRound> {
    rounds.iter().filter(|r| r.closed_at.is_none() && end_ms(r).is_some_and(|e| e <= now_ms)).collect()
}

/// The rounds to keep: `prev`, with the rounds of `found` it did not have added, the rounds
/// whose slugs are in `closed` stamped closed at `now` (wall clock, `now_ms` and its RFC 3339
/// form), and rounds closed more than [`GRACE_MS`] before `now_ms` dropped; ordered by end.
pub fn merge(
    prev: &[SeriesRound],
    found: Vec<SeriesRound>,
    closed: &[String],
    now_ms: u64,
    now: &str,
) -> Vec<SeriesRound> {
    let mut out: Vec<SeriesRound> = prev.to_vec();
    for r in found {
        if !out.iter().any(|k| k.slug == r.slug) {
            out.push(r);
        }
    }
    for r in &mut out {
        if r.closed_at.is_none() && closed.contains(&r.slug) {
            r.closed_at = Some(now.to_string());
        }
    }
    out.retain(|r| {
        let since = r.closed_at.as_deref().and_then(|c| c.parse::<k8s_openapi::jiff::Timestamp>().ok());
        since.is_none_or(|t| u64::try_from(t.as_millisecond()).unwrap_or(0).saturating_add(GRACE_MS) > now_ms)
    });
    out.sort_by_key(|r| (end_ms(r), r.slug.clone()));
    out
}

/// The agents' document for `rounds`: each a binary market (Up is YES) with its end date, its
/// tokens' outcomes carrying the Market's exposure `groups` (`label=value`); rounds whose ids
/// do not parse are left out.
pub fn doc(rounds: &[SeriesRound], groups: &[String]) -> RoundsDoc {
    let rounds = rounds
        .iter()
        .filter_map(|r| {
            let condition = ConditionId::parse(&r.condition_id).ok()?;
            let min_size = r.min_order_size.as_deref().and_then(|s| Quantity::parse(s).ok());
            let token = |id: &str, yes: bool| TokenConfig {
                market: r.condition_id.clone(),
                token: id.to_string(),
                min_size_micros: min_size.map_or(DEFAULT_MIN_SIZE_MICROS, |q| q.micros()),
                fee_rate_bps: r.fee_rate_bps.map_or(0, |f| f.max(0).unsigned_abs()),
                fee_exponent: 1,
                outcome: Some(Outcome { groups: groups.to_vec(), ..Outcome::binary(&condition, yes) }),
                maker_rebate_bps: 0,
                rewards: None,
            };
            Some(QuotedConfig {
                yes: token(&r.up_token_id, true),
                no: token(&r.down_token_id, false),
                end_ms: Some(end_ms(r)?),
            })
        })
        .collect();
    RoundsDoc { rounds }
}

#[cfg(test)]
mod tests {
    use polyfleet_crds::market::{SeriesAsset, SeriesPeriod};

    use super::*;

    fn round(slug: &str, end: &str, closed_at: Option<&str>) -> SeriesRound {
        SeriesRound {
            slug: slug.into(),
            condition_id: format!("0x{:064x}", slug.len()),
            up_token_id: "1".into(),
            down_token_id: "2".into(),
            end_date: end.into(),
            min_order_size: Some("5".into()),
            fee_rate_bps: Some(0),
            closed_at: closed_at.map(str::to_string),
        }
    }

    #[test]
    fn the_venue_lists_the_running_round_and_the_next() {
        let s = Series { asset: SeriesAsset::Btc, period: SeriesPeriod::FifteenMinutes };
        assert_eq!(listed(&s, 1_767_225_600 + 899), ["btc-updown-15m-1767225600", "btc-updown-15m-1767226500"]);
        assert_eq!(listed(&s, 1_767_226_500), ["btc-updown-15m-1767226500", "btc-updown-15m-1767227400"]);
    }

    #[test]
    fn an_ended_round_stays_until_closed_and_the_grace_passed() {
        let t0 = "2026-01-01T00:15:00Z";
        let a = round("a", "2026-01-01T00:15:00Z", None);
        let b = round("b", "2026-01-01T00:30:00Z", None);
        let end_a = end_ms(&a).unwrap();
        assert_eq!(awaiting_close(&[a.clone(), b.clone()], end_a).len(), 1, "a ended, b runs");
        // b found again changes nothing; c is new; a seen closed.
        let c = round("c", "2026-01-01T00:45:00Z", None);
        let kept = merge(&[b.clone(), a.clone()], vec![b.clone(), c], &["a".into()], end_a, t0);
        assert_eq!(kept.iter().map(|r| r.slug.as_str()).collect::<Vec<_>>(), ["a", "b", "c"], "ordered by end");
        assert_eq!(kept[0].closed_at.as_deref(), Some(t0));
        assert!(awaiting_close(&kept, end_a + 1).is_empty(), "a closed, b and c running");
        // Still there inside the grace, gone after it; a second closing keeps the first stamp.
        let later = merge(&kept, vec![], &["a".into()], end_a + GRACE_MS - 1, "2026-01-01T00:16:59Z");
        assert_eq!(later[0].closed_at.as_deref(), Some(t0));
        assert_eq!(later.len(), 3);
        assert_eq!(merge(&later, vec![], &[], end_a + GRACE_MS, "x").len(), 2);
    }

    #[test]
    fn the_document_makes_each_round_a_binary_market_with_its_end() {
        let r = round("btc-updown-15m-1767225600", "2026-01-01T00:15:00Z", None);
        let d = doc(std::slice::from_ref(&r), &["desk=crypto".into()]);
        assert_eq!(d.rounds.len(), 1);
        let q = &d.rounds[0];
        assert_eq!((q.yes.token.as_str(), q.no.token.as_str()), ("1", "2"));
        assert_eq!(q.end_ms, Some(1_767_226_500_000));
        assert_eq!(q.yes.min_size_micros, 5_000_000);
        let o = q.yes.outcome.as_ref().unwrap();
        assert!(o.yes && o.groups == ["desk=crypto"]);
        assert!(!q.no.outcome.as_ref().unwrap().yes);
        let bytes = serde_json::to_vec(&d).unwrap();
        assert_eq!(RoundsDoc::from_json(&bytes).unwrap(), d, "what the agents read back");
        // A round whose condition does not parse is left out.
        assert!(doc(&[SeriesRound { condition_id: "nope".into(), ..r }], &[]).rounds.is_empty());
    }
}

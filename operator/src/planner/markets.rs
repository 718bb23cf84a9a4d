//! A Market as the planner sees it: its tokens (from status once resolved, else from spec), the
//! condition of each, its kind and its trading rules.

use kube::ResourceExt;
use polyfleet_core::config::TokenConfig;
use polyfleet_core::wire::Outcome;
use polyfleet_core::{ConditionId, Quantity, TokenId};
use polyfleet_crds::Market;
use polyfleet_crds::market::MarketType;

/// Default minimum order size when a Market's status does not say (5 shares, the venue's usual).
pub const DEFAULT_MIN_SIZE_MICROS: u64 = 5_000_000;

/// A tradable Market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketView {
    /// Market object name.
    pub name: String,
    /// Binary or neg-risk event.
    pub neg_risk_event: bool,
    /// Tokens (binary: YES then NO; neg-risk event: each outcome's YES), with their condition.
    pub tokens: Vec<(String, TokenId)>,
    /// A neg-risk event's NO token of each outcome, in the order of `tokens`; empty unless the
    /// venue named every one.
    pub no_tokens: Vec<TokenId>,
    /// A neg-risk event's conversion fee, basis points, once the Market controller read it from
    /// the chain (None until then: its NO basket is not traded).
    pub convert_fee_bips: Option<u32>,
    /// Minimum order size, micro-shares.
    pub min_size_micros: u64,
    /// Taker base fee, basis points, as the Market controller resolved it (0 until then).
    pub fee_rate_bps: u32,
    /// The makers' rebate share, basis points.
    pub maker_rebate_bps: u32,
    /// The liquidity-reward program.
    pub rewards: Option<polyfleet_core::config::RewardConfig>,
    /// Venue name.
    pub venue: String,
    /// Labels (for Strategy selectors).
    pub labels: std::collections::BTreeMap<String, String>,
    /// The venue's end date (Unix ms), when the Market's status has one that parses.
    pub end_ms: Option<u64>,
    /// A rolling series' coin and period (`btc`, `15m`).
    pub series: Option<(&'static str, &'static str)>,
    /// A series whose rounds the agents follow live ([`super::rounds`]): every round of it, not
    /// only `tokens` (the running round's). False for a round a backtest or replay planned on
    /// its own (annotated [`ROUND_ANNOTATION`]).
    pub live_rounds: bool,
}

/// The annotation of a Market standing for one round of a series (a backtest's or a replay's
/// plan: every recorded round is a Market of its own).
pub const ROUND_ANNOTATION: &str = "polyfleet.dev/round";

impl MarketView {
    /// The planner's view, or `None` while the Market has no tokens yet (unresolved).
    pub fn of(m: &Market) -> Option<MarketView> {
        let market_condition = m
            .spec
            .condition_id
            .clone()
            .or_else(|| m.status.as_ref().and_then(|s| s.tokens.first()?.condition_id.clone()));
        type Raw = Vec<((Option<String>, String), Option<String>)>;
        let from_status: Raw = m
            .status
            .as_ref()
            .map(|s| {
                s.tokens.iter().map(|t| ((t.condition_id.clone(), t.token_id.clone()), t.no_token_id.clone())).collect()
            })
            .unwrap_or_default();
        let from_spec: Raw = m
            .spec
            .tokens
            .as_ref()
            .map(|ts| {
                ts.iter().map(|t| ((t.condition_id.clone(), t.token_id.clone()), t.no_token_id.clone())).collect()
            })
            .unwrap_or_default();
        let (raw, no_raw): (Vec<_>, Vec<_>) =
            if from_status.is_empty() { from_spec } else { from_status }.into_iter().unzip();
        let tokens: Vec<(String, TokenId)> = raw
            .into_iter()
            .map(|(c, t)| Some((c.or_else(|| market_condition.clone())?, TokenId::parse(&t).ok()?)))
            .collect::<Option<_>>()?;
        if tokens.is_empty() {
            return None;
        }
        let no_tokens: Vec<TokenId> = no_raw
            .into_iter()
            .map(|t| TokenId::parse(&t?).ok())
            .collect::<Option<Vec<_>>>()
            .filter(|no| m.spec.type_ == MarketType::NegRiskEvent && no.len() == tokens.len())
            .unwrap_or_default();
        let min_size_micros = m
            .status
            .as_ref()
            .and_then(|s| s.min_order_size.as_deref())
            .and_then(|s| Quantity::parse(s).ok())
            .map_or(DEFAULT_MIN_SIZE_MICROS, |q| q.micros());
        Some(MarketView {
            name: m.name_any(),
            neg_risk_event: m.spec.type_ == MarketType::NegRiskEvent,
            tokens,
            no_tokens,
            convert_fee_bips: m.status.as_ref().and_then(|s| s.convert_fee_bips).filter(|f| *f <= 10_000),
            min_size_micros,
            fee_rate_bps: m.status.as_ref().and_then(|s| s.fee_rate_bps).map_or(0, |f| f.max(0) as u32),
            maker_rebate_bps: m
                .status
                .as_ref()
                .and_then(|s| s.maker_rebate_bps)
                .map_or(0, |b| u32::try_from(b.clamp(0, 10_000)).unwrap_or(0)),
            rewards: m
                .status
                .as_ref()
                .and_then(|s| s.rewards.as_ref())
                .and_then(crate::contract::reward_rules)
                .map(|r| crate::contract::reward_config(&r)),
            venue: m.spec.venue_ref.name.clone(),
            labels: m.labels().clone(),
            end_ms: m
                .status
                .as_ref()
                .and_then(|s| s.end_date.as_deref())
                .and_then(|d| d.parse::<k8s_openapi::jiff::Timestamp>().ok())
                .and_then(|t| u64::try_from(t.as_millisecond()).ok()),
            series: m.spec.series.as_ref().map(|s| {
                let (coin, period, _) = super::market::series_parts(s.asset, s.period);
                (coin, period)
            }),
            live_rounds: m.spec.series.is_some() && !m.annotations().contains_key(ROUND_ANNOTATION),
        })
    }

    /// The tokens as agent configuration entries, each with its place in its event and the
    /// event's exposure groups: `label=value` for each of `group_labels` (a RiskPolicy's
    /// `groupLimits`) the Market carries.
    pub fn token_configs(&self, group_labels: &[String]) -> Vec<TokenConfig> {
        let groups = self.groups(group_labels);
        self.tokens
            .iter()
            .enumerate()
            .map(|(i, (c, t))| {
                self.token_config(c, t, self.outcome(i, c).map(|o| Outcome { groups: groups.clone(), ..o }))
            })
            .collect()
    }

    /// A neg-risk event's NO token of every outcome, as [`Self::token_configs`] gives the YES
    /// ones; empty when the venue did not name them all.
    pub fn no_token_configs(&self, group_labels: &[String]) -> Vec<TokenConfig> {
        let groups = self.groups(group_labels);
        self.tokens
            .iter()
            .zip(&self.no_tokens)
            .enumerate()
            .map(|(i, ((c, _), no))| {
                let outcome = self.outcome(i, c).map(|o| Outcome { groups: groups.clone(), yes: false, ..o });
                self.token_config(c, no, outcome)
            })
            .collect()
    }

    /// Every token the Market's books are needed for: its tokens, and a neg-risk event's NO tokens.
    pub fn all_tokens(&self) -> impl Iterator<Item = &TokenId> {
        self.tokens.iter().map(|(_, t)| t).chain(&self.no_tokens)
    }

    /// `label=value` for each of `group_labels` the Market carries.
    fn groups(&self, group_labels: &[String]) -> Vec<String> {
        group_labels.iter().filter_map(|l| self.labels.get(l).map(|v| format!("{l}={v}"))).collect()
    }

    fn token_config(&self, condition: &str, token: &TokenId, outcome: Option<Outcome>) -> TokenConfig {
        TokenConfig {
            market: condition.to_string(),
            token: token.to_string(),
            min_size_micros: self.min_size_micros,
            fee_rate_bps: self.fee_rate_bps,
            fee_exponent: 1,
            outcome,
            maker_rebate_bps: self.maker_rebate_bps,
            rewards: self.rewards,
        }
    }

    /// The place of token `i` (of market `condition`) in its event: a binary market's YES (the
    /// first) or NO; a neg-risk event's outcome `i`, under the key `event:<Market name>`, exactly
    /// one of which wins: a `negRiskEvent` Market lists one YES token per outcome, every outcome
    /// (the CRD's contract, which the venue's event lookup fills the same way).
    fn outcome(&self, i: usize, condition: &str) -> Option<Outcome> {
        if self.neg_risk_event {
            return Some(Outcome {
                event: format!("event:{}", self.name),
                index: u16::try_from(i).ok()?,
                yes: true,
                markets: u16::try_from(self.tokens.len()).ok()?,
                exhaustive: true,
                groups: vec![],
            });
        }
        if self.tokens.len() != 2 {
            return None;
        }
        Some(Outcome::binary(&ConditionId::parse(condition).ok()?, i == 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(file: &str) -> Market {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples").join(file);
        serde_saphyr::from_str(&std::fs::read_to_string(path).expect("example")).expect("a Market")
    }

    #[test]
    fn every_token_is_planned_with_its_place_in_its_event() {
        let event = MarketView::of(&example("market-negrisk-event.yaml")).expect("tokens listed");
        let places: Vec<(String, u16, bool, u16, bool)> = event
            .token_configs(&[])
            .into_iter()
            .map(|t| t.outcome.map(|o| (o.event, o.index, o.yes, o.markets, o.exhaustive)).expect("planned"))
            .collect();
        let e = "event:election-winner".to_string();
        assert_eq!(places, vec![(e.clone(), 0, true, 3, true), (e.clone(), 1, true, 3, true), (e, 2, true, 3, true)]);
        let mut binary = example("market-binary.yaml");
        let cid = binary.spec.condition_id.clone();
        let token = |outcome: &str, id: &str| polyfleet_crds::market::TokenStatus {
            outcome: outcome.into(),
            token_id: id.into(),
            condition_id: cid.clone(),
            ..Default::default()
        };
        binary.status = Some(polyfleet_crds::market::MarketStatus {
            tokens: vec![token("Yes", "11"), token("No", "12")],
            ..Default::default()
        });
        let binary = MarketView::of(&binary).expect("resolved");
        let tokens = binary.token_configs(&[]);
        let (yes, no) = (tokens[0].outcome.clone().expect("yes"), tokens[1].outcome.clone().expect("no"));
        assert_eq!((yes.event == tokens[0].market, yes.yes, no.yes, no.exhaustive), (true, true, false, false));
    }
}

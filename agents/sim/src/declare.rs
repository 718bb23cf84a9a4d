//! Markets a local run declares (its `Market` resources) added to the simulator's model with the
//! ids they name, so the same YAML that names real Polymarket markets runs against the
//! simulator; and the model's [`Catalog`], what its Gamma API serves, for resolving them.

use polyfleet_core::{ConditionId, TokenId};
use polyfleet_polymarket::data::catalog::{Catalog, CatalogEvent};
use polyfleet_polymarket::http::markets::{ResolvedMarket, ResolvedToken};

use crate::model::Simulator;

/// One outcome of a declared neg-risk event: ids left out are made up by the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredOutcome {
    /// Outcome label.
    pub label: String,
    /// The outcome's YES token.
    pub token: Option<TokenId>,
    /// The outcome's condition id.
    pub condition: Option<ConditionId>,
    /// The outcome's NO token.
    pub no_token: Option<TokenId>,
}

/// A market to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    /// A binary market.
    Binary {
        /// Its condition id.
        condition: Option<ConditionId>,
        /// Its slug.
        slug: Option<String>,
        /// Its YES and NO tokens.
        tokens: Option<(TokenId, TokenId)>,
    },
    /// A neg-risk event (at least two outcomes).
    Event {
        /// Its slug.
        slug: Option<String>,
        /// Its outcomes.
        outcomes: Vec<DeclaredOutcome>,
    },
}

impl Simulator {
    /// Adds a declared market (random choices come from the model's seed, so the same
    /// declarations give the same history). Markets already simulated with the same ids are
    /// not added twice.
    pub fn declare(&mut self, d: &Declared) {
        match d {
            Declared::Binary { slug: Some(slug), .. }
                if crate::crypto::parse_round_slug(slug)
                    .is_some_and(|(coin, period, _)| self.declare_series(&coin, &period)) => {}
            Declared::Binary { condition, slug, tokens } => {
                if condition.is_some_and(|c| self.markets().iter().any(|m| m.condition == c)) {
                    return;
                }
                let i = self.add_binary(slug.clone());
                let m = self.market_mut(i);
                if let Some(c) = condition {
                    m.condition = *c;
                }
                if let Some((yes, no)) = tokens {
                    (m.yes, m.no) = (*yes, *no);
                }
            }
            Declared::Event { slug, outcomes } => {
                let first = outcomes.first().and_then(|o| o.token);
                if first.is_some_and(|t| self.find_token(&t).is_some()) || outcomes.len() < 2 {
                    return;
                }
                let labels: Vec<String> = outcomes.iter().map(|o| o.label.clone()).collect();
                let indexes = self.add_event(slug.clone(), &labels);
                for (i, o) in indexes.into_iter().zip(outcomes) {
                    let m = self.market_mut(i);
                    if let Some(t) = o.token {
                        m.yes = t;
                    }
                    if let Some(t) = o.no_token {
                        m.no = t;
                    }
                    if let Some(c) = o.condition {
                        m.condition = c;
                    }
                }
            }
        }
    }

    /// What the model's Gamma API serves, as a catalog.
    pub fn catalog(&self) -> Catalog {
        let fee = self.config().fee_rate_bps;
        let markets = self
            .markets()
            .iter()
            .map(|m| ResolvedMarket {
                condition_id: m.condition,
                question: m.question.clone(),
                slug: m.slug.clone(),
                end_date: Some(m.end_date()),
                neg_risk: m.event.is_some(),
                tokens: vec![
                    ResolvedToken { outcome: m.outcomes()[0].into(), token_id: m.yes },
                    ResolvedToken { outcome: m.outcomes()[1].into(), token_id: m.no },
                ],
                tick_size: Some(m.tick),
                min_order_size: m.min_order_size,
                taker_base_fee: (fee > 0).then_some(fee),
                accepting_orders: true,
                closed: false,
                group_item_title: m.event.map(|_| m.outcome.clone()),
                clob_ready: true,
                maker_rebate_bps: Some(self.config().maker_rebate_bps),
                rewards: self.config().rewards,
                rules: Some(m.rules()),
                start_date: m.start_date(),
            })
            .collect();
        let events = self
            .events()
            .iter()
            .map(|e| CatalogEvent {
                slug: e.slug.clone(),
                title: e.title.clone(),
                markets: e.markets.iter().map(|&i| self.markets()[i].condition).collect(),
                convert_fee_bips: Some(self.config().convert_fee_bips),
            })
            .collect();
        Catalog { markets, events }
    }
}

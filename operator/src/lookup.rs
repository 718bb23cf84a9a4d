//! Asking the venue what a Market names: the Market controller's only venue I/O besides the
//! throttled top of book ([`crate::books`]). A trait so the controller is tested without a venue;
//! [`RestLookup`] asks the venue's Gamma and CLOB REST APIs (Polymarket's, or the simulator's,
//! which serves the same paths), and for a neg-risk event the neg-risk adapter's conversion fee
//! at the Venue's Polygon RPC; [`MemoryLookup`] answers from a table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_polymarket::execution::onchain::neg_risk_fee_bips;
use polyfleet_polymarket::http::market_status::neg_risk_question;
use polyfleet_polymarket::http::markets::{ResolvedMarket, RestClient, Retry};

use crate::planner::venue::VenueEndpoints;

/// What a Market names at its venue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MarketQuery {
    /// One binary market by condition id.
    Condition(ConditionId),
    /// One market by slug (also the current round of a rolling series).
    Slug(String),
    /// Every market of a neg-risk event.
    Event(String),
    /// Explicit tokens: nothing to resolve but the venue's book and fee for them.
    Tokens(Vec<TokenId>),
}

/// The venue's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The markets (one for a binary market, one per outcome for an event; empty for explicit
    /// tokens).
    pub markets: Vec<ResolvedMarket>,
    /// Taker base fee of the first token, basis points (None when the CLOB does not serve it
    /// yet).
    pub fee_rate_bps: Option<u32>,
    /// Whether the CLOB serves the first token's book.
    pub clob_ready: bool,
    /// A neg-risk event's conversion fee, basis points: the neg-risk adapter's `getFeeBips` for
    /// the event (None when it is not an event, or the fee could not be read).
    pub convert_fee_bips: Option<u32>,
}

/// Why a lookup failed (the venue was unreachable or answered nonsense); retried later.
#[derive(Debug, thiserror::Error)]
#[error("market lookup: {0}")]
pub struct LookupError(pub String);

/// Resolving Markets at their venue.
pub trait MarketLookup: Send + Sync + 'static {
    /// What `query` names at `venue`; `Ok(None)` when the venue does not know it.
    fn lookup<'a>(
        &'a self,
        venue: &'a VenueEndpoints,
        query: &'a MarketQuery,
    ) -> BoxFuture<'a, Result<Option<Lookup>, LookupError>>;

    /// The conversion fee of the neg-risk event whose outcome market is `condition` (the
    /// adapter's `getFeeBips` for the event's neg-risk market id, which the outcome's CLOB
    /// `question_id` gives); `Ok(None)` when the venue does not know the market, it is not an
    /// event's outcome, or the Venue names no Polygon RPC.
    fn convert_fee_bips<'a>(
        &'a self,
        venue: &'a VenueEndpoints,
        condition: &'a ConditionId,
    ) -> BoxFuture<'a, Result<Option<u32>, LookupError>>;
}

/// Over the venue's REST APIs, one client per venue.
#[derive(Default)]
pub struct RestLookup {
    clients: Mutex<HashMap<VenueEndpoints, RestClient>>,
}

impl RestLookup {
    fn client(&self, venue: &VenueEndpoints) -> Result<RestClient, LookupError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(venue) {
            return Ok(c.clone());
        }
        // Few attempts: the controller requeues, and a reconcile must not hang on a dead venue.
        let retry = Retry { attempts: 2, ..Retry::default() };
        let c = RestClient::new(&venue.gamma, &venue.clob, retry).map_err(|e| LookupError(e.to_string()))?;
        clients.insert(venue.clone(), c.clone());
        Ok(c)
    }
}

impl MarketLookup for RestLookup {
    fn lookup<'a>(
        &'a self,
        venue: &'a VenueEndpoints,
        query: &'a MarketQuery,
    ) -> BoxFuture<'a, Result<Option<Lookup>, LookupError>> {
        Box::pin(async move {
            let client = self.client(venue)?;
            let err = |e: polyfleet_polymarket::http::markets::RestError| LookupError(e.to_string());
            let mut markets = match query {
                MarketQuery::Condition(c) => client.market_by_condition(c).await.map_err(err)?.into_iter().collect(),
                MarketQuery::Slug(s) => client.market_by_slug(s).await.map_err(err)?.into_iter().collect(),
                MarketQuery::Event(s) => client.event_markets(s).await.map_err(err)?,
                MarketQuery::Tokens(_) => vec![],
            };
            let first = match query {
                MarketQuery::Tokens(t) => t.first().copied(),
                _ => markets.first().and_then(|m| m.tokens.first()).map(|t| t.token_id),
            };
            let Some(first) = first else { return Ok(None) };
            let clob_ready = client.book_exists(&first).await.map_err(err)?;
            if let Some(m) = markets.first_mut() {
                m.clob_ready = clob_ready;
            }
            let fee_rate_bps = if clob_ready { client.fee_rate_bps(&first).await.ok() } else { None };
            Ok(Some(Lookup { markets, fee_rate_bps, clob_ready, convert_fee_bips: None }))
        })
    }

    fn convert_fee_bips<'a>(
        &'a self,
        venue: &'a VenueEndpoints,
        condition: &'a ConditionId,
    ) -> BoxFuture<'a, Result<Option<u32>, LookupError>> {
        Box::pin(async move {
            let Some(rpc) = &venue.polygon_rpc else { return Ok(None) };
            let client = self.client(venue)?;
            let status = client.market_status(condition).await.map_err(|e| LookupError(e.to_string()))?;
            let Some(question) = status.and_then(|s| s.question_id) else { return Ok(None) };
            let (market_id, _) = neg_risk_question(&question);
            let fee = neg_risk_fee_bips(rpc, market_id)
                .await
                .map_err(|e| LookupError(format!("the neg-risk adapter's fee: {e}")))?;
            Ok(Some(fee))
        })
    }
}

/// A table of answers (tests, benchmarks); counts the lookups asked.
#[derive(Clone, Default)]
pub struct MemoryLookup {
    /// Answers by query; a query not in the table is unknown to the venue.
    pub answers: Arc<Mutex<HashMap<MarketQuery, Lookup>>>,
    /// Lookups asked so far.
    pub asked: Arc<Mutex<Vec<MarketQuery>>>,
    /// Conversion fees by outcome condition id; a condition not in the table has none known.
    pub convert_fees: Arc<Mutex<HashMap<ConditionId, u32>>>,
    /// When set, every conversion-fee read fails with this message (a chain that cannot be read).
    pub convert_fee_error: Arc<Mutex<Option<String>>>,
}

impl MarketLookup for MemoryLookup {
    fn lookup<'a>(
        &'a self,
        _venue: &'a VenueEndpoints,
        query: &'a MarketQuery,
    ) -> BoxFuture<'a, Result<Option<Lookup>, LookupError>> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).push(query.clone());
        let answer = self.answers.lock().unwrap_or_else(|e| e.into_inner()).get(query).cloned();
        Box::pin(async move { Ok(answer) })
    }

    fn convert_fee_bips<'a>(
        &'a self,
        _venue: &'a VenueEndpoints,
        condition: &'a ConditionId,
    ) -> BoxFuture<'a, Result<Option<u32>, LookupError>> {
        let fee = self.convert_fees.lock().unwrap_or_else(|e| e.into_inner()).get(condition).copied();
        let error = self.convert_fee_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Box::pin(async move {
            match error {
                Some(e) => Err(LookupError(e)),
                None => Ok(fee),
            }
        })
    }
}

//! Asks the venue about a `series` Market's rounds ([`crate::planner::rounds`] decides which):
//! the rounds it lists now that are not in play yet, and whether the ended ones are closed. Used
//! by the Market controller, which keeps the rounds in the Market's status and writes the agents'
//! document, and by `polyfleet up`, which writes the same document for its own agents.

use polyfleet_crds::market::{Series, SeriesRound};

use crate::lookup::{LookupError, MarketLookup, MarketQuery};
use crate::planner::rounds::{awaiting_close, listed, merge, round_of};
use crate::planner::venue::VenueEndpoints;

/// The rounds in play after asking `lookup` at `venue`: `prev` with the listed rounds it lacked
/// (at venue time `venue_ms`), the ended ones the venue now says closed stamped at wall time
/// `wall_ms` (`wall`, RFC 3339), and those past their grace dropped. A round the venue does not
/// list yet is simply asked again next time; a failed lookup fails the refresh (`prev` stands).
pub async fn refresh(
    lookup: &dyn MarketLookup,
    venue: &VenueEndpoints,
    series: &Series,
    prev: &[SeriesRound],
    venue_ms: u64,
    wall_ms: u64,
    wall: &str,
) -> Result<Vec<SeriesRound>, LookupError> {
    let mut found = vec![];
    for slug in listed(series, venue_ms / 1000) {
        if prev.iter().any(|r| r.slug == slug) {
            continue;
        }
        if let Some(l) = lookup.lookup(venue, &MarketQuery::Slug(slug)).await?
            && let Some(r) = l.markets.first().and_then(|m| round_of(m, l.fee_rate_bps))
        {
            found.push(r);
        }
    }
    let mut closed = vec![];
    for r in awaiting_close(prev, venue_ms) {
        let answer = lookup.lookup(venue, &MarketQuery::Slug(r.slug.clone())).await?;
        if answer.is_some_and(|l| l.markets.iter().any(|m| m.closed)) {
            closed.push(r.slug.clone());
        }
    }
    Ok(merge(prev, found, &closed, wall_ms, wall))
}

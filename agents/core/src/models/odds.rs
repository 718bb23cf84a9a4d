//! Bookmaker odds in, a market's fair probability out: the odds feed's documents (the format of
//! The Odds API v4, which most odds aggregators copy: events with bookmakers with markets `h2h`
//! and `totals`, decimal prices), decoded one event at a time so a malformed event is counted and
//! skipped, and priced for one pick of a Polymarket binary market:
//!
//! - **an outcome** (`h2h`: a team, or the draw): each chosen book's prices de-vigged
//!   ([`super::sports::devig`]), then their weighted consensus;
//! - **a total** (over/under a line): each chosen book's main totals line (the one whose two
//!   prices are closest) de-vigged to the probability of over given no push, the Poisson mean
//!   `λ` that gives it fitted ([`fit_poisson_total`]), the weighted mean of the books' `λ`, and
//!   the market's own line priced from it in closed form ([`super::sports::poisson_total`],
//!   pushes taken out). So a book's 3.0 line prices Polymarket's 2.5.
//!
//! Pure: the caller decodes times and chooses what to price.

use serde::{Deserialize, Serialize};

use super::sports::{Devig, devig, poisson_total};
use crate::ids::TokenId;

/// The environment variable the publisher reads an HTTP feed's key from (the operator fills it
/// from the Secret the source names).
pub const KEY_VAR: &str = "POLYFLEET_ODDS_API_KEY";

/// One event of the feed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct OddsEvent {
    /// The feed's event id.
    pub id: String,
    /// Kick-off (RFC 3339): the closing line is the last price before it.
    pub commence_time: String,
    /// Home side.
    #[serde(default)]
    pub home_team: String,
    /// Away side.
    #[serde(default)]
    pub away_team: String,
    /// The books that price it.
    #[serde(default)]
    pub bookmakers: Vec<Bookmaker>,
}

/// One book's markets on an event.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Bookmaker {
    /// The book's key (`pinnacle`).
    pub key: String,
    /// Its markets.
    #[serde(default)]
    pub markets: Vec<OddsMarket>,
}

/// One market of a book: `h2h` or `totals` (others are ignored).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct OddsMarket {
    /// `h2h`, `totals`, ...
    pub key: String,
    /// Its prices.
    pub outcomes: Vec<OddsOutcome>,
}

/// One price.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct OddsOutcome {
    /// The team, `Draw`, `Over` or `Under`.
    pub name: String,
    /// Decimal odds.
    pub price: f64,
    /// The line of a total.
    #[serde(default)]
    pub point: Option<f64>,
}

/// What a market's YES token pays on (`{"outcome": "Arsenal"}` or
/// `{"total": {"over": true, "line": 2.5}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Pick {
    /// This `h2h` outcome (a team's name, or `Draw`).
    Outcome(String),
    /// The total over (`over`) or under `line`.
    Total {
        /// Over (else under).
        over: bool,
        /// The line (a half line has no push).
        line: f64,
    },
}

/// A market the sports model prices, as the operator hands it to the publisher: its YES token
/// pays when `pick` happens in the feed's `event`, its NO token otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PricedMarket {
    /// The token paying on the pick.
    pub yes_token: TokenId,
    /// The other token of the binary market.
    pub no_token: TokenId,
    /// The feed's event id.
    pub event: String,
    /// What YES pays on.
    pub pick: Pick,
}

impl PricedMarket {
    /// Checks what serde cannot: a name to match, a line that is one.
    pub fn validate(&self) -> Result<(), String> {
        match &self.pick {
            Pick::Outcome(name) if name.is_empty() => Err(format!("event {:?}: empty outcome", self.event)),
            Pick::Total { line, .. } if !(line.is_finite() && *line >= 0.0) => {
                Err(format!("event {:?}: total line {line} is not a line", self.event))
            }
            _ if self.yes_token == self.no_token => Err(format!("event {:?}: YES and NO are one token", self.event)),
            _ => Ok(()),
        }
    }
}

/// How books are weighed: `(key, weight)`; empty means every book at weight 1.
pub type BookWeights = [(String, f64)];

/// A fair probability and the books it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Priced {
    /// The probability that YES pays.
    pub probability: f64,
    /// Books that priced it.
    pub books: usize,
}

/// Why a pick was not priced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    /// No chosen book prices the pick's market with usable odds.
    #[error("no chosen book prices it")]
    NoBooks,
    /// A book's odds were unusable ([`super::sports::OddsError`]) or no `λ` fits them.
    #[error("unusable odds from {0}")]
    BadOdds(String),
}

impl PriceError {
    /// A short label (metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            PriceError::NoBooks => "no_books",
            PriceError::BadOdds(_) => "bad_odds",
        }
    }
}

/// Decodes a feed document (a JSON array of events): the events that decode, and how many did
/// not (each skipped alone). `Err` when the document is not a JSON array at all.
pub fn decode_events(text: &str) -> Result<(Vec<OddsEvent>, usize), serde_json::Error> {
    // The feed's own document, not a contract of ours: an array first, then each event alone.
    let raw: Vec<serde_json::Value> = serde_json::from_str(text)?;
    let mut bad = 0;
    let events =
        raw.into_iter().filter_map(|r| serde_json::from_value::<OddsEvent>(r).map_err(|_| bad += 1).ok()).collect();
    Ok((events, bad))
}

fn weight_of(weights: &BookWeights, key: &str) -> Option<f64> {
    if weights.is_empty() {
        return Some(1.0);
    }
    weights.iter().find(|(k, _)| k == key).map(|(_, w)| *w).filter(|w| *w > 0.0)
}

/// Prices `pick` on `event` over the books in `weights` with margin removal `method`.
pub fn price(event: &OddsEvent, pick: &Pick, weights: &BookWeights, method: Devig) -> Result<Priced, PriceError> {
    let mut sum = 0.0;
    let mut total_weight = 0.0;
    let mut books = 0;
    for book in &event.bookmakers {
        let Some(w) = weight_of(weights, &book.key) else { continue };
        let value = match pick {
            Pick::Outcome(name) => outcome_probability(book, name, method),
            Pick::Total { .. } => total_lambda(book, method),
        };
        match value {
            Ok(Some(v)) => {
                sum += w * v;
                total_weight += w;
                books += 1;
            }
            Ok(None) => {}
            Err(()) => return Err(PriceError::BadOdds(book.key.clone())),
        }
    }
    if books == 0 {
        return Err(PriceError::NoBooks);
    }
    let mean = sum / total_weight;
    let probability = match pick {
        Pick::Outcome(_) => mean,
        Pick::Total { over, line } => {
            let (p_over, p_under, _) = poisson_total(mean, *line);
            if *over { p_over } else { p_under }
        }
    };
    Ok(Priced { probability, books })
}

/// Book `book`'s margin-free probability of `name` in its `h2h` market; `None` when it has no
/// such market or outcome, `Err` on unusable odds.
fn outcome_probability(book: &Bookmaker, name: &str, method: Devig) -> Result<Option<f64>, ()> {
    let Some(m) = book.markets.iter().find(|m| m.key == "h2h") else { return Ok(None) };
    let Some(at) = m.outcomes.iter().position(|o| o.name.eq_ignore_ascii_case(name)) else { return Ok(None) };
    let odds: Vec<f64> = m.outcomes.iter().map(|o| o.price).collect();
    devig(&odds, method).map(|p| Some(p[at])).map_err(|_| ())
}

/// Book `book`'s Poisson mean fitted to its main totals line; `None` when it prices no total.
fn total_lambda(book: &Bookmaker, method: Devig) -> Result<Option<f64>, ()> {
    let Some(m) = book.markets.iter().find(|m| m.key == "totals") else { return Ok(None) };
    // Pairs of over and under at one line; the main line is the most balanced one.
    let mut best: Option<(f64, f64, f64)> = None;
    for over in m.outcomes.iter().filter(|o| o.name.eq_ignore_ascii_case("over")) {
        let Some(line) = over.point else { continue };
        let under = m.outcomes.iter().find(|u| u.name.eq_ignore_ascii_case("under") && u.point == Some(line));
        let Some(under) = under else { continue };
        if best.is_none_or(|(_, o, u)| (over.price - under.price).abs() < (o - u).abs()) {
            best = Some((line, over.price, under.price));
        }
    }
    let Some((line, over, under)) = best else { return Ok(None) };
    let p = devig(&[over, under], method).map_err(|_| ())?;
    fit_poisson_total(line, p[0]).map(Some).ok_or(())
}

/// The Poisson mean `λ` under which the probability of over `line` given no push is `p_over`
/// (bisection to 1e-12 over (0, 100]; the probability rises with `λ`). `None` when `p_over` is
/// not strictly inside (0, 1) or the line is negative.
pub fn fit_poisson_total(line: f64, p_over: f64) -> Option<f64> {
    if !(p_over > 0.0 && p_over < 1.0 && line >= 0.0 && line.is_finite()) {
        return None;
    }
    let (mut lo, mut hi) = (1e-9_f64, 100.0_f64);
    if poisson_total(hi, line).0 < p_over {
        return None;
    }
    while hi - lo > 1e-12 {
        let mid = 0.5 * (lo + hi);
        if poisson_total(mid, line).0 < p_over {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    /// A price: outcome name, decimal odds, line.
    type Price<'a> = (&'a str, f64, Option<f64>);

    fn book(key: &str, markets: Vec<(&str, Vec<Price<'_>>)>) -> Bookmaker {
        Bookmaker {
            key: key.into(),
            markets: markets
                .into_iter()
                .map(|(k, o)| OddsMarket {
                    key: k.into(),
                    outcomes: o
                        .into_iter()
                        .map(|(name, price, point)| OddsOutcome { name: name.into(), price, point })
                        .collect(),
                })
                .collect(),
        }
    }

    fn event(bookmakers: Vec<Bookmaker>) -> OddsEvent {
        OddsEvent {
            id: "e1".into(),
            commence_time: "2026-12-05T15:00:00Z".into(),
            home_team: "Arsenal".into(),
            away_team: "Chelsea".into(),
            bookmakers,
        }
    }

    #[test]
    fn an_outcome_is_the_weighted_consensus_of_the_chosen_books() {
        let e = event(vec![
            book("a", vec![("h2h", vec![("Arsenal", 2.0, None), ("Chelsea", 4.0, None), ("Draw", 4.0, None)])]),
            book("b", vec![("h2h", vec![("Chelsea", 3.0, None), ("Arsenal", 1.5, None)])]),
            book("c", vec![("totals", vec![("Over", 1.9, Some(2.5)), ("Under", 1.9, Some(2.5))])]),
        ]);
        // Book a: 0.5 / (0.5 + 0.25 + 0.25) = 0.5. Book b: (2/3) / (2/3 + 1/3) = 2/3. Book c has no h2h.
        let pick = Pick::Outcome("arsenal".into());
        let all = price(&e, &pick, &[], Devig::Multiplicative).unwrap_or_else(|e| panic!("{e}"));
        assert!(close(all.probability, (0.5 + 2.0 / 3.0) / 2.0, 1e-12) && all.books == 2, "{all:?}");
        let weighted = [("a".to_string(), 3.0), ("b".to_string(), 1.0)];
        let w = price(&e, &pick, &weighted, Devig::Multiplicative).unwrap_or_else(|e| panic!("{e}"));
        assert!(close(w.probability, (3.0 * 0.5 + 2.0 / 3.0) / 4.0, 1e-12), "{w:?}");
        let only_c = [("c".to_string(), 1.0)];
        assert_eq!(price(&e, &pick, &only_c, Devig::Multiplicative), Err(PriceError::NoBooks));
        let bad = event(vec![book("a", vec![("h2h", vec![("Arsenal", 0.9, None), ("Chelsea", 3.0, None)])])]);
        assert_eq!(price(&bad, &pick, &[], Devig::Shin), Err(PriceError::BadOdds("a".into())));
    }

    #[test]
    fn a_total_fits_the_books_poisson_mean_and_prices_the_markets_own_line() {
        // A book at 3.0 (over 2.10 / under 1.80, whole line: pushes refunded); the alternate line
        // 4.5 is less balanced and is not the main one.
        let e = event(vec![book(
            "a",
            vec![(
                "totals",
                vec![
                    ("Over", 2.10, Some(3.0)),
                    ("Under", 1.80, Some(3.0)),
                    ("Over", 4.0, Some(4.5)),
                    ("Under", 1.2, Some(4.5)),
                ],
            )],
        )]);
        let p_over = (1.0 / 2.10) / (1.0 / 2.10 + 1.0 / 1.80);
        let lambda = fit_poisson_total(3.0, p_over).unwrap_or(0.0);
        // The fitted mean reproduces the book's probability at its own line.
        assert!(close(poisson_total(lambda, 3.0).0, p_over, 1e-9), "{lambda}");
        let got = price(&e, &Pick::Total { over: true, line: 2.5 }, &[], Devig::Multiplicative)
            .unwrap_or_else(|e| panic!("{e}"));
        // Over 2.5 = 1 − P(X ≤ 2) at that mean, by hand.
        let cdf2 = (-lambda).exp() * (1.0 + lambda + lambda * lambda / 2.0);
        assert!(close(got.probability, 1.0 - cdf2, 1e-9), "{got:?} vs {}", 1.0 - cdf2);
        let under = price(&e, &Pick::Total { over: false, line: 2.5 }, &[], Devig::Multiplicative)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(close(under.probability + got.probability, 1.0, 1e-12));
        assert_eq!(fit_poisson_total(2.5, 1.0), None);
        assert_eq!(fit_poisson_total(-1.0, 0.5), None);
    }

    #[test]
    fn a_malformed_event_is_skipped_alone() {
        let text = r#"[{"id":"e1","commence_time":"2026-12-05T15:00:00Z","bookmakers":[]},
                       {"id":"e2","bookmakers":"nonsense"},
                       {"id":"e3","commence_time":"2026-12-05T17:30:00Z"}]"#;
        let (events, bad) = decode_events(text).unwrap_or_default();
        assert_eq!((events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), bad), (vec!["e1", "e3"], 1));
        assert!(decode_events("{\"message\":\"quota exceeded\"}").is_err());
    }

    #[test]
    fn a_priced_market_reads_as_the_operator_writes_it() {
        let text = r#"[{"yesToken":"101","noToken":"102","event":"e1","pick":{"outcome":"Arsenal"}},
                       {"yesToken":"103","noToken":"104","event":"e1","pick":{"total":{"over":true,"line":2.5}}}]"#;
        let m: Vec<PricedMarket> = serde_json::from_str(text).unwrap_or_default();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].pick, Pick::Total { over: true, line: 2.5 });
        assert!(m.iter().all(|m| m.validate().is_ok()));
        let back: Vec<PricedMarket> =
            serde_json::from_str(&serde_json::to_string(&m).unwrap_or_default()).unwrap_or_default();
        assert_eq!(back, m);
        let bad = PricedMarket { pick: Pick::Total { over: false, line: -1.0 }, ..m[1].clone() };
        assert!(bad.validate().is_err());
        assert!(
            serde_json::from_str::<PricedMarket>(r#"{"yesToken":"1","noToken":"2","event":"e","pick":{"spread":1}}"#)
                .is_err()
        );
    }
}

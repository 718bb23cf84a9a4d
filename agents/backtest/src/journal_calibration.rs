//! Calibration from the trade journal: how good the probabilities a strategy's orders were sized
//! on turned out once their markets resolved. A model-sized order carries the model's
//! probability that its token pays 1 USDC (`OrderIntent::kelly`), and the strategy reports which
//! model version gave it (`Intent::Signal`, journaled as a signal keyed by the order); each
//! strategy's last such order on a token before the token's market resolved (the journaled
//! settlements say how) is one forecast of that model version, scored with the core's
//! [`ScoreBook`] (Brier, log loss, ten calibration bins; the order's limit price stands for the
//! market's probability, so the skill score compares the model with the price it traded at). An
//! order with no signal report (a build that made none) is scored under [`MODEL`] [`VERSION`].

use std::collections::BTreeMap;

use polyfleet_core::analytics::scores::{Forecast, ModelScore, ScoreBook};
use polyfleet_core::wire::{Intent, OrderIntent, SettlementReport, decode};
use polyfleet_core::{ConditionId, Price, TokenId};
use polyfleet_journal::{JournalError, JournalStore, Kind, Range};

/// The model an order with no signal report is scored under.
pub const MODEL: &str = "unreported";
/// Its version.
pub const VERSION: &str = "unreported";

/// A model-sized order as a forecast: whose, on what, when, the model's probability and the
/// order's price (millionths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sized {
    /// `namespace/name`.
    pub strategy: String,
    /// The token's market.
    pub market: ConditionId,
    /// The token.
    pub token: TokenId,
    /// When the order was made (Unix ns).
    pub ts_ns: u64,
    /// The model's probability that the token pays 1, millionths.
    pub p_ppm: u32,
    /// The order's limit price, millionths.
    pub price_ppm: u32,
    /// The model that sized it.
    pub model: String,
    /// Its version.
    pub version: String,
}

/// A market's resolution: when it was first booked, and each token's payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// When (Unix ns).
    pub ts_ns: u64,
    /// Payout per token.
    pub payouts: Vec<(TokenId, Price)>,
}

/// Each strategy's scores (by `namespace/name`), per model version: the last forecast per model
/// version and token before its market resolved, scored against the payout (a token paying neither 0 nor 1, a 50-50 resolution, is
/// not scored).
pub fn scores(sized: &[Sized], resolved: &BTreeMap<ConditionId, Resolved>) -> BTreeMap<String, Vec<ModelScore>> {
    let mut last: BTreeMap<(&str, &str, &str, TokenId), &Sized> = BTreeMap::new();
    for s in sized {
        let Some(r) = resolved.get(&s.market) else { continue };
        if s.ts_ns >= r.ts_ns {
            continue;
        }
        let k = (s.strategy.as_str(), s.model.as_str(), s.version.as_str(), s.token);
        if last.get(&k).is_none_or(|prev| prev.ts_ns <= s.ts_ns) {
            last.insert(k, s);
        }
    }
    let mut books: BTreeMap<String, ScoreBook> = BTreeMap::new();
    for ((strategy, model, version, token), s) in last {
        let payout = resolved.get(&s.market).and_then(|r| r.payouts.iter().find(|(t, _)| *t == token)).map(|p| p.1);
        let happened = match payout {
            Some(p) if p == Price::ONE => true,
            Some(p) if p == Price::ZERO => false,
            _ => continue,
        };
        let forecast = Forecast { model_ppm: s.p_ppm, market_ppm: Some(s.price_ppm), happened };
        books.entry(strategy.to_string()).or_default().record(model, version, forecast);
    }
    books.into_iter().map(|(k, b)| (k, b.summary())).collect()
}

/// The model-sized ones of `orders` (the journal's, read once by the caller), each with the model
/// version its signal report names, and the journal's resolutions up to `upto`'s end.
pub async fn read<J: JournalStore>(
    journal: &J,
    upto: Range,
    orders: &[OrderIntent],
) -> Result<(Vec<Sized>, BTreeMap<ConditionId, Resolved>), JournalError> {
    let mut resolved: BTreeMap<ConditionId, Resolved> = BTreeMap::new();
    for e in journal.entries(Kind::Settlement, upto).await? {
        let r: SettlementReport =
            decode(&e.payload).map_err(|err| JournalError::Corrupt(format!("{}: {err}", e.key)))?;
        let m = resolved
            .entry(r.resolution.market)
            .or_insert(Resolved { ts_ns: r.ts_ns, payouts: r.resolution.payouts.clone() });
        m.ts_ns = m.ts_ns.min(r.ts_ns);
    }
    // Which model version sized each order, by (namespace, strategy, order).
    let mut used: BTreeMap<(String, String, String), (String, String)> = BTreeMap::new();
    for e in journal.entries(Kind::Signal, upto).await? {
        if let Ok(Intent::Signal(u)) = decode::<Intent>(&e.payload) {
            used.insert((u.namespace, u.strategy, u.client_order_id.to_string()), (u.model, u.model_version));
        }
    }
    let mut sized = vec![];
    for o in orders {
        let Some(k) = o.kelly else { continue };
        let (model, version) = used
            .remove(&(o.namespace.clone(), o.strategy.clone(), o.client_order_id.to_string()))
            .unwrap_or_else(|| (MODEL.to_string(), VERSION.to_string()));
        sized.push(Sized {
            model,
            version,
            strategy: format!("{}/{}", o.namespace, o.strategy),
            market: o.market,
            token: o.token,
            ts_ns: o.created_ts_ns,
            p_ppm: k.probability_ppm,
            price_ppm: o.price.ticks() * 100,
        });
    }
    Ok((sized, resolved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_forecast_before_resolution_is_scored() {
        let (m1, m2) = (ConditionId::from_bytes([1; 32]), ConditionId::from_bytes([2; 32]));
        let (yes1, no1, yes2) = (TokenId::from_u128(11), TokenId::from_u128(12), TokenId::from_u128(21));
        let s = |token, market, ts_ns, p_ppm| Sized {
            strategy: "desk/dir".into(),
            market,
            token,
            ts_ns,
            p_ppm,
            price_ppm: 500_000,
            model: "m".into(),
            version: "1".into(),
        };
        let sized = [
            s(yes1, m1, 1, 300_000),
            s(yes1, m1, 5, 700_000),  // the last before m1 resolved at 10: scored (YES won)
            s(yes1, m1, 12, 100_000), // after: not
            s(no1, m1, 6, 200_000),   // NO lost
            s(yes2, m2, 3, 900_000),  // m2 never resolved: not scored
            // Another version of the model, scored apart: its own last forecast (0.4, YES won).
            Sized { version: "2".into(), ..s(yes1, m1, 2, 400_000) },
        ];
        let mut resolved = BTreeMap::new();
        resolved.insert(m1, Resolved { ts_ns: 10, payouts: vec![(yes1, Price::ONE), (no1, Price::ZERO)] });
        let scores = scores(&sized, &resolved);
        let dir = &scores["desk/dir"][0];
        // (0.7 − 1)² and (0.2 − 0)²: 0.09 + 0.04 over 2.
        assert_eq!((dir.forecasts, dir.brier_micros), (2, 65_000));
        // The price (0.5) as the market: 0.25 each.
        assert_eq!(dir.market_brier_micros, Some(250_000));
        let v2 = &scores["desk/dir"][1];
        assert_eq!((v2.model.as_str(), v2.version.as_str(), v2.forecasts, v2.brier_micros), ("m", "2", 1, 360_000));
    }
}

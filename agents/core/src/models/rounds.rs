//! The rounds of one crypto up/down series and what to publish for them, sans-IO: which rounds to
//! look up at a time (the current and the next, a missed one again only after a delay), the rounds
//! found, and on each price the fair values of every running round (the probability of Up for
//! its Up token and the complement for its Down token), priced by [`UpDownModel`]. The
//! `updown-model` agent drives it from the live stream and Gamma, the backtest from a recording's
//! RTDS lines and its market catalog, so both publish the same signals for the same prices.

use std::collections::HashMap;

use super::updown::{NotPriced, Round, UpDownModel, UpDownSettings};
use crate::TokenId;
use crate::wire::signal::{FairValue, PPM};

/// How long a signal stays tradable after its price unless told otherwise, ms.
pub const DEFAULT_VALID_FOR_MS: u64 = 3_000;

/// Time between lookups of a round that was not found, ms.
pub const LOOKUP_RETRY_MS: u64 = 5_000;

/// A round found on the venue: its window and rule, and its Up and Down tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownRound {
    /// Window and resolution rule.
    pub round: Round,
    /// The token paying when the price is up.
    pub up: TokenId,
    /// The token paying when it is down.
    pub down: TokenId,
}

/// What the signals carry besides the probability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publishing {
    /// The model id (what Strategies name in `signals`).
    pub model: String,
    /// The model version (scores are kept per version).
    pub model_version: String,
    /// How long a signal stays tradable after the price it was computed from, ms.
    pub valid_for_ms: u64,
}

impl Publishing {
    /// The signals of a binary pair at `now_ms`: probability `p` for `yes`, its complement for
    /// `no` (exact millionths strictly inside (0, 1)).
    pub fn pair(&self, yes: TokenId, no: TokenId, p: f64, now_ms: u64) -> [FairValue; 2] {
        let up = ppm_of(p);
        [(yes, up), (no, PPM - up)].map(|(token, ppm)| FairValue {
            token,
            probability_ppm: ppm,
            model: self.model.clone(),
            model_version: self.model_version.clone(),
            std_error_ppm: None,
            valid_until_ms: now_ms + self.valid_for_ms,
            published_ms: Some(now_ms),
        })
    }
}

/// The rounds of one series and the model pricing them.
#[derive(Debug, Clone)]
pub struct SeriesRounds {
    period_ms: u64,
    publishing: Publishing,
    model: UpDownModel,
    /// Window start (ms) → the round, once found.
    known: HashMap<u64, KnownRound>,
    /// Window start (ms) → when its last lookup failed.
    missing: HashMap<u64, u64>,
}

impl SeriesRounds {
    /// Rounds of `period_ms` (above 0) priced with `settings`.
    pub fn new(period_ms: u64, settings: UpDownSettings, publishing: Publishing) -> SeriesRounds {
        SeriesRounds {
            period_ms: period_ms.max(1),
            publishing,
            model: UpDownModel::new(settings),
            known: HashMap::new(),
            missing: HashMap::new(),
        }
    }

    /// The model (fed the raw prices and the TWAPs).
    pub fn model_mut(&mut self) -> &mut UpDownModel {
        &mut self.model
    }

    /// Window starts (ms) to look up at `now_ms`: the current and the next, unless known or
    /// missed less than [`LOOKUP_RETRY_MS`] ago.
    pub fn wanted(&self, now_ms: u64) -> Vec<u64> {
        let first = now_ms - now_ms % self.period_ms;
        [first, first + self.period_ms]
            .into_iter()
            .filter(|s| !self.known.contains_key(s))
            .filter(|s| self.missing.get(s).is_none_or(|&at| now_ms >= at + LOOKUP_RETRY_MS))
            .collect()
    }

    /// The round of window start `start_ms` was found.
    pub fn found(&mut self, start_ms: u64, round: KnownRound) {
        self.missing.remove(&start_ms);
        self.known.insert(start_ms, round);
    }

    /// The round of window start `start_ms` was looked up at `now_ms` and not found.
    pub fn missed(&mut self, start_ms: u64, now_ms: u64) {
        self.missing.insert(start_ms, now_ms);
    }

    /// Rounds known and not ended.
    pub fn known(&self) -> usize {
        self.known.len()
    }

    /// The signals due at `now_ms` (rounds in start order, Up then Down), with the running rounds
    /// not priced and why; ended rounds are forgotten.
    pub fn signals(&mut self, now_ms: u64) -> (Vec<FairValue>, Vec<NotPriced>) {
        self.known.retain(|_, r| r.round.end_ms > now_ms);
        let (mut out, mut unpriced) = (vec![], vec![]);
        let mut running: Vec<&KnownRound> = self.known.values().filter(|r| r.round.start_ms <= now_ms).collect();
        running.sort_by_key(|r| r.round.start_ms);
        for r in running {
            match self.model.p_up(&r.round, now_ms) {
                Ok(p) => out.extend(self.publishing.pair(r.up, r.down, p, now_ms)),
                Err(e) => unpriced.push(e),
            }
        }
        (out, unpriced)
    }
}

/// A probability as millionths strictly inside (0, 1 000 000).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "rounded and clamped to 1 ..= 999 999 first"
)]
fn ppm_of(p: f64) -> u32 {
    (p * f64::from(PPM)).round().clamp(1.0, f64::from(PPM - 1)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::updown::Resolution;

    fn rounds() -> SeriesRounds {
        let publishing = Publishing { model: "crypto-updown".into(), model_version: "1".into(), valid_for_ms: 3_000 };
        SeriesRounds::new(300_000, UpDownSettings { min_returns: 3, ..UpDownSettings::default() }, publishing)
    }

    fn token(s: &str) -> TokenId {
        TokenId::parse(s).unwrap()
    }

    /// The current and the next round are wanted; a found round is priced once running (Up and
    /// Down summing to one), a missed one is asked for again only after the retry delay.
    #[test]
    fn rounds_are_found_priced_and_published_as_complements() {
        let mut r = rounds();
        let start = 1_800_000_000_000u64; // a multiple of 300 s
        let now = start + 10_000;
        assert_eq!(r.wanted(now), [start, start + 300_000]);
        let round = Round { start_ms: start, end_ms: start + 300_000, resolution: Resolution::Twap { window_s: 60 } };
        r.found(start, KnownRound { round, up: token("11"), down: token("22") });
        r.missed(start + 300_000, now);
        assert_eq!(r.wanted(now + 1_000), Vec::<u64>::new());
        assert_eq!(r.wanted(now + LOOKUP_RETRY_MS), [start + 300_000]);
        // Not priced before the model has a strike and a volatility.
        assert_eq!(r.signals(now).1, [NotPriced::NoPrice]);
        r.model_mut().on_twap(start, 60, 100.0);
        for k in 0..10u64 {
            r.model_mut().on_price(start + k * 1000, 100.0 + k as f64 * 0.01);
        }
        let (signals, unpriced) = r.signals(start + 9_000);
        assert!(unpriced.is_empty());
        assert_eq!(signals.len(), 2);
        assert_eq!(signals[0].probability_ppm + signals[1].probability_ppm, PPM);
        assert_eq!(signals[0].token, token("11"));
        assert!(signals[0].probability_ppm > 500_000, "the price rose since the strike");
        assert_eq!(signals[0].valid_until_ms, start + 12_000);
        assert_eq!(signals[0].published_ms, Some(start + 9_000));
        // An ended round is dropped.
        assert!(r.signals(start + 300_000).0.is_empty());
        assert_eq!(r.known(), 0);
    }

    #[test]
    fn probabilities_are_rounded_and_kept_strictly_inside() {
        assert_eq!(ppm_of(0.0), 1);
        assert_eq!(ppm_of(1.0), PPM - 1);
        assert_eq!(ppm_of(0.25), 250_000);
    }
}

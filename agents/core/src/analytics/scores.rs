//! Forecast scores per model and version: how good a model's probabilities were once the markets
//! they priced resolved. Brier score `mean((p − o)²)` (exact, from millionths), the market's own
//! Brier score over the same forecasts (its mid when the forecast was taken), the Brier skill
//! score against it `1 − B_model / B_market`, log loss `mean(−ln p_o)` (probabilities clamped
//! to [1e-6, 1 − 1e-6]), and a calibration table in ten bins of the forecast probability
//! (forecasts, mean forecast, observed frequency). Statistics of forecasts, not accounts: the
//! log loss is the one float here.
//!
//! Beside them, closing-line value per fill: how far the price of each fill the model's signal
//! led to was from the model's last fair value before the market closed (bought below it, or
//! sold above it, is positive), the sharp bettor's measure of a model that needs no resolution
//! luck to read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analytics::drift::{Adwin, Change};
use crate::wire::signal::PPM;

/// One scored forecast: the model's probability of the outcome that was scored, the market's
/// (its mid) at the same moment, and whether that outcome happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forecast {
    /// The model's probability, millionths.
    pub model_ppm: u32,
    /// The market's, millionths (`None` when no mid was known).
    pub market_ppm: Option<u32>,
    /// It happened.
    pub happened: bool,
}

/// ADWIN's confidence on a model version's squared errors (the paper's 0.002).
pub const CALIBRATION_DELTA: f64 = 0.002;
/// Forecasts a version's ADWIN holds before it tests.
pub const CALIBRATION_BURN_IN: u64 = 30;

#[derive(Debug, Clone)]
struct Tally {
    n: u64,
    /// ADWIN over the squared errors ([0, 1]), and how often it cut to a worse recent window.
    adwin: Adwin,
    rises: u64,
    /// Σ (p − o)², ppm².
    brier: u128,
    /// Forecasts that had a market probability, and Σ (p − o)² of model and market over them.
    paired: u64,
    paired_model: u128,
    paired_market: u128,
    log_loss: f64,
    /// Per bin: forecasts, Σ p (ppm), outcomes that happened.
    bins: [(u64, u64, u64); 10],
    /// Fills valued against the closing line, Σ of their value (ppm), and those above zero.
    clv_n: u64,
    clv_sum: i128,
    clv_beat: u64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            n: 0,
            adwin: Adwin::new(CALIBRATION_DELTA, CALIBRATION_BURN_IN),
            rises: 0,
            brier: 0,
            paired: 0,
            paired_model: 0,
            paired_market: 0,
            log_loss: 0.0,
            bins: Default::default(),
            clv_n: 0,
            clv_sum: 0,
            clv_beat: 0,
        }
    }
}

/// The scores of every model version a strategy traded on.
#[derive(Debug, Clone, Default)]
pub struct ScoreBook {
    tallies: BTreeMap<(String, String), Tally>,
}

/// One calibration bin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalibrationBin {
    /// Lower edge of the bin's forecast probability, millionths (bins are 0.1 wide).
    pub from_ppm: u32,
    /// Forecasts in it.
    pub forecasts: u64,
    /// Their mean probability, millionths.
    pub mean_forecast_ppm: u32,
    /// How often the outcome happened, millionths.
    pub observed_ppm: u32,
}

/// A model version's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelScore {
    /// Model id.
    pub model: String,
    /// Its version.
    pub version: String,
    /// Resolved forecasts scored.
    pub forecasts: u64,
    /// Brier score, millionths (0 is perfect, 250 000 is always saying 0.5).
    pub brier_micros: u64,
    /// The same Brier score unrounded: the exact sum of squared errors over the forecasts, as
    /// a float (for comparisons finer than a millionth).
    #[serde(default)]
    pub brier: f64,
    /// The market's Brier score over the forecasts that had a market mid, millionths.
    pub market_brier_micros: Option<u64>,
    /// Brier skill score against the market, basis points (positive: better than the market).
    pub brier_skill_bps: Option<i64>,
    /// Mean log loss (natural log).
    pub log_loss: f64,
    /// Calibration, bins with forecasts only.
    pub calibration: Vec<CalibrationBin>,
    /// Fills valued against the closing line (the model's last fair value before the market
    /// resolved).
    #[serde(default)]
    pub clv_fills: u64,
    /// Their mean closing-line value, millionths of a share's price (positive: bought below the
    /// close, or sold above it), rounded towards zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clv_mean_ppm: Option<i64>,
    /// Fills that beat the close (closing-line value above zero).
    #[serde(default)]
    pub clv_beat: u64,
    /// Times ADWIN on the squared errors cut its window to a recent part scoring worse (a
    /// calibration drift; see [`crate::analytics::drift::Adwin`]).
    #[serde(default)]
    pub calibration_rises: u64,
    /// The Brier score over ADWIN's window (the recent forecasts it kept).
    #[serde(default)]
    pub recent_brier: f64,
    /// Forecasts in that window.
    #[serde(default)]
    pub recent_window: u64,
}

fn squared_error(p: u32, happened: bool) -> u128 {
    let o = if happened { PPM } else { 0 };
    let d = u128::from(p.abs_diff(o));
    d * d
}

impl ScoreBook {
    /// Scores `forecast` under `model` `version`.
    pub fn record(&mut self, model: &str, version: &str, forecast: Forecast) {
        let t = self.tallies.entry((model.to_string(), version.to_string())).or_default();
        let p = forecast.model_ppm.min(PPM);
        t.n += 1;
        let err = squared_error(p, forecast.happened);
        t.brier += err;
        if t.adwin.push(err as f64 / (f64::from(PPM) * f64::from(PPM))) == Change::Rose {
            t.rises += 1;
        }
        if let Some(m) = forecast.market_ppm {
            t.paired += 1;
            t.paired_model += squared_error(p, forecast.happened);
            t.paired_market += squared_error(m.min(PPM), forecast.happened);
        }
        let p_happened = if forecast.happened { p } else { PPM - p };
        let clamped = f64::from(p_happened.clamp(1, PPM - 1)) / f64::from(PPM);
        t.log_loss -= clamped.ln();
        let bin = usize::try_from(p / (PPM / 10)).unwrap_or(9).min(9);
        let b = &mut t.bins[bin];
        b.0 += 1;
        b.1 += u64::from(p);
        b.2 += u64::from(forecast.happened);
    }

    /// Values a fill under `model` `version` against the closing line: `clv_ppm` is the
    /// closing probability of the token less the price paid (a buy), or the price less it (a sell).
    pub fn record_clv(&mut self, model: &str, version: &str, clv_ppm: i64) {
        let t = self.tallies.entry((model.to_string(), version.to_string())).or_default();
        t.clv_n += 1;
        t.clv_sum += i128::from(clv_ppm);
        t.clv_beat += u64::from(clv_ppm > 0);
    }

    /// Every model version's scores, by model then version.
    pub fn summary(&self) -> Vec<ModelScore> {
        self.tallies
            .iter()
            .map(|((model, version), t)| {
                let per = |sum: u128, n: u64| {
                    u64::try_from(sum / (u128::from(n.max(1)) * u128::from(PPM))).unwrap_or(u64::MAX)
                };
                let market = (t.paired > 0).then(|| per(t.paired_market, t.paired));
                // 1 − B_model / B_market over the paired forecasts, in bps (rounded towards zero).
                let skill = (t.paired > 0 && t.paired_market > 0).then(|| {
                    let diff = i128::try_from(t.paired_market).unwrap_or(i128::MAX)
                        - i128::try_from(t.paired_model).unwrap_or(i128::MAX);
                    let bps = diff * 10_000 / i128::try_from(t.paired_market).unwrap_or(i128::MAX);
                    i64::try_from(bps).unwrap_or(i64::MIN)
                });
                let calibration = t
                    .bins
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.0 > 0)
                    .map(|(k, b)| CalibrationBin {
                        from_ppm: u32::try_from(k).unwrap_or(0) * (PPM / 10),
                        forecasts: b.0,
                        mean_forecast_ppm: u32::try_from(b.1 / b.0).unwrap_or(PPM),
                        observed_ppm: u32::try_from(b.2 * u64::from(PPM) / b.0).unwrap_or(PPM),
                    })
                    .collect();
                ModelScore {
                    model: model.clone(),
                    version: version.clone(),
                    forecasts: t.n,
                    brier_micros: per(t.brier, t.n),
                    brier: t.brier as f64 / (t.n.max(1) as f64 * f64::from(PPM) * f64::from(PPM)),
                    market_brier_micros: market,
                    brier_skill_bps: skill,
                    log_loss: if t.n > 0 { t.log_loss / t.n as f64 } else { 0.0 },
                    calibration,
                    clv_fills: t.clv_n,
                    clv_mean_ppm: (t.clv_n > 0)
                        .then(|| i64::try_from(t.clv_sum / i128::from(t.clv_n)).unwrap_or(i64::MAX)),
                    clv_beat: t.clv_beat,
                    calibration_rises: t.rises,
                    recent_brier: t.adwin.mean(),
                    recent_window: t.adwin.len() as u64,
                }
            })
            .collect()
    }
}

/// Forecasts whose scores were computed independently (`scripts/verify/scores.py`, numpy), to
/// hold [`ScoreBook`] to within 1e-9.
pub mod reference {
    /// (model probability ppm, market mid ppm, happened).
    pub const FORECASTS: [(u32, Option<u32>, bool); 40] = [
        (729777, Some(909000), true),
        (171001, Some(223000), false),
        (154333, Some(791000), false),
        (886000, None, true),
        (172777, Some(806500), false),
        (511000, Some(753500), false),
        (161333, Some(362000), false),
        (375000, Some(268500), true),
        (760000, Some(368000), true),
        (610001, Some(888500), false),
        (272333, None, false),
        (95777, Some(853000), false),
        (332777, Some(252000), false),
        (265001, Some(594000), true),
        (139333, Some(370000), false),
        (813333, Some(463000), true),
        (851333, Some(306000), true),
        (845777, None, true),
        (907001, Some(430000), true),
        (461333, Some(499500), false),
        (91000, Some(133500), false),
        (830777, Some(601500), true),
        (419777, Some(908000), true),
        (380333, Some(199500), false),
        (64000, None, false),
        (947000, Some(758500), true),
        (402333, Some(323500), true),
        (778333, Some(376000), true),
        (19777, Some(523000), false),
        (237001, Some(592000), false),
        (136001, Some(895000), true),
        (84000, None, false),
        (24777, Some(100000), false),
        (812333, Some(156000), true),
        (797000, Some(661500), true),
        (313333, Some(752500), false),
        (387777, Some(725000), true),
        (195001, Some(235000), false),
        (348333, None, false),
        (869001, Some(706000), true),
    ];
    /// (Brier, the market's Brier over the forecasts with a mid, log loss) as the script prints them.
    pub const NUMPY: (f64, f64, f64) = (0.120_011_850_271_375, 0.281_760_588_235_294_15, 0.386_818_461_790_004_06);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_an_independent_computation() {
        let mut book = ScoreBook::default();
        for (model_ppm, market_ppm, happened) in reference::FORECASTS {
            book.record("m", "1", Forecast { model_ppm, market_ppm, happened });
        }
        let s = &book.summary()[0];
        let (brier, market, log_loss) = reference::NUMPY;
        assert!((s.brier - brier).abs() < 1e-9, "Brier {} vs numpy {brier}", s.brier);
        assert_eq!(s.brier_micros, 120_011, "the millionths are the exact score rounded down");
        assert!((s.market_brier_micros.unwrap() as f64 / 1e6 - market).abs() < 1e-6);
        assert!((s.log_loss - log_loss).abs() < 1e-9, "log loss {} vs numpy {log_loss}", s.log_loss);
    }

    fn f(model_ppm: u32, market_ppm: Option<u32>, happened: bool) -> Forecast {
        Forecast { model_ppm, market_ppm, happened }
    }

    #[test]
    fn brier_skill_log_loss_and_calibration_by_hand() {
        let mut book = ScoreBook::default();
        // Model: 0.8 (happened), 0.3 (did not), 0.6 (did not); market mids 0.6, 0.5, 0.5.
        book.record("m", "1", f(800_000, Some(600_000), true));
        book.record("m", "1", f(300_000, Some(500_000), false));
        book.record("m", "1", f(600_000, Some(500_000), false));
        book.record("m", "2", f(500_000, None, true));
        let s = book.summary();
        assert_eq!(s.len(), 2);
        let v1 = &s[0];
        assert_eq!((v1.model.as_str(), v1.version.as_str(), v1.forecasts), ("m", "1", 3));
        // (0.04 + 0.09 + 0.36) / 3 = 0.163333...
        assert_eq!(v1.brier_micros, 163_333);
        // Market: (0.16 + 0.25 + 0.25) / 3 = 0.22.
        assert_eq!(v1.market_brier_micros, Some(220_000));
        // 1 − 0.49 / 0.66 = 0.257575... → 2575 bps.
        assert_eq!(v1.brier_skill_bps, Some(2575));
        // −(ln 0.8 + ln 0.7 + ln 0.4) / 3.
        let expected = -((0.8f64).ln() + (0.7f64).ln() + (0.4f64).ln()) / 3.0;
        assert!((v1.log_loss - expected).abs() < 1e-12, "{} vs {expected}", v1.log_loss);
        // Bins 0.3, 0.6, 0.8: one each, observed 0, 0, 1.
        let bins: Vec<(u32, u64, u32, u32)> =
            v1.calibration.iter().map(|b| (b.from_ppm, b.forecasts, b.mean_forecast_ppm, b.observed_ppm)).collect();
        assert_eq!(bins, vec![(300_000, 1, 300_000, 0), (600_000, 1, 600_000, 0), (800_000, 1, 800_000, 1_000_000)]);
        let v2 = &s[1];
        assert_eq!((v2.brier_micros, v2.market_brier_micros, v2.brier_skill_bps), (250_000, None, None));
    }

    #[test]
    fn closing_line_value_per_fill_by_hand() {
        let mut book = ScoreBook::default();
        // Bought at 0.45 with the close at 0.52 (+70 000), at 0.55 (−30 000); sold at 0.60 with
        // the close at 0.52 (+80 000): mean 40 000, two beat it.
        for clv in [70_000, -30_000, 80_000] {
            book.record_clv("m", "1", clv);
        }
        let s = &book.summary()[0];
        assert_eq!((s.clv_fills, s.clv_mean_ppm, s.clv_beat, s.forecasts), (3, Some(40_000), 2, 0));
        book.record_clv("m", "2", -1);
        book.record_clv("m", "2", 0);
        let v2 = &book.summary()[1];
        assert_eq!((v2.clv_fills, v2.clv_mean_ppm, v2.clv_beat), (2, Some(0), 0), "rounded towards zero");
        let mut empty = ScoreBook::default();
        empty.record("m", "1", f(500_000, None, true));
        assert_eq!(empty.summary()[0].clv_mean_ppm, None);
    }

    #[test]
    fn certain_forecasts_do_not_blow_up_the_log_loss() {
        let mut book = ScoreBook::default();
        book.record("m", "1", f(PPM, None, false));
        let s = &book.summary()[0];
        assert_eq!(s.brier_micros, 1_000_000);
        assert!((s.log_loss - (1e6f64).ln()).abs() < 1e-9, "clamped at 1e-6: {}", s.log_loss);
    }
}

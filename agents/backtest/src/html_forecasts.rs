//! The report page's forecasts section, per directional strategy: each model version's scores at
//! resolution (forecasts, Brier, the market's Brier over the same forecasts, Brier skill, log
//! loss), what became of the fair values handed to it, and an interactive calibration chart (mean
//! forecast against how often it happened, per tenth of probability, against the diagonal).

use plotly::common::{Marker, Mode};
use polyfleet_core::analytics::scores::ModelScore;

use crate::charts::{Figure, XAxis, line};
use crate::html::esc;
use crate::html_analytics::slug;
use crate::report::StrategyLine;

fn ppm(v: u32) -> f64 {
    f64::from(v) / 1e6
}

/// The calibration chart of one model version: mean forecast against how often it happened, per
/// tenth of probability (markers bigger where more forecasts fell), against the diagonal.
fn calibration_chart(strategy: &str, s: &ModelScore) -> String {
    let mut f = Figure::new(
        &format!("calibration-{}-{}-{}", slug(strategy), slug(&s.model), slug(&s.version)),
        &format!("Calibration of {} {}", s.model, s.version),
        ("forecast probability", XAxis::Linear),
        "observed frequency",
    )
    .height(420);
    f.add(line("perfectly calibrated", vec![0.0, 1.0], vec![0.0, 1.0], 5));
    let sizes: Vec<usize> =
        s.calibration.iter().map(|b| 6 + usize::try_from(b.forecasts.max(1).ilog2()).unwrap_or(0) * 2).collect();
    let text: Vec<String> = s.calibration.iter().map(|b| format!("{} forecasts", b.forecasts)).collect();
    f.add(
        line(
            &format!("{} {}", s.model, s.version),
            s.calibration.iter().map(|b| ppm(b.mean_forecast_ppm)).collect(),
            s.calibration.iter().map(|b| ppm(b.observed_ppm)).collect(),
            0,
        )
        .mode(Mode::LinesMarkers)
        .marker(Marker::new().size_array(sizes))
        .text_array(text),
    );
    f.html()
}

fn score_row(s: &ModelScore) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "n/a".into());
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        esc(&s.model),
        esc(&s.version),
        s.forecasts,
        ppm(u32::try_from(s.brier_micros).unwrap_or(u32::MAX)),
        opt(s.market_brier_micros.map(|m| format!("{:.4}", m as f64 / 1e6))),
        opt(s.brier_skill_bps.map(|b| format!("{:.4}", b as f64 / 1e4))),
        s.log_loss,
        s.clv_fills,
        opt(s.clv_mean_ppm.map(|c| format!("{:+.4}", c as f64 / 1e6))),
        s.clv_beat,
    )
}

fn calibration_table(s: &ModelScore) -> String {
    let rows: String = s
        .calibration
        .iter()
        .map(|b| {
            format!(
                "<tr><td>{:.1}–{:.1}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                ppm(b.from_ppm),
                ppm(b.from_ppm) + 0.1,
                b.forecasts,
                ppm(b.mean_forecast_ppm),
                ppm(b.observed_ppm)
            )
        })
        .collect();
    format!(
        "<table class=\"calibration\"><tr><th>Forecast</th><th>Forecasts</th><th>Mean forecast</th><th>Observed</th></tr>{rows}</table>"
    )
}

/// A strategy's scores: a table of every model version's, then each one's calibration chart and
/// table (shared with the journal report's calibration section).
pub fn scores_block(strategy: &str, scores: &[ModelScore]) -> String {
    let mut out = String::from(
        "<table class=\"scores\"><tr><th>Model</th><th>Version</th><th>Forecasts</th><th>Brier</th>\
<th>Market Brier</th><th>Brier skill</th><th>Log loss</th><th>Fills vs close</th><th>Mean CLV</th><th>Beat the close</th></tr>\n",
    );
    for f in scores {
        out.push_str(&score_row(f));
    }
    out.push_str("</table>\n");
    for f in scores {
        out.push_str(&format!("<div class=\"calibration-plot\">{}</div>\n", calibration_chart(strategy, f)));
        out.push_str(&calibration_table(f));
    }
    out
}

/// The section: one block per strategy that was handed fair values; empty when none was.
pub fn section(strategies: &[StrategyLine]) -> String {
    let mut out = String::new();
    for s in strategies.iter().filter(|s| !s.fair_values.is_empty() || !s.forecasts.is_empty()) {
        let taken: Vec<String> = s.fair_values.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        out.push_str(&format!(
            "<h3>{}</h3>\n<p>Fair values handed to it: {}</p>\n",
            esc(&s.name),
            esc(&taken.join(", "))
        ));
        if s.forecasts.is_empty() {
            out.push_str("<p>No forecast was scored: no market it had a forecast for resolved.</p>\n");
            continue;
        }
        out.push_str(&scores_block(&s.name, &s.forecasts));
    }
    if out.is_empty() {
        return out;
    }
    format!(
        "<h2>Forecasts</h2>\n<div id=\"forecasts\">\n<p>Each market's last forecast of each model version before it \
resolved, scored against the outcome; the market's Brier scores its mid at the same moments; skill is 1 − Brier / \
market Brier.</p>\n{out}</div>\n"
    )
}

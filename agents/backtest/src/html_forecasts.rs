//! The report page's forecasts section, per directional strategy: each model version's scores at
//! resolution (forecasts, Brier, the market's Brier over the same forecasts, Brier skill, log
//! loss), what became of the fair values handed to it, and a calibration plot (mean forecast
//! against how often it happened, per tenth of probability, against the diagonal).

use plotters::prelude::*;
use polyfleet_core::analytics::scores::ModelScore;

use crate::html::esc;
use crate::report::StrategyLine;

const W: u32 = 520;
const H: u32 = 420;

fn ppm(v: u32) -> f64 {
    f64::from(v) / 1e6
}

/// The calibration plot of one model version.
fn calibration_plot(s: &ModelScore) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(format!("Calibration of {} {}", s.model, s.version), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0);
        if let Ok(mut chart) = chart {
            let _ = chart.configure_mesh().x_desc("forecast probability").y_desc("observed frequency").draw();
            let _ = chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], &RGBColor(160, 160, 160)));
            let points: Vec<(f64, f64)> =
                s.calibration.iter().map(|b| (ppm(b.mean_forecast_ppm), ppm(b.observed_ppm))).collect();
            let _ = chart.draw_series(LineSeries::new(points.clone(), &RGBColor(30, 90, 200)));
            let _ = chart.draw_series(points.iter().zip(&s.calibration).map(|(p, b)| {
                // Bigger where more forecasts fell: 3 px, one more per doubling.
                let r = 3 + i32::try_from(b.forecasts.max(1).ilog2()).unwrap_or(0);
                Circle::new(*p, r, RGBColor(30, 90, 200).filled())
            }));
        }
        let _ = root.present();
    }
    svg
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
        out.push_str(
            "<table class=\"scores\"><tr><th>Model</th><th>Version</th><th>Forecasts</th><th>Brier</th>\
<th>Market Brier</th><th>Brier skill</th><th>Log loss</th><th>Fills vs close</th><th>Mean CLV</th><th>Beat the close</th></tr>\n",
        );
        for f in &s.forecasts {
            out.push_str(&score_row(f));
        }
        out.push_str("</table>\n");
        for f in &s.forecasts {
            out.push_str(&format!("<div class=\"calibration-plot\">{}</div>\n", calibration_plot(f)));
            out.push_str(&calibration_table(f));
        }
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

//! The report as one self-contained HTML page: the metrics, each strategy's counters, four SVG
//! plots drawn with plotters (equity curve, drawdown, exposure, fills on the price of the most
//! traded token) and each strategy's attribution, markouts and inventory
//! ([`crate::html_analytics`]). No scripts, no external files: it opens anywhere and diffs as text.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use polyfleet_core::{Money, Price, Side, TokenId};

use crate::report::{Report, thin};

const W: u32 = 960;
const H: u32 = 300;
/// Points drawn of a curve.
const PLOT_POINTS: usize = 2000;

fn usdc(m: Money) -> f64 {
    m.micros() as f64 / 1e6
}

fn px(p: Price) -> f64 {
    f64::from(p.ticks()) / f64::from(Price::SCALE)
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn bounds(ys: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// An SVG chart over hours on x, `y` between `lo` and `hi`, with `draw` drawing its series.
pub(crate) fn svg_chart(
    caption: &str,
    x_max: f64,
    y: (f64, f64),
    y_desc: &str,
    draw: impl FnOnce(&mut Chart<'_, '_>),
) -> String {
    svg_chart_over("hours", caption, x_max, y, y_desc, draw)
}

/// An SVG chart over `x_desc` (from 0 to `x_max`) on x, `y` between `lo` and `hi`.
pub(crate) fn svg_chart_over(
    x_desc: &str,
    caption: &str,
    x_max: f64,
    (lo, hi): (f64, f64),
    y_desc: &str,
    draw: impl FnOnce(&mut Chart<'_, '_>),
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max.max(1e-6), lo..hi);
        if let Ok(mut chart) = chart {
            let _ = chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw();
            draw(&mut chart);
        }
        let _ = root.present();
    }
    svg
}

/// A line (or area) plot of `(hours, value)` points.
fn line_plot(title: &str, y_label: &str, points: &[(f64, f64)], color: RGBColor, area: bool) -> String {
    let x_max = points.last().map_or(1.0, |p| p.0);
    let y = bounds(points.iter().map(|p| p.1).chain([0.0]));
    svg_chart(title, x_max, y, y_label, |chart| {
        let _ = if area {
            chart.draw_series(AreaSeries::new(points.iter().copied(), 0.0, color.mix(0.3)).border_style(color))
        } else {
            chart.draw_series(LineSeries::new(points.iter().copied(), &color))
        };
    })
}

/// The token with the most fills: its mid price and its fills (buys green, sells red).
fn fills_plot(r: &Report) -> String {
    let j = &r.journal;
    let first = j.samples.first().map_or(0, |s| s.ts_ns);
    let hours = |ts: u64| ts.saturating_sub(first) as f64 / 3.6e12;
    let mut counts: std::collections::BTreeMap<TokenId, usize> = Default::default();
    for f in &j.fills {
        *counts.entry(f.token).or_default() += 1;
    }
    let token = counts.iter().max_by_key(|(t, n)| (**n, std::cmp::Reverse(**t))).map(|(t, _)| *t);
    let mids: Vec<(f64, f64)> = token
        .and_then(|t| j.prices.get(&t))
        .map(|s| thin(s.len(), PLOT_POINTS).into_iter().map(|i| (hours(s[i].0), px(s[i].1))).collect())
        .unwrap_or_default();
    let fills: Vec<(f64, f64, Side)> =
        j.fills.iter().filter(|f| Some(f.token) == token).map(|f| (hours(f.ts_ns), px(f.price), f.side)).collect();
    let x_max = j.samples.last().map_or(1.0, |s| hours(s.ts_ns));
    let y = bounds(mids.iter().map(|p| p.1).chain(fills.iter().map(|f| f.1)));
    let caption = match token {
        Some(t) => {
            let id = t.to_string();
            format!("Fills on price (token …{})", &id[id.len().saturating_sub(8)..])
        }
        None => "Fills on price (no fills)".to_string(),
    };
    svg_chart(&caption, x_max, y, "price", |chart| {
        let _ = chart.draw_series(LineSeries::new(mids, &RGBColor(120, 120, 120)));
        let _ = chart.draw_series(fills.iter().map(|&(x, y, side)| {
            let c = if side == Side::Buy { RGBColor(0, 150, 60) } else { RGBColor(200, 30, 30) };
            Circle::new((x, y), 3, c.filled())
        }));
    })
}

fn row(k: &str, v: &str) -> String {
    format!("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v))
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.4}"))
}

/// The page.
pub fn html(r: &Report) -> String {
    let j = &r.journal;
    let first = j.samples.first().map_or(0, |s| s.ts_ns);
    let idx = thin(j.samples.len(), PLOT_POINTS);
    let at = |i: usize| j.samples[i].ts_ns.saturating_sub(first) as f64 / 3.6e12;
    let equity: Vec<(f64, f64)> = idx.iter().map(|&i| (at(i), usdc(j.samples[i].equity))).collect();
    let exposure: Vec<(f64, f64)> = idx.iter().map(|&i| (at(i), usdc(j.samples[i].exposure))).collect();
    let mut peak = i64::MIN;
    let drawdown_all: Vec<i64> = j
        .samples
        .iter()
        .map(|s| {
            peak = peak.max(s.equity.micros());
            s.equity.micros() - peak
        })
        .collect();
    let drawdown: Vec<(f64, f64)> = idx.iter().map(|&i| (at(i), drawdown_all[i] as f64 / 1e6)).collect();
    let m = &r.metrics;
    let mut metrics = String::new();
    for (k, v) in [
        ("PnL (USDC)", m.pnl_usdc.clone()),
        ("Realized (USDC)", m.realized_usdc.clone()),
        ("Marked, still held (USDC)", m.marked_usdc.clone()),
        ("Marking", m.marking.to_string()),
        ("Fees paid (USDC)", m.fees_usdc.clone()),
        ("Sharpe", ratio(m.sharpe)),
        ("Sortino", ratio(m.sortino)),
        ("Calmar", ratio(m.calmar)),
        ("Annualized ratios", m.ratios_note.clone().unwrap_or_else(|| "from daily returns, 365 days a year".into())),
        ("Max drawdown (USDC)", m.max_drawdown_usdc.clone()),
        ("Hit rate", ratio(m.hit_rate)),
        ("Profit factor", ratio(m.profit_factor)),
        ("Turnover", ratio(m.turnover)),
        ("Notional traded (USDC)", m.notional_usdc.clone()),
        (
            "Brier score",
            m.brier.map_or("n/a (no forecast scored)".into(), |b| format!("{b:.4} ({} forecasts)", m.forecasts)),
        ),
        ("Brier skill vs the market", ratio(m.brier_skill)),
        ("Fills (maker)", format!("{} ({})", m.fills, m.maker_fills)),
        ("Order latency (ms, decision to venue)", format!("{}", r.latency_ms)),
        ("Capital (USDC)", m.capital_usdc.clone()),
        ("Events / frames", format!("{} / {}", r.input.events, r.input.frames)),
        ("Recording lines", r.input.read.describe()),
        ("Frames by outcome", frame_outcomes(&r.input)),
        ("Duration (s)", format!("{:.1}", m.duration_s)),
    ] {
        metrics.push_str(&row(k, &v));
    }
    let mut strategies = String::new();
    for s in &r.strategies {
        let rej: Vec<String> = s.rejections.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let ord: Vec<String> = s.orders.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        strategies.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&s.name),
            esc(&s.pnl_usdc),
            esc(&s.fees_usdc),
            s.signals,
            s.approved,
            esc(&ord.join(", ")),
            esc(&rej.join(", ")),
            s.positions
        ));
    }
    let overrides = if r.overrides.is_empty() {
        String::new()
    } else {
        format!("<p>Overrides: {}</p>", esc(&r.overrides.join(" ")))
    };
    // Results on part of the recording say so before anything else.
    let partial = if r.input.read.partial() {
        format!(
            "<p id=\"partial\" style=\"background:#fde2e2;padding:0.5em\"><b>Partial input:</b> bad input was skipped; {}{}</p>\n",
            esc(&r.input.read.describe()),
            r.input.read.first_bad.as_deref().map_or(String::new(), |b| format!(" (first: {})", esc(b)))
        )
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>polyfleet backtest: {rec}</title>\n\
<style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse;margin:1em 0}}\
th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f4f4f4}}</style></head><body>\n\
<h1>Backtest of {rec}</h1>\n{partial}{overrides}\n<h2>Metrics</h2>\n<table id=\"metrics\">\n{metrics}</table>\n\
<h2>Strategies</h2>\n<table id=\"strategies\"><tr><th>Strategy</th><th>PnL</th><th>Fees</th><th>Signals</th><th>Approved</th>\
<th>Orders</th><th>Rejections</th><th>Positions</th></tr>\n{strategies}</table>\n\
<h2>Equity</h2>\n<div id=\"equity\">{eq}</div>\n<h2>Drawdown</h2>\n<div id=\"drawdown\">{dd}</div>\n\
<h2>Exposure</h2>\n<div id=\"exposure\">{ex}</div>\n<h2>Fills</h2>\n<div id=\"fills\">{fl}</div>\n{trading}{forecasts}{drift}</body></html>\n",
        rec = esc(&r.input.recording),
        eq = line_plot("Equity curve", "USDC", &equity, RGBColor(30, 90, 200), false),
        dd = line_plot("Drawdown", "USDC", &drawdown, RGBColor(200, 30, 30), true),
        ex = line_plot("Exposure (cost of open positions)", "USDC", &exposure, RGBColor(200, 120, 0), true),
        fl = fills_plot(r),
        trading = crate::html_analytics::section(
            &r.strategies
                .iter()
                .filter(|s| s.analytics.fill_ratio.orders_posted > 0 || s.analytics.markouts.is_some())
                .map(|s| (s.name.clone(), &s.analytics))
                .collect::<Vec<_>>(),
            first,
            j.samples.last().map_or(first, |s| s.ts_ns),
        ),
        forecasts = crate::html_forecasts::section(&r.strategies),
        drift = crate::html_drift::section(&r.strategies),
    )
}

/// The frame accounting, saying so when it is a conversion's (every catalog token served).
fn frame_outcomes(input: &crate::report::Input) -> String {
    match &input.converted_from {
        Some(src) => format!("{} (normalized from {src} for every catalog token)", input.frame_outcomes.describe()),
        None => input.frame_outcomes.describe(),
    }
}

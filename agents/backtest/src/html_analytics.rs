//! The report page's trading section, per strategy: the PnL attribution (spread capture,
//! inventory, fees, lifecycle basis, rebates, rewards), the fill ratio of resting orders, the
//! markout curve table and an inventory-over-time plot.

use plotters::prelude::*;
use polyfleet_core::analytics::markouts::Point;

use crate::analytics::StrategyAnalytics;
use crate::html::{esc, svg_chart};

/// Tokens drawn on one inventory plot (the most traded first).
const INVENTORY_LINES: usize = 6;
const COLORS: [RGBColor; INVENTORY_LINES] = [
    RGBColor(30, 90, 200),
    RGBColor(200, 30, 30),
    RGBColor(0, 150, 60),
    RGBColor(200, 120, 0),
    RGBColor(120, 60, 180),
    RGBColor(90, 90, 90),
];

fn cells(points: &[Point]) -> String {
    points.iter().map(|p| format!("<td>{} ({} fills, {} / share)</td>", p.total, p.fills, p.per_share)).collect()
}

/// The plot and its legend (token id ends by colour).
fn inventory_plot(name: &str, a: &StrategyAnalytics, first_ns: u64, last_ns: u64) -> String {
    let hours = |ts: u64| ts.saturating_sub(first_ns) as f64 / 3.6e12;
    let mut series: Vec<(&str, Vec<(f64, f64)>)> = a
        .inventory
        .iter()
        .map(|s| {
            let pts = s.points.iter().map(|(t, q)| (hours(*t), q.parse::<f64>().unwrap_or(0.0))).collect();
            (s.token.as_str(), pts)
        })
        .collect();
    series.sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
    series.truncate(INVENTORY_LINES);
    let ys = series.iter().flat_map(|(_, p)| p.iter().map(|x| x.1)).chain([0.0]);
    let (lo, hi) = ys.fold((0.0f64, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
    let pad = ((hi - lo) * 0.05).max(1.0);
    let x_max = hours(last_ns);
    let legend: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(k, (t, _))| {
            let c = COLORS[k % COLORS.len()];
            format!(
                "<span style=\"color:rgb({},{},{})\">…{}</span>",
                c.0,
                c.1,
                c.2,
                esc(&t[t.len().saturating_sub(8)..])
            )
        })
        .collect();
    let svg =
        svg_chart(&format!("Inventory of {name} (shares per token)"), x_max, (lo - pad, hi + pad), "shares", |chart| {
            for (k, (_, pts)) in series.iter().enumerate() {
                // Held until the next change: steps, extended to the end.
                let mut steps = vec![];
                for (i, p) in pts.iter().enumerate() {
                    if i > 0 {
                        steps.push((p.0, pts[i - 1].1));
                    }
                    steps.push(*p);
                }
                if let Some(last) = pts.last() {
                    steps.push((x_max, last.1));
                }
                let _ = chart.draw_series(LineSeries::new(steps, &COLORS[k % COLORS.len()]));
            }
        });
    format!("{svg}<p>Tokens: {}</p>", legend.join(" "))
}

/// The section: one block per strategy that traded.
pub fn section(strategies: &[(String, &StrategyAnalytics)], first_ns: u64, last_ns: u64) -> String {
    let mut out = String::from("<h2>Attribution and quoting</h2>\n");
    for (name, a) in strategies {
        let p = &a.pnl_attribution;
        let f = &a.fill_ratio;
        out.push_str(&format!(
            "<h3>{n}</h3>\n<table class=\"attribution\" id=\"attribution-{n}\"><tr><th>Spread capture</th><th>Inventory</th><th>Fees</th>\
<th>Lifecycle basis</th><th>PnL at mid</th><th>Rebates</th><th>Rewards (est.)</th><th>Total</th></tr>\n\
<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>\n\
<p>Fill ratio: {} of {} shares posted filled as maker ({} %), {} maker fills of {} resting orders.</p>\n",
            p.parts.spread_capture,
            p.parts.inventory,
            p.parts.fees,
            p.parts.lifecycle_basis,
            p.parts.total_at_mid,
            p.rebates,
            p.rewards,
            p.total,
            f.maker_shares,
            f.shares_posted,
            f.share_fill_pct,
            f.maker_fills,
            f.orders_posted,
            n = esc(name),
        ));
        if let Some(e) = &a.earnings {
            out.push_str(&format!(
                "<p>Rebates: {} accrued, {} paid ({} days below the 1 USDC minimum), fee-equivalent {}. \
Rewards: {} of {} samples scored.</p>\n",
                e.rebates.accrued,
                e.rebates.paid,
                e.rebates.days_below_minimum,
                e.rebates.fee_equivalent,
                e.rewards.scoring,
                e.rewards.samples,
            ));
        }
        if let Some(c) = &a.markouts {
            let head: String = c.all.iter().map(|p| format!("<th>{} s</th>", p.seconds)).collect();
            out.push_str(&format!(
                "<table class=\"markouts\"><tr><th>Markout (USDC)</th>{head}</tr>\n<tr><th>all</th>{}</tr>\n\
<tr><th>maker</th>{}</tr>\n<tr><th>taker</th>{}</tr>\n<tr><th>unmeasured</th>{}</tr></table>\n",
                cells(&c.all),
                cells(&c.maker),
                cells(&c.taker),
                c.unmeasured.iter().map(|n| format!("<td>{n}</td>")).collect::<String>(),
            ));
        }
        if !a.inventory.is_empty() {
            out.push_str(&format!("<div class=\"inventory\">{}</div>\n", inventory_plot(name, a, first_ns, last_ns)));
        }
    }
    out
}

//! The report page's trading section, per strategy: the PnL attribution (spread capture,
//! inventory, fees, lifecycle basis, rebates, rewards), the fill ratio of resting orders, the
//! markout curve as a chart and a table, and an interactive inventory-over-time chart.

use polyfleet_core::analytics::markouts::{Curve, Point};

use crate::analytics::StrategyAnalytics;
use crate::charts::{Figure, XAxis, line, steps};
use crate::html::{esc, short, usdc};

/// Tokens drawn on one inventory chart (the most traded first; the others are in report.json).
const INVENTORY_LINES: usize = 12;

fn cells(points: &[Point]) -> String {
    points.iter().map(|p| format!("<td>{} ({} fills, {} / share)</td>", p.total, p.fills, p.per_share)).collect()
}

/// An id made of a strategy's name (names are DNS labels; anything else becomes `-`).
pub(crate) fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// Net shares per token over time, each held until its next change.
fn inventory_chart(name: &str, a: &StrategyAnalytics, last_ns: u64) -> String {
    let mut series: Vec<&crate::analytics::InventorySeries> = a.inventory.iter().collect();
    series.sort_by_key(|s| std::cmp::Reverse(s.points.len()));
    series.truncate(INVENTORY_LINES);
    let mut f = Figure::new(
        &format!("inventory-{}", slug(name)),
        &format!("Inventory of {name} (net shares per token)"),
        ("time (UTC)", XAxis::Time),
        "shares",
    )
    .height(340);
    let t = |ns: u64| crate::charts::time(i64::try_from(ns).unwrap_or(i64::MAX));
    for (k, s) in series.iter().enumerate() {
        let mut x: Vec<String> = s.points.iter().map(|(ns, _)| t(*ns)).collect();
        let mut y: Vec<f64> = s.points.iter().map(|(_, q)| q.parse::<f64>().unwrap_or(0.0)).collect();
        // Held to the end of the run.
        if let Some(&held) = y.last() {
            x.push(t(last_ns));
            y.push(held);
        }
        f.add(steps(&short(&s.token), x, y, k));
    }
    f.html()
}

/// Markout per share at each horizon: every fill, maker and taker fills.
fn markout_chart(name: &str, c: &Curve) -> String {
    let mut f = Figure::new(
        &format!("markouts-{}", slug(name)),
        &format!("Markouts of {name} (per share, before fees)"),
        ("horizon (s)", XAxis::Linear),
        "USDC per share",
    )
    .height(320);
    for (k, (label, pts)) in [("all", &c.all), ("maker", &c.maker), ("taker", &c.taker)].into_iter().enumerate() {
        let measured: Vec<&Point> = pts.iter().filter(|p| p.fills > 0).collect();
        if measured.is_empty() {
            continue;
        }
        let x: Vec<f64> = measured.iter().map(|p| p.seconds as f64).collect();
        let y: Vec<f64> = measured.iter().map(|p| usdc(p.per_share)).collect();
        f.add(line(label, x, y, k).mode(plotly::common::Mode::LinesMarkers));
    }
    f.html()
}

/// The section: one block per strategy that traded.
pub fn section(strategies: &[(String, &StrategyAnalytics)], last_ns: u64) -> String {
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
            out.push_str(&markout_chart(name, c));
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
            out.push_str(&format!("<div class=\"inventory\">{}</div>\n", inventory_chart(name, a, last_ns)));
        }
    }
    out
}

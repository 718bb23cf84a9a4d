//! The journal report ([`crate::journal_report`]) as one self-contained HTML page, in the
//! backtest report's style: the summary, the equity at each day's end and its drawdown (SVG,
//! plotters), returns by day, per strategy and per market, open positions, the risk gateway's
//! decisions, and the trade list (its newest [`TRADES_SHOWN`] rows; the JSON has every one).
//! No scripts, no external files.

use plotters::prelude::*;
use polyfleet_core::Money;

use crate::html::{bounds, esc, svg_chart_over};
use crate::journal_report::{JournalReport, rfc3339};

/// Trades listed on the page.
pub const TRADES_SHOWN: usize = 2000;

/// Refused fills and operations listed on the page.
const UNBOOKED_SHOWN: usize = 50;

const DAY_NS: i64 = 86_400_000_000_000;

fn usdc(m: Money) -> f64 {
    m.micros() as f64 / 1e6
}

fn cells(values: &[String]) -> String {
    let tds: String = values.iter().map(|v| format!("<td>{}</td>", esc(v))).collect();
    format!("<tr>{tds}</tr>\n")
}

fn header(names: &[&str]) -> String {
    let ths: String = names.iter().map(|n| format!("<th>{}</th>", esc(n))).collect();
    format!("<tr>{ths}</tr>\n")
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.4}"))
}

fn date(day: i64) -> String {
    rfc3339(Some(day.saturating_mul(DAY_NS))).map_or_else(|| day.to_string(), |s| s[..10].to_string())
}

/// The page.
pub fn html(r: &JournalReport) -> String {
    let s = &r.summary;
    let mut summary = String::new();
    for (k, v) in [
        (
            "Period",
            format!("{} to {}", r.since.as_deref().unwrap_or("the beginning"), r.until.as_deref().unwrap_or("now")),
        ),
        ("Journal", r.source.clone()),
        ("PnL (USDC)", s.pnl.to_string()),
        ("Realized (USDC)", s.realized.to_string()),
        ("Marking", r.marking.to_string()),
        ("Fees paid (USDC)", s.fees.to_string()),
        ("Notional traded (USDC)", s.notional.to_string()),
        ("Fills (maker)", format!("{} ({})", s.fills, s.maker_fills)),
        ("Max drawdown (USDC)", s.max_drawdown.to_string()),
        ("Sharpe", ratio(r.ratios.sharpe)),
        ("Sortino", ratio(r.ratios.sortino)),
        ("Calmar", ratio(r.ratios.calmar)),
        ("Annualized ratios", r.ratios_note.clone().unwrap_or_else(|| "from daily PnL, 365 days a year".into())),
        ("Days", r.ratios.days.to_string()),
        ("Hit rate (days)", ratio(r.hit_rate)),
        ("First fill", rfc3339(s.first_ns).unwrap_or_else(|| "none".into())),
        ("Last fill", rfc3339(s.last_ns).unwrap_or_else(|| "none".into())),
    ] {
        summary.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(&v)));
    }
    let mut unbooked = String::new();
    if !r.unbooked.is_empty() {
        summary.push_str(&format!(
            "<tr><th>Not booked</th><td>{} fills or operations the ledger refused (listed below)</td></tr>\n",
            r.unbooked.len()
        ));
        unbooked.push_str("<h2>Not booked</h2>\n<ul id=\"unbooked\">\n");
        for u in r.unbooked.iter().take(UNBOOKED_SHOWN) {
            unbooked.push_str(&format!("<li>{}</li>\n", esc(u)));
        }
        unbooked.push_str("</ul>\n");
        if r.unbooked.len() > UNBOOKED_SHOWN {
            unbooked.push_str(&format!(
                "<p>The first {UNBOOKED_SHOWN} of {}; report.json lists every one.</p>\n",
                r.unbooked.len()
            ));
        }
    }
    let first_day = s.days.first().map_or(0, |d| d.day);
    // Equity at each day's end, from 0 at the period's start.
    let equity: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
        .chain(s.days.iter().map(|d| ((d.day - first_day + 1) as f64, usdc(d.equity))))
        .collect();
    let mut peak = f64::MIN;
    let drawdown: Vec<(f64, f64)> = equity
        .iter()
        .map(|&(x, e)| {
            peak = peak.max(e);
            (x, e - peak)
        })
        .collect();
    let x_max = equity.last().map_or(1.0, |p| p.0).max(1.0);
    let eq = svg_chart_over(
        "days",
        "Equity at each day's end",
        x_max,
        bounds(equity.iter().map(|p| p.1).chain([0.0])),
        "USDC",
        |c| {
            let _ = c.draw_series(LineSeries::new(equity.iter().copied(), &RGBColor(30, 90, 200)));
            let _ = c.draw_series(equity.iter().map(|&(x, y)| Circle::new((x, y), 3, RGBColor(30, 90, 200).filled())));
        },
    );
    let dd = svg_chart_over(
        "days",
        "Drawdown at each day's end",
        x_max,
        bounds(drawdown.iter().map(|p| p.1).chain([0.0])),
        "USDC",
        |c| {
            let _ = c.draw_series(
                AreaSeries::new(drawdown.iter().copied(), 0.0, RGBColor(200, 30, 30).mix(0.3))
                    .border_style(RGBColor(200, 30, 30)),
            );
        },
    );
    let mut days = header(&["Day (UTC)", "Fills", "Realized", "PnL", "Equity"]);
    for d in &s.days {
        days.push_str(&cells(&[
            date(d.day),
            d.fills.to_string(),
            d.realized.to_string(),
            d.pnl.to_string(),
            d.equity.to_string(),
        ]));
    }
    let mut strategies =
        header(&["Strategy", "Fills (maker)", "Failed", "Notional", "Fees", "Realized", "PnL", "Approved", "Rejected"]);
    let mut markets = header(&["Strategy", "Market", "Fills", "Notional", "Fees", "Realized", "PnL"]);
    let mut positions = header(&["Strategy", "Market", "Token", "Shares", "Cost", "Mark", "Unrealized"]);
    for l in &s.strategies {
        let name = format!("{}/{}", l.namespace, l.strategy);
        let d = r.decisions.get(&name).cloned().unwrap_or_default();
        let rejected: Vec<String> = d.rejected.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        strategies.push_str(&cells(&[
            name.clone(),
            format!("{} ({})", l.fills, l.maker_fills),
            l.failed_fills.to_string(),
            l.notional.to_string(),
            l.fees.to_string(),
            l.realized.to_string(),
            l.pnl.to_string(),
            d.approved.to_string(),
            rejected.join(", "),
        ]));
        for m in &l.markets {
            markets.push_str(&cells(&[
                name.clone(),
                m.market.clone(),
                m.fills.to_string(),
                m.notional.to_string(),
                m.fees.to_string(),
                m.realized.to_string(),
                m.pnl.to_string(),
            ]));
        }
        for p in &l.positions {
            positions.push_str(&cells(&[
                name.clone(),
                p.market.clone(),
                p.token.clone(),
                p.size.to_string(),
                p.cost.to_string(),
                p.mark.to_string(),
                p.unrealized.to_string(),
            ]));
        }
    }
    let mut ab = String::new();
    if let Some(x) = &r.ab {
        ab.push_str("<h2>A/B</h2>\n<table id=\"ab\">\n");
        for (k, v) in [
            ("Arms", format!("A = {}, B = {}", x.a, x.b)),
            ("Decision", x.decision.clone()),
            ("Pairs (slots of {} s)", format!("{} (burn-in {}, at most {})", x.pairs, x.burn_in, x.max_pairs)),
            ("Always-valid p-value", format!("{:.6}", x.p_value)),
            ("Mean A − B per slot (USDC)", format!("{:.6}", x.mean_difference_usdc)),
            ("PnL A / B (USDC)", format!("{} / {}", x.a_pnl, x.b_pnl)),
            ("Stopping rule", format!("mSPRT, α = {}, tuned to {} USDC per slot", x.alpha, x.effect_usdc)),
        ] {
            let k = k.replace("{}", &x.slot_s.to_string());
            ab.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", esc(&k), esc(&v)));
        }
        ab.push_str("</table>\n");
    } else if let Some(e) = &r.ab_error {
        ab.push_str(&format!("<h2>A/B</h2>\n<p id=\"ab\">No comparison: {}</p>\n", esc(e)));
    }
    let mut trades = header(&[
        "Time (UTC)",
        "Strategy",
        "Market",
        "Token",
        "Side",
        "Price",
        "Shares",
        "Fee",
        "Liquidity",
        "Status",
        "Trace",
    ]);
    let shown = r.trades.len().min(TRADES_SHOWN);
    for t in r.trades.iter().rev().take(TRADES_SHOWN) {
        trades.push_str(&cells(&[
            rfc3339(Some(t.ts_ns)).unwrap_or_default(),
            format!("{}/{}", t.namespace, t.strategy),
            t.market.clone(),
            t.token.clone(),
            t.side.clone(),
            t.price.clone(),
            t.size.clone(),
            t.fee.clone(),
            t.liquidity.clone(),
            t.status.clone(),
            t.trace_id.clone().unwrap_or_default(),
        ]));
    }
    let trades_note = if shown < r.trades.len() {
        format!("<p>The newest {shown} of {} fills; report.json lists every one.</p>\n", r.trades.len())
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>polyfleet journal report</title>\n\
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}\
th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f4f4f4;white-space:nowrap}}td{{font-variant-numeric:tabular-nums;word-break:break-all}}</style></head><body>\n\
<h1>Trade journal report</h1>\n<h2>Summary</h2>\n<table id=\"summary\">\n{summary}</table>\n\
{ab}<h2>Equity</h2>\n<div id=\"equity\">{eq}</div>\n<h2>Drawdown</h2>\n<div id=\"drawdown\">{dd}</div>\n\
<h2>Returns by day</h2>\n<table id=\"days\">\n{days}</table>\n\
<h2>Strategies</h2>\n<table id=\"strategies\">\n{strategies}</table>\n\
<h2>Markets</h2>\n<table id=\"markets\">\n{markets}</table>\n\
<h2>Open positions</h2>\n<table id=\"positions\">\n{positions}</table>\n\
<h2>Trades</h2>\n{trades_note}<table id=\"trades\">\n{trades}</table>\n{unbooked}</body></html>\n"
    )
}

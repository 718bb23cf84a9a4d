//! The backtest report as one self-contained HTML page, a tearsheet: the metrics and each
//! strategy's counters; interactive charts ([`crate::charts`]) of the equity (total and per
//! strategy), drawdown, exposure, returns per period and the fills on the price of each traded
//! token; per-token breakdown; each strategy's attribution, markouts and inventory
//! ([`crate::html_analytics`]), forecasts ([`crate::html_forecasts`]) and drift
//! ([`crate::html_drift`]); and the trade list. plotly.js is embedded: the page opens offline.

use std::collections::BTreeMap;

use plotly::common::MarkerSymbol;
use polyfleet_core::{Money, Price, Rounding, Side, TokenId};

use crate::charts::{Figure, XAxis, area, line, points, signed_bars};
use crate::journal::Journal;
use crate::report::{Report, thin};

/// Points drawn of a curve (the charts zoom into these; report.json and the journal hold all).
const PLOT_POINTS: usize = 4000;
/// Tokens offered in the fills chart's dropdown (the most traded first).
const FILL_TOKENS: usize = 25;
/// Trades listed on the page (the newest).
pub const TRADES_SHOWN: usize = 2000;

pub(crate) fn usdc(m: Money) -> f64 {
    m.micros() as f64 / 1e6
}

fn px(p: Price) -> f64 {
    f64::from(p.ticks()) / f64::from(Price::SCALE)
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A token id's last 8 digits, as the page names tokens.
pub(crate) fn short(t: &str) -> String {
    format!("…{}", &t[t.len().saturating_sub(8)..])
}

/// The page's head: title, style, plotly.js, and the trade list's filter.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n\
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}\
th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f4f4f4;white-space:nowrap}}\
td{{font-variant-numeric:tabular-nums;word-break:break-all}}.chart{{margin:1em 0}}\
nav a{{margin-right:1em}}input.filter{{margin:0.5em 0;padding:4px;width:30em}}</style>\n{}\n\
<script>function filterRows(input,id){{var q=input.value.toLowerCase();\
var rows=document.getElementById(id).getElementsByTagName('tr');\
for(var i=1;i<rows.length;i++){{rows[i].style.display=rows[i].textContent.toLowerCase().indexOf(q)<0?'none':'';}}}}</script>\
</head><body>\n",
        esc(title),
        crate::charts::script()
    )
}

/// A table row of cells.
pub(crate) fn cells(values: &[String]) -> String {
    let tds: String = values.iter().map(|v| format!("<td>{}</td>", esc(v))).collect();
    format!("<tr>{tds}</tr>\n")
}

/// A table's header row.
pub(crate) fn header(names: &[&str]) -> String {
    let ths: String = names.iter().map(|n| format!("<th>{}</th>", esc(n))).collect();
    format!("<tr>{ths}</tr>\n")
}

/// A trade table with a filter box above it.
pub(crate) fn filtered_table(id: &str, rows: &str) -> String {
    format!(
        "<input class=\"filter\" placeholder=\"Filter rows (strategy, market, token, side…)\" oninput=\"filterRows(this,'{id}')\">\n\
<table id=\"{id}\">\n{rows}</table>\n"
    )
}

/// An A/B comparison's result as a table.
pub(crate) fn ab_table(id: &str, x: &crate::journal_ab::AbResult) -> String {
    let mut t = format!("<table id=\"{}\">\n", esc(id));
    for (k, v) in [
        ("Arms".to_string(), format!("A = {}, B = {}", x.a, x.b)),
        ("Decision".into(), x.decision.clone()),
        (
            format!("Pairs (one a {})", x.pair_unit()),
            format!("{} (burn-in {}, at most {})", x.pairs, x.burn_in, x.max_pairs),
        ),
        ("Always-valid p-value".into(), format!("{:.6}", x.p_value)),
        ("Mean A − B a pair (USDC)".into(), format!("{:.6}", x.mean_difference_usdc)),
        ("PnL A / B (USDC)".into(), format!("{} / {}", x.a_pnl, x.b_pnl)),
        ("Stopping rule".into(), format!("mSPRT, α = {}, tuned to {} USDC a pair", x.alpha, x.effect_usdc)),
    ] {
        t.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", esc(&k), esc(&v)));
    }
    t.push_str("</table>\n");
    t
}

/// The run's A/B experiments.
fn experiments(r: &Report) -> String {
    if r.experiments.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2 id=\"experiments\">Experiments</h2>\n<p>Each experiment's arms trade disjoint halves of the \
Markets they select; their PnL per slot is compared in time order by the always-valid sequential test (mSPRT) \
with the stopping rule they declare.</p>\n",
    );
    for x in &r.experiments {
        out.push_str(&format!("<h3>{}</h3>\n", esc(&x.name)));
        match (&x.result, &x.error) {
            (Some(res), _) => out.push_str(&ab_table(&format!("experiment-{}", x.name), res)),
            (None, e) => out.push_str(&format!("<p>No comparison: {}</p>\n", esc(e.as_deref().unwrap_or("")))),
        }
    }
    out
}

fn row(k: &str, v: &str) -> String {
    format!("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v))
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.4}"))
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn ts(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// Equity (total and per strategy), drawdown and exposure over time.
fn curves(j: &Journal) -> String {
    let idx = thin(j.samples.len(), PLOT_POINTS);
    let x: Vec<String> = idx.iter().map(|&i| crate::charts::time(ts(j.samples[i].ts_ns))).collect();
    let mut equity = Figure::new("equity", "Equity (PnL so far, marked)", ("time (UTC)", XAxis::Time), "USDC");
    equity.add(line("total", x.clone(), idx.iter().map(|&i| usdc(j.samples[i].equity)).collect(), 0));
    if j.strategies.len() > 1 {
        for (k, s) in j.strategies.iter().enumerate() {
            let y = idx.iter().map(|&i| j.samples[i].per_strategy.get(k).copied().map_or(0.0, usdc)).collect();
            equity.add(line(&s.name, x.clone(), y, k + 1));
        }
    }
    let mut peak = i64::MIN;
    let drawdown_all: Vec<i64> = j
        .samples
        .iter()
        .map(|s| {
            peak = peak.max(s.equity.micros());
            s.equity.micros() - peak
        })
        .collect();
    let mut drawdown = Figure::new("drawdown", "Drawdown", ("time (UTC)", XAxis::Time), "USDC").height(300);
    drawdown.add(area("drawdown", x.clone(), idx.iter().map(|&i| drawdown_all[i] as f64 / 1e6).collect(), 1));
    let mut exposure =
        Figure::new("exposure", "Exposure (cost of open positions)", ("time (UTC)", XAxis::Time), "USDC").height(300);
    exposure.add(area("exposure", x, idx.iter().map(|&i| usdc(j.samples[i].exposure)).collect(), 3));
    format!(
        "<h2>Equity</h2>\n{}<h2>Drawdown</h2>\n{}<h2>Exposure</h2>\n{}",
        equity.html(),
        drawdown.html(),
        exposure.html()
    )
}

/// The shortest period for returns that gives at most 240 bars over `span_ns`.
fn period_ns(span_ns: u64) -> (u64, &'static str) {
    const S: u64 = 1_000_000_000;
    [(S, "second"), (10 * S, "10 seconds"), (60 * S, "minute"), (300 * S, "5 minutes"), (3600 * S, "hour")]
        .into_iter()
        .find(|(p, _)| span_ns / p <= 240)
        .unwrap_or((86_400 * S, "day (UTC)"))
}

/// The equity's change over each period, from the samples (fixed point until drawn).
fn returns(j: &Journal) -> String {
    let (Some(first), Some(last)) = (j.samples.first(), j.samples.last()) else {
        return String::new();
    };
    let (period, name) = period_ns(last.ts_ns - first.ts_ns);
    let mut ends: BTreeMap<u64, Money> = BTreeMap::new();
    for s in &j.samples {
        ends.insert(s.ts_ns / period, s.equity);
    }
    let mut prev = Money::ZERO;
    let (mut x, mut y) = (vec![], vec![]);
    for (p, e) in ends {
        x.push(crate::charts::time(ts(p * period)));
        y.push(usdc(e.checked_sub(prev).unwrap_or(Money::ZERO)));
        prev = e;
    }
    let mut f =
        Figure::new("returns", &format!("Returns per {name}"), ("period start (UTC)", XAxis::Time), "USDC").height(320);
    f.add(signed_bars("PnL", x, y));
    format!("<h2>Returns per {name}</h2>\n{}", f.html())
}

/// The most traded tokens' mid prices with their fills (buys ▲, sells ▼), one token at a time
/// through the dropdown.
fn fills_chart(j: &Journal) -> String {
    let mut counts: BTreeMap<TokenId, usize> = BTreeMap::new();
    for f in &j.fills {
        *counts.entry(f.token).or_default() += 1;
    }
    let mut tokens: Vec<(TokenId, usize)> = counts.into_iter().collect();
    tokens.sort_by_key(|(t, n)| (std::cmp::Reverse(*n), *t));
    tokens.truncate(FILL_TOKENS);
    if tokens.is_empty() {
        return "<h2>Fills</h2>\n<p id=\"fills\">No fills.</p>\n".into();
    }
    let mut f =
        Figure::new("fills", "Fills on the mid price (pick a token)", ("time (UTC)", XAxis::Time), "price").height(420);
    let mut entries = vec![];
    let mut series = 0;
    for (k, (token, n)) in tokens.iter().enumerate() {
        let id = token.to_string();
        let visible = k == 0;
        let mut shown = vec![];
        let mids = j.prices.get(token).map(Vec::as_slice).unwrap_or_default();
        let idx = thin(mids.len(), PLOT_POINTS);
        let mut mid = line(
            &format!("mid {}", short(&id)),
            idx.iter().map(|&i| crate::charts::time(ts(mids[i].0))).collect(),
            idx.iter().map(|&i| px(mids[i].1)).collect(),
            5,
        );
        if !visible {
            mid = mid.visible(plotly::common::Visible::False);
        }
        f.add(mid);
        shown.push(series);
        series += 1;
        for (side, colour, symbol) in
            [(Side::Buy, "#2ca02c", MarkerSymbol::TriangleUp), (Side::Sell, "#d62728", MarkerSymbol::TriangleDown)]
        {
            let fills: Vec<_> = j.fills.iter().filter(|x| x.token == *token && x.side == side).collect();
            let text = fills
                .iter()
                .map(|x| {
                    let who = j.strategies.get(x.strategy).map_or("?", |s| s.name.as_str());
                    format!(
                        "{who}: {} {} @ {} ({}, fee {})",
                        side_name(side),
                        x.size,
                        x.price,
                        if x.maker { "maker" } else { "taker" },
                        x.fee
                    )
                })
                .collect();
            let mut p = points(
                &format!("{} {}", if side == Side::Buy { "buys" } else { "sells" }, short(&id)),
                fills.iter().map(|x| crate::charts::time(ts(x.ts_ns))).collect(),
                fills.iter().map(|x| px(x.price)).collect(),
                text,
                colour,
                symbol,
            );
            if !visible {
                p = p.visible(plotly::common::Visible::False);
            }
            f.add(p);
            shown.push(series);
            series += 1;
        }
        entries.push((format!("{} ({n} fills)", short(&id)), shown));
    }
    f.choices("token", &entries, series);
    format!("<h2>Fills</h2>\n{}", f.html())
}

/// Per token and strategy: fills, buys and sells, notional, fees.
fn tokens_table(j: &Journal) -> String {
    #[derive(Default)]
    struct Line {
        fills: u64,
        maker: u64,
        bought: i128,
        sold: i128,
        notional: Money,
        fees: Money,
    }
    let mut lines: BTreeMap<(usize, TokenId), Line> = BTreeMap::new();
    for f in &j.fills {
        let l = lines.entry((f.strategy, f.token)).or_default();
        l.fills += 1;
        l.maker += u64::from(f.maker);
        match f.side {
            Side::Buy => l.bought += i128::from(f.size.micros()),
            Side::Sell => l.sold += i128::from(f.size.micros()),
        }
        l.notional = l
            .notional
            .checked_add(f.price.notional(f.size, Rounding::Nearest).unwrap_or(Money::ZERO))
            .unwrap_or(l.notional);
        l.fees = l.fees.checked_add(f.fee).unwrap_or(l.fees);
    }
    let mut rows = header(&["Strategy", "Token", "Fills (maker)", "Bought", "Sold", "Net shares", "Notional", "Fees"]);
    let shares = |m: i128| format!("{:.6}", m as f64 / 1e6);
    for ((s, t), l) in &lines {
        rows.push_str(&cells(&[
            j.strategies.get(*s).map_or_else(|| s.to_string(), |x| x.name.clone()),
            t.to_string(),
            format!("{} ({})", l.fills, l.maker),
            shares(l.bought),
            shares(l.sold),
            shares(l.bought - l.sold),
            l.notional.to_string(),
            l.fees.to_string(),
        ]));
    }
    format!("<h2>Per token</h2>\n{}", filtered_table("tokens", &rows))
}

/// The newest fills.
fn trades_table(j: &Journal) -> String {
    let mut rows = header(&["Time (UTC)", "Strategy", "Token", "Side", "Price", "Shares", "Fee", "Liquidity"]);
    for f in j.fills.iter().rev().take(TRADES_SHOWN) {
        rows.push_str(&cells(&[
            crate::charts::time(ts(f.ts_ns)),
            j.strategies.get(f.strategy).map_or_else(|| f.strategy.to_string(), |x| x.name.clone()),
            f.token.to_string(),
            side_name(f.side).into(),
            f.price.to_string(),
            f.size.to_string(),
            f.fee.to_string(),
            if f.maker { "maker" } else { "taker" }.into(),
        ]));
    }
    let note = if j.fills.len() > TRADES_SHOWN {
        format!("<p>The newest {TRADES_SHOWN} of {} fills.</p>\n", j.fills.len())
    } else {
        String::new()
    };
    format!("<h2>Trades</h2>\n{note}{}", filtered_table("trades", &rows))
}

/// The page.
pub fn html(r: &Report) -> String {
    let j = &r.journal;
    let first = j.samples.first().map_or(0, |s| s.ts_ns);
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
    let trading = crate::html_analytics::section(
        &r.strategies
            .iter()
            .filter(|s| s.analytics.fill_ratio.orders_posted > 0 || s.analytics.markouts.is_some())
            .map(|s| (s.name.clone(), &s.analytics))
            .collect::<Vec<_>>(),
        j.samples.last().map_or(first, |s| s.ts_ns),
    );
    format!(
        "{head}<h1>Backtest of {rec}</h1>\n{partial}{overrides}\n\
<nav><a href=\"#metrics\">Metrics</a><a href=\"#equity\">Equity</a><a href=\"#returns\">Returns</a>\
<a href=\"#fills\">Fills</a><a href=\"#tokens\">Per token</a><a href=\"#trades\">Trades</a></nav>\n\
<h2>Metrics</h2>\n<table id=\"metrics\">\n{metrics}</table>\n\
<h2>Strategies</h2>\n<table id=\"strategies\"><tr><th>Strategy</th><th>PnL</th><th>Fees</th><th>Signals</th><th>Approved</th>\
<th>Orders</th><th>Rejections</th><th>Positions</th></tr>\n{strategies}</table>\n\
{experiments}{curves}{returns}{fills}{tokens}{trading}{forecasts}{drift}{trades}</body></html>\n",
        experiments = experiments(r),
        head = head(&format!("polyfleet backtest: {}", r.input.recording)),
        rec = esc(&r.input.recording),
        curves = curves(j),
        returns = returns(j),
        fills = fills_chart(j),
        tokens = tokens_table(j),
        forecasts = crate::html_forecasts::section(&r.strategies),
        drift = crate::html_drift::section(&r.strategies),
        trades = trades_table(j),
    )
}

/// The frame accounting, saying so when it is a conversion's (every catalog token served).
fn frame_outcomes(input: &crate::report::Input) -> String {
    match &input.converted_from {
        Some(src) => format!("{} (normalized from {src} for every catalog token)", input.frame_outcomes.describe()),
        None => input.frame_outcomes.describe(),
    }
}

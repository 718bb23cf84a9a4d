//! The journal report ([`crate::journal_report`]) as one self-contained HTML page, in the
//! backtest report's style: the summary, interactive charts ([`crate::charts`]) of the equity at
//! each day's end, its drawdown, PnL per day, per strategy and per market, with their tables;
//! open positions, the risk gateway's decisions, and the trade list with a filter (its newest
//! [`TRADES_SHOWN`] rows; the JSON has every one). plotly.js is embedded: the page opens offline.

use polyfleet_core::Money;

use crate::charts::{Figure, XAxis, area, line, signed_bars};
use crate::html::{cells, esc, filtered_table, head, header, usdc};
use crate::journal_report::{JournalReport, rfc3339};

/// Trades listed on the page.
pub const TRADES_SHOWN: usize = 2000;

/// Refused fills and operations listed on the page.
const UNBOOKED_SHOWN: usize = 50;

/// Markets drawn on the PnL-per-market chart (the largest gains and losses first).
const MARKET_BARS: usize = 40;

const DAY_NS: i64 = 86_400_000_000_000;

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
    // Equity at each day's end, from 0 at the period's start.
    let first_day = s.days.first().map_or(0, |d| d.day);
    let x: Vec<String> = std::iter::once(first_day)
        .chain(s.days.iter().map(|d| d.day + 1))
        .map(|d| crate::charts::time(d.saturating_mul(DAY_NS)))
        .collect();
    let equity: Vec<f64> = std::iter::once(0.0).chain(s.days.iter().map(|d| usdc(d.equity))).collect();
    let mut peak = f64::MIN;
    let drawdown: Vec<f64> = equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            e - peak
        })
        .collect();
    let mut eq = Figure::new("equity", "Equity at each day's end", ("time (UTC)", XAxis::Time), "USDC");
    eq.add(line("equity", x.clone(), equity, 0).mode(plotly::common::Mode::LinesMarkers));
    let mut dd = Figure::new("drawdown", "Drawdown at each day's end", ("time (UTC)", XAxis::Time), "USDC").height(300);
    dd.add(area("drawdown", x, drawdown, 1));
    let mut by_day = Figure::new("returns", "PnL per day (UTC)", ("day (UTC)", XAxis::Time), "USDC").height(320);
    by_day.add(signed_bars(
        "PnL",
        s.days.iter().map(|d| crate::charts::time(d.day.saturating_mul(DAY_NS))).collect(),
        s.days.iter().map(|d| usdc(d.pnl)).collect(),
    ));
    let mut per_strategy =
        Figure::new("strategy-pnl", "PnL per strategy", ("strategy", XAxis::Category), "USDC").height(320);
    per_strategy.add(signed_bars(
        "PnL",
        s.strategies.iter().map(|l| format!("{}/{}", l.namespace, l.strategy)).collect(),
        s.strategies.iter().map(|l| usdc(l.pnl)).collect(),
    ));
    let mut market_pnl: Vec<(String, Money)> = s
        .strategies
        .iter()
        .flat_map(|l| l.markets.iter().map(move |m| (format!("{} ({})", m.market, l.strategy), m.pnl)))
        .collect();
    market_pnl.sort_by_key(|(name, pnl)| (std::cmp::Reverse(pnl.micros().unsigned_abs()), name.clone()));
    market_pnl.truncate(MARKET_BARS);
    let mut per_market = Figure::new(
        "market-pnl",
        &format!("PnL per market (the {MARKET_BARS} largest)"),
        ("market (strategy)", XAxis::Category),
        "USDC",
    )
    .height(380);
    per_market.add(signed_bars(
        "PnL",
        market_pnl.iter().map(|(n, _)| n.clone()).collect(),
        market_pnl.iter().map(|(_, p)| usdc(*p)).collect(),
    ));
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
        ab.push_str(&format!("<h2>A/B</h2>\n{}", crate::html::ab_table("ab", x)));
    } else if let Some(e) = &r.ab_error {
        ab.push_str(&format!("<h2>A/B</h2>\n<p id=\"ab\">No comparison: {}</p>\n", esc(e)));
    }
    let twins = twins_section(r);
    let calibration = calibration_section(r);
    let attribution = attribution_section(r);
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
        "{head}<h1>Trade journal report</h1>\n\
<nav><a href=\"#summary\">Summary</a><a href=\"#equity\">Equity</a><a href=\"#days\">Returns by day</a>\
<a href=\"#strategies\">Strategies</a><a href=\"#markets\">Markets</a><a href=\"#positions\">Positions</a><a href=\"#trades\">Trades</a></nav>\n\
<h2>Summary</h2>\n<table id=\"summary\">\n{summary}</table>\n\
{ab}{twins}<h2>Equity</h2>\n{eq}<h2>Drawdown</h2>\n{dd}\
<h2>Returns by day</h2>\n{by_day}<table id=\"days\">\n{days}</table>\n\
<h2>Strategies</h2>\n{per_strategy}<table id=\"strategies\">\n{strategies}</table>\n\
<h2>Markets</h2>\n{per_market}{markets}\
<h2>Open positions</h2>\n<table id=\"positions\">\n{positions}</table>\n{attribution}{calibration}\
<h2>Trades</h2>\n{trades_note}{trades}{unbooked}</body></html>\n",
        head = head("polyfleet journal report"),
        eq = eq.html(),
        dd = dd.html(),
        by_day = by_day.html(),
        per_strategy = per_strategy.html(),
        per_market = per_market.html(),
        markets = filtered_table("markets", &markets),
        trades = filtered_table("trades", &trades),
    )
}

/// The attribution and markouts against the journaled mids, per strategy, as on the backtest
/// page; or why there are none.
fn attribution_section(r: &JournalReport) -> String {
    if r.analytics.is_empty() {
        let why = if r.mids == 0 {
            "the journal holds no mids (the journal agent keeps them with --mid-interval-ms above 0)"
        } else {
            "no strategy traded in the period"
        };
        return format!("<h2>Attribution and quoting</h2>\n<p id=\"attribution\">No attribution: {why}.</p>\n");
    }
    let list: Vec<(String, &crate::analytics::StrategyAnalytics)> =
        r.analytics.iter().map(|(name, a)| (name.clone(), a)).collect();
    let last = r.summary.last_ns.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    format!(
        "{}<p>Against {} journaled mids: a token's mid at any instant is the last one journaled at or before it.</p>\n",
        crate::html_analytics::section(&list, last),
        r.mids
    )
}

/// Most twin pairs listed on the page (report.json lists every one).
const PAIRS_SHOWN: usize = 2_000;

/// The shadow-against-live section: the totals and the pairs, or why there is none.
fn twins_section(r: &JournalReport) -> String {
    let Some(t) = &r.twins else {
        return r
            .twins_error
            .as_ref()
            .map(|e| format!("<h2>Shadow and live</h2>\n<p id=\"twins\">No comparison: {}</p>\n", esc(e)))
            .unwrap_or_default();
    };
    let c = &t.comparison;
    let q = |m: u64| polyfleet_core::Quantity::from_micros(m).to_string();
    let usdc = |m: i64| polyfleet_core::Money::from_micros(m).to_string();
    let totals = [
        ("Shadow", t.shadow.clone()),
        ("Live", t.live.clone()),
        ("Orders paired", c.paired.to_string()),
        ("Asked the same (price and size)", c.same_orders.to_string()),
        ("Only the shadow's", c.only_shadow.to_string()),
        ("Only the live twin's", c.only_live.to_string()),
        (
            "Both filled / only shadow / only live",
            format!("{} / {} / {}", c.both_filled, c.only_shadow_filled, c.only_live_filled),
        ),
        ("Shares filled, shadow / live", format!("{} / {}", q(c.shadow_filled_micros), q(c.live_filled_micros))),
        ("Live slippage over shares both filled (USDC, + is worse)", usdc(c.slippage_micros)),
        ("Live fees less the shadow's (USDC)", usdc(c.fee_difference_micros)),
    ];
    let mut summary = String::new();
    for (k, v) in totals {
        summary.push_str(&cells(&[k.to_string(), v]));
    }
    let mut rows = header(&[
        "Event",
        "Token",
        "Side",
        "Shadow order",
        "Live order",
        "Same",
        "Shadow filled",
        "Live filled",
        "Slippage",
        "Fee difference",
    ]);
    for p in c.pairs.iter().take(PAIRS_SHOWN) {
        rows.push_str(&cells(&[
            p.cause_seq.to_string(),
            p.token.clone(),
            p.side.to_string(),
            p.shadow.clone(),
            p.live.clone(),
            if p.same_order { "yes" } else { "no" }.to_string(),
            q(p.shadow_filled_micros),
            q(p.live_filled_micros),
            usdc(p.slippage_micros),
            usdc(p.fee_difference_micros),
        ]));
    }
    let note = if c.pairs.len() > PAIRS_SHOWN {
        format!("<p>The first {PAIRS_SHOWN} of {} pairs; report.json lists every one.</p>\n", c.pairs.len())
    } else {
        String::new()
    };
    format!(
        "<h2>Shadow and live</h2>\n<table id=\"twins\">\n{summary}</table>\n{note}{}",
        filtered_table("twin-pairs", &rows)
    )
}

/// The calibration section: per strategy, the probabilities its model-sized orders carried,
/// scored once their markets resolved; empty when no such order's market resolved.
fn calibration_section(r: &JournalReport) -> String {
    if r.calibration.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Calibration</h2>\n<div id=\"calibration\">\n<p>Each strategy's last model-sized order on a token before \
its market resolved: the model's probability that the token pays 1, scored against the outcome (all model versions \
together: the Strategy's status has them per version); the market's Brier scores the order's price.</p>\n",
    );
    for (strategy, scores) in &r.calibration {
        out.push_str(&format!("<h3>{}</h3>\n{}", esc(strategy), crate::html_forecasts::scores_block(strategy, scores)));
    }
    out.push_str("</div>\n");
    out
}

//! Statistics on a journal whose numbers are worked out by hand, and the sweep grid, overrides
//! and ranking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_backtest::journal::{Journal, Sample};
use polyfleet_backtest::stats::stats;
use polyfleet_backtest::sweep::{apply, grid, parse, rank};
use polyfleet_core::Money;
use polyfleet_core::config::{RiskCaps, StrategyConfig, StrategyParams, StrategyType};
use polyfleet_core::strategy::arbitrage::{ArbParams, LegOrderType};
use polyfleet_core::wire::Mode;

fn journal(equity_usdc: &[i64]) -> Journal {
    let mut j = Journal::new(vec!["s".into()]);
    j.samples = equity_usdc
        .iter()
        .enumerate()
        .map(|(i, e)| Sample {
            ts_ns: i as u64 * 1_000_000_000,
            equity: Money::from_micros(e * 1_000_000),
            exposure: Money::ZERO,
            per_strategy: vec![Money::from_micros(e * 1_000_000)],
        })
        .collect();
    j
}

/// A journal with one sample every `step_ns`.
fn journal_every(equity_usdc: &[i64], step_ns: u64) -> Journal {
    let mut j = journal(equity_usdc);
    for (i, s) in j.samples.iter_mut().enumerate() {
        s.ts_ns = i as u64 * step_ns;
    }
    j
}

const DAY: u64 = 86_400_000_000_000;

#[test]
fn drawdown_hit_rate_and_profit_factor_and_no_annual_ratio_from_seconds() {
    // Changes +10, -5, +10, 0, -20, +15 on 100 USDC of capital, one per second.
    let s = stats(&journal(&[0, 10, 5, 15, 15, -5, 10]), Money::from_micros(100_000_000));
    assert_eq!(s.pnl_usdc, "10");
    // Nothing realized: all of it is marks, and the report names the marking rule.
    assert_eq!((s.realized_usdc.as_str(), s.marked_usdc.as_str()), ("0", "10"));
    assert!(s.marking.contains("best bid"));
    assert_eq!(s.max_drawdown_usdc, "20");
    assert_eq!(s.hit_rate, Some(0.6)); // 3 gains of 5 periods that moved
    assert_eq!(s.profit_factor, Some(1.4)); // 35 / 25
    assert_eq!(s.duration_s, 6.0);
    // Six seconds are no year: no Sharpe, Sortino or Calmar, and the report says why.
    assert_eq!((s.sharpe, s.sortino, s.calmar), (None, None, None));
    let note = s.ratios_note.unwrap();
    assert!(note.contains("0.1 minutes") && note.contains("0 daily returns") && note.contains("at least 30"), "{note}");
    assert_eq!(s.brier, None, "no directional strategy: no Brier score");
}

#[test]
fn annualized_ratios_come_from_daily_returns() {
    // 40 days, one sample every 6 hours; the equity moves once a day (+3, +3, -2, repeated, on
    // 100 USDC), so the daily returns are exactly those moves.
    let moves = [3i64, 3, -2];
    let mut equity = vec![0i64];
    for d in 0..40 {
        let e = equity.last().unwrap() + moves[d % 3];
        equity.extend([e, e, e, e]);
    }
    let j = journal_every(&equity, DAY / 4);
    let s = stats(&j, Money::from_micros(100_000_000));
    let r: Vec<f64> = (0..40).map(|d| moves[d % 3] as f64 / 100.0).collect();
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!((s.sharpe.unwrap() - mean / sd * 365f64.sqrt()).abs() < 1e-5, "{:?}", s.sharpe);
    let down = (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    assert!((s.sortino.unwrap() - mean / down * 365f64.sqrt()).abs() < 1e-5);
    // Calmar: the return over 40 days, annualized, over the largest drawdown (2 USDC).
    let end = *equity.last().unwrap() as f64 / 100.0;
    let calmar = end * (365.0 / 40.0) / 0.02;
    assert!((s.calmar.unwrap() - calmar).abs() / calmar < 1e-9, "{:?} vs {calmar}", s.calmar);
    assert_eq!(s.ratios_note, None);
    // 29 days are not enough.
    let short = journal_every(&equity[..29 * 4 + 1], DAY / 4);
    let s = stats(&short, Money::from_micros(100_000_000));
    assert_eq!(s.sharpe, None);
    assert!(s.ratios_note.unwrap().contains("29 daily returns"));
}

#[test]
fn a_flat_run_has_no_ratios_rather_than_nonsense() {
    let s = stats(&journal_every(&[0; 200], DAY / 4), Money::from_micros(1_000_000));
    assert_eq!((s.sharpe, s.sortino, s.calmar, s.hit_rate, s.profit_factor), (None, None, None, None, None));
    assert_eq!(s.max_drawdown_usdc, "0");
}

fn arb(edge: u32, order_type: LegOrderType) -> StrategyParams {
    StrategyParams::Arbitrage(ArbParams {
        min_edge_bps: edge,
        max_notional_per_leg_micros: 1_000_000,
        order_type,
        leg_timeout_ms: 2000,
        cooldown_ms: 0,
        sell_back_above_cost: true,
    })
}

fn strategy(name: &str, parameters: StrategyParams) -> StrategyConfig {
    StrategyConfig {
        namespace: "ns".into(),
        name: name.into(),
        risk_policy: "p".into(),
        venue: "v".into(),
        mode: Mode::Paper,
        type_: StrategyType::Arbitrage,
        risk_caps: RiskCaps {
            max_order_size_micros: 1,
            max_order_notional_micros: 1,
            max_gross_exposure_micros: 0,
            capital_micros: 0,
            kelly_budget_micros: 0,
        },
        sets: vec![],
        tokens: vec![],
        quoted: vec![],
        series: vec![],
        parameters,
        drift: None,
        shadow_of: None,
        time_slots: None,
    }
}

#[test]
fn sweeps_make_a_grid_apply_overrides_and_rank() {
    let axes = vec![parse("minEdgeBps=50,100").unwrap(), parse("b.orderType=FOK,FAK").unwrap()];
    assert_eq!(grid(&axes).len(), 4);
    let s = vec![strategy("a", arb(10, LegOrderType::Fok)), strategy("b", arb(10, LegOrderType::Fok))];
    let (out, labels) = apply(&s, &axes, &[1, 1]).unwrap();
    assert_eq!(labels, vec!["minEdgeBps=100", "b.orderType=FAK"]);
    assert_eq!(out[0].parameters, arb(100, LegOrderType::Fok));
    assert_eq!(out[1].parameters, arb(100, LegOrderType::Fak));
    // A swept value the strategy would refuse is refused here, naming it.
    let err = apply(&s, &[parse("minEdgeBps=10000").unwrap()], &[0]).unwrap_err().to_string();
    assert!(err.contains("minEdgeBps=10000") && err.contains("at most 9999"), "{err}");
    assert!(apply(&s, &[parse("minEdgBps=1").unwrap()], &[0]).is_err(), "a typo sweeps nothing: refused");
    assert!(parse("minEdgeBps").is_err() && parse("=1").is_err() && parse("k=").is_err());
    // Higher Sharpe first, runs without one last, PnL breaks ties.
    assert_eq!(rank(&[(Some(1.0), 5), (None, 100), (Some(2.0), 1), (Some(1.0), 7)]), vec![2, 3, 0, 1]);
}

#[test]
fn sweep_axes_that_change_nothing_are_named() {
    use polyfleet_backtest::sweep::without_effect;
    // Two axes of two values: the outcome depends on the first only.
    let points = vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]];
    assert_eq!(without_effect(&points, &["a", "a", "b", "b"]), vec![1]);
    // Both matter: none named; neither matters: both named.
    assert_eq!(without_effect(&points, &["a", "b", "c", "d"]), Vec::<usize>::new());
    assert_eq!(without_effect(&points, &["a", "a", "a", "a"]), vec![0, 1]);
    // One point: nothing to compare, nothing named.
    assert_eq!(without_effect(&[vec![0]], &["a"]), Vec::<usize>::new());
}

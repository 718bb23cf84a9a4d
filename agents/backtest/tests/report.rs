//! Statistics on a journal whose numbers are worked out by hand, and the sweep grid, overrides
//! and ranking.

use polyfleet_backtest::journal::{Journal, Sample};
use polyfleet_backtest::stats::stats;
use polyfleet_backtest::sweep::{apply, grid, parse, rank};
use polyfleet_core::Money;
use polyfleet_core::config::{RiskCaps, StrategyConfig};

fn journal(equity_usdc: &[i64]) -> Journal {
    let mut j = Journal::new(vec!["s".into()]);
    j.samples = equity_usdc
        .iter()
        .enumerate()
        .map(|(i, e)| Sample {
            ts_ns: i as u64 * 1_000_000_000,
            equity: Money::from_micros(e * 1_000_000),
            exposure: Money::ZERO,
        })
        .collect();
    j
}

#[test]
fn drawdown_hit_rate_profit_factor_and_ratios() {
    // Changes +10, -5, +10, 0, -20, +15 on 100 USDC of capital.
    let s = stats(&journal(&[0, 10, 5, 15, 15, -5, 10]), Money::from_micros(100_000_000), 1_000_000_000);
    assert_eq!(s.pnl_usdc, "10");
    assert_eq!(s.max_drawdown_usdc, "20");
    assert_eq!(s.hit_rate, Some(0.6)); // 3 gains of 5 periods that moved
    assert_eq!(s.profit_factor, Some(1.4)); // 35 / 25
    assert_eq!(s.duration_s, 6.0);
    // Returns 0.1, -0.05, 0.1, 0, -0.2, 0.15: mean 0.1/6, sample sd 0.128712..., per year sqrt(31_536_000).
    let r = [0.1f64, -0.05, 0.1, 0.0, -0.2, 0.15];
    let mean = r.iter().sum::<f64>() / 6.0;
    let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    let sharpe = mean / sd * 31_536_000f64.sqrt();
    assert!((s.sharpe.unwrap() - sharpe).abs() < 1e-5, "{:?} vs {sharpe}", s.sharpe);
    let down = (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / 6.0).sqrt();
    assert!((s.sortino.unwrap() - mean / down * 31_536_000f64.sqrt()).abs() < 1e-5);
    // Calmar: (0.1 over 6 s, annualized) / 0.2.
    let calmar = 0.1 * (31_536_000.0 / 6.0) / 0.2;
    assert!((s.calmar.unwrap() - calmar).abs() / calmar < 1e-9);
    assert_eq!(s.brier, None, "no directional strategy: no Brier score");
}

#[test]
fn a_flat_run_has_no_ratios_rather_than_nonsense() {
    let s = stats(&journal(&[0, 0, 0]), Money::from_micros(1_000_000), 1_000_000_000);
    assert_eq!((s.sharpe, s.sortino, s.calmar, s.hit_rate, s.profit_factor), (None, None, None, None, None));
    assert_eq!(s.max_drawdown_usdc, "0");
}

fn strategy(name: &str, params: serde_json::Value) -> StrategyConfig {
    StrategyConfig {
        namespace: "ns".into(),
        name: name.into(),
        risk_policy: "p".into(),
        venue: "v".into(),
        mode: "paper".into(),
        type_: "arbitrage".into(),
        risk_caps: RiskCaps { max_order_size_micros: 1, max_order_notional_micros: 1 },
        sets: vec![],
        tokens: vec![],
        parameters: params,
    }
}

#[test]
fn sweeps_make_a_grid_apply_overrides_and_rank() {
    let axes = vec![parse("minEdgeBps=50,100").unwrap(), parse("b.orderType=FOK,FAK").unwrap()];
    assert_eq!(grid(&axes).len(), 4);
    let s = vec![
        strategy("a", serde_json::json!({"minEdgeBps": 10, "orderType": "FOK"})),
        strategy("b", serde_json::json!({"minEdgeBps": 10, "orderType": "FOK"})),
    ];
    let (out, labels) = apply(&s, &axes, &[1, 1]).unwrap();
    assert_eq!(labels, vec!["minEdgeBps=100", "b.orderType=FAK"]);
    assert_eq!(out[0].parameters, serde_json::json!({"minEdgeBps": 100, "orderType": "FOK"}));
    assert_eq!(out[1].parameters, serde_json::json!({"minEdgeBps": 100, "orderType": "FAK"}));
    assert!(apply(&s, &[parse("minEdgBps=1").unwrap()], &[0]).is_err(), "a typo sweeps nothing: refused");
    assert!(parse("minEdgeBps").is_err() && parse("=1").is_err() && parse("k=").is_err());
    // Higher Sharpe first, runs without one last, PnL breaks ties.
    assert_eq!(rank(&[(Some(1.0), 5), (None, 100), (Some(2.0), 1), (Some(1.0), 7)]), vec![2, 3, 0, 1]);
}

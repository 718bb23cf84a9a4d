//! A strategy's drift alarms ([`DriftConfig`], the Strategy's `drift` block): the runner feeds
//! this monitor its books, orders and fills, and it watches three things fall off:
//!
//! - **markouts**: `s·(mid(t+h) − p)` of every fill at the declared horizon `h` (price ppm;
//!   `s = +1` for a buy), measured at the first mid of the token's own book seen at or after it,
//!   with a Page–Hinkley test for a fall in their mean (adverse selection setting in);
//! - **slippage**: `s·(p − mid at the decision)` of every fill against the mid of the order's
//!   token when the strategy decided it (price ppm), with a CUSUM for a rise above the mean of the
//!   first `burnIn` fills;
//! - **calibration**: the strategy's forecast scores ([`crate::analytics::scores`]), where ADWIN
//!   watches each model version's squared errors; the monitor raises an alarm when a version
//!   reports a rise.
//!
//! An alarm stands until its metric has gone `burnIn` samples without firing again. While any
//! stands, the strategy sizes new positions at `sizeFactorBps` of what it would (the declared
//! rule: 10 000 only reports, 0 opens nothing); nothing is retrained or re-parameterized.
//! Pure: time comes in with each call.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::analytics::drift::{Cusum, PageHinkley};
use crate::config::DriftConfig;
use crate::ids::{ClientOrderId, TokenId};
use crate::money::Price;
use crate::side::Side;
use crate::wire::{Fill, OrderIntent};

/// What is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftMetric {
    /// Fills' markouts at the horizon fell.
    Markouts,
    /// Fills' slippage against the decision mid rose.
    Slippage,
    /// A model version's forecast errors rose.
    Calibration,
}

impl DriftMetric {
    /// Every metric, in a fixed order.
    pub const ALL: [DriftMetric; 3] = [DriftMetric::Markouts, DriftMetric::Slippage, DriftMetric::Calibration];

    /// `markouts`, `slippage` or `calibration` (metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftMetric::Markouts => "markouts",
            DriftMetric::Slippage => "slippage",
            DriftMetric::Calibration => "calibration",
        }
    }
}

/// One standing alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftAlarm {
    /// What drifted.
    pub metric: DriftMetric,
    /// When it fired last (Unix ns).
    pub since_ns: u64,
    /// Times it fired since the strategy started.
    pub fired: u64,
    /// What it saw: the samples' mean before and in the window that fired (price ppm, or the
    /// Brier score for calibration), as text for people.
    pub detail: String,
}

/// The monitor's report: what the agent publishes for the operator's `Drift` condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// Alarms standing now.
    pub alarms: Vec<DriftAlarm>,
    /// The size factor in force, basis points (10 000 with no alarm).
    pub size_factor_bps: u32,
    /// Samples seen per metric: markouts, slippage, forecasts.
    pub samples: [u64; 3],
    /// Alarms fired per metric since the start.
    pub fired: [u64; 3],
}

#[derive(Debug, Clone)]
struct Watch {
    /// Samples since the last alarm (an alarm clears after `burn_in` of them).
    quiet: u64,
    since_ns: Option<u64>,
    fired: u64,
    samples: u64,
    /// Mean of the samples before and since the last alarm, for the alarm's detail.
    sum: f64,
    detail: String,
}

impl Watch {
    fn new() -> Watch {
        Watch { quiet: 0, since_ns: None, fired: 0, samples: 0, sum: 0.0, detail: String::new() }
    }

    fn sample(&mut self, x: f64, fired: bool, burn_in: u64, now_ns: u64, what: &str) {
        self.samples += 1;
        self.sum += x;
        if fired {
            self.fired += 1;
            self.since_ns = Some(now_ns);
            self.quiet = 0;
            self.detail = format!("{what}: mean {:.0} over {} samples, last {:.0}", self.mean(), self.samples, x);
        } else if self.since_ns.is_some() {
            self.quiet += 1;
            if self.quiet >= burn_in {
                self.since_ns = None;
            }
        }
    }

    fn mean(&self) -> f64 {
        if self.samples == 0 { 0.0 } else { self.sum / self.samples as f64 }
    }
}

/// A markout waiting for its horizon.
#[derive(Debug, Clone, Copy)]
struct Due {
    token: TokenId,
    at_ns: u64,
    sign: f64,
    price_ppm: f64,
}

/// The drift monitor of one strategy.
#[derive(Debug, Clone)]
pub struct DriftMonitor {
    cfg: DriftConfig,
    markouts: PageHinkley,
    slippage: Cusum,
    watches: [Watch; 3],
    /// Decision mids of recent orders, oldest first (at most [`Self::REMEMBERED`]).
    decided: HashMap<ClientOrderId, f64>,
    order: VecDeque<ClientOrderId>,
    due: VecDeque<Due>,
    /// Fills measured (a trade reported MATCHED, then CONFIRMED, is one sample), oldest first.
    measured: std::collections::HashSet<String>,
    measured_order: VecDeque<String>,
    /// Forecasts per model version already seen, and their calibration alarms.
    forecasts: HashMap<(String, String), (u64, u64)>,
}

/// A price in millionths of 1 USDC (a tick is 100).
fn ppm(p: Price) -> f64 {
    f64::from(p.ticks()) * f64::from(1_000_000 / Price::SCALE)
}

fn sign(side: Side) -> f64 {
    match side {
        Side::Buy => 1.0,
        Side::Sell => -1.0,
    }
}

impl DriftMonitor {
    /// Orders whose decision mid is remembered until their fills come, fills remembered as
    /// measured, and markouts waiting for their horizon.
    pub const REMEMBERED: usize = 10_000;

    /// A monitor of `cfg`.
    pub fn new(cfg: DriftConfig) -> DriftMonitor {
        let burn = u64::from(cfg.burn_in);
        DriftMonitor {
            markouts: PageHinkley::new(f64::from(cfg.markout_delta_ppm), cfg.markout_lambda_ppm as f64, burn),
            slippage: Cusum::new(f64::from(cfg.slippage_allowance_ppm), cfg.slippage_threshold_ppm as f64, burn),
            cfg,
            watches: [Watch::new(), Watch::new(), Watch::new()],
            decided: HashMap::new(),
            order: VecDeque::new(),
            due: VecDeque::new(),
            measured: Default::default(),
            measured_order: VecDeque::new(),
            forecasts: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DriftConfig {
        &self.cfg
    }

    /// An order the strategy decided while its token's mid was `mid`.
    pub fn on_order(&mut self, o: &OrderIntent, mid: Option<Price>) {
        let Some(mid) = mid else { return };
        if self.decided.insert(o.client_order_id, ppm(mid)).is_none() {
            self.order.push_back(o.client_order_id);
        }
        while self.order.len() > Self::REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.decided.remove(&old);
            }
        }
    }

    /// A fill of ours at `now_ns`: its slippage against the decision mid, and its markout due.
    pub fn on_fill(&mut self, f: &Fill, now_ns: u64) {
        if !self.measured.insert(f.fill_id.clone()) {
            return;
        }
        self.measured_order.push_back(f.fill_id.clone());
        while self.measured_order.len() > Self::REMEMBERED {
            if let Some(old) = self.measured_order.pop_front() {
                self.measured.remove(&old);
            }
        }
        let s = sign(f.side);
        let price = ppm(f.price);
        if let Some(mid) = self.decided.get(&f.client_order_id).copied() {
            let x = s * (price - mid);
            let fired = self.slippage.push(x);
            let burn = u64::from(self.cfg.burn_in);
            self.watches[1].sample(x, fired, burn, now_ns, "slippage ppm");
        }
        let at_ns = now_ns.saturating_add(self.cfg.markout_horizon_ms.saturating_mul(1_000_000));
        self.due.push_back(Due { token: f.token, at_ns, sign: s, price_ppm: price });
        // A token whose book never moves again leaves its markouts unmeasured: the oldest go.
        while self.due.len() > Self::REMEMBERED {
            self.due.pop_front();
        }
    }

    /// The mid of `token`'s book now: markouts of that token that came due are measured.
    pub fn on_mid(&mut self, token: &TokenId, mid: Price, now_ns: u64) {
        let burn = u64::from(self.cfg.burn_in);
        let mut k = 0;
        while k < self.due.len() {
            let d = self.due[k];
            if d.at_ns > now_ns {
                // Due times are in fill order, so nothing later is due either.
                break;
            }
            if d.token == *token {
                self.due.remove(k);
                let x = d.sign * (ppm(mid) - d.price_ppm);
                let fired = self.markouts.push(x);
                self.watches[0].sample(x, fired, burn, now_ns, "markout ppm");
            } else {
                k += 1;
            }
        }
    }

    /// The strategy's scores now: a model version whose calibration ADWIN reports a rise in its
    /// errors (since the last call) fires the calibration alarm; new forecasts count as samples.
    pub fn on_scores(&mut self, scores: &[crate::analytics::scores::ModelScore], now_ns: u64) {
        let burn = u64::from(self.cfg.burn_in);
        for sc in scores {
            let seen = self.forecasts.entry((sc.model.clone(), sc.version.clone())).or_insert((0, 0));
            let new = sc.forecasts.saturating_sub(seen.0);
            let rises = sc.calibration_rises.saturating_sub(seen.1);
            *seen = (sc.forecasts, sc.calibration_rises);
            for i in 0..new {
                // The rise counts once, on the last new forecast.
                let fired = rises > 0 && i + 1 == new;
                let w = &mut self.watches[2];
                w.sample(sc.brier, fired, burn, now_ns, "forecast Brier");
                if fired {
                    w.detail = format!(
                        "{} {}: recent Brier {:.4} over {} forecasts, against {:.4} overall",
                        sc.model, sc.version, sc.recent_brier, sc.recent_window, sc.brier
                    );
                }
            }
        }
    }

    /// True while an alarm stands.
    pub fn alarmed(&self) -> bool {
        self.watches.iter().any(|w| w.since_ns.is_some())
    }

    /// The size factor in force, basis points of what the strategy would size.
    pub fn size_factor_bps(&self) -> u32 {
        if self.alarmed() { self.cfg.size_factor_bps } else { DriftConfig::FULL_SIZE_BPS }
    }

    /// What stands now.
    pub fn report(&self) -> DriftReport {
        let alarms = DriftMetric::ALL
            .iter()
            .zip(&self.watches)
            .filter_map(|(m, w)| {
                w.since_ns.map(|since_ns| DriftAlarm { metric: *m, since_ns, fired: w.fired, detail: w.detail.clone() })
            })
            .collect();
        DriftReport {
            alarms,
            size_factor_bps: self.size_factor_bps(),
            samples: [self.watches[0].samples, self.watches[1].samples, self.watches[2].samples],
            fired: [self.watches[0].fired, self.watches[1].fired, self.watches[2].fired],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::scores::ModelScore;
    use crate::ids::ConditionId;
    use crate::money::{Money, Quantity};
    use crate::wire::{FillStatus, Liquidity, Mode, TimeInForce};

    const S: u64 = 1_000_000_000;

    fn cfg(size_factor_bps: u32) -> DriftConfig {
        DriftConfig {
            markout_horizon_ms: 1000,
            markout_delta_ppm: 1000,
            markout_lambda_ppm: 100_000,
            slippage_allowance_ppm: 1000,
            slippage_threshold_ppm: 50_000,
            burn_in: 10,
            size_factor_bps,
        }
    }

    fn px(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn order(id: &str) -> OrderIntent {
        OrderIntent {
            client_order_id: ClientOrderId::new(id).unwrap(),
            group: None,
            namespace: "ns".into(),
            strategy: "s".into(),
            risk_policy: "rp".into(),
            venue: "sim".into(),
            market: ConditionId::from_bytes([1; 32]),
            token: TokenId::from_u128(1),
            side: Side::Buy,
            price: px("0.5"),
            size: Quantity::from_micros(10_000_000),
            tif: TimeInForce::Fok,
            post_only: false,
            mode: Mode::Paper,
            cause_seq: 0,
            cause_recv_ts_ns: 0,
            created_ts_ns: 0,
            outcome: None,
            kelly: None,
        }
    }

    fn fill(o: &OrderIntent, id: &str, price: &str, status: FillStatus) -> Fill {
        Fill {
            fill_id: id.into(),
            client_order_id: o.client_order_id,
            namespace: "ns".into(),
            strategy: "s".into(),
            risk_policy: "rp".into(),
            market: o.market,
            token: o.token,
            side: o.side,
            price: px(price),
            size: o.size,
            fee: Money::ZERO,
            liquidity: Liquidity::Taker,
            status,
            mode: Mode::Paper,
            ts_ns: 0,
        }
    }

    /// Buys at 0.50 whose mid a second later is `after`, one a second; the time after them.
    fn buys(d: &mut DriftMonitor, from: u64, n: u64, after: &str, t: u64) -> u64 {
        let mut t = t;
        for k in from..from + n {
            let o = order(&format!("o{k}"));
            d.on_order(&o, Some(px("0.5")));
            d.on_fill(&fill(&o, &format!("f{k}"), "0.5", FillStatus::Matched), t);
            t += S;
            d.on_mid(&o.token, px(after), t);
        }
        t
    }

    /// Markouts steady at 0 raise nothing; falling to −0.03 (−30 000 ppm) a fill fires the
    /// Page–Hinkley test within a few fills, cuts the size factor, and the alarm clears after
    /// `burnIn` fills without a new fall.
    #[test]
    fn falling_markouts_raise_an_alarm_that_cuts_size_then_clears() {
        let mut d = DriftMonitor::new(cfg(5000));
        let t = buys(&mut d, 0, 50, "0.5", S);
        assert!(!d.alarmed());
        assert_eq!(d.size_factor_bps(), 10_000);
        let mut t = t;
        let mut fired_after = None;
        for k in 0..20 {
            t = buys(&mut d, 100 + k, 1, "0.47", t);
            if d.alarmed() {
                fired_after = Some(k + 1);
                break;
            }
        }
        let k = fired_after.expect("the fall fires");
        assert!(k <= 6, "{k}");
        let r = d.report();
        assert_eq!(r.alarms.len(), 1);
        assert_eq!((r.alarms[0].metric, r.size_factor_bps, r.fired[0]), (DriftMetric::Markouts, 5000, 1));
        assert!(r.alarms[0].detail.contains("markout ppm"), "{}", r.alarms[0].detail);
        // Back to 0 markouts: quiet for burnIn (10) fills, then the alarm clears.
        let t = buys(&mut d, 200, 9, "0.5", t);
        assert!(d.alarmed());
        buys(&mut d, 300, 1, "0.5", t);
        assert!(!d.alarmed());
        assert_eq!(d.size_factor_bps(), 10_000);
        assert_eq!(d.report().samples[0], 50 + k + 10);
    }

    /// Slippage against the decision mid: fills at it for the burn-in, then 0.02 worse; a trade
    /// reported MATCHED then CONFIRMED is one sample.
    #[test]
    fn rising_slippage_raises_an_alarm_and_a_trade_counts_once() {
        let mut d = DriftMonitor::new(cfg(0));
        for k in 0..10 {
            let o = order(&format!("o{k}"));
            d.on_order(&o, Some(px("0.5")));
            for status in [FillStatus::Matched, FillStatus::Confirmed] {
                d.on_fill(&fill(&o, &format!("f{k}"), "0.5", status), k * S);
            }
        }
        assert_eq!(d.report().samples[1], 10, "one sample a trade");
        let mut fired = None;
        for k in 10..30 {
            let o = order(&format!("o{k}"));
            d.on_order(&o, Some(px("0.5")));
            d.on_fill(&fill(&o, &format!("f{k}"), "0.52", FillStatus::Matched), k * S);
            if d.alarmed() {
                fired = Some(k - 9);
                break;
            }
        }
        // 19 000 ppm over the allowance a fill: 50 000 is passed at the third.
        assert_eq!(fired, Some(3));
        assert_eq!(d.report().alarms[0].metric, DriftMetric::Slippage);
        assert_eq!(d.size_factor_bps(), 0);
        // A fill of an order decided with no book has no slippage sample.
        let o = order("nobook");
        d.on_order(&o, None);
        d.on_fill(&fill(&o, "fx", "0.9", FillStatus::Matched), 40 * S);
        assert_eq!(d.report().samples[1], 13);
    }

    /// A model version whose ADWIN reports a rise in its errors raises the calibration alarm.
    #[test]
    fn a_calibration_rise_raises_an_alarm() {
        let mut d = DriftMonitor::new(cfg(2500));
        let score = |forecasts: u64, rises: u64| ModelScore {
            model: "m".into(),
            version: "1".into(),
            forecasts,
            brier_micros: 200_000,
            brier: 0.2,
            market_brier_micros: None,
            brier_skill_bps: None,
            log_loss: 0.6,
            calibration: vec![],
            clv_fills: 0,
            clv_mean_ppm: None,
            clv_beat: 0,
            calibration_rises: rises,
            recent_brier: 0.45,
            recent_window: 12,
        };
        d.on_scores(&[score(40, 0)], S);
        assert!(!d.alarmed());
        d.on_scores(&[score(41, 1)], 2 * S);
        let r = d.report();
        assert_eq!((r.alarms.len(), r.size_factor_bps, r.samples[2]), (1, 2500, 41));
        assert_eq!(r.alarms[0].metric, DriftMetric::Calibration);
        assert!(r.alarms[0].detail.contains("recent Brier 0.4500 over 12"), "{}", r.alarms[0].detail);
        // The same scores again change nothing.
        d.on_scores(&[score(41, 1)], 3 * S);
        assert_eq!(d.report().fired[2], 1);
    }
}

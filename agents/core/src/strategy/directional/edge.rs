//! The directional strategy's arithmetic, exact in integers: the cost of a share bought as taker
//! (price plus the V2 fee `rate·(p(1−p))^e` per share), the edge of a model probability over it,
//! the Kelly stake `f* = (p − c)/(1 − c)` at that cost times a fraction and within the RiskPolicy's
//! Kelly budget, and the exit rules in their order. Probabilities and per-share amounts are in
//! millionths of 1 USDC (ppm); a price tick is 100 ppm.

use crate::money::{FeeSchedule, Money, Price, Quantity};
use crate::risk::kelly;
use crate::wire::signal::PPM;

use super::params::DirParams;

/// ppm in one price tick.
const PPM_PER_TICK: u64 = 100;

/// The taker fee of one share at `price`, ppm of 1 USDC, rounded up (`None`: a fee exponent the
/// venue does not use).
pub fn fee_per_share_ppm(fees: &FeeSchedule, price: Price) -> Option<u64> {
    if fees.rate_bps == 0 {
        return Some(0);
    }
    let (num, den) = fees.exact(price, Quantity::from_shares(1)?)?;
    u64::try_from((num + den - 1) / den).ok()
}

/// What a share bought at `ask` as taker costs, fee included, ppm.
pub fn taker_cost_ppm(fees: &FeeSchedule, ask: Price) -> Option<u64> {
    Some(u64::from(ask.ticks()) * PPM_PER_TICK + fee_per_share_ppm(fees, ask)?)
}

/// What selling a share at `bid` as taker pays, fee deducted, ppm.
pub fn taker_proceeds_ppm(fees: &FeeSchedule, bid: Price) -> Option<u64> {
    (u64::from(bid.ticks()) * PPM_PER_TICK).checked_sub(fee_per_share_ppm(fees, bid)?)
}

/// The edge of probability `p` over cost `c` (both ppm): `p − c`, signed.
pub fn edge_ppm(p: u32, cost_ppm: u64) -> i64 {
    i64::from(p) - i64::try_from(cost_ppm).unwrap_or(i64::MAX)
}

/// The stake to hold in a token with probability `p` bought at `price` costing `cost_ppm` a share
/// with fees: `f*·bankroll·fraction` with `f* = (p − c)/(1 − c)`, within the gateway's Kelly cap
/// (`budget·(p − price)/(1 − price)`, computed as the gateway computes it). Zero without an edge.
pub fn kelly_stake(p: u32, price: Price, cost_ppm: u64, bankroll: Money, fraction_bps: u32, budget: Money) -> Money {
    let edge = edge_ppm(p, cost_ppm);
    if edge <= 0 || cost_ppm >= u64::from(PPM) || bankroll.micros() <= 0 {
        return Money::ZERO;
    }
    let room = i128::from(PPM) - i128::from(cost_ppm);
    let ours =
        i128::from(bankroll.micros()) * i128::from(fraction_bps.min(10_000)) * i128::from(edge) / (room * 10_000);
    let cap = i128::from(kelly::max_stake(budget, p, price).micros());
    Money::from_micros(i64::try_from(ours.min(cap).max(0)).unwrap_or(0))
}

/// The shares `stake` buys at `cost_ppm` a share (a price, or a price with its fee), rounded
/// down to whole micro-shares.
pub fn shares_for(stake: Money, cost_ppm: u64) -> Quantity {
    if cost_ppm == 0 || stake.micros() <= 0 {
        return Quantity::ZERO;
    }
    let micros = i128::from(stake.micros()) * i128::from(PPM) / i128::from(cost_ppm);
    Quantity::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// Why a position is closed, in the order the rules are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The market's end is within `closeBeforeEndSeconds`.
    Time,
    /// No valid signal is left (expired, or none yet after a restart).
    Expired,
    /// Its value at the bid lost `stopLossBps` of its cost.
    StopLoss,
    /// Its value at the bid gained `takeProfitBps` of its cost.
    TakeProfit,
    /// The model's probability no longer beats what selling pays by `exitEdgeBps`.
    Edge,
}

impl Exit {
    /// Every rule, in the order they are checked.
    pub const ALL: [Exit; 5] = [Exit::Time, Exit::Expired, Exit::StopLoss, Exit::TakeProfit, Exit::Edge];

    /// The counter label.
    pub fn label(self) -> &'static str {
        match self {
            Exit::Time => "exit_time",
            Exit::Expired => "exit_expired",
            Exit::StopLoss => "exit_stop_loss",
            Exit::TakeProfit => "exit_take_profit",
            Exit::Edge => "exit_edge",
        }
    }
}

/// A position in one token: shares held and what they cost (fees included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    /// Shares.
    pub shares: Quantity,
    /// Cost, micro-USDC.
    pub cost: Money,
}

/// What the exit rules see of the moment.
#[derive(Debug, Clone, Copy)]
pub struct ExitView {
    /// The model's probability for the held token, if a valid signal is there.
    pub probability: Option<u32>,
    /// A signal came since the strategy started: without one (a position restored at start,
    /// the model not heard from yet) no signal has expired, and the position waits for it.
    pub signal_seen: bool,
    /// Selling one share now pays this (best bid less the fee), ppm; `None` without a bid.
    pub proceeds_ppm: Option<u64>,
    /// Now (Unix ms).
    pub now_ms: u64,
    /// The market's end date (Unix ms).
    pub end_ms: Option<u64>,
}

/// The first exit rule that fires for `held` (none for an empty position).
pub fn exit(params: &DirParams, held: &Held, view: &ExitView) -> Option<Exit> {
    if held.shares.is_zero() {
        return None;
    }
    if let (Some(before), Some(end)) = (params.close_before_end_s, view.end_ms)
        && view.now_ms.saturating_add(before.saturating_mul(1000)) >= end
    {
        return Some(Exit::Time);
    }
    let Some(p) = view.probability else { return view.signal_seen.then_some(Exit::Expired) };
    let proceeds = view.proceeds_ppm?;
    // Value at the bid against cost, both micro-USDC × 10^6 (shares are micro-shares).
    let value = i128::from(held.shares.micros()) * i128::from(proceeds);
    let cost = i128::from(held.cost.micros()) * i128::from(PPM);
    if let Some(sl) = params.stop_loss_bps
        && value * 10_000 <= cost * (10_000 - i128::from(sl))
    {
        return Some(Exit::StopLoss);
    }
    if let Some(tp) = params.take_profit_bps
        && value * 10_000 >= cost * (10_000 + i128::from(tp))
    {
        return Some(Exit::TakeProfit);
    }
    let edge = edge_ppm(p, proceeds);
    (edge < i64::from(params.exit_edge_bps) * 100).then_some(Exit::Edge)
}

#[cfg(test)]
mod tests {
    use super::super::params::tests::params;
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap_or(Price::ONE)
    }

    const FEES: FeeSchedule = FeeSchedule { rate_bps: 720, exponent: 1 };

    #[test]
    fn cost_edge_and_kelly_are_exact_with_fees() {
        // 0.072 × 0.4 × 0.6 = 0.01728 a share: cost 0.41728; p = 0.5 leaves 0.08272.
        assert_eq!(fee_per_share_ppm(&FEES, p("0.4")), Some(17_280));
        assert_eq!(taker_cost_ppm(&FEES, p("0.4")), Some(417_280));
        assert_eq!(edge_ppm(500_000, 417_280), 82_720);
        assert_eq!(taker_proceeds_ppm(&FEES, p("0.4")), Some(382_720));
        // A fee that is not whole ppm rounds up: 0.072 × 0.4321 × 0.5679 = 0.017668...
        assert_eq!(fee_per_share_ppm(&FEES, p("0.4321")), Some(17_669));
        // Kelly at the cost: f* = 0.08272 / 0.58272 = 0.141955...; quarter Kelly of 1000 USDC
        // = 35.488 USDC (rounded down to the micro-USDC).
        let bankroll = Money::from_micros(1_000_000_000);
        let big = Money::from_micros(i64::MAX / 4);
        let stake = kelly_stake(500_000, p("0.4"), 417_280, bankroll, 2500, big);
        assert_eq!(stake, Money::from_micros(1_000_000_000 * 2500 * 82_720 / (582_720 * 10_000)));
        assert_eq!(stake, Money::from_micros(35_488_742));
        // The gateway's cap at the order price binds when the budget is small:
        // 20 USDC × (0.5 − 0.4)/(1 − 0.4) = 3.333333 USDC.
        let capped = kelly_stake(500_000, p("0.4"), 417_280, bankroll, 2500, Money::from_micros(20_000_000));
        assert_eq!(capped, Money::from_micros(3_333_333));
        // No edge after fees: nothing, though p beats the bare price.
        assert_eq!(kelly_stake(410_000, p("0.4"), 417_280, bankroll, 2500, big), Money::ZERO);
        // Shares: 35.488742 USDC at 0.4 = 88.721855 shares.
        assert_eq!(shares_for(stake, 400_000), Quantity::from_micros(88_721_855));
        // At the cost with the fee: 35.488742 / 0.41728 = 85.047... shares.
        assert_eq!(shares_for(stake, 417_280), Quantity::from_micros(85_047_790));
        // Without fees the cost is the price: f* = 0.1 / 0.6.
        let free = kelly_stake(500_000, p("0.4"), 400_000, bankroll, 10_000, big);
        assert_eq!(free, Money::from_micros(166_666_666));
    }

    #[test]
    fn exits_fire_in_their_order() {
        let params = DirParams {
            stop_loss_bps: Some(2000),
            take_profit_bps: Some(5000),
            close_before_end_s: Some(60),
            ..params()
        };
        // 100 shares that cost 40 USDC.
        let held = Held { shares: Quantity::from_micros(100_000_000), cost: Money::from_micros(40_000_000) };
        let view = ExitView {
            probability: Some(500_000),
            signal_seen: true,
            proceeds_ppm: Some(400_000),
            now_ms: 0,
            end_ms: Some(120_000),
        };
        assert_eq!(exit(&params, &held, &view), None, "edge 0.10 ≥ 0.01; value = cost");
        assert_eq!(exit(&params, &Held::default(), &ExitView { probability: None, ..view }), None);
        // Every rule would fire: time comes first, then expiry, then the stop, then the target.
        let all = ExitView { probability: None, proceeds_ppm: Some(300_000), now_ms: 60_000, ..view };
        assert_eq!(exit(&params, &held, &all), Some(Exit::Time));
        assert_eq!(exit(&params, &held, &ExitView { now_ms: 59_999, ..all }), Some(Exit::Expired));
        // No signal since start (a restored position): nothing expired; it waits for the model.
        assert_eq!(exit(&params, &held, &ExitView { now_ms: 59_999, signal_seen: false, ..all }), None);
        let stop = ExitView { probability: Some(100_000), now_ms: 0, ..all };
        assert_eq!(exit(&params, &held, &stop), Some(Exit::StopLoss), "value 30 ≤ 40 × 0.8");
        assert_eq!(exit(&params, &held, &ExitView { proceeds_ppm: Some(320_001), ..stop }), Some(Exit::Edge));
        let target = ExitView { probability: Some(990_000), proceeds_ppm: Some(600_000), ..stop };
        assert_eq!(exit(&params, &held, &target), Some(Exit::TakeProfit), "value 60 ≥ 40 × 1.5");
        // The edge of holding: p − proceeds below 0.01 closes, at 0.01 it holds.
        let edge = ExitView { probability: Some(500_000), proceeds_ppm: Some(490_001), ..stop };
        assert_eq!(exit(&params, &held, &edge), Some(Exit::Edge));
        assert_eq!(exit(&params, &held, &ExitView { proceeds_ppm: Some(490_000), ..edge }), None);
        // No bid: only time and expiry can be decided.
        assert_eq!(exit(&params, &held, &ExitView { proceeds_ppm: None, ..edge }), None);
    }
}

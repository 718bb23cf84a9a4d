//! A RiskPolicy's trading mode and its loss trips: what the gateway lets through, and why.
//!
//! The mode declared on the policy (`killSwitch`) is `off`, `reduceOnly` (only what reduces
//! exposure passes: sells, merges, redemptions, conversions) or `halt` (nothing passes). A daily
//! loss or a drawdown past its limit *trips* the policy into reduce-only, not halt: the unwind of
//! what it holds still passes while new buys are refused. A trip stands until it is reset
//! explicitly (a change of the policy's `resetTrips`) or its declared cooldown is over; either way
//! the loss it tripped on is taken as the new baseline (the daily loss counts from the PnL at the
//! reset, the drawdown from the equity at the reset), so trading resumes with the full limits
//! ahead of it. The effective mode is the stricter of the declared one and the trip's.

/// A policy's mode: declared on the policy, or the effective one with its trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum RiskMode {
    /// Everything the other limits allow passes.
    #[default]
    Off,
    /// Only what reduces exposure passes (sells, merges, redemptions, conversions); open buys
    /// are cancelled.
    ReduceOnly,
    /// Nothing passes; everything open is cancelled.
    Halt,
}

impl RiskMode {
    /// The stable label in the store, metrics and status (`off`, `reduceOnly`, `halt`).
    pub fn as_str(self) -> &'static str {
        match self {
            RiskMode::Off => "off",
            RiskMode::ReduceOnly => "reduceOnly",
            RiskMode::Halt => "halt",
        }
    }

    /// The store's code: 0, 1, 2.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The mode of a store code; `None` for an unknown one.
    pub fn from_code(code: u8) -> Option<RiskMode> {
        [RiskMode::Off, RiskMode::ReduceOnly, RiskMode::Halt].get(usize::from(code)).copied()
    }

    /// Whether an order on `side` (or a conditional-token operation that reserves, a split, as a
    /// buy) may pass in this mode.
    pub fn admits(self, side: crate::side::Side) -> bool {
        match self {
            RiskMode::Off => true,
            RiskMode::ReduceOnly => side == crate::side::Side::Sell,
            RiskMode::Halt => false,
        }
    }
}

/// Why a policy tripped into reduce-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trip {
    /// The day's PnL (since the UTC day began or the last reset) reached minus `maxDailyLoss`.
    DailyLoss,
    /// Equity fell `maxDrawdown` below its peak (since the last reset).
    Drawdown,
}

impl Trip {
    /// The stable label in the store and metrics (`daily_loss`, `drawdown`), which is also the
    /// reason a buy is refused with while the trip stands.
    pub fn as_str(self) -> &'static str {
        match self {
            Trip::DailyLoss => "daily_loss",
            Trip::Drawdown => "drawdown",
        }
    }

    /// The trip of a store label.
    pub fn parse(s: &str) -> Option<Trip> {
        match s {
            "daily_loss" => Some(Trip::DailyLoss),
            "drawdown" => Some(Trip::Drawdown),
            _ => None,
        }
    }

    /// The reason a buy is refused with while this trip stands.
    pub fn reason(self) -> crate::wire::RejectReason {
        match self {
            Trip::DailyLoss => crate::wire::RejectReason::DailyLoss,
            Trip::Drawdown => crate::wire::RejectReason::Drawdown,
        }
    }
}

/// A standing trip: why, since when (Unix ms), and how many trips of each kind the policy has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TripState {
    /// The trip in force, with the time it happened.
    pub current: Option<(Trip, u64)>,
    /// Daily-loss trips so far.
    pub daily_loss_trips: u64,
    /// Drawdown trips so far.
    pub drawdown_trips: u64,
}

impl TripState {
    /// The effective mode under `declared` at `now_ms`: a trip whose cooldown (`cooldown_ms`) is
    /// over no longer counts (the next decision clears it).
    pub fn effective_at(&self, declared: RiskMode, cooldown_ms: Option<u64>, now_ms: u64) -> RiskMode {
        if self.holding(cooldown_ms, now_ms).is_some() { declared.max(RiskMode::ReduceOnly) } else { declared }
    }

    /// The trip that holds at `now_ms`: the standing one unless its cooldown is over.
    pub fn holding(&self, cooldown_ms: Option<u64>, now_ms: u64) -> Option<(Trip, u64)> {
        self.current.filter(|_| self.until(cooldown_ms).is_none_or(|until| now_ms < until))
    }

    /// When a standing trip's cooldown ends (Unix ms), if it has one.
    pub fn until(&self, cooldown_ms: Option<u64>) -> Option<u64> {
        let (_, since) = self.current?;
        cooldown_ms.map(|c| since.saturating_add(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::side::Side;

    #[test]
    fn modes_admit_by_side_and_order_by_strictness() {
        assert!(RiskMode::Off.admits(Side::Buy) && RiskMode::Off.admits(Side::Sell));
        assert!(!RiskMode::ReduceOnly.admits(Side::Buy) && RiskMode::ReduceOnly.admits(Side::Sell));
        assert!(!RiskMode::Halt.admits(Side::Buy) && !RiskMode::Halt.admits(Side::Sell));
        for m in [RiskMode::Off, RiskMode::ReduceOnly, RiskMode::Halt] {
            assert_eq!(RiskMode::from_code(m.code()), Some(m));
        }
        assert_eq!(RiskMode::from_code(3), None);
        let tripped = TripState { current: Some((Trip::Drawdown, 5)), ..TripState::default() };
        assert_eq!(tripped.effective_at(RiskMode::Off, None, 0), RiskMode::ReduceOnly);
        assert_eq!(tripped.effective_at(RiskMode::Halt, None, 0), RiskMode::Halt);
        assert_eq!(TripState::default().effective_at(RiskMode::Off, None, 0), RiskMode::Off);
        assert_eq!(tripped.until(Some(10)), Some(15));
        assert_eq!((tripped.holding(Some(10), 14), tripped.holding(Some(10), 15)), (tripped.current, None));
        assert_eq!(tripped.effective_at(RiskMode::Off, Some(10), 15), RiskMode::Off);
        assert_eq!(tripped.until(None), None);
        assert_eq!(Trip::parse(Trip::DailyLoss.as_str()), Some(Trip::DailyLoss));
    }
}

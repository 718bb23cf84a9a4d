//! Markout curves of a strategy's fills: `m(τ) = s·C·(mid(t+τ) − p)` with `s = +1` for a buy, at
//! τ = 1, 5, 30 and 120 seconds, each fill measured against the first mid of its own token seen
//! at or after its horizon. Early markouts measure impact; a drift that lasts to 120 s is
//! information (adverse selection). Totals are exact; a fill whose horizon the data never
//! reached is counted as unmeasured, not as zero.

use std::collections::VecDeque;

use crate::analytics::{UNIT, money};
use crate::wire::{Fill, Liquidity};
use crate::{Money, Price, Quantity, Side, TokenId, TokenMap};

/// The horizons, seconds.
pub const HORIZONS_S: [u64; 4] = [1, 5, 30, 120];

#[derive(Debug, Clone)]
struct Pending {
    at_ns: u64,
    qty: i128,
    price: i128,
    fee: i128,
    maker: bool,
    next: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    fills: u64,
    shares: i128,
    units: i128,
    fees: i128,
}

/// One horizon of the curve.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Point {
    /// τ, seconds.
    pub seconds: u64,
    /// Fills measured.
    pub fills: u64,
    /// Their shares.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub shares: Quantity,
    /// Σ s·C·(mid − p), USDC.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub total: Money,
    /// Less the fills' fees, USDC.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub net_of_fees: Money,
    /// Per share, USDC.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub per_share: Money,
}

/// The curve, overall and for maker and taker fills apart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Curve {
    /// Every fill.
    pub all: Vec<Point>,
    /// Resting orders filled.
    pub maker: Vec<Point>,
    /// Orders that took liquidity.
    pub taker: Vec<Point>,
    /// Fills whose horizon the data did not reach, per horizon.
    pub unmeasured: Vec<u64>,
}

/// The markouts of one strategy's fills.
#[derive(Debug, Clone, Default)]
pub struct Markouts {
    pending: TokenMap<VecDeque<Pending>>,
    sums: [[Sum; 4]; 2],
}

impl Markouts {
    /// A fill at `now_ns`.
    pub fn fill(&mut self, now_ns: u64, f: &Fill) {
        let q = i128::from(f.size.micros());
        let pending = Pending {
            at_ns: now_ns,
            qty: if f.side == Side::Buy { q } else { -q },
            price: i128::from(f.price.ticks()),
            fee: i128::from(f.fee.micros()) * UNIT,
            maker: f.liquidity == Liquidity::Maker,
            next: 0,
        };
        self.pending.entry(f.token).or_default().push_back(pending);
    }

    /// The mid of `token` at `now_ns`: measures every fill of it whose horizon has come.
    pub fn mid(&mut self, now_ns: u64, token: &TokenId, mid: Price) {
        let Some(queue) = self.pending.get_mut(token) else { return };
        let m = i128::from(mid.ticks());
        for p in queue.iter_mut() {
            while p.next < HORIZONS_S.len() && now_ns >= p.at_ns + HORIZONS_S[p.next] * 1_000_000_000 {
                let s = &mut self.sums[usize::from(!p.maker)][p.next];
                s.fills += 1;
                s.shares += p.qty.abs();
                s.units += p.qty * (m - p.price);
                s.fees += p.fee;
                p.next += 1;
            }
        }
        // Fills are in time order: the measured ones are at the front.
        while queue.front().is_some_and(|p| p.next == HORIZONS_S.len()) {
            queue.pop_front();
        }
    }

    fn points(sums: impl Fn(usize) -> Sum) -> Vec<Point> {
        HORIZONS_S
            .iter()
            .enumerate()
            .map(|(k, &seconds)| {
                let s = sums(k);
                let per = if s.shares == 0 { 0 } else { s.units * 1_000_000 / s.shares };
                Point {
                    seconds,
                    fills: s.fills,
                    shares: Quantity::from_micros(u64::try_from(s.shares).unwrap_or(u64::MAX)),
                    total: money(s.units),
                    net_of_fees: money(s.units - s.fees),
                    per_share: money(per),
                }
            })
            .collect()
    }

    /// The curve so far.
    pub fn curve(&self) -> Curve {
        let add = |a: Sum, b: Sum| Sum {
            fills: a.fills + b.fills,
            shares: a.shares + b.shares,
            units: a.units + b.units,
            fees: a.fees + b.fees,
        };
        let unmeasured = (0..HORIZONS_S.len())
            .map(|k| self.pending.values().flat_map(|q| q.iter()).filter(|p| p.next <= k).count() as u64)
            .collect();
        Curve {
            all: Self::points(|k| add(self.sums[0][k], self.sums[1][k])),
            maker: Self::points(|k| self.sums[0][k]),
            taker: Self::points(|k| self.sums[1][k]),
            unmeasured,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::test_values::{p, q};

    const S: u64 = 1_000_000_000;

    fn fill(token: TokenId, side: Side, price: &str, size: &str, fee: Money, liquidity: Liquidity) -> Fill {
        Fill {
            fill_id: "f".into(),
            client_order_id: crate::ClientOrderId::new("c1").unwrap(),
            namespace: "ns".into(),
            strategy: "s".into(),
            risk_policy: "rp".into(),
            market: crate::ConditionId::from_bytes([1; 32]),
            token,
            side,
            price: p(price),
            size: q(size),
            fee,
            liquidity,
            status: crate::wire::FillStatus::Confirmed,
            mode: crate::wire::Mode::Paper,
            ts_ns: 0,
        }
    }

    #[test]
    fn each_horizon_takes_the_first_mid_after_it_with_the_fill_side() {
        let t = TokenId::from_u128(1);
        let mut m = Markouts::default();
        m.fill(0, &fill(t, Side::Buy, "0.50", "10", Money::ZERO, Liquidity::Maker));
        m.fill(0, &fill(t, Side::Sell, "0.52", "5", Money::parse("0.01").unwrap(), Liquidity::Taker));
        m.mid(S / 2, &t, p("0.9")); // before any horizon: ignored
        m.mid(2 * S, &t, p("0.51")); // τ=1 for both
        m.mid(40 * S, &t, p("0.48")); // τ=5 and τ=30
        let c = m.curve();
        // Buy: 10 x (0.51 − 0.50) = 0.1; sell: −5 x (0.51 − 0.52) = 0.05.
        assert_eq!(c.all[0].total, Money::parse("0.15").unwrap());
        assert_eq!(c.all[0].net_of_fees, Money::parse("0.14").unwrap());
        assert_eq!(c.maker[0].per_share, Money::parse("0.01").unwrap());
        // τ=30: buy 10 x −0.02 = −0.2; sell −5 x −0.04 = 0.2.
        assert_eq!(c.maker[2].total, Money::parse("-0.2").unwrap());
        assert_eq!(c.taker[2].total, Money::parse("0.2").unwrap());
        assert_eq!(c.all[3].fills, 0);
        assert_eq!(c.unmeasured, vec![0, 0, 0, 2], "the 120 s horizon never came");
        // Another token's mid measures nothing.
        m.mid(500 * S, &TokenId::from_u128(2), p("0.1"));
        assert_eq!(m.curve().all[3].fills, 0);
    }
}

//! The quote model: GLFT (Guéant–Lehalle–Fernandez-Tapia) quotes with inventory bounds, for a
//! price in (0, 1). Pure: inputs in, a ladder out.
//!
//! With order arrivals λ(δ) = A·e^(−κδ) at distance δ from the mid, risk aversion γ, volatility
//! σ and inventory q in lots bounded by ±Q, the asymptotic optimal distances are
//! δ_bid = c1 + (2q+1)/2·σ·c2 and δ_ask = c1 − (2q−1)/2·σ·c2, with c1 = ln(1+γ/κ)/γ and
//! c2 = √(γ/(2κA)·(1+γ/κ)^(1+κ/γ)): no horizon term, which suits markets that trade for months.
//! The volatility is local, σ_p = p(1−p)·σ_logit, from the logit-mid volatility, so distances
//! shrink near 0 and 1 and quotes never leave (0, 1). No bid at q ≥ Q, no ask at q ≤ −Q. The
//! spread is then held within [min, max] around its centre, adverse-selection widening is added
//! on both sides, prices go onto the tick (bids down, asks up), post-only quotes stay off the
//! other side of the book, and levels beyond the first step away by a fixed number of ticks.

use crate::money::Price;

/// One side's arrival model: A events per second at the mid, decaying e-fold per 1/κ of price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrivals {
    /// A, per second.
    pub a: f64,
    /// κ, per unit of price.
    pub kappa: f64,
}

/// What the quote model needs at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuoteInput {
    /// The YES mid (or fair price), in (0, 1).
    pub mid: f64,
    /// Tick size.
    pub tick: Price,
    /// Best bid and ask on the book (post-only quotes stay off the other side).
    pub best_bid: Option<Price>,
    /// Best ask.
    pub best_ask: Option<Price>,
    /// Volatility of logit(mid), per √second.
    pub sigma_logit: f64,
    /// Arrivals on the bid side (taker sells) and the ask side (taker buys).
    pub bid: Arrivals,
    /// Ask side.
    pub ask: Arrivals,
    /// γ.
    pub gamma: f64,
    /// Inventory in lots, less the target.
    pub q: f64,
    /// Inventory bound in lots (beyond it, only the reducing side).
    pub q_max: f64,
    /// Added to each side's distance (adverse selection), in price.
    pub widen: f64,
    /// Spread bounds, in price.
    pub min_spread: f64,
    /// Most spread.
    pub max_spread: f64,
    /// Levels per side, and ticks between them.
    pub levels: u32,
    /// Ticks between levels.
    pub spacing_ticks: u32,
    /// Band the quotes stay inside.
    pub band: Option<(Price, Price)>,
}

/// A ladder: bid prices best first, ask prices best first (either may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ladder {
    /// Bids, highest first.
    pub bids: Vec<Price>,
    /// Asks, lowest first.
    pub asks: Vec<Price>,
}

/// GLFT's c1 and c2 for one side (γ, κ, A > 0).
fn glft(gamma: f64, arr: Arrivals) -> (f64, f64) {
    let k = arr.kappa;
    let c1 = (1.0 + gamma / k).ln() / gamma;
    let c2 = (gamma / (2.0 * k * arr.a) * (1.0 + gamma / k).powf(1.0 + k / gamma)).sqrt();
    (c1, c2)
}

/// The first-level bid and ask as real prices (before ticks), or `None` for a side not quoted.
pub fn raw_quotes(inp: &QuoteInput) -> (Option<f64>, Option<f64>) {
    let p = inp.mid;
    let sigma = p * (1.0 - p) * inp.sigma_logit;
    let (c1b, c2b) = glft(inp.gamma, inp.bid);
    let (c1a, c2a) = glft(inp.gamma, inp.ask);
    let q = inp.q;
    let db = c1b + (2.0 * q + 1.0) / 2.0 * sigma * c2b + inp.widen;
    let da = c1a - (2.0 * q - 1.0) / 2.0 * sigma * c2a + inp.widen;
    let (mut bid, mut ask) = (p - db, p + da);
    let spread = ask - bid;
    let centre = (bid + ask) / 2.0;
    let half = spread.clamp(inp.min_spread, inp.max_spread.max(inp.min_spread)) / 2.0;
    if (half * 2.0 - spread).abs() > f64::EPSILON {
        bid = centre - half;
        ask = centre + half;
    }
    let bid = (q < inp.q_max && bid.is_finite()).then_some(bid);
    let ask = (q > -inp.q_max && ask.is_finite()).then_some(ask);
    (bid, ask)
}

/// The ladder on ticks, inside (0, 1), the band, and off the other side of the book.
pub fn ladder(inp: &QuoteInput) -> Ladder {
    let (bid, ask) = raw_quotes(inp);
    let tick = i64::from(inp.tick.ticks().max(1));
    let top = i64::from(Price::SCALE) - tick;
    let to_ticks = |x: f64| x * f64::from(Price::SCALE);
    // A bid at or above the best ask would cross: one tick below it at most; likewise asks.
    let bid_cap = inp.best_ask.map_or(top, |a| i64::from(a.ticks()) - tick).min(top);
    let ask_floor = inp.best_bid.map_or(tick, |b| i64::from(b.ticks()) + tick).max(tick);
    let in_band = |t: i64| inp.band.is_none_or(|(lo, hi)| t >= i64::from(lo.ticks()) && t <= i64::from(hi.ticks()));
    let price = |t: i64| u32::try_from(t).ok().and_then(Price::from_ticks);
    let step = tick * i64::from(inp.spacing_ticks.max(1));
    let mut out = Ladder::default();
    if let Some(b) = bid {
        // Onto the tick, downwards (floor in tick units).
        let first = (whole((to_ticks(b) / tick as f64).floor()) * tick).min(bid_cap);
        for k in 0..i64::from(inp.levels) {
            let t = first - k * step;
            if t < tick {
                break;
            }
            if in_band(t)
                && let Some(p) = price(t)
            {
                out.bids.push(p);
            }
        }
    }
    if let Some(a) = ask {
        let first = (whole((to_ticks(a) / tick as f64).ceil()) * tick).max(ask_floor);
        for k in 0..i64::from(inp.levels) {
            let t = first + k * step;
            if t > top {
                break;
            }
            if in_band(t)
                && let Some(p) = price(t)
            {
                out.asks.push(p);
            }
        }
    }
    // Never a bid at or above an ask of our own.
    if let (Some(b), Some(a)) = (out.bids.first().copied(), out.asks.first().copied())
        && b >= a
    {
        out.asks.retain(|x| *x > b);
    }
    out
}

/// `x` as a whole number of ticks of 0.0001 (saturating; NaN is 0).
#[allow(clippy::cast_possible_truncation, reason = "clamped into i32 range first; a model price, not money")]
fn whole(x: f64) -> i64 {
    if x.is_nan() { 0 } else { x.clamp(-1e9, 1e9) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input() -> QuoteInput {
        QuoteInput {
            mid: 0.5,
            tick: Price::parse("0.01").unwrap(),
            best_bid: Some(Price::parse("0.49").unwrap()),
            best_ask: Some(Price::parse("0.51").unwrap()),
            sigma_logit: 0.01,
            bid: Arrivals { a: 0.5, kappa: 100.0 },
            ask: Arrivals { a: 0.5, kappa: 100.0 },
            gamma: 0.1,
            q: 0.0,
            q_max: 5.0,
            widen: 0.0,
            min_spread: 0.02,
            max_spread: 0.10,
            levels: 3,
            spacing_ticks: 1,
            band: None,
        }
    }

    #[test]
    fn flat_inventory_quotes_symmetrically_and_inventory_skews() {
        let (b, a) = raw_quotes(&input());
        let (b, a) = (b.unwrap(), a.unwrap());
        assert!((0.5 - b - (a - 0.5)).abs() < 1e-12, "symmetric: {b} {a}");
        let long = raw_quotes(&QuoteInput { q: 3.0, ..input() });
        assert!(long.0.unwrap() < b && long.1.unwrap() < a, "long: both quotes lower, to sell");
        let short = raw_quotes(&QuoteInput { q: -3.0, ..input() });
        assert!(short.0.unwrap() > b && short.1.unwrap() > a, "short: both higher, to buy");
    }

    #[test]
    fn beyond_the_bound_only_the_reducing_side_is_quoted() {
        let l = ladder(&QuoteInput { q: 5.0, ..input() });
        assert!(l.bids.is_empty() && !l.asks.is_empty());
        let l = ladder(&QuoteInput { q: -6.0, ..input() });
        assert!(l.asks.is_empty() && !l.bids.is_empty());
    }

    #[test]
    fn no_panic_on_empty_or_one_sided_books() {
        for (bb, ba) in [(None, None), (Some("0.30"), None), (None, Some("0.02"))] {
            let inp = QuoteInput {
                best_bid: bb.map(|p| Price::parse(p).unwrap()),
                best_ask: ba.map(|p| Price::parse(p).unwrap()),
                mid: 0.03,
                ..input()
            };
            let l = ladder(&inp);
            assert!(l.bids.iter().chain(&l.asks).all(|p| p.is_tradable()));
        }
    }

    proptest! {
        #[test]
        fn quotes_are_on_tick_inside_the_unit_interval_and_never_cross(
            mid in 0.0005f64..0.9995,
            tick in prop::sample::select(vec!["0.01", "0.001"]),
            sigma in 0.0f64..2.0,
            gamma in 0.001f64..50.0,
            kb in 1.0f64..5000.0, ka in 1.0f64..5000.0,
            ab in 0.001f64..50.0, aa in 0.001f64..50.0,
            q in -10.0f64..10.0,
            widen in 0.0f64..0.05,
            spreads in (0.0f64..0.2, 0.0f64..0.5),
            levels in 1u32..6, spacing in 1u32..5,
            book in (0u32..10_000, 0u32..10_000),
        ) {
            let tick = Price::parse(tick).unwrap();
            let t = tick.ticks();
            let (x, y) = (book.0 / t * t, book.1 / t * t);
            let (bb, ba) = (x.min(y), x.max(y));
            let best_bid = Price::from_ticks(bb).filter(|p| p.is_tradable());
            let best_ask = Price::from_ticks(ba).filter(|p| p.is_tradable() && ba > bb);
            let inp = QuoteInput {
                mid, tick, best_bid, best_ask, sigma_logit: sigma,
                bid: Arrivals { a: ab, kappa: kb }, ask: Arrivals { a: aa, kappa: ka },
                gamma, q, q_max: 5.0, widen,
                min_spread: spreads.0.min(spreads.1), max_spread: spreads.0.max(spreads.1),
                levels, spacing_ticks: spacing, band: None,
            };
            let l = ladder(&inp);
            for p in l.bids.iter().chain(&l.asks) {
                prop_assert!(p.is_tradable() && p.is_on_tick(tick), "{p:?}");
            }
            if let Some(a) = best_ask { prop_assert!(l.bids.iter().all(|b| *b < a)); }
            if let Some(b) = best_bid { prop_assert!(l.asks.iter().all(|a| *a > b)); }
            if let (Some(b), Some(a)) = (l.bids.first(), l.asks.first()) { prop_assert!(b < a); }
            if q >= 5.0 { prop_assert!(l.bids.is_empty()); }
            if q <= -5.0 { prop_assert!(l.asks.is_empty()); }
            prop_assert!(l.bids.windows(2).all(|w| w[0] > w[1]) && l.asks.windows(2).all(|w| w[0] < w[1]));
        }
    }
}

//! The `directional` strategy: trades binary markets on a model's fair value. Models publish
//! fair-value signals on the bus ([`crate::wire::signal`]); the strategy keeps the latest valid
//! one per market from the models it follows, and on every book change, signal and timer tick
//! decides per market, sans-IO:
//!
//! - **Exit** a held position by the first rule that fires ([`edge::exit`]: time to the end
//!   date, signal expiry, stop-loss, take-profit, edge reversal), selling it as taker at the bid.
//! - **Enter** (or scale in, at most `maxScaleIns` times) the token of the market whose edge
//!   after fees beats `entryEdgeBps`: YES at its ask against `p`, or NO at its ask against
//!   `1 − p`; one position per market (never both tokens). Sized to the Kelly stake at the cost
//!   with fees, times `kellyFractionBps`, within the RiskPolicy's Kelly budget (the gateway checks
//!   the same cap from the order's [`crate::wire::KellyBasis`]) and the per-order caps. Taker
//!   entries are fill-and-kill at the ask; passive ones rest post-only one tick inside the spread
//!   and are cancelled when their edge goes.
//!
//! One order per market is in flight at a time. A resolved market's winning shares are redeemed,
//! and the forecasts of each model version on it are scored ([`Strategy::scores`]), with the
//! market's mid when each came as the baseline: one a minute of the market's life (the first
//! forecast of each minute since the last one kept), so a model is judged over the whole life of
//! a market, not only by its last word (a crypto round's last forecast, seconds before its end,
//! is all but certain).
//!
//! Every fill is also valued against the closing line: at resolution, the last fair value the
//! market had (the model's closing word, which a sports model gives at kick-off) less the price
//! of each buy, or the price of each sell less it, scored under the model version whose signal
//! was in force when the fill came ([`ScoreBook::record_clv`]).

pub mod edge;
pub mod params;

use std::collections::BTreeMap;

use self::edge::{ExitView, Held};
use self::params::{DirParams, Entry};
use super::market_making::QuotedMarket;
use super::{BookSet, Ctx, OrderRequest, ParamsError, SeenFills, Strategy};
use crate::analytics::scores::{Forecast, ModelScore, ScoreBook};
use crate::ids::{ClientOrderId, ConditionId, TokenId};
use crate::money::{Money, Price, Quantity};
use crate::side::Side;
use crate::wire::signal::{FairValue, PPM};
use crate::wire::{
    CtfOp, Fill, KellyBasis, MarketEvent, MarketEventBody, OrderUpdate, RiskDecision, SignalUsed, TimeInForce, Verdict,
};

/// Order sizes are whole hundredths of a share (micro-shares).
const LOT_MICROS: u64 = 10_000;

/// After the gateway refuses an order, the market waits this long before asking again (ms).
const REFUSAL_BACKOFF_MS: u64 = 1_000;

/// How long an order that ended having filled waits for fills not seen yet before the market
/// decides again without them (ms): fills and order updates travel apart.
const FILL_WAIT_MS: u64 = 5_000;

/// The latest valid signal of a market, in YES terms, with its model version (an index into
/// [`Directional::sources`]).
#[derive(Debug, Clone)]
struct Signal {
    p_yes: u32,
    valid_until_ms: u64,
    source: usize,
    std_error_ppm: Option<u32>,
    published_ms: Option<u64>,
}

/// A fill kept for its closing-line value: the side (0 YES, 1 NO), a sell, the price (ppm) and
/// the model version in force when it came (an index into [`Directional::sources`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClvFill {
    k: usize,
    sell: bool,
    price_ppm: u32,
    source: Option<usize>,
}

/// Forecasts kept for scoring: at most one per this many ms per market and model version.
const SCORE_SAMPLE_MS: u64 = 60_000;

/// A forecast kept for scoring: when (Unix ms), the model's YES, the YES mid then (ppm).
#[derive(Debug, Clone, Copy)]
struct Sampled {
    at_ms: u64,
    p_yes: u32,
    mid: Option<u32>,
}

/// An order of ours in flight.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: ClientOrderId,
    token: TokenId,
    side: Side,
    price: Price,
    passive: bool,
    cancelling: bool,
    /// Shares of its fills seen.
    filled_seen: Quantity,
    /// It ended having filled this many shares, at (Unix ms), and waits for the fills not seen
    /// yet: deciding before them would size as if nothing were held.
    ended: Option<(Quantity, u64)>,
}

#[derive(Debug)]
struct MarketState {
    m: QuotedMarket,
    signal: Option<Signal>,
    /// Held YES and NO.
    held: [Held; 2],
    /// Entries into the current position (the first and its scale-ins).
    entries: u32,
    in_flight: Option<InFlight>,
    /// The last forecast of YES of each model version used here, with the YES mid when it came
    /// (scored when the market resolves).
    forecasts: BTreeMap<(String, String), Vec<Sampled>>,
    /// Fills in this market, valued against the closing line when it resolves.
    fills: Vec<ClvFill>,
    /// No new order before (Unix ms): a refusal's backoff or a closed position's cooldown.
    quiet_until_ms: u64,
    /// No order at all, exits included, before (Unix ms): the gateway refused the last one
    /// (asking again at once would be refused again, as fast as the answers come).
    refused_until_ms: u64,
    resolved: bool,
}

impl MarketState {
    fn new(m: QuotedMarket) -> MarketState {
        MarketState {
            m,
            signal: None,
            held: [Held::default(); 2],
            entries: 0,
            in_flight: None,
            forecasts: BTreeMap::new(),
            fills: vec![],
            quiet_until_ms: 0,
            refused_until_ms: 0,
            resolved: false,
        }
    }

    fn side_of(&self, token: &TokenId) -> Option<usize> {
        if *token == self.m.yes.token {
            Some(0)
        } else if *token == self.m.no.token {
            Some(1)
        } else {
            None
        }
    }

    fn instrument(&self, k: usize) -> &crate::strategy::Instrument {
        if k == 0 { &self.m.yes } else { &self.m.no }
    }

    /// The model's probability that side `k` pays, if a valid signal is there at `now_ms`.
    fn probability(&self, k: usize, now_ms: u64) -> Option<u32> {
        let s = self.signal.as_ref().filter(|s| s.valid_until_ms > now_ms)?;
        Some(if k == 0 { s.p_yes } else { PPM - s.p_yes })
    }

    /// The side held, if any.
    fn held_side(&self) -> Option<usize> {
        (0..2).find(|&k| !self.held[k].shares.is_zero())
    }
}

/// What the strategy's rules did, cumulative.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    signals: u64,
    entries: u64,
    scale_ins: u64,
    exits: [u64; 5],
    redemptions: u64,
}

/// The directional strategy.
#[derive(Debug)]
pub struct Directional {
    params: DirParams,
    markets: Vec<MarketState>,
    /// The capital Kelly fractions are of (the RiskPolicy's capital, else its gross limit).
    bankroll: Money,
    /// The RiskPolicy's Kelly budget (capital × kellyFractionCapBps).
    budget: Money,
    max_size: Quantity,
    max_notional: Money,
    seen_fills: SeenFills,
    counts: Counts,
    scores: ScoreBook,
    /// The model versions signals came from, `(model, version)`, in order of first use.
    sources: Vec<(String, String)>,
}

/// Sizes the strategy plans with.
#[derive(Debug, Clone, Copy)]
pub struct DirCaps {
    /// Kelly fractions are of this.
    pub bankroll: Money,
    /// The RiskPolicy's Kelly budget.
    pub kelly_budget: Money,
    /// Largest order, shares.
    pub max_size: Quantity,
    /// Largest order, notional.
    pub max_notional: Money,
}

impl Directional {
    /// A directional strategy over binary `markets`.
    pub fn new(markets: Vec<QuotedMarket>, params: DirParams, caps: DirCaps) -> Result<Directional, ParamsError> {
        params.validate()?;
        Ok(Directional {
            params,
            markets: markets.into_iter().map(MarketState::new).collect(),
            bankroll: caps.bankroll,
            budget: caps.kelly_budget,
            max_size: caps.max_size,
            max_notional: caps.max_notional,
            seen_fills: SeenFills::default(),
            counts: Counts::default(),
            scores: ScoreBook::default(),
            sources: vec![],
        })
    }

    fn market_of(&self, token: &TokenId) -> Option<usize> {
        self.markets.iter().position(|s| s.side_of(token).is_some())
    }

    /// The index of model version `(model, version)` in [`Directional::sources`].
    fn source_of(&mut self, model: &str, version: &str) -> usize {
        if let Some(k) = self.sources.iter().position(|(m, v)| m == model && v == version) {
            return k;
        }
        self.sources.push((model.to_string(), version.to_string()));
        self.sources.len() - 1
    }

    fn market_by_condition(&self, market: &ConditionId) -> Option<usize> {
        self.markets.iter().position(|s| s.m.yes.market == *market)
    }

    /// Decides market `i` now: an exit, an entry or scale-in, a passive order's cancel, or nothing.
    fn evaluate(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) {
        let now_ms = ctx.now_ns / 1_000_000;
        let s = &self.markets[i];
        if let Some(f) = s.in_flight
            && let Some((_, at)) = f.ended
        {
            if now_ms < at + FILL_WAIT_MS {
                return;
            }
            // The fills did not come: decide on what is known.
            self.markets[i].in_flight = None;
        }
        let s = &self.markets[i];
        if s.resolved || s.in_flight.is_some_and(|f| f.cancelling) || now_ms < s.refused_until_ms {
            return;
        }
        if let Some(k) = s.held_side() {
            let inst = s.instrument(k);
            let bid = books.live(&inst.token).and_then(|b| b.best_bid()).map(|l| l.price);
            let view = ExitView {
                probability: s.probability(k, now_ms),
                signal_seen: s.signal.is_some(),
                proceeds_ppm: bid.and_then(|b| edge::taker_proceeds_ppm(&inst.fees, b)),
                now_ms,
                end_ms: s.m.end_ms,
            };
            if let Some(why) = edge::exit(&self.params, &s.held[k], &view) {
                self.close(i, k, bid, why, ctx);
                return;
            }
        }
        self.enter(i, books, ctx);
    }

    /// Sells side `k`'s position at `bid` (fill-and-kill) because of `why`; a passive entry in
    /// flight is cancelled first.
    fn close(&mut self, i: usize, k: usize, bid: Option<Price>, why: edge::Exit, ctx: &mut Ctx<'_>) {
        let s = &mut self.markets[i];
        match s.in_flight {
            Some(f) if f.passive && f.side == Side::Buy => {
                ctx.cancel(f.id, "position closing");
                s.in_flight = Some(InFlight { cancelling: true, ..f });
                return;
            }
            Some(_) => return,
            None => {}
        }
        let Some(bid) = bid else { return };
        let inst = *s.instrument(k);
        let size = s.held[k].shares.round_down_to(LOT_MICROS).min(self.max_size);
        if size.is_zero() || size < inst.min_size {
            return; // Below the venue's minimum: held to resolution.
        }
        let order = OrderRequest {
            group: None,
            market: inst.market,
            token: inst.token,
            side: Side::Sell,
            price: bid,
            size,
            tif: TimeInForce::Fak,
            post_only: false,
            kelly: None,
        };
        let id = ctx.place(order);
        s.in_flight = Some(InFlight {
            id,
            token: inst.token,
            side: Side::Sell,
            price: bid,
            passive: false,
            cancelling: false,
            filled_seen: Quantity::ZERO,
            ended: None,
        });
        let slot = edge::Exit::ALL.iter().position(|e| *e == why).unwrap_or(0);
        self.counts.exits[slot] += 1;
        s.quiet_until_ms = ctx.now_ns / 1_000_000 + self.params.reentry_cooldown_ms;
    }

    /// Enters or scales in when an edge is there; cancels a passive entry whose edge went.
    fn enter(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>) {
        let now_ms = ctx.now_ns / 1_000_000;
        // A taker order or an exit in flight: nothing to decide until it ends.
        if self.markets[i].in_flight.is_some_and(|f| !f.passive) {
            return;
        }
        let best = self.best_entry(i, books, now_ms, ctx);
        let s = &mut self.markets[i];
        if let Some(f) = s.in_flight {
            // A resting passive bid stays while it is still what the strategy would place.
            let still = best.is_some_and(|(k, price, _)| s.instrument(k).token == f.token && price == f.price);
            if f.passive && !still {
                ctx.cancel(f.id, "entry edge gone or moved");
                s.in_flight = Some(InFlight { cancelling: true, ..f });
            }
            return;
        }
        if now_ms < s.quiet_until_ms {
            return;
        }
        let Some((k, price, size)) = best else { return };
        let inst = *s.instrument(k);
        let Some(p) = s.probability(k, now_ms) else { return };
        let passive = self.params.entry == Entry::Passive;
        let order = OrderRequest {
            group: None,
            market: inst.market,
            token: inst.token,
            side: Side::Buy,
            price,
            size,
            tif: if passive { TimeInForce::Gtc } else { TimeInForce::Fak },
            post_only: passive,
            kelly: Some(KellyBasis { probability_ppm: p }),
        };
        let id = ctx.place(order);
        // The journal keeps which model version sized it.
        if let Some(sig) = &s.signal
            && let Some((model, version)) = self.sources.get(sig.source)
        {
            ctx.signal_used(SignalUsed {
                client_order_id: id,
                namespace: String::new(),
                strategy: String::new(),
                market: inst.market,
                token: inst.token,
                model: model.clone(),
                model_version: version.clone(),
                probability_ppm: p,
                std_error_ppm: sig.std_error_ppm,
                published_ms: sig.published_ms,
                valid_until_ms: sig.valid_until_ms,
                created_ts_ns: ctx.now_ns,
            });
        }
        s.in_flight = Some(InFlight {
            id,
            token: inst.token,
            side: Side::Buy,
            price,
            passive,
            cancelling: false,
            filled_seen: Quantity::ZERO,
            ended: None,
        });
        if s.entries == 0 {
            self.counts.entries += 1;
        } else {
            self.counts.scale_ins += 1;
        }
        s.entries += 1;
    }

    /// The best entry of market `i` now: (side, price, size), if one beats the entry edge and
    /// adds at least the market's minimum towards the Kelly stake.
    fn best_entry(&self, i: usize, books: &BookSet, now_ms: u64, ctx: &Ctx<'_>) -> Option<(usize, Price, Quantity)> {
        let s = &self.markets[i];
        if s.resolved || now_ms < s.quiet_until_ms {
            return None;
        }
        if let (Some(before), Some(end)) = (self.params.close_before_end_s, s.m.end_ms)
            && now_ms.saturating_add(before.saturating_mul(1000)) >= end
        {
            return None;
        }
        let held = s.held_side();
        if held.is_some() && s.entries > self.params.max_scale_ins {
            return None;
        }
        let mut best: Option<(i64, usize, Price, Quantity)> = None;
        for k in 0..2 {
            if held.is_some_and(|h| h != k) {
                continue; // One position per market.
            }
            let inst = s.instrument(k);
            let Some(p) = s.probability(k, now_ms) else { continue };
            let Some(book) = books.live(&inst.token) else { continue };
            let Some(ask) = book.best_ask().map(|l| l.price) else { continue };
            let (price, cost) = match self.params.entry {
                Entry::Taker => (ask, edge::taker_cost_ppm(&inst.fees, ask)),
                Entry::Passive => {
                    let tick = book.tick().ticks();
                    let bid = book.best_bid().map_or(0, |l| l.price.ticks());
                    let inside = (bid + tick).min(ask.ticks().saturating_sub(tick));
                    let Some(price) = Price::from_ticks(inside).filter(|p| p.ticks() > 0) else { continue };
                    (price, Some(u64::from(price.ticks()) * 100))
                }
            };
            let Some(cost) = cost else { continue };
            if self.params.price_band.is_some_and(|b| price < b.min || price > b.max) {
                continue;
            }
            let edge = edge::edge_ppm(p, cost);
            if edge < i64::from(self.params.entry_edge_bps) * 100 {
                continue;
            }
            let target = edge::kelly_stake(p, price, cost, self.bankroll, self.params.kelly_fraction_bps, self.budget);
            let add = target.checked_sub(s.held[k].cost).unwrap_or(Money::ZERO);
            // Shares the addition buys at the cost with fees, within the per-order caps.
            let by_notional = edge::shares_for(self.max_notional, u64::from(price.ticks()) * 100);
            let size =
                ctx.opening(edge::shares_for(add, cost).min(self.max_size).min(by_notional)).round_down_to(LOT_MICROS);
            if size.is_zero() || size < inst.min_size {
                continue;
            }
            if best.is_none_or(|b| edge > b.0) {
                best = Some((edge, k, price, size));
            }
        }
        best.map(|(_, k, price, size)| (k, price, size))
    }

    fn apply_fill(&mut self, i: usize, fill: &Fill, forward: bool) {
        let s = &mut self.markets[i];
        let Some(k) = s.side_of(&fill.token) else { return };
        let clv = ClvFill {
            k,
            sell: fill.side == Side::Sell,
            price_ppm: fill.price.ticks() * 100,
            source: s.signal.as_ref().map(|g| g.source),
        };
        if forward {
            s.fills.push(clv);
        } else if let Some(at) = s.fills.iter().rposition(|f| *f == clv) {
            s.fills.remove(at);
        }
        let h = &mut s.held[k];
        let notional = fill.price.notional(fill.size, crate::money::Rounding::Nearest).unwrap_or(Money::ZERO);
        let buy = (fill.side == Side::Buy) == forward;
        if buy {
            h.shares = h.shares.saturating_add(fill.size);
            h.cost = h.cost.checked_add(notional).and_then(|c| c.checked_add(fill.fee)).unwrap_or(h.cost);
        } else {
            // Cost leaves in proportion to the shares sold.
            let before = h.shares.micros().max(1);
            let out = i128::from(h.cost.micros()) * i128::from(fill.size.micros().min(before)) / i128::from(before);
            h.shares = h.shares.saturating_sub(fill.size);
            h.cost = Money::from_micros(h.cost.micros() - i64::try_from(out).unwrap_or(0));
            if h.shares.is_zero() {
                h.cost = Money::ZERO;
            }
        }
        if s.held.iter().all(|h| h.shares.is_zero()) {
            s.entries = 0;
        }
    }
}

impl Strategy for Directional {
    fn tokens(&self) -> Vec<TokenId> {
        self.markets.iter().flat_map(|s| [s.m.yes.token, s.m.no.token]).collect()
    }

    fn add_markets(&mut self, markets: Vec<QuotedMarket>) -> Result<Vec<TokenId>, &'static str> {
        let mut added = vec![];
        for m in markets {
            if self.market_by_condition(&m.yes.market).is_some() {
                continue;
            }
            added.extend([m.yes.token, m.no.token]);
            self.markets.push(MarketState::new(m));
        }
        Ok(added)
    }

    fn on_book(&mut self, token: &TokenId, books: &BookSet, ctx: &mut Ctx<'_>) {
        if let Some(i) = self.market_of(token) {
            self.evaluate(i, books, ctx);
        }
    }

    fn on_signal(&mut self, signal: &FairValue, books: &BookSet, ctx: &mut Ctx<'_>) -> Result<(), &'static str> {
        if !self.params.signals.contains(&signal.model) {
            return Err("unfollowed");
        }
        let Some(i) = self.market_of(&signal.token) else { return Err("unknown_token") };
        let now_ms = ctx.now_ns / 1_000_000;
        if let (Some(max), Some(published)) = (self.params.max_signal_age_ms, signal.published_ms)
            && now_ms.saturating_sub(published) > max
        {
            return Err("stale");
        }
        let source = self.source_of(&signal.model, &signal.model_version);
        let s = &mut self.markets[i];
        let p_yes = if signal.token == s.m.yes.token { signal.probability_ppm } else { signal.complement_ppm() };
        s.signal = Some(Signal {
            p_yes,
            valid_until_ms: signal.valid_until_ms,
            source,
            std_error_ppm: signal.std_error_ppm,
            published_ms: signal.published_ms,
        });
        let mid = books.live(&s.m.yes.token).and_then(|b| Some((b.best_bid()?.price, b.best_ask()?.price)));
        let mid_ppm = mid.map(|(b, a)| (b.ticks() + a.ticks()) * 50);
        if !s.resolved {
            let kept = s.forecasts.entry((signal.model.clone(), signal.model_version.clone())).or_default();
            if kept.last().is_none_or(|k| now_ms >= k.at_ms + SCORE_SAMPLE_MS) {
                kept.push(Sampled { at_ms: now_ms, p_yes, mid: mid_ppm });
            }
        }
        self.counts.signals += 1;
        self.evaluate(i, books, ctx);
        Ok(())
    }

    fn on_decision(&mut self, decision: &RiskDecision, _books: &BookSet, ctx: &mut Ctx<'_>) {
        if matches!(decision.verdict, Verdict::Approved) {
            return;
        }
        let id = decision.intent.client_order_id;
        let Some(i) = self.markets.iter().position(|s| s.in_flight.is_some_and(|f| f.id == id)) else { return };
        let s = &mut self.markets[i];
        if s.in_flight.is_some_and(|f| f.side == Side::Buy) && s.held_side().is_none() {
            s.entries = s.entries.saturating_sub(1);
        }
        s.in_flight = None;
        let now_ms = ctx.now_ns / 1_000_000;
        s.quiet_until_ms = s.quiet_until_ms.max(now_ms + REFUSAL_BACKOFF_MS);
        // Nothing more until the backoff ends: the next book, signal or timer after it asks again.
        s.refused_until_ms = now_ms + REFUSAL_BACKOFF_MS;
    }

    fn on_order(&mut self, update: &OrderUpdate, books: &BookSet, ctx: &mut Ctx<'_>) {
        if !update.status.is_terminal() {
            return;
        }
        let id = update.client_order_id;
        let Some(i) = self.markets.iter().position(|s| s.in_flight.is_some_and(|f| f.id == id)) else { return };
        let s = &mut self.markets[i];
        // An entry that bought nothing was no entry.
        if s.in_flight.is_some_and(|f| f.side == Side::Buy) && update.filled.is_zero() && s.held_side().is_none() {
            s.entries = s.entries.saturating_sub(1);
        }
        if let Some(f) = s.in_flight.as_mut()
            && f.filled_seen < update.filled
        {
            // Fills still on their way: decide once they are in (or after FILL_WAIT_MS).
            f.ended = Some((update.filled, ctx.now_ns / 1_000_000));
            return;
        }
        s.in_flight = None;
        self.evaluate(i, books, ctx);
    }

    fn on_fill(&mut self, fill: &Fill, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Some(i) = self.market_of(&fill.token) else { return };
        let Some(forward) = self.seen_fills.take(fill) else { return };
        self.apply_fill(i, fill, forward);
        let s = &mut self.markets[i];
        let Some(f) = s.in_flight.as_mut().filter(|f| f.id == fill.client_order_id) else { return };
        f.filled_seen =
            if forward { f.filled_seen.saturating_add(fill.size) } else { f.filled_seen.saturating_sub(fill.size) };
        // The last fill of an order that already ended: the market decides again.
        if f.ended.is_some_and(|(filled, _)| f.filled_seen >= filled) {
            s.in_flight = None;
            self.evaluate(i, books, ctx);
        }
    }

    fn on_resolved(&mut self, event: &MarketEvent, _books: &BookSet, ctx: &mut Ctx<'_>) {
        let MarketEventBody::Resolved { winner } = event.body else { return };
        let Some(i) = self.market_by_condition(&event.market) else { return };
        let s = &mut self.markets[i];
        if s.resolved {
            return;
        }
        s.resolved = true;
        if let Some(f) = s.in_flight.take() {
            ctx.cancel(f.id, "market resolved");
        }
        let won = if winner == (event.token == s.m.yes.token) { 0 } else { 1 };
        for ((model, version), kept) in std::mem::take(&mut s.forecasts) {
            for k in kept {
                let f = Forecast { model_ppm: k.p_yes, market_ppm: k.mid, happened: won == 0 };
                self.scores.record(&model, &version, f);
            }
        }
        // The closing line: the last fair value the market had, whatever its validity now.
        if let Some(close) = s.signal.as_ref().map(|g| g.p_yes) {
            for f in std::mem::take(&mut s.fills) {
                let Some((model, version)) = f.source.and_then(|k| self.sources.get(k)) else { continue };
                let p = i64::from(if f.k == 0 { close } else { PPM - close });
                let price = i64::from(f.price_ppm);
                self.scores.record_clv(model, version, if f.sell { price - p } else { p - price });
            }
        }
        let size = s.held[won].shares;
        let token = s.instrument(won).token;
        s.held = [Held::default(); 2];
        s.entries = 0;
        if !size.is_zero() {
            ctx.ctf(CtfOp::Redeem { market: event.market, token, size });
            self.counts.redemptions += 1;
        }
    }

    fn on_timer(&mut self, books: &BookSet, ctx: &mut Ctx<'_>) {
        for i in 0..self.markets.len() {
            self.evaluate(i, books, ctx);
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counts;
        let mut out = vec![
            ("signals_used", c.signals),
            ("entries", c.entries),
            ("scale_ins", c.scale_ins),
            ("redemptions", c.redemptions),
        ];
        out.extend(edge::Exit::ALL.iter().zip(c.exits).map(|(e, n)| (e.label(), n)));
        out
    }

    fn scores(&self) -> Vec<ModelScore> {
        self.scores.summary()
    }

    fn restore(&mut self, positions: &[(TokenId, crate::accounting::Position)]) -> usize {
        let mut taken = 0;
        for (token, p) in positions.iter().filter(|(_, p)| !p.size.is_zero()) {
            let Some(i) = self.market_of(token) else { continue };
            let s = &mut self.markets[i];
            let Some(k) = s.side_of(token) else { continue };
            s.held[k] = Held { shares: p.size, cost: p.cost };
            // A position held counts as entered once: scale-ins go on from there.
            s.entries = s.entries.max(1);
            taken += 1;
        }
        taken
    }

    fn set_params(&mut self, params: &crate::config::StrategyParams) -> Result<(), ParamsError> {
        match params {
            crate::config::StrategyParams::Directional(p) => {
                p.validate()?;
                self.params = p.clone();
                Ok(())
            }
            other => Err(ParamsError::Decode(format!("{:?} parameters for a directional strategy", other.kind()))),
        }
    }
}

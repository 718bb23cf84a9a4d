//! Market making on binary markets (`type: marketMaking`): GLFT quotes for prices in (0, 1)
//! ([`quote`]), from estimators that never block quoting ([`volatility`], [`arrivals`]), with
//! inventory bounds per market and event, markout feedback ([`markout`]) and the venue's manners.
//!
//! - **One economic exposure, quoted once.** Quotes are computed on YES. A bid on YES is placed
//!   as a sale of NO at 1 − bid while NO is held, else as a buy of YES; an ask on YES as a sale of
//!   YES while YES is held, else as a buy of NO at 1 − ask. Inventory is YES less NO shares; a
//!   YES and NO held together are merged back into collateral.
//! - **Inventory.** Skewed towards `inventoryTarget`; at the bound (shrinking to zero over the
//!   ramp before the end date) only the reducing side is quoted; over the event's bound too.
//! - **Manners.** Post-only GTC (or GTD with the venue's 60-second minimum) on tick; a quote is
//!   replaced only when the model moved it by the tolerance in ticks, its size by the tolerance
//!   in percent, or it grew too old; a market is requoted at most once per refresh interval
//!   (pulls are immediate); replacements go out with their cancels in one batch.
//! - **Pulls.** Every quote of a market is cancelled while its books are not live (feed
//!   unhealthy or silent, a tick-size change voids the book until the next snapshot, the venue
//!   stopped taking orders), after it resolved (winners are then redeemed), within the stop
//!   window before its end date, and while a toxic-flow alarm stands.
//!
//! - **Earnings.** Maker rebates ([`crate::analytics::rebates`]) accrue from the market's prints
//!   and our maker fills; liquidity rewards ([`crate::analytics::rewards`]) are scored once a
//!   minute from the YES book and our resting quotes (less our own orders where the book holds
//!   them: live mode), and reported by [`Strategy::earnings`].
//!
//! Sans-IO like every strategy: the time comes in the context. The model (estimators, quote
//! distances) computes in floating point: its outputs are estimates, and every price that leaves
//! it is put on the tick as a fixed-point [`Price`]; sizes, holdings and everything accounted are
//! fixed point.

pub mod arrivals;
pub mod markout;
pub mod params;
pub mod quote;
pub mod volatility;

use std::collections::BTreeMap;

use arrivals::ArrivalEstimator;
use markout::Markouts;
use params::MmParams;
use quote::{Ladder, QuoteInput};
use volatility::LogitVol;

use super::{BookSet, Ctx, Instrument, OrderRequest, ParamsError, SeenFills, Strategy};
use crate::analytics::Earnings;
use crate::analytics::rebates::{RebateMeter, Trade};
use crate::analytics::rewards::{Quote, RewardMeter, RewardRules};
use crate::config::StrategyParams;
use crate::ids::{ClientOrderId, ConditionId, TokenId};
use crate::money::{Price, Quantity};
use crate::side::Side;
use crate::wire::{
    CtfOp, CtfReport, CtfStatus, Fill, MarketEvent, MarketEventBody, OrderStatus, OrderUpdate, RiskDecision,
    TimeInForce, Verdict,
};

/// One market to quote: its YES and NO, end date and event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedMarket {
    /// YES.
    pub yes: Instrument,
    /// NO.
    pub no: Instrument,
    /// End date (Unix ms), when the market has one.
    pub end_ms: Option<u64>,
    /// The event it belongs to (a neg-risk event's outcomes share one), for the event limit.
    pub event: Option<String>,
    /// The market's maker-rebate share of taker fees, basis points.
    pub rebate_bps: u32,
    /// Its liquidity-reward program, if it has one.
    pub rewards: Option<RewardRules>,
}

/// An order of ours on the book (or on its way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Working {
    id: ClientOrderId,
    token: TokenId,
    side: Side,
    price: Price,
    size: Quantity,
    /// Filled so far (a sale's remainder still commits the shares it offers).
    filled: Quantity,
    placed_ns: u64,
    /// Over at the venue, with fills still to come (`size` is then what it filled, and
    /// `placed_ns` when it ended).
    done: bool,
}

impl Working {
    /// Shares of `token` this order may still sell.
    fn selling(&self, token: &TokenId) -> Quantity {
        if self.side == Side::Sell && self.token == *token {
            self.size.saturating_sub(self.filled)
        } else {
            Quantity::ZERO
        }
    }
}

/// What a quote slot should hold: a token, side and price (in that token) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Want {
    token: TokenId,
    side: Side,
    price: Price,
    size: Quantity,
}

/// Why quotes are pulled (counted by kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pull {
    NotLive,
    Resolved,
    EndNear,
    Toxic,
}

#[derive(Debug)]
struct MarketState {
    m: QuotedMarket,
    yes: Quantity,
    no: Quantity,
    /// Bids then asks, `levels` each.
    slots: Vec<Option<Working>>,
    /// Cancels sent, awaiting their final update.
    cancelling: Vec<Working>,
    vol: LogitVol,
    bid_arrivals: ArrivalEstimator,
    ask_arrivals: ArrivalEstimator,
    markouts: Markouts,
    last_mid: Option<f64>,
    last_quote_ns: Option<u64>,
    tick_changed: bool,
    resolved: Option<TokenId>,
    paused_until_ns: u64,
    /// Shares on their way out through a merge or redemption, per token.
    outgoing: BTreeMap<TokenId, Quantity>,
    /// The YES book's tick (in ticks of 0.0001) when last seen.
    tick: u32,
    /// Orders of slots that no longer exist (fewer levels): cancelled at the next requote.
    stale: Vec<Working>,
}

impl MarketState {
    fn new(m: QuotedMarket, p: &MmParams) -> MarketState {
        MarketState {
            m,
            yes: Quantity::ZERO,
            no: Quantity::ZERO,
            slots: vec![None; 2 * p.levels as usize],
            cancelling: vec![],
            vol: LogitVol::new(p.estimator_half_life_s),
            bid_arrivals: ArrivalEstimator::new(p.estimator_half_life_s),
            ask_arrivals: ArrivalEstimator::new(p.estimator_half_life_s),
            markouts: Markouts::default(),
            last_mid: None,
            last_quote_ns: None,
            tick_changed: false,
            resolved: None,
            paused_until_ns: 0,
            outgoing: BTreeMap::new(),
            tick: 100,
            stale: vec![],
        }
    }

    /// Inventory in micro-shares: YES less NO.
    fn inventory(&self) -> i64 {
        micros(self.yes) - micros(self.no)
    }

    /// One of our orders as a YES quote (a NO bid at q is a YES ask at 1 − q).
    fn in_yes_terms(&self, w: &Working) -> Quote {
        use crate::side::BookSide::{Ask, Bid};
        let yes = w.token == self.m.yes.token;
        let side = match (yes, w.side) {
            (true, Side::Buy) | (false, Side::Sell) => Bid,
            (true, Side::Sell) | (false, Side::Buy) => Ask,
        };
        Quote { side, price: if yes { w.price } else { w.price.complement() }, size: w.size }
    }

    fn held(&self, token: &TokenId) -> Quantity {
        let h = if *token == self.m.yes.token { self.yes } else { self.no };
        h.saturating_sub(self.outgoing.get(token).copied().unwrap_or(Quantity::ZERO))
    }

    /// Every order of this market, wherever it is tracked (a slot, being cancelled, stale).
    fn orders_mut(&mut self) -> impl Iterator<Item = &mut Working> {
        self.slots.iter_mut().flatten().chain(self.cancelling.iter_mut()).chain(self.stale.iter_mut())
    }

    /// Shares of `token` our sales out of a slot (being cancelled, or stale) may still sell.
    fn selling_elsewhere(&self, token: &TokenId) -> Quantity {
        self.cancelling.iter().chain(&self.stale).fold(Quantity::ZERO, |a, w| a.saturating_add(w.selling(token)))
    }

    /// Shares of `token` any sale of ours may still sell.
    fn offered(&self, token: &TokenId) -> Quantity {
        let in_slots = self.slots.iter().flatten().fold(Quantity::ZERO, |a, w| a.saturating_add(w.selling(token)));
        in_slots.saturating_add(self.selling_elsewhere(token))
    }

    /// Shares of `token` held and offered by no sale of ours: what a merge may take now. The
    /// venue refuses a sale beyond what is held, and a sale that filled after its shares went
    /// elsewhere would sell what we no longer hold.
    fn unoffered(&self, token: &TokenId) -> Quantity {
        self.held(token).saturating_sub(self.offered(token))
    }

    /// Micro-shares of `token` a new sale may offer, or (negative) how many more our sales offer
    /// than that: held, less what a merge is to take (YES and NO held together are merged,
    /// never sold), less what our sales offer.
    fn for_sale(&self, token: &TokenId) -> i64 {
        let matched = self.held(&self.m.yes.token).min(self.held(&self.m.no.token));
        micros(self.held(token).saturating_sub(matched)) - micros(self.offered(token))
    }
}

/// The tokens a merge or redemption takes, and how many of each.
fn shares_out(op: &CtfOp) -> (Vec<TokenId>, Quantity) {
    match op {
        CtfOp::Merge { tokens, size, .. } => (tokens.to_vec(), *size),
        CtfOp::Redeem { token, size, .. } => (vec![*token], *size),
        _ => (vec![], Quantity::ZERO),
    }
}

/// Millionths as the model's number (exact below 2^53).
fn from_micros(m: u64) -> f64 {
    m as f64 / 1e6
}

fn micros(q: Quantity) -> i64 {
    i64::try_from(q.micros()).unwrap_or(i64::MAX)
}

/// Counts of what the market maker did, by kind.
#[derive(Debug, Default, Clone)]
struct Counts {
    placed: u64,
    replaced: u64,
    cancelled: u64,
    fills: u64,
    pulls_not_live: u64,
    pulls_resolved: u64,
    pulls_end: u64,
    pulls_toxic: u64,
    merges: u64,
    redemptions: u64,
}

/// The market maker.
pub struct MarketMaker {
    params: MmParams,
    markets: Vec<MarketState>,
    /// Fills booked: (fill id, failed).
    seen_fills: SeenFills,
    ctf: BTreeMap<ClientOrderId, (usize, CtfOp)>,
    counts: Counts,
    rebates: RebateMeter,
    rewards: RewardMeter,
    /// Our orders show in the books (live mode), so reward scoring takes them out of the rest.
    own_in_book: bool,
    /// The next reward sample (once a minute).
    next_reward_ns: u64,
}

/// How long a sale reported over keeps the shares it filled back from new sales while its fills
/// are on their way.
const FILLS_WAIT_NS: u64 = 5_000_000_000;

/// Reward samples are taken once a minute.
const REWARD_SAMPLE_NS: u64 = 60_000_000_000;

/// The moment of minute `m` its reward sample is taken at, ns into it (splitmix64 of `m`).
fn moment_in_minute(m: u64) -> u64 {
    let mut z = m.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % REWARD_SAMPLE_NS
}

impl MarketMaker {
    /// Quotes `markets` with `params`.
    pub fn new(markets: Vec<QuotedMarket>, params: MmParams) -> Result<MarketMaker, ParamsError> {
        params.validate()?;
        let markets = markets.into_iter().map(|m| MarketState::new(m, &params)).collect();
        Ok(MarketMaker {
            params,
            markets,
            seen_fills: SeenFills::default(),
            ctf: BTreeMap::new(),
            counts: Counts::default(),
            rebates: RebateMeter::default(),
            rewards: RewardMeter::default(),
            own_in_book: false,
            next_reward_ns: 0,
        })
    }

    /// Says that our orders show in the books it sees (live mode; paper orders never do).
    pub fn with_own_orders_in_book(mut self, yes: bool) -> MarketMaker {
        self.own_in_book = yes;
        self
    }

    /// Scores every market with a reward program once a minute (at the first timer of each).
    fn sample_rewards(&mut self, books: &BookSet, now_ns: u64) {
        if now_ns < self.next_reward_ns {
            return;
        }
        // The venue samples at a random moment of each minute: a fixed pseudo-random one per
        // minute here (reproducible), so nothing periodic in the quoting lines up with it.
        let minute = now_ns / REWARD_SAMPLE_NS + 1;
        self.next_reward_ns = minute * REWARD_SAMPLE_NS + moment_in_minute(minute);
        for s in &self.markets {
            let Some(rules) = s.m.rewards else { continue };
            // A minute whose book is not live is sampled too: nothing of ours scores in it.
            let (bids, asks): (Vec<_>, Vec<_>) = books.live(&s.m.yes.token).map_or((vec![], vec![]), |book| {
                (
                    book.levels(crate::side::BookSide::Bid).copied().collect(),
                    book.levels(crate::side::BookSide::Ask).copied().collect(),
                )
            });
            let quotes: Vec<Quote> = s.slots.iter().flatten().map(|w| s.in_yes_terms(w)).collect();
            self.rewards.sample(&rules, &bids, &asks, &quotes, self.own_in_book);
        }
    }

    fn market_of(&self, token: &TokenId) -> Option<usize> {
        self.markets.iter().position(|s| s.m.yes.token == *token || s.m.no.token == *token)
    }

    fn market_by_condition(&self, market: &ConditionId) -> Option<usize> {
        self.markets.iter().position(|s| s.m.yes.market == *market)
    }

    /// The YES book's mid and whether its spread is at most two ticks, from the best prices
    /// (one-sided: the last mid, else the one best price).
    fn observe(&mut self, i: usize, books: &BookSet, now_ns: u64) {
        let s = &mut self.markets[i];
        let Some(book) = books.live(&s.m.yes.token) else { return };
        let (bb, ba) = (book.best_bid().map(|l| l.price), book.best_ask().map(|l| l.price));
        let mid = match (bb, ba) {
            (Some(b), Some(a)) => Some(f64::from(b.ticks() + a.ticks()) / 2.0 / f64::from(Price::SCALE)),
            (Some(x), None) | (None, Some(x)) => s.last_mid.or(Some(f64::from(x.ticks()) / f64::from(Price::SCALE))),
            (None, None) => None,
        };
        let Some(mid) = mid else { return };
        let tight = match (bb, ba) {
            (Some(b), Some(a)) => a.ticks().saturating_sub(b.ticks()) <= 2 * book.tick().ticks(),
            _ => false,
        };
        s.vol.observe(now_ns, mid, tight);
        s.bid_arrivals.advance(now_ns);
        s.ask_arrivals.advance(now_ns);
        s.markouts.mid(now_ns, mid);
        s.last_mid = Some(mid);
        s.tick = book.tick().ticks().max(1);
    }

    /// Why market `i`'s quotes must be pulled now, if they must.
    fn pull_reason(&self, i: usize, books: &BookSet, now_ns: u64) -> Option<Pull> {
        let s = &self.markets[i];
        if s.resolved.is_some() {
            return Some(Pull::Resolved);
        }
        if books.live(&s.m.yes.token).is_none() || books.live(&s.m.no.token).is_none() || s.tick_changed {
            return Some(Pull::NotLive);
        }
        if let Some(end) = s.m.end_ms
            && now_ns / 1_000_000 + self.params.stop_before_end_s * 1000 >= end
        {
            return Some(Pull::EndNear);
        }
        if now_ns < s.paused_until_ns {
            return Some(Pull::Toxic);
        }
        None
    }

    /// Cancels every order of market `i`.
    fn pull(&mut self, i: usize, why: Pull, ctx: &mut Ctx<'_>) {
        let s = &mut self.markets[i];
        let mut cancelled = 0;
        for slot in &mut s.slots {
            if let Some(w) = slot.take() {
                ctx.cancel(w.id, "quotes pulled");
                s.cancelling.push(w);
                cancelled += 1;
            }
        }
        if cancelled > 0 {
            // Quotes cancelled count one by one, as a requote counts them; the pull once.
            self.counts.cancelled += cancelled;
            match why {
                Pull::NotLive => self.counts.pulls_not_live += 1,
                Pull::Resolved => self.counts.pulls_resolved += 1,
                Pull::EndNear => self.counts.pulls_end += 1,
                Pull::Toxic => self.counts.pulls_toxic += 1,
            }
        }
    }

    /// The inventory bound of market `i` now, micro-shares (shrinking over the ramp).
    fn bound(&self, i: usize, now_ns: u64) -> f64 {
        let p = &self.params;
        let full = p.max_inventory_micros as f64;
        match self.markets[i].m.end_ms {
            Some(end) if p.inventory_ramp_s > 0 => {
                let left_s = (end.saturating_sub(now_ns / 1_000_000)) as f64 / 1000.0;
                full * (left_s / p.inventory_ramp_s as f64).min(1.0)
            }
            _ => full,
        }
    }

    /// The YES ladder of market `i`, or `None` when it cannot be priced.
    fn ladder(&self, i: usize, books: &BookSet, now_ns: u64) -> Option<Ladder> {
        let p = &self.params;
        let s = &self.markets[i];
        let book = books.live(&s.m.yes.token)?;
        let mid = s.last_mid?;
        let lot = p.order_size_micros as f64;
        let q = (s.inventory() - p.inventory_target_micros) as f64 / lot;
        let mut q_max = self.bound(i, now_ns) / lot;
        // Over the event's bound: only the side that reduces this market's inventory.
        if let (Some(max), Some(e)) = (p.max_event_inventory_micros, &s.m.event) {
            let total: u64 = self
                .markets
                .iter()
                .filter(|o| o.m.event.as_ref() == Some(e))
                .map(|o| o.inventory().unsigned_abs())
                .sum();
            if total >= max {
                q_max = q.abs().min(q_max);
            }
        }
        let bps = |b: u32| f64::from(b) / 10_000.0;
        let kappa = p.kappa_micros.map(from_micros);
        let inp = QuoteInput {
            mid,
            tick: book.tick(),
            best_bid: book.best_bid().map(|l| l.price),
            best_ask: book.best_ask().map(|l| l.price),
            sigma_logit: s.vol.sigma(),
            bid: s.bid_arrivals.estimate(kappa),
            ask: s.ask_arrivals.estimate(kappa),
            gamma: from_micros(p.gamma_micros),
            q,
            q_max,
            widen: s.markouts.widening(),
            min_spread: bps(p.min_spread_bps),
            max_spread: bps(p.max_spread_bps),
            levels: p.levels,
            spacing_ticks: p.level_spacing_ticks,
            band: p.price_band.map(|b| (b.min, b.max)),
        };
        Some(quote::ladder(&inp))
    }

    /// What each slot should hold: the ladder's YES bids and asks as orders on YES or NO.
    ///
    /// A quote is a sale of the token held only from shares no other sale of ours offers and no
    /// merge is to take: a slot's sale kept keeps its shares; one replaced (or being cancelled)
    /// still offers them until its cancel is confirmed, so a new sale waits for that (the slot
    /// stays empty) rather than offer them twice; with too few shares either way the quote is a
    /// buy of the complement.
    fn wants(&self, i: usize, ladder: &Ladder, now_ns: u64, buy_lot: Quantity) -> Vec<Option<Want>> {
        let p = &self.params;
        let s = &self.markets[i];
        let lot = p.lot();
        let levels = p.levels as usize;
        let (yes, no) = (s.m.yes.token, s.m.no.token);
        let (mut yes_free, mut no_free) = (s.for_sale(&yes), s.for_sale(&no));
        // Shares that free up once pending cancels are confirmed.
        let (mut yes_tied, mut no_tied) = (micros(s.selling_elsewhere(&yes)), micros(s.selling_elsewhere(&no)));
        let min = s.m.yes.min_size.max(s.m.no.min_size);
        let mut out = vec![None; 2 * levels];
        if lot < min {
            return out;
        }
        let lot_micros = micros(lot);
        let choose = |k: usize, sell: Want, buy: Want, free: &mut i64, tied: &mut i64| {
            let own = s.slots[k].map_or(Quantity::ZERO, |w| w.selling(&sell.token));
            if let Some(w) = s.slots[k].filter(|_| !own.is_zero() && *free >= 0)
                && self.keeps(i, &w, &sell, now_ns)
            {
                return Some(sell);
            }
            // Not kept: its remainder is cancelled, and offered until that is confirmed.
            *tied += micros(own);
            if *free >= lot_micros {
                *free -= lot_micros;
                Some(sell)
            } else if *free + *tied >= lot_micros || buy.size < min {
                None
            } else {
                Some(buy)
            }
        };
        for (k, b) in ladder.bids.iter().take(levels).enumerate() {
            let sell = Want { token: no, side: Side::Sell, price: b.complement(), size: lot };
            let buy = Want { token: yes, side: Side::Buy, price: *b, size: buy_lot };
            out[k] = choose(k, sell, buy, &mut no_free, &mut no_tied);
        }
        for (k, a) in ladder.asks.iter().take(levels).enumerate() {
            let sell = Want { token: yes, side: Side::Sell, price: *a, size: lot };
            let buy = Want { token: no, side: Side::Buy, price: a.complement(), size: buy_lot };
            out[levels + k] = choose(levels + k, sell, buy, &mut yes_free, &mut yes_tied);
        }
        out
    }

    /// Whether `w` still serves `want` in market `i` (within the tolerances, young enough).
    fn keeps(&self, i: usize, w: &Working, want: &Want, now_ns: u64) -> bool {
        let p = &self.params;
        if w.token != want.token || w.side != want.side {
            return false;
        }
        let moved = w.price.ticks().abs_diff(want.price.ticks());
        if moved >= p.refresh_tolerance_ticks * self.markets[i].tick {
            return false;
        }
        let size_diff = w.size.micros().abs_diff(want.size.micros());
        if size_diff.saturating_mul(100) > want.size.micros().saturating_mul(u64::from(p.size_tolerance_pct)) {
            return false;
        }
        now_ns.saturating_sub(w.placed_ns) < p.max_order_age_ms * 1_000_000
    }

    /// Requotes market `i` (at most once per refresh interval unless `force`).
    fn requote(&mut self, i: usize, books: &BookSet, ctx: &mut Ctx<'_>, force: bool) {
        let now = ctx.now_ns;
        if let Some(why) = self.pull_reason(i, books, now) {
            self.pull(i, why, ctx);
            return;
        }
        let interval = u64::from(self.params.refresh_interval_ms) * 1_000_000;
        if !force && self.markets[i].last_quote_ns.is_some_and(|t| now < t + interval) {
            return;
        }
        // A finished sale whose fills never came (lost, or failed and reported so) stops
        // holding its shares back after a while.
        self.markets[i].cancelling.retain(|w| !(w.done && now.saturating_sub(w.placed_ns) > FILLS_WAIT_NS));
        let stale: Vec<Working> = self.markets[i].stale.drain(..).collect();
        for w in stale {
            ctx.cancel(w.id, "fewer levels");
            self.markets[i].cancelling.push(w);
        }
        let Some(ladder) = self.ladder(i, books, now) else { return };
        let wants = self.wants(i, &ladder, now, ctx.opening(self.params.lot()));
        let tif = match self.params.quote_ttl_s {
            Some(ttl) => TimeInForce::Gtd { expires_at_s: now / 1_000_000_000 + 60 + ttl },
            None => TimeInForce::Gtc,
        };
        let market = self.markets[i].m.yes.market;
        let mut cancels = vec![];
        let mut places = vec![];
        for (k, want) in wants.into_iter().enumerate() {
            let current = self.markets[i].slots[k];
            match (current, want) {
                (Some(w), Some(want)) if self.keeps(i, &w, &want, now) => {}
                (Some(w), want) => {
                    cancels.push((k, w));
                    if let Some(want) = want {
                        places.push((k, want));
                        self.counts.replaced += 1;
                    }
                }
                (None, Some(want)) => places.push((k, want)),
                (None, None) => {}
            }
        }
        let s = &mut self.markets[i];
        for (k, w) in cancels {
            ctx.cancel(w.id, "requote");
            s.slots[k] = None;
            s.cancelling.push(w);
            self.counts.cancelled += 1;
        }
        for (k, want) in places {
            let order = OrderRequest {
                group: None,
                market,
                token: want.token,
                side: want.side,
                price: want.price,
                size: want.size,
                tif,
                post_only: true,
                kelly: None,
            };
            let id = ctx.place(order);
            s.slots[k] = Some(Working {
                id,
                token: want.token,
                side: want.side,
                price: want.price,
                size: want.size,
                filled: Quantity::ZERO,
                placed_ns: now,
                done: false,
            });
            self.counts.placed += 1;
        }
        s.last_quote_ns = Some(now);
    }

    /// Forgets order `id` (final): from its slot or the cancelling list.
    fn forget(&mut self, id: &ClientOrderId) -> Option<usize> {
        self.take(id).map(|(i, _)| i)
    }

    /// Takes order `id` out of its slot or the cancelling list, with its market.
    fn take(&mut self, id: &ClientOrderId) -> Option<(usize, Working)> {
        for (i, s) in self.markets.iter_mut().enumerate() {
            if let Some(w) = s.slots.iter_mut().find(|w| w.is_some_and(|w| w.id == *id)).and_then(Option::take) {
                return Some((i, w));
            }
            if let Some(k) = s.cancelling.iter().position(|w| w.id == *id) {
                return Some((i, s.cancelling.remove(k)));
            }
        }
        None
    }

    /// Order `update.client_order_id` is over. A sale whose update says more filled than its
    /// fills booked so far still offers those shares: they are sold, and held here until the
    /// fills come (the update can arrive first), so it stays listed until then.
    fn finish(&mut self, update: &OrderUpdate, now_ns: u64) -> Option<usize> {
        let (i, mut w) = self.take(&update.client_order_id)?;
        if w.side == Side::Sell && update.filled > w.filled {
            w.size = update.filled;
            w.done = true;
            w.placed_ns = now_ns;
            self.markets[i].cancelling.push(w);
        }
        Some(i)
    }

    /// Merges the complete sets market `i` holds (YES and NO together) back into collateral.
    fn merge(&mut self, i: usize, ctx: &mut Ctx<'_>) {
        let s = &self.markets[i];
        if s.resolved.is_some() {
            return;
        }
        // Only shares no sale of ours offers: a sale that filled after its shares were merged
        // would sell what is gone.
        let (yes, no) = (s.unoffered(&s.m.yes.token), s.unoffered(&s.m.no.token));
        let size = yes.min(no).round_down_to(10_000);
        if size < s.m.yes.min_size.max(Quantity::from_micros(1_000_000)) {
            return;
        }
        let op = CtfOp::Merge { market: s.m.yes.market, tokens: [s.m.yes.token, s.m.no.token], size };
        self.ctf_op(i, op, ctx);
        self.counts.merges += 1;
    }

    fn ctf_op(&mut self, i: usize, op: CtfOp, ctx: &mut Ctx<'_>) {
        let s = &mut self.markets[i];
        let (tokens, size) = shares_out(&op);
        for t in tokens {
            let o = s.outgoing.entry(t).or_insert(Quantity::ZERO);
            *o = o.saturating_add(size);
        }
        let id = ctx.ctf(op.clone());
        self.ctf.insert(id, (i, op));
    }

    fn apply_fill(&mut self, i: usize, f: &Fill, sign: bool) {
        let s = &mut self.markets[i];
        if let Some(w) = s.orders_mut().find(|w| w.id == f.client_order_id) {
            w.filled = if sign { w.filled.saturating_add(f.size) } else { w.filled.saturating_sub(f.size) };
        }
        // A finished sale whose fills are all booked now offers nothing.
        s.cancelling.retain(|w| !(w.done && w.filled >= w.size));
        let yes = f.token == s.m.yes.token;
        let buy = f.side == Side::Buy;
        let held = if yes { &mut s.yes } else { &mut s.no };
        *held = if buy == sign { held.saturating_add(f.size) } else { held.saturating_sub(f.size) };
        if sign {
            // In YES terms: buying YES or selling NO is buying YES.
            let yes_buy = yes == buy;
            let price = f64::from(f.price.ticks()) / f64::from(Price::SCALE);
            s.markouts.fill(f.ts_ns, yes_buy, if yes { price } else { 1.0 - price });
        }
    }
}

impl Strategy for MarketMaker {
    fn restore(&mut self, positions: &[(TokenId, crate::accounting::Position)]) -> usize {
        let mut taken = 0;
        for (token, p) in positions.iter().filter(|(_, p)| !p.size.is_zero()) {
            let Some(i) = self.market_of(token) else { continue };
            let s = &mut self.markets[i];
            // The inventory its skew and limits work from.
            if *token == s.m.yes.token {
                s.yes = p.size;
            } else {
                s.no = p.size;
            }
            taken += 1;
        }
        taken
    }

    fn tokens(&self) -> Vec<TokenId> {
        self.markets.iter().flat_map(|s| [s.m.yes.token, s.m.no.token]).collect()
    }

    fn on_book(&mut self, token: &TokenId, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Some(i) = self.market_of(token) else { return };
        if *token == self.markets[i].m.yes.token {
            self.observe(i, books, ctx.now_ns);
        }
        if books.live(token).is_some() {
            // A fresh book after a tick-size change ends that pull.
            self.markets[i].tick_changed = false;
        }
        let threshold = f64::from(self.params.toxic_markout_bps) / 10_000.0;
        let s = &mut self.markets[i];
        if self.params.toxic_markout_bps > 0 && ctx.now_ns >= s.paused_until_ns && s.markouts.toxic(threshold) {
            s.paused_until_ns = ctx.now_ns + self.params.toxic_pause_ms * 1_000_000;
            // The alarm restarts from the fills after the pause.
            s.markouts = Markouts::default();
        }
        self.requote(i, books, ctx, false);
    }

    fn on_event(&mut self, event: &MarketEvent, _books: &BookSet, ctx: &mut Ctx<'_>) {
        let Some(i) = self.market_of(&event.token) else { return };
        if let MarketEventBody::Trade { price, size, .. } = &event.body {
            // Every print has one maker: the day's rebate pool and fee-equivalent.
            let m = &self.markets[i].m;
            let fees = if event.token == m.yes.token { m.yes.fees } else { m.no.fees };
            let trade = Trade {
                ts_ms: event.venue_ts_ms,
                market: m.yes.market,
                fees,
                share_bps: m.rebate_bps,
                price: *price,
                size: *size,
            };
            self.rebates.print(&trade);
        }
        match &event.body {
            MarketEventBody::Trade { side, price, .. } if event.token == self.markets[i].m.yes.token => {
                // Taker flow against the YES book, counted once (on YES), from the mid before.
                let s = &mut self.markets[i];
                if let Some(mid) = s.last_mid {
                    let p = f64::from(price.ticks()) / f64::from(Price::SCALE);
                    match side {
                        Side::Buy => s.ask_arrivals.event(ctx.now_ns, (p - mid).max(0.0)),
                        Side::Sell => s.bid_arrivals.event(ctx.now_ns, (mid - p).max(0.0)),
                    }
                }
            }
            MarketEventBody::TickSize { .. } => {
                self.markets[i].tick_changed = true;
                self.pull(i, Pull::NotLive, ctx);
            }
            _ => {}
        }
    }

    fn on_decision(&mut self, decision: &RiskDecision, _books: &BookSet, _ctx: &mut Ctx<'_>) {
        if matches!(decision.verdict, Verdict::Rejected { .. }) {
            self.forget(&decision.intent.client_order_id);
        }
    }

    fn on_order(&mut self, update: &OrderUpdate, books: &BookSet, ctx: &mut Ctx<'_>) {
        if !update.status.is_terminal() {
            // A cancel that reached the venue before its order did found nothing: the order rests
            // now, so it is cancelled again.
            let id = update.client_order_id;
            if self.markets.iter().any(|s| s.cancelling.iter().any(|w| w.id == id && !w.done)) {
                ctx.cancel(id, "cancelled before it rested");
            }
            return;
        }
        if let Some(i) = self.finish(update, ctx.now_ns) {
            // Shares a finished sale no longer offers may be merged now.
            self.merge(i, ctx);
            // A filled quote is replaced at once; others at the next requote.
            let force = update.status == OrderStatus::Filled;
            self.requote(i, books, ctx, force);
        }
    }

    fn on_fill(&mut self, fill: &Fill, books: &BookSet, ctx: &mut Ctx<'_>) {
        let Some(i) = self.market_of(&fill.token) else { return };
        let Some(forward) = self.seen_fills.take(fill) else { return };
        let failed = !forward;
        self.apply_fill(i, fill, forward);
        if !failed && fill.liquidity == crate::wire::Liquidity::Maker {
            let m = &self.markets[i].m;
            let fees = if fill.token == m.yes.token { m.yes.fees } else { m.no.fees };
            let ts_ms = fill.ts_ns / 1_000_000;
            let trade = Trade {
                ts_ms,
                market: m.yes.market,
                fees,
                share_bps: m.rebate_bps,
                price: fill.price,
                size: fill.size,
            };
            self.rebates.maker_fill(&trade, true);
        }
        if !failed {
            self.counts.fills += 1;
            self.merge(i, ctx);
        }
        self.requote(i, books, ctx, true);
    }

    fn on_ctf(&mut self, report: &CtfReport, _books: &BookSet, _ctx: &mut Ctx<'_>) {
        let Some((i, op)) = self.ctf.remove(&report.id) else { return };
        let s = &mut self.markets[i];
        let (tokens, size) = shares_out(&op);
        for t in tokens {
            if let Some(o) = s.outgoing.get_mut(&t) {
                *o = o.saturating_sub(size);
            }
            if report.status == CtfStatus::Done {
                let h = if t == s.m.yes.token { &mut s.yes } else { &mut s.no };
                *h = h.saturating_sub(size);
            }
        }
    }

    fn on_resolved(&mut self, event: &MarketEvent, _books: &BookSet, ctx: &mut Ctx<'_>) {
        let MarketEventBody::Resolved { winner } = event.body else { return };
        let Some(i) = self.market_by_condition(&event.market) else { return };
        if self.markets[i].resolved.is_some() {
            return;
        }
        let s = &self.markets[i];
        let won = if winner == (event.token == s.m.yes.token) { s.m.yes.token } else { s.m.no.token };
        self.markets[i].resolved = Some(won);
        self.pull(i, Pull::Resolved, ctx);
        let size = self.markets[i].held(&won);
        if !size.is_zero() {
            self.ctf_op(i, CtfOp::Redeem { market: event.market, token: won, size }, ctx);
            self.counts.redemptions += 1;
        }
    }

    fn on_timer(&mut self, books: &BookSet, ctx: &mut Ctx<'_>) {
        self.sample_rewards(books, ctx.now_ns);
        for i in 0..self.markets.len() {
            self.observe(i, books, ctx.now_ns);
            self.requote(i, books, ctx, false);
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counts;
        vec![
            ("quotes_placed", c.placed),
            ("quotes_replaced", c.replaced),
            ("quotes_cancelled", c.cancelled),
            ("fills", c.fills),
            ("pulls_not_live", c.pulls_not_live),
            ("pulls_resolved", c.pulls_resolved),
            ("pulls_end_near", c.pulls_end),
            ("pulls_toxic_flow", c.pulls_toxic),
            ("merges", c.merges),
            ("redemptions", c.redemptions),
        ]
    }

    fn earnings(&self, now_ns: u64) -> Option<Earnings> {
        Some(Earnings { rebates: self.rebates.summary(now_ns / 1_000_000), rewards: self.rewards.summary() })
    }

    fn set_params(&mut self, params: &StrategyParams) -> Result<(), ParamsError> {
        let StrategyParams::MarketMaking(p) = params else {
            return Err(ParamsError::Decode("not a marketMaking parameter block".into()));
        };
        p.validate()?;
        let levels_changed = p.levels != self.params.levels;
        for s in &mut self.markets {
            s.vol.set_half_life(p.estimator_half_life_s);
            s.bid_arrivals.set_half_life(p.estimator_half_life_s);
            s.ask_arrivals.set_half_life(p.estimator_half_life_s);
            // Everything is requoted under the new parameters at the next chance.
            s.last_quote_ns = None;
        }
        self.params = p.clone();
        if levels_changed {
            // New slots: the old orders are cancelled at the next requote.
            for s in &mut self.markets {
                let old: Vec<Working> = s.slots.drain(..).flatten().collect();
                s.slots = vec![None; 2 * p.levels as usize];
                s.stale.extend(old);
            }
        }
        Ok(())
    }
}

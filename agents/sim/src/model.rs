//! The simulator's market model, sans-IO: seeded, stepped, and deterministic for a given
//! configuration. It keeps the true book of every token and says what happened as venue frames.
//!
//! - Each binary market has a fair YES price (ticks of 0.0001) on a bounded random walk; its YES
//!   book is a ladder of `levels` price levels per side around the fair price, with sizes that
//!   change as orders come and go; the NO book is the exact mirror, and every change is published
//!   on both tokens in one `price_change` frame (as the venue does).
//! - Neg-risk events are sets of binary markets whose fair YES prices sum to 1; a move of one
//!   outcome is offset on another. For `mispricing_bps` of the time (one outcome at a time) an
//!   outcome's price is 6 cents lower or higher (even odds) without the offset: lower, the sum of
//!   YES asks falls below 1 (a complete set is worth buying); higher, the sum of YES bids rises
//!   above 1 (a held set is worth selling, a NO basket worth converting). Either passes.
//! - Trades take liquidity from the top of the book (`last_trade_price` plus the level change).
//! - When a price crosses below 0.04 or above 0.96 the tick shrinks from 0.01 to 0.001 (and grows
//!   back inside 0.05 .. 0.95): `tick_size_change` for both tokens, then fresh `book` snapshots.

use polyfleet_core::book::OrderBook;
use polyfleet_core::wire::Level;
use polyfleet_core::{BookSide, ConditionId, Price, Quantity, Rounding, Side, TokenId};
use polyfleet_polymarket::data::book_hash::{BookMeta, book_hash};
use polyfleet_polymarket::http::market_status::{MarketStatus, StatusToken};
use polyfleet_polymarket::websocket::frames::{
    ChangeOut, TradeOut, book_frame, last_trade_frame, market_resolved_frame, price_change_frame, tick_size_frame,
};

use crate::rng::Rng;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Stand-alone binary markets.
    pub binary_markets: u32,
    /// Neg-risk events, each with this many outcomes (at least 2).
    pub neg_risk_events: Vec<u32>,
    /// Share of the time each neg-risk event is mispriced, in basis points (one outcome at a
    /// time, for 20 to 80 of its requotes).
    pub mispricing_bps: u32,
    /// Price levels per side of each book.
    pub levels: u32,
    /// Simulated clock at the start (Unix ms).
    pub start_ms: u64,
    /// Simulated milliseconds per step.
    pub step_ms: u64,
    /// Taker fee rate reported on trades, in basis points.
    pub fee_rate_bps: u32,
    /// The makers' share of taker fees paid back as rebates, basis points (Gamma's
    /// `feeSchedule.rebateRate`).
    pub maker_rebate_bps: u32,
    /// The neg-risk adapter's fee on every event's conversions, basis points (`getFeeBips`; the
    /// venue's adapter charges 0 today).
    pub convert_fee_bips: u32,
    /// A liquidity-reward program on every market (Gamma's `rewardsMinSize`, `rewardsMaxSpread`,
    /// `clobRewards`).
    pub rewards: Option<polyfleet_core::analytics::rewards::RewardRules>,
    /// The taker flow and the moves of fair prices.
    pub flow: Flow,
    /// Every market resolves this long after the start (simulated ms): YES wins where its fair
    /// price is at least one half, and in a neg-risk event the outcome with the highest fair
    /// price wins, the others lose. `None`: markets resolve only on command ([`Simulator::resolve`]).
    pub resolve_after_ms: Option<u64>,
}

/// How the model's markets move and trade, per step of one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Percent of steps that are a taker trade against the top of the book.
    pub trade_pct: u32,
    /// Percent of steps that move the fair price one tick (with no trade: the quotes move).
    pub move_pct: u32,
    /// Percent of trades that are informed: the taker knows the next move, trades its way, and
    /// the fair price then moves one tick that way (the rest are uninformed: a coin decides
    /// their side and nothing follows them).
    pub informed_pct: u32,
}

impl Default for Flow {
    fn default() -> Self {
        Flow { trade_pct: 8, move_pct: 32, informed_pct: 0 }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            binary_markets: 2,
            neg_risk_events: vec![3],
            mispricing_bps: 500,
            levels: 8,
            start_ms: 1_767_225_600_000,
            step_ms: 5,
            fee_rate_bps: 0,
            maker_rebate_bps: 2500,
            convert_fee_bips: 0,
            rewards: None,
            flow: Flow::default(),
            resolve_after_ms: None,
        }
    }
}

/// One simulated binary market (stand-alone or an outcome of a neg-risk event).
#[derive(Debug, Clone)]
pub struct SimMarket {
    /// Condition id.
    pub condition: ConditionId,
    /// Question text.
    pub question: String,
    /// Gamma-style slug.
    pub slug: String,
    /// Index of its neg-risk event in [`Simulator::events`].
    pub event: Option<usize>,
    /// Outcome label (the candidate in an event, "Yes" otherwise).
    pub outcome: String,
    /// YES token.
    pub yes: TokenId,
    /// NO token.
    pub no: TokenId,
    /// Current tick size.
    pub tick: Price,
    /// Minimum order size.
    pub min_order_size: Quantity,
    fair: u32,
    sizes: [Vec<u64>; 2],
    yes_book: OrderBook,
    last_trade: Option<Price>,
    /// Steps of mispricing left (neg-risk outcomes only).
    discount_steps: u32,
    /// The mispricing is a premium (priced above fair), not a discount.
    premium: bool,
    /// Resolved (YES won when true): no more quotes or trades.
    resolved: Option<bool>,
    /// Closed to orders, not resolved yet: no quotes or trades, the book stands still.
    halted: bool,
    /// A crypto up/down round: its window, and its fair price set by the reference price (it
    /// does not walk).
    pub round: Option<RoundWindow>,
}

/// The window of an up/down round market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundWindow {
    /// Window start (Unix s).
    pub start_s: u64,
    /// Window end (Unix s): the market resolves then.
    pub end_s: u64,
}

impl SimMarket {
    /// Its outcome labels (Up/Down for a round, Yes/No otherwise).
    pub fn outcomes(&self) -> [&'static str; 2] {
        if self.round.is_some() { ["Up", "Down"] } else { ["Yes", "No"] }
    }

    /// Its end date as Gamma writes it.
    pub fn end_date(&self) -> String {
        self.round.as_ref().and_then(|r| rfc3339(r.end_s)).unwrap_or_else(|| "2027-01-01T00:00:00Z".into())
    }

    /// A round's window start as Gamma writes it (`eventStartTime`).
    pub fn start_date(&self) -> Option<String> {
        rfc3339(self.round.as_ref()?.start_s)
    }

    /// Its rules text (what resolves it), as Gamma's `description`.
    pub fn rules(&self) -> String {
        match &self.round {
            Some(_) => format!(
                "This market resolves to \"Up\" if the Chainlink {} 60-second TWAP at the end of the window is greater \
                 than or equal to the 60-second TWAP at the start of the window, and to \"Down\" otherwise.",
                self.slug.split('-').next().unwrap_or_default().to_uppercase() + "/USD"
            ),
            None => format!("{} Resolves on command of the simulator.", self.question),
        }
    }
}

/// A Unix second as an RFC 3339 UTC timestamp.
fn rfc3339(s: u64) -> Option<String> {
    let t = jiff::Timestamp::from_second(i64::try_from(s).ok()?).ok()?;
    Some(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A neg-risk event: its markets' YES prices sum to 1.
#[derive(Debug, Clone)]
pub struct SimEvent {
    /// Gamma-style slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Indexes into [`Simulator::markets`].
    pub markets: Vec<usize>,
}

/// A frame the simulator publishes, with the tokens it concerns (for subscription routing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFrame {
    /// Tokens whose subscribers receive the frame.
    pub assets: Vec<TokenId>,
    /// The frame text.
    pub text: String,
}

pub use polyfleet_core::exec::paper::Print;

/// Most prints kept for [`Simulator::take_prints`] (older ones are dropped when nobody takes them).
const MAX_PRINTS: usize = 10_000;

/// The market model.
#[derive(Debug, Clone)]
pub struct Simulator {
    cfg: SimConfig,
    prints: std::collections::VecDeque<Print>,
    rng: Rng,
    markets: Vec<SimMarket>,
    events: Vec<SimEvent>,
    now_ms: u64,
    crypto: crate::crypto::Crypto,
}

/// The chance, in parts per million, that a step of one of a neg-risk event's `outcomes` markets
/// starts a mispricing of the event (none running), so that the event is mispriced `share_bps`
/// of the time: a mispricing lasts about 50 requotes of its outcome, one per `n` model steps
/// (`n` markets), i.e. about `50 n` steps; the event's markets are stepped `outcomes / n` of the
/// steps; so a start chance `p` per such step leaves `50 n / (50 n + n / (outcomes p))` of the
/// time mispriced, and `p = share / (50 outcomes (1 - share))`.
fn mispricing_start_ppm(share_bps: u32, outcomes: usize) -> u64 {
    let (b, k) = (u64::from(share_bps.min(10_000)), u64::try_from(outcomes.max(1)).unwrap_or(1));
    if b >= 10_000 {
        return 1_000_000;
    }
    (20_000 * b / (k * (10_000 - b))).min(1_000_000)
}

const CENT: u32 = 100;
const MILLI: u32 = 10;

fn random_token(rng: &mut Rng) -> TokenId {
    TokenId::from_limbs([rng.next_u64(), rng.next_u64(), rng.next_u64(), rng.next_u64() >> 1])
}

fn random_condition(rng: &mut Rng) -> ConditionId {
    let mut b = [0u8; 32];
    for chunk in b.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    ConditionId::from_bytes(b)
}

fn random_size(rng: &mut Rng) -> u64 {
    // 5 .. 2000 shares with 2 decimals (the venue's size precision).
    (500 + rng.below(199_500)) * 10_000
}

/// A market with random ids, a full ladder of random sizes, and no book yet.
fn new_market(
    rng: &mut Rng,
    levels: u32,
    fair: u32,
    event: Option<usize>,
    outcome: String,
    slug: String,
    question: String,
) -> SimMarket {
    let levels = levels.max(1) as usize;
    SimMarket {
        condition: random_condition(rng),
        question,
        slug,
        event,
        outcome,
        yes: random_token(rng),
        no: random_token(rng),
        tick: Price::from_ticks(CENT).unwrap_or(Price::ZERO),
        min_order_size: Quantity::from_micros(5_000_000),
        fair,
        sizes: [(0..levels).map(|_| random_size(rng)).collect(), (0..levels).map(|_| random_size(rng)).collect()],
        yes_book: OrderBook::new(),
        last_trade: None,
        discount_steps: 0,
        premium: false,
        resolved: None,
        halted: false,
        round: None,
    }
}

impl Simulator {
    /// A simulator in its initial state.
    pub fn new(cfg: SimConfig) -> Simulator {
        let mut rng = Rng::new(cfg.seed);
        let mut markets = Vec::new();
        let mut events = Vec::new();
        let new_market =
            |rng: &mut Rng, fair: u32, event: Option<usize>, outcome: String, slug: String, question: String| {
                new_market(rng, cfg.levels, fair, event, outcome, slug, question)
            };
        for i in 0..cfg.binary_markets {
            let fair = 2000 + rng.below_u32(6000);
            markets.push(new_market(
                &mut rng,
                fair,
                None,
                "Yes".into(),
                format!("sim-binary-{i}"),
                format!("Will simulated event {i} happen?"),
            ));
        }
        for (e, &outcomes) in cfg.neg_risk_events.iter().enumerate() {
            let n = outcomes.max(2);
            let base = Price::SCALE / n;
            let mut idx = vec![];
            for k in 0..n {
                // The last outcome takes the remainder so the fair prices sum to exactly 1.
                let fair = if k + 1 == n { Price::SCALE - base * (n - 1) } else { base };
                idx.push(markets.len());
                markets.push(new_market(
                    &mut rng,
                    fair,
                    Some(e),
                    format!("Candidate {k}"),
                    format!("sim-event-{e}-candidate-{k}"),
                    format!("Will candidate {k} win simulated race {e}?"),
                ));
            }
            events.push(SimEvent {
                slug: format!("sim-event-{e}"),
                title: format!("Simulated race {e}"),
                markets: idx,
            });
        }
        let crypto = crate::crypto::Crypto::new(cfg.seed);
        let mut sim = Simulator { now_ms: cfg.start_ms, cfg, rng, markets, events, prints: Default::default(), crypto };
        for i in 0..sim.markets.len() {
            sim.requote(i);
        }
        sim
    }

    /// Appends a binary market (with a fresh book); its index.
    pub(crate) fn add_binary(&mut self, slug: Option<String>) -> usize {
        let i = self.markets.len();
        let fair = 2000 + self.rng.below_u32(6000);
        let slug = slug.unwrap_or_else(|| format!("sim-binary-{i}"));
        let question = format!("Will {slug} happen?");
        self.markets.push(new_market(&mut self.rng, self.cfg.levels, fair, None, "Yes".into(), slug, question));
        self.requote(i);
        i
    }

    /// Appends a neg-risk event with one market per label (fair prices summing to 1); the
    /// indexes of its markets.
    pub(crate) fn add_event(&mut self, slug: Option<String>, labels: &[String]) -> Vec<usize> {
        let e = self.events.len();
        let slug = slug.unwrap_or_else(|| format!("sim-event-{e}"));
        let n = u32::try_from(labels.len().max(2)).unwrap_or(u32::MAX);
        let base = Price::SCALE / n;
        let mut idx = vec![];
        for (k, label) in labels.iter().enumerate() {
            let fair = if u32::try_from(k + 1).is_ok_and(|k1| k1 == n) { Price::SCALE - base * (n - 1) } else { base };
            let i = self.markets.len();
            let (m_slug, question) = (format!("{slug}-{k}"), format!("Will {label} win {slug}?"));
            self.markets.push(new_market(
                &mut self.rng,
                self.cfg.levels,
                fair,
                Some(e),
                label.clone(),
                m_slug,
                question,
            ));
            self.requote(i);
            idx.push(i);
        }
        self.events.push(SimEvent { title: slug.clone(), slug, markets: idx.clone() });
        idx
    }

    /// A market, mutable (declarations set its ids).
    pub(crate) fn market_mut(&mut self, i: usize) -> &mut SimMarket {
        &mut self.markets[i]
    }

    /// The trades printed since the last call (the exchange fills resting orders from them).
    pub fn take_prints(&mut self) -> Vec<Print> {
        self.prints.drain(..).collect()
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Every market.
    pub fn markets(&self) -> &[SimMarket] {
        &self.markets
    }

    /// Every neg-risk event.
    pub fn events(&self) -> &[SimEvent] {
        &self.events
    }

    /// The simulated clock (Unix ms).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The market and whether `token` is its YES token.
    pub fn find_token(&self, token: &TokenId) -> Option<(usize, bool)> {
        self.markets.iter().enumerate().find_map(|(i, m)| {
            if m.yes == *token {
                Some((i, true))
            } else if m.no == *token {
                Some((i, false))
            } else {
                None
            }
        })
    }

    /// The true book of a token.
    pub fn book(&self, token: &TokenId) -> Option<OrderBook> {
        let (i, yes) = self.find_token(token)?;
        let m = &self.markets[i];
        Some(if yes { m.yes_book.clone() } else { m.yes_book.mirrored() })
    }

    /// Book metadata of a token (for hashes and REST).
    pub fn meta(&self, token: &TokenId) -> Option<BookMeta> {
        let (i, _) = self.find_token(token)?;
        let m = &self.markets[i];
        Some(BookMeta {
            market: m.condition,
            asset: *token,
            timestamp_ms: self.now_ms,
            min_order_size: m.min_order_size,
            tick_size: m.tick,
            neg_risk: m.event.is_some(),
            last_trade_price: m.last_trade,
        })
    }

    /// The `book` frame of a token (what a subscribe or a REST `/book` returns).
    pub fn snapshot_frame(&self, token: &TokenId) -> Option<String> {
        Some(book_frame(&self.meta(token)?, &self.book(token)?))
    }

    /// Advances the model one step and returns the frames it produced (possibly none).
    pub fn step(&mut self) -> Vec<SimFrame> {
        self.now_ms += self.cfg.step_ms;
        let mut out = self.step_rounds();
        if self.markets.is_empty() {
            return out;
        }
        let i = self.rng.index(self.markets.len());
        if let Some(after) = self.cfg.resolve_after_ms
            && self.now_ms >= self.cfg.start_ms.saturating_add(after)
            && self.markets.iter().any(|m| m.resolved.is_none())
        {
            out.extend(self.resolve_all());
            return out;
        }
        if self.markets[i].resolved.is_some() || self.markets[i].halted {
            // A resolved or closed market is over: the step passes without news.
            return out;
        }
        let roll = self.rng.below(100);
        let flow = self.cfg.flow;
        if roll < u64::from(flow.trade_pct) {
            // An informed taker knows which way the price goes next (the default flow draws
            // nothing more, so its histories stay as they were).
            let informed = flow.informed_pct > 0 && self.rng.below(100) < u64::from(flow.informed_pct);
            let up = informed.then(|| self.rng.below(2) == 0);
            self.trade(i, up, &mut out);
            if let Some(up) = up
                && self.markets[i].round.is_none()
            {
                self.walk_by(i, up);
            }
        } else {
            if roll < u64::from(flow.trade_pct + flow.move_pct) && self.markets[i].round.is_none() {
                self.walk(i);
            }
            let side = self.rng.index(2);
            let k = self.rng.index(usize::try_from(self.cfg.levels.max(1)).unwrap_or(1));
            self.markets[i].sizes[side][k] = random_size(&mut self.rng);
        }
        if let Some(e) = self.markets[i].event
            && self.events[e].markets.iter().all(|&m| self.markets[m].discount_steps == 0)
            && self.rng.below(1_000_000) < mispricing_start_ppm(self.cfg.mispricing_bps, self.events[e].markets.len())
        {
            let victim = self.events[e].markets[self.rng.index(self.events[e].markets.len())];
            self.markets[victim].discount_steps = 20 + self.rng.below_u32(60);
            self.markets[victim].premium = self.rng.below(2) == 0;
            if victim != i && self.markets[victim].resolved.is_none() {
                self.emit_requote(victim, &mut out);
            }
        }
        self.emit_requote(i, &mut out);
        out
    }

    /// Adds a rolling series of crypto up/down rounds (`coin` e.g. `btc`, `period` e.g. `15m`):
    /// the current round and the next are listed now, later ones as time passes, each resolved
    /// from the reference price at its end (see [`crate::crypto`]). False for an unknown period.
    pub fn declare_series(&mut self, coin: &str, period: &str) -> bool {
        let now_s = self.now_ms / 1000;
        if self.crypto.add_series(coin, period, now_s).is_none() {
            return false;
        }
        for (series, slug, start, end) in self.crypto.pending_listings(now_s) {
            self.list_round(series, slug, (start, end), now_s);
        }
        true
    }

    /// Lists a round of `series` with window `(start_s, end_s)` at `now_s`: its market (even
    /// odds until it starts), recorded by the series; the market's index.
    fn list_round(&mut self, series: usize, slug: String, (start_s, end_s): (u64, u64), now_s: u64) -> usize {
        let i = self.add_binary(Some(slug));
        let m = &mut self.markets[i];
        m.question = format!("{} Up or Down?", m.slug);
        m.round = Some(RoundWindow { start_s, end_s });
        m.fair = Price::SCALE / 2;
        self.requote(i);
        self.crypto.listed(series, i, start_s, end_s, now_s);
        i
    }

    /// The crypto rounds' seconds up to now: new rounds listed, books following the
    /// probability of Up, rounds at their end resolved.
    fn step_rounds(&mut self) -> Vec<SimFrame> {
        let mut out = vec![];
        for sec in self.crypto.advance(self.now_ms) {
            for (series, slug, start, end) in sec.list {
                let i = self.list_round(series, slug, (start, end), self.now_ms / 1000);
                for token in [self.markets[i].yes, self.markets[i].no] {
                    out.extend(self.snapshot_frame(&token).map(|text| SimFrame { assets: vec![token], text }));
                }
            }
            for (i, fair) in sec.fair {
                if self.markets[i].resolved.is_none() && !self.markets[i].halted && self.markets[i].fair != fair {
                    self.markets[i].fair = fair;
                    self.emit_requote(i, &mut out);
                }
            }
            for (i, up) in sec.resolve {
                out.extend(self.resolve(i, up));
            }
        }
        out
    }

    /// The RTDS frames (reference prices) produced since the last call.
    pub fn take_rtds(&mut self) -> Vec<crate::crypto::RtdsFrame> {
        self.crypto.take_rtds()
    }

    /// The reference price of `coin` now and its 60-second TWAP.
    pub fn reference_price(&self, coin: &str) -> Option<(f64, f64)> {
        self.crypto.price(coin)
    }

    /// The strike (TWAP at the start) of the open round whose market is `market`.
    pub fn round_strike(&self, market: usize) -> Option<f64> {
        self.crypto.round_of(market)?.2.strike
    }

    fn walk(&mut self, i: usize) {
        let up = self.rng.below(2) != 0;
        self.walk_by(i, up);
    }

    /// Moves market `i`'s fair price one tick, up or down.
    fn walk_by(&mut self, i: usize, up: bool) {
        let step = if up { 1i64 } else { -1 } * i64::from(self.markets[i].tick.ticks());
        let bounded = |f: i64| {
            u32::try_from(f.clamp(i64::from(MILLI * 2), i64::from(Price::SCALE - MILLI * 2))).unwrap_or(MILLI * 2)
        };
        let before = self.markets[i].fair;
        self.markets[i].fair = bounded(i64::from(before) + step);
        let moved = i64::from(self.markets[i].fair) - i64::from(before);
        // Keep a neg-risk event's fair prices summing to 1: offset the move on a sibling.
        if let Some(e) = self.markets[i].event {
            let siblings: Vec<usize> = self.events[e].markets.iter().copied().filter(|&m| m != i).collect();
            let s = siblings[self.rng.index(siblings.len())];
            let wanted = i64::from(self.markets[s].fair) - moved;
            let got = bounded(wanted);
            self.markets[s].fair = got;
            // If the sibling hit a bound, undo what it could not absorb (`rest` is what it
            // moved less than asked, in the direction opposite to this outcome's move).
            let rest = i64::from(got) - wanted;
            self.markets[i].fair = bounded(i64::from(self.markets[i].fair) - rest);
        }
    }

    /// A taker trade on market `i`: buying when `up` says the price rises next, selling when it
    /// falls, a coin's choice when it says nothing (uninformed).
    fn trade(&mut self, i: usize, up: Option<bool>, out: &mut Vec<SimFrame>) {
        let side = match up {
            Some(true) => Side::Buy,
            Some(false) => Side::Sell,
            None if self.rng.below(2) == 0 => Side::Buy,
            None => Side::Sell,
        };
        let m = &mut self.markets[i];
        let Some(top) = m.yes_book.best(side.taking_side()) else { return };
        let take = (top.size.micros() / 10_000 * (1 + self.rng.below(100)) / 100).max(1) * 10_000;
        let idx = match side.taking_side() {
            BookSide::Bid => 0,
            BookSide::Ask => 1,
        };
        let left = m.sizes[idx][0].saturating_sub(take);
        // A fully taken level is replenished by a new resting order.
        m.sizes[idx][0] = if left == 0 { random_size(&mut self.rng) } else { left };
        m.last_trade = Some(top.price);
        let t = TradeOut {
            side,
            price: top.price,
            size: Quantity::from_micros(take.min(top.size.micros())),
            fee_rate_bps: self.cfg.fee_rate_bps,
        };
        // The trade prints on YES but changes both tokens' summaries (last trade price): every
        // subscriber of the market receives it.
        out.push(SimFrame { assets: vec![m.yes, m.no], text: last_trade_frame(m.condition, m.yes, &t, self.now_ms) });
        let print =
            Print { token: m.yes, complement: Some(m.no), side, price: t.price, size: t.size, ts_ms: self.now_ms };
        if self.prints.len() >= MAX_PRINTS {
            self.prints.pop_front();
        }
        self.prints.push_back(print);
    }

    /// The ladder the market should show now.
    fn target(&self, i: usize) -> (Vec<Level>, Vec<Level>) {
        let m = &self.markets[i];
        let tick = m.tick.ticks();
        let mut fair = m.fair;
        if m.discount_steps > 0 && m.premium {
            fair = (fair + 6 * CENT).min(Price::SCALE - tick * 2);
        } else if m.discount_steps > 0 {
            fair = fair.saturating_sub(6 * CENT).max(tick * 2);
        }
        let fair = Price::from_ticks(fair).unwrap_or(Price::ZERO);
        let best_bid = fair.round_to_tick(m.tick, Rounding::Down).map(|p| p.ticks()).unwrap_or(tick).max(tick);
        let best_ask = (best_bid + tick).min(Price::SCALE - tick);
        let best_bid = best_bid.min(best_ask - tick);
        let level = |p: u32, size: u64| Level {
            price: Price::from_ticks(p).unwrap_or(Price::ZERO),
            size: Quantity::from_micros(size),
        };
        let bids = (0..m.sizes[0].len())
            .map_while(|k| {
                u32::try_from(k)
                    .ok()
                    .and_then(|k| best_bid.checked_sub(k * tick))
                    .filter(|&p| p >= tick)
                    .map(|p| level(p, m.sizes[0][k]))
            })
            .collect();
        let asks = (0..m.sizes[1].len())
            .map(|k| best_ask + u32::try_from(k).unwrap_or(0) * tick)
            .take_while(|&p| p <= Price::SCALE - tick)
            .enumerate()
            .map(|(k, p)| level(p, m.sizes[1][k]))
            .collect();
        (bids, asks)
    }

    /// Sets the market's book to its target without publishing (start-up).
    fn requote(&mut self, i: usize) {
        let (bids, asks) = self.target(i);
        let m = &mut self.markets[i];
        let _ = m.yes_book.apply_snapshot(bids, asks, m.tick);
    }

    /// Moves the market to its target and publishes what changed.
    fn emit_requote(&mut self, i: usize, out: &mut Vec<SimFrame>) {
        if self.markets[i].discount_steps > 0 {
            self.markets[i].discount_steps -= 1;
        }
        if self.retick(i, out) {
            return;
        }
        let (bids, asks) = self.target(i);
        let mut changes = Vec::new();
        let m = &mut self.markets[i];
        for (side, target) in [(BookSide::Bid, bids), (BookSide::Ask, asks)] {
            let current: Vec<Level> = m.yes_book.levels(side).copied().collect();
            for l in &current {
                if !target.iter().any(|t| t.price == l.price) {
                    changes.push((side, l.price, Quantity::ZERO));
                }
            }
            for t in &target {
                if !current.contains(t) {
                    changes.push((side, t.price, t.size));
                }
            }
        }
        if changes.is_empty() {
            return;
        }
        // Apply removals first so the book never crosses on the way.
        changes.sort_by_key(|c| !c.2.is_zero());
        let meta = |m: &SimMarket, token: TokenId, now_ms: u64| BookMeta {
            market: m.condition,
            asset: token,
            timestamp_ms: now_ms,
            min_order_size: m.min_order_size,
            tick_size: m.tick,
            neg_risk: m.event.is_some(),
            last_trade_price: m.last_trade,
        };
        let mut outs = Vec::with_capacity(changes.len() * 2);
        for (side, price, size) in changes {
            let _ = m.yes_book.apply_level(side, price, size);
            let no_book = m.yes_book.mirrored();
            let yes_hash = book_hash(&meta(m, m.yes, self.now_ms), &m.yes_book);
            let no_hash = book_hash(&meta(m, m.no, self.now_ms), &no_book);
            let bbo = |b: &OrderBook| (b.best_bid().map(|l| l.price), b.best_ask().map(|l| l.price));
            let (yb, ya) = bbo(&m.yes_book);
            let (nb, na) = bbo(&no_book);
            outs.push(ChangeOut { asset: m.yes, side, price, size, hash: yes_hash, best_bid: yb, best_ask: ya });
            outs.push(ChangeOut {
                asset: m.no,
                side: side.opposite(),
                price: price.complement(),
                size,
                hash: no_hash,
                best_bid: nb,
                best_ask: na,
            });
        }
        out.push(SimFrame { assets: vec![m.yes, m.no], text: price_change_frame(m.condition, self.now_ms, &outs) });
    }

    /// Changes the tick when the price leaves or re-enters 0.04 .. 0.96; publishes the change and
    /// fresh snapshots. Returns true when it did.
    fn retick(&mut self, i: usize, out: &mut Vec<SimFrame>) -> bool {
        let m = &self.markets[i];
        let extreme = m.fair < 4 * CENT || m.fair > Price::SCALE - 4 * CENT;
        let calm = m.fair >= 5 * CENT && m.fair <= Price::SCALE - 5 * CENT;
        let new_tick = match m.tick.ticks() {
            CENT if extreme => MILLI,
            MILLI if calm => CENT,
            _ => return false,
        };
        let old = m.tick;
        let new = Price::from_ticks(new_tick).unwrap_or(old);
        self.markets[i].tick = new;
        self.requote(i);
        let m = &self.markets[i];
        for token in [m.yes, m.no] {
            out.push(SimFrame {
                assets: vec![token],
                text: tick_size_frame(m.condition, token, old, new, self.now_ms),
            });
        }
        for token in [m.yes, m.no] {
            if let Some(text) = self.snapshot_frame(&token) {
                out.push(SimFrame { assets: vec![token], text });
            }
        }
        true
    }

    /// Resolves market `market` (YES wins when `yes_wins`): returns the `market_resolved` frame;
    /// the market quotes and trades no more. A neg-risk event resolves by resolving each of its
    /// outcome markets (one YES, the others NO). `None` for an unknown or already resolved market.
    pub fn resolve(&mut self, market: usize, yes_wins: bool) -> Option<SimFrame> {
        let m = self.markets.get_mut(market).filter(|m| m.resolved.is_none())?;
        m.resolved = Some(yes_wins);
        let (winner, outcome) = if yes_wins { (m.yes, "Yes") } else { (m.no, "No") };
        let text = market_resolved_frame(m.condition, &[m.yes, m.no], winner, outcome, self.now_ms);
        Some(SimFrame { assets: vec![m.yes, m.no], text })
    }

    /// Resolves every market `ms` of simulated time after the start (`None`: on command only);
    /// see [`SimConfig::resolve_after_ms`].
    pub fn set_resolve_after_ms(&mut self, ms: Option<u64>) {
        self.cfg.resolve_after_ms = ms;
    }

    /// The scheduled resolution of every market still open (see [`SimConfig::resolve_after_ms`]).
    fn resolve_all(&mut self) -> Vec<SimFrame> {
        let mut out = vec![];
        for i in 0..self.markets.len() {
            if self.markets[i].resolved.is_some() {
                continue;
            }
            let yes_wins = match self.markets[i].event {
                // The event's favourite wins (the first of equals).
                Some(e) => {
                    let favourite = self.events[e]
                        .markets
                        .iter()
                        .copied()
                        .max_by_key(|&k| (self.markets[k].fair, std::cmp::Reverse(k)));
                    favourite == Some(i)
                }
                None => self.markets[i].fair >= Price::SCALE / 2,
            };
            out.extend(self.resolve(i, yes_wins));
        }
        out
    }

    /// Closes market `market` to orders without resolving it (`halted`), or opens it again: the
    /// CLOB status says so, its book stands still and the order API refuses orders on it. False
    /// for an unknown or resolved market.
    pub fn halt(&mut self, market: usize, halted: bool) -> bool {
        let Some(m) = self.markets.get_mut(market).filter(|m| m.resolved.is_none()) else { return false };
        m.halted = halted;
        true
    }

    /// Whether the venue takes orders on the market of `token` (open, not resolved).
    pub fn accepts_orders(&self, token: &TokenId) -> bool {
        self.find_token(token).is_some_and(|(i, _)| self.markets[i].resolved.is_none() && !self.markets[i].halted)
    }

    /// The CLOB status of the market with condition id `market`.
    pub fn market_status(&self, market: &ConditionId) -> Option<MarketStatus> {
        let m = self.markets.iter().find(|m| m.condition == *market)?;
        let token = |token_id: TokenId, outcome: &str, won: bool| StatusToken {
            token_id,
            outcome: outcome.into(),
            winner: m.resolved == Some(won),
        };
        Some(MarketStatus {
            market: m.condition,
            closed: m.resolved.is_some(),
            accepting_orders: m.resolved.is_none() && !m.halted,
            tokens: vec![token(m.yes, "Yes", true), token(m.no, "No", false)],
            question_id: Some(self.question_id(self.markets.iter().position(|x| x.condition == *market)?)?),
        })
    }

    /// The question id of market `i`: for an outcome of a neg-risk event, the event's neg-risk
    /// market id (the Keccak-256 of its slug with the last byte cleared) with the outcome's index
    /// in its event in the last byte, as the neg-risk adapter numbers them; for a binary market,
    /// the Keccak-256 of its slug.
    pub fn question_id(&self, i: usize) -> Option<[u8; 32]> {
        let m = self.markets.get(i)?;
        let Some(e) = m.event else { return Some(alloy::primitives::keccak256(m.slug.as_bytes()).0) };
        let event = self.events.get(e)?;
        let index = u8::try_from(event.markets.iter().position(|&x| x == i)?).ok()?;
        let mut id = alloy::primitives::keccak256(format!("neg-risk:{}", event.slug).as_bytes()).0;
        id[31] = index;
        Some(id)
    }

    /// Whether market `market` resolved, and to YES (`Some(true)`) or NO.
    pub fn resolution(&self, market: usize) -> Option<bool> {
        self.markets.get(market)?.resolved
    }

    /// Scenario injection: prices outcome `outcome` of neg-risk event `event` 6 cents below its
    /// fair value for the next `steps` steps (0 restores the fair quote at once), and returns the
    /// frames that publish the change. `None` for an unknown event or outcome.
    pub fn misprice(&mut self, event: usize, outcome: usize, steps: u32) -> Option<Vec<SimFrame>> {
        self.misprice_as(event, outcome, steps, false)
    }

    /// [`Self::misprice`], 6 cents above the fair value instead (the event's YES bids then sum
    /// above 1, and its NO basket costs less than it converts into).
    pub fn overprice(&mut self, event: usize, outcome: usize, steps: u32) -> Option<Vec<SimFrame>> {
        self.misprice_as(event, outcome, steps, true)
    }

    fn misprice_as(&mut self, event: usize, outcome: usize, steps: u32, premium: bool) -> Option<Vec<SimFrame>> {
        let victim = *self.events.get(event)?.markets.get(outcome)?;
        // emit_requote consumes one step of the discount.
        self.markets[victim].discount_steps = if steps == 0 { 0 } else { steps + 1 };
        self.markets[victim].premium = premium;
        let mut out = vec![];
        self.emit_requote(victim, &mut out);
        Some(out)
    }

    /// Sum of the best YES asks of a neg-risk event, in ticks (below 10_000 is an arbitrage
    /// before fees).
    pub fn event_ask_sum(&self, e: usize) -> Option<u32> {
        self.events[e].markets.iter().map(|&m| self.markets[m].yes_book.best_ask().map(|l| l.price.ticks())).sum()
    }

    /// Sum of the best YES bids of a neg-risk event, in ticks (above 10_000 a held set sells for
    /// more than it pays at resolution, before fees).
    pub fn event_bid_sum(&self, e: usize) -> Option<u32> {
        self.events[e].markets.iter().map(|&m| self.markets[m].yes_book.best_bid().map(|l| l.price.ticks())).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A neg-risk event's fair prices sum to exactly 1 however long the walk, bounds included
    /// (a sibling pinned at its bound once pushed the sum up a tick at a time: after about a
    /// quarter of an hour at 500 steps a second the example event's YES asks summed to 1.9).
    #[test]
    fn an_events_fair_prices_always_sum_to_one() {
        let mut sim =
            Simulator::new(SimConfig { binary_markets: 1, neg_risk_events: vec![3, 5], ..SimConfig::default() });
        for step in 0..150_000 {
            let _ = sim.step();
            if step % 1000 == 0 {
                for e in &sim.events {
                    let sum: u32 = e.markets.iter().map(|&m| sim.markets[m].fair).sum();
                    assert_eq!(sum, Price::SCALE, "event {} at step {step}", e.slug);
                }
            }
        }
    }

    /// `mispricing_bps` is the share of the time an event is mispriced (as the Venue's API
    /// documents it), not a chance per step.
    #[test]
    fn an_event_is_mispriced_about_the_share_of_the_time_asked() {
        for (bps, low, high) in [(800u32, 500u32, 1200u32), (2000, 1400, 2700), (0, 0, 0)] {
            let mut sim = Simulator::new(SimConfig {
                binary_markets: 1,
                neg_risk_events: vec![3],
                mispricing_bps: bps,
                ..SimConfig::default()
            });
            let (mut mispriced, steps) = (0u32, 200_000u32);
            let (mut below, mut above) = (0u32, 0u32);
            for _ in 0..steps {
                let _ = sim.step();
                if sim.events[0].markets.iter().any(|&m| sim.markets[m].discount_steps > 0) {
                    mispriced += 1;
                }
                // Beyond 2 cents: quotes lagging the walk by a tick or two do not count.
                below += u32::from(sim.event_ask_sum(0).is_some_and(|t| t < Price::SCALE - 2 * CENT));
                above += u32::from(sim.event_bid_sum(0).is_some_and(|t| t > Price::SCALE + 2 * CENT));
            }
            let share = u64::from(mispriced) * 10_000 / u64::from(steps);
            assert!((u64::from(low)..=u64::from(high)).contains(&share), "{bps} bps asked, {share} bps seen");
            // Both ways: asks summing well below 1, bids well above; hardly ever otherwise.
            assert!(
                below >= mispriced / 5 && above >= mispriced / 5,
                "{mispriced} mispriced: {below} below, {above} above"
            );
            assert!(below + above <= mispriced + steps / 100, "{mispriced} mispriced: {below} below, {above} above");
        }
    }
}

//! The performance of a stream of fills, oldest first (what the trade journal holds): per
//! strategy and per market, fills, notional, fees, realized PnL and the change of what is held
//! marked at each token's last fill price (its payout once its market resolved); per UTC day, the PnL and the marked equity at the
//! day's end; the marked equity's largest drawdown. Sans-IO and exact: every amount is
//! micro-USDC, and the parts add up to the unit (Σ strategies = Σ markets = Σ days = the PnL).
//!
//! Fills, the conditional-token operations' reports and the settlements of resolved markets are booked by the core's [`Ledger`] (average cost; a fill id booked once whether
//! MATCHED or CONFIRMED; a FAILED fill reversed exactly), one ledger per strategy. Only the
//! period from `since_ns` counts: fills before it still build the positions (so a report of
//! this week values what was bought last week at its cost), and the period's PnL is the marked
//! equity's change since then. Marks are fill prices because the journal holds no books; a
//! report says so.

use std::collections::{BTreeMap, HashMap};

use crate::accounting::{AccountingError, Ledger, Position};
use crate::ids::{ConditionId, TokenId, TokenMap};
use crate::money::{Money, Price, Quantity, Rounding};
use crate::wire::{CtfOp, CtfReport, CtfStatus, Fill, FillStatus, Liquidity, SettlementReport};

const DAY_NS: i64 = 86_400_000_000_000;

/// The market of a token only a neg-risk conversion brought (no fill of it names its market).
pub const NO_MARKET: &str = "(converted, never filled)";

/// Fill prices kept per token: a FAILED fill older than this many later fills of the token
/// leaves the mark as it is.
const MARKS_KEPT: usize = 16;

/// A strategy: its namespace and name.
pub type StrategyKey = (String, String);

/// One token's share of a strategy.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    market: Option<ConditionId>,
    /// The position's realized PnL and fees when the period began.
    realized_at_since: i64,
    fees_at_since: i64,
    /// Its marked value (realized + unrealized at the last fill price) when the period began.
    marked_at_since: i64,
    /// Its marked value now.
    marked: i64,
    fills: u64,
    notional: i64,
}

#[derive(Debug, Clone, Default)]
struct Book {
    ledger: Ledger,
    held: TokenMap<Held>,
    /// Fill ids booked: (token, notional, maker, counted in the period, reversed).
    applied: HashMap<String, (TokenId, i64, bool, bool, bool)>,
    fills: u64,
    maker_fills: u64,
    failed: u64,
    notional: i64,
    ctf_ops: u64,
    settlements: u64,
}

/// One UTC day of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Day {
    /// Days since 1970-01-01.
    pub day: i64,
    /// Fills booked that day (one that FAILED later is taken back from the strategy's and
    /// market's counts, not from its day's).
    pub fills: u64,
    /// The marked equity's change over the day.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub pnl: Money,
    /// Realized PnL booked that day (fees included).
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub realized: Money,
    /// The marked equity (PnL of the period) at the day's end, or at the last fill of a day the
    /// period ends in.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub equity: Money,
}

/// A market's line of a strategy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MarketLine {
    /// The market.
    pub market: String,
    /// Fills in the period (FAILED ones taken back).
    pub fills: u64,
    /// Notional of those fills.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub notional: Money,
    /// Fees paid in the period.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub fees: Money,
    /// Realized PnL in the period, fees included.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub realized: Money,
    /// PnL in the period: realized plus the change of what is held, marked at last fill prices.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub pnl: Money,
}

/// A position held at the end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenPosition {
    /// The market.
    pub market: String,
    /// The token.
    pub token: String,
    /// Shares held.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub size: Quantity,
    /// Cost basis.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub cost: Money,
    /// The token's last fill price.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub mark: Price,
    /// Unrealized PnL at that price.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub unrealized: Money,
}

/// A strategy's line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StrategyLine {
    /// Namespace.
    pub namespace: String,
    /// Strategy.
    pub strategy: String,
    /// Fills in the period (FAILED ones taken back).
    pub fills: u64,
    /// Of which as maker.
    pub maker_fills: u64,
    /// Fills that FAILED at the venue after matching (reversed).
    pub failed_fills: u64,
    /// Conditional-token operations booked (merges, splits, redemptions, conversions).
    pub ctf_ops: u64,
    /// Markets whose resolution settled a position.
    pub settlements: u64,
    /// Notional traded.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub notional: Money,
    /// Fees paid.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub fees: Money,
    /// Realized PnL, fees included.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub realized: Money,
    /// PnL: realized plus the change of what is held, marked at last fill prices.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub pnl: Money,
    /// Per market (condition id order).
    pub markets: Vec<MarketLine>,
    /// What it holds at the end.
    pub positions: Vec<OpenPosition>,
}

/// The period's performance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Per strategy (namespace, name order).
    pub strategies: Vec<StrategyLine>,
    /// Per UTC day, from the first fill of the period to its last.
    pub days: Vec<Day>,
    /// Fills.
    pub fills: u64,
    /// Of which as maker.
    pub maker_fills: u64,
    /// Notional traded.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub notional: Money,
    /// Fees paid.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub fees: Money,
    /// Realized PnL.
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub realized: Money,
    /// PnL (marked).
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub pnl: Money,
    /// Largest fall of the marked equity from a peak (after any fill of the period).
    #[serde(serialize_with = "crate::analytics::decimal")]
    pub max_drawdown: Money,
    /// First and last fill of the period (Unix ns).
    pub first_ns: Option<i64>,
    /// Last fill of the period.
    pub last_ns: Option<i64>,
}

impl Summary {
    /// Each day's PnL, micro-USDC (for [`crate::analytics::ratios::annualized`]).
    pub fn daily_pnl(&self) -> Vec<i64> {
        self.days.iter().map(|d| d.pnl.micros()).collect()
    }
}

/// What changes a strategy's account, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booking {
    /// A fill.
    Fill(Fill),
    /// A conditional-token operation's report.
    Ctf(CtfReport),
    /// A market's resolution settled against the strategy's positions.
    Settlement(SettlementReport),
}

impl Booking {
    /// Its time (Unix ns).
    pub fn ts_ns(&self) -> u64 {
        match self {
            Booking::Fill(f) => f.ts_ns,
            Booking::Ctf(r) => r.ts_ns,
            Booking::Settlement(r) => r.ts_ns,
        }
    }

    /// The order to book things of one instant in: fills, then settlements, then operations (a
    /// merge follows its legs, a redemption its market's settlement).
    pub fn sort_key(&self) -> (u64, u8) {
        let rank = match self {
            Booking::Fill(_) => 0,
            Booking::Settlement(_) => 1,
            Booking::Ctf(_) => 2,
        };
        (self.ts_ns(), rank)
    }

    /// Its namespace and strategy.
    pub fn strategy(&self) -> (&str, &str) {
        match self {
            Booking::Fill(f) => (&f.namespace, &f.strategy),
            Booking::Ctf(r) => (&r.namespace, &r.strategy),
            Booking::Settlement(r) => (&r.namespace, &r.strategy),
        }
    }
}

/// The fold.
#[derive(Debug, Clone)]
pub struct Performance {
    since_ns: i64,
    started: bool,
    books: BTreeMap<StrategyKey, Book>,
    /// Each token's recent fill prices, newest last, by fill id (a FAILED fill's price stops
    /// being a mark).
    last: TokenMap<Vec<(String, Price)>>,
    /// Strategies holding each token (whose marks move with its price).
    holders: TokenMap<Vec<StrategyKey>>,
    /// Σ marked values of every (strategy, token), and its value when the period began.
    marked: i64,
    marked_at_since: i64,
    peak: i64,
    max_dd: i64,
    days: Vec<Day>,
    /// The open day: (day, fills, realized at its start, equity at its start).
    open: Option<(i64, u64, i64, i64)>,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    /// Per-strategy series over slots of this length, when asked for.
    slot_ns: Option<i64>,
    /// The open slot.
    slot_open: Option<i64>,
    /// Closed slots: each strategy's equity in the period at the slot's end.
    slot_ends: Vec<(i64, BTreeMap<StrategyKey, i64>)>,
}

/// Each strategy's PnL per time slot of the period (for A/B comparisons): slot `k` covers
/// `[start_ns + k·slot_ns, start_ns + (k+1)·slot_ns)` from the first slot with a booking to the
/// last; a strategy's PnL in a slot is its marked equity's change over it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Slots {
    /// Slot length, ns.
    pub slot_ns: i64,
    /// Start of the first slot (Unix ns).
    pub start_ns: i64,
    /// Per strategy (`namespace/name`), micro-USDC per slot.
    pub pnl: BTreeMap<String, Vec<i64>>,
}

fn micros(m: Money) -> i64 {
    m.micros()
}

/// A token's last fill price in `marks` (each token's recent fill prices, newest last).
fn last_price(marks: &TokenMap<Vec<(String, Price)>>, token: &TokenId) -> Option<Price> {
    marks.get(token).and_then(|v| v.last()).map(|(_, p)| *p)
}

fn marked(p: &Position, mark: Option<Price>) -> i64 {
    micros(p.realized) + mark.map_or(0, |m| micros(p.unrealized(m)))
}

impl Performance {
    /// A fold whose period starts at `since_ns` (fills before it only build positions).
    pub fn new(since_ns: i64) -> Performance {
        Performance {
            since_ns,
            started: false,
            books: BTreeMap::new(),
            last: TokenMap::default(),
            holders: TokenMap::default(),
            marked: 0,
            marked_at_since: 0,
            peak: 0,
            max_dd: 0,
            days: Vec::new(),
            open: None,
            first_ns: None,
            last_ns: None,
            slot_ns: None,
            slot_open: None,
            slot_ends: Vec::new(),
        }
    }

    /// A fold that also keeps each strategy's PnL per slot of `slot_ns` (positive) for
    /// [`Performance::slots`].
    pub fn with_slots(since_ns: i64, slot_ns: i64) -> Performance {
        Performance { slot_ns: Some(slot_ns.max(1)), ..Performance::new(since_ns) }
    }

    /// Each strategy's equity in the period now.
    fn equities(&self) -> BTreeMap<StrategyKey, i64> {
        self.books
            .iter()
            .map(|(k, b)| (k.clone(), b.held.values().map(|h| h.marked - h.marked_at_since).sum()))
            .collect()
    }

    /// Closes slots up to (not including) `slot`.
    fn roll_slot(&mut self, slot: i64) {
        match self.slot_open {
            None => self.slot_open = Some(slot),
            Some(open) if open >= slot => {}
            Some(open) => {
                let now = self.equities();
                for k in open..slot {
                    self.slot_ends.push((k, now.clone()));
                }
                self.slot_open = Some(slot);
            }
        }
    }

    /// Each strategy's PnL per slot so far (`None` unless made [`Performance::with_slots`], or
    /// before the period's first booking).
    pub fn slots(&self) -> Option<Slots> {
        let slot_ns = self.slot_ns?;
        let open = self.slot_open?;
        let mut ends = self.slot_ends.clone();
        ends.push((open, self.equities()));
        let first = ends.first().map_or(open, |(k, _)| *k);
        let names: std::collections::BTreeSet<&StrategyKey> = ends.iter().flat_map(|(_, e)| e.keys()).collect();
        let pnl = names
            .into_iter()
            .map(|key| {
                let mut prev = 0;
                let series = ends
                    .iter()
                    .map(|(_, e)| {
                        let now = e.get(key).copied().unwrap_or(0);
                        let d = now - prev;
                        prev = now;
                        d
                    })
                    .collect();
                (format!("{}/{}", key.0, key.1), series)
            })
            .collect();
        Some(Slots { slot_ns, start_ns: first.saturating_mul(slot_ns), pnl })
    }

    /// The token's last fill price.
    fn mark(&self, token: &TokenId) -> Option<Price> {
        last_price(&self.last, token)
    }

    /// The period begins: what everything is worth now is its baseline.
    fn start(&mut self) {
        self.started = true;
        self.marked_at_since = self.marked;
        for book in self.books.values_mut() {
            for (token, h) in &mut book.held {
                let p = book.ledger.position(token);
                h.realized_at_since = micros(p.realized);
                h.fees_at_since = micros(p.fees);
                h.marked_at_since = h.marked;
            }
        }
    }

    /// The equity of the period now.
    fn equity(&self) -> i64 {
        self.marked - self.marked_at_since
    }

    fn realized_now(&self) -> i64 {
        self.books.values().map(|b| micros(b.ledger.realized())).sum()
    }

    /// Closes days up to (not including) `day`.
    fn roll(&mut self, day: i64) {
        let equity = self.equity();
        let realized = self.realized_now();
        match self.open {
            None => self.open = Some((day, 0, realized, equity)),
            Some((d, _, _, _)) if d >= day => {}
            Some((d, fills, r0, e0)) => {
                self.days.push(Day {
                    day: d,
                    fills,
                    pnl: Money::from_micros(equity - e0),
                    realized: Money::from_micros(realized - r0),
                    equity: Money::from_micros(equity),
                });
                for empty in d + 1..day {
                    self.days.push(Day {
                        day: empty,
                        fills: 0,
                        pnl: Money::ZERO,
                        realized: Money::ZERO,
                        equity: Money::from_micros(equity),
                    });
                }
                self.open = Some((day, 0, realized, equity));
            }
        }
    }

    /// Books a fill (of its namespace and strategy); fills must come oldest first.
    pub fn fill(&mut self, f: &Fill) -> Result<(), AccountingError> {
        let in_period = self.enter(i64::try_from(f.ts_ns).unwrap_or(i64::MAX));
        let key = (f.namespace.clone(), f.strategy.clone());
        let book = self.books.entry(key.clone()).or_default();
        book.ledger.on_fill(f)?;
        let notional = f.price.notional(f.size, Rounding::Nearest).map_or(0, micros);
        let counted = match (f.status, book.applied.get_mut(&f.fill_id)) {
            (FillStatus::Failed, Some(a)) if !a.4 => {
                a.4 = true;
                let (token, n, maker, in_p, _) = *a;
                if in_p {
                    book.fills = book.fills.saturating_sub(1);
                    book.maker_fills = book.maker_fills.saturating_sub(u64::from(maker));
                    book.failed += 1;
                    book.notional -= n;
                    let h = book.held.entry(token).or_default();
                    h.fills = h.fills.saturating_sub(1);
                    h.notional -= n;
                }
                false
            }
            (FillStatus::Failed, _) | (_, Some(_)) => false,
            (_, None) => {
                let maker = f.liquidity == Liquidity::Maker;
                book.applied.insert(f.fill_id.clone(), (f.token, notional, maker, in_period, false));
                in_period
            }
        };
        let held = book.held.entry(f.token).or_default();
        held.market = Some(f.market);
        if counted {
            book.fills += 1;
            book.maker_fills += u64::from(f.liquidity == Liquidity::Maker);
            book.notional += notional;
            held.fills += 1;
            held.notional += notional;
            if let Some(open) = self.open.as_mut() {
                open.1 += 1;
            }
        }
        let marks = self.last.entry(f.token).or_default();
        if f.status == FillStatus::Failed {
            marks.retain(|(id, _)| *id != f.fill_id);
        } else if counted || !marks.iter().any(|(id, _)| *id == f.fill_id) {
            marks.push((f.fill_id.clone(), f.price));
            if marks.len() > MARKS_KEPT {
                marks.remove(0);
            }
        }
        self.revalue(f.token, &key);
        if in_period {
            self.drawdown();
        }
        Ok(())
    }

    /// Revalues every holder of `token` (and `key`, now one of them) at its last fill price.
    fn revalue(&mut self, token: TokenId, key: &StrategyKey) {
        let holders = self.holders.entry(token).or_default();
        if !holders.contains(key) {
            holders.push(key.clone());
        }
        let last = last_price(&self.last, &token);
        for k in holders.iter() {
            if let Some(b) = self.books.get_mut(k) {
                // A resolved market's token is worth its payout.
                let mark = b.ledger.payout(&token).or(last);
                let p = b.ledger.position(&token);
                let h = b.held.entry(token).or_default();
                let now = marked(&p, mark);
                self.marked += now - h.marked;
                h.marked = now;
            }
        }
    }

    /// The period starts (when `ts` is in it) and `ts`'s day opens; whether `ts` is in the period.
    fn enter(&mut self, ts: i64) -> bool {
        let in_period = ts >= self.since_ns;
        if in_period && !self.started {
            self.start();
        }
        if in_period {
            self.roll(ts.div_euclid(DAY_NS));
            if let Some(n) = self.slot_ns {
                self.roll_slot(ts.div_euclid(n));
            }
            self.first_ns.get_or_insert(ts);
            self.last_ns = Some(ts);
        }
        in_period
    }

    fn drawdown(&mut self) {
        let e = self.equity();
        self.peak = self.peak.max(e);
        self.max_dd = self.max_dd.max(self.peak - e);
    }

    /// Books whatever `b` is (see [`Performance::fill`], [`Performance::ctf`], [`Performance::settle`]).
    pub fn book(&mut self, b: &Booking) -> Result<(), AccountingError> {
        match b {
            Booking::Fill(f) => self.fill(f),
            Booking::Ctf(r) => self.ctf(r),
            Booking::Settlement(r) => self.settle(r),
        }
    }

    /// Books a conditional-token operation's report (merge, split, redeem, convert) in time order
    /// with the fills: a done one through the strategy's ledger (once per id), a failed one
    /// changed nothing. A redemption needs the market's resolution, which the journal does not
    /// hold yet: it is refused with the ledger's error.
    pub fn ctf(&mut self, r: &CtfReport) -> Result<(), AccountingError> {
        if !matches!(r.status, CtfStatus::Done) {
            return Ok(());
        }
        let ts = i64::try_from(r.ts_ns).unwrap_or(i64::MAX);
        let in_period = self.enter(ts);
        let key = (r.namespace.clone(), r.strategy.clone());
        let book = self.books.entry(key.clone()).or_default();
        let Some(booked) = book.ledger.on_ctf(&r.id.to_string(), &r.op)? else { return Ok(()) };
        if in_period {
            book.ctf_ops += 1;
        }
        let market = match &r.op {
            CtfOp::Merge { market, .. } | CtfOp::Split { market, .. } | CtfOp::Redeem { market, .. } => Some(*market),
            CtfOp::Convert { .. } => None,
        };
        for (token, _) in &booked.positions {
            let h = book.held.entry(*token).or_default();
            if h.market.is_none() {
                h.market = market;
            }
        }
        for (token, _) in booked.positions {
            self.revalue(token, &key);
        }
        if in_period {
            self.drawdown();
        }
        Ok(())
    }

    /// Books a market's resolution settled against a strategy's positions (once per market: a
    /// repeat changes nothing), in time order with the fills.
    pub fn settle(&mut self, r: &SettlementReport) -> Result<(), AccountingError> {
        let in_period = self.enter(i64::try_from(r.ts_ns).unwrap_or(i64::MAX));
        let key = (r.namespace.clone(), r.strategy.clone());
        let book = self.books.entry(key.clone()).or_default();
        let Some(booked) = book.ledger.settle(&r.resolution)? else { return Ok(()) };
        if in_period && !booked.positions.is_empty() {
            book.settlements += 1;
        }
        for (token, _) in &booked.positions {
            let h = book.held.entry(*token).or_default();
            h.market.get_or_insert(r.resolution.market);
        }
        for (token, _) in booked.positions {
            self.revalue(token, &key);
        }
        if in_period {
            self.drawdown();
        }
        Ok(())
    }

    /// The period's performance so far (the day of the last fill closes at that fill).
    pub fn summary(&self) -> Summary {
        let mut me = self.clone();
        if !me.started {
            me.start();
        }
        let mut days = me.days.clone();
        if let Some((d, fills, r0, e0)) = me.open {
            let (equity, realized) = (me.equity(), me.realized_now());
            days.push(Day {
                day: d,
                fills,
                pnl: Money::from_micros(equity - e0),
                realized: Money::from_micros(realized - r0),
                equity: Money::from_micros(equity),
            });
        }
        let strategies: Vec<StrategyLine> = me.books.iter().map(|(k, b)| me.line(k, b)).collect();
        let sum = |f: fn(&StrategyLine) -> i64| Money::from_micros(strategies.iter().map(f).sum());
        Summary {
            fills: strategies.iter().map(|s| s.fills).sum(),
            maker_fills: strategies.iter().map(|s| s.maker_fills).sum(),
            notional: sum(|s| micros(s.notional)),
            fees: sum(|s| micros(s.fees)),
            realized: sum(|s| micros(s.realized)),
            pnl: Money::from_micros(me.equity()),
            max_drawdown: Money::from_micros(me.max_dd),
            first_ns: me.first_ns,
            last_ns: me.last_ns,
            days,
            strategies,
        }
    }

    fn line(&self, (ns, name): &StrategyKey, b: &Book) -> StrategyLine {
        let mut markets: BTreeMap<Option<ConditionId>, MarketLine> = BTreeMap::new();
        let mut positions = Vec::new();
        let mut tokens: Vec<(&TokenId, &Held)> = b.held.iter().collect();
        tokens.sort_by_key(|(t, _)| **t);
        for (token, h) in tokens {
            let p = b.ledger.position(token);
            let label = h.market.map_or_else(|| NO_MARKET.to_string(), |m| m.to_string());
            let m = markets.entry(h.market).or_insert_with(|| MarketLine {
                market: label.clone(),
                fills: 0,
                notional: Money::ZERO,
                fees: Money::ZERO,
                realized: Money::ZERO,
                pnl: Money::ZERO,
            });
            let add = |a: Money, x: i64| Money::from_micros(micros(a) + x);
            m.fills += h.fills;
            m.notional = add(m.notional, h.notional);
            m.fees = add(m.fees, micros(p.fees) - h.fees_at_since);
            m.realized = add(m.realized, micros(p.realized) - h.realized_at_since);
            m.pnl = add(m.pnl, h.marked - h.marked_at_since);
            if !p.size.is_zero() {
                let mark = b.ledger.payout(token).or_else(|| self.mark(token)).unwrap_or(Price::ZERO);
                positions.push(OpenPosition {
                    market: label,
                    token: token.to_string(),
                    size: p.size,
                    cost: p.cost,
                    mark,
                    unrealized: p.unrealized(mark),
                });
            }
        }
        let markets: Vec<MarketLine> = markets.into_values().collect();
        let sum = |f: fn(&MarketLine) -> Money| Money::from_micros(markets.iter().map(|m| micros(f(m))).sum());
        StrategyLine {
            namespace: ns.clone(),
            strategy: name.clone(),
            fills: b.fills,
            maker_fills: b.maker_fills,
            failed_fills: b.failed,
            ctf_ops: b.ctf_ops,
            settlements: b.settlements,
            notional: Money::from_micros(b.notional),
            fees: sum(|m| m.fees),
            realized: sum(|m| m.realized),
            pnl: sum(|m| m.pnl),
            markets,
            positions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::test_values::{m, p, q};
    use crate::wire::Mode;
    use crate::{ClientOrderId, Side};

    const T0: i64 = 20_000 * DAY_NS;

    #[allow(clippy::too_many_arguments, reason = "a fill has this many parts")]
    fn fill(
        id: &str,
        strategy: &str,
        market: u8,
        token: u128,
        side: Side,
        price: &str,
        size: &str,
        fee: &str,
        ts: i64,
    ) -> Fill {
        Fill {
            fill_id: id.into(),
            client_order_id: ClientOrderId::new("c").unwrap(),
            namespace: "desk".into(),
            strategy: strategy.into(),
            risk_policy: "default".into(),
            market: ConditionId::from_bytes([market; 32]),
            token: TokenId::from_u128(token),
            side,
            price: p(price),
            size: q(size),
            fee: m(fee),
            liquidity: if fee == "0" { Liquidity::Maker } else { Liquidity::Taker },
            status: FillStatus::Matched,
            mode: Mode::Paper,
            ts_ns: u64::try_from(ts).unwrap(),
        }
    }

    fn check_sums(s: &Summary) {
        let strategies: i64 = s.strategies.iter().map(|l| l.pnl.micros()).sum();
        let days: i64 = s.days.iter().map(|d| d.pnl.micros()).sum();
        assert_eq!(strategies, s.pnl.micros(), "strategies add up to the PnL");
        assert_eq!(days, s.pnl.micros(), "days add up to the PnL");
        for l in &s.strategies {
            let markets: i64 = l.markets.iter().map(|x| x.pnl.micros()).sum();
            let realized: i64 = l.markets.iter().map(|x| x.realized.micros()).sum();
            assert_eq!((markets, realized), (l.pnl.micros(), l.realized.micros()), "{}: markets add up", l.strategy);
        }
        assert_eq!(s.days.last().map(|d| d.equity), Some(s.pnl).filter(|_| !s.days.is_empty()));
    }

    #[test]
    fn pnl_per_strategy_market_and_day_adds_up_exactly() {
        let h = 3_600_000_000_000;
        let mut perf = Performance::new(T0);
        let fills = [
            fill("a1", "mm", 1, 11, Side::Buy, "0.40", "100", "0", T0 + h),
            fill("a2", "mm", 1, 11, Side::Sell, "0.45", "60", "0", T0 + 2 * h),
            fill("b1", "arb", 2, 21, Side::Buy, "0.30", "10", "0.07", T0 + 3 * h),
            // the same fill confirmed: booked once
            Fill {
                status: FillStatus::Confirmed,
                ..fill("b1", "arb", 2, 21, Side::Buy, "0.30", "10", "0.07", T0 + 3 * h)
            },
            // day 2: mm's remaining 40 marked down by another strategy's fill of the token
            fill("b2", "arb", 1, 11, Side::Buy, "0.35", "5", "0", T0 + DAY_NS + h),
            fill("a3", "mm", 1, 11, Side::Buy, "0.36", "10", "0", T0 + DAY_NS + 2 * h),
            // day 4 (day 3 empty): a fill that fails after matching is taken back
            fill("a4", "mm", 1, 11, Side::Sell, "0.50", "50", "0", T0 + 3 * DAY_NS),
            Fill {
                status: FillStatus::Failed,
                ..fill("a4", "mm", 1, 11, Side::Sell, "0.50", "50", "0", T0 + 3 * DAY_NS + h)
            },
        ];
        for f in &fills {
            perf.fill(f).unwrap();
        }
        let s = perf.summary();
        check_sums(&s);
        let mm = s.strategies.iter().find(|l| l.strategy == "mm").unwrap();
        // Bought 100 at 0.40 (40), sold 60 at 0.45: realized 60 x 0.05 = 3.
        assert_eq!(mm.realized, m("3"));
        // Holds 40 at 0.40 + 10 at 0.36 = 19.6 cost, marked at 0.36 (a4 failed: its price is no mark).
        assert_eq!(mm.positions.len(), 1);
        assert_eq!((mm.positions[0].size, mm.positions[0].cost, mm.positions[0].mark), (q("50"), m("19.6"), p("0.36")));
        assert_eq!(mm.pnl, m("1.4"), "3 realized + (18 - 19.6) unrealized");
        assert_eq!((mm.fills, mm.failed_fills, mm.maker_fills), (3, 1, 3));
        assert_eq!(mm.notional, m("70.6"), "40 + 27 + 3.6");
        let arb = s.strategies.iter().find(|l| l.strategy == "arb").unwrap();
        assert_eq!((arb.fills, arb.fees, arb.realized), (2, m("0.07"), m("-0.07")));
        assert_eq!(arb.markets.len(), 2);
        // arb: 10 of token 21 at 0.30 marked at 0.30 (0), 5 of 11 bought 0.35 marked 0.36 (+0.05), fee -0.07.
        assert_eq!(arb.pnl, m("-0.02"));
        assert_eq!(s.pnl, m("1.38"));
        assert_eq!(
            s.days.iter().map(|d| (d.day - 20_000, d.fills)).collect::<Vec<_>>(),
            vec![(0, 3), (1, 2), (2, 0), (3, 1)]
        );
        // Day 1: mm realized 3, holds 40 marked at 0.45 (+2), arb's fee -0.07: 4.93.
        assert_eq!(s.days[0].pnl, m("4.93"));
        assert_eq!(s.days[2].pnl, Money::ZERO);
        assert_eq!(s.days[1].pnl, m("-3.55"));
        assert_eq!(s.days[3].pnl, Money::ZERO, "a4 matched (+7.70) and failed (-7.70) the same day");
        assert_eq!(s.max_drawdown, m("7.7"), "from 9.08 while a4 stood matched to 1.38 once it failed");
    }

    #[test]
    fn fills_before_the_period_build_positions_but_do_not_count() {
        let mut perf = Performance::new(T0 + DAY_NS);
        perf.fill(&fill("a1", "mm", 1, 11, Side::Buy, "0.40", "100", "0", T0)).unwrap();
        perf.fill(&fill("a2", "mm", 1, 11, Side::Sell, "0.50", "100", "0", T0 + DAY_NS)).unwrap();
        let s = perf.summary();
        check_sums(&s);
        let mm = &s.strategies[0];
        assert_eq!((mm.fills, mm.notional), (1, m("50")));
        assert_eq!(mm.realized, m("10"), "realized against last week's cost");
        assert_eq!(mm.pnl, m("10"), "the holding was worth 40 at its last fill price when the period began");
        assert_eq!(s.days.len(), 1);
        assert_eq!(s.first_ns, Some(T0 + DAY_NS));
        let empty = Performance::new(0).summary();
        assert_eq!((empty.pnl, empty.days.len(), empty.strategies.len()), (Money::ZERO, 0, 0));
    }

    #[test]
    fn a_merge_realizes_the_set_and_everything_still_adds_up() {
        let mut perf = Performance::new(0);
        perf.fill(&fill("y", "arb", 3, 31, Side::Buy, "0.45", "10", "0", T0)).unwrap();
        perf.fill(&fill("n", "arb", 3, 32, Side::Buy, "0.50", "10", "0", T0 + 1)).unwrap();
        let merge = CtfReport {
            id: ClientOrderId::new("merge-1").unwrap(),
            namespace: "desk".into(),
            strategy: "arb".into(),
            op: CtfOp::Merge {
                market: ConditionId::from_bytes([3; 32]),
                tokens: [TokenId::from_u128(31), TokenId::from_u128(32)],
                size: q("10"),
            },
            status: CtfStatus::Done,
            cash: m("10"),
            realized: m("0.5"),
            mode: Mode::Paper,
            ts_ns: u64::try_from(T0 + 2).unwrap(),
        };
        perf.ctf(&merge).unwrap();
        perf.ctf(&merge).unwrap();
        let failed = CtfReport {
            id: ClientOrderId::new("merge-2").unwrap(),
            status: CtfStatus::Failed { reason: "x".into() },
            ..merge.clone()
        };
        perf.ctf(&failed).unwrap();
        let s = perf.summary();
        check_sums(&s);
        let arb = &s.strategies[0];
        assert_eq!((arb.realized, arb.pnl, arb.ctf_ops), (m("0.5"), m("0.5"), 1), "booked once");
        assert!(arb.positions.is_empty());
        assert_eq!(arb.markets.len(), 1);
    }

    #[test]
    fn a_settlement_pays_the_winner_and_then_a_redemption_books() {
        let mut perf = Performance::new(0);
        perf.fill(&fill("y", "dir", 4, 41, Side::Buy, "0.60", "10", "0", T0)).unwrap();
        perf.fill(&fill("n", "dir", 4, 42, Side::Buy, "0.30", "5", "0", T0 + 1)).unwrap();
        let market = ConditionId::from_bytes([4; 32]);
        let res = crate::wire::Resolution::won_by(
            market,
            &[TokenId::from_u128(41), TokenId::from_u128(42)],
            TokenId::from_u128(41),
        );
        let report = SettlementReport {
            namespace: "desk".into(),
            strategy: "dir".into(),
            resolution: res,
            cash: m("10"),
            realized: m("2.5"),
            ts_ns: u64::try_from(T0 + DAY_NS).unwrap(),
        };
        perf.settle(&report).unwrap();
        perf.settle(&report).unwrap();
        let s = perf.summary();
        check_sums(&s);
        let dir = &s.strategies[0];
        // 10 x (1 - 0.60) won, 5 x 0.30 lost: 4 - 1.5.
        assert_eq!((dir.realized, dir.pnl, dir.settlements), (m("2.5"), m("2.5"), 1), "settled once");
        assert_eq!(dir.positions.len(), 1, "the winning shares wait for their redemption");
        assert_eq!((dir.positions[0].mark, dir.positions[0].unrealized), (p("1"), Money::ZERO));
        let redeem = CtfReport {
            id: ClientOrderId::new("redeem-1").unwrap(),
            namespace: "desk".into(),
            strategy: "dir".into(),
            op: CtfOp::Redeem { market, token: TokenId::from_u128(41), size: q("10") },
            status: CtfStatus::Done,
            cash: m("10"),
            realized: Money::ZERO,
            mode: Mode::Paper,
            ts_ns: u64::try_from(T0 + DAY_NS + 1).unwrap(),
        };
        perf.ctf(&redeem).unwrap();
        let s = perf.summary();
        check_sums(&s);
        assert_eq!((s.pnl, s.strategies[0].ctf_ops), (m("2.5"), 1));
        assert!(s.strategies[0].positions.is_empty());
        assert_eq!(s.days.len(), 2);
    }

    #[test]
    fn slots_split_each_strategys_pnl_over_time() {
        let h = 3_600_000_000_000;
        let mut perf = Performance::with_slots(T0, h);
        perf.fill(&fill("a1", "a", 1, 11, Side::Buy, "0.40", "10", "0", T0)).unwrap();
        perf.fill(&fill("a2", "a", 1, 11, Side::Sell, "0.50", "10", "0", T0 + 10)).unwrap();
        perf.fill(&fill("b1", "b", 2, 21, Side::Buy, "0.40", "10", "0.1", T0 + 2 * h)).unwrap();
        let slots = perf.slots().unwrap();
        assert_eq!((slots.slot_ns, slots.start_ns), (h, T0));
        assert_eq!(slots.pnl["desk/a"], vec![1_000_000, 0, 0], "a's round trip in the first hour");
        assert_eq!(slots.pnl["desk/b"], vec![0, 0, -100_000], "b's fee in the third; the second hour empty");
        let total: i64 = slots.pnl.values().flatten().sum();
        assert_eq!(total, perf.summary().pnl.micros());
        assert!(Performance::new(0).slots().is_none());
    }

    #[test]
    fn an_oversell_is_refused_and_changes_nothing() {
        let mut perf = Performance::new(0);
        perf.fill(&fill("a1", "mm", 1, 11, Side::Buy, "0.40", "10", "0", T0)).unwrap();
        assert!(perf.fill(&fill("a2", "mm", 1, 11, Side::Sell, "0.50", "20", "0", T0 + 1)).is_err());
        let s = perf.summary();
        assert_eq!((s.fills, s.pnl), (1, Money::ZERO));
    }
}

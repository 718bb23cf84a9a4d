//! The strategy runtime, sans-IO: a [`Strategy`] is driven by book updates, risk decisions, order
//! updates, fills, timers and parameter changes, and answers with [`Action`]s (orders to place,
//! orders to cancel) written into a [`Ctx`]. The [`runner::StrategyRunner`] around it follows the
//! books from market events and turns actions into wire intents; the strategy agent and the
//! backtester both drive that runner, so a strategy behaves the same live and in a backtest.

pub mod arbitrage;
pub mod build;
pub mod directional;
pub mod drift;
pub mod market_making;
pub mod parking;
pub mod probe;
pub mod runner;
pub mod sizing;

use crate::book::{BookFollower, Followed, OrderBook};
use crate::ids::{ClientOrderId, ConditionId, TokenId, TokenMap};
use crate::money::{FeeSchedule, Price, Quantity};
use crate::side::Side;
use crate::wire::{CtfOp, CtfReport, Fill, MarketEvent, OrderUpdate, RiskDecision, TimeInForce};

/// A tradable token with its market's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    /// The token's market.
    pub market: ConditionId,
    /// The token.
    pub token: TokenId,
    /// Minimum order size.
    pub min_size: Quantity,
    /// Taker fees.
    pub fees: FeeSchedule,
}

/// The tokens of `market` among `instruments`, sorted (a binary market's YES and NO).
pub fn market_tokens(instruments: &TokenMap<Instrument>, market: &ConditionId) -> Vec<TokenId> {
    let mut v: Vec<TokenId> = instruments.values().filter(|i| i.market == *market).map(|i| i.token).collect();
    v.sort();
    v
}

/// The other token of `token`'s binary market (YES for NO and the reverse), when `instruments`
/// holds exactly the two.
pub fn complement(instruments: &TokenMap<Instrument>, token: &TokenId) -> Option<TokenId> {
    let market = instruments.get(token)?.market;
    match market_tokens(instruments, &market).as_slice() {
        [a, b] if a == token => Some(*b),
        [a, b] if b == token => Some(*a),
        _ => None,
    }
}

/// An order a strategy asks for (the runner adds identity, mode and timestamps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Legs of one set share the first leg's id.
    pub group: Option<ClientOrderId>,
    /// The token's market.
    pub market: ConditionId,
    /// The token.
    pub token: TokenId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Shares.
    pub size: Quantity,
    /// Time in force.
    pub tif: TimeInForce,
    /// Rest only.
    pub post_only: bool,
    /// The model probability a model-sized order was sized on (the gateway's Kelly cap);
    /// `None` for orders no model sized.
    pub kelly: Option<crate::wire::KellyBasis>,
}

/// What a strategy wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Place an order.
    Place {
        /// Assigned by [`Ctx::place`].
        client_order_id: ClientOrderId,
        /// The order.
        order: OrderRequest,
    },
    /// Place the legs of a set, to be approved all or none.
    PlaceSet {
        /// The legs with the ids [`Ctx::place_set`] gave them.
        legs: Vec<(ClientOrderId, OrderRequest)>,
    },
    /// A conditional-token operation (merge, split, redeem, convert).
    Ctf {
        /// Assigned by [`Ctx::ctf`].
        id: ClientOrderId,
        /// The operation.
        op: CtfOp,
    },
    /// The model signal an order placed just before was sized on (journaled, not decided).
    SignalUsed(Box<crate::wire::SignalUsed>),
    /// Cancel an order.
    Cancel {
        /// The order.
        client_order_id: ClientOrderId,
        /// Why.
        reason: String,
    },
}

/// A strategy's view of the moment: the time and a place to put actions. Client order ids are
/// `<prefix>-<n>`; the prefix is unique per run of the agent, so ids never repeat across restarts.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Now (Unix ns), given by the shell.
    pub now_ns: u64,
    prefix: &'a str,
    next: &'a mut u64,
    actions: &'a mut Vec<Action>,
    size_factor_bps: u32,
}

impl<'a> Ctx<'a> {
    /// A context writing into `actions`, numbering ids from `next`, at full size.
    pub fn new(now_ns: u64, prefix: &'a str, next: &'a mut u64, actions: &'a mut Vec<Action>) -> Ctx<'a> {
        Ctx { now_ns, prefix, next, actions, size_factor_bps: crate::config::DriftConfig::FULL_SIZE_BPS }
    }

    /// The same, sizing new positions at `bps` of full size (a drift alarm's rule, see [`drift`]).
    pub fn with_size_factor(mut self, bps: u32) -> Ctx<'a> {
        self.size_factor_bps = bps.min(crate::config::DriftConfig::FULL_SIZE_BPS);
        self
    }

    /// The size factor in force, basis points.
    pub fn size_factor_bps(&self) -> u32 {
        self.size_factor_bps
    }

    /// `size` of a new position as the size factor allows, rounded down to the size step
    /// ([`sizing::SIZE_STEP`]); `size` itself at full size.
    pub fn opening(&self, size: Quantity) -> Quantity {
        if self.size_factor_bps >= crate::config::DriftConfig::FULL_SIZE_BPS {
            return size;
        }
        let scaled = u128::from(size.micros()) * u128::from(self.size_factor_bps) / 10_000;
        Quantity::from_micros(u64::try_from(scaled).unwrap_or(u64::MAX)).round_down_to(sizing::SIZE_STEP)
    }

    /// A fresh client order id.
    pub fn next_id(&mut self) -> ClientOrderId {
        *self.next += 1;
        // The prefix is validated when the runner is built, and the counter adds only digits.
        ClientOrderId::new(&format!("{}-{}", self.prefix, self.next)).unwrap_or(ClientOrderId::INVALID)
    }

    /// Places an order; returns the id it was given.
    pub fn place(&mut self, order: OrderRequest) -> ClientOrderId {
        let client_order_id = self.next_id();
        self.actions.push(Action::Place { client_order_id, order });
        client_order_id
    }

    /// Places the legs of a set, decided by the risk gateway as one (every leg approved or none);
    /// each leg's `group` becomes the first leg's id. Returns the ids, in leg order.
    pub fn place_set(&mut self, legs: Vec<OrderRequest>) -> Vec<ClientOrderId> {
        let mut out = Vec::with_capacity(legs.len());
        let mut group = None;
        let legs: Vec<(ClientOrderId, OrderRequest)> = legs
            .into_iter()
            .map(|mut order| {
                let id = self.next_id();
                group = group.or(Some(id));
                order.group = group;
                out.push(id);
                (id, order)
            })
            .collect();
        self.actions.push(Action::PlaceSet { legs });
        out
    }

    /// Asks for a conditional-token operation; returns the id it was given (its report, or its
    /// refusal, comes back to [`Strategy::on_ctf`] under that id).
    pub fn ctf(&mut self, op: CtfOp) -> ClientOrderId {
        let id = self.next_id();
        self.actions.push(Action::Ctf { id, op });
        id
    }

    /// Cancels an order.
    pub fn cancel(&mut self, client_order_id: ClientOrderId, reason: &str) {
        self.actions.push(Action::Cancel { client_order_id, reason: reason.to_string() });
    }

    /// Says which model signal the order `signal.client_order_id` (placed just before) was sized
    /// on; the runner fills in the namespace and strategy.
    pub fn signal_used(&mut self, signal: crate::wire::SignalUsed) {
        self.actions.push(Action::SignalUsed(Box::new(signal)));
    }
}

/// Fills already booked by a strategy: each fill counts once when first seen (matched or
/// confirmed) and is undone once if it fails, however often either is delivered.
#[derive(Debug, Default)]
pub struct SeenFills(std::collections::HashSet<(String, bool)>);

impl SeenFills {
    /// How `fill` is to be booked: `Some(true)` forward (first sight), `Some(false)` undone (it
    /// failed after being booked), `None` not at all (seen before, or failed unseen).
    pub fn take(&mut self, fill: &Fill) -> Option<bool> {
        let failed = fill.status == crate::wire::FillStatus::Failed;
        if !self.0.insert((fill.fill_id.clone(), failed)) {
            return None;
        }
        if failed && !self.0.contains(&(fill.fill_id.clone(), false)) {
            return None;
        }
        Some(!failed)
    }
}

/// The books a strategy follows, kept from numbered market events.
#[derive(Debug, Default)]
pub struct BookSet {
    followers: TokenMap<BookFollower>,
}

impl BookSet {
    /// Follows `tokens`.
    pub fn new(tokens: impl IntoIterator<Item = TokenId>) -> BookSet {
        BookSet { followers: tokens.into_iter().map(|t| (t, BookFollower::new())).collect() }
    }

    /// Applies an event of a followed token (others are ignored as stale).
    pub fn apply(&mut self, ev: &MarketEvent) -> Followed {
        match self.followers.get_mut(&ev.token) {
            Some(f) => f.on_event(ev),
            None => Followed::Stale,
        }
    }

    /// The token's book when it is live (in sequence, healthy).
    pub fn live(&self, token: &TokenId) -> Option<&OrderBook> {
        self.followers.get(token).filter(|f| f.is_live()).map(BookFollower::book)
    }

    /// Followed tokens.
    pub fn tokens(&self) -> impl Iterator<Item = &TokenId> {
        self.followers.keys()
    }

    /// Follows `token` too (from its first snapshot); a token already followed keeps its book.
    pub fn follow(&mut self, token: TokenId) {
        self.followers.entry(token).or_default();
    }
}

/// Why parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Not the strategy's parameter document.
    #[error("parameters do not decode: {0}")]
    Decode(String),
    /// Decoded but out of range.
    #[error("invalid parameter {field}: {message}")]
    Invalid {
        /// The field (camelCase, as in the Strategy spec).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// A trading strategy: a synchronous state machine. Every handler may write actions into `ctx`.
pub trait Strategy: Send {
    /// Tokens whose books the strategy needs.
    fn tokens(&self) -> Vec<TokenId>;
    /// A book changed (`token`'s); `books` holds every followed book.
    fn on_book(&mut self, token: &TokenId, books: &BookSet, ctx: &mut Ctx<'_>);
    /// The risk gateway decided on one of our intents.
    fn on_decision(&mut self, decision: &RiskDecision, books: &BookSet, ctx: &mut Ctx<'_>);
    /// One of our orders changed state.
    fn on_order(&mut self, update: &OrderUpdate, books: &BookSet, ctx: &mut Ctx<'_>);
    /// One of our orders filled (possibly delivered twice: dedupe by fill id).
    fn on_fill(&mut self, fill: &Fill, books: &BookSet, ctx: &mut Ctx<'_>);
    /// One of our conditional-token operations ended (done, or refused by the gateway, the ledger
    /// or the venue; possibly delivered twice: dedupe by id). Strategies that ask for none ignore it.
    fn on_ctf(&mut self, _report: &CtfReport, _books: &BookSet, _ctx: &mut Ctx<'_>) {}
    /// A market of ours resolved: `token` won (`winner`) or lost; the other token of its market
    /// did the opposite. Positions are settled by the execution side; a strategy redeems what
    /// it holds of the winner.
    fn on_resolved(&mut self, _event: &MarketEvent, _books: &BookSet, _ctx: &mut Ctx<'_>) {}
    /// A market event that does not change a book: a trade printed on the venue, or a tick-size
    /// change (the book is void until the next snapshot). Strategies that need neither ignore it.
    fn on_event(&mut self, _event: &MarketEvent, _books: &BookSet, _ctx: &mut Ctx<'_>) {}
    /// A model's fair value (already checked: the schema, bounds and validity). `Err` names why
    /// the strategy takes no notice of it (`unfollowed`: a model it does not follow;
    /// `unknown_token`: a token it does not trade; `not_directional`: strategies that trade on
    /// no signal, the default).
    fn on_signal(
        &mut self,
        _signal: &crate::wire::signal::FairValue,
        _books: &BookSet,
        _ctx: &mut Ctx<'_>,
    ) -> Result<(), &'static str> {
        Err("not_directional")
    }
    /// Periodic tick (timeouts).
    fn on_timer(&mut self, books: &BookSet, ctx: &mut Ctx<'_>);
    /// What the strategy's own rules did so far, as cumulative counts by kind (metrics; none by
    /// default).
    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![]
    }
    /// Forecast scores of the models it traded on, per model version (strategies that trade on
    /// no model have none).
    fn scores(&self) -> Vec<crate::analytics::scores::ModelScore> {
        vec![]
    }
    /// Maker rebates and liquidity rewards earned as of `now_ns` (strategies that do not quote
    /// have none).
    fn earnings(&self, _now_ns: u64) -> Option<crate::analytics::Earnings> {
        None
    }
    /// New parameters (its type's block). On error the old ones stay.
    fn set_params(&mut self, params: &crate::config::StrategyParams) -> Result<(), ParamsError>;
    /// The positions the ledger holds for it, once at start before any event, so that a
    /// restarted agent goes on from what it holds, not from flat (what it sizes, exits and
    /// redeems from); tokens it does not trade are ignored. Returns how many it took. A strategy
    /// keeping no holdings of its own takes none (the default).
    fn restore(&mut self, _positions: &[(TokenId, crate::accounting::Position)]) -> usize {
        0
    }
    /// Binary markets to trade from now on (a `series` Market's new rounds), beside those it
    /// has; a market it trades already is left as it is. Returns the tokens added. `Err` names why
    /// it takes none (the default: strategies whose markets are fixed at start).
    fn add_markets(&mut self, _markets: Vec<market_making::QuotedMarket>) -> Result<Vec<TokenId>, &'static str> {
        Err("this strategy type trades the markets it started with")
    }
}

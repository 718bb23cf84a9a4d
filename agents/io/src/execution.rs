//! The venue-neutral execution interface: the [`Executor`] trait (what turns an approved order
//! into order updates and fills), the [`VenueMetrics`] sink and [`Clock`] a venue's executor is
//! given instead of importing the agent's, and the [`PaperExecutor`]: the core's sans-IO matching
//! engine against the agent's own copy of the venue's books, with the market's minimum size and
//! fees, and an optional simulated latency. A venue crate (`polyfleet-polymarket`'s
//! `execution`) implements [`Executor`] for live trading and uses [`PaperExecutor`] for paper and
//! shadow orders; a second venue is a sibling crate implementing the same traits.

use std::future::Future;
use std::time::Duration;

use polyfleet_core::book::{BookFollower, Followed, OrderBook};
use polyfleet_core::exec::paper::{ExecEvent, MarketRules, PaperEngine, Print, refusal};
use polyfleet_core::strategy::Instrument;
use polyfleet_core::wire::{CtfIntent, MarketEvent, MarketEventBody, OrderIntent};
use polyfleet_core::{ClientOrderId, ConditionId, Quantity, TokenId, TokenMap};

/// Now, Unix nanoseconds: the wall clock, or a replay's clock (injected by the agent).
pub type Clock = fn() -> u64;

/// Where a venue's executor counts what it does (the agent's Prometheus metrics implement it).
pub trait VenueMetrics: Send + Sync {
    /// One call to the venue's API, by endpoint and result (`ok`, `throttled`, `refused`, ...).
    fn venue_call(&self, endpoint: &'static str, result: &'static str);
    /// A wait for the venue's rate limit.
    fn rate_limit_wait(&self);
    /// A dead-man heartbeat, by result (`ok`, `error`).
    fn heartbeat(&self, result: &'static str);
    /// A (re)connection of the account's event channel.
    fn user_connect(&self);
    /// An event of the account's channel, by kind (`malformed` when undecodable).
    fn user_event(&self, kind: &str);
    /// A live order refused by a safety gate, by reason.
    fn live_refused(&self, reason: &str);
    /// A shadow order compared, by verdict.
    fn shadow_order(&self, verdict: &str);
}

/// Counts nothing (tests, benches).
pub struct NoMetrics;

impl VenueMetrics for NoMetrics {
    fn venue_call(&self, _: &'static str, _: &'static str) {}
    fn rate_limit_wait(&self) {}
    fn heartbeat(&self, _: &'static str) {}
    fn user_connect(&self) {}
    fn user_event(&self, _: &str) {}
    fn live_refused(&self, _: &str) {}
    fn shadow_order(&self, _: &str) {}
}

/// Executes approved orders.
pub trait Executor: Send {
    /// Tokens it trades (their books are requested at start).
    fn tokens(&self) -> Vec<TokenId>;
    /// The tokens it trades of `market` (to settle the market when it resolves), sorted.
    fn market_tokens(&self, market: &ConditionId) -> Vec<TokenId>;
    /// An approved order.
    fn submit(&mut self, intent: &OrderIntent, now_ns: u64) -> impl Future<Output = Vec<ExecEvent>> + Send;
    /// Approved orders that arrived together, each one's events in the order given (live: in
    /// batch requests to the venue; the default submits them one by one).
    fn submit_many(
        &mut self,
        intents: &[OrderIntent],
        now_ns: u64,
    ) -> impl Future<Output = Vec<Vec<ExecEvent>>> + Send {
        async move {
            let mut out = Vec::with_capacity(intents.len());
            for intent in intents {
                out.push(self.submit(intent, now_ns).await);
            }
            out
        }
    }
    /// Cancel a working order (nothing when it is not working).
    fn cancel(&mut self, id: &ClientOrderId, reason: &str, now_ns: u64) -> impl Future<Output = Vec<ExecEvent>> + Send;
    /// A market event; returns what it caused (maker fills) and whether the book needs a snapshot.
    fn on_market(&mut self, ev: &MarketEvent, now_ns: u64) -> (Vec<ExecEvent>, bool);
    /// Periodic tick (expiries).
    fn on_timer(&mut self, now_ns: u64) -> Vec<ExecEvent>;
    /// The book a position in `token` is marked against (see
    /// [`polyfleet_core::accounting::mark`]): its live book, `None` when it has none in sequence.
    fn book(&self, token: &TokenId) -> Option<&OrderBook>;
    /// The other token of `token`'s binary market (a YES's NO and the reverse), if known.
    fn complement(&self, token: &TokenId) -> Option<TokenId>;
    /// Shares of `token` that `strategy`'s resting paper (and shadow) sales still offer, which the
    /// agent's balance check counts as the venue counts open orders. Live sales are checked by
    /// the venue and the pre-flight instead.
    fn offered(&self, _namespace: &str, _strategy: &str, _token: &TokenId) -> Quantity {
        Quantity::ZERO
    }
    /// Trades `instruments` too from now on (a `series` Market's new rounds); tokens it knows
    /// keep their rules. Returns how many it added, or why it takes none.
    fn add_instruments(&mut self, instruments: TokenMap<Instrument>) -> Result<usize, String>;
    /// At start: the orders a previous run left at the venue (to track like working orders),
    /// and what happened to them while the agent was away. Paper: nothing.
    fn start_up(&mut self, _now_ns: u64) -> impl Future<Output = (Vec<OrderIntent>, Vec<ExecEvent>)> + Send {
        async { (vec![], vec![]) }
    }
    /// An order an earlier executor claimed and did not finish: what became of it at the venue,
    /// or `None` if it never got there (then it is reported not executed, never sent late).
    fn recover(&mut self, _intent: &OrderIntent, _now_ns: u64) -> impl Future<Output = Option<Vec<ExecEvent>>> + Send {
        async { None }
    }
    /// A conditional-token operation the gateway approved: `Ok` once the venue has done it, or
    /// why it was not done. Paper and shadow send nothing (the ledger books the operation
    /// exactly), so the default is done.
    fn ctf(&mut self, _intent: &CtfIntent, _now_ns: u64) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
    /// Events the venue reports on its own (fills of resting orders, settlement, cancels by the
    /// venue). Cancel-safe. Paper: never (its maker fills come from [`Executor::on_market`]).
    fn venue_events(&mut self) -> impl Future<Output = Vec<ExecEvent>> + Send {
        std::future::pending()
    }
    /// Cancels several working orders at once, each with its reason (live: one batch request to
    /// the venue; the default cancels them one by one).
    fn cancel_many(
        &mut self,
        orders: &[(ClientOrderId, String)],
        now_ns: u64,
    ) -> impl Future<Output = Vec<ExecEvent>> + Send {
        async move {
            let mut out = vec![];
            for (id, reason) in orders {
                out.extend(self.cancel(id, reason, now_ns).await);
            }
            out
        }
    }
    /// Graceful stop: what stopping did (live: its open orders cancelled).
    fn shut_down(&mut self, _now_ns: u64) -> impl Future<Output = Vec<ExecEvent>> + Send {
        async { vec![] }
    }
}

/// Paper trading.
pub struct PaperExecutor {
    engine: PaperEngine,
    books: TokenMap<BookFollower>,
    instruments: TokenMap<Instrument>,
    latency: Duration,
}

impl PaperExecutor {
    /// A paper executor for `instruments`, answering after `latency`.
    pub fn new(instruments: TokenMap<Instrument>, latency: Duration) -> PaperExecutor {
        PaperExecutor { engine: PaperEngine::new(), books: TokenMap::default(), instruments, latency }
    }
}

impl Executor for PaperExecutor {
    fn tokens(&self) -> Vec<TokenId> {
        self.instruments.keys().copied().collect()
    }

    fn market_tokens(&self, market: &ConditionId) -> Vec<TokenId> {
        polyfleet_core::strategy::market_tokens(&self.instruments, market)
    }

    fn add_instruments(&mut self, instruments: TokenMap<Instrument>) -> Result<usize, String> {
        let before = self.instruments.len();
        for (t, i) in instruments {
            self.instruments.entry(t).or_insert(i);
        }
        Ok(self.instruments.len() - before)
    }

    async fn submit(&mut self, intent: &OrderIntent, now_ns: u64) -> Vec<ExecEvent> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let Some(inst) = self.instruments.get(&intent.token) else {
            return vec![refusal(intent, "no market rules for this token", now_ns)];
        };
        if self.books.get(&intent.token).is_some_and(BookFollower::is_resolved) {
            return vec![refusal(intent, "market resolved", now_ns)];
        }
        let Some(book) = self.books.get(&intent.token).filter(|f| f.is_live()).map(BookFollower::book) else {
            return vec![refusal(intent, "no live book for this token", now_ns)];
        };
        let rules = MarketRules { tick: book.tick(), min_size: inst.min_size, fees: inst.fees };
        self.engine.submit(intent, book, &rules, now_ns)
    }

    async fn cancel(&mut self, id: &ClientOrderId, reason: &str, now_ns: u64) -> Vec<ExecEvent> {
        self.engine.cancel(id, reason, now_ns)
    }

    fn on_market(&mut self, ev: &MarketEvent, now_ns: u64) -> (Vec<ExecEvent>, bool) {
        let f = self.books.entry(ev.token).or_default();
        match f.on_event(ev) {
            Followed::Gap { .. } => (vec![], true),
            Followed::Stale => (vec![], false),
            Followed::Applied | Followed::Reset => {
                let changed = matches!(ev.body, MarketEventBody::Snapshot { .. } | MarketEventBody::Delta(_));
                if changed && f.is_live() && self.engine.open_orders() > 0 {
                    (self.engine.on_book(&ev.token, f.book(), now_ns), false)
                } else if let MarketEventBody::Trade { side, price, size, .. } = ev.body
                    && self.engine.open_orders() > 0
                {
                    let complement = polyfleet_core::strategy::complement(&self.instruments, &ev.token);
                    let print = Print { token: ev.token, complement, side, price, size, ts_ms: ev.venue_ts_ms };
                    (self.engine.on_print(&print, now_ns), false)
                } else {
                    (vec![], false)
                }
            }
        }
    }

    fn on_timer(&mut self, now_ns: u64) -> Vec<ExecEvent> {
        self.engine.expire(now_ns / 1_000_000_000, now_ns)
    }

    fn book(&self, token: &TokenId) -> Option<&OrderBook> {
        self.books.get(token).filter(|f| f.is_live()).map(BookFollower::book)
    }

    fn complement(&self, token: &TokenId) -> Option<TokenId> {
        polyfleet_core::strategy::complement(&self.instruments, token)
    }

    fn offered(&self, namespace: &str, strategy: &str, token: &TokenId) -> Quantity {
        self.engine.offered(namespace, strategy, token)
    }
}

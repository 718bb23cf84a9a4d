//! Runs one [`Strategy`]: follows its books from market events (asking for a snapshot on a gap),
//! calls the strategy, and turns its actions into wire [`Intent`]s stamped with the strategy's
//! identity, mode, cause and time. Sans-IO: the strategy agent feeds it from NATS, the backtester
//! from a recording.

use super::drift::{DriftMonitor, DriftReport};
use super::parking::Parking;
use super::{Action, BookSet, Ctx, OrderRequest, ParamsError, Strategy};
use crate::book::Followed;
use crate::ids::{ClientOrderId, IdError, TokenId, TokenMap};
use crate::wire::{
    CancelRequest, CtfDecision, CtfIntent, CtfReport, Fill, Intent, MarketEvent, MarketEventBody, Mode, OrderIntent,
    OrderUpdate, Outcome, RejectReason, RiskDecision, Verdict,
};

/// How often in one input a parked strategy is told of refused orders and may answer with more
/// (each answer refused and told again); what it still asks for after that is dropped.
const PARKED_ROUNDS: usize = 4;

/// Who the strategy is, as written on every intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Strategy namespace.
    pub namespace: String,
    /// Strategy name.
    pub strategy: String,
    /// RiskPolicy name.
    pub risk_policy: String,
    /// Venue name.
    pub venue: String,
    /// Paper, shadow or live.
    pub mode: Mode,
}

/// What one input produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    /// Intents to publish, in order.
    pub intents: Vec<Intent>,
    /// Tokens whose book needs a snapshot (a gap, or no snapshot yet).
    pub snapshot_requests: Vec<TokenId>,
    /// Book changes the strategy did not hear on their own: a later change of the same book in
    /// the batch was heard instead ([`StrategyRunner::on_market_batch`]).
    pub conflated: u64,
}

/// A strategy with its books and identity.
pub struct StrategyRunner {
    id: Identity,
    books: BookSet,
    strategy: Box<dyn Strategy>,
    prefix: String,
    next: u64,
    cause_seq: u64,
    cause_recv_ts_ns: u64,
    params_generation: Option<u64>,
    outcomes: TokenMap<Outcome>,
    drift: Option<DriftMonitor>,
    parking: Option<Parking>,
}

impl StrategyRunner {
    /// A runner; `prefix` starts every client order id and must be unique per run (the agent
    /// uses its start time).
    pub fn new(id: Identity, strategy: Box<dyn Strategy>, prefix: &str) -> Result<StrategyRunner, IdError> {
        // The longest id this runner can make must be valid.
        ClientOrderId::new(&format!("{prefix}-{}", u64::MAX))?;
        let books = BookSet::new(strategy.tokens());
        Ok(StrategyRunner {
            id,
            books,
            strategy,
            prefix: prefix.to_string(),
            next: 0,
            cause_seq: 0,
            cause_recv_ts_ns: 0,
            params_generation: None,
            outcomes: TokenMap::default(),
            drift: None,
            parking: None,
        })
    }

    /// Watches the strategy for drift as `cfg` declares (see [`super::drift`]): its orders, fills
    /// and forecast scores feed the monitor, and while an alarm stands new positions are sized
    /// at the declared factor.
    pub fn with_drift(mut self, cfg: Option<crate::config::DriftConfig>) -> StrategyRunner {
        self.drift = cfg.map(DriftMonitor::new);
        self
    }

    /// Takes the turns of a time-slot experiment arm (see [`super::parking`]): off its turn the
    /// strategy's open orders are cancelled and what it asks for is refused.
    pub fn with_turns(mut self, schedule: Option<crate::analytics::experiment::SlotSchedule>) -> StrategyRunner {
        self.parking = schedule.map(Parking::new);
        self
    }

    /// Whether the strategy is parked (a time-slot arm off its turn) as of the last input.
    pub fn parked(&self) -> bool {
        self.parking.as_ref().is_some_and(Parking::parked)
    }

    /// The drift alarms standing now, when drift is watched.
    pub fn drift(&self) -> Option<DriftReport> {
        self.drift.as_ref().map(DriftMonitor::report)
    }

    /// Writes each token's place in its event (the operator's plan) on the orders for it.
    pub fn with_outcomes(mut self, outcomes: TokenMap<Outcome>) -> StrategyRunner {
        self.outcomes = outcomes;
        self
    }

    /// The strategy's own counts by kind ([`Strategy::counters`]).
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut c = self.strategy.counters();
        c.extend(self.parking.iter().flat_map(Parking::counters));
        c
    }

    /// The ledger's positions of the strategy, at start ([`Strategy::restore`]): how many it took.
    pub fn restore(&mut self, positions: &[(TokenId, crate::accounting::Position)]) -> usize {
        self.strategy.restore(positions)
    }

    /// The strategy's forecast scores ([`Strategy::scores`]).
    pub fn scores(&self) -> Vec<crate::analytics::scores::ModelScore> {
        self.strategy.scores()
    }

    /// Rebates and rewards earned as of `now_ns` ([`Strategy::earnings`]).
    pub fn earnings(&self, now_ns: u64) -> Option<crate::analytics::Earnings> {
        self.strategy.earnings(now_ns)
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.id
    }

    /// The books.
    pub fn books(&self) -> &BookSet {
        &self.books
    }

    /// Tokens to subscribe to.
    pub fn tokens(&self) -> Vec<TokenId> {
        self.strategy.tokens()
    }

    /// Trades `rounds` too (a `series` Market's rounds, [`crate::config::RoundsDoc`]) from now
    /// on: the markets the strategy did not have are added ([`Strategy::add_markets`]), their
    /// books followed and their planned outcomes written on their orders. Returns the tokens
    /// added, whose snapshots the caller asks for.
    pub fn add_rounds(&mut self, rounds: &[crate::config::QuotedConfig]) -> Result<Vec<TokenId>, String> {
        let mut markets = vec![];
        for r in rounds {
            markets.push(r.quoted().map_err(|e| e.to_string())?);
            for t in [&r.yes, &r.no] {
                if let (Some(o), Ok(id)) = (&t.outcome, TokenId::parse(&t.token)) {
                    o.validate().map_err(|e| format!("token {}: {e}", t.token))?;
                    self.outcomes.insert(id, o.clone());
                }
            }
        }
        let added = self.strategy.add_markets(markets).map_err(str::to_string)?;
        for t in &added {
            self.books.follow(*t);
        }
        Ok(added)
    }

    /// The parameter generation applied last.
    pub fn params_generation(&self) -> Option<u64> {
        self.params_generation
    }

    fn run(&mut self, now_ns: u64, f: impl FnOnce(&mut dyn Strategy, &BookSet, &mut Ctx<'_>)) -> Vec<Intent> {
        let mut actions = vec![];
        let factor = self.drift.as_ref().map_or(crate::config::DriftConfig::FULL_SIZE_BPS, |d| d.size_factor_bps());
        let mut ctx = Ctx::new(now_ns, &self.prefix, &mut self.next, &mut actions).with_size_factor(factor);
        f(self.strategy.as_mut(), &self.books, &mut ctx);
        let actions = self.obey_turns(actions, now_ns, factor);
        let intents: Vec<Intent> = actions.into_iter().map(|a| self.intent(a, now_ns)).collect();
        if let Some(d) = self.drift.as_mut() {
            let mid = |o: &OrderIntent| self.books.live(&o.token).and_then(|b| b.mid());
            for i in &intents {
                match i {
                    Intent::Place(o) => d.on_order(o, mid(o)),
                    Intent::PlaceSet(legs) => legs.iter().for_each(|o| d.on_order(o, mid(o))),
                    _ => {}
                }
            }
        }
        intents
    }

    /// The strategy's `actions` as a time-slot arm's turns allow (all of them when it takes none):
    /// when its turn has just ended its open orders are cancelled first; while parked its orders
    /// are refused, the strategy told as the gateway would tell it, and the signals they were
    /// sized on dropped. Orders let through are tracked until they end.
    fn obey_turns(&mut self, actions: Vec<Action>, now_ns: u64, factor: u32) -> Vec<Action> {
        let Some(mut parking) = self.parking.take() else { return actions };
        let (parked, cancels) = parking.look(now_ns);
        let mut out: Vec<Action> = cancels
            .into_iter()
            .map(|client_order_id| Action::Cancel { client_order_id, reason: "experiment arm parked".into() })
            .collect();
        let mut pending = actions;
        for round in 0..=PARKED_ROUNDS {
            let mut refused: Vec<(ClientOrderId, OrderRequest)> = vec![];
            for a in pending.drain(..) {
                match a {
                    Action::Place { client_order_id, order } if parked => refused.push((client_order_id, order)),
                    Action::PlaceSet { legs } if parked => refused.extend(legs),
                    Action::SignalUsed(s) if parked && refused.iter().any(|(id, _)| *id == s.client_order_id) => {}
                    Action::Place { client_order_id, order } => {
                        parking.placed(client_order_id, now_ns);
                        out.push(Action::Place { client_order_id, order });
                    }
                    Action::PlaceSet { legs } => {
                        legs.iter().for_each(|(id, _)| parking.placed(*id, now_ns));
                        out.push(Action::PlaceSet { legs });
                    }
                    other => out.push(other),
                }
            }
            if refused.is_empty() || round == PARKED_ROUNDS {
                // Past the last round the strategy is not told again: what it asked is dropped.
                parking.refused(refused.len());
                break;
            }
            parking.refused(refused.len());
            let decisions: Vec<RiskDecision> = refused
                .into_iter()
                .map(|(id, order)| RiskDecision {
                    intent: self.order(id, order, now_ns),
                    verdict: Verdict::Rejected {
                        reason: RejectReason::ExperimentParked,
                        detail: format!("off its turn in experiment {}", parking.schedule().experiment),
                    },
                    decided_ts_ns: now_ns,
                })
                .collect();
            let mut ctx = Ctx::new(now_ns, &self.prefix, &mut self.next, &mut pending).with_size_factor(factor);
            for d in &decisions {
                self.strategy.on_decision(d, &self.books, &mut ctx);
            }
        }
        self.parking = Some(parking);
        out
    }

    fn intent(&self, action: Action, now_ns: u64) -> Intent {
        match action {
            Action::Place { client_order_id, order } => Intent::Place(self.order(client_order_id, order, now_ns)),
            Action::PlaceSet { legs } => {
                Intent::PlaceSet(legs.into_iter().map(|(id, order)| self.order(id, order, now_ns)).collect())
            }
            Action::Ctf { id, op } => Intent::Ctf(CtfIntent {
                id,
                namespace: self.id.namespace.clone(),
                strategy: self.id.strategy.clone(),
                risk_policy: self.id.risk_policy.clone(),
                venue: self.id.venue.clone(),
                op,
                mode: self.id.mode,
                cause_seq: self.cause_seq,
                cause_recv_ts_ns: self.cause_recv_ts_ns,
                created_ts_ns: now_ns,
            }),
            Action::Cancel { client_order_id, reason } => Intent::Cancel(CancelRequest {
                client_order_id: Some(client_order_id),
                namespace: self.id.namespace.clone(),
                strategy: self.id.strategy.clone(),
                reason,
                created_ts_ns: now_ns,
            }),
            Action::SignalUsed(s) => Intent::Signal(crate::wire::SignalUsed {
                namespace: self.id.namespace.clone(),
                strategy: self.id.strategy.clone(),
                created_ts_ns: now_ns,
                ..*s
            }),
        }
    }

    fn order(&self, client_order_id: ClientOrderId, order: OrderRequest, now_ns: u64) -> OrderIntent {
        OrderIntent {
            client_order_id,
            group: order.group,
            namespace: self.id.namespace.clone(),
            strategy: self.id.strategy.clone(),
            risk_policy: self.id.risk_policy.clone(),
            venue: self.id.venue.clone(),
            market: order.market,
            token: order.token,
            side: order.side,
            price: order.price,
            size: order.size,
            tif: order.tif,
            post_only: order.post_only,
            mode: self.id.mode,
            cause_seq: self.cause_seq,
            cause_recv_ts_ns: self.cause_recv_ts_ns,
            created_ts_ns: now_ns,
            outcome: self.outcomes.get(&order.token).cloned(),
            kelly: order.kelly,
        }
    }

    /// A market event of a followed token.
    pub fn on_market(&mut self, ev: &MarketEvent, now_ns: u64) -> Output {
        self.on_market_batch(std::slice::from_ref(ev), now_ns)
    }

    /// Market events of followed tokens that queued up while the agent was busy, conflated:
    /// every event is applied to the books in order (no delta is skipped), but a run of book
    /// changes of one token reaches the strategy once, on the book after the last of them, with
    /// that event as the cause (snapshots, deltas, feed and trading status change a book). Trades,
    /// tick-size changes and resolutions reach it each, in order, after the book changes queued
    /// before them were heard on the books as they stood then. A token whose book fell out of
    /// sequence in the batch is not decided on (its snapshot is asked for). One event is
    /// [`Self::on_market`].
    pub fn on_market_batch(&mut self, events: &[MarketEvent], now_ns: u64) -> Output {
        let mut out = Output::default();
        // Tokens with book changes not yet heard, in the order they first changed: (token, seq,
        // receipt time) of the last change.
        let mut changed: Vec<(TokenId, u64, u64)> = vec![];
        for ev in events {
            let discrete = matches!(
                ev.body,
                MarketEventBody::Trade { .. } | MarketEventBody::TickSize { .. } | MarketEventBody::Resolved { .. }
            );
            if discrete {
                // The books as they were before it, as one event at a time would have them.
                self.hear_book_changes(&mut changed, now_ns, &mut out.intents);
            }
            match self.books.apply(ev) {
                Followed::Gap { .. } => {
                    changed.retain(|c| c.0 != ev.token);
                    out.snapshot_requests.push(ev.token);
                }
                Followed::Stale => {}
                Followed::Applied | Followed::Reset => {
                    if let Some(d) = self.drift.as_mut()
                        && let Some(mid) = self.books.live(&ev.token).and_then(|b| b.mid())
                    {
                        d.on_mid(&ev.token, mid, now_ns);
                    }
                    if !discrete {
                        match changed.iter_mut().find(|c| c.0 == ev.token) {
                            Some(c) => {
                                (c.1, c.2) = (ev.seq, ev.recv_ts_ns);
                                out.conflated += 1;
                            }
                            None => changed.push((ev.token, ev.seq, ev.recv_ts_ns)),
                        }
                    } else if matches!(ev.body, MarketEventBody::Resolved { .. }) {
                        self.cause(ev);
                        out.intents.extend(self.run(now_ns, |s, b, c| s.on_resolved(ev, b, c)));
                        // Forecasts are scored at resolutions.
                        if let Some(d) = self.drift.as_mut() {
                            d.on_scores(&self.strategy.scores(), now_ns);
                        }
                    } else {
                        self.cause(ev);
                        out.intents.extend(self.run(now_ns, |s, b, c| s.on_event(ev, b, c)));
                    }
                }
            }
        }
        self.hear_book_changes(&mut changed, now_ns, &mut out.intents);
        out
    }

    /// The strategy hears each of the `changed` books (emptied), in order.
    fn hear_book_changes(&mut self, changed: &mut Vec<(TokenId, u64, u64)>, now_ns: u64, intents: &mut Vec<Intent>) {
        for (token, seq, recv_ts_ns) in changed.drain(..) {
            (self.cause_seq, self.cause_recv_ts_ns) = (seq, recv_ts_ns);
            intents.extend(self.run(now_ns, |s, b, c| s.on_book(&token, b, c)));
        }
    }

    /// `ev` causes what the strategy does next.
    fn cause(&mut self, ev: &MarketEvent) {
        (self.cause_seq, self.cause_recv_ts_ns) = (ev.seq, ev.recv_ts_ns);
    }

    /// A risk decision on one of our intents.
    pub fn on_decision(&mut self, d: &RiskDecision, now_ns: u64) -> Vec<Intent> {
        if let Some(p) = self.parking.as_mut() {
            p.decided(d);
        }
        self.run(now_ns, |s, b, c| s.on_decision(d, b, c))
    }

    /// The gateway's decision on one of our conditional-token operations: a refusal ends it (the
    /// strategy hears it as a failed report); an approval waits for the execution's report.
    pub fn on_ctf_decision(&mut self, d: &CtfDecision, now_ns: u64) -> Vec<Intent> {
        let Verdict::Rejected { reason, detail } = &d.verdict else { return vec![] };
        let report = CtfReport::failed(&d.intent, format!("refused by risk: {} ({detail})", reason.as_str()), now_ns);
        self.on_ctf(&report, now_ns)
    }

    /// What became of one of our conditional-token operations.
    pub fn on_ctf(&mut self, r: &CtfReport, now_ns: u64) -> Vec<Intent> {
        self.run(now_ns, |s, b, c| s.on_ctf(r, b, c))
    }

    /// An order update of ours.
    pub fn on_order(&mut self, u: &OrderUpdate, now_ns: u64) -> Vec<Intent> {
        let resting = self.parking.as_mut().is_some_and(|p| p.updated(u));
        let mut intents = self.run(now_ns, |s, b, c| s.on_order(u, b, c));
        // Open while parked: its cancel overtook it, or it came after the turn ended.
        let cancelled = |i: &Intent| matches!(i, Intent::Cancel(c) if c.client_order_id == Some(u.client_order_id));
        if resting && self.parked() && !intents.iter().any(cancelled) {
            self.parking.as_mut().into_iter().for_each(Parking::cancelled_again);
            let reason = "experiment arm parked".to_string();
            intents.push(self.intent(Action::Cancel { client_order_id: u.client_order_id, reason }, now_ns));
        }
        intents
    }

    /// A fill of ours.
    pub fn on_fill(&mut self, f: &Fill, now_ns: u64) -> Vec<Intent> {
        if let Some(d) = self.drift.as_mut()
            && f.status != crate::wire::FillStatus::Failed
        {
            d.on_fill(f, now_ns);
        }
        self.run(now_ns, |s, b, c| s.on_fill(f, b, c))
    }

    /// A model's fair value: the intents it caused, or why the strategy took no notice of it.
    pub fn on_signal(
        &mut self,
        signal: &crate::wire::signal::FairValue,
        now_ns: u64,
    ) -> Result<Vec<Intent>, &'static str> {
        let mut taken = Ok(());
        let intents = self.run(now_ns, |s, b, c| taken = s.on_signal(signal, b, c));
        taken.map(|()| intents)
    }

    /// The periodic timer.
    pub fn on_timer(&mut self, now_ns: u64) -> Vec<Intent> {
        self.run(now_ns, |s, b, c| s.on_timer(b, c))
    }

    /// New parameters of `generation`; on error the old ones stay in force.
    pub fn on_params(&mut self, params: &crate::config::StrategyParams, generation: u64) -> Result<(), ParamsError> {
        self.strategy.set_params(params)?;
        self.params_generation = Some(generation);
        Ok(())
    }
}

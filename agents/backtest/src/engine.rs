//! The backtest engine, sans-IO: market events in (in recorded order, timestamped by their
//! receive time), and every strategy, the risk gateway's rules and the paper matching engine
//! driven exactly as the agents drive them, with no bus in between:
//!
//! 1. due timers fire first (strategy every 100 ms, order expiry every 500 ms of event time);
//! 2. the event updates the execution side's book, and resting paper orders it crosses fill;
//! 3. each strategy following the token gets it; the intents it answers with are decided by the
//!    policy's [`RiskState`] (book liquidity from the same books), approved orders execute on the
//!    [`PaperEngine`], fills are booked in the strategy's [`Ledger`] and committed to the risk
//!    state, and decisions, order updates and fills go back to the strategy, whose new intents
//!    are handled the same way until none are left.
//!
//! A model's fair value (a directional strategy's signal) goes the same way at its publication
//! time: due timers first, then every strategy following its token, whose intents are handled
//! as above.
//!
//! When a market resolves (the market channel's `market_resolved`), orders still working in it
//! are cancelled and every position in it is settled at the payout, once, in the ledger and the
//! risk state, as the execution agent does; its tokens are marked at the payout from then on.
//!
//! Conditional-token operations go the same way: decided by the policy's rules (a split reserves
//! as two purchases), then booked in the ledger and the risk state, a split's reservations
//! released, and the report back to the strategy.
//!
//! Approved orders and cancels reach the paper engine `latency_ns` after the decision (the
//! fleet's strategy → risk → execution → venue path), against the book as it stands then: a leg
//! priced on one event's book may meet a later one. With a latency of 0 they execute against the
//! book of the event that caused them, which is what `up --replay` does in lockstep. Everything is
//! deterministic: client order ids are numbered from a fixed prefix and no hash order leaks out.

use std::collections::{HashMap, VecDeque};

use polyfleet_core::accounting::Ledger;
use polyfleet_core::accounting::lifecycle::{Booking, LifecycleTotals};
use polyfleet_core::accounting::mark::{self, Quote};
use polyfleet_core::book::{BookFollower, Followed};
use polyfleet_core::config::{
    ConfigError, EXPIRY_TIMER_NS, STRATEGY_TIMER_NS, StrategyConfig, StrategyParams, StrategyType,
};
use polyfleet_core::exec::paper::{ExecEvent, MarketRules, PaperEngine, refusal, short_of_shares};
use polyfleet_core::risk::{RiskLimits, RiskState, book_liquidity};
use polyfleet_core::strategy::Instrument;
use polyfleet_core::strategy::build::build;
use polyfleet_core::strategy::runner::StrategyRunner;
use polyfleet_core::wire::{
    CtfDecision, CtfIntent, CtfReport, CtfStatus, Fill, Intent, MarketEvent, MarketEventBody, OrderIntent, Resolution,
    RiskDecision, Verdict, signal::FairValue,
};
use polyfleet_core::{ClientOrderId, Money, Price, Side, TokenId, TokenMap};

use crate::analytics::Tracker;
use crate::journal::{FillRecord, Journal};

/// What to run.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The strategies, as their agents would be configured.
    pub strategies: Vec<StrategyConfig>,
    /// Limits per RiskPolicy: (namespace, name, limits).
    pub limits: Vec<(String, String, RiskLimits)>,
    /// Band the gateway measures book liquidity in, basis points.
    pub liquidity_band_bps: u32,
    /// Equity is sampled this often (event time).
    pub sample_every_ns: u64,
    /// From a risk decision to the order (or cancel) at the venue, ns of event time.
    pub latency_ns: u64,
}

struct Slot {
    runner: StrategyRunner,
    name: String,
    kind: StrategyType,
    ledger: Ledger,
    policy: Option<usize>,
    /// Legs of each complete set (valued at 1 USDC a set: it can be merged).
    sets: Vec<Vec<TokenId>>,
    /// Attribution, markouts, fill ratio, inventory.
    tracker: Tracker,
}

struct Policy {
    limits: RiskLimits,
    state: RiskState,
}

/// The engine.
pub struct Engine {
    slots: Vec<Slot>,
    by_token: TokenMap<Vec<usize>>,
    policies: Vec<Policy>,
    band_bps: u32,
    books: TokenMap<BookFollower>,
    marks: TokenMap<Price>,
    paper: PaperEngine,
    instruments: TokenMap<Instrument>,
    working: HashMap<ClientOrderId, (usize, OrderIntent)>,
    queue: VecDeque<(usize, Intent)>,
    /// Approved orders and cancels on their way to the venue: (arrival, strategy, intent), in
    /// arrival order (decisions are made in time order and the latency is constant).
    in_flight: VecDeque<(u64, usize, Intent)>,
    latency_ns: u64,
    next_timer_ns: u64,
    next_expiry_ns: u64,
    next_sample_ns: u64,
    sample_every_ns: u64,
    now_ns: u64,
    journal: Journal,
    /// Markets resolved (and settled) so far.
    resolved: std::collections::HashSet<polyfleet_core::ConditionId>,
    /// What each token of a resolved market pays (its mark from then on).
    payouts: TokenMap<Price>,
}

impl Engine {
    /// An engine for `cfg`; fails when a strategy cannot be built from its configuration.
    pub fn new(cfg: &EngineConfig) -> Result<Engine, ConfigError> {
        let mut slots = vec![];
        let mut by_token: TokenMap<Vec<usize>> = TokenMap::default();
        let mut instruments: TokenMap<Instrument> = TokenMap::default();
        let policies: Vec<Policy> =
            cfg.limits.iter().map(|(_, _, l)| Policy { limits: l.clone(), state: RiskState::new() }).collect();
        for (i, sc) in cfg.strategies.iter().enumerate() {
            // Paper: the strategy's orders never show in the recorded books, whatever its mode.
            let mut sc = sc.clone();
            sc.mode = polyfleet_core::wire::Mode::Paper;
            let runner = build(&sc, &format!("bt{i}"))?;
            for t in runner.tokens() {
                by_token.entry(t).or_default().push(i);
            }
            for t in sc.traded_tokens() {
                let inst = t.instrument()?;
                instruments.insert(inst.token, inst);
            }
            let sets =
                sc.arb_sets().unwrap_or_default().iter().map(|s| s.legs.iter().map(|l| l.token).collect()).collect();
            let policy = cfg.limits.iter().position(|(ns, n, _)| *ns == sc.namespace && *n == sc.risk_policy);
            slots.push(Slot {
                runner,
                name: sc.name.clone(),
                kind: sc.type_,
                ledger: Ledger::new(),
                policy,
                sets,
                tracker: Tracker::default(),
            });
        }
        let journal = Journal::new(slots.iter().map(|s| s.name.clone()).collect());
        Ok(Engine {
            slots,
            by_token,
            policies,
            band_bps: cfg.liquidity_band_bps,
            books: TokenMap::default(),
            marks: TokenMap::default(),
            paper: PaperEngine::new(),
            instruments,
            working: HashMap::new(),
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            latency_ns: cfg.latency_ns,
            next_timer_ns: 0,
            next_expiry_ns: 0,
            next_sample_ns: 0,
            sample_every_ns: cfg.sample_every_ns.max(1),
            now_ns: 0,
            journal,
            resolved: std::collections::HashSet::new(),
            payouts: TokenMap::default(),
        })
    }

    /// Tokens whose events the strategies need.
    pub fn tokens(&self) -> Vec<TokenId> {
        let mut t: Vec<TokenId> = self.by_token.keys().copied().collect();
        t.sort();
        t
    }

    /// Applies a parameter block to strategy `name` (a GitOps change mid-run, decoded as the
    /// agent decodes the KV document); false when unknown or refused.
    pub fn set_params(&mut self, name: &str, params: &serde_json::Value, generation: u64) -> bool {
        self.slots.iter_mut().find(|s| s.name == name).is_some_and(|s| {
            StrategyParams::decode(s.kind, params.clone()).is_ok_and(|p| s.runner.on_params(&p, generation).is_ok())
        })
    }

    /// A model's fair value published at `at_ns` (event time): to every strategy following its
    /// token, as the strategy agent hands it over; what each made of it is counted.
    pub fn on_signal(&mut self, signal: &FairValue, at_ns: u64) {
        let now = at_ns.max(self.now_ns);
        self.arrive(now);
        self.now_ns = now;
        self.timers(now);
        let followers = self.by_token.get(&signal.token).map_or(0, Vec::len);
        for k in 0..followers {
            let i = self.by_token[&signal.token][k];
            let taken = self.slots[i].runner.on_signal(signal, now);
            let kind = match &taken {
                Ok(_) => "accepted",
                Err(why) => why,
            };
            *self.journal.strategies[i].fair_values.entry(kind.to_string()).or_default() += 1;
            if let Ok(intents) = taken
                && !intents.is_empty()
            {
                self.enqueue(i, intents);
            }
        }
        self.drain();
    }

    /// One market event.
    pub fn on_event(&mut self, ev: &MarketEvent) {
        let now = ev.recv_ts_ns.max(self.now_ns);
        self.arrive(now);
        self.now_ns = now;
        self.journal.events += 1;
        self.timers(now);
        if !self.by_token.contains_key(&ev.token) {
            // No strategy trades it: neither risk nor execution needs its book.
            return;
        }
        if matches!(ev.body, MarketEventBody::Resolved { .. }) {
            self.resolve(ev);
        }
        // The execution side's book first: resting orders fill before strategies react.
        let changed = matches!(ev.body, MarketEventBody::Snapshot { .. } | MarketEventBody::Delta(_));
        let follower = self.books.entry(ev.token).or_default();
        let applied = matches!(follower.on_event(ev), Followed::Applied | Followed::Reset);
        let moved = applied && changed && follower.is_live();
        if moved && self.paper.open_orders() > 0 {
            let events = self.paper.on_book(&ev.token, follower.book(), now);
            self.settle(events);
        } else if let (true, MarketEventBody::Trade { side, price, size, .. }) = (applied, &ev.body)
            && self.paper.open_orders() > 0
        {
            // The venue's flow trades through resting orders (the queue model).
            let complement = polyfleet_core::strategy::complement(&self.instruments, &ev.token);
            let print = polyfleet_core::exec::paper::Print {
                token: ev.token,
                complement,
                side: *side,
                price: *price,
                size: *size,
                ts_ms: ev.venue_ts_ms,
            };
            let events = self.paper.on_print(&print, now);
            self.settle(events);
        }
        if moved && !self.payouts.contains_key(&ev.token) {
            self.track_mid(&ev.token, now);
        }
        let followers = self.by_token.get(&ev.token).map_or(0, Vec::len);
        for k in 0..followers {
            // Indexed rather than iterated: the strategies below need `self` mutably.
            let i = self.by_token[&ev.token][k];
            let out = self.slots[i].runner.on_market(ev, now);
            if !out.intents.is_empty() {
                self.enqueue(i, out.intents);
            }
        }
        self.drain();
        if now >= self.next_sample_ns {
            self.sample();
            self.next_sample_ns = now + self.sample_every_ns;
        }
    }

    /// Ends the run: conditional-token operations in flight carried out, a last equity sample;
    /// the journal. Orders still on their way to the venue when the data ends never arrive; the
    /// journal counts them.
    pub fn finish(mut self) -> Journal {
        // Conditional-token operations need no book: those on their way are carried out (a
        // redemption asked for at the last resolution still happens).
        let pending: Vec<(u64, usize, Intent)> = self.in_flight.drain(..).collect();
        for (due, slot, intent) in pending {
            match intent {
                Intent::Ctf(c) => {
                    self.now_ns = self.now_ns.max(due);
                    self.execute_ctf(slot, &c);
                    self.drain_ctf_only();
                }
                other => self.in_flight.push_back((due, slot, other)),
            }
        }
        self.sample();
        self.journal.open_orders = self.paper.open_orders() as u64;
        self.journal.in_flight += self.in_flight.len() as u64;
        self.journal.latency_ns = self.latency_ns;
        for (i, s) in self.slots.iter().enumerate() {
            let c = &mut self.journal.strategies[i];
            c.realized = s.ledger.realized();
            c.fees = s.ledger.fees();
            c.positions = s.ledger.positions().into_iter().filter(|(_, p)| !p.size.is_zero()).count() as u64;
            c.cash = s.ledger.cash();
            c.rule_events = s.runner.counters().into_iter().map(|(k, n)| (k.to_string(), n)).collect();
            c.scores = s.runner.scores();
            c.drift = s.runner.drift();
            c.analytics = s.tracker.finish(s.runner.earnings(self.now_ns), crate::report::CURVE_POINTS);
        }
        self.journal
    }

    /// A followed token's book moved: its mid to every strategy trading it (attribution, markouts).
    fn track_mid(&mut self, token: &TokenId, now: u64) {
        let Some(mid) = self.books.get(token).and_then(|f| f.book().mid()) else { return };
        for &i in self.by_token.get(token).into_iter().flatten() {
            self.slots[i].tracker.mid(now, *token, mid);
        }
    }

    fn timers(&mut self, now: u64) {
        if now >= self.next_timer_ns {
            self.next_timer_ns = now + STRATEGY_TIMER_NS;
            for i in 0..self.slots.len() {
                let out = self.slots[i].runner.on_timer(now);
                self.enqueue(i, out);
            }
            self.drain();
        }
        if now >= self.next_expiry_ns {
            self.next_expiry_ns = now + EXPIRY_TIMER_NS;
            let events = self.paper.expire(now / 1_000_000_000, now);
            self.settle(events);
            self.drain();
        }
    }

    /// Everything in flight that reaches the venue by `until`, each at its arrival time against
    /// the books as they stand then; what the strategies answer is decided at that time too.
    fn arrive(&mut self, until: u64) {
        while let Some(&(due, _, _)) = self.in_flight.front()
            && due <= until
        {
            let Some((due, slot, intent)) = self.in_flight.pop_front() else { break };
            self.now_ns = self.now_ns.max(due);
            self.send(slot, intent);
            self.drain();
        }
    }

    fn send(&mut self, slot: usize, intent: Intent) {
        match intent {
            Intent::Place(o) => self.execute(slot, o),
            Intent::PlaceSet(legs) => legs.into_iter().for_each(|o| self.execute(slot, o)),
            Intent::Cancel(c) => self.cancel(slot, &c),
            Intent::Ctf(c) => self.execute_ctf(slot, &c),
            // Nothing to execute: which model sized an order is for the journal.
            Intent::Signal(_) => {}
        }
    }

    fn enqueue(&mut self, slot: usize, intents: Vec<Intent>) {
        self.queue.extend(intents.into_iter().map(|i| (slot, i)));
    }

    /// Handles queued intents in waves, as the fleet's pipeline does: the risk gateway decides
    /// every intent of a wave in order, the strategies hear the decisions, then the execution
    /// agent executes the approved orders and the cancels in order and the strategies hear what
    /// happened; whatever they ask for then is the next wave.
    fn drain(&mut self) {
        while !self.queue.is_empty() {
            let wave: Vec<(usize, Intent)> = self.queue.drain(..).collect();
            let mut decisions = vec![];
            let mut work = vec![];
            let mut ctf_decisions = vec![];
            for (slot, intent) in wave {
                let legs = match intent {
                    Intent::Place(o) => vec![o],
                    Intent::PlaceSet(legs) => legs,
                    Intent::Ctf(c) => {
                        let d = self.decide_ctf(slot, c);
                        if d.verdict == Verdict::Approved {
                            work.push((slot, Intent::Ctf(d.intent.clone())));
                        }
                        ctf_decisions.push((slot, d));
                        continue;
                    }
                    Intent::Signal(_) => continue,
                    cancel => {
                        work.push((slot, cancel));
                        continue;
                    }
                };
                for d in self.decide(slot, &legs) {
                    if d.verdict == Verdict::Approved {
                        work.push((slot, Intent::Place(d.intent.clone())));
                    }
                    decisions.push((slot, d));
                }
            }
            for (slot, d) in decisions {
                let out = self.slots[slot].runner.on_decision(&d, self.now_ns);
                self.enqueue(slot, out);
            }
            for (slot, d) in ctf_decisions {
                let out = self.slots[slot].runner.on_ctf_decision(&d, self.now_ns);
                self.enqueue(slot, out);
            }
            for (slot, w) in work {
                if self.latency_ns == 0 {
                    self.send(slot, w);
                } else {
                    self.in_flight.push_back((self.now_ns + self.latency_ns, slot, w));
                }
            }
        }
    }

    /// After the data ended: what the strategies ask for next is decided, and only their
    /// conditional-token operations carried out (orders would need books that no longer move).
    fn drain_ctf_only(&mut self) {
        let latency = std::mem::replace(&mut self.latency_ns, 0);
        let queued: Vec<(usize, Intent)> = self.queue.drain(..).collect();
        let (ctf, rest): (Vec<_>, Vec<_>) = queued.into_iter().partition(|(_, i)| matches!(i, Intent::Ctf(_)));
        self.queue.extend(ctf);
        self.drain();
        self.latency_ns = latency;
        self.journal.in_flight += rest.len() as u64;
    }

    fn cancel(&mut self, slot: usize, c: &polyfleet_core::wire::CancelRequest) {
        self.journal.strategies[slot].cancels += 1;
        let ids: Vec<ClientOrderId> = match c.client_order_id {
            Some(id) => vec![id],
            None => {
                let mut v: Vec<ClientOrderId> =
                    self.working.iter().filter(|(_, (s, _))| *s == slot).map(|(id, _)| *id).collect();
                v.sort();
                v
            }
        };
        for id in ids {
            let events = self.paper.cancel(&id, &c.reason, self.now_ns);
            self.settle(events);
        }
    }

    /// The risk gateway's decision on an order, or on the legs of a set as one (approval
    /// reserves their exposure); one decision per leg.
    fn decide(&mut self, slot: usize, legs: &[OrderIntent]) -> Vec<RiskDecision> {
        let now = self.now_ns;
        let liq: Vec<Option<Money>> =
            legs.iter().map(|o| Some(book_liquidity(&self.books, o, self.band_bps))).collect();
        let verdict = match self.slots[slot].policy {
            None => Err(polyfleet_core::wire::RejectReason::UnknownPolicy),
            Some(p) => {
                let policy = &mut self.policies[p];
                policy.state.check_set(&policy.limits, legs, &liq, now / 1_000_000)
            }
        };
        let counters = &mut self.journal.strategies[slot];
        counters.signals += legs.len() as u64;
        let verdict = match verdict {
            Ok(()) => {
                counters.approved += legs.len() as u64;
                Verdict::Approved
            }
            Err(reason) => {
                *counters.rejections.entry(reason.as_str().to_string()).or_default() += legs.len() as u64;
                Verdict::Rejected { reason, detail: format!("{} limit", reason.as_str()) }
            }
        };
        legs.iter().map(|o| RiskDecision { intent: o.clone(), verdict: verdict.clone(), decided_ts_ns: now }).collect()
    }

    /// The gateway's decision on a conditional-token operation (a split reserves as two
    /// purchases; see [`polyfleet_core::exec::ctf`]).
    fn decide_ctf(&mut self, slot: usize, intent: CtfIntent) -> CtfDecision {
        let now = self.now_ns;
        let verdict = match self.slots[slot].policy {
            None => Err(polyfleet_core::wire::RejectReason::UnknownPolicy),
            Some(p) => {
                let policy = &mut self.policies[p];
                policy.state.check_ctf(&policy.limits, &intent, now / 1_000_000)
            }
        };
        let verdict = match verdict {
            Ok(()) => Verdict::Approved,
            Err(reason) => {
                let c = &mut self.journal.strategies[slot];
                *c.rejections.entry(reason.as_str().to_string()).or_default() += 1;
                c.ctf_failures += 1;
                Verdict::Rejected { reason, detail: polyfleet_core::exec::ctf::refusal_detail(&intent.op, reason) }
            }
        };
        CtfDecision { intent, verdict, decided_ts_ns: now }
    }

    /// The execution agent's part for an approved conditional-token operation: booked in the
    /// strategy's ledger and its policy's risk state, a split's reservations released, and the
    /// report back to the strategy.
    fn execute_ctf(&mut self, slot: usize, intent: &CtfIntent) {
        let now = self.now_ns;
        let s = &mut self.slots[slot];
        let report = match s.ledger.on_ctf(intent.id.as_str(), &intent.op) {
            Ok(Some(booked)) => {
                if let Some(p) = s.policy {
                    let marks = self.risk_marks(slot);
                    let state = &mut self.policies[p].state;
                    state.on_marks(&self.slots[slot].name, &marks, true, now / 1_000_000);
                    state.on_lifecycle(&booked.shares, booked.cost, booked.realized, &[], now / 1_000_000);
                }
                self.slots[slot].tracker.exchange(&booked.shares, booked.cash);
                let c = &mut self.journal.strategies[slot];
                c.lifecycle = c.lifecycle.plus(&LifecycleTotals::of(Booking::Ctf(&intent.op), &booked));
                CtfReport::of(intent, CtfStatus::Done, booked.cash, booked.realized, now)
            }
            Ok(None) => CtfReport::of(intent, CtfStatus::Done, Money::ZERO, Money::ZERO, now),
            Err(e) => {
                self.journal.strategies[slot].ctf_failures += 1;
                CtfReport::failed(intent, e.to_string(), now)
            }
        };
        if let Some(p) = self.slots[slot].policy {
            for id in polyfleet_core::exec::ctf::reservation_ids(intent) {
                self.policies[p].state.release(&id);
            }
        }
        let out = self.slots[slot].runner.on_ctf(&report, now);
        self.enqueue(slot, out);
    }

    /// The execution agent's part: an approved order on the paper engine.
    fn execute(&mut self, slot: usize, o: OrderIntent) {
        let now = self.now_ns;
        let resolved = self.books.get(&o.token).is_some_and(BookFollower::is_resolved);
        // Only a sale can be short of shares: buys skip the walk over the resting orders.
        let short = (o.side == Side::Sell)
            .then(|| {
                let held = self.slots[slot].ledger.position(&o.token).size;
                short_of_shares(&o, held, self.paper.offered(&o.namespace, &o.strategy, &o.token))
            })
            .flatten();
        let events = match (self.instruments.get(&o.token), self.books.get(&o.token).filter(|f| f.is_live())) {
            _ if resolved => vec![refusal(&o, "market resolved", now)],
            _ if let Some(why) = short => vec![refusal(&o, &why, now)],
            (Some(inst), Some(f)) => {
                self.slots[slot].tracker.posted(&o);
                let book = f.book();
                let rules = MarketRules { tick: book.tick(), min_size: inst.min_size, fees: inst.fees };
                self.paper.submit(&o, book, &rules, now)
            }
            _ => vec![refusal(&o, "no live book or market rules for this token", now)],
        };
        self.working.insert(o.client_order_id, (slot, o));
        self.settle(events);
    }

    /// Books and commits what the paper engine reported, and tells the strategy.
    fn settle(&mut self, events: Vec<ExecEvent>) {
        let now = self.now_ns;
        for e in events {
            let id = match &e {
                ExecEvent::Update(u) => u.client_order_id,
                ExecEvent::Fill(f) => f.client_order_id,
            };
            let Some((slot, intent)) = self.working.get(&id).cloned() else { continue };
            let out = match &e {
                ExecEvent::Fill(f) => {
                    self.book_fill(slot, &intent, f);
                    self.slots[slot].runner.on_fill(f, now)
                }
                ExecEvent::Update(u) => {
                    *self.journal.strategies[slot]
                        .orders
                        .entry(format!("{:?}", u.status).to_lowercase())
                        .or_default() += 1;
                    if u.status.is_terminal() {
                        self.working.remove(&id);
                        if let Some(p) = self.slots[slot].policy {
                            self.policies[p].state.release(&id);
                        }
                    }
                    self.slots[slot].runner.on_order(u, now)
                }
            };
            self.enqueue(slot, out);
        }
    }

    /// The execution agent's part at a market's resolution (once per market): orders still
    /// working in it are cancelled, and every strategy's position in it is settled at the payout,
    /// in its ledger and its policy's risk state.
    fn resolve(&mut self, ev: &MarketEvent) {
        let tokens = polyfleet_core::strategy::market_tokens(&self.instruments, &ev.market);
        let Some(res) = Resolution::from_event(ev, &tokens) else { return };
        if !self.resolved.insert(ev.market) {
            return;
        }
        // From now on the tokens are worth their payout, whatever their last book said.
        for (t, payout) in &res.payouts {
            self.payouts.insert(*t, *payout);
            self.marks.insert(*t, *payout);
            // The mid jumps to the payout: what was held earns or loses it as inventory.
            for s in &mut self.slots {
                s.tracker.mid(self.now_ns, *t, *payout);
            }
        }
        let now = self.now_ns;
        let mut open: Vec<(ClientOrderId, usize)> =
            self.working.iter().filter(|(_, (_, o))| o.market == ev.market).map(|(id, (s, _))| (*id, *s)).collect();
        open.sort();
        for (id, slot) in open {
            self.journal.strategies[slot].resolved_cancels += 1;
            let events = self.paper.cancel(&id, "market resolved", now);
            self.settle(events);
        }
        for slot in 0..self.slots.len() {
            let s = &mut self.slots[slot];
            let Ok(Some(booked)) = s.ledger.settle(&res) else { continue };
            if booked.positions.is_empty() {
                continue;
            }
            s.tracker.exchange(&booked.shares, booked.cash);
            if let Some(p) = s.policy {
                let marks = self.risk_marks(slot);
                let state = &mut self.policies[p].state;
                state.on_marks(&self.slots[slot].name, &marks, true, now / 1_000_000);
                state.on_lifecycle(&booked.shares, booked.cost, booked.realized, &[], now / 1_000_000);
            }
            let c = &mut self.journal.strategies[slot];
            c.lifecycle = c.lifecycle.plus(&LifecycleTotals::of(Booking::Settlement(&res), &booked));
        }
    }

    fn book_fill(&mut self, slot: usize, intent: &OrderIntent, f: &Fill) {
        let now = self.now_ns;
        let s = &mut self.slots[slot];
        let Ok(b) = s.ledger.book(f) else {
            self.journal.unbooked_fills += 1;
            return;
        };
        // Spread capture is measured against the mid before the event that filled the order (a
        // book that moved through a quote has its new mid already): the tracker's last one.
        s.tracker.fill(now, f);
        if let Some(p) = s.policy {
            let marks = self.risk_marks(slot);
            let policy = &mut self.policies[p];
            policy.state.on_marks(&self.slots[slot].name, &marks, true, now / 1_000_000);
            policy.state.on_fill(&intent.client_order_id, f.side, f.size, b.cost, f.token);
            let round = intent.round_trip();
            let sell = (f.side == Side::Sell).then_some(&round);
            policy.state.on_realized(policy.limits.circuit_breaker, b.realized, sell, now / 1_000_000);
        }
        self.journal.fills.push(FillRecord {
            ts_ns: now,
            strategy: slot,
            token: f.token,
            side: f.side,
            price: f.price,
            size: f.size,
            fee: f.fee,
            maker: f.liquidity == polyfleet_core::wire::Liquidity::Maker,
        });
    }

    /// A strategy's unrealized PnL per token at the execution agent's conservative marks (see
    /// [`polyfleet_core::accounting::mark`]), for its policy's mark-to-market daily loss,
    /// equity and drawdown: a settled token at its payout, complete sets at 1 USDC, the rest at
    /// what selling into the live book would pay, nothing without a live book.
    fn risk_marks(&self, slot: usize) -> Vec<(TokenId, Money)> {
        let quote = |t: &TokenId| match (self.payouts.get(t), self.books.get(t).filter(|f| f.is_live())) {
            (Some(payout), _) => Quote::Settled(*payout),
            (None, Some(f)) => Quote::Book(f.book()),
            (None, None) => Quote::Unknown,
        };
        let complement = |t: &TokenId| polyfleet_core::strategy::complement(&self.instruments, t);
        mark::unrealized(&self.slots[slot].ledger.positions(), quote, complement)
    }

    fn equity(&self, s: &Slot) -> (Money, Money) {
        let mark = |t: &TokenId| self.marks.get(t).copied();
        crate::valuation::equity(&s.ledger.positions(), s.ledger.realized(), &s.sets, mark)
    }

    fn sample(&mut self) {
        // Marks: the best bid where the book is live; the last one known while it is not (a
        // book awaiting its snapshot after a tick change is not worth nothing).
        for t in self.by_token.keys() {
            if self.payouts.contains_key(t) {
                continue;
            }
            let Some(book) = self.books.get(t).filter(|f| f.is_live()).map(BookFollower::book) else { continue };
            if let Some(bid) = book.best_bid() {
                self.marks.insert(*t, bid.price);
            }
            if let Some(mid) = book.mid() {
                self.journal.price(self.now_ns, *t, mid);
            }
        }
        // The policies' periodic marks, as the execution agent writes them: their trip rules run.
        for slot in 0..self.slots.len() {
            let Some(p) = self.slots[slot].policy else { continue };
            let marks = self.risk_marks(slot);
            let policy = &mut self.policies[p];
            policy.state.revalue(Some(&policy.limits), &self.slots[slot].name, &marks, self.now_ns / 1_000_000);
        }
        for s in &mut self.slots {
            s.tracker.sample(self.now_ns);
        }
        let mut total = Money::ZERO;
        let mut exposure = Money::ZERO;
        let mut per = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            let (e, c) = self.equity(s);
            total = total.checked_add(e).unwrap_or(total);
            exposure = exposure.checked_add(c).unwrap_or(exposure);
            per.push(e);
        }
        self.journal.sample(self.now_ns, total, exposure, per);
    }
}

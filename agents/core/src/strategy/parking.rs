//! The turns of a time-slot experiment arm, as its runner obeys them (issue 24): off its turn
//! ([`SlotSchedule::trades_at`]) the arm is **parked**. When a turn ends the runner cancels every
//! order of the arm still open, and while parked it refuses every order the strategy asks for
//! (the strategy hears a rejection, [`RejectReason::ExperimentParked`], as it hears the risk
//! gateway's, so its own state stays true); cancels and conditional-token operations (redeeming
//! what a resolution paid, merging sets) go through. Holdings stay, and keep being marked. An
//! order that shows up resting while parked (its cancel overtook it) is cancelled again.
//!
//! The strategy itself goes on seeing every event, so its estimators keep learning while it
//! waits; at the start of its turn it quotes or trades from where the market is. Sans-IO: the
//! turn is read from the time each input carries.
//!
//! [`RejectReason::ExperimentParked`]: crate::wire::RejectReason::ExperimentParked

use std::collections::BTreeMap;

use crate::analytics::experiment::SlotSchedule;
use crate::ids::ClientOrderId;
use crate::wire::{OrderUpdate, RiskDecision, Verdict};

/// An order id open longer than this (a day) is forgotten: an update lost on the way must not
/// keep it for ever.
const FORGET_NS: u64 = 86_400 * 1_000_000_000;

/// A parked arm's state: its turns, the orders it has open, and what it did.
#[derive(Debug, Clone)]
pub struct Parking {
    schedule: SlotSchedule,
    parked: Option<bool>,
    /// The slot of the last look and whether it was the arm's turn (the turn is hashed once a
    /// slot, not at every input).
    turn: Option<(i64, bool)>,
    open: BTreeMap<ClientOrderId, u64>,
    refused: u64,
    turns_ended: u64,
    cancelled: u64,
}

impl Parking {
    /// An arm taking its turns as `schedule` says.
    pub fn new(schedule: SlotSchedule) -> Parking {
        Parking { schedule, parked: None, turn: None, open: BTreeMap::new(), refused: 0, turns_ended: 0, cancelled: 0 }
    }

    /// The schedule.
    pub fn schedule(&self) -> &SlotSchedule {
        &self.schedule
    }

    /// Whether the arm is parked at `now_ns`, and the orders to cancel because its turn just ended
    /// (every order still open; none otherwise).
    pub fn look(&mut self, now_ns: u64) -> (bool, Vec<ClientOrderId>) {
        let slot = self.schedule.slot(now_ns);
        let trades = match self.turn {
            Some((s, trades)) if s == slot => trades,
            _ => self.schedule.trades_at(now_ns),
        };
        self.turn = Some((slot, trades));
        let parked = !trades;
        let was = self.parked.replace(parked);
        if !parked || was == Some(true) {
            return (parked, vec![]);
        }
        if was == Some(false) {
            self.turns_ended += 1;
        }
        self.open.retain(|_, at| now_ns.saturating_sub(*at) < FORGET_NS);
        let ids: Vec<ClientOrderId> = self.open.keys().copied().collect();
        self.cancelled += ids.len() as u64;
        (true, ids)
    }

    /// Whether the arm was parked at the last look.
    pub fn parked(&self) -> bool {
        self.parked == Some(true)
    }

    /// An order the runner let through.
    pub fn placed(&mut self, id: ClientOrderId, now_ns: u64) {
        self.open.insert(id, now_ns);
    }

    /// Orders the runner refused.
    pub fn refused(&mut self, n: usize) {
        self.refused += n as u64;
    }

    /// The gateway's decision: a refused order is not open.
    pub fn decided(&mut self, d: &RiskDecision) {
        if matches!(d.verdict, Verdict::Rejected { .. }) {
            self.open.remove(&d.intent.client_order_id);
        }
    }

    /// An order update: an order over is forgotten. True when the order is open (still working):
    /// while parked it is to be cancelled again.
    pub fn updated(&mut self, u: &OrderUpdate) -> bool {
        if u.status.is_terminal() {
            self.open.remove(&u.client_order_id);
            return false;
        }
        self.open.contains_key(&u.client_order_id)
    }

    /// An open order was found working while parked and is cancelled again.
    pub fn cancelled_again(&mut self) {
        self.cancelled += 1;
    }

    /// What the parking did, as cumulative counts by kind (the strategy's counters carry them).
    pub fn counters(&self) -> [(&'static str, u64); 3] {
        [
            ("experiment_parked_refusals", self.refused),
            ("experiment_turns_ended", self.turns_ended),
            ("experiment_parked_cancels", self.cancelled),
        ]
    }
}

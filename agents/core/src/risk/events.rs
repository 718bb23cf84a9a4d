//! The outcome structure of the tokens a policy has traded and the least its positions pay at
//! resolution, kept current as positions change: the risk gateway's worst-case loss is the
//! policy's exposure (what the positions and open buys cost) minus this floor.
//!
//! Each token is either in an event ([`crate::wire::Outcome`], recorded at its first approved
//! order; the first record stands) or settled at a known payout (its market resolved). An event's
//! floor is the exact least payout of its positions over every allowed resolution
//! ([`super::worst_case`]); a settled token's is its payout times the shares, rounded down. A
//! token never described pays nothing: the floor errs low, so the loss errs high, never low.
//! Positions counted include open buys as if filled (the order's effect included), like the
//! position limit. The Redis scripts keep the same numbers (`lua/common.lua`, `event_floor`).

use std::collections::HashMap;

use super::worst_case::{EventPositions, Holding, worst_case};
use crate::ids::{TokenId, TokenMap};
use crate::money::{Money, Price, Quantity, Rounding};
use crate::wire::Outcome;

/// Where a recorded token's floor comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// Market `index` of `event`, its YES (`yes`) or NO token.
    Event { event: String, index: u16, yes: bool },
    /// Resolved: each share pays `payout`; `event` is the event it was in (its exposure stays
    /// counted there until redeemed).
    Settled { payout: Price, event: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    markets: u16,
    exhaustive: bool,
    tokens: Vec<TokenId>,
    floor: Money,
    /// The exposure groups recorded with the event (at its first approved order).
    groups: Vec<String>,
}

/// What [`EventBook::register`] recorded, to be undone when the order is refused.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Registered {
    tokens: Vec<TokenId>,
    events: Vec<String>,
}

/// The policy's event structure and floors.
#[derive(Debug, Default, Clone)]
pub struct EventBook {
    places: TokenMap<Place>,
    events: HashMap<String, Event>,
    /// Floors of settled tokens.
    settled: TokenMap<Money>,
    /// The sum of every event's and settled token's floor.
    floor: Money,
}

fn held(positions: &TokenMap<Quantity>, t: &TokenId) -> Quantity {
    positions.get(t).copied().unwrap_or(Quantity::ZERO)
}

impl EventBook {
    /// The least the positions pay at resolution, summed over independent events.
    pub fn floor(&self) -> Money {
        self.floor
    }

    /// The event `token` belongs to (`None`: not described, or settled).
    pub fn event_of(&self, token: &TokenId) -> Option<&str> {
        match self.places.get(token)? {
            Place::Event { event, .. } => Some(event),
            Place::Settled { .. } => None,
        }
    }

    /// The event whose exposure `token`'s cost counts in: its event, also once settled (`None`:
    /// never described).
    pub fn exposure_event(&self, token: &TokenId) -> Option<&str> {
        match self.places.get(token)? {
            Place::Event { event, .. } => Some(event),
            Place::Settled { event, .. } => event.as_deref(),
        }
    }

    /// The exposure groups of `event` (none when unknown).
    pub fn groups(&self, event: &str) -> &[String] {
        self.events.get(event).map_or(&[], |e| e.groups.as_slice())
    }

    /// Records `token`'s place unless it has one (the first record stands; an event keeps the
    /// market count and exhaustiveness it was first recorded with). Floors are not recomputed:
    /// call [`EventBook::refloor`] for the token's event.
    pub fn register(&mut self, token: TokenId, outcome: &Outcome, done: &mut Registered) {
        if self.places.contains_key(&token) {
            return;
        }
        let event = self.events.entry(outcome.event.clone()).or_insert_with(|| {
            done.events.push(outcome.event.clone());
            Event {
                markets: outcome.markets,
                exhaustive: outcome.exhaustive,
                tokens: vec![],
                floor: Money::ZERO,
                groups: outcome.groups.clone(),
            }
        });
        event.tokens.push(token);
        self.places
            .insert(token, Place::Event { event: outcome.event.clone(), index: outcome.index, yes: outcome.yes });
        done.tokens.push(token);
    }

    /// Forgets what `done` recorded (events last, once their tokens are gone) and recomputes
    /// the floors it touched.
    pub fn unregister(&mut self, done: &Registered, positions: &TokenMap<Quantity>) {
        let mut touched: Vec<String> = vec![];
        for t in done.tokens.iter().rev() {
            if let Some(Place::Event { event, .. }) = self.places.remove(t) {
                if let Some(e) = self.events.get_mut(&event) {
                    e.tokens.retain(|x| x != t);
                }
                if !touched.contains(&event) {
                    touched.push(event);
                }
            }
        }
        for e in &touched {
            self.refloor_event(e, positions);
        }
        for e in &done.events {
            if let Some(gone) = self.events.remove(e) {
                self.floor = self.floor.checked_sub(gone.floor).unwrap_or(self.floor);
            }
        }
    }

    /// Recomputes the floor of `token`'s event (or settled payout) from `positions`.
    pub fn refloor(&mut self, token: &TokenId, positions: &TokenMap<Quantity>) {
        match self.places.get(token) {
            Some(Place::Event { event, .. }) => {
                // Disjoint fields: the place's key borrowed while its event's floor is rewritten.
                let Some(e) = self.events.get_mut(event.as_str()) else { return };
                let f = event_floor(&self.places, e, positions);
                let old = std::mem::replace(&mut e.floor, f);
                self.shift(old, f);
            }
            Some(Place::Settled { payout, .. }) => {
                let f = payout.notional(held(positions, token), Rounding::Down).unwrap_or(Money::ZERO);
                let old = self.settled.insert(*token, f).unwrap_or(Money::ZERO);
                self.shift(old, f);
            }
            None => {}
        }
    }

    /// Recomputes one event's floor.
    pub fn refloor_event(&mut self, event: &str, positions: &TokenMap<Quantity>) {
        let Some(e) = self.events.get_mut(event) else { return };
        let f = event_floor(&self.places, e, positions);
        let old = std::mem::replace(&mut e.floor, f);
        self.shift(old, f);
    }

    /// `token`'s market resolved paying `payout` a share: it leaves its event (whose floor is
    /// recomputed) and counts at that payout from now on.
    pub fn settle(&mut self, token: TokenId, payout: Price, positions: &TokenMap<Quantity>) {
        let event = self.exposure_event(&token).map(str::to_string);
        let before = self.places.insert(token, Place::Settled { payout, event });
        if let Some(Place::Event { event, .. }) = before {
            if let Some(e) = self.events.get_mut(&event) {
                e.tokens.retain(|x| *x != token);
            }
            self.refloor_event(&event, positions);
        }
        self.refloor(&token, positions);
    }

    fn shift(&mut self, old: Money, new: Money) {
        self.floor = self.floor.checked_sub(old).and_then(|f| f.checked_add(new)).unwrap_or(self.floor);
    }
}

/// The least an event's positions pay (`places` says where each of its tokens sits).
fn event_floor(places: &TokenMap<Place>, e: &Event, positions: &TokenMap<Quantity>) -> Money {
    let mut markets = vec![Holding::default(); usize::from(e.markets)];
    for t in &e.tokens {
        let Some(Place::Event { index, yes, .. }) = places.get(t) else { continue };
        let Some(h) = markets.get_mut(usize::from(*index)) else { continue };
        let side = if *yes { &mut h.yes } else { &mut h.no };
        *side = side.saturating_add(held(positions, t));
    }
    let positions = EventPositions { markets, none_may_win: !e.exhaustive, cost: Money::ZERO };
    worst_case(&positions).map_or(Money::ZERO, |w| w.payout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(n: u64) -> TokenId {
        TokenId::parse(&n.to_string()).unwrap()
    }

    fn q(shares: u64) -> Quantity {
        Quantity::from_micros(shares * Quantity::SCALE)
    }

    fn usdc(x: i64) -> Money {
        Money::from_micros(x * Money::SCALE)
    }

    fn neg_risk(index: u16) -> Outcome {
        Outcome { event: "event:e".into(), index, yes: true, markets: 3, exhaustive: true, groups: vec![] }
    }

    #[test]
    fn a_complete_neg_risk_set_pays_one_and_an_incomplete_one_nothing() {
        let mut book = EventBook::default();
        let mut pos = TokenMap::default();
        let mut done = Registered::default();
        for i in 0..2u16 {
            book.register(tok(u64::from(i) + 1), &neg_risk(i), &mut done);
            pos.insert(tok(u64::from(i) + 1), q(10));
        }
        book.refloor_event("event:e", &pos);
        assert_eq!(book.floor(), Money::ZERO, "the third outcome pays nothing");
        book.register(tok(3), &neg_risk(2), &mut done);
        pos.insert(tok(3), q(10));
        book.refloor(&tok(3), &pos);
        assert_eq!(book.floor(), usdc(10));
        // Undone: back to nothing recorded.
        book.unregister(&done, &pos);
        assert_eq!((book.floor(), book.event_of(&tok(1))), (Money::ZERO, None));
    }

    #[test]
    fn a_settled_winner_counts_at_its_payout() {
        let mut book = EventBook::default();
        let mut pos = TokenMap::default();
        let mut done = Registered::default();
        let market = crate::ids::ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap();
        book.register(tok(1), &Outcome::binary(&market, true), &mut done);
        pos.insert(tok(1), q(7));
        book.refloor(&tok(1), &pos);
        assert_eq!(book.floor(), Money::ZERO, "a bare YES may pay nothing");
        book.settle(tok(1), Price::ONE, &pos);
        assert_eq!(book.floor(), usdc(7));
        pos.insert(tok(1), q(2));
        book.refloor(&tok(1), &pos);
        assert_eq!(book.floor(), usdc(2), "redeemed in part");
    }
}

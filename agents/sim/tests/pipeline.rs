//! The market-data path without I/O: simulator frames -> Normalizer (books, seq, hash checks)
//! -> wire encoding -> BookFollower on the consumer side. Followers end equal to the simulator's
//! truth, through a lost connection (frames missed, then fresh snapshots) and through events lost
//! between publisher and subscriber (a gap, repaired by a snapshot request).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::HashMap;

use polyfleet_core::TokenId;
use polyfleet_core::wire::{MarketEvent, decode, encode};
use polyfleet_polymarket::data::normalize::{Action, BookFollower, Followed, Normalizer};
use polyfleet_sim::{SimConfig, Simulator};

fn deliver(
    actions: Vec<Action>,
    followers: &mut HashMap<TokenId, BookFollower>,
    drop_every: Option<usize>,
    gaps: &mut Vec<TokenId>,
) {
    for (i, a) in actions.into_iter().enumerate() {
        let Action::Publish(ev) = a else { panic!("unexpected {a:?}") };
        if drop_every.is_some_and(|n| i % n == 0) {
            continue;
        }
        let ev: MarketEvent = decode(&encode(&ev)).unwrap();
        if let Followed::Gap { .. } = followers.entry(ev.token).or_default().on_event(&ev) {
            gaps.push(ev.token);
        }
    }
}

#[test]
fn followers_track_the_simulator_through_disconnects_and_gaps() {
    let mut sim = Simulator::new(SimConfig { binary_markets: 2, neg_risk_events: vec![3], ..SimConfig::default() });
    let tokens: Vec<TokenId> = sim.markets().iter().flat_map(|m| [m.yes, m.no]).collect();
    let mut norm = Normalizer::new(tokens.iter().copied());
    let mut followers: HashMap<TokenId, BookFollower> = HashMap::new();
    let mut gaps = vec![];
    let subscribe = |sim: &Simulator, norm: &mut Normalizer| {
        let mut out = vec![];
        for t in &tokens {
            norm.on_frame(sim.snapshot_frame(t).unwrap().as_bytes(), 1, &mut out);
        }
        out
    };
    let out = subscribe(&sim, &mut norm);
    deliver(out, &mut followers, None, &mut gaps);
    assert!(norm.all_live());
    for round in 0..3 {
        for _ in 0..2_000 {
            let mut out = vec![];
            for f in sim.step() {
                norm.on_frame(f.text.as_bytes(), 2, &mut out);
            }
            // Round 1 loses some published events on the way to the subscriber.
            deliver(out, &mut followers, (round == 1).then_some(3), &mut gaps);
        }
        // Repair gaps as a subscriber would: one snapshot request per token.
        gaps.sort();
        gaps.dedup();
        for t in gaps.drain(..) {
            let snap = norm.snapshot(&t, 3).unwrap();
            assert!(matches!(followers.get_mut(&t).unwrap().on_event(&snap), Followed::Reset));
        }
        // Round 0 ends with a dropped connection: frames are missed, then a resubscribe.
        if round == 0 {
            let mut out = vec![];
            norm.on_disconnected(&tokens, 4, &mut out);
            deliver(out, &mut followers, None, &mut gaps);
            assert!(followers.values().all(|f| !f.is_live()));
            for _ in 0..500 {
                sim.step();
            }
            let out = subscribe(&sim, &mut norm);
            deliver(out, &mut followers, None, &mut gaps);
        }
        for t in &tokens {
            let f = &followers[t];
            assert!(f.is_live(), "round {round}: {t} not live");
            assert_eq!(f.book(), &sim.book(t).unwrap(), "round {round}: book of {t}");
        }
    }
    assert_eq!(norm.stats().hash_mismatches, 0, "{:?}", norm.stats());
    assert!(norm.stats().hash_checks > 3_000, "{:?}", norm.stats());
    assert!(followers.values().map(|f| f.gaps).sum::<u64>() > 0, "round 1 must have produced gaps");
}

/// A venue whose summary format this code cannot reproduce (the snapshot's own hash does not
/// match) must not cause a resync per delta: its deltas are simply not hash-checked.
#[test]
fn an_unreproducible_venue_hash_disables_delta_checks_instead_of_resyncing() {
    let mut sim = Simulator::new(SimConfig::default());
    let t = sim.markets()[0].yes;
    let mut norm = Normalizer::new([t]);
    let mut out = vec![];
    let snapshot = sim.snapshot_frame(&t).unwrap();
    let hash_at = snapshot.find("\"hash\":\"").unwrap() + 8;
    let mut foreign = snapshot.clone();
    foreign.replace_range(hash_at..hash_at + 40, &"f".repeat(40));
    norm.on_frame(foreign.as_bytes(), 1, &mut out);
    for _ in 0..500 {
        for f in sim.step() {
            norm.on_frame(f.text.as_bytes(), 2, &mut out);
        }
    }
    assert_eq!(norm.stats().unverifiable_snapshots, 1);
    assert_eq!(norm.stats().hash_checks, 0);
    assert!(!out.iter().any(|a| matches!(a, Action::Resync(_))), "no resync storm");
    // A snapshot whose hash matches turns the checks back on.
    norm.on_frame(sim.snapshot_frame(&t).unwrap().as_bytes(), 3, &mut out);
    for _ in 0..500 {
        for f in sim.step() {
            norm.on_frame(f.text.as_bytes(), 4, &mut out);
        }
    }
    assert!(norm.stats().hash_checks > 0);
    assert_eq!(norm.stats().hash_mismatches, 0);
    assert_eq!(norm.book(&t), sim.book(&t).as_ref());
}

//! Fuzzing the market-channel decoder: millions of inputs, none may panic, and every frame is
//! accounted for. Inputs are real fixture frames mutated (bit flips, byte overwrites with JSON
//! punctuation, truncation, splicing two frames, duplication into arrays) plus raw random bytes,
//! from a seeded generator so a failure reproduces.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::path::PathBuf;

use polyfleet_polymarket::{Decoder, MarketMessage};

/// xorshift64*: small, seeded, good enough to drive mutations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/polymarket");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap().to_str().unwrap().starts_with("ws_") || p.ends_with("clob_book_response.json")
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(out.len() > 10);
    out.sort();
    out
}

const PUNCT: &[u8] = b"{}[]\":,\\ 0.-9eE\x00\xff";

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut f = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            0 if !f.is_empty() => {
                let i = rng.below(f.len());
                f[i] ^= 1 << rng.below(8);
            }
            1 if !f.is_empty() => {
                let i = rng.below(f.len());
                f[i] = PUNCT[rng.below(PUNCT.len())];
            }
            2 => f.truncate(rng.below(f.len() + 1)),
            3 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(f.len() + 1);
                let from = rng.below(other.len() + 1);
                f.truncate(cut);
                f.extend_from_slice(&other[from..]);
            }
            4 => {
                let copy = f.clone();
                f = [b"[".as_slice(), &copy, b",", &copy, b"]"].concat();
            }
            5 if !f.is_empty() => {
                let i = rng.below(f.len());
                let n = rng.below(8);
                f.splice(i..i, std::iter::repeat_n(PUNCT[rng.below(PUNCT.len())], n));
            }
            _ => {
                let n = rng.below(64);
                f = (0..n).map(|_| rng.next().to_le_bytes()[0]).collect();
            }
        }
    }
    f
}

#[test]
fn two_million_mutated_frames_never_panic_and_are_all_accounted() {
    let seeds = seeds();
    let mut rng = Rng(0x5EED_F00D_CAFE_BEEF);
    let mut d = Decoder::new();
    let n: u64 = std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
    let mut events = 0u64;
    for _ in 0..n {
        let frame = mutate(&mut rng, &seeds);
        d.decode(&frame, |m| {
            // Touch every decoded value so a lazily wrong slice would show.
            if let MarketMessage::PriceChange { changes, frame, .. } = m {
                for c in changes.iter() {
                    let _ = c.hash(frame);
                }
            }
            events += 1;
        });
    }
    let st = d.stats();
    assert_eq!(st.frames, n);
    assert_eq!(st.events.iter().sum::<u64>(), events);
    // The mutations must exercise both outcomes.
    assert!(events > n / 20, "too few valid events: {st:?}");
    assert!(st.malformed_frame > n / 10 && st.invalid_event > 0, "too few errors: {st:?}");
    eprintln!("fuzz: {n} frames, {events} events, {st:?}");
}

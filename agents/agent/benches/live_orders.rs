//! Live-order benchmark (custom harness: `cargo bench -p polyfleet-agent --bench live_orders`).
//!
//! The live executor's venue client against the venue simulator's order API on loopback:
//! 1. building an order with the official SDK (tick and neg-risk answers cached after the first
//!    order), making it deterministic and computing its EIP-712 id, then signing it: per order;
//! 2. posting signed orders one at a time (L2 HMAC headers, the simulator's signature check,
//!    matching, the reply): the round trip per order;
//! 3. posting them in batches of 15.
//!
//! Each prints the count, the rate and the p50 / p99 / max latencies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use polyfleet_agent::metrics::OrderPathMetrics;
use polyfleet_core::wire::{Mode, OrderIntent, TimeInForce};
use polyfleet_core::{ClientOrderId, Price, Quantity, Side};
use polyfleet_polymarket::common::LiveCredentials;
use polyfleet_polymarket::common::credentials::PRIVATE_KEY_VAR;
use polyfleet_polymarket::http::VenueLimits;
use polyfleet_polymarket::http::clob::Venue;
use polyfleet_sim::model::SimConfig;

const KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

fn report(what: &str, mut lat: Vec<Duration>, total: Duration) {
    lat.sort();
    // Percentile p (in percent), nearest rank.
    let q = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
    println!(
        "{what}: {} orders, {:.0}/s, p50 {:?}, p99 {:?}, max {:?}",
        lat.len(),
        lat.len() as f64 / total.as_secs_f64(),
        q(50),
        q(99),
        lat[lat.len() - 1]
    );
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let sim = polyfleet_sim::server::serve(
            SimConfig { binary_markets: 1, ..SimConfig::default() },
            "127.0.0.1:0".parse().unwrap(),
            0,
        )
        .await
        .unwrap();
        let (market, token) = sim.with_model(|m| (m.markets()[0].condition, m.markets()[0].yes)).await.unwrap();
        let (book, _) = sim.truth(&token).await.unwrap();
        let low = Price::from_ticks(book.best_bid().unwrap().price.ticks() - 10 * book.tick().ticks()).unwrap();
        let creds = LiveCredentials::from_lookup(|k| (k == PRIVATE_KEY_VAR).then(|| KEY.to_string())).unwrap();
        let limits = VenueLimits { orders_per_second: 100_000, orders_burst: 100_000, ..VenueLimits::default() };
        let venue = Venue::connect(
            &sim.http_url(),
            Arc::new(creds),
            limits,
            OrderPathMetrics::new("bench"),
            polyfleet_agent::time::now_ns,
        )
        .await
        .unwrap();
        let intent = |i: usize| OrderIntent {
            client_order_id: ClientOrderId::new(&format!("bench-{i}")).unwrap(),
            group: None,
            namespace: "ns".into(),
            strategy: "bench".into(),
            risk_policy: "rp".into(),
            venue: "sim".into(),
            market,
            token,
            side: Side::Buy,
            price: low,
            size: Quantity::from_shares(5).unwrap(),
            tif: TimeInForce::Gtc,
            post_only: true,
            mode: Mode::Live,
            cause_seq: 0,
            cause_recv_ts_ns: 0,
            created_ts_ns: 1_795_000_000_000_000_000 + i as u64,
            outcome: None,
            kelly: None,
        };
        venue.build(&intent(0)).await.unwrap(); // warms the SDK's caches
        let n = 2_000;
        let (mut lat, mut built) = (vec![], vec![]);
        let start = Instant::now();
        for i in 1..=n {
            let t = Instant::now();
            let b = venue.build(&intent(i)).await.unwrap();
            venue.sign(&b).await.unwrap();
            lat.push(t.elapsed());
            built.push(b);
        }
        report("build + sign", lat, start.elapsed());

        let (mut lat, start) = (vec![], Instant::now());
        for b in &built[..1_000] {
            let t = Instant::now();
            venue.post(b).await.unwrap();
            lat.push(t.elapsed());
        }
        report("post one at a time (sign, HMAC, simulator check and match, reply)", lat, start.elapsed());

        let (mut lat, start) = (vec![], Instant::now());
        for chunk in built[1_000..].chunks(15) {
            let t = Instant::now();
            let replies = venue.post_batch(chunk).await;
            assert!(replies.iter().all(Result::is_ok));
            lat.extend(std::iter::repeat_n(t.elapsed() / u32::try_from(chunk.len()).unwrap(), chunk.len()));
        }
        report("post in batches of 15 (latency per order = batch time / 15)", lat, start.elapsed());
    });
}

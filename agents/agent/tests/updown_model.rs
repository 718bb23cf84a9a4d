//! The built-in crypto up/down model as Kubernetes would run it: the `polyfleet-agent updown-model`
//! binary against the simulator's RTDS stream and Gamma API and a real NATS server. The simulator
//! runs its clock 20 times faster than the wall's, so 5-minute rounds pass in 15 seconds.
//!
//! It shows: the round running when the model starts (whose strike it never saw) is not priced
//! and is counted so; the next rounds are found by slug and priced from their start; the Up and Down
//! signals are valid version-1 documents summing to one; the last signal of each round agrees with
//! how the simulator resolved it from its TWAP; a dropped stream is reconnected and publishing goes on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use polyfleet_core::TokenId;
use polyfleet_core::wire::signal::{FairValue, PPM, subject_all};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_sim::{SimConfig, Simulator, server};
use polyfleet_testkit::{NatsServer, free_port, metric_value};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A round of the simulator: its market, Up and Down tokens, window end (Unix s).
#[derive(Debug, Clone)]
struct SimRound {
    index: usize,
    up: TokenId,
    down: TokenId,
    end_s: u64,
}

async fn rounds(sim: &server::SimHandle) -> Vec<SimRound> {
    sim.with_model(|m| {
        m.markets()
            .iter()
            .enumerate()
            .filter_map(|(index, k)| Some(SimRound { index, up: k.yes, down: k.no, end_s: k.round.as_ref()?.end_s }))
            .collect()
    })
    .await
    .unwrap()
}

async fn metrics(port: u16) -> String {
    match reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_prices_rolling_rounds_from_the_stream() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let nats = NatsServer::start();
    // 120 simulated seconds (6 s of wall time, for the agent to start) before a 5-minute
    // boundary; 100 steps a second of 200 ms each: 20x the wall clock.
    let start_ms = 1_767_225_600_000 + 3_000_000 - 120_000;
    let mut model = Simulator::new(SimConfig {
        binary_markets: 0,
        neg_risk_events: vec![],
        start_ms,
        step_ms: 200,
        ..SimConfig::default()
    });
    assert!(model.declare_series("btc", "5m"));
    let sim = server::serve_source(Box::new(model), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 100).await.unwrap();

    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let mut signals = bus.subscribe(&subject_all("sim")).await.unwrap();
    let seen: Arc<Mutex<Vec<FairValue>>> = Arc::default();
    let malformed = Arc::new(Mutex::new(0u32));
    {
        let (seen, malformed) = (seen.clone(), malformed.clone());
        tokio::spawn(async move {
            while let Some(m) = signals.next().await {
                let doc: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                let at = doc["publishedMs"].as_u64().unwrap_or(0);
                match FairValue::decode(&m.payload, at, None) {
                    Ok(fv) => {
                        assert_eq!(m.subject, format!("signal.sim.{}", fv.token));
                        seen.lock().unwrap().push(fv);
                    }
                    Err(_) => *malformed.lock().unwrap() += 1,
                }
            }
        });
    }
    let port = free_port();
    let _agent = Killed(
        Command::new(env!("CARGO_BIN_EXE_polyfleet-agent"))
            .args(["updown-model", "--venue", "sim", "--coin", "btc", "--period", "5m"])
            .args(["--gamma-url", &sim.http_url(), "--rtds-url", &sim.rtds_url(), "--nats", &nats.url])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}"), "--model", "btc-5m", "--model-version", "t1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // The two rounds after the running one end 5 and 10 minutes after it: about 36 s of wall time.
    let deadline = Instant::now() + Duration::from_secs(90);
    let first_end = (start_ms / 1000) + 120;
    let resolved_after = |rs: &[SimRound], n: usize| rs.iter().filter(|r| r.end_s > first_end).take(n).count();
    loop {
        let rs = rounds(&sim).await;
        let done: Vec<bool> = {
            let mut out = vec![];
            for r in rs.iter().filter(|r| r.end_s > first_end) {
                out.push(sim.with_model(|m| m.resolution(r.index).is_some()).await.unwrap());
            }
            out
        };
        if done.iter().filter(|d| **d).count() >= 1 && resolved_after(&rs, 2) == 2 && done.get(1) == Some(&true) {
            break;
        }
        assert!(Instant::now() < deadline, "two rounds did not resolve within 90 s: {done:?}");
        if done.first() == Some(&true) && done.get(1) == Some(&false) && sim.connections() < 2 {
            // Halfway: drop the stream; the model reconnects and goes on publishing.
            sim.drop_connections();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let rs = rounds(&sim).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(*malformed.lock().unwrap(), 0, "every signal is a valid version-1 document");
    assert!(seen.iter().all(|s| s.model == "btc-5m" && s.model_version == "t1"));
    // The round running at start-up was never priced (its strike was not observed).
    let first = rs.iter().find(|r| r.end_s == first_end).expect("the first round");
    assert!(!seen.iter().any(|s| s.token == first.up || s.token == first.down), "the first round was priced");
    let text = metrics(port).await;
    assert!(metric_value(&text, r#"polyfleet_model_unpriced_total{kind="no_strike"}"#) >= 1.0, "{text}");
    assert!(metric_value(&text, r#"polyfleet_model_round_lookups_total{kind="found"}"#) >= 3.0, "{text}");
    assert!(metric_value(&text, r#"polyfleet_model_rtds_frames_total{kind="twap"}"#) > 100.0, "{text}");
    assert!(sim.connections() >= 2, "the stream was dropped and reconnected");

    // The two rounds after it: priced from their start, Up and Down complementary, the last
    // signal on the side the simulator resolved to.
    for r in rs.iter().filter(|r| r.end_s > first_end).take(2) {
        let ups: Vec<&FairValue> = seen.iter().filter(|s| s.token == r.up).collect();
        let downs: HashMap<u64, u32> =
            seen.iter().filter(|s| s.token == r.down).map(|s| (s.published_ms.unwrap(), s.probability_ppm)).collect();
        assert!(ups.len() > 100, "round ending {}: {} signals", r.end_s, ups.len());
        for u in &ups {
            let at = u.published_ms.unwrap();
            assert!(at < r.end_s * 1000 && at >= (r.end_s - 300) * 1000, "published within the window");
            assert_eq!(u.valid_until_ms, at + 3000);
            if let Some(d) = downs.get(&at) {
                assert_eq!(u.probability_ppm + d, PPM);
            }
        }
        let last = ups.iter().max_by_key(|s| s.published_ms).unwrap();
        let up_won = sim.with_model(|m| m.resolution(r.index)).await.unwrap().unwrap();
        assert_eq!(
            last.probability_ppm > PPM / 2,
            up_won,
            "round ending {}: last p {} ppm",
            r.end_s,
            last.probability_ppm
        );
        assert!(
            last.probability_ppm < 50_000 || last.probability_ppm > 950_000,
            "one second before the end the TWAP is all but known"
        );
    }
}

//! The built-in sports model as Kubernetes would run it: the `polyfleet-agent sports-model`
//! binary reading a recorded odds document (`tests/data/odds_sample.json`, The Odds API v4
//! format) from a local HTTP endpoint that wants a key, publishing on a real NATS server.
//!
//! It shows: the feed's key is sent (from the environment) and never printed; a failed read is
//! counted and publishing goes on at the next; the h2h pick is the weighted consensus of the
//! chosen books only, and the total is priced through the fitted Poisson mean, both equal to
//! values computed independently (Python, by hand: multiplicative de-vig, bisection on λ);
//! YES and NO sum to one; a past kick-off (the line closed), unusable odds, an event missing
//! from the feed and a malformed event are counted and nothing is published for them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use polyfleet_core::TokenId;
use polyfleet_core::wire::signal::{FairValue, PPM, subject_all};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_testkit::{NatsServer, free_port, metric_value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "s3cret-odds-key";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An odds endpoint: the first request is answered 503, every later one the sample; each
/// request line is kept.
async fn odds_endpoint(requests: Arc<Mutex<Vec<String>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = include_str!("data/odds_sample.json");
    let served = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (requests, served) = (requests.clone(), served.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                let text = String::from_utf8_lossy(&buf[..got]).to_string();
                requests.lock().unwrap().push(text.lines().next().unwrap_or("").to_string());
                let answer = if served.fetch_add(1, Ordering::SeqCst) == 0 {
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

async fn metrics(port: u16) -> String {
    match reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_prices_markets_from_bookmaker_consensus_until_kick_off() {
    let nats = NatsServer::start();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let odds_port = odds_endpoint(requests.clone()).await;
    let dir = std::env::temp_dir().join(format!("polyfleet-sports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let markets = dir.join("markets.json");
    std::fs::write(
        &markets,
        r#"[
  {"yesToken": "101", "noToken": "102", "event": "4f1b2c9e8d7a6b5c4d3e2f1a0b9c8d7e", "pick": {"outcome": "Arsenal"}},
  {"yesToken": "103", "noToken": "104", "event": "4f1b2c9e8d7a6b5c4d3e2f1a0b9c8d7e", "pick": {"total": {"over": true, "line": 2.5}}},
  {"yesToken": "105", "noToken": "106", "event": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d", "pick": {"outcome": "Everton"}},
  {"yesToken": "107", "noToken": "108", "event": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", "pick": {"outcome": "Brentford"}},
  {"yesToken": "109", "noToken": "110", "event": "not-in-the-feed", "pick": {"outcome": "Leeds"}}
]"#,
    )
    .unwrap();

    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let mut sub = bus.subscribe(&subject_all("sim")).await.unwrap();
    let seen: Arc<Mutex<Vec<FairValue>>> = Arc::default();
    {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let fv = FairValue::decode(&m.payload, 0, None).unwrap();
                assert_eq!(m.subject, format!("signal.sim.{}", fv.token));
                seen.lock().unwrap().push(fv);
            }
        });
    }

    let port = free_port();
    let log = dir.join("agent.log");
    let _agent = Killed(
        Command::new(env!("CARGO_BIN_EXE_polyfleet-agent"))
            .args(["sports-model", "--venue", "sim", "--nats", &nats.url])
            .args(["--odds-url", &format!("http://127.0.0.1:{odds_port}/v4/sports/soccer_epl/odds")])
            .args(["--markets", markets.to_str().unwrap(), "--poll-ms", "300", "--devig", "multiplicative"])
            .args(["--book", "pinnacle=2", "--book", "betfair_ex_eu=1"])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}"), "--model", "epl", "--model-version", "t1"])
            .env(polyfleet_agent::sports::ODDS_KEY_VAR, KEY)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(dir.join("agent.err")).unwrap()))
            .spawn()
            .unwrap(),
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = metrics(port).await;
        if metric_value(&text, "polyfleet_model_odds_polls_total{kind=\"ok\"}") >= 3.0 {
            break;
        }
        assert!(Instant::now() < deadline, "three good reads within 30 s:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = metrics(port).await;
    drop(_agent);

    // One read failed (the 503), was counted, and the next ones went on.
    assert_eq!(metric_value(&text, "polyfleet_model_odds_polls_total{kind=\"error\"}"), 1.0, "{text}");
    let reads = metric_value(&text, "polyfleet_model_odds_polls_total{kind=\"ok\"}");
    // Each good read: the broken event skipped, and the three markets that cannot be priced.
    assert_eq!(metric_value(&text, "polyfleet_model_odds_malformed_events_total"), reads, "{text}");
    for kind in ["closed", "bad_odds", "no_event"] {
        assert_eq!(metric_value(&text, &format!("polyfleet_model_unpriced_total{{kind=\"{kind}\"}}")), reads, "{kind}");
    }
    assert!(requests.lock().unwrap().iter().all(|r| r.contains(&format!("apiKey={KEY}"))), "the key is sent");
    let printed = std::fs::read_to_string(&log).unwrap() + &std::fs::read_to_string(dir.join("agent.err")).unwrap();
    assert!(printed.contains("odds feed answered 503"), "the failed read is logged: {printed}");
    assert!(!printed.contains(KEY), "the key is never printed");

    let seen = seen.lock().unwrap().clone();
    let last: BTreeMap<TokenId, &FairValue> = seen.iter().map(|f| (f.token, f)).collect();
    let tokens: Vec<u128> = (101..=104).collect();
    assert_eq!(
        last.keys().copied().collect::<Vec<_>>(),
        tokens.iter().map(|t| TokenId::from_u128(*t)).collect::<Vec<_>>()
    );
    assert!(seen.iter().all(|f| f.model == "epl" && f.model_version == "t1" && f.published_ms.is_some()));
    assert!(seen.iter().all(|f| f.valid_until_ms == f.published_ms.unwrap() + 90_000));
    let p = |t: u128| last[&TokenId::from_u128(t)].probability_ppm;
    // Arsenal: Pinnacle (weight 2) 1.95 / 4.1 / 3.7 and Betfair (1) 2.0 / 4.2 / 3.85, each
    // de-vigged multiplicatively, weighted: 0.4999226 (William Hill's 1.8 left out).
    assert_eq!((p(101), p(102)), (499_923, PPM - 499_923));
    // Over 2.5: Poisson means 2.705379 (Pinnacle, 1.92 / 1.98) and 2.704747 (Betfair,
    // 1.96 / 2.02), weighted 2.705169: P(X ≥ 3) = 0.5076408.
    assert_eq!((p(103), p(104)), (507_641, PPM - 507_641));
    let _ = std::fs::remove_dir_all(&dir);
}

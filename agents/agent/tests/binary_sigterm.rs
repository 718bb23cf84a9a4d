//! The `polyfleet-agent market-data` binary as Kubernetes runs it: configured by flags, ready on
//! `/readyz` once every book is live, metrics on `/metrics`, and a clean exit (code 0) on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_testkit as support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use polyfleet_sim::{SimConfig, server};

async fn get(url: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(url).await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_becomes_ready_serves_metrics_and_stops_cleanly_on_sigterm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let nats = support::NatsServer::start();
    let sim = server::serve(SimConfig::default(), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 500).await.unwrap();
    // 10 tokens over connections of 3: the YES and NO of some market land on different
    // connections, which must not corrupt either book (no hash mismatch).
    let tokens: Vec<String> = sim
        .with_model(|m| m.markets().iter().flat_map(|m| [m.yes.to_string(), m.no.to_string()]).collect())
        .await
        .unwrap();
    let metrics_port = support::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyfleet-agent"))
        .args(["market-data", "--venue", "sim", "--ws-url", &sim.market_ws_url(), "--rest-url", &sim.http_url()])
        .args(["--tokens", &tokens.join(","), "--nats", &nats.url, "--assets-per-connection", "3"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{metrics_port}");
    let start = Instant::now();
    loop {
        if let Some((200, _)) = get(&format!("{base}/readyz")).await {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the agent never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&format!("{base}/healthz")).await.unwrap().0, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, text) = get(&format!("{base}/metrics")).await.unwrap();
    for metric in [
        "polyfleet_md_frames_total",
        "polyfleet_md_published_total",
        "polyfleet_md_events_total{kind=\"price_change\"}",
        "polyfleet_md_connects_total 4",
        "polyfleet_md_hash_mismatches_total 0",
    ] {
        assert!(text.contains(metric), "{metric} missing from /metrics:\n{text}");
    }
    // 10 tokens over connections of 3 tokens: 4 connections (more only if one dropped).
    let connects: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("polyfleet_md_connects_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("connects counter");
    assert!(connects >= 4, "{connects} connections");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the agent did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code:?}");
}

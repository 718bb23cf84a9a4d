//! A `directional` Strategy driven end to end by the example external publisher
//! (`examples/signals/publish.py`, Python with the official `nats-py` client): `polyfleet up
//! --runtime processes` on a NATS the test started, the publisher sending fair values for the
//! market's cheaper token with an edge, plus the messages a strategy must refuse (not JSON,
//! another schema version, a probability outside (0, 1), an expired signal, an unfollowed model).
//! The strategy agent counts each kind, trades only on the valid ones (its orders continue the
//! trace the publisher's `traceparent` started), and its orders fill on paper.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_testkit::otlp::OtlpReceiver;
use polyfleet_testkit::{NatsServer, metric_value};

fn get(addr: &str, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else { return String::new() };
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "no {what} within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The first word after `key` on the header line of the run's output.
fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split([' ', ',', ')']).find(|w| !w.is_empty())
}

/// The best ask of `token` on the simulator's REST book (none when the book has none).
fn best_ask(sim: &str, token: &str) -> Option<f64> {
    let reply = get(sim, &format!("/book?token_id={token}"));
    let body = &reply[reply.find("\r\n\r\n")? + 4..];
    let book: serde_json::Value = serde_json::from_str(body).ok()?;
    book["asks"].as_array()?.iter().filter_map(|l| l["price"].as_str()?.parse::<f64>().ok()).reduce(f64::min)
}

#[test]
fn an_external_python_model_drives_a_directional_strategy_and_bad_signals_are_counted() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let has_client = Command::new(&python).args(["-c", "import nats"]).status().is_ok_and(|s| s.success());
    assert!(has_client, "{python} with nats-py is needed (scripts/setup.sh installs it)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("polyfleet-up-directional-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["venue-simulator.yaml", "market-binary.yaml", "riskpolicy.yaml", "strategy-directional.yaml"] {
        std::fs::copy(root.join("manifests/examples").join(f), dir.join(f)).unwrap();
    }
    let nats = NatsServer::start();
    // The agents export their spans (and so propagate trace context) to a receiver of the test.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let otlp = rt.block_on(OtlpReceiver::start());
    let out_path = dir.join("up.out");
    let mut up = Command::new(env!("CARGO_BIN_EXE_polyfleet"))
        .args(["up", "--runtime", "processes", "--nats", &nats.url, "--duration", "30", "--journal"])
        .arg(dir.join("journal.db"))
        .arg("-f")
        .arg(&dir)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp.endpoint)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The header names the simulator's port, each agent's metrics port and the work directory.
    let output = || std::fs::read_to_string(&out_path).unwrap_or_default();
    let header = wait_for("fleet header", 60, || {
        let text = output();
        let work = text.lines().find_map(|l| l.split("data in ").nth(1).map(PathBuf::from))?;
        let line = text.lines().find(|l| l.contains("metrics http://"))?.to_string();
        Some((line, work))
    });
    let (line, work) = header;
    let sim = format!("127.0.0.1:{}", after(&line, "simulator process on :").unwrap());
    let strategy = format!("127.0.0.1:{}", after(&line, "fed-fair-value :").unwrap());
    let execution = format!("127.0.0.1:{}", after(&line, "execution :").unwrap());
    wait_for("a ready strategy agent", 60, || get(&strategy, "/readyz").contains("200 OK").then_some(()));
    // The market's tokens, as the operator's planner gave them to the agent.
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("strategy-fed-fair-value.json")).unwrap()).unwrap();
    let yes = cfg["quoted"][0]["yes"]["token"].as_str().unwrap().to_string();
    let no = cfg["quoted"][0]["no"]["token"].as_str().unwrap().to_string();
    // The cheaper token (inside the Strategy's price band), valued 15 cents above its ask.
    let (token, ask) = wait_for("both books", 30, || {
        let (y, n) = (best_ask(&sim, &yes)?, best_ask(&sim, &no)?);
        Some(if y <= n { (yes.clone(), y) } else { (no.clone(), n) })
    });
    let probability = format!("{:.2}", (ask + 0.15).min(0.99));
    // The intents the strategy publishes, with their trace context.
    let traced = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    {
        let bus = rt.block_on(NatsBus::connect(&nats.url)).unwrap();
        let mut intents = rt.block_on(bus.subscribe("intent.>")).unwrap();
        let traced = traced.clone();
        rt.spawn(async move {
            let _bus = bus;
            while let Some(m) = intents.next().await {
                let trace = m.header("traceparent").and_then(|t| t.split('-').nth(1)).unwrap_or_default();
                traced.lock().unwrap().push(trace.to_string());
            }
        });
    }
    let published = Command::new(&python)
        .arg(root.join("examples/signals/publish.py"))
        .args(["--nats", &nats.url, "--venue", "sim", "--token", &token, "--model", "fed-model"])
        .args(["--probability", &probability, "--every", "0.5", "--count", "12", "--also-bad"])
        .output()
        .unwrap();
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
    let sent: serde_json::Value = serde_json::from_slice(&published.stdout).unwrap();
    assert_eq!(sent["sent"]["accepted"], 12, "{sent}");
    // Every kind counted as what it is; orders only from the valid ones.
    let series = |kind: &str| format!("polyfleet_strategy_fair_value_signals_total{{kind=\"{kind}\"}}");
    let counted = wait_for("the signals counted", 30, || {
        let m = get(&strategy, "/metrics");
        (metric_value(&m, &series("accepted")) >= 12.0).then_some(m)
    });
    assert_eq!(metric_value(&counted, &series("accepted")), 12.0);
    assert_eq!(metric_value(&counted, &series("malformed")), 36.0, "3 malformed a round");
    assert_eq!(metric_value(&counted, &series("stale")), 12.0);
    assert_eq!(metric_value(&counted, &series("unfollowed")), 12.0);
    assert!(metric_value(&counted, "polyfleet_strategy_rule_events_total{kind=\"entries\"}") >= 1.0, "{counted}");
    // The orders continue the traces of the signals that caused them.
    let published: Vec<String> =
        sent["traces"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    let continued = wait_for("an intent in a signal's trace", 10, || {
        let seen = traced.lock().unwrap().clone();
        seen.iter().find(|t| published.contains(t)).cloned()
    });
    assert_eq!(continued.len(), 32);
    // The strategy's span of that signal was exported in the same trace.
    wait_for("the signal's span", 20, || {
        otlp.spans().iter().any(|s| s.name == "fair_value" && s.trace_id == continued).then_some(())
    });
    // Its entries fill on paper.
    wait_for("a paper fill of the strategy", 30, || {
        let m = get(&execution, "/metrics");
        (metric_value(&m, "polyfleet_execution_fills_total{kind=\"taker\"}") >= 1.0).then_some(())
    });
    let status = up.wait().unwrap();
    assert!(status.success(), "{}", output());
    let text = output();
    let last = text.lines().rev().find(|l| l.starts_with("fed-fair-value ")).unwrap();
    let fills: u64 = last.split_whitespace().nth(6).and_then(|f| f.parse().ok()).unwrap_or(0);
    assert!(fills >= 1, "the final board shows its fills: {last}");
    // The journal keeps which model version sized each of its orders (the model's id and
    // version as the publisher sent them), keyed by an order it holds.
    rt.block_on(async {
        use polyfleet_journal::{JournalStore, Kind, Range};
        let journal =
            polyfleet_journal::store::sql::SqlJournal::open(&format!("sqlite://{}", dir.join("journal.db").display()))
                .await
                .unwrap();
        let orders: std::collections::HashSet<String> = polyfleet_journal::orders::read(&journal, Range::ALL)
            .await
            .unwrap()
            .iter()
            .filter(|o| o.kelly.is_some())
            .map(|o| o.client_order_id.to_string())
            .collect();
        let signals = journal.entries(Kind::Signal, Range::ALL).await.unwrap();
        assert!(
            !orders.is_empty() && signals.len() == orders.len(),
            "{} sized orders, {} signals",
            orders.len(),
            signals.len()
        );
        for e in &signals {
            let polyfleet_core::wire::Intent::Signal(u) = polyfleet_core::wire::decode(&e.payload).unwrap() else {
                panic!("{}: not a signal report", e.key)
            };
            assert_eq!(
                (u.model.as_str(), u.model_version.as_str(), u.strategy.as_str()),
                ("fed-model", "1.0.0", "fed-fair-value")
            );
            assert!(orders.contains(&e.key), "signal {} of no order", e.key);
        }
        journal.close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

//! What the multi-process end-to-end tests share: agent processes (started, signalled, probed,
//! their output optionally kept in a file), a collector of the decision, fill and order-update
//! streams, waiting helpers, limits, and the simulator's neg-risk opportunity.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use polyfleet_core::accounting::Ledger;
use polyfleet_core::risk::RiskLimits;
use polyfleet_core::wire::{Fill, OrderUpdate, RiskDecision, decode, subjects};
use polyfleet_core::{Money, Quantity, TokenId};
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::bus::{Bus, ConsumerSpec};
use polyfleet_io::risk_store::redis::RedisRiskStore;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polyfleet_testkit::free_port;

pub struct Agent {
    pub name: &'static str,
    child: Option<Child>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    pub metrics: u16,
    /// Where its stdout and stderr go (appended); none: discarded unless `E2E_LOGS` is set.
    pub log: Option<PathBuf>,
}

impl Agent {
    pub fn spawn(name: &'static str, args: Vec<String>, env: Vec<(String, String)>) -> Agent {
        Agent::spawn_logged(name, args, env, None)
    }

    pub fn spawn_logged(
        name: &'static str,
        args: Vec<String>,
        env: Vec<(String, String)>,
        log: Option<PathBuf>,
    ) -> Agent {
        let mut a = Agent { name, child: None, args, env, metrics: free_port(), log };
        a.start();
        a
    }

    pub fn start(&mut self) {
        self.metrics = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_polyfleet-agent"))
            .args(&self.args)
            .args(["--metrics-addr", &format!("127.0.0.1:{}", self.metrics)])
            .envs(self.env.iter().cloned())
            .stdout(self.output())
            .stderr(self.output())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.name));
        self.child = Some(child);
    }

    fn output(&self) -> Stdio {
        match &self.log {
            Some(p) => std::fs::OpenOptions::new().create(true).append(true).open(p).map(Stdio::from).unwrap(),
            None if std::env::var("E2E_LOGS").is_ok() => Stdio::inherit(),
            None => Stdio::null(),
        }
    }

    pub fn signal(&mut self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").args([sig, &c.id().to_string()]).status();
        }
    }

    /// SIGTERM and wait (flushes its spans).
    pub fn stop(&mut self) {
        self.signal("-TERM");
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if c.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL: no cleanup at all.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn ready(&self) -> bool {
        let url = format!("http://127.0.0.1:{}/readyz", self.metrics);
        matches!(reqwest::get(&url).await, Ok(r) if r.status().is_success())
    }

    pub async fn metrics_text(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics);
        match reqwest::get(&url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the test saw on the streams (JetStream consumers: de-duplicated, as stored).
#[derive(Default)]
pub struct Seen {
    pub decisions: Vec<RiskDecision>,
    pub fills: Vec<Fill>,
    pub updates: Vec<OrderUpdate>,
    pub ctf_decisions: Vec<polyfleet_core::wire::CtfDecision>,
    pub ctf_reports: Vec<polyfleet_core::wire::CtfReport>,
    pub settlements: Vec<polyfleet_core::wire::SettlementReport>,
}

impl Seen {
    /// Intents the gateway decided (orders and conditional-token operations).
    pub fn intents_seen(&self) -> usize {
        self.decisions.len() + self.ctf_decisions.len()
    }
}

pub async fn collect(bus: &NatsBus, seen: Arc<Mutex<Seen>>) {
    let specs = [
        (subjects::STREAM_DECISIONS, "decision.>"),
        (subjects::STREAM_FILLS, "fill.>"),
        (subjects::STREAM_ORDERS, "order.>"),
    ];
    for (stream, filter) in specs {
        let mut d = bus
            .consume(ConsumerSpec {
                stream: stream.into(),
                durable: format!("e2e-{}", stream.to_lowercase()),
                filter: filter.into(),
                ack_wait: Duration::from_secs(30),
            })
            .await
            .unwrap();
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(next) = d.next().await {
                let m = match next {
                    Ok(m) => m,
                    Err(e) => {
                        eprintln!("collector {stream}: {e}");
                        continue;
                    }
                };
                {
                    let mut s = seen.lock().unwrap();
                    let p = &m.message.payload;
                    match p.get(1) {
                        Some(3) => s.decisions.push(decode(p).unwrap()),
                        Some(5) => s.fills.push(decode(p).unwrap()),
                        Some(4) => s.updates.push(decode(p).unwrap()),
                        Some(7) => s.ctf_decisions.push(decode(p).unwrap()),
                        Some(8) => s.ctf_reports.push(decode(p).unwrap()),
                        Some(10) => s.settlements.push(decode(p).unwrap()),
                        _ => panic!("unexpected message on {}", m.message.subject),
                    }
                }
                let _ = m.ack().await;
            }
        });
    }
}

pub async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn limits(kill: bool) -> RiskLimits {
    RiskLimits {
        mode: if kill { polyfleet_core::risk::RiskMode::Halt } else { polyfleet_core::risk::RiskMode::Off },
        reset: 0,
        trip_cooldown_ms: None,
        max_order_size: Quantity::from_micros(100_000_000),
        max_order_notional: Money::from_micros(50_000_000),
        max_position_per_market: Quantity::from_micros(1_000_000_000),
        max_gross_exposure: Money::from_micros(1_000_000_000),
        max_daily_loss: Money::from_micros(100_000_000),
        max_drawdown: Money::from_micros(200_000_000),
        max_orders_per_minute: 600,
        max_orders_per_day: None,
        min_book_liquidity: Some(Money::from_micros(1_000_000)),
        circuit_breaker: Some((3, 60_000)),
        max_loss_at_resolution: None,
        max_event_exposure: None,
        group_limits: vec![],
        kelly_budget: None,
    }
}

pub async fn wait_until_async<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_until_ready(a: &Agent) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !a.ready().await {
        assert!(Instant::now() < deadline, "{} not ready", a.name);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Restores the event's fair quotes, waits out the strategy's cooldown, and misprices `outcome`.
pub async fn new_opportunity(sim: &polyfleet_sim::server::SimHandle, outcome: usize) {
    for o in 0..3 {
        sim.misprice(0, o, 0).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sim.misprice(0, outcome, 100_000).await);
}

/// Positions, exposure and PnL in Redis equal what the published fills add up to.
pub async fn check_accounting(store: &RedisRiskStore, policy: &PolicyKey, seen: &Arc<Mutex<Seen>>) {
    let fills = seen.lock().unwrap().fills.clone();
    let mut strategies: Vec<String> = fills.iter().map(|f| f.strategy.clone()).collect();
    strategies.sort();
    strategies.dedup();
    // Each strategy's ledger, as stored.
    for strategy in &strategies {
        let mut ledger = Ledger::new();
        for f in fills.iter().filter(|f| &f.strategy == strategy) {
            ledger.on_fill(f).unwrap();
        }
        let expected: BTreeMap<String, _> = ledger.positions().into_iter().map(|(t, p)| (t.to_string(), p)).collect();
        let stored: BTreeMap<String, _> =
            store.positions(policy, strategy).await.unwrap().into_iter().map(|(t, p)| (t.to_string(), p)).collect();
        assert_eq!(stored, expected, "ledger positions of {strategy} in Redis");
    }
    // The policy's state: every strategy's fills together.
    let mut ledger = Ledger::new();
    for f in &fills {
        ledger.on_fill(f).unwrap();
    }
    let snap = store.snapshot(policy).await.unwrap();
    assert_eq!(snap.open_reservations, 0, "every order ended");
    let cost = ledger.positions().iter().fold(Money::ZERO, |a, (_, p)| a.checked_add(p.cost).unwrap());
    assert_eq!(snap.exposure, cost, "exposure is the cost of what is held");
    assert_eq!(snap.daily_pnl, ledger.realized(), "daily PnL is the realized PnL, fees included");
    let held: Vec<(TokenId, Quantity)> = {
        let mut v: Vec<_> =
            ledger.positions().into_iter().filter(|(_, p)| !p.size.is_zero()).map(|(t, p)| (t, p.size)).collect();
        v.sort_by_key(|(t, _)| t.to_string());
        v
    };
    assert_eq!(snap.positions, held);
}

/// Arguments from string slices.
pub fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The market-data agent of venue `sim` for `tokens` (comma-separated).
pub fn market_data(
    sim: &polyfleet_sim::server::SimHandle,
    nats: &str,
    tokens: &str,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
) -> Agent {
    // The tokens in a file, one per line, as the operator's ConfigMap mounts them.
    let file = std::env::temp_dir().join(format!(
        "polyfleet-md-tokens-{}-{}.txt",
        std::process::id(),
        NEXT_FILE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&file, tokens.replace(',', "\n")).unwrap();
    let file = file.display().to_string();
    let a = args(&[
        "market-data",
        "--venue",
        "sim",
        "--ws-url",
        &sim.market_ws_url(),
        "--rest-url",
        &sim.http_url(),
        "--tokens-file",
        &file,
        "--nats",
        nats,
        "--market-status-s",
        "1",
    ]);
    Agent::spawn_logged("market-data", a, env, log)
}

/// Numbers the token files of market-data agents started by this test process.
static NEXT_FILE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The risk gateway of namespace `trading` on venue `sim`.
pub fn risk_gateway(nats: &str, redis: &str, env: Vec<(String, String)>, log: Option<PathBuf>) -> Agent {
    let a = args(&["risk", "--venue", "sim", "--namespace", "trading", "--nats", nats, "--redis", redis]);
    Agent::spawn_logged("risk", a, env, log)
}

//! The notifier agent against a real NATS server and a real HTTP receiver: every target kind
//! (generic JSON with a bearer token, Slack-compatible, Telegram) gets each notice once in its
//! shape; a notice republished with the same id is sent once; a 500 is retried with backoff and
//! a 429 after its `Retry-After`, a 404 is refused without retry; a malformed notice is counted
//! and skipped; a target that cannot be reached is given up after its attempts, and nothing the
//! agent logs carries a target's URL or token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use polyfleet_agent::notify::{self, NotifyAgentConfig, NotifyMetrics};
use polyfleet_core::notify::{NotifyConfig, NotifyTarget, TargetKind, TargetSecrets};
use polyfleet_core::wire::{Notice, NoticeKind, Severity, encode, subjects};
use polyfleet_io::bus::Bus;
use polyfleet_io::bus::nats::NatsBus;
use polyfleet_io::probes::Probe;
use polyfleet_testkit::{NatsServer, WebhookReceiver};

/// Log lines, shared with the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn notice(id: &str, kind: NoticeKind) -> Notice {
    Notice {
        id: id.into(),
        namespace: "desk".into(),
        risk_policy: "main".into(),
        strategy: None,
        kind,
        severity: Severity::Warning,
        title: format!("{} happened", kind.as_str()),
        text: "details".into(),
        ts_ms: 1,
    }
}

fn target(name: &str, kind: TargetKind) -> NotifyTarget {
    NotifyTarget {
        name: name.into(),
        kind,
        url: None,
        url_env: None,
        token_env: None,
        chat_id: None,
        api_url: None,
        events: vec![],
    }
}

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_reach_every_target_once_with_retries_and_no_secret_in_logs() {
    let logs = Logs::default();
    let writer = logs.clone();
    let _ = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).try_init();
    let nats = NatsServer::start();
    let bus = NatsBus::connect(&nats.url).await.unwrap();
    let rx = WebhookReceiver::start().await;
    let config = NotifyConfig {
        namespace: "desk".into(),
        risk_policy: "main".into(),
        targets: vec![
            NotifyTarget {
                url: Some(format!("{}/generic", rx.url)),
                token_env: Some("T0".into()),
                ..target("ops", TargetKind::Generic)
            },
            NotifyTarget {
                url_env: Some("U1".into()),
                events: vec![NoticeKind::Trip, NoticeKind::Reset],
                ..target("slack", TargetKind::Slack)
            },
            NotifyTarget {
                token_env: Some("T2".into()),
                chat_id: Some("-1001".into()),
                api_url: Some(rx.url.clone()),
                events: vec![NoticeKind::Trip],
                ..target("tg", TargetKind::Telegram)
            },
            NotifyTarget {
                token_env: Some("T3".into()),
                chat_id: Some("-1002".into()),
                api_url: Some("http://127.0.0.1:1".into()),
                events: vec![NoticeKind::Mode],
                ..target("unreachable", TargetKind::Telegram)
            },
        ],
        max_per_minute: 600,
        max_attempts: 3,
    };
    let secrets = vec![
        TargetSecrets { url: None, token: Some("bearer-SECRET-0".into()) },
        TargetSecrets { url: Some(format!("{}/slack/SECRET-1", rx.url)), token: None },
        TargetSecrets { url: None, token: Some("bot-SECRET-2".into()) },
        TargetSecrets { url: None, token: Some("bot-SECRET-3".into()) },
    ];
    let metrics = NotifyMetrics::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(notify::run(bus.clone(), NotifyAgentConfig { config, secrets }, metrics.clone(), stop_rx));
    let subject = subjects::notices("desk", "main");
    let publish = |n: Notice| {
        let (bus, subject) = (bus.clone(), subject.clone());
        async move { bus.persist(&subject, vec![], Bytes::from(encode(&n)), Some(&n.id)).await.unwrap() }
    };

    // A trip: every target following trips gets it once, in its shape; its republication is
    // dropped by the stream. The first generic post gets a 500 and is retried.
    rx.answer_next(&[(500, None)]);
    assert!(publish(notice("desk/main/trip/dailyLoss/1", NoticeKind::Trip)).await);
    assert!(!publish(notice("desk/main/trip/dailyLoss/1", NoticeKind::Trip)).await, "the stream drops a repeated id");
    let generic = eventually("the generic trip", || Some(rx.delivered("/generic")).filter(|v| v.len() == 1)).await;
    let g = &generic[0];
    assert_eq!(g.header("authorization"), Some("Bearer bearer-SECRET-0"));
    assert_eq!(g.header("idempotency-key"), Some("desk/main/trip/dailyLoss/1"));
    let body: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!((body["kind"].as_str(), body["riskPolicy"].as_str()), (Some("trip"), Some("main")));
    let slack = eventually("the Slack trip", || Some(rx.delivered("/slack/SECRET-1")).filter(|v| v.len() == 1)).await;
    let body: serde_json::Value = serde_json::from_slice(&slack[0].body).unwrap();
    assert!(body["text"].as_str().unwrap().starts_with("[WARNING] trip happened"), "{body}");
    let tg =
        eventually("the Telegram trip", || Some(rx.delivered("/botbot-SECRET-2/sendMessage")).filter(|v| v.len() == 1))
            .await;
    let body: serde_json::Value = serde_json::from_slice(&tg[0].body).unwrap();
    assert_eq!(body["chat_id"], "-1001");

    // A 429 with Retry-After: 1 is waited out; a 404 refuses for good (no retry).
    rx.answer_next(&[(429, Some(1))]);
    publish(notice("desk/main/reset/1", NoticeKind::Reset)).await;
    eventually("the reset at both followers", || {
        (rx.delivered("/generic").len() == 2 && rx.delivered("/slack/SECRET-1").len() == 2).then_some(())
    })
    .await;
    rx.answer_next(&[(404, None)]);
    publish(notice("desk/main/summary/20000", NoticeKind::DailySummary)).await;
    // Malformed bytes are counted and skipped; the next notice still goes.
    bus.persist(&subject, vec![], Bytes::from_static(b"\x03\x09garbage"), Some("junk")).await.unwrap();
    publish(notice("desk/main/mode/2", NoticeKind::Mode)).await;
    eventually("the mode notice at the generic target", || {
        rx.delivered("/generic").iter().any(|r| r.header("idempotency-key") == Some("desk/main/mode/2")).then_some(())
    })
    .await;
    // The unreachable target follows modes: three attempts (1 s, 2 s apart), then given up.
    let text = eventually("the unreachable target given up", || {
        let t = metrics.render();
        t.contains(r#"polyfleet_notify_notices_total{target="unreachable",kind="mode",outcome="gave_up"} 1"#)
            .then_some(t)
    })
    .await;
    assert!(
        text.contains(r#"polyfleet_notify_notices_total{target="ops",kind="dailySummary",outcome="refused"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"polyfleet_notify_notices_total{target="ops",kind="trip",outcome="sent"} 1"#), "{text}");
    assert!(text.contains("polyfleet_notify_malformed_total 1"), "{text}");

    // Each notice once per target: 500 and 429 answers were retried, nothing was posted twice.
    let ids: Vec<(String, String)> = rx
        .received()
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .map(|r| (r.path.clone(), r.header("idempotency-key").unwrap_or_default().to_string()))
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "{ids:?}");
    let statuses: Vec<u16> = rx.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 404).count(), 1, "a refusal is not retried: {statuses:?}");
    assert_eq!(statuses.len(), 1 + 1 + 1 + 1 + 2 + 1 + 1 + 1, "{statuses:?}");

    stop_tx.send(true).unwrap();
    agent.await.unwrap().unwrap();
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("notification post failed"), "the unreachable target's failures are logged: {logs}");
    assert!(!logs.contains("SECRET"), "a secret reached the logs:\n{logs}");
}

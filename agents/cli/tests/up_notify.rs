//! `polyfleet up` sends a RiskPolicy's notices as the cluster does: the example policy declared
//! reduce-only with a generic webhook target; the local fleet's notifier posts the mode notice to
//! a real HTTP receiver once. (Secrets are read locally from `<SECRET>_<KEY>` environment
//! variables, unit-tested in the operator's `local` module.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

mod common;

use std::time::{Duration, Instant};

use polyfleet_cli::up::{Runtime, UpArgs, run};
use polyfleet_testkit::WebhookReceiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_fleet_sends_the_policys_notices_to_its_webhooks() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rx = WebhookReceiver::start().await;
    let dir = common::copy_examples("notify");
    let policy = dir.join("riskpolicy.yaml");
    let text = std::fs::read_to_string(&policy).unwrap().replace("killSwitch: \"off\"", "killSwitch: reduceOnly");
    let text = format!(
        "{text}  notifications:\n    targets:\n      - {{name: desk, kind: generic, url: \"{}/desk\", events: [mode, trip]}}\n",
        rx.url
    );
    std::fs::write(&policy, text).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let args = UpArgs {
        dir: dir.clone(),
        namespace: "default".into(),
        metrics_addr: format!("127.0.0.1:{port}").parse().unwrap(),
        duration: None,
        replay: None,
        catalog: None,
        runtime: Runtime::Inproc,
        bad_input: polyfleet_cli::record::BadInput::Fail,
        journal: None,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let fleet = tokio::spawn(run(args, stop_rx));
    let deadline = Instant::now() + Duration::from_secs(30);
    while rx.delivered("/desk").is_empty() {
        assert!(Instant::now() < deadline, "no notice within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop_tx.send(true);
    let outcome = tokio::time::timeout(Duration::from_secs(30), fleet).await.unwrap().unwrap().unwrap();
    let got = rx.delivered("/desk");
    assert_eq!(got.len(), 1, "one notice, once: {got:?}");
    assert_eq!(got[0].header("idempotency-key"), Some("default/default/mode/1/reduceOnly"));
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!((body["kind"].as_str(), body["severity"].as_str()), (Some("mode"), Some("warning")));
    let log = outcome.log.join("\n");
    assert!(log.contains("notice mode: RiskPolicy default/default: mode REDUCE-ONLY"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

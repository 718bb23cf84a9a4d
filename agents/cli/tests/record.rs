//! `polyfleet record` against the simulator: the recording holds the connection marker, the
//! subscription snapshots and the stream, and replays through the decoder into the model's books.

use std::net::SocketAddr;
use std::time::Duration;

use polyfleet_cli::record;
use polyfleet_core::TokenId;
use polyfleet_polymarket::normalize::Normalizer;
use polyfleet_sim::{SimConfig, server};
use tokio::sync::watch;

#[tokio::test]
async fn records_and_reads_back_gzip() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = server::serve(SimConfig::default(), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 2000).await.unwrap();
    let tokens: Vec<TokenId> = sim.with_model(|m| m.markets().iter().flat_map(|m| [m.yes, m.no]).collect()).await;
    let path = std::env::temp_dir().join(format!("polyfleet-record-{}.jsonl.gz", std::process::id()));
    let mut out = record::create(&path).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    let n = record::record(sim.market_ws_url(), tokens.clone(), &mut *out, Some(Duration::from_millis(1500)), stop)
        .await
        .unwrap();
    drop(out);
    sim.pause(true);
    assert!(n > 100, "only {n} frames recorded");

    let lines: Vec<record::RecordLine> = record::open(&path).unwrap().map(Result::unwrap).collect();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(lines[0].event.as_deref(), Some("connected"));
    assert_eq!(lines.iter().filter(|l| l.frame.is_some()).count() as u64, n);
    assert!(lines.windows(2).all(|w| w[0].recv_ns <= w[1].recv_ns), "receive times are ordered");

    // Replaying the recording rebuilds every book, and every delta's hash agrees with the venue's.
    let mut norm = Normalizer::new(tokens.iter().copied());
    let mut actions = vec![];
    for l in &lines {
        if let Some(f) = &l.frame {
            norm.on_frame(f.as_bytes(), l.recv_ns, &mut actions);
        }
    }
    assert!(norm.all_live());
    assert_eq!(norm.stats().hash_mismatches, 0);
    assert!(norm.stats().hash_checks > 100);
}

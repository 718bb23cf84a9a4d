//! `polyfleet record` against the simulator: the recording holds the connection marker, the
//! subscription snapshots and the stream, and replays through the decoder into the model's books;
//! the real-time data stream's prices, recorded beside it, are lines of the `rtds` channel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::net::SocketAddr;
use std::time::Duration;

use polyfleet_cli::record;
use polyfleet_core::TokenId;
use polyfleet_polymarket::data::normalize::Normalizer;
use polyfleet_polymarket::websocket::rtds;
use polyfleet_sim::{SimConfig, Simulator, server};
use tokio::sync::watch;

#[tokio::test]
async fn records_and_reads_back_gzip() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut model = Simulator::new(SimConfig::default());
    assert!(model.declare_series("btc", "5m"), "a series streams reference prices");
    let sim = server::serve_source(Box::new(model), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 2000).await.unwrap();
    let tokens: Vec<TokenId> =
        sim.with_model(|m| m.markets().iter().flat_map(|m| [m.yes, m.no]).collect()).await.unwrap();
    let path = std::env::temp_dir().join(format!("polyfleet-record-{}.jsonl.gz", std::process::id()));
    let mut out = record::create(&path).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    let n = record::record(
        sim.market_ws_url(),
        tokens.clone(),
        Some(sim.rtds_url()),
        None,
        &mut *out,
        Some(Duration::from_millis(1500)),
        stop,
    )
    .await
    .unwrap();
    drop(out);
    sim.pause(true);
    assert!(n.market > 100, "only {n:?} frames recorded");
    assert!(n.rtds > 3, "the stream's prices are recorded too: {n:?}");

    let (lines, read) = record::Reader::read_all(&path, record::BadInput::Fail).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(lines[0].event.as_deref(), Some("connected"));
    let market: Vec<&record::RecordLine> = lines.iter().filter(|l| l.is_market()).collect();
    assert_eq!(market.iter().filter(|l| l.frame.is_some()).count() as u64, n.market);
    assert_eq!(read.rtds, n.rtds, "{read:?}");
    assert!(lines.windows(2).all(|w| w[0].recv_ns <= w[1].recv_ns), "receive times are ordered");
    // Every RTDS line is a frame of the stream: prices (or the stream's other messages).
    let prices = lines
        .iter()
        .filter(|l| !l.is_market())
        .map(|l| rtds::decode(l.frame.as_deref().unwrap()).unwrap())
        .filter(|d| matches!(d, rtds::Decoded::Tick(_)))
        .count();
    assert!(prices > 3, "{prices} prices");

    // Replaying the recording rebuilds every book, and every delta's hash agrees with the venue's.
    let mut norm = Normalizer::new(tokens.iter().copied());
    let mut actions = vec![];
    for l in market {
        if let Some(f) = &l.frame {
            norm.on_frame(f.as_bytes(), l.recv_ns, &mut actions);
        }
    }
    assert!(norm.all_live());
    assert_eq!(norm.stats().hash_mismatches, 0);
    assert!(norm.stats().hash_checks > 100);
}

/// A series followed as its rounds roll: the simulator at 20 times the wall clock (100 steps of
/// 200 ms a second) from 10 simulated seconds before a 5-minute boundary; nothing subscribed at
/// start. The running round and the next are found at once, the one after when the prices reach
/// the boundary; each round's tokens are recorded from when it is found, and the rounds found
/// are what the catalog lists, with their tokens and rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_series_as_its_rounds_roll() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let boundary_s = (1_767_225_600_000 + 3_000_000) / 1000;
    let mut model = Simulator::new(SimConfig {
        binary_markets: 0,
        neg_risk_events: vec![],
        start_ms: boundary_s * 1000 - 10_000,
        step_ms: 200,
        ..SimConfig::default()
    });
    assert!(model.declare_series("btc", "5m"));
    let sim = server::serve_source(Box::new(model), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 100).await.unwrap();
    let path = std::env::temp_dir().join(format!("polyfleet-record-series-{}.jsonl", std::process::id()));
    let mut out = record::create(&path).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    let follow = record::SeriesFollow { gamma_url: sim.http_url(), series: vec![("btc".into(), "5m".into())] };
    // 6 s of wall time: 120 simulated seconds, across the boundary.
    let n = record::record(
        sim.market_ws_url(),
        vec![],
        Some(sim.rtds_url()),
        Some(follow),
        &mut *out,
        Some(Duration::from_secs(6)),
        stop,
    )
    .await
    .unwrap();
    drop(out);
    sim.pause(true);
    // `--columnar`: the catalog of the rounds found, and the capture converted with it.
    let arrow = path.with_extension("arrow");
    let said = record::finish(&path, &n, true, Some(&arrow), None).unwrap();
    assert_eq!(said.len(), 3, "{said:?}");
    let mut col = polyfleet_backtest::columnar::read::Columnar::open(&arrow, None).unwrap();
    let mut tokens_seen = std::collections::HashSet::new();
    for ev in col.by_ref() {
        tokens_seen.insert(ev.token);
    }
    assert!(col.rtds.len() as u64 == n.rtds, "every RTDS frame converted: {} of {}", col.rtds.len(), n.rtds);
    let acc = col.finish().unwrap();
    assert_eq!(acc.read.frames, n.market + n.rtds);
    for m in &n.rounds {
        for t in &m.tokens {
            assert!(tokens_seen.contains(&t.token_id), "{} of {} converted", t.outcome, m.slug);
        }
    }
    for f in [
        arrow.clone(),
        polyfleet_polymarket::data::catalog::Catalog::beside(&path),
        polyfleet_polymarket::data::catalog::Catalog::beside(&arrow),
    ] {
        std::fs::remove_file(f).unwrap();
    }
    let slugs: Vec<&str> = n.rounds.iter().map(|m| m.slug.as_str()).collect();
    let slug = |s: u64| format!("btc-updown-5m-{s}");
    assert_eq!(slugs, [slug(boundary_s - 300), slug(boundary_s), slug(boundary_s + 300)], "{n:?}");
    // Every round's tokens were recorded: each has a book snapshot in the recording.
    let (lines, _) = record::Reader::read_all(&path, record::BadInput::Fail).unwrap();
    std::fs::remove_file(&path).unwrap();
    let text: String = lines.iter().filter(|l| l.is_market()).filter_map(|l| l.frame.clone()).collect();
    for m in &n.rounds {
        assert_eq!(m.tokens.len(), 2, "Up and Down: {m:?}");
        for t in &m.tokens {
            assert!(text.contains(&format!("\"asset_id\":\"{}\"", t.token_id)), "{} of {} recorded", t.outcome, m.slug);
        }
        assert!(m.rules.is_some(), "its resolution rule is kept");
    }
}

/// A recording replayed by the simulator server: a client subscribing mid-replay gets snapshots
/// of the replay's state and, once the recording is exhausted, holds exactly the replay's books.
#[tokio::test]
async fn replays_a_recording_as_a_venue() {
    use polyfleet_polymarket::websocket::client::{self, WsConfig, WsEvent};
    use polyfleet_sim::replay::Replay;
    use tokio::sync::mpsc;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let live = server::serve(SimConfig::default(), "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 3000).await.unwrap();
    let tokens = live.tokens().await;
    let path = std::env::temp_dir().join(format!("polyfleet-replay-{}.jsonl", std::process::id()));
    let mut out = record::create(&path).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    record::record(
        live.market_ws_url(),
        tokens.clone(),
        None,
        None,
        &mut *out,
        Some(Duration::from_millis(1200)),
        stop,
    )
    .await
    .unwrap();
    drop(out);
    let lines: Vec<_> = record::Reader::read_all(&path, record::BadInput::Fail).unwrap().0;
    std::fs::remove_file(&path).unwrap();

    let replay = Replay::new(lines);
    let total = replay.remaining();
    assert!(total > 100);
    let venue = server::serve_source(Box::new(replay), "127.0.0.1:0".parse().unwrap(), 2000).await.unwrap();
    assert_eq!(venue.tokens().await.len(), tokens.len());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (tx, mut rx) = mpsc::channel(65536);
    let (_cmd, cmd_rx) = mpsc::channel(1);
    let (ws_stop_tx, ws_stop) = watch::channel(false);
    let client = tokio::spawn(client::run(WsConfig::new(venue.market_ws_url()), tokens.clone(), cmd_rx, tx, ws_stop));
    let mut norm = Normalizer::new(tokens.iter().copied());
    let mut actions = vec![];
    // Follow the replay for a while, then pause it and drain: the client must then hold exactly
    // the replay's books, however fast this machine replayed.
    let mut pump = |rx: &mut mpsc::Receiver<WsEvent>, norm: &mut Normalizer, until: tokio::time::Instant| {
        let mut got = 0;
        while let Ok(ev) = rx.try_recv() {
            if let WsEvent::Frame(f) = ev {
                norm.on_frame(f.as_bytes(), 0, &mut actions);
                got += 1;
            }
        }
        (got, tokio::time::Instant::now() < until)
    };
    let follow_until = tokio::time::Instant::now() + Duration::from_millis(600);
    while pump(&mut rx, &mut norm, follow_until).1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    venue.pause(true);
    let mut quiet = 0;
    while quiet < 10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (got, _) = pump(&mut rx, &mut norm, tokio::time::Instant::now());
        quiet = if got == 0 { quiet + 1 } else { 0 };
    }
    ws_stop_tx.send(true).unwrap();
    client.await.unwrap();
    assert!(norm.all_live());
    assert_eq!(norm.stats().hash_mismatches, 0, "{:?}", norm.stats());
    for t in &tokens {
        assert_eq!(norm.book(t).cloned(), venue.truth(t).await.map(|x| x.0), "book of {t}");
    }
}

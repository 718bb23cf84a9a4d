//! The live executor on its own, against the simulator's order API: shadow orders are built,
//! signed and compared with paper but never sent; the safety gates refuse live orders without
//! the Venue's acknowledgement or credentials; HTTP 425 (matching-engine restart) is retried
//! within the budget and reported when it lasts longer, order posts are then held (the venue not
//! called) until a probe, and the 2-minute post-only window after a restart refuses orders that
//! could take liquidity before the venue would; a batch of 16 goes out as 15 + 1; cancels that arrive together are one `DELETE /orders`; the
//! client-side rate limit makes a burst wait. Live conditional-token operations are signed
//! transactions on the simulator's chain (never a real one), refused without the acknowledgement
//! or an RPC endpoint. The balance and allowance pre-flight refuses what the account cannot pay
//! before anything is sent, and a venue refusal for balance or allowance drops the cached
//! reading so the next order is checked against a fresh one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::sync::Arc;
use std::time::Duration;

use polyfleet_agent::metrics::OrderPathMetrics;
use polyfleet_core::book::OrderBook;
use polyfleet_core::exec::paper::ExecEvent;
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::strategy::Instrument;
use polyfleet_core::wire::{MarketEvent, MarketEventBody, Mode, OrderIntent, OrderStatus, TimeInForce};
use polyfleet_core::{BookSide, ClientOrderId, ConditionId, Price, Quantity, Side, TokenId, TokenMap};
use polyfleet_io::execution::Executor;
use polyfleet_io::risk_store::memory::MemoryRiskStore;
use polyfleet_polymarket::common::LiveCredentials;
use polyfleet_polymarket::common::credentials::PRIVATE_KEY_VAR;
use polyfleet_polymarket::execution::{LiveExecutor, LiveSettings};
use polyfleet_polymarket::http::VenueLimits;
use polyfleet_polymarket::http::clob::{Venue, VenueError};
use polyfleet_sim::model::SimConfig;
use polyfleet_sim::server::SimHandle;
use polymarket_client_sdk_v2::types::Address;
use prometheus_client::encoding::text::encode;

const KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

fn creds() -> LiveCredentials {
    LiveCredentials::from_lookup(|k| (k == PRIVATE_KEY_VAR).then(|| KEY.to_string())).unwrap()
}

async fn sim() -> (SimHandle, ConditionId, TokenId, OrderBook) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = polyfleet_sim::server::serve(
        SimConfig { binary_markets: 1, ..SimConfig::default() },
        "127.0.0.1:0".parse().unwrap(),
        0,
    )
    .await
    .unwrap();
    let (market, token) = sim.with_model(|m| (m.markets()[0].condition, m.markets()[0].yes)).await.unwrap();
    let (book, _) = sim.truth(&token).await.unwrap();
    (sim, market, token, book)
}

fn settings(sim: &SimHandle, acknowledged: bool, report: Option<std::path::PathBuf>) -> LiveSettings {
    LiveSettings {
        venue: "sim".into(),
        acknowledged,
        clob_url: sim.http_url(),
        user_ws_url: sim.user_ws_url(),
        heartbeat_every: Duration::from_millis(500),
        limits: VenueLimits::default(),
        shadow_report: report,
        clock: polyfleet_agent::time::now_ns,
        polygon_rpc: Some(sim.rpc_url()),
        relayer_url: Some(sim.relayer_url()),
    }
}

/// A live executor with the test key, a fresh memory store and `metrics`.
async fn executor(
    settings: LiveSettings,
    instruments: TokenMap<Instrument>,
    metrics: &Arc<OrderPathMetrics>,
) -> LiveExecutor<MemoryRiskStore> {
    LiveExecutor::start(settings, instruments, Some(creds()), MemoryRiskStore::new(), metrics.clone()).await.unwrap()
}

fn instruments(market: ConditionId, token: TokenId) -> TokenMap<Instrument> {
    let i = Instrument { market, token, min_size: Quantity::from_shares(5).unwrap(), fees: FeeSchedule::FREE };
    [(token, i)].into_iter().collect()
}

fn intent(id: &str, market: ConditionId, token: TokenId, price: Price, mode: Mode) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "ns".into(),
        strategy: "s".into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        market,
        token,
        side: Side::Buy,
        price,
        size: Quantity::from_shares(5).unwrap(),
        tif: TimeInForce::Fok,
        post_only: false,
        mode,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 1_795_000_000_000_000_000 + id.len() as u64,
        outcome: None,
        kelly: None,
    }
}

fn snapshot(market: ConditionId, token: TokenId, book: &OrderBook) -> MarketEvent {
    MarketEvent {
        token,
        market,
        seq: 1,
        venue_ts_ms: 0,
        recv_ts_ns: 0,
        body: MarketEventBody::Snapshot {
            bids: book.levels(BookSide::Bid).cloned().collect(),
            asks: book.levels(BookSide::Ask).cloned().collect(),
            tick: book.tick(),
            hash: None,
        },
    }
}

fn status(events: &[ExecEvent]) -> (OrderStatus, Option<String>) {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            ExecEvent::Update(u) => Some((u.status, u.reason.clone())),
            _ => None,
        })
        .unwrap()
}

fn metrics_text(m: &OrderPathMetrics) -> String {
    let mut out = String::new();
    encode(&mut out, polyfleet_io::probes::Probe::registry(m)).unwrap();
    out
}

#[tokio::test]
async fn shadow_orders_are_signed_and_compared_but_never_sent() {
    let (sim, market, token, book) = sim().await;
    let report = std::env::temp_dir().join(format!("polyfleet-shadow-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let metrics = OrderPathMetrics::new("test");
    let mut ex = LiveExecutor::start(
        settings(&sim, true, Some(report.clone())),
        instruments(market, token),
        Some(creds()),
        MemoryRiskStore::new(),
        metrics.clone(),
    )
    .await
    .unwrap();
    ex.on_market(&snapshot(market, token, &book), 1);
    let ask = book.best_ask().unwrap().price;
    let events = ex.submit(&intent("shadow-1", market, token, ask, Mode::Shadow), 2).await;
    assert_eq!(status(&events).0, OrderStatus::Filled, "paper filled it");
    assert_eq!(sim.order_posts(), 0, "a shadow order is never sent");
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&report).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(line["verdict"], "agree", "{line}");
    assert_eq!(line["paper_status"], "filled");
    assert!(line["venue_order_id"].as_str().unwrap().starts_with("0x"));
    assert_eq!(line["signed_price"], ask.to_string());
    assert!(metrics_text(&metrics).contains(r#"test_shadow_orders_total{kind="agree"} 1"#));
    // Without credentials it is still paper-traded, reported unsigned.
    let mut unsigned = LiveExecutor::start(
        settings(&sim, false, None),
        instruments(market, token),
        None,
        MemoryRiskStore::new(),
        OrderPathMetrics::new("u"),
    )
    .await
    .unwrap();
    unsigned.on_market(&snapshot(market, token, &book), 1);
    let events = unsigned.submit(&intent("shadow-2", market, token, ask, Mode::Shadow), 2).await;
    assert_eq!(status(&events).0, OrderStatus::Filled);
    let _ = std::fs::remove_file(&report);
}

async fn set_allowance(sim: &SimHandle, micros: Option<i64>) {
    let address = creds().address();
    let q = micros.map(|m| format!("&micros={m}")).unwrap_or_default();
    let url = format!("{}/sim/faults/allowance?address={address}{q}", sim.http_url());
    let r = reqwest::Client::new().post(url).send().await.unwrap();
    assert!(r.status().is_success(), "{r:?}");
}

#[tokio::test]
async fn the_balance_and_allowance_pre_flight_refuses_what_the_account_cannot_pay() {
    let (sim, market, token, book) = sim().await;
    let ask = book.best_ask().unwrap().price;
    let metrics = OrderPathMetrics::new("funds");
    let mut ex = executor(settings(&sim, true, None), instruments(market, token), &metrics).await;
    ex.on_market(&snapshot(market, token, &book), 1);
    // An allowance of 1 USDC: a 5-share buy is refused before it is sent.
    set_allowance(&sim, Some(1_000_000)).await;
    let (st, reason) = status(&ex.submit(&intent("funds-1", market, token, ask, Mode::Live), 1).await);
    assert_eq!(st, OrderStatus::Rejected);
    let reason = reason.unwrap();
    assert!(reason.contains("pre-flight: not enough allowance of collateral: 1 available"), "{reason}");
    assert_eq!(sim.order_posts(), 0, "nothing was sent");
    // A sell of shares the account does not hold: refused the same way.
    let sell = OrderIntent { side: Side::Sell, ..intent("funds-2", market, token, ask, Mode::Live) };
    let (st, reason) = status(&ex.submit(&sell, 1).await);
    assert_eq!(st, OrderStatus::Rejected);
    assert!(reason.unwrap().contains(&format!("not enough balance of token {token}: 0 available")));
    assert_eq!(sim.order_posts(), 0);
    // A fresh executor (no cached reading) with the allowance restored: the buy goes and fills.
    set_allowance(&sim, None).await;
    let mut ex = executor(settings(&sim, true, None), instruments(market, token), &metrics).await;
    ex.on_market(&snapshot(market, token, &book), 1);
    let (st, _) = status(&ex.submit(&intent("funds-3", market, token, ask, Mode::Live), 1).await);
    assert_eq!(st, OrderStatus::Filled);
    assert_eq!(sim.order_posts(), 1);
    // The allowance drops behind the executor's back: its cached reading passes the order, the
    // venue refuses it, and the reading is dropped: the next order is refused before it is sent.
    set_allowance(&sim, Some(1_000_000)).await;
    let (st, reason) = status(&ex.submit(&intent("funds-4", market, token, ask, Mode::Live), 1).await);
    assert_eq!(st, OrderStatus::Rejected);
    assert!(reason.unwrap().contains("not enough balance / allowance"));
    assert_eq!(sim.order_posts(), 2, "sent on the old reading, refused by the venue");
    let (st, reason) = status(&ex.submit(&intent("funds-5", market, token, ask, Mode::Live), 1).await);
    assert_eq!(st, OrderStatus::Rejected);
    assert!(reason.unwrap().contains("pre-flight"));
    assert_eq!(sim.order_posts(), 2, "refused before it was sent");
    let text = metrics_text(&metrics);
    assert!(text.contains(r#"funds_live_refused_total{kind="preflight"} 3"#), "{text}");
}

#[tokio::test]
async fn live_orders_need_the_acknowledgement_and_credentials() {
    let (sim, market, token, book) = sim().await;
    let ask = book.best_ask().unwrap().price;
    let metrics = OrderPathMetrics::new("gates");
    let mut not_acked = executor(settings(&sim, false, None), instruments(market, token), &metrics).await;
    let (st, reason) = status(&not_acked.submit(&intent("gate-1", market, token, ask, Mode::Live), 1).await);
    assert_eq!(st, OrderStatus::Rejected);
    assert!(reason.unwrap().contains("not acknowledged"));
    let mut no_creds = LiveExecutor::start(
        settings(&sim, true, None),
        instruments(market, token),
        None,
        MemoryRiskStore::new(),
        metrics.clone(),
    )
    .await
    .unwrap();
    let (st, reason) = status(&no_creds.submit(&intent("gate-2", market, token, ask, Mode::Live), 1).await);
    assert_eq!(st, OrderStatus::Rejected);
    assert!(reason.unwrap().contains("no trading credentials"));
    assert_eq!(sim.order_posts(), 0, "nothing reached the venue");
    let text = metrics_text(&metrics);
    assert!(
        text.contains(r#"gates_live_refused_total{kind="not_acknowledged"} 1"#)
            && text.contains(r#"gates_live_refused_total{kind="no_credentials"} 1"#),
        "{text}"
    );
}

/// Added to the wall clock by [`skewed`]: the restart test moves its venue client's time on.
static SKEW_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn skewed() -> u64 {
    polyfleet_agent::time::now_ns() + SKEW_NS.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn engine_restarts_are_retried_held_and_followed_by_a_post_only_window_batches_split_and_bursts_wait() {
    let (sim, market, token, book) = sim().await;
    let low = Price::from_ticks(book.best_bid().unwrap().price.ticks() - 5 * book.tick().ticks()).unwrap();
    let metrics = OrderPathMetrics::new("venue");
    let limits = VenueLimits {
        orders_per_second: 10,
        orders_burst: 5,
        retry_budget: Duration::from_secs(3),
        ..VenueLimits::default()
    };
    let venue = Venue::connect(&sim.http_url(), Arc::new(creds()), limits, metrics.clone(), skewed).await.unwrap();
    let gtc =
        |id: &str| OrderIntent { tif: TimeInForce::Gtc, post_only: true, ..intent(id, market, token, low, Mode::Live) };

    // A 425 for a second: retried, then accepted.
    sim.engine_restart(1_000);
    let built = venue.build(&gtc("restart-1")).await.unwrap();
    venue.post(&built).await.unwrap();
    assert!(
        metrics_text(&metrics).contains(r#"venue_venue_calls_total{endpoint="post_order",result="engine_restart"}"#)
    );
    // The post-only window follows: an order that could take liquidity is refused before the
    // venue is called; post-only ones go; two minutes later everything goes again.
    let plain = OrderIntent { post_only: false, ..gtc("window-1") };
    let built = venue.build(&plain).await.unwrap();
    let posts = sim.order_posts();
    let err = venue.post(&built).await.unwrap_err();
    assert!(
        matches!(err, VenueError::Refused { status: 425, .. }) && err.to_string().contains("post-only window"),
        "{err}"
    );
    assert_eq!(sim.order_posts(), posts, "the venue was not called");
    venue.post(&venue.build(&gtc("window-2")).await.unwrap()).await.unwrap();
    // In a batch only the order that could take liquidity is refused; the post-only one goes.
    let mixed = [venue.build(&OrderIntent { post_only: false, ..gtc("window-3") }).await.unwrap(), {
        venue.build(&gtc("window-4")).await.unwrap()
    }];
    let replies = venue.post_batch(&mixed).await;
    assert!(matches!(&replies[0], Err(VenueError::Refused { status: 425, .. })), "{replies:?}");
    assert!(replies[1].is_ok(), "{replies:?}");
    assert_eq!(sim.order_posts(), posts + 2, "window-2 and window-4 sent, window-3 not");
    SKEW_NS.fetch_add(121_000_000_000, std::sync::atomic::Ordering::SeqCst);
    venue.post(&built).await.unwrap();
    // Longer than the budget: reported, not hidden; then posts are held without calling the
    // venue until the hold ends and one probes.
    sim.engine_restart(10_000);
    let built = venue.build(&gtc("restart-2")).await.unwrap();
    let err = venue.post(&built).await.unwrap_err();
    assert!(matches!(err, VenueError::Unavailable { status: 425, .. }), "{err}");
    let posts = sim.order_posts();
    let held = venue.post(&venue.build(&gtc("restart-3")).await.unwrap()).await.unwrap_err();
    assert!(matches!(held, VenueError::Unavailable { status: 425, budget_ms: 0, .. }), "{held}");
    assert_eq!(sim.order_posts(), posts, "held, not sent");
    assert!(metrics_text(&metrics).contains(r#"result="held_engine_restart"}"#));
    sim.engine_restart(0);
    SKEW_NS.fetch_add(11_000_000_000, std::sync::atomic::Ordering::SeqCst);

    // 16 orders: two requests (15 + 1), one answer each, and the bucket (burst 5) made them wait.
    let mut orders = vec![];
    for i in 0..16 {
        orders.push(venue.build(&gtc(&format!("batch-{i}"))).await.unwrap());
    }
    let posts = sim.order_posts();
    let replies = venue.post_batch(&orders).await;
    assert_eq!(replies.len(), 16);
    assert!(replies.iter().all(Result::is_ok), "{replies:?}");
    assert_eq!(sim.order_posts() - posts, 16);
    let text = metrics_text(&metrics);
    // The mixed batch's request and these two.
    assert!(text.contains(r#"venue_venue_calls_total{endpoint="post_orders",result="ok"} 3"#), "{text}");
    assert!(!text.contains("venue_rate_limit_waits_total 0"), "the burst waited for tokens: {text}");
    // The same order again is a duplicate at the venue, never a second order.
    let again = venue.post(&orders[0]).await.unwrap_err();
    assert!(again.is_duplicate(), "{again}");
    assert_eq!(sim.duplicate_posts(), 1);
    let (cancelled, refused) = venue.cancel(&orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>()).await.unwrap();
    assert_eq!((cancelled.len(), refused.len()), (16, 0));
}

fn ctf_intent(id: &str, op: polyfleet_core::wire::CtfOp, mode: Mode) -> polyfleet_core::wire::CtfIntent {
    polyfleet_core::wire::CtfIntent {
        id: ClientOrderId::new(id).unwrap(),
        namespace: "ns".into(),
        strategy: "s".into(),
        risk_policy: "rp".into(),
        venue: "sim".into(),
        op,
        mode,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: 1,
    }
}

#[tokio::test]
async fn live_conditional_token_operations_are_transactions_on_the_simulated_chain() {
    use polyfleet_core::wire::CtfOp;
    let (sim, market, yes, _) = sim().await;
    let no = sim.with_model(|m| m.markets()[0].no).await.unwrap();
    let who = creds().address();
    let wallet = || async { sim.balances(who, &[yes, no]).await };
    let (start, _) = wallet().await;
    let shares = |n: u64| Quantity::from_shares(n).unwrap();
    let usdc = |n: i128| n * 1_000_000;
    let metrics = OrderPathMetrics::new("test");
    let mut ex = executor(settings(&sim, true, None), instruments(market, yes), &metrics).await;
    let split = CtfOp::Split { market, tokens: [yes, no], size: shares(5) };
    ex.ctf(&ctf_intent("split-1", split, Mode::Live), 1).await.unwrap();
    assert_eq!(wallet().await, (start - usdc(5), vec![usdc(5), usdc(5)]));
    let merge = |n| CtfOp::Merge { market, tokens: [yes, no], size: shares(n) };
    ex.ctf(&ctf_intent("merge-1", merge(2), Mode::Live), 2).await.unwrap();
    assert_eq!(wallet().await, (start - usdc(3), vec![usdc(3), usdc(3)]));
    // The chain refuses what the wallet cannot do; nothing moves and the reason is the contract's.
    let err = ex.ctf(&ctf_intent("merge-2", merge(9), Mode::Live), 3).await.unwrap_err();
    assert!(err.contains("insufficient outcome token balance"), "{err}");
    assert_eq!(wallet().await, (start - usdc(3), vec![usdc(3), usdc(3)]));
    assert_eq!(sim.transactions_mined().await, 2);
    // Resolved YES: the redemption pays the 3 YES, the NO are burnt worthless.
    assert!(sim.resolve(0, true).await);
    let redeem = CtfOp::Redeem { market, token: yes, size: shares(3) };
    ex.ctf(&ctf_intent("redeem-1", redeem.clone(), Mode::Live), 4).await.unwrap();
    assert_eq!(wallet().await, (start, vec![0, 0]));
    // Paper operations never touch the chain.
    ex.ctf(&ctf_intent("paper-1", merge(1), Mode::Paper), 5).await.unwrap();
    assert_eq!(sim.transactions_mined().await, 3);
    drop(ex);

    // Without the acknowledgement, or without an RPC endpoint, live operations are refused
    // before anything is sent.
    let mut ex = executor(settings(&sim, false, None), instruments(market, yes), &metrics).await;
    let err = ex.ctf(&ctf_intent("redeem-2", redeem.clone(), Mode::Live), 6).await.unwrap_err();
    assert!(err.contains("not acknowledged"), "{err}");
    drop(ex);
    let mut no_rpc = settings(&sim, true, None);
    no_rpc.polygon_rpc = None;
    let mut ex = executor(no_rpc, instruments(market, yes), &metrics).await;
    let err = ex.ctf(&ctf_intent("redeem-3", redeem, Mode::Live), 7).await.unwrap_err();
    assert!(err.contains("polygonRpc"), "{err}");
    assert_eq!(sim.transactions_mined().await, 3);
}

/// A NO basket converts live: the executor finds the event's neg-risk market id and the index
/// set from each NO token's market (its question id at the CLOB), and the adapter on the
/// simulated chain burns the NOs and pays n − 1 USDC a unit.
#[tokio::test]
async fn a_live_conversion_finds_its_event_and_outcomes_at_the_clob() {
    use polyfleet_core::wire::CtfOp;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig { binary_markets: 0, neg_risk_events: vec![3], ..SimConfig::default() };
    let sim = polyfleet_sim::server::serve(cfg, "127.0.0.1:0".parse().unwrap(), 0).await.unwrap();
    let markets = sim.with_model(|m| m.markets().to_vec()).await.unwrap();
    let instruments: TokenMap<Instrument> = markets
        .iter()
        .flat_map(|m| [m.yes, m.no].map(|token| (token, instruments(m.condition, token)[&token])))
        .collect();
    let who = creds().address();
    let nos: Vec<TokenId> = markets.iter().map(|m| m.no).collect();
    let (start, _) = sim.balances(who, &[]).await;
    let shares = |n: u64| Quantity::from_shares(n).unwrap();
    let metrics = OrderPathMetrics::new("convert");
    let mut ex = executor(settings(&sim, true, None), instruments, &metrics).await;
    for (k, m) in markets.iter().enumerate() {
        let split = CtfOp::Split { market: m.condition, tokens: [m.yes, m.no], size: shares(4) };
        ex.ctf(&ctf_intent(&format!("split-{k}"), split, Mode::Live), 1).await.unwrap();
    }
    let basket = CtfOp::Convert { no_tokens: nos.clone(), yes_tokens: vec![], size: shares(4), fee_bips: 0 };
    ex.ctf(&ctf_intent("convert-1", basket, Mode::Live), 2).await.unwrap();
    let (cash, held) = sim.balances(who, &nos).await;
    assert_eq!((start - cash, held), (4_000_000, vec![0, 0, 0]), "12 USDC split, 8 converted back");
    // A YES token is not a NO the adapter could take: refused before anything is sent.
    let wrong =
        CtfOp::Convert { no_tokens: vec![markets[0].yes, nos[1]], yes_tokens: vec![], size: shares(1), fee_bips: 0 };
    let err = ex.ctf(&ctf_intent("convert-2", wrong, Mode::Live), 3).await.unwrap_err();
    assert!(err.contains("is not the NO token"), "{err}");
    assert_eq!(sim.transactions_mined().await, 4);
}

/// A simulator with one binary market and a 3-outcome event, and every token's instrument.
async fn chain_sim() -> (SimHandle, Vec<polyfleet_sim::SimMarket>, TokenMap<Instrument>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig { binary_markets: 1, neg_risk_events: vec![3], ..SimConfig::default() };
    let sim = polyfleet_sim::server::serve(cfg, "127.0.0.1:0".parse().unwrap(), 0).await.unwrap();
    let markets = sim.with_model(|m| m.markets().to_vec()).await.unwrap();
    let all: TokenMap<Instrument> = markets
        .iter()
        .flat_map(|m| [m.yes, m.no].map(|token| (token, instruments(m.condition, token)[&token])))
        .collect();
    (sim, markets, all)
}

/// Live credentials of the test key with `signature_type`, a funder address and a relayer key.
fn wallet_creds(signature_type: &str, funder: Option<Address>, key: Option<String>) -> LiveCredentials {
    use polyfleet_polymarket::common::credentials::{FUNDER_VAR, RELAYER_API_KEY_VAR, SIGNATURE_TYPE_VAR};
    LiveCredentials::from_lookup(|k| match k {
        PRIVATE_KEY_VAR => Some(KEY.to_string()),
        SIGNATURE_TYPE_VAR => Some(signature_type.into()),
        FUNDER_VAR => funder.map(|f| format!("{f:#x}")),
        RELAYER_API_KEY_VAR => key.clone(),
        _ => None,
    })
    .unwrap()
}

async fn wallet_executor(
    sim: &SimHandle,
    all: &TokenMap<Instrument>,
    c: LiveCredentials,
) -> LiveExecutor<MemoryRiskStore> {
    let metrics = OrderPathMetrics::new("wallet");
    LiveExecutor::start(settings(sim, true, None), all.clone(), Some(c), MemoryRiskStore::new(), metrics).await.unwrap()
}

/// An account whose tokens sit in `holder` (its Safe, proxy or deposit wallet) operates through
/// the relayer: split 5 and merge 2 on the binary market, a merge of more than the wallet holds
/// refused unsent by the dry run from the wallet, each outcome of the event split 4 and the NO
/// basket converted (8 USDC back). The wallet's balances move; the signer's own do not.
async fn operations_move_the_wallets_tokens(
    sim: &SimHandle,
    markets: &[polyfleet_sim::SimMarket],
    ex: &mut LiveExecutor<MemoryRiskStore>,
    holder: Address,
) {
    use polyfleet_core::wire::CtfOp;
    let owner = creds().address();
    let (binary, event) = (&markets[0], &markets[1..]);
    let shares = |n: u64| Quantity::from_shares(n).unwrap();
    let usdc = |n: i128| n * 1_000_000;
    let mined = sim.transactions_mined().await;
    let (holder_start, _) = sim.balances(holder, &[]).await;
    let (owner_start, _) = sim.balances(owner, &[]).await;
    let split = CtfOp::Split { market: binary.condition, tokens: [binary.yes, binary.no], size: shares(5) };
    ex.ctf(&ctf_intent("split-1", split, Mode::Live), 1).await.unwrap();
    let merge = |n| CtfOp::Merge { market: binary.condition, tokens: [binary.yes, binary.no], size: shares(n) };
    ex.ctf(&ctf_intent("merge-1", merge(2), Mode::Live), 2).await.unwrap();
    let pair = [binary.yes, binary.no];
    assert_eq!(sim.balances(holder, &pair).await, (holder_start - usdc(3), vec![usdc(3), usdc(3)]));
    assert_eq!(sim.balances(owner, &pair).await, (owner_start, vec![0, 0]), "the signer's own wallet is untouched");
    // More than the wallet holds: the dry run from the wallet refuses it with the contract's reason.
    let err = ex.ctf(&ctf_intent("merge-2", merge(9), Mode::Live), 3).await.unwrap_err();
    assert!(err.contains("insufficient outcome token balance"), "{err}");
    assert_eq!(sim.transactions_mined().await, mined + 2);
    // The neg-risk adapter through the relayer: split each outcome, convert the NO basket.
    for (k, m) in event.iter().enumerate() {
        let split = CtfOp::Split { market: m.condition, tokens: [m.yes, m.no], size: shares(4) };
        ex.ctf(&ctf_intent(&format!("split-n{k}"), split, Mode::Live), 4).await.unwrap();
    }
    let nos: Vec<TokenId> = event.iter().map(|m| m.no).collect();
    let basket = CtfOp::Convert { no_tokens: nos.clone(), yes_tokens: vec![], size: shares(4), fee_bips: 0 };
    ex.ctf(&ctf_intent("convert-1", basket, Mode::Live), 5).await.unwrap();
    let (cash, held) = sim.balances(holder, &nos).await;
    assert_eq!((holder_start - usdc(3) - cash, held), (usdc(4), vec![0, 0, 0]), "12 USDC split, 8 converted back");
    assert_eq!(sim.transactions_mined().await, mined + 6);
    assert_eq!(sim.balances(owner, &[]).await.0, owner_start, "nothing taken from the signer");
}

/// A Safe account (signature type 2) holds its tokens in its Safe: its operations go out as Safe
/// transactions signed by the owner and sent by the relayer, and move the Safe's balances, not
/// the signer's. A wrong relayer key is refused by the relayer; without a key nothing is tried.
#[tokio::test]
async fn a_safe_accounts_operations_go_through_the_relayer_and_move_the_safes_tokens() {
    use polyfleet_core::wire::CtfOp;
    let (sim, markets, all) = chain_sim().await;
    let owner = creds().address();
    let safe = polymarket_client_sdk_v2::derive_safe_wallet(owner, polymarket_client_sdk_v2::POLYGON).unwrap();
    let key = Some(polyfleet_sim::relayer::api_key(&owner));
    let mut ex = wallet_executor(&sim, &all, wallet_creds("2", None, key)).await;
    operations_move_the_wallets_tokens(&sim, &markets, &mut ex, safe).await;
    let binary = &markets[0];
    // The order pre-flight reads the Safe's balances too (the SDK sends the signature type, the
    // venue answers for the funder): a sell of the 3 YES the Safe holds passes it.
    let (book, _) = sim.truth(&binary.yes).await.unwrap();
    ex.on_market(&snapshot(binary.condition, binary.yes, &book), 1);
    let bid = book.best_bid().unwrap().price;
    let sell = OrderIntent {
        side: Side::Sell,
        size: Quantity::from_shares(3).unwrap(),
        ..intent("safe-sell", binary.condition, binary.yes, bid, Mode::Live)
    };
    let (st, reason) = status(&ex.submit(&sell, 1).await);
    assert!(!reason.as_deref().unwrap_or_default().contains("pre-flight"), "{st:?} {reason:?}");
    assert_eq!(sim.order_posts(), 1, "sent to the venue");
    drop(ex);

    let merge = CtfOp::Merge {
        market: binary.condition,
        tokens: [binary.yes, binary.no],
        size: Quantity::from_shares(1).unwrap(),
    };
    let pair = [binary.yes, binary.no];
    let before = sim.balances(safe, &pair).await;
    // A key the relayer did not issue to the owner: refused by the relayer, nothing mined.
    let forged = Some("00000000-0000-0000-0000-000000000000".to_string());
    let mut ex = wallet_executor(&sim, &all, wallet_creds("2", None, forged)).await;
    let err = ex.ctf(&ctf_intent("merge-3", merge.clone(), Mode::Live), 6).await.unwrap_err();
    assert!(err.contains("invalid relayer API key"), "{err}");
    drop(ex);
    // No key at all: not tried.
    let mut ex = wallet_executor(&sim, &all, wallet_creds("2", None, None)).await;
    let err = ex.ctf(&ctf_intent("merge-4", merge, Mode::Live), 7).await.unwrap_err();
    assert!(err.contains("relayerApiKey"), "{err}");
    assert_eq!(sim.transactions_mined().await, 6);
    assert_eq!(sim.balances(safe, &pair).await, before, "nothing moved");
}

/// A proxy account (signature type 1, Magic/email): its operations go out as the proxy wallet
/// factory's `proxy(calls)`, signed for the relay hub with the relay and nonce the relayer gives,
/// and move the proxy wallet's balances (the one the SDK derives from the signer).
#[tokio::test]
async fn a_proxy_accounts_operations_go_through_the_relayer_and_move_the_proxy_wallets_tokens() {
    let (sim, markets, all) = chain_sim().await;
    let owner = creds().address();
    let proxy = polymarket_client_sdk_v2::derive_proxy_wallet(owner, polymarket_client_sdk_v2::POLYGON).unwrap();
    let key = Some(polyfleet_sim::relayer::api_key(&owner));
    let mut ex = wallet_executor(&sim, &all, wallet_creds("1", None, key)).await;
    operations_move_the_wallets_tokens(&sim, &markets, &mut ex, proxy).await;
}

/// A deposit wallet account (signature type 3, its wallet the funder address): its operations go
/// out as EIP-712 batches signed by the owner under the wallet's domain, and move the deposit
/// wallet's balances.
#[tokio::test]
async fn a_deposit_wallet_accounts_operations_go_through_the_relayer_and_move_the_wallets_tokens() {
    let (sim, markets, all) = chain_sim().await;
    let owner = creds().address();
    let wallet = Address::repeat_byte(0xd3);
    let key = Some(polyfleet_sim::relayer::api_key(&owner));
    let mut ex = wallet_executor(&sim, &all, wallet_creds("3", Some(wallet), key)).await;
    operations_move_the_wallets_tokens(&sim, &markets, &mut ex, wallet).await;
}

/// Cancels that arrive together (a requote's) go to the venue as one `DELETE /orders`.
#[tokio::test]
async fn cancels_that_arrive_together_are_one_venue_request() {
    let (sim, market, token, book) = sim().await;
    let low = Price::from_ticks(book.best_bid().unwrap().price.ticks() - 5 * book.tick().ticks()).unwrap();
    let metrics = OrderPathMetrics::new("batch");
    let mut ex = executor(settings(&sim, true, None), instruments(market, token), &metrics).await;
    let mut orders = vec![];
    for i in 0..3 {
        let id = format!("rest-{i}");
        let o = OrderIntent { tif: TimeInForce::Gtc, post_only: true, ..intent(&id, market, token, low, Mode::Live) };
        let (st, why) = status(&ex.submit(&o, 1).await);
        assert_eq!(st, OrderStatus::Resting, "{why:?}");
        orders.push((o.client_order_id, "requote".to_string()));
    }
    let events = ex.cancel_many(&orders, 2).await;
    let cancelled: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Update(u) if u.status == OrderStatus::Cancelled => Some(u.client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, orders.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    let text = metrics_text(&metrics);
    assert!(text.contains(r#"batch_venue_calls_total{endpoint="cancel_orders",result="ok"} 1"#), "{text}");
}

/// Orders that arrive together: the live ones go to the venue in one `POST /orders` (each
/// pre-flighted and recorded first), a paper one is matched on the paper engine, the one the
/// venue refuses is refused alone, and each order gets its own events.
#[tokio::test]
async fn orders_that_arrive_together_are_one_venue_request() {
    let (sim, market, token, book) = sim().await;
    let low = Price::from_ticks(book.best_bid().unwrap().price.ticks() - 5 * book.tick().ticks()).unwrap();
    let metrics = OrderPathMetrics::new("placed");
    let mut ex = executor(settings(&sim, true, None), instruments(market, token), &metrics).await;
    ex.on_market(&snapshot(market, token, &book), 1);
    let resting =
        |id: &str, mode| OrderIntent { tif: TimeInForce::Gtc, post_only: true, ..intent(id, market, token, low, mode) };
    let intents = [
        resting("quote-0", Mode::Live),
        resting("quote-1", Mode::Paper),
        resting("quote-2", Mode::Live),
        OrderIntent { size: Quantity::from_shares(1).unwrap(), ..resting("quote-3", Mode::Live) },
        resting("quote-4", Mode::Live),
    ];
    let posts = sim.order_posts();
    let results = ex.submit_many(&intents, 2).await;
    assert_eq!(results.len(), intents.len());
    let statuses: Vec<(OrderStatus, Option<String>)> = results.iter().map(|r| status(r)).collect();
    for (k, (st, why)) in statuses.iter().enumerate() {
        let expected = if k == 3 { OrderStatus::Rejected } else { OrderStatus::Resting };
        assert_eq!(*st, expected, "order {k}: {why:?}");
        for e in &results[k] {
            let id = match e {
                ExecEvent::Update(u) => u.client_order_id,
                ExecEvent::Fill(f) => f.client_order_id,
            };
            assert_eq!(id, intents[k].client_order_id, "each order gets its own events");
        }
    }
    // The venue refused the order under the market's minimum size; the batch's others stand.
    assert!(statuses[3].1.as_deref().unwrap_or("").contains("minimum"), "{:?}", statuses[3]);
    assert_eq!(sim.order_posts() - posts, 4, "the four live orders reached the venue");
    assert_eq!(sim.open_orders().await, 3);
    let text = metrics_text(&metrics);
    assert!(text.contains(r#"placed_venue_calls_total{endpoint="post_orders",result="ok"} 1"#), "{text}");
    assert!(!text.contains(r#"endpoint="post_order","#), "no single posts: {text}");
}

/// In a batch each order's pre-flight counts the orders before it: with an allowance for two
/// resting bids, the third of a batch is refused before anything is sent, and the two go in one
/// request.
#[tokio::test]
async fn a_batchs_pre_flight_counts_the_orders_before_each() {
    let (sim, market, token, book) = sim().await;
    let low = Price::from_ticks(book.best_bid().unwrap().price.ticks() - 5 * book.tick().ticks()).unwrap();
    let cost = low.notional(Quantity::from_shares(5).unwrap(), polyfleet_core::money::Rounding::Up).unwrap().micros();
    set_allowance(&sim, Some(2 * cost + cost / 2)).await;
    let metrics = OrderPathMetrics::new("batchfunds");
    let mut ex = executor(settings(&sim, true, None), instruments(market, token), &metrics).await;
    ex.on_market(&snapshot(market, token, &book), 1);
    let bid =
        |id: &str| OrderIntent { tif: TimeInForce::Gtc, post_only: true, ..intent(id, market, token, low, Mode::Live) };
    let results = ex.submit_many(&[bid("fund-0"), bid("fund-1"), bid("fund-2")], 2).await;
    let statuses: Vec<_> = results.iter().map(|r| status(r)).collect();
    assert_eq!(statuses[0].0, OrderStatus::Resting, "{statuses:?}");
    assert_eq!(statuses[1].0, OrderStatus::Resting, "{statuses:?}");
    assert_eq!(statuses[2].0, OrderStatus::Rejected, "{statuses:?}");
    assert!(statuses[2].1.as_deref().unwrap_or("").contains("pre-flight"), "{statuses:?}");
    assert_eq!(sim.order_posts(), 2);
    let text = metrics_text(&metrics);
    assert!(text.contains(r#"batchfunds_venue_calls_total{endpoint="post_orders",result="ok"} 1"#), "{text}");
}

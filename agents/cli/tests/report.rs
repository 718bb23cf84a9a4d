//! `polyfleet report` end to end on a journal it did not write: 45 days of a strategy's round
//! trips written into an SQLite journal through the journal's own store (with a repeated
//! delivery, a fill that FAILED after matching, a fill before the period, decisions and trace
//! ids), reported by the `polyfleet` binary. Each day's PnL is the reference series whose ratios
//! `scripts/verify/ratios.py` computed with numpy and pandas: the report's Sharpe, Sortino and
//! Calmar match them to 1e-9. Its HTML page is opened in headless Chromium, which must render it
//! with every chart drawn by plotly (`chromium` from scripts/setup.sh; under CI a missing Chromium
//! fails the test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::process::Command;

use polyfleet_core::analytics::ratios::reference::{DAILY, NUMPY};
use polyfleet_core::wire::{
    Fill, FillStatus, Liquidity, Mode, OrderIntent, RejectReason, RiskDecision, TimeInForce, Verdict,
};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_journal::{JournalStore, Record};
use polyfleet_testkit::normal::Normal;
use serde_json::Value;

mod page;

const DAY_NS: u64 = 86_400_000_000_000;
/// 2026-10-01T00:00:00Z.
const START_NS: u64 = 1_790_812_800_000_000_000;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn fill(id: &str, side: Side, ticks: u32, fee: i64, ts_ns: u64) -> Fill {
    Fill {
        fill_id: id.into(),
        client_order_id: ClientOrderId::new(id).unwrap(),
        namespace: "desk".into(),
        strategy: "mm".into(),
        risk_policy: "default".into(),
        market: ConditionId::from_bytes([9; 32]),
        token: TokenId::from_u128(91),
        side,
        price: Price::from_ticks(ticks).unwrap(),
        size: Quantity::from_micros(1_000_000_000),
        fee: Money::from_micros(fee),
        liquidity: if side == Side::Buy { Liquidity::Maker } else { Liquidity::Taker },
        status: FillStatus::Matched,
        mode: Mode::Paper,
        ts_ns,
    }
}

/// An order of `mm` in `desk`: 1000 shares of token 91 bought at 0.50, created at `ts_ns`.
fn order(id: &str, ts_ns: u64) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        group: None,
        namespace: "desk".into(),
        strategy: "mm".into(),
        risk_policy: "default".into(),
        venue: "sim".into(),
        market: ConditionId::from_bytes([9; 32]),
        token: TokenId::from_u128(91),
        side: Side::Buy,
        price: Price::from_ticks(5000).unwrap(),
        size: Quantity::from_micros(1_000_000_000),
        tif: TimeInForce::Gtc,
        post_only: false,
        mode: Mode::Paper,
        cause_seq: 0,
        cause_recv_ts_ns: 0,
        created_ts_ns: ts_ns,
        outcome: None,
        kelly: None,
    }
}

fn decision(id: &str, verdict: Verdict, ts_ns: u64) -> RiskDecision {
    RiskDecision { intent: order(id, ts_ns), verdict, decided_ts_ns: ts_ns }
}

/// The journal: before the period, a position bought and sold flat; then each day a round trip
/// of 1000 shares, bought at 0.50 and sold so that the day's PnL (after the sell's fee) is
/// `DAILY[d]` exactly.
async fn write_journal(url: &str) {
    let journal = SqlJournal::open(url).await.unwrap();
    let mut records = vec![];
    let before = START_NS - 3 * DAY_NS;
    records.push(Record::fill(&fill("pre-buy", Side::Buy, 4000, 0, before), None).unwrap());
    records.push(Record::fill(&fill("pre-sell", Side::Sell, 4100, 0, before + 1), None).unwrap());
    for (d, pnl) in DAILY.iter().enumerate() {
        let day = START_NS + d as u64 * DAY_NS;
        // 1000 shares move 0.1 USDC a tick: the smallest move at or above the PnL, the rest a fee.
        let ticks = pnl.div_euclid(100_000) + i64::from(pnl.rem_euclid(100_000) != 0);
        let fee = ticks * 100_000 - pnl;
        let sell_price = u32::try_from(5000 + ticks).unwrap();
        let buy = fill(&format!("b{d}"), Side::Buy, 5000, 0, day + 10 * 3_600_000_000_000);
        let sell = fill(&format!("s{d}"), Side::Sell, sell_price, fee, day + 15 * 3_600_000_000_000);
        records.push(Record::fill(&buy, Some(TRACE.into())).unwrap());
        records.push(Record::fill(&sell, None).unwrap());
        records.push(Record::decision(&decision(&format!("b{d}"), Verdict::Approved, buy.ts_ns - 1), None).unwrap());
    }
    // A fill that matched and then FAILED on day 3: taken back entirely.
    let ghost = fill("ghost", Side::Sell, 5000, 0, START_NS + 3 * DAY_NS + 16 * 3_600_000_000_000);
    let bought = fill("ghost-leg", Side::Buy, 5000, 0, ghost.ts_ns - 1);
    records.push(Record::fill(&bought, None).unwrap());
    records.push(Record::fill(&ghost, None).unwrap());
    records.push(
        Record::fill(&Fill { status: FillStatus::Failed, ts_ns: ghost.ts_ns + 5, ..ghost.clone() }, None).unwrap(),
    );
    records.push(
        Record::fill(
            &Fill {
                side: Side::Sell,
                price: Price::from_ticks(5000).unwrap(),
                fill_id: "ghost-leg-out".into(),
                ts_ns: ghost.ts_ns + 6,
                ..bought
            },
            None,
        )
        .unwrap(),
    );
    let refused = Verdict::Rejected { reason: RejectReason::MaxPosition, detail: "x".into() };
    records.push(Record::decision(&decision("refused-1", refused, START_NS + 5), None).unwrap());
    let written = journal.append(&records).await.unwrap();
    assert_eq!(written, records.len() as u64);
    // Delivered again (a JetStream redelivery): nothing new.
    assert_eq!(journal.append(&records).await.unwrap(), 0);
    journal.close().await;
}

/// A fresh directory `polyfleet-<name>-<pid>` under the temp dir, and the URL of an SQLite
/// journal in it.
fn journal_dir(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("polyfleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("journal.db").display());
    (dir, url)
}

/// `polyfleet report ARGS --out OUT` on `url`'s journal; its standard output, after checking it succeeded
/// and that `OUT/report.json` is there, parsed.
fn run_report(url: &str, args: &[&str], out: &std::path::Path) -> (String, Value) {
    let run = Command::new(env!("CARGO_BIN_EXE_polyfleet"))
        .args(["report", "--journal", url])
        .args(args)
        .arg("--out")
        .arg(out)
        .env_remove("POLYFLEET_JOURNAL_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    let json = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    (stdout, json)
}

#[tokio::test]
async fn the_report_of_a_journal_period_matches_an_independent_computation_and_renders() {
    let (dir, url) = journal_dir("report");
    write_journal(&url).await;
    let out = dir.join("out");
    let (stdout, report) = run_report(&url, &["--since", "2026-10-01", "--until", "2026-12-01"], &out);
    let total: i64 = DAILY.iter().sum();
    let summary = &report["summary"];
    assert_eq!(summary["pnl"], Money::from_micros(total).to_string(), "{summary}");
    assert_eq!(summary["realized"], Money::from_micros(total).to_string());
    assert_eq!(summary["fills"], 90 + 2, "45 round trips, and the ghost's leg in and out (the FAILED fill taken back)");
    assert_eq!(summary["strategies"][0]["failed_fills"], 1);
    let days = summary["days"].as_array().unwrap();
    assert_eq!(days.len(), 45);
    for (d, want) in days.iter().zip(DAILY) {
        assert_eq!(d["pnl"], Money::from_micros(want).to_string(), "{d}");
    }
    let ratio = |k: &str| report["ratios"][k].as_f64().unwrap();
    for (name, got, want) in [
        ("sharpe", ratio("sharpe"), NUMPY.0),
        ("sortino", ratio("sortino"), NUMPY.1),
        ("calmar", ratio("calmar"), NUMPY.2),
    ] {
        assert!((got - want).abs() < 1e-9, "{name}: report {got} vs numpy {want}");
    }
    assert_eq!(report["decisions"]["desk/mm"]["approved"], 45);
    assert_eq!(report["decisions"]["desk/mm"]["rejected"]["max_position"], 1);
    let trades = report["trades"].as_array().unwrap();
    assert_eq!(trades.len(), 90 + 4, "every fill message of the period, the FAILED one too");
    assert_eq!(trades[0]["trace_id"], TRACE);
    assert!(stdout.contains("Sharpe 4.1569"), "{stdout}");
    // A period that starts later values what was bought before at its cost: no fill, no PnL.
    let (_, later) = run_report(&url, &["--since", "2026-11-20"], &dir.join("later"));
    assert_eq!((later["summary"]["fills"].as_u64(), later["summary"]["pnl"].as_str()), (Some(0), Some("0")));
    assert!(later["ratios_note"].as_str().unwrap().contains("need at least 30"));

    let html = out.join("report.html");
    let page_text = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page::series_lengths(&page_text, "equity"), [46], "the equity at the start and each of 45 days' ends");
    assert_eq!(page::series_lengths(&page_text, "returns"), [45], "a bar a day");
    assert_eq!(page::series_lengths(&page_text, "strategy-pnl"), [1]);
    assert!(
        !page_text.contains("<script src") && !page_text.contains("<link"),
        "self-contained: plotly.js is embedded"
    );
    let Some(dom) = page::render(&html) else { return };
    for id in ["summary", "equity", "drawdown", "returns", "days", "strategies", "markets", "trades"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "section {id} missing from the rendered page");
    }
    assert!(dom.contains(TRACE), "the trade list carries trace ids");
    let shot = dir.join("report.png");
    let png = Command::new(page::chromium().unwrap())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(png.status.success(), "{}", String::from_utf8_lossy(&png.stderr));
    let bytes = std::fs::read(&shot).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a screenshot with something on it ({} bytes)",
        bytes.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One arm's round trip in hour `h` earning `pnl` micro-USDC (after the sell's fee).
fn round_trip(arm: &str, token: u128, h: u64, pnl: i64) -> [Fill; 2] {
    let at = START_NS + h * 3_600_000_000_000;
    let ticks = pnl.div_euclid(100_000) + i64::from(pnl.rem_euclid(100_000) != 0);
    let mut buy = fill(&format!("{arm}-b{h}"), Side::Buy, 5000, 0, at + 60_000_000_000);
    let mut sell = fill(
        &format!("{arm}-s{h}"),
        Side::Sell,
        u32::try_from(5000 + ticks).unwrap(),
        ticks * 100_000 - pnl,
        at + 120_000_000_000,
    );
    for f in [&mut buy, &mut sell] {
        f.strategy = arm.into();
        f.token = TokenId::from_u128(token);
    }
    [buy, sell]
}

/// Two arms over `hours` hourly slots, each hour's PnL N(mean, 2²) USDC.
fn arms(seed: u64, hours: u64, mean_b: f64) -> Vec<Fill> {
    let mut n = Normal::new(seed);
    (0..hours)
        .flat_map(|h| {
            let (a, b) = (n.sample(0.0, 2e6), n.sample(mean_b * 1e6, 2e6));
            round_trip("arm-a", 101, h, a).into_iter().chain(round_trip("arm-b", 102, h, b))
        })
        .collect()
}

fn ab_spec() -> polyfleet_backtest::journal_ab::AbSpec {
    polyfleet_backtest::journal_ab::AbSpec {
        a: "arm-a".into(),
        b: "desk/arm-b".into(),
        slot_ns: 3_600_000_000_000,
        config: polyfleet_core::analytics::sequential::MsprtConfig {
            alpha: 0.05,
            tau2: 1e12,
            sigma2: None,
            burn_in: 30,
            max_pairs: 10_000,
        },
        turns: false,
    }
}

fn decide(fills: &[Fill]) -> polyfleet_backtest::journal_ab::AbResult {
    use polyfleet_backtest::journal_report::{Inputs, JournalReport};
    use polyfleet_core::analytics::performance::Booking;
    let mut bookings: Vec<(Booking, Option<String>)> = fills.iter().map(|f| (Booking::Fill(f.clone()), None)).collect();
    bookings.sort_by_key(|(b, _)| b.sort_key());
    let inputs = Inputs {
        source: "test".into(),
        since_ns: None,
        until_ns: None,
        bookings: &bookings,
        decisions: &[],
        ab: Some(ab_spec()),
    };
    let r = JournalReport::new(&inputs);
    r.ab.unwrap_or_else(|| panic!("no comparison: {:?}", r.ab_error))
}

/// The A/B comparison from a journal: an arm 1 USDC an hour worse is found (the binary, on
/// SQLite), the right arm on every seed; two equal arms (A/A) are stopped on at most the
/// test's α of the time over 200 seeds of 300 hours (burn-in 30, the command's default).
#[tokio::test]
async fn an_ab_comparison_stops_on_the_better_arm_and_rarely_on_equal_ones() {
    let (dir, url) = journal_dir("report-ab");
    let journal = SqlJournal::open(&url).await.unwrap();
    let records: Vec<Record> = arms(1, 300, -1.0).iter().map(|f| Record::fill(f, None).unwrap()).collect();
    journal.append(&records).await.unwrap();
    journal.close().await;
    let out = dir.join("out");
    let (stdout, report) = run_report(&url, &["--ab", "arm-a,desk/arm-b", "--slot", "1h", "--ab-effect", "1"], &out);
    let ab = &report["ab"];
    assert_eq!(ab["decision"], "A better", "{ab}");
    assert!(ab["pairs"].as_u64().unwrap() < 300 && ab["p_value"].as_f64().unwrap() <= 0.05, "{ab}");
    assert!(stdout.contains("A/B desk/arm-a vs desk/arm-b: A better after"), "{stdout}");
    assert!(std::fs::read_to_string(out.join("report.html")).unwrap().contains("id=\"ab\""));
    let _ = std::fs::remove_dir_all(&dir);

    let mut stops_ab = Vec::new();
    for seed in 0..20 {
        let r = decide(&arms(seed, 300, -1.0));
        assert_eq!(r.decision, "A better", "seed {seed}: {r:?}");
        stops_ab.push(r.pairs);
    }
    let mut false_stops = 0;
    for seed in 1000..1200 {
        let r = decide(&arms(seed, 300, 0.0));
        if r.decision.ends_with("better") {
            false_stops += 1;
        }
    }
    stops_ab.sort_unstable();
    eprintln!(
        "A/B (B 1 USDC an hour worse, sd 2): A found on 20 of 20 seeds, after {} to {} hours (median {}); \
         A/A: {false_stops} of 200 seeds stopped within 300 hours",
        stops_ab[0], stops_ab[19], stops_ab[10]
    );
    assert!(false_stops <= 10, "{false_stops} false stops of 200 at alpha 0.05");
}

/// Arms that took turns in time slots (`spec.experiment.interleave: timeSlot`), from the
/// journal with `--ab-turns`: each hour only the arm whose turn it is trades (the core's
/// schedule), each turn's PnL N(0, 2²) USDC for A and N(−2, 2²) for B. Paired block by block (A's
/// PnL and B's over the two hours of a block), the test names A, with one pair per two hours.
#[tokio::test]
async fn arms_taking_turns_in_time_slots_are_compared_block_by_block() {
    use polyfleet_core::analytics::experiment::arm_in_slot;
    use polyfleet_core::analytics::sequential::Arm;
    let (dir, url) = journal_dir("report-turns");
    let journal = SqlJournal::open(&url).await.unwrap();
    let first_slot = i64::try_from(START_NS / 3_600_000_000_000).unwrap();
    let mut n = Normal::new(7);
    let mut turns = [0u32; 2];
    let records: Vec<Record> = (0..300u64)
        .flat_map(|h| match arm_in_slot("quoting", first_slot + i64::try_from(h).unwrap()) {
            Arm::A => {
                turns[0] += 1;
                round_trip("arm-a", 101, h, n.sample(0.0, 2e6))
            }
            Arm::B => {
                turns[1] += 1;
                round_trip("arm-b", 102, h, n.sample(-2e6, 2e6))
            }
        })
        .map(|f| Record::fill(&f, None).unwrap())
        .collect();
    assert_eq!(turns, [150, 150], "one hour of each block to each arm");
    journal.append(&records).await.unwrap();
    journal.close().await;
    let out = dir.join("out");
    let args = ["--ab", "arm-a,desk/arm-b", "--slot", "1h", "--ab-effect", "1", "--ab-turns"];
    let (_, report) = run_report(&url, &args, &out);
    let ab = &report["ab"];
    assert_eq!((ab["decision"].as_str(), ab["turns"].as_bool()), (Some("A better"), Some(true)), "{ab}");
    assert!(ab["pairs"].as_u64().unwrap() <= 150 && ab["p_value"].as_f64().unwrap() <= 0.05, "{ab}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shadow Strategy against its live twin from the journal: their orders paired by the market
/// event each answered, what each filled (a confirmation is not a second fill, a FAILED fill is
/// none), the live twin's slippage over the shares both filled and its extra fees, by hand:
/// event 100, both buy 100 at 0.50: the shadow fills 100 at 0.50, live 60 at 0.51 (0.6 USDC
/// more for the 60 both filled) paying a 0.1 fee; event 101, both sell 50 at 0.55: the shadow
/// at 0.55, live at 0.54 (0.5 less), a further live fill FAILED; event 102 only the shadow
/// ordered, event 103 only live.
#[tokio::test]
async fn a_shadow_is_compared_with_its_live_twin_order_by_order() {
    let (dir, url) = journal_dir("report-twins");
    let journal = SqlJournal::open(&url).await.unwrap();
    let shares = |n: u64| Quantity::from_micros(n * 1_000_000);
    let mut records = vec![];
    let mut intent = |strategy: &str, id: &str, seq: u64, side: Side, ticks: u32, size: u64| {
        let mode = if strategy == "mm" { Mode::Live } else { Mode::Shadow };
        let o = OrderIntent {
            strategy: strategy.into(),
            side,
            price: Price::from_ticks(ticks).unwrap(),
            size: shares(size),
            cause_seq: seq,
            mode,
            ..order(id, START_NS + seq)
        };
        let payload = polyfleet_core::wire::encode(&polyfleet_core::wire::Intent::Place(o));
        records.push(polyfleet_journal::from_bus::record(&payload, None).unwrap());
    };
    intent("mm-shadow", "s100", 100, Side::Buy, 5000, 100);
    intent("mm", "l100", 100, Side::Buy, 5000, 100);
    intent("mm-shadow", "s101", 101, Side::Sell, 5500, 50);
    intent("mm", "l101", 101, Side::Sell, 5500, 50);
    intent("mm-shadow", "s102", 102, Side::Buy, 4900, 100);
    intent("mm", "l103", 103, Side::Buy, 4800, 100);
    let twin_fill = |strategy: &str, order: &str, id: &str, side: Side, ticks: u32, size: u64, fee: i64| Fill {
        strategy: strategy.into(),
        client_order_id: ClientOrderId::new(order).unwrap(),
        size: shares(size),
        ..fill(id, side, ticks, fee, START_NS + 1_000)
    };
    let fills = [
        twin_fill("mm-shadow", "s100", "sf1", Side::Buy, 5000, 100, 0),
        twin_fill("mm", "l100", "lf1", Side::Buy, 5100, 40, 100_000),
        twin_fill("mm", "l100", "lf2", Side::Buy, 5100, 20, 0),
        twin_fill("mm-shadow", "s101", "sf2", Side::Sell, 5500, 50, 0),
        twin_fill("mm", "l101", "lf3", Side::Sell, 5400, 50, 0),
        twin_fill("mm", "l101", "lf4", Side::Sell, 5400, 10, 0),
    ];
    for f in &fills {
        records.push(Record::fill(f, None).unwrap());
    }
    // lf1 confirmed (the same fill again), lf4 failed.
    records.push(Record::fill(&Fill { status: FillStatus::Confirmed, ..fills[1].clone() }, None).unwrap());
    records.push(Record::fill(&Fill { status: FillStatus::Failed, ..fills[5].clone() }, None).unwrap());
    journal.append(&records).await.unwrap();
    journal.close().await;
    let out = dir.join("out");
    let (stdout, report) = run_report(&url, &["--twins", "mm-shadow,desk/mm"], &out);
    let t = &report["twins"];
    assert_eq!((t["shadow"].as_str(), t["live"].as_str()), (Some("desk/mm-shadow"), Some("desk/mm")), "{t}");
    let n = |k: &str| t[k].as_i64().unwrap();
    assert_eq!((n("paired"), n("same_orders"), n("only_shadow"), n("only_live")), (2, 2, 1, 1), "{t}");
    assert_eq!((n("both_filled"), n("shadow_filled_micros"), n("live_filled_micros")), (2, 150_000_000, 110_000_000));
    assert_eq!((n("slippage_micros"), n("fee_difference_micros")), (1_100_000, 100_000), "{t}");
    let pairs = t["pairs"].as_array().unwrap();
    assert_eq!(pairs[0]["slippage_micros"], 600_000);
    assert_eq!(pairs[1]["slippage_micros"], 500_000);
    assert!(
        stdout.contains(
            "twins desk/mm-shadow (shadow) vs desk/mm (live): 2 orders paired (2 the same), 1 only shadow, 1 only live"
        ),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"twins\"") && html.contains("id=\"twin-pairs\"") && html.contains("l100"));
    // A name no strategy of the journal has: said, and the rest of the report is still written.
    let (_, report) = run_report(&url, &["--twins", "nobody,mm"], &out);
    assert_eq!(report["twins_error"], "twin nobody: no order of this strategy in the period");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Calibration from the journal: a directional strategy's model-sized orders (each carrying the
/// model's probability) on four binary markets that then resolved; the last order per token
/// before its market's settlement is the forecast. By hand: 0.7 (won), 0.2 (lost), 0.9 (lost),
/// 0.6 (won): squared errors 0.09, 0.04, 0.81, 0.16, Brier 0.275; an order after a market
/// resolved and an earlier one superseded are not scored; the page draws the calibration chart.
#[tokio::test]
async fn the_probabilities_orders_were_sized_on_are_scored_once_their_markets_resolve() {
    use polyfleet_core::wire::{Intent, KellyBasis, Resolution, SettlementReport, encode};
    let (dir, url) = journal_dir("report-calibration");
    let journal = SqlJournal::open(&url).await.unwrap();
    let mut records = vec![];
    let resolved_at = START_NS + 1_000_000;
    for (i, (p, won)) in
        [(700_000u32, true), (200_000, false), (900_000, false), (600_000, true)].into_iter().enumerate()
    {
        let market = ConditionId::from_bytes([u8::try_from(i).unwrap() + 1; 32]);
        let (yes, no) = (TokenId::from_u128(100 + i as u128), TokenId::from_u128(200 + i as u128));
        let sized = |id: String, ppm: u32, ts: u64| OrderIntent {
            strategy: "dir".into(),
            market,
            token: yes,
            kelly: Some(KellyBasis { probability_ppm: ppm }),
            ..order(&id, ts)
        };
        let early = sized(format!("early{i}"), 500_000, START_NS + 10);
        let last = sized(format!("last{i}"), p, START_NS + 20);
        let late = sized(format!("late{i}"), 10_000, resolved_at + 5);
        // The strategy reports which model version sized each: the early orders an older one.
        for (o, version) in [(early, "1.3.0"), (last, "1.4.0"), (late, "1.4.0")] {
            let used = polyfleet_core::wire::SignalUsed {
                client_order_id: o.client_order_id,
                namespace: o.namespace.clone(),
                strategy: o.strategy.clone(),
                market,
                token: yes,
                model: "btc".into(),
                model_version: version.into(),
                probability_ppm: o.kelly.unwrap().probability_ppm,
                std_error_ppm: None,
                published_ms: None,
                valid_until_ms: 0,
                created_ts_ns: o.created_ts_ns,
            };
            records.push(polyfleet_journal::from_bus::record(&encode(&Intent::Place(o)), None).unwrap());
            records.push(polyfleet_journal::from_bus::record(&encode(&Intent::Signal(used)), None).unwrap());
        }
        let report = SettlementReport {
            namespace: "desk".into(),
            strategy: "dir".into(),
            resolution: Resolution::won_by(market, &[yes, no], if won { yes } else { no }),
            cash: Money::ZERO,
            realized: Money::ZERO,
            ts_ns: resolved_at,
        };
        records.push(polyfleet_journal::from_bus::record(&encode(&report), None).unwrap());
    }
    journal.append(&records).await.unwrap();
    journal.close().await;
    let out = dir.join("out");
    let (_, report) = run_report(&url, &[], &out);
    // Per model version: 1.3.0's four forecasts of 0.5 (Brier 0.25), 1.4.0's as above.
    let older = &report["calibration"]["desk/dir"][0];
    assert_eq!((older["version"].as_str(), older["brierMicros"].as_u64()), (Some("1.3.0"), Some(250_000)), "{older}");
    let scores = &report["calibration"]["desk/dir"][1];
    assert_eq!((scores["model"].as_str(), scores["version"].as_str()), (Some("btc"), Some("1.4.0")));
    assert_eq!((scores["forecasts"].as_u64(), scores["brierMicros"].as_u64()), (Some(4), Some(275_000)), "{scores}");
    // The orders' price (0.50) as the market: 0.25.
    assert_eq!(scores["marketBrierMicros"], 250_000);
    assert_eq!(scores["calibration"].as_array().unwrap().len(), 4, "four bins hold a forecast: {scores}");
    let html = out.join("report.html");
    assert!(std::fs::read_to_string(&html).unwrap().contains("id=\"calibration\""));
    if let Some(dom) = page::render(&html) {
        assert!(dom.contains("Calibration of btc 1.4.0"), "the calibration chart is drawn");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! The Grafana dashboard's journal panels (charts/polyfleet/files/dashboard.json, datasource
//! `grafana-postgresql-datasource`) run against a real PostgreSQL journal: every panel's SQL,
//! with Grafana's macros and variables expanded as Grafana expands them (`$__unixEpochNanoFilter`,
//! `${namespace:regex}`), runs, and gives the numbers the written fills imply (each fill once
//! whether MATCHED or CONFIRMED, a FAILED one left out, another namespace filtered away).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use polyfleet_core::wire::{Fill, FillStatus, Liquidity, Mode};
use polyfleet_core::{ClientOrderId, ConditionId, Money, Price, Quantity, Side, TokenId};
use polyfleet_journal::store::sql::SqlJournal;
use polyfleet_journal::{JournalStore, Record};
use polyfleet_testkit::PostgresServer;
use serde_json::Value;

const DAY_NS: u64 = 86_400_000_000_000;
/// 2026-11-07T00:00:00Z.
const DAY: u64 = 1_794_009_600_000_000_000;

#[allow(clippy::too_many_arguments, reason = "a fill has this many parts")]
fn fill(
    id: &str,
    ns: &str,
    side: Side,
    price: &str,
    size: &str,
    fee: &str,
    liquidity: Liquidity,
    status: FillStatus,
    ts_ns: u64,
) -> Fill {
    Fill {
        fill_id: id.into(),
        client_order_id: ClientOrderId::new(id).unwrap(),
        namespace: ns.into(),
        strategy: "mm".into(),
        risk_policy: "default".into(),
        market: ConditionId::from_bytes([5; 32]),
        token: TokenId::from_u128(51),
        side,
        price: Price::parse(price).unwrap(),
        size: Quantity::parse(size).unwrap(),
        fee: Money::parse(fee).unwrap(),
        liquidity,
        status,
        mode: Mode::Paper,
        ts_ns,
    }
}

/// A panel's SQL as Grafana sends it for the range [from, to] and namespace `desk`.
fn expand(sql: &str, from: u64, to: u64) -> String {
    let mut out = sql.replace("${namespace:regex}", "desk");
    while let Some(at) = out.find("$__unixEpochNanoFilter(") {
        let rest = &out[at + "$__unixEpochNanoFilter(".len()..];
        let close = rest.find(')').unwrap();
        let column = rest[..close].trim().to_string();
        out = format!("{}{column} >= {from} AND {column} <= {to}{}", &out[..at], &rest[close + 1..]);
    }
    assert!(!out.contains("$__") && !out.contains("${"), "a macro or variable left unexpanded: {out}");
    out
}

#[tokio::test]
async fn the_dashboards_journal_panels_run_on_postgres_and_count_right() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../charts/polyfleet/files/dashboard.json"))
            .unwrap(),
    )
    .unwrap();
    let panels: Vec<&Value> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["datasource"]["type"] == "grafana-postgresql-datasource")
        .collect();
    assert!(panels.len() >= 6, "{} journal panels", panels.len());
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables.iter().any(|v| v["name"] == "journal" && v["query"] == "grafana-postgresql-datasource"));

    let pg = PostgresServer::start();
    let journal = SqlJournal::open(&pg.url).await.unwrap();
    let t = DAY + 10 * 3_600_000_000_000;
    let (maker, taker) = (Liquidity::Maker, Liquidity::Taker);
    let fills = [
        fill("buy", "desk", Side::Buy, "0.40", "100", "0", maker, FillStatus::Matched, t),
        fill("buy", "desk", Side::Buy, "0.40", "100", "0", maker, FillStatus::Confirmed, t + 5),
        fill("sell", "desk", Side::Sell, "0.45", "100", "0.1", taker, FillStatus::Matched, t + 10),
        fill("ghost", "desk", Side::Sell, "0.50", "10", "0", taker, FillStatus::Matched, t + 20),
        fill("ghost", "desk", Side::Sell, "0.50", "10", "0", taker, FillStatus::Failed, t + 30),
        fill("elsewhere", "other", Side::Buy, "0.30", "1000", "1", taker, FillStatus::Matched, t + 40),
    ];
    let records: Vec<Record> = fills.iter().map(|f| Record::fill(f, None).unwrap()).collect();
    journal.append(&records).await.unwrap();
    journal.close().await;

    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&pg.url).await.unwrap();
    let mut results = std::collections::BTreeMap::new();
    for p in &panels {
        let title = p["title"].as_str().unwrap();
        let sql = p["targets"][0]["rawSql"].as_str().unwrap();
        let wrapped = format!("SELECT row_to_json(q)::text FROM ({}) q", expand(sql, DAY, DAY + DAY_NS - 1));
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(wrapped.clone()))
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("{title}: {e}\n{wrapped}"));
        let rows: Vec<Value> = rows.iter().map(|(r,)| serde_json::from_str(r).unwrap()).collect();
        eprintln!("{title}: {rows:?}");
        results.insert(title.to_string(), rows);
    }
    let value = |title: &str, metric: &str| -> f64 {
        let rows = results.iter().find(|(t, _)| t.starts_with(title)).unwrap_or_else(|| panic!("no panel {title}")).1;
        let row =
            rows.iter().find(|r| r["metric"] == metric).unwrap_or_else(|| panic!("{title}: no {metric} in {rows:?}"));
        row["value"].as_f64().unwrap()
    };
    assert!((value("Cash flow per day", "desk/mm") - 4.9).abs() < 1e-12, "45 - 40 - 0.1");
    assert_eq!(value("Fills per day", "desk/mm"), 2.0, "buy once, sell; the ghost taken back");
    assert!((value("Notional and fees", "notional") - 85.0).abs() < 1e-12);
    assert!((value("Notional and fees", "fees") - 0.1).abs() < 1e-12);
    assert!((value("Maker share", "maker share") - 0.5).abs() < 1e-12);
    assert!((value("Maker share", "failed share") - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(value("Journal entries per day", "fill"), 5.0, "every fill message of desk");
    let table = results.iter().find(|(t, _)| t.starts_with("Per market")).unwrap().1;
    assert_eq!(table.len(), 1, "one market of desk: {table:?}");
    assert_eq!(table[0]["fills"], 2);
    assert!((table[0]["cash_flow_usdc"].as_f64().unwrap() - 4.9).abs() < 1e-12);
    for rows in results.values() {
        assert!(rows.iter().all(|r| r.get("metric").is_none_or(|m| !m.as_str().unwrap().starts_with("other"))));
    }
    // Each time series has the `time` column Grafana needs, at the day's start.
    for (title, rows) in &results {
        if !title.starts_with("Per market") {
            assert!(
                rows.iter().all(|r| r["time"].as_str().is_some_and(|t| t.starts_with("2026-11-07T00:00:00"))),
                "{title}: {rows:?}"
            );
        }
    }
}

//! Shared by the backtest and report suites: the report pages' charts, read from the HTML (the
//! figure each `Plotly.newPlot` draws) and rendered in headless Chromium (`chromium` from
//! scripts/setup.sh; under CI a missing Chromium fails the test).
#![allow(dead_code, reason = "each suite uses part of it")]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The figure (`{"data": [...], "layout": {...}}`) drawn into the element `id`.
pub fn figure(html: &str, id: &str) -> Value {
    let call = format!("Plotly.newPlot(\"{id}\", ");
    let at = html.find(&call).unwrap_or_else(|| panic!("chart {id} missing")) + call.len();
    let mut de = serde_json::Deserializer::from_str(&html[at..]).into_iter::<Value>();
    de.next().unwrap_or_else(|| panic!("chart {id}: no figure")).unwrap()
}

/// The points of each series of the figure drawn into `id` (what it draws).
pub fn series_lengths(html: &str, id: &str) -> Vec<usize> {
    figure(html, id)["data"]
        .as_array()
        .unwrap_or_else(|| panic!("chart {id}: no data"))
        .iter()
        .map(|t| t["y"].as_array().map_or(0, Vec::len))
        .collect()
}

/// Ids of every chart on the page.
pub fn chart_ids(html: &str) -> Vec<String> {
    html.match_indices("Plotly.newPlot(\"")
        .map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// The Chromium on the PATH.
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// The page as headless Chromium renders it (its DOM once scripts ran), after checking that it
/// logged no error and that plotly drew every chart (each chart element became a
/// `js-plotly-plot` holding plotly's SVG). `None` when there is no Chromium outside CI.
pub fn render(page: &Path) -> Option<String> {
    let Some(chrome) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI: chromium is not installed (scripts/setup.sh installs it)");
        eprintln!("SKIPPED: no chromium to open the report in");
        return None;
    };
    let html = std::fs::read_to_string(page).unwrap();
    let ids = chart_ids(&html);
    let dom = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--virtual-time-budget=10000",
            "--window-size=1200,1600",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let text = String::from_utf8_lossy(&dom.stdout).to_string();
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(!log.contains("Uncaught") && !log.contains(":ERROR:CONSOLE"), "page errors: {log}");
    for id in &ids {
        let at = text.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("chart {id} not in the page"));
        let tag = &text[text[..at].rfind('<').unwrap()..at + text[at..].find('>').unwrap()];
        assert!(tag.contains("js-plotly-plot"), "plotly did not draw {id}: {tag}");
        let inner = &text[at..];
        assert!(inner[..inner.find("</svg>").unwrap_or(0)].contains("class=\"main-svg\""), "chart {id} has no SVG");
    }
    let drawn = text.matches("js-plotly-plot").count();
    assert!(drawn >= ids.len(), "{drawn} charts drawn of {}", ids.len());
    Some(text)
}

//! Shadow mode's comparison: for each order, what paper execution did and what the venue would
//! have been sent (built and signed by the SDK, never posted). [`compare`] is pure; the executor
//! counts its verdict in a metric and writes it as one JSON report line (to the log, and to a
//! file when one is configured).

use std::io::Write as _;

use polyfleet_core::Quantity;
use polyfleet_core::exec::paper::ExecEvent;
use polyfleet_core::wire::{OrderIntent, OrderStatus};
use serde::Serialize;

use crate::http::clob::BuiltOrder;

/// One shadow order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowLine {
    /// The client order id.
    pub client_order_id: String,
    /// The strategy that sent it.
    pub strategy: String,
    /// The venue order id (EIP-712 hash) the signed order would have had.
    pub venue_order_id: Option<String>,
    /// `BUY` or `SELL`.
    pub side: String,
    /// The intent's price.
    pub price: String,
    /// The intent's size.
    pub size: String,
    /// Price and size of the signed amounts.
    pub signed_price: Option<String>,
    /// Size of the signed amounts.
    pub signed_size: Option<String>,
    /// Paper's final status and fill.
    pub paper_status: String,
    /// Shares paper execution filled.
    pub paper_filled: String,
    /// `agree`: the signed order is the intent and both sides accepted (or both refused);
    /// `differs`: rounding or a refusal on one side only; `unsigned`: no credentials to sign.
    pub verdict: &'static str,
    /// What differs, when something does.
    pub note: Option<String>,
}

/// Compares the signed order (or why there is none) with what paper did.
pub fn compare(intent: &OrderIntent, built: Result<&BuiltOrder, String>, paper: &[ExecEvent]) -> ShadowLine {
    let (paper_status, paper_filled) = paper
        .iter()
        .rev()
        .find_map(|e| match e {
            ExecEvent::Update(u) => Some((u.status, u.filled)),
            ExecEvent::Fill(_) => None,
        })
        .unwrap_or((OrderStatus::Accepted, Quantity::ZERO));
    let paper_refused = paper_status == OrderStatus::Rejected;
    let (venue_order_id, signed, verdict, note) = match built {
        Ok(b) => {
            let signed = b.price_and_size(intent.side);
            let same = signed == Some((intent.price, intent.size));
            let verdict = if same && !paper_refused { "agree" } else { "differs" };
            let note = (!same).then(|| "the signed amounts differ from the intent (venue rounding)".to_string());
            let note =
                note.or_else(|| paper_refused.then(|| "paper refused an order the venue would take".to_string()));
            (Some(b.id.clone()), signed, verdict, note)
        }
        Err(e) if e.starts_with("unsigned:") => (None, None, "unsigned", Some(e)),
        Err(e) => (None, None, if paper_refused { "agree" } else { "differs" }, Some(e)),
    };
    ShadowLine {
        client_order_id: intent.client_order_id.to_string(),
        strategy: format!("{}/{}", intent.namespace, intent.strategy),
        venue_order_id,
        side: format!("{:?}", intent.side).to_lowercase(),
        price: intent.price.to_string(),
        size: intent.size.to_string(),
        signed_price: signed.map(|s| s.0.to_string()),
        signed_size: signed.map(|s| s.1.to_string()),
        paper_status: format!("{paper_status:?}").to_lowercase(),
        paper_filled: paper_filled.to_string(),
        verdict,
        note,
    }
}

/// Where report lines go besides the log.
#[derive(Debug, Default)]
pub struct ShadowReport {
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl ShadowReport {
    /// Appends lines to `path` when given.
    pub fn open(path: Option<&std::path::Path>) -> std::io::Result<ShadowReport> {
        let file = path
            .map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).map(std::io::BufWriter::new))
            .transpose()?;
        Ok(ShadowReport { file })
    }

    /// Writes one line.
    pub fn write(&mut self, line: &ShadowLine) {
        let json = match serde_json::to_string(line) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, order = %line.client_order_id, "shadow line does not serialize: not written");
                return;
            }
        };
        tracing::info!(target: "polyfleet::shadow", verdict = line.verdict, order = %line.client_order_id, report = %json, "shadow order");
        if let Some(f) = &mut self.file
            && (writeln!(f, "{json}").is_err() || f.flush().is_err())
        {
            tracing::warn!("shadow report file not written");
        }
    }
}

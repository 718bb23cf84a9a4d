//! A shadow Strategy against its live twin, order by order, from the trade journal (`polyfleet
//! report --twins SHADOW,LIVE`): each twin's orders are its journaled intents (a set's legs each
//! count), what each got its journaled fills (a fill the venue reported failed is left out), and
//! the pairing and arithmetic are the core's [`polyfleet_core::analytics::twins`].

use std::collections::{BTreeMap, BTreeSet};

use polyfleet_core::analytics::twins::{TwinComparison, TwinOrder, compare};
use polyfleet_core::wire::OrderIntent;
use polyfleet_core::{Money, Price, Quantity, Rounding};
use polyfleet_journal::{FillFilter, FillRow, JournalError, JournalStore, Range};
use serde::Serialize;

/// The comparison's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TwinsResult {
    /// The shadow (`namespace/name`).
    pub shadow: String,
    /// The live twin.
    pub live: String,
    /// Orders paired and what each twin got.
    #[serde(flatten)]
    pub comparison: TwinComparison,
}

/// Why there is no comparison.
#[derive(Debug, thiserror::Error)]
pub enum TwinsError {
    /// Not two names.
    #[error("--twins {0}: two strategies, SHADOW,LIVE")]
    Spec(String),
    /// A name matching no strategy of the period, or several.
    #[error("twin {0}: {1}")]
    Twin(String, String),
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A stored intent or fill that does not read.
    #[error("in the journal: {0}")]
    Corrupt(String),
}

/// `namespace/name` of `name` (`namespace/name`, or a name unique among `known`).
fn resolve(known: &BTreeSet<String>, name: &str) -> Result<String, TwinsError> {
    let found: Vec<&String> =
        known.iter().filter(|k| *k == name || (!name.contains('/') && k.rsplit('/').next() == Some(name))).collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(TwinsError::Twin(name.into(), "no order of this strategy in the period".into())),
        many => Err(TwinsError::Twin(name.into(), format!("names {} strategies; give namespace/name", many.len()))),
    }
}

/// The orders of the period (`namespace/name` → orders, oldest first).
async fn orders<J: JournalStore>(journal: &J, period: Range) -> Result<BTreeMap<String, Vec<OrderIntent>>, TwinsError> {
    let mut by: BTreeMap<String, Vec<OrderIntent>> = BTreeMap::new();
    for o in polyfleet_journal::orders::read(journal, period).await? {
        by.entry(format!("{}/{}", o.namespace, o.strategy)).or_default().push(o);
    }
    Ok(by)
}

/// Each order's fills (by client order id): shares, notional and fees, a fill counted once
/// whatever its statuses (matched, confirmed) and not at all when it failed.
fn filled(rows: &[FillRow]) -> Result<BTreeMap<String, (Quantity, Money, Money)>, TwinsError> {
    let failed: BTreeSet<&str> = rows.iter().filter(|r| r.status == "failed").map(|r| r.fill_id.as_str()).collect();
    let mut seen = BTreeSet::new();
    let mut by: BTreeMap<String, (Quantity, Money, Money)> = BTreeMap::new();
    for r in rows {
        if failed.contains(r.fill_id.as_str()) || !seen.insert(r.fill_id.as_str()) {
            continue;
        }
        let bad = || TwinsError::Corrupt(format!("fill {}", r.fill_id));
        let size = Quantity::from_micros(u64::try_from(r.size_micros).map_err(|_| bad())?);
        let price = Price::from_ticks(u32::try_from(r.price_ticks).map_err(|_| bad())?).ok_or_else(bad)?;
        let notional = price.notional(size, Rounding::Nearest).ok_or_else(bad)?;
        let e = by.entry(r.client_order_id.clone()).or_insert((Quantity::ZERO, Money::ZERO, Money::ZERO));
        e.0 = e.0.checked_add(size).ok_or_else(bad)?;
        e.1 = e.1.checked_add(notional).ok_or_else(bad)?;
        e.2 = e.2.checked_add(Money::from_micros(r.fee_micros)).ok_or_else(bad)?;
    }
    Ok(by)
}

/// The orders of `strategy` (`namespace/name`) with what each got.
async fn twin<J: JournalStore>(
    journal: &J,
    strategy: &str,
    orders: &[OrderIntent],
    period: Range,
) -> Result<Vec<TwinOrder>, TwinsError> {
    let (ns, name) = strategy.split_once('/').unwrap_or(("", strategy));
    let filter = FillFilter { namespace: Some(ns.to_string()), strategy: Some(name.to_string()) };
    let fills = filled(&journal.fills(&filter, period).await?)?;
    Ok(orders
        .iter()
        .map(|o| {
            let id = o.client_order_id.to_string();
            let (filled, notional, fee) = fills.get(&id).copied().unwrap_or((Quantity::ZERO, Money::ZERO, Money::ZERO));
            TwinOrder {
                client_order_id: id,
                cause_seq: o.cause_seq,
                token: o.token,
                side: o.side,
                price: o.price,
                size: o.size,
                filled,
                notional,
                fee,
            }
        })
        .collect())
}

/// The shadow and live twins `spec` names (`SHADOW,LIVE`, each `name` or `namespace/name`)
/// compared over `period` of `journal`.
pub async fn read<J: JournalStore>(journal: &J, spec: &str, period: Range) -> Result<TwinsResult, TwinsError> {
    let (s, l) = spec
        .split_once(',')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains(','))
        .ok_or_else(|| TwinsError::Spec(spec.to_string()))?;
    let orders = orders(journal, period).await?;
    let known: BTreeSet<String> = orders.keys().cloned().collect();
    let (shadow, live) = (resolve(&known, s)?, resolve(&known, l)?);
    let none = Vec::new();
    let s_orders = twin(journal, &shadow, orders.get(&shadow).unwrap_or(&none), period).await?;
    let l_orders = twin(journal, &live, orders.get(&live).unwrap_or(&none), period).await?;
    Ok(TwinsResult { shadow, live, comparison: compare(&s_orders, &l_orders) })
}

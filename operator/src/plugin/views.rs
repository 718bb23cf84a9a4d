//! What `kubectl polyfleet status` and `pnl` show of the custom resources: one summary row per
//! Strategy, RiskPolicy and position, built purely from the objects (no client here), as tables
//! and as the `-o json|yaml` documents. Money is shown from the statuses' micro-unit integers.

use polyfleet_core::{Money, Quantity};

use polyfleet_crds::conditions::{Condition, find_condition};
use polyfleet_crds::{RiskPolicy, Strategy};
use serde::Serialize;

use super::table::{Table, human_duration};

/// One Strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `arbitrage`, `marketMaking` or `directional`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Execution mode: paper, shadow or live.
    pub mode: String,
    /// True when `spec.suspend` holds it stopped.
    pub suspended: bool,
    /// Its RiskPolicy.
    pub risk_policy: String,
    /// The mode its RiskPolicy has in force (`off`, `reduceOnly`, `halt`), when the policy reports one.
    pub risk_mode: Option<String>,
    /// The Ready condition: `True`, `False` or `Unknown` (no status yet).
    pub ready: String,
    /// The Ready condition's reason, when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Realized PnL, micro-USDC.
    pub realized_micros: i64,
    /// Unrealized PnL, micro-USDC.
    pub unrealized_micros: i64,
    /// Realized plus unrealized, USDC.
    pub pnl: String,
    /// Orders resting at the venue.
    pub open_orders: i32,
    /// Tokens held.
    pub positions: usize,
    /// True when the running agent acknowledged the current parameters.
    pub parameters_current: bool,
    /// Brier score of the first model version it trades on (directional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brier: Option<String>,
    /// The experiment it is an arm of and where its comparison stands (`quoting/A: ABetter after
    /// 6 pairs`; a pair is a slot, or a block of two for arms taking turns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// Creation time (RFC 3339).
    pub created: Option<String>,
    #[serde(skip)]
    age_s: Option<i64>,
}

/// One RiskPolicy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The declared kill switch.
    pub kill_switch: String,
    /// The mode in force (the kill switch, or `reduceOnly` while a trip stands).
    pub mode: String,
    /// The trip in force (`dailyLoss`, `drawdown`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trip: Option<String>,
    /// Gross exposure, micro-USDC.
    pub exposure_micros: i64,
    /// Today's marked PnL, micro-USDC.
    pub daily_pnl_micros: i64,
    /// Drop of the marked equity from its peak, micro-USDC.
    pub drawdown_micros: i64,
    /// Worst-case loss at resolution, micro-USDC.
    pub worst_case_loss_micros: i64,
    /// Strategies under it, by name.
    pub strategies: Vec<String>,
    /// The Ready condition.
    pub ready: String,
    /// Creation time (RFC 3339).
    pub created: Option<String>,
    #[serde(skip)]
    age_s: Option<i64>,
}

/// One position of a Strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionRow {
    /// Namespace.
    pub namespace: String,
    /// The Strategy holding it.
    pub strategy: String,
    /// The Market.
    pub market: String,
    /// Token id (decimal uint256).
    pub token_id: String,
    /// Shares held, micro-shares.
    pub size_micros: i64,
    /// Average entry price.
    pub avg_price: String,
}

/// `kubectl polyfleet status -o json|yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// Every Strategy.
    pub strategies: Vec<StrategyRow>,
    /// Every RiskPolicy.
    pub risk_policies: Vec<PolicyRow>,
}

/// `kubectl polyfleet pnl -o json|yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PnlView {
    /// Every Strategy's PnL, and the total of them.
    pub strategies: Vec<StrategyRow>,
    /// Realized PnL of them all, micro-USDC.
    pub realized_micros: i64,
    /// Unrealized PnL of them all, micro-USDC.
    pub unrealized_micros: i64,
    /// Every position.
    pub positions: Vec<PositionRow>,
}

fn ready(conditions: &[Condition]) -> (String, Option<String>) {
    match find_condition(conditions, "Ready") {
        Some(c) if c.is_true() => ("True".into(), None),
        Some(c) => (
            serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            Some(c.reason.clone()),
        ),
        None => ("Unknown".into(), None),
    }
}

/// The serialized name of an API enum value (`marketMaking`, `paper`, `reduceOnly`).
fn wire_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn created(meta: &kube::api::ObjectMeta, now_s: i64) -> (Option<String>, Option<i64>) {
    meta.creation_timestamp.as_ref().map_or((None, None), |t| (Some(t.0.to_string()), Some(now_s - t.0.as_second())))
}

fn usdc(micros: i64) -> String {
    Money::from_micros(micros).to_string()
}

/// Micro-shares as shares (a short position, should one be reported, keeps its sign).
fn shares(micros: i64) -> String {
    let q = Quantity::from_micros(micros.unsigned_abs());
    if micros < 0 { format!("-{q}") } else { q.to_string() }
}

/// A Strategy's row; `policies` gives its RiskPolicy's mode in force. `now_s`: Unix seconds.
pub fn strategy_row(s: &Strategy, policies: &[RiskPolicy], now_s: i64) -> StrategyRow {
    let namespace = s.metadata.namespace.clone().unwrap_or_default();
    let status = s.status.clone().unwrap_or_default();
    let (ready, reason) = ready(&status.conditions);
    let (created, age_s) = created(&s.metadata, now_s);
    let risk_mode = policies
        .iter()
        .find(|p| {
            p.metadata.namespace.as_deref() == Some(&namespace)
                && p.metadata.name == Some(s.spec.risk_policy_ref.name.clone())
        })
        .and_then(|p| p.status.as_ref())
        .map(|st| st.mode.clone())
        .filter(|m| !m.is_empty());
    StrategyRow {
        name: s.metadata.name.clone().unwrap_or_default(),
        namespace,
        type_: wire_name(&s.spec.type_),
        mode: wire_name(&s.spec.mode),
        suspended: s.spec.suspend,
        risk_policy: s.spec.risk_policy_ref.name.clone(),
        risk_mode,
        ready,
        reason,
        realized_micros: status.pnl.realized_micros,
        unrealized_micros: status.pnl.unrealized_micros,
        pnl: usdc(status.pnl.realized_micros.saturating_add(status.pnl.unrealized_micros)),
        open_orders: status.open_orders,
        positions: status.positions.iter().filter(|p| p.size_micros != 0).count(),
        parameters_current: status.parameters_generation.is_some()
            && status.parameters_generation == s.metadata.generation,
        brier: status.scores.first().map(|sc| sc.brier.clone()),
        experiment: status
            .experiment
            .as_ref()
            .map(|x| format!("{}/{:?}: {:?} after {} pairs", x.name, x.arm, x.outcome, x.pairs)),
        created,
        age_s,
    }
}

/// A RiskPolicy's row; `strategies` gives the names under it.
pub fn policy_row(p: &RiskPolicy, strategies: &[Strategy], now_s: i64) -> PolicyRow {
    let namespace = p.metadata.namespace.clone().unwrap_or_default();
    let name = p.metadata.name.clone().unwrap_or_default();
    let status = p.status.clone().unwrap_or_default();
    let (created, age_s) = created(&p.metadata, now_s);
    PolicyRow {
        kill_switch: wire_name(&p.spec.kill_switch),
        mode: status.mode.clone(),
        trip: status.trip.as_ref().map(|t| t.reason.clone()),
        exposure_micros: status.exposure_micros,
        daily_pnl_micros: status.daily_pnl_micros,
        drawdown_micros: status.drawdown_micros,
        worst_case_loss_micros: status.worst_case_loss_micros,
        strategies: strategies
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(&namespace) && s.spec.risk_policy_ref.name == name)
            .filter_map(|s| s.metadata.name.clone())
            .collect(),
        ready: ready(&status.conditions).0,
        created,
        age_s,
        namespace,
        name,
    }
}

/// Every position of `strategies` (zero sizes left out).
pub fn positions(strategies: &[Strategy]) -> Vec<PositionRow> {
    strategies
        .iter()
        .flat_map(|s| {
            let status = s.status.as_ref();
            status.into_iter().flat_map(|st| st.positions.iter()).filter(|p| p.size_micros != 0).map(|p| PositionRow {
                namespace: s.metadata.namespace.clone().unwrap_or_default(),
                strategy: s.metadata.name.clone().unwrap_or_default(),
                market: p.market.clone(),
                token_id: p.token_id.clone(),
                size_micros: p.size_micros,
                avg_price: p.avg_price.clone(),
            })
        })
        .collect()
}

/// The `status` view.
pub fn status_view(strategies: &[Strategy], policies: &[RiskPolicy], now_s: i64) -> StatusView {
    StatusView {
        strategies: strategies.iter().map(|s| strategy_row(s, policies, now_s)).collect(),
        risk_policies: policies.iter().map(|p| policy_row(p, strategies, now_s)).collect(),
    }
}

/// The `pnl` view.
pub fn pnl_view(strategies: &[Strategy], policies: &[RiskPolicy], now_s: i64) -> PnlView {
    let rows: Vec<StrategyRow> = strategies.iter().map(|s| strategy_row(s, policies, now_s)).collect();
    PnlView {
        realized_micros: rows.iter().map(|r| r.realized_micros).fold(0i64, i64::saturating_add),
        unrealized_micros: rows.iter().map(|r| r.unrealized_micros).fold(0i64, i64::saturating_add),
        strategies: rows,
        positions: positions(strategies),
    }
}

fn age(age_s: Option<i64>) -> String {
    age_s.map(human_duration).unwrap_or_default()
}

/// A token id as a table shows it: long ids cut to their ends (`-o wide` and `-o json` give it whole).
fn short_token(id: &str, wide: bool) -> String {
    if wide || id.len() <= 16 { id.to_string() } else { format!("{}…{}", &id[..8], &id[id.len() - 6..]) }
}

impl StatusView {
    /// As `kubectl get` would print the two kinds: a table each, kind-qualified names, a blank
    /// line between. `namespaced`: with a NAMESPACE column (`-A`); `wide`: more columns.
    pub fn tables(&self, all_namespaces: bool, wide: bool) -> String {
        let strategies = strategy_table(&self.strategies, all_namespaces, wide);
        let mut p = if all_namespaces { vec!["NAMESPACE"] } else { vec![] };
        p.extend([
            "NAME",
            "KILLSWITCH",
            "MODE",
            "TRIP",
            "EXPOSURE",
            "DAILY-PNL",
            "DRAWDOWN",
            "STRATEGIES",
            "READY",
            "AGE",
        ]);
        if wide {
            p.push("WORST-CASE");
        }
        let mut policies = Table::new(p);
        for r in &self.risk_policies {
            let mut cells = if all_namespaces { vec![r.namespace.clone()] } else { vec![] };
            cells.extend([
                format!("riskpolicy.polyfleet.dev/{}", r.name),
                r.kill_switch.clone(),
                r.mode.clone(),
                r.trip.clone().unwrap_or_default(),
                usdc(r.exposure_micros),
                usdc(r.daily_pnl_micros),
                usdc(r.drawdown_micros),
                r.strategies.len().to_string(),
                r.ready.clone(),
                age(r.age_s),
            ]);
            if wide {
                cells.push(usdc(r.worst_case_loss_micros));
            }
            policies.row(cells);
        }
        match (self.strategies.is_empty(), self.risk_policies.is_empty()) {
            (true, true) => String::new(),
            (false, true) => strategies.render(),
            (true, false) => policies.render(),
            (false, false) => format!("{}\n{}", strategies.render(), policies.render()),
        }
    }
}

fn strategy_table(rows: &[StrategyRow], all_namespaces: bool, wide: bool) -> Table {
    let mut h = if all_namespaces { vec!["NAMESPACE"] } else { vec![] };
    h.extend(["NAME", "TYPE", "MODE", "RISK-MODE", "PNL", "OPEN", "POSITIONS", "READY", "AGE"]);
    if wide {
        h.extend(["POLICY", "REALIZED", "UNREALIZED", "PARAMS", "BRIER", "EXPERIMENT", "REASON"]);
    }
    let mut t = Table::new(h);
    for r in rows {
        let mut cells = if all_namespaces { vec![r.namespace.clone()] } else { vec![] };
        let mode = if r.suspended { format!("{} (suspended)", r.mode) } else { r.mode.clone() };
        cells.extend([
            format!("strategy.polyfleet.dev/{}", r.name),
            r.type_.clone(),
            mode,
            r.risk_mode.clone().unwrap_or_default(),
            r.pnl.clone(),
            r.open_orders.to_string(),
            r.positions.to_string(),
            r.ready.clone(),
            age(r.age_s),
        ]);
        if wide {
            cells.extend([
                r.risk_policy.clone(),
                usdc(r.realized_micros),
                usdc(r.unrealized_micros),
                if r.parameters_current { "applied".into() } else { "pending".into() },
                r.brier.clone().unwrap_or_default(),
                r.experiment.clone().unwrap_or_default(),
                r.reason.clone().unwrap_or_default(),
            ]);
        }
        t.row(cells);
    }
    t
}

impl PnlView {
    /// The strategies' PnL (with a TOTAL line) and, when any, their positions.
    pub fn tables(&self, all_namespaces: bool, wide: bool) -> String {
        let mut h = if all_namespaces { vec!["NAMESPACE"] } else { vec![] };
        h.extend(["NAME", "REALIZED", "UNREALIZED", "PNL", "POSITIONS", "OPEN", "RISK-MODE"]);
        let mut t = Table::new(h);
        for r in &self.strategies {
            let mut cells = if all_namespaces { vec![r.namespace.clone()] } else { vec![] };
            cells.extend([
                r.name.clone(),
                usdc(r.realized_micros),
                usdc(r.unrealized_micros),
                r.pnl.clone(),
                r.positions.to_string(),
                r.open_orders.to_string(),
                r.risk_mode.clone().unwrap_or_default(),
            ]);
            t.row(cells);
        }
        if self.strategies.is_empty() {
            return String::new();
        }
        let mut total = if all_namespaces { vec![String::from("-")] } else { vec![] };
        total.extend([
            "TOTAL".into(),
            usdc(self.realized_micros),
            usdc(self.unrealized_micros),
            usdc(self.realized_micros.saturating_add(self.unrealized_micros)),
            self.positions.len().to_string(),
            self.strategies.iter().map(|r| i64::from(r.open_orders)).sum::<i64>().to_string(),
            "-".into(),
        ]);
        t.row(total);
        let mut out = t.render();
        if !self.positions.is_empty() {
            let mut h = if all_namespaces { vec!["NAMESPACE"] } else { vec![] };
            h.extend(["STRATEGY", "MARKET", "TOKEN", "SHARES", "AVG-PRICE"]);
            let mut p = Table::new(h);
            for r in &self.positions {
                let mut cells = if all_namespaces { vec![r.namespace.clone()] } else { vec![] };
                cells.extend([
                    r.strategy.clone(),
                    r.market.clone(),
                    short_token(&r.token_id, wide),
                    shares(r.size_micros),
                    r.avg_price.clone(),
                ]);
                p.row(cells);
            }
            out.push('\n');
            out.push_str(&p.render());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_780_000_000 + 3 * 3600 + 6 * 60;

    /// The example of `file` (manifests/examples) with this name, namespace and status.
    fn example<K: serde::de::DeserializeOwned>(file: &str, name: &str, status: serde_json::Value) -> K {
        let path = polyfleet_crds::examples::examples_dir().join(file);
        let mut doc = polyfleet_crds::examples::load_file(&path).unwrap().docs.remove(0);
        doc["metadata"] = json!({"name": name, "namespace": "desk", "generation": 3,
                                 "creationTimestamp": "2026-05-28T20:26:40Z"});
        doc["status"] = status;
        serde_json::from_value(doc).unwrap()
    }

    fn strategy(name: &str, policy: &str, status: serde_json::Value) -> Strategy {
        let mut s: Strategy = example("strategy-arbitrage.yaml", name, status);
        s.spec.risk_policy_ref.name = policy.into();
        s
    }

    fn policy(name: &str, status: serde_json::Value) -> RiskPolicy {
        let mut p: RiskPolicy = example("riskpolicy.yaml", name, status);
        p.metadata.creation_timestamp = Some(serde_json::from_value(json!("2026-05-28T17:00:00Z")).unwrap());
        p.spec.kill_switch = polyfleet_crds::risk_policy::RiskMode::ReduceOnly;
        p
    }

    fn fixtures() -> (Vec<Strategy>, Vec<RiskPolicy>) {
        let ready = json!([{"type": "Ready", "status": "True", "reason": "Running", "message": "",
                            "lastTransitionTime": "2026-05-28T20:27:00Z"}]);
        let mm = strategy(
            "mm",
            "default",
            json!({"conditions": ready, "parametersGeneration": 3, "openOrders": 4,
                   "pnl": {"realizedMicros": 12_500_000, "unrealizedMicros": -2_250_000, "total": "10.25"},
                   "positions": [
                       {"market": "m", "tokenId": "71", "sizeMicros": 150_000_000, "avgPrice": "0.42"},
                       {"market": "m", "tokenId": "72", "sizeMicros": 0, "avgPrice": "0"}]}),
        );
        let arb = strategy(
            "arb",
            "other",
            json!({"conditions": [{"type": "Ready", "status": "False", "reason": "VenueNotReady", "message": "x",
                                   "lastTransitionTime": "2026-05-28T20:27:00Z"}],
                   "parametersGeneration": 2,
                   "pnl": {"realizedMicros": -1_000_000, "unrealizedMicros": 0, "total": "-1"}}),
        );
        let p = policy(
            "default",
            json!({"mode": "halt", "exposureMicros": 63_000_000, "exposure": "63", "dailyPnlMicros": -7_000_000,
                   "dailyPnl": "-7", "drawdownMicros": 9_000_000, "worstCaseLossMicros": 63_000_000,
                   "trip": {"reason": "dailyLoss", "since": "2026-05-28T20:30:00Z"},
                   "conditions": ready}),
        );
        (vec![arb, mm], vec![p])
    }

    #[test]
    fn rows_come_from_spec_and_status() {
        let (s, p) = fixtures();
        let v = status_view(&s, &p, NOW);
        let mm = &v.strategies[1];
        assert_eq!((mm.name.as_str(), mm.type_.as_str(), mm.mode.as_str()), ("mm", "arbitrage", "paper"));
        assert_eq!(mm.risk_mode.as_deref(), Some("halt"), "its policy's mode in force");
        assert_eq!((mm.pnl.as_str(), mm.open_orders, mm.positions), ("10.25", 4, 1), "the zero position is left out");
        assert!(mm.parameters_current);
        assert_eq!(mm.created.as_deref(), Some("2026-05-28T20:26:40Z"));
        let arb = &v.strategies[0];
        assert_eq!((arb.ready.as_str(), arb.reason.as_deref()), ("False", Some("VenueNotReady")));
        assert_eq!(arb.risk_mode, None, "its policy is not there");
        assert!(!arb.parameters_current, "generation 3 not acknowledged");
        let pol = &v.risk_policies[0];
        assert_eq!(
            (pol.kill_switch.as_str(), pol.mode.as_str(), pol.trip.as_deref()),
            ("reduceOnly", "halt", Some("dailyLoss"))
        );
        assert_eq!(pol.strategies, vec!["mm".to_string()]);
        let pnl = pnl_view(&s, &p, NOW);
        assert_eq!((pnl.realized_micros, pnl.unrealized_micros), (11_500_000, -2_250_000));
        assert_eq!(pnl.positions.len(), 1);
        assert_eq!(pnl.positions[0].token_id, "71");
    }

    #[test]
    fn tables_read_like_kubectl_get() {
        let (s, p) = fixtures();
        let v = status_view(&s, &p, NOW);
        let text = v.tables(false, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].starts_with("NAME ") && lines[0].ends_with("   READY   AGE"), "{text}");
        assert!(lines[2].starts_with("strategy.polyfleet.dev/mm ") && lines[2].contains("10.25"), "{text}");
        assert!(lines[2].ends_with("True    3h6m"), "AGE of a 3 h 6 min old object: {text}");
        assert!(lines[5].ends_with("True    6h32m"), "{text}");
        assert_eq!(lines[3], "");
        assert!(
            lines[5].starts_with("riskpolicy.polyfleet.dev/default   reduceOnly   halt   dailyLoss   63 "),
            "{text}"
        );
        let all = v.tables(true, true);
        assert!(all.starts_with("NAMESPACE "), "{all}");
        assert!(all.contains("VenueNotReady") && all.contains("pending"), "{all}");
        let pnl = pnl_view(&s, &p, NOW).tables(false, false);
        assert!(pnl.contains("\nTOTAL "), "{pnl}");
        assert!(
            pnl.contains("STRATEGY   MARKET   TOKEN   SHARES   AVG-PRICE\nmm         m        71      150      0.42\n"),
            "{pnl}"
        );
    }

    #[test]
    fn documents_carry_micros_and_names() {
        let (s, p) = fixtures();
        let json = serde_json::to_value(status_view(&s, &p, NOW)).unwrap();
        assert_eq!(json["strategies"][1]["realizedMicros"], 12_500_000);
        assert_eq!(json["strategies"][1]["type"], "arbitrage");
        assert_eq!(json["riskPolicies"][0]["killSwitch"], "reduceOnly");
        assert!(json["strategies"][1].get("ageS").is_none());
        let yaml = serde_saphyr::to_string(&pnl_view(&s, &p, NOW)).unwrap();
        assert!(yaml.contains("realizedMicros: 11500000"), "{yaml}");
    }

    #[test]
    fn long_token_ids_are_cut_in_tables_only() {
        let id = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
        assert_eq!(short_token(id, false), "71321045…992563");
        assert_eq!(short_token(id, true), id);
        assert_eq!(shares(-1_500_000), "-1.5");
    }
}

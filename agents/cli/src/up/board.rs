//! The live summary of `polyfleet up`: it listens to the fleet's bus like any observer (intents,
//! decisions, order updates, fills, market data) and reads positions from the risk store, and
//! renders per strategy: PnL (valued as the backtest values it), positions, open orders,
//! signals, fills and rejections by reason, and what merges, splits, redemptions and settlements
//! did; feed health; and the latency from market event to
//! risk decision (p50/p99 of the last 10 000 decisions).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use polyfleet_backtest::valuation;
use polyfleet_core::accounting::lifecycle::LifecycleTotals;
use polyfleet_core::analytics::scores::ModelScore;
use polyfleet_core::book::{BookFollower, Followed};
use polyfleet_core::config::StrategyConfig;
use polyfleet_core::strategy::drift::DriftReport;
use polyfleet_core::wire::{
    Fill, Intent, MarketEvent, OrderStatus, OrderUpdate, RiskDecision, Verdict, decode, subjects,
};
use polyfleet_core::{ClientOrderId, Money, TokenId, TokenMap};
use polyfleet_io::bus::Bus;
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use tokio::sync::watch;

const LATENCIES: usize = 10_000;

/// The feed is shown as stale when no market event came for this long (the simulator and a
/// live venue send several a second).
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// One strategy's line.
#[derive(Debug, Default, Clone)]
pub struct Line {
    /// Place intents.
    pub signals: u64,
    /// Fills.
    pub fills: u64,
    /// Rejections by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Orders not finished.
    pub open: HashMap<ClientOrderId, OrderStatus>,
    /// Orders finished: a late update of one (published after its final one, as a maker fill
    /// right after the order rested can be) does not open it again.
    pub done: std::collections::HashSet<ClientOrderId>,
    /// Equity: realized plus what is held, marked as the backtest marks it; set by
    /// [`Board::refresh`], `None` while the risk store cannot be read (unknown, not zero).
    pub pnl: Option<Money>,
    /// The realized part of it (fees included); `None` when unknown.
    pub realized: Option<Money>,
    /// Tokens held; `None` when unknown.
    pub positions: Option<usize>,
    /// Every fill, in the order they were published.
    pub trades: Vec<Fill>,
    /// Merges, splits, redemptions and settlements booked (from the risk store); `None` when
    /// unknown.
    pub lifecycle: Option<LifecycleTotals>,
    /// Forecast scores per model version, as the strategy agent last wrote them.
    pub scores: Vec<ModelScore>,
    /// Drift alarms, as the strategy agent last wrote them (strategies that declare them).
    pub drift: Option<DriftReport>,
}

#[derive(Default)]
struct State {
    lines: BTreeMap<String, Line>,
    md_events: u64,
    latencies_ns: VecDeque<u64>,
    books: TokenMap<BookFollower>,
    /// Why the last refresh could not read the risk store.
    store_error: Option<String>,
    /// When the last market event came.
    last_md: Option<Instant>,
}

/// The summary's state, fed by [`Board::listen`].
#[derive(Clone)]
pub struct Board {
    state: Arc<Mutex<State>>,
    strategies: Vec<StrategyConfig>,
}

impl Board {
    /// A board for these strategies.
    pub fn new(strategies: Vec<StrategyConfig>) -> Board {
        let mut s = State::default();
        for c in &strategies {
            s.lines.insert(c.name.clone(), Line::default());
        }
        Board { state: Arc::new(Mutex::new(s)), strategies }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Follows the bus until `shutdown`.
    pub async fn listen<B: Bus>(&self, bus: B, venue: &str, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut intents = bus.subscribe("intent.>").await?;
        let mut decisions = bus.subscribe("decision.>").await?;
        let mut orders = bus.subscribe("order.>").await?;
        let mut fills = bus.subscribe("fill.>").await?;
        let mut md = polyfleet_agent::feed::subscribe(&bus, venue).await?;
        // Books with a gap (the board missed events, e.g. while NATS restarted) are resynced from
        // the market-data agent's snapshot, as the agents resync theirs.
        let (mut snaps, mut answers) = polyfleet_agent::feed::Snapshots::new(bus.clone(), venue);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                Some(m) = intents.next() => match decode::<Intent>(&m.payload) {
                    Ok(Intent::Place(o)) => self.with(|s| s.lines.entry(o.strategy).or_default().signals += 1),
                    Ok(Intent::Ctf(c)) => self.with(|s| s.lines.entry(c.strategy).or_default().signals += 1),
                    Ok(Intent::PlaceSet(legs)) => if let Some(o) = legs.first() {
                        let n = legs.len() as u64;
                        self.with(|s| s.lines.entry(o.strategy.clone()).or_default().signals += n);
                    },
                    _ => {}
                },
                Some(m) = decisions.next() => if let Ok(d) = decode::<RiskDecision>(&m.payload) {
                    self.on_decision(d);
                },
                Some(m) = orders.next() => if let Ok(u) = decode::<OrderUpdate>(&m.payload) {
                    self.with(|s| {
                        let line = s.lines.entry(u.strategy.clone()).or_default();
                        if u.status.is_terminal() {
                            line.open.remove(&u.client_order_id);
                            line.done.insert(u.client_order_id);
                        } else if !line.done.contains(&u.client_order_id) {
                            line.open.insert(u.client_order_id, u.status);
                        }
                    });
                },
                Some(m) = fills.next() => if let Ok(f) = decode::<Fill>(&m.payload) {
                    self.with(|s| {
                        let line = s.lines.entry(f.strategy.clone()).or_default();
                        line.fills += 1;
                        line.trades.push(f);
                    });
                },
                Some(m) = md.next() => if let Ok(ev) = decode::<MarketEvent>(&m.payload) {
                    let followed = self.with(|s| {
                        s.md_events += 1;
                        s.last_md = Some(Instant::now());
                        s.books.entry(ev.token).or_default().on_event(&ev)
                    });
                    if matches!(followed, Followed::Gap { .. }) {
                        snaps.request(ev.token);
                    }
                },
                Some((token, snapshot)) = answers.recv() => {
                    snaps.answered(&token);
                    match snapshot {
                        Some(ev) => { self.with(|s| s.books.entry(token).or_default().on_event(&ev)); }
                        None => snaps.request(token),
                    }
                },
            }
        }
    }

    fn on_decision(&self, d: RiskDecision) {
        self.with(|s| {
            // Wall time: stamps of a Venue's accelerated clock are scaled back.
            let venue_ns = d.decided_ts_ns.saturating_sub(d.intent.cause_recv_ts_ns);
            let latency = u64::try_from(polyfleet_agent::time::wall_span(Duration::from_nanos(venue_ns)).as_nanos())
                .unwrap_or(u64::MAX);
            if s.latencies_ns.len() == LATENCIES {
                s.latencies_ns.pop_front();
            }
            s.latencies_ns.push_back(latency);
            if let Verdict::Rejected { reason, .. } = d.verdict {
                *s.lines.entry(d.intent.strategy).or_default().rejections.entry(reason.as_str().into()).or_default() +=
                    1;
            }
        });
    }

    /// Re-reads positions from the store and values them.
    pub async fn refresh<S: RiskStore>(&self, store: &S) {
        let mut failed = None;
        for c in &self.strategies {
            let policy = PolicyKey::new(&c.namespace, &c.risk_policy);
            let positions = match store.positions(&policy, &c.name).await {
                Ok(p) => p,
                Err(e) => {
                    failed = Some(e.to_string());
                    self.with(|s| {
                        let line = s.lines.entry(c.name.clone()).or_default();
                        (line.pnl, line.realized, line.positions) = (None, None, None);
                    });
                    continue;
                }
            };
            let realized = positions.iter().fold(Money::ZERO, |a, (_, p)| a.checked_add(p.realized).unwrap_or(a));
            let lifecycle = store.lifecycle_totals(&policy, Some(&c.name)).await.ok();
            let sets: Vec<Vec<TokenId>> =
                c.arb_sets().unwrap_or_default().iter().map(|s| s.legs.iter().map(|l| l.token).collect()).collect();
            self.with(|s| {
                let mark = |t: &TokenId| {
                    s.books.get(t).filter(|f| f.is_live()).and_then(|f| f.book().best_bid()).map(|l| l.price)
                };
                let (pnl, _) = valuation::equity(&positions, realized, &sets, mark);
                let line = s.lines.entry(c.name.clone()).or_default();
                line.pnl = Some(pnl);
                line.realized = Some(realized);
                line.positions = Some(positions.iter().filter(|(_, p)| !p.size.is_zero()).count());
                line.lifecycle = lifecycle;
            });
        }
        self.with(|s| s.store_error = failed);
    }

    /// Reads each strategy's forecast scores and drift alarms (when it declares them) from the
    /// bus's KV bucket (where its agent writes them); an unreadable entry leaves the last ones.
    /// Bounded by [`Self::READ_WAIT`]: while NATS is down (killed, being restarted by the
    /// supervisor in the same loop) the board keeps the last values rather than wait.
    pub async fn read_reports<B: Bus>(&self, bus: &B) {
        let _ = tokio::time::timeout(Self::READ_WAIT, self.read_all(bus)).await;
    }

    /// The longest the board waits for the KV reads of one refresh.
    pub const READ_WAIT: Duration = Duration::from_millis(500);

    async fn read_all<B: Bus>(&self, bus: &B) {
        for c in &self.strategies {
            if let Some(scores) =
                read_doc::<_, Vec<ModelScore>>(bus, &subjects::scores_key(&c.namespace, &c.name)).await
            {
                self.with(|s| s.lines.entry(c.name.clone()).or_default().scores = scores);
            }
            if c.drift.is_none() {
                continue;
            }
            if let Some(drift) = read_doc::<_, DriftReport>(bus, &subjects::drift_key(&c.namespace, &c.name)).await {
                self.with(|s| s.lines.entry(c.name.clone()).or_default().drift = Some(drift));
            }
        }
    }

    /// A copy of every line.
    pub fn lines(&self) -> BTreeMap<String, Line> {
        self.with(|s| s.lines.clone())
    }

    /// Market events seen, books known and books live.
    pub fn feed(&self) -> (u64, usize, usize) {
        self.with(|s| (s.md_events, s.books.len(), s.books.values().filter(|f| f.is_live()).count()))
    }

    /// (p50, p99, count) of market event to risk decision, in microseconds.
    pub fn latency_us(&self) -> Option<(u64, u64, usize)> {
        self.with(|s| {
            let mut v: Vec<u64> = s.latencies_ns.iter().copied().collect();
            if v.is_empty() {
                return None;
            }
            v.sort_unstable();
            let at = |q: usize| v[(v.len() * q / 100).min(v.len() - 1)] / 1000;
            Some((at(50), at(99), v.len()))
        })
    }

    /// The summary as text.
    pub fn render(&self, header: &str, rate: f64) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{header}");
        let (events, known, live) = self.feed();
        match self.with(|s| s.last_md).map(|t| t.elapsed()) {
            Some(quiet) if quiet >= STALE_AFTER => {
                let _ = writeln!(
                    out,
                    "feed: STALE, no market event for {:.0} s ({live}/{known} books were live, {events} market events)",
                    quiet.as_secs_f64()
                );
            }
            _ => {
                let _ = writeln!(out, "feed: {live}/{known} books live, {events} market events ({rate:.0}/s)");
            }
        }
        if let Some(e) = self.with(|s| s.store_error.clone()) {
            let _ = writeln!(out, "risk store unreadable ({e}): PnL and positions unknown");
        }
        let _ = writeln!(
            out,
            "{:<20} {:>12} {:>12} {:>9} {:>5} {:>8} {:>6}  rejections",
            "strategy", "pnl (USDC)", "realized", "positions", "open", "signals", "fills"
        );
        let known = |x: Option<String>| x.unwrap_or_else(|| "unknown".into());
        for (name, l) in self.lines() {
            let rej: Vec<String> = l.rejections.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let _ = writeln!(
                out,
                "{:<20} {:>12} {:>12} {:>9} {:>5} {:>8} {:>6}  {}",
                name,
                known(l.pnl.map(|m| m.to_string())),
                known(l.realized.map(|m| m.to_string())),
                known(l.positions.map(|n| n.to_string())),
                l.open.len(),
                l.signals,
                l.fills,
                if rej.is_empty() { "-".into() } else { rej.join(" ") }
            );
            if let Some(t) = l.lifecycle.filter(|t| *t != LifecycleTotals::default()) {
                let _ = writeln!(
                    out,
                    "{:<20} merged {} sets ({}), split {} ({}), converted {} NO sets ({}), redeemed {} shares ({}), settled {} markets for {} USDC, capital returned {} USDC",
                    "",
                    t.merged,
                    t.merges,
                    t.split,
                    t.splits,
                    t.converted,
                    t.conversions,
                    t.redeemed,
                    t.redemptions,
                    t.settlements,
                    t.settled_pnl,
                    t.capital_returned
                );
            }
        }
        for (name, l) in self.lines() {
            if let Some(d) = &l.drift {
                let standing: Vec<String> =
                    d.alarms.iter().map(|a| format!("{} ({})", a.metric.as_str(), a.detail)).collect();
                let _ = writeln!(
                    out,
                    "{:<20} drift: {}; {} markouts, {} slippage, {} forecasts watched, fired {:?}; size factor {:.2}%",
                    name,
                    if standing.is_empty() { "no alarm".to_string() } else { standing.join(", ") },
                    d.samples[0],
                    d.samples[1],
                    d.samples[2],
                    d.fired,
                    f64::from(d.size_factor_bps) / 100.0
                );
            }
            for m in &l.scores {
                let skill = m.brier_skill_bps.map_or("n/a".into(), |b| format!("{:+.4}", b as f64 / 10_000.0));
                let market = m.market_brier_micros.map_or("n/a".into(), |b| format!("{:.4}", b as f64 / 1e6));
                let clv = m.clv_mean_ppm.map_or(String::new(), |c| {
                    format!(
                        "; {} fills against the close, mean CLV {:+.4}, {} beat it",
                        m.clv_fills,
                        c as f64 / 1e6,
                        m.clv_beat
                    )
                });
                let _ = writeln!(
                    out,
                    "{:<20} {}@{}: {} resolved forecasts, Brier {:.4} (market {market}, skill {skill}), log loss {:.4}{clv}",
                    name,
                    m.model,
                    m.version,
                    m.forecasts,
                    m.brier_micros as f64 / 1e6,
                    m.log_loss
                );
            }
        }
        match self.latency_us() {
            Some((p50, p99, n)) => {
                let _ = writeln!(out, "market event -> risk decision: p50 {p50} us, p99 {p99} us (last {n})");
            }
            None => {
                let _ = writeln!(out, "market event -> risk decision: no orders yet");
            }
        }
        out
    }
}

/// A JSON document under `key` in the bus's KV bucket; `None` when absent or unreadable.
async fn read_doc<B: Bus, T: serde::de::DeserializeOwned>(bus: &B, key: &str) -> Option<T> {
    let entry = bus.kv_get(key).await.ok()??;
    serde_json::from_slice(&entry.value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_store_shows_unknown_not_zero_and_a_quiet_feed_stale() {
        let board = Board::new(vec![]);
        board.with(|s| {
            s.lines.insert("arb".into(), Line::default());
            s.store_error = Some("connection refused".into());
        });
        let text = board.render("now:", 0.0);
        assert!(text.contains("risk store unreadable (connection refused): PnL and positions unknown"), "{text}");
        let row = text.lines().find(|l| l.starts_with("arb")).unwrap();
        assert_eq!(row.split_whitespace().take(4).collect::<Vec<_>>(), ["arb", "unknown", "unknown", "unknown"]);
        // Known again: total and realized side by side.
        board.with(|s| {
            s.store_error = None;
            let l = s.lines.get_mut("arb").unwrap();
            (l.pnl, l.realized, l.positions) =
                (Some(Money::from_micros(32_513_590)), Some(Money::from_micros(-1_192_865)), Some(3));
        });
        let text = board.render("now:", 0.0);
        assert!(!text.contains("unreadable"), "{text}");
        assert!(text.contains("feed: 0/0 books live"), "{text}");
        // A feed that went quiet is stale, whatever the books last said.
        board.with(|s| s.last_md = Instant::now().checked_sub(STALE_AFTER + std::time::Duration::from_secs(2)));
        let text = board.render("now:", 0.0);
        assert!(text.contains("feed: STALE, no market event for 5 s (0/0 books were live"), "{text}");
        let row = text.lines().find(|l| l.starts_with("arb")).unwrap();
        assert_eq!(row.split_whitespace().take(4).collect::<Vec<_>>(), ["arb", "32.51359", "-1.192865", "3"]);
        assert!(!text.contains("merged"), "no lifecycle line before anything was booked: {text}");
        board.with(|s| {
            s.lines.get_mut("arb").unwrap().lifecycle = Some(LifecycleTotals {
                merges: 2,
                merged: polyfleet_core::Quantity::from_micros(80_000_000),
                redemptions: 1,
                redeemed: polyfleet_core::Quantity::from_micros(12_500_000),
                settlements: 3,
                settled_pnl: Money::from_micros(1_500_000),
                capital_returned: Money::from_micros(92_500_000),
                ..Default::default()
            })
        });
        let text = board.render("now:", 0.0);
        assert!(
            text.contains("merged 80 sets (2), split 0 (0), converted 0 NO sets (0), redeemed 12.5 shares (1), settled 3 markets for 1.5 USDC, capital returned 92.5 USDC"),
            "{text}"
        );
    }

    #[test]
    fn forecast_scores_are_shown_under_their_strategy() {
        let board = Board::new(vec![]);
        board.with(|s| {
            s.lines.insert("dir".into(), Line::default());
        });
        assert!(!board.render("now:", 0.0).contains("Brier"), "no scores, no line");
        board.with(|s| {
            s.lines.get_mut("dir").unwrap().scores = vec![ModelScore {
                model: "fed-model".into(),
                version: "1.4.0".into(),
                forecasts: 3,
                brier_micros: 163_333,
                brier: 0.163_333_333_333_333_33,
                market_brier_micros: Some(220_000),
                brier_skill_bps: Some(2575),
                log_loss: 0.5202,
                calibration: vec![],
                clv_fills: 4,
                clv_mean_ppm: Some(-12_500),
                clv_beat: 1,
                calibration_rises: 0,
                recent_brier: 0.163_333,
                recent_window: 3,
            }]
        });
        let text = board.render("now:", 0.0);
        assert!(
            text.contains(
                "fed-model@1.4.0: 3 resolved forecasts, Brier 0.1633 (market 0.2200, skill +0.2575), log loss 0.5202; \
                 4 fills against the close, mean CLV -0.0125, 1 beat it"
            ),
            "{text}"
        );
    }
}

//! Prometheus metrics of the agents, and the HTTP endpoint that serves them with the Kubernetes
//! probes (`/metrics`, `/healthz`, `/readyz`): [`MarketDataMetrics`] for the market-data agent,
//! [`OrderPathMetrics`] for the strategy, risk and execution agents, [`JournalMetrics`] for the
//! journal agent.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use polyfleet_io::execution::VenueMetrics;
pub use polyfleet_io::probes::{Probe, serve};

/// Label of a per-kind counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind counted.
    pub kind: String,
}

/// Every metric of the market-data agent.
pub struct MarketDataMetrics {
    /// Market-channel events decoded, by event type.
    pub events: Family<KindLabel, Counter>,
    /// Frames received.
    pub frames: Counter,
    /// Decode problems, by kind (malformed_frame, invalid_event, unknown_type, unsupported_schema).
    pub decode_errors: Family<KindLabel, Counter>,
    /// WebSocket (re)connections made.
    pub connects: Counter,
    /// Connections lost.
    pub disconnects: Counter,
    /// Inbound-silence watchdog trips.
    pub watchdog_trips: Counter,
    /// Rebuilt books whose hash disagreed with the venue's.
    pub hash_mismatches: Counter,
    /// REST resyncs done.
    pub resyncs: Counter,
    /// Venue snapshots whose hash could not be reproduced (their deltas go unchecked).
    pub unverifiable_snapshots: Counter,
    /// Normalized events published on NATS.
    pub published: Counter,
    /// Snapshot requests answered.
    pub snapshot_requests: Counter,
    /// Venue timestamp to receipt, seconds.
    pub event_lag: Histogram,
    /// Tokens with a live book.
    pub live_tokens: Gauge,
    /// REST market statuses read, by outcome (ok, unknown, error).
    pub market_status: Family<KindLabel, Counter>,
    /// Resolutions published after the REST status confirmed them (or found them).
    pub resolutions: Counter,
    /// Resolutions whose REST winner differed from the market channel's (REST followed).
    pub resolution_disagreements: Counter,
    /// Served markets not accepting orders (closed, awaiting resolution).
    pub markets_halted: Gauge,
    /// Series rounds served as they came (`added`, per round), or documents refused (`refused`).
    pub rounds: Family<KindLabel, Counter>,
    ready: AtomicBool,
    registry: Registry,
}

impl MarketDataMetrics {
    /// Registers every metric under the `polyfleet_md` prefix.
    pub fn new() -> Arc<MarketDataMetrics> {
        let mut registry = Registry::with_prefix("polyfleet_md");
        let m = MarketDataMetrics {
            events: Family::default(),
            frames: Counter::default(),
            decode_errors: Family::default(),
            connects: Counter::default(),
            disconnects: Counter::default(),
            watchdog_trips: Counter::default(),
            hash_mismatches: Counter::default(),
            resyncs: Counter::default(),
            unverifiable_snapshots: Counter::default(),
            published: Counter::default(),
            snapshot_requests: Counter::default(),
            event_lag: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
            live_tokens: Gauge::default(),
            market_status: Family::default(),
            resolutions: Counter::default(),
            resolution_disagreements: Counter::default(),
            markets_halted: Gauge::default(),
            rounds: Family::default(),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("events", "Market-channel events decoded, by type", m.events.clone());
        registry.register("market_status", "REST market statuses read, by outcome", m.market_status.clone());
        registry.register("resolutions", "Market resolutions confirmed over REST and published", m.resolutions.clone());
        registry.register(
            "resolution_disagreements",
            "Resolutions whose REST winner differed from the market channel's",
            m.resolution_disagreements.clone(),
        );
        registry.register("markets_halted", "Served markets not accepting orders", m.markets_halted.clone());
        registry.register("rounds", "Series rounds served as they came, or documents refused", m.rounds.clone());
        registry.register("frames", "WebSocket frames received", m.frames.clone());
        registry.register("decode_errors", "Frames or events skipped, by reason", m.decode_errors.clone());
        registry.register("connects", "WebSocket connections established", m.connects.clone());
        registry.register("disconnects", "WebSocket connections lost", m.disconnects.clone());
        registry.register("watchdog_trips", "Inbound-silence watchdog trips", m.watchdog_trips.clone());
        registry.register(
            "hash_mismatches",
            "Rebuilt books disagreeing with the venue hash",
            m.hash_mismatches.clone(),
        );
        registry.register("resyncs", "REST book resyncs", m.resyncs.clone());
        registry.register(
            "unverifiable_snapshots",
            "Venue snapshots whose hash could not be reproduced",
            m.unverifiable_snapshots.clone(),
        );
        registry.register("published", "Normalized events published", m.published.clone());
        registry.register("snapshot_requests", "Snapshot requests answered", m.snapshot_requests.clone());
        registry.register("event_lag_seconds", "Venue timestamp to receipt", m.event_lag.clone());
        registry.register("live_tokens", "Tokens with a live book", m.live_tokens.clone());
        Arc::new(MarketDataMetrics { registry, ..m })
    }

    /// Marks the agent ready (every token has a live book) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// True when ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

impl Probe for MarketDataMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        MarketDataMetrics::is_ready(self)
    }
}

/// Label of a latency histogram: the hop.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HopLabel {
    /// The hop measured (`md_to_signal`, ...).
    pub hop: &'static str,
}

/// Label of a model version's score gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScoreLabel {
    /// Model id.
    pub model: String,
    /// Model version.
    pub version: String,
    /// `forecasts`, `brier_micros`, `market_brier_micros`, `brier_skill_bps`, `clv_fills`,
    /// `clv_mean_ppm` or `clv_beat`.
    pub kind: &'static str,
}

/// Label of a venue call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VenueCallLabel {
    /// The endpoint called.
    pub endpoint: &'static str,
    /// The call's result.
    pub result: &'static str,
}

/// Label of a conditional-token operation counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CtfLabel {
    /// `merge`, `split`, `redeem` or `convert`.
    pub op: &'static str,
    /// `done`, `failed`, or `unknown` (a live operation interrupted after it may have been sent;
    /// it is then also counted `failed`).
    pub outcome: &'static str,
}

/// Label of a decision counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The decision's reason (`approved` or the rule).
    pub reason: &'static str,
}

type Histograms = Family<HopLabel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0,
    ])
}

/// Metrics of the order path's agents (strategy, risk gateway, execution); each agent uses its
/// part and registers under its own prefix.
pub struct OrderPathMetrics {
    /// Strategy: sets/orders signalled (place intents emitted).
    pub signals: Counter,
    /// Strategy: cancel intents emitted.
    pub cancels: Counter,
    /// Strategy: market events applied to the books without the strategy hearing them on their
    /// own (queued behind later changes of the same book while the agent was busy).
    pub conflated: Counter,
    /// Strategy: parameter generation applied last.
    pub params_generation: Gauge,
    /// Strategy: parameter documents refused.
    pub params_rejected: Counter,
    /// Strategy: forecast scores per model version, by kind.
    pub model_scores: Family<ScoreLabel, Gauge>,
    /// Strategy: drift alarms by metric (`markouts`, `slippage`, `calibration`): fired since
    /// the start (`drift_alarms_fired`), and whether one stands (`drift_alarm`, 1 or 0).
    pub drift_fired: Family<KindLabel, Gauge>,
    /// See `drift_fired`.
    pub drift_standing: Family<KindLabel, Gauge>,
    /// Strategy: the size factor in force, basis points (10 000 with no drift alarm).
    pub size_factor_bps: Gauge,
    /// Strategy: fair-value signals by what became of them (`accepted`, `malformed`, `stale`,
    /// `unfollowed`, `unknown_token`).
    pub signals_received: Family<KindLabel, Counter>,
    /// Risk: decisions by reason (`approved` or the rejection reason).
    pub decisions: Family<ReasonLabel, Counter>,
    /// Risk and execution: risk-store calls that failed (unreachable, timed out).
    pub store_errors: Counter,
    /// Execution: order updates by status.
    pub orders: Family<KindLabel, Counter>,
    /// Execution: fills by liquidity (maker/taker).
    pub fills: Family<KindLabel, Counter>,
    /// Execution: approvals seen again and answered from the recorded outcome.
    pub replays: Counter,
    /// Execution: fresh orders executed together (one executor call; live: batch requests of
    /// up to 15 to the venue).
    pub execution_batch: Histogram,
    /// Execution: working orders cancelled because their policy's mode no longer admits them, by
    /// mode (`reduceOnly`, `halt`).
    pub mode_cancels: Family<KindLabel, Counter>,
    /// Positions settled at a market's resolution (one per strategy and market).
    pub settlements: Counter,
    /// PnL realized by settlements, micro-USDC (negative when positions lost).
    pub settled_pnl_micros: Gauge,
    /// Execution: conditional-token operations by operation and outcome (done, failed).
    pub ctf_ops: Family<CtfLabel, Counter>,
    /// Execution: sets merged or split, shares redeemed, units converted, in micro-units, by
    /// operation (done only).
    pub ctf_size_micros: Family<KindLabel, Counter>,
    /// Execution: collateral that merges and redemptions brought back, micro-USDC.
    pub capital_returned_micros: Counter,
    /// Strategy: what the strategy's own rules did, by kind (arbitrage: `completed` sets,
    /// `completion` buys of broken sets, `unwind` orders, `stranded` remnants below the minimum
    /// size, leg `timeout`s, `sell_back`s of held sets, `recycled` capital, `ctf_failure`s).
    pub rule_events: Family<KindLabel, Counter>,
    /// Strategy: the ledger's positions it started from (`restored`, counted per token taken),
    /// or `unavailable` once when the risk gateway did not answer and it started flat.
    pub positions_restored: Family<KindLabel, Counter>,
    /// Strategy, market data, execution: a series Market's rounds taken while running (`added`,
    /// per round), or documents refused (`refused`).
    pub rounds: Family<KindLabel, Counter>,
    /// Strategy: what quoting earned besides fills, micro-USDC, by kind (`rebates_accrued`,
    /// `rebates_paid`, `rewards_estimated`, `fee_equivalent`), from the venue's formulas.
    pub earnings_micros: Family<KindLabel, Gauge>,
    /// Strategy: liquidity-reward samples taken, and those in which its quotes scored, by kind
    /// (`samples`, `scoring`).
    pub reward_samples: Family<KindLabel, Gauge>,
    /// Messages that did not decode (skipped and acknowledged).
    pub malformed: Counter,
    /// Live execution: venue calls by endpoint and result (ok, refused, engine_restart,
    /// throttled, transport).
    pub venue_calls: Family<VenueCallLabel, Counter>,
    /// Live execution: waits for the client-side rate limit.
    pub rate_limit_waits: Counter,
    /// Live execution: dead-man heartbeats by result (ok, error).
    pub heartbeats: Family<KindLabel, Counter>,
    /// Live execution: user-channel events by kind (order, trade, malformed).
    pub user_events: Family<KindLabel, Counter>,
    /// Live execution: user-channel (re)connections.
    pub user_connects: Counter,
    /// Live execution: orders refused before reaching the venue, by gate.
    pub live_refused: Family<KindLabel, Counter>,
    /// Shadow mode: orders built and signed but not sent, by comparison with paper
    /// (agree, differs, unsigned).
    pub shadow_orders: Family<KindLabel, Counter>,
    /// Latency per hop and end to end, seconds: `md_to_signal`, `intent_to_decision`,
    /// `risk_store_call`, `decision_to_execution`, `end_to_end` (market event received to
    /// approved order received by execution).
    pub latency: Histograms,
    ready: AtomicBool,
    registry: Registry,
}

impl OrderPathMetrics {
    /// Registers every metric under `prefix` (e.g. `polyfleet_risk`).
    pub fn new(prefix: &str) -> Arc<OrderPathMetrics> {
        let mut registry = Registry::with_prefix(prefix);
        let m = OrderPathMetrics {
            signals: Counter::default(),
            cancels: Counter::default(),
            conflated: Counter::default(),
            params_generation: Gauge::default(),
            params_rejected: Counter::default(),
            signals_received: Family::default(),
            model_scores: Family::default(),
            drift_fired: Family::default(),
            drift_standing: Family::default(),
            size_factor_bps: Gauge::default(),
            decisions: Family::default(),
            store_errors: Counter::default(),
            orders: Family::default(),
            fills: Family::default(),
            replays: Counter::default(),
            execution_batch: Histogram::new([1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0]),
            mode_cancels: Family::default(),
            settlements: Counter::default(),
            settled_pnl_micros: Gauge::default(),
            ctf_ops: Family::default(),
            ctf_size_micros: Family::default(),
            capital_returned_micros: Counter::default(),
            rule_events: Family::default(),
            positions_restored: Family::default(),
            rounds: Family::default(),
            earnings_micros: Family::default(),
            reward_samples: Family::default(),
            malformed: Counter::default(),
            venue_calls: Family::default(),
            rate_limit_waits: Counter::default(),
            heartbeats: Family::default(),
            user_events: Family::default(),
            user_connects: Counter::default(),
            live_refused: Family::default(),
            shadow_orders: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("signals", "Place intents emitted", m.signals.clone());
        registry.register("cancels", "Cancel intents emitted", m.cancels.clone());
        registry.register(
            "market_events_conflated",
            "Market events applied to the books but heard only with a later change of the same book",
            m.conflated.clone(),
        );
        registry.register("params_generation", "Parameter generation applied", m.params_generation.clone());
        registry.register("params_rejected", "Parameter documents refused", m.params_rejected.clone());
        registry.register("fair_value_signals", "Fair-value signals by outcome", m.signals_received.clone());
        registry.register("model_scores", "Forecast scores per model version", m.model_scores.clone());
        registry.register("drift_alarms_fired", "Drift alarms fired since the start, by metric", m.drift_fired.clone());
        registry.register("drift_alarm", "Whether a drift alarm stands, by metric", m.drift_standing.clone());
        registry.register(
            "size_factor_bps",
            "Size factor in force (drift alarms), basis points",
            m.size_factor_bps.clone(),
        );
        registry.register("decisions", "Risk decisions by reason", m.decisions.clone());
        registry.register("store_errors", "Risk store calls that failed", m.store_errors.clone());
        registry.register("orders", "Order updates by status", m.orders.clone());
        registry.register("fills", "Fills by liquidity", m.fills.clone());
        registry.register("replays", "Redelivered approvals answered from the record", m.replays.clone());
        registry.register("execution_batch_orders", "Fresh orders executed together", m.execution_batch.clone());
        registry.register(
            "mode_cancels",
            "Working orders cancelled because their policy's mode no longer admits them",
            m.mode_cancels.clone(),
        );
        registry.register("rounds", "Series rounds taken while running, or documents refused", m.rounds.clone());
        registry.register("settlements", "Strategy positions settled at a market's resolution", m.settlements.clone());
        registry.register(
            "settled_pnl_micros",
            "PnL realized by settlements, micro-USDC",
            m.settled_pnl_micros.clone(),
        );
        registry.register("ctf_ops", "Conditional-token operations by operation and outcome", m.ctf_ops.clone());
        registry.register(
            "ctf_size_micros",
            "Sets merged or split, shares redeemed, units converted (micro-units)",
            m.ctf_size_micros.clone(),
        );
        registry.register(
            "capital_returned_micros",
            "Collateral brought back by merges and redemptions, micro-USDC",
            m.capital_returned_micros.clone(),
        );
        registry.register("rule_events", "What the strategy's own rules did, by kind", m.rule_events.clone());
        registry.register(
            "positions_restored",
            "Ledger positions the strategy started from, or unavailable",
            m.positions_restored.clone(),
        );
        registry.register(
            "earnings_micros",
            "Maker rebates and estimated liquidity rewards, micro-USDC, by kind",
            m.earnings_micros.clone(),
        );
        registry.register("reward_samples", "Liquidity-reward samples taken and scoring", m.reward_samples.clone());
        registry.register("malformed", "Messages that did not decode", m.malformed.clone());
        registry.register("venue_calls", "Venue API calls by endpoint and result", m.venue_calls.clone());
        registry.register("rate_limit_waits", "Waits for the client-side rate limit", m.rate_limit_waits.clone());
        registry.register("heartbeats", "Dead-man heartbeats by result", m.heartbeats.clone());
        registry.register("user_events", "User-channel events by kind", m.user_events.clone());
        registry.register("user_connects", "User-channel connections", m.user_connects.clone());
        registry.register("live_refused", "Live orders refused before the venue, by gate", m.live_refused.clone());
        registry.register("shadow_orders", "Shadow orders by comparison with paper", m.shadow_orders.clone());
        registry.register("latency_seconds", "Latency per hop and end to end", m.latency.clone());
        Arc::new(OrderPathMetrics { registry, ..m })
    }

    /// Records a latency between two Unix-ns timestamps.
    pub fn observe(&self, hop: &'static str, from_ns: u64, to_ns: u64) {
        if from_ns > 0 && to_ns >= from_ns {
            // Wall time: stamps of a Venue's accelerated clock are scaled back.
            let wall = crate::time::wall_span(std::time::Duration::from_nanos(to_ns - from_ns));
            self.latency.get_or_create(&HopLabel { hop }).observe(wall.as_secs_f64());
        }
    }

    /// Shows what the strategy's quoting earned ([`polyfleet_core::strategy::Strategy::earnings`]).
    pub fn set_earnings(&self, e: &polyfleet_core::analytics::Earnings) {
        for (kind, m) in [
            ("rebates_accrued", e.rebates.accrued),
            ("rebates_paid", e.rebates.paid),
            ("rewards_estimated", e.rewards.earned),
            ("fee_equivalent", e.rebates.fee_equivalent),
        ] {
            self.earnings_micros.get_or_create(&KindLabel { kind: kind.into() }).set(m.micros());
        }
        for (kind, n) in [("samples", e.rewards.samples), ("scoring", e.rewards.scoring)] {
            self.reward_samples
                .get_or_create(&KindLabel { kind: kind.into() })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Shows the strategy's forecast scores ([`polyfleet_core::strategy::Strategy::scores`]).
    pub fn set_scores(&self, scores: &[polyfleet_core::analytics::scores::ModelScore]) {
        for s in scores {
            let values = [
                ("forecasts", Some(i64::try_from(s.forecasts).unwrap_or(i64::MAX))),
                ("brier_micros", Some(i64::try_from(s.brier_micros).unwrap_or(i64::MAX))),
                ("market_brier_micros", s.market_brier_micros.map(|b| i64::try_from(b).unwrap_or(i64::MAX))),
                ("brier_skill_bps", s.brier_skill_bps),
                ("clv_fills", Some(i64::try_from(s.clv_fills).unwrap_or(i64::MAX))),
                ("clv_mean_ppm", s.clv_mean_ppm),
                ("clv_beat", Some(i64::try_from(s.clv_beat).unwrap_or(i64::MAX))),
            ];
            for (kind, v) in values {
                if let Some(v) = v {
                    let label = ScoreLabel { model: s.model.clone(), version: s.version.clone(), kind };
                    self.model_scores.get_or_create(&label).set(v);
                }
            }
        }
    }

    /// Shows the strategy's drift alarms ([`polyfleet_core::strategy::drift::DriftReport`]).
    pub fn set_drift(&self, report: &polyfleet_core::strategy::drift::DriftReport) {
        use polyfleet_core::strategy::drift::DriftMetric;
        for (k, metric) in DriftMetric::ALL.iter().enumerate() {
            let label = KindLabel { kind: metric.as_str().into() };
            self.drift_fired.get_or_create(&label).set(i64::try_from(report.fired[k]).unwrap_or(i64::MAX));
            let standing = report.alarms.iter().any(|a| a.metric == *metric);
            self.drift_standing.get_or_create(&label).set(i64::from(standing));
        }
        self.size_factor_bps.set(i64::from(report.size_factor_bps));
    }

    /// Marks the agent ready.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Counts what a starting strategy restored (`restored`, by `n` positions taken, at least
    /// the series' presence) or that it started flat (`unavailable`).
    pub fn count_restore(&self, kind: &str, n: usize) {
        self.positions_restored.get_or_create(&KindLabel { kind: kind.into() }).inc_by(n as u64);
    }

    /// Counts series rounds: `n` added, or a document refused (`kind` `added` or `refused`).
    pub fn count_rounds(&self, kind: &str, n: usize) {
        self.rounds.get_or_create(&KindLabel { kind: kind.into() }).inc_by(n as u64);
    }

    /// Brings a per-kind family up to `counts` (cumulative since the agent started), adding what
    /// each kind grew by since `seen`, which it then holds.
    pub fn catch_up(
        family: &Family<KindLabel, Counter>,
        counts: &[(&'static str, u64)],
        seen: &mut HashMap<&'static str, u64>,
    ) {
        for (kind, n) in counts {
            let before = seen.insert(kind, *n).unwrap_or(0);
            let c = family.get_or_create(&KindLabel { kind: (*kind).to_string() });
            c.inc_by(n.saturating_sub(before));
        }
    }

    /// Counts an event of a per-kind family.
    pub fn count(family: &Family<KindLabel, Counter>, kind: &str) {
        family.get_or_create(&KindLabel { kind: kind.to_string() }).inc();
    }
}

impl VenueMetrics for OrderPathMetrics {
    fn venue_call(&self, endpoint: &'static str, result: &'static str) {
        self.venue_calls.get_or_create(&VenueCallLabel { endpoint, result }).inc();
    }
    fn rate_limit_wait(&self) {
        self.rate_limit_waits.inc();
    }
    fn heartbeat(&self, result: &'static str) {
        OrderPathMetrics::count(&self.heartbeats, result);
    }
    fn user_connect(&self) {
        self.user_connects.inc();
    }
    fn user_event(&self, kind: &str) {
        OrderPathMetrics::count(&self.user_events, kind);
    }
    fn live_refused(&self, reason: &str) {
        OrderPathMetrics::count(&self.live_refused, reason);
    }
    fn shadow_order(&self, verdict: &str) {
        OrderPathMetrics::count(&self.shadow_orders, verdict);
    }
}

impl Probe for OrderPathMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Every metric of the journal agent (prefix `polyfleet_journal`).
pub struct JournalMetrics {
    /// Messages journaled by the kind of their entry, redeliveries included.
    pub messages: Family<KindLabel, Counter>,
    /// Entries written for the first time.
    pub written: Counter,
    /// Messages whose entry was written before (a redelivery or a republished message).
    pub duplicates: Counter,
    /// Messages skipped by why (`malformed`, `unfit`, `not_journaled`).
    pub skipped: Family<KindLabel, Counter>,
    /// Batches the database refused or could not take (kept and written again).
    pub write_errors: Counter,
    /// Messages per batch written.
    pub batch: Histogram,
    ready: AtomicBool,
    registry: Registry,
}

impl JournalMetrics {
    /// Registers every metric under the `polyfleet_journal` prefix.
    pub fn new() -> Arc<JournalMetrics> {
        let mut registry = Registry::with_prefix("polyfleet_journal");
        let m = JournalMetrics {
            messages: Family::default(),
            written: Counter::default(),
            duplicates: Counter::default(),
            skipped: Family::default(),
            write_errors: Counter::default(),
            batch: Histogram::new([1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0]),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("messages", "Messages journaled, by entry kind (redeliveries included)", m.messages.clone());
        registry.register("written", "Entries written for the first time", m.written.clone());
        registry.register("duplicates", "Messages whose entry was already written", m.duplicates.clone());
        registry.register("skipped", "Messages not journaled, by why", m.skipped.clone());
        registry.register("write_errors", "Batches the database did not take (written again)", m.write_errors.clone());
        registry.register("batch_messages", "Messages per batch written", m.batch.clone());
        Arc::new(JournalMetrics { registry, ..m })
    }

    /// Marks the agent ready (its consumers are bound and its database open) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

impl Probe for JournalMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

//! The built-in crypto up/down models over a recording: its RTDS frames (set aside by
//! [`crate::source`]) through the same [`SeriesRounds`] the `updown-model` agent runs, with the
//! rounds looked up in the recording's market catalog instead of on Gamma. Each Chainlink price
//! prices the running rounds and yields the fair values the agent would have published then,
//! stamped with the frame's receive time, for the engine to hand to the strategies that follow
//! those tokens. Frames of other coins, PONGs and other topics are counted apart; a malformed
//! frame is counted and skipped.

use std::collections::BTreeMap;

use polyfleet_core::models::rounds::{Publishing, SeriesRounds};
use polyfleet_core::models::updown::{UpDownSettings, period_seconds};
use polyfleet_core::wire::signal::FairValue;
use polyfleet_polymarket::data::catalog::Catalog;
use polyfleet_polymarket::http::markets::{ResolvedMarket, series_slug, up_down_round};
use polyfleet_polymarket::websocket::rtds::{self, Decoded, PriceKind};
use serde::Serialize;

/// One model publisher, as the operator plans it for a Strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The coin (`btc`).
    pub coin: String,
    /// The series period (`5m`, `15m`, ...).
    pub period: String,
    /// The model's settings.
    pub settings: UpDownSettings,
    /// What its signals carry.
    pub publishing: Publishing,
}

/// What one model made of the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelRun {
    /// Model id.
    pub model: String,
    /// Series (`btc-5m`).
    pub series: String,
    /// RTDS frames by kind (`spot`, `chainlink`, `twap`, `other`, `malformed`).
    pub frames: BTreeMap<String, u64>,
    /// Rounds found in the catalog.
    pub rounds_found: u64,
    /// Lookups of rounds the catalog does not hold.
    pub rounds_missing: u64,
    /// Running rounds not priced at a price, by reason.
    pub unpriced: BTreeMap<String, u64>,
    /// Fair values published.
    pub published: u64,
}

fn count(run: &mut ModelRun, kind: &str) {
    *run.frames.entry(kind.to_string()).or_default() += 1;
}

/// One model over a stream of RTDS frames, fed one frame at a time: what the `updown-model`
/// agent does with a frame, rounds looked up by slug through the caller (a recording's catalog,
/// or the embedded simulator's listing).
#[derive(Debug)]
pub struct ModelFeed {
    spec: ModelSpec,
    period_ms: Option<u64>,
    rounds: SeriesRounds,
    run: ModelRun,
}

impl ModelFeed {
    /// A feed of `spec` (an unknown period publishes nothing and counts every frame).
    pub fn new(spec: ModelSpec) -> ModelFeed {
        let period_ms = period_seconds(&spec.period).map(|s| s * 1000);
        let rounds = SeriesRounds::new(period_ms.unwrap_or(1), spec.settings, spec.publishing.clone());
        let run = ModelRun {
            model: spec.publishing.model.clone(),
            series: format!("{}-{}", spec.coin, spec.period),
            ..ModelRun::default()
        };
        ModelFeed { spec, period_ms, rounds, run }
    }

    /// What the model made of the stream so far.
    pub fn run(&self) -> &ModelRun {
        &self.run
    }

    /// Takes one decoded frame; the fair values due go to `out`. `lookup` finds a round's market
    /// by slug.
    pub fn on_frame(
        &mut self,
        frame: &Result<Decoded, rtds::RtdsError>,
        lookup: &mut dyn FnMut(&str) -> Option<ResolvedMarket>,
        out: &mut Vec<FairValue>,
    ) {
        let run = &mut self.run;
        let tick = match frame {
            Ok(Decoded::Tick(t)) if t.coin() == self.spec.coin => t,
            Ok(_) => return count(run, "other"),
            Err(_) => return count(run, "malformed"),
        };
        match tick.kind {
            PriceKind::Spot => count(run, "spot"),
            PriceKind::Twap { window_s } => {
                count(run, "twap");
                self.rounds.model_mut().on_twap(tick.ts_ms, window_s, tick.value);
            }
            PriceKind::Chainlink => {
                count(run, "chainlink");
                let Some(period_ms) = self.period_ms else { return };
                self.rounds.model_mut().on_price(tick.ts_ms, tick.value);
                for start in self.rounds.wanted(tick.ts_ms) {
                    let found = series_slug(&self.spec.coin, &self.spec.period, start / 1000)
                        .and_then(|slug| lookup(&slug))
                        .and_then(|m| up_down_round(&m, start, period_ms));
                    match found {
                        Some(r) => {
                            run.rounds_found += 1;
                            self.rounds.found(start, r);
                        }
                        None => {
                            run.rounds_missing += 1;
                            self.rounds.missed(start, tick.ts_ms);
                        }
                    }
                }
                let (signals, unpriced) = self.rounds.signals(tick.ts_ms);
                for e in unpriced {
                    *run.unpriced.entry(e.kind().to_string()).or_default() += 1;
                }
                run.published += signals.len() as u64;
                out.extend(signals);
            }
        }
    }
}

/// The fair values `models` publish over `rtds` (receive time ns, frame text, in recorded
/// order), rounds looked up in `catalog`: (receive time ns, signal) in time order, and what each
/// model made of the stream. A model with an unknown period publishes nothing and says so in
/// its run (`rounds_missing` stays 0, every frame counted).
pub fn fair_values(
    rtds: &[(u64, String)],
    models: &[ModelSpec],
    catalog: &Catalog,
) -> (Vec<(u64, FairValue)>, Vec<ModelRun>) {
    // Decoded once, whatever the number of models.
    let decoded: Vec<(u64, Result<Decoded, rtds::RtdsError>)> =
        if models.is_empty() { vec![] } else { rtds.iter().map(|(ns, text)| (*ns, rtds::decode(text))).collect() };
    let mut out = vec![];
    let mut runs = vec![];
    let mut lookup = |slug: &str| catalog.by_slug(slug).cloned();
    let mut due = vec![];
    for spec in models {
        let mut feed = ModelFeed::new(spec.clone());
        for (ns, frame) in &decoded {
            feed.on_frame(frame, &mut lookup, &mut due);
            out.extend(due.drain(..).map(|s| (*ns, s)));
        }
        runs.push(feed.run);
    }
    // Several models: in time order, each model's own order kept at equal times.
    out.sort_by_key(|(ns, _)| *ns);
    (out, runs)
}

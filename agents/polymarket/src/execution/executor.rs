//! The live executor: the [`Executor`] of a venue account. Paper orders go to the paper engine,
//! shadow orders too (and are also built and signed, never sent, and compared), live orders to
//! the venue through [`Venue`] after the safety gates.
//!
//! Safety: a live order is sent only if the Venue acknowledged live trading, credentials were
//! given, and the order itself is in `live` mode (the execution agent checks the RiskPolicy's
//! kill switch right before). Before an order is posted, its venue id (deterministic, see
//! [`crate::http::clob`]) and intent are recorded in the risk store, so that a restarted agent
//! finds it ([`Executor::recover`], [`Executor::start_up`]) instead of sending it again.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::websocket::user::UserMessage;
use bytes::Bytes;
use polyfleet_core::exec::funds::{self, Funds, Preflight};
use polyfleet_core::exec::paper::{ExecEvent, refusal};
use polyfleet_core::money::FeeSchedule;
use polyfleet_core::strategy::Instrument;
use polyfleet_core::wire::{CtfIntent, CtfOp, FillStatus, Intent, MarketEvent, Mode, OrderIntent, decode, encode};
use polyfleet_core::{ClientOrderId, ConditionId, Quantity, TokenId, TokenMap};
use polyfleet_io::risk_store::{PolicyKey, RiskStore};
use polymarket_client_sdk_v2::clob::types::OrderStatusType;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::common::credentials::LiveCredentials;
use crate::execution::heartbeat;
use crate::execution::onchain::{Account, ChainMarket, ConvertTarget, OnChain};
use crate::execution::shadow::{ShadowReport, compare};
use crate::execution::tracker::{Posted, Tracker, fill_status};
use crate::execution::user_channel::{self, UserChannel, UserFeed};
use crate::http::clob::{BuiltOrder, PostReply, Venue, VenueError, VenueLimits};
use crate::http::markets::{RestClient, Retry};
use crate::http::relayer::RelayerClient;
use polyfleet_io::execution::{Clock, VenueMetrics};
use polyfleet_io::execution::{Executor, PaperExecutor};

/// Settings of live execution on one venue account.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Venue name (the risk store remembers live orders under it).
    pub venue: String,
    /// The Venue's `spec.liveTrading.acknowledged`: nothing is sent without it.
    pub acknowledged: bool,
    /// CLOB REST base URL.
    pub clob_url: String,
    /// User-channel WebSocket URL.
    pub user_ws_url: String,
    /// Dead-man heartbeat period.
    pub heartbeat_every: Duration,
    /// Rate limits and retry budget.
    pub limits: VenueLimits,
    /// Where shadow report lines are appended (besides the log).
    pub shadow_report: Option<PathBuf>,
    /// Now (the agent's clock: the wall clock, or a replay's).
    pub clock: Clock,
    /// Polygon JSON-RPC URL for live conditional-token operations (none: they are refused).
    pub polygon_rpc: Option<String>,
    /// The gasless relayer's base URL (a wallet account's conditional-token operations).
    pub relayer_url: Option<String>,
}

/// Why live execution could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The venue refused the credentials or could not be reached.
    #[error("connecting to the venue: {0}")]
    Venue(#[from] VenueError),
    /// The shadow report file could not be opened.
    #[error("opening the shadow report: {0}")]
    ShadowReport(#[from] std::io::Error),
}

/// Executes paper, shadow and live orders of one venue account.
pub struct LiveExecutor<S: RiskStore> {
    paper: PaperExecutor,
    instruments: TokenMap<Instrument>,
    settings: LiveSettings,
    venue: Option<Arc<Venue>>,
    store: S,
    tracker: Tracker,
    feed: Option<mpsc::Receiver<UserFeed>>,
    forget: mpsc::UnboundedSender<String>,
    metrics: Arc<dyn VenueMetrics>,
    shadow: ShadowReport,
    tasks: Vec<JoinHandle<()>>,
    /// Live conditional-token operations, or why there are none.
    chain: Result<OnChain, String>,
    /// The CLOB's market status (which token is YES, for neg-risk redemptions).
    markets: Option<RestClient>,
    chain_markets: HashMap<ConditionId, ChainMarket>,
    /// The account's balances and allowances as last read (the live orders' pre-flight).
    funds: Funds,
    /// Each token's taker fees (what an order may pay, for the pre-flight).
    fees: TokenMap<FeeSchedule>,
    /// The user channel (live trading acknowledged): its task and where it sends, so that it can
    /// be restarted on a longer list of markets.
    user: Option<UserTask>,
}

/// A running user channel: its settings, the venue client, where it sends, and its task.
type UserTask = (UserChannel, Arc<Venue>, mpsc::Sender<UserFeed>, JoinHandle<()>);

/// How the account's conditional-token transactions reach the chain: its own (EOA), or its
/// wallet's (Safe, proxy or deposit wallet) through the relayer, which needs the relayer's URL
/// and the account's relayer API key.
fn account(c: &LiveCredentials, relayer_url: Option<&str>) -> Result<Account, String> {
    let Some((kind, wallet)) = c.wallet() else {
        return Ok(Account::Eoa);
    };
    let url = relayer_url.ok_or(
        "the account's wallet operates through the relayer, and none is configured (Venue spec.endpoints.relayer)",
    )?;
    let key = c
        .relayer_api_key()
        .ok_or("the account's wallet operates through the relayer, which needs the Venue Secret's relayerApiKey")?;
    let relayer = RelayerClient::new(url, key.to_string(), c.address()).map_err(|e| e.to_string())?;
    Ok(Account::Wallet { kind, wallet, relayer })
}

/// The markets of `instruments`, once each, in order (the user channel's subscription).
fn user_markets(instruments: &TokenMap<Instrument>) -> Vec<String> {
    let mut markets: Vec<String> = instruments.values().map(|i| i.market.to_string()).collect();
    markets.sort();
    markets.dedup();
    markets
}

/// How long a balance-allowance reading is trusted (the venue allows 200 reads per 10 s).
pub const FUNDS_TTL: Duration = Duration::from_secs(5);

impl<S: RiskStore> Drop for LiveExecutor<S> {
    fn drop(&mut self) {
        for t in self.tasks.iter().chain(self.user.as_ref().map(|u| &u.3)) {
            t.abort();
        }
    }
}

impl<S: RiskStore> LiveExecutor<S> {
    /// Connects to the venue when credentials are given; when live trading is acknowledged it
    /// also starts the dead-man heartbeat and the user channel.
    pub async fn start(
        settings: LiveSettings,
        instruments: TokenMap<Instrument>,
        credentials: Option<LiveCredentials>,
        store: S,
        metrics: Arc<dyn VenueMetrics>,
    ) -> Result<LiveExecutor<S>, StartError> {
        let chain = match (&credentials, &settings.polygon_rpc) {
            (None, _) => Err("no trading credentials".to_string()),
            (Some(_), None) => Err("no Polygon RPC endpoint configured (Venue spec.endpoints.polygonRpc)".to_string()),
            (Some(c), Some(url)) => match account(c, settings.relayer_url.as_deref()) {
                Ok(account) => OnChain::connect(url, c.signer().clone(), account).await.map_err(|e| e.to_string()),
                Err(why) => Err(why),
            },
        };
        match &chain {
            Ok(c) => {
                tracing::info!(venue = %settings.venue, signer = %c.signer(), holder = %c.holder(), "live conditional-token operations on Polygon available")
            }
            Err(why) => {
                tracing::info!(venue = %settings.venue, reason = %why, "live conditional-token operations unavailable")
            }
        }
        let markets = RestClient::new(settings.clob_url.clone(), settings.clob_url.clone(), Retry::default()).ok();
        let venue = match credentials {
            Some(c) => Some(Arc::new(
                Venue::connect(&settings.clob_url, Arc::new(c), settings.limits, metrics.clone(), settings.clock)
                    .await?,
            )),
            None => None,
        };
        let fees: TokenMap<FeeSchedule> = instruments.iter().map(|(t, i)| (*t, i.fees)).collect();
        let (forget_tx, mut forget_rx) = mpsc::unbounded_channel::<String>();
        let mut tasks = vec![];
        // Orders over and settled are forgotten in the store off the executor's path.
        let (s, venue_name) = (store.clone(), settings.venue.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(id) = forget_rx.recv().await {
                if let Err(e) = s.forget_live(&venue_name, &id).await {
                    tracing::warn!(error = %e, order = %id, "settled live order not forgotten in the store");
                }
            }
        }));
        let (mut feed, mut user) = (None, None);
        match (&venue, settings.acknowledged) {
            (Some(v), true) => {
                tasks.push(tokio::spawn(heartbeat::run(v.clone(), settings.heartbeat_every, metrics.clone())));
                let (tx, rx) = mpsc::channel(4096);
                let cfg = UserChannel {
                    url: settings.user_ws_url.clone(),
                    markets: user_markets(&instruments),
                    silence: Duration::from_secs(30),
                };
                let task = tokio::spawn(user_channel::run(cfg.clone(), v.clone(), tx.clone(), metrics.clone()));
                user = Some((cfg, v.clone(), tx, task));
                feed = Some(rx);
                tracing::info!(venue = %settings.venue, signer = %v.address(), "live trading enabled: heartbeats and user channel running");
            }
            (Some(v), false) => {
                tracing::info!(venue = %settings.venue, signer = %v.address(), "credentials loaded; live trading not acknowledged: shadow orders are signed, live orders refused")
            }
            (None, _) => {
                tracing::info!(venue = %settings.venue, "no trading credentials: paper only (shadow orders unsigned, live orders refused)")
            }
        }
        Ok(LiveExecutor {
            paper: PaperExecutor::new(instruments.clone(), Duration::ZERO),
            instruments,
            shadow: ShadowReport::open(settings.shadow_report.as_deref())?,
            settings,
            venue,
            store,
            tracker: Tracker::new(fees.clone()),
            fees,
            feed,
            forget: forget_tx,
            metrics,
            tasks,
            chain,
            markets,
            chain_markets: HashMap::new(),
            funds: Funds::new(u64::try_from(FUNDS_TTL.as_nanos()).unwrap_or(u64::MAX)),
            user,
        })
    }

    /// A live conditional-token operation, on chain: `Ok` once its transaction succeeded.
    async fn ctf_live(&mut self, intent: &CtfIntent) -> Result<(), String> {
        if !self.settings.acknowledged {
            return Err("live trading is not acknowledged on this Venue (spec.liveTrading.acknowledged)".into());
        }
        let chain =
            self.chain.as_ref().map_err(|why| format!("live conditional-token operations unavailable: {why}"))?.clone();
        let tx = match &intent.op {
            CtfOp::Merge { market, .. } | CtfOp::Split { market, .. } | CtfOp::Redeem { market, .. } => {
                let market = self.chain_market(market).await?;
                chain.execute(&intent.op, &market).await
            }
            CtfOp::Convert { no_tokens, .. } => {
                let target = self.convert_target(no_tokens).await?;
                chain.convert(&intent.op, &target).await
            }
        }
        .map_err(|e| e.to_string())?;
        tracing::info!(op = intent.op.name(), id = %intent.id, %tx, "conditional-token operation done on chain");
        Ok(())
    }

    /// Where converting `no_tokens` goes: each NO token's market (its instrument), that market's
    /// question id (the CLOB's market status), and from those the event's neg-risk market id and
    /// the outcomes' index set.
    async fn convert_target(&mut self, no_tokens: &[TokenId]) -> Result<ConvertTarget, String> {
        let mut questions = vec![];
        for token in no_tokens {
            let market =
                self.instruments.get(token).map(|i| i.market).ok_or_else(|| format!("no market rules for {token}"))?;
            let status = self.clob_status(&market).await?;
            if status.tokens.get(1).map(|t| t.token_id) != Some(*token) {
                return Err(format!("{token} is not the NO token of market {market}"));
            }
            questions.push(status.question_id.ok_or_else(|| format!("market {market} has no question id"))?);
        }
        ConvertTarget::of(&questions)
    }

    /// The CLOB's status of `market` (`GET /markets/{condition_id}`).
    async fn clob_status(&self, market: &ConditionId) -> Result<crate::http::market_status::MarketStatus, String> {
        let rest = self.markets.as_ref().ok_or("no CLOB REST client")?;
        rest.market_status(market)
            .await
            .map_err(|e| format!("market {market} status: {e}"))?
            .ok_or_else(|| format!("the CLOB does not know market {market}"))
    }

    /// What the chain client needs of `market`: neg-risk or not (the CLOB), and which token is
    /// YES (the CLOB's market status lists YES first). Cached.
    async fn chain_market(&mut self, market: &ConditionId) -> Result<ChainMarket, String> {
        if let Some(m) = self.chain_markets.get(market) {
            return Ok(*m);
        }
        let status = self.clob_status(market).await?;
        let yes =
            status.tokens.first().map(|t| t.token_id).ok_or_else(|| format!("market {market} lists no tokens"))?;
        let venue = self.venue.clone().ok_or("no venue client")?;
        let neg_risk = venue.neg_risk(&yes).await.map_err(|e| format!("neg-risk flag of {yes}: {e}"))?;
        let m = ChainMarket { condition: *market, neg_risk, yes };
        self.chain_markets.insert(*market, m);
        Ok(m)
    }

    /// The venue, if a live order may be sent; else why not.
    fn gate(&self, intent: &OrderIntent) -> Result<Arc<Venue>, (&'static str, &'static str)> {
        if !self.settings.acknowledged {
            return Err((
                "not_acknowledged",
                "live trading is not acknowledged on this Venue (spec.liveTrading.acknowledged)",
            ));
        }
        if intent.mode != Mode::Live {
            return Err(("not_live", "the order is not in live mode"));
        }
        if !self.instruments.contains_key(&intent.token) {
            return Err(("unknown_market", "no market rules for this token"));
        }
        self.venue.clone().ok_or(("no_credentials", "no trading credentials (the Venue's credentials Secret)"))
    }

    fn refuse(&self, intent: &OrderIntent, gate: (&'static str, &'static str), now_ns: u64) -> Vec<ExecEvent> {
        self.refuse_with(intent, gate.0, gate.1, now_ns)
    }

    async fn submit_live(&mut self, intent: &OrderIntent, now_ns: u64) -> Vec<ExecEvent> {
        let (venue, built) = match self.prepare_live(intent, now_ns).await {
            Ok(ready) => ready,
            Err(refused) => return refused,
        };
        let reply = venue.post(&built).await;
        self.posted_live(&venue, intent, &built, reply, now_ns).await
    }

    /// A live order made ready to post: through the safety gates, built, pre-flighted, recorded
    /// in the risk store (so that a restarted agent finds it instead of sending it again) and
    /// tracked; or the events of its refusal.
    async fn prepare_live(
        &mut self,
        intent: &OrderIntent,
        now_ns: u64,
    ) -> Result<(Arc<Venue>, BuiltOrder), Vec<ExecEvent>> {
        let venue = self.gate(intent).map_err(|g| self.refuse(intent, g, now_ns))?;
        let built = venue.build(intent).await.map_err(|e| vec![refusal(intent, &e.to_string(), now_ns)])?;
        if let Err(why) = self.preflight(&venue, intent, &built, now_ns).await {
            return Err(self.refuse_with(intent, "preflight", &why, now_ns));
        }
        let record = Bytes::from(encode(&Intent::Place(intent.clone())));
        if let Err(e) = self.store.remember_live(&self.settings.venue, &built.id, record).await {
            tracing::error!(error = %e, order = %intent.client_order_id, "risk store unreachable: live order not sent");
            return Err(vec![refusal(intent, "risk store unreachable: not sent", now_ns)]);
        }
        self.tracker.track(&built.id, intent, now_ns);
        Ok((venue, built))
    }

    /// What the venue's answer to a posted order means for it.
    async fn posted_live(
        &mut self,
        venue: &Venue,
        intent: &OrderIntent,
        built: &BuiltOrder,
        reply: Result<PostReply, VenueError>,
        now_ns: u64,
    ) -> Vec<ExecEvent> {
        match reply {
            Ok(reply) => self.tracker.on_posted(&built.id, reply.posted, now_ns),
            // Sent before (or the answer was lost): the venue knows it; take its word.
            Err(e) if e.is_duplicate() || matches!(e, VenueError::Transport(_)) => {
                match self.reconcile_order(venue, &built.id, now_ns).await {
                    Some(events) => events,
                    None => {
                        self.tracker.forget(&built.id);
                        vec![refusal(intent, &format!("{e}; the venue does not know the order"), now_ns)]
                    }
                }
            }
            Err(e) => {
                self.tracker.forget(&built.id);
                let _ = self.forget.send(built.id.clone());
                tracing::warn!(order = %intent.client_order_id, error = %e, "live order refused by the venue");
                if funds::is_funds_refusal(&e.to_string()) {
                    // Our reading was wrong or old: drop it and have the venue read the chain again.
                    let (asset, _) = funds::need(intent, &self.fee_of(intent));
                    self.funds.invalidate(asset);
                    if let Err(e) = venue.refresh_funds(asset).await {
                        tracing::warn!(error = %e, "balance-allowance refresh failed");
                    }
                }
                vec![refusal(intent, &e.to_string(), now_ns)]
            }
        }
    }

    fn refuse_with(&self, intent: &OrderIntent, gate: &'static str, why: &str, now_ns: u64) -> Vec<ExecEvent> {
        self.metrics.live_refused(gate);
        tracing::warn!(order = %intent.client_order_id, reason = why, "live order refused");
        vec![refusal(intent, why, now_ns)]
    }

    fn fee_of(&self, intent: &OrderIntent) -> FeeSchedule {
        self.fees.get(&intent.token).copied().unwrap_or(FeeSchedule::FREE)
    }

    /// The balance and allowance pre-flight: what the order needs on top of what the open live
    /// orders commit must be there, by a reading at most [`FUNDS_TTL`] old (read now when there
    /// is none). Fails closed: an account whose balance cannot be read sends nothing.
    async fn preflight(
        &mut self,
        venue: &Venue,
        intent: &OrderIntent,
        built: &BuiltOrder,
        now_ns: u64,
    ) -> Result<(), String> {
        let (asset, need) = funds::need(intent, &self.fee_of(intent));
        let committed = funds::committed(asset, self.tracker.open_remaining(), &self.fees);
        match self.funds.check(asset, need, committed, now_ns) {
            Err(Preflight::Stale(_)) => {
                let (balance, allowance) = venue
                    .funds(asset, built.exchange)
                    .await
                    .map_err(|e| format!("pre-flight: the balance of {asset} could not be read: {e}"))?;
                self.funds.record(asset, funds::Reading { balance, allowance, at_ns: now_ns });
                self.funds.check(asset, need, committed, now_ns).map_err(|e| e.to_string())
            }
            other => other.map_err(|e| e.to_string()),
        }
    }

    async fn submit_shadow(&mut self, intent: &OrderIntent, now_ns: u64) -> Vec<ExecEvent> {
        let paper = self.paper.submit(intent, now_ns).await;
        let built = match &self.venue {
            Some(v) => match v.build(intent).await {
                Ok(b) => v.sign(&b).await.map(|_| b).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            None => Err("unsigned: no trading credentials".to_string()),
        };
        let line = compare(intent, built.as_ref().map_err(Clone::clone), &paper);
        self.metrics.shadow_order(line.verdict);
        self.shadow.write(&line);
        paper
    }

    /// What the venue knows of order `id` (tracked already): its status and its trades, as
    /// events; `None` when the venue has never heard of it.
    async fn reconcile_order(&mut self, venue: &Venue, id: &str, now_ns: u64) -> Option<Vec<ExecEvent>> {
        let state = match venue.order(id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, order = %id, "order state unknown at the venue");
                None
            }
        };
        let trades = venue.trades().await.unwrap_or_default();
        let mine: Vec<_> = trades.iter().filter(|t| self.tracker.legs(t).iter().any(|l| l.venue_id == id)).collect();
        if state.is_none() && mine.is_empty() {
            return None;
        }
        let matched: Quantity = mine
            .iter()
            .flat_map(|t| self.tracker.legs(t))
            .filter(|l| l.venue_id == id)
            .fold(Quantity::ZERO, |a, l| a.saturating_add(l.size));
        let mut out = match state {
            Some((OrderStatusType::Live | OrderStatusType::Delayed, m)) if m.is_zero() && matched.is_zero() => {
                self.tracker.on_posted(id, Posted::Live, now_ns)
            }
            Some((OrderStatusType::Live | OrderStatusType::Delayed, m)) => {
                self.tracker.on_posted(id, Posted::Matched { filled: m.max(matched) }, now_ns)
            }
            Some((OrderStatusType::Matched, m)) => {
                self.tracker.on_posted(id, Posted::Matched { filled: m.max(matched) }, now_ns)
            }
            Some((_, m)) => {
                let mut ev = vec![];
                if !m.max(matched).is_zero() {
                    ev.extend(self.tracker.on_posted(id, Posted::Matched { filled: m.max(matched) }, now_ns));
                }
                ev.extend(self.tracker.cancelled(id, "cancelled at the venue", now_ns));
                ev
            }
            None => self.tracker.on_posted(id, Posted::Matched { filled: matched }, now_ns),
        };
        for t in mine {
            out.extend(self.tracker.on_trade(t, now_ns));
        }
        Some(out)
    }
}

impl<S: RiskStore> Executor for LiveExecutor<S> {
    fn tokens(&self) -> Vec<TokenId> {
        self.paper.tokens()
    }

    /// New rounds: their rules and fees known from now on; the user channel (live trading) is
    /// started again on the longer list of markets and the old connection closed. A new round is
    /// listed before it opens, so no order of ours rests in it yet; events of other markets in
    /// the moment between the two connections are missed as across any reconnect of the channel.
    fn add_instruments(&mut self, instruments: TokenMap<Instrument>) -> Result<usize, String> {
        let mut added = 0;
        for (t, i) in &instruments {
            if self.instruments.contains_key(t) {
                continue;
            }
            self.fees.insert(*t, i.fees);
            self.tracker.add_fees(*t, i.fees);
            self.instruments.insert(*t, *i);
            added += 1;
        }
        self.paper.add_instruments(instruments)?;
        if added > 0
            && let Some((cfg, venue, tx, task)) = self.user.take()
        {
            let cfg = UserChannel { markets: user_markets(&self.instruments), ..cfg };
            let next = tokio::spawn(user_channel::run(cfg.clone(), venue.clone(), tx.clone(), self.metrics.clone()));
            task.abort();
            self.user = Some((cfg, venue, tx, next));
        }
        Ok(added)
    }

    async fn submit(&mut self, intent: &OrderIntent, now_ns: u64) -> Vec<ExecEvent> {
        match intent.mode {
            Mode::Paper => self.paper.submit(intent, now_ns).await,
            Mode::Shadow => self.submit_shadow(intent, now_ns).await,
            Mode::Live => self.submit_live(intent, now_ns).await,
        }
    }

    /// Live orders in `POST /orders` requests of up to 15 (each gated, built, pre-flighted and
    /// recorded first, in turn, so that each pre-flight counts the ones before it); paper and
    /// shadow ones as [`Executor::submit`] does.
    async fn submit_many(&mut self, intents: &[OrderIntent], now_ns: u64) -> Vec<Vec<ExecEvent>> {
        let mut out = vec![vec![]; intents.len()];
        let mut ready: Vec<(usize, Arc<Venue>, BuiltOrder)> = vec![];
        for (k, intent) in intents.iter().enumerate() {
            match intent.mode {
                Mode::Live => match self.prepare_live(intent, now_ns).await {
                    Ok((venue, built)) => ready.push((k, venue, built)),
                    Err(refused) => out[k] = refused,
                },
                Mode::Paper | Mode::Shadow => out[k] = self.submit(intent, now_ns).await,
            }
        }
        let Some(venue) = ready.first().map(|(_, v, _)| v.clone()) else { return out };
        let built: Vec<BuiltOrder> = ready.iter().map(|(_, _, b)| b.clone()).collect();
        let replies = venue.post_batch(&built).await;
        for ((k, _, built), reply) in ready.into_iter().zip(replies) {
            out[k] = self.posted_live(&venue, &intents[k], &built, reply, now_ns).await;
        }
        out
    }

    async fn ctf(&mut self, intent: &CtfIntent, now_ns: u64) -> Result<(), String> {
        match intent.mode {
            Mode::Paper | Mode::Shadow => self.paper.ctf(intent, now_ns).await,
            // Done on chain before the agent books it; refused (never booked as if done) when it
            // cannot be.
            Mode::Live => self.ctf_live(intent).await,
        }
    }

    async fn cancel(&mut self, id: &ClientOrderId, reason: &str, now_ns: u64) -> Vec<ExecEvent> {
        let Some(venue_id) = self.tracker.venue_id(id).map(str::to_string) else {
            return self.paper.cancel(id, reason, now_ns).await;
        };
        let Some(venue) = self.venue.clone() else { return vec![] };
        match venue.cancel(std::slice::from_ref(&venue_id)).await {
            Ok((cancelled, refused)) => {
                for (id, why) in refused {
                    tracing::info!(order = %id, reason = %why, "cancel not done at the venue");
                }
                let mut out = vec![];
                if cancelled.contains(&venue_id) {
                    out.extend(self.tracker.cancelled(&venue_id, reason, now_ns));
                }
                out
            }
            Err(e) => {
                tracing::warn!(error = %e, order = %venue_id, "cancel failed");
                vec![]
            }
        }
    }

    /// Live orders in one `DELETE /orders` (the venue's batch cancel; the cancel bucket draws one
    /// token per order); paper and shadow ones on the paper engine.
    async fn cancel_many(&mut self, orders: &[(ClientOrderId, String)], now_ns: u64) -> Vec<ExecEvent> {
        let mut out = vec![];
        let mut live: Vec<(String, &str)> = vec![];
        for (id, reason) in orders {
            match self.tracker.venue_id(id).map(str::to_string) {
                Some(venue_id) => live.push((venue_id, reason)),
                None => out.extend(self.paper.cancel(id, reason, now_ns).await),
            }
        }
        let Some(venue) = self.venue.clone().filter(|_| !live.is_empty()) else { return out };
        let ids: Vec<String> = live.iter().map(|(v, _)| v.clone()).collect();
        match venue.cancel(&ids).await {
            Ok((cancelled, refused)) => {
                for (id, why) in refused {
                    tracing::info!(order = %id, reason = %why, "cancel not done at the venue");
                }
                for (venue_id, reason) in &live {
                    if cancelled.contains(venue_id) {
                        out.extend(self.tracker.cancelled(venue_id, reason, now_ns));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, orders = ids.len(), "batch cancel failed"),
        }
        out
    }

    fn market_tokens(&self, market: &ConditionId) -> Vec<TokenId> {
        self.paper.market_tokens(market)
    }

    fn on_market(&mut self, ev: &MarketEvent, now_ns: u64) -> (Vec<ExecEvent>, bool) {
        self.paper.on_market(ev, now_ns)
    }

    fn on_timer(&mut self, now_ns: u64) -> Vec<ExecEvent> {
        self.paper.on_timer(now_ns)
    }

    fn book(&self, token: &TokenId) -> Option<&polyfleet_core::book::OrderBook> {
        self.paper.book(token)
    }

    fn complement(&self, token: &TokenId) -> Option<TokenId> {
        self.paper.complement(token)
    }

    fn offered(&self, namespace: &str, strategy: &str, token: &TokenId) -> polyfleet_core::Quantity {
        self.paper.offered(namespace, strategy, token)
    }

    async fn start_up(&mut self, now_ns: u64) -> (Vec<OrderIntent>, Vec<ExecEvent>) {
        let remembered = match self.store.live_orders(&self.settings.venue).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "remembered live orders not read");
                return (vec![], vec![]);
            }
        };
        let Some(venue) = self.venue.clone() else {
            if !remembered.is_empty() {
                tracing::error!(
                    orders = remembered.len(),
                    "live orders remembered but no credentials to reconcile them"
                );
            }
            return (vec![], vec![]);
        };
        let (open, trades) = match (venue.open_orders().await, venue.trades().await) {
            (Ok(o), Ok(t)) => (o, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "startup reconciliation failed: remembered orders not adopted");
                return (vec![], vec![]);
            }
        };
        let mut known = HashSet::new();
        for (id, bytes) in &remembered {
            match decode::<Intent>(bytes) {
                Ok(Intent::Place(intent)) => {
                    self.tracker.track(id, &intent, now_ns);
                    known.insert(id.clone());
                }
                _ => tracing::error!(order = %id, "remembered live order does not decode"),
            }
        }
        // Fills booked before the restart are seeded (not booked twice); the rest are new.
        let mut out = vec![];
        for t in &trades {
            for leg in self.tracker.legs(t) {
                let Some(intent) = self.tracker.intent(&leg.venue_id).cloned() else { continue };
                let policy = PolicyKey::of_intent(&intent);
                let status = fill_status(t.status);
                // A fill is committed under its own id (only a reversal adds `:failed`).
                let booked =
                    self.store.committed(&policy, std::slice::from_ref(&leg.fill_id)).await.unwrap_or_default();
                if booked.first().copied().unwrap_or(false) {
                    if status == FillStatus::Failed {
                        // Its ledger delta died with the old process: reported, not guessed.
                        tracing::error!(fill = %leg.fill_id, "a trade booked before the restart FAILED: reverse it by hand");
                        self.metrics.live_refused("failed_after_restart");
                    }
                    self.tracker.seed(&leg, if status == FillStatus::Failed { FillStatus::Confirmed } else { status });
                }
            }
            out.extend(self.tracker.on_trade(t, now_ns));
        }
        // Every remembered order is the agent's again: open ones keep working, the others end
        // with the events below.
        let adopted: Vec<OrderIntent> = known.iter().filter_map(|id| self.tracker.intent(id).cloned()).collect();
        out.extend(self.tracker.reconciled(&open, now_ns + 1, now_ns));
        for id in self.tracker.take_settled() {
            let _ = self.forget.send(id);
        }
        // Open orders nobody remembers cannot be attributed: cancel them.
        let orphans: Vec<String> = open.iter().filter(|id| !known.contains(*id)).cloned().collect();
        if !orphans.is_empty() {
            tracing::warn!(orders = orphans.len(), "open orders at the venue that no strategy owns: cancelling");
            if let Err(e) = venue.cancel(&orphans).await {
                tracing::error!(error = %e, "orphan orders not cancelled");
            }
        }
        tracing::info!(
            adopted = adopted.len(),
            remembered = remembered.len(),
            orphans = orphans.len(),
            "live orders reconciled at start"
        );
        (adopted, out)
    }

    async fn recover(&mut self, intent: &OrderIntent, now_ns: u64) -> Option<Vec<ExecEvent>> {
        if intent.mode != Mode::Live {
            return None;
        }
        let venue = self.venue.clone()?;
        // The same intent builds the same order, so the same id.
        let built = venue.build(intent).await.ok()?;
        self.tracker.track(&built.id, intent, now_ns);
        match self.reconcile_order(&venue, &built.id, now_ns).await {
            Some(events) => {
                tracing::info!(order = %intent.client_order_id, venue_order = %built.id, "order found at the venue after a restart: adopted, not sent again");
                Some(events)
            }
            None => {
                self.tracker.forget(&built.id);
                let _ = self.forget.send(built.id);
                None
            }
        }
    }

    async fn venue_events(&mut self) -> Vec<ExecEvent> {
        let Some(rx) = self.feed.as_mut() else { return std::future::pending().await };
        let Some(feed) = rx.recv().await else {
            self.feed = None;
            return vec![];
        };
        let now = (self.settings.clock)();
        let out = match feed {
            UserFeed::Event(UserMessage::Trade(t)) => {
                // A trade moves balances: the next order reads them again.
                self.funds.clear();
                self.tracker.on_trade(&t, now)
            }
            UserFeed::Event(UserMessage::Order(o)) => self.tracker.on_order(&o, now),
            UserFeed::Reconciled { open, as_of_ns } => self.tracker.reconciled(&open, as_of_ns, now),
        };
        for id in self.tracker.take_settled() {
            let _ = self.forget.send(id);
        }
        out
    }

    async fn shut_down(&mut self, now_ns: u64) -> Vec<ExecEvent> {
        let working = self.tracker.working();
        let Some(venue) = self.venue.clone() else { return vec![] };
        if working.is_empty() {
            return vec![];
        }
        let mut out = vec![];
        match venue.cancel(&working).await {
            Ok((cancelled, _)) => {
                for id in cancelled {
                    out.extend(self.tracker.cancelled(&id, "execution agent stopping", now_ns));
                }
            }
            Err(e) => tracing::error!(error = %e, "open live orders not cancelled at stop (the dead-man switch will)"),
        }
        out
    }
}

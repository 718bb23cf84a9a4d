//! `polyfleet-agent`: the agent binary the operator runs in every agent pod.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use polyfleet_agent::market_data::{self, MarketDataConfig};
use polyfleet_agent::metrics::{self as agent_metrics, MarketDataMetrics};
use polyfleet_core::TokenId;
use polyfleet_polymarket::ws::WsConfig;
use tokio::sync::watch;

/// polyfleet's trading agents.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a shard of tokens from the venue's market channel onto NATS.
    MarketData(MarketDataArgs),
}

#[derive(clap::Args)]
struct MarketDataArgs {
    /// Venue name, as in `md.<venue>.<token>`.
    #[arg(long, env = "POLYFLEET_VENUE")]
    venue: String,
    /// Market-channel WebSocket URL.
    #[arg(long, env = "POLYFLEET_MARKET_WS", default_value = "wss://ws-subscriptions-clob.polymarket.com/ws/market")]
    ws_url: String,
    /// CLOB REST base URL for book resyncs.
    #[arg(long, env = "POLYFLEET_CLOB_URL", default_value = "https://clob.polymarket.com")]
    rest_url: String,
    /// Token ids to serve, comma-separated.
    #[arg(long, env = "POLYFLEET_TOKENS", value_delimiter = ',', required = true)]
    tokens: Vec<String>,
    /// Tokens per WebSocket connection (at most 500).
    #[arg(long, env = "POLYFLEET_ASSETS_PER_CONNECTION", default_value_t = 200)]
    assets_per_connection: usize,
    /// NATS URL.
    #[arg(long, env = "POLYFLEET_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "POLYFLEET_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    metrics_addr: SocketAddr,
    /// Milliseconds between PINGs.
    #[arg(long, default_value_t = 8000)]
    ping_ms: u64,
    /// Milliseconds without data before the connection is replaced.
    #[arg(long, default_value_t = 60000)]
    silence_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    match Cli::parse().command {
        Command::MarketData(a) => {
            anyhow::ensure!((1..=500).contains(&a.assets_per_connection), "--assets-per-connection must be 1..=500");
            let tokens =
                a.tokens.iter().map(|t| TokenId::parse(t.trim())).collect::<Result<Vec<_>, _>>().context("--tokens")?;
            let mut ws = WsConfig::new(a.ws_url.clone());
            ws.ping_every = Duration::from_millis(a.ping_ms);
            ws.silence_timeout = Duration::from_millis(a.silence_ms);
            let cfg = MarketDataConfig {
                venue: a.venue,
                ws_url: a.ws_url,
                rest_url: Some(a.rest_url),
                tokens,
                assets_per_connection: a.assets_per_connection,
                nats_url: a.nats,
                ws,
            };
            let metrics = MarketDataMetrics::new();
            agent_metrics::serve(a.metrics_addr, metrics.clone()).await.context("serving metrics")?;
            let (stop_tx, stop_rx) = watch::channel(false);
            tokio::spawn(async move {
                wait_for_signal().await;
                let _ = stop_tx.send(true);
            });
            market_data::run(cfg, metrics, stop_rx).await
        }
    }
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

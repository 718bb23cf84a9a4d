//! Crypto up/down rounds, sans-IO: the reference prices the simulator serves on its RTDS-compatible
//! stream and the rolling rounds (`{coin}-updown-{5m|15m|...}-{window start}`) it lists and
//! resolves from them, as Polymarket's 5- and 15-minute crypto markets work since August 2026.
//!
//! - One reference price per coin moves once a simulated second, a random walk in log space with
//!   volatility [`SIGMA_PER_SQRT_S`] per √second (Gaussian shocks from the model's seed, on a
//!   stream of their own, so a model without series draws exactly what it drew before they existed).
//! - Each second the stream carries three frames per coin, shaped as RTDS sends them: the Binance
//!   price on `crypto_prices` (`btcusdt`), the Chainlink price on `crypto_prices_chainlink`
//!   (`btc/usd`), and the Chainlink 60-second TWAP on `crypto_prices_twap_sixty` (with
//!   `full_accuracy_value`, an E18 integer string, and `window_s`). The TWAP is the mean of the
//!   last 60 one-second prices (Σ price × duration / window).
//! - A round's strike is the TWAP at its window start; at its end it resolves Up (YES) when the
//!   TWAP is at least the strike (a tie resolves Up). The current round and the next are listed.
//! - A round's book follows the true probability of Up computed [`LAG_S`] seconds late: the
//!   venue's quoters lag the reference price, which is the edge a fast model trades.

use std::collections::VecDeque;

pub use polyfleet_core::models::updown::period_seconds;

use crate::rng::Rng;

/// Volatility of every reference price per √second (about 56 % a year).
pub const SIGMA_PER_SQRT_S: f64 = 1.0e-4;
/// Seconds the round books lag the reference price.
pub const LAG_S: u64 = LAG as u64;
/// The TWAP window the rounds resolve on, seconds.
pub const TWAP_WINDOW_S: u64 = WINDOW as u64;
const LAG: usize = 5;
const WINDOW: usize = 60;
/// Rounds listed from the current one on.
const LISTED: u64 = 2;
/// Seconds of price history kept (the TWAP window, the lag, and slack).
const HISTORY_S: usize = WINDOW + LAG + 2;

/// A coin's reference price.
#[derive(Debug, Clone)]
pub(crate) struct Coin {
    /// Lower-case ticker (`btc`).
    pub name: String,
    /// One price a second, newest last (at most [`HISTORY_S`]).
    history: VecDeque<f64>,
}

impl Coin {
    fn price(&self) -> f64 {
        self.history.back().copied().unwrap_or(1.0)
    }

    /// The TWAP over the last `window` seconds (all the history when shorter).
    fn twap(&self, window: usize) -> f64 {
        let n = window.min(self.history.len()).max(1);
        self.history.iter().rev().take(n).sum::<f64>() / n as f64
    }

    /// The price as it was `lag` seconds ago.
    fn lagged(&self, lag: usize) -> f64 {
        let len = self.history.len();
        self.history.get(len.saturating_sub(1 + lag)).copied().unwrap_or_else(|| self.price())
    }
}

/// One round of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// Its market in the model.
    pub market: usize,
    /// Window start (Unix s).
    pub start_s: u64,
    /// Window end (Unix s).
    pub end_s: u64,
    /// The TWAP at the start, once the start has passed.
    pub strike: Option<f64>,
}

/// A rolling series of up/down rounds on one coin.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub coin: usize,
    pub period: String,
    pub period_s: u64,
    /// Open rounds, oldest first.
    pub rounds: Vec<Round>,
}

/// What changed in one second of the rounds.
#[derive(Debug, Default)]
pub(crate) struct Second {
    /// Rounds to list: series index, slug, start, end.
    pub list: Vec<(usize, String, u64, u64)>,
    /// Markets whose fair YES price is now this (ticks of 0.0001).
    pub fair: Vec<(usize, u32)>,
    /// Markets resolved: YES (Up) won when true.
    pub resolve: Vec<(usize, bool)>,
}

/// The crypto side of the model.
#[derive(Debug, Clone)]
pub(crate) struct Crypto {
    rng: Rng,
    pub coins: Vec<Coin>,
    pub series: Vec<Series>,
    /// The next second to simulate (Unix s); 0 before any series.
    next_s: u64,
    /// RTDS frames produced and not taken yet.
    rtds: Vec<RtdsFrame>,
}

/// One RTDS frame with the topic and symbol it carries (what a connection filters on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtdsFrame {
    /// `crypto_prices`, `crypto_prices_chainlink` or `crypto_prices_twap_sixty`.
    pub topic: &'static str,
    /// The symbol (`btcusdt`, `btc/usd`).
    pub symbol: String,
    /// The frame text.
    pub text: String,
}

/// A price to start a coin at.
fn initial_price(coin: &str) -> f64 {
    match coin {
        "btc" => 100_000.0,
        "eth" => 3_500.0,
        "sol" => 200.0,
        "xrp" => 2.5,
        "doge" => 0.3,
        "bnb" => 700.0,
        _ => 100.0,
    }
}

/// The coin, period and window start of an up/down round slug.
pub fn parse_round_slug(slug: &str) -> Option<(String, String, u64)> {
    let mut parts = slug.splitn(4, '-');
    let (coin, kind, period, start) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (kind == "updown" && period_seconds(period).is_some()).then_some(())?;
    Some((coin.to_owned(), period.to_owned(), start.parse().ok()?))
}

/// The slug of a round.
pub fn round_slug(coin: &str, period: &str, start_s: u64) -> String {
    format!("{coin}-updown-{period}-{start_s}")
}

/// A probability as a fair price in ticks of 0.0001, kept within 0.01 .. 0.99.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to 100 ..= 9900 first")]
fn fair_ticks(p: f64) -> u32 {
    (p * 10_000.0).round().clamp(100.0, 9_900.0) as u32
}

/// A positive price in units of 1e-8 (0 for anything not positive).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "prices are far below 1e30")]
fn eight_decimals(v: f64) -> u128 {
    (v * 1e8).round().max(0.0) as u128
}

/// A number as RTDS writes it (up to 8 decimals, no trailing zeros).
fn decimal(v: f64) -> String {
    let s = format!("{v:.8}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl Crypto {
    pub fn new(seed: u64) -> Crypto {
        Crypto { rng: Rng::new(seed ^ 0x6372_7970_746f_0001), coins: vec![], series: vec![], next_s: 0, rtds: vec![] }
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let unit = |r: &mut Rng| ((r.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let (u1, u2) = (unit(&mut self.rng), unit(&mut self.rng));
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn step_coin(&mut self, c: usize) {
        let z = self.normal();
        let coin = &mut self.coins[c];
        let p = coin.price() * (SIGMA_PER_SQRT_S * z).exp();
        coin.history.push_back(p);
        while coin.history.len() > HISTORY_S {
            coin.history.pop_front();
        }
    }

    /// Adds a series (the coin too, its price history filled back to cover the TWAP window
    /// before `now_s`); its index, or the existing one's.
    pub fn add_series(&mut self, coin: &str, period: &str, now_s: u64) -> Option<usize> {
        let period_s = period_seconds(period)?;
        if let Some(s) = self.series.iter().position(|s| self.coins[s.coin].name == coin && s.period == period) {
            return Some(s);
        }
        let c = match self.coins.iter().position(|k| k.name == coin) {
            Some(c) => c,
            None => {
                self.coins.push(Coin { name: coin.to_owned(), history: VecDeque::from([initial_price(coin)]) });
                let c = self.coins.len() - 1;
                for _ in 0..HISTORY_S {
                    self.step_coin(c);
                }
                c
            }
        };
        if self.next_s == 0 {
            self.next_s = now_s + 1;
        }
        self.series.push(Series { coin: c, period: period.to_owned(), period_s, rounds: vec![] });
        Some(self.series.len() - 1)
    }

    /// The rounds to list at `now_s` that are not listed yet.
    fn to_list(&self, now_s: u64) -> Vec<(usize, String, u64, u64)> {
        let mut out = vec![];
        for (k, s) in self.series.iter().enumerate() {
            let first = now_s - now_s % s.period_s;
            for n in 0..LISTED {
                let start = first + n * s.period_s;
                if !s.rounds.iter().any(|r| r.start_s == start) {
                    out.push((k, round_slug(&self.coins[s.coin].name, &s.period, start), start, start + s.period_s));
                }
            }
        }
        out
    }

    /// Records a listed round's market.
    pub fn listed(&mut self, series: usize, market: usize, start_s: u64, end_s: u64, now_s: u64) {
        let coin = self.series[series].coin;
        // A round already running when listed (the first, at declaration) takes the TWAP of its
        // start from the back-filled history.
        let strike = (start_s <= now_s).then(|| {
            let back = usize::try_from(now_s - start_s).unwrap_or(usize::MAX);
            let c = &self.coins[coin];
            let end = c.history.len().saturating_sub(back);
            let n = (WINDOW).min(end).max(1);
            c.history.iter().take(end).rev().take(n).sum::<f64>() / n as f64
        });
        self.series[series].rounds.push(Round { market, start_s, end_s, strike });
    }

    /// Rounds to list before the first second is simulated.
    pub fn pending_listings(&self, now_s: u64) -> Vec<(usize, String, u64, u64)> {
        self.to_list(now_s)
    }

    /// Simulates every second up to `now_ms`; what the rounds need done.
    pub fn advance(&mut self, now_ms: u64) -> Vec<Second> {
        let mut out = vec![];
        while self.next_s != 0 && self.next_s * 1000 <= now_ms {
            let t = self.next_s;
            self.next_s += 1;
            out.push(self.second(t));
        }
        out
    }

    fn second(&mut self, t: u64) -> Second {
        for c in 0..self.coins.len() {
            self.step_coin(c);
            self.publish(c, t);
        }
        let mut sec = Second { list: self.to_list(t), ..Second::default() };
        for s in &mut self.series {
            let coin = &self.coins[s.coin];
            let twap = coin.twap(WINDOW);
            s.rounds.retain_mut(|r| {
                if r.start_s == t {
                    r.strike = Some(twap);
                }
                let Some(strike) = r.strike else { return true };
                if t >= r.end_s {
                    sec.resolve.push((r.market, twap >= strike));
                    return false;
                }
                // What the quoters make of it, LAG_S seconds late.
                let seen_at = t.saturating_sub(LAG_S);
                let spot = coin.lagged(LAG);
                let tau_s = r.end_s.saturating_sub(seen_at);
                // The part of the final TWAP window already past, as seen then.
                let into = usize::try_from(TWAP_WINDOW_S.saturating_sub(tau_s)).unwrap_or(0);
                let past: f64 = {
                    let len = coin.history.len().saturating_sub(LAG);
                    coin.history.iter().take(len).rev().take(into.min(len)).sum()
                };
                let tau = tau_s as f64;
                let p = polyfleet_core::models::crypto::p_up_twap(
                    spot,
                    strike,
                    SIGMA_PER_SQRT_S,
                    tau,
                    TWAP_WINDOW_S as f64,
                    past,
                    200.0,
                );
                sec.fair.push((r.market, fair_ticks(p)));
                true
            });
        }
        sec
    }

    /// The coin's three RTDS frames of second `t`.
    fn publish(&mut self, c: usize, t: u64) {
        let coin = &self.coins[c];
        let ms = t * 1000;
        let (price, twap) = (coin.price(), coin.twap(WINDOW));
        let frame = |topic: &'static str, symbol: String, extra: String| RtdsFrame {
            text: format!(
                r#"{{"topic":"{topic}","type":"update","timestamp":{ms},"payload":{{"symbol":"{symbol}","timestamp":{ms},"value":{}{extra}}}}}"#,
                decimal(if topic.contains("twap") { twap } else { price })
            ),
            topic,
            symbol,
        };
        // E18 fixed point of the TWAP, from its value to 8 decimals.
        let e18 = format!("{}0000000000", eight_decimals(twap));
        let out = [
            frame("crypto_prices", format!("{}usdt", coin.name), String::new()),
            frame("crypto_prices_chainlink", format!("{}/usd", coin.name), String::new()),
            frame(
                "crypto_prices_twap_sixty",
                format!("{}/usd", coin.name),
                format!(r#","full_accuracy_value":"{e18}","window_s":{TWAP_WINDOW_S}"#),
            ),
        ];
        self.rtds.extend(out);
    }

    /// The RTDS frames produced since the last call.
    pub fn take_rtds(&mut self) -> Vec<RtdsFrame> {
        std::mem::take(&mut self.rtds)
    }

    /// The round whose market is `market`, with its series' coin and period.
    pub fn round_of(&self, market: usize) -> Option<(&str, &str, &Round)> {
        self.series.iter().find_map(|s| {
            let r = s.rounds.iter().find(|r| r.market == market)?;
            Some((self.coins[s.coin].name.as_str(), s.period.as_str(), r))
        })
    }

    /// The current reference price of `coin` and its TWAP.
    pub fn price(&self, coin: &str) -> Option<(f64, f64)> {
        let c = self.coins.iter().find(|c| c.name == coin)?;
        Some((c.price(), c.twap(WINDOW)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SimConfig, Simulator};

    fn sim() -> Simulator {
        // 12:07:30 UTC on 2026-01-01, one second a step, no other market.
        let start_ms = 1_767_225_600_000 + 12 * 3_600_000 + 450_000;
        Simulator::new(SimConfig {
            binary_markets: 0,
            neg_risk_events: vec![],
            start_ms,
            step_ms: 1000,
            ..SimConfig::default()
        })
    }

    #[test]
    fn round_slugs_parse() {
        assert_eq!(parse_round_slug("btc-updown-15m-1767225600"), Some(("btc".into(), "15m".into(), 1_767_225_600)));
        assert_eq!(parse_round_slug("btc-updown-2m-1767225600"), None);
        assert_eq!(parse_round_slug("will-btc-go-up"), None);
    }

    /// Rounds roll: the current and the next are listed, each resolves at its end to Up exactly
    /// when the TWAP then is at least the TWAP at its start, and the stream carries three frames
    /// a second, shaped as RTDS sends them.
    #[test]
    fn rounds_are_listed_priced_and_resolved_from_the_twap() {
        let mut sim = sim();
        assert!(sim.declare_series("btc", "5m"));
        let now_s = sim.now_ms() / 1000;
        let first = now_s - now_s % 300;
        let slugs: Vec<&str> = sim.markets().iter().map(|m| m.slug.as_str()).collect();
        assert_eq!(slugs, [format!("btc-updown-5m-{first}"), format!("btc-updown-5m-{}", first + 300)]);
        assert!(sim.round_strike(0).is_some(), "the running round's strike comes from the history");
        assert_eq!(sim.round_strike(1), None, "the next round has no strike before it starts");
        assert_eq!(sim.markets()[0].outcomes(), ["Up", "Down"]);
        assert_eq!(sim.markets()[1].start_date().as_deref(), Some("2026-01-01T12:10:00Z"));
        assert_eq!(sim.markets()[1].end_date(), "2026-01-01T12:15:00Z");

        let (mut resolved, mut frames, mut moved) = (0, 0, 0);
        let mut strikes = std::collections::HashMap::new();
        for _ in 0..(3 * 300) {
            let before: Vec<Option<u32>> = (0..sim.markets().len())
                .map(|i| sim.book(&sim.markets()[i].yes).and_then(|b| b.best_bid()).map(|l| l.price.ticks()))
                .collect();
            for i in 0..sim.markets().len() {
                if let Some(k) = sim.round_strike(i) {
                    strikes.insert(i, k);
                }
            }
            let out = sim.step();
            let (_, twap) = sim.reference_price("btc").unwrap();
            for f in &out {
                if f.text.contains("market_resolved") {
                    let i = sim.markets().iter().position(|m| f.assets.contains(&m.yes)).unwrap();
                    let up = twap >= strikes[&i];
                    assert_eq!(sim.resolution(i), Some(up), "round {i}: twap {twap} strike {}", strikes[&i]);
                    let m = &sim.markets()[i];
                    assert_eq!(m.round.as_ref().unwrap().end_s * 1000, sim.now_ms(), "resolved at its end");
                    resolved += 1;
                }
            }
            moved += (0..before.len())
                .filter(|&i| {
                    sim.book(&sim.markets()[i].yes).and_then(|b| b.best_bid()).map(|l| l.price.ticks()) != before[i]
                })
                .count();
            for f in sim.take_rtds() {
                let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
                let topic = v["topic"].as_str().unwrap();
                assert_eq!((topic, v["payload"]["symbol"].as_str().unwrap()), (f.topic, f.symbol.as_str()));
                assert_eq!(v["payload"]["timestamp"], v["timestamp"]);
                assert!(v["payload"]["value"].as_f64().unwrap() > 0.0);
                match topic {
                    "crypto_prices" => assert_eq!(v["payload"]["symbol"], "btcusdt"),
                    "crypto_prices_chainlink" => assert_eq!(v["payload"]["symbol"], "btc/usd"),
                    "crypto_prices_twap_sixty" => {
                        assert_eq!(v["payload"]["window_s"], 60);
                        let e18: u128 = v["payload"]["full_accuracy_value"].as_str().unwrap().parse().unwrap();
                        let value = v["payload"]["value"].as_f64().unwrap();
                        assert!(((e18 as f64) / 1e18 - value).abs() < 1e-6 * value);
                    }
                    other => panic!("topic {other}"),
                }
                frames += 1;
            }
        }
        assert_eq!(resolved, 3, "three rounds ended in 15 minutes");
        assert_eq!(frames, 3 * 900);
        assert!(moved > 100, "round books follow the reference price ({moved} moves)");
        let open = sim.markets().iter().enumerate().filter(|(i, _)| sim.resolution(*i).is_none()).count();
        assert_eq!(open, 2, "the current round and the next stay listed");
    }
}

//! Balance and allowance pre-flight of live orders, sans IO: what the venue says an account holds
//! and has approved (collateral for buys, each outcome token for sells), cached per asset with a
//! time to live, and the check an order must pass before it is sent: what it needs (a buy its
//! notional plus the most taker fee it can pay; a sell its shares) on top of what the account's
//! open live orders already commit must not exceed the balance, nor the allowance. A reading
//! older than the TTL (or dropped after the venue refused an order for balance or allowance) is
//! not used: the caller reads the venue again first. Amounts are the venue's 6-decimal units.

use std::fmt;

use crate::ids::{TokenId, TokenMap};
use crate::money::{FeeSchedule, Quantity, Rounding};
use crate::side::Side;
use crate::wire::OrderIntent;

/// What an order spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Asset {
    /// Collateral (pUSD), for buys.
    Collateral,
    /// An outcome token, for sells.
    Token(TokenId),
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asset::Collateral => write!(f, "collateral"),
            Asset::Token(t) => write!(f, "token {t}"),
        }
    }
}

/// The venue's answer for one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Balance, micro units.
    pub balance: u64,
    /// Allowance granted to the exchange the orders go to, micro units (saturated).
    pub allowance: u64,
    /// When it was read.
    pub at_ns: u64,
}

/// Why an order may not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// No usable reading: read the venue, record it, check again.
    Stale(Asset),
    /// Not enough balance or allowance.
    Short {
        /// The asset.
        asset: Asset,
        /// True: the allowance is short; false: the balance.
        allowance: bool,
        /// What the venue says there is.
        have: u64,
        /// What open live orders already commit.
        committed: u64,
        /// What the order needs.
        need: u64,
    },
}

impl fmt::Display for Preflight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = |v: u64| crate::Money::from_micros(i64::try_from(v).unwrap_or(i64::MAX)).to_string();
        match self {
            Preflight::Stale(a) => write!(f, "no current balance reading of {a}"),
            Preflight::Short { asset, allowance, have, committed, need } => write!(
                f,
                "pre-flight: not enough {} of {asset}: {} available, {} committed to open orders, the order needs {}",
                if *allowance { "allowance" } else { "balance" },
                units(*have),
                units(*committed),
                units(*need)
            ),
        }
    }
}

/// What a live order spends, and how much of it at most (micro units): a buy its notional at
/// the limit price rounded up plus the taker fee it would pay if it all traded at that price; a
/// sell its shares.
pub fn need(intent: &OrderIntent, fees: &FeeSchedule) -> (Asset, u64) {
    match intent.side {
        Side::Buy => {
            let notional = intent.price.notional(intent.size, Rounding::Up).map_or(i64::MAX, |m| m.micros());
            let fee = fees.taker_fee(intent.price, intent.size).map_or(0, |m| m.micros());
            (Asset::Collateral, u64::try_from(notional.saturating_add(fee)).unwrap_or(u64::MAX))
        }
        Side::Sell => (Asset::Token(intent.token), intent.size.micros()),
    }
}

/// What the open live orders commit: `(intent, remaining shares)` of each.
pub fn committed<'a>(
    asset: Asset,
    open: impl IntoIterator<Item = (&'a OrderIntent, Quantity)>,
    fees: &TokenMap<FeeSchedule>,
) -> u64 {
    open.into_iter()
        .filter_map(|(i, remaining)| {
            let rest = OrderIntent { size: remaining, ..i.clone() };
            let fee = fees.get(&i.token).copied().unwrap_or(FeeSchedule::FREE);
            let (a, n) = need(&rest, &fee);
            (a == asset).then_some(n)
        })
        .fold(0u64, u64::saturating_add)
}

/// The cached readings of one account.
#[derive(Debug, Clone)]
pub struct Funds {
    ttl_ns: u64,
    collateral: Option<Reading>,
    tokens: TokenMap<Reading>,
}

impl Funds {
    /// Readings are used for `ttl_ns` after they were taken.
    pub fn new(ttl_ns: u64) -> Funds {
        Funds { ttl_ns, collateral: None, tokens: TokenMap::default() }
    }

    fn get(&self, asset: Asset) -> Option<&Reading> {
        match asset {
            Asset::Collateral => self.collateral.as_ref(),
            Asset::Token(t) => self.tokens.get(&t),
        }
    }

    /// Records the venue's answer for `asset`.
    pub fn record(&mut self, asset: Asset, reading: Reading) {
        match asset {
            Asset::Collateral => self.collateral = Some(reading),
            Asset::Token(t) => {
                self.tokens.insert(t, reading);
            }
        }
    }

    /// Drops the reading of `asset` (the venue refused an order for balance or allowance, or the
    /// account's holdings changed by a fill or an on-chain operation).
    pub fn invalidate(&mut self, asset: Asset) {
        match asset {
            Asset::Collateral => self.collateral = None,
            Asset::Token(t) => {
                self.tokens.remove(&t);
            }
        }
    }

    /// Drops every reading (a trade moved the account's balances).
    pub fn clear(&mut self) {
        self.collateral = None;
        self.tokens.clear();
    }

    /// Whether an order needing `need` of `asset`, with `committed` already committed by open
    /// orders, may be sent at `now_ns`.
    pub fn check(&self, asset: Asset, need: u64, committed: u64, now_ns: u64) -> Result<(), Preflight> {
        let r = self
            .get(asset)
            .filter(|r| now_ns.saturating_sub(r.at_ns) < self.ttl_ns && r.at_ns <= now_ns.saturating_add(self.ttl_ns))
            .ok_or(Preflight::Stale(asset))?;
        let total = committed.saturating_add(need);
        if total > r.balance {
            return Err(Preflight::Short { asset, allowance: false, have: r.balance, committed, need });
        }
        if total > r.allowance {
            return Err(Preflight::Short { asset, allowance: true, have: r.allowance, committed, need });
        }
        Ok(())
    }
}

/// Whether a venue refusal says the account lacked balance or allowance (the reading is then
/// dropped and read again).
pub fn is_funds_refusal(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not enough balance") || m.contains("allowance")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Mode, TimeInForce};
    use crate::{ClientOrderId, ConditionId, Price};

    fn order(side: Side, price: &str, shares: u64) -> OrderIntent {
        OrderIntent {
            client_order_id: ClientOrderId::new("o-1").unwrap_or_else(|_| unreachable!()),
            group: None,
            namespace: "ns".into(),
            strategy: "s".into(),
            risk_policy: "p".into(),
            venue: "v".into(),
            market: ConditionId::from_bytes([1; 32]),
            token: TokenId::from_u128(7),
            side,
            price: Price::parse(price).unwrap_or_else(|_| unreachable!()),
            size: Quantity::from_micros(shares * 1_000_000),
            tif: TimeInForce::Gtc,
            post_only: false,
            mode: Mode::Live,
            cause_seq: 0,
            cause_recv_ts_ns: 0,
            created_ts_ns: 0,
            outcome: None,
            kelly: None,
        }
    }

    #[test]
    fn a_buy_needs_notional_and_fee_a_sell_its_shares() {
        let fees = FeeSchedule { rate_bps: 720, exponent: 1 };
        // 10 shares at 0.5: 5 USDC plus 10 x 0.072 x 0.25 = 0.18 fee.
        assert_eq!(need(&order(Side::Buy, "0.5", 10), &fees), (Asset::Collateral, 5_180_000));
        assert_eq!(need(&order(Side::Sell, "0.5", 10), &fees), (Asset::Token(TokenId::from_u128(7)), 10_000_000));
    }

    #[test]
    fn the_check_counts_open_orders_and_refuses_stale_readings() {
        let mut f = Funds::new(5_000);
        let buy = order(Side::Buy, "0.5", 10);
        let (asset, n) = need(&buy, &FeeSchedule::FREE);
        assert_eq!(f.check(asset, n, 0, 100), Err(Preflight::Stale(Asset::Collateral)));
        f.record(Asset::Collateral, Reading { balance: 12_000_000, allowance: u64::MAX, at_ns: 100 });
        assert_eq!(f.check(asset, n, 0, 200), Ok(()));
        // An open buy of 10 at 0.8 commits 8: 8 + 5 > 12.
        let open = order(Side::Buy, "0.8", 10);
        let c = committed(Asset::Collateral, [(&open, open.size)], &TokenMap::default());
        assert_eq!(c, 8_000_000);
        let short = f.check(asset, n, c, 200).unwrap_err();
        assert!(short.to_string().contains("not enough balance of collateral: 12 available, 8 committed"), "{short}");
        // Half of it filled: 4 committed, it fits.
        let c = committed(Asset::Collateral, [(&open, Quantity::from_micros(5_000_000))], &TokenMap::default());
        assert_eq!(f.check(asset, n, c, 200), Ok(()));
        // Open sells do not commit collateral.
        let sell = order(Side::Sell, "0.8", 10);
        assert_eq!(committed(Asset::Collateral, [(&sell, sell.size)], &TokenMap::default()), 0);
        // The allowance binds too; an old reading is not used.
        f.record(Asset::Collateral, Reading { balance: 12_000_000, allowance: 1_000_000, at_ns: 300 });
        assert!(matches!(f.check(asset, n, 0, 400), Err(Preflight::Short { allowance: true, .. })));
        assert_eq!(f.check(asset, n, 0, 5_300), Err(Preflight::Stale(Asset::Collateral)));
        f.record(Asset::Collateral, Reading { balance: 12_000_000, allowance: u64::MAX, at_ns: 5_300 });
        f.invalidate(Asset::Collateral);
        assert_eq!(f.check(asset, n, 0, 5_301), Err(Preflight::Stale(Asset::Collateral)));
        assert!(is_funds_refusal("not enough balance / allowance"));
    }
}

//! The venue's matching-engine restarts (docs /trading/matching-engine), as a state machine the
//! order client consults before every order call: weekly, for about 90 s, order endpoints answer
//! HTTP 425; a 2-minute post-only window follows. While a restart is seen, order calls are held
//! back for [`HOLD_NS`] at a time (answered at once, the venue not called: its rate budget is not
//! spent on a restart), then one call probes again; the first order call that succeeds after a
//! 425 opens the post-only window, in which orders that could take liquidity are refused before
//! the venue would refuse them. Cancels are never held: pulling quotes must always be tried.

/// How long order calls are held back after a 425 before the next probe.
pub const HOLD_NS: u64 = 10_000_000_000;
/// The post-only window after a restart.
pub const POST_ONLY_WINDOW_NS: u64 = 120_000_000_000;

/// Why an order is not sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The engine is restarting: order calls wait until this Unix ns.
    Restarting {
        /// Until when.
        until_ns: u64,
    },
    /// A non-post-only order in the post-only window, which ends at this Unix ns.
    PostOnlyWindow {
        /// Until when.
        until_ns: u64,
    },
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Restarting { until_ns } => {
                write!(f, "the matching engine is restarting (HTTP 425): order calls held until {until_ns} ns")
            }
            Held::PostOnlyWindow { until_ns } => write!(
                f,
                "post-only window after a matching-engine restart (until {until_ns} ns): only post-only orders are accepted"
            ),
        }
    }
}

/// The client's view of the matching engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineState {
    restarting: bool,
    hold_until_ns: u64,
    post_only_until_ns: u64,
}

impl EngineState {
    /// An order call answered 425 at `now_ns`.
    pub fn on_restart(&mut self, now_ns: u64) {
        self.restarting = true;
        self.hold_until_ns = now_ns + HOLD_NS;
    }

    /// An order call succeeded at `now_ns`: after a restart, the post-only window opens.
    pub fn on_success(&mut self, now_ns: u64) {
        if self.restarting {
            self.restarting = false;
            self.hold_until_ns = 0;
            self.post_only_until_ns = now_ns + POST_ONLY_WINDOW_NS;
        }
    }

    /// Whether an order (post-only or not) may be sent at `now_ns`.
    pub fn admit(&self, now_ns: u64, post_only: bool) -> Result<(), Held> {
        if self.restarting && now_ns < self.hold_until_ns {
            return Err(Held::Restarting { until_ns: self.hold_until_ns });
        }
        if !post_only && now_ns < self.post_only_until_ns {
            return Err(Held::PostOnlyWindow { until_ns: self.post_only_until_ns });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_restart_holds_orders_then_probes_and_opens_the_post_only_window_on_success() {
        let mut e = EngineState::default();
        assert_eq!(e.admit(0, false), Ok(()));
        e.on_restart(100 * S);
        assert_eq!(e.admit(105 * S, true), Err(Held::Restarting { until_ns: 110 * S }));
        // The hold ends: one call probes; a second 425 holds again.
        assert_eq!(e.admit(110 * S, true), Ok(()));
        e.on_restart(110 * S);
        assert!(e.admit(119 * S, true).is_err());
        // The engine answers: post-only orders go, others wait two minutes.
        e.on_success(190 * S);
        assert_eq!(e.admit(191 * S, true), Ok(()));
        assert_eq!(e.admit(191 * S, false), Err(Held::PostOnlyWindow { until_ns: 310 * S }));
        assert_eq!(e.admit(310 * S, false), Ok(()));
        // Successes without a restart open nothing.
        e.on_success(400 * S);
        assert_eq!(e.admit(401 * S, false), Ok(()));
    }
}

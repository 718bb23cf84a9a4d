//! Where the simulator server's market comes from: the seeded [`Simulator`] model, or a
//! [`crate::replay::Replay`] of a recording. The server only needs frames, snapshots and books.

use polyfleet_core::book::OrderBook;
use polyfleet_core::{ConditionId, TokenId};
use polyfleet_polymarket::http::market_status::MarketStatus;

use crate::model::{SimFrame, Simulator};

/// A market the server can serve.
pub trait Source: Send + 'static {
    /// Advances one step; the frames it produced.
    fn step(&mut self) -> Vec<SimFrame>;
    /// The `book` frame a new subscriber of `token` gets.
    fn snapshot_frame(&self, token: &TokenId) -> Option<String>;
    /// The true book of `token` now.
    fn book(&self, token: &TokenId) -> Option<OrderBook>;
    /// Every token served.
    fn tokens(&self) -> Vec<TokenId>;
    /// The CLOB's status of a market now (`GET /markets/{condition_id}`).
    fn market_status(&self, market: &ConditionId) -> Option<MarketStatus>;
    /// The model, when the source is one (REST metadata endpoints need it).
    fn model(&self) -> Option<&Simulator>;
    /// The model, mutable (scenario injection).
    fn model_mut(&mut self) -> Option<&mut Simulator>;
    /// RTDS frames (crypto reference prices) produced since the last call.
    fn take_rtds(&mut self) -> Vec<crate::crypto::RtdsFrame> {
        vec![]
    }
}

impl Source for Simulator {
    fn step(&mut self) -> Vec<SimFrame> {
        Simulator::step(self)
    }
    fn snapshot_frame(&self, token: &TokenId) -> Option<String> {
        Simulator::snapshot_frame(self, token)
    }
    fn book(&self, token: &TokenId) -> Option<OrderBook> {
        Simulator::book(self, token)
    }
    fn tokens(&self) -> Vec<TokenId> {
        self.markets().iter().flat_map(|m| [m.yes, m.no]).collect()
    }
    fn market_status(&self, market: &ConditionId) -> Option<MarketStatus> {
        Simulator::market_status(self, market)
    }
    fn model(&self) -> Option<&Simulator> {
        Some(self)
    }
    fn model_mut(&mut self) -> Option<&mut Simulator> {
        Some(self)
    }
    fn take_rtds(&mut self) -> Vec<crate::crypto::RtdsFrame> {
        Simulator::take_rtds(self)
    }
}

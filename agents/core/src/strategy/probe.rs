//! A latency probe, not a trading strategy: on every book update of its tokens it asks for one
//! minimum-size sell at 0.99, FAK, which the risk gateway can approve without adding exposure.
//! The order-path benchmark uses it to put one order through every hop per market event.

use super::{BookSet, Ctx, Instrument, OrderRequest, ParamsError, Strategy};
use crate::TokenId;
use crate::money::Price;
use crate::side::Side;
use crate::wire::{Fill, OrderUpdate, RiskDecision, TimeInForce};

/// The probe.
#[derive(Debug)]
pub struct Probe {
    instruments: Vec<Instrument>,
}

impl Probe {
    /// A probe over `instruments`.
    pub fn new(instruments: Vec<Instrument>) -> Probe {
        Probe { instruments }
    }
}

impl Strategy for Probe {
    fn tokens(&self) -> Vec<TokenId> {
        self.instruments.iter().map(|i| i.token).collect()
    }

    fn on_book(&mut self, token: &TokenId, _books: &BookSet, ctx: &mut Ctx<'_>) {
        if let Some(i) = self.instruments.iter().find(|i| i.token == *token) {
            ctx.place(OrderRequest {
                group: None,
                market: i.market,
                token: i.token,
                side: Side::Sell,
                price: Price::from_ticks(9900).unwrap_or(Price::ONE),
                size: i.min_size,
                tif: TimeInForce::Fak,
                post_only: false,
                kelly: None,
            });
        }
    }

    fn on_decision(&mut self, _: &RiskDecision, _: &BookSet, _: &mut Ctx<'_>) {}
    fn on_order(&mut self, _: &OrderUpdate, _: &BookSet, _: &mut Ctx<'_>) {}
    fn on_fill(&mut self, _: &Fill, _: &BookSet, _: &mut Ctx<'_>) {}
    fn on_timer(&mut self, _: &BookSet, _: &mut Ctx<'_>) {}
    fn set_params(&mut self, params: &crate::config::StrategyParams) -> Result<(), ParamsError> {
        match params {
            crate::config::StrategyParams::Probe(_) => Ok(()),
            _ => Err(ParamsError::Decode("not probe parameters".into())),
        }
    }
}

//! Live conditional-token operations through the official SDK's `ctf` client and the neg-risk
//! adapter bindings ([`OnChain`]), against the simulator's JSON-RPC chain: a signed transaction
//! per operation, balances moved exactly, reverts refused before sending with the contract's
//! reason, nothing sent for what the account cannot do; NO tokens of a neg-risk event converted
//! through the adapter. Never a real chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::net::SocketAddr;

use alloy::signers::local::PrivateKeySigner;
use polyfleet_core::Quantity;
use polyfleet_core::wire::CtfOp;
use polyfleet_polymarket::execution::onchain::{Account, ChainError, ChainMarket, ConvertTarget, OnChain};
use polyfleet_sim::server::{self, SimHandle};
use polyfleet_sim::{SimConfig, SimMarket};

const USDC: i128 = 1_000_000;

fn q(units: u64) -> Quantity {
    Quantity::from_micros(units * 1_000_000)
}

fn on(m: &SimMarket) -> ChainMarket {
    ChainMarket { condition: m.condition, neg_risk: m.event.is_some(), yes: m.yes }
}

async fn held(sim: &SimHandle, chain: &OnChain, m: &SimMarket) -> (i128, i128, i128) {
    let (cash, tokens) = sim.balances(chain.signer(), &[m.yes, m.no]).await;
    (cash, tokens[0], tokens[1])
}

#[tokio::test]
async fn split_merge_redeem_on_the_simulated_chain() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig { binary_markets: 1, neg_risk_events: vec![3], ..SimConfig::default() };
    let sim = server::serve(cfg, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 0).await.unwrap();
    let markets = sim.with_model(|m| m.markets().to_vec()).await.unwrap();
    let (binary, outcome) = (&markets[0], &markets[1]);
    let chain = OnChain::connect(&sim.rpc_url(), PrivateKeySigner::random(), Account::Eoa).await.unwrap();
    let (start, _, _) = held(&sim, &chain, binary).await;
    let tokens = |m: &SimMarket| [m.yes, m.no];

    // Binary: split 10, merge 4 back.
    let split = CtfOp::Split { market: binary.condition, tokens: tokens(binary), size: q(10) };
    chain.execute(&split, &on(binary)).await.unwrap();
    assert_eq!(held(&sim, &chain, binary).await, (start - 10 * USDC, 10 * USDC, 10 * USDC));
    let merge = CtfOp::Merge { market: binary.condition, tokens: tokens(binary), size: q(4) };
    chain.execute(&merge, &on(binary)).await.unwrap();
    assert_eq!(held(&sim, &chain, binary).await, (start - 6 * USDC, 6 * USDC, 6 * USDC));
    assert_eq!(sim.transactions_mined().await, 2);

    // What the account cannot do is refused at estimation, with the contract's reason: no
    // transaction, no balance moved.
    let too_much = CtfOp::Merge { market: binary.condition, tokens: tokens(binary), size: q(7) };
    let err = chain.execute(&too_much, &on(binary)).await.unwrap_err();
    assert!(matches!(&err, ChainError::NotSent(m) if m.contains("insufficient outcome token balance")), "{err}");
    let early = CtfOp::Redeem { market: binary.condition, token: binary.yes, size: q(6) };
    let err = chain.execute(&early, &on(binary)).await.unwrap_err();
    assert!(err.to_string().contains("result for condition not received yet"), "{err}");
    assert_eq!(sim.transactions_mined().await, 2);
    assert_eq!(held(&sim, &chain, binary).await, (start - 6 * USDC, 6 * USDC, 6 * USDC));

    // Resolved YES: the redemption pays the 6 YES and burns both sides.
    assert!(sim.resolve(0, true).await);
    chain.execute(&early, &on(binary)).await.unwrap();
    assert_eq!(held(&sim, &chain, binary).await, (start, 0, 0), "6 sets bought for 6 pay 6: cash back whole");

    // Neg-risk outcome: sets go through the adapter; routed through the Conditional Tokens
    // contract they are refused, as on chain.
    let split = CtfOp::Split { market: outcome.condition, tokens: tokens(outcome), size: q(5) };
    let wrong = ChainMarket { neg_risk: false, ..on(outcome) };
    let err = chain.execute(&split, &wrong).await.unwrap_err();
    assert!(err.to_string().contains("NegRiskAdapter"), "{err}");
    chain.execute(&split, &on(outcome)).await.unwrap();
    let merge = CtfOp::Merge { market: outcome.condition, tokens: tokens(outcome), size: q(2) };
    chain.execute(&merge, &on(outcome)).await.unwrap();
    assert_eq!(held(&sim, &chain, outcome).await, (start - 3 * USDC, 3 * USDC, 3 * USDC));
    // It resolves NO: redeeming the NO pays it; the losing YES stays worthless.
    assert!(sim.resolve(1, false).await);
    let redeem = CtfOp::Redeem { market: outcome.condition, token: outcome.no, size: q(3) };
    chain.execute(&redeem, &on(outcome)).await.unwrap();
    assert_eq!(held(&sim, &chain, outcome).await, (start, 3 * USDC, 0));
    assert_eq!(sim.transactions_mined().await, 6);
}

#[tokio::test]
async fn no_tokens_convert_through_the_neg_risk_adapter() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig { binary_markets: 0, neg_risk_events: vec![3], ..SimConfig::default() };
    let sim = server::serve(cfg, "127.0.0.1:0".parse::<SocketAddr>().unwrap(), 0).await.unwrap();
    let markets = sim.with_model(|m| m.markets().to_vec()).await.unwrap();
    let questions: Vec<[u8; 32]> =
        sim.with_model(|m| (0..3).map(|i| m.question_id(i).unwrap()).collect()).await.unwrap();
    let chain = OnChain::connect(&sim.rpc_url(), PrivateKeySigner::random(), Account::Eoa).await.unwrap();
    let (start, _) = sim.balances(chain.signer(), &[]).await;
    // 5 sets of every outcome: 5 YES and 5 NO each, for 15 USDC.
    for m in &markets {
        let split = CtfOp::Split { market: m.condition, tokens: [m.yes, m.no], size: q(5) };
        chain.execute(&split, &on(m)).await.unwrap();
    }
    let all = |m: &[SimMarket]| m.iter().flat_map(|m| [m.yes, m.no]).collect::<Vec<_>>();
    let tokens = |v: &[i128]| v.iter().map(|x| x / USDC).collect::<Vec<_>>();
    let (cash, held) = sim.balances(chain.signer(), &all(&markets)).await;
    assert_eq!((start - cash, tokens(&held)), (15 * USDC, vec![5, 5, 5, 5, 5, 5]));

    // The whole NO basket, 3 units: 2 USDC a unit back, no YES minted.
    let nos: Vec<_> = markets.iter().map(|m| m.no).collect();
    let basket = CtfOp::Convert { no_tokens: nos.clone(), yes_tokens: vec![], size: q(3), fee_bips: 0 };
    let target = ConvertTarget::of(&questions).unwrap();
    assert_eq!(target.index_set, alloy::primitives::U256::from(0b111));
    chain.convert(&basket, &target).await.unwrap();
    let (cash, held) = sim.balances(chain.signer(), &all(&markets)).await;
    assert_eq!((start - cash, tokens(&held)), (9 * USDC, vec![5, 2, 5, 2, 5, 2]));

    // Two of the three NOs, 1 unit: 1 USDC and a YES of the third outcome.
    let two =
        CtfOp::Convert { no_tokens: nos[..2].to_vec(), yes_tokens: vec![markets[2].yes], size: q(1), fee_bips: 0 };
    chain.convert(&two, &ConvertTarget::of(&questions[..2]).unwrap()).await.unwrap();
    let (cash, held) = sim.balances(chain.signer(), &all(&markets)).await;
    assert_eq!((start - cash, tokens(&held)), (8 * USDC, vec![5, 1, 5, 1, 6, 2]));
    assert_eq!(sim.transactions_mined().await, 5);

    // Priced with another fee than the adapter's: refused unsent. More NO than held: refused at
    // estimation with the contract's reason. Outcomes of two events: no target.
    let convert = |size: u64, fee_bips: u32| CtfOp::Convert {
        no_tokens: nos.clone(),
        yes_tokens: vec![],
        size: q(size),
        fee_bips,
    };
    let priced = convert(1, 100);
    assert!(
        matches!(chain.convert(&priced, &target).await, Err(ChainError::Unsupported(m)) if m.contains("charges 0 bips"))
    );
    let too_much = convert(3, 0);
    let err = chain.convert(&too_much, &target).await.unwrap_err();
    assert!(matches!(&err, ChainError::NotSent(m) if m.contains("insufficient NO token balance")), "{err}");
    let mut other = questions[0];
    other[0] ^= 1;
    assert!(ConvertTarget::of(&[questions[1], other]).is_err());
    assert!(ConvertTarget::of(&[questions[1], questions[1]]).is_err());
    assert_eq!(sim.transactions_mined().await, 5);
}

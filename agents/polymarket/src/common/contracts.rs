//! Typed bindings of the on-chain calls polyfleet makes for conditional-token operations, beside
//! what the official SDK's `ctf` client covers: the Gnosis Conditional Tokens calls (the SDK
//! sends them; the simulator's chain decodes them with these same signatures) and the neg-risk
//! adapter's split, merge, redeem and convert, which the SDK does not cover; and the proxy wallet
//! factory's `proxy`, which runs a proxy account's calls.
//!
//! Signatures follow the deployed contracts (Conditional Tokens at
//! `0x4D97DCd97eC945f40cF65F87097ACe5EA0476045`, NegRiskAdapter; see
//! `../shared/docs/venue-polymarket.md` §2.7–2.8). Binary markets use partition `[1, 2]` and a
//! zero parent collection; amounts are in 6-decimal units (micro-USDC, micro-shares).

#![allow(
    missing_docs,
    clippy::too_many_arguments,
    reason = "the sol! macro generates the call types of the contracts' ABI"
)]

use alloy::sol;

sol! {
    /// The Gnosis Conditional Tokens contract (ERC-1155 outcome tokens).
    #[sol(rpc)]
    interface IConditionalTokens {
        function splitPosition(
            address collateralToken,
            bytes32 parentCollectionId,
            bytes32 conditionId,
            uint256[] calldata partition,
            uint256 amount
        ) external;
        function mergePositions(
            address collateralToken,
            bytes32 parentCollectionId,
            bytes32 conditionId,
            uint256[] calldata partition,
            uint256 amount
        ) external;
        function redeemPositions(
            address collateralToken,
            bytes32 parentCollectionId,
            bytes32 conditionId,
            uint256[] calldata indexSets
        ) external;
    }

    /// Polymarket's neg-risk adapter: complete sets of neg-risk markets split, merge and redeem
    /// through it (their collateral is wrapped), and NO baskets convert.
    #[sol(rpc)]
    interface INegRiskAdapter {
        function splitPosition(bytes32 conditionId, uint256 amount) external;
        function mergePositions(bytes32 conditionId, uint256 amount) external;
        function redeemPositions(bytes32 conditionId, uint256[] calldata amounts) external;
        function convertPositions(bytes32 marketId, uint256 indexSet, uint256 amount) external;
        function getFeeBips(bytes32 marketId) external view returns (uint256);
    }
}

sol! {
    /// Polymarket's proxy wallet factory (`0xaB45c5A4B0c941a2F231C04C3f49182e1A254052` on
    /// Polygon): `proxy` runs calls from the caller's proxy wallet (Magic/email accounts,
    /// signature type 1); the relayer calls it on the owner's behalf.
    interface IProxyWalletFactory {
        /// One call: `typeCode` 1 is a plain call (0 invalid, 2 delegate call).
        struct ProxyCall {
            uint8 typeCode;
            address to;
            uint256 value;
            bytes data;
        }
        function proxy(ProxyCall[] calls) external payable returns (bytes[] memory returnValues);
    }
}

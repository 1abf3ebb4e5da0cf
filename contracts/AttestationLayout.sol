// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Public-signal layout of a batch proof; mirrors zkmargin/verifier/attestation.py (and
/// circuits/solvency/shape.py) exactly.
/// @notice With A assets: 0 epoch, 1 batch_root, 2 params_commitment, 3 market_commitment, 4 first_id_hash,
/// 5 last_id_hash, 6 account_count, 7 total_equity, 8 total_mm, 9 under_mm_count, 10 total_shortfall,
/// 11 total_bad_debt, 12..12+A-1 prices, 12+A..12+2A-1 liabilities. Epoch, params commitment, market
/// commitment and prices are shared by every batch of an epoch.
library AttestationLayout {
    uint256 internal constant EPOCH = 0;
    uint256 internal constant BATCH_ROOT = 1;
    uint256 internal constant PARAMS_COMMITMENT = 2;
    uint256 internal constant MARKET_COMMITMENT = 3;
    uint256 internal constant FIRST_ID_HASH = 4;
    uint256 internal constant LAST_ID_HASH = 5;
    uint256 internal constant ACCOUNT_COUNT = 6;
    uint256 internal constant TOTAL_EQUITY = 7;
    uint256 internal constant TOTAL_MM = 8;
    uint256 internal constant UNDER_MM_COUNT = 9;
    uint256 internal constant TOTAL_SHORTFALL = 10;
    uint256 internal constant TOTAL_BAD_DEBT = 11;
    uint256 internal constant PRICES = 12;

    function liabilities(uint256 nAssets) internal pure returns (uint256) {
        return PRICES + nAssets;
    }

    function nPublic(uint256 nAssets) internal pure returns (uint256) {
        return PRICES + 2 * nAssets;
    }
}

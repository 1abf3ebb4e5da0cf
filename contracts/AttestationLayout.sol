// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Public-signal layout of a batch proof; mirrors zkmargin/verifier/attestation.py exactly.
/// @notice With A assets: 0 epoch, 1 batch_root, 2 params_commitment, 3 first_id_hash, 4 last_id_hash,
/// 5 account_count, 6 total_equity, 7 total_mm, 8..8+A-1 prices, 8+A..8+2A-1 liabilities.
library AttestationLayout {
    uint256 internal constant EPOCH = 0;
    uint256 internal constant BATCH_ROOT = 1;
    uint256 internal constant PARAMS_COMMITMENT = 2;
    uint256 internal constant FIRST_ID_HASH = 3;
    uint256 internal constant LAST_ID_HASH = 4;
    uint256 internal constant ACCOUNT_COUNT = 5;
    uint256 internal constant TOTAL_EQUITY = 6;
    uint256 internal constant TOTAL_MM = 7;
    uint256 internal constant PRICES = 8;

    function liabilities(uint256 nAssets) internal pure returns (uint256) {
        return PRICES + nAssets;
    }

    function nPublic(uint256 nAssets) internal pure returns (uint256) {
        return PRICES + 2 * nAssets;
    }
}

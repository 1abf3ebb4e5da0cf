// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice The read side of Chainlink's AggregatorV3Interface, the de facto price-feed ABI.
interface AggregatorV3Interface {
    function decimals() external view returns (uint8);

    function description() external view returns (string memory);

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

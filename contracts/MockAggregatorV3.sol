// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @title Test price feed with the AggregatorV3 ABI; its owner pushes answers (tests only).
contract MockAggregatorV3 is AggregatorV3Interface {
    uint8 public immutable override decimals;
    string public override description;
    address public owner;
    uint80 private _roundId;
    int256 private _answer;
    uint256 private _updatedAt;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 decimals_, string memory description_, int256 answer) {
        decimals = decimals_;
        description = description_;
        owner = msg.sender;
        _push(answer, block.timestamp);
    }

    /// Push a new answer stamped with the current block time.
    function setAnswer(int256 answer) external {
        _push(answer, block.timestamp);
    }

    /// Push an answer with an explicit update time (to simulate stale feeds).
    function setAnswerAt(int256 answer, uint256 updatedAt) external {
        _push(answer, updatedAt);
    }

    function latestRoundData() external view override returns (uint80, int256, uint256, uint256, uint80) {
        return (_roundId, _answer, _updatedAt, _updatedAt, _roundId);
    }

    function _push(int256 answer, uint256 updatedAt) private {
        require(msg.sender == owner, "MockAggregatorV3: not owner");
        _roundId += 1;
        _answer = answer;
        _updatedAt = updatedAt;
        emit AnswerUpdated(answer, _roundId, updatedAt);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice The read side of ERC-20 the registry needs for the insurance fund.
interface IERC20Balance {
    function decimals() external view returns (uint8);

    function balanceOf(address account) external view returns (uint256);
}

/// @title Minimal ERC-20 for tests and the demo (a stand-in stablecoin); its owner mints.
contract MockERC20 is IERC20Balance {
    string public name;
    string public symbol;
    uint8 public immutable override decimals;
    address public owner;
    uint256 public totalSupply;
    mapping(address => uint256) public override balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        owner = msg.sender;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == owner, "MockERC20: not owner");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        require(balanceOf[msg.sender] >= amount, "MockERC20: balance too low");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }
}

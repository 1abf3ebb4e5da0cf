// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @title FeedMedian: the median of an asset's AggregatorV3 feeds, and whether a price box holds at it.
/// @notice Stateless, deployed once and pinned by every SolvencyRegistry (its constructor's last argument, immutable),
/// like Groth16BatchVerifier: the median code lives here so that the registry stays under the EIP-170 code-size
/// limit. Two entry points share one feed reader:
///
/// * `median` (submission): reverts with a reason on any feed that is missing, stale, incomplete, non-positive or
///   malformed, so an attestation is never checked against a broken oracle;
/// * `liveCheck` (the registry's live view, `isSolvent()` at call time): never reverts; it returns a status code
///   (0: the median is inside the box) with the median and the box bounds, so a broken feed makes the view false
///   instead of making it unreadable.
///
/// A feed's answer is rescaled to the caller's price decimals (truncating, as the registry always did). The median of
/// n answers is the middle one (n odd) or the floor of the mean of the two middle ones (n even).
contract FeedMedian {
    /// liveCheck / median statuses (docs/contracts.md, "Live view").
    uint8 public constant OK = 0;
    uint8 public constant NO_FEED = 1; // the asset has no feed
    uint8 public constant CALL_FAILED = 2; // a feed reverted or returned malformed data
    uint8 public constant BAD_ANSWER = 3; // answer <= 0, >= 2^128, or 0 once rescaled
    uint8 public constant INCOMPLETE_ROUND = 4; // updatedAt 0 or in the future, or answeredInRound < roundId
    uint8 public constant STALE = 5; // answer older than maxAge
    uint8 public constant BAD_DECIMALS = 6; // feed decimals > 36
    uint8 public constant OUTSIDE_BOX = 7; // liveCheck only: the median is outside [lo, hi]

    uint256 private constant PPM = 1_000_000;

    /// Submission's price check: `price` is non-zero, < 2^128 and within `tolBps` basis points of the feeds' median
    /// (|price - median| <= median tol); reverts with the failing condition otherwise, or when a feed is broken.
    function checkPrice(address[] calldata feeds, uint256 maxAge, uint8 decimals, uint256 price, uint256 tolBps)
        external
        view
    {
        require(price != 0, "FeedMedian: zero price");
        uint256 m = median(feeds, maxAge, decimals);
        uint256 diff = price > m ? price - m : m - price;
        require(price <= type(uint128).max && diff * 10_000 <= m * tolBps, "FeedMedian: price outside oracle band");
    }

    /// The median of `feeds` rescaled to `decimals`; reverts (with the failing condition) unless every feed gives a
    /// fresh (at most `maxAge` seconds old), complete, positive answer.
    function median(address[] calldata feeds, uint256 maxAge, uint8 decimals) public view returns (uint256 m) {
        uint8 st;
        (st, m) = _median(feeds, maxAge, decimals);
        if (st == OK) return m;
        if (st == NO_FEED) revert("FeedMedian: no price feed for asset");
        if (st == CALL_FAILED) revert("FeedMedian: price feed call failed");
        if (st == BAD_ANSWER) revert("FeedMedian: bad price feed answer");
        if (st == INCOMPLETE_ROUND) revert("FeedMedian: incomplete price feed round");
        if (st == STALE) revert("FeedMedian: stale price feed");
        revert("FeedMedian: bad price feed decimals");
    }

    /// Whether the feeds' median is inside the box of half-width `boxPpm` (parts per million) around `price`:
    /// [ceil(price (1 - b)), floor(price (1 + b))], bounds rounded inward so that a true answer never claims a price the
    /// proof did not cover; with `boxPpm` 0 the median must equal `price`. Never reverts on a feed: a feed failure is
    /// its status (1..6) with median 0.
    function liveCheck(address[] calldata feeds, uint256 maxAge, uint8 decimals, uint256 price, uint256 boxPpm)
        external
        view
        returns (uint8 status, uint256 m, uint256 lo, uint256 hi)
    {
        return _check(feeds, maxAge, decimals, price, boxPpm);
    }

    /// liveCheck's status alone (what the registry's live view reads).
    function liveStatus(address[] calldata feeds, uint256 maxAge, uint8 decimals, uint256 price, uint256 boxPpm)
        external
        view
        returns (uint8 status)
    {
        (status,,,) = _check(feeds, maxAge, decimals, price, boxPpm);
    }

    function _check(address[] calldata feeds, uint256 maxAge, uint8 decimals, uint256 price, uint256 boxPpm)
        private
        view
        returns (uint8 status, uint256 m, uint256 lo, uint256 hi)
    {
        (lo, hi) = boxBounds(price, boxPpm);
        (status, m) = _median(feeds, maxAge, decimals);
        if (status == OK && (m < lo || m > hi)) status = OUTSIDE_BOX;
    }

    /// The box's bounds, rounded inward (ceil low, floor high). `price` < 2^128 and `boxPpm` <= 10^6 (the registry's
    /// bounds), so nothing overflows; a larger boxPpm is clamped at a zero lower bound.
    function boxBounds(uint256 price, uint256 boxPpm) public pure returns (uint256 lo, uint256 hi) {
        uint256 down = boxPpm >= PPM ? 0 : PPM - boxPpm;
        lo = (price * down + PPM - 1) / PPM;
        hi = price * (PPM + boxPpm) / PPM;
    }

    function _median(address[] calldata feeds, uint256 maxAge, uint8 decimals)
        private
        view
        returns (uint8 st, uint256 m)
    {
        uint256 n = feeds.length;
        if (n == 0) return (NO_FEED, 0);
        uint256[] memory v = new uint256[](n);
        for (uint256 j = 0; j < n; ++j) {
            uint256 x;
            (st, x) = _read(feeds[j], maxAge, decimals);
            if (st != OK) return (st, 0);
            uint256 k = j;
            while (k > 0 && v[k - 1] > x) {
                v[k] = v[k - 1];
                --k;
            }
            v[k] = x;
        }
        m = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /// One feed's latest answer rescaled to `decimals`, read with low-level static calls so that a reverting or
    /// malformed feed is a status, never a revert.
    function _read(address feed, uint256 maxAge, uint8 decimals) private view returns (uint8, uint256 v) {
        (bool ok, bytes memory ret) = feed.staticcall(abi.encodeCall(AggregatorV3Interface.latestRoundData, ()));
        if (!ok || ret.length < 160) return (CALL_FAILED, 0);
        (uint256 roundId, int256 answer,, uint256 updatedAt, uint256 answeredInRound) =
            abi.decode(ret, (uint256, int256, uint256, uint256, uint256));
        if (answer <= 0 || uint256(answer) > type(uint128).max) return (BAD_ANSWER, 0);
        if (updatedAt == 0 || updatedAt > block.timestamp || answeredInRound < roundId) return (INCOMPLETE_ROUND, 0);
        if (block.timestamp - updatedAt > maxAge) return (STALE, 0);
        (ok, ret) = feed.staticcall(abi.encodeCall(AggregatorV3Interface.decimals, ()));
        if (!ok || ret.length < 32) return (CALL_FAILED, 0);
        uint256 d = abi.decode(ret, (uint256));
        if (d > 36) return (BAD_DECIMALS, 0);
        v = uint256(answer);
        if (d < decimals) v *= 10 ** (decimals - d);
        else if (d > decimals) v /= 10 ** (d - decimals);
        if (v == 0) return (BAD_ANSWER, 0);
        return (OK, v);
    }
}

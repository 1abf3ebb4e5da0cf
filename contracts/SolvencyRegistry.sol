// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {AttestationLayout as L} from "./AttestationLayout.sol";
import {Groth16} from "./Groth16.sol";

/// @title SolvencyRegistry: on-chain record of zkmargin epoch attestations.
/// @notice An operator submits an epoch's batches and their Groth16 proofs. The registry rebuilds every
/// batch's public signals itself from the submitted fields (so a proof is about exactly these values),
/// verifies every proof, checks the batches cover disjoint id ranges, binds the proof's prices to
/// on-chain AggregatorV3 feeds within a tolerance band, and only then writes and emits.
/// Everything that goes wrong reverts with a reason string.
contract SolvencyRegistry {
    /// One batch proof's statement (its public signals minus the epoch-wide ones) and proof.
    struct Batch {
        uint256 batchRoot;
        uint256 firstIdHash;
        uint256 lastIdHash;
        uint256 accountCount;
        uint256 totalEquity;
        uint256 totalMM;
        uint256[] liabilities;
        uint256[8] proof; // A.x A.y B.x1 B.x0 B.y1 B.y0 C.x C.y
    }

    /// What the operator submits for one epoch.
    struct Submission {
        uint64 epoch;
        uint256 paramsCommitment;
        uint256[] prices;
        Batch[] batches;
    }

    /// What a reader gets back for one epoch.
    struct Attestation {
        uint64 epoch;
        uint64 timestamp;
        uint64 accountCount;
        uint32 batchCount;
        bytes32 batchRootsHash; // keccak256 of the batch roots as 32-byte words, in batch order
        uint256 paramsCommitment;
        uint256 totalEquity;
        uint256 totalMM;
        uint256[] prices;
        uint256[] liabilities; // per asset, summed over the batches
    }

    /// Stored record: 4 slots, plus ceil(A/2) slots each for prices and liabilities.
    struct Record {
        uint64 epoch;
        uint64 timestamp;
        uint64 accountCount;
        uint32 batchCount;
        bytes32 batchRootsHash;
        uint256 paramsCommitment;
        uint128 totalEquity;
        uint128 totalMM;
    }

    uint256 private constant BPS = 10_000;

    /// Number of assets A in the proof layout (a circuit-shape parameter).
    uint256 public immutable numAssets;
    /// Fixed-point decimals of the prices in the proofs; feed answers are rescaled to these.
    uint8 public immutable priceDecimals;

    address public owner;
    uint64 public latestEpoch;
    bool public hasAttestation;
    /// Data contract holding the current verifying key blob (see Groth16).
    address public verifyingKey;
    /// Half-width of the band around the feeds' [min, max], in basis points.
    uint16 public priceToleranceBps;
    /// Maximum age of a feed answer at submission, in seconds.
    uint32 public maxFeedAge;

    mapping(address => bool) public isOperator;
    mapping(uint256 => address[]) private _feeds;
    mapping(uint64 => Record) private _records;
    /// Per epoch: prices then liabilities, two uint128 per word.
    mapping(uint64 => mapping(uint256 => uint256)) private _packed;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event OperatorSet(address indexed operator, bool enabled);
    event VerifyingKeyChanged(address indexed keyPointer, bytes32 keyHash, uint256 nPublic);
    event PriceFeedsSet(uint256 indexed asset, address[] feeds);
    event PriceBandSet(uint16 toleranceBps, uint32 maxFeedAge);
    event AttestationSubmitted(
        uint64 indexed epoch,
        bytes32 batchRootsHash,
        uint256 paramsCommitment,
        uint256 totalEquity,
        uint256 totalMM,
        uint64 accountCount,
        uint256[] prices,
        uint256[] liabilities
    );
    /// One per batch, so a user holding an id hash can find the batch (and root) that covers it.
    event BatchAttested(
        uint64 indexed epoch,
        uint256 indexed index,
        uint256 batchRoot,
        uint256 firstIdHash,
        uint256 lastIdHash,
        uint256 accountCount,
        uint256 totalEquity,
        uint256 totalMM
    );

    modifier onlyOwner() {
        require(msg.sender == owner, "Registry: caller is not the owner");
        _;
    }

    constructor(uint256 numAssets_, uint8 priceDecimals_, uint16 toleranceBps, uint32 maxFeedAge_) {
        require(numAssets_ >= 1 && numAssets_ <= 64, "Registry: bad asset count");
        require(priceDecimals_ <= 36, "Registry: bad price decimals");
        numAssets = numAssets_;
        priceDecimals = priceDecimals_;
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
        _setPriceBand(toleranceBps, maxFeedAge_);
    }

    // ------------------------------------------------------------------ owner configuration

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "Registry: new owner is the zero address");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function setOperator(address operator, bool enabled) external onlyOwner {
        isOperator[operator] = enabled;
        emit OperatorSet(operator, enabled);
    }

    /// Replace the verifying key (blob layout in Groth16). Validated on-chain, including G2 subgroup.
    function setVerifyingKey(bytes calldata key) external onlyOwner {
        (address ptr, uint256 n) = Groth16.storeKey(key);
        require(n == L.nPublic(numAssets), "Registry: key has wrong public input count");
        verifyingKey = ptr;
        emit VerifyingKeyChanged(ptr, keccak256(key), n);
    }

    /// Feeds for one asset: the band is [min, max] of their answers widened by the tolerance.
    function setPriceFeeds(uint256 asset, address[] calldata feeds) external onlyOwner {
        require(asset < numAssets, "Registry: asset out of range");
        for (uint256 j = 0; j < feeds.length; ++j) {
            require(feeds[j].code.length > 0, "Registry: feed is not a contract");
        }
        _feeds[asset] = feeds;
        emit PriceFeedsSet(asset, feeds);
    }

    function setPriceBand(uint16 toleranceBps, uint32 maxFeedAge_) external onlyOwner {
        _setPriceBand(toleranceBps, maxFeedAge_);
    }

    function _setPriceBand(uint16 toleranceBps, uint32 maxFeedAge_) private {
        require(toleranceBps <= BPS, "Registry: tolerance above 100%");
        priceToleranceBps = toleranceBps;
        maxFeedAge = maxFeedAge_;
        emit PriceBandSet(toleranceBps, maxFeedAge_);
    }

    // ------------------------------------------------------------------ submission

    /// Verify and record one epoch's attestation. Checks run before any write.
    function submitAttestation(Submission calldata s) external {
        require(isOperator[msg.sender], "Registry: caller is not an operator");
        require(!hasAttestation || s.epoch > latestEpoch, "Registry: epoch must increase");
        uint256 nA = numAssets;
        require(s.batches.length > 0, "Registry: no batches");
        require(s.prices.length == nA, "Registry: wrong number of prices");
        _checkPrices(s.prices);

        uint256[] memory key = Groth16.loadKey(verifyingKey);
        // The epoch, params commitment and prices are the same public signals in every batch of the
        // epoch: their share of vk_x is computed once (A + 2 scalar multiplications saved per extra batch).
        uint256[2] memory shared = Groth16.initAcc(key);
        Groth16.mulAcc(key, shared, L.EPOCH, s.epoch);
        Groth16.mulAcc(key, shared, L.PARAMS_COMMITMENT, s.paramsCommitment);
        for (uint256 i = 0; i < nA; ++i) {
            Groth16.mulAcc(key, shared, L.PRICES + i, s.prices[i]);
        }

        uint256 nB = s.batches.length;
        uint256[] memory liab = new uint256[](nA);
        uint256[3] memory sums; // equity, mm, accounts
        bytes32[] memory roots = new bytes32[](nB);
        for (uint256 b = 0; b < nB; ++b) {
            Batch calldata bt = s.batches[b];
            if (b > 0) {
                require(s.batches[b - 1].lastIdHash < bt.firstIdHash, "Registry: batch id ranges overlap");
            }
            _verifyBatch(key, shared, bt, liab);
            sums[0] += bt.totalEquity;
            sums[1] += bt.totalMM;
            sums[2] += bt.accountCount;
            roots[b] = bytes32(bt.batchRoot);
            emit BatchAttested(
                s.epoch, b, bt.batchRoot, bt.firstIdHash, bt.lastIdHash, bt.accountCount, bt.totalEquity, bt.totalMM
            );
        }
        _store(s, roots, sums, liab);
    }

    function _verifyBatch(
        uint256[] memory key,
        uint256[2] memory shared,
        Batch calldata bt,
        uint256[] memory liab
    ) private view {
        uint256 nA = liab.length;
        require(bt.liabilities.length == nA, "Registry: wrong number of liabilities");
        require(bt.firstIdHash <= bt.lastIdHash, "Registry: batch id range reversed");
        uint256[2] memory acc = [shared[0], shared[1]];
        Groth16.mulAcc(key, acc, L.BATCH_ROOT, bt.batchRoot);
        Groth16.mulAcc(key, acc, L.FIRST_ID_HASH, bt.firstIdHash);
        Groth16.mulAcc(key, acc, L.LAST_ID_HASH, bt.lastIdHash);
        Groth16.mulAcc(key, acc, L.ACCOUNT_COUNT, bt.accountCount);
        Groth16.mulAcc(key, acc, L.TOTAL_EQUITY, bt.totalEquity);
        Groth16.mulAcc(key, acc, L.TOTAL_MM, bt.totalMM);
        uint256 base = L.liabilities(nA);
        for (uint256 i = 0; i < nA; ++i) {
            Groth16.mulAcc(key, acc, base + i, bt.liabilities[i]);
            liab[i] += bt.liabilities[i];
        }
        Groth16.checkPairing(key, bt.proof, acc);
    }

    function _store(Submission calldata s, bytes32[] memory roots, uint256[3] memory sums, uint256[] memory liab)
        private
    {
        require(sums[0] <= type(uint128).max && sums[1] <= type(uint128).max, "Registry: total exceeds uint128");
        require(sums[2] <= type(uint64).max, "Registry: account count exceeds uint64");
        bytes32 rootsHash;
        assembly ("memory-safe") {
            rootsHash := keccak256(add(roots, 32), mul(mload(roots), 32))
        }
        uint64 epoch = s.epoch;
        _records[epoch] = Record({
            epoch: epoch,
            timestamp: uint64(block.timestamp),
            accountCount: uint64(sums[2]),
            batchCount: uint32(roots.length),
            batchRootsHash: rootsHash,
            paramsCommitment: s.paramsCommitment,
            totalEquity: uint128(sums[0]),
            totalMM: uint128(sums[1])
        });
        uint256 nA = liab.length;
        uint256 half = (nA + 1) / 2;
        mapping(uint256 => uint256) storage packed = _packed[epoch];
        for (uint256 w = 0; w < half; ++w) {
            // prices are < 2^128 (checked against the band); liabilities are checked here
            uint256 j = 2 * w;
            uint256 hiP = j + 1 < nA ? s.prices[j + 1] : 0;
            packed[w] = (hiP << 128) | s.prices[j];
            uint256 hiL = j + 1 < nA ? liab[j + 1] : 0;
            require(liab[j] <= type(uint128).max && hiL <= type(uint128).max, "Registry: total exceeds uint128");
            packed[half + w] = (hiL << 128) | liab[j];
        }
        latestEpoch = epoch;
        hasAttestation = true;
        emit AttestationSubmitted(epoch, rootsHash, s.paramsCommitment, sums[0], sums[1], uint64(sums[2]), s.prices, liab);
    }

    // ------------------------------------------------------------------ prices

    function _checkPrices(uint256[] calldata prices) private view {
        uint256 tol = priceToleranceBps;
        uint256 maxAge = maxFeedAge;
        for (uint256 i = 0; i < prices.length; ++i) {
            address[] storage feeds = _feeds[i];
            uint256 n = feeds.length;
            require(n > 0, "Registry: no price feed for asset");
            uint256 lo = type(uint256).max;
            uint256 hi = 0;
            for (uint256 j = 0; j < n; ++j) {
                uint256 v = _readFeed(feeds[j], maxAge);
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
            uint256 p = prices[i];
            require(
                p <= type(uint128).max && p * BPS >= lo * (BPS - tol) && p * BPS <= hi * (BPS + tol),
                "Registry: price outside oracle band"
            );
        }
    }

    /// A feed's latest answer rescaled to `priceDecimals`, or revert if it is stale or nonsensical.
    function _readFeed(address feed, uint256 maxAge) private view returns (uint256 v) {
        (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) =
            AggregatorV3Interface(feed).latestRoundData();
        require(answer > 0 && uint256(answer) <= type(uint128).max, "Registry: bad price feed answer");
        require(
            updatedAt != 0 && updatedAt <= block.timestamp && answeredInRound >= roundId,
            "Registry: incomplete price feed round"
        );
        require(block.timestamp - updatedAt <= maxAge, "Registry: stale price feed");
        uint8 d = AggregatorV3Interface(feed).decimals();
        uint8 pd = priceDecimals;
        require(d <= 36, "Registry: bad price feed decimals");
        v = uint256(answer);
        if (d < pd) v *= 10 ** (pd - d);
        else if (d > pd) v /= 10 ** (d - pd);
    }

    // ------------------------------------------------------------------ views

    function priceFeeds(uint256 asset) external view returns (address[] memory) {
        return _feeds[asset];
    }

    /// The most recent attestation; reverts if there is none.
    function latestAttestation() external view returns (Attestation memory) {
        require(hasAttestation, "Registry: no attestation yet");
        return _attestation(latestEpoch);
    }

    /// The attestation of `epoch`; reverts if that epoch was never attested.
    function attestationOf(uint64 epoch) external view returns (Attestation memory) {
        return _attestation(epoch);
    }

    /// Whether the latest attestation shows total equity >= total maintenance margin, for how many accounts.
    function isSolvent() external view returns (bool solvent, uint64 epoch, uint64 accountCount) {
        if (!hasAttestation) return (false, 0, 0);
        Record storage r = _records[latestEpoch];
        return (r.totalEquity >= r.totalMM, r.epoch, r.accountCount);
    }

    /// Whether the latest attestation is at most `maxAge` seconds old.
    function isFresh(uint256 maxAge) public view returns (bool) {
        return hasAttestation && block.timestamp - _records[latestEpoch].timestamp <= maxAge;
    }

    /// Solvent and fresh: the single check a lending protocol wants.
    function isSolventAndFresh(uint256 maxAge) external view returns (bool) {
        if (!isFresh(maxAge)) return false;
        Record storage r = _records[latestEpoch];
        return r.totalEquity >= r.totalMM;
    }

    /// Totals of the latest attestation (zeros if none).
    function totals() external view returns (uint64 epoch, uint256 totalEquity, uint256 totalMM, uint64 accountCount) {
        if (!hasAttestation) return (0, 0, 0, 0);
        Record storage r = _records[latestEpoch];
        return (r.epoch, r.totalEquity, r.totalMM, r.accountCount);
    }

    function _attestation(uint64 epoch) private view returns (Attestation memory a) {
        Record storage r = _records[epoch];
        require(r.timestamp != 0, "Registry: epoch not attested");
        uint256 nA = numAssets;
        uint256 half = (nA + 1) / 2;
        a.epoch = r.epoch;
        a.timestamp = r.timestamp;
        a.accountCount = r.accountCount;
        a.batchCount = r.batchCount;
        a.batchRootsHash = r.batchRootsHash;
        a.paramsCommitment = r.paramsCommitment;
        a.totalEquity = r.totalEquity;
        a.totalMM = r.totalMM;
        a.prices = new uint256[](nA);
        a.liabilities = new uint256[](nA);
        mapping(uint256 => uint256) storage packed = _packed[epoch];
        for (uint256 i = 0; i < nA; ++i) {
            uint256 shift = (i % 2) * 128;
            a.prices[i] = uint128(packed[i / 2] >> shift);
            a.liabilities[i] = uint128(packed[half + i / 2] >> shift);
        }
    }
}

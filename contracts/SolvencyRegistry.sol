// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AttestationLayout as L} from "./AttestationLayout.sol";
import {BatchTree} from "./BatchTree.sol";
import {FeedMedian} from "./FeedMedian.sol";
import {Groth16BatchVerifier} from "./Groth16BatchVerifier.sol";
import {IERC20Balance} from "./MockERC20.sol";

/// @title SolvencyRegistry: on-chain record of zkmargin epoch attestations.
/// @notice An operator submits an epoch's batches and their Groth16 proofs, in one transaction or over several
/// (openEpoch, addBatches, finalizeEpoch). The registry rebuilds every batch's public signals itself from the
/// submitted fields (so a proof is about exactly these values), requires the governed risk-parameter commitment,
/// verifies every proof of a call against the pinned key in one multi-pairing (through the immutable
/// Groth16BatchVerifier: plain Groth16, or Groth16 with one commitment per proof in its own pairing slot when the
/// pinned key is a committed one, the challenge derived on-chain), checks the batches cover disjoint id ranges and
/// add up to the declared account count, binds the proof's prices to the median of on-chain AggregatorV3 feeds (read
/// through the immutable, stateless FeedMedian), and only then records the epoch. Nothing of an epoch is readable
/// before it is finalized.
///
/// Live view: isSolvent() reads the feeds at call time and is true only while the latest attestation holds now: not
/// revoked, bad debt covered by the insurance fund, unrepresented accounts within tolerance, younger than
/// maxAttestationAge, and every boxed asset's feed median inside the price box its parameter commitment was proven
/// for (boxPpm, boxAssets: governed with the commitment, stored once per commitment). liveStatus() says why not.
///
/// Roles: `governance` (parameters, key, feeds, price band, operators, insurance fund, revocation,
/// pause) is never an operator; operators only submit. Parameters and key change through a timelock
/// once anything has been attested. Everything that goes wrong reverts with a reason string.
contract SolvencyRegistry {
    /// What the operator declares when it opens (or submits in one transaction) an epoch: the fields every batch
    /// shares, the coverage, and how many batches will follow.
    ///
    /// Batches travel as flat words (calldata kept tight: no per-batch offsets, the shared signals once). Per batch,
    /// in this order: batchRoot, firstIdHash, lastIdHash, accountCount, totalEquity, totalMM, underMMCount,
    /// totalShortfall, totalBadDebt, liabilities[A] (its own public signals, in the layout's order), then the proof
    /// A.x A.y B.x1 B.x0 B.y1 B.y0 C.x C.y, then, under a committed key, its commitment D.x D.y.
    struct EpochHeader {
        uint64 epoch;
        uint256 paramsCommitment;
        uint256 marketCommitment;
        uint256[] prices;
        uint64 declaredAccounts; // every account of the venue
        uint64 unrepresentedAccounts; // accounts the circuit cannot represent (declared, never silent)
        uint32 batchCount; // batches the epoch will have (finalize refuses fewer, add refuses more)
    }

    /// An epoch under construction (in memory for a one-transaction submission, in storage while open).
    struct Acc {
        address operator; // who opened it: only it adds and finalizes
        uint64 openedAt;
        uint32 batchCount;
        uint32 added;
        uint64 epoch;
        uint64 declaredAccounts;
        uint64 unrepresentedAccounts;
        bytes32 keyHash; // the key every batch of the epoch was verified against
        uint256 paramsCommitment;
        uint256 marketCommitment;
        uint256 lastIdHash; // of the last batch added: the next must start above it
        bytes32 leafBody; // batch tree: the last added batch's leaf body (its leaf closes when the next batch gives hi)
        bytes32 root; // batch tree root (set at finalize)
        uint256[6] sums; // accounts, equity, mm, under-MM count, shortfall, bad debt
        uint256[] prices;
        uint256[] liabilities; // per asset, summed so far
        bytes32[16] frontier; // batch tree: the left nodes of the leaves closed so far, one per level
    }

    /// What a reader gets back for one epoch.
    struct Attestation {
        uint64 epoch;
        uint64 timestamp;
        uint64 accountCount; // sum of the batches' account counts (accounts covered by proofs)
        uint32 batchCount; // slots of the batch tree (a full epoch: its batches; an update: the slots it carries)
        bool revoked;
        uint64 declaredAccounts;
        uint64 unrepresentedAccounts;
        uint64 underMMCount;
        bytes32 batchTreeRoot; // root of the batch tree over every slot's leaf (contracts/BatchTree.sol)
        uint256 paramsCommitment;
        uint256 marketCommitment;
        uint256 totalEquity;
        uint256 totalMM;
        uint256 totalShortfall;
        uint256 totalBadDebt;
        uint256[] prices;
        uint256[] liabilities; // per asset, summed over the batches
    }

    /// Everything a protocol needs to apply its own threshold to the latest attestation.
    struct Status {
        bool hasAttestation;
        uint64 epoch;
        uint64 timestamp;
        uint64 accountCount;
        uint64 declaredAccounts;
        uint64 unrepresentedAccounts;
        uint64 underMMCount;
        uint256 totalShortfall;
        uint256 totalBadDebt;
        uint256 insuranceFundValue; // micro-USD, read now
        bool revoked;
        bool developmentMode;
        uint32 maxUnrepresentedPpm; // the governed tolerance isSolvent() applies
    }

    /// Stored record: 7 slots, plus ceil(A/2) slots each for prices and liabilities.
    struct Record {
        uint64 epoch;
        uint64 timestamp;
        uint64 accountCount;
        uint32 batchCount;
        bool revoked;
        uint64 declaredAccounts;
        uint64 unrepresentedAccounts;
        uint64 underMMCount;
        bytes32 batchTreeRoot;
        uint256 paramsCommitment;
        uint256 marketCommitment;
        uint128 totalEquity;
        uint128 totalMM;
        uint128 totalShortfall;
        uint128 totalBadDebt;
    }

    /// A timelocked parameter change.
    struct PendingParams {
        uint256 commitment;
        uint256 version;
        bytes32 docHash;
        bool tightening;
        uint64 activatesAt; // 0: nothing pending
        uint32 boxPpm;
        uint64 boxAssets;
    }

    /// Cap on the price tolerance around the feeds' median.
    uint16 public constant MAX_TOLERANCE_BPS = 500;
    /// Cap on the number of feeds per asset (the median is sorted on-chain).
    uint256 public constant MAX_FEEDS_PER_ASSET = 9;
    /// Bounds on the timelock delays, checked at deployment.
    uint32 public constant MIN_TIGHTEN_DELAY = 1 hours;
    uint32 public constant MIN_LOOSEN_DELAY = 1 days;
    uint32 public constant MAX_DELAY = 90 days;
    /// Bound on the feeds' maximum answer age.
    uint32 public constant MAX_FEED_AGE_CAP = 1 days;
    /// Bound on the governed maximum attestation age of the live view.
    uint32 private constant MAX_ATTESTATION_AGE_CAP = 30 days;
    /// Bound on the price box's half-width (ppm of the attested price): circuits/rules/price_box_document.py MAX_BOX_PPM.
    uint32 private constant MAX_BOX_PPM = 500_000;
    /// Live-view reason codes (liveStatus(); docs/contracts.md, "Live view"). 0: solvent now.
    uint8 private constant NO_ATTESTATION = 1;
    uint8 private constant REVOKED = 2;
    uint8 private constant BAD_DEBT_UNCOVERED = 3;
    uint8 private constant UNREPRESENTED = 4;
    uint8 private constant TOO_OLD = 5;
    uint8 private constant FEED_BROKEN = 6;
    uint8 private constant OUTSIDE_BOX = 7;
    /// The engine's fixed-point USD scale (micro-USD): insurance-fund balances are converted to it.
    uint8 public constant USD_DECIMALS = 6;

    /// Number of assets A in the proof layout (a circuit-shape parameter).
    uint256 public immutable numAssets;
    /// Fixed-point decimals of the prices in the proofs; feed answers are rescaled to these.
    uint8 public immutable priceDecimals;
    /// Delay of a parameter change flagged as tightening (checked off-chain by the audit).
    uint32 public immutable tightenDelay;
    /// Delay of any other parameter change and of every verifying-key change.
    uint32 public immutable loosenDelay;
    /// True when the key comes from a development (single-party) setup: its creator can forge proofs.
    bool public immutable developmentMode;
    /// The stateless contract every proof is verified by (pinned for the registry's lifetime).
    Groth16BatchVerifier public immutable batchVerifier;
    /// The stateless contract every feed median is read through (pinned for the registry's lifetime).
    FeedMedian public immutable feedMedian;
    /// The stateless contract an update epoch's ops are applied through (pinned for the registry's lifetime).
    BatchTree public immutable batchTree;
    /// Public signals every batch of an epoch shares (epoch, params and market commitments, prices), as a bitmask.
    uint256 private immutable _sharedMask;
    uint256 private constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// Key blob words beyond a plain key's for a committed key (the challenge's IC point, [eta]_2).
    uint256 private constant COMMITTED_EXTRA_WORDS = 6;

    address public governance;
    address public pendingGovernance;
    /// Before the first attestation: the first epoch minus one (set at deployment); then the latest attested epoch.
    uint64 public latestEpoch;
    uint64 private constant MAX_FIRST_EPOCH = 1 << 48;
    uint256 private constant PPM = 1_000_000;
    /// isSolvent() is false when more than this share (ppm of the declared accounts) is in no proof.
    uint32 public maxUnrepresentedPpm;
    bool public hasAttestation;
    bool public paused;
    /// Half-width of the band around the feeds' median, in basis points (<= MAX_TOLERANCE_BPS).
    uint16 public priceToleranceBps;
    /// Maximum age of a feed answer (at submission and in the live view), in seconds.
    uint32 public maxFeedAge;
    /// isSolvent() is false once the latest attestation is older than this (seconds; default 1 day).
    uint32 public maxAttestationAge;

    /// Data contract holding the active verifying key blob (see Groth16).
    address public verifyingKey;
    /// keccak256 of the active key blob (zkmargin.verifier.chain.verifying_key_hash computes the same); it
    /// covers a committed key's [eta]_2, and the kind (plain or committed) follows from the blob.
    bytes32 public verifyingKeyHash;
    /// True when the active key is a committed (commitment-slot) key: submissions then state committed, each batch with D.
    bool public verifyingKeyCommitted;
    address private _pendingKey;
    uint64 private _pendingKeyAt;
    bool private _pendingKeyCommitted;
    bytes32 private _pendingKeyHash;

    /// The governed risk-parameter set every submission must prove against.
    uint256 public paramsCommitment;
    uint256 public paramsVersion;
    bytes32 public paramsDocHash; // sha256 of the published parameter document
    PendingParams private _pendingParams;
    /// The price box each parameter commitment was declared with: bit 255 set | boxAssets << 32 | boxPpm. Written
    /// once per commitment (the circuit commits the box inside it, so one commitment has one box).
    mapping(uint256 => uint256) private _box;

    /// Insurance fund: an ERC-20 stablecoin (1 token = 1 USD) held by `insuranceHolder`.
    address public insuranceToken;
    address public insuranceHolder;
    uint8 public insuranceTokenDecimals;

    mapping(address => bool) public isOperator;
    mapping(uint256 => address[]) private _feeds;
    mapping(uint64 => Record) private _records;
    /// The key hash the latest full epoch (the base of the current batch tree) was verified with: an update epoch
    /// carries proofs verified under it, so it requires the active key to be this one. Zero after any revocation
    /// (the tree ends: the next submission is a full epoch).
    bytes32 private _treeKeyHash;
    /// Per epoch: prices then liabilities, two uint128 per word.
    mapping(uint64 => mapping(uint256 => uint256)) private _packed;
    /// The epoch being built over several transactions (operator 0: none), never readable as an attestation. Never
    /// used as an array: the open Acc is stored word by word from keccak256(its slot) (_save / _load: the generated
    /// struct copies cost ~1.6 kB of the EIP-170 budget): Acc's 13 scalar fields, sums[6], frontier[16], prices[A],
    /// liabilities[A].
    uint256[] private _openArea;
    uint256 private constant OPEN_OPERATOR = 0;
    uint256 private constant OPEN_OPENED_AT = 1;
    uint256 private constant OPEN_BATCH_COUNT = 2;
    uint256 private constant OPEN_ADDED = 3;
    uint256 private constant OPEN_EPOCH = 4;

    event GovernanceProposed(address indexed current, address indexed proposed);
    event GovernanceTransferred(address indexed previous, address indexed current);
    event OperatorSet(address indexed operator, bool enabled);
    event VerifyingKeyProposed(address indexed keyPointer, bytes32 keyHash, uint256 nPublic, uint64 activatesAt);
    event VerifyingKeyProposalCancelled(bytes32 keyHash);
    event VerifyingKeyChanged(address indexed keyPointer, bytes32 keyHash, uint256 nPublic);
    event ParamsProposed(
        uint256 commitment,
        uint256 version,
        bytes32 docHash,
        uint32 boxPpm,
        uint64 boxAssets,
        bool tightening,
        uint64 activatesAt
    );
    event ParamsProposalCancelled(uint256 commitment, uint256 version);
    event ParamsActivated(uint256 commitment, uint256 version, bytes32 docHash);
    event PriceFeedsSet(uint256 indexed asset, address[] feeds);
    event PriceBandSet(uint16 toleranceBps, uint32 maxFeedAge);
    event MaxUnrepresentedSet(uint32 ppm);
    event MaxAttestationAgeSet(uint32 maxAge);
    event InsuranceFundSet(address indexed token, address indexed holder, uint8 decimals);
    event Paused(bool paused);
    event AttestationRevoked(uint64 indexed epoch, string reason);
    /// totals = [accountCount, totalEquity, totalMM, underMMCount, totalShortfall, totalBadDebt]
    event AttestationSubmitted(
        uint64 indexed epoch,
        bytes32 batchTreeRoot,
        uint256 paramsCommitment,
        uint256 marketCommitment,
        uint256[6] totals,
        uint64 declaredAccounts,
        uint64 unrepresentedAccounts,
        uint256[] prices,
        uint256[] liabilities
    );
    event EpochOpened(uint64 indexed epoch, address indexed operator, uint32 batchCount);
    event EpochAbandoned(uint64 indexed epoch, address indexed by, uint32 batchesAdded);
    /// One per addBatches (or submitAttestation): batches [fromIndex, fromIndex + count) were verified and added;
    /// leafBody is the last of them's batch-tree leaf body, keccak256(lo, epoch, its own words). The statements
    /// themselves are in the transaction's input and in the operator's bundle (a reader recomputes the tree from the
    /// bundle): no per-batch event, which cost ~4.6k gas a batch.
    event BatchesAdded(uint64 indexed epoch, uint32 fromIndex, uint32 count, bytes32 leafBody);

    modifier onlyGovernance() {
        require(msg.sender == governance, "Registry: caller is not governance");
        _;
    }

    constructor(
        uint256 numAssets_,
        uint8 priceDecimals_,
        uint16 toleranceBps,
        uint32 maxFeedAge_,
        uint32 tightenDelay_,
        uint32 loosenDelay_,
        bool developmentMode_,
        address governance_,
        uint64 firstEpoch_,
        Groth16BatchVerifier batchVerifier_,
        FeedMedian feedMedian_,
        BatchTree batchTree_
    ) {
        require(numAssets_ >= 1 && numAssets_ <= 64, "Registry: bad asset count");
        require(priceDecimals_ <= 36, "Registry: bad price decimals");
        require(
            tightenDelay_ >= MIN_TIGHTEN_DELAY && loosenDelay_ >= MIN_LOOSEN_DELAY && tightenDelay_ <= loosenDelay_
                && loosenDelay_ <= MAX_DELAY,
            "Registry: bad timelock delays"
        );
        require(governance_ != address(0), "Registry: governance is the zero address");
        require(address(batchVerifier_).code.length > 0, "Registry: batch verifier is not a contract");
        require(address(feedMedian_).code.length > 0, "Registry: median not a contract");
        require(address(batchTree_).code.length > 0, "Registry: tree not a contract");
        // a registry may continue an operator's existing epoch numbering, but never from a value that could bring
        // the counter near its end (the "epoch 2^64 - 1" brick): epochs then advance by exactly one
        require(firstEpoch_ >= 1 && firstEpoch_ <= MAX_FIRST_EPOCH, "Registry: bad first epoch");
        latestEpoch = firstEpoch_ - 1;
        numAssets = numAssets_;
        priceDecimals = priceDecimals_;
        tightenDelay = tightenDelay_;
        loosenDelay = loosenDelay_;
        developmentMode = developmentMode_;
        governance = governance_;
        batchVerifier = batchVerifier_;
        feedMedian = feedMedian_;
        batchTree = batchTree_;
        maxAttestationAge = 1 days;
        uint256 mask = (1 << L.EPOCH) | (1 << L.PARAMS_COMMITMENT) | (1 << L.MARKET_COMMITMENT);
        for (uint256 i = 0; i < numAssets_; ++i) {
            mask |= 1 << (L.PRICES + i);
        }
        _sharedMask = mask;
        emit GovernanceTransferred(address(0), governance_);
        _setPriceBand(toleranceBps, maxFeedAge_);
    }

    // ------------------------------------------------------------------ roles

    /// Step 1 of a governance transfer; never to an operator.
    function proposeGovernance(address newGovernance) external onlyGovernance {
        require(newGovernance != address(0), "Registry: governance is the zero address");
        require(!isOperator[newGovernance], "Registry: governance cannot be an operator");
        pendingGovernance = newGovernance;
        emit GovernanceProposed(governance, newGovernance);
    }

    /// Step 2: the proposed address accepts (re-checked: it may have become an operator meanwhile).
    function acceptGovernance() external {
        require(msg.sender == pendingGovernance && msg.sender != address(0), "Registry: caller is not pending governance");
        require(!isOperator[msg.sender], "Registry: governance cannot be an operator");
        emit GovernanceTransferred(governance, msg.sender);
        governance = msg.sender;
        pendingGovernance = address(0);
    }

    function setOperator(address operator, bool enabled) external onlyGovernance {
        require(operator != address(0), "Registry: operator is the zero address");
        require(
            !enabled || (operator != governance && operator != pendingGovernance),
            "Registry: governance cannot be an operator"
        );
        isOperator[operator] = enabled;
        emit OperatorSet(operator, enabled);
    }

    function pause() external onlyGovernance {
        paused = true;
        emit Paused(true);
    }

    function unpause() external onlyGovernance {
        paused = false;
        emit Paused(false);
    }

    // ------------------------------------------------------------------ bootstrap (no attestation yet)

    /// Initial verifying key, without delay, allowed only while nothing has been attested: no record
    /// can be reinterpreted by it and no protocol can yet rely on the registry.
    function setInitialVerifyingKey(bytes calldata key) external onlyGovernance {
        require(!hasAttestation, "Registry: attested, use the timelock");
        (address ptr, uint256 n, bool committed) = _storeKey(key);
        _activateKey(ptr, keccak256(key), n, committed);
    }

    /// Initial parameter set and its price box, without delay, under the same condition as the initial key.
    function setInitialParams(uint256 commitment, uint256 version, bytes32 docHash, uint32 boxPpm, uint64 boxAssets)
        external
        onlyGovernance
    {
        require(!hasAttestation, "Registry: attested, use the timelock");
        _checkParams(commitment, version, docHash, boxPpm, boxAssets);
        _activateParams(commitment, version, docHash, boxPpm, boxAssets);
    }

    // ------------------------------------------------------------------ timelocked parameters

    /// Propose a new parameter set with its price box; it activates after `tightenDelay` when flagged tightening
    /// (the audit checks off-chain that the margin parameters really are tighter), else after `loosenDelay`. The box
    /// part of the claim is checked here: a tightening keeps the boxed assets and does not widen the box (a wider box,
    /// or another set of boxed assets, lets the live view say "solvent" at prices it did not before: a loosening).
    /// Replaces any pending proposal.
    function proposeParams(
        uint256 commitment,
        uint256 version,
        bytes32 docHash,
        uint32 boxPpm,
        uint64 boxAssets,
        bool tightening
    ) external onlyGovernance {
        _checkParams(commitment, version, docHash, boxPpm, boxAssets);
        if (tightening) {
            uint256 cur = _box[paramsCommitment];
            require(
                boxAssets == uint64(cur >> 32) && boxPpm <= uint32(cur), "Registry: box not tightening"
            );
        }
        uint64 at = uint64(block.timestamp) + (tightening ? tightenDelay : loosenDelay);
        _pendingParams = PendingParams(commitment, version, docHash, tightening, at, boxPpm, boxAssets);
        emit ParamsProposed(commitment, version, docHash, boxPpm, boxAssets, tightening, at);
    }

    function activateParams() external onlyGovernance {
        PendingParams memory p = _pendingParams;
        require(p.activatesAt != 0, "Registry: no pending params");
        require(block.timestamp >= p.activatesAt, "Registry: timelock not expired");
        require(p.version > paramsVersion, "Registry: params version must increase");
        delete _pendingParams;
        _activateParams(p.commitment, p.version, p.docHash, p.boxPpm, p.boxAssets);
    }

    function cancelParams() external onlyGovernance {
        PendingParams memory p = _pendingParams;
        require(p.activatesAt != 0, "Registry: no pending params");
        delete _pendingParams;
        emit ParamsProposalCancelled(p.commitment, p.version);
    }

    /// The pending parameter change (activatesAt 0: none) and its box.
    function pendingParams() external view returns (PendingParams memory) {
        return _pendingParams;
    }

    /// The price box `commitment` was declared with ((0, 0) for a point attestation or a commitment never declared).
    /// The live view applies the box of the latest attestation's commitment; the governed one is
    /// boxOf(paramsCommitment()).
    function boxOf(uint256 commitment) external view returns (uint32 boxPpm, uint64 boxAssets) {
        uint256 b = _box[commitment];
        return (uint32(b), uint64(b >> 32));
    }

    function _checkParams(uint256 commitment, uint256 version, bytes32 docHash, uint32 boxPpm, uint64 boxAssets)
        private
        view
    {
        require(commitment != 0 && commitment < R, "Registry: bad params commitment");
        require(docHash != bytes32(0), "Registry: missing params document hash");
        require(version > paramsVersion, "Registry: params version must increase");
        // a point attestation (boxPpm 0) boxes no asset; boxed assets are asset indices < numAssets
        require(
            boxPpm <= MAX_BOX_PPM && (boxPpm != 0 || boxAssets == 0) && (uint256(boxAssets) >> numAssets) == 0,
            "Registry: bad price box"
        );
        uint256 prev = _box[commitment];
        require(
            prev == 0 || prev == (1 << 255) | (uint256(boxAssets) << 32) | boxPpm,
            "Registry: box differs"
        );
    }

    function _activateParams(uint256 commitment, uint256 version, bytes32 docHash, uint32 boxPpm, uint64 boxAssets)
        private
    {
        paramsCommitment = commitment;
        paramsVersion = version;
        paramsDocHash = docHash;
        _box[commitment] = (1 << 255) | (uint256(boxAssets) << 32) | boxPpm;
        emit ParamsActivated(commitment, version, docHash);
    }

    // ------------------------------------------------------------------ timelocked verifying key

    /// Propose a key (blob layout in Groth16 or, for a committed key, Groth16Committed), validated on-chain now
    /// (coordinates, curve, G2 subgroup, input count); it can be activated after `loosenDelay`. Replaces any
    /// pending proposal. A change between a plain and a committed key goes through the same timelock.
    function proposeVerifyingKey(bytes calldata key) external onlyGovernance {
        (address ptr, uint256 n, bool committed) = _storeKey(key);
        uint64 at = uint64(block.timestamp) + loosenDelay;
        bytes32 h = keccak256(key);
        _pendingKey = ptr;
        _pendingKeyHash = h;
        _pendingKeyAt = at;
        _pendingKeyCommitted = committed;
        emit VerifyingKeyProposed(ptr, h, n, at);
    }

    function activateVerifyingKey() external onlyGovernance {
        uint64 at = _pendingKeyAt;
        require(at != 0, "Registry: no pending verifying key");
        require(block.timestamp >= at, "Registry: timelock not expired");
        address ptr = _pendingKey;
        bytes32 h = _pendingKeyHash;
        bool committed = _pendingKeyCommitted;
        _pendingKey = address(0);
        _pendingKeyHash = bytes32(0);
        _pendingKeyAt = 0;
        _pendingKeyCommitted = false;
        _activateKey(ptr, h, L.nPublic(numAssets), committed);
    }

    function cancelVerifyingKey() external onlyGovernance {
        require(_pendingKeyAt != 0, "Registry: no pending verifying key");
        emit VerifyingKeyProposalCancelled(_pendingKeyHash);
        _pendingKey = address(0);
        _pendingKeyHash = bytes32(0);
        _pendingKeyAt = 0;
        _pendingKeyCommitted = false;
    }

    /// The pending key change (activatesAt 0: none).
    function pendingVerifyingKey() external view returns (address keyPointer, bytes32 keyHash, uint64 activatesAt) {
        return (_pendingKey, _pendingKeyHash, _pendingKeyAt);
    }

    /// Validate a key blob (through the batch verifier) and store it as the code of a data contract. The blob is
    /// committed exactly when it has a committed key's length for this layout's input count.
    function _storeKey(bytes calldata key) private returns (address ptr, uint256 n, bool committed) {
        uint256 nPub = L.nPublic(numAssets);
        committed = key.length == 32 * (14 + 2 * (nPub + 1) + COMMITTED_EXTRA_WORDS);
        n = batchVerifier.checkKeyBlob(key, committed);
        require(n == nPub, "Registry: key has wrong public input count");
        // Init code: PUSH2 len; DUP1; PUSH1 12; PUSH1 0; CODECOPY; PUSH1 0; RETURN, then a STOP byte
        // (so the data contract cannot be called into) followed by the key.
        bytes memory init = abi.encodePacked(hex"61", uint16(key.length + 1), hex"80600c6000396000f300", key);
        assembly ("memory-safe") {
            ptr := create(0, add(init, 32), mload(init))
        }
        require(ptr != address(0), "Registry: key store failed");
    }

    function _activateKey(address ptr, bytes32 h, uint256 n, bool committed) private {
        verifyingKey = ptr;
        verifyingKeyHash = h;
        verifyingKeyCommitted = committed;
        emit VerifyingKeyChanged(ptr, h, n);
    }

    // ------------------------------------------------------------------ feeds, band, insurance fund

    /// Feeds for one asset: the reference price is the median of their answers.
    function setPriceFeeds(uint256 asset, address[] calldata feeds) external onlyGovernance {
        require(asset < numAssets, "Registry: asset out of range");
        require(feeds.length > 0 && feeds.length <= MAX_FEEDS_PER_ASSET, "Registry: bad feed count");
        address[] storage list = _feeds[asset];
        while (list.length > 0) list.pop();
        for (uint256 j = 0; j < feeds.length; ++j) {
            require(feeds[j].code.length > 0, "Registry: feed is not a contract");
            list.push(feeds[j]);
        }
        emit PriceFeedsSet(asset, feeds);
    }

    function setPriceBand(uint16 toleranceBps, uint32 maxFeedAge_) external onlyGovernance {
        _setPriceBand(toleranceBps, maxFeedAge_);
    }

    function _setPriceBand(uint16 toleranceBps, uint32 maxFeedAge_) private {
        require(toleranceBps <= MAX_TOLERANCE_BPS, "Registry: tolerance above cap");
        require(maxFeedAge_ > 0 && maxFeedAge_ <= MAX_FEED_AGE_CAP, "Registry: bad max feed age");
        priceToleranceBps = toleranceBps;
        maxFeedAge = maxFeedAge_;
        emit PriceBandSet(toleranceBps, maxFeedAge_);
    }

    /// The insurance fund: `holder`'s balance of the stablecoin `token`, counted at 1 USD per token.
    /// Governed tolerance for accounts in no proof, in ppm of the declared accounts (default 0). Their shortfall and
    /// bad debt are unknown, so an operator could otherwise hide insolvent accounts as "unrepresented".
    function setMaxUnrepresentedPpm(uint32 ppm) external onlyGovernance {
        require(ppm <= PPM, "Registry: ppm above 100%");
        maxUnrepresentedPpm = ppm;
        emit MaxUnrepresentedSet(ppm);
    }

    /// Governed maximum age of the latest attestation for the live view (isSolvent() false beyond it).
    function setMaxAttestationAge(uint32 maxAge) external onlyGovernance {
        require(maxAge > 0 && maxAge <= MAX_ATTESTATION_AGE_CAP, "Registry: bad attestation age");
        maxAttestationAge = maxAge;
        emit MaxAttestationAgeSet(maxAge);
    }

    function setInsuranceFund(address token, address holder) external onlyGovernance {
        require(token.code.length > 0, "Registry: token is not a contract");
        require(holder != address(0), "Registry: holder is the zero address");
        uint8 d = IERC20Balance(token).decimals();
        require(d <= 36, "Registry: bad token decimals");
        insuranceToken = token;
        insuranceHolder = holder;
        insuranceTokenDecimals = d;
        emit InsuranceFundSet(token, holder, d);
    }

    /// The insurance fund's current value in micro-USD (0 when unset or when the token does not answer).
    function insuranceFundValue() public view returns (uint256) {
        address token = insuranceToken;
        if (token == address(0)) return 0;
        try IERC20Balance(token).balanceOf(insuranceHolder) returns (uint256 bal) {
            uint8 d = insuranceTokenDecimals;
            if (d > USD_DECIMALS) return bal / 10 ** (d - USD_DECIMALS);
            // a balance this large is not a stablecoin balance: saturate instead of overflowing
            uint256 scale = 10 ** (USD_DECIMALS - d);
            return bal > type(uint256).max / scale ? type(uint256).max : bal * scale;
        } catch {
            return 0;
        }
    }

    // ------------------------------------------------------------------ recovery

    /// Mark an attestation revoked (it stays readable; nothing is deleted or overwritten). A revoked
    /// latest attestation makes isSolvent false until the next epoch is attested.
    function revokeAttestation(uint64 epoch, string calldata reason) external onlyGovernance {
        Record storage r = _records[epoch];
        require(r.timestamp != 0, "Registry: epoch not attested");
        require(!r.revoked, "Registry: already revoked");
        require(bytes(reason).length > 0, "Registry: revocation needs a reason");
        r.revoked = true;
        // every epoch of the current tree shares its centre and its carried leaves: any revocation ends the tree, the
        // next submission must be a full epoch (submitUpdate's key check fails; red team, session 7)
        delete _treeKeyHash;
        emit AttestationRevoked(epoch, reason);
    }

    // ------------------------------------------------------------------ submission

    /// Verify and record a whole epoch in one transaction: open, add every batch, finalize. `committed` states the
    /// proof kind (it must be the pinned key's: the word layout differs by the commitment D).
    function submitAttestation(EpochHeader calldata h, bool committed, uint256[] calldata words) external {
        _gateIdle();
        Acc memory a = _begin(h);
        _addBatches(a, committed, words);
        _finalize(a, true);
    }

    /// Open an epoch that batches will be added to over several transactions. Prices are checked against the
    /// feeds now; the epoch must be finalized within maxFeedAge of opening, by the same operator, or abandoned.
    /// Nothing of it is readable before finalizeEpoch.
    function openEpoch(EpochHeader calldata h) external {
        _gateIdle();
        Acc memory a = _begin(h);
        _save(a);
        emit EpochOpened(h.epoch, msg.sender, h.batchCount);
    }

    /// Add batches (flat words, layout in EpochHeader) to the open epoch; all of them are verified in one
    /// multi-pairing, their id ranges must continue the epoch's strictly increasing order.
    function addBatches(uint64 epoch, bool committed, uint256[] calldata words) external {
        Acc memory a = _opened(epoch);
        _addBatches(a, committed, words);
        _save(a);
    }

    /// Finalize the open epoch: every declared batch added, the counts add up, the key and parameters unchanged
    /// since it opened; then it is recorded and readable.
    function finalizeEpoch(uint64 epoch) external {
        Acc memory a = _opened(epoch);
        _clearOpen();
        _finalize(a, true);
    }

    /// Drop the open epoch (nothing of it was ever readable; the same epoch number can be opened again). Its
    /// operator may abandon it at any time, governance too, and any operator once it expired (maxFeedAge after
    /// opening), so an operator that walks away cannot block the registry.
    function abandonEpoch(uint64 epoch) external {
        address op = address(uint160(_openWord(OPEN_OPERATOR)));
        require(op != address(0) && _openWord(OPEN_EPOCH) == epoch, "Registry: epoch not open");
        bool expired = block.timestamp > _openWord(OPEN_OPENED_AT) + maxFeedAge;
        require(
            msg.sender == op || msg.sender == governance || (expired && isOperator[msg.sender]),
            "Registry: not allowed to abandon this epoch"
        );
        emit EpochAbandoned(epoch, msg.sender, uint32(_openWord(OPEN_ADDED)));
        _clearOpen();
    }

    /// The open epoch: (epoch, operator, batches declared, batches added, opened at); operator 0 when none.
    function openEpochState()
        external
        view
        returns (uint64 epoch, address operator, uint32 batchCount, uint32 added, uint64 openedAt)
    {
        return (
            uint64(_openWord(OPEN_EPOCH)),
            address(uint160(_openWord(OPEN_OPERATOR))),
            uint32(_openWord(OPEN_BATCH_COUNT)),
            uint32(_openWord(OPEN_ADDED)),
            uint64(_openWord(OPEN_OPENED_AT))
        );
    }

    function _openBase() private pure returns (uint256 base) {
        assembly ("memory-safe") {
            mstore(0, _openArea.slot)
            base := keccak256(0, 32)
        }
    }

    function _openWord(uint256 i) private view returns (uint256 v) {
        uint256 base = _openBase();
        assembly ("memory-safe") {
            v := sload(add(base, i))
        }
    }

    /// The open epoch's words: 13 scalars, sums, frontier, prices, liabilities (their length is numAssets).
    function _save(Acc memory a) private {
        uint256 base = _openBase();
        uint256 nA = numAssets;
        assembly ("memory-safe") {
            for { let i := 0 } lt(i, 13) { i := add(i, 1) } { sstore(add(base, i), mload(add(a, shl(5, i)))) }
            let p := mload(add(a, 0x1a0)) // sums
            for { let i := 0 } lt(i, 6) { i := add(i, 1) } { sstore(add(base, add(13, i)), mload(add(p, shl(5, i)))) }
            p := mload(add(a, 0x200)) // frontier, stored xor 1: its slots stay non-zero across epochs (2.9k a write)
            for { let i := 0 } lt(i, 16) { i := add(i, 1) } {
                sstore(add(base, add(19, i)), xor(mload(add(p, shl(5, i))), 1))
            }
            p := add(mload(add(a, 0x1c0)), 32) // prices
            let q := add(mload(add(a, 0x1e0)), 32) // liabilities
            for { let i := 0 } lt(i, nA) { i := add(i, 1) } {
                sstore(add(base, add(35, i)), mload(add(p, shl(5, i))))
                sstore(add(base, add(add(35, nA), i)), mload(add(q, shl(5, i))))
            }
        }
    }

    function _load() private view returns (Acc memory a) {
        uint256 base = _openBase();
        uint256 nA = numAssets;
        a.prices = new uint256[](nA);
        a.liabilities = new uint256[](nA);
        assembly ("memory-safe") {
            for { let i := 0 } lt(i, 13) { i := add(i, 1) } { mstore(add(a, shl(5, i)), sload(add(base, i))) }
            let p := mload(add(a, 0x1a0))
            for { let i := 0 } lt(i, 6) { i := add(i, 1) } { mstore(add(p, shl(5, i)), sload(add(base, add(13, i)))) }
            p := mload(add(a, 0x200))
            for { let i := 0 } lt(i, 16) { i := add(i, 1) } {
                mstore(add(p, shl(5, i)), xor(sload(add(base, add(19, i))), 1))
            }
            p := add(mload(add(a, 0x1c0)), 32)
            let q := add(mload(add(a, 0x1e0)), 32)
            for { let i := 0 } lt(i, nA) { i := add(i, 1) } {
                mstore(add(p, shl(5, i)), sload(add(base, add(35, i))))
                mstore(add(q, shl(5, i)), sload(add(base, add(add(35, nA), i))))
            }
        }
    }

    /// No epoch open: the 13 scalar words back to zero (operator 0). The sums, frontier, prices and liabilities stay
    /// as they are: the next openEpoch writes all of them, and leaving them non-zero saves that epoch the 20k gas of
    /// each slot set from zero (a frontier node is only ever read after this epoch wrote it).
    function _clearOpen() private {
        uint256 base = _openBase();
        assembly ("memory-safe") {
            for { let i := 0 } lt(i, 13) { i := add(i, 1) } { sstore(add(base, i), 0) }
        }
    }

    /// Record an update epoch (latest + 1, incremental epochs, docs/statement.md): `words` are the new batches
    /// (layout in EpochHeader), all verified in one multi-pairing with the latest attestation's params, market
    /// commitment and prices (its box centre) as shared inputs; `ops` (contracts/BatchTree.sol) say which slot each
    /// replaces or splits, each old leaf proven in the current tree; every other slot is carried forward. Allowed only
    /// while the latest attestation is not revoked, its params are the governed ones, the key is the one the tree's
    /// full epoch was verified with, and every boxed feed's median is inside the latest box now (the live view's own
    /// check): a carried statement holds at every price of that box. Totals change by the ops' deltas; declared and
    /// unrepresented accounts must add up as at finalize.
    function submitUpdate(
        uint64 epoch,
        uint64 declaredAccounts,
        uint64 unrepresentedAccounts,
        bool committed,
        uint256[] calldata words,
        uint256[] calldata ops
    ) external {
        _gateIdle();
        require(hasAttestation, "Registry: no attestation yet");
        Attestation memory l = attestationOf(latestEpoch);
        require(uint256(epoch) == uint256(l.epoch) + 1, "Registry: epoch must be latest + 1");
        (uint8 st,) = _inBox(l.epoch, _box[l.paramsCommitment]);
        uint256 flags = (l.revoked ? 1 : 0) | (l.paramsCommitment != paramsCommitment ? 2 : 0)
            | (verifyingKeyHash != _treeKeyHash ? 4 : 0) | (st != 0 ? 8 : 0);
        Acc memory a = _newAcc(epoch, declaredAccounts, unrepresentedAccounts, l.paramsCommitment, l.marketCommitment);
        a.prices = l.prices;
        a.openedAt = l.timestamp; // the record keeps the centre's time: an update does not reset maxAttestationAge
        _applyOps(a, l, flags, committed, words, ops);
        _verify(a, committed, words);
        _finalize(a, false);
    }

    /// BatchTree.applyOps(words, ops, state) with state = [flags, root, slots, epoch, own, stride, the latest totals,
    /// its liabilities]; its answer [root, slots, totals, liabilities] goes into `a`. Encoded by hand: the typed
    /// call's encoder and decoder cost the registry ~1 kB of its EIP-170 budget. BatchTree is pinned and trusted
    /// (its answer is not re-validated); its revert (an update rule) is passed on unchanged.
    function _applyOps(
        Acc memory a,
        Attestation memory l,
        uint256 flags,
        bool committed,
        uint256[] calldata words,
        uint256[] calldata ops
    ) private view {
        address tree = address(batchTree);
        uint256 nA = numAssets;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let p := add(m, 100)
            {
                let wl := shl(5, words.length)
                let ol := shl(5, ops.length)
                // applyOps(uint256[],uint256[],uint256[]): head (3 offsets), then each array as length + words
                mstore(m, shl(224, 0x038ebc19)) // its selector
                mstore(add(m, 4), 0x60)
                mstore(add(m, 36), add(0x80, wl))
                mstore(add(m, 68), add(0xa0, add(wl, ol)))
                mstore(p, words.length)
                calldatacopy(add(p, 32), words.offset, wl)
                p := add(p, add(32, wl))
                mstore(p, ops.length)
                calldatacopy(add(p, 32), ops.offset, ol)
                p := add(p, add(32, ol))
            }
            mstore(p, add(12, nA))
            mstore(add(p, 32), flags)
            mstore(add(p, 64), mload(add(l, 0x100))) // batchTreeRoot
            mstore(add(p, 96), mload(add(l, 0x60))) // batchCount (slots)
            mstore(add(p, 128), mload(add(a, 0x80))) // the new epoch
            mstore(add(p, 160), add(9, nA)) // own words per batch
            mstore(add(p, 192), add(add(9, nA), add(8, shl(1, committed)))) // stride
            mstore(add(p, 224), mload(add(l, 0x40))) // accountCount
            mstore(add(p, 256), mload(add(l, 0x160))) // totalEquity
            mstore(add(p, 288), mload(add(l, 0x180))) // totalMM
            mstore(add(p, 320), mload(add(l, 0xe0))) // underMMCount
            mstore(add(p, 352), mload(add(l, 0x1a0))) // totalShortfall
            mstore(add(p, 384), mload(add(l, 0x1c0))) // totalBadDebt
            mcopy(add(p, 416), add(mload(add(l, 0x200)), 32), shl(5, nA)) // liabilities
            p := add(p, add(416, shl(5, nA)))
            if iszero(staticcall(gas(), tree, m, sub(p, m), 0, 0)) {
                returndatacopy(m, 0, returndatasize())
                revert(m, returndatasize())
            }
            // answer: offset, length, root, slots, totals[6], liabilities[nA]
            returndatacopy(m, 0, returndatasize())
            mstore(add(a, 0x180), mload(add(m, 64))) // root
            let slots := mload(add(m, 96))
            mstore(add(a, 0x40), slots) // batchCount
            mstore(add(a, 0x60), slots) // added
            mcopy(mload(add(a, 0x1a0)), add(m, 128), 192) // sums
            mcopy(add(mload(add(a, 0x1e0)), 32), add(m, 320), shl(5, nA)) // liabilities
        }
    }

    function _gate() private view {
        require(isOperator[msg.sender], "Registry: caller is not an operator");
        require(!paused, "Registry: submissions paused");
    }

    /// An operator, not paused, and no epoch open (a new epoch would collide with it).
    function _gateIdle() private view {
        _gate();
        require(_openWord(OPEN_OPERATOR) == 0, "Registry: an epoch is open, finalize or abandon it");
    }

    /// The open epoch, checked: it is `epoch`, the caller opened it (and is still an operator), it has not expired.
    function _opened(uint64 epoch) private view returns (Acc memory a) {
        _gate();
        a = _load();
        require(a.operator != address(0) && a.epoch == epoch, "Registry: epoch not open");
        require(a.operator == msg.sender, "Registry: epoch opened by another operator");
        require(block.timestamp <= uint256(a.openedAt) + maxFeedAge, "Registry: open epoch expired, abandon it");
    }

    /// Checks of the epoch-wide fields (sequence, governed parameters, prices against the feeds), in memory.
    function _begin(EpochHeader calldata h) private view returns (Acc memory a) {
        require(uint256(h.epoch) == uint256(latestEpoch) + 1, "Registry: epoch must be latest + 1");
        require(paramsCommitment != 0, "Registry: no governed params");
        require(h.paramsCommitment == paramsCommitment, "Registry: params commitment not governed");
        require(verifyingKey != address(0), "Registry: no verifying key");
        require(h.batchCount > 0, "Registry: no batches");
        require(h.batchCount < 1 << 16, "Registry: more than 65,535 batches");
        require(h.prices.length == numAssets, "Registry: wrong number of prices");
        require(h.marketCommitment < R, "Groth16: public input >= r");
        _checkPrices(h.prices);
        a = _newAcc(h.epoch, h.declaredAccounts, h.unrepresentedAccounts, h.paramsCommitment, h.marketCommitment);
        a.batchCount = h.batchCount;
        a.prices = h.prices;
    }

    /// A new accumulator (shared by full and update epochs): liabilities zero, the active key.
    function _newAcc(uint64 epoch, uint64 declared, uint64 unrepresented, uint256 params, uint256 market)
        private
        view
        returns (Acc memory a)
    {
        a.operator = msg.sender;
        a.openedAt = uint64(block.timestamp);
        a.epoch = epoch;
        a.declaredAccounts = declared;
        a.unrepresentedAccounts = unrepresented;
        a.keyHash = verifyingKeyHash;
        a.paramsCommitment = params;
        a.marketCommitment = market;
        a.liabilities = new uint256[](numAssets);
    }

    /// Verify `words`' batches (one multi-pairing through the batch verifier), then account for them: id order,
    /// totals, the statements' hash chain; one BatchesAdded event.
    function _addBatches(Acc memory a, bool committed, uint256[] calldata words) private {
        (uint256 nB, uint256 stride, uint256 own) = _verify(a, committed, words);
        require(uint256(a.added) + nB <= a.batchCount, "Registry: more batches than declared");
        uint32 from = a.added;
        _account(a, words, nB, stride, own);
        emit BatchesAdded(a.epoch, from, uint32(nB), a.leafBody);
    }

    /// Verify `words`' batches in one multi-pairing through the batch verifier, with a's epoch, params, market
    /// commitment and prices as the shared inputs; returns (batches, words per batch, own words per batch).
    function _verify(Acc memory a, bool committed, uint256[] calldata words)
        private
        view
        returns (uint256 nB, uint256 stride, uint256 own)
    {
        if (committed != verifyingKeyCommitted) {
            if (committed) revert("Registry: key is plain, batches carry no D");
            revert("Registry: key is committed, batches need D");
        }
        require(verifyingKeyHash == a.keyHash, "Registry: verifying key changed since the epoch opened");
        uint256 nA = numAssets;
        own = 9 + nA; // a batch's own public signals
        stride = own + (committed ? 10 : 8);
        nB = words.length / stride;
        require(nB > 0 && words.length == nB * stride, "Registry: wrong batch word count");
        uint256[] memory shared = new uint256[](3 + nA);
        shared[0] = a.epoch; // shared signals in position order: epoch, params, market, prices
        shared[1] = a.paramsCommitment;
        shared[2] = a.marketCommitment;
        for (uint256 i = 0; i < nA; ++i) {
            shared[3 + i] = a.prices[i];
        }
        batchVerifier.verifyBatches(verifyingKey, committed, L.nPublic(nA), _sharedMask, shared, words);
    }

    /// The verified batches in order: each id range continues the strictly increasing order, totals and liabilities
    /// are summed (overflow-checked), each batch enters the batch tree (contracts/BatchTree.sol): its leaf body
    /// keccak256(lo, epoch, own words) is hashed now (lo = 0 for the epoch's first batch, its firstIdHash after), and
    /// the previous batch's leaf closes with hi = this batch's firstIdHash and is appended to the frontier (one node
    /// per level, as in the deposit contract), so the tree needs no calldata beyond the batches. The values are < r
    /// (the verifier checked them); the uint64 / uint128 bounds are checked at finalize.
    function _account(Acc memory a, uint256[] calldata words, uint256 nB, uint256 stride, uint256 own) private pure {
        uint256[6] memory sums = a.sums;
        uint256[] memory liab = a.liabilities;
        bytes32[16] memory fr = a.frontier;
        uint256 last = a.lastIdHash;
        uint256 n = a.added; // batches before this one: leaves 0 .. n - 2 are in the frontier, n - 1's body pending
        uint256 ep = a.epoch;
        bytes32 body = a.leafBody;
        uint256 code; // 1 reversed range, 2 overlap, 3 overflow
        assembly ("memory-safe") {
            // scratch: m, m + 32: a node's children (m holds the pending leaf body between batches); m + 64: the
            // body's preimage lo, epoch, own words
            let m := mload(0x40)
            mstore(m, body)
            mstore(add(m, 96), ep)
            for { let b := 0 } lt(b, nB) { b := add(b, 1) } {
                let p := add(words.offset, shl(5, mul(b, stride)))
                let first := calldataload(add(p, 32))
                let lst := calldataload(add(p, 64))
                if and(iszero(code), gt(first, lst)) { code := 1 }
                mstore(add(m, 64), 0) // lo: 0 for the epoch's first batch
                if n {
                    if and(iszero(code), iszero(lt(last, first))) { code := 2 }
                    mstore(add(m, 64), first)
                    // close leaf n - 1 (hi = first) and append it to the frontier
                    mstore(add(m, 32), first)
                    let node := keccak256(m, 64)
                    let i := sub(n, 1)
                    let h := 0
                    for {} and(i, 1) {} {
                        mstore(m, mload(add(fr, shl(5, h))))
                        mstore(add(m, 32), node)
                        node := keccak256(m, 64)
                        i := shr(1, i)
                        h := add(h, 1)
                    }
                    mstore(add(fr, shl(5, h)), node) // h < 16: at most 65,535 batches (_begin)
                }
                last := lst
                n := add(n, 1)
                // words 3..8: account count, equity, mm, under-MM count, shortfall, bad debt
                for { let k := 0 } lt(k, 6) { k := add(k, 1) } {
                    let v := calldataload(add(p, shl(5, add(3, k))))
                    let sp := add(sums, shl(5, k))
                    let t := add(mload(sp), v)
                    if lt(t, v) { code := 3 }
                    mstore(sp, t)
                }
                for { let i := 0 } lt(i, mload(liab)) { i := add(i, 1) } {
                    let v := calldataload(add(p, shl(5, add(9, i))))
                    let sp := add(liab, shl(5, add(i, 1)))
                    let t := add(mload(sp), v)
                    if lt(t, v) { code := 3 }
                    mstore(sp, t)
                }
                calldatacopy(add(m, 128), p, shl(5, own))
                mstore(m, keccak256(add(m, 64), add(64, shl(5, own))))
            }
            body := mload(m)
        }
        require(code != 1, "Registry: batch id range reversed");
        require(code != 2, "Registry: batch id ranges overlap");
        require(code != 3, "Registry: total exceeds uint128");
        a.lastIdHash = last;
        a.leafBody = body;
        a.added = uint32(n);
    }

    /// A full epoch's tree root: the last batch's leaf closes with hi = r (the top of the id-hash space), then the
    /// frontier is folded with the empty-subtree hashes Z_h (Z_0 = 0, Z_{h+1} = keccak256(Z_h, Z_h)) up to DEPTH 16.
    function _closeTree(Acc memory a) private pure {
        bytes32[16] memory fr = a.frontier;
        uint256 n = a.added; // >= 1 (finalize checked every declared batch was added)
        bytes32 body = a.leafBody;
        bytes32 root;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, body)
            mstore(add(m, 32), R)
            let node := keccak256(m, 64)
            let i := sub(n, 1)
            let h := 0
            for {} and(i, 1) {} {
                mstore(m, mload(add(fr, shl(5, h))))
                mstore(add(m, 32), node)
                node := keccak256(m, 64)
                i := shr(1, i)
                h := add(h, 1)
            }
            mstore(add(fr, shl(5, h)), node)
            let z := 0
            node := 0
            for { h := 0 } lt(h, 16) { h := add(h, 1) } {
                switch and(shr(h, n), 1)
                case 0 {
                    mstore(m, node)
                    mstore(add(m, 32), z)
                }
                default {
                    mstore(m, mload(add(fr, shl(5, h))))
                    mstore(add(m, 32), node)
                }
                node := keccak256(m, 64)
                mstore(m, z)
                mstore(add(m, 32), z)
                z := keccak256(m, 64)
            }
            root := node
        }
        a.root = root;
    }

    /// Record the epoch (a full one's tree root is computed here, an update's came from BatchTree).
    function _finalize(Acc memory a, bool full) private {
        require(verifyingKeyHash == a.keyHash, "Registry: verifying key changed since the epoch opened");
        require(a.paramsCommitment == paramsCommitment, "Registry: params changed since the epoch opened");
        require(a.added == a.batchCount, "Registry: batches missing");
        if (full) _closeTree(a);
        uint256[6] memory sums = a.sums;
        require(
            sums[0] + a.unrepresentedAccounts == a.declaredAccounts, "Registry: accounts do not add up to declared"
        );
        require(sums[0] <= type(uint64).max && sums[3] <= type(uint64).max, "Registry: count exceeds uint64");
        require(
            sums[1] <= type(uint128).max && sums[2] <= type(uint128).max && sums[4] <= type(uint128).max
                && sums[5] <= type(uint128).max,
            "Registry: total exceeds uint128"
        );
        uint64 epoch = a.epoch;
        uint256[] memory liab = a.liabilities;
        uint256[] memory prices = a.prices;
        uint256 nA = liab.length;
        uint256 over; // a liability >= 2^128
        // a full epoch's time is now (its prices were just checked against every feed); an update keeps the latest
        // record's (set as openedAt): its proofs and carried statements are at that centre, whose unboxed prices and
        // valuation clock only maxAttestationAge bounds (red team, session 7)
        uint256 ts = full ? block.timestamp : a.openedAt;
        // The record and the packed prices / liabilities, written by hand (the generated struct and loop code cost
        // ~0.9 kB of the EIP-170 budget). Record's slots, in declaration order: [epoch | timestamp << 64 |
        // accountCount << 128 | batchCount << 192 | revoked (false) << 224], [declared | unrepresented << 64 |
        // underMMCount << 128], batchTreeRoot, paramsCommitment, marketCommitment, [equity | MM << 128],
        // [shortfall | bad debt << 128]; every value was bounded above. _packed[epoch][w]: prices two per word (low
        // half first), then liabilities from word `half` (prices are < 2^128: checked against the feeds).
        assembly ("memory-safe") {
            mstore(0, epoch)
            mstore(32, _records.slot)
            let s0 := keccak256(0, 64)
            sstore(
                s0,
                or(
                    or(epoch, shl(64, ts)),
                    or(shl(128, mload(sums)), shl(192, mload(add(a, 0x40))))
                )
            )
            sstore(add(s0, 1), or(or(mload(add(a, 0xa0)), shl(64, mload(add(a, 0xc0)))), shl(128, mload(add(sums, 0x60)))))
            sstore(add(s0, 2), mload(add(a, 0x180)))
            sstore(add(s0, 3), mload(add(a, 0x100)))
            sstore(add(s0, 4), mload(add(a, 0x120)))
            sstore(add(s0, 5), or(mload(add(sums, 0x20)), shl(128, mload(add(sums, 0x40)))))
            sstore(add(s0, 6), or(mload(add(sums, 0x80)), shl(128, mload(add(sums, 0xa0)))))
            mstore(0, epoch)
            mstore(32, _packed.slot)
            let p0 := keccak256(0, 64)
            let half := shr(1, add(nA, 1))
            for { let w := 0 } lt(w, half) { w := add(w, 1) } {
                let j := shl(1, w)
                let hiP := 0
                let hiL := 0
                if lt(add(j, 1), nA) {
                    hiP := mload(add(prices, shl(5, add(j, 2))))
                    hiL := mload(add(liab, shl(5, add(j, 2))))
                }
                let loL := mload(add(liab, shl(5, add(j, 1))))
                over := or(over, or(shr(128, loL), shr(128, hiL)))
                mstore(0, w)
                mstore(32, p0)
                sstore(keccak256(0, 64), or(shl(128, hiP), mload(add(prices, shl(5, add(j, 1))))))
                mstore(0, add(half, w))
                sstore(keccak256(0, 64), or(shl(128, hiL), loL))
            }
        }
        require(over == 0, "Registry: total exceeds uint128");
        latestEpoch = epoch;
        hasAttestation = true;
        _treeKeyHash = a.keyHash;
        // emit AttestationSubmitted(epoch, root, params, market, sums, declared, unrepresented, prices, liabilities),
        // encoded by hand (fewer stack slots than the generated encoder): a 13-word head (the two arrays' offsets
        // last), then each array as length + words
        bytes32 sig = AttestationSubmitted.selector;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, mload(add(a, 0x180))) // root
            mstore(add(m, 0x20), mload(add(a, 0x100))) // paramsCommitment
            mstore(add(m, 0x40), mload(add(a, 0x120))) // marketCommitment
            mcopy(add(m, 0x60), sums, 0xc0) // totals[6]
            mstore(add(m, 0x120), mload(add(a, 0xa0))) // declaredAccounts
            mstore(add(m, 0x140), mload(add(a, 0xc0))) // unrepresentedAccounts
            let pl := add(32, shl(5, nA))
            mstore(add(m, 0x160), 0x1a0)
            mstore(add(m, 0x180), add(0x1a0, pl))
            mcopy(add(m, 0x1a0), prices, pl)
            mcopy(add(m, add(0x1a0, pl)), liab, pl)
            log2(m, add(0x1a0, shl(1, pl)), sig, epoch)
        }
    }

    // ------------------------------------------------------------------ prices

    /// Each price must be non-zero and within priceToleranceBps of the median of its asset's feeds (FeedMedian
    /// checks it, and reverts on a missing, stale, incomplete or non-positive feed answer).
    function _checkPrices(uint256[] calldata prices) private view {
        for (uint256 i = 0; i < prices.length; ++i) {
            feedMedian.checkPrice(_feeds[i], maxFeedAge, priceDecimals, prices[i], priceToleranceBps);
        }
    }

    // ------------------------------------------------------------------ views

    function priceFeeds(uint256 asset) external view returns (address[] memory) {
        return _feeds[asset];
    }

    /// The most recent attestation (revoked or not); reverts if there is none.
    function latestAttestation() external view returns (Attestation memory) {
        require(hasAttestation, "Registry: no attestation yet");
        return attestationOf(latestEpoch);
    }


    /// solvent, read live at call time: the latest attestation exists, is not revoked, its total bad debt is covered
    /// by the insurance fund's current value, its unrepresented accounts are within maxUnrepresentedPpm, it is at most
    /// maxAttestationAge old, and every boxed asset's feed median is inside the box its commitment was proven for
    /// (every asset's median equal to the attested price for a point attestation, boxPpm 0); a broken or stale feed
    /// makes it false. liveStatus() gives the reason. Also reports the epoch, the accounts covered by proofs, and
    /// whether the key comes from a development setup. Under-MM accounts are not part of this test: protocols that
    /// need them read solvencyStatus().
    function isSolvent() public view returns (bool solvent, uint64 epoch, uint64 accountCount, bool devMode) {
        (uint8 reason,,,) = _live();
        Record storage r = _records[latestEpoch];
        return (reason == 0, r.epoch, r.accountCount, developmentMode);
    }

    /// The live view behind isSolvent(): reason 0 (solvent now) or the first failing condition (1 no attestation,
    /// 2 revoked, 3 bad debt above the insurance fund, 4 unrepresented above tolerance, 5 older than
    /// maxAttestationAge, 6 a checked asset's feed missing, stale or broken, 7 a checked asset's median outside its
    /// box), the asset index of a reason 6 or 7, the latest attestation's box and its age in seconds.
    function liveStatus()
        external
        view
        returns (bool solvent, uint8 reason, uint256 asset, uint32 boxPpm, uint64 boxAssets, uint64 age)
    {
        uint256 box;
        (reason, asset, box, age) = _live();
        return (reason == 0, reason, asset, uint32(box), uint64(box >> 32), age);
    }

    function _live() private view returns (uint8, uint256, uint256 box, uint64 age) {
        if (!hasAttestation) return (NO_ATTESTATION, 0, 0, 0);
        uint64 epoch = latestEpoch;
        Record storage r = _records[epoch];
        box = _box[r.paramsCommitment];
        age = uint64(block.timestamp - r.timestamp);
        if (r.revoked) return (REVOKED, 0, box, age);
        if (r.totalBadDebt > insuranceFundValue()) return (BAD_DEBT_UNCOVERED, 0, box, age);
        if (uint256(r.unrepresentedAccounts) * PPM > uint256(maxUnrepresentedPpm) * r.declaredAccounts) {
            return (UNREPRESENTED, 0, box, age);
        }
        if (age > maxAttestationAge) return (TOO_OLD, 0, box, age);
        (uint8 reason, uint256 asset) = _inBox(epoch, box);
        return (reason, asset, box, age);
    }

    /// Every checked asset's feed median inside the attested box (a point attestation checks every asset).
    function _inBox(uint64 epoch, uint256 box) private view returns (uint8, uint256) {
        uint256 ppm = uint32(box);
        uint256 mask = ppm == 0 ? type(uint256).max : uint64(box >> 32);
        uint256 nA = numAssets;
        mapping(uint256 => uint256) storage packed = _packed[epoch];
        for (uint256 i = 0; i < nA; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            uint256 p = uint128(packed[i / 2] >> ((i % 2) * 128));
            try feedMedian.liveStatus(_feeds[i], maxFeedAge, priceDecimals, p, ppm) returns (uint8 st) {
                if (st != 0) return (st == OUTSIDE_BOX ? OUTSIDE_BOX : FEED_BROKEN, i);
            } catch {
                return (FEED_BROKEN, i); // e.g. out of gas: never a true answer it could not check
            }
        }
        return (0, 0);
    }

    /// Everything about the latest attestation a protocol needs to set its own threshold.
    function solvencyStatus() external view returns (Status memory st) {
        st.developmentMode = developmentMode;
        st.insuranceFundValue = insuranceFundValue();
        st.maxUnrepresentedPpm = maxUnrepresentedPpm;
        if (!hasAttestation) return st;
        Record storage r = _records[latestEpoch];
        st.hasAttestation = true;
        st.epoch = r.epoch;
        st.timestamp = r.timestamp;
        st.accountCount = r.accountCount;
        st.declaredAccounts = r.declaredAccounts;
        st.unrepresentedAccounts = r.unrepresentedAccounts;
        st.underMMCount = r.underMMCount;
        st.totalShortfall = r.totalShortfall;
        st.totalBadDebt = r.totalBadDebt;
        st.revoked = r.revoked;
    }

    /// Whether the latest attestation is at most `maxAge` seconds old.
    function isFresh(uint256 maxAge) public view returns (bool) {
        return hasAttestation && block.timestamp - _records[latestEpoch].timestamp <= maxAge;
    }

    /// Solvent (as isSolvent) and fresh.
    function isSolventAndFresh(uint256 maxAge) external view returns (bool) {
        (bool solvent,,,) = isSolvent();
        return solvent && isFresh(maxAge);
    }

    /// The attestation of `epoch` (revoked or not); reverts if that epoch was never attested.
    function attestationOf(uint64 epoch) public view returns (Attestation memory a) {
        uint256 nA = numAssets;
        a.prices = new uint256[](nA);
        a.liabilities = new uint256[](nA);
        uint256 ts;
        // Read by hand (the generated unpacking cost ~0.5 kB of the EIP-170 budget): the Record's slots and the packed
        // prices / liabilities, as _finalize wrote them; Attestation's fields are 32-byte words in declaration order.
        assembly ("memory-safe") {
            let m64 := 0xffffffffffffffff
            let m128 := sub(shl(128, 1), 1)
            mstore(0, epoch)
            mstore(32, _records.slot)
            let s0 := keccak256(0, 64)
            let w := sload(s0)
            mstore(a, and(w, m64)) // epoch
            ts := and(shr(64, w), m64)
            mstore(add(a, 0x20), ts) // timestamp
            mstore(add(a, 0x40), and(shr(128, w), m64)) // accountCount
            mstore(add(a, 0x60), and(shr(192, w), 0xffffffff)) // batchCount
            mstore(add(a, 0x80), and(shr(224, w), 0xff)) // revoked
            w := sload(add(s0, 1))
            mstore(add(a, 0xa0), and(w, m64)) // declaredAccounts
            mstore(add(a, 0xc0), and(shr(64, w), m64)) // unrepresentedAccounts
            mstore(add(a, 0xe0), and(shr(128, w), m64)) // underMMCount
            mstore(add(a, 0x100), sload(add(s0, 2))) // batchTreeRoot
            mstore(add(a, 0x120), sload(add(s0, 3))) // paramsCommitment
            mstore(add(a, 0x140), sload(add(s0, 4))) // marketCommitment
            w := sload(add(s0, 5))
            mstore(add(a, 0x160), and(w, m128)) // totalEquity
            mstore(add(a, 0x180), shr(128, w)) // totalMM
            w := sload(add(s0, 6))
            mstore(add(a, 0x1a0), and(w, m128)) // totalShortfall
            mstore(add(a, 0x1c0), shr(128, w)) // totalBadDebt
            mstore(0, epoch)
            mstore(32, _packed.slot)
            let p0 := keccak256(0, 64)
            let half := shr(1, add(nA, 1))
            let pr := mload(add(a, 0x1e0))
            let li := mload(add(a, 0x200))
            for { let i := 0 } lt(i, nA) { i := add(i, 1) } {
                let sh := shl(7, and(i, 1))
                mstore(0, shr(1, i))
                mstore(32, p0)
                mstore(add(pr, shl(5, add(i, 1))), and(shr(sh, sload(keccak256(0, 64))), m128))
                mstore(0, add(half, shr(1, i)))
                mstore(add(li, shl(5, add(i, 1))), and(shr(sh, sload(keccak256(0, 64))), m128))
            }
        }
        require(ts != 0, "Registry: epoch not attested");
    }
}

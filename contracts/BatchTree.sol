// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title BatchTree: the update ops of incremental epochs over a registry's batch tree (issue 16).
/// @notice Stateless and pure, deployed once and pinned by every SolvencyRegistry (immutable, like FeedMedian and
/// Groth16BatchVerifier), so that the registry stays under the EIP-170 code-size limit. The registry verifies the
/// update's batch proofs first (one multi-pairing, shared inputs: the new epoch and the latest attestation's params,
/// market commitment and prices), then hands this contract the current root, slot count and totals; applyOps returns
/// the root, slot count and totals after the ops or reverts with the rule that failed.
///
/// The tree (zkmargin/verifier/batch_tree.py is its Python mirror, docs/contracts.md "Batch tree"): DEPTH 16 levels
/// of keccak256(left || right) over slot leaves, an empty slot is bytes32(0). A slot owns the id-hash range [lo, hi);
/// its leaf is keccak256(keccak256(lo || proofEpoch || own words) || hi), own words = the batch's own public signals
/// in layout order (batchRoot, firstIdHash, lastIdHash, accountCount, totalEquity, totalMM, underMMCount,
/// totalShortfall, totalBadDebt, liabilities[A]), proofEpoch the epoch whose transaction verified its proof.
///
/// Ops (flat words, applied in order, each against the root the previous one left):
///   REPLACE: [1 | slot << 8, lo, hi, proofEpoch, old own words, DEPTH siblings]
///   SPLIT:   [2 | slot << 8, lo, hi, proofEpoch, old own words, DEPTH siblings, mid, DEPTH siblings of slot n]
/// The old leaf's preimage must hash, with its path, to the current root (so its range and totals are the recorded
/// ones); a REPLACE's new batch keeps [lo, hi); a SPLIT needs lo < mid < hi, its left batch takes the slot with
/// [lo, mid) and its right batch the next free slot n (whose leaf must be empty) with [mid, hi). Every new batch
/// obeys the range rule: no account, or lo <= firstIdHash and lastIdHash < hi (ids strictly increase inside a batch,
/// by the circuit), so the slot ranges stay a partition of [0, r) and an id hash is in at most one batch.
contract BatchTree {
    uint256 public constant DEPTH = 16;
    /// 2^16 - 1 slots: the registry's incremental (frontier) root of a full epoch never holds a full tree.
    uint256 public constant MAX_SLOTS = (1 << 16) - 1;
    uint256 private constant REPLACE = 1;
    uint256 private constant SPLIT = 2;

    /// The walk's state (a struct: the EVM stack holds too few locals for the whole walk).
    struct S {
        bytes32 root;
        uint256 slots;
        uint256 epoch;
        uint256 own;
        uint256 stride;
        uint256 words; // calldata offset of the batches
        uint256 nB; // batches
        uint256 b; // next batch
        uint256[] totals; // in memory (copied from calldata)
        // the op being applied: its slot, the slot's range, its old leaf, the calldata offset of its path
        uint256 slot;
        uint256 lo;
        uint256 hi;
        bytes32 oldLeaf;
        uint256 path;
    }

    /// Flags the registry sets in state[0] (each an update rule it read from its storage; checked here, where the
    /// revert strings cost the registry no code).
    uint256 public constant REVOKED = 1; // the latest attestation is revoked
    uint256 public constant PARAMS_CHANGED = 2; // the governed params are not the latest attestation's
    uint256 public constant KEY_CHANGED = 4; // the active key is not the tree's full epoch's, or an epoch was revoked since
    uint256 public constant OUTSIDE_BOX = 8; // a boxed feed's median is outside the latest box, or a feed is broken

    /// Apply an update epoch's `ops` to the registry's tree. `state` = [flags, root, slots, epoch, own, stride,
    /// accounts, equity, MM, under-MM count, shortfall, bad debt, liabilities[A]]: the update rules' flags, the
    /// latest attestation's tree and totals, the new epoch (the proof epoch of every new leaf) and the word layout of
    /// `words` (stride words per batch, the first `own` of them its public signals). Returns [root, slots, totals...]
    /// after the ops: every old leaf's values subtracted, every new batch's added. Every batch of `words` must be
    /// used by an op (the registry verifies them all).
    function applyOps(uint256[] calldata words, uint256[] calldata ops, uint256[] calldata state)
        external
        pure
        returns (uint256[] memory out)
    {
        uint256 flags = state[0];
        require(flags & REVOKED == 0, "Update: latest attestation revoked");
        require(flags & PARAMS_CHANGED == 0, "Update: params changed since the latest epoch");
        require(
            flags & KEY_CHANGED == 0, "Update: an epoch was revoked or the verifying key changed since the tree's full epoch"
        );
        require(flags & OUTSIDE_BOX == 0, "Update: feeds not inside the latest box");
        uint256 own = state[4];
        uint256 stride = state[5];
        require(own >= 10 && state.length == own + 3 && stride >= own, "BatchTree: bad layout");
        S memory s = S(
            bytes32(state[1]), state[2], state[3], own, stride, _abs(words), words.length / stride, 0, state[6:], 0, 0,
            0, 0, 0
        );
        uint256 p; // next op word
        uint256 len = ops.length;
        uint256 base = _abs(ops);
        require(len > 0, "BatchTree: no ops");
        while (p < len) {
            require(len >= p + 4 + own + DEPTH, "BatchTree: ops truncated");
            bool split = _op(s, base + 32 * p);
            p += 4 + own + DEPTH;
            if (split) {
                require(len >= p + 1 + DEPTH, "BatchTree: ops truncated");
                p += 1 + DEPTH;
            }
        }
        require(s.b == s.nB, "BatchTree: batches not used by any op");
        out = new uint256[](state.length - 4);
        out[0] = uint256(s.root);
        out[1] = s.slots;
        for (uint256 i = 0; i < s.totals.length; ++i) {
            out[2 + i] = s.totals[i];
        }
    }

    /// One op at calldata offset `at` (its length was checked, a SPLIT's tail by the caller once this returns true:
    /// calldataload past the end reads zeros, which no valid path or mid survives, and the caller reverts anyway).
    function _op(S memory s, uint256 at) private pure returns (bool split) {
        uint256 head = _word(at, 0);
        uint256 kind = head & 0xff;
        s.slot = head >> 8;
        require(kind == REPLACE || kind == SPLIT, "BatchTree: unknown op");
        require(s.slot < s.slots, "BatchTree: slot does not exist");
        s.lo = _word(at, 1);
        s.hi = _word(at, 2);
        uint256 old = at + 128; // the old own words
        s.oldLeaf = _leaf(s.lo, _word(at, 3), old, s.own, s.hi);
        _sub(s.totals, old);
        s.path = old + 32 * s.own;
        if (kind == REPLACE) {
            _replace(s);
            return false;
        }
        _split(s);
        return true;
    }

    function _replace(S memory s) private pure {
        require(s.b < s.nB, "BatchTree: fewer batches than ops");
        uint256 w = s.words + 32 * s.b * s.stride;
        _checkRange(w, s.lo, s.hi);
        s.root = _update(s.root, s.slot, s.oldLeaf, _leaf(s.lo, s.epoch, w, s.own, s.hi), s.path);
        _add(s.totals, w);
        s.b += 1;
    }

    function _split(S memory s) private pure {
        uint256 mid = _word(s.path, DEPTH);
        require(s.lo < mid && mid < s.hi, "BatchTree: split point outside the slot");
        require(s.slots < MAX_SLOTS, "BatchTree: tree full");
        require(s.b + 1 < s.nB, "BatchTree: fewer batches than ops");
        uint256 wl = s.words + 32 * s.b * s.stride;
        uint256 wr = wl + 32 * s.stride;
        _checkRange(wl, s.lo, mid);
        _checkRange(wr, mid, s.hi);
        s.root = _update(s.root, s.slot, s.oldLeaf, _leaf(s.lo, s.epoch, wl, s.own, mid), s.path);
        // the next free slot: its current leaf must be empty under the root the left half just left
        s.root = _update(s.root, s.slots, bytes32(0), _leaf(mid, s.epoch, wr, s.own, s.hi), s.path + 32 * (DEPTH + 1));
        _add(s.totals, wl);
        _add(s.totals, wr);
        s.slots += 1;
        s.b += 2;
    }

    /// The leaf of a slot [lo, hi) whose own words start at calldata offset `off` (the two keccak steps).
    function _leaf(uint256 lo, uint256 ep, uint256 off, uint256 own, uint256 hi) private pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, lo)
            mstore(add(m, 32), ep)
            calldatacopy(add(m, 64), off, shl(5, own))
            mstore(m, keccak256(m, add(64, shl(5, own))))
            mstore(add(m, 32), hi)
            leaf := keccak256(m, 64)
        }
    }

    /// Recompute the root along one path twice: with the old leaf (it must give `root`: the leaf is in the tree at
    /// `index`) and with the new leaf (the root after the op).
    function _update(bytes32 root, uint256 index, bytes32 oldLeaf, bytes32 newLeaf, uint256 path)
        private
        pure
        returns (bytes32)
    {
        bytes32 o = oldLeaf;
        bytes32 n = newLeaf;
        assembly ("memory-safe") {
            let m := mload(0x40)
            for { let h := 0 } lt(h, DEPTH) { h := add(h, 1) } {
                let sib := calldataload(add(path, shl(5, h)))
                switch and(shr(h, index), 1)
                case 0 {
                    mstore(add(m, 32), sib)
                    mstore(m, o)
                    o := keccak256(m, 64)
                    mstore(m, n)
                    n := keccak256(m, 64)
                }
                default {
                    mstore(m, sib)
                    mstore(add(m, 32), o)
                    o := keccak256(m, 64)
                    mstore(add(m, 32), n)
                    n := keccak256(m, 64)
                }
            }
        }
        require(o == root, "BatchTree: old leaf or path does not match the root");
        return n;
    }

    /// The range rule: an empty batch fits any slot, else lo <= firstIdHash and lastIdHash < hi.
    function _checkRange(uint256 w, uint256 lo, uint256 hi) private pure {
        uint256 first;
        uint256 last;
        uint256 count;
        assembly ("memory-safe") {
            first := calldataload(add(w, 32))
            last := calldataload(add(w, 64))
            count := calldataload(add(w, 96))
        }
        require(count == 0 || (lo <= first && last < hi), "BatchTree: batch ids outside its slot's range");
    }

    /// totals[i] -= word 3 + i of the leaf at `w` (checked: a leaf proven to be in the tree was counted in them).
    function _sub(uint256[] memory totals, uint256 w) private pure {
        for (uint256 i = 0; i < totals.length; ++i) {
            totals[i] -= _word(w, 3 + i);
        }
    }

    function _add(uint256[] memory totals, uint256 w) private pure {
        for (uint256 i = 0; i < totals.length; ++i) {
            totals[i] += _word(w, 3 + i);
        }
    }

    function _word(uint256 w, uint256 i) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := calldataload(add(w, shl(5, i)))
        }
    }

    function _abs(uint256[] calldata a) private pure returns (uint256 off) {
        assembly ("memory-safe") {
            off := a.offset
        }
    }

}

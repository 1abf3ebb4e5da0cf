// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Groth16} from "./Groth16.sol";
import {Groth16Committed} from "./Groth16Committed.sol";

/// @title The registry's proof verifier: every batch proof of a submission in ONE multi-pairing, plain or committed.
/// @notice Stateless and deployed once; SolvencyRegistry holds its address as an immutable (pinned for the registry's
/// lifetime, next to the timelocked key hash) and keeps only the key, the rules and the records.
///
/// Batch verification by random linear combination (Bellare-Garay-Rabin small exponents; docs/statement.md, "One
/// multi-pairing per submission"). Proof b is valid iff E_b = e(-A_b, B_b) e(alpha, beta) e(vk_x_b, gamma) e(C_b, delta)
/// [e(D_b, eta)] = 1 in the order-r target group. With weights r_0 = 1 and r_b in [1, 2^128] derived from keccak256
/// over the key's code hash, the kind, the shared inputs and every proof's own inputs, proof words and commitment
/// (nothing a submitter can learn before fixing them, no block data), one pairing checks prod_b E_b^(r_b) = 1:
///   prod_b e(-r_b A_b, B_b) * e(sum r_b alpha, beta) * e(sum r_b vk_x_b, gamma) * e(sum r_b C_b, delta)
///   [* e(sum r_b D_b, eta)],
/// n + 3 pairs for n plain proofs, n + 4 for committed ones. sum_b r_b vk_x_b is computed on scalars first:
/// (sum r_b) IC[0] + sum_j (sum_b r_b x_bj) IC[j + 1] [+ (sum_b r_b c_b) IC[n + 1]], one MSM over the key's bases.
/// A committed proof's challenge c_b = keccak256(D_b, its own nPublic inputs) mod r is derived per proof from its
/// own D and inputs before anything is folded. If any proof is invalid the check passes with probability at most
/// 2^-128 per weight draw (a submitter can only re-draw by changing the submission: q hash evaluations give q 2^-128).
///
/// Layout of the call: `shared` holds the inputs whose bit is set in `sharedMask` (the same for every proof, given
/// once: the registry's epoch, commitments and prices), in position order; `words` holds, per proof, its own inputs
/// (the positions outside the mask, in order), then A B C as uint256[8], then for a committed key D.x D.y.
/// The caller states the kind: a committed key for n inputs is exactly as long as a plain key for n + 3, and reading
/// it as plain would make the challenge an input the prover picks and skip D
/// (tests/chain/test_committed_redteam_chain.py). Reverts with a reason on every failure; never returns false.
contract Groth16BatchVerifier {
    // Groth16.R / .P (inline assembly needs literal constants).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant H = 14; // key words before IC[0]

    /// Per-call state, in memory (the fold needs more than the stack holds).
    struct Ctx {
        uint256 n; // supplied public inputs per proof
        uint256 mask; // shared inputs' positions
        uint256 own; // inputs per proof outside the shared mask: the proof's own words
        uint256 stride; // words per proof: own + 8 (+ 2 for D)
        uint256 nB; // proofs
        bool committed;
        uint256 rsum; // sum of the weights, mod r
        uint256 sch; // sum r_b * challenge_b, mod r
        uint256[] pos; // input position of each own word
        uint256[] sig; // one proof's full input vector (shared prefilled): the challenge's preimage
        uint256[] scal; // folded scalar of each own input (own order: scal[k] belongs to position pos[k])
        uint256[4] cd; // sum r_b C_b (x, y), sum r_b D_b (x, y)
        uint256[] pairs; // the pairing input, 6 words per pair
    }

    /// Validate a key blob as plain (`committed` false) or committed; returns its SUPPLIED public-input count.
    function checkKeyBlob(bytes calldata key, bool committed) external view returns (uint256) {
        uint256 len = key.length;
        if (len < (Groth16.HEADER_WORDS + 2) * 32 || (len - Groth16.HEADER_WORDS * 32) % 64 != 0) {
            revert("Groth16: bad key length");
        }
        uint256[] memory words = new uint256[](len / 32);
        assembly ("memory-safe") {
            calldatacopy(add(words, 32), key.offset, len)
        }
        return committed ? Groth16Committed.validateKeyWords(words) : Groth16.validateKeyWords(words);
    }

    /// Verify every proof in `words` (layout above) against the key stored at `keyPtr`, of the stated kind, in one
    /// multi-pairing; reverts unless every proof is valid (up to the 2^-128 batch error).
    function verifyBatches(
        address keyPtr,
        bool committed,
        uint256 nPublic,
        uint256 sharedMask,
        uint256[] calldata shared,
        uint256[] calldata words
    ) external view returns (bool) {
        uint256[] memory key = Groth16.loadKey(keyPtr);
        Ctx memory c = _setup(key, committed, nPublic, sharedMask, shared, words.length);
        bytes32 seed = _seed(keyPtr, c, sharedMask, shared, words);
        for (uint256 b = 0; b < c.nB; ++b) {
            _fold(c, seed, words, b);
        }
        _finish(key, c);
        return true;
    }

    /// The seed verifyBatches draws the weights from for this call (for clients and tests: weightOf(seed, b)).
    function seedOf(
        address keyPtr,
        bool committed,
        uint256 nPublic,
        uint256 sharedMask,
        uint256[] calldata shared,
        uint256[] calldata words
    ) external view returns (bytes32) {
        Ctx memory c = _setup(Groth16.loadKey(keyPtr), committed, nPublic, sharedMask, shared, words.length);
        return _seed(keyPtr, c, sharedMask, shared, words);
    }

    /// The weight of proof b under `seed`: 1 for the first, else 1 + the top 128 bits of keccak256(seed, b).
    function weightOf(bytes32 seed, uint256 b) public pure returns (uint256 r) {
        r = 1;
        if (b != 0) {
            assembly ("memory-safe") {
                mstore(0, seed)
                mstore(32, b)
                r := add(shr(128, keccak256(0, 64)), 1) // keccak256(abi.encodePacked(seed, b)) >> 128, plus 1
            }
        }
    }

    /// The challenge derived for a committed proof with commitment D = (dx, dy) and supplied `input`.
    function challengeOf(uint256 dx, uint256 dy, uint256[] calldata input) external pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(dx, dy, input))) % R;
    }

    // ------------------------------------------------------------------ steps

    function _setup(
        uint256[] memory key,
        bool committed,
        uint256 n,
        uint256 mask,
        uint256[] calldata shared,
        uint256 nWords
    ) private pure returns (Ctx memory c) {
        require(
            key.length == H + 2 * (n + 1) + (committed ? Groth16Committed.EXTRA_WORDS : 0),
            "Groth16B: key does not match the kind and input count"
        );
        require(n <= 255 && mask >> n == 0, "Groth16B: shared mask beyond the inputs");
        if (committed) Groth16Committed.requireOwnEta(key); // once per call: one key for every proof
        c.n = n;
        c.mask = mask;
        c.committed = committed;
        c.sig = new uint256[](n);
        c.scal = new uint256[](n);
        c.pos = new uint256[](n);
        uint256 s;
        for (uint256 j = 0; j < n; ++j) {
            if ((mask >> j) & 1 == 1) {
                require(s < shared.length, "Groth16B: wrong number of shared inputs");
                uint256 x = shared[s++];
                require(x < R, "Groth16: public input >= r");
                c.sig[j] = x;
            } else {
                c.pos[c.own++] = j;
            }
        }
        require(s == shared.length, "Groth16B: wrong number of shared inputs");
        c.stride = c.own + (committed ? 10 : 8);
        c.nB = nWords / c.stride;
        require(c.nB > 0 && nWords == c.nB * c.stride, "Groth16B: wrong proof length for the key");
        c.pairs = new uint256[](6 * (c.nB + (committed ? 4 : 3)));
    }

    /// keccak256 over the key (its code hash), the kind, the layout, the shared inputs and one digest per proof
    /// (its own inputs, proof words and D): every weight depends on every proof of the call.
    function _seed(address keyPtr, Ctx memory c, uint256 mask, uint256[] calldata shared, uint256[] calldata words)
        private
        view
        returns (bytes32)
    {
        bytes32[] memory dig = new bytes32[](c.nB);
        uint256 len = c.stride * 32;
        assembly ("memory-safe") {
            let m := mload(0x40) // scratch, reused per proof
            for { let b := 0 } lt(b, mload(dig)) { b := add(b, 1) } {
                calldatacopy(m, add(words.offset, mul(b, len)), len)
                mstore(add(add(dig, 32), shl(5, b)), keccak256(m, len))
            }
        }
        return keccak256(abi.encodePacked(keyPtr.codehash, c.committed, c.n, mask, shared, dig));
    }

    /// Proof b: range and curve checks, its own inputs folded into the scalars, its challenge (committed), its
    /// weighted pair (-r A, B), r C (and r D) added to the sums. Assembly throughout: this runs once per batch, and
    /// everything but the 34k-gas pair and the 6k-gas multiplications is overhead.
    function _fold(Ctx memory c, bytes32 seed, uint256[] calldata words, uint256 b) private view {
        uint256 r = weightOf(seed, b);
        uint256 stride = c.stride;
        uint256 p;
        assembly ("memory-safe") {
            p := add(words.offset, shl(5, mul(b, stride)))
        }
        uint256 code = _foldInputs(c.committed, c.pos, c.sig, c.scal, c.own, p, r);
        p += c.own * 32;
        if (code == 0) code = _checkProofAt(p);
        if (code == 0 && c.committed) {
            uint256 ch;
            (code, ch) = _foldD(c.sig, c.cd, p + 256, r, b == 0);
            c.sch = addmod(c.sch, mulmod(r, ch, R), R);
        }
        if (code == 0) code = _pairAndC(c.pairs, c.cd, p, r, b);
        if (code != 0) _fail(code);
        c.rsum = addmod(c.rsum, r, R);
    }

    /// The proof's own inputs at calldata `p`: each < r, r x added to its scalar, and (committed) written into the challenge preimage `sig` at its position. Returns 1 on an input >= r, else 0.
    function _foldInputs(
        bool committed,
        uint256[] memory pos,
        uint256[] memory sig,
        uint256[] memory scal,
        uint256 own,
        uint256 p,
        uint256 r
    ) private pure returns (uint256 code) {
        assembly ("memory-safe") {
            let inRange := 1
            let sp := add(scal, 32)
            let end := add(p, shl(5, own))
            for { let q := p } lt(q, end) { q := add(q, 32) } {
                let x := calldataload(q)
                inRange := and(inRange, lt(x, R))
                mstore(sp, addmod(mload(sp), mulmod(r, x, R), R))
                sp := add(sp, 32)
            }
            if committed {
                for { let k := 0 } lt(k, own) { k := add(k, 1) } {
                    let j := shl(5, add(mload(add(add(pos, 32), shl(5, k))), 1))
                    mstore(add(sig, j), calldataload(add(p, shl(5, k))))
                }
            }
            code := iszero(inRange)
        }
    }

    /// Proof words at calldata `p`: coordinates < p (2), A and C on the curve (3), B not infinity (4). B off the
    /// twist or outside the order-r subgroup fails the pairing precompile.
    function _checkProofAt(uint256 p) private pure returns (uint256 code) {
        assembly ("memory-safe") {
            function onG1(x, y) -> ok {
                ok := eq(mulmod(y, y, P), addmod(mulmod(mulmod(x, x, P), x, P), 3, P))
            }
            let big := 0
            for { let i := 0 } lt(i, 256) { i := add(i, 32) } {
                big := or(big, iszero(lt(calldataload(add(p, i)), P)))
            }
            switch big
            case 0 {
                let a := onG1(calldataload(p), calldataload(add(p, 32)))
                if iszero(and(a, onG1(calldataload(add(p, 192)), calldataload(add(p, 224))))) { code := 3 }
                let bw := or(or(calldataload(add(p, 64)), calldataload(add(p, 96))), calldataload(add(p, 128)))
                if and(iszero(code), iszero(or(bw, calldataload(add(p, 160))))) { code := 4 }
            }
            default { code := 2 }
        }
    }

    /// D at calldata `d`: < p (6), not infinity (7), on the curve (8); its challenge keccak256(D, input) mod r (as
    /// challengeOf) from the full input vector `sig`; r D added to cd[2..3] (5 if an EC call fails).
    function _foldD(uint256[] memory sig, uint256[4] memory cd, uint256 d, uint256 r, bool first)
        private
        view
        returns (uint256 code, uint256 ch)
    {
        assembly ("memory-safe") {
            let dx := calldataload(d)
            let dy := calldataload(add(d, 32))
            if or(iszero(lt(dx, P)), iszero(lt(dy, P))) { code := 6 }
            if and(iszero(code), iszero(or(dx, dy))) { code := 7 }
            if and(iszero(code), iszero(eq(mulmod(dy, dy, P), addmod(mulmod(mulmod(dx, dx, P), dx, P), 3, P)))) {
                code := 8
            }
            if iszero(code) {
                let n := mload(sig)
                let m := mload(0x40)
                mstore(m, dx)
                mstore(add(m, 32), dy)
                mcopy(add(m, 64), add(sig, 32), shl(5, n))
                ch := mod(keccak256(m, add(64, shl(5, n))), R)
            }
        }
        if (code == 0 && !_accum(cd, 2, d, r, first)) code = 5;
    }

    /// Pair b = (-r A, B) into the pairing input, r C added to cd[0..1]; 5 if an EC call fails.
    function _pairAndC(uint256[] memory pairs, uint256[4] memory cd, uint256 p, uint256 r, uint256 b)
        private
        view
        returns (uint256 code)
    {
        assembly ("memory-safe") {
            let q := add(add(pairs, 32), mul(b, 192))
            switch b
            case 0 { calldatacopy(q, p, 64) }
            default {
                let m := mload(0x40)
                calldatacopy(m, p, 64)
                mstore(add(m, 64), r)
                if iszero(staticcall(gas(), 7, m, 96, q, 64)) { code := 5 }
            }
            // negate: y != 0 (BN254 G1 has no point of order 2, and r A is not infinity for 0 < r < the group order)
            mstore(add(q, 32), sub(P, mload(add(q, 32))))
            calldatacopy(add(q, 64), add(p, 64), 128)
        }
        if (code == 0 && !_accum(cd, 0, p + 192, r, b == 0)) code = 5;
    }

    /// cd[i..i+1] += r * (the point at calldata `pt`); for the first proof (r = 1) a copy.
    function _accum(uint256[4] memory cd, uint256 i, uint256 pt, uint256 r, bool first) private view returns (bool ok) {
        assembly ("memory-safe") {
            let acc := add(cd, shl(5, i))
            switch first
            case 1 {
                calldatacopy(acc, pt, 64)
                ok := 1
            }
            default {
                let m := mload(0x40)
                calldatacopy(m, pt, 64)
                mstore(add(m, 64), r)
                ok := staticcall(gas(), 7, m, 96, m, 64)
                mstore(add(m, 64), mload(acc))
                mstore(add(m, 96), mload(add(acc, 32)))
                ok := and(ok, staticcall(gas(), 6, m, 128, acc, 64))
            }
        }
    }

    function _fail(uint256 code) private pure {
        if (code == 1) revert("Groth16: public input >= r");
        if (code == 2) revert("Groth16: proof coordinate >= p");
        if (code == 3) revert("Groth16: proof point not on curve");
        if (code == 4) revert("Groth16: proof point at infinity");
        if (code == 6) revert("Groth16C: commitment coordinate >= p");
        if (code == 7) revert("Groth16C: commitment at infinity");
        if (code == 8) revert("Groth16C: commitment not on curve");
        revert("Groth16: EC operation failed");
    }

    /// The shared inputs' scalars, the folded vk_x (one MSM), the last 3 (4) pairs, and the one pairing call.
    function _finish(uint256[] memory key, Ctx memory c) private view {
        uint256 rsum = c.rsum;
        (uint256 vx, uint256 vy) = _mulUnlessOne(key[H], key[H + 1], rsum);
        for (uint256 j = 0; j < c.n; ++j) {
            // a shared input: sum_b r_b x_j = rsum x_j
            if ((c.mask >> j) & 1 == 1) (vx, vy) = _mulAdd(key, j, mulmod(rsum, c.sig[j], R), vx, vy);
        }
        for (uint256 k = 0; k < c.own; ++k) {
            // own input k, at position pos[k]: its folded scalar sum_b r_b x_bk
            (vx, vy) = _mulAdd(key, c.pos[k], c.scal[k], vx, vy);
        }
        if (c.committed && c.sch != 0) {
            uint256 k = H + 2 * (c.n + 1); // the challenge's IC point
            (uint256 px, uint256 py) = _mul(key[k], key[k + 1], c.sch);
            (vx, vy) = _add(vx, vy, px, py);
        }
        (uint256 ax, uint256 ay) = _mulUnlessOne(key[0], key[1], rsum);
        uint256[] memory pairs = c.pairs;
        uint256[4] memory cd = c.cd;
        bool committed = c.committed;
        bool ok;
        uint256 res;
        assembly ("memory-safe") {
            let k := add(key, 32)
            // the folded pairs are the last 3 (4): after the nB proof pairs
            let q := sub(add(add(pairs, 32), shl(5, mload(pairs))), mul(add(3, committed), 192))
            // (rsum alpha, beta)
            mstore(q, ax)
            mstore(add(q, 32), ay)
            mcopy(add(q, 64), add(k, 64), 128)
            // (vk_x, gamma)
            mstore(add(q, 192), vx)
            mstore(add(q, 224), vy)
            mcopy(add(q, 256), add(k, 192), 128)
            // (sum r C, delta)
            mstore(add(q, 384), mload(cd))
            mstore(add(q, 416), mload(add(cd, 32)))
            mcopy(add(q, 448), add(k, 320), 128)
            if committed {
                // (sum r D, eta): [eta]_2 is the key's last 4 words
                mstore(add(q, 576), mload(add(cd, 64)))
                mstore(add(q, 608), mload(add(cd, 96)))
                mcopy(add(q, 640), add(k, shl(5, sub(mload(key), 4))), 128)
            }
            ok := staticcall(gas(), 8, add(pairs, 32), shl(5, mload(pairs)), 0, 32)
            res := mload(0)
        }
        if (committed) {
            require(ok, "Groth16C: pairing failed (B not in G2, or out of gas)");
            require(res == 1, "Groth16C: invalid proof");
        } else {
            require(ok, "Groth16: malformed proof point");
            require(res == 1, "Groth16: invalid proof");
        }
    }

    // ------------------------------------------------------------------ helpers

    /// (vx, vy) + s IC[j + 1]; nothing for s = 0.
    function _mulAdd(uint256[] memory key, uint256 j, uint256 s, uint256 vx, uint256 vy)
        private
        view
        returns (uint256, uint256)
    {
        if (s == 0) return (vx, vy);
        uint256 k = H + 2 * (j + 1);
        (uint256 px, uint256 py) = _mul(key[k], key[k + 1], s);
        return _add(vx, vy, px, py);
    }

    /// s (x, y), without the 6k-gas call when s = 1 (a call with one proof: R = r_0 = 1).
    function _mulUnlessOne(uint256 x, uint256 y, uint256 s) private view returns (uint256, uint256) {
        if (s == 1) return (x, y);
        return _mul(x, y, s);
    }

    function _mul(uint256 x, uint256 y, uint256 s) private view returns (uint256 rx, uint256 ry) {
        bool ok;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x)
            mstore(add(m, 32), y)
            mstore(add(m, 64), s)
            ok := staticcall(gas(), 7, m, 96, m, 64)
            rx := mload(m)
            ry := mload(add(m, 32))
        }
        if (!ok) revert("Groth16: EC operation failed");
    }

    function _add(uint256 x1, uint256 y1, uint256 x2, uint256 y2) private view returns (uint256 rx, uint256 ry) {
        bool ok;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x1)
            mstore(add(m, 32), y1)
            mstore(add(m, 64), x2)
            mstore(add(m, 96), y2)
            ok := staticcall(gas(), 6, m, 128, m, 64)
            rx := mload(m)
            ry := mload(add(m, 32))
        }
        if (!ok) revert("Groth16: EC operation failed");
    }
}

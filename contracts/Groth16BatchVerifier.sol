// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Groth16} from "./Groth16.sol";
import {Groth16Committed} from "./Groth16Committed.sol";

/// @title The registry's proof verifier: every batch proof of an attestation in one call, plain or committed.
/// @notice Stateless and deployed once; SolvencyRegistry holds its address as an immutable (so it is pinned for the
/// registry's lifetime, next to the timelocked key hash) and keeps only the key, the rules and the records. Moving
/// the verification here keeps the registry under the EIP-170 code-size limit, and gives batch verification of many
/// proofs (issue 16) one place to live.
///
/// Key blob (a data contract, Groth16.loadKey): plain (Groth16.sol) or committed (Groth16Committed.sol); the caller
/// states the kind and the blob length must match it at the stated input count. The length alone cannot say: a
/// committed key for n inputs is exactly as long as a plain key for n + 3, and reading it as plain would make the
/// challenge an input the prover picks and skip D (tests/chain/test_committed_redteam_chain.py). Public inputs: every proof's supplied
/// inputs, concatenated (nPublic per proof). Inputs whose bit is set in `sharedMask` are the same for every proof
/// (checked): their share of vk_x is computed once. A committed proof's challenge is keccak256 over its D and its
/// own nPublic inputs, derived here. Reverts with a reason on every failure; never returns false.
contract Groth16BatchVerifier {
    // Groth16.R (inline assembly needs a literal constant).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

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

    /// Verify proof b (words b * stride .. of `proofs`: A B C as uint256[8], then for a committed key
    /// D.x D.y, so stride is 8 or 10) for inputs[b * nPublic .. (b + 1) * nPublic - 1], against the key
    /// stored at `keyPtr`, of the stated kind; reverts unless every proof is valid.
    function verifyBatches(
        address keyPtr,
        bool committed,
        uint256 nPublic,
        uint256 sharedMask,
        uint256[] calldata inputs,
        uint256[] calldata proofs
    ) external view returns (bool) {
        _verifyAll(Groth16.loadKey(keyPtr), committed, nPublic, sharedMask, inputs, proofs);
        return true;
    }

    function _verifyAll(
        uint256[] memory key,
        bool committed,
        uint256 nPublic,
        uint256 sharedMask,
        uint256[] calldata inputs,
        uint256[] calldata proofs
    ) private view {
        uint256 stride = _stride(key, committed, nPublic);
        uint256 nB = proofs.length / stride;
        require(nB > 0 && proofs.length == nB * stride, "Groth16B: wrong proof length for the key");
        require(inputs.length == nB * nPublic, "Groth16B: wrong number of public inputs");
        if (stride == 10) Groth16Committed.requireOwnEta(key); // once per call: the key is the same for every proof
        uint256[2] memory shared = _shared(key, sharedMask, inputs, nPublic);
        uint256[3] memory ctx = [nPublic, sharedMask, stride];
        for (uint256 b = 0; b < nB; ++b) {
            _check(key, shared, ctx, inputs, proofs, b);
        }
    }

    /// Proof b: its vk_x (shared + its own inputs; its shared inputs must equal proof 0's), then the pairing check
    /// (plain, or committed with its challenge derived here). ctx = [nPublic, sharedMask, stride].
    function _check(
        uint256[] memory key,
        uint256[2] memory shared,
        uint256[3] memory ctx,
        uint256[] calldata inputs,
        uint256[] calldata proofs,
        uint256 b
    ) private view {
        uint256 n = ctx[0];
        uint256[2] memory acc = _accumulate(key, shared, ctx[1], inputs, b * n, n);
        uint256[8] calldata proof;
        uint256[2] calldata commitment;
        uint256 off = b * ctx[2];
        assembly ("memory-safe") {
            proof := add(proofs.offset, shl(5, off))
            commitment := add(proof, 256)
        }
        if (ctx[2] == 10) {
            uint256 c = _challenge(commitment, inputs, b * n, n);
            Groth16Committed.finish(key, acc, proof, commitment, c);
        } else {
            Groth16.checkPairing(key, proof, acc);
        }
    }

    /// Words per proof: 8 for a plain key, 10 (with the commitment D) for a committed one.
    function _stride(uint256[] memory key, bool committed, uint256 nPublic) private pure returns (uint256) {
        uint256 words = Groth16.HEADER_WORDS + 2 * (nPublic + 1) + (committed ? Groth16Committed.EXTRA_WORDS : 0);
        require(key.length == words, "Groth16B: key does not match the kind and input count");
        return committed ? 10 : 8;
    }

    /// IC[0] + the shared inputs' terms, from proof 0's inputs.
    function _shared(uint256[] memory key, uint256 sharedMask, uint256[] calldata inputs, uint256 n)
        private
        view
        returns (uint256[2] memory acc)
    {
        acc = Groth16.initAcc(key);
        for (uint256 i = 0; i < n; ++i) {
            if ((sharedMask >> i) & 1 == 1) Groth16.mulAcc(key, acc, i, inputs[i]);
        }
    }

    /// shared + the proof's own inputs (those outside `sharedMask`); its shared inputs must equal proof 0's.
    /// One assembly loop, as Groth16.accumulate; inputs >= r are rejected, never reduced.
    function _accumulate(
        uint256[] memory key,
        uint256[2] memory shared,
        uint256 sharedMask,
        uint256[] calldata inputs,
        uint256 base,
        uint256 n
    ) private view returns (uint256[2] memory acc) {
        bool ok = true;
        bool inRange = true;
        bool same = true;
        assembly ("memory-safe") {
            mstore(acc, mload(shared))
            mstore(add(acc, 32), mload(add(shared, 32)))
            let m := mload(0x40)
            let pt := add(key, 480) // &key[HEADER_WORDS] = IC[0] (32 + 14 * 32)
            let mine := add(inputs.offset, shl(5, base))
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                pt := add(pt, 64)
                let x := calldataload(add(mine, shl(5, i)))
                switch and(shr(i, sharedMask), 1)
                case 1 { same := and(same, eq(x, calldataload(add(inputs.offset, shl(5, i))))) }
                default {
                    inRange := and(inRange, lt(x, R))
                    if x {
                        mstore(m, mload(pt))
                        mstore(add(m, 32), mload(add(pt, 32)))
                        mstore(add(m, 64), x)
                        ok := and(ok, staticcall(gas(), 7, m, 96, add(m, 64), 64))
                        mstore(m, mload(acc))
                        mstore(add(m, 32), mload(add(acc, 32)))
                        ok := and(ok, staticcall(gas(), 6, m, 128, acc, 64))
                    }
                }
            }
        }
        if (!same) revert("Groth16B: shared input differs");
        if (!inRange) revert("Groth16: public input >= r");
        if (!ok) revert("Groth16: EC operation failed");
    }

    function _challenge(uint256[2] calldata commitment, uint256[] calldata inputs, uint256 base, uint256 n)
        private
        pure
        returns (uint256)
    {
        uint256 off;
        assembly ("memory-safe") {
            off := add(inputs.offset, shl(5, base))
        }
        return Groth16Committed.challenge(commitment, off, n);
    }

    /// The challenge derived for a committed proof with commitment D = (dx, dy) and supplied `input`.
    function challengeOf(uint256 dx, uint256 dy, uint256[] calldata input) external pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(dx, dy, input))) % Groth16Committed.R;
    }
}

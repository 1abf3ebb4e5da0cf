// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Groth16} from "./Groth16.sol";

/// @title Groth16 with one BSB22 commitment (opt-in format of zkmargin.verifier.committed): the checks.
/// @notice The prover sends D (a hiding Pedersen commitment to the circuit's committed wires) and PoK
/// (its proof of knowledge) next to the usual proof. The circuit's challenge input is NOT supplied:
/// the verifier derives it as keccak256(abi.encodePacked(D.x, D.y, input)) mod r, so a prover cannot
/// choose it. The PoK equation e(PoK, gamma) e(D, -sigma gamma) = 1 is folded into the Groth16 check
/// with a weight rho = keccak256(challenge, proof, commitment) mod r, which the prover cannot know
/// before fixing every proof element: one 5-pair pairing call instead of a 4-pair and a 2-pair one.
///
/// Key blob: the plain key blob of Groth16.sol whose IC has nPublic + 2 points (the last for the
/// challenge), followed by [-sigma gamma]_2 (x1 x0 y1 y0). Commitment (uint256[4]): D.x D.y PoK.x PoK.y.
/// Used by the stand-alone Groth16CommittedVerifier and by Groth16BatchVerifier (the registry's).
/// Every failure reverts with a reason; nothing returns false.
library Groth16Committed {
    // Same values as Groth16.R / .P / .HEADER_WORDS (inline assembly needs literal constants).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant H = 14;
    /// Words a committed key has beyond a plain key with the same supplied inputs: the challenge's IC
    /// point (2) and [-sigma gamma]_2 (4).
    uint256 internal constant EXTRA_WORDS = 6;

    /// Supplied public-input count of a loaded committed key (the challenge excluded).
    function nPublicOf(uint256[] memory key) internal pure returns (uint256) {
        return (key.length - H - 4) / 2 - 2;
    }

    /// Validate a committed key: the plain part as Groth16.sol does, then the sigma G2 point
    /// (coordinates < p, on the twist and in the order-r subgroup, through the pairing precompile).
    /// Returns the number of SUPPLIED public inputs.
    function validateKeyWords(uint256[] memory key) internal view returns (uint256) {
        uint256 len = key.length;
        require(len >= H + 4 + 4, "Groth16C: bad key length");
        uint256[] memory plain = new uint256[](len - 4);
        uint256[18] memory input;
        for (uint256 i = 0; i < len - 4; ++i) {
            plain[i] = key[i];
        }
        uint256 nIc = Groth16.validateKeyWords(plain) + 1;
        require(nIc >= 2, "Groth16C: key has no challenge input");
        input[0] = 1;
        input[1] = 2;
        for (uint256 c = 0; c < 4; ++c) {
            uint256 w = key[len - 4 + c];
            require(w < P, "Groth16C: key coordinate >= p");
            input[2 + c] = w;
        }
        require((input[2] | input[3] | input[4] | input[5]) != 0, "Groth16C: key G2 point at infinity");
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 8, input, 192, 0, 32)
        }
        require(ok, "Groth16C: key G2 point invalid");
        return nIc - 2;
    }

    /// keccak256(D.x, D.y, input[0..n-1]) mod r, with D at calldata offset `com` (the commitment's first two words) and the n inputs at
    /// calldata offset `inp` (contiguous 32-byte words): the same bytes as abi.encodePacked.
    function challenge(uint256[4] calldata com, uint256 inp, uint256 n) internal pure returns (uint256 c) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, com, 64)
            calldatacopy(add(m, 64), inp, shl(5, n))
            c := mod(keccak256(m, add(64, shl(5, n))), R)
        }
    }

    /// Finish a committed verification. `acc` is IC[0] + sum input[i] IC[i + 1] over the n supplied inputs;
    /// this adds challenge * IC[n + 1], D and rho * PoK, and runs the one 5-pair pairing
    /// e(-A, B) e(alpha, beta) e(acc, gamma) e(C, delta) e(rho D, -sigma gamma) == 1, or reverts.
    function finish(
        uint256[] memory key,
        uint256[2] memory acc,
        uint256[8] calldata proof,
        uint256[4] calldata commitment,
        uint256 c
    ) internal view {
        Groth16.checkProof(proof);
        for (uint256 i = 0; i < 4; ++i) {
            require(commitment[i] < P, "Groth16C: commitment coordinate >= p");
        }
        require(_isOnG1(commitment[0], commitment[1]), "Groth16C: commitment not on curve");
        require(_isOnG1(commitment[2], commitment[3]), "Groth16C: commitment PoK not on curve");
        uint256 rho;
        bool ok = true;
        uint256 res;
        assembly ("memory-safe") {
            let m := mload(0x40)
            // rho = keccak256(abi.encodePacked(challenge, proof, commitment)) mod r
            mstore(m, c)
            calldatacopy(add(m, 32), proof, 256)
            calldatacopy(add(m, 288), commitment, 128)
            rho := mod(keccak256(m, 416), R)
        }
        require(rho != 0, "Groth16C: zero fold weight");
        assembly ("memory-safe") {
            let m := mload(0x40)
            let k := add(key, 32)
            let nw := mload(key)
            // acc += challenge * IC[n + 1]: the IC point just before the 4 sigma words
            if c {
                let pt := add(k, shl(5, sub(nw, 6)))
                mstore(m, mload(pt))
                mstore(add(m, 32), mload(add(pt, 32)))
                mstore(add(m, 64), c)
                ok := staticcall(gas(), 7, m, 96, add(m, 64), 64)
                mstore(m, mload(acc))
                mstore(add(m, 32), mload(add(acc, 32)))
                ok := and(ok, staticcall(gas(), 6, m, 128, acc, 64))
            }
            // acc += D
            mstore(m, mload(acc))
            mstore(add(m, 32), mload(add(acc, 32)))
            calldatacopy(add(m, 64), commitment, 64)
            ok := and(ok, staticcall(gas(), 6, m, 128, acc, 64))
            // acc += rho * PoK
            calldatacopy(m, add(commitment, 64), 64)
            mstore(add(m, 64), rho)
            ok := and(ok, staticcall(gas(), 7, m, 96, add(m, 64), 64))
            mstore(m, mload(acc))
            mstore(add(m, 32), mload(add(acc, 32)))
            ok := and(ok, staticcall(gas(), 6, m, 128, acc, 64))
            // rD = rho * D, written straight into pair 5 of the pairing input below
            let q := add(m, 128)
            calldatacopy(q, commitment, 64)
            mstore(add(q, 64), rho)
            ok := and(ok, staticcall(gas(), 7, q, 96, add(q, 768), 64))
            // (-A, B)
            mstore(q, calldataload(proof))
            mstore(add(q, 32), sub(P, calldataload(add(proof, 32)))) // A.y != 0 on BN254 G1
            calldatacopy(add(q, 64), add(proof, 64), 128)
            // (alpha, beta)
            mcopy(add(q, 192), k, 192)
            // (acc, gamma)
            mstore(add(q, 384), mload(acc))
            mstore(add(q, 416), mload(add(acc, 32)))
            mcopy(add(q, 448), add(k, 192), 128)
            // (C, delta)
            calldatacopy(add(q, 576), add(proof, 192), 64)
            mcopy(add(q, 640), add(k, 320), 128)
            // (rho D, -sigma gamma): the G2 point is the key's last 4 words
            mcopy(add(q, 832), add(k, shl(5, sub(nw, 4))), 128)
            let pairOk := staticcall(gas(), 8, q, 960, q, 32)
            res := and(pairOk, mload(q))
            ok := and(ok, pairOk)
        }
        require(ok, "Groth16C: EC operation failed");
        require(res == 1, "Groth16C: invalid proof");
    }

    function _isOnG1(uint256 x, uint256 y) private pure returns (bool) {
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
    }
}

/// @title Stand-alone verifier of committed (BSB22) proofs: one bytecode for every committed key.
/// @notice Key appended to the runtime code (Groth16.loadOwnKey). Reverts with a reason on every failure;
/// never returns false.
contract Groth16CommittedVerifier {
    /// Verify `proof` (A, B with x1 before x0, C), `commitment` (D.x, D.y, PoK.x, PoK.y) for the
    /// supplied `input` (the challenge excluded); reverts unless valid.
    function verifyProof(uint256[8] calldata proof, uint256[4] calldata commitment, uint256[] calldata input)
        external
        view
        returns (bool)
    {
        uint256[] memory key = Groth16.loadOwnKey();
        if (input.length != Groth16Committed.nPublicOf(key)) revert("Groth16C: wrong number of public inputs");
        uint256 off;
        assembly ("memory-safe") {
            off := input.offset
        }
        uint256 c = Groth16Committed.challenge(commitment, off, input.length);
        uint256[2] memory acc = Groth16.accumulateUnchecked(key, input);
        Groth16Committed.finish(key, acc, proof, commitment, c);
        return true;
    }

    /// The challenge this contract derives for (D, input): for clients and tests.
    function challengeOf(uint256 dx, uint256 dy, uint256[] calldata input) external pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(dx, dy, input))) % Groth16Committed.R;
    }

    /// Validate the embedded key; returns the number of SUPPLIED public inputs.
    function checkKey() external view returns (uint256) {
        return Groth16Committed.validateKeyWords(Groth16.loadOwnKey());
    }
}

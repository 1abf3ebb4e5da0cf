// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Groth16} from "./Groth16.sol";

/// @title Groth16 with one commitment in its own pairing slot (opt-in format of zkmargin.verifier.committed): the checks.
/// @notice The prover sends D, a hiding Pedersen commitment to the circuit's committed wires, next to the usual
/// proof. The circuit's challenge input is NOT supplied: the verifier derives it as
/// keccak256(abi.encodePacked(D.x, D.y, input)) mod r, so a prover cannot choose it. D gets its own pairing slot
/// with the key's [eta]_2 (a setup trapdoor no other key element divides by), and one 5-pair pairing checks
/// everything: e(-A, B) e(alpha, beta) e(vk_x, gamma) e(D, eta) e(C, delta) == 1, with
/// vk_x = IC[0] + sum input[i] IC[i + 1] + challenge * IC[n + 1]. D is not added to vk_x; there is no proof of
/// knowledge to check and no fold weight: the eta slot itself only accepts combinations of the committed wires'
/// bases [L_i / eta]_1 (docs/lookups.md). That argument needs eta to be nobody's known value: a key whose
/// [eta]_2 is +-[1]_2, +-gamma, +-delta or +-beta is refused here (the same rule as
/// verifier/committed.py check_committed_key); the real defence is eta contributed in the ceremony.
///
/// Key blob: the plain key blob of Groth16.sol whose IC has nPublic + 2 points (the last for the
/// challenge), followed by [eta]_2 (x1 x0 y1 y0). Commitment (uint256[2]): D.x D.y.
/// Used by the stand-alone Groth16CommittedVerifier and by Groth16BatchVerifier (the registry's).
/// Every failure reverts with a reason; nothing returns false.
library Groth16Committed {
    // Same values as Groth16.R / .P / .HEADER_WORDS (inline assembly needs literal constants).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant H = 14;
    /// Words a committed key has beyond a plain key with the same supplied inputs: the challenge's IC
    /// point (2) and [eta]_2 (4).
    uint256 internal constant EXTRA_WORDS = 6;
    // The G2 generator in EVM order (x1 x0 y1 y0): eta = 1 is a value everyone knows.
    uint256 private constant G2_X1 = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 private constant G2_X0 = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 private constant G2_Y1 = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 private constant G2_Y0 = 8495653923123431417604973247489272438418190587263600148770280649306958101930;

    /// Supplied public-input count of a loaded committed key (the challenge excluded).
    function nPublicOf(uint256[] memory key) internal pure returns (uint256) {
        return (key.length - H - 4) / 2 - 2;
    }

    /// Validate a committed key: the plain part as Groth16.sol does, then [eta]_2 (coordinates < p, not infinity,
    /// on the twist and in the order-r subgroup through the pairing precompile) and not +-generator, +-gamma,
    /// +-delta or +-beta. Returns the number of SUPPLIED public inputs.
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
        requireOwnEta(key);
        return nIc - 2;
    }

    /// Refuse a key whose [eta]_2 (its last 4 words) is infinity, +-[1]_2, +-gamma, +-delta or +-beta (hit codes 5, 1,
    /// 2, 3, 4; infinity empties the slot, so D would bind nothing): with eta = gamma, D
    /// shares the public inputs' slot and can carry IC points (any public input forged,
    /// tests/chain/test_registry_committed.py); with eta = delta, C can carry committed values chosen after the
    /// challenge; with eta = 1 the bases [L_i]_1 follow from phase 1. Word comparisons (~850 gas), so the
    /// verifiers also run it on every call: a stand-alone verifier's key is appended to its code, not validated
    /// at deployment by the contract. This catches named values only (eta = 2 gamma passes): the ceremony, which
    /// has eta contributed, is the real defence.
    function requireOwnEta(uint256[] memory key) internal pure {
        uint256 hit; // 0: none; 1 generator, 2 gamma, 3 delta, 4 beta, 5 infinity (the precompiles' (0, 0, 0, 0))
        assembly ("memory-safe") {
            // [eta]_2 at q == (x1, x0, y1, y0) or its negation (x, p - y). Coordinates >= p never pass the
            // precompiles, so comparing words is comparing points; a differing x word ends the test early.
            function same(q, x1, x0, y1, y0) -> r {
                if and(eq(mload(q), x1), eq(mload(add(q, 32)), x0)) {
                    let qy1 := mload(add(q, 64))
                    let qy0 := mload(add(q, 96))
                    r := or(and(eq(qy1, y1), eq(qy0, y0)), and(eq(qy1, mod(sub(P, y1), P)), eq(qy0, mod(sub(P, y0), P))))
                }
            }
            function keyPoint(q, g) -> r {
                r := same(q, mload(g), mload(add(g, 32)), mload(add(g, 64)), mload(add(g, 96)))
            }
            let k := add(key, 32)
            let q := add(k, shl(5, sub(mload(key), 4)))
            if keyPoint(q, add(k, 64)) { hit := 4 } // beta: words 2..5
            if keyPoint(q, add(k, 320)) { hit := 3 } // delta: words 10..13
            if keyPoint(q, add(k, 192)) { hit := 2 } // gamma: words 6..9
            if same(q, G2_X1, G2_X0, G2_Y1, G2_Y0) { hit := 1 }
            if iszero(or(or(mload(q), mload(add(q, 32))), or(mload(add(q, 64)), mload(add(q, 96))))) { hit := 5 }
        }
        if (hit != 0) {
            require(hit != 5, "Groth16C: key G2 point at infinity");
            require(hit != 1, "Groth16C: key eta is +-the G2 generator");
            require(hit != 2, "Groth16C: key eta is +-gamma");
            require(hit != 3, "Groth16C: key eta is +-delta");
            revert("Groth16C: key eta is +-beta");
        }
    }

    /// keccak256(D.x, D.y, input[0..n-1]) mod r, with D at calldata offset `com` and the n inputs at
    /// calldata offset `inp` (contiguous 32-byte words): the same bytes as abi.encodePacked.
    function challenge(uint256[2] calldata com, uint256 inp, uint256 n) internal pure returns (uint256 c) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, com, 64)
            calldatacopy(add(m, 64), inp, shl(5, n))
            c := mod(keccak256(m, add(64, shl(5, n))), R)
        }
    }

    /// Finish a committed verification. `acc` is IC[0] + sum input[i] IC[i + 1] over the n supplied inputs and `c`
    /// the challenge derived from D and those inputs; this adds c * IC[n + 1] and runs the one 5-pair pairing
    /// e(-A, B) e(alpha, beta) e(acc, gamma) e(D, eta) e(C, delta) == 1, or reverts.
    ///
    /// D's coordinates must be < p and D must not be (0, 0) (the precompiles' infinity: it would empty the slot,
    /// and the Python verifier refuses it too). D is not checked on the curve up front: the pairing precompile
    /// rejects a point off the curve (the call fails, and this reverts), so no accepted proof has an off-curve D
    /// and the challenge's preimage (D.x, D.y < p) is canonical. The on-curve test runs only after a failed
    /// pairing, to name the reason; an honest proof never pays for it.
    function finish(
        uint256[] memory key,
        uint256[2] memory acc,
        uint256[8] calldata proof,
        uint256[2] calldata commitment,
        uint256 c
    ) internal view {
        Groth16.checkProof(proof);
        uint256 dx = commitment[0];
        uint256 dy = commitment[1];
        require(dx < P && dy < P, "Groth16C: commitment coordinate >= p");
        require((dx | dy) != 0, "Groth16C: commitment at infinity");
        bool ok = true;
        bool pairOk;
        uint256 res;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let k := add(key, 32)
            let nw := mload(key)
            // acc += c * IC[n + 1]: the IC point just before the 4 words of [eta]_2
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
            // (-A, B)
            mstore(m, calldataload(proof))
            mstore(add(m, 32), sub(P, calldataload(add(proof, 32)))) // A.y != 0 on BN254 G1
            calldatacopy(add(m, 64), add(proof, 64), 128)
            // (alpha, beta): key words 0..5
            mcopy(add(m, 192), k, 192)
            // (acc, gamma)
            mstore(add(m, 384), mload(acc))
            mstore(add(m, 416), mload(add(acc, 32)))
            mcopy(add(m, 448), add(k, 192), 128)
            // (D, eta): [eta]_2 is the key's last 4 words
            mstore(add(m, 576), dx)
            mstore(add(m, 608), dy)
            mcopy(add(m, 640), add(k, shl(5, sub(nw, 4))), 128)
            // (C, delta)
            calldatacopy(add(m, 768), add(proof, 192), 64)
            mcopy(add(m, 832), add(k, 320), 128)
            pairOk := staticcall(gas(), 8, m, 960, m, 32)
            res := mload(m)
        }
        require(ok, "Groth16C: EC operation failed");
        if (!pairOk) {
            require(_isOnG1(dx, dy), "Groth16C: commitment not on curve");
            revert("Groth16C: pairing failed (B not in G2, or out of gas)");
        }
        require(res == 1, "Groth16C: invalid proof");
    }

    function _isOnG1(uint256 x, uint256 y) private pure returns (bool) {
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
    }
}

/// @title Stand-alone verifier of committed (commitment-slot) proofs: one bytecode for every committed key.
/// @notice Key appended to the runtime code (Groth16.loadOwnKey). Reverts with a reason on every failure;
/// never returns false.
contract Groth16CommittedVerifier {
    /// Verify `proof` (A, B with x1 before x0, C), `commitment` (D.x, D.y) for the supplied `input` (the challenge
    /// excluded); reverts unless valid.
    function verifyProof(uint256[8] calldata proof, uint256[2] calldata commitment, uint256[] calldata input)
        external
        view
        returns (bool)
    {
        uint256[] memory key = Groth16.loadOwnKey();
        if (input.length != Groth16Committed.nPublicOf(key)) revert("Groth16C: wrong number of public inputs");
        Groth16Committed.requireOwnEta(key);
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

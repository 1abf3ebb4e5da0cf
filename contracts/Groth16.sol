// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Groth16 over BN254 with the EIP-196/197 precompiles (0x06 add, 0x07 mul, 0x08 pairing).
/// @notice Generic: the verifying key is data, not code. It is stored once as the runtime code of a
/// tiny data contract (SSTORE2 style) and read back with EXTCODECOPY, so one audited bytecode serves
/// every key, a key change needs no compiler, and reading the key costs about 3k gas instead of the
/// 22k-per-word of storage. Every failure reverts with a reason: a verifier that returns false
/// lets an under-funded pairing call "succeed" and makes gas estimates lie.
///
/// Key blob (32-byte big-endian words): alpha.x alpha.y | beta x1 x0 y1 y0 | gamma x1 x0 y1 y0 |
/// delta x1 x0 y1 y0 | IC[0].x IC[0].y | IC[1].x ... ; G2 coordinates in EVM order (imaginary first).
/// Proof (uint256[8]): A.x A.y | B.x1 B.x0 B.y1 B.y0 | C.x C.y.
library Groth16 {
    /// Scalar field modulus r: public inputs must be below it (no aliasing).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// Base field modulus p: every coordinate must be below it.
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// Words before IC[0] in the key blob.
    uint256 internal constant HEADER_WORDS = 14;

    /// Validate a key blob and store it as a data contract; returns its address and public-input count.
    function storeKey(bytes memory key) internal returns (address ptr, uint256 nPublic) {
        nPublic = validateKey(key);
        // Init code: PUSH2 len; DUP1; PUSH1 12; PUSH1 0; CODECOPY; PUSH1 0; RETURN, then a STOP byte
        // (so the data contract cannot be called into) followed by the key.
        bytes memory init = abi.encodePacked(hex"61", uint16(key.length + 1), hex"80600c6000396000f300", key);
        assembly ("memory-safe") {
            ptr := create(0, add(init, 32), mload(init))
        }
        require(ptr != address(0), "Groth16: key store failed");
    }

    /// Check lengths, coordinate ranges and curve membership (G2 through the pairing precompile,
    /// which also checks the order-r subgroup). Returns the number of public inputs.
    function validateKey(bytes memory key) internal view returns (uint256 nPublic) {
        uint256 len = key.length;
        if (len < (HEADER_WORDS + 2) * 32 || (len - HEADER_WORDS * 32) % 64 != 0) revert("Groth16: bad key length");
        uint256[] memory words = new uint256[](len / 32);
        assembly ("memory-safe") {
            mcopy(add(words, 32), add(key, 32), len)
        }
        return validateKeyWords(words);
    }

    /// validateKey on a loaded key.
    function validateKeyWords(uint256[] memory key) internal view returns (uint256 nPublic) {
        uint256 words = key.length;
        if (words < HEADER_WORDS + 2 || (words - HEADER_WORDS) % 2 != 0) revert("Groth16: bad key length");
        nPublic = (words - HEADER_WORDS) / 2 - 1;
        for (uint256 i = 0; i < words; ++i) {
            require(key[i] < P, "Groth16: key coordinate >= p");
        }
        require(_isOnG1(key[0], key[1]), "Groth16: key G1 point not on curve");
        for (uint256 j = HEADER_WORDS; j < words; j += 2) {
            // IC points may be the point at infinity (0, 0): a signal absent from every constraint.
            require((key[j] | key[j + 1]) == 0 || _isOnG1(key[j], key[j + 1]), "Groth16: key G1 point not on curve");
        }
        uint256[18] memory input;
        for (uint256 k = 0; k < 3; ++k) {
            uint256 base = 2 + 4 * k;
            require(
                (key[base] | key[base + 1] | key[base + 2] | key[base + 3]) != 0, "Groth16: key G2 point at infinity"
            );
            input[6 * k] = 1; // G1 generator (1, 2)
            input[6 * k + 1] = 2;
            for (uint256 c = 0; c < 4; ++c) {
                input[6 * k + 2 + c] = key[base + c];
            }
        }
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 8, input, 576, 0, 32)
        }
        require(ok, "Groth16: key G2 point invalid");
    }

    /// Copy the key blob from its data contract into memory (one EXTCODECOPY).
    function loadKey(address ptr) internal view returns (uint256[] memory key) {
        uint256 size = ptr.code.length;
        require(size > 1, "Groth16: no verifying key");
        uint256 len = ((size - 1) / 32) * 32;
        assembly ("memory-safe") {
            // allocate without zero-filling: every word is overwritten by the copy
            key := mload(0x40)
            mstore(key, shr(5, len))
            extcodecopy(ptr, add(key, 32), 1, len)
            mstore(0x40, add(add(key, 32), len))
        }
    }

    /// Marker in the last word of a contract whose code ends with its own key: magic << 32 | key length.
    uint256 internal constant OWN_KEY_MAGIC = 0x7a6b6d617267696e2d67313621; // "zkmargin-g16!"

    /// Read a key appended to this contract's own code (key ++ word(magic << 32 | len)): no account
    /// access, so 2.6k gas cheaper per transaction than a data contract.
    function loadOwnKey() internal view returns (uint256[] memory key) {
        uint256 size;
        uint256 tag;
        assembly ("memory-safe") {
            size := codesize()
            codecopy(0, sub(size, 32), 32)
            tag := mload(0)
        }
        uint256 len = tag & 0xffffffff;
        if (tag >> 32 != OWN_KEY_MAGIC || len + 32 > size || len % 32 != 0 || len < (HEADER_WORDS + 2) * 32) {
            revert("Groth16: no verifying key");
        }
        assembly ("memory-safe") {
            // allocate without zero-filling: every word is overwritten by the copy
            key := mload(0x40)
            mstore(key, shr(5, len))
            codecopy(add(key, 32), sub(sub(size, 32), len), len)
            mstore(0x40, add(add(key, 32), len))
        }
    }

    /// Public-input count of a loaded key.
    function nPublicOf(uint256[] memory key) internal pure returns (uint256) {
        return (key.length - HEADER_WORDS) / 2 - 1;
    }

    /// acc := IC[0], the start of vk_x.
    function initAcc(uint256[] memory key) internal pure returns (uint256[2] memory acc) {
        acc[0] = key[HEADER_WORDS];
        acc[1] = key[HEADER_WORDS + 1];
    }

    /// acc += x * IC[i + 1] for public signal i; rejects x >= r instead of reducing it.
    /// The caller guarantees i < nPublicOf(key) (checked once per key, not per input).
    function mulAcc(uint256[] memory key, uint256[2] memory acc, uint256 i, uint256 x) internal view {
        if (x >= R) revert("Groth16: public input >= r");
        if (x == 0) return; // 0 * IC = infinity: nothing to add, save 6k gas
        bool ok;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let pt := add(key, shl(5, add(add(HEADER_WORDS, 3), shl(1, i)))) // &key[HEADER_WORDS + 2 (i + 1)]
            mstore(m, mload(pt))
            mstore(add(m, 32), mload(add(pt, 32)))
            mstore(add(m, 64), x)
            ok := staticcall(gas(), 7, m, 96, add(m, 64), 64)
            mstore(m, mload(acc))
            mstore(add(m, 32), mload(add(acc, 32)))
            ok := and(ok, staticcall(gas(), 6, m, 128, acc, 64))
        }
        if (!ok) revert("Groth16: EC operation failed");
    }

    /// vk_x = IC[0] + sum xs[i] IC[i + 1] over a calldata input list, in one assembly loop.
    function accumulate(uint256[] memory key, uint256[] calldata xs) internal view returns (uint256[2] memory acc) {
        if (xs.length != nPublicOf(key)) revert("Groth16: wrong number of public inputs");
        return accumulateUnchecked(key, xs);
    }

    /// accumulate without the input-count check: for a caller that checked the count itself (a committed
    /// key's IC has one more point, for the challenge, than inputs are supplied).
    function accumulateUnchecked(uint256[] memory key, uint256[] calldata xs)
        internal
        view
        returns (uint256[2] memory acc)
    {
        bool ok = true;
        bool inRange = true;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let pt := add(key, shl(5, add(HEADER_WORDS, 1))) // &key[HEADER_WORDS] = IC[0]
            mstore(acc, mload(pt))
            mstore(add(acc, 32), mload(add(pt, 32)))
            let end := add(xs.offset, shl(5, xs.length))
            for { let p := xs.offset } lt(p, end) { p := add(p, 32) } {
                pt := add(pt, 64)
                let x := calldataload(p)
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
        if (!inRange) revert("Groth16: public input >= r");
        if (!ok) revert("Groth16: EC operation failed");
    }

    /// Reject malformed proof points with a reason: coordinates >= p, A or C off the curve, B at infinity.
    /// (B off the twist or outside the order-r subgroup is rejected by the pairing precompile.)
    function checkProof(uint256[8] calldata proof) internal pure {
        for (uint256 i = 0; i < 8; ++i) {
            require(proof[i] < P, "Groth16: proof coordinate >= p");
        }
        require(_isOnG1(proof[0], proof[1]) && _isOnG1(proof[6], proof[7]), "Groth16: proof point not on curve");
        require((proof[2] | proof[3] | proof[4] | proof[5]) != 0, "Groth16: proof point at infinity");
    }

    /// e(-A, B) e(alpha, beta) e(vk_x, gamma) e(C, delta) == 1, or revert.
    function checkPairing(uint256[] memory key, uint256[8] calldata proof, uint256[2] memory vkx) internal view {
        checkProof(proof);
        bool ok;
        uint256 res;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let k := add(key, 32)
            // (-A, B)
            mstore(m, calldataload(proof))
            mstore(add(m, 32), sub(P, calldataload(add(proof, 32)))) // A.y != 0 on BN254 G1
            calldatacopy(add(m, 64), add(proof, 64), 128)
            // (alpha, beta): words 0..5 of the key
            mcopy(add(m, 192), k, 192)
            // (vk_x, gamma)
            mstore(add(m, 384), mload(vkx))
            mstore(add(m, 416), mload(add(vkx, 32)))
            mcopy(add(m, 448), add(k, 192), 128)
            // (C, delta)
            calldatacopy(add(m, 576), add(proof, 192), 64)
            mcopy(add(m, 640), add(k, 320), 128)
            ok := staticcall(gas(), 8, m, 768, m, 32)
            res := mload(m)
        }
        require(ok, "Groth16: malformed proof point");
        require(res == 1, "Groth16: invalid proof");
    }

    function _isOnG1(uint256 x, uint256 y) private pure returns (bool) {
        // y^2 == x^3 + 3 (mod p), coordinates already < p
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
    }
}

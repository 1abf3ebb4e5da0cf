// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Groth16} from "./Groth16.sol";

/// @title Stand-alone Groth16 verifier: one audited bytecode for every verifying key.
/// @notice The key is appended to the runtime code at deployment (code = runtime ++ key ++ tag, see
/// Groth16.loadOwnKey; zkmargin.verifier.chain.deploy_verifier builds the init code), so reading it
/// costs a CODECOPY and no account access. `checkKey` re-validates the key on-chain (the deployer
/// calls it). `verifyProof` returns true or reverts with a reason; it never returns false.
contract Groth16Verifier {
    /// Verify `proof` (A, B with x1 before x0, C) for `input`; reverts unless valid.
    function verifyProof(uint256[8] calldata proof, uint256[] calldata input) external view returns (bool) {
        uint256[] memory key = Groth16.loadOwnKey();
        uint256[2] memory acc = Groth16.accumulate(key, input);
        Groth16.checkPairing(key, proof, acc);
        return true;
    }

    /// Validate the embedded key (coordinates, curve and subgroup membership); returns its input count.
    function checkKey() external view returns (uint256) {
        return Groth16.validateKeyWords(Groth16.loadOwnKey());
    }

    /// Number of public inputs the embedded key expects.
    function nPublic() external view returns (uint256) {
        return Groth16.nPublicOf(Groth16.loadOwnKey());
    }
}

"""On-chain encodings of committed (commitment-slot) proofs: the key blob and the call arguments (read-only side).

The encodings live in ``verifier/chain_encoding.py`` (the registry takes committed keys and proofs too); this module
names them for the stand-alone ``contracts/Groth16CommittedVerifier`` (``Groth16Committed.sol``). Deploying one is a
transaction: ``prover/operator/committed_deploy.py``.
"""

from __future__ import annotations

from .chain_encoding import committed_proof_to_evm, committed_vk_to_bytes

CONTRACT = "Groth16CommittedVerifier"

__all__ = ["CONTRACT", "committed_proof_to_evm", "committed_vk_to_bytes"]

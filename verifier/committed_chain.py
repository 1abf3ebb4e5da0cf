"""On-chain encodings of committed (BSB22) proofs: the key blob and the call arguments (read-only side).

Kept apart from ``verifier/chain.py`` (the plain verifier and the registry): only circuits that declare a
commitment use ``contracts/Groth16Committed.sol``. Deploying one is a transaction: ``prover/operator/
committed_deploy.py``.
"""

from __future__ import annotations

from .chain import g1_words, g2_words, proof_to_evm, vk_to_words
from .committed import CommittedProof, CommittedVerifyingKey

CONTRACT = "Groth16CommittedVerifier"


def committed_vk_to_bytes(vk: CommittedVerifyingKey) -> bytes:
    """The plain key blob (IC with the challenge's point last) followed by [-sigma gamma]_2 (x1 x0 y1 y0)."""
    words = [*vk_to_words(vk.base), *g2_words(vk.g2_sigma_neg)]
    return b"".join(w.to_bytes(32, "big") for w in words)


def committed_proof_to_evm(p: CommittedProof) -> tuple[list[int], list[int]]:
    """(uint256[8] proof, uint256[4] commitment = D.x D.y PoK.x PoK.y)."""
    return proof_to_evm(p.proof), [*g1_words(p.commitment), *g1_words(p.pok)]

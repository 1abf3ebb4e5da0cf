"""On-chain side of committed (BSB22) proofs: key blob, init code, deployment, call arguments.

Kept apart from ``verifier/chain.py`` (the plain verifier and the registry): only circuits that
declare a commitment use ``contracts/Groth16Committed.sol``.
"""

from __future__ import annotations

from pathlib import Path

from web3.contract import Contract

from .chain import OWN_KEY_MAGIC, Chain, ChainRevert, g1_words, g2_words, load_artifact, proof_to_evm, vk_to_words
from .committed import CommittedProof, CommittedVerifyingKey

CONTRACT = "Groth16CommittedVerifier"


def committed_vk_to_bytes(vk: CommittedVerifyingKey) -> bytes:
    """The plain key blob (IC with the challenge's point last) followed by [-sigma gamma]_2 (x1 x0 y1 y0)."""
    words = [*vk_to_words(vk.base), *g2_words(vk.g2_sigma_neg)]
    return b"".join(w.to_bytes(32, "big") for w in words)


def committed_proof_to_evm(p: CommittedProof) -> tuple[list[int], list[int]]:
    """(uint256[8] proof, uint256[4] commitment = D.x D.y PoK.x PoK.y)."""
    return proof_to_evm(p.proof), [*g1_words(p.commitment), *g1_words(p.pok)]


def committed_verifier_init_code(vk: CommittedVerifyingKey, artifacts_dir: Path | None = None) -> bytes:
    """Init code deploying Groth16CommittedVerifier's runtime with the key appended (runtime ++ key ++ tag)."""
    runtime = bytes.fromhex(load_artifact(CONTRACT, artifacts_dir)["deployedBytecode"][2:])
    key = committed_vk_to_bytes(vk)
    body = runtime + key + ((OWN_KEY_MAGIC << 32) | len(key)).to_bytes(32, "big")
    if len(body) > 24_576:
        raise ValueError(f"verifier code would be {len(body)} bytes, above the EIP-170 limit")
    return b"\x61" + len(body).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f3") + body


def deploy_committed_verifier(chain: Chain, vk: CommittedVerifyingKey, artifacts_dir: Path | None = None) -> Contract:
    """Deploy a committed verifier for ``vk`` and have it validate its key on-chain."""
    receipt = chain.send({"data": "0x" + committed_verifier_init_code(vk, artifacts_dir).hex()})
    c = chain.contract(CONTRACT, receipt["contractAddress"], artifacts_dir)
    n = chain.call(c.functions.checkKey())
    if n != vk.n_public:
        raise ChainRevert(f"deployed verifier reports {n} public inputs, key has {vk.n_public}")
    return c

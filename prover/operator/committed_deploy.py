"""Deploying a committed Groth16 verifier: a transaction, so operator-side (``verifier/committed_chain.py``
holds the read-only encodings auditors use).

A registry with a committed key needs nothing from here: ``SolvencyRegistryWriter.deploy(chain, committed_vk, ...)``
(or ``set_initial_verifying_key`` / ``propose_verifying_key``) takes a ``CommittedVerifyingKey``, and
``SolvencyRegistryWriter.submit`` sends ``CommittedProof`` batches stated committed, each with its D. This module
deploys
the stand-alone ``Groth16CommittedVerifier`` (one proof, key in its code), used by benchmarks and interop."""

from __future__ import annotations

from pathlib import Path

from web3.contract import Contract

from zkmargin.verifier.chain import ChainRevert, load_artifact
from zkmargin.verifier.committed import CommittedVerifyingKey
from zkmargin.verifier.committed_chain import CONTRACT, committed_vk_to_bytes

from .chain_writes import OWN_KEY_MAGIC, SigningChain


def committed_verifier_init_code(vk: CommittedVerifyingKey, artifacts_dir: Path | None = None) -> bytes:
    """Init code deploying Groth16CommittedVerifier's runtime with the key appended (runtime ++ key ++ tag)."""
    runtime = bytes.fromhex(load_artifact(CONTRACT, artifacts_dir)["deployedBytecode"][2:])
    key = committed_vk_to_bytes(vk)
    body = runtime + key + ((OWN_KEY_MAGIC << 32) | len(key)).to_bytes(32, "big")
    if len(body) > 24_576:
        raise ValueError(f"verifier code would be {len(body)} bytes, above the EIP-170 limit")
    return b"\x61" + len(body).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f3") + body


def deploy_committed_verifier(
    chain: SigningChain, vk: CommittedVerifyingKey, artifacts_dir: Path | None = None
) -> Contract:
    """Deploy a committed verifier for ``vk`` and have it validate its key on-chain."""
    receipt = chain.send({"data": "0x" + committed_verifier_init_code(vk, artifacts_dir).hex()})
    c = chain.contract(CONTRACT, receipt["contractAddress"], artifacts_dir)
    n = chain.call(c.functions.checkKey())
    if n != vk.n_public:
        raise ChainRevert(f"deployed verifier reports {n} public inputs, key has {vk.n_public}")
    return c

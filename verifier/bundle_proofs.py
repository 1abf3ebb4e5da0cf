"""The two proof systems a bundle can carry, behind one reader and one verifier.

A bundle's batches are proven either with **committed Groth16** (the solvency circuit on LogUp lookups, one Groth16
commitment: ``verifier/committed.py``; the operator's default) or with **plain Groth16** (the bit-decomposition
circuit: ``verifier/groth16.py``; kept for circom/snarkjs interoperability). The verifying key says which:
``"protocol": "groth16-committed"`` is committed, ``"groth16"`` (snarkjs's) is plain. What snarkjs can check: a plain
bundle's ``verification_key.json``, ``proof.json`` and ``public.json`` are snarkjs's own formats (``snarkjs groth16
verify`` accepts them); a committed bundle's cannot be checked by snarkjs (it has no commitment, derives no
challenge, and would take the challenge as an input the prover chooses), only by ``verify_committed`` and the
committed Solidity verifier.

Every reader here takes untrusted JSON and raises :class:`MalformedInput` naming the field. A proof of one system
presented under a key of the other is malformed (``proof.protocol``), never verified under the wrong equation.
The challenge of a committed proof is always *derived* here (``verify_committed``): a bundle carries none, and a
``challenge`` field in a proof file is refused rather than ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .committed import (
    PROTOCOL as COMMITTED_PROTOCOL,
)
from .committed import (
    CommittedProof,
    CommittedVerifyingKey,
    check_committed_key,
    committed_proof_from_json,
    committed_proof_to_json,
    committed_vk_from_json,
    committed_vk_to_json,
    verify_committed,
)
from .groth16 import MalformedInput, check_verifying_key, verify
from .snarkjs_json import proof_from_json, proof_to_json, vk_from_json, vk_to_json
from .types import Proof, VerifyingKey

__all__ = [
    "COMMITTED",
    "PLAIN",
    "PROOF_SYSTEMS",
    "AnyKey",
    "AnyProof",
    "check_any_key",
    "key_n_public",
    "key_proof_system",
    "proof_from_bundle_json",
    "proof_to_bundle_json",
    "verify_any",
    "vk_from_bundle_json",
    "vk_to_bundle_json",
]

COMMITTED = "committed"
PLAIN = "plain"
PROOF_SYSTEMS = (COMMITTED, PLAIN)  # the first is the operator's default

AnyKey = VerifyingKey | CommittedVerifyingKey
AnyProof = Proof | CommittedProof


def key_proof_system(vk: AnyKey) -> str:
    return COMMITTED if isinstance(vk, CommittedVerifyingKey) else PLAIN


def key_n_public(vk: AnyKey) -> int:
    """Public signals the prover supplies (a committed key's derived challenge is not one of them)."""
    return vk.n_public


def vk_from_bundle_json(d: Any) -> AnyKey:
    """A verification_key.json of either system, chosen by its ``protocol`` field."""
    proto = d.get("protocol") if isinstance(d, dict) else None
    if proto == COMMITTED_PROTOCOL:
        return committed_vk_from_json(d)
    if proto == "groth16":
        return vk_from_json(d)
    raise MalformedInput("vk.protocol", f"expected 'groth16' (plain) or {COMMITTED_PROTOCOL!r} (committed), got "
                                        f"{str(proto)[:40]!r}")  # fmt: skip


def vk_to_bundle_json(vk: AnyKey) -> dict[str, Any]:
    return committed_vk_to_json(vk) if isinstance(vk, CommittedVerifyingKey) else vk_to_json(vk)


def proof_from_bundle_json(d: Any, vk: AnyKey) -> AnyProof:
    """A proof.json read for ``vk``'s system; one of the other system is malformed (``proof.protocol``)."""
    proto = d.get("protocol") if isinstance(d, dict) else None
    if isinstance(vk, CommittedVerifyingKey):
        if proto != COMMITTED_PROTOCOL:
            what = "a plain proof has no commitment" if proto in (None, "groth16") else "another proof system"
            raise MalformedInput("proof.protocol", f"the key is committed ({COMMITTED_PROTOCOL}) but the proof is "
                                                   f"{str(proto)[:40]!r}: {what}")  # fmt: skip
        if "challenge" in d:
            raise MalformedInput("proof.challenge", "a committed proof carries no challenge: the verifier derives it "
                                                    "from the commitment and the public signals")  # fmt: skip
        return committed_proof_from_json(d)
    if proto not in (None, "groth16"):
        raise MalformedInput("proof.protocol", f"the key is plain Groth16 but the proof is {str(proto)[:40]!r}")
    if isinstance(d, dict) and ("commitment" in d or "commitment_pok" in d):
        raise MalformedInput("proof.commitment", "a plain Groth16 key does not check a commitment")
    return proof_from_json(d)


def proof_to_bundle_json(p: AnyProof) -> dict[str, Any]:
    return committed_proof_to_json(p) if isinstance(p, CommittedProof) else proof_to_json(p)


def check_any_key(vk: AnyKey) -> None:
    if isinstance(vk, CommittedVerifyingKey):
        check_committed_key(vk)
    else:
        check_verifying_key(vk)


def verify_any(vk: AnyKey, proof: AnyProof, public: Sequence[int], validate_key: bool = True) -> bool:
    """``verify`` or ``verify_committed`` (challenge derived, never taken from the caller) as the key says.

    A proof of the other system raises :class:`MalformedInput` (``proof.protocol``)."""
    if isinstance(vk, CommittedVerifyingKey):
        if not isinstance(proof, CommittedProof):
            raise MalformedInput("proof.protocol", "a plain Groth16 proof under a committed key")
        return verify_committed(vk, proof, public, validate_key=validate_key)
    if isinstance(proof, CommittedProof):
        raise MalformedInput("proof.protocol", "a committed proof under a plain Groth16 key")
    return verify(vk, proof, public, validate_key=validate_key)

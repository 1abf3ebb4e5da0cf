"""SEAM between this branch's committed pipeline and the chain helper's committed registry (branch chain-committed).

The pipeline proves with committed Groth16 by default, but submitting committed proofs needs a registry with a
committed verifier path (``contracts/``) and a ``SolvencyRegistryWriter`` (``chain_writes.py``) that deploys a
registry with a ``CommittedVerifyingKey`` and submits ``CommittedProof`` batches: both are the chain helper's. Until
they are merged, :func:`committed_chain_ready` is False, the operator refuses to attest committed proofs with
:data:`NOT_READY` (nothing is written), and the demo attests with plain proofs.

Where the seam is (the coordinator fixes it at the merge):

* ``pipeline.Operator.deploy_chain`` -> ``chain_ops.deploy(setup.vk, ...)``: ``setup.vk`` is a
  ``CommittedVerifyingKey`` in committed mode;
* ``pipeline.Operator._attest`` -> ``chain_ops.attest(..., [(BatchStatement, CommittedProof), ...])``;
* ``demo._use_registry`` -> ``verifying_key_hash(setup.vk)`` (the chain helper's committed key hash);
* the verifier side calls ``registry_key.check_registry_key(rep, registry, CommittedVerifyingKey)``.

Detection: the compiled ``SolvencyRegistry`` ABI has an input of type ``uint256[4]`` (the commitment D.x D.y PoK.x
PoK.y, docs/lookups.md) once the committed path exists. Replace with the chain helper's own capability flag if it
has one.
"""

from __future__ import annotations

import functools
from typing import Any

NOT_READY = (
    "on-chain submission of committed proofs: the registry in this build has no committed verifier path yet "
    "(the chain helper's SolvencyRegistryWriter/SolvencyRegistry); attest with proof_system='plain' "
    "(CLI --proof-system plain) or merge the committed registry"
)


class CommittedChainNotReady(RuntimeError):
    """Committed proofs cannot be attested by this build's registry (see :data:`NOT_READY`)."""


def _has_commitment_input(items: list[Any]) -> bool:
    for i in items:
        if "uint256[4]" in str(i.get("type", "")):
            return True
        if _has_commitment_input(list(i.get("components", []))):
            return True
    return False


@functools.lru_cache(maxsize=1)
def committed_chain_ready() -> bool:
    """Whether this build's registry takes committed proofs (see the module docstring)."""
    from zkmargin.verifier.chain import load_artifact

    try:
        abi = load_artifact("SolvencyRegistry")["abi"]
    except (OSError, KeyError, ValueError):
        return False
    submits = [f for f in abi if f.get("type") == "function" and "submit" in str(f.get("name", "")).lower()]
    return any(_has_commitment_input(list(f.get("inputs", []))) for f in submits)


def require_committed_chain() -> None:
    if not committed_chain_ready():
        raise CommittedChainNotReady(NOT_READY)


def default_proof_system(attests_on_chain: bool) -> str:
    """The proof system an entry point uses when none is asked for: committed (the operator's default), except that
    a run which attests on-chain falls back to plain while the registry cannot take committed proofs (SEAM)."""
    from zkmargin.verifier.bundle_proofs import COMMITTED, PLAIN

    return COMMITTED if not attests_on_chain or committed_chain_ready() else PLAIN

"""Pin the bundle's verifying key to the registry's: a bundle carries the key its proofs verify under, and an
operator that controls the bundle could ship a key of its own (one with a known trapdoor verifies anything). The
user check and the audit therefore compare the bundle's key hash with the key the registry holds (or held: a
timelocked rotation after the epoch leaves the old key in the registry's ``VerifyingKeyChanged`` history). Plain and
committed (commitment-slot) keys are both pinned by the keccak256 of their blob."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .committed import CommittedVerifyingKey
from .report import Report
from .types import VerifyingKey

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient

CHECK = "verifying key = the registry's (keccak256 of the key blob)"
VERIFIER_CHECK = "registry's batch verifier = the audited Groth16BatchVerifier bytecode"


def check_registry_key(rep: Report, registry: SolvencyRegistryClient, vk: VerifyingKey | CommittedVerifyingKey) -> bool:
    """Compare ``vk``'s blob hash with the registry's pin. A committed key's blob includes [eta]_2, so a
    bundle cannot swap the commitment key either. A committed blob for n inputs is as long as a plain blob for
    n + 3 (the red team's finding), so the length alone does not tell the kinds apart; the registry's input count is
    fixed by its layout and it stores the kind with the key (``verifyingKeyCommitted``), and every Python path
    validates the key it reads, so a committed blob read as plain fails on its "IC" points taken from [eta]_2."""
    from .chain import verifying_key_hash

    # the pinned key means nothing under a verifier that accepts anything: the registry's (immutable) batch
    # verifier must run the audited bytecode
    code_ok = registry.batch_verifier_matches_artifact()
    rep.add(VERIFIER_CHECK, code_ok, registry.batch_verifier() if code_ok else "its code differs from the artifact")
    mine = verifying_key_hash(vk)
    current = registry.verifying_key_hash()
    if mine == current:
        return rep.add(CHECK, True, "0x" + mine.hex()[:16] + "...") and code_ok
    held = mine in registry.verifying_key_hashes()
    ok = rep.add(
        CHECK,
        held,
        "a key the registry held before a timelocked rotation"
        if held
        else f"bundle key 0x{mine.hex()[:16]}... is not the registry's 0x{current.hex()[:16]}...",
    )
    return ok and code_ok

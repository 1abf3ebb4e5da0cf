"""Helpers shared by the committed-ceremony tests and the red team: run the auditor's check on a ceremony, list
the failed checks, and forge a record the way an attacker who decouples a proof of knowledge's halves would.

Importable by name (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

from typing import Any

from zkmargin.circuits.curve import G1Affine, g1_mul, g2_mul
from zkmargin.prover.setup.committed_ceremony import CommittedCeremony, Step, save_committed_setup
from zkmargin.verifier.committed_ceremony import (
    CommittedContribution,
    SecretKey,
    binding_hash,
    eta_challenge,
    extra_transcript,
    hash_to_g1,
    k_challenge,
    verify_committed_setup,
)
from zkmargin.verifier.report import Report
from zkmargin.verifier.snarkjs_rng import hash_to_g2
from zkmargin.verifier.zkey_mpc import Contribution, build_params, transcript_for


def check(env: dict[str, Any], cer: CommittedCeremony, name: str) -> Report:
    """Save ``cer`` under ``env["dir"] / name`` and run the auditor's ceremony check on it."""
    save_committed_setup(cer, env["dir"] / name)
    return verify_committed_setup(env["dir"] / name, env["r1cs"], env["ptau"])


def failed(rep: Report) -> list[str]:
    """The names of the failed checks (a malformed setup is a test error, not a result)."""
    assert rep.malformed is None, rep.malformed
    return [c.name for c in rep.failed()]


def handmade_record(
    prev: CommittedCeremony,
    step: Step,
    x: int,
    eta: tuple[G1Affine, G1Affine, int],
    k: tuple[G1Affine, G1Affine, int],
) -> CommittedContribution:
    """A record whose eta and k keys are given as (g1_s, g1_sx, the scalar the G2 half is made with): what an
    attacker who decouples the two halves of a proof of knowledge publishes. Bound and delta-signed with x."""
    cs = prev.transcript.cs_hash
    tr = extra_transcript(cs, prev.records, eta[:2], k[:2])
    ek = SecretKey(eta[0], eta[1], g2_mul(eta_challenge(tr), eta[2]))
    kk = SecretKey(k[0], k[1], g2_mul(k_challenge(tr), k[2]))
    g1_s = hash_to_g1(binding_hash(tr, ek, kk, step.k_step, step.state))
    g1_sx = g1_mul(g1_s, x)
    dt = transcript_for(cs, [r.delta for r in prev.records], g1_s, g1_sx)
    d = Contribution(step.state.delta1, g1_s, g1_sx, g2_mul(hash_to_g2(dt), x), dt, 0, build_params("mallory"))
    return CommittedContribution(d, ek, kk, step.k_step, step.state)

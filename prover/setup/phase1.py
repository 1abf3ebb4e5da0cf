"""Phase 1 (powers of tau): a local multi-party ceremony, and its conversion to Lagrange form.

Each participant multiplies the accumulator by fresh secrets (t, a, b): tau <- tau*t,
alpha <- alpha*a, beta <- beta*b, and publishes proofs of knowledge of t, a, b bound to the digest of
the accumulator it started from (see ``zkmargin.verifier.setup_transcript``). The result is safe if
at least one participant discarded their secrets.

Sizes, for a circuit domain of n = 2^log_n points: tau^i*G1 for i < 2n (the H points are the odd
Lagrange polynomials of the doubled domain, degree 2n-1), and tau^i*G2, alpha*tau^i*G1,
beta*tau^i*G1 for i < n (A, B, C have degree < n), plus beta*G2.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from zkmargin.circuits.curve import G1Affine, G2Affine
from zkmargin.circuits.field import R
from zkmargin.verifier.setup_transcript import PHASE1_LABELS, KnowledgeProof, Phase1Accumulator

from ._util import (
    g1_fixed_many,
    g1_mul_each,
    g2_fixed_many,
    g2_mul_each,
    knowledge_proof,
    lagrange_points_g1,
    lagrange_points_g2,
    odd_lagrange_points_g1,
    powers,
    random_scalar,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Phase1Secrets:
    tau: int
    alpha: int
    beta: int

    @staticmethod
    def random() -> Phase1Secrets:
        return Phase1Secrets(random_scalar(), random_scalar(), random_scalar())


@dataclass
class Phase1Contribution:
    accumulator: Phase1Accumulator
    proofs: tuple[KnowledgeProof, KnowledgeProof, KnowledgeProof]  # tau, alpha, beta
    name: str = ""


def _is_initial(acc: Phase1Accumulator) -> bool:
    return acc == Phase1Accumulator.initial(acc.log_n)


def contribute(
    prev: Phase1Accumulator, prev_digest: bytes | None = None, secrets: Phase1Secrets | None = None, name: str = ""
) -> Phase1Contribution:
    """Multiply ``prev`` by fresh (t, a, b). ``secrets`` is for tests only; by default they are
    drawn from ``secrets`` and dropped on return."""
    s = secrets if secrets is not None else Phase1Secrets.random()
    t, a, b = s.tau % R, s.alpha % R, s.beta % R
    if 0 in (t, a, b):
        raise ValueError("phase-1 secrets must be non-zero")
    digest = prev_digest if prev_digest is not None else prev.digest()
    n = prev.size
    tp = powers(t, len(prev.tau_g1))
    ap = [x * a % R for x in tp[:n]]
    bp = [x * b % R for x in tp[:n]]
    if _is_initial(prev):
        # Every point is a generator: fixed-base tables are ~7x faster than variable-base.
        tau_g1 = g1_fixed_many(tp)
        tau_g2 = g2_fixed_many(tp[:n])
        alpha_g1 = g1_fixed_many(ap)
        beta_g1 = g1_fixed_many(bp)
        beta_g2 = g2_fixed_many([b])[0]
    else:
        tau_g1 = g1_mul_each(prev.tau_g1, tp)
        tau_g2 = g2_mul_each(prev.tau_g2, tp[:n])
        alpha_g1 = g1_mul_each(prev.alpha_g1, ap)
        beta_g1 = g1_mul_each(prev.beta_g1, bp)
        beta_g2 = g2_mul_each([prev.beta_g2], [b])[0]
    proofs = (
        knowledge_proof(t, PHASE1_LABELS[0], digest),
        knowledge_proof(a, PHASE1_LABELS[1], digest),
        knowledge_proof(b, PHASE1_LABELS[2], digest),
    )
    del s, t, a, b, tp, ap, bp
    return Phase1Contribution(Phase1Accumulator(tau_g1, tau_g2, alpha_g1, beta_g1, beta_g2), proofs, name)


def run_local_ceremony(
    log_n: int, contributions: int = 2, secrets: list[Phase1Secrets] | None = None
) -> list[Phase1Contribution]:
    """Run ``contributions`` rounds in this process (each one a separate participant in spirit)."""
    if log_n < 1:
        raise ValueError("log_n must be >= 1")
    acc = Phase1Accumulator.initial(log_n)
    out: list[Phase1Contribution] = []
    for i in range(contributions):
        c = contribute(acc, None, secrets[i] if secrets else None, name=f"participant {i + 1}")
        out.append(c)
        acc = c.accumulator
    return out


@dataclass
class PreparedPhase1:
    """Lagrange-basis points for one circuit domain size: what phase 2 consumes."""

    log_n: int
    lag_g1: list[G1Affine]  # [L_j(tau)]_1
    lag_g2: list[G2Affine]  # [L_j(tau)]_2
    lag_alpha_g1: list[G1Affine]  # [alpha L_j(tau)]_1
    lag_beta_g1: list[G1Affine]  # [beta L_j(tau)]_1
    h_g1: list[G1Affine]  # [L^{2n}_{2i+1}(tau)]_1
    alpha_g1: G1Affine
    beta_g1: G1Affine
    beta_g2: G2Affine


def prepare_phase2(acc: Phase1Accumulator, log_n: int) -> PreparedPhase1:
    """Group inverse FFTs from the powers (O(n log n) variable-base multiplications: the slow part
    of a ceremony in pure Python; a prepared snarkjs .ptau skips it)."""
    n = 1 << log_n
    if acc.size < n or len(acc.tau_g1) < 2 * n - 1:
        raise ValueError(f"phase 1 of size {acc.size} is too small for a domain of {n}")
    return PreparedPhase1(
        log_n=log_n,
        lag_g1=lagrange_points_g1(acc.tau_g1[:n], log_n),
        lag_g2=lagrange_points_g2(acc.tau_g2[:n], log_n),
        lag_alpha_g1=lagrange_points_g1(acc.alpha_g1[:n], log_n),
        lag_beta_g1=lagrange_points_g1(acc.beta_g1[:n], log_n),
        h_g1=odd_lagrange_points_g1(acc.tau_g1[: 2 * n], log_n),
        alpha_g1=acc.alpha_g1[0],
        beta_g1=acc.beta_g1[0],
        beta_g2=acc.beta_g2,
    )


__all__ = [
    "Phase1Contribution",
    "Phase1Secrets",
    "PreparedPhase1",
    "contribute",
    "prepare_phase2",
    "run_local_ceremony",
]

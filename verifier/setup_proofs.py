"""Proofs of knowledge and the group checks a ceremony transcript is verified with.

A contribution proves knowledge of its secret x by ``x*G1``, ``x*G2`` (tied together by a pairing) and a Schnorr
proof ``(R = k*G1, z = k + c*x)`` whose challenge hashes the digest of the *previous* state, so a proof cannot be
replayed on another chain. Kept apart from the format (``setup_format``) because the prover's ceremony code builds
these proofs with the same challenge function, and apart from the checks (``setup_checks``) which only consume them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    G1Affine,
    G2Affine,
    Jac1,
    g1_add,
    g1_add_aff,
    g1_mul,
    g1_neg,
    g1_to_affine,
    g1_to_jac,
    g2_add_aff,
    g2_in_subgroup,
    g2_neg,
    pairing_product_is_one,
)
from zkmargin.circuits.field import R
from zkmargin.circuits.msm import msm_g2
from zkmargin.circuits.ntt import intt as _intt

from .setup_format import dec_g1, dec_g2, enc_g1, enc_g2


@dataclass
class KnowledgeProof:
    """Proof that the contributor knows x: x*G1, x*G2 (same x, by a pairing) and a Schnorr proof
    for x*G1 bound to the previous state's digest."""

    x_g1: G1Affine
    x_g2: G2Affine
    r_g1: G1Affine
    z: int

    def to_json(self) -> dict[str, Any]:
        return {
            "x_g1": enc_g1(self.x_g1).hex(),
            "x_g2": enc_g2(self.x_g2).hex(),
            "r_g1": enc_g1(self.r_g1).hex(),
            "z": str(self.z),
        }

    @staticmethod
    def from_json(d: Any) -> KnowledgeProof:
        """Parse a proof from ``ceremony.json`` (untrusted: a missing field or a bad point is a ValueError)."""
        if not isinstance(d, dict) or not all(isinstance(d.get(k), str) for k in ("x_g1", "x_g2", "r_g1", "z")):
            raise ValueError("knowledge proof: expected x_g1, x_g2, r_g1 (hex) and z (decimal string)")
        return KnowledgeProof(
            dec_g1(bytes.fromhex(d["x_g1"])),
            dec_g2(bytes.fromhex(d["x_g2"])),
            dec_g1(bytes.fromhex(d["r_g1"])),
            int(d["z"]),
        )


def schnorr_challenge(label: str, prev_digest: bytes, x_g1: G1Affine, x_g2: G2Affine, r_g1: G1Affine) -> int:
    """Fiat-Shamir challenge; SHA-512 reduced mod r (negligible bias)."""
    h = hashlib.sha512()
    h.update(b"zkmargin/setup/v1/" + label.encode() + b"\x00")
    h.update(prev_digest)
    h.update(enc_g1(x_g1) + enc_g2(x_g2) + enc_g1(r_g1))
    return int.from_bytes(h.digest(), "big") % R


def check_knowledge_proof(p: KnowledgeProof, label: str, prev_digest: bytes) -> bool:
    if p.x_g1 is None or p.x_g2 is None or not g2_in_subgroup(p.x_g2):
        return False
    c = schnorr_challenge(label, prev_digest, p.x_g1, p.x_g2, p.r_g1)
    lhs = g1_mul(G1_GEN, p.z)
    rhs = g1_to_affine(g1_add(_jac1(p.r_g1), _jac1(g1_mul(p.x_g1, c))))
    if lhs != rhs:
        return False
    return pairing_product_is_one([(p.x_g1, g2_neg(G2_GEN)), (G1_GEN, p.x_g2)])


PHASE1_LABELS = ("phase1/tau", "phase1/alpha", "phase1/beta")
PHASE2_LABEL = "phase2/delta"


# ====================================================================== scalar / group helpers


def _jac1(p: G1Affine) -> Jac1:
    return g1_to_jac(p)


def intt(values: Sequence[int], log_n: int) -> list[int]:
    """Coefficients of the polynomial with the given values on the 2^log_n domain (ffjavascript's
    roots), so that sum_j v_j L_j(tau) = sum_i intt(v)_i tau^i."""
    return [int(x) for x in _intt(values, log_n)]


g1_sum = g1_add_aff
g2_sum = g2_add_aff


def rand_scalar(bits: int = 128) -> int:
    """An odd random scalar for the randomised (batched) checks: never zero, so no term drops out."""
    return secrets.randbits(bits) | 1


def g2_batch_in_subgroup(points: Sequence[G2Affine], rounds: int = 2) -> bool:
    """Random-combination subgroup check: a point with a cofactor component survives a round only if
    the random coefficients cancel it, probability < 1/10069 (the least prime factor of the G2
    cofactor) per round, at the cost of one MSM instead of one 254-bit multiplication per point."""
    pts = [p for p in points if p is not None]
    if not pts:
        return True
    if len(pts) <= 2:
        return all(g2_in_subgroup(p) for p in pts)
    return all(g2_in_subgroup(msm_g2(pts, [rand_scalar(64) for _ in pts])) for _ in range(rounds))


def same_ratio(a1: G1Affine, b1: G1Affine, a2: G2Affine, b2: G2Affine) -> bool:
    """e(a1, b2) == e(b1, a2), i.e. b1/a1 == b2/a2 in the exponent; false for degenerate inputs."""
    if a1 is None or b1 is None or a2 is None or b2 is None:
        return False
    return pairing_product_is_one([(a1, b2), (g1_neg(b1), a2)])

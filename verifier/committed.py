"""Groth16 with one BSB22 commitment (opt-in): key and proof types, the challenge, verification, JSON.

Plain Groth16 (``verifier/groth16.py``) is untouched: only circuits that declare committed wires use
this format. The construction (eprint 2022/1072, as gnark does it, with gnark's advisories applied):

* the proof carries D, a Pedersen commitment to the committed private wires plus a random mask
  (hiding, CVE-2024-45040), and PoK, its proof of knowledge (PoK = sigma * D, checked as
  e(PoK, gamma) * e(D, -sigma*gamma) = 1, which only a prover who knows D's opening in the
  commitment bases can satisfy);
* the circuit's challenge public input is NOT supplied by the prover: the verifier derives it as
  ``keccak256(D.x || D.y || public[0] || ... || public[n-1]) mod r`` (32-byte big-endian words, the
  EVM encoding, so Solidity recomputes it with one keccak256), appends it as the last public signal
  and adds D to the public-input accumulation;
* the PoK equation is folded into the main pairing check with a random weight rho drawn by the
  verifier after it has the whole proof: one 5-pair multi-pairing
  e(-A, B) e(alpha, beta) e(vk_x + D + rho*PoK, gamma) e(C, delta) e(rho*D, -sigma*gamma) = 1.
  If either equation fails, at most one rho satisfies the product, so a random rho catches it.

Never imports ``prover/``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from zkmargin.circuits.curve import (
    G1Affine,
    G2Affine,
    g1_add,
    g1_mul_jac,
    g1_neg,
    g1_to_affine,
    g1_to_jac,
    pairing_product_is_one,
)
from zkmargin.circuits.field import R

from .groth16 import MalformedInput, check_g1, check_g2, check_public, check_verifying_key
from .snarkjs_json import _field, g1_from_json, g1_to_json, g2_from_json, g2_to_json
from .types import Proof, VerifyingKey

PROTOCOL = "groth16-bsb22"


@dataclass(frozen=True)
class CommittedVerifyingKey:
    """A Groth16 key whose last IC point belongs to the hidden, verifier-derived challenge input.

    ``base.ic`` has ``n_public + 2`` points: IC[0] (constant one), one per supplied public input, then
    the challenge's. ``g2_sigma_neg`` = [-sigma * gamma]_2 checks the commitment's proof of knowledge.
    """

    base: VerifyingKey
    g2_sigma_neg: G2Affine

    @property
    def n_public(self) -> int:
        """Public inputs the caller supplies (the challenge is not one of them)."""
        return self.base.n_public - 1


@dataclass(frozen=True)
class CommittedProof:
    """A Groth16 proof plus the commitment D and its proof of knowledge PoK (both G1)."""

    proof: Proof
    commitment: G1Affine
    pok: G1Affine


def challenge_preimage(commitment: G1Affine, public: Sequence[int]) -> bytes:
    """D.x || D.y || public[0] || ... (32-byte big-endian words): abi.encodePacked of uint256s."""
    if commitment is None:
        raise MalformedInput("proof.commitment", "point at infinity is not allowed here")
    words = [commitment[0], commitment[1], *public]
    return b"".join(int(w).to_bytes(32, "big") for w in words)


def derive_challenge(commitment: G1Affine, public: Sequence[int]) -> int:
    """The hidden public input: keccak256(D.x, D.y, public...) mod r.

    Reducing 256 bits mod r (~2^253.6) skews the distribution by at most a factor 6/5 per value,
    which costs nothing measurable in the Schwartz-Zippel bounds that use the challenge.
    """
    return int.from_bytes(keccak(challenge_preimage(commitment, public)), "big") % R


def check_committed_key(vk: CommittedVerifyingKey) -> None:
    check_verifying_key(vk.base)
    if vk.base.n_public < 1:
        raise MalformedInput("vk.IC", "a committed key needs an IC point for the challenge")
    check_g2(vk.g2_sigma_neg, "vk.commitment_key.g2_sigma_neg")


def check_committed_proof(p: CommittedProof) -> None:
    check_g1(p.proof.a, "proof.pi_a")
    check_g2(p.proof.b, "proof.pi_b")
    check_g1(p.proof.c, "proof.pi_c")
    check_g1(p.commitment, "proof.commitment")
    check_g1(p.pok, "proof.commitment_pok")


def verify_committed(
    vk: CommittedVerifyingKey,
    proof: CommittedProof,
    public: Sequence[int],
    validate_key: bool = True,
    rho: int | None = None,
) -> bool:
    """True iff ``proof`` is valid for the supplied ``public`` inputs (challenge derived here).

    ``rho`` is the folding weight; leave it None (fresh randomness). It is a parameter only so a test
    can show that a fixed, known weight would let a broken PoK pass.
    """
    if validate_key:
        check_committed_key(vk)
    check_committed_proof(proof)
    check_public(VerifyingKey(vk.base.alpha1, vk.base.beta2, vk.base.gamma2, vk.base.delta2, vk.base.ic[:-1]), public)
    full = [*public, derive_challenge(proof.commitment, public)]
    acc = g1_to_jac(vk.base.ic[0])
    for x, pt in zip(full, vk.base.ic[1:], strict=True):
        if x:
            acc = g1_add(acc, g1_mul_jac(g1_to_jac(pt), x))
    acc = g1_add(acc, g1_to_jac(proof.commitment))
    w = secrets.randbelow(R - 1) + 1 if rho is None else rho % R
    acc = g1_add(acc, g1_mul_jac(g1_to_jac(proof.pok), w))
    rho_d = g1_to_affine(g1_mul_jac(g1_to_jac(proof.commitment), w))
    return pairing_product_is_one(
        [
            (g1_neg(proof.proof.a), proof.proof.b),
            (vk.base.alpha1, vk.base.beta2),
            (g1_to_affine(acc), vk.base.gamma2),
            (proof.proof.c, vk.base.delta2),
            (rho_d, vk.g2_sigma_neg),
        ]
    )


# ---------------------------------------------------------------- JSON


def committed_vk_to_json(vk: CommittedVerifyingKey) -> dict[str, Any]:
    """snarkjs's verification_key.json layout plus the commitment fields (docs/lookups.md).

    ``nPublic`` counts the SUPPLIED inputs; ``IC`` has nPublic + 2 points, the last one for the
    hidden challenge (``challengeIndex`` says where it sits among the public signals), so a tool
    that reads IC's length is not confused about how many inputs to pass (gnark #860).
    """
    return {
        "protocol": PROTOCOL,
        "curve": "bn128",
        "nPublic": vk.n_public,
        "challengeIndex": vk.n_public,
        "challenge": "keccak256(D.x, D.y, public[0..nPublic-1]) mod r, 32-byte big-endian words",
        "vk_alpha_1": g1_to_json(vk.base.alpha1),
        "vk_beta_2": g2_to_json(vk.base.beta2),
        "vk_gamma_2": g2_to_json(vk.base.gamma2),
        "vk_delta_2": g2_to_json(vk.base.delta2),
        "IC": [g1_to_json(p) for p in vk.base.ic],
        "commitment_key": {"g2_sigma_neg": g2_to_json(vk.g2_sigma_neg)},
    }


def committed_vk_from_json(d: Any) -> CommittedVerifyingKey:
    proto = _field(d, "protocol", "vk")
    if proto != PROTOCOL:
        raise MalformedInput("vk.protocol", f"expected {PROTOCOL!r}, got {proto!r}")
    ic_raw = _field(d, "IC", "vk")
    if not isinstance(ic_raw, list) or len(ic_raw) < 2:
        raise MalformedInput("vk.IC", "expected at least two G1 points (constant one and the challenge)")
    ic = tuple(g1_from_json(p, f"vk.IC[{i}]") for i, p in enumerate(ic_raw))
    n_pub = _field(d, "nPublic", "vk")
    if n_pub != len(ic) - 2:
        raise MalformedInput("vk.nPublic", f"is {n_pub} but IC has {len(ic)} points (expected nPublic + 2)")
    if d.get("challengeIndex", n_pub) != n_pub:
        raise MalformedInput("vk.challengeIndex", "the challenge must be the last public signal")
    ck = _field(d, "commitment_key", "vk")
    return CommittedVerifyingKey(
        base=VerifyingKey(
            alpha1=g1_from_json(_field(d, "vk_alpha_1", "vk"), "vk.vk_alpha_1"),
            beta2=g2_from_json(_field(d, "vk_beta_2", "vk"), "vk.vk_beta_2"),
            gamma2=g2_from_json(_field(d, "vk_gamma_2", "vk"), "vk.vk_gamma_2"),
            delta2=g2_from_json(_field(d, "vk_delta_2", "vk"), "vk.vk_delta_2"),
            ic=ic,
        ),
        g2_sigma_neg=g2_from_json(_field(ck, "g2_sigma_neg", "vk.commitment_key"), "vk.commitment_key.g2_sigma_neg"),
    )


def committed_proof_to_json(p: CommittedProof) -> dict[str, Any]:
    return {
        "pi_a": g1_to_json(p.proof.a),
        "pi_b": g2_to_json(p.proof.b),
        "pi_c": g1_to_json(p.proof.c),
        "commitment": g1_to_json(p.commitment),
        "commitment_pok": g1_to_json(p.pok),
        "protocol": PROTOCOL,
        "curve": "bn128",
    }


def committed_proof_from_json(d: Any) -> CommittedProof:
    proto = _field(d, "protocol", "proof")
    if proto != PROTOCOL:
        raise MalformedInput("proof.protocol", f"expected {PROTOCOL!r}, got {proto!r}")
    return CommittedProof(
        proof=Proof(
            a=g1_from_json(_field(d, "pi_a", "proof"), "proof.pi_a"),
            b=g2_from_json(_field(d, "pi_b", "proof"), "proof.pi_b"),
            c=g1_from_json(_field(d, "pi_c", "proof"), "proof.pi_c"),
        ),
        commitment=g1_from_json(_field(d, "commitment", "proof"), "proof.commitment"),
        pok=g1_from_json(_field(d, "commitment_pok", "proof"), "proof.commitment_pok"),
    )

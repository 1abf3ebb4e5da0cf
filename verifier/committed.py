"""Groth16 with one commitment in its own pairing slot (opt-in): key and proof types, the challenge,
verification, JSON.

Plain Groth16 (``verifier/groth16.py``) is untouched: only circuits that declare committed wires use
this format. The construction (docs/circuit.md, "The commitment and the challenge"): a Groth16 key
with a fifth pairing slot for a commitment, as in Mirage (Kosba et al., USENIX Security 2020) and
LegoGroth16 (Campanelli, Fiore, Querol, CCS 2019), with gnark's advisories applied:

* the proof carries D, a commitment to the committed private wires plus a random mask (hiding,
  CVE-2024-45040): D = sum v_i [L_i/eta]_1 + m [k/eta]_1, where L_i = beta*u_i + alpha*v_i + w_i is
  wire i's QAP term and eta a setup trapdoor used nowhere else; the committed L-terms are removed
  from C, so the committed values reach the pairing check through D alone;
* the circuit's challenge public input is NOT supplied by the prover: the verifier derives it as
  ``keccak256(D.x || D.y || public[0] || ... || public[n-1]) mod r`` (32-byte big-endian words, the
  EVM encoding, so Solidity recomputes it with one keccak256) and appends it as the last public signal;
* one 5-pair multi-pairing checks everything:
  e(-A, B) e(alpha, beta) e(vk_x, gamma) e(D, eta) e(C, delta) = 1.
  Only the committed wires' bases carry 1/eta, so D can only be a combination of them (plus a multiple
  of A if B has an [eta]_2 part, which fixes A before the challenge and gains nothing): the slot
  itself is the proof of knowledge that BSB22 sends separately, with no fold weight and no PoK
  pairing to pay for.

Never imports ``prover/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from zkmargin.circuits.curve import (
    G2_GEN,
    G1Affine,
    G2Affine,
    g1_add,
    g1_mul_jac,
    g1_neg,
    g1_to_affine,
    g1_to_jac,
    g2_neg,
    pairing_product_is_one,
)
from zkmargin.circuits.field import R

from .groth16 import MalformedInput, check_g1, check_g2, check_public, check_verifying_key
from .snarkjs_json import _field, g1_from_json, g1_to_json, g2_from_json, g2_to_json
from .types import Proof, VerifyingKey

PROTOCOL = "groth16-committed"


@dataclass(frozen=True)
class CommittedVerifyingKey:
    """A Groth16 key whose last IC point belongs to the hidden, verifier-derived challenge input.

    ``base.ic`` has ``n_public + 2`` points: IC[0] (constant one), one per supplied public input, then
    the challenge's. ``g2_eta`` = [eta]_2 is the commitment slot's G2 point: D is paired with it.
    """

    base: VerifyingKey
    g2_eta: G2Affine

    @property
    def n_public(self) -> int:
        """Public inputs the caller supplies (the challenge is not one of them)."""
        return self.base.n_public - 1


@dataclass(frozen=True)
class CommittedProof:
    """A Groth16 proof plus the commitment D (G1)."""

    proof: Proof
    commitment: G1Affine


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
    check_g2(vk.g2_eta, "vk.commitment_key.vk_eta_2")
    _check_eta_is_its_own_trapdoor(vk)


def _check_eta_is_its_own_trapdoor(vk: CommittedVerifyingKey) -> None:
    """Refuse the keys whose eta is a value anyone can name: 1, +-gamma, +-delta, +-beta.

    With eta = gamma, D shares the public inputs' slot and can carry IC points (public inputs forged,
    tests/test_committed.py); with eta = delta, C can carry committed values after the challenge; with
    eta = 1 the bases [L_i]_1 follow from phase 1. This catches key-generation mistakes only: eta = 2
    gamma passes, so the real defence is eta contributed in the ceremony (verifier/committed_ceremony.py).
    """
    eta = vk.g2_eta
    named = {"the G2 generator": G2_GEN, "gamma": vk.base.gamma2, "delta": vk.base.delta2, "beta": vk.base.beta2}
    for name, q in named.items():
        if eta == q or (q is not None and eta == g2_neg(q)):
            raise MalformedInput("vk.commitment_key.vk_eta_2", f"[eta]_2 is +-{name}: eta must be its own trapdoor")


def check_committed_proof(p: CommittedProof) -> None:
    check_g1(p.proof.a, "proof.pi_a")
    check_g2(p.proof.b, "proof.pi_b")
    check_g1(p.proof.c, "proof.pi_c")
    check_g1(p.commitment, "proof.commitment")


def verify_committed(
    vk: CommittedVerifyingKey,
    proof: CommittedProof,
    public: Sequence[int],
    validate_key: bool = True,
) -> bool:
    """True iff ``proof`` is valid for the supplied ``public`` inputs (challenge derived here)."""
    if validate_key:
        check_committed_key(vk)
    check_committed_proof(proof)
    check_public(VerifyingKey(vk.base.alpha1, vk.base.beta2, vk.base.gamma2, vk.base.delta2, vk.base.ic[:-1]), public)
    full = [*public, derive_challenge(proof.commitment, public)]
    acc = g1_to_jac(vk.base.ic[0])
    for x, pt in zip(full, vk.base.ic[1:], strict=True):
        if x:
            acc = g1_add(acc, g1_mul_jac(g1_to_jac(pt), x))
    return pairing_product_is_one(
        [
            (g1_neg(proof.proof.a), proof.proof.b),
            (vk.base.alpha1, vk.base.beta2),
            (g1_to_affine(acc), vk.base.gamma2),
            (proof.commitment, vk.g2_eta),
            (proof.proof.c, vk.base.delta2),
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
        "commitment_key": {"vk_eta_2": g2_to_json(vk.g2_eta)},
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
        g2_eta=g2_from_json(_field(ck, "vk_eta_2", "vk.commitment_key"), "vk.commitment_key.vk_eta_2"),
    )


def committed_proof_to_json(p: CommittedProof) -> dict[str, Any]:
    return {
        "pi_a": g1_to_json(p.proof.a),
        "pi_b": g2_to_json(p.proof.b),
        "pi_c": g1_to_json(p.proof.c),
        "commitment": g1_to_json(p.commitment),
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
    )

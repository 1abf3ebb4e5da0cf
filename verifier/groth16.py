"""Groth16 verification: validate every input first, then one multi-pairing check.

Malformed input raises :class:`MalformedInput` naming the field (the CLI maps it to exit code 2);
a well-formed but invalid proof returns False. Public inputs >= r are rejected rather than reduced,
closing the input-aliasing hole that several deployed verifiers had.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from zkmargin.circuits.curve import (
    G1Affine,
    G2Affine,
    PreparedG2,
    g1_add,
    g1_is_on_curve,
    g1_mul_jac,
    g1_neg,
    g1_to_affine,
    g1_to_jac,
    g2_in_subgroup,
    g2_is_on_curve,
    pairing_product_is_one,
    prepare_g2,
)
from zkmargin.circuits.field import P, R

from .types import Proof, VerifyingKey


class MalformedInput(ValueError):
    """Input that is not a well-formed key, proof or public-signal list (distinct from 'invalid proof')."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_g1(p: G1Affine, name: str, allow_infinity: bool = False) -> None:
    if p is None:
        if not allow_infinity:
            raise MalformedInput(name, "point at infinity is not allowed here")
        return
    x, y = p
    for label, v in (("x", x), ("y", y)):
        if not isinstance(v, int) or not 0 <= v < P:
            raise MalformedInput(name, f"coordinate {label} is not in [0, p)")
    if not g1_is_on_curve(p):
        raise MalformedInput(name, "point is not on the BN254 G1 curve")


def check_g2(p: G2Affine, name: str, allow_infinity: bool = False) -> None:
    if p is None:
        if not allow_infinity:
            raise MalformedInput(name, "point at infinity is not allowed here")
        return
    for label, c in (("x", p[0]), ("y", p[1])):
        for j, v in enumerate(c):
            if not isinstance(v, int) or not 0 <= v < P:
                raise MalformedInput(name, f"coordinate {label}[{j}] is not in [0, p)")
    if not g2_is_on_curve(p):
        raise MalformedInput(name, "point is not on the BN254 G2 twist curve")
    if not g2_in_subgroup(p):
        raise MalformedInput(name, "point is not in the order-r subgroup of G2")


def check_verifying_key(vk: VerifyingKey) -> None:
    check_g1(vk.alpha1, "vk.alpha1")
    check_g2(vk.beta2, "vk.beta2")
    check_g2(vk.gamma2, "vk.gamma2")
    check_g2(vk.delta2, "vk.delta2")
    if len(vk.ic) < 1:
        raise MalformedInput("vk.IC", "needs at least one point")
    for i, p in enumerate(vk.ic):
        check_g1(p, f"vk.IC[{i}]", allow_infinity=True)


def check_proof(proof: Proof) -> None:
    check_g1(proof.a, "proof.pi_a")
    check_g2(proof.b, "proof.pi_b")
    check_g1(proof.c, "proof.pi_c")


def check_public(vk: VerifyingKey, public: Sequence[int]) -> None:
    if len(public) != vk.n_public:
        raise MalformedInput("public", f"expected {vk.n_public} public signals, got {len(public)}")
    for i, x in enumerate(public):
        if not isinstance(x, int) or isinstance(x, bool):
            raise MalformedInput(f"public[{i}]", "must be an integer")
        if not 0 <= x < R:
            raise MalformedInput(f"public[{i}]", "must be in [0, r): values >= the field modulus alias")


@functools.lru_cache(maxsize=32)
def _prepared_key_g2(beta2: G2Affine, gamma2: G2Affine, delta2: G2Affine) -> tuple[PreparedG2, PreparedG2, PreparedG2]:
    """The Miller-loop lines of a verifying key's fixed G2 points, computed once per key (by value)."""
    return prepare_g2(beta2), prepare_g2(gamma2), prepare_g2(delta2)


def verify(vk: VerifyingKey, proof: Proof, public: Sequence[int], validate_key: bool = True) -> bool:
    """True iff the proof is valid for these public signals. Raises MalformedInput for bad encodings."""
    if validate_key:
        check_verifying_key(vk)
    check_proof(proof)
    check_public(vk, public)
    acc = g1_to_jac(vk.ic[0])
    for x, p in zip(public, vk.ic[1:], strict=True):
        if x:
            acc = g1_add(acc, g1_mul_jac(g1_to_jac(p), x))
    vk_x = g1_to_affine(acc)
    beta2, gamma2, delta2 = _prepared_key_g2(vk.beta2, vk.gamma2, vk.delta2)
    # e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) == 1; only B's lines are computed here
    return pairing_product_is_one(
        [
            (g1_neg(proof.a), proof.b),
            (vk.alpha1, beta2),
            (vk_x, gamma2),
            (proof.c, delta2),
        ]
    )

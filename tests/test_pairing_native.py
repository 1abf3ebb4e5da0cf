"""The C kernel's optimal-ate multi-pairing (circuits/_native/pairing.c) against py_ecc: exact GT values,
bilinearity as product checks, prepared (precomputed-line) G2 points, points at infinity, and the
Groth16 verifier's use of prepared verifying-key lines."""

from __future__ import annotations

import random

import pytest

from zkmargin.circuits import msm_native
from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    G1Affine,
    G2Affine,
    PreparedG2,
    g1_mul,
    g1_neg,
    g2_mul,
    pairing_product_is_one,
    pairing_product_value,
    prepare_g2,
    twist_point_outside_subgroup,
)
from zkmargin.circuits.field import R
from zkmargin.verifier import groth16
from zkmargin.verifier.types import Proof, VerifyingKey

pytestmark = [
    pytest.mark.skipif(msm_native._bn254 is None, reason="C kernel not built"),
    pytest.mark.usefixtures("fp_variant_each"),  # every test once per Fp multiplication variant
]

Pairs = list[tuple[G1Affine, G2Affine | PreparedG2]]


def _reference(pairs: Pairs, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, tuple[int, ...]]:
    with monkeypatch.context() as m:
        m.setenv("ZKMARGIN_PURE_PYTHON", "1")
        return pairing_product_is_one(pairs), pairing_product_value(pairs)


def test_single_pairing_value_equals_py_ecc(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(11)
    p, q = g1_mul(G1_GEN, rnd.randrange(1, R)), g2_mul(G2_GEN, rnd.randrange(1, R))
    value = pairing_product_value([(p, q)])
    assert value == _reference([(p, q)], monkeypatch)[1]
    assert value == pairing_product_value([(p, prepare_g2(q))])
    assert value != tuple([1] + [0] * 11)


@pytest.mark.parametrize("seed", [1, 2])
def test_bilinearity_as_product_checks(seed: int) -> None:
    rnd = random.Random(seed)
    p, q = g1_mul(G1_GEN, rnd.randrange(1, R)), g2_mul(G2_GEN, rnd.randrange(1, R))
    a = rnd.randrange(2, R)
    # e(aP, Q) = e(P, aQ)
    assert pairing_product_is_one([(g1_mul(p, a), q), (g1_neg(p), g2_mul(q, a))])
    assert not pairing_product_is_one([(g1_mul(p, a), q), (g1_neg(p), g2_mul(q, a + 1))])
    assert pairing_product_is_one([(g1_mul(p, a), prepare_g2(q)), (g1_neg(p), prepare_g2(g2_mul(q, a)))])
    # e(aP, bQ) = e(abP, Q), and e(P, Q)^r = 1 through scalars that wrap around r
    b = rnd.randrange(2, R)
    assert pairing_product_is_one([(g1_mul(p, a), g2_mul(q, b)), (g1_neg(g1_mul(p, a * b % R)), q)])
    assert pairing_product_is_one([(g1_mul(p, R - 1), q), (p, q)])
    assert not pairing_product_is_one([(p, q)])


@pytest.mark.parametrize("n_pairs", [3, 4, 5])
def test_multi_pair_products_agree_with_py_ecc(n_pairs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(100 + n_pairs)
    xs = [rnd.randrange(1, R) for _ in range(n_pairs)]
    ys = [rnd.randrange(1, R) for _ in range(n_pairs - 1)]
    # choose the last G2 scalar so that sum x_i y_i = 0: the product is one
    ys.append(-sum(x * y for x, y in zip(xs, ys, strict=False)) * pow(xs[-1], -1, R) % R)
    good: Pairs = [(g1_mul(G1_GEN, x), g2_mul(G2_GEN, y)) for x, y in zip(xs, ys, strict=True)]
    bad = list(good)
    bad[1] = (g1_mul(G1_GEN, xs[1] + 1), bad[1][1])
    for pairs, expected in ((good, True), (bad, False)):
        ok, value = _reference(pairs, monkeypatch)
        assert ok is expected
        assert pairing_product_is_one(pairs) is expected
        assert pairing_product_value(pairs) == value
        # prepared entries, alone or mixed with fresh ones, change nothing
        mixed: Pairs = [(g1, prepare_g2(g2) if i % 2 else g2) for i, (g1, g2) in enumerate(pairs)]
        prepared: Pairs = [(g1, prepare_g2(g2)) for g1, g2 in pairs]  # type: ignore[arg-type]
        assert pairing_product_is_one(mixed) is pairing_product_is_one(prepared) is expected
        assert pairing_product_value(mixed) == pairing_product_value(prepared) == value


def test_points_at_infinity_are_neutral(monkeypatch: pytest.MonkeyPatch) -> None:
    p, q = g1_mul(G1_GEN, 5), g2_mul(G2_GEN, 7)
    one = tuple([1] + [0] * 11)
    assert pairing_product_is_one([])
    assert pairing_product_is_one([(None, q), (p, None), (None, None), (p, prepare_g2(None))])
    assert pairing_product_value([(None, q), (p, prepare_g2(None))]) == one
    pairs: Pairs = [(p, q), (None, G2_GEN), (g1_neg(g1_mul(G1_GEN, 35)), G2_GEN), (G1_GEN, None)]
    assert pairing_product_is_one(pairs)
    assert _reference(pairs, monkeypatch)[0]
    assert prepare_g2(None) == PreparedG2(None, None)


def test_point_outside_g2_subgroup_matches_py_ecc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Callers must check subgroups first (the verifier does); the kernel still computes py_ecc's value."""
    q = twist_point_outside_subgroup()
    pairs: Pairs = [(g1_mul(G1_GEN, 3), q), (g1_neg(G1_GEN), g2_mul(G2_GEN, 5))]
    assert pairing_product_value(pairs) == _reference(pairs, monkeypatch)[1]


def test_prepared_point_survives_pure_python_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    q = prepare_g2(g2_mul(G2_GEN, 9))
    assert q.lines is not None
    pairs: Pairs = [(g1_mul(G1_GEN, 9), G2_GEN), (g1_neg(G1_GEN), q)]
    assert pairing_product_is_one(pairs)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    assert pairing_product_is_one(pairs)
    assert prepare_g2(G2_GEN).lines is None


def test_kernel_rejects_malformed_buffers() -> None:
    kernel = msm_native._bn254
    assert kernel is not None
    with pytest.raises(ValueError):
        kernel.pairing_check(bytes(64), [bytes(127)])
    with pytest.raises(ValueError):
        kernel.pairing_check(bytes(63), [bytes(128)])
    with pytest.raises(ValueError):
        kernel.g2_prepare(bytes(64))


def _algebraic_groth16(rnd: random.Random) -> tuple[VerifyingKey, Proof, list[int]]:
    """A key and proof satisfying the Groth16 equation by construction (known discrete logs)."""
    a, b, g, d, i0, i1, s, t = (rnd.randrange(1, R) for _ in range(8))
    x = rnd.randrange(R)
    c = (s * t - a * b - (i0 + i1 * x) * g) * pow(d, -1, R) % R
    vk = VerifyingKey(
        g1_mul(G1_GEN, a), g2_mul(G2_GEN, b), g2_mul(G2_GEN, g), g2_mul(G2_GEN, d),
        (g1_mul(G1_GEN, i0), g1_mul(G1_GEN, i1)),
    )  # fmt: skip
    return vk, Proof(g1_mul(G1_GEN, s), g2_mul(G2_GEN, t), g1_mul(G1_GEN, c)), [x]


def test_verifier_prepares_key_lines_once(monkeypatch: pytest.MonkeyPatch) -> None:
    vk, proof, public = _algebraic_groth16(random.Random(5))
    groth16._prepared_key_g2.cache_clear()
    assert groth16.verify(vk, proof, public)
    assert not groth16.verify(vk, proof, [(public[0] + 1) % R])
    assert not groth16.verify(vk, Proof(proof.a, proof.b, g1_neg(proof.c)), public)
    info = groth16._prepared_key_g2.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    assert groth16.verify(vk, proof, public)
    assert not groth16.verify(vk, proof, [(public[0] + 1) % R])


def test_g2_subgroup_check_matches_python_reference() -> None:
    from zkmargin.circuits.curve import G2_GEN, g2_in_subgroup, g2_in_subgroup_py, g2_mul, twist_point_outside_subgroup

    rnd = random.Random(17)
    inside = [G2_GEN, None] + [g2_mul(G2_GEN, rnd.randrange(1, R)) for _ in range(4)]
    outside = twist_point_outside_subgroup()
    for p in [*inside, outside]:
        assert g2_in_subgroup(p) == g2_in_subgroup_py(p)
    assert all(g2_in_subgroup(p) for p in inside)
    assert not g2_in_subgroup(outside)
    with pytest.raises(ValueError):
        msm_native._bn254.g2_in_subgroup(b"\0" * 127)

"""The prover's arithmetic kernels against plain definitions: MSM vs a sum of scalar
multiplications (including duplicates, zeros, infinity and scalars >= r), NTT vs direct evaluation."""

from __future__ import annotations

import random

import pytest

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    g1_add_aff,
    g1_mul,
    g2_add_aff,
    g2_mul,
)
from zkmargin.circuits.field import R, root_of_unity
from zkmargin.circuits.msm import msm_g1, msm_g2, signed_digits
from zkmargin.circuits.ntt import coset_ntt, intt, ntt


def _naive_g1(points, scalars):  # type: ignore[no-untyped-def]
    acc = None
    for p, k in zip(points, scalars, strict=True):
        acc = g1_add_aff(acc, g1_mul(p, k) if p is not None else None)
    return acc


def _naive_g2(points, scalars):  # type: ignore[no-untyped-def]
    acc = None
    for p, k in zip(points, scalars, strict=True):
        acc = g2_add_aff(acc, g2_mul(p, k) if p is not None else None)
    return acc


@pytest.mark.parametrize("n", [1, 2, 7, 40, 300])
def test_msm_g1_matches_naive(n: int) -> None:
    rnd = random.Random(n)
    pts = [g1_mul(G1_GEN, rnd.randrange(1, R)) for _ in range(n)]
    ks = [rnd.randrange(R) for _ in range(n)]
    if n > 3:
        pts[1] = pts[0]  # a repeated point lands in the same bucket: exercises doubling in addition
        ks[1] = ks[0]
        pts[2] = None  # infinity
        ks[3] = 0
        ks[-1] = R + 5  # not reduced by the caller
    assert msm_g1(pts, ks) == _naive_g1(pts, [k % R for k in ks])


@pytest.mark.parametrize("n", [1, 5, 33])
def test_msm_g2_matches_naive(n: int) -> None:
    rnd = random.Random(100 + n)
    pts = [g2_mul(G2_GEN, rnd.randrange(1, R)) for _ in range(n)]
    ks = [rnd.randrange(R) for _ in range(n)]
    if n > 2:
        pts[1], ks[1] = pts[0], ks[0]
    assert msm_g2(pts, ks) == _naive_g2(pts, ks)


def test_msm_cancellation_gives_infinity() -> None:
    p = g1_mul(G1_GEN, 12345)
    assert msm_g1([p, p], [3, R - 3]) is None


@pytest.mark.parametrize("c", [3, 4, 7, 13])
def test_signed_digits_recompose(c: int) -> None:
    rnd = random.Random(c)
    n_windows = (254 + c - 1) // c + 1
    for k in [0, 1, R - 1, *(rnd.randrange(R) for _ in range(20))]:
        d = signed_digits(k, c, n_windows)
        assert all(-(1 << (c - 1)) <= x < (1 << (c - 1)) for x in d)
        assert sum(x << (c * i) for i, x in enumerate(d)) == k


@pytest.mark.parametrize("log_n", [1, 3, 6])
def test_ntt_is_evaluation(log_n: int) -> None:
    n = 1 << log_n
    rnd = random.Random(log_n)
    coeffs = [rnd.randrange(R) for _ in range(n)]
    w = root_of_unity(log_n)
    direct = [sum(c * pow(w, i * j, R) for j, c in enumerate(coeffs)) % R for i in range(n)]
    assert [int(x) for x in ntt(coeffs, log_n)] == direct
    assert [int(x) for x in intt(direct, log_n)] == coeffs
    g = root_of_unity(log_n + 1)
    on_coset = [sum(c * pow(g * pow(w, i, R), j, R) for j, c in enumerate(coeffs)) % R for i in range(n)]
    assert [int(x) for x in coset_ntt(coeffs, log_n, g)] == on_coset


def test_ntt_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="expected 8"):
        ntt([1, 2, 3], 3)

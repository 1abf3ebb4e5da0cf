"""Multi-scalar multiplication (Pippenger's bucket method with signed-digit windows), G1 and G2.

Signed digits in [-2^(c-1), 2^(c-1)] halve the bucket count; a negative digit adds the negated
point, which is free in affine form. This is the plain reference path: faster kernels must agree
with it (tests compare them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from zkmargin.circuits.curve import (
    JAC1_INF,
    JAC2_INF,
    G1Affine,
    G2Affine,
    Jac1,
    Jac2,
    f2_neg,
    g1_add,
    g1_add_affine,
    g1_double,
    g1_to_affine,
    g2_add,
    g2_add_affine,
    g2_double,
    g2_to_affine,
)
from zkmargin.circuits.field import P as _Q
from zkmargin.circuits.field import R

SCALAR_BITS = 254


def window_size(n: int) -> int:
    """Cost ~ (254/c) * (n + 2^(c-1)): the optimum is near log2(n) - 2 for signed digits."""
    if n < 32:
        return 3
    return max(3, min(16, n.bit_length() - 2))


def signed_digits(k: int, c: int, n_windows: int) -> list[int]:
    """Base-2^c digits of k in [-2^(c-1), 2^(c-1)), least significant first (one extra window for carry)."""
    half = 1 << (c - 1)
    full = 1 << c
    mask = full - 1
    out = [0] * n_windows
    for i in range(n_windows):
        d = k & mask
        k >>= c
        if d >= half:
            d -= full
            k += 1
        out[i] = d
    return out


def _pippenger(
    points: Sequence[Any],
    scalars: Sequence[int],
    add_point: Callable[[Any, Any], Any],
    neg_point: Callable[[Any], Any],
    add: Callable[[Any, Any], Any],
    double: Callable[[Any], Any],
    inf: Any,
    c: int | None,
) -> Any:
    pairs = [(p, k % R) for p, k in zip(points, scalars, strict=True) if p is not None and k % R]
    if not pairs:
        return inf
    if c is None:
        c = window_size(len(pairs))
    n_windows = (SCALAR_BITS + c - 1) // c + 1
    half = 1 << (c - 1)
    digits = [signed_digits(k, c, n_windows) for _, k in pairs]
    pos = [p for p, _ in pairs]
    neg = [neg_point(p) for p in pos]
    total = inf
    for w in range(n_windows - 1, -1, -1):
        for _ in range(c):
            total = double(total)
        buckets = [inf] * (half + 1)
        for i, dig in enumerate(digits):
            d = dig[w]
            if d > 0:
                buckets[d] = add_point(buckets[d], pos[i])
            elif d < 0:
                buckets[-d] = add_point(buckets[-d], neg[i])
        # sum_j j * B_j via running sums
        running = inf
        acc = inf
        for j in range(half, 0, -1):
            running = add(running, buckets[j])
            acc = add(acc, running)
        total = add(total, acc)
    return total


def msm_g1_jac(points: Sequence[G1Affine], scalars: Sequence[int], c: int | None = None) -> Jac1:
    return _pippenger(
        points,
        scalars,
        g1_add_affine,
        lambda p: (p[0], (-p[1]) % _Q),
        g1_add,
        g1_double,
        JAC1_INF,
        c,
    )


def msm_g1(points: Sequence[G1Affine], scalars: Sequence[int], c: int | None = None) -> G1Affine:
    return g1_to_affine(msm_g1_jac(points, scalars, c))


def msm_g2_jac(points: Sequence[G2Affine], scalars: Sequence[int], c: int | None = None) -> Jac2:
    return _pippenger(
        points,
        scalars,
        g2_add_affine,
        lambda p: (p[0], f2_neg(p[1])),
        g2_add,
        g2_double,
        JAC2_INF,
        c,
    )


def msm_g2(points: Sequence[G2Affine], scalars: Sequence[int], c: int | None = None) -> G2Affine:
    return g2_to_affine(msm_g2_jac(points, scalars, c))

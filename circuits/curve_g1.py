"""BN254 G1 arithmetic over plain (gmpy2) integers: Jacobian add/double, scalar and fixed-base multiplication.

Split from ``curve.py`` (which re-exports every name here) because G1 is what setup, proving and MSM spend their
time in, and it needs nothing of Fq2; G2 and its Fq2 tower are in ``curve_g2.py``, the pairing checks stay in
``curve.py``. Points are affine ``(x, y)`` or ``None`` (infinity); Jacobian ``(X, Y, Z)`` with ``Z == 0`` for
infinity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gmpy2
from gmpy2 import mpz

from .field import P, R, batch_inverse

_P = mpz(P)

G1Affine = tuple[int, int] | None
Jac1 = tuple[Any, Any, Any]

G1_GEN: tuple[int, int] = (1, 2)
B1 = 3

JAC1_INF: Jac1 = (mpz(1), mpz(1), mpz(0))


def g1_is_on_curve(p: G1Affine) -> bool:
    if p is None:
        return True
    x, y = p
    return (y * y - x * x * x - B1) % P == 0


def g1_to_jac(p: G1Affine) -> Jac1:
    if p is None:
        return JAC1_INF
    return (mpz(p[0]), mpz(p[1]), mpz(1))


def g1_double(p: Jac1) -> Jac1:
    X, Y, Z = p
    if Z == 0 or Y == 0:
        return JAC1_INF
    A = X * X % _P
    B = Y * Y % _P
    C = B * B % _P
    D = 2 * ((X + B) * (X + B) - A - C) % _P
    E = 3 * A % _P
    X3 = (E * E - 2 * D) % _P
    return (X3, (E * (D - X3) - 8 * C) % _P, 2 * Y * Z % _P)


def g1_add(p: Jac1, q: Jac1) -> Jac1:
    X1, Y1, Z1 = p
    X2, Y2, Z2 = q
    if Z1 == 0:
        return q
    if Z2 == 0:
        return p
    Z1Z1 = Z1 * Z1 % _P
    Z2Z2 = Z2 * Z2 % _P
    U1 = X1 * Z2Z2 % _P
    U2 = X2 * Z1Z1 % _P
    S1 = Y1 * Z2 * Z2Z2 % _P
    S2 = Y2 * Z1 * Z1Z1 % _P
    H = (U2 - U1) % _P
    r = (S2 - S1) % _P
    if H == 0:
        return g1_double(p) if r == 0 else JAC1_INF
    I = 4 * H * H % _P
    J = H * I % _P
    r = 2 * r
    V = U1 * I % _P
    X3 = (r * r - J - 2 * V) % _P
    Y3 = (r * (V - X3) - 2 * S1 * J) % _P
    Z3 = ((Z1 + Z2) * (Z1 + Z2) - Z1Z1 - Z2Z2) * H % _P
    return (X3, Y3, Z3)


def g1_add_affine(p: Jac1, q: tuple[int, int]) -> Jac1:
    """Jacobian + affine (mixed addition): the inner loop of MSM bucket accumulation."""
    X1, Y1, Z1 = p
    if Z1 == 0:
        return (mpz(q[0]), mpz(q[1]), mpz(1))
    Z1Z1 = Z1 * Z1 % _P
    U2 = q[0] * Z1Z1 % _P
    S2 = q[1] * Z1 * Z1Z1 % _P
    H = (U2 - X1) % _P
    r = (S2 - Y1) % _P
    if H == 0:
        return g1_double(p) if r == 0 else JAC1_INF
    HH = H * H % _P
    I = 4 * HH % _P
    J = H * I % _P
    r = 2 * r
    V = X1 * I % _P
    X3 = (r * r - J - 2 * V) % _P
    return (X3, (r * (V - X3) - 2 * Y1 * J) % _P, ((Z1 + H) * (Z1 + H) - Z1Z1 - HH) % _P)


def g1_neg_jac(p: Jac1) -> Jac1:
    return (p[0], -p[1] % _P, p[2])


def g1_neg(p: G1Affine) -> G1Affine:
    return None if p is None else (p[0], -p[1] % P)


def g1_to_affine(p: Jac1) -> G1Affine:
    X, Y, Z = p
    if Z == 0:
        return None
    zi = gmpy2.invert(Z, _P)
    zi2 = zi * zi % _P
    return (int(X * zi2 % _P), int(Y * zi2 * zi % _P))


def g1_batch_to_affine(points: Sequence[Jac1]) -> list[G1Affine]:
    invs = batch_inverse([p[2] for p in points], P)
    out: list[G1Affine] = []
    for (X, Y, Z), zi in zip(points, invs, strict=True):
        if Z == 0:
            out.append(None)
            continue
        zi2 = zi * zi % _P
        out.append((int(X * zi2 % _P), int(Y * zi2 * zi % _P)))
    return out


def g1_mul_jac(p: Jac1, k: int) -> Jac1:
    """Variable-base scalar multiplication, width-4 NAF-free fixed window (k taken mod r)."""
    k %= R
    if k == 0 or p[2] == 0:
        return JAC1_INF
    table = [JAC1_INF, p]
    for _ in range(14):
        table.append(g1_add(table[-1], p))
    acc = JAC1_INF
    for shift in range((k.bit_length() + 3) // 4 * 4 - 4, -1, -4):
        acc = g1_double(g1_double(g1_double(g1_double(acc))))
        d = (k >> shift) & 15
        if d:
            acc = g1_add(acc, table[d])
    return acc


def g1_mul(p: G1Affine, k: int) -> G1Affine:
    return g1_to_affine(g1_mul_jac(g1_to_jac(p), k))


def g1_add_aff(p: G1Affine, q: G1Affine) -> G1Affine:
    return g1_to_affine(g1_add(g1_to_jac(p), g1_to_jac(q)))


def g1_eq(p: G1Affine, q: G1Affine) -> bool:
    return p == q


class FixedBaseG1:
    """Precomputed multiples ``d * 2^(w*i) * P`` so that a scalar mul is ~254/w mixed additions.

    Trusted setup multiplies the generator by hundreds of thousands of scalars; this makes each
    one about ten times cheaper than double-and-add.
    """

    def __init__(self, base: tuple[int, int], window: int = 8) -> None:
        self.window = window
        self.n_windows = (R.bit_length() + window - 1) // window
        rows: list[list[tuple[int, int]]] = []
        cur = g1_to_jac(base)
        for _ in range(self.n_windows):
            row_jac = [cur]
            for _ in range((1 << window) - 2):
                row_jac.append(g1_add(row_jac[-1], cur))
            row = g1_batch_to_affine(row_jac)
            rows.append([(mpz(a[0]), mpz(a[1])) for a in row if a is not None])
            nxt = row_jac[-1]
            cur = g1_add(nxt, cur)  # 2^w * cur
        self.rows = rows

    def mul_jac(self, k: int) -> Jac1:
        k %= R
        acc = JAC1_INF
        mask = (1 << self.window) - 1
        i = 0
        while k:
            d = k & mask
            if d:
                acc = g1_add_affine(acc, self.rows[i][d - 1])
            k >>= self.window
            i += 1
        return acc

    def mul_many(self, scalars: Sequence[int]) -> list[G1Affine]:
        return g1_batch_to_affine([self.mul_jac(k) for k in scalars])

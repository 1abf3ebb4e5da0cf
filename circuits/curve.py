"""BN254 (alt_bn128) G1 / G2 arithmetic with plain integers, plus a multi-pairing check.

Points are affine tuples ``(x, y)`` (G1, coordinates in Fq) or ``((x0, x1), (y0, y1))`` (G2, coordinates
in Fq2 = Fq[u]/(u^2 + 1), ``x = x0 + x1*u``); the point at infinity is ``None``. Internally
Jacobian coordinates ``(X, Y, Z)`` with ``Z == 0`` for infinity. The curve maths is inlined over
gmpy2 integers because it dominates setup and proving time. Pairings run in the C kernel (optimal ate,
one multi-Miller loop, one final exponentiation, optional precomputed G2 lines: see prepare_g2) and
fall back to py_ecc, imported only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2
from gmpy2 import mpz

from .field import P, R, batch_inverse

_P = mpz(P)

G1Affine = tuple[int, int] | None
Fq2 = tuple[int, int]
G2Affine = tuple[Fq2, Fq2] | None
Jac1 = tuple[Any, Any, Any]
Jac2 = tuple[Fq2, Fq2, Fq2]

G1_GEN: tuple[int, int] = (1, 2)
G2_GEN: tuple[Fq2, Fq2] = (
    (
        10857046999023057135944570762232829481370756359578518086990519993285655852781,
        11559732032986387107991004021392285783925812861821192530917403151452391805634,
    ),
    (
        8495653923123431417604973247489272438418190587263600148770280649306958101930,
        4082367875863433681332203403145435568316851327593401208105741076214120093531,
    ),
)
B1 = 3
# b2 = 3 / (9 + u)
B2: Fq2 = (
    19485874751759354771024239261021720505790618469301721065564631296452457478373,
    266929791119991161246907387137283842545076965332900288569378510910307636690,
)

JAC1_INF: Jac1 = (mpz(1), mpz(1), mpz(0))
JAC2_INF: Jac2 = ((mpz(1), mpz(0)), (mpz(1), mpz(0)), (mpz(0), mpz(0)))


# ---------------------------------------------------------------- Fq2 helpers


def f2_add(a: Fq2, b: Fq2) -> Fq2:
    return ((a[0] + b[0]) % _P, (a[1] + b[1]) % _P)


def f2_sub(a: Fq2, b: Fq2) -> Fq2:
    return ((a[0] - b[0]) % _P, (a[1] - b[1]) % _P)


def f2_mul(a: Fq2, b: Fq2) -> Fq2:
    # Karatsuba: 3 multiplications.
    t0 = a[0] * b[0]
    t1 = a[1] * b[1]
    return ((t0 - t1) % _P, ((a[0] + a[1]) * (b[0] + b[1]) - t0 - t1) % _P)


def f2_sqr(a: Fq2) -> Fq2:
    return ((a[0] + a[1]) * (a[0] - a[1]) % _P, 2 * a[0] * a[1] % _P)


def f2_scale(a: Fq2, k: int) -> Fq2:
    return (a[0] * k % _P, a[1] * k % _P)


def f2_neg(a: Fq2) -> Fq2:
    return (-a[0] % _P, -a[1] % _P)


def f2_inv(a: Fq2) -> Fq2:
    t = gmpy2.invert((a[0] * a[0] + a[1] * a[1]) % _P, _P)
    return (a[0] * t % _P, -a[1] * t % _P)


def f2_is_zero(a: Fq2) -> bool:
    return a[0] == 0 and a[1] == 0


def f2_pow(a: Fq2, e: int) -> Fq2:
    out: Fq2 = (1, 0)
    while e:
        if e & 1:
            out = f2_mul(out, a)
        a = f2_sqr(a)
        e >>= 1
    return out


def f2_sqrt(a: Fq2) -> Fq2 | None:
    """A square root in Fq2 (p = 3 mod 4: Adj and Rodriguez-Henriquez, algorithm 9), or None."""
    a1 = f2_pow(a, (P - 3) // 4)
    alpha = f2_mul(f2_sqr(a1), a)
    x0 = f2_mul(a1, a)
    x = f2_mul((0, 1), x0) if alpha == (P - 1, 0) else f2_mul(f2_pow(f2_add(alpha, (1, 0)), (P - 1) // 2), x0)
    return (int(x[0]), int(x[1])) if f2_sqr(x) == (a[0] % P, a[1] % P) else None


# ---------------------------------------------------------------- G1


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


# ---------------------------------------------------------------- G2


_F2_ONE: Fq2 = (mpz(1), mpz(0))


def g2_is_on_curve(p: G2Affine) -> bool:
    if p is None:
        return True
    x, y = p
    return f2_is_zero(f2_sub(f2_sqr(y), f2_add(f2_mul(f2_sqr(x), x), B2)))


def g2_to_jac(p: G2Affine) -> Jac2:
    if p is None:
        return JAC2_INF
    return ((mpz(p[0][0]), mpz(p[0][1])), (mpz(p[1][0]), mpz(p[1][1])), _F2_ONE)


def g2_double(p: Jac2) -> Jac2:
    X, Y, Z = p
    if f2_is_zero(Z) or f2_is_zero(Y):
        return JAC2_INF
    A = f2_sqr(X)
    B = f2_sqr(Y)
    C = f2_sqr(B)
    XB = f2_add(X, B)
    D = f2_scale(f2_sub(f2_sub(f2_sqr(XB), A), C), 2)
    E = f2_scale(A, 3)
    X3 = f2_sub(f2_sqr(E), f2_scale(D, 2))
    Y3 = f2_sub(f2_mul(E, f2_sub(D, X3)), f2_scale(C, 8))
    return (X3, Y3, f2_scale(f2_mul(Y, Z), 2))


def g2_add(p: Jac2, q: Jac2) -> Jac2:
    X1, Y1, Z1 = p
    X2, Y2, Z2 = q
    if f2_is_zero(Z1):
        return q
    if f2_is_zero(Z2):
        return p
    Z1Z1 = f2_sqr(Z1)
    Z2Z2 = f2_sqr(Z2)
    U1 = f2_mul(X1, Z2Z2)
    U2 = f2_mul(X2, Z1Z1)
    S1 = f2_mul(f2_mul(Y1, Z2), Z2Z2)
    S2 = f2_mul(f2_mul(Y2, Z1), Z1Z1)
    H = f2_sub(U2, U1)
    r = f2_sub(S2, S1)
    if f2_is_zero(H):
        return g2_double(p) if f2_is_zero(r) else JAC2_INF
    I = f2_scale(f2_sqr(H), 4)
    J = f2_mul(H, I)
    r = f2_scale(r, 2)
    V = f2_mul(U1, I)
    X3 = f2_sub(f2_sub(f2_sqr(r), J), f2_scale(V, 2))
    Y3 = f2_sub(f2_mul(r, f2_sub(V, X3)), f2_scale(f2_mul(S1, J), 2))
    Z3 = f2_mul(f2_sub(f2_sub(f2_sqr(f2_add(Z1, Z2)), Z1Z1), Z2Z2), H)
    return (X3, Y3, Z3)


def g2_add_affine(p: Jac2, q: tuple[Fq2, Fq2]) -> Jac2:
    """Jacobian + affine (mixed addition) in G2: the MSM bucket step, ~30% cheaper than g2_add."""
    X1, Y1, Z1 = p
    if f2_is_zero(Z1):
        return (q[0], q[1], _F2_ONE)
    Z1Z1 = f2_sqr(Z1)
    U2 = f2_mul(q[0], Z1Z1)
    S2 = f2_mul(q[1], f2_mul(Z1, Z1Z1))
    H = f2_sub(U2, X1)
    r = f2_sub(S2, Y1)
    if f2_is_zero(H):
        return g2_double(p) if f2_is_zero(r) else JAC2_INF
    HH = f2_sqr(H)
    I = f2_scale(HH, 4)
    J = f2_mul(H, I)
    r = f2_scale(r, 2)
    V = f2_mul(X1, I)
    X3 = f2_sub(f2_sub(f2_sqr(r), J), f2_scale(V, 2))
    Y3 = f2_sub(f2_mul(r, f2_sub(V, X3)), f2_scale(f2_mul(Y1, J), 2))
    Z3 = f2_sub(f2_sub(f2_sqr(f2_add(Z1, H)), Z1Z1), HH)
    return (X3, Y3, Z3)


def g2_neg(p: G2Affine) -> G2Affine:
    return None if p is None else (p[0], f2_neg(p[1]))


def g2_neg_jac(p: Jac2) -> Jac2:
    return (p[0], f2_neg(p[1]), p[2])


def g2_to_affine(p: Jac2) -> G2Affine:
    X, Y, Z = p
    if f2_is_zero(Z):
        return None
    zi = f2_inv(Z)
    zi2 = f2_sqr(zi)
    x = f2_mul(X, zi2)
    y = f2_mul(Y, f2_mul(zi2, zi))
    return ((int(x[0]), int(x[1])), (int(y[0]), int(y[1])))


def g2_batch_to_affine(points: Sequence[Jac2]) -> list[G2Affine]:
    # Batch-invert the Fq2 norms, then finish each inverse with its conjugate.
    norms = [(Z[0] * Z[0] + Z[1] * Z[1]) % _P for _, _, Z in points]
    ninv = batch_inverse(norms, P)
    out: list[G2Affine] = []
    for (X, Y, Z), t in zip(points, ninv, strict=True):
        if f2_is_zero(Z):
            out.append(None)
            continue
        zi = (Z[0] * t % _P, -Z[1] * t % _P)
        zi2 = f2_sqr(zi)
        x = f2_mul(X, zi2)
        y = f2_mul(Y, f2_mul(zi2, zi))
        out.append(((int(x[0]), int(x[1])), (int(y[0]), int(y[1]))))
    return out


def g2_mul_jac(p: Jac2, k: int) -> Jac2:
    k %= R
    if k == 0 or f2_is_zero(p[2]):
        return JAC2_INF
    table = [JAC2_INF, p]
    for _ in range(14):
        table.append(g2_add(table[-1], p))
    acc = JAC2_INF
    for shift in range((k.bit_length() + 3) // 4 * 4 - 4, -1, -4):
        acc = g2_double(g2_double(g2_double(g2_double(acc))))
        d = (k >> shift) & 15
        if d:
            acc = g2_add(acc, table[d])
    return acc


def g2_mul(p: G2Affine, k: int) -> G2Affine:
    return g2_to_affine(g2_mul_jac(g2_to_jac(p), k))


def g2_add_aff(p: G2Affine, q: G2Affine) -> G2Affine:
    return g2_to_affine(g2_add(g2_to_jac(p), g2_to_jac(q)))


def g2_in_subgroup(p: G2Affine) -> bool:
    """G2 has a large cofactor: an on-curve point must also satisfy r*P = O (EIP-197 requires this)."""
    if p is None:
        return True
    return f2_is_zero(_g2_mul_full(g2_to_jac(p), R)[2])


def twist_point_outside_subgroup() -> tuple[Fq2, Fq2]:
    """A point on the G2 twist curve that is not in the order-r subgroup: what a forged proof uses
    against verifiers that check the curve equation only (soundness tests, tooling)."""
    for x0 in range(1, 1000):
        x: Fq2 = (x0, 1)
        y = f2_sqrt(f2_add(f2_mul(f2_sqr(x), x), B2))
        if y is not None and not g2_in_subgroup((x, y)):
            return (x, y)
    raise AssertionError("no twist point outside the subgroup found")


def _g2_mul_full(p: Jac2, k: int) -> Jac2:
    # Like g2_mul_jac but without reducing k mod r (needed for the subgroup check).
    acc = JAC2_INF
    for bit in bin(k)[2:]:
        acc = g2_double(acc)
        if bit == "1":
            acc = g2_add(acc, p)
    return acc


# ---------------------------------------------------------------- fixed-base tables


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


class FixedBaseG2:
    """G2 counterpart of FixedBaseG1 (Jacobian rows: G2 mixed addition gains little in Python)."""

    def __init__(self, base: tuple[Fq2, Fq2], window: int = 6) -> None:
        self.window = window
        self.n_windows = (R.bit_length() + window - 1) // window
        rows: list[list[Jac2]] = []
        cur = g2_to_jac(base)
        for _ in range(self.n_windows):
            row = [cur]
            for _ in range((1 << window) - 2):
                row.append(g2_add(row[-1], cur))
            aff = g2_batch_to_affine(row)
            rows.append([g2_to_jac(a) for a in aff])
            cur = g2_add(row[-1], cur)
        self.rows = rows

    def mul_jac(self, k: int) -> Jac2:
        k %= R
        acc = JAC2_INF
        mask = (1 << self.window) - 1
        i = 0
        while k:
            d = k & mask
            if d:
                acc = g2_add(acc, self.rows[i][d - 1])
            k >>= self.window
            i += 1
        return acc

    def mul_many(self, scalars: Sequence[int]) -> list[G2Affine]:
        return g2_batch_to_affine([self.mul_jac(k) for k in scalars])


# ---------------------------------------------------------------- pairing


@dataclass(frozen=True)
class PreparedG2:
    """A G2 point with the line coefficients of its Miller loop precomputed by the C kernel.

    Pairing checks against a fixed G2 point (a verifying key's beta2, gamma2, delta2) replay the
    lines instead of recomputing them. ``lines`` is None without the kernel; ``point`` always
    serves the pure-Python path.
    """

    point: G2Affine
    lines: bytes | None


def _kernel() -> Any:
    from . import msm_native

    return msm_native._bn254 if msm_native.available() else None


def _g2_bytes(p: tuple[Fq2, Fq2]) -> bytes:
    return b"".join(int(c).to_bytes(32, "little") for c in (p[0][0], p[0][1], p[1][0], p[1][1]))


def prepare_g2(point: G2Affine) -> PreparedG2:
    """Precompute the Miller-loop lines of a G2 point (in the kernel; no validation here)."""
    kernel = _kernel()
    if kernel is None or point is None:
        return PreparedG2(point, None)
    return PreparedG2(point, kernel.g2_prepare(_g2_bytes(point)))


def _to_py_ecc_g1(p: G1Affine) -> Any:
    from py_ecc.fields import optimized_bn128_FQ as _FQ

    if p is None:
        return (_FQ(1), _FQ(1), _FQ(0))
    return (_FQ(int(p[0])), _FQ(int(p[1])), _FQ(1))


def _to_py_ecc_g2(p: G2Affine) -> Any:
    from py_ecc.fields import optimized_bn128_FQ2 as _FQ2

    if p is None:
        return (_FQ2([1, 0]), _FQ2([1, 0]), _FQ2([0, 0]))
    (x0, x1), (y0, y1) = p
    return (_FQ2([int(x0), int(x1)]), _FQ2([int(y0), int(y1)]), _FQ2([1, 0]))


def _kernel_args(pairs: Sequence[tuple[G1Affine, G2Affine | PreparedG2]]) -> tuple[bytes, list[bytes]]:
    g1s: list[bytes] = []
    g2s: list[bytes] = []
    for g1, g2 in pairs:
        q = g2.point if isinstance(g2, PreparedG2) else g2
        if g1 is None or q is None:
            continue  # e(O, Q) = e(P, O) = 1
        g1s.append(int(g1[0]).to_bytes(32, "little") + int(g1[1]).to_bytes(32, "little"))
        g2s.append(g2.lines if isinstance(g2, PreparedG2) and g2.lines is not None else _g2_bytes(q))
    return b"".join(g1s), g2s


def pairing_product_is_one(pairs: Sequence[tuple[G1Affine, G2Affine | PreparedG2]]) -> bool:
    """True iff prod e(P_i, Q_i) == 1: one shared Miller loop for all pairs, one final exponentiation.

    A G2 entry is a point or a :class:`PreparedG2` (its lines are replayed). Uses the C kernel when
    built (compared value for value with py_ecc in the tests), py_ecc otherwise;
    ZKMARGIN_PURE_PYTHON=1 forces py_ecc.
    """
    kernel = _kernel()
    if kernel is not None:
        return bool(kernel.pairing_check(*_kernel_args(pairs)))
    return _pairing_product_py(pairs)


def pairing_product_value(pairs: Sequence[tuple[G1Affine, G2Affine | PreparedG2]]) -> tuple[int, ...]:
    """prod e(P_i, Q_i) as py_ecc's 12 Fq12 coefficients (kernel when available, else py_ecc): for tests."""
    kernel = _kernel()
    if kernel is not None:
        v = kernel.pairing_value(*_kernel_args(pairs))
        return tuple(int.from_bytes(v[32 * i : 32 * i + 32], "little") for i in range(12))
    return tuple(int(c) for c in _pairing_product_fq12(pairs).coeffs)


def _pairing_product_fq12(pairs: Sequence[tuple[G1Affine, G2Affine | PreparedG2]]) -> Any:
    from py_ecc.fields import optimized_bn128_FQ12 as _FQ12
    from py_ecc.optimized_bn128 import final_exponentiate as _final_exp
    from py_ecc.optimized_bn128 import pairing as _pairing

    acc = _FQ12.one()
    for g1, g2 in pairs:
        q = g2.point if isinstance(g2, PreparedG2) else g2
        if g1 is None or q is None:
            continue
        acc = acc * _pairing(_to_py_ecc_g2(q), _to_py_ecc_g1(g1), final_exponentiate=False)
    return _final_exp(acc)


def _pairing_product_py(pairs: Sequence[tuple[G1Affine, G2Affine | PreparedG2]]) -> bool:
    from py_ecc.fields import optimized_bn128_FQ12 as _FQ12

    return bool(_pairing_product_fq12(pairs) == _FQ12.one())

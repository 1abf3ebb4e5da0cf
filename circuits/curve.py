"""BN254 (alt_bn128): the multi-pairing check, and the one import path for all the curve arithmetic.

Points are affine tuples ``(x, y)`` (G1, coordinates in Fq) or ``((x0, x1), (y0, y1))`` (G2, coordinates
in Fq2 = Fq[u]/(u^2 + 1), ``x = x0 + x1*u``); the point at infinity is ``None``. Internally
Jacobian coordinates ``(X, Y, Z)`` with ``Z == 0`` for infinity. The curve maths is inlined over
gmpy2 integers because it dominates setup and proving time. Pairings run in the C kernel (optimal ate,
one multi-Miller loop, one final exponentiation, optional precomputed G2 lines: see prepare_g2) and
fall back to py_ecc, imported only then.

Where the split is: G1 arithmetic is in ``curve_g1.py``, Fq2 and G2 arithmetic in ``curve_g2.py`` (the two
groups share no code); this module keeps the pairing (which needs both) and re-exports every name of the
other two, so ``zkmargin.circuits.curve`` stays the import path callers use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .curve_g1 import (
    B1,
    G1_GEN,
    JAC1_INF,
    FixedBaseG1,
    G1Affine,
    Jac1,
    g1_add,
    g1_add_aff,
    g1_add_affine,
    g1_batch_to_affine,
    g1_double,
    g1_eq,
    g1_is_on_curve,
    g1_mul,
    g1_mul_jac,
    g1_neg,
    g1_neg_jac,
    g1_to_affine,
    g1_to_jac,
)
from .curve_g2 import (
    B2,
    G2_GEN,
    JAC2_INF,
    FixedBaseG2,
    Fq2,
    G2Affine,
    Jac2,
    f2_add,
    f2_inv,
    f2_is_zero,
    f2_mul,
    f2_neg,
    f2_pow,
    f2_scale,
    f2_sqr,
    f2_sqrt,
    f2_sub,
    g2_add,
    g2_add_aff,
    g2_add_affine,
    g2_batch_to_affine,
    g2_double,
    g2_is_on_curve,
    g2_mul,
    g2_mul_jac,
    g2_neg,
    g2_neg_jac,
    g2_to_affine,
    g2_to_jac,
    twist_point_outside_subgroup,
)
from .curve_g2 import (
    g2_in_subgroup as g2_in_subgroup_py,
)

__all__ = [
    "B1",
    "B2",
    "G1_GEN",
    "G2_GEN",
    "JAC1_INF",
    "JAC2_INF",
    "FixedBaseG1",
    "FixedBaseG2",
    "Fq2",
    "G1Affine",
    "G2Affine",
    "Jac1",
    "Jac2",
    "PreparedG2",
    "f2_add",
    "f2_inv",
    "f2_is_zero",
    "f2_mul",
    "f2_neg",
    "f2_pow",
    "f2_scale",
    "f2_sqr",
    "f2_sqrt",
    "f2_sub",
    "g1_add",
    "g1_add_aff",
    "g1_add_affine",
    "g1_batch_to_affine",
    "g1_double",
    "g1_eq",
    "g1_is_on_curve",
    "g1_mul",
    "g1_mul_jac",
    "g1_neg",
    "g1_neg_jac",
    "g1_to_affine",
    "g1_to_jac",
    "g2_add",
    "g2_add_aff",
    "g2_add_affine",
    "g2_batch_to_affine",
    "g2_double",
    "g2_in_subgroup",
    "g2_in_subgroup_py",
    "g2_is_on_curve",
    "g2_mul",
    "g2_mul_jac",
    "g2_neg",
    "g2_neg_jac",
    "g2_to_affine",
    "g2_to_jac",
    "pairing_product_is_one",
    "pairing_product_value",
    "prepare_g2",
    "twist_point_outside_subgroup",
]


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


def g2_in_subgroup(p: G2Affine) -> bool:
    """r*P == O for an on-curve G2 point: in the C kernel when available (~0.17 ms vs ~1.9 ms), else
    curve_g2's pure-Python double-and-add (g2_in_subgroup_py, the reference the tests compare with)."""
    kernel = _kernel()
    if kernel is None or p is None:
        return g2_in_subgroup_py(p)
    return bool(kernel.g2_in_subgroup(_g2_bytes(p)))


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

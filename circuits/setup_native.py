"""Bridge to the C kernel's development-setup routines (circuits/_native/setup.c).

A dev setup knows its secrets, so every key point is ``scalar * generator``; the scalars (Lagrange
basis at tau, QAP columns at tau, their mixes) and the fixed-base multiplications were pure Python
and dominated venue-scale setups. Everything here exchanges packed values: scalars as 32-byte
little-endian canonical field elements, points in the kernel's layout (Montgomery, little-endian,
all-zero bytes for infinity, as in a .zkey). The pure-Python functions these mirror
(``prover.qap.lagrange_at`` / ``evaluate_columns``, ``FixedBaseG1/G2``) stay the reference; the
tests compare both. Only call these when :func:`zkmargin.circuits.msm_native.available` is true.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .curve import G1_GEN, G2_GEN, G1Affine, G2Affine
from .field import R
from .msm_native import THREADS, _bn254, pack_g1, pack_g2


def _kernel() -> Any:
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built (zkmargin.circuits._bn254)")
    return _bn254


def _b(x: int) -> bytes:
    return (x % R).to_bytes(32, "little")


def lagrange_packed(x: int, log_n: int, odd: bool = False) -> bytes:
    """[L_j(x) for j < 2^log_n] over the size-2^log_n domain, or with ``odd`` only the odd j
    (2^(log_n - 1) values: the H points' basis). ValueError if x lies in the domain."""
    return bytes(_kernel().lagrange(_b(x), log_n, int(odd), THREADS))


def eval_columns_packed(entries: Sequence[tuple[int, int, int]], lagrange: bytes, n_vars: int) -> bytes:
    """u_k = sum over entries (row, k, coeff) of coeff * L_row, for every signal k < n_vars."""
    return bytes(_kernel().eval_columns(entries, lagrange, n_vars))


def mix_columns_packed(
    u: bytes, v: bytes, w: bytes, alpha: int, beta: int, n_public: int, gamma_inv: int, delta_inv: int
) -> bytes:
    """(beta u_k + alpha v_k + w_k) * gamma_inv for k <= n_public, * delta_inv after."""
    return bytes(_kernel().mix_columns(u, v, w, _b(alpha), _b(beta), n_public, _b(gamma_inv), _b(delta_inv)))


def scale_packed(values: bytes, k: int) -> bytes:
    return bytes(_kernel().scale_scalars(values, _b(k)))


def unpack_scalars(values: bytes) -> list[int]:
    return [int.from_bytes(values[i : i + 32], "little") for i in range(0, len(values), 32)]


def fixed_window(count: int, g2: bool = False) -> int:
    """Window of the fixed-base table: wider windows mean fewer additions per scalar but a table
    (ceil(254/c) * (2^c - 1) points) that must be built and stay in cache. Measured per point (CPU,
    100,000 scalars): G1 3.2 / 3.0 / 3.1 us at c = 8 / 10 / 12, G2 7.8 / 8.6 / 11.3 us."""
    if count < 64:
        return 4
    if count < 4096 or g2:
        return 8
    return 10


def fixed_g1_packed(scalars: bytes, base: G1Affine = G1_GEN, window: int | None = None) -> bytes:
    """[k * base for k in scalars] (packed canonical scalars) in the kernel's point layout."""
    if base is None:
        raise ValueError("fixed-base multiplication: the base is the point at infinity")
    c = window or fixed_window(len(scalars) // 32)
    return bytes(_kernel().fixed_g1(pack_g1([base]), scalars, c, THREADS))


def fixed_g2_packed(scalars: bytes, base: G2Affine = G2_GEN, window: int | None = None) -> bytes:
    if base is None:
        raise ValueError("fixed-base multiplication: the base is the point at infinity")
    c = window or fixed_window(len(scalars) // 32, g2=True)
    return bytes(_kernel().fixed_g2(pack_g2([base]), scalars, c, THREADS))


def unpack_g1_fast(packed: bytes) -> list[G1Affine]:
    """Kernel layout -> affine points with standard-form coordinates (None for infinity)."""
    return _kernel().unpack_points(packed, False)


def unpack_g2_fast(packed: bytes) -> list[G2Affine]:
    return _kernel().unpack_points(packed, True)

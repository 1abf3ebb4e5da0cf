"""Bridge to the optional C MSM kernel (circuits/_native/bn254.c), with the pure-Python MSM as fallback.

Points are packed once into snarkjs's .zkey byte layout (Montgomery form, little-endian), which is
what the kernel reads; a proving key keeps its packed lists so repeated proofs pay nothing.
Set ZKMARGIN_PURE_PYTHON=1 to force the reference path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import gmpy2

from .curve import G1Affine, G2Affine
from .field import P, R, root_of_unity
from .msm import msm_g1, msm_g2, window_size

try:
    from . import _bn254  # type: ignore[attr-defined]
except ImportError:  # no C compiler at install time: the pure-Python path serves
    _bn254 = None

_MONT = gmpy2.mpz(1 << 256) % P
_P = gmpy2.mpz(P)
THREADS = max(1, min(2, os.cpu_count() or 1))


def available() -> bool:
    return _bn254 is not None and not os.environ.get("ZKMARGIN_PURE_PYTHON")


def _mont(v: int) -> bytes:
    return int(gmpy2.mpz(v) * _MONT % _P).to_bytes(32, "little")


def pack_g1(points: Sequence[G1Affine]) -> bytes:
    zero = bytes(64)
    return b"".join(zero if p is None else _mont(p[0]) + _mont(p[1]) for p in points)


def pack_g2(points: Sequence[G2Affine]) -> bytes:
    zero = bytes(128)
    return b"".join(
        zero if p is None else _mont(p[0][0]) + _mont(p[0][1]) + _mont(p[1][0]) + _mont(p[1][1]) for p in points
    )


def pack_scalars(scalars: Sequence[int] | bytes) -> bytes:
    if isinstance(scalars, bytes):
        return scalars
    return b"".join((int(k) % R).to_bytes(32, "little") for k in scalars)


def _count(scalars: Sequence[int] | bytes) -> int:
    return len(scalars) // 32 if isinstance(scalars, bytes) else len(scalars)


def qap_h_native(a_evals: Sequence[int], b_evals: Sequence[int], log_n: int) -> bytes:
    """(A*B - C) on the odd points of the doubled domain, as 32-byte little-endian scalars (C kernel)."""
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    w = root_of_unity(log_n)
    consts = b"".join(
        x.to_bytes(32, "little") for x in (w, pow(w, R - 2, R), pow(1 << log_n, R - 2, R), root_of_unity(log_n + 1))
    )
    return bytes(_bn254.qap_h(pack_scalars(a_evals), pack_scalars(b_evals), log_n, consts))


def _coord(b: bytes, i: int) -> int:
    return int.from_bytes(b[32 * i : 32 * i + 32], "little")


def msm_g1_packed(packed: bytes, scalars: Sequence[int] | bytes, c: int | None = None) -> G1Affine:
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    out = _bn254.msm_g1(packed, pack_scalars(scalars), c or _native_window(_count(scalars)), THREADS)
    return None if out == bytes(64) else (_coord(out, 0), _coord(out, 1))


def msm_g2_packed(packed: bytes, scalars: Sequence[int] | bytes, c: int | None = None) -> G2Affine:
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    out = _bn254.msm_g2(packed, pack_scalars(scalars), c or _native_window(_count(scalars)), THREADS)
    return None if out == bytes(128) else ((_coord(out, 0), _coord(out, 1)), (_coord(out, 2), _coord(out, 3)))


def _native_window(n: int) -> int:
    return max(3, min(16, window_size(n) - 1 if n > 1 << 12 else window_size(n)))


def _unpack_scalars(scalars: Sequence[int] | bytes) -> Sequence[int]:
    if isinstance(scalars, bytes):
        return [int.from_bytes(scalars[i : i + 32], "little") for i in range(0, len(scalars), 32)]
    return scalars


def msm_g1_auto(
    points: Sequence[G1Affine], scalars: Sequence[int] | bytes, packed: bytes | None = None
) -> G1Affine:
    """The kernel when built (packing the points unless given), else the pure-Python reference."""
    if not available():
        return msm_g1(points, _unpack_scalars(scalars))
    return msm_g1_packed(packed if packed is not None else pack_g1(points), scalars)


def msm_g2_auto(
    points: Sequence[G2Affine], scalars: Sequence[int] | bytes, packed: bytes | None = None
) -> G2Affine:
    if not available():
        return msm_g2(points, _unpack_scalars(scalars))
    return msm_g2_packed(packed if packed is not None else pack_g2(points), scalars)

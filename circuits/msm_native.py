"""Bridge to the optional C MSM kernel (circuits/_native/bn254.c), with the pure-Python MSM as fallback.

Points are packed once into snarkjs's .zkey byte layout (Montgomery form, little-endian), which is
what the kernel reads; a proving key keeps its packed lists so repeated proofs pay nothing.
Set ZKMARGIN_PURE_PYTHON=1 to force the reference path.

The kernel's MSM has switches (`flags`): MSM_GLV (split each scalar with the BN254 endomorphism:
twice the points, half the windows) and MSM_BATCH_AFFINE (affine buckets, one inversion per batch
of additions). Both are on by default; ZKMARGIN_MSM_PLAIN=1 selects the plain Pippenger they
replaced, kept for comparison (tests check all paths agree; scripts/bench_msm.py times them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from .curve import G1Affine, G2Affine
from .field import P, R, root_of_unity
from .msm import msm_g1, msm_g2, window_size

try:
    from . import _bn254  # type: ignore[attr-defined]
except ImportError:  # no C compiler at install time: the pure-Python path serves
    _bn254 = None

# A point list (or raw key section) in the kernel's layout: bytes, or a zero-copy view of a memory-mapped .zkey.
PointBuffer = bytes | memoryview

_MONT = gmpy2.mpz(1 << 256) % P
_P = gmpy2.mpz(P)
THREADS = max(1, int(os.environ.get("ZKMARGIN_THREADS") or 0) or min(2, os.cpu_count() or 1))  # env: Dask workers


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


def first_noncanonical(packed: PointBuffer) -> int:
    """Index of the first packed 32-byte little-endian scalar >= r, or -1 (the kernel when built)."""
    if available():
        assert _bn254 is not None
        return int(_bn254.first_noncanonical(packed))
    for i in range(0, len(packed), 32):
        if int.from_bytes(packed[i : i + 32], "little") >= R:
            return i // 32
    return -1


def _count(scalars: Sequence[int] | bytes) -> int:
    return len(scalars) // 32 if isinstance(scalars, bytes) else len(scalars)


def _qap_consts(log_n: int) -> bytes:
    w = root_of_unity(log_n)
    return b"".join(
        x.to_bytes(32, "little") for x in (w, pow(w, R - 2, R), pow(1 << log_n, R - 2, R), root_of_unity(log_n + 1))
    )


def qap_h_native(a_evals: Sequence[int], b_evals: Sequence[int], log_n: int, threads: int | None = None) -> bytes:
    """(A*B - C) on the odd points of the doubled domain, as 32-byte little-endian scalars (C kernel;
    every step, the six NTTs included, split over ``threads``, default THREADS)."""
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    nt = THREADS if threads is None else threads
    return bytes(_bn254.qap_h(pack_scalars(a_evals), pack_scalars(b_evals), log_n, _qap_consts(log_n), nt))


def qap_h_coeffs_native(coeffs: PointBuffer, witness: Sequence[int] | bytes, log_n: int) -> bytes:
    """Same as :func:`qap_h_native`, with A's and B's evaluations computed in C from the raw entries of
    a .zkey's coefficient section (everything after its u32 count: 44-byte entries u32 matrix, u32 row,
    u32 signal, c*R^2 mod r) and the witness. Every entry is checked (matrix id, row, signal, value < r);
    a bad one raises ValueError naming its index and the reason."""
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    return bytes(_bn254.qap_h_coeffs(coeffs, pack_scalars(witness), log_n, _qap_consts(log_n), THREADS))


def ntt_native(values: Sequence[int], log_n: int, threads: int | None = None) -> list[int]:
    """Forward NTT of 2^log_n scalars at the powers of root_of_unity(log_n) (C kernel, split over
    ``threads``, default THREADS); the same values as :func:`zkmargin.circuits.ntt.ntt`."""
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    w = root_of_unity(log_n).to_bytes(32, "little")
    out = _bn254.ntt(pack_scalars(values), log_n, w, THREADS if threads is None else threads)
    return [int.from_bytes(out[i : i + 32], "little") for i in range(0, len(out), 32)]


def _coord(b: bytes, i: int) -> int:
    return int.from_bytes(b[32 * i : 32 * i + 32], "little")


MSM_PLAIN = 0
MSM_GLV = 1
MSM_BATCH_AFFINE = 2
MSM_FAST = MSM_GLV | MSM_BATCH_AFFINE

# Below this many points a batch of bucket additions is too small to pay for its inversion
# (measured: at 2^8 GLV alone is as fast as GLV + batch-affine, at 2^10 batch-affine wins by 1.2x).
_BATCH_AFFINE_MIN = 1 << 9

# Window size for GLV + batch-affine (~127-bit scalars over 2n points), by the bit length of n:
# measured single-threaded at n = 2^10, 2^12, 2^14, 2^16, 2^18 (G1 and G2 agree within noise),
# neighbours in between; 13 from 2^15 on (measured best at 2^16 and 2^18, unmeasured beyond). Smaller
# than the op-count optimum (log2(n) - 2 rising to 16): small windows mean small batches and wasted
# inversions, large ones push the affine buckets out of L2.
_FAST_WINDOW = {10: 9, 11: 10, 12: 11, 13: 11, 14: 12}


def msm_flags(n: int) -> int:
    """Kernel switches for an MSM over n points (ZKMARGIN_MSM_PLAIN=1: the plain path)."""
    if os.environ.get("ZKMARGIN_MSM_PLAIN"):
        return MSM_PLAIN
    return MSM_FAST if n >= _BATCH_AFFINE_MIN else MSM_GLV


def native_window(n: int, flags: int) -> int:
    """Window size c for the kernel's MSM over n points with the given switches."""
    if not flags & MSM_GLV:
        return max(3, min(16, window_size(n) - 1 if n > 1 << 12 else window_size(n)))
    if not flags & MSM_BATCH_AFFINE:
        # Jacobian buckets, 127-bit scalars over 2n points: measured best at log2(n) - 1 at 2^7 and
        # 2^8 (the default below 2^9), 13 at 2^16 (used only for comparisons up there)
        return max(3, min(13, n.bit_length() - 2))
    bits = n.bit_length()
    return max(3, bits - 1) if bits < 10 else _FAST_WINDOW.get(bits, 13)


@dataclass(frozen=True)
class SharedDigits:
    """The GLV split and signed window digits of one scalar vector, made once (kernel ``glv_digits``) and
    used by every MSM over those scalars: Groth16's A, B1, B2 and C (C on a suffix, the private signals)
    all take the witness. ``n`` scalars; ``c`` and ``flags`` are the window and switches every MSM on
    them uses (the digits depend on c)."""

    digits: bytes
    n: int
    c: int
    flags: int


def shared_digits(scalars: bytes, c: int | None = None, flags: int | None = None) -> SharedDigits | None:
    """Digits of packed ``scalars`` for :func:`msm_g1_packed`/:func:`msm_g2_packed`'s ``shared``; None when
    the kernel is off or the switches do not split scalars (ZKMARGIN_MSM_PLAIN)."""
    if not available():
        return None
    assert _bn254 is not None
    n = _count(scalars)
    flags = msm_flags(n) if flags is None else flags
    if not flags & MSM_GLV:
        return None
    c = c or native_window(n, flags)
    return SharedDigits(bytes(_bn254.glv_digits(scalars, c, THREADS)), n, c, flags)


def _msm_args(
    n_points: int,
    scalars: Sequence[int] | bytes,
    c: int | None,
    flags: int | None,
    shared: SharedDigits | None,
    first: int,
) -> tuple[bytes, int, int, bytes | None, int]:
    """(scalars, c, flags, digits, first) for the kernel's msm_g1/msm_g2."""
    if shared is not None:
        if first < 0 or first + n_points > shared.n:
            raise ValueError(f"points {first}..{first + n_points} run past the {shared.n} shared scalars")
        return b"", shared.c, shared.flags, shared.digits, first
    n = _count(scalars)
    flags = msm_flags(n) if flags is None else flags
    return pack_scalars(scalars), c or native_window(n, flags), flags, None, 0


def msm_g1_packed(
    packed: PointBuffer,
    scalars: Sequence[int] | bytes,
    c: int | None = None,
    flags: int | None = None,
    shared: SharedDigits | None = None,
    first: int = 0,
) -> G1Affine:
    """MSM in G1 on a packed point list (C kernel); c and flags default to msm_flags/native_window.
    With ``shared`` (the digits of a scalar vector), point k takes scalar ``first + k`` of that vector
    and ``scalars`` is ignored."""
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    sc, c, flags, dg, first = _msm_args(len(packed) // 64, scalars, c, flags, shared, first)
    out = _bn254.msm_g1(packed, sc, c, THREADS, flags, dg, first)
    return None if out == bytes(64) else (_coord(out, 0), _coord(out, 1))


def msm_g2_packed(
    packed: PointBuffer,
    scalars: Sequence[int] | bytes,
    c: int | None = None,
    flags: int | None = None,
    shared: SharedDigits | None = None,
    first: int = 0,
) -> G2Affine:
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    sc, c, flags, dg, first = _msm_args(len(packed) // 128, scalars, c, flags, shared, first)
    out = _bn254.msm_g2(packed, sc, c, THREADS, flags, dg, first)
    return None if out == bytes(128) else ((_coord(out, 0), _coord(out, 1)), (_coord(out, 2), _coord(out, 3)))


def _unpack_scalars(scalars: Sequence[int] | bytes) -> Sequence[int]:
    if isinstance(scalars, bytes):
        return [int.from_bytes(scalars[i : i + 32], "little") for i in range(0, len(scalars), 32)]
    return scalars


def msm_g1_auto(
    points: Sequence[G1Affine],
    scalars: Sequence[int] | bytes,
    packed: PointBuffer | None = None,
    shared: SharedDigits | None = None,
    first: int = 0,
) -> G1Affine:
    """The kernel when built (packing the points unless given), else the pure-Python reference.
    ``shared``/``first``: see :func:`msm_g1_packed` (``scalars`` must then be the matching slice, which
    the reference path uses)."""
    if not available():
        return msm_g1(points, _unpack_scalars(scalars))
    return msm_g1_packed(packed if packed is not None else pack_g1(points), scalars, shared=shared, first=first)


def msm_g2_auto(
    points: Sequence[G2Affine],
    scalars: Sequence[int] | bytes,
    packed: PointBuffer | None = None,
    shared: SharedDigits | None = None,
    first: int = 0,
) -> G2Affine:
    if not available():
        return msm_g2(points, _unpack_scalars(scalars))
    return msm_g2_packed(packed if packed is not None else pack_g2(points), scalars, shared=shared, first=first)


# ---------------------------------------------------------------- setup kernels

_MONT_INV = gmpy2.invert(_MONT, _P)


def _from_mont(b: bytes, i: int) -> int:
    return int(gmpy2.mpz(int.from_bytes(b[32 * i : 32 * i + 32], "little")) * _MONT_INV % _P)


def unpack_g1(b: bytes) -> list[G1Affine]:
    zero = bytes(64)
    return [
        None if b[64 * i : 64 * i + 64] == zero else (_from_mont(b, 2 * i), _from_mont(b, 2 * i + 1))
        for i in range(len(b) // 64)
    ]


def unpack_g2(b: bytes) -> list[G2Affine]:
    zero = bytes(128)
    out: list[G2Affine] = []
    for i in range(len(b) // 128):
        if b[128 * i : 128 * i + 128] == zero:
            out.append(None)
            continue
        c = [_from_mont(b, 4 * i + k) for k in range(4)]
        out.append(((c[0], c[1]), (c[2], c[3])))
    return out


def _kernel() -> object:
    if _bn254 is None:
        raise RuntimeError("the C kernel is not built")
    return _bn254


def fft_g1(points: Sequence[G1Affine], log_n: int, omega: int, scale: int = 1) -> list[G1Affine]:
    """out_j = scale * sum_i omega^(ij) P_i over 2^log_n points (C kernel, both cores)."""
    w, s = (omega % R).to_bytes(32, "little"), (scale % R).to_bytes(32, "little")
    return unpack_g1(_kernel().fft_g1(pack_g1(points), log_n, w, s, THREADS))  # type: ignore[attr-defined]


def fft_g2(points: Sequence[G2Affine], log_n: int, omega: int, scale: int = 1) -> list[G2Affine]:
    w, s = (omega % R).to_bytes(32, "little"), (scale % R).to_bytes(32, "little")
    return unpack_g2(_kernel().fft_g2(pack_g2(points), log_n, w, s, THREADS))  # type: ignore[attr-defined]


def mul_each_g1(points: Sequence[G1Affine], scalars: Sequence[int]) -> list[G1Affine]:
    """[k_i * P_i] (C kernel): trusted-setup updates of points nobody can regenerate."""
    return unpack_g1(_kernel().mul_each_g1(pack_g1(points), pack_scalars(scalars), THREADS))  # type: ignore[attr-defined]


def mul_each_g2(points: Sequence[G2Affine], scalars: Sequence[int]) -> list[G2Affine]:
    return unpack_g2(_kernel().mul_each_g2(pack_g2(points), pack_scalars(scalars), THREADS))  # type: ignore[attr-defined]

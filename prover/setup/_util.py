"""Shared machinery for the trusted-setup code: randomness, batched group multiplications that
spill onto a 2-process pool when big enough to pay for it, and the group inverse FFT."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

import gmpy2

from zkmargin.circuits import msm_native as native
from zkmargin.circuits import setup_native as sn
from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    JAC1_INF,
    JAC2_INF,
    FixedBaseG1,
    FixedBaseG2,
    G1Affine,
    G2Affine,
    g1_add,
    g1_batch_to_affine,
    g1_mul_jac,
    g1_neg_jac,
    g1_to_jac,
    g2_add,
    g2_batch_to_affine,
    g2_mul_jac,
    g2_neg_jac,
    g2_to_jac,
)
from zkmargin.circuits.field import R, inv, root_of_unity
from zkmargin.verifier.setup_transcript import KnowledgeProof, schnorr_challenge

# Below this many scalar multiplications a process pool costs more (fork + pickling) than it saves.
PARALLEL_THRESHOLD = 1024
WORKERS = min(2, os.cpu_count() or 1)

T = TypeVar("T")


HALF_R = R // 2


def short_scalar(v: int) -> int:
    """v or r - v, whichever is shorter (the caller negates the product when v > r/2): circuit coefficients are
    mostly small or small negatives (-1, -2^k), and the C kernel's cost grows with the scalar's length."""
    v %= R
    return R - v if v > HALF_R else v


def random_scalar() -> int:
    """A uniformly random non-zero element of Fr (zero would collapse the setup)."""
    return secrets.randbelow(R - 1) + 1


def knowledge_proof(x: int, label: str, prev_digest: bytes) -> KnowledgeProof:
    """x*G1, x*G2 and a Schnorr proof for x bound to the previous state's digest."""
    x %= R
    x_g1 = _fixed_g1(G1_GEN).mul_many([x])[0]
    x_g2 = _fixed_g2(G2_GEN).mul_many([x])[0]
    k = random_scalar()
    r_g1 = _fixed_g1(G1_GEN).mul_many([k])[0]
    c = schnorr_challenge(label, prev_digest, x_g1, x_g2, r_g1)
    return KnowledgeProof(x_g1, x_g2, r_g1, (k + c * x) % R)


def powers(x: int, n: int, start: int = 1) -> list[int]:
    out = [0] * n
    acc = gmpy2.mpz(start % R)
    for i in range(n):
        out[i] = int(acc)
        acc = acc * x % R
    return out


# ---------------------------------------------------------------- pool plumbing


def _split(seq: Sequence[T], parts: int) -> list[Sequence[T]]:
    step = (len(seq) + parts - 1) // parts
    return [seq[i : i + step] for i in range(0, len(seq), step)]


def _run_chunked(worker: Callable[[Any], list[Any]], shared: Any, items: Sequence[Any]) -> list[Any]:
    """worker((shared, chunk)) over contiguous chunks, in parallel only when it pays off."""
    if len(items) < PARALLEL_THRESHOLD or WORKERS < 2:
        return worker((shared, items))
    chunks = _split(items, WORKERS)
    with ProcessPoolExecutor(WORKERS) as ex:
        parts = list(ex.map(worker, [(shared, c) for c in chunks]))
    return [x for p in parts for x in p]


@lru_cache(maxsize=4)
def _fixed_g1(base: tuple[int, int]) -> FixedBaseG1:
    """Tables are cached per process, so pool workers build each one once."""
    return FixedBaseG1(base)


@lru_cache(maxsize=4)
def _fixed_g2(base: Any) -> FixedBaseG2:
    return FixedBaseG2(base)


def _w_fixed_g1(args: tuple[tuple[int, int], Sequence[int]]) -> list[G1Affine]:
    base, scalars = args
    return _fixed_g1(base).mul_many(scalars)


def _w_fixed_g2(args: tuple[Any, Sequence[int]]) -> list[G2Affine]:
    base, scalars = args
    return _fixed_g2(base).mul_many(scalars)


def _w_each_g1(args: tuple[None, Sequence[tuple[G1Affine, int]]]) -> list[G1Affine]:
    return g1_batch_to_affine([g1_mul_jac(g1_to_jac(p), k) for p, k in args[1]])


def _w_each_g2(args: tuple[None, Sequence[tuple[G2Affine, int]]]) -> list[G2Affine]:
    return g2_batch_to_affine([g2_mul_jac(g2_to_jac(p), k) for p, k in args[1]])


def g1_fixed_many(scalars: Sequence[int], base: tuple[int, int] = G1_GEN) -> list[G1Affine]:
    """[k*base for k in scalars] with a fixed-base table; zero scalars give None. The C kernel's
    windowed tables when built (both cores), else Python tables on a 2-process pool."""
    if native.available() and base is not None:
        return sn.unpack_g1_fast(sn.fixed_g1_packed(native.pack_scalars(scalars), base))
    return _run_chunked(_w_fixed_g1, base, list(scalars))


def g2_fixed_many(scalars: Sequence[int], base: Any = G2_GEN) -> list[G2Affine]:
    if native.available() and base is not None:
        return sn.unpack_g2_fast(sn.fixed_g2_packed(native.pack_scalars(scalars), base))
    return _run_chunked(_w_fixed_g2, base, list(scalars))


def g1_mul_each(points: Sequence[G1Affine], scalars: Sequence[int]) -> list[G1Affine]:
    """[k_i * P_i]: variable-base, for updating an accumulator whose points nobody can regenerate."""
    if native.available():
        return native.mul_each_g1(points, scalars)
    return _run_chunked(_w_each_g1, None, list(zip(points, scalars, strict=True)))


def g2_mul_each(points: Sequence[G2Affine], scalars: Sequence[int]) -> list[G2Affine]:
    if native.available():
        return native.mul_each_g2(points, scalars)
    return _run_chunked(_w_each_g2, None, list(zip(points, scalars, strict=True)))


# ---------------------------------------------------------------- group inverse FFT


def _fft_jac(vals: list[Any], log_n: int, w: int, group: int) -> list[Any]:
    """Iterative radix-2 DIT FFT of group elements (Jacobian) with root w: out_j = sum_i w^{ij} v_i."""
    add, neg, mul = (g1_add, g1_neg_jac, g1_mul_jac) if group == 1 else (g2_add, g2_neg_jac, g2_mul_jac)
    n = 1 << log_n
    a = list(vals)
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            a[i], a[j] = a[j], a[i]
    m = 1
    while m < n:
        wm = pow(w, n // (2 * m), R)
        tw = powers(wm, m)
        for start in range(0, n, 2 * m):
            for k in range(m):
                u = a[start + k]
                v = a[start + k + m]
                if tw[k] != 1:
                    v = mul(v, tw[k])
                a[start + k] = add(u, v)
                a[start + k + m] = add(u, neg(v))
        m *= 2
    return a


def _w_fft(args: tuple[tuple[int, int, int], list[Any]]) -> list[Any]:
    (log_n, w, group), vals = args
    return _fft_jac(vals, log_n, w, group)


def _w_scale(args: tuple[tuple[int, int], list[tuple[Any, int]]]) -> list[Any]:
    (group, _), items = args
    mul = g1_mul_jac if group == 1 else g2_mul_jac
    return [mul(p, k) for p, k in items]


def _fft(vals: list[Any], log_n: int, w: int, group: int) -> list[Any]:
    """Split the top DIT level over the two cores when large: the even- and odd-index halves are
    independent half-size FFTs, then one combining layer of n/2 butterflies (also split)."""
    n = 1 << log_n
    if n < PARALLEL_THRESHOLD or WORKERS < 2 or log_n < 2:
        return _fft_jac(vals, log_n, w, group)
    add, neg = (g1_add, g1_neg_jac) if group == 1 else (g2_add, g2_neg_jac)
    w2 = w * w % R
    with ProcessPoolExecutor(WORKERS) as ex:
        even, odd = ex.map(_w_fft, [((log_n - 1, w2, group), vals[0::2]), ((log_n - 1, w2, group), vals[1::2])])
        tw = powers(w, n // 2)
        items = list(zip(odd, tw, strict=True))
        parts = list(ex.map(_w_scale, [((group, 0), c) for c in _split(items, WORKERS)]))
    t = [x for p in parts for x in p]
    out: list[Any] = [None] * n
    for k in range(n // 2):
        out[k] = add(even[k], t[k])
        out[k + n // 2] = add(even[k], neg(t[k]))
    return out


def lagrange_points_g1(pows: Sequence[G1Affine], log_n: int) -> list[G1Affine]:
    """[L_j(tau)]_1 for the 2^log_n domain from [tau^i]_1: L_j(x) = (1/n) sum_i w^{-ij} x^i, i.e. a
    group inverse FFT. Missing top powers count as zero (snarkjs's convention for its last power)."""
    n = 1 << log_n
    if native.available():
        padded = list(pows[:n]) + [None] * (n - min(n, len(pows)))
        return native.fft_g1(padded, log_n, inv(root_of_unity(log_n)), inv(n))
    vals = [g1_to_jac(p) for p in pows[:n]] + [JAC1_INF] * (n - min(n, len(pows)))
    out = _fft(vals, log_n, inv(root_of_unity(log_n)), 1)
    n_inv = inv(n)
    return g1_batch_to_affine(_run_chunked(_w_scale, (1, 0), [(p, n_inv) for p in out]))


def lagrange_points_g2(pows: Sequence[G2Affine], log_n: int) -> list[G2Affine]:
    n = 1 << log_n
    if native.available():
        padded = list(pows[:n]) + [None] * (n - min(n, len(pows)))
        return native.fft_g2(padded, log_n, inv(root_of_unity(log_n)), inv(n))
    vals = [g2_to_jac(p) for p in pows[:n]] + [JAC2_INF] * (n - min(n, len(pows)))
    out = _fft(vals, log_n, inv(root_of_unity(log_n)), 2)
    n_inv = inv(n)
    return g2_batch_to_affine(_run_chunked(_w_scale, (2, 0), [(p, n_inv) for p in out]))


def odd_lagrange_points_g1(pows: Sequence[G1Affine], log_n: int) -> list[G1Affine]:
    """[L^{2n}_{2i+1}(tau)]_1 for i < n (the H points) at half the cost of the full size-2n FFT.

    With W = w_{2n}: L^{2n}_{2i+1}(x) = 1/(2n) sum_{j<2n} W^{-(2i+1)j} x^j, and W^{-(2i+1)(j+n)} =
    -W^{-(2i+1)j}, so it equals 1/2 * [size-n inverse FFT of W^{-j} (P_j - P_{j+n})]_i.
    """
    n = 1 << log_n
    big = inv(root_of_unity(log_n + 1))
    jac = [g1_to_jac(p) for p in pows[: 2 * n]] + [JAC1_INF] * (2 * n - min(2 * n, len(pows)))
    diffs = [g1_add(jac[j], g1_neg_jac(jac[j + n])) for j in range(n)]
    half_n_inv = inv(2 * n)
    if native.available():
        scaled_aff = native.mul_each_g1(g1_batch_to_affine(diffs), powers(big, n, half_n_inv))
        return native.fft_g1(scaled_aff, log_n, inv(root_of_unity(log_n)))
    # Fold 1/(2n) into the twiddle scaling: one multiplication per point instead of two.
    scaled = _run_chunked(_w_scale, (1, 0), list(zip(diffs, powers(big, n, half_n_inv), strict=True)))
    out = _fft(scaled, log_n, inv(root_of_unity(log_n)), 1)
    return g1_batch_to_affine(out)

"""Radix-2 number-theoretic transforms over the BN254 scalar field (pure Python over gmpy2).

Twiddles are precomputed per size and cached; the coset shift used by the prover is fused into the
forward transform's input scaling, so the QAP step costs three inverse and three forward NTTs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from gmpy2 import mpz

from zkmargin.circuits.field import R, root_of_unity

_R = mpz(R)


@lru_cache(maxsize=32)
def _twiddles(log_n: int, inverse: bool) -> tuple[list[mpz], ...]:
    """Per stage s (half-size m = 2^s): [w_{2m}^j for j < m]."""
    stages = []
    for s in range(log_n):
        m = 1 << s
        w = root_of_unity(s + 1)
        if inverse:
            w = pow(w, R - 2, R)
        row = [mpz(1)] * m
        wm = mpz(w)
        for j in range(1, m):
            row[j] = row[j - 1] * wm % _R
        stages.append(row)
    return tuple(stages)


@lru_cache(maxsize=32)
def _bitrev(log_n: int) -> list[int]:
    n = 1 << log_n
    rev = [0] * n
    for i in range(1, n):
        rev[i] = (rev[i >> 1] >> 1) | ((i & 1) << (log_n - 1))
    return rev


def _transform(values: Sequence[int], log_n: int, inverse: bool) -> list[mpz]:
    n = 1 << log_n
    if len(values) != n:
        raise ValueError(f"NTT input has {len(values)} values, expected {n}")
    rev = _bitrev(log_n)
    a = [mpz(values[rev[i]]) for i in range(n)]
    for s, tw in enumerate(_twiddles(log_n, inverse)):
        m = 1 << s
        step = m << 1
        for start in range(0, n, step):
            for j in range(m):
                u = a[start + j]
                v = a[start + j + m] * tw[j] % _R
                a[start + j] = (u + v) % _R
                a[start + j + m] = (u - v) % _R
    return a


def ntt(values: Sequence[int], log_n: int) -> list[mpz]:
    """Evaluations at w^0..w^{n-1} of the polynomial with the given coefficients."""
    return _transform(values, log_n, False)


def intt(values: Sequence[int], log_n: int) -> list[mpz]:
    """Coefficients of the polynomial taking the given values at w^0..w^{n-1}."""
    out = _transform(values, log_n, True)
    n_inv = mpz(pow(1 << log_n, R - 2, R))
    return [x * n_inv % _R for x in out]


def coset_ntt(coeffs: Sequence[int], log_n: int, shift: int) -> list[mpz]:
    """Evaluations at shift * w^i: scale coefficient k by shift^k, then a plain NTT."""
    g = mpz(shift)
    scaled = [mpz(0)] * len(coeffs)
    acc = mpz(1)
    for k, c in enumerate(coeffs):
        scaled[k] = c * acc % _R
        acc = acc * g % _R
    return _transform(scaled, log_n, False)

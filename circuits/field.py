"""BN254 scalar field (Fr) and base field (Fq) helpers.

Values are plain Python ints (or gmpy2 mpz on hot paths); every function returns canonical
representatives in [0, modulus).
"""

from __future__ import annotations

from collections.abc import Sequence

import gmpy2

# Scalar field of BN254 (the R1CS field, "r") and its base field ("q").
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
P = 21888242871839275222246405745257275088696311157297823662689037894645226208583

R_MPZ = gmpy2.mpz(R)
P_MPZ = gmpy2.mpz(P)

# R - 1 = 2^28 * odd; 5 is a quadratic non-residue, so 5^((R-1)/2^k) is a primitive 2^k-th root
# of unity. This is the same choice as ffjavascript (snarkjs), so evaluation domains agree.
TWO_ADICITY = 28
_NQR = 5


def inv(a: int, modulus: int = R) -> int:
    """Modular inverse; raises ZeroDivisionError for 0 so that a bad witness never divides silently."""
    a %= modulus
    if a == 0:
        raise ZeroDivisionError("inverse of zero")
    return int(gmpy2.invert(a, modulus))


def batch_inverse(values: Sequence[int], modulus: int = R) -> list[int]:
    """Montgomery's trick: n inverses for one inversion and 3(n-1) multiplications. Zeros map to zero."""
    n = len(values)
    prefix = [gmpy2.mpz(1)] * (n + 1)
    acc = gmpy2.mpz(1)
    m = gmpy2.mpz(modulus)
    for i, v in enumerate(values):
        prefix[i] = acc
        if v % modulus:
            acc = acc * v % m
    inv_acc = gmpy2.invert(acc, m)
    out = [0] * n
    for i in range(n - 1, -1, -1):
        v = values[i]
        if v % modulus:
            out[i] = int(inv_acc * prefix[i] % m)
            inv_acc = inv_acc * v % m
    return out


def root_of_unity(log_n: int) -> int:
    """Primitive 2^log_n-th root of unity in Fr (ffjavascript's choice)."""
    if not 0 <= log_n <= TWO_ADICITY:
        raise ValueError(f"log_n must be in [0, {TWO_ADICITY}], got {log_n}")
    return pow(_NQR, (R - 1) >> log_n, R)


def to_signed(a: int, modulus: int = R) -> int:
    """Map a field element to the representative in (-modulus/2, modulus/2]."""
    a %= modulus
    return a - modulus if a > modulus // 2 else a


def is_canonical(a: int, modulus: int = R) -> bool:
    return isinstance(a, int) and 0 <= a < modulus

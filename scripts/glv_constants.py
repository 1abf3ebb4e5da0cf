#!/usr/bin/env python3
"""Derive and check the GLV constants the C MSM kernel (circuits/_native/bn254.c) hard-codes.

BN254 has j-invariant 0, so (x, y) -> (beta*x, y) with beta^3 = 1 in Fp is an endomorphism; on the
prime-order groups it acts as multiplication by a cube root of unity lambda mod r. Which of the
two cube roots of lambda pairs with which beta is not given by the algebra, so it is tested on the
generators (the G2 twist may pair differently from G1). The scalar decomposition
k = k1 + k2*lambda (mod r) uses a short basis of the lattice {(a, b) : a + b*lambda = 0 mod r}
(extended Euclid, Guide to ECC alg. 3.74) and Babai rounding with precomputed g_i = round(2^256 *
b_i / r), so the kernel needs only multiplications and a shift. Prints the C constants and checks
the bound on |k1|, |k2| the kernel relies on (and that decomposition holds) on edge and random
scalars.

    python scripts/glv_constants.py
"""

from __future__ import annotations

import math
import random
import sys

from zkmargin.circuits.curve import G1_GEN, G2_GEN, f2_scale, g1_mul, g2_mul
from zkmargin.circuits.field import P, R

SHIFT = 256


def cube_roots_of_unity(m: int) -> list[int]:
    """The two nontrivial cube roots of 1 mod a prime m = 1 (mod 3)."""
    for g in range(2, 100):
        w = pow(g, (m - 1) // 3, m)
        if w != 1:
            return sorted([w, w * w % m])
    raise ValueError("no cube root found")


def short_basis(lam: int, r: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two short vectors (a, b) with a + b*lam = 0 (mod r), from the extended Euclid sequence."""
    # remainders r_i = s_i*r + t_i*lam; stop at the first r_i < sqrt(r)
    r0, r1, t0, t1 = r, lam, 0, 1
    bound = math.isqrt(r)
    prev = None
    while r1 >= bound:
        q = r0 // r1
        prev = (r1, t1)
        r0, r1, t0, t1 = r1, r0 - q * r1, t1, t0 - q * t1
    assert prev is not None
    # a + b*lam = 0 with (a, b) = (r_l, -t_l); the candidates after the switch point
    v1 = (r1, -t1)
    q = r0 // r1
    r2, t2 = r0 - q * r1, t0 - q * t1
    cand = [prev, (r2, t2)]
    cand_v = [(c[0], -c[1]) for c in cand]
    v2 = min(cand_v, key=lambda v: v[0] ** 2 + v[1] ** 2)
    for a, b in (v1, v2):
        assert (a + b * lam) % r == 0
    return v1, v2


def decompose(k: int, v1: tuple[int, int], v2: tuple[int, int], g1: int, g2: int) -> tuple[int, int]:
    """What the kernel computes: c_i = floor(k*g_i / 2^256), (k1, k2) = (k, 0) - c1*v1 - c2*v2."""
    c1 = (k * g1) >> SHIFT
    c2 = (k * g2) >> SHIFT
    k1 = k - c1 * v1[0] - c2 * v2[0]
    k2 = -c1 * v1[1] - c2 * v2[1]
    return k1, k2


def limbs(v: int, n: int = 4) -> str:
    assert 0 <= v < 1 << (64 * n)
    return ", ".join(f"0x{(v >> (64 * i)) & (2**64 - 1):016x}ULL" for i in range(n))


def main() -> int:
    betas = cube_roots_of_unity(P)
    lams = cube_roots_of_unity(R)
    for lam in lams:
        assert (lam * lam + lam + 1) % R == 0

    # G1: phi(G) = (beta*x, y) must equal lambda*G for exactly one lambda per beta
    pair_g1 = {}
    for beta in betas:
        phi = (beta * G1_GEN[0] % P, G1_GEN[1])
        match = [lam for lam in lams if g1_mul(G1_GEN, lam) == phi]
        assert len(match) == 1, "beta acts as neither cube root on G1"
        pair_g1[beta] = match[0]
    # G2 (twist over Fp2): the same map with beta in Fp scaling both coordinates of x
    pair_g2 = {}
    for beta in betas:
        phi2 = (f2_scale(G2_GEN[0], beta), G2_GEN[1])
        match = [lam for lam in lams if g2_mul(G2_GEN, lam) == phi2]
        assert len(match) == 1, "beta acts as neither cube root on G2"
        pair_g2[beta] = match[0]

    # one lambda for both groups (one decomposition routine; either root works): the smaller one,
    # with the beta paired with it in each group
    lam = min(lams)
    beta_g1 = next(b for b, lm in pair_g1.items() if lm == lam)
    beta_g2 = next(b for b, lm in pair_g2.items() if lm == lam)
    v1, v2 = short_basis(lam, R)
    # Babai: (k, 0) = c1'*v1 + c2'*v2 over Q with det = a1*b2 - a2*b1 = +-r
    det = v1[0] * v2[1] - v2[0] * v1[1]
    assert abs(det) == R
    # c1' = k*b2/det, c2' = -k*b1/det; fold the sign of det into the basis so g_i >= 0
    if det < 0:
        v2 = (-v2[0], -v2[1])
        det = -det
    assert v2[1] >= 0 and v1[1] <= 0, "g_i below are assumed non-negative"
    g1 = ((v2[1] << SHIFT) + R // 2) // R
    g2 = (((-v1[1]) << SHIFT) + R // 2) // R

    rnd = random.Random(1)
    tests = [0, 1, 2, R - 1, R - 2, lam, R - lam, (R - 1) // 2, (R + 1) // 2, 1 << 253, (1 << 254) % R]
    tests += [rnd.randrange(R) for _ in range(200000)]
    maxbits = 0
    for k in tests:
        k1, k2 = decompose(k, v1, v2, g1, g2)
        assert (k1 + k2 * lam - k) % R == 0
        maxbits = max(maxbits, abs(k1).bit_length(), abs(k2).bit_length())
    # a proven bound: |k_i| <= sum of |basis entries| over the column (rounding errors < 1 each)
    bound = max(abs(v1[0]) + abs(v2[0]), abs(v1[1]) + abs(v2[1]))
    print(f"// lambda = {lam:#x} (lambda^2 + lambda + 1 = 0 mod r)", file=sys.stderr)
    print(f"// G1: beta acting as lambda = {beta_g1:#x}; G2 (twist): beta' = {beta_g2:#x}", file=sys.stderr)
    print(f"// basis v1 = ({v1[0]:#x}, {v1[1]:#x}), v2 = ({v2[0]:#x}, {v2[1]:#x})", file=sys.stderr)
    print(f"// observed max bits {maxbits}; proven bound bits {bound.bit_length()}", file=sys.stderr)
    assert bound.bit_length() <= 128, "kernel assumes |k1|, |k2| < 2^128"

    mont = (1 << 256) % P
    print(f"static const fp GLV_BETA_G1 = {{{{{limbs(beta_g1 * mont % P)}}}}};  /* Montgomery form */")
    print(f"static const fp GLV_BETA_G2 = {{{{{limbs(beta_g2 * mont % P)}}}}};")
    print(f"static const uint64_t GLV_M1[4] = {{{limbs(g1)}}};  /* round(2^256 * b2 / r) */")
    print(f"static const uint64_t GLV_M2[4] = {{{limbs(g2)}}};  /* round(-2^256 * b1 / r) */")
    for name, v in (("GLV_A1", v1[0]), ("GLV_B1", v1[1]), ("GLV_A2", v2[0]), ("GLV_B2", v2[1])):
        print(f"static const uint64_t {name}[2] = {{{limbs(abs(v), 2)}}}; static const int {name}_NEG = {int(v < 0)};")
    print(f"#define GLV_BITS {bound.bit_length()}")
    print(f"LAMBDA = {lam}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

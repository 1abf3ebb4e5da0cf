#!/usr/bin/env python3
"""Pairing checks: the C kernel's multi-pairing (fresh and prepared G2 lines) and the py_ecc fallback.

Times one product check of 4 pairs (the Groth16 verification equation's shape, a product that is
one), with all four G2 points fresh, with three of them prepared (what the verifier does with a
verifying key's beta2, gamma2, delta2), the line precomputation of one G2 point, an in-process
`verify` with its input validation, and py_ecc on the same 4 pairs. Medians of --runs runs; the last
line is machine-readable: RESULT fresh_ms=... prepared_ms=... ...

    python scripts/bench_pairing.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

from zkmargin.circuits import msm_native
from zkmargin.circuits.curve import G1_GEN, G2_GEN, g1_mul, g1_neg, g2_mul, pairing_product_is_one, prepare_g2
from zkmargin.circuits.field import R
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.types import Proof, VerifyingKey


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    if not msm_native.available():
        print("the C kernel is not built (or ZKMARGIN_PURE_PYTHON is set)")
        return 1
    rnd = random.Random(6)
    # a key and proof satisfying e(-A, B) e(alpha, beta) e(vk_x, gamma) e(C, delta) = 1 by construction
    a, b, g, d, i0, i1, s, t = (rnd.randrange(1, R) for _ in range(8))
    x = rnd.randrange(R)
    c = (s * t - a * b - (i0 + i1 * x) * g) * pow(d, -1, R) % R
    vk = VerifyingKey(
        g1_mul(G1_GEN, a), g2_mul(G2_GEN, b), g2_mul(G2_GEN, g), g2_mul(G2_GEN, d),
        (g1_mul(G1_GEN, i0), g1_mul(G1_GEN, i1)),
    )  # fmt: skip
    proof = Proof(g1_mul(G1_GEN, s), g2_mul(G2_GEN, t), g1_mul(G1_GEN, c))
    vk_x = g1_mul(G1_GEN, i0 + i1 * x)
    fresh = [(g1_neg(proof.a), proof.b), (vk.alpha1, vk.beta2), (vk_x, vk.gamma2), (proof.c, vk.delta2)]
    prepared = [fresh[0]] + [(p, prepare_g2(q)) for p, q in fresh[1:]]
    assert pairing_product_is_one(fresh) and pairing_product_is_one(prepared) and verify(vk, proof, [x])

    res = {
        "fresh_ms": median_ms(lambda: pairing_product_is_one(fresh), args.runs),
        "prepared_ms": median_ms(lambda: pairing_product_is_one(prepared), args.runs),
        "prepare_one_ms": median_ms(lambda: prepare_g2(vk.beta2), args.runs),
        "verify_ms": median_ms(lambda: verify(vk, proof, [x]), args.runs),
    }
    os.environ["ZKMARGIN_PURE_PYTHON"] = "1"
    try:
        res["py_ecc_ms"] = median_ms(lambda: pairing_product_is_one(fresh), 1)
    finally:
        del os.environ["ZKMARGIN_PURE_PYTHON"]
    print("| 4-pair product check | ms |")
    print("|---|---:|")
    print(f"| kernel, 4 fresh G2 points | {res['fresh_ms']:.2f} |")
    print(f"| kernel, 1 fresh + 3 prepared (verifier) | {res['prepared_ms']:.2f} |")
    print(f"| kernel, prepare one G2 point (once per key) | {res['prepare_one_ms']:.2f} |")
    print(f"| `verify` in process (validation + vk_x + pairing) | {res['verify_ms']:.2f} |")
    print(f"| py_ecc (ZKMARGIN_PURE_PYTHON=1) | {res['py_ecc_ms']:.0f} |")
    print("RESULT " + " ".join(f"{k}={v:.3f}" for k, v in res.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

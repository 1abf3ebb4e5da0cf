#!/usr/bin/env python3
"""Fp Montgomery multiplication in the C kernel: portable CIOS vs x86-64 mulx/adx vs the dispatched call.

Times a chain of --n dependent multiplications (x <- x*y, latency rather than throughput) per variant,
interleaved --runs times so machine load hits all alike; prints the median ns per multiplication.
"dispatched" is the fp_mul every kernel calls (a branch on the variant chosen at import), so
dispatched - mulx is the cost of the run-time choice.

    PYTHONPATH=. python scripts/bench_fp.py --n 20000000 --runs 5

The last line is machine-readable: RESULT ns_per_mul_portable=... ns_per_mul_mulx=... ns_per_mul_dispatched=...
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from zkmargin.circuits import msm_native as nat

VARIANTS = {"portable": 0, "mulx": 1, "dispatched": 2}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=20_000_000, help="dependent multiplications per run")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    k = nat._bn254
    if k is None:
        print("the C kernel is not built", file=sys.stderr)
        return 2
    names = [v for v in VARIANTS if v != "mulx" or "mulx" in k.fp_variants()]
    print(f"load average {os.getloadavg()[0]:.2f}, dispatched = {k.fp_variant()}", flush=True)
    x, y = (0x1234567).to_bytes(32, "little"), (0xFEDCBA9876543210).to_bytes(32, "little")
    times: dict[str, list[float]] = {v: [] for v in names}
    outs = set()
    for _ in range(args.runs):
        for v in names:
            t = time.perf_counter()
            outs.add(k.field_mul_chain(x, y, args.n, VARIANTS[v]))
            times[v].append((time.perf_counter() - t) / args.n * 1e9)
    if len(outs) != 1:
        raise RuntimeError("the variants disagree")
    med = {v: statistics.median(ts) for v, ts in times.items()}
    for v in names:
        print(f"{v:>10}: {med[v]:.2f} ns/mul (min {min(times[v]):.2f}, max {max(times[v]):.2f})")
    print("RESULT " + " ".join(f"ns_per_mul_{v}={med[v]:.2f}" for v in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())

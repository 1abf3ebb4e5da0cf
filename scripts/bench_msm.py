#!/usr/bin/env python3
"""MSM kernel: plain Pippenger vs GLV vs GLV + batch-affine buckets, G1 and G2, side by side.

For each size 2^k: one packed point list and one list of random full-size scalars, then each
kernel path (`flags` of circuits/msm_native.py, window from native_window) timed --runs times,
interleaved so machine load hits all paths alike; prints median wall and CPU milliseconds and the
speed-up over plain, and checks that all paths return the same point. Points are 4096 random
subgroup points tiled to length 2^k (the timing does not depend on which points they are; making
2^18 distinct ones would take longer than the benchmark).

    PYTHONPATH=. python scripts/bench_msm.py --sizes 12 14 16 18 --runs 3
    PYTHONPATH=. python scripts/bench_msm.py --sizes 16 --windows 11 12 13 14   # window table
    PYTHONPATH=. python scripts/bench_msm.py --sizes 16 --modes glv+affine --fp portable mulx  # Fp mul variants

The last line is machine-readable: RESULT g1_2e16_plain_ms=... g1_2e16_fast_ms=... ...
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

from zkmargin.circuits import msm_native as nat
from zkmargin.circuits.curve import G1_GEN, G2_GEN
from zkmargin.circuits.field import R

MODES = {"plain": nat.MSM_PLAIN, "glv": nat.MSM_GLV, "affine": nat.MSM_BATCH_AFFINE, "glv+affine": nat.MSM_FAST}
DISTINCT = 4096


def packed_points(group: str, n: int, rnd: random.Random) -> bytes:
    k = min(n, DISTINCT)
    ks = [rnd.randrange(1, R) for _ in range(k)]
    if group == "g1":
        base = nat.pack_g1(nat.mul_each_g1([G1_GEN] * k, ks))
    else:
        base = nat.pack_g2(nat.mul_each_g2([G2_GEN] * k, ks))
    return (base * (n // k + 1))[: len(base) // k * n]


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def bench(
    group: str, log_n: int, runs: int, modes: list[str], windows: list[int] | None, fps: list[str] | None = None
) -> dict[str, float]:
    rnd = random.Random(log_n)
    n = 1 << log_n
    pts = packed_points(group, n, rnd)
    scalars = nat.pack_scalars([rnd.randrange(R) for _ in range(n)])
    kernel = nat._bn254.msm_g1 if group == "g1" else nat._bn254.msm_g2
    if windows:  # window table: the default path at each c
        cases = {f"c={c}": (nat.MSM_FAST, c) for c in windows}
    else:
        cases = {m: (MODES[m], nat.native_window(n, MODES[m])) for m in modes}
    variant = {k: "" for k in cases}
    if fps:  # each case once per Montgomery multiplication variant (set_fp_variant before each call)
        cases = {f"{k}/{fp}": v for k, v in cases.items() for fp in fps}
        variant = {k: k.rsplit("/", 1)[1] for k in cases}
    wall: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    results = set()
    for _ in range(runs):
        for name, (flags, c) in cases.items():
            if variant[name]:
                nat._bn254.set_fp_variant(variant[name])
            w, t, out = timed(functools.partial(kernel, pts, scalars, c, nat.THREADS, flags))
            wall[name].append(w)
            cpu[name].append(t)
            results.add(out)
    if fps:
        nat._bn254.set_fp_variant("auto")
    if len(results) != 1:
        raise RuntimeError(f"{group} 2^{log_n}: the kernel paths disagree")
    med = {k: statistics.median(v) * 1000 for k, v in wall.items()}
    first = next(iter(cases))
    line = " | ".join(
        f"{k if windows else f'{k} (c={cases[k][1]})'} {med[k]:.0f} ms, cpu {statistics.median(cpu[k]) * 1000:.0f} ms, "
        f"x{med[first] / med[k]:.2f}"
        for k in cases
    )
    print(f"{group.upper()} 2^{log_n}: {line}", flush=True)
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[12, 14, 16])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--groups", nargs="+", default=["g1", "g2"], choices=["g1", "g2"])
    ap.add_argument("--modes", nargs="+", default=["plain", "glv", "glv+affine"], choices=list(MODES))
    ap.add_argument("--windows", type=int, nargs="+", help="time GLV + batch-affine at these window sizes instead")
    ap.add_argument("--fp", nargs="+", choices=["portable", "mulx"], help="time each mode with these Fp muls")
    args = ap.parse_args()
    if nat._bn254 is None:
        print("the C kernel is not built", file=sys.stderr)
        return 2
    print(f"threads {nat.THREADS}, load average {os.getloadavg()[0]:.2f}, fp {nat._bn254.fp_variant()}", flush=True)
    table: dict[tuple[str, int], dict[str, float]] = {}
    for group in args.groups:
        for k in args.sizes:
            table[(group, k)] = bench(group, k, args.runs, args.modes, args.windows, args.fp)
    if args.windows:
        return 0
    cols = [f"{m}/{fp}" for m in args.modes for fp in args.fp] if args.fp else args.modes
    print()
    print(
        "| group | n | "
        + " | ".join(f"{m} (ms)" for m in cols)
        + " | "
        + " | ".join(f"{cols[0]}/{m}" for m in cols[1:])
        + " |"
    )
    print("|---|---:|" + "---:|" * (2 * len(cols) - 1))
    for (group, k), med in table.items():
        print(
            f"| {group.upper()} | 2^{k} | "
            + " | ".join(f"{med[m]:.0f}" for m in cols)
            + " | "
            + " | ".join(f"{med[cols[0]] / med[m]:.2f}" for m in cols[1:])
            + " |"
        )
    fields = [
        f"{g}_2e{k}_{m.replace('glv+affine', 'fast').replace('+', '_').replace('/', '_')}_ms={v:.1f}"
        for (g, k), med in table.items()
        for m, v in med.items()
    ]
    print("RESULT " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Epoch time with 1 vs 2 Dask workers on the same epoch (and the in-process path for reference).

The same book, the same setup and the same operator secret (hence identical batches) are proven three ways:
in-process (the pipeline's default, C kernel with its usual 2 threads), a Dask LocalCluster of 1 worker and one of
2 workers. For a fair scaling measurement every Dask worker runs the C kernel single-threaded (ZKMARGIN_THREADS=1),
so 1 worker uses one core and 2 workers two. Workers load the proving key once (warm-up, timed separately and not
part of the epoch time: a long-running operator keeps its cluster). No chain: epoch = witnesses + proofs + bundle.

    python scripts/bench_epoch.py [--accounts 52] [--batch 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from zkmargin.prover.operator import ExchangeSpec, Operator, demo_accounts, demo_engine
from zkmargin.prover.operator.distributed import DaskProver, warm
from zkmargin.verifier.audit import audit_bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--accounts", type=int, default=52)
    ap.add_argument("--batch", type=int, default=4, help="accounts per batch (demo slots: 4 assets, 4 positions)")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 shared cores: other jobs distort the scaling)")
    work = Path(tempfile.mkdtemp(prefix="bench_epoch_"))
    spec = ExchangeSpec(accounts_per_batch=args.batch)
    engine = demo_engine()
    book = demo_accounts(engine, args.accounts, seed=11)
    setup_dir = work / "setup"
    first = Operator(work / "root0", spec, setup_dir=setup_dir)
    layout = first.layout(engine)
    t0 = time.perf_counter()
    setup = first.setup(layout)
    print(f"setup (dev): {time.perf_counter() - t0:.1f} s, {first.circuit(layout).r1cs.n_constraints:,} constraints")
    secret = work / "root0" / "user_secrets.json"
    first.user_secrets.for_accounts(a.account_id for a in book)  # created once, shared by every path

    rows: list[tuple[str, float, float, int, bool]] = []

    def run(name: str, root: Path, prover: DaskProver | None) -> float:
        root.mkdir(parents=True)
        shutil.copy(secret, root / "user_secrets.json")  # same user secrets: identical batches on every path
        op = Operator(root, spec, setup_dir=setup_dir, prover=prover)
        t = time.perf_counter()
        res = op.run_epoch(1, engine, book)
        dt = time.perf_counter() - t
        ok = audit_bundle(res.path).ok
        rows.append((name, dt, res.prove_wall_seconds, res.batches, ok))
        print(f"{name}: epoch {dt:.1f} s (proving wall {res.prove_wall_seconds:.1f} s), {res.batches} batches, "
              f"audit {'PASS' if ok else 'FAIL'}")  # fmt: skip
        return dt

    run("in-process (kernel 2 threads)", work / "root_local", None)
    times = {}
    for n in (1, 2):
        with DaskProver(workers=n, kernel_threads=1) as dp:
            t = time.perf_counter()
            dp.client.run(warm, str((setup.path / "circuit.zkey").resolve()), layout.shape)
            print(f"{dp.describe()}: key + circuit loaded on every worker in {time.perf_counter() - t:.1f} s")
            times[n] = run(f"Dask {n} worker(s), kernel 1 thread", work / f"root_{n}w", dp)

    print()
    print(f"{'path':<36}{'epoch s':>10}{'proving s':>11}{'batches':>9}  audit")
    for name, dt, pw, nb, ok in rows:
        print(f"{name:<36}{dt:>10.1f}{pw:>11.1f}{nb:>9}  {'PASS' if ok else 'FAIL'}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"RESULT epoch_s_1w={times[1]:.1f} epoch_s_2w={times[2]:.1f} speedup={times[1] / times[2]:.2f}")


if __name__ == "__main__":
    main()

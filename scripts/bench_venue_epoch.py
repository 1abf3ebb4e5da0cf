#!/usr/bin/env python3
"""Stage times of one venue-circuit epoch (issue 15) on the venue-scale demo venue, with or without the chain.

What ``zkmargin demo --circuit venue`` does, as a benchmark: the synthetic book of ``prover/venue_scale.py``, the
instrument table and parameters, the committed setup of the venue shape (reused from ``--root`` when present, so a
second run measures the epoch alone), every account proven whole over linked leaves, the bundle with per-part
inclusion files, the audit with the deliveries and one split account's user check. ``--chain embedded`` also deploys
the registry and attests on the embedded py-evm chain (one transaction per epoch: its gas must fit the 29 M ceiling,
about 590 k gas per batch at 53 assets); ``--chain none`` stops before the chain, to time books whose epoch is
larger than one transaction holds.

    python scripts/bench_venue_epoch.py --accounts 1000 --root /tmp/venue-bench
    python scripts/bench_venue_epoch.py --accounts 10000 --root /tmp/venue-bench --chain none

Last line: ``RESULT venue_epoch_ok=... accounts=... leaves=... batches=... total_s=... <stage>=<seconds> ...``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec
from zkmargin.prover.operator.venue_setup import venue_circuit
from zkmargin.prover.venue_scale import ASSETS, scale_engine, synthetic_book
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.user import verify_account


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--leaves", type=int, default=64, help="leaves per batch (the shape)")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--root", required=True, help="bundle root (its setups/ is reused when it holds the shape's key)")
    p.add_argument("--chain", choices=("embedded", "none"), default="embedded")
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    times: dict[str, float] = {}

    def stage(name: str, t0: float) -> None:
        times[name] = time.perf_counter() - t0
        print(f"{name}: {times[name]:.1f} s", flush=True)

    t0 = time.perf_counter()
    engine = scale_engine(now=int(time.time()))
    book = synthetic_book(engine, a.accounts, seed=a.seed)
    stage("venue_and_book", t0)
    op = VenueOperator(a.root, VenueSpec(leaves=a.leaves, assets=ASSETS))
    shape = op.shape(engine)
    t0 = time.perf_counter()
    circuit = venue_circuit(shape)
    stage("build_circuit", t0)
    setup = op.setup(shape)
    times["setup"] = setup.seconds
    print(f"setup: {setup.seconds:.1f} s ({'created' if setup.seconds else 'reused'} {setup.path})", flush=True)
    if a.chain == "embedded":
        t0 = time.perf_counter()
        op.deploy_chain(engine, insurance_fund_micro_usd=1_000_000 * 10**6)
        stage("deploy", t0)
    res = op.run_epoch(op.latest_epoch() + 1, engine, book)
    for k, v in op.timings.items():
        times["epoch_" + k.replace(" + ", "_").replace(" ", "_")] = v
    assert res.deliveries is not None
    user = max(res.user_secrets, key=lambda x: (len(next(b for b in book if b.account_id == x).positions), x))
    f = res.deliveries / inclusion.filename(account_id_commitment(user, res.user_secrets[user]))
    registry = op.chain.registry if op.chain is not None else None
    t0 = time.perf_counter()
    urep = verify_account(res.path, f, user, res.user_secrets[user], registry=registry)
    stage("user_check", t0)
    t0 = time.perf_counter()
    arep = audit_bundle(res.path, registry=registry, deliveries=res.deliveries)
    stage("audit", t0)
    failed = [c.name for c in arep.failed()]
    # without a registry the audit fails the dev setup (no development-mode registry to tell): expected here
    ok = urep.ok and (arep.ok or (registry is None and failed == ["setup: not a development (single-party) setup"]))
    total = time.perf_counter() - t_start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    leaves = int(res.manifest["totals"]["leaves"])
    gas = (res.chain or {}).get("gas_used") or 0
    stages = " ".join(f"{k}={v:.1f}" for k, v in times.items())
    print(f"RESULT venue_epoch_ok={int(ok)} accounts={len(book)} excluded={len(res.excluded)} leaves={leaves} "
          f"batches={res.batches} leaves_per_batch={a.leaves} constraints_per_batch={circuit.r1cs.n_constraints} "
          f"gas={gas} peak_rss_gb={rss:.2f} total_s={total:.1f} {stages}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

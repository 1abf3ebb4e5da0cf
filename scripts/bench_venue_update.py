#!/usr/bin/env python3
"""Latency of an incremental venue epoch (issue 16): from one account's change to its slot re-proven, the tree
updated and the bundle (every slot, carried ones included) published, on the venue-scale demo venue.

A full epoch first (its setup reused from ``--root`` when present; not counted), then ONE account's USDT balance
changes and ``VenueOperator.run_update`` runs the next epoch: classify the book at the box centre, plan the slots,
prove the changed slot, copy the carried slots' files, check the ops on the tree mirror, (``--chain embedded`` or
``--rpc URL``: submit the update), write the bundle. The audit of the update (every proof, carried ones too) is
timed apart.

    python scripts/bench_venue_update.py --accounts 200 --leaves 64 --root /tmp/venue-update

Last line: ``RESULT venue_update_ok=... leaves=... slots=... reproved=... latency_s_<leaves>=... full_epoch_s=...
audit_s=...``.
"""

from __future__ import annotations

import argparse
import sys
import time

from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec
from zkmargin.prover.venue_scale import ASSETS, scale_engine, synthetic_book
from zkmargin.verifier.audit import audit_bundle


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--accounts", type=int, default=200)
    p.add_argument("--leaves", type=int, default=64, help="leaves per batch (the shape)")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--root", required=True, help="bundle root (its setups/ is reused when it holds the shape's key)")
    p.add_argument("--chain", choices=("embedded", "none"), default="none")
    p.add_argument(
        "--rpc",
        help="a JSON-RPC node (e.g. anvil) to attest on: the latency then includes a real node's verification of "
        "the update (py-evm's pure-Python pairings dominate --chain embedded)",
    )
    a = p.parse_args(argv)
    engine = scale_engine(now=int(time.time()))
    book = synthetic_book(engine, a.accounts, seed=a.seed)
    op = VenueOperator(a.root, VenueSpec(leaves=a.leaves, assets=ASSETS))
    if a.chain == "embedded" or a.rpc:
        op.deploy_chain(engine, rpc_url=a.rpc, insurance_fund_micro_usd=10**15, max_unrepresented_ppm=1_000_000)
    t0 = time.perf_counter()
    setup = op.setup(op.shape(engine))
    print(f"setup: {time.perf_counter() - t0:.1f} s ({setup.path})", flush=True)
    t0 = time.perf_counter()
    first = op.latest_epoch() + 1
    full = op.run_epoch(first, engine, book)
    full_s = time.perf_counter() - t0
    print(f"full epoch {first}: {full.covered} accounts, {full.batches} batches, {full_s:.1f} s", flush=True)
    k = next(i for i, x in enumerate(book) if x.account_id in full.user_secrets)
    acct = book[k]
    bal = dict(acct.balances)
    bal["USDT"] = bal.get("USDT", 0) + 10**12  # a deposit of 10,000 USDT
    book[k] = acct.model_copy(update={"balances": bal})
    t0 = time.perf_counter()
    u = op.run_update(first + 1, engine, book)
    latency = time.perf_counter() - t0
    stages = ", ".join(f"{n} {s:.1f} s" for n, s in op.timings.items())
    print(f"update epoch {first + 1}: {u.mode} {u.reason} reproved {u.reproved}, {len(u.carried)} carried, "
          f"{latency:.1f} s ({stages})", flush=True)  # fmt: skip
    t0 = time.perf_counter()
    rep = audit_bundle(u.result.path, deliveries=u.result.deliveries)
    audit_s = time.perf_counter() - t0
    bad = [c.name for c in rep.checks if not c.ok and not c.name.startswith("setup")]
    ok = u.mode == "update" and len(u.reproved) == 1 and not bad and rep.malformed is None
    if bad:
        print("audit failures:", bad, file=sys.stderr)
    print(
        f"RESULT venue_update_ok={int(ok)} leaves={a.leaves} accounts={full.covered} slots={u.result.batches} "
        f"reproved={len(u.reproved)} latency_s_{a.leaves}={latency:.1f} full_epoch_s={full_s:.1f} "
        f"audit_s={audit_s:.1f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

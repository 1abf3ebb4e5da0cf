#!/usr/bin/env python3
"""What an update epoch costs the operator besides the proof, as the book grows (issue 16): a full epoch of
``--accounts`` one-position accounts on the small test venue (the demo engine with the 10% box), then ONE account's
USDT balance changes and ``VenueOperator.run_update`` runs the next epoch. The update's stages are timed
(``VenueOperator.timings``); the figure that must not grow with the book is the non-proof part: classify + plan,
carry (the carried slots) and the bundle write (copies of the carried slots' files and users' files).

    python scripts/bench_venue_carry.py --accounts 200 2000 --leaves 64 --root /tmp/venue-carry

Last line per size: ``RESULT venue_carry_ok=... accounts=... slots=... reproved=... update_s=... prove_s=...
non_proof_s=... carried_us_per_account=...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import ScenarioGrid
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.operator.exchange import demo_engine
from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec
from zkmargin.verifier.audit import audit_bundle

SYMS = ("BTC-PERP", "ETH-PERP", "SOL-PERP")


def box_engine() -> MarginEngine:
    """Demo engine at the start of today (UTC): a rerun the same day rebuilds the same parameters and market, so
    its update is not refused for a changed ``params_commitment``."""
    e = demo_engine(btc=36_000.0, now=int(time.time()) // 86_400 * 86_400)
    grid = ScenarioGrid(price_moves=[-150_000, -100_000, 0, 100_000, 150_000], vol_shocks=[-250_000, 0, 250_000])
    params = e.params.model_copy(update={"scenario_grids": {"BTC": grid}})
    ra = build_risk_arrays(e.instruments, e.snapshot, params.scenario_grids, params.short_option_min)
    return MarginEngine(e.instruments, params, e.snapshot, ra)


def book(engine: MarginEngine, n: int) -> list[Account]:
    m = engine.snapshot.marks
    return [
        Account(
            account_id=f"acct{i:07d}",
            balances={"USDT": demo.qt(10_000 + i % 997)},
            positions=[Position(instrument=SYMS[i % 3], quantity=demo.qt(0.1), entry_price=m[SYMS[i % 3]])],
        )
        for i in range(n)
    ]


def run(n: int, leaves: int, root: Path, audit: bool) -> bool:
    engine = box_engine()
    accts = book(engine, n)
    op = VenueOperator(root / f"n{n}", VenueSpec(leaves=leaves, positions=2, balances=2, box_ppm=100_000))
    latest = op.latest_epoch()
    if latest == 0:  # a root from an earlier run is reused: its book is rebuilt with the changes it attested
        t0 = time.perf_counter()
        latest = op.run_epoch(1, engine, accts).epoch
        print(f"full epoch 1: {n} accounts, {time.perf_counter() - t0:.1f} s")
    for e in range(2, latest + 2):  # update epoch e deposits 10,000 USDT into account n // 2 + e - 2
        k = (n // 2 + e - 2) % n
        a = accts[k]
        accts[k] = a.model_copy(update={"balances": {"USDT": a.balances["USDT"] + demo.qt(10_000)}})
    t0 = time.perf_counter()
    u = op.run_update(latest + 1, engine, accts)
    if u.mode == "full":  # the root's tree was built under other parameters: this full epoch starts a new one
        print(f"epoch {latest + 1}: a full epoch ({u.reason}); the update follows")
        k = (n // 2 + latest) % n
        accts[k] = accts[k].model_copy(update={"balances": {"USDT": accts[k].balances["USDT"] + demo.qt(10_000)}})
        t0 = time.perf_counter()
        u = op.run_update(latest + 2, engine, accts)
    total = time.perf_counter() - t0
    prove = op.timings.get("prove batches", 0.0)
    stages = ", ".join(f"{k} {v:.3f} s" for k, v in op.timings.items())
    carried_accounts = u.result.covered - sum(int(u.result.manifest["batches"][k]["count"]) for k in u.reproved)
    per = (total - prove) / max(carried_accounts, 1) * 1e6
    print(f"update epoch {u.result.epoch}: {u.mode} reproved {u.reproved}, {len(u.carried)} carried ({stages})")
    ok = u.mode == "update" and len(u.reproved) == 1
    if audit:
        rep = audit_bundle(u.result.path, deliveries=u.result.deliveries)
        ok = ok and rep.malformed is None and all(c.ok for c in rep.checks if not c.name.startswith("setup"))
    print(
        f"RESULT venue_carry_ok={int(ok)} accounts={u.result.covered} slots={u.result.batches} "
        f"reproved={len(u.reproved)} update_s={total:.3f} prove_s={prove:.3f} non_proof_s={total - prove:.3f} "
        f"carried_us_per_account={per:.0f}",
        flush=True,
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--accounts", type=int, nargs="+", default=[200, 2000])
    p.add_argument("--leaves", type=int, default=64)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--no-audit", action="store_true")
    a = p.parse_args(argv)
    return 0 if all([run(n, a.leaves, a.root, not a.no_audit) for n in a.accounts]) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark: one full revaluation of 100,000 accounts x 8 positions on a tick, vectorised vs the exact path.

Prints positions per second for the vectorised numpy path and for the exact per-account Python path (on a
subsample, which is also checked to agree bit for bit), the incremental single-price update time, and ends with
RESULT positions_per_second=... vectorised_vs_exact_ratio=...
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.demo import synthetic_book
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.engine.vectorised import STATUS_NAMES, Book, VectorEngine


def to_account(book: Book, entry: np.ndarray, r: int, symbols: list[str], assets: list[str]) -> Account:
    positions = [
        Position(instrument=symbols[int(book.inst[r, j])], quantity=int(book.qty[r, j]), entry_price=int(entry[r, j]))
        for j in range(book.qty.shape[1])
    ]
    balances = {a: int(book.bal[r, i]) for i, a in enumerate(assets) if book.bal[r, i]}
    return Account(account_id=book.account_ids[r], balances=balances, positions=positions)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--exact-sample", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    insts, snap, params = demo.instruments(), demo.snapshot(), demo.params()
    ve = VectorEngine(insts, params, snap, demo.ASSETS)
    book, entry = synthetic_book(args.accounts, args.slots, ve.symbols, demo.ASSETS)
    npos = args.accounts * args.slots

    ve.revalue(book)  # warm-up
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = ve.revalue(book)
        best = min(best, time.perf_counter() - t0)
    vec_pps = npos / best
    print(
        f"vectorised: {args.accounts:,} accounts x {args.slots} positions in {best * 1e3:.1f} ms "
        f"-> {vec_pps / 1e6:.2f} M positions/s"
    )

    # Exact per-account path on a subsample (same accounts as pydantic models), checked bit for bit.
    eng = MarginEngine(insts, params, snap)
    sample = np.random.default_rng(5).choice(args.accounts, size=min(args.exact_sample, args.accounts), replace=False)
    accts = [to_account(book, entry, int(r), ve.symbols, demo.ASSETS) for r in sample]
    t0 = time.perf_counter()
    exact = [eng.evaluate(a) for a in accts]
    dt = time.perf_counter() - t0
    exact_pps = len(sample) * args.slots / dt
    mismatches = sum(
        1
        for r, e in zip(sample, exact, strict=True)
        if (e.equity, e.im, e.mm, e.status)
        != (int(res.equity[r]), int(res.im[r]), int(res.mm[r]), STATUS_NAMES[res.status[r]])
    )
    print(
        f"exact path: {len(sample):,} accounts in {dt * 1e3:.1f} ms -> {exact_pps / 1e6:.3f} M positions/s; "
        f"mismatches vs vectorised: {mismatches}"
    )

    t0 = time.perf_counter()
    holders = ve.holders(book)  # once per book (positions change far less often than prices)
    print(f"holder index built in {(time.perf_counter() - t0) * 1e3:.1f} ms")
    counts = {s: holders[i].size for i, s in enumerate(ve.symbols) if holders[i].size}
    for sym in (max(counts, key=counts.__getitem__), min(counts, key=counts.__getitem__)):
        t0 = time.perf_counter()
        touched = ve.update_mark(book, res, holders, sym, snap.marks[sym] * 97 // 100)
        dt_inc = time.perf_counter() - t0
        print(
            f"incremental {sym} mark -3%: {touched:,} accounts hold it, recomputed in {dt_inc * 1e3:.1f} ms "
            f"(full revaluation {best * 1e3:.1f} ms)"
        )
    full = ve.revalue(book)
    same = all(np.array_equal(getattr(res, f), getattr(full, f)) for f in ("equity", "im", "mm", "status", "shortfall"))
    print(f"incrementally updated results equal a full revaluation at the new prices: {same}")
    print(f"RESULT positions_per_second={vec_pps:.0f} vectorised_vs_exact_ratio={vec_pps / exact_pps:.1f}")


if __name__ == "__main__":
    main()

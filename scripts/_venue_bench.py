"""``scripts/bench_circuit.py --venue`` (issue 15): the venue circuit on a 1,000-instrument, 20-asset table.

1. **P and A from the synthetic venue.** For each candidate (P position slots, A balance slots per leaf), the
   constraints of one more leaf (the slope between two batch sizes at a fixed limb size, tables excluded) times the
   mean number of linked leaves an account of the synthetic book (``scripts/gen_snapshot.py`` over this universe)
   needs; the candidate with the fewest constraints per account wins (``--slots P A`` skips the choice).
2. **Constraints per leaf and per account** at each ``--venue-sizes`` batch, all costs included: the tables (1,000
   instrument rows, 986 risk arrays, ladders, tiers, their commitments and per-row checks) paid once per batch, the
   range table, the LogUp sums. "Per account" = per leaf x the mean leaves per account of the synthetic book (the
   RESULT's ``venue_constraints_per_account``, at 1,024 leaves when measured, issue 15's target <= 2,500). Build
   time, witness + check time, peak RSS; sizes listed in ``--venue-count-only`` are counted by a lean build
   (``VenueCircuit(count_only=True)``: no constraint or witness step kept), for batches too large to hold.
3. **Prove** a ``--venue-prove`` batch: dev setup, ``prove_committed``, ``verify_committed``; peak RSS of the process.
   ``--venue-lean-setup`` (a 4,096-leaf batch's 2^23 key does not fit in memory beside the circuit otherwise): the
   committed dev key is streamed to a key directory (``prover/setup/dev_committed.py``), the circuit's R1CS is
   dropped once the key is mapped from the file (the prover needs only the witness program), and the proof uses the
   mapped key as the operator does. ``--venue-key-dir DIR`` keeps the key in ``DIR/venue<N>_p<P>a<A>`` and reuses it
   when its recorded circuit shape matches (a key of another circuit would fail the asserted verification anyway).

Every phase (build, witness + check, setup and its sub-phases, key map, prove, verify) prints its start and end
with the time, the peak RSS of that phase alone (``/proc/self/status`` VmHWM, reset between phases through
``/proc/self/clear_refs``; the process's running peak where that is not allowed) and the 1-minute load average.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_write_json
from zkmargin.circuits.lookup import lookup_report
from zkmargin.circuits.r1cs import R1CS
from zkmargin.circuits.rules.instrument_table import InstrumentTable, build_instrument_table, venue_shape
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.committed_store import load_committed_key
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.setup.dev_committed import malloc_trim, write_dev_committed_key
from zkmargin.prover.venue_universe import ASSETS, venue_engine
from zkmargin.prover.venue_witness import build_venue_batch, split_account
from zkmargin.verifier.committed import verify_committed

CANDIDATES = ((2, 2), (3, 3), (4, 3), (4, 4), (6, 4), (8, 4))
BATCH_PARTS = ("params commitment", "hard floors + marks", "lookup table")
TAIL = 50  # instruments: the tail of the synthetic book reported apart


def _generator() -> Any:
    path = Path(__file__).with_name("gen_snapshot.py")
    spec = importlib.util.spec_from_file_location("gen_snapshot", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _rss_gb() -> float:
    """Peak resident memory of this process (the build, witness and proof run here), GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _children_rss_gb() -> float:
    """Peak resident memory of the largest worker process (the dev setup's and prover's pools), GB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2


def _hwm_gb() -> float | None:
    """Peak resident memory since the last :func:`_reset_hwm` (VmHWM), GB; None if /proc is not there."""
    try:
        m = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    except OSError:
        return None
    return int(m.group(1)) / 1024**2 if m else None


def _reset_hwm() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0), so the next phase's peak is its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PhaseMeter:
    """Times each phase, measures its own peak RSS, prints progress as it goes (a 30-minute run should say where it
    is) and keeps the rows for the summary table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, float]] = []  # name, seconds, peak RSS GB, load average at the end
        self.peak_gb = _rss_gb()  # what ran before the first phase (imports, the book)
        self.t_start = time.perf_counter()
        self._cur: tuple[str, float] | None = None
        self._own = False

    def start(self, name: str) -> None:
        self.stop()
        malloc_trim()  # garbage of the last phase is not this phase's peak
        self._own = _reset_hwm()
        self._cur = (name, time.perf_counter())
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)

    def stop(self) -> None:
        if self._cur is None:
            return
        name, t0 = self._cur
        self._cur = None
        dt = time.perf_counter() - t0
        hwm = _hwm_gb() if self._own else None
        peak = hwm if hwm is not None else _rss_gb()
        self.peak_gb = max(self.peak_gb, peak)
        load = os.getloadavg()[0]
        self.rows.append((name, dt, peak, load))
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {dt:.1f} s, peak RSS {peak:.1f} GB"
              f"{'' if self._own else ' (process so far)'}, load {load:.1f}", flush=True)  # fmt: skip

    def seconds(self, prefix: str) -> float:
        return sum(r[1] for r in self.rows if r[0].startswith(prefix))

    def peak(self, prefix: str) -> float:
        return max((r[2] for r in self.rows if r[0].startswith(prefix)), default=float("nan"))

    def table(self) -> None:
        print("\n| phase | time (s) | peak RSS of the phase (GB) | load average (1 min, at its end) |")
        print("|---|---:|---:|---:|")
        for name, dt, peak, load in self.rows:
            print(f"| {name} | {dt:,.1f} | {peak:.1f} | {load:.1f} |")
        wall = time.perf_counter() - self.t_start
        print(f"\nwall {wall:,.0f} s from the first phase; peak RSS {self.peak_gb:.1f} GB\n")


def _shape_record(r1cs: R1CS, n: int, p: int, a: int) -> dict[str, Any]:
    """What a reused key must match: the circuit's size and commitment (a cheap stand-in for its full structure)."""
    info = r1cs.commitment
    return {
        "leaves": n, "positions_per_leaf": p, "balances_per_leaf": a, "n_vars": r1cs.n_vars,
        "n_public": r1cs.n_public, "n_constraints": r1cs.n_constraints,
        "committed_wires": len(info.private) if info is not None else 0,
        "entries": [sum(len(getattr(con, m)) for con in r1cs.constraints) for m in "abc"],
        "setup": "DEVELOPMENT ONLY: single-party committed dev setup, toxic waste known to whoever ran it",
    }  # fmt: skip


def lean_key(
    meter: PhaseMeter, r1cs: R1CS, n: int, p: int, a: int, key_dir: str | None
) -> tuple[CommittedProvingKey, bool]:
    """The committed dev key streamed to a directory (or reused from it), then mapped from the file; True if it
    was reused."""
    root = Path(key_dir) if key_dir else Path(tempfile.mkdtemp(prefix="venue-key-"))
    d = root / f"venue{n}_p{p}a{a}"
    record = _shape_record(r1cs, n, p, a)
    shape_file = d / "shape.json"
    reused = False
    with contextlib.suppress(OSError, ValueError):
        reused = json.loads(shape_file.read_text()) == record
    if reused:
        print(f"reusing the dev key in {d} (same circuit shape)", flush=True)
    else:
        shape_file.unlink(missing_ok=True)  # a half-written key is never taken for a finished one
        write_dev_committed_key(r1cs, d, on_phase=lambda name: meter.start(f"setup: {name}"))
        atomic_write_json(shape_file, record)
    meter.start("key map (packed-only, the file mapped)")
    key = load_committed_key(d, r1cs, packed_only=True, check_points=False)
    meter.stop()
    return key, reused


def _small_table(engine: MarginEngine) -> InstrumentTable:
    """A 40-instrument slice of the universe (same ladders, tiers, scenarios): the per-leaf slope does not depend on
    the table size, and it builds fast."""
    keep = [s for s, i in engine.instruments.items() if i.kind != "option"][:20]
    keep += [s for s, i in engine.instruments.items() if i.kind == "option"][:20]
    return build_instrument_table({s: engine.instruments[s] for s in keep}, engine.params, ASSETS)


def choose_slots(engine: MarginEngine, table: InstrumentTable, book: list[Account]) -> tuple[int, int]:
    small = _small_table(engine)
    print("## P and A from the synthetic venue\n")
    print(f"{len(book):,} synthetic accounts; leaves per account with P positions and A balances per leaf (one")
    print("portfolio underlying per leaf); constraints per leaf = slope 16 -> 32 leaves, 14-bit limbs, no tables\n")
    print("| P | A | constraints per leaf | leaves per account (mean) | median | max | constraints per account |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    best: tuple[float, int, int] | None = None
    for p, a in CANDIDATES:
        sh16 = venue_shape(small, engine.params, 16, p, a)
        leaves = [len(split_account(engine, x, table, venue_shape(table, engine.params, 16, p, a))) for x in book]
        c16 = VenueCircuit(sh16, limb_bits=14).r1cs.n_constraints
        c32 = VenueCircuit(venue_shape(small, engine.params, 32, p, a), limb_bits=14).r1cs.n_constraints
        per_leaf = (c32 - c16) / 16
        mean = statistics.fmean(leaves)
        cost = per_leaf * mean
        print(f"| {p} | {a} | {per_leaf:,.0f} | {mean:.3f} | {statistics.median(leaves):.0f} | {max(leaves)} | "
              f"{cost:,.0f} |")  # fmt: skip
        if best is None or cost < best[0]:
            best = (cost, p, a)
    assert best is not None
    print(f"\nchosen: P={best[1]}, A={best[2]}\n")
    return best[1], best[2]


def fill(engine: MarginEngine, table: InstrumentTable, book: list[Account], p: int, a: int, n: int) -> list[Account]:
    """Accounts in book order while their leaves fit n (one that does not fit waits for the next batch)."""
    sh = venue_shape(table, engine.params, n, p, a)
    out, used = [], 0
    for x in book:
        k = len(split_account(engine, x, table, sh))
        if used + k <= n:
            out.append(x)
            used += k
    return out


def main_venue(args: argparse.Namespace) -> None:
    # --venue-point: the point-price shape (box 0); else the price-box shape (issue 16), whose constraint count does
    # not depend on the governed box's width (the witness check runs it at b = 0: the bench venue's grids have no
    # zero vol shock, so no box nodes)
    box = 0 if getattr(args, "venue_point", False) else 1
    print(f"shape: {'point prices (box 0)' if not box else 'price box (box 1)'}\n")
    engine = venue_engine()
    table = build_instrument_table(engine.instruments, engine.params, ASSETS)
    gen = _generator()
    book = gen.synthetic_book(engine, args.venue_book, seed=15)
    print(f"venue: {len(table.instruments):,} instruments ({table.risk_rows} with risk arrays, "
          f"{len(table.ladders)} ladders), {len(table.assets)} assets\n")  # fmt: skip
    p, a = tuple(args.slots) if args.slots else choose_slots(engine, table, book)
    sh16 = venue_shape(table, engine.params, 16, p, a)
    leaves = [len(split_account(engine, x, table, sh16)) for x in book]
    mean_leaves = statistics.fmean(leaves)
    bulk = [k for k, x in zip(leaves, book, strict=True) if len(x.positions) <= TAIL]
    tail_share = 1 - sum(bulk) / sum(leaves)
    print(f"accounts with more than {TAIL} instruments: {len(book) - len(bulk)} of {len(book):,} "
          f"({(len(book) - len(bulk)) / len(book):.1%}), taking {tail_share:.0%} of the leaves; mean leaves per "
          f"account without them {statistics.fmean(bulk):.3f}\n")  # fmt: skip
    print("## constraints per leaf and per account (tables paid once per batch)\n")
    print(f"per account = per leaf x {mean_leaves:.3f}, the mean leaves per account of the {len(book):,}-account book "
          "(the accounts filling one batch vary with the tail); sizes in --venue-count-only are counted without "
          "keeping the system (no witness); peak RSS is this process's so far (run one size per process to read "
          "it per size)\n")  # fmt: skip
    print("| leaves per batch | accounts in it | constraints | per leaf | per account | tables + range table per leaf "
          "| limb bits | build (s) | witness + check (s) | peak RSS (GB) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results: dict[int, tuple[float, float, int]] = {}
    circuits: dict[int, tuple[VenueCircuit, Any]] = {}
    budgets: dict[int, dict[str, int]] = {}
    meter = PhaseMeter()
    for n in args.venue_sizes:
        accts = fill(engine, table, book, p, a, n)
        lean = n in args.venue_count_only
        meter.start(f"build {n}")
        t0 = time.perf_counter()
        c = VenueCircuit(venue_shape(table, engine.params, n, p, a, box=box), count_only=lean)
        build_s = time.perf_counter() - t0
        wit = "-"
        if not lean:
            meter.start(f"witness + check {n}")
            t1 = time.perf_counter()
            batch = build_venue_batch(engine, accts, table, c.shape, epoch=1, secret=b"bench")
            c.r1cs.check(c.witness(batch.inputs))
            wit = f"{time.perf_counter() - t1:.0f}"
        meter.stop()
        total = c.n_constraints
        tables = sum(c.budget[k] for k in BATCH_PARTS)
        results[n] = (total / n, total / n * mean_leaves, len(accts))
        budgets[n] = dict(c.budget)
        print(f"| {n:,} | {len(accts):,} | {total:,} | {total / n:,.0f} | {total / n * mean_leaves:,.0f} | "
              f"{tables / n:,.0f} | {lookup_report(c.cs)['limb_bits']} | {build_s:.0f} | {wit} | "
              f"{max(meter.peak_gb, _rss_gb()):.1f} |")  # fmt: skip
        if n == args.venue_prove and not args.no_prove and not lean:
            circuits[n] = (c, batch)
        else:
            del c
    print("\ncomponents per leaf (the batch parts amortised over the leaves):\n")
    print("| component | " + " | ".join(f"{n:,} leaves" for n in budgets) + " |")
    print("|---|" + "---:|" * len(budgets))
    first = next(iter(budgets.values()))
    for comp in sorted(first, key=lambda k: -first[k]):
        print(f"| {comp} | " + " | ".join(f"{b.get(comp, 0) / n:,.1f}" for n, b in budgets.items()) + " |")
    big = max(results)
    if len(results) >= 2:
        lo, hi = sorted(results)[:2]
        slope = (results[hi][0] * hi - results[lo][0] * lo) / (hi - lo)
        fixed = results[lo][0] * lo - slope * lo
        print(f"\naffine fit through {lo} and {hi} leaves (same limb size): {slope:,.0f} per leaf + {fixed:,.0f} per "
              "batch; extrapolated:\n")  # fmt: skip
        print("| leaves per batch | per leaf | per account |")
        print("|---:|---:|---:|")
        for n in (1024, 4096):
            if n not in results:
                per = slope + fixed / n
                print(f"| {n:,} (extrapolated) | {per:,.0f} | {per * mean_leaves:,.0f} |")
    print(f"\npeak RSS so far {max(meter.peak_gb, _rss_gb()):.1f} GB\n")
    prove_s = float("nan")
    new: dict[str, str] = {}
    n_prove = args.venue_prove
    if n_prove in circuits:
        c, batch = circuits[n_prove]
        print(f"## prove {n_prove} leaves ({len(batch.accounts)} accounts)\n")
        for comp, v in sorted(c.budget.items(), key=lambda kv: -kv[1]):
            print(f"| {comp} | {v / n_prove:,.0f} |")
        print(flush=True)
        t0 = time.perf_counter()
        if args.venue_lean_setup:
            key, reused = lean_key(meter, c.r1cs, n_prove, p, a, args.venue_key_dir)
            new["key_reused"] = str(int(reused))
            del c.r1cs  # the prover runs the witness program (c.cs) and the mapped key: the R1CS is gigabytes
            malloc_trim()
        else:
            meter.start("dev setup (in memory)")
            key = dev_setup_committed(c.r1cs)
        meter.start(f"prove {n_prove} (witness included)")
        t1 = time.perf_counter()
        proof, public = prove_committed(key, c.cs, batch.inputs)
        t2 = time.perf_counter()
        meter.start("verify")
        assert verify_committed(key.vk, proof, public)
        t3 = time.perf_counter()
        meter.stop()
        prove_s = t2 - t1
        setup_s = meter.seconds("setup") + meter.seconds("dev setup")
        new.update(lean_setup=str(int(args.venue_lean_setup)), setup_s=f"{setup_s:.1f}",
                   key_map_s=f"{meter.seconds('key map'):.1f}", prove_s=f"{prove_s:.1f}", verify_s=f"{t3 - t2:.3f}",
                   peak_rss_setup_gb=f"{max(meter.peak('setup'), meter.peak('dev setup')):.1f}"
                   if not new.get("key_reused") == "1" else "nan",
                   peak_rss_prove_gb=f"{meter.peak('prove'):.1f}")  # fmt: skip
        print(f"\ndev setup {setup_s:.1f} s ({t1 - t0:.1f} s with the key map); prove {prove_s:.1f} s (witness "
              f"included) = {prove_s / n_prove:.4f} s per leaf, {prove_s / n_prove * mean_leaves:.4f} s per account "
              f"(x mean leaves); verify {t3 - t2:.3f} s; peak RSS {meter.peak_gb:.1f} GB (largest worker "
              f"{_children_rss_gb():.1f} GB)\n")  # fmt: skip
    meter.table()
    if args.venue_sizes:
        n0 = args.venue_sizes[-1]
        new.update(build_s=f"{meter.seconds(f'build {n0}'):.1f}", witness_check_s=f"{meter.seconds('witness'):.1f}",
                   peak_rss_build_gb=f"{meter.peak('build'):.1f}",
                   peak_rss_witness_gb=f"{meter.peak('witness'):.1f}", load_avg=f"{os.getloadavg()[0]:.1f}",
                   wall_s=f"{time.perf_counter() - meter.t_start:.0f}")  # fmt: skip
    head = 1024 if 1024 in results else big
    per_leaf, per_acct, _ = results[head]
    accts_prove = len(circuits[n_prove][1].accounts) if n_prove in circuits else 0
    print(
        f"RESULT venue_constraints_per_account={per_acct:.0f} leaves_per_batch={head} box={box} "
        f"instruments={len(table.instruments)} assets={len(table.assets)} positions_per_leaf={p} balances_per_leaf={a} "
        f"constraints_per_leaf={per_leaf:.0f} leaves_per_synthetic_account={mean_leaves:.3f} "
        f"prove_s_per_leaf={prove_s / max(n_prove, 1):.4f} "
        f"prove_s_per_account={prove_s / max(n_prove, 1) * mean_leaves:.4f} "
        f"prove_leaves={n_prove} prove_accounts={accts_prove} peak_rss_gb={max(meter.peak_gb, _rss_gb()):.1f}"
        + "".join(f" {k}={v}" for k, v in new.items())
    )

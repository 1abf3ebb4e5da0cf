"""The witness program on every core: its *units* (``ConstraintSystem.unit()``) evaluated in forked workers.

Issue 17 asks for both cores busy in every phase, witness generation included. The witness program is a list of
steps in creation order; a circuit marks independent parts while it is built (the accounts of the solvency circuit,
the leaves of the venue circuit, the limbs of each range query), and this module runs them at once:

* a *block* is a run of consecutive units (no step outside a unit between them). Everything before, between and
  after blocks (parameters, tables, the ordering and the tree, the LogUp multiplicities, the commitment, the batch
  inversion) runs in the parent, in order.
* within a block each step gets a *round*: 0 if it reads only signals made before the block or by earlier steps of
  its own unit in round 0; one more than the highest round of any other unit's step it reads (the venue circuit's
  carry from one leaf to the next, a tree level); the round of its own unit's steps it reads otherwise. Rounds run
  one after another; within a round the units' steps are split into contiguous chunks of about equal cost, one per
  worker. Rounds past :data:`MAX_ROUNDS`, and rounds too small to pay for a worker, run in the parent in step order.
* with the C loop (``witness_native``, the default) the workers are threads of the C loop over one shared value
  buffer, the GIL released except around a Python hint (hints take turns, the products and copies run at once);
  with the Python loop (``ZKMARGIN_PURE_PYTHON=1``) they are ``os.fork`` children that send their steps' outputs
  back through a pipe. Why not processes for both: a fork copies the page tables of the whole circuit (measured
  here ~0.1 s per GB of the process, and as much again when the child exits), which at 1,024 accounts (~10 GB) is
  more than the whole C loop takes.

The result is bit-identical to the serial witness (every step sees the same input values; the schedule only
reorders steps whose inputs are already final): ``tests/test_witness_parallel.py``. A worker that fails (a hint
raising, a cheating prover's hint in a test) is re-run in the parent, which raises the same error serially.

``ZKMARGIN_WITNESS_WORKERS=1`` runs everything in the parent (default: the cores this process may use).
"""

from __future__ import annotations

import os
import pickle
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from . import lookup, witness_native
from .r1cs import (
    NATIVE_HINTS,
    BitSplit,
    CommitFn,
    ConstraintSystem,
    PythonWitness,
    SignBit,
    _copy,
    _gc_paused,
    _product,
)
from .witness_native import NativeWitness, available

MAX_ROUNDS = 4  # rounds of a block run in workers; the rest in the parent, in step order
# A round below this cost (input terms, + 40 per Python hint) runs in the parent, in order; tests lower them. A fork
# costs ~0.1 s per GB of the process (page tables, then copy-on-write); a thread ~0.1 ms.
MIN_FORK_COST = 2_000_000
MIN_THREAD_COST = 20_000
# One Python hint in a thread hands the GIL over twice (~10 us on this machine, ~200 terms of the C loop): a round runs
# on threads only if its C work outweighs its hand-overs (the limbs of the range queries, all hints, stay serial).
GIL_COST = 200
PY_STEP_COST = 40


def workers() -> int:
    """Worker processes for the witness: ``ZKMARGIN_WITNESS_WORKERS`` or the cores this process may run on."""
    env = os.environ.get("ZKMARGIN_WITNESS_WORKERS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"ZKMARGIN_WITNESS_WORKERS must be an integer, got {env!r}") from None
        if n < 1:
            raise ValueError(f"ZKMARGIN_WITNESS_WORKERS must be >= 1, got {n}")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Round:
    """One round of a block: per unit (in order) the steps it runs in this round, and their cost."""

    units: list[list[int]]
    costs: list[int]
    py_steps: int = 0  # Python hints among the steps (each one a GIL hand-over when threads run the round)

    @property
    def cost(self) -> int:
        return sum(self.costs)

    def chunks(self, n: int) -> list[list[int]]:
        """The units' steps cut into at most ``n`` contiguous chunks of about equal cost (whole units each)."""
        total = self.cost
        out: list[list[int]] = [[]]
        acc = 0
        for steps, c in zip(self.units, self.costs, strict=True):
            if out[-1] and acc >= total * len(out) / n and len(out) < n:
                out.append([])
            out[-1].extend(steps)
            acc += c
        return [c for c in out if c]


@dataclass
class Serial:
    """Steps the parent runs in this order."""

    steps: range | list[int]


@dataclass
class Plan:
    """The schedule: segments in order, each serial steps or a block's rounds."""

    segments: list[Serial | list[Round]]
    key: tuple[int, int]

    @property
    def round_steps(self) -> list[int]:
        """Steps per round index over all blocks (what may run in workers)."""
        out: list[int] = []
        for seg in self.segments:
            if isinstance(seg, list):
                for i, rd in enumerate(seg):
                    while len(out) <= i:
                        out.append(0)
                    out[i] += sum(len(u) for u in rd.units)
        return out


def plan(cs: ConstraintSystem) -> Plan:
    """The schedule of ``cs``'s witness program (cached on the system until steps or units are added)."""
    prog = cs._compiled()
    key = (len(prog), len(cs._units))
    cached = getattr(cs, "_witness_plan", None)
    if isinstance(cached, Plan) and cached.key == key:
        return cached
    with _gc_paused():  # many small lists: the collector would walk the circuit's millions of objects
        p = _plan(cs, prog, key)
    cs._witness_plan = p  # type: ignore[attr-defined]
    return p


def _plan(cs: ConstraintSystem, prog: list, key: tuple[int, int]) -> Plan:
    segments: list[Serial | list[Round]] = []
    pos = 0
    units = [u for u in cs._units if u[1] <= len(prog)]
    i = 0
    while i < len(units):
        if not units[i][4]:
            i += 1
            continue
        j = i + 1
        while j < len(units) and units[j][4] and units[j][0] == units[j - 1][1]:
            j += 1
        block = units[i:j]
        if block[0][0] > pos:
            segments.append(Serial(range(pos, block[0][0])))
        segments.extend(_block(cs, prog, block))
        pos = block[-1][1]
        i = j
    if pos < len(prog):
        segments.append(Serial(range(pos, len(prog))))
    return Plan(segments, key)


def _block(cs: ConstraintSystem, prog: list, block: list[list[int]]) -> list[Serial | list[Round]]:
    """Rounds of one block of units (see the module docstring), then the steps past MAX_ROUNDS in step order."""
    if available():
        assert witness_native._witness is not None
        units = array("q", [x for u in block for x in u[:4]])
        rb, cb = witness_native._witness.rounds(witness_native._encoded(cs), units, PY_STEP_COST)
        rounds: Sequence[int] = rb
        costs: Sequence[int] = array("I", cb)
    else:
        rounds, costs = rounds_python(prog, block)
    s0 = block[0][0]
    n_rounds = min(MAX_ROUNDS, max(rounds, default=0) + 1)
    per_round = [[[] for _ in block] for _ in range(n_rounds)]  # type: list[list[list[int]]]
    per_cost = [[0] * len(block) for _ in range(n_rounds)]
    py = [0] * n_rounds
    rest: list[int] = []
    for ui, u in enumerate(block):
        for k in range(u[0], u[1]):
            r = rounds[k - s0]
            if r >= MAX_ROUNDS:
                rest.append(k)
                continue
            per_round[r][ui].append(k)
            per_cost[r][ui] += costs[k - s0]
            step, ins = prog[k]
            if not _native_kind(step.fn, len(ins), len(step.outputs)):
                py[r] += 1
    out: list[Serial | list[Round]] = [[Round(us, c, p) for us, c, p in zip(per_round, per_cost, py, strict=True)]]
    if rest:
        out.append(Serial(rest))
    return out


def rounds_python(prog: list, block: list[list[int]]) -> tuple[bytearray, list[int]]:
    """Per step of the block: its round and its cost (the reference for ``_witness.rounds``, which the C loop uses).

    A step's round is the highest over the signals it reads: 0 for a signal made before the block, the round of the
    step that made it for a signal of its own unit, that round + 1 for another unit's."""
    lo_sig, hi_sig = block[0][2], block[-1][3]
    s0 = block[0][0]
    rnd = bytearray(hi_sig - lo_sig)  # round of the step that made each signal of the block (0 for inputs)
    rounds = bytearray(block[-1][1] - s0)
    costs = [0] * (block[-1][1] - s0)
    for s_lo, s_hi, u_lo, u_hi, _ in block:
        for k in range(s_lo, s_hi):
            step, ins = prog[k]
            r = 0
            terms = 0
            for inp in ins:
                ids = (inp,) if isinstance(inp, int) else inp[0]
                terms += len(ids)
                for s in ids:
                    if lo_sig <= s < hi_sig:
                        r = max(r, rnd[s - lo_sig] + (0 if u_lo <= s < u_hi else 1))
            r = min(r, 255)
            for o in step.outputs:
                if lo_sig <= o < hi_sig:
                    rnd[o - lo_sig] = r
            rounds[k - s0] = r
            costs[k - s0] = terms + (1 if _native_kind(step.fn, len(ins), len(step.outputs)) else PY_STEP_COST)
    return rounds, costs


def _native_kind(fn: object, n_in: int, n_out: int) -> bool:
    """A step the C loop evaluates itself (as ``witness.c``'s encode() classifies it)."""
    if fn is _product:
        return n_in == 2 and n_out == 1
    if fn is _copy:
        return n_in == 1 and n_out == 1
    if isinstance(fn, lookup.RangeCount):
        return True
    if type(fn) in NATIVE_HINTS:
        return n_in == 1 and n_out == 1 and (not isinstance(fn, SignBit) or 0 <= fn.width <= 252)
    if isinstance(fn, lookup.LogupFill):
        return n_in == 2 * n_out + 1
    return isinstance(fn, BitSplit) and n_in == 1 and 1 <= fn.width <= 256


# Set to a list to profile the next witnesses: one (label, steps, wall s, CPU s of this process) per segment
# (scripts/bench_circuit.py --witness-profile). The label names the segment's first step and its kind.
PROFILE: list[tuple[str, int, float, float]] | None = None


def evaluate(cs: ConstraintSystem, assigned: Sequence[tuple[int, int]], commit: CommitFn | None) -> list[int]:
    """The witness of ``cs`` in compiled order: the C loop when built (else Python), units in workers."""
    ev: PythonWitness | NativeWitness = NativeWitness(cs) if available() else PythonWitness(cs)
    ev.assign(assigned)
    n = len(cs._compiled())
    nw = workers()
    segments: list[Serial | list[Round]] = [Serial(range(n))] if nw <= 1 or not cs._units else plan(cs).segments
    for seg in segments:
        t0, c0 = time.perf_counter(), time.process_time()
        if isinstance(seg, Serial):
            ev.run(seg.steps, commit)
        else:
            for rd in seg:
                _run_round(ev, rd, nw, commit)
        if PROFILE is not None:
            PROFILE.append((_label(cs, seg), _count(seg), time.perf_counter() - t0, time.process_time() - c0))
    t0, c0 = time.perf_counter(), time.process_time()
    out = ev.result()
    if PROFILE is not None:
        PROFILE.append(("result (circom order)", 0, time.perf_counter() - t0, time.process_time() - c0))
    return out


def _count(seg: Serial | list[Round]) -> int:
    return len(seg.steps) if isinstance(seg, Serial) else sum(len(u) for rd in seg for u in rd.units)


def _label(cs: ConstraintSystem, seg: Serial | list[Round]) -> str:
    if isinstance(seg, Serial):
        first, kind = (seg.steps[0] if len(seg.steps) else -1), "serial"
    else:
        first = next((u[0] for rd in seg for u in rd.units if u), -1)
        kind = f"{len(seg)} round(s)"
    name = cs._names[cs._compiled()[first][0].outputs[0]] if first >= 0 else "-"
    return f"{kind} from {name}"


def _run_round(ev: PythonWitness | NativeWitness, rd: Round, nw: int, commit: CommitFn | None) -> None:
    busy = sum(1 for s in rd.units if s)
    native = isinstance(ev, NativeWitness)
    if native:  # threads pay off on the C loop's own work, not on hints that take turns on the GIL
        c_work = rd.cost - rd.py_steps * PY_STEP_COST
        worth = c_work >= MIN_THREAD_COST and rd.py_steps * GIL_COST <= c_work
    else:
        worth = rd.cost >= MIN_FORK_COST
    if busy < 2 or not worth:
        ev.run([k for steps in rd.units for k in steps], commit)  # one call: units in order, steps in order
        return
    chunks = rd.chunks(nw)
    if isinstance(ev, NativeWitness):
        ev.run_parallel(chunks, commit)
        return
    kids: list[tuple[int, int, list[int]]] = []  # (pid, read end, chunk)
    prog = ev.cs._compiled()
    for chunk in chunks[1:]:
        try:
            r, w = os.pipe()
            pid = os.fork()
        except OSError:  # no fork (memory, process limit): the parent runs it below
            kids.append((-1, -1, chunk))
            continue
        if pid == 0:  # the worker: evaluate, send the outputs (Python loop), never return into the caller
            code = 1
            try:
                os.close(r)
                ev.run(chunk, commit)
                payload = pickle.dumps(ev.get(_outputs(prog, chunk)), protocol=5)
                with os.fdopen(w, "wb") as f:
                    f.write(payload)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        kids.append((pid, r, chunk))
    ev.run(chunks[0], commit)
    failed: list[list[int]] = []
    for pid, r, chunk in kids:
        if pid < 0:
            failed.append(chunk)
            continue
        with os.fdopen(r, "rb") as f:
            payload = f.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failed.append(chunk)
        else:
            ev.put(_outputs(prog, chunk), pickle.loads(payload))
    for chunk in failed:  # serially, in the parent: the same error (or the same values) as the serial witness
        ev.run(chunk, commit)


def _outputs(prog: list, steps: Sequence[int]) -> list[int]:
    return [o for k in steps for o in prog[k][0].outputs]

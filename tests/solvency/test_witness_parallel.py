"""The parallel witness (circuits/witness_parallel.py) is bit-identical to the serial one (issue 17).

The thresholds are lowered so that the small test circuits take every parallel path: threads of the C loop, forked
workers of the Python loop, rounds (the tree's levels, the venue's leaf-to-leaf carry), the steps past MAX_ROUNDS.
"""

from __future__ import annotations

import pytest
from witness_paths import fixed_commit, small_venue, witness_with

from zkmargin.circuits import witness_native, witness_parallel
from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import LC, ConstraintSystem
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.solvency_witness import SolvencyBatch

LOOPS = [True, *([False] if witness_native._witness is not None else [])]  # pure Python; C


@pytest.mark.parametrize("pure", LOOPS, ids=lambda p: "python" if p else "c")
def test_solvency_parallel_equals_serial(circuit: SolvencyCircuit, batch: SolvencyBatch, pure: bool) -> None:
    serial = witness_with(circuit.cs, batch.inputs, pure=pure, workers=1, commit=fixed_commit)
    par = witness_with(circuit.cs, batch.inputs, pure=pure, workers=2, commit=fixed_commit, min_cost=0)
    three = witness_with(circuit.cs, batch.inputs, pure=pure, workers=3, commit=fixed_commit, min_cost=0)
    assert par == serial and three == serial
    circuit.r1cs.check(par)


def test_solvency_plan_runs_accounts_and_tree_in_rounds(circuit: SolvencyCircuit) -> None:
    """The accounts are one block of independent units (round 0 only); the tree's level-1 node reads two level-0
    nodes (other units): it runs in round 1, after them."""
    cs = circuit.cs
    plan = witness_parallel.plan(cs)
    blocks = [seg for seg in plan.segments if isinstance(seg, list)]
    accounts = blocks[0]
    assert len(accounts) == 1 and sum(1 for u in accounts[0].units if u) == circuit.shape.accounts
    tree = blocks[1]
    names = [{cs._names[cs._compiled()[k][0].outputs[0]].split(".")[1] for k in u} for u in tree[1].units if u]
    assert names == [{"l1n0"}]
    assert sum(1 for u in tree[0].units if u) >= 2


def test_venue_parallel_equals_serial() -> None:
    circuit, batch = small_venue()
    serial = witness_with(circuit.cs, batch.inputs, pure=False, workers=1, commit=fixed_commit)
    for pure in LOOPS:
        par = witness_with(circuit.cs, batch.inputs, pure=pure, workers=2, commit=fixed_commit, min_cost=0)
        assert par == serial
    plan = witness_parallel.plan(circuit.cs)
    leaves = next(seg for seg in plan.segments if isinstance(seg, list))
    assert len(leaves) > 1  # linked leaves: the carry puts later steps in later rounds


@pytest.mark.skipif(witness_native._witness is None, reason="the C witness loop is not built")
def test_native_rounds_match_the_python_reference(circuit: SolvencyCircuit) -> None:
    cs = circuit.cs
    prog = cs._compiled()
    for block in _blocks(cs):
        from array import array

        units = array("q", [x for u in block for x in u[:4]])
        rb, cb = witness_native._witness.rounds(witness_native._encoded(cs), units, witness_parallel.PY_STEP_COST)
        ref_r, ref_c = witness_parallel.rounds_python(prog, block)
        assert bytes(rb) == bytes(ref_r)
        assert list(array("I", cb)) == ref_c


def _blocks(cs: ConstraintSystem) -> list[list[list[int]]]:
    out: list[list[list[int]]] = []
    for u in cs._units:
        if out and u[4] and out[-1][-1][1] == u[0]:
            out[-1].append(u)
        elif u[4]:
            out.append([u])
    return out


def chain_system() -> tuple[ConstraintSystem, dict[str, int]]:
    """Six units: each squares its own input a few times (round 0), then folds in the previous unit's result (a
    chain: rounds 1..5, past MAX_ROUNDS after 3), one unit reads a signal made before the block; then a serial tail."""
    cs = ConstraintSystem()
    xs = [cs.input(f"x{i}") for i in range(6)]
    base = cs.mul(xs[0], xs[1], "base")
    prev: LC | None = None
    for i, x in enumerate(xs):
        with cs.unit():
            y = x
            for k in range(3):
                y = cs.mul(y, y + k, f"u{i}.sq{k}")
            y = cs.hint1(f"u{i}.h", lambda v: (v * 3 - 1) % R, y)
            if i == 2:
                y = cs.mul(y, base, f"u{i}.base")
            if prev is not None:
                y = cs.mul(y, prev + 1, f"u{i}.chain")
            prev = y
    assert prev is not None
    cs.output("out", cs.mul(prev, prev, "tail"))
    cs.compile()
    return cs, {f"x{i}": (i * 7919 + 3) % R for i in range(6)} | {"x5": R - 1}


@pytest.mark.parametrize("pure", LOOPS, ids=lambda p: "python" if p else "c")
def test_chained_units_keep_their_order(pure: bool) -> None:
    cs, inputs = chain_system()
    serial = witness_with(cs, inputs, pure=pure, workers=1)
    assert witness_with(cs, inputs, pure=pure, workers=2, min_cost=0) == serial
    plan = witness_parallel.plan(cs)
    (rounds,) = [seg for seg in plan.segments if isinstance(seg, list)]
    assert len(rounds) == witness_parallel.MAX_ROUNDS
    assert any(isinstance(seg, witness_parallel.Serial) and isinstance(seg.steps, list) for seg in plan.segments)


@pytest.mark.parametrize("pure", LOOPS, ids=lambda p: "python" if p else "c")
def test_a_failing_unit_raises_the_serial_error(pure: bool) -> None:
    cs = ConstraintSystem()
    xs = [cs.input(f"x{i}") for i in range(4)]
    for i, x in enumerate(xs):
        with cs.unit():
            y = cs.mul(x, x + 1, f"u{i}")
            cs.hint1(f"u{i}.inv", lambda v: pow(v, -1, R), y)  # raises for v = 0
    cs.compile()
    inputs = {f"x{i}": 5 for i in range(4)} | {"x3": 0}
    with pytest.raises(ValueError, match="base is not invertible"):
        witness_with(cs, inputs, pure=pure, workers=2, min_cost=0)


def test_fill_or_commit_inside_a_unit_makes_it_serial() -> None:
    cs = ConstraintSystem()
    x = cs.input("x")
    r = cs.reserve("r")
    with cs.unit():
        cs.mul(x, x)
    with cs.unit():
        cs.fill([r], lambda v: [v + 1], x)
    assert [u[4] for u in cs._units] == [1, 0]


def test_workers_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZKMARGIN_WITNESS_WORKERS", "1")
    assert witness_parallel.workers() == 1
    monkeypatch.setenv("ZKMARGIN_WITNESS_WORKERS", "zero")
    with pytest.raises(ValueError, match="ZKMARGIN_WITNESS_WORKERS"):
        witness_parallel.workers()
    monkeypatch.setenv("ZKMARGIN_WITNESS_WORKERS", "0")
    with pytest.raises(ValueError, match="ZKMARGIN_WITNESS_WORKERS"):
        witness_parallel.workers()


def test_one_worker_never_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    cs, inputs = chain_system()

    def no(*_: object) -> None:
        raise AssertionError("scheduled with ZKMARGIN_WITNESS_WORKERS=1")

    monkeypatch.setattr(witness_parallel, "plan", no)
    monkeypatch.setattr(witness_parallel, "_run_round", no)
    for pure in LOOPS:
        witness_with(cs, inputs, pure=pure, workers=1, min_cost=0)


def test_without_the_extension(circuit: SolvencyCircuit, batch: SolvencyBatch, monkeypatch: pytest.MonkeyPatch) -> None:
    """An install without a C compiler: the Python loop, the Python schedule, forked workers; the same witness."""
    serial = witness_with(circuit.cs, batch.inputs, pure=True, workers=1, commit=fixed_commit)
    monkeypatch.setattr(witness_native, "_witness", None)
    monkeypatch.setattr(circuit.cs, "_witness_plan", None, raising=False)  # re-planned without the C schedule
    assert not witness_native.available()
    par = witness_with(circuit.cs, batch.inputs, pure=False, workers=2, commit=fixed_commit, min_cost=0)
    assert par == serial

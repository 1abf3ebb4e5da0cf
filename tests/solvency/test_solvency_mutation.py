"""Under-constrained signals: add 1 to every witness signal of a small batch in turn; every change must break a
constraint, except the is_zero inverse of a zero value (free by design: its output is pinned by x * out = 0).

Lookup mode adds what a lookup prover controls: the limbs, the multiplicities, the looked-up rows, the inverses and
the challenge. Besides the one-signal mutations, a cheating prover there changes a limb, a multiplicity or a row and
recomputes every dependent hint (inverses, row fractions) honestly, so that only the LogUp sum can catch it; and a
changed challenge with every inverse recomputed satisfies the constraints (the identity holds at every X for honest
values), which is why the challenge is the verifier's to derive: a proof made at another X fails
(``test_solvency_lookup_e2e.py``).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence

import pytest
from solvency_helpers import account, rejects, violations

import zkmargin.circuits.lookup as lookup
from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import CommitFn
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import BatchLayout, SolvencyBatch, build_batch, make_layout


def _free_signals(circuit: SolvencyCircuit, witness: list[int]) -> tuple[list[str], int]:
    r1cs = circuit.r1cs
    touching: dict[int, list[int]] = defaultdict(list)
    for ci, con in enumerate(r1cs.constraints):
        for sig in {*con.a, *con.b, *con.c}:
            touching[sig].append(ci)

    def holds(ci: int, w: list[int]) -> bool:
        con = r1cs.constraints[ci]
        a = sum(v * w[s] for s, v in con.a.items()) % R
        b = sum(v * w[s] for s, v in con.b.items()) % R
        c = sum(v * w[s] for s, v in con.c.items()) % R
        return a * b % R == c

    free = []
    for sig in range(1, r1cs.n_vars):
        w = list(witness)
        w[sig] = (w[sig] + 1) % R
        if all(holds(ci, w) for ci in touching[sig]):
            free.append(r1cs.signal_names[sig])
    return free, r1cs.n_vars - 1


@pytest.fixture(scope="module", params=["plain", "lookups"])
def small(request: pytest.FixtureRequest, engine: MarginEngine) -> tuple[SolvencyCircuit, BatchLayout, SolvencyBatch]:
    layout = make_layout(engine, ("BTC-PERP", "BTC-7D-36000-C"), ("USDT", "BTC"), accounts=2)
    circuit = SolvencyCircuit(layout.shape, lookups=request.param == "lookups")
    accts = [account("m1", 3_000, 0.2, btc_perp=0.4), account("m2", 20_000, -0.01, option=-0.5, mode="portfolio")]
    return circuit, layout, build_batch(engine, accts, layout, epoch=2, secret=b"m")


def test_every_signal_is_pinned(small: tuple[SolvencyCircuit, BatchLayout, SolvencyBatch]) -> None:
    circuit, _, b = small
    w = circuit.witness(b.inputs)
    assert circuit.r1cs.is_satisfied(w)
    free, mutated = _free_signals(circuit, w)
    by_design = [n for n in free if n.endswith(".inv") and "is_zero" in n]
    for name in by_design:  # only the inverse of a zero is free: its is_zero output must be 1
        out = name[: -len(".inv")] + ".out"
        assert w[circuit.r1cs.signal_index(out)] == 1, name
    assert sorted(set(free) - set(by_design)) == [], f"under-constrained signals: {sorted(set(free) - set(by_design))}"
    if circuit.lookups:  # the lookup prover's signals were among the mutated ones, and each was caught
        names = circuit.r1cs.signal_names
        info = circuit.r1cs.commitment
        assert info is not None and names[info.challenge] == "lookup.challenge"
        for part in (".limb", "range.mult", "intervals.mult", ".row[", ".inv", "range.row["):
            assert any(part in n for n in names), part
    print(f"{mutated} signals mutated; free by design: {by_design}")


@pytest.fixture(scope="module")
def small_lookup(engine: MarginEngine) -> tuple[SolvencyCircuit, SolvencyBatch]:
    layout = make_layout(engine, ("BTC-PERP", "BTC-7D-36000-C"), ("USDT", "BTC"), accounts=2)
    circuit = SolvencyCircuit(layout.shape, lookups=True)
    accts = [account("m1", 3_000, 0.2, btc_perp=0.4), account("m2", 20_000, -0.01, option=-0.5, mode="portfolio")]
    return circuit, build_batch(engine, accts, layout, epoch=2, secret=b"m")


def _fixed_x(x: int) -> CommitFn:
    """A challenge of the test's choosing (a prover's, were it allowed to choose)."""
    return lambda values, public: x % R


def test_challenge_mutated(small_lookup: tuple[SolvencyCircuit, SolvencyBatch]) -> None:
    """The challenge moved after the fact (inverses left at the old X) breaks every query; moved before the
    inverses are computed, the honest witness holds at any X: the R1CS alone cannot pin X, the verifier does."""
    circuit, b = small_lookup
    x = secrets.randbelow(R)
    w = circuit.witness(b.inputs, commit=_fixed_x(x))
    assert rejects(circuit, w) is None
    moved = list(w)
    info = circuit.r1cs.commitment
    assert info is not None
    moved[info.challenge] = (x + 1) % R
    broken = violations(circuit, moved)
    assert any(n.startswith("lookup.range.q[") for n in broken) and any(".intervals.q[" in n for n in broken)
    assert rejects(circuit, circuit.witness(b.inputs, commit=_fixed_x(x + 1))) is None


def _move_one(values: Sequence[int], size: int) -> list[int]:
    """Honest multiplicities, then one occurrence moved to the next row: the multiset no longer matches."""
    m = [0] * size
    for v in values:
        if v < size:
            m[v] += 1
    t = next(i for i, c in enumerate(m) if c)
    m[t] -= 1
    m[(t + 1) % size] += 1
    return m


# the honest witness helpers, captured before a test replaces them in the module with the cheats below
_honest_limbs = lookup._limbs
_honest_table_multiplicities = lookup._table_multiplicities


def _carry_down(x: int, bits: int, b: int) -> list[int]:
    """Limbs that still recompose to x but with limb 0 >= 2^b (2^b borrowed from limb 1): not a table value."""
    limbs = _honest_limbs(x, bits, b)
    if len(limbs) > 1 and limbs[1]:
        limbs[0] += 1 << b
        limbs[1] -= 1
    return limbs


def _table_mult_shift(values: Sequence[int], rows: Sequence[tuple[int, ...]], arity: int) -> list[int]:
    m = _honest_table_multiplicities(values, rows, arity)
    t = next(i for i, c in enumerate(m) if c)
    m[t] -= 1
    m[(t + 1) % len(rows)] += 1
    return m


@pytest.mark.parametrize(
    ("helper", "cheat", "caught_by"),
    [
        ("_multiplicities", _move_one, "lookup.range.logup"),
        ("_limbs", _carry_down, "lookup.range.logup"),
        ("_table_multiplicities", _table_mult_shift, "lookup.params.intervals.logup"),
    ],
)
def test_lookup_cheat_with_dependent_hints_recomputed(
    small_lookup: tuple[SolvencyCircuit, SolvencyBatch],
    monkeypatch: pytest.MonkeyPatch,
    helper: str,
    cheat: object,
    caught_by: str,
) -> None:
    """A multiplicity moved, limbs that recompose but leave the table, an interval-table multiplicity moved: the
    prover recomputes every inverse and row fraction at the (random, underivable-in-advance) X, so every local
    constraint holds and only the LogUp sum is left to reject it."""
    circuit, b = small_lookup
    monkeypatch.setattr(lookup, helper, cheat)
    w = circuit.witness(b.inputs)
    assert violations(circuit, w) == [caught_by]

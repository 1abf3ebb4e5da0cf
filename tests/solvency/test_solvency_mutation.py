"""Under-constrained signals: add 1 to every witness signal of a small batch in turn; every change must break a
constraint, except the is_zero inverse of a zero value (free by design: its output is pinned by x * out = 0)."""

from __future__ import annotations

from collections import defaultdict

from solvency_helpers import account

from zkmargin.circuits.field import R
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import build_batch, make_layout


def _free_signals(circuit: SolvencyCircuit, witness: list[int]) -> list[str]:
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
    return free


def test_every_signal_is_pinned(engine: MarginEngine) -> None:
    layout = make_layout(engine, ("BTC-PERP", "BTC-7D-36000-C"), ("USDT", "BTC"), accounts=2)
    circuit = SolvencyCircuit(layout.shape)
    accts = [account("m1", 3_000, 0.2, btc_perp=0.4), account("m2", 20_000, -0.01, option=-0.5, mode="portfolio")]
    b = build_batch(engine, accts, layout, epoch=2, secret=b"m")
    w = circuit.witness(b.inputs)
    assert circuit.r1cs.is_satisfied(w)
    free = _free_signals(circuit, w)
    by_design = [n for n in free if n.endswith(".inv") and "is_zero" in n]
    for name in by_design:  # only the inverse of a zero is free: its is_zero output must be 1
        out = name[: -len(".inv")] + ".out"
        assert w[circuit.r1cs.signal_index(out)] == 1, name
    assert sorted(set(free) - set(by_design)) == [], f"under-constrained signals: {sorted(set(free) - set(by_design))}"
    print(f"{circuit.r1cs.n_vars - 1} signals mutated; free by design: {by_design}")

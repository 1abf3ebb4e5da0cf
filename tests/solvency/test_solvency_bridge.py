"""Bridge with the engine: on random portfolios the circuit's per-account equity and MM and the batch totals (incl.
the under-MM count, shortfall and bad debt) equal MarginEngine.evaluate exactly; equity == MM is not under MM."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solvency_helpers import rejects

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import BatchLayout, build_batch

SNAP = demo.snapshot()
E8 = 10**8


@st.composite
def accounts(draw: Any, aid: str) -> Account:
    mode = draw(st.sampled_from(["cross", "isolated", "portfolio"]))
    bal = {"USDT": draw(st.integers(-1_000, 2_000_000)) * E8 // 10}
    if draw(st.booleans()):
        bal["BTC"] = draw(st.integers(-2 * E8, 5 * E8))
    pos = []
    for sym, lim in (("BTC-PERP", 3 * E8), ("ETH-PERP", 40 * E8)):
        if draw(st.booleans()):
            q = draw(st.integers(-lim, lim))
            entry = SNAP.marks[sym] * draw(st.integers(900, 1100)) // 1000
            iso = draw(st.integers(0, 50_000 * 10**6)) if mode == "isolated" else None
            pos.append(Position(instrument=sym, quantity=q, entry_price=entry, isolated_margin=iso))
    if mode == "portfolio" and draw(st.booleans()):
        pos.append(Position(instrument="BTC-7D-36000-C", quantity=draw(st.integers(-500, 500)) * 10**6))
    realised = draw(st.integers(-10_000 * 10**6, 10_000 * 10**6))
    return Account(account_id=aid, margin_mode=mode, balances=bal, positions=pos, realised_pnl=realised)  # type: ignore[arg-type]


def _check_batch(engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit, accts: list[Account]) -> None:
    b = build_batch(engine, accts, layout, 5, secret=b"h")  # every account, whatever its margin state
    w = circuit.witness(b.inputs)
    assert rejects(circuit, w) is None
    for i, res in enumerate(b.results):
        sig = circuit.accounts[i]
        assert circuit.value(sig.equity, w) == res.equity, res.account_id
        assert circuit.value(sig.mm, w) == res.mm, res.account_id
        assert circuit.value(sig.under_mm, w) == int(res.equity < res.mm), res.account_id
    pub = b.public_named()
    res_all = b.results
    assert pub["total_equity"] == sum(max(r.equity, 0) for r in res_all)
    assert pub["total_mm"] == sum(r.mm for r in res_all)
    assert pub["account_count"] == len(accts)
    assert pub["under_mm_count"] == sum(1 for r in res_all if r.equity < r.mm)
    assert pub["total_shortfall"] == sum(max(0, r.mm - r.equity) for r in res_all)
    assert pub["total_bad_debt"] == sum(max(0, -r.equity) for r in res_all)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["u1", "u2", "u3", "u4"]), min_size=1, max_size=4, unique=True).flatmap(
        lambda ids: st.tuples(*(accounts(i) for i in ids))
    )
)
def test_circuit_equals_engine_on_random_portfolios(
    engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit, accts: tuple[Account, ...]
) -> None:
    _check_batch(engine, layout, circuit, list(accts))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts("edge"), st.integers(-2, 2))
def test_boundary_equity_equal_to_mm(
    engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit, acct: Account, delta: int
) -> None:
    """Shift realised PnL so that equity - MM = delta micro-USD: delta >= 0 is not under MM, delta < 0 is, with
    shortfall -delta; a prover claiming otherwise fails the totals."""
    res = engine.evaluate(acct)
    moved = acct.model_copy(update={"realised_pnl": acct.realised_pnl - (res.equity - res.mm) + delta})
    r2 = engine.evaluate(moved)
    assert r2.equity - r2.mm == delta
    b = build_batch(engine, [moved], layout, 1, secret=b"e")
    assert rejects(circuit, circuit.witness(b.inputs)) is None
    pub = b.public_named()
    assert (pub["under_mm_count"], pub["total_shortfall"]) == ((1, -delta) if delta < 0 else (0, 0))
    lie = {**b.inputs, "under_mm_count": 1 - pub["under_mm_count"]}
    assert rejects(circuit, circuit.witness(lie)) == "totals.under_mm_count"

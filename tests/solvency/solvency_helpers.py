"""A small exchange for the solvency-circuit tests: few brackets, tiers and scenarios so circuits stay small."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import R1CS, UnsatisfiedConstraint
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import HaircutTier, RiskParameters, ScenarioGrid, make_brackets
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine

SLOTS = ("BTC-PERP", "ETH-PERP", "BTC-7D-36000-C")
ASSETS = ("USDT", "BTC", "ETH", "USD")  # USD: the accounts' cash slot
usd, px, qt = demo.usd, demo.px, demo.qt


def small_engine(btc_mark: int | None = None) -> MarginEngine:
    """Demo instruments and snapshot, 3/2 brackets, 1/2 haircut tiers, a 4-scenario BTC grid."""
    insts = demo.instruments()
    snap = demo.snapshot()
    if btc_mark is not None:
        # the oracle moves with the mark: index = spot = the public price the circuit binds the mark to
        snap = snap.model_copy(
            update={
                "marks": {**snap.marks, "BTC-PERP": btc_mark},
                "index_prices": {**snap.index_prices, "BTC": btc_mark},
                "spot_prices": {**snap.spot_prices, "BTC": btc_mark},
            }
        )
    btc = make_brackets([(0, 50_000, 1 / 125, 0.004), (50_000, 250_000, 1 / 100, 0.005), (250_000, 1e6, 1 / 50, 0.01)])
    eth = make_brackets([(0, 100_000, 1 / 50, 0.01), (100_000, 1e6, 1 / 20, 0.025)])
    grid = ScenarioGrid(price_moves=[-150_000, 150_000], vol_shocks=[-250_000, 250_000])
    params = RiskParameters(
        brackets={"BTC-PERP": btc, "ETH-PERP": eth},
        haircuts={
            "USDT": [HaircutTier(value_floor=0, rate=1_000_000)],
            "USD": [HaircutTier(value_floor=0, rate=1_000_000)],
            "BTC": [HaircutTier(value_floor=0, rate=950_000), HaircutTier(value_floor=usd(100_000), rate=900_000)],
        },
        scenario_grids={"BTC": grid},
        mm_ratio=500_000,
    )
    ra = build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    return MarginEngine(insts, params, snap, ra)


def account(
    aid: str,
    usdt: float = 10_000,
    btc: float = 0.0,
    btc_perp: float = 0.0,
    eth_perp: float = 0.0,
    option: float = 0.0,
    mode: str = "cross",
    entry_shift: float = 1.0,
    realised: int = 0,
) -> Account:
    snap = demo.snapshot()
    pos = []
    for sym, q in (("BTC-PERP", btc_perp), ("ETH-PERP", eth_perp)):
        if q:
            entry = round(snap.marks[sym] * entry_shift)
            pos.append(Position(instrument=sym, quantity=qt(q), entry_price=entry))
    if option:
        pos.append(Position(instrument="BTC-7D-36000-C", quantity=qt(option)))
    bal = {"USDT": qt(usdt)}
    if btc:
        bal["BTC"] = qt(btc)
    return Account(account_id=aid, margin_mode=mode, balances=bal, positions=pos, realised_pnl=realised)  # type: ignore[arg-type]


def rejects(r1cs: R1CS, witness: list[int]) -> str | None:
    """Name of the first violated constraint, or None when the witness satisfies the circuit."""
    try:
        r1cs.check(witness)
    except UnsatisfiedConstraint as e:
        return e.name
    return None


def witness_with_override(
    circuit: SolvencyCircuit, inputs: dict[str, int], prefix: str, fn: Callable[..., Any]
) -> list[int]:
    """Witness whose hint for the signal(s) named ``prefix...`` is replaced by ``fn`` (a cheating prover); every
    other hint still runs honestly on top of it, so the failure shows which constraint catches the cheat."""
    cs = circuit.cs
    steps = [st for st in cs._steps if cs._names[st.outputs[0]].startswith(prefix)]
    assert steps, f"no hint named {prefix}"
    saved = [st.fn for st in steps]
    try:
        for st in steps:
            st.fn = fn
        return cs.witness(inputs)
    finally:
        for st, f in zip(steps, saved, strict=True):
            st.fn = f


def set_signal(circuit: SolvencyCircuit, witness: list[int], name: str, value: int) -> list[int]:
    w = list(witness)
    w[circuit.r1cs.signal_index(name)] = value % R
    return w

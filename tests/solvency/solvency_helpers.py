"""A small exchange for the solvency-circuit tests: few brackets, tiers and scenarios so circuits stay small."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zkmargin.circuits.field import R
from zkmargin.circuits.lookup import lookup_report
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


def rejects(target: SolvencyCircuit | R1CS, witness: list[int]) -> str | None:
    """Name of the constraint that catches a witness, or None when the witness satisfies the circuit.

    Plain circuit (or a bare R1CS): the first violated constraint. Lookup mode: the range checks are proven at the
    end of the system (the LogUp finalizer builds the limbs when the circuit is compiled), so the violations are
    put back in the order the plain circuit builds them (each range check where it was asked for,
    ``SolvencyCircuit.range_check_at``) and a range check is reported under its plain name
    (``lookup.X.recompose`` -> ``X.sum``): one assertion then states what catches the cheat in both modes.
    """
    r1cs = target if isinstance(target, R1CS) else target.r1cs
    try:
        r1cs.check(witness)
    except UnsatisfiedConstraint as e:
        if isinstance(target, R1CS) or not target.lookups:
            return e.name
        # sort key (position, 0 for a range check asked for at that position / 1 for the constraint built there)
        best: tuple[int, int, str] | None = None
        for idx, name in _violated(r1cs, witness):
            keys = [(idx, 1, name)]
            if name.startswith("lookup.") and name.endswith(".recompose"):
                label = name[len("lookup.") : -len(".recompose")]
                if label in target.range_check_at:
                    keys = [(target.range_check_at[label][0], 0, label + ".sum")]
            elif name == "lookup.range.logup":  # a limb outside the table: name the range checks it belongs to
                keys += [(target.range_check_at[lb][0], 0, lb + ".sum") for lb in _limbs_off_table(target, witness)]
            for key in keys:
                if best is None or key[:2] < best[:2]:
                    best = key
        return best[2] if best is not None else e.name
    return None


def _limbs_off_table(circuit: SolvencyCircuit, witness: list[int]) -> list[str]:
    """Lookup mode: the range checks whose limbs are not all in the table 0..2^b-1 (the high limb, when b does not
    divide the width, is also looked up shifted, so it must be below 2^(width mod b)): what the LogUp sum rejects."""
    b = lookup_report(circuit.cs)["limb_bits"]
    limbs: dict[str, list[int]] = {}
    for sig, name in enumerate(circuit.r1cs.signal_names):
        if name.startswith("lookup.") and ".limb" in name:
            label = name[len("lookup.") : name.rindex(".limb")]
            limbs.setdefault(label, []).append(witness[sig])
    out = []
    for label, (_, bits) in circuit.range_check_at.items():
        ls = limbs.get(label, [])
        h = bits % b
        if any(v >= 1 << b for v in ls) or (h and ls and ls[-1] >= 1 << h):
            out.append(label)
    return out


def violations(circuit: SolvencyCircuit, witness: list[int]) -> list[str]:
    """Names of every violated constraint, in system order."""
    return [name for _, name in _violated(circuit.r1cs, witness)]


def _violated(r1cs: R1CS, witness: list[int]) -> list[tuple[int, str]]:
    out = []
    for i, con in enumerate(r1cs.constraints):
        a = sum(v * witness[s] for s, v in con.a.items()) % R
        b = sum(v * witness[s] for s, v in con.b.items()) % R
        c = sum(v * witness[s] for s, v in con.c.items()) % R
        if a * b % R != c:
            out.append((i, con.name))
    return out


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
        return circuit.witness(inputs)
    finally:
        for st, f in zip(steps, saved, strict=True):
            st.fn = f


def set_signal(circuit: SolvencyCircuit, witness: list[int], name: str, value: int) -> list[int]:
    w = list(witness)
    w[circuit.r1cs.signal_index(name)] = value % R
    return w

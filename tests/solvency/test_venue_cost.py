"""What the venue circuit's cost work introduced (docs/circuit.md "Venue cost"), attacked.

* Scenario sums by ``lookup.column_sum_check``: a leaf's sums sum_j q_j R_j[s] are hints proven by one random
  combination of its risk lookups; a prover lowering a scenario loss (or moving it between scenarios, or between
  slots) with every later hint recomputed on top is refused by that identity alone.
* Risk entries as range-table limbs (``lookup.limb_check_lookup``): the entry is a linear combination of its limbs
  with no recomposition constraint, so a limb outside its width that leaves the entry (and the market commitment)
  unchanged is what the range table must refuse; a risk row no leaf uses is still bound by the market commitment.
* The gadgets themselves on tiny circuits: honest values pass, every false total or out-of-range limb fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from solvency_helpers import rejects
from test_venue import _set, batch, circuit, engine, leaf_index, shape, shape_for, table  # noqa: F401

from zkmargin.circuits.field import R
from zkmargin.circuits.lookup import (
    column_sum_check,
    committed_table,
    limb_check_lookup,
    lookup_report,
    set_limb_bits,
)
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.circuits.rules.instrument_table import InstrumentTable
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.circuits.solvency.venue_params import RISK_LIMB_WIDTHS
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.venue_witness import VenueBatch

PUBLIC_TOTALS = ("total_equity", "total_mm", "under_mm_count", "total_shortfall", "total_bad_debt")


def _random_x(values: list[int], public: list[int]) -> int:
    return secrets.randbelow(R)


def _cheating_witness(
    c: VenueCircuit, inputs: dict[str, int], signal: str, change: Callable[[list[int]], None]
) -> list[int]:
    """The witness with the hint step producing ``signal`` replaced by a cheating one (``change`` edits its honest
    outputs in place); every later step (maxima, divisions, LogUp fractions) recomputes honestly on top."""
    sid = c.cs._names.index(signal)
    step = next(st for st in c.cs._steps if sid in st.outputs)
    honest = step.fn

    def cheat(*v: int) -> list[int]:
        out = list(honest(*v))
        change(out)
        return [x % R for x in out]

    step.fn = cheat
    try:
        return c.witness(inputs)
    finally:
        step.fn = honest


def _portfolio_leaf(batch: VenueBatch) -> int:  # noqa: F811
    i = leaf_index(batch, "portfolio")
    assert any(k for k, _ in batch.leaves[i].positions)
    return i


def test_scenario_sums_are_the_products(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """The hinted sums are sum_j q_j R_j[s] of the leaf's slots (computed here from the batch, not the circuit)."""
    w = circuit.witness(batch.inputs)
    i = _portfolio_leaf(batch)
    by_id = {r.id: r for r in batch.table.instruments}
    rows = batch.params.risk_long
    for s in range(circuit.shape.scenarios):
        want = sum(q * rows[by_id[k].risk_row - 1][s] for k, q in batch.leaves[i].positions if k and by_id[k].risk_row)
        got = w[circuit.r1cs.signal_index(f"acct[{i}].scen[{s}]")]
        assert got == want % R
    assert rejects(circuit, w) is None


@pytest.mark.parametrize("how", ["understated", "moved_between_scenarios", "all_zero"])
def test_scenario_sum_forged(circuit: VenueCircuit, batch: VenueBatch, how: str) -> None:  # noqa: F811
    i = _portfolio_leaf(batch)

    def change(out: list[int]) -> None:
        if how == "understated":
            out[0] -= 10**6
        elif how == "moved_between_scenarios":
            out[0] -= 10**6
            out[1] += 10**6
        else:
            out[:] = [0] * len(out)

    w = _cheating_witness(circuit, batch.inputs, f"acct[{i}].scen[0]", change)
    assert rejects(circuit, w) == f"lookup.acct[{i}].scen.sum"


def test_scenario_sum_of_another_slot_order(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """The quantities swapped between two slots of a leaf in the sums only (the sums of q_1 R_0 + q_0 R_1)."""
    i = _portfolio_leaf(batch)
    sh = circuit.shape
    qs = [q for _, q in batch.leaves[i].positions]
    assert len(qs) >= 2 and qs[0] != qs[1]
    by_id = {r.id: r for r in batch.table.instruments}
    arr = [
        batch.params.risk_long[by_id[k].risk_row - 1] if k and by_id[k].risk_row else (0,) * sh.scenarios
        for k, _ in batch.leaves[i].positions
    ]
    if arr[0] == arr[1]:
        pytest.skip("both slots have the same risk array")

    def change(out: list[int]) -> None:
        for s in range(sh.scenarios):
            out[s] += (qs[1] - qs[0]) * arr[0][s] + (qs[0] - qs[1]) * arr[1][s]

    w = _cheating_witness(circuit, batch.inputs, f"acct[{i}].scen[0]", change)
    # the account's MM moves, so the public totals the operator claimed no longer match either; a prover claiming
    # the cheated totals is refused by the identity alone
    violated = set(_violated_names(circuit, w))
    assert f"lookup.acct[{i}].scen.sum" in violated
    assert violated - {f"lookup.acct[{i}].scen.sum"} <= {f"totals.{t}" for t in PUBLIC_TOTALS}


def test_risk_limb_outside_its_width(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """limb0 + 2^14 and limb1 - 1: the same entry, the same market commitment; only the range table refuses it."""
    p = "params.risk[1].long[0].limb"
    l0, l1 = batch.inputs[p + "[0]"], batch.inputs[p + "[1]"]
    if l1 == 0:
        p = "params.risk[1].long[1].limb"
        l0, l1 = batch.inputs[p + "[0]"], batch.inputs[p + "[1]"]
    assert l1 > 0
    ins = _set(batch, {p + "[0]": l0 + (1 << RISK_LIMB_WIDTHS[0]), p + "[1]": l1 - 1})
    assert rejects(circuit, circuit.witness(ins)) == "lookup.range.logup"


def test_risk_top_limb_beyond_13_bits(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """The top limb is 13 bits (|entry| < 2^40): 2^13 fits a 14-bit limb but not its shifted query. The entry moves
    by 2^41, so the market commitment fails first in the system; the range table refuses it too."""
    p = "params.risk[1].long[0].limb[2]"
    ins = _set(batch, {p: 1 << RISK_LIMB_WIDTHS[2]})
    w = circuit.witness(ins)
    assert rejects(circuit, w) == "params.market_commitment"
    names = {n for n in _violated_names(circuit, w)}
    assert "lookup.range.logup" in names


def test_unused_risk_row_altered(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """A risk row no slot of the batch looks up: still hashed into the market commitment."""
    used = {r.risk_row for r in batch.table.instruments for lf in batch.leaves for k, _ in lf.positions if k == r.id}
    unused = next(t for t in range(1, circuit.shape.risk_rows) if t not in used)
    p = f"params.risk[{unused}].long[3].limb[0]"
    ins = _set(batch, {p: batch.inputs[p] ^ 1})
    assert rejects(circuit, circuit.witness(ins)) == "params.market_commitment"


def _violated_names(c: VenueCircuit, w: list[int]) -> list[str]:
    out = []
    for con in c.r1cs.constraints:
        a = sum(v * w[s] for s, v in con.a.items()) % R
        b = sum(v * w[s] for s, v in con.b.items()) % R
        cc = sum(v * w[s] for s, v in con.c.items()) % R
        if a * b % R != cc:
            out.append(con.name)
    return out


# ----------------------------------------------------------------------------- the gadgets on tiny circuits


@pytest.mark.parametrize(("bits", "b"), [(14, 14), (13, 14), (5, 8), (14, 8)])
def test_limb_check(bits: int, b: int) -> None:
    cs = ConstraintSystem()
    for i in range(3):
        limb_check_lookup(cs, cs.input(f"x{i}"), bits, f"x{i}")
    set_limb_bits(cs, b)
    r1cs = cs.compile()
    assert lookup_report(cs)["limb_bits"] == b
    ok = {"x0": 0, "x1": (1 << bits) - 1, "x2": secrets.randbelow(1 << bits)}
    assert r1cs.is_satisfied(cs.witness(ok, commit=_random_x))
    for bad in (1 << bits, (1 << max(b, bits)) + 1, R - 1):
        assert not r1cs.is_satisfied(cs.witness({**ok, "x1": bad % R}, commit=_random_x)), (bits, b, bad)


def test_limb_check_costs_one_query_per_limb() -> None:
    cs = ConstraintSystem()
    for i in range(10):
        limb_check_lookup(cs, cs.input(f"x{i}"), 8, f"x{i}")
    set_limb_bits(cs, 8)
    cs.compile()
    # 10 queries + 256 table rows + the sum; no recomposition, no hinted limb
    assert lookup_report(cs)["constraints"] == 10 + 256 + 1
    assert not any(".recompose" in c.name for c in cs._constraints)


def _colsum_circuit(n_rows: int = 5, arity: int = 4, slots: int = 3) -> tuple[ConstraintSystem, list[list[int]]]:
    cs = ConstraintSystem()
    rows = [[r, *(secrets.randbelow(1 << 40) for _ in range(arity - 1))] for r in range(n_rows)]
    cells = [[cs.input(f"t[{r}][{j}]") for j in range(arity)] for r in range(n_rows)]
    tab = committed_table(cs, [[*row] for row in cells], "t")
    qs = []
    for k in range(slots):
        vals = [cs.input(f"q[{k}][{j}]") for j in range(arity)]
        qs.append((tab.lookup(vals), cs.input(f"w[{k}]")))
    totals = [cs.input(f"T[{j}]") for j in range(1, arity)]
    column_sum_check(cs, tab, qs, totals, "cols")
    return cs, rows


def _colsum_inputs(rows: list[list[int]], picks: list[int], weights: list[int]) -> dict[str, int]:
    arity = len(rows[0])
    ins = {f"t[{r}][{j}]": v for r, row in enumerate(rows) for j, v in enumerate(row)}
    for k, (p, w) in enumerate(zip(picks, weights, strict=True)):
        ins |= {f"q[{k}][{j}]": rows[p][j] for j in range(arity)}
        ins[f"w[{k}]"] = w % R
    for j in range(1, arity):
        ins[f"T[{j}]"] = sum(w * rows[p][j] for p, w in zip(picks, weights, strict=True)) % R
    return ins


def test_column_sum_check() -> None:
    cs, rows = _colsum_circuit()
    r1cs = cs.compile()
    ins = _colsum_inputs(rows, [1, 4, 1], [3, -7, 10**9])
    assert r1cs.is_satisfied(cs.witness(ins, commit=_random_x))
    # a total off by one, two totals swapped, a weight changed, a total taken from another row: all refused
    for bad in (
        {"T[1]": (ins["T[1]"] + 1) % R},
        {"T[1]": ins["T[2]"], "T[2]": ins["T[1]"]},
        {"w[0]": 4},
        {"T[3]": (ins["T[3]"] - 3 * rows[1][3] + 3 * rows[2][3]) % R},
    ):
        assert not r1cs.is_satisfied(cs.witness({**ins, **bad}, commit=_random_x)), bad


def test_column_sum_refuses_bad_arguments() -> None:
    cs = ConstraintSystem()
    tab = committed_table(cs, [[0, 1, 2]], "t")
    with pytest.raises(ValueError, match="totals"):
        column_sum_check(cs, tab, [], [cs.input("a")], "c")
    with pytest.raises(ValueError, match="no query"):
        column_sum_check(cs, tab, [(0, 1)], [cs.input("b"), cs.input("c")], "c")


# ----------------------------------------------------------------------------- the lean builds


def test_count_only_build_counts_what_a_full_build_compiles(circuit: VenueCircuit) -> None:  # noqa: F811
    lean = VenueCircuit(circuit.shape, count_only=True)
    assert lean.n_constraints == circuit.r1cs.n_constraints == circuit.n_constraints
    assert dict(lean.budget) == dict(circuit.budget)
    with pytest.raises(ValueError, match="only counts"):
        lean.cs.compile()


def test_released_compile_is_the_same_system(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """compile(release=True) (the venue circuit's default) gives the R1CS and witness a kept build gives."""
    kept = VenueCircuit(circuit.shape, keep_build_state=True)
    assert kept.r1cs.constraints == circuit.r1cs.constraints
    assert kept.r1cs.signal_names == circuit.r1cs.signal_names
    challenge = secrets.randbelow(R)
    w1 = circuit.witness(batch.inputs, commit=lambda v, p: challenge)
    w2 = kept.witness(batch.inputs, commit=lambda v, p: challenge)
    assert w1 == w2 and circuit.r1cs.is_satisfied(w1)
    assert circuit.cs.n_constraints == kept.cs.n_constraints
    with pytest.raises(ValueError, match="cannot be compiled again"):
        circuit.cs.compile()
    with pytest.raises(ValueError, match="no more constraints"):
        circuit.cs.constrain(1, 1, 1, "late")


# ----------------------------------------------------------------------------- the last-part flag


def test_part_appended_after_the_last_part(engine: MarginEngine, table: InstrumentTable) -> None:  # noqa: F811
    """An operator proving the account with one more linked part (a position the user does not hold, entry value 0,
    so part 0's cash and slots are unchanged) after the user's only part: the circuit accepts that batch (it is a
    true statement about another account state), but the user's part 0 now carries last = 0, so the leaf the user
    computes from their own state (last = 1) is not in the tree; without the flag it would be byte-identical."""
    from dataclasses import replace

    from zkmargin.circuits.rules.models import Account, Position
    from zkmargin.circuits.solvency.venue_tree import VenueTree
    from zkmargin.prover.venue_witness import build_venue_batch

    btc = Position(instrument="BTC-PERP", quantity=10**8, entry_price=engine.snapshot.marks["BTC-PERP"])
    mine = Account(account_id="u", margin_mode="cross", balances={"USDT": 10**12}, positions=[btc])
    faked = mine.model_copy(update={"positions": [btc, Position(instrument="ETH-PERP", quantity=-(10**9))]})
    sh = shape_for(engine, table, 1, 1, n=4)
    honest = build_venue_batch(engine, [mine], table, sh, epoch=3, secret=b"u")
    cheat = build_venue_batch(engine, [faked], table, sh, epoch=3, secret=b"u")
    c = VenueCircuit(sh)
    assert rejects(c, c.witness(cheat.inputs)) is None  # a valid batch, for the faked account
    users_leaf = honest.leaves[0]
    assert (users_leaf.part, users_leaf.last) == (0, 1)
    assert (cheat.leaves[0].part, cheat.leaves[0].last, cheat.leaves[1].part) == (0, 0, 1)
    assert replace(cheat.leaves[0], last=1) == users_leaf  # only the flag differs
    cheat_leaves = [lf.leaf() for lf in cheat.leaves]
    assert users_leaf.leaf() not in cheat_leaves
    assert VenueTree(cheat_leaves, sh.depth).root == cheat.public_named()["batch_root"]


def test_last_flag_is_the_circuits(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """Every leaf of the batch: the in-circuit leaf equals the native one, whose last flag is 1 exactly on each
    account's final part (so a prover cannot set it: it is active - cont of the next leaf)."""
    w = circuit.witness(batch.inputs)
    for i, lf in enumerate(batch.leaves):
        nxt = batch.leaves[i + 1] if i + 1 < len(batch.leaves) else None
        assert lf.last == (0 if nxt is not None and nxt.id_hash == lf.id_hash else 1)
        assert circuit.value(circuit.leaves[i].leaf, w) % R == lf.leaf()

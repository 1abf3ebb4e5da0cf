"""The venue circuit (issue 15): sparse (id, amount) slots over the governed instrument table, linked leaves.

Bridge: the circuit accepts exactly the engine's per-account equity and MM and batch totals, for accounts laid out in
one leaf or split over linked leaves. Attacks: each moves the honest inputs the way a cheating operator would (every
hint still runs honestly on top) and names the constraint that refuses it.
"""

from __future__ import annotations

from typing import Any

import pytest
from solvency_helpers import account, rejects, small_engine

from zkmargin.circuits.field import R
from zkmargin.circuits.rules.instrument_table import (
    InstrumentTable,
    TableInstrument,
    build_instrument_table,
    venue_params,
    venue_shape,
)
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.solvency.params import ParamsError
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.circuits.solvency.venue_shape import VenueShape
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import AccountNotProvable
from zkmargin.prover.venue_witness import VenueBatch, build_venue_batch, split_account

ASSETS = ["USDT", "BTC", "ETH", "USD", "USDC"]


@pytest.fixture(scope="module")
def engine() -> MarginEngine:
    return small_engine()


@pytest.fixture(scope="module")
def table(engine: MarginEngine) -> InstrumentTable:
    insts = {
        s: i
        for s, i in engine.instruments.items()
        if s in engine.params.brackets or (i.kind == "option" and i.underlying in engine.params.scenario_grids)
    }
    return build_instrument_table(insts, engine.params, ASSETS)


def shape_for(
    engine: MarginEngine, table: InstrumentTable, positions: int, balances: int, n: int = 8, box: int = 0
) -> VenueShape:
    # two spare instrument rows and a spare ladder: listings fit without a new key; the point-price circuit (the
    # price box has its own tests: tests/solvency/test_venue_box.py)
    return venue_shape(
        table,
        engine.params,
        n,
        positions,
        balances,
        instruments=len(table.instruments) + 3,
        ladders=len(table.ladders) + 2,
        box=box,
    )


@pytest.fixture(scope="module")
def shape(engine: MarginEngine, table: InstrumentTable) -> VenueShape:
    return shape_for(engine, table, positions=2, balances=2)


@pytest.fixture(scope="module")
def circuit(shape: VenueShape) -> VenueCircuit:
    return VenueCircuit(shape)


def book() -> list[Account]:
    """Cross, portfolio with a short option, an account under MM, a borrowed BTC balance, realised PnL in USD, and
    accounts needing two and three leaves of the 2 x 2 shape."""
    return [
        account("cross", btc_perp=0.5, eth_perp=-2, btc=0.1),
        account("portfolio", option=-1, btc_perp=0.2, mode="portfolio", btc=0.2, realised=5_000_000),
        account("under-mm", usdt=100, btc_perp=1.0),
        account("borrower", usdt=20_000, btc=-0.05, eth_perp=3),
    ]


@pytest.fixture(scope="module")
def batch(engine: MarginEngine, table: InstrumentTable, shape: VenueShape) -> VenueBatch:
    return build_venue_batch(engine, book(), table, shape, epoch=7, secret=b"venue")


def leaf_index(batch: VenueBatch, account_id: str, part: int = 0) -> int:
    starts = [i for i, lf in enumerate(batch.leaves) if lf.part == 0]
    k = [a.account_id for a in batch.accounts].index(account_id)
    return starts[k] + part


# ----------------------------------------------------------------------------- bridge


def test_every_account_is_the_engines(circuit: VenueCircuit, batch: VenueBatch) -> None:
    w = circuit.witness(batch.inputs)
    assert rejects(circuit, w) is None
    assert batch.public_named()["account_count"] == 4
    assert len(batch.leaves) > 4  # some accounts span linked leaves in the 2 x 2 shape
    assert batch.public_named()["under_mm_count"] >= 1
    for acct, res in zip(batch.accounts, batch.results, strict=True):
        parts = [
            i
            for i, lf in enumerate(batch.leaves)
            if lf.id_hash == batch.leaves[leaf_index(batch, acct.account_id)].id_hash
        ]
        last = circuit.leaves[parts[-1]]
        assert circuit.value(last.equity, w) == res.equity, acct.account_id
        assert circuit.value(last.mm, w) == res.mm, acct.account_id


@pytest.mark.parametrize(("positions", "balances"), [(1, 1), (4, 4)])
def test_totals_do_not_depend_on_the_split(
    engine: MarginEngine, table: InstrumentTable, batch: VenueBatch, positions: int, balances: int
) -> None:
    """One position and one balance per leaf (every account split) or room for all: the same totals, accepted."""
    sh = shape_for(engine, table, positions, balances, n=16)
    other = build_venue_batch(engine, book(), table, sh, epoch=7, secret=b"venue")
    c = VenueCircuit(sh)
    assert rejects(c, c.witness(other.inputs)) is None
    skip = {"batch_root", "params_commitment", "market_commitment"}  # the shape is committed too
    assert {k: v for k, v in other.public_named().items() if k not in skip} == {
        k: v for k, v in batch.public_named().items() if k not in skip
    }
    # one slot each: max(positions, balances incl. USD cash) leaves per account = 2 + 3 + 1 + 2
    assert len(other.leaves) == (4 if positions == 4 else 8)


def test_portfolio_group_continues_over_linked_leaves(engine: MarginEngine, table: InstrumentTable) -> None:
    """A portfolio account whose BTC group (perpetual + two options) spans three one-slot leaves: the scenario sums
    carry over (gcont) and the IM is that of the whole group, as the engine's."""
    sym = [r.symbol for r in table.instruments if r.kind == "option"][:2]
    acct = Account(
        account_id="wide",
        margin_mode="portfolio",
        balances={"USDT": 10_000 * 10**8},
        positions=[
            Position(instrument="BTC-PERP", quantity=10**8, entry_price=engine.snapshot.marks["BTC-PERP"]),
            Position(instrument=sym[0], quantity=-(10**8)),
            Position(instrument=sym[1], quantity=2 * 10**8),
        ],
    )
    sh = shape_for(engine, table, 1, 1, n=4)
    plans = split_account(engine, acct, table, sh)
    assert [(p.cont, p.gcont) for p in plans] == [(0, 0), (1, 1), (1, 1)]
    b = build_venue_batch(engine, [acct], table, sh, epoch=1, secret=b"x")
    c = VenueCircuit(sh)
    w = c.witness(b.inputs)
    assert rejects(c, w) is None
    assert c.value(c.leaves[2].mm, w) == engine.evaluate(acct).mm > 0
    # without the carry the group would pay three maxima instead of one: refused, not just different
    bad = dict(b.inputs, **{"acct[1].gcont": 0})
    assert rejects(c, c.witness(bad)) is not None


def test_synthetic_venue_has_no_excluded_account() -> None:
    """The realistic synthetic venue (scripts/gen_snapshot.py): every account fits linked leaves of the chosen
    shape (none is refused), and a sample batch satisfies the circuit."""
    eng = venue_engine()
    gen = _load_generator()
    accounts = gen.synthetic_book(eng, 300, seed=3)
    assets = sorted({a for x in accounts for a in x.balances} | {i.underlying for i in eng.instruments.values()})
    tab = build_instrument_table(eng.instruments, eng.params, assets)
    sh = venue_shape(tab, eng.params, 64, 4, 4)
    leaves = [len(split_account(eng, a, tab, sh)) for a in accounts]  # raises for an account it cannot hold
    assert max(leaves) > 1 and sum(leaves) < 1.5 * len(accounts)
    wide = sorted(accounts, key=lambda a: -len(a.positions))[:3]
    sample = [*wide, *accounts[:8]]
    b = build_venue_batch(eng, sample, tab, venue_shape(tab, eng.params, 48, 4, 4), epoch=1, secret=b"s")
    c = VenueCircuit(b.shape)
    assert rejects(c, c.witness(b.inputs)) is None


def venue_engine() -> MarginEngine:
    """The demo venue with a scenario grid for every option underlying (the demo's has none for ETH, so its short
    ETH options pay no margin in the engine; the circuit refuses an option without a risk array)."""
    from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
    from zkmargin.prover.operator.exchange import demo_engine

    eng = demo_engine()
    grids = dict(eng.params.scenario_grids)
    for inst in eng.instruments.values():
        if inst.kind == "option" and inst.underlying not in grids:
            grids[inst.underlying] = grids["BTC"]
    params = eng.params.model_copy(update={"scenario_grids": grids})
    ra = build_risk_arrays(eng.instruments, eng.snapshot, grids, params.short_option_min)
    return MarginEngine(eng.instruments, params, eng.snapshot, ra)


def _load_generator() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "gen_snapshot.py"
    spec = importlib.util.spec_from_file_location("gen_snapshot", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------- attacks


def moved(batch: VenueBatch, **changes: int) -> dict[str, int]:
    return {**batch.inputs, **{k.replace("__", "."): v % R for k, v in changes.items()}}


def _set(batch: VenueBatch, items: dict[str, int]) -> dict[str, int]:
    return {**batch.inputs, **{k: v % R for k, v in items.items()}}


def test_duplicate_instrument_in_two_slots(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """BTC-PERP split into two slots of one leaf: each half would pay a lower bracket."""
    i = leaf_index(batch, "under-mm")
    p = f"acct[{i}]."
    iid, q = batch.inputs[p + "pos[0].id"], batch.inputs[p + "pos[0].qty"]
    ins = _set(batch, {p + "pos[0].qty": q // 2, p + "pos[1].id": iid, p + "pos[1].qty": q - q // 2})
    assert rejects(circuit, circuit.witness(ins)) == p + "pos[1].ascending.sum"


def test_duplicate_instrument_across_linked_leaves(circuit: VenueCircuit, batch: VenueBatch) -> None:
    i = leaf_index(batch, "portfolio", 1)  # the second leaf of a two-leaf account
    p = f"acct[{i}]."
    first = f"acct[{i - 1}]."
    assert batch.inputs[f"acct[{i}].cont"] == 1
    ins = _set(batch, {p + "pos[0].id": batch.inputs[first + "pos[1].id"], p + "pos[0].qty": 10**8})
    assert rejects(circuit, circuit.witness(ins)) == p + "pos[0].ascending.sum"


def test_duplicate_asset_across_linked_leaves(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """Half a BTC balance in each leaf would sit in the better haircut tier twice."""
    i = leaf_index(batch, "portfolio", 1)
    p, first = f"acct[{i}].", f"acct[{i - 1}]."
    ins = _set(batch, {p + "bal[0].id": batch.inputs[first + "bal[1].id"]})
    assert rejects(circuit, circuit.witness(ins)) == p + "bal[0].ascending.sum"


def rooted(circuit: VenueCircuit, ins: dict[str, int]) -> list[int]:
    """The witness with the batch root the circuit computes from these leaves (the operator publishes that root)."""
    root = circuit.value(circuit.root, circuit.witness(ins)) % R
    return circuit.witness({**ins, "batch_root": root})


def cheating(circuit: VenueCircuit, ins: dict[str, int], hints: dict[str, Any]) -> list[int]:
    """The rooted witness with the hints named in ``hints`` replaced (a cheating prover's rows)."""
    cs = circuit.cs
    steps = {cs._names[st.outputs[0]]: st for st in cs._steps}
    saved = {n: steps[n].fn for n in hints}
    try:
        for n, fn in hints.items():
            steps[n].fn = fn
        return rooted(circuit, ins)
    finally:
        for n, fn in saved.items():
            steps[n].fn = fn


@pytest.mark.parametrize("iid", ["one past the last row", 1 << 20])
def test_instrument_id_not_in_the_table(circuit: VenueCircuit, batch: VenueBatch, shape: VenueShape, iid: Any) -> None:
    """A position under an id the table does not list, valued and margined with a real row's values (BTC-PERP's):
    only the tuple lookup can tell."""
    i = leaf_index(batch, "under-mm")
    p = f"acct[{i}].pos[0]"
    real = list(circuit.tables.index["instruments"][batch.inputs[p + ".id"]][0][1:])
    ins = _set(batch, {p + ".id": shape.instruments if isinstance(iid, str) else iid})
    w = cheating(circuit, ins, {p + ".row[0]": lambda k: real})
    assert "instruments.logup" in str(rejects(circuit, w))


def test_asset_id_not_in_the_table(circuit: VenueCircuit, batch: VenueBatch, shape: VenueShape) -> None:
    """A balance in an unlisted asset id, priced and tiered like USDT by a cheating prover."""
    i = leaf_index(batch, "under-mm")
    p = f"acct[{i}].bal[0]"
    ins = _set(batch, {p + ".id": shape.assets + 1})
    usdt = circuit.tables.index["assets"][1][0][1:]
    w = cheating(circuit, ins, {p + ".price": lambda k: usdt[4], p + ".tier[0]": lambda k, x: list(usdt[:4])})
    assert "assets.logup" in str(rejects(circuit, w))


@pytest.mark.parametrize(
    ("field", "value", "caught_by"),
    [
        ("ladder", 2, "params.commitment"),  # another (valid) ladder: a lower maintenance rate
        ("basis_cap_bps", 400, "params.commitment"),
        ("risk_row", 0, "params.commitment"),
        ("mark", None, "params.market_commitment"),  # one unit up: inside the basis band, so only the commitment
    ],
)
def test_table_row_altered(
    circuit: VenueCircuit, batch: VenueBatch, field: str, value: int | None, caught_by: str
) -> None:
    """A row of the governed table (or the epoch's mark) other than the committed one: the table commitment inside
    params_commitment (or the market commitment) no longer matches the public signal."""
    name = f"params.inst[1].{field}"
    value = batch.inputs[name] + 1 if value is None else value
    assert batch.inputs[name] != value
    assert rejects(circuit, circuit.witness(_set(batch, {name: value}))) == caught_by


def test_risk_array_altered(circuit: VenueCircuit, batch: VenueBatch) -> None:
    name = "params.risk[1].long[0].limb[0]"
    ins = _set(batch, {name: batch.inputs[name] + 1})
    assert rejects(circuit, circuit.witness(ins)) == "params.market_commitment"


def test_nonzero_quantity_in_an_empty_slot(circuit: VenueCircuit, batch: VenueBatch) -> None:
    i = leaf_index(batch, "under-mm")
    p = f"acct[{i}]."
    assert batch.inputs[p + "pos[1].id"] == 0
    ins = _set(batch, {p + "pos[1].qty": -(10**8)})
    assert rejects(circuit, circuit.witness(ins)) == p + "pos[1].empty_amount"


def test_nonzero_amount_in_an_empty_balance_slot(circuit: VenueCircuit, batch: VenueBatch) -> None:
    i = leaf_index(batch, "under-mm")
    p = f"acct[{i}]."
    assert batch.inputs[p + "bal[1].id"] == 0
    ins = _set(batch, {p + "bal[1].amount": -(10**8)})
    assert rejects(circuit, circuit.witness(ins)) == p + "bal[1].empty_amount"


@pytest.mark.parametrize("wrapped", [-1, R - 2, -(1 << 20)])
def test_wrapped_instrument_id(circuit: VenueCircuit, batch: VenueBatch, wrapped: int) -> None:
    """An id that wraps the field (or exceeds the id width) to sit 'below' or 'above' its neighbour."""
    i = leaf_index(batch, "under-mm")
    ins = _set(batch, {f"acct[{i}].pos[0].id": wrapped})
    assert rejects(circuit, rooted(circuit, ins)) == f"acct[{i}].pos[0].ascending.sum"


def test_used_slot_after_an_empty_one(circuit: VenueCircuit, batch: VenueBatch) -> None:
    i = leaf_index(batch, "under-mm")
    p = f"acct[{i}]."
    ins = _set(batch, {p + "pos[0].id": 0, p + "pos[0].qty": 0, p + "pos[1].id": batch.inputs[p + "pos[0].id"],
                       p + "pos[1].qty": batch.inputs[p + "pos[0].qty"]})  # fmt: skip
    assert rejects(circuit, circuit.witness(ins)) == p + "pos[1].used_first"


def test_liability_understated(circuit: VenueCircuit, batch: VenueBatch) -> None:
    ins = _set(batch, {"liabilities[0]": batch.inputs["liabilities[0]"] - 1})
    assert "liabilities.sum" in str(rejects(circuit, circuit.witness(ins)))


def test_liability_moved_between_assets(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """Same total, other assets: the weighted identity is per asset id, not a sum."""
    a, b = batch.inputs["liabilities[0]"], batch.inputs["liabilities[1]"]
    ins = _set(batch, {"liabilities[0]": a - 1, "liabilities[1]": b + 1})
    assert "liabilities.sum" in str(rejects(circuit, circuit.witness(ins)))


def test_link_to_another_account(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """A leaf claiming to continue the previous leaf's account under another id hash (to borrow its collateral)."""
    pf = [batch.inputs[f"acct[{k}].portfolio"] for k in range(len(batch.leaves))]
    i = next(k for k in range(1, len(batch.leaves)) if batch.leaves[k].part == 0 and pf[k] == pf[k - 1])
    ins = _set(batch, {f"acct[{i}].cont": 1})
    # refused where the link is built (the instrument chain of one account must ascend over its leaves) or by the
    # batch ordering (a linked leaf repeats the id hash), whichever the two accounts' holdings trip first
    assert rejects(circuit, circuit.witness(ins)) in (f"order.same_account[{i - 1}]", f"acct[{i}].pos[0].ascending.sum")


def test_part_of_an_account_counted_as_its_own_account(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """Unlinking the second leaf of an account (the part would be proven with none of the account's collateral
    ... or its debts): the same id hash twice without the link is refused by the ordering."""
    i = leaf_index(batch, "portfolio", 1)
    ins = _set(batch, {f"acct[{i}].cont": 0, f"acct[{i}].gcont": 0})
    name = rejects(circuit, circuit.witness(ins))
    assert name in (f"order.gap[{i - 1}].range.sum", f"acct[{i}].same_mode")


def test_group_link_to_another_underlying(circuit: VenueCircuit, batch: VenueBatch) -> None:
    i = leaf_index(batch, "portfolio", 1)
    assert batch.inputs[f"acct[{i}].gcont"] == 1
    ins = _set(batch, {f"acct[{i}].group": batch.inputs[f"acct[{i}].group"] + 1})
    assert rejects(circuit, circuit.witness(ins)) == f"acct[{i}].same_group"


def test_option_in_cross_mode(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """Flipping a portfolio account with a short option to cross mode would free the option from margin."""
    i = leaf_index(batch, "portfolio")
    ins = {**batch.inputs}
    for k in range(i, i + 3):
        if ins.get(f"acct[{k}].portfolio") == 1 and (k == i or ins[f"acct[{k}].cont"] == 1):
            ins[f"acct[{k}].portfolio"] = 0
    name = str(rejects(circuit, circuit.witness(ins)))
    assert name.endswith("option_needs_portfolio")


# ----------------------------------------------------------------------------- the table


def test_inverse_contract_is_refused_by_name(engine: MarginEngine, table: InstrumentTable, shape: VenueShape) -> None:
    rows = [r.model_copy(update={"settlement": "inverse"}) if r.symbol == "ETH-PERP" else r for r in table.instruments]
    inv = table.model_copy(update={"instruments": rows})
    with pytest.raises(ParamsError, match="inverse contracts are not yet supported"):
        venue_params(inv, engine.params, engine.snapshot, shape)


def test_position_outside_the_table_is_refused_by_name(
    engine: MarginEngine, table: InstrumentTable, shape: VenueShape
) -> None:
    acct = account("x", btc_perp=0.1).model_copy(
        update={"positions": [Position(instrument="SOL-PERP", quantity=10**8, entry_price=10**9)]}
    )
    with pytest.raises(AccountNotProvable, match=r"SOL-PERP.*not in the instrument table"):
        split_account(engine, acct, table, shape)


def test_table_ids_are_rows_and_groups_contiguous(table: InstrumentTable) -> None:
    data = table.model_dump()
    data["instruments"][0]["id"] = 5
    with pytest.raises(ValueError, match="ids are the rows"):
        InstrumentTable.model_validate(data)
    ra = [r for r in table.instruments if r.risk_row]
    assert [r.id for r in ra] == list(range(1, len(ra) + 1))
    bad = [*table.instruments[1:], table.instruments[0].model_copy(update={"id": len(table.instruments)})]
    renumbered = [TableInstrument.model_validate({**r.model_dump(), "id": n}) for n, r in enumerate(bad, 1)]
    with pytest.raises(ValueError, match="risk"):
        InstrumentTable.model_validate({**table.model_dump(), "instruments": [r.model_dump() for r in renumbered]})


def test_user_sees_their_instruments_by_name(batch: VenueBatch, table: InstrumentTable) -> None:
    """Reassembling an account's leaves by name gives back its own positions and balances (USD cash apart)."""
    from zkmargin.circuits.rules.instrument_table import leaf_view

    acct = next(a for a in batch.accounts if a.account_id == "portfolio")
    first = leaf_index(batch, "portfolio")
    parts = [lf for lf in batch.leaves if lf.id_hash == batch.leaves[first].id_hash]
    assert [lf.part for lf in parts] == list(range(len(parts))) and len(parts) > 1
    seen_pos: dict[str, int] = {}
    seen_bal: dict[str, int] = {}
    for lf in parts:
        view = leaf_view(table, lf.positions, lf.balances)
        seen_pos |= view["positions"]
        seen_bal |= view["balances"]
    assert seen_pos == {p.instrument: p.quantity for p in acct.positions}
    assert {k: v for k, v in seen_bal.items() if k != "USD"} == dict(acct.balances)
    assert seen_bal["USD"] == acct.realised_pnl * 100
    with pytest.raises(ParamsError, match="not in table"):
        leaf_view(table, [(len(table.instruments) + 1, 1)], [])


def test_auditor_rebuilds_the_commitments_from_the_governed_document(
    engine: MarginEngine, table: InstrumentTable, shape: VenueShape, batch: VenueBatch
) -> None:
    """From the governed document (risk parameters + instrument table) and the snapshot alone, the auditor gets the
    proven commitments; a row changed in the document gives another params commitment (what the registry rejects)."""
    import json

    from zkmargin.circuits.rules.instrument_table import rebuild_venue_params, venue_governed_document

    doc = json.loads(json.dumps(venue_governed_document(engine.params, table)))  # as published, parsed back
    _, _, vp = rebuild_venue_params(doc, engine.snapshot, shape)
    assert vp.commitment(shape) == batch.public_named()["params_commitment"]
    assert vp.market_commitment(shape) == batch.public_named()["market_commitment"]
    row = next(i for i, r in enumerate(doc["instrument_table"]["instruments"]) if r["kind"] != "option")
    doc["instrument_table"]["instruments"][row]["basis_cap_bps"] = 10
    _, _, other = rebuild_venue_params(doc, engine.snapshot, shape)
    assert other.table_commitment(shape) != vp.table_commitment(shape)
    assert other.commitment(shape) != vp.commitment(shape)
    opt = next(r.symbol for r in table.instruments if r.kind == "option")
    moved = engine.snapshot.model_copy(update={"marks": {**engine.snapshot.marks, opt: engine.snapshot.marks[opt] + 1}})
    with pytest.raises(ParamsError, match=f"marks.{opt}"):
        rebuild_venue_params(doc, moved, shape)


def test_every_signal_is_pinned(engine: MarginEngine, table: InstrumentTable) -> None:
    """Add 1 to every signal of a small venue batch (two accounts over three linked leaves) in turn: every change
    breaks a constraint, except the is_zero inverse of a zero value (free by design, as in the plain circuit)."""
    from test_solvency_mutation import _free_signals

    sh = venue_shape(table, engine.params, 4, 1, 1)
    accts = [account("m1", 3_000, 0.2, btc_perp=0.4), account("m2", 20_000, option=-0.5, mode="portfolio")]
    b = build_venue_batch(engine, accts, table, sh, epoch=2, secret=b"m")
    assert any(p.cont for p in b.plans)
    c = VenueCircuit(sh)
    w = c.witness(b.inputs)
    assert c.r1cs.is_satisfied(w)
    free, mutated = _free_signals(c, w)  # type: ignore[arg-type]
    by_design = [n for n in free if n.endswith(".inv") and "is_zero" in n]
    for name in by_design:
        assert w[c.r1cs.signal_index(name[: -len(".inv")] + ".out")] == 1, name
    assert sorted(set(free) - set(by_design)) == []
    assert mutated > 10_000


@pytest.fixture(scope="module")
def universe() -> tuple[MarginEngine, InstrumentTable, list[Account]]:
    from zkmargin.prover.venue_universe import ASSETS as VENUE_ASSETS
    from zkmargin.prover.venue_universe import venue_engine as universe_engine

    eng = universe_engine()
    tab = build_instrument_table(eng.instruments, eng.params, VENUE_ASSETS)
    return eng, tab, _load_generator().synthetic_book(eng, 1000, seed=21)


def test_no_account_of_the_1000_instrument_venue_is_excluded(
    universe: tuple[MarginEngine, InstrumentTable, list[Account]],
) -> None:
    """Every account of a synthetic book over the 1,000-instrument, 20-asset venue fits linked P = 4, A = 3 leaves;
    the widest needs as many leaves as its positions need (4 per leaf) or its underlyings (one per leaf)."""
    eng, tab, book = universe
    assert len(tab.instruments) == 1000 and len(tab.assets) == 20
    sh = venue_shape(tab, eng.params, 16, 4, 3)
    for acct in book:
        plans = split_account(eng, acct, tab, sh)
        held = sum(1 for p in plans for i, _ in p.positions if i)
        assert held == len(acct.positions), acct.account_id
        assert len(plans) >= -(-len(acct.positions) // 4)


@pytest.mark.slow
def test_1000_instrument_batch_satisfies_the_circuit(
    universe: tuple[MarginEngine, InstrumentTable, list[Account]],
) -> None:
    """A batch over the full table (1,000 instrument rows, 986 risk arrays) with the book's widest account."""
    eng, tab, book = universe
    wide = max(book, key=lambda a: len(a.positions))
    sample = [wide, *book[:6]]
    sh = venue_shape(tab, eng.params, 8 + -(-len(wide.positions) // 4) * 2, 4, 3)
    b = build_venue_batch(eng, sample, tab, sh, epoch=1, secret=b"u")
    c = VenueCircuit(sh)
    assert rejects(c, c.witness(b.inputs)) is None

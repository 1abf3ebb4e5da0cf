"""The venue circuit's price box (issue 16): every account proven at the worst corner of the governed box.

Bridge: the circuit accepts exactly what ``price_box.venue_box_state`` computes (worst-corner margin and equity,
under-MM count, shortfall, bad debt) from the same integers. Property: at any price inside the box (every price of
an underlying moved by one ratio, the exact engine path), an account's margin and equity are at least the proven
worst-corner ones. Attacks: a cheating operator's witness (forged corner marks or prices, a flipped min side,
entries that do not net the slots, a lenient box, a box in a point shape, a non-concave ladder, an option box
column off the grid node), each refused by the named constraint or audit check.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from solvency_helpers import account, rejects, small_engine

from zkmargin.circuits.field import R
from zkmargin.circuits.rules.instrument_table import (
    BOX_GRID_CHECK,
    InstrumentTable,
    build_instrument_table,
    default_box,
    rebuild_venue_params,
    venue_governed_document,
    venue_params,
    venue_shape,
)
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.rules.params import ScenarioGrid
from zkmargin.circuits.rules.price_box_document import MAX_BOX_PPM, GovernedBox
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.circuits.solvency import venue_params as vp_module
from zkmargin.circuits.solvency.params import ParamsError
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.circuits.solvency.venue_params import VenueParams, corner_price
from zkmargin.circuits.solvency.venue_shape import VenueShape
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.engine.price_box import move_snapshot, venue_box_state
from zkmargin.prover.venue_witness import VenueBatch, build_venue_batch, venue_witness_inputs

ASSETS = ["USDT", "BTC", "ETH", "USD", "USDC"]
B = 100_000  # the box half-width of these tests: 10 %


def box_engine() -> MarginEngine:
    """The small engine with a BTC grid that has the box's nodes (-b and +b at zero vol shock)."""
    e = small_engine()
    grid = ScenarioGrid(price_moves=[-B, B], vol_shocks=[-250_000, 0])
    params = e.params.model_copy(update={"scenario_grids": {"BTC": grid}})
    ra = build_risk_arrays(e.instruments, e.snapshot, params.scenario_grids, params.short_option_min)
    return MarginEngine(e.instruments, params, e.snapshot, ra)


@pytest.fixture(scope="module")
def engine() -> MarginEngine:
    return box_engine()


@pytest.fixture(scope="module")
def table(engine: MarginEngine) -> InstrumentTable:
    insts = {
        s: i
        for s, i in engine.instruments.items()
        if s in engine.params.brackets or (i.kind == "option" and i.underlying in engine.params.scenario_grids)
    }
    return build_instrument_table(insts, engine.params, ASSETS)


def make_shape(engine: MarginEngine, table: InstrumentTable, box: int = 1) -> VenueShape:
    return venue_shape(table, engine.params, 8, 2, 2, box=box)


@pytest.fixture(scope="module")
def shape(engine: MarginEngine, table: InstrumentTable) -> VenueShape:
    return make_shape(engine, table)


@pytest.fixture(scope="module")
def gbox(table: InstrumentTable) -> GovernedBox:
    return default_box(table, B)


@pytest.fixture(scope="module")
def params(engine: MarginEngine, table: InstrumentTable, shape: VenueShape, gbox: GovernedBox) -> VenueParams:
    return venue_params(table, engine.params, engine.snapshot, shape, engine.risk_arrays, gbox)


@pytest.fixture(scope="module")
def circuit(shape: VenueShape) -> VenueCircuit:
    return VenueCircuit(shape)


def book() -> list[Account]:
    """A hedge (long BTC perp against BTC collateral), a directional account near MM, a borrower, a portfolio
    account with a short option, and an account that spans linked leaves of the 2 x 2 shape."""
    return [
        account("hedged", usdt=2_000, btc=1.0, btc_perp=-1.0),
        account("near-mm", usdt=2_400, btc_perp=1.0),
        account("borrower", usdt=20_000, btc=-0.05, eth_perp=3),
        account("portfolio", option=-1, btc_perp=0.2, mode="portfolio", btc=0.2, realised=5_000_000),
        account("wide", usdt=5_000, btc=0.1, btc_perp=0.3, eth_perp=-2),
    ]


@pytest.fixture(scope="module")
def batch(engine: MarginEngine, table: InstrumentTable, shape: VenueShape, params: VenueParams) -> VenueBatch:
    return build_venue_batch(engine, book(), table, shape, epoch=7, secret=b"box", params=params)


def last_leaves(batch: VenueBatch) -> list[int]:
    return [i for i, lf in enumerate(batch.leaves) if lf.last]


def _set(batch: VenueBatch, items: dict[str, int]) -> dict[str, int]:
    return {**batch.inputs, **{k: v % R for k, v in items.items()}}


def rooted(circuit: VenueCircuit, ins: dict[str, int]) -> list[int]:
    root = circuit.value(circuit.root, circuit.witness(ins)) % R
    return circuit.witness({**ins, "batch_root": root})


def cheating(circuit: VenueCircuit, ins: dict[str, int], hints: dict[str, Any]) -> list[int]:
    """The witness with the hints named in ``hints`` replaced (a cheating prover's values), and the box totals
    the cheat makes the circuit compute published as the public signals (the operator publishes what it proves)."""
    cs = circuit.cs
    steps = {cs._names[st.outputs[0]]: st for st in cs._steps}
    saved = {n: steps[n].fn for n in hints}
    try:
        for n, fn in hints.items():
            steps[n].fn = fn
        w = rooted(circuit, ins)
        ends = [
            i
            for i in range(circuit.shape.accounts)
            if ins.get(f"acct[{i}].active") and not ins.get(f"acct[{i + 1}].cont")
        ]
        for name, attr in (
            ("under_mm_count", "under_mm"),
            ("total_shortfall", "shortfall"),
            ("total_bad_debt", "bad_debt"),
        ):
            ins = {**ins, name: sum(circuit.value(getattr(circuit.leaves[i], attr), w) for i in ends) % R}
        return rooted(circuit, ins)
    finally:
        for n, fn in saved.items():
            steps[n].fn = fn


def index_of(batch: VenueBatch, aid: str) -> int:
    k = [a.account_id for a in batch.accounts].index(aid)
    return [i for i, lf in enumerate(batch.leaves) if lf.part == 0][k]


# ----------------------------------------------------------------------------- bridge


def test_circuit_is_the_engines_box(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """Engine == circuit: per account the worst-corner under-MM flag, shortfall and bad debt, and the totals."""
    w = circuit.witness(batch.inputs)
    assert rejects(circuit, w) is None
    assert len(batch.box) == len(batch.accounts) == 5
    assert len(batch.leaves) > 5  # "wide" spans linked leaves
    for i, st in zip(last_leaves(batch), batch.box, strict=True):
        leaf = circuit.leaves[i]
        assert circuit.value(leaf.under_mm, w) == st.under_mm
        assert circuit.value(leaf.shortfall, w) == st.shortfall
        assert circuit.value(leaf.bad_debt, w) == st.bad_debt
    pub = batch.public_named()
    assert pub["under_mm_count"] == sum(s.under_mm for s in batch.box)
    # the box costs margin: "near-mm" passes at the index but fails somewhere in the box
    k = [a.account_id for a in batch.accounts].index("near-mm")
    assert batch.results[k].equity >= batch.results[k].mm
    assert batch.box[k].under_mm == 1
    # equity and MM totals stay at the point price
    assert pub["total_mm"] == sum(r.mm for r in batch.results)


def test_box_totals_use_the_worst_corner(batch: VenueBatch) -> None:
    """The engine's state is a lower bound of the point state for every account (the index is inside the box)."""
    for res, st in zip(batch.results, batch.box, strict=True):
        assert st.margin <= res.equity - res.mm
        assert st.equity <= res.equity


# ----------------------------------------------------------------------------- property


def test_margin_anywhere_in_the_box_is_at_least_the_proven(
    engine: MarginEngine, batch: VenueBatch, gbox: GovernedBox
) -> None:
    """Every price of an underlying moved by one ratio x, |x| <= b (BTC and ETH independently), the exact engine
    at those prices: margin and equity never below the proven worst corner. Accounts without options (options are
    proven at the grid nodes only: docs/statement.md)."""
    rng = random.Random(16)
    amap = {"BTC": "BTC", "ETH": "ETH"}
    moves = [(-B, -B), (B, B), (-B, B), (B, -B), (0, 0)] + [(rng.randint(-B, B), rng.randint(-B, B)) for _ in range(40)]
    checked = 0
    for acct, st in zip(batch.accounts, batch.box, strict=True):
        if any(p.instrument.startswith("BTC-7D") for p in acct.positions):
            continue
        for xb, xe in moves:
            snap = move_snapshot(engine.snapshot, engine.instruments, {"BTC": xb, "ETH": xe}, amap)
            r = MarginEngine(engine.instruments, engine.params, snap, engine.risk_arrays).evaluate(acct)
            assert r.equity - r.mm >= st.margin, (acct.account_id, xb, xe)
            assert r.equity >= st.equity, (acct.account_id, xb, xe)
            checked += 1
    assert checked >= 4 * len(moves)


def test_the_corners_hold_the_governed_box() -> None:
    """Outward rounding: the proven corner prices contain p (1 -+ b) exactly."""
    rng = random.Random(3)
    for _ in range(200):
        p, b = rng.randint(1, 1 << 52), rng.randint(0, MAX_BOX_PPM)
        lo, hi = corner_price(p, b, False), corner_price(p, b, True)
        assert lo * 10**6 <= p * (10**6 - b) < (lo + 1) * 10**6
        assert (hi - 1) * 10**6 < p * (10**6 + b) <= hi * 10**6
    assert vp_module.MAX_BOX_PPM == MAX_BOX_PPM


# ----------------------------------------------------------------------------- attacks


def test_forged_corner_mark_in_a_slot(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """A slot valued at a low corner mark above the table's: the instrument lookup refuses the row."""
    i = index_of(batch, "near-mm")
    p = f"acct[{i}].pos[0]"
    real = list(circuit.tables.index["instruments"][batch.inputs[p + ".id"]][0][1:])
    forged = [*real[:8], real[0], real[0], *real[10:]]  # both corners at the point mark: no box at all
    w = cheating(circuit, batch.inputs, {p + ".row[0]": lambda k: forged})
    assert rejects(circuit, w) == "lookup.params.instruments.logup"


def test_forged_corner_in_the_table(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """The table's own low corner mark of BTC-PERP rounded up (inside the governed box): the division refuses."""
    iid = batch.inputs[f"acct[{index_of(batch, 'near-mm')}].pos[0].id"]
    name = f"params.inst[{iid}].box.mark.lo.qr[0]"
    w = cheating(circuit, batch.inputs, {name: lambda *v: _plus_one(circuit, name, v)})
    assert rejects(circuit, w) == f"params.inst[{iid}].box.mark.lo.div"


def _plus_one(circuit: VenueCircuit, name: str, v: tuple[int, ...]) -> list[int]:
    """The division hint's (quotient + 1, remainder - d) split: what an operator rounding up would write."""
    q = v[0] // 10**6
    return [q + 1, 0, 0]


def test_flipped_min_side(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """The better corner chosen for an entry (sign bit flipped): its range check refuses."""
    i = index_of(batch, "near-mm")
    name = f"acct[{i}].box.entry[0].margin_side.top"
    w = cheating(circuit, batch.inputs, {name: lambda v: 1 - (((v + (1 << 120)) % R) >> 120 & 1)})
    assert rejects(circuit, w) == f"acct[{i}].box.entry[0].margin_side.sum"


@pytest.mark.parametrize(
    ("how", "want"),
    [
        ("inflate", "lookup.box.margin_lo.sum"),
        ("merge", "lookup.box.equity_lo.sum"),
        ("other account", "box.entry[0].underlying.sum"),
        ("drop", "lookup.box.equity_lo.sum"),
    ],
)
def test_entries_must_net_the_slots(circuit: VenueCircuit, batch: VenueBatch, how: str, want: str) -> None:
    """Entries that do not sum the slots per (account, underlying): one of the four identities refuses them."""
    i = index_of(batch, "wide")
    name = f"acct[{i}].box.entries[0]"
    step = next(st for st in circuit.cs._steps if circuit.cs._names[st.outputs[0]] == name)
    honest = step.fn

    def forged(*v: int) -> list[int]:
        out = list(honest(*v))
        if how == "inflate":  # margin at -b raised by 1 USD
            out[3] = (out[3] + 10**14) % R
        elif how == "merge":  # two underlyings in one entry: the second's sums moved into the first's
            for k in range(1, 5):
                out[k], out[5 + k] = (out[k] + out[5 + k]) % R, 0
        elif how == "other account":  # the underlying id pushed into the next account's key range
            out[0] = out[0] + (1 << 8)
        else:  # an entry dropped
            out[0:5] = [0, 0, 0, 0, 0]
        return out

    w = cheating(circuit, batch.inputs, {name: forged})
    got = rejects(circuit, w)
    assert got == (f"acct[{i}].{want}" if want.startswith("box.") else want)


def test_lenient_box_in_the_witness(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """The witness proves a 5 % box while the registry approved 10 %: the parameter commitment refuses."""
    ins = _set(batch, {"params.box_ppm": B // 2})
    assert rejects(circuit, rooted(circuit, ins)) == "params.commitment"


def test_unboxed_asset_in_the_witness(circuit: VenueCircuit, batch: VenueBatch) -> None:
    """BTC's box flag cleared in the witness (BTC held at its point price): the parameter commitment refuses."""
    ins = _set(batch, {"params.box_flag[2]": 0})
    assert rejects(circuit, rooted(circuit, ins)) == "params.commitment"


def test_point_shape_refuses_a_box(engine: MarginEngine, table: InstrumentTable, gbox: GovernedBox) -> None:
    """A point shape (box 0) with a governed box > 0: refused by the validator and by the circuit."""
    sh = make_shape(engine, table, box=0)
    with pytest.raises(ParamsError, match="box_ppm"):
        venue_params(table, engine.params, engine.snapshot, sh, engine.risk_arrays, gbox)
    honest = build_venue_batch(engine, book()[:3], table, sh, epoch=7, secret=b"box")
    assert not honest.box
    point = VenueCircuit(sh)
    assert rejects(point, point.witness(honest.inputs)) is None
    lenient = dataclasses.replace(honest.params, box_ppm=B)
    ins = {**honest.inputs, "params.box_ppm": B, "params_commitment": lenient.commitment(sh)}
    assert rejects(point, rooted(point, ins)) == "params.box_ppm.point_shape"


@pytest.mark.parametrize("what", ["mmr", "cum", "haircut"])
def test_non_concave_parameters(
    circuit: VenueCircuit, batch: VenueBatch, shape: VenueShape, params: VenueParams, what: str
) -> None:
    """A falling mmr, a cum off the continuity rule, a haircut rate that rises with value, committed consistently
    (as if governance approved them): the validator names them and the circuit refuses them."""
    if what == "mmr":
        mm = [list(x) for x in params.ladder_mmr]
        mm[0][1] = mm[0][0] - 1
        bad = dataclasses.replace(params, ladder_mmr=tuple(tuple(x) for x in mm))
        want = "params.ladder[1][1].mmr_nondecreasing.sum"
    elif what == "cum":
        cu = [list(x) for x in params.ladder_cum]
        cu[0][1] += 1
        bad = dataclasses.replace(params, ladder_cum=tuple(tuple(x) for x in cu))
        want = "params.ladder[1][1].cum_continuity"
    else:
        a = ASSETS.index("BTC") + 1
        rt = [list(x) for x in params.haircut_rate]
        rt[a - 1][1] = rt[a - 1][0] + 1
        bad = dataclasses.replace(params, haircut_rate=tuple(tuple(x) for x in rt))
        want = f"params.haircut[{a}][1].rate_nonincreasing.sum"
    with pytest.raises(ParamsError):
        bad.validate(shape)
    pub = list(batch.public)
    pub[2] = bad.commitment(shape)
    ins = venue_witness_inputs(shape, bad, batch.leaves, batch.plans, pub)
    assert rejects(circuit, rooted(circuit, ins)) == want


def test_option_box_column_off_the_node(circuit: VenueCircuit, batch: VenueBatch, params: VenueParams) -> None:
    """The options' box column read at another scenario than the committed node: the one-hot index refuses."""
    lo = params.box_nodes[0]
    other = (lo + 1) % circuit.shape.scenarios
    w = cheating(
        circuit,
        batch.inputs,
        {"params.box_node_lo.sel[0]": lambda v: [1 if s == other else 0 for s in range(circuit.shape.scenarios)]},
    )
    assert rejects(circuit, w) == "params.box_node_lo.index"


def test_audit_refuses_a_grid_without_the_box_nodes(
    engine: MarginEngine, table: InstrumentTable, shape: VenueShape, gbox: GovernedBox
) -> None:
    """A governed 10 % box over a grid whose price moves are +-15 %: options could not be valued at the box's
    edges; the audit's rebuild refuses the document under BOX_GRID_CHECK."""
    grid = ScenarioGrid(price_moves=[-150_000, 150_000], vol_shocks=[-250_000, 0])
    params = engine.params.model_copy(update={"scenario_grids": {"BTC": grid}})
    doc = venue_governed_document(params, table, gbox)
    with pytest.raises(ParamsError, match="scenario grid spans the box"):
        rebuild_venue_params(doc, engine.snapshot, shape)
    assert BOX_GRID_CHECK.startswith("box: scenario grid spans the box")


def test_rebuild_reads_the_box_from_the_document(
    engine: MarginEngine, table: InstrumentTable, shape: VenueShape, gbox: GovernedBox, params: VenueParams
) -> None:
    """The auditor's rebuild from the governed document carries the box: the same commitment as the operator's,
    and a different one for another box."""
    doc = venue_governed_document(engine.params, table, gbox)
    _, _, vp = rebuild_venue_params(doc, engine.snapshot, shape)
    assert vp.commitment(shape) == params.commitment(shape)
    other = venue_governed_document(engine.params, table, GovernedBox(B, gbox.boxed_assets[:1]))
    _, _, vp2 = rebuild_venue_params(other, engine.snapshot, shape)
    assert vp2.commitment(shape) != params.commitment(shape)


def test_engine_state_is_recomputed_not_copied(batch: VenueBatch, shape: VenueShape, params: VenueParams) -> None:
    """venue_box_state from the batch's integers equals what the batch carries, and moves with the box."""
    prices = [batch.public_named()[f"prices[{a}]"] for a in range(shape.assets)]
    again = venue_box_state(shape, params, prices, batch.leaves, [p.gcont for p in batch.plans])
    assert again == batch.box
    wider = dataclasses.replace(params, box_ppm=2 * B)
    more = venue_box_state(shape, wider, prices, batch.leaves, [p.gcont for p in batch.plans])
    assert all(m.margin <= a.margin for m, a in zip(more, again, strict=True))
    assert any(m.margin < a.margin for m, a in zip(more, again, strict=True))


def test_shape_json_carries_the_box(shape: VenueShape) -> None:
    """The shape's ``box`` field survives the manifest's JSON; a manifest without it reads as a box shape; a bad
    value is refused naming the field."""
    from zkmargin.verifier.bundle import BundleError
    from zkmargin.verifier.venue_format import venue_shape_from_json, venue_shape_to_json

    point = dataclasses.replace(shape, box=0)
    assert venue_shape_from_json(venue_shape_to_json(point)) == point
    old = {k: v for k, v in venue_shape_to_json(shape).items() if k != "box"}
    assert venue_shape_from_json(old).box == 1
    with pytest.raises(BundleError, match="box"):
        venue_shape_from_json({**old, "box": 2})


def test_option_account_at_the_box_nodes(engine: MarginEngine, batch: VenueBatch) -> None:
    """The short-option portfolio account at the four corners (BTC and ETH at -+b): the exact engine with option
    marks held, plus the options' P&L from the published arrays at the node (the scenario method), never below the
    proven margin. Between nodes nothing is claimed for options (docs/statement.md)."""
    k = [a.account_id for a in batch.accounts].index("portfolio")
    acct, st = batch.accounts[k], batch.box[k]
    ra = engine.risk_arrays
    assert ra is not None
    for xb in (-B, B):
        s = ra.scenarios["BTC"].index((xb, 0, 10**6))
        pnl = 0
        for p in acct.positions:
            if p.instrument.startswith("BTC-7D"):
                arr = ra.long[p.instrument] if p.quantity > 0 else ra.short[p.instrument]
                pnl += p.quantity * arr[s]
        for xe in (-B, B):
            snap = move_snapshot(engine.snapshot, engine.instruments, {"BTC": xb, "ETH": xe}, {"BTC": "BTC"})
            r = MarginEngine(engine.instruments, engine.params, snap, ra).evaluate(acct)
            assert r.equity + pnl // 10**8 - r.mm >= st.margin, (xb, xe)

"""Price boxes (prover/engine/price_box.py): the worst corner bounds every price inside the box for linear books,
and does not for options or a convex haircut ladder (the counter-examples show the sampling check has teeth)."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkmargin.circuits.rules.black76 import black76
from zkmargin.circuits.rules.fixedpoint import PRICE_SCALE, QTY_SCALE, RATE_SCALE, USD_SCALE
from zkmargin.circuits.rules.models import SECONDS_PER_YEAR, Account, Instrument, MarketSnapshot, Position
from zkmargin.circuits.rules.params import HaircutTier, RiskParameters, ScenarioGrid, make_brackets
from zkmargin.circuits.rules.risk_arrays import RiskArrays, build_risk_arrays
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.engine.price_box import (
    PriceBoxEngine,
    book_box_states,
    box_coverage,
    box_ppm_from_bps,
    concavity_problems,
    moved_price,
    rounding_bound,
    scenario_grid_problems,
    scenario_grid_spans_box,
)
from zkmargin.prover.engine.vectorised import Book

B10 = 100_000  # 10% in ppm
LINEAR = ["BTC-PERP", "ETH-PERP", "BTC-FUT-90D", "SOL-PERP"]


def tight_params() -> RiskParameters:
    """Small bracket and haircut floors so that random books cross several tiers inside a 10-20% box."""
    ladder = make_brackets(
        [
            (0, 10_000, 0.02, 0.01),
            (10_000, 100_000, 0.05, 0.025),
            (100_000, 1_000_000, 0.10, 0.05),
            (1_000_000, 500_000_000, 0.25, 0.125),
        ]
    )
    base = demo.params()
    return base.model_copy(
        update={
            "brackets": {s: ladder for s in base.brackets},
            "haircuts": base.haircuts
            | {
                "BTC": [
                    HaircutTier(value_floor=0, rate=950_000),
                    HaircutTier(value_floor=20_000 * USD_SCALE, rate=800_000),
                    HaircutTier(value_floor=100_000 * USD_SCALE, rate=500_000),
                ],
                "ETH": [HaircutTier(value_floor=0, rate=900_000), HaircutTier(value_floor=10_000 * USD_SCALE, rate=0)],
            },
        }
    )


def moved_snapshot_independent(
    snap: MarketSnapshot, instruments: dict[str, Instrument], moves: dict[str, int], option_marks: bool = False
) -> MarketSnapshot:
    """Written apart from price_box.move_snapshot: every price of u times (1 + x), rounded to nearest; option marks
    re-priced by Black-76 at the moved index when asked (the published mark rule of the demo)."""
    marks, index, spot = dict(snap.marks), dict(snap.index_prices), dict(snap.spot_prices)

    def mv(p: int, x: int) -> int:
        return (2 * p * (RATE_SCALE + x) + RATE_SCALE) // (2 * RATE_SCALE)

    for u, x in moves.items():
        index[u] = mv(snap.index_prices[u], x)
        if u in spot:
            spot[u] = mv(snap.spot_prices[u], x)
    for sym, inst in instruments.items():
        x = moves.get(inst.underlying, 0)
        if inst.kind != "option":
            marks[sym] = mv(snap.marks[sym], x)
        elif option_marks:
            assert inst.strike is not None and inst.expiry is not None
            f = index[inst.underlying] / PRICE_SCALE
            t = (inst.expiry - snap.timestamp) / SECONDS_PER_YEAR
            vol = snap.vol_surfaces[inst.underlying].vol(inst.strike, inst.expiry, snap.timestamp)
            price = black76(f, inst.strike / PRICE_SCALE, t, vol, inst.option_type == "call").price
            marks[sym] = max(1, round(price * PRICE_SCALE))
    return snap.model_copy(update={"marks": marks, "index_prices": index, "spot_prices": spot})


def margin_at(
    acct: Account,
    instruments: dict[str, Instrument],
    params: RiskParameters,
    snap: MarketSnapshot,
    moves: dict[str, int],
    ra: RiskArrays | None = None,
    option_marks: bool = False,
) -> int:
    r = MarginEngine(instruments, params, moved_snapshot_independent(snap, instruments, moves, option_marks), ra)
    res = r.evaluate(acct)
    return res.equity - res.mm


def interior_violations(
    margin: Callable[[dict[str, int]], int], unds: list[str], b: int, floor: int, samples: int, seed: int
) -> list[tuple[dict[str, int], int]]:
    """Random prices inside the box (and on its faces) whose equity - MM is below `floor`."""
    rng = random.Random(seed)
    out = []
    for i in range(samples):
        moves = {u: rng.randint(-b, b) for u in unds}
        if i % 4 == 0:  # a face: one underlying on an edge, the others inside
            moves[rng.choice(unds)] = rng.choice((-b, b))
        f = margin(moves)
        if f < floor:
            out.append((moves, f))
    return out


# ---------------------------------------------------------------- random linear books


@st.composite
def linear_accounts(draw: st.DrawFn) -> Account:
    n = draw(st.integers(1, 4))
    positions = []
    snap = demo.snapshot()
    for sym in draw(st.lists(st.sampled_from(LINEAR), min_size=n, max_size=n, unique=True)):
        mark = snap.marks[sym]
        notional = draw(st.integers(-2_000_000, 2_000_000))  # USD, crosses the 10k / 100k / 1M brackets
        q = notional * PRICE_SCALE // mark * QTY_SCALE // PRICE_SCALE or QTY_SCALE // 1000
        entry = mark * draw(st.integers(900, 1100)) // 1000
        positions.append(Position(instrument=sym, quantity=q, entry_price=entry))
    balances = {"USDT": draw(st.integers(0, 400_000)) * QTY_SCALE}
    if draw(st.booleans()):
        balances["BTC"] = draw(st.integers(-2_000, 6_000)) * QTY_SCALE // 1000  # up to 216k USD: 3 tiers
    if draw(st.booleans()):
        balances["ETH"] = draw(st.integers(0, 20_000)) * QTY_SCALE // 1000
    return Account(account_id="p", balances=balances, positions=positions, realised_pnl=draw(st.integers(-1000, 1000)))


@settings(max_examples=40, deadline=None)
@given(acct=linear_accounts(), b=st.sampled_from([50_000, 100_000, 200_000]), seed=st.integers(0, 2**16))
def test_no_price_inside_the_box_is_below_the_worst_corner(acct: Account, b: int, seed: int) -> None:
    insts, snap, params = demo.instruments(), demo.snapshot(), tight_params()
    box = PriceBoxEngine(insts, params, snap, b)
    full = box.evaluate(acct, "all-corners")
    worst = min(full.corner_states.values())
    unds = sorted(full.corner)
    bad = interior_violations(
        lambda m: margin_at(acct, insts, params, snap, m), unds, b, worst - full.rounding, samples=30, seed=seed
    )
    assert not bad, f"prices inside the box below the worst corner {worst} - {full.rounding}: {bad[:3]}"
    # the separable bound (2k + 1 evaluations) is sound against the enumeration and finds a corner within 4k - 2
    sep = box.evaluate(acct, "separable")
    k = len(unds)
    assert sep.margin_lb <= worst - sep.rounding
    assert worst <= sep.corner_margin <= worst + max(4 * k - 2, 0)
    if sep.method == "separable":  # else the bound could not decide the sign and the corners were enumerated
        assert sep.evaluations == 2 * k + 2
        assert sep.margin_lb + sep.rounding >= 0 or sep.corner_margin < 0


def test_rounding_bound_is_needed_but_small() -> None:
    """The bound is tight enough to matter: a few micro-USD per position, not a margin of its own."""
    acct = Account(
        account_id="r",
        balances={"USDT": 10_000 * QTY_SCALE, "BTC": QTY_SCALE},
        positions=[Position(instrument="BTC-PERP", quantity=2 * QTY_SCALE, entry_price=36_000 * PRICE_SCALE)],
    )
    # 2 account roundings, 2 per position, 1 per balance, price term ceil(2 (2 x 2e8 + 1e8) / 1e10) = 1
    assert rounding_bound(acct, {"BTC"}) == 2 + 2 + 2 + 1
    # every balance's spot assumed to move (the default): the 10,000 USDT add ceil(2 x 1e12 / 1e10) = 200
    assert rounding_bound(acct) == 2 + 2 + 2 + (2 * (2 * 2 * QTY_SCALE + 10_001 * QTY_SCALE) + 10**10 - 1) // 10**10


def test_moved_price_rounds_outwards() -> None:
    p = 3_600_012_345_677
    lo, hi = moved_price(p, -B10), moved_price(p, B10)
    assert lo * RATE_SCALE <= p * (RATE_SCALE - B10) < (lo + 1) * RATE_SCALE
    assert (hi - 1) * RATE_SCALE < p * (RATE_SCALE + B10) <= hi * RATE_SCALE
    assert box_ppm_from_bps(1000) == B10
    with pytest.raises(ValueError, match="box_ppm"):
        PriceBoxEngine(demo.instruments(), demo.params(), demo.snapshot(), RATE_SCALE)


# ---------------------------------------------------------------- where the corner argument fails


def straddle_venue() -> tuple[dict[str, Instrument], MarketSnapshot, RiskParameters, RiskArrays, Account]:
    insts, snap, params = demo.instruments(), demo.snapshot(), demo.params()
    ra = build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    acct = Account(
        account_id="straddle",
        margin_mode="portfolio",
        balances={"USDT": 3_000 * QTY_SCALE},
        positions=[
            Position(instrument="BTC-30D-36000-C", quantity=QTY_SCALE),
            Position(instrument="BTC-30D-36000-P", quantity=QTY_SCALE),
        ],
    )
    return insts, snap, params, ra, acct


def test_options_break_concavity_an_interior_price_is_worse_than_every_corner() -> None:
    """A long straddle is convex in the underlying: its worst price is the centre, not a corner. The sampling
    check used on linear books finds the violation here, so it can fail."""
    insts, snap, params, ra, acct = straddle_venue()

    def f(m: dict[str, int]) -> int:
        return margin_at(acct, insts, params, snap, m, ra, option_marks=True)

    corners = [f({"BTC": -B10}), f({"BTC": B10})]
    centre = f({"BTC": 0})
    assert centre < min(corners) - rounding_bound(acct)
    bad = interior_violations(f, ["BTC"], B10, min(corners) - rounding_bound(acct), samples=40, seed=3)
    assert bad, "the sampling check must catch an interior price below every corner"
    box = PriceBoxEngine(insts, params, snap, B10, ra)
    with pytest.raises(ValueError, match="options"):
        box.evaluate(acct, "separable")
    st_ = box.evaluate(acct)  # scenario method: option P&L from the arrays at the grid's nodes, flagged unsound
    assert st_.method == "scenario" and not st_.sound
    assert st_.corner_margin <= st_.point_margin  # the centre node is among the nodes


def test_short_straddle_scenario_method_finds_the_edge_loss() -> None:
    """The scenario method revalues options at -b and +b: a short straddle loses there, and the arrays say how much
    (checked against Black-76 marks re-priced at the moved index, within the arrays' per-unit rounding)."""
    insts, snap, params, ra, long = straddle_venue()
    acct = long.model_copy(
        update={"positions": [p.model_copy(update={"quantity": -QTY_SCALE}) for p in long.positions]}
    )
    box = PriceBoxEngine(insts, params, snap, B10, ra)
    st_ = box.evaluate(acct)
    x = st_.corner["BTC"]
    assert abs(x) == B10
    repriced = margin_at(acct, insts, params, snap, {"BTC": x}, ra, option_marks=True)
    # arrays: floor per unit (+1 for shorts) and Black-76 at the moved index vs the mark's own rounding
    assert abs(st_.corner_margin - repriced) <= 4


def test_convex_haircut_ladder_breaks_the_bound_and_is_refused() -> None:
    """A haircut whose rate rises with value (50% then 100%) makes collateral convex in the price: a BTC balance
    hedged with a short perpetual is worst at the centre. concavity_problems names the tier, the engine refuses."""
    insts, snap = demo.instruments(), demo.snapshot()
    base = demo.params()
    params = base.model_copy(
        update={
            "haircuts": base.haircuts
            | {
                "BTC": [
                    HaircutTier(value_floor=0, rate=500_000),
                    HaircutTier(value_floor=36_000 * USD_SCALE, rate=1_000_000),
                ]
            }
        }
    )
    acct = Account(
        account_id="convex",
        balances={"BTC": QTY_SCALE, "USDT": 200 * QTY_SCALE},
        positions=[Position(instrument="BTC-PERP", quantity=-QTY_SCALE // 2, entry_price=snap.marks["BTC-PERP"])],
    )

    def f(m: dict[str, int]) -> int:
        return margin_at(acct, insts, params, snap, m)

    assert f({"BTC": 0}) < min(f({"BTC": -B10}), f({"BTC": B10})) - rounding_bound(acct)
    assert interior_violations(f, ["BTC"], B10, min(f({"BTC": -B10}), f({"BTC": B10})) - rounding_bound(acct), 40, 5)
    problems = concavity_problems(params)
    assert problems == ["haircuts.BTC.1.rate: 1000000 above the previous 500000 (collateral value not concave)"]
    with pytest.raises(ValueError, match=r"haircuts\.BTC\.1\.rate"):
        PriceBoxEngine(insts, params, snap, B10).evaluate(acct)


def test_scenario_grid_spans_box() -> None:
    params = demo.params()  # moves -15..15% by 5%, plus +-33% extremes, vol shocks -25%, 0, +25%
    assert scenario_grid_spans_box(params, 50_000) and scenario_grid_spans_box(params, 100_000)
    assert not scenario_grid_spans_box(params, 200_000)  # 20% is no node (only the 33% extreme lies beyond)
    assert not scenario_grid_spans_box(params, 70_000)  # beyond 5% and within 15%, but no node at 7%
    no_zero_vol = params.model_copy(
        update={
            "scenario_grids": {
                "BTC": params.scenario_grids["BTC"].model_copy(update={"vol_shocks": [-250_000, 250_000]})
            }
        }
    )
    assert scenario_grid_problems(no_zero_vol, 100_000) == [
        "scenario_grids.BTC.vol_shocks: no zero shock (the box is a price-only move)"
    ]
    assert scenario_grid_problems(params, 100_000, ["SOL"]) == [
        "scenario_grids.SOL: missing (options on SOL cannot be revalued in the box)"
    ]
    _, snap, _, ra, acct = straddle_venue()
    with pytest.raises(ValueError, match=r"scenario_grids\.BTC\.price_moves: -200000"):
        PriceBoxEngine(demo.instruments(), params, snap, 200_000, ra).evaluate(acct)
    assert isinstance(ScenarioGrid, type)


# ---------------------------------------------------------------- coverage at the worst corner


def test_coverage_is_taken_at_the_worst_corner() -> None:
    """Long 1 BTC-PERP with 3,000 USDT: healthy at 36,007 but under MM and bankrupt at -10%; the counts, shortfall
    and bad debt come from the corner, computed here by hand."""
    insts, snap, params = demo.instruments(), demo.snapshot(), demo.params()
    mark = snap.marks["BTC-PERP"]
    long = Account(
        account_id="long",
        balances={"USDT": 3_000 * QTY_SCALE},
        positions=[Position(instrument="BTC-PERP", quantity=QTY_SCALE, entry_price=mark)],
    )
    safe = Account(account_id="safe", balances={"USDT": 50_000 * QTY_SCALE}, positions=long.positions)
    box = PriceBoxEngine(insts, params, snap, B10)
    s_long, s_safe = box.evaluate(long), box.evaluate(safe)
    low = mark * 9 // 10  # exact: the mark is a whole number of cents
    assert low * 10 == mark * 9
    value_low = low // 100  # q x low / 1e10 with q = 1e8
    equity = 3_000 * USD_SCALE + value_low - (mark // 100)
    mm = -(-(value_low * 4_000) // RATE_SCALE)  # first Binance bracket, 0.4%, cum 0
    assert s_long.corner == {"BTC": -B10}
    assert (s_long.at_corner.equity, s_long.at_corner.mm) == (equity, mm)
    assert s_long.passes_point and not s_long.passes_box
    cov = box_coverage([s_long, s_safe])
    assert (cov.under_mm_point, cov.under_mm_box, cov.fail_box_pass_point) == (0, 1, 1)
    assert cov.shortfall_box == mm - equity
    assert cov.bad_debt_box == max(0, -equity) > 0  # -10% on 36,007 is 3,600.7 USD against 3,000 of cash


def test_book_path_matches_the_exact_path() -> None:
    insts, snap, params = demo.instruments(), demo.snapshot(), tight_params()
    symbols, assets = sorted(insts), demo.ASSETS
    book, entry = demo.synthetic_book(40, 4, symbols, assets, seed=11)
    res = book_box_states(insts, params, snap, assets, book, B10)
    box = PriceBoxEngine(insts, params, snap, B10)
    for r in range(len(book.account_ids)):
        acct = Account(
            account_id=book.account_ids[r],
            balances={a: int(book.bal[r, i]) for i, a in enumerate(assets) if book.bal[r, i]},
            positions=[
                Position(
                    instrument=symbols[int(book.inst[r, j])], quantity=int(book.qty[r, j]), entry_price=int(entry[r, j])
                )
                for j in range(book.qty.shape[1])
                if book.qty[r, j]
            ],
        )
        full = box.evaluate(acct, "all-corners")
        worst = min(full.corner_states.values())
        assert res.margin_lb[r] <= worst - full.rounding
        assert int(res.at_corner.equity[r] - res.at_corner.mm[r]) >= worst
        assert int(res.point.equity[r] - res.point.mm[r]) == full.point_margin
        moves = {u: int(s) * B10 for u, s in zip(res.underlyings, res.corner[r], strict=True) if s}
        exact = box.engine_at(moves).evaluate(acct)
        assert (int(res.at_corner.equity[r]), int(res.at_corner.mm[r])) == (exact.equity, exact.mm)
    assert res.evaluations >= 1 + 2 * len(res.underlyings)


def test_book_path_refuses_option_rows() -> None:
    insts, snap, params = demo.instruments(), demo.snapshot(), demo.params()
    symbols = sorted(insts)
    opt = symbols.index("BTC-30D-36000-C")
    book = Book(
        ["o"],
        np.array([[opt]]),
        np.array([[QTY_SCALE]]),
        np.array([[0]]),
        np.zeros((1, len(demo.ASSETS)), np.int64),
        np.zeros(1, np.int64),
        np.ones(1, bool),
    )
    with pytest.raises(ValueError, match="options"):
        book_box_states(insts, params, snap, demo.ASSETS, book, B10)


def test_a_box_move_moves_exactly_the_prices_linked_to_its_underlying() -> None:
    from zkmargin.prover.engine.price_box import move_snapshot

    insts, snap = demo.instruments(), demo.snapshot()
    moved = move_snapshot(snap, insts, {"BTC": -B10})
    changed = {k for k in snap.marks if moved.marks[k] != snap.marks[k]}
    assert changed == {"BTC-PERP", "BTC-FUT-90D"}  # BTC options keep their marks: the arrays revalue them
    assert {k for k in snap.index_prices if moved.index_prices[k] != snap.index_prices[k]} == {"BTC"}
    assert {k for k in snap.spot_prices if moved.spot_prices[k] != snap.spot_prices[k]} == {"BTC"}
    assert moved.spot_prices["BTC"] * 10 == snap.spot_prices["BTC"] * 9  # 36,000 USD: exact, no rounding


def test_a_falling_mmr_ladder_is_named() -> None:
    """1%, 5%, then 2.5%: continuity still gives non-negative cum amounts, but MM is no longer convex."""
    base = demo.params()
    ladder = make_brackets([(0, 10_000, 0.05, 0.01), (10_000, 15_000, 0.10, 0.05), (15_000, 500_000_000, 0.10, 0.025)])
    params = base.model_copy(update={"brackets": base.brackets | {"ETH-PERP": ladder}})
    assert concavity_problems(params) == ["brackets.ETH-PERP.2.mmr: 25000 below the previous 50000 (MM not convex)"]
    assert concavity_problems(params, ["BTC-PERP"]) == []

"""The sparse book's two exact implementations (C kernel, numpy segment sums) against the exact per-account path,
on random books with the edge cases that break fixed-point code: values at the int64 / magnitude bounds, negative
and zero quantities, zero prices, borrowed collateral, many positions in one account, rounding against the account.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkmargin.circuits.rules.fixedpoint import ACCOUNT_LIMIT, MAX_QTY, MAX_VALUE, WIDE_DIVISOR
from zkmargin.circuits.rules.models import Account, MarketSnapshot, Position
from zkmargin.circuits.rules.risk_arrays import RiskArrays
from zkmargin.prover.engine import demo, kernel
from zkmargin.prover.engine.flat import FlatBook, holders, revalue_numpy, segsum
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.engine.vectorised import STATUS_NAMES, Book, Results, VectorEngine

Impl = Callable[[VectorEngine, FlatBook], Results]
IMPLS: list[object] = [
    pytest.param(revalue_numpy, id="numpy"),
    pytest.param(
        kernel.revalue,
        id="kernel",
        marks=pytest.mark.skipif(not kernel.available(), reason="C engine kernel not built"),
    ),
]
FIELDS = ("collateral", "upnl", "option_value", "equity", "im", "mm", "status", "shortfall")
LINEAR = ["BTC-PERP", "ETH-PERP", "BTC-FUT-90D", "SOL-PERP", "DOGE-PERP"]
OPTIONS = [s for s, i in demo.instruments().items() if i.kind == "option"]


def _vector(engine: MarginEngine, risk_arrays: RiskArrays | None) -> VectorEngine:
    return VectorEngine(engine.instruments, engine.params, engine.snapshot, demo.ASSETS, risk_arrays)


def _expect_same(impl: Impl, engine: MarginEngine, ve: VectorEngine, accts: list[Account]) -> None:
    book = FlatBook.from_accounts(accts, ve.symbols, demo.ASSETS)
    if any(not engine.magnitude(a) < ACCOUNT_LIMIT for a in accts):  # both paths refuse, neither wraps
        with pytest.raises(ValueError, match="magnitude"):
            impl(ve, book)
        return
    got = impl(ve, book)
    for i, a in enumerate(accts):
        e = engine.evaluate(a)
        want = (e.collateral, e.upnl, e.option_value, e.equity, e.im, e.mm, e.status, e.shortfall)
        have = tuple(STATUS_NAMES[got.status[i]] if f == "status" else int(getattr(got, f)[i]) for f in FIELDS)
        assert have == want, f"account {i}: {a}"


@st.composite
def accounts(draw: st.DrawFn, portfolio: bool) -> Account:
    """0 to 40 positions (repeats allowed), sizes from dust to past the magnitude bound, any sign, any assets."""
    positions = []
    for _ in range(draw(st.integers(0, 40))):
        if portfolio and draw(st.booleans()):
            sym = draw(st.sampled_from(OPTIONS))
            positions.append(Position(instrument=sym, quantity=draw(st.integers(-(10**13), 10**13))))
            continue
        entry = draw(st.integers(1, 10**14))
        bound = min(MAX_QTY - 1, (MAX_VALUE - 1) * WIDE_DIVISOR // entry // 2)
        q = draw(st.one_of(st.integers(-bound, bound), st.sampled_from([0, 1, -1, bound, -bound])))
        positions.append(Position(instrument=draw(st.sampled_from(LINEAR)), quantity=q, entry_price=entry))
    balances = {
        a: draw(st.one_of(st.integers(-(10**15), MAX_QTY - 1), st.sampled_from([0, 1, -1, MAX_QTY - 1])))
        for a in draw(st.sets(st.sampled_from(demo.ASSETS), max_size=4))
    }
    return Account(
        account_id="h",
        margin_mode="portfolio" if portfolio else "cross",
        balances=balances,
        positions=positions,
        realised_pnl=draw(st.integers(-(10**12), 10**12)),
    )


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=60, deadline=None)
@given(accts=st.lists(st.one_of(accounts(portfolio=False), accounts(portfolio=True)), min_size=1, max_size=6))
def test_flat_equals_exact_on_random_books(
    impl: Impl, engine: MarginEngine, risk_arrays: RiskArrays, accts: list[Account]
) -> None:
    _expect_same(impl, engine, _vector(engine, risk_arrays), accts)


@pytest.mark.parametrize("impl", IMPLS)
def test_flat_equals_exact_at_zero_prices(impl: Impl, engine: MarginEngine, risk_arrays: RiskArrays) -> None:
    """A mark or spot of 0 (a delisted asset, a worthless option) values to exactly 0 and keeps the rest exact."""
    snap: MarketSnapshot = engine.snapshot.model_copy(
        update={
            "marks": engine.snapshot.marks | {"SOL-PERP": 0, OPTIONS[0]: 0},
            "spot_prices": engine.snapshot.spot_prices | {"ETH": 0},
        }
    )
    zero = MarginEngine(engine.instruments, engine.params, snap, risk_arrays)
    accts = demo.random_accounts(60, seed=11, portfolio_share=0.5)
    accts.append(
        Account(
            account_id="z",
            margin_mode="portfolio",
            balances={"ETH": -(10**9), "USDT": 10**12},
            positions=[
                Position(instrument="SOL-PERP", quantity=-(10**10), entry_price=6 * 10**9),
                Position(instrument=OPTIONS[0], quantity=-(10**9)),
            ],
        )
    )
    _expect_same(impl, zero, _vector(zero, risk_arrays), accts)


@pytest.mark.parametrize("impl", IMPLS)
def test_dust_rounds_against_the_account(impl: Impl, engine: MarginEngine) -> None:
    """Hand-derived from fixedpoint's rules: a 1e-8 DOGE short owes ceil(mark / 1e10) micro-USD (V = floor(-x) = -1),
    a 1e-8 DOGE long is worth floor(x) = 0 yet carries notional ceil(x) = 1 and so IM ceil(1 x imr / 1e6) = 1."""
    ve = _vector(engine, None)
    mark = engine.snapshot.marks["DOGE-PERP"]
    assert 0 < mark < WIDE_DIVISOR  # 1 unit x mark is a fraction of a micro-USD
    short = Account(account_id="s", positions=[Position(instrument="DOGE-PERP", quantity=-1, entry_price=mark)])
    long = Account(account_id="l", positions=[Position(instrument="DOGE-PERP", quantity=1, entry_price=mark)])
    r = impl(ve, FlatBook.from_accounts([short, long], ve.symbols, demo.ASSETS))
    assert short.positions[0].entry_value == 0  # ceil(-mark / 1e10) = 0: the short booked no cost
    assert int(r.upnl[0]) == -1 and int(r.im[0]) == 1 and int(r.mm[0]) == 1
    assert long.positions[0].entry_value == 1  # ceil(mark / 1e10)
    assert int(r.upnl[1]) == -1 and int(r.im[1]) == 1
    assert [STATUS_NAMES[s] for s in r.status] == ["liquidation", "liquidation"]  # equity -1 < MM 1


@pytest.mark.parametrize("impl", IMPLS)
def test_flat_equals_exact_on_the_realistic_venue(impl: Impl) -> None:
    """gen_snapshot's book (heavy tails, option chains, portfolio accounts, stressed accounts) on its engine."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "gen_snapshot.py"
    spec = importlib.util.spec_from_file_location("gen_snapshot", path)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    from zkmargin.prover.operator.exchange import demo_engine

    engine = demo_engine()
    accts = gen.synthetic_book(engine, 600, 21)
    assert max(len(a.positions) for a in accts) > 8  # the long tail is there
    ve = VectorEngine(engine.instruments, engine.params, engine.snapshot, demo.ASSETS, engine.risk_arrays)
    _expect_same(impl, engine, ve, accts)


@pytest.mark.skipif(not kernel.available(), reason="C engine kernel not built")
def test_kernel_equals_numpy_on_rows_and_dense_books(engine: MarginEngine, risk_arrays: RiskArrays) -> None:
    ve = _vector(engine, risk_arrays)
    accts = demo.random_accounts(300, seed=4, portfolio_share=0.3)
    dense = Book.from_accounts(accts, ve.symbols, demo.ASSETS, 8)
    flat = FlatBook.from_book(dense)
    full = kernel.revalue(ve, flat)
    want = ve.revalue_numpy(dense)  # the dense numpy passes
    for f in FIELDS:
        assert np.array_equal(getattr(full, f), getattr(want, f)), f
    via_dense = ve.revalue(dense, np.array([3, 1]))  # dense books go through the kernel too
    for f in FIELDS:
        assert np.array_equal(getattr(via_dense, f), getattr(want, f)[[3, 1]]), f
    rows = np.array([299, 0, 17, 17, 150])
    part = kernel.revalue(ve, flat, rows)
    sub = revalue_numpy(ve, flat.take(rows))
    for f in FIELDS:
        assert np.array_equal(getattr(part, f), getattr(full, f)[rows]), f
        assert np.array_equal(getattr(sub, f), getattr(full, f)[rows]), f


@pytest.mark.parametrize("impl", IMPLS)
def test_out_of_range_indices_are_refused(impl: Impl, engine: MarginEngine) -> None:
    """The kernel reads raw buffers and numpy wraps negative indices: an instrument or asset index outside its
    table is an error in both, never a read of another instrument's data."""
    ve = _vector(engine, None)
    acct = Account(account_id="a", balances={"USDT": 10**8}, positions=[Position(instrument="BTC-PERP", quantity=5)])
    for col, bad in (("inst", len(ve.symbols)), ("inst", -1), ("bal_asset", -1), ("bal_asset", len(demo.ASSETS))):
        book = FlatBook.from_accounts([acct], ve.symbols, demo.ASSETS)
        getattr(book, col)[0] = bad
        with pytest.raises(ValueError, match="out of range"):
            impl(ve, book)


@pytest.mark.skipif(not kernel.available(), reason="C engine kernel not built")
def test_kernel_refuses_out_of_range_rows(engine: MarginEngine) -> None:
    ve = _vector(engine, None)
    acct = Account(account_id="a", balances={"USDT": 10**8}, positions=[Position(instrument="BTC-PERP", quantity=5)])
    book = FlatBook.from_accounts([acct], ve.symbols, demo.ASSETS)
    with pytest.raises(ValueError, match="out of range"):
        kernel.revalue(ve, book, np.array([1]))


def test_flatbook_rejects_inconsistent_offsets() -> None:
    z = np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="start"):
        FlatBook(["a"], np.array([0, 2], np.int64), z, z, z, np.array([0, 0]), z, z, np.zeros(1, np.int64),
                 np.zeros(1, bool))  # fmt: skip
    with pytest.raises(ValueError, match="bal_start"):
        FlatBook(["a"], np.array([0, 0], np.int64), z, z, z, np.array([1, 0]), z, z, np.zeros(1, np.int64),
                 np.zeros(1, bool))  # fmt: skip


def test_segsum_handles_empty_segments_anywhere() -> None:
    x = np.array([5, -3, 7], np.int64)
    start = np.array([0, 0, 2, 2, 3, 3], np.int64)  # empty, [5, -3], empty, [7], empty
    assert segsum(x, start).tolist() == [0, 2, 0, 7, 0]
    assert segsum(np.zeros(0, np.int64), np.array([0, 0, 0])).tolist() == [0, 0]
    assert segsum(np.array([1, 2], np.int64), np.array([0, 2, 2, 2])).tolist() == [3, 0, 0]  # trailing empties
    assert segsum(np.array([1.5, 2.0]), np.array([0, 1, 1, 2])).tolist() == [1.5, 0.0, 2.0]


def _ceil(a: int, d: int) -> int:
    return -((-a) // d)


@pytest.mark.parametrize("impl", IMPLS)
def test_short_option_minimum_is_rounded_up(impl: Impl, engine: MarginEngine, risk_arrays: RiskArrays) -> None:
    """A lone short option whose short-option minimum beats every scenario loss: IM = ceil(|q| x min / 1e8),
    recomputed here from the published arrays (not the engine), with |q| chosen so the division is inexact. The
    demo's minimum (10% of the index) never beats its stress losses, so these arrays publish a 50x minimum."""
    risk_arrays = dataclasses.replace(
        risk_arrays, short_option_min={k: v * 50 + 3 for k, v in risk_arrays.short_option_min.items()}
    )
    ve = _vector(engine, risk_arrays)
    q = -(10**8 + 7)
    cases = []
    for sym in OPTIONS:
        smin = risk_arrays.short_option_min.get(sym, 0)
        worst = max(_ceil(-q * r, 10**8) for r in risk_arrays.short[sym])
        somc = _ceil(-q * smin, 10**8)
        if somc > max(worst, 0) and (-q * smin) % 10**8:
            cases.append((sym, somc))
    assert cases, "no option of the demo venue has a binding short-option minimum"
    accts = [
        Account(account_id=s, margin_mode="portfolio", balances={"USDT": 10**10},
                positions=[Position(instrument=s, quantity=q)])
        for s, _ in cases
    ]  # fmt: skip
    r = impl(ve, FlatBook.from_accounts(accts, ve.symbols, demo.ASSETS))
    for i, (_, somc) in enumerate(cases):
        assert int(r.im[i]) == somc
        assert int(r.mm[i]) == _ceil(somc * engine.params.mm_ratio, 10**6)


@pytest.mark.parametrize("impl", IMPLS)
def test_scenario_term_counts_in_the_magnitude_bound(impl: Impl, engine: MarginEngine, risk_arrays: RiskArrays) -> None:
    """An account inside the bound as a cross account but beyond it as a portfolio account (the scenario term
    |q| max|R| / 1e8 is what pushes it over) is refused on the portfolio side by every path."""
    sym = min(OPTIONS, key=lambda s: engine.snapshot.marks[s] / max(max(map(abs, risk_arrays.short[s])), 1))
    worst = max(max(map(abs, risk_arrays.long[sym])), max(map(abs, risk_arrays.short[sym])))
    worst += risk_arrays.short_option_min.get(sym, 0)
    q = -(ACCOUNT_LIMIT * 10**8 // worst + 10**8)  # |q| worst / 1e8 just above the bound on its own
    mark_term = -q * engine.snapshot.marks[sym] / WIDE_DIVISOR
    assert mark_term < ACCOUNT_LIMIT, "the demo venue has no option cheap enough relative to its risk"
    cross = Account(account_id="c", positions=[Position(instrument=sym, quantity=q)])
    port = cross.model_copy(update={"account_id": "p", "margin_mode": "portfolio"})
    ve = _vector(engine, risk_arrays)
    impl(ve, FlatBook.from_accounts([cross], ve.symbols, demo.ASSETS))  # accepted
    with pytest.raises(ValueError, match="magnitude"):
        impl(ve, FlatBook.from_accounts([cross, port], ve.symbols, demo.ASSETS))


@pytest.mark.skipif(not kernel.available(), reason="C engine kernel not built")
def test_kernel_threads_split_accounts_exactly(engine: MarginEngine) -> None:
    """Books big enough for the threaded path: every split gives numpy's results; an error or a refused account
    in the last thread's range is still reported; reused output arrays are overwritten, not accumulated."""
    ve = _vector(engine, None)
    dense, _ = demo.synthetic_book(9_001, 3, ve.symbols, demo.ASSETS, seed=8)
    book = FlatBook.from_book(dense)
    want = revalue_numpy(ve, book)
    out = None
    for threads in (1, 2, 3, 7):
        got = kernel.revalue(ve, book, out=out, threads=threads)
        for f in FIELDS:
            assert np.array_equal(getattr(got, f), getattr(want, f)), (threads, f)
        out = got
    big = FlatBook.from_book(dense)
    big.qty[-1] = 2**62  # the last account's magnitude is far beyond 2^56
    with pytest.raises(ValueError, match=rf"{big.account_ids[-1]}.*magnitude"):
        kernel.revalue(ve, big, threads=2)
    broken = FlatBook.from_book(dense)
    broken.inst[-1] = -5
    with pytest.raises(ValueError, match="out of range"):
        kernel.revalue(ve, broken, threads=2)


def test_incremental_mark_update_equals_full_revaluation(engine: MarginEngine, risk_arrays: RiskArrays) -> None:
    """Only the holders of the moved instrument are recomputed; the result equals a full pass at the new marks,
    for a rarely held instrument (gather path) and for the most held one (full pass into the same arrays)."""
    ve = _vector(engine, risk_arrays)
    book = FlatBook.from_accounts(demo.random_accounts(400, seed=9, portfolio_share=0.3), ve.symbols, demo.ASSETS)
    index = holders(book, len(ve.symbols))
    for i, rows in enumerate(index):  # holders are exactly the accounts with a non-zero position in i
        held = {int(a) for a in book.owner()[(book.inst == i) & (book.qty != 0)]}
        assert rows.tolist() == sorted(held)
    live = ve.revalue_flat(book)
    by_count = sorted((r.size, s) for s, r in zip(ve.symbols, index, strict=True) if r.size)
    for _, sym in (by_count[0], by_count[-1]):
        price = int(ve.marks[ve.symbols.index(sym)]) * 9 // 10
        touched = ve.update_mark_flat(book, live, index, sym, price)
        assert touched == index[ve.symbols.index(sym)].size
        full = ve.revalue_flat(book)
        for f in FIELDS:
            assert np.array_equal(getattr(live, f), getattr(full, f)), (sym, f)


@pytest.mark.parametrize("impl", IMPLS)
def test_collateral_across_haircut_tiers(impl: Impl, engine: MarginEngine) -> None:
    """Whale balances on both sides of every haircut tier floor (100 M and 120 M USD of BTC or ETH value): the
    marginal rate changes at each floor, and a floor value itself belongs to the upper tier."""
    snap = engine.snapshot
    accts = []
    for asset in ("BTC", "ETH"):
        spot = snap.spot_prices[asset]
        for tier in engine.params.haircuts[asset][1:]:
            b0 = -(-tier.value_floor * WIDE_DIVISOR // spot)  # the smallest balance worth >= the floor
            for b in (b0 - 1, b0, b0 + 1, 3 * b0):
                accts.append(Account(account_id=f"{asset}{b}", balances={asset: b, "USDT": 10**8}))
    _expect_same(impl, engine, _vector(engine, None), accts)


@pytest.mark.parametrize("impl", IMPLS)
def test_negative_price_cannot_shrink_the_bound(impl: Impl, engine: MarginEngine) -> None:
    """Prices are positive at the edge (models.Price); a negative mark or spot set behind its back (set_mark, a
    stress shock gone wrong) must not let a position whose |value| overflows int64 pass the magnitude bound."""
    ve = _vector(engine, None)
    acct = Account(
        account_id="neg",
        balances={"ETH": MAX_QTY - 1},
        positions=[Position(instrument="BTC-PERP", quantity=MAX_QTY - 1, entry_price=1)],
    )
    book = FlatBook.from_accounts([acct], ve.symbols, demo.ASSETS)
    ve.set_mark("BTC-PERP", -(2**52))
    with pytest.raises(ValueError, match="magnitude"):
        impl(ve, book)
    ve.set_mark("BTC-PERP", 1)
    ve.spot[demo.ASSETS.index("ETH")] = -(2**52)
    with pytest.raises(ValueError, match="magnitude"):
        impl(ve, book)

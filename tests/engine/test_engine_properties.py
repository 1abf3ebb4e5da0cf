"""Property tests: vectorised == exact, monotone margin, haircuts never add value, rounding always against the
account (compared with exact Fraction arithmetic), and the int64-safe division on extreme values."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from zkmargin.circuits.rules.fixedpoint import (
    ACCOUNT_LIMIT,
    MAX_PRICE,
    MAX_QTY,
    MAX_VALUE,
    WIDE_DIVISOR,
    floor_div_dot,
    floor_div_prod,
)
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.risk_arrays import RiskArrays
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine, haircut_numerator
from zkmargin.prover.engine.vectorised import STATUS_NAMES, Book, VectorEngine

QTY = st.integers(-(MAX_QTY - 1), MAX_QTY - 1)
PRICE = st.integers(1, MAX_PRICE - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(QTY, PRICE), min_size=1, max_size=8), st.sampled_from([10**6, 10**8, 10**10]))
def test_floor_div_dot_is_exact_on_extreme_values(pairs: list[tuple[int, int]], d: int) -> None:
    exact = sum(q * p for q, p in pairs)
    if abs(exact // d) >= 2**62:
        return  # outside the documented result bound (rejected at the edge)
    a = np.array([[q for q, _ in pairs]], np.int64)
    b = np.array([[p for _, p in pairs]], np.int64)
    quo, rem = floor_div_dot(a, b, d)
    assert (int(quo[0]), int(rem[0])) == divmod(exact, d)


@settings(max_examples=300, deadline=None)
@given(QTY, PRICE)
def test_floor_div_prod_is_exact_on_extreme_values(q: int, p: int) -> None:
    if abs(q * p // WIDE_DIVISOR) >= MAX_VALUE:
        q = q // (1 + abs(q * p // WIDE_DIVISOR) // MAX_VALUE)  # shrink into the supported range, keep extremes
    quo, rem = floor_div_prod(np.array([q], np.int64), np.array([p], np.int64), WIDE_DIVISOR)
    assert (int(quo[0]), int(rem[0])) == divmod(q * p, WIDE_DIVISOR)


LINEAR = ["BTC-PERP", "ETH-PERP", "BTC-FUT-90D"]
OPTIONS = [s for s, i in demo.instruments().items() if i.kind == "option"]


@st.composite
def accounts(draw: st.DrawFn, portfolio: bool) -> Account:
    """Accounts with sizes from dust to the edge of the supported range (|value| < 2^62 micro-USD)."""
    n = draw(st.integers(1, 8))
    positions = []
    for _ in range(n):
        if portfolio and draw(st.booleans()):
            positions.append(
                Position(instrument=draw(st.sampled_from(OPTIONS)), quantity=draw(st.integers(-(10**12), 10**12)))
            )
        else:
            entry = draw(st.integers(1, 10**14))
            bound = min(MAX_QTY - 1, (MAX_VALUE - 1) * WIDE_DIVISOR // entry // 2, 10**17)
            q = draw(st.integers(-bound, bound))
            positions.append(Position(instrument=draw(st.sampled_from(LINEAR)), quantity=q, entry_price=entry))
    balances = {
        a: draw(st.integers(-(10**15), MAX_QTY - 1 if a in ("USDT", "USDC") else 10**13))
        for a in draw(st.sets(st.sampled_from(demo.ASSETS), max_size=4))
    }
    return Account(
        account_id="h",
        margin_mode="portfolio" if portfolio else "cross",
        balances=balances,
        positions=positions,
        realised_pnl=draw(st.integers(-(10**12), 10**12)),
    )


def _check_same(engine: MarginEngine, risk_arrays: RiskArrays, accts: list[Account]) -> None:
    ve = VectorEngine(engine.instruments, engine.params, engine.snapshot, demo.ASSETS, risk_arrays)
    book = Book.from_accounts(accts, ve.symbols, demo.ASSETS, 8)
    too_big = [a for a in accts if not engine.magnitude(a) < ACCOUNT_LIMIT]
    if too_big:  # both paths must refuse, never wrap
        with pytest.raises(ValueError, match="magnitude"):
            engine.evaluate(too_big[0])
        with pytest.raises(ValueError, match="magnitude"):
            ve.revalue(book)
        with pytest.raises(ValueError, match="magnitude"):
            ve.revalue_numpy(book)
        return
    vr = ve.revalue(book)  # the C kernel when built
    vn = ve.revalue_numpy(book)  # the dense numpy passes (the fallback) must agree field by field
    for f in ("collateral", "upnl", "option_value", "equity", "im", "mm", "status", "shortfall"):
        assert np.array_equal(getattr(vn, f), getattr(vr, f)), f
    for i, a in enumerate(accts):
        e = engine.evaluate(a)
        got = (vr.collateral[i], vr.upnl[i], vr.option_value[i], vr.equity[i], vr.im[i], vr.mm[i], vr.shortfall[i])
        assert tuple(int(x) for x in got) == (e.collateral, e.upnl, e.option_value, e.equity, e.im, e.mm, e.shortfall)
        assert STATUS_NAMES[vr.status[i]] == e.status


@settings(max_examples=60, deadline=None)
@given(st.lists(accounts(portfolio=False), min_size=1, max_size=6))
def test_vectorised_equals_exact_cross(engine: MarginEngine, risk_arrays: RiskArrays, accts: list[Account]) -> None:
    _check_same(engine, risk_arrays, accts)


@settings(max_examples=40, deadline=None)
@given(st.lists(accounts(portfolio=True), min_size=1, max_size=6))
def test_vectorised_equals_exact_portfolio(engine: MarginEngine, risk_arrays: RiskArrays, accts: list[Account]) -> None:
    _check_same(engine, risk_arrays, accts)


def test_vectorised_equals_exact_on_demo_exchange(engine: MarginEngine, risk_arrays: RiskArrays) -> None:
    _check_same(engine, risk_arrays, demo.random_accounts(400, seed=3, portfolio_share=0.3))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(LINEAR), st.integers(1, 10**14), st.integers(1, 10**14), st.booleans())
def test_margin_monotone_in_position_size(engine: MarginEngine, sym: str, q1: int, q2: int, short: bool) -> None:
    small, big = sorted((q1, q2))
    sign = -1 if short else 1

    def req(q: int) -> tuple[int, int]:
        a = Account(account_id="m", positions=[Position(instrument=sym, quantity=sign * q, entry_price=3 * 10**12)])
        r = engine.evaluate(a)
        return r.im, r.mm

    assert req(small)[0] <= req(big)[0] and req(small)[1] <= req(big)[1]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(OPTIONS), st.integers(1, 10**12), st.integers(1, 10**12), st.booleans())
def test_portfolio_im_monotone_in_size(engine: MarginEngine, sym: str, q1: int, q2: int, short: bool) -> None:
    small, big = sorted((q1, q2))
    sign = -1 if short else 1

    def im(q: int) -> int:
        a = Account(account_id="p", margin_mode="portfolio", positions=[Position(instrument=sym, quantity=sign * q)])
        return engine.evaluate(a).im

    assert im(small) <= im(big)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**61), 2**61), st.sampled_from(demo.ASSETS))
def test_haircuts_never_increase_value(value: int, asset: str) -> None:
    tiers = demo.params().haircuts[asset]
    assert haircut_numerator(value, tiers) <= value * 1_000_000
    if value < 0:
        assert haircut_numerator(value, tiers) == value * 1_000_000  # borrowings count in full


@settings(max_examples=80, deadline=None)
@given(accounts(portfolio=False))
def test_rounding_always_against_the_account(engine: MarginEngine, acct: Account) -> None:
    """Equity <= exact rational equity; IM and MM >= exact rational requirements."""
    assume(engine.magnitude(acct) < ACCOUNT_LIMIT)
    snap, params = engine.snapshot, engine.params
    eq = Fraction(acct.realised_pnl)
    for asset, b in acct.balances.items():
        v = Fraction(b * snap.spot_prices[asset], WIDE_DIVISOR)
        if v <= 0:
            eq += v
            continue
        tiers = params.haircuts[asset]
        for k, t in enumerate(tiers):
            top = tiers[k + 1].value_floor if k + 1 < len(tiers) else v
            eq += Fraction(t.rate, 10**6) * max(Fraction(0), min(v, Fraction(top)) - t.value_floor)
    im = mm = Fraction(0)
    for p in acct.positions:
        mark = snap.marks[p.instrument]
        assert p.entry_price is not None
        eq += Fraction(p.quantity * (mark - p.entry_price), WIDE_DIVISOR)
        n = Fraction(abs(p.quantity) * mark, WIDE_DIVISOR)
        br = params.brackets[p.instrument]
        k = max(j for j, b in enumerate(br) if n >= b.notional_floor)
        im += n * Fraction(br[k].imr, 10**6)
        mm += n * Fraction(br[k].mmr, 10**6) - br[k].cum
    r = engine.evaluate(acct)
    assert r.equity <= eq
    # requirements use the rounded-up notional, so they are at least the exact ones (bracket may only move up)
    assert r.im >= im and r.mm >= mm


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OPTIONS + LINEAR), st.integers(-(10**13), 10**13)), min_size=1, max_size=8))
def test_quantised_scenario_pnl_never_favours_the_account(risk_arrays: RiskArrays, pos: list[tuple[str, int]]) -> None:
    """sum q x R (published long/short arrays) <= sum q x f (the exact rational of the model P&L) per scenario."""
    exact = _exact_pnls()
    for s in range(len(risk_arrays.long[pos[0][0]])):
        published = sum(q * (risk_arrays.long[sym] if q > 0 else risk_arrays.short[sym])[s] for sym, q in pos)
        rational = sum(q * exact[sym][s] for sym, q in pos)
        assert published <= rational


_EXACT: dict[str, list[Fraction]] = {}


def _exact_pnls() -> dict[str, list[Fraction]]:
    """Per-unit scenario P&L (micro-USD, exact rationals of the model floats), recomputed independently."""
    if _EXACT:
        return _EXACT
    from zkmargin.circuits.rules.risk_arrays import option_pnl_per_unit

    insts, snap, grid = demo.instruments(), demo.snapshot(), demo.grid()
    for sym, inst in insts.items():
        vals = []
        for move, shock, cover in grid.scenarios():
            if inst.kind == "option":
                f = Fraction(option_pnl_per_unit(inst, snap, move, shock, grid)) * 10**6
            else:
                f = Fraction(snap.marks[sym] * move, 10**8)
            vals.append(f * cover / 10**6)
        _EXACT[sym] = vals
    return _EXACT

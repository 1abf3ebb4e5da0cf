"""Stress shocks, liquidation cascades, incremental updates, public-input flattening, Black-76, VM and funding."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from zkmargin.circuits.rules.black76 import black76
from zkmargin.circuits.rules.fixedpoint import FIELD_LIMIT, SIGNED_OFFSET
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import to_field_elements
from zkmargin.circuits.rules.risk_arrays import RiskArrays
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.demo import px, qt, usd
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.engine.stress import apply_shock, cascade, grid_stress
from zkmargin.prover.engine.vectorised import Book, VectorEngine


@pytest.fixture(scope="module")
def exchange() -> tuple[VectorEngine, Book]:
    ve = VectorEngine(demo.instruments(), demo.params(), demo.snapshot(), demo.ASSETS)
    book, _ = demo.synthetic_book(3_000, 8, ve.symbols, demo.ASSETS, seed=11)
    return ve, book


def test_zero_shock_is_the_base_state(exchange: tuple[VectorEngine, Book]) -> None:
    ve, book = exchange
    base = ve.revalue(book)
    res, _ = apply_shock(ve, book, {"BTC": 0.0, "ETH": 0.0})
    assert np.array_equal(res.equity, base.equity) and np.array_equal(res.mm, base.mm)


def test_bigger_shocks_liquidate_more_of_a_long_book() -> None:
    ve = VectorEngine(demo.instruments(), demo.params(), demo.snapshot(), demo.ASSETS)
    book, _ = demo.synthetic_book(2_000, 4, ve.symbols, demo.ASSETS, seed=2)
    book.qty[:] = np.abs(book.qty)  # all long: losses grow monotonically with the fall
    book.cost[:] = np.abs(book.cost)
    counts = [s.liquidations for s in grid_stress(ve, book, [0.0, -0.1, -0.2, -0.4], [0.0])]
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_cascade_reports_rounds_liquidations_and_bad_debt(exchange: tuple[VectorEngine, Book]) -> None:
    ve, book = exchange
    before = ve.marks.copy()
    rep = cascade(ve, book, {"BTC": -0.15, "ETH": -0.15}, {"BTC": 2e8, "ETH": 1e8})
    assert np.array_equal(ve.marks, before)  # engine restored
    assert rep.rounds[-1].liquidated == 0 and len(rep.rounds) >= 2  # ran to a fixed point
    assert rep.total_liquidated == sum(r.liquidated for r in rep.rounds) > 0
    assert rep.bad_debt_usd >= 0
    # deeper markets: the same trigger liquidates no more accounts
    calm = cascade(ve, book, {"BTC": -0.15, "ETH": -0.15}, {"BTC": 2e12, "ETH": 1e12})
    assert calm.total_liquidated <= rep.total_liquidated


def test_incremental_update_equals_full_revaluation(exchange: tuple[VectorEngine, Book]) -> None:
    _ve0, book = exchange
    ve = VectorEngine(demo.instruments(), demo.params(), demo.snapshot(), demo.ASSETS)
    res = ve.revalue(book)
    holders = ve.holders(book)
    touched = ve.update_mark(book, res, holders, "BTC-FUT-90D", px(31_000))
    full = ve.revalue(book)
    assert 0 < touched < len(book.account_ids)
    for name in ("collateral", "upnl", "equity", "im", "mm", "status", "shortfall"):
        assert np.array_equal(getattr(res, name), getattr(full, name))


def test_field_elements_are_deterministic_bounded_and_sensitive(risk_arrays: RiskArrays) -> None:
    snap, params = demo.snapshot(), demo.params()
    fe = to_field_elements(snap, params, risk_arrays.arrays())
    assert fe == to_field_elements(demo.snapshot(), demo.params(), risk_arrays.arrays())
    assert all(0 <= x < FIELD_LIMIT for x in fe)
    assert SIGNED_OFFSET - 50 in fe  # ETH-PERP funding -50 ppm, offset-encoded
    bumped = snap.model_copy(update={"marks": {**snap.marks, "BTC-PERP": snap.marks["BTC-PERP"] + 1}})
    assert to_field_elements(bumped, params, risk_arrays.arrays()) != fe
    assert params.version_hash() == demo.params().version_hash()
    assert len(params.version_hash()) == 64


def test_black76_put_call_parity_and_greeks() -> None:
    f, k, t, v = 36_000.0, 38_000.0, 30 / 365, 0.55
    c, p = black76(f, k, t, v, True), black76(f, k, t, v, False)
    assert c.price - p.price == pytest.approx(f - k, abs=1e-7)
    assert 0 < c.delta < 1 and -1 < p.delta < 0 and c.delta - p.delta == pytest.approx(1.0)
    h = 1.0
    fd_gamma = (black76(f + h, k, t, v, True).price - 2 * c.price + black76(f - h, k, t, v, True).price) / h**2
    assert c.gamma == pytest.approx(fd_gamma, rel=1e-3)
    fd_vega = (black76(f, k, t, v + 1e-5, True).price - black76(f, k, t, v - 1e-5, True).price) / 2e-5
    assert c.vega == pytest.approx(fd_vega, rel=1e-5)
    fd_theta = -(black76(f, k, t + 1e-6, v, True).price - black76(f, k, t - 1e-6, v, True).price) / 2e-6
    assert c.theta == pytest.approx(fd_theta, rel=1e-4)


def test_greeks_per_underlying(engine: MarginEngine) -> None:
    acct = Account(
        account_id="g",
        margin_mode="portfolio",
        positions=[
            Position(instrument="BTC-30D-36000-C", quantity=qt(2)),
            Position(instrument="BTC-PERP", quantity=-qt(1), entry_price=px(36_000)),
            Position(instrument="ETH-7D-2000-P", quantity=-qt(10)),
        ],
    )
    g = engine.greeks(acct)
    assert set(g) == {"BTC", "ETH"}
    assert 0.0 < g["BTC"]["delta"] < 1.0  # 2 x ~0.5 call delta - 1 perp
    assert g["BTC"]["gamma"] > 0 and g["BTC"]["vega"] > 0 and g["BTC"]["theta"] < 0
    assert g["ETH"]["delta"] > 0 and g["ETH"]["gamma"] < 0  # short put: long delta, short gamma


def test_variation_margin_and_funding(engine: MarginEngine) -> None:
    acct = Account(account_id="v", positions=[Position(instrument="BTC-PERP", quantity=qt(2), entry_price=px(36_000))])
    later = engine.snapshot.model_copy(update={"marks": {**engine.snapshot.marks, "BTC-PERP": px(37_000)}})
    vm = engine.variation_margin(acct, later)
    assert vm == usd(2 * 37_000) - (qt(2) * engine.snapshot.marks["BTC-PERP"]) // 10**10
    # funding +100 ppm per interval: the long pays 2 x mark x 0.0001, rounded up; the short receives it rounded down
    mark = engine.snapshot.marks["BTC-PERP"]
    exact = Fraction(2 * mark, 10**8) * Fraction(100, 10**6) * 10**6  # micro-USD, exact rational
    assert engine.funding_payment(acct) == -math.ceil(exact)
    short = acct.model_copy(update={"positions": [acct.positions[0].model_copy(update={"quantity": -qt(2)})]})
    assert engine.funding_payment(short) == math.floor(exact)


def test_correlation_offsets_are_never_above_the_uncorrelated_sum(
    engine: MarginEngine, risk_arrays: RiskArrays
) -> None:
    acct = Account(
        account_id="c",
        margin_mode="portfolio",
        positions=[
            Position(instrument="BTC-30D-36000-C", quantity=-qt(3)),
            Position(instrument="ETH-30D-2000-P", quantity=-qt(40)),
        ],
    )
    plain = engine.evaluate(acct)
    for rho in (-500_000, 0, 500_000, 1_000_000):
        p = engine.params.model_copy(update={"offsets_enabled": True, "correlations": {"BTC": {"ETH": rho}}})
        r = MarginEngine(engine.instruments, p, engine.snapshot, risk_arrays).evaluate(acct)
        assert max(plain.per_underlying_im.values()) <= r.im <= plain.im
        if rho == 1_000_000:
            assert r.im == plain.im  # perfect correlation: no offset


def test_isolated_positions_are_judged_separately(engine: MarginEngine) -> None:
    rich = Position(instrument="BTC-PERP", quantity=qt(1), entry_price=px(36_000), isolated_margin=usd(20_000))
    poor = Position(instrument="ETH-PERP", quantity=qt(50), entry_price=px(2_100), isolated_margin=usd(100))
    acct = Account(account_id="i", margin_mode="isolated", positions=[rich, poor])
    res = engine.evaluate(acct)
    assert res.status == "liquidation"  # the poor isolated position fails even though the account total would not
    assert res.equity > res.mm

"""The fixed-point scales are defined once (circuits/constants.py), and every circuit bit width holds its engine bound.

A width narrower than the bound it range-checks makes honest accounts unprovable; a scale redeclared in one module
can drift from the engine's. Each test below fails when one side changes without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from zkmargin.circuits import constants as c
from zkmargin.circuits.rules import fixedpoint
from zkmargin.circuits.solvency import shape

ROOT = Path(__file__).resolve().parents[1]


def test_derived_scales_follow_from_the_base_scales() -> None:
    assert c.WIDE_DIVISOR * c.USD_SCALE == c.QTY_SCALE * c.PRICE_SCALE  # (qty x price) -> micro-USD
    assert c.SMIN_DIVISOR * c.RISK_SCALE == c.PRICE_SCALE * c.RATE_SCALE  # (index x ppm) -> micro-USD per unit
    assert c.USD_PRICE == c.PRICE_SCALE  # 1 USD at the price scale
    assert c.USD_UNITS_PER_MICRO * c.USD_SCALE == c.QTY_SCALE


@pytest.mark.parametrize(
    "name",
    ["PRICE_SCALE", "QTY_SCALE", "USD_SCALE", "RATE_SCALE", "RISK_SCALE", "WIDE_DIVISOR", "MAX_QTY", "MAX_PRICE",
     "MAX_VALUE", "ACCOUNT_LIMIT", "SIGNED_OFFSET", "FIELD_LIMIT"],
)  # fmt: skip
def test_engine_module_re_exports_the_one_definition(name: str) -> None:
    assert getattr(fixedpoint, name) == getattr(c, name)


@pytest.mark.parametrize(
    "name",
    ["QTY_BITS", "PRICE_BITS", "VALUE_BITS", "CASH_BITS", "MM_BITS", "SLACK_BITS", "SCEN_BITS", "EQUITY_BITS",
     "RATE_BITS", "BASIS_BITS", "MARK_BAND_BITS", "HCOLL_OFFSET_BITS", "USD_PRICE", "USD_UNITS_PER_MICRO"],
)  # fmt: skip
def test_circuit_shape_re_exports_the_one_definition(name: str) -> None:
    assert getattr(shape, name) == getattr(c, name)


def test_input_widths_hold_the_engine_input_bounds() -> None:
    assert c.MAX_QTY <= 1 << c.QTY_BITS  # |quantity|, |balance| < MAX_QTY fit the signed range check
    assert c.MAX_PRICE <= 1 << c.PRICE_BITS
    assert c.MAX_VALUE <= 1 << c.VALUE_BITS and shape.VALUE_TOP == c.MAX_VALUE
    assert c.RATE_SCALE < 1 << c.RATE_BITS  # a rate in [0, 1e6] and its distance to a hard floor
    assert shape.MAX_BASIS_CAP_BPS < 1 << c.BASIS_BITS
    assert shape.MAX_HAIRCUT_RATE_PPM <= c.RATE_SCALE


def test_account_limit_bounds_every_per_account_width() -> None:
    """Every per-account quantity is bounded by the account's magnitude M < ACCOUNT_LIMIT (fixedpoint docstring):
    cash, equity and each MM part in micro-USD, their difference, and the portfolio candidates at 1e-8 micro-USD."""
    m = c.ACCOUNT_LIMIT
    assert m <= 1 << c.CASH_BITS  # |cash| <= sum |entry value| + |realised| + isolated <= M
    assert m <= 1 << c.EQUITY_BITS  # |equity| <= M
    assert m <= 1 << c.MM_BITS  # tiered MM <= notional (rates <= 100%), portfolio IM <= scenario terms of M
    assert 2 * m <= 1 << c.SLACK_BITS  # equity - MM in (-2M, 2M): the slack check cannot wrap
    assert 2 * m * c.QTY_SCALE <= 1 << c.SCEN_BITS  # |sum q R| and sum |q| smin before the 1e8 division, signed
    assert m * c.RATE_SCALE < 1 << c.HCOLL_OFFSET_BITS  # haircut numerators (1e12 scale) below the offset
    assert 2 * m <= c.MAX_VALUE  # an account's total still fits the value width


def test_mark_band_width_holds_cap_and_deviation() -> None:
    # |cap x index -+ 1e4 x (mark - index)| with cap < 2^BASIS_BITS and index, mark < 2^PRICE_BITS
    worst = (1 << c.BASIS_BITS) * (1 << c.PRICE_BITS) + c.BPS_SCALE * (1 << c.PRICE_BITS)
    assert worst < 1 << c.MARK_BAND_BITS


def test_widths_stay_below_the_field_and_packing() -> None:
    widths = (c.QTY_BITS, c.PRICE_BITS, c.VALUE_BITS, c.CASH_BITS, c.MM_BITS, c.SLACK_BITS, c.SCEN_BITS,
              c.EQUITY_BITS, c.MARK_BAND_BITS, c.HCOLL_OFFSET_BITS + 20)  # fmt: skip
    assert max(widths) < shape.PACK_BITS
    assert c.FIELD_LIMIT <= 1 << shape.PACK_BITS and c.SIGNED_OFFSET < c.FIELD_LIMIT


SCALE_VALUES = {10**4, 10**6, 10**8, 10**10}


@pytest.mark.parametrize(
    "rel",
    ["circuits/rules/fixedpoint.py", "circuits/solvency/circuit.py", "circuits/solvency/params.py",
     "circuits/solvency/shape.py", "circuits/solvency/gadgets.py", "circuits/solvency/leaf.py"],
)  # fmt: skip
def test_no_module_redeclares_a_scale(rel: str) -> None:
    """A module-level constant equal to a power-of-ten scale (e.g. ``WIDE = 10**10``) is a second definition."""
    tree = ast.parse((ROOT / rel).read_text())
    own = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                if isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.Pow):
                    value = eval(compile(ast.Expression(node.value), rel, "eval"))  # a literal power like 10**6
                else:
                    continue
            if isinstance(value, int) and not isinstance(value, bool) and value in SCALE_VALUES:
                own.append(ast.unparse(node))
    assert not own, f"{rel} declares its own scale: {own}"

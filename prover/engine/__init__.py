"""Margin engine (issue 3): exact fixed-point margin for every account, a bit-identical vectorised path, dynamic
parameters from price history, stress tests and liquidation cascades. See docs/engine.md and fixedpoint.py."""

from zkmargin.circuits.rules.fixedpoint import PRICE_SCALE, QTY_SCALE, RATE_SCALE, USD_SCALE
from zkmargin.circuits.rules.models import Account, Instrument, MarketSnapshot, Position, VolSurface, validate_account
from zkmargin.circuits.rules.params import RiskParameters, to_field_elements
from zkmargin.circuits.rules.risk_arrays import RiskArrays, build_risk_arrays

from .margin import AccountResult, MarginEngine
from .vectorised import Book, VectorEngine

__all__ = [
    "PRICE_SCALE",
    "QTY_SCALE",
    "RATE_SCALE",
    "USD_SCALE",
    "Account",
    "AccountResult",
    "Book",
    "Instrument",
    "MarginEngine",
    "MarketSnapshot",
    "Position",
    "RiskArrays",
    "RiskParameters",
    "VectorEngine",
    "VolSurface",
    "build_risk_arrays",
    "to_field_elements",
    "validate_account",
]

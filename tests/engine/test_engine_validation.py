"""Bad input is rejected at the edge with a validation error that names the offending field."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from zkmargin.circuits.rules.fixedpoint import MAX_QTY
from zkmargin.circuits.rules.models import MarketSnapshot, VolSurface, validate_account
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.prover.engine import demo


def _locs(err: ValidationError) -> list[str]:
    return [".".join(str(x) for x in e["loc"]) + ": " + e["msg"] for e in err.errors()]


def _account(**pos: Any) -> dict[str, Any]:
    p = {"instrument": "BTC-PERP", "quantity": 10**8, "entry_price": 36_000 * 10**8} | pos
    return {"account_id": "x", "balances": {"USDT": 10**12}, "positions": [p]}


def test_negative_price_names_the_field() -> None:
    with pytest.raises(ValidationError) as e:
        validate_account(_account(entry_price=-5), demo.instruments(), demo.NOW)
    assert any(s.startswith("positions.0.entry_price") for s in _locs(e.value))


def test_negative_mark_in_snapshot_names_the_instrument() -> None:
    data = demo.snapshot().model_dump()
    data["marks"]["BTC-PERP"] = -1
    with pytest.raises(ValidationError) as e:
        MarketSnapshot.model_validate(data)
    assert any(s.startswith("marks.BTC-PERP") for s in _locs(e.value))


def test_nan_volatility_is_rejected() -> None:
    s = demo.surface(36_000, 0.5).model_dump()
    s["vols"][1][2] = math.nan
    with pytest.raises(ValidationError) as e:
        VolSurface.model_validate(s)
    assert any(s.startswith("vols.1.2") for s in _locs(e.value))


def test_nan_price_is_rejected() -> None:
    data = demo.snapshot().model_dump()
    data["index_prices"]["BTC"] = math.nan
    with pytest.raises(ValidationError) as e:
        MarketSnapshot.model_validate(data)
    assert any("index_prices" in s and "BTC" in s for s in _locs(e.value))


def test_unknown_instrument() -> None:
    with pytest.raises(ValidationError) as e:
        validate_account(_account(instrument="PEPE-PERP"), demo.instruments(), demo.NOW)
    assert any(s.startswith("positions.0.instrument") and "unknown instrument" in s for s in _locs(e.value))


def test_quantity_beyond_supported_range() -> None:
    with pytest.raises(ValidationError) as e:
        validate_account(_account(quantity=MAX_QTY), demo.instruments(), demo.NOW)
    assert any(s.startswith("positions.0.quantity") for s in _locs(e.value))


def test_notional_beyond_supported_range() -> None:
    with pytest.raises(ValidationError) as e:
        validate_account(_account(quantity=MAX_QTY - 1, entry_price=2**52), demo.instruments(), demo.NOW)
    assert any("quantity" in s and "supported range" in s for s in _locs(e.value))


def test_expired_option() -> None:
    sym = "BTC-7D-36000-C"
    data = {"account_id": "o", "margin_mode": "portfolio", "positions": [{"instrument": sym, "quantity": -(10**8)}]}
    validate_account(data, demo.instruments(), demo.NOW)  # fine today
    with pytest.raises(ValidationError) as e:
        validate_account(data, demo.instruments(), demo.NOW + 8 * demo.DAY)
    assert any(s.startswith("positions.0.instrument") and "expired" in s for s in _locs(e.value))


def test_option_outside_portfolio_mode() -> None:
    data = {"account_id": "o", "positions": [{"instrument": "BTC-7D-36000-C", "quantity": 10**8}]}
    with pytest.raises(ValidationError) as e:
        validate_account(data, demo.instruments(), demo.NOW)
    assert any("positions.0.instrument" in s and "portfolio" in s for s in _locs(e.value))


def test_float_price_is_not_silently_truncated() -> None:
    data = demo.snapshot().model_dump()
    data["spot_prices"]["BTC"] = 36000.5
    with pytest.raises(ValidationError) as e:
        MarketSnapshot.model_validate(data)
    assert any("spot_prices" in s for s in _locs(e.value))


def test_broken_cum_is_rejected() -> None:
    data = demo.params().model_dump()
    data["brackets"]["BTC-PERP"][2]["cum"] += 1
    with pytest.raises(ValidationError) as e:
        RiskParameters.model_validate(data)
    assert any("brackets.BTC-PERP.2.cum" in s for s in _locs(e.value))

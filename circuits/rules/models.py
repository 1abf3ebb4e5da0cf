"""Pydantic models of instruments, accounts and market snapshots, validated at the edge.

All proof-feeding numbers are integers at the scales of :mod:`fixedpoint`; floats appear only in the implied
volatility surface (model calibration). Cross references (instrument symbols, expiry against the snapshot time)
are checked through the validation context ``{"instruments": {...}, "now": seconds}`` so that the error names the
offending field, e.g. ``positions.0.instrument``.
"""

from __future__ import annotations

import bisect
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .fixedpoint import MAX_PRICE, MAX_QTY, MAX_VALUE, WIDE_DIVISOR, ceil_div

Price = Annotated[int, Field(gt=0, lt=MAX_PRICE, strict=True)]
Qty = Annotated[int, Field(gt=-MAX_QTY, lt=MAX_QTY, strict=True)]
Usd = Annotated[int, Field(gt=-MAX_VALUE, lt=MAX_VALUE, strict=True)]
SignedPpm = Annotated[int, Field(ge=-1_000_000, le=1_000_000, strict=True)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

SECONDS_PER_YEAR = 365 * 24 * 3600


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Instrument(Frozen):
    """A linear perpetual, dated future or European option, all quoted and settled in USD.

    Quantities are in base-asset units (QTY_SCALE); contract_size is the lot step in those units, so positions
    must be whole multiples of it and no arithmetic ever multiplies by it.
    """

    symbol: str = Field(min_length=1, max_length=64)
    kind: Literal["perpetual", "future", "option"]
    underlying: str = Field(min_length=1, max_length=16)
    quote: Literal["USD"] = "USD"
    contract_size: int = Field(default=1, gt=0, lt=MAX_QTY, strict=True)
    expiry: int | None = Field(default=None, ge=0)
    strike: Price | None = None
    option_type: Literal["call", "put"] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Instrument:
        if self.kind == "perpetual" and self.expiry is not None:
            raise ValueError("expiry: a perpetual has no expiry")
        if self.kind in ("future", "option") and self.expiry is None:
            raise ValueError(f"expiry: required for a {self.kind}")
        if self.kind == "option" and (self.strike is None or self.option_type is None):
            raise ValueError("strike/option_type: required for an option")
        if self.kind != "option" and (self.strike is not None or self.option_type is not None):
            raise ValueError("strike/option_type: only options have them")
        return self


def _context_instruments(info: ValidationInfo) -> dict[str, Instrument] | None:
    ctx = info.context if isinstance(info.context, dict) else None
    return None if ctx is None else ctx.get("instruments")


class Position(Frozen):
    """A signed position; entry_value = ceil(q * entry / 1e10) is fixed when booked (see fixedpoint)."""

    instrument: str
    quantity: Qty
    entry_price: Price | None = None
    isolated_margin: Usd | None = None

    @field_validator("instrument")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        instruments = _context_instruments(info)
        if instruments is not None:
            if v not in instruments:
                raise ValueError(f"unknown instrument {v!r}")
            inst = instruments[v]
            now = info.context.get("now") if isinstance(info.context, dict) else None
            if inst.expiry is not None and now is not None and inst.expiry <= now:
                raise ValueError(f"instrument {v!r} expired at {inst.expiry} (snapshot time {now})")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> Position:
        if self.entry_price is not None and abs(self.quantity) * self.entry_price // WIDE_DIVISOR >= MAX_VALUE:
            raise ValueError("quantity: position notional beyond the supported range (2^62 micro-USD)")
        return self

    @property
    def entry_value(self) -> int:
        """Cost of the position in micro-USD, rounded up (against the account); 0 for premium-settled options."""
        return 0 if self.entry_price is None else ceil_div(self.quantity * self.entry_price, WIDE_DIVISOR)


class Account(Frozen):
    """Collateral balances per asset (signed, QTY_SCALE), positions and realised PnL (micro-USD, already in USD)."""

    account_id: str = Field(min_length=1, max_length=128)
    margin_mode: Literal["cross", "isolated", "portfolio"] = "cross"
    balances: dict[str, Qty] = Field(default_factory=dict)
    positions: list[Position] = Field(default_factory=list)
    realised_pnl: Usd = 0

    @model_validator(mode="after")
    def _mode_rules(self, info: ValidationInfo) -> Account:
        instruments = _context_instruments(info)
        for i, p in enumerate(self.positions):
            if instruments is not None and instruments[p.instrument].kind != "option" and p.entry_price is None:
                raise ValueError(f"positions.{i}.entry_price: required for perpetuals and futures")
            if instruments is not None and instruments[p.instrument].kind == "option":
                if self.margin_mode != "portfolio":
                    raise ValueError(f"positions.{i}.instrument: options need margin_mode 'portfolio'")
                if p.quantity % instruments[p.instrument].contract_size:
                    raise ValueError(f"positions.{i}.quantity: not a multiple of the contract size")
            if (self.margin_mode == "isolated") != (p.isolated_margin is not None):
                raise ValueError(f"positions.{i}.isolated_margin: set exactly for isolated accounts")
        return self


class VolSurface(Frozen):
    """Implied volatility on a strike x expiry grid; bilinear in strike, linear in total variance over time."""

    strikes: list[Price] = Field(min_length=1)
    expiries: list[int] = Field(min_length=1)  # unix seconds, ascending
    vols: list[list[Annotated[float, Field(gt=0.0, lt=10.0, allow_inf_nan=False)]]]

    @model_validator(mode="after")
    def _grid(self) -> VolSurface:
        if sorted(self.strikes) != self.strikes or len(set(self.strikes)) != len(self.strikes):
            raise ValueError("strikes: must be strictly ascending")
        if sorted(self.expiries) != self.expiries or len(set(self.expiries)) != len(self.expiries):
            raise ValueError("expiries: must be strictly ascending")
        if len(self.vols) != len(self.expiries) or any(len(r) != len(self.strikes) for r in self.vols):
            raise ValueError("vols: shape must be len(expiries) x len(strikes)")
        return self

    def _vol_at_row(self, row: int, strike: int) -> float:
        ks, vs = self.strikes, self.vols[row]
        j = bisect.bisect_left(ks, strike)
        if j == 0:
            return vs[0]
        if j >= len(ks):
            return vs[-1]
        w = (strike - ks[j - 1]) / (ks[j] - ks[j - 1])
        return vs[j - 1] * (1 - w) + vs[j] * w

    def vol(self, strike: int, expiry: int, now: int) -> float:
        """Interpolated implied vol; flat extrapolation in strike, flat vol beyond the grid in time."""
        ex = self.expiries
        t = max(expiry - now, 1) / SECONDS_PER_YEAR
        j = bisect.bisect_left(ex, expiry)
        if j == 0:
            return self._vol_at_row(0, strike)
        if j >= len(ex):
            return self._vol_at_row(len(ex) - 1, strike)
        t0, t1 = max(ex[j - 1] - now, 1) / SECONDS_PER_YEAR, max(ex[j] - now, 1) / SECONDS_PER_YEAR
        w0, w1 = self._vol_at_row(j - 1, strike) ** 2 * t0, self._vol_at_row(j, strike) ** 2 * t1
        w = (t - t0) / (t1 - t0)
        return math.sqrt(max(w0 + (w1 - w0) * w, 1e-12) / t)


class MarketSnapshot(Frozen):
    """Prices at one instant: instrument marks, underlying index prices, collateral spot prices, IV, funding."""

    timestamp: int = Field(ge=0)
    marks: dict[str, Price]
    index_prices: dict[str, Price]
    spot_prices: dict[str, Price]
    vol_surfaces: dict[str, VolSurface] = Field(default_factory=dict)
    funding_rates: dict[str, SignedPpm] = Field(default_factory=dict)  # per funding interval, ppm, signed

    @field_validator("marks", "index_prices", "spot_prices", mode="before")
    @classmethod
    def _no_float(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, float):
                    raise ValueError(f"{k}: prices are integers at 1e8 scale, got float {x!r}")
        return v


def validate_account(data: Any, instruments: dict[str, Instrument], now: int) -> Account:
    """Validate one account against the instrument universe and the snapshot time."""
    return Account.model_validate(data, context={"instruments": instruments, "now": now})

"""The published methodology of the dynamic margin parameters, and the one replay that operator and auditor share.

Why a document: EWMA / HS / FHS ES-driven rates with an anti-procyclical floor are only auditable if every input that
moves them is public and pinned: the base parameter set they start from, the estimator settings, the price history
(by sha256) and the dates the updater ran over. ``Methodology`` is that document (canonical JSON, sha256 identity,
like ``RiskParameters``); ``derive_dynamic_params`` recomputes the parameters from it, and the operator's real-time
loop (``zkmargin run``) steps the very same ``DynamicReplay`` tick by tick, so there is one code path to audit.

Why the replay must start at a fixed date and visit every day: ``ParameterUpdater`` caps decreases relative to its
previous version, so the rates at ``asof`` depend on the whole path since ``start``; an operator allowed to skip days
(or to restart the updater) could skip the crash day and publish lower rates. ``DynamicReplay.step`` refuses any date
but the next one.

Determinism: the inputs are exact (integers, decimal strings parsed by ``float()``, which is correctly rounded; float
settings round-trip through JSON via ``repr``). The estimators use numpy ``log``/``expm1``/``sqrt``/``quantile`` in
float64: bit-identical for the same numpy build and CPU dispatch, but numpy's SIMD ``log``/``expm1`` may differ by an
ulp between builds/CPUs. Every rate is rounded up to a 1,000 ppm step (``calibration._ceil_ppm``), so an ulp can only
change a published rate when a target lands within ~1e-12 of a step edge; an auditor seeing a one-step difference
should re-run on the operator's published numpy version before calling it a violation.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from .calibration import (
    ApcMethod,
    DerivedRates,
    ParameterUpdater,
    ParameterVersion,
    RiskEstimate,
    apply_rates,
    estimate,
)
from .models import Frozen
from .params import RiskParameters

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Close = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class MethodologyError(ValueError):
    """The methodology cannot be replayed on this history (the message starts with the offending field)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EstimatorSettings(Frozen):
    """Everything ``estimate`` and ``ParameterUpdater`` take: the defaults are what ``zkmargin run`` uses."""

    window: int = Field(default=365, ge=30, le=10_000, strict=True)  # days of returns (>= the EWMA seed of 30)
    mpor: int = Field(default=2, ge=1, le=30, strict=True)  # margin period of risk, days (overlapping h-day returns)
    alpha: float = Field(default=0.99, gt=0.5, lt=1.0)  # VaR/ES confidence
    lam: float = Field(default=0.94, gt=0.0, lt=1.0)  # EWMA decay
    apc: ApcMethod = "stressed_weight25"  # anti-procyclical treatment
    mm_fraction: float = Field(default=0.5, gt=0.0, le=1.0)  # MM rate = IM rate x this (rounded up)
    max_decrease: float = Field(default=0.10, ge=0.0, le=1.0)  # per update, relative
    max_increase: float | None = Field(default=None, ge=0.0)  # None: increases uncapped (on purpose)

    def updater(self) -> ParameterUpdater:
        """A fresh updater with these settings (no versions yet)."""
        return ParameterUpdater(
            apc=self.apc, mm_fraction=self.mm_fraction, max_decrease=self.max_decrease, max_increase=self.max_increase
        )


class DrivenUnderlying(Frozen):
    """One underlying whose calibrated rates drive the brackets of ``symbols`` and its scenario grid."""

    symbols: list[str] = Field(min_length=1)
    column: str = Field(min_length=1)  # the history column of its closes (CSV header, or inline key)
    estimator: EstimatorSettings = Field(default_factory=EstimatorSettings)


class InlineHistory(Frozen):
    """Closes written into the methodology itself (synthetic runs): ``closes[column][i]`` is the close of
    ``dates[i]``. Its hash is sha256 of its canonical JSON (floats as Python ``repr``, which round-trips exactly)."""

    dates: list[str] = Field(min_length=2)
    closes: dict[str, list[Close]] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> InlineHistory:
        if len(set(self.dates)) != len(self.dates):
            raise ValueError("dates: must be unique")
        for col, xs in self.closes.items():
            if len(xs) != len(self.dates):
                raise ValueError(f"closes.{col}: {len(xs)} closes for {len(self.dates)} dates")
        return self

    def sha256(self) -> str:
        return _sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode())


class HistorySource(Frozen):
    """Where the closes come from. ``sha256`` binds them: of the CSV file's bytes as committed (LF line ends), or of
    the inline closes. ``path`` only tells auditors where to find the file."""

    sha256: Sha256Hex
    path: str | None = None
    inline: InlineHistory | None = None

    @model_validator(mode="after")
    def _check(self) -> HistorySource:
        if (self.path is None) == (self.inline is None):
            raise ValueError("history: give exactly one of path (a committed CSV) or inline closes")
        if self.inline is not None and self.inline.sha256() != self.sha256:
            raise ValueError(f"history.sha256: {self.sha256} does not match the inline closes ({self.inline.sha256()})")
        return self


class Methodology(Frozen):
    """The published recipe of one dynamic parameter version: base set, drivers, history and the replayed dates.

    The updater runs on every history date from ``start`` to ``asof`` inclusive (the operator's ticks); the rates at
    ``asof`` rebuilt on ``base`` (``params_from_rates``) are the parameters the methodology yields.
    """

    version: Literal[1] = 1
    base: RiskParameters
    underlyings: dict[str, DrivenUnderlying] = Field(min_length=1)
    history: HistorySource
    start: str = Field(min_length=1)
    asof: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Methodology:
        seen: dict[str, str] = {}
        for u, d in self.underlyings.items():
            for k, sym in enumerate(d.symbols):
                if sym not in self.base.brackets:
                    raise ValueError(f"underlyings.{u}.symbols.{k}: {sym!r} has no brackets in base")
                if sym in seen:
                    raise ValueError(f"underlyings.{u}.symbols.{k}: {sym!r} is already driven by {seen[sym]}")
                seen[sym] = u
        if self.history.inline is not None:
            dates = self.history.inline.dates
            for name in ("start", "asof"):
                if getattr(self, name) not in dates:
                    raise ValueError(f"{name}: {getattr(self, name)!r} is not a date of the inline history")
            if dates.index(self.asof) < dates.index(self.start):
                raise ValueError(f"asof: {self.asof} precedes start {self.start}")
            for u, d in self.underlyings.items():
                if d.column not in self.history.inline.closes:
                    raise ValueError(f"underlyings.{u}.column: {d.column!r} is not an inline column")
        return self

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def version_hash(self) -> str:
        """sha256 of the canonical JSON: what a registry pins next to the parameter version it yields."""
        return _sha256(self.canonical_json().encode())

    def recipe_hash(self) -> str:
        """sha256 of the methodology with ``asof`` set to ``start``: the recipe (base set, drivers, estimators,
        history), constant across epochs, which the governed parameter document pins. ``asof`` is bound per epoch
        by the audit: the history's close on ``asof`` must be the epoch's attested oracle price."""
        return self.model_copy(update={"asof": self.start}).version_hash()

    @property
    def base_hash(self) -> str:
        return self.base.version_hash()

    def drives(self) -> dict[str, list[str]]:
        return {u: list(d.symbols) for u, d in self.underlyings.items()}


@dataclass(frozen=True)
class PriceHistory:
    """Parsed daily closes with the sha256 of the bytes (or inline document) they came from."""

    dates: list[str]
    columns: dict[str, np.ndarray]
    sha256: str

    @classmethod
    def from_csv_bytes(cls, data: bytes) -> PriceHistory:
        """Parse ``date,<col>,...`` (the committed CSV's layout); every non-date column is a series of closes."""
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        if not rows or "date" not in rows[0]:
            raise MethodologyError("history: expected a CSV with a 'date' column and at least one row")
        cols = [c for c in rows[0] if c != "date"]
        out: dict[str, list[float]] = {c: [] for c in cols}
        for i, r in enumerate(rows):
            for c in cols:
                try:
                    x = float(r[c])
                except (TypeError, ValueError):
                    raise MethodologyError(f"history row {i + 2} {c}: {r[c]!r} is not a number") from None
                if not (math.isfinite(x) and x > 0):
                    raise MethodologyError(f"history row {i + 2} {c}: close {x} must be positive and finite")
                out[c].append(x)
        dates = [r["date"] for r in rows]
        if len(set(dates)) != len(dates):
            raise MethodologyError("history: dates must be unique")
        return cls(dates, {c: np.array(v) for c, v in out.items()}, _sha256(data))

    @classmethod
    def from_csv(cls, path: Path) -> PriceHistory:
        return cls.from_csv_bytes(Path(path).read_bytes())

    @classmethod
    def from_inline(cls, inline: InlineHistory) -> PriceHistory:
        return cls(list(inline.dates), {c: np.array(v) for c, v in inline.closes.items()}, inline.sha256())


def params_from_rates(
    base: RiskParameters, drives: dict[str, list[str]], rates: dict[str, DerivedRates]
) -> RiskParameters:
    """``base`` with each driven underlying's latest rates: brackets floored at them (``apply_rates``) and, for an
    underlying that has a scenario grid in ``base``, the same number of price moves spread evenly over +/- its scan
    range (capped at 90%). Why the grid keeps its shape (and no grid is added): the scenario count is fixed by the
    circuit's setup, so a calibration step must not change it. Why from ``base`` and not stacked: ``apply_rates``
    only raises rates, so stacking would ratchet margins up forever."""
    p = base
    for u, r in rates.items():
        p = apply_rates(p, u, drives[u], r)
    grids = dict(base.scenario_grids)
    for u, r in rates.items():
        if u not in grids:
            continue
        g = grids[u]
        s = min(r.scan_range, 900_000)
        k = len(g.price_moves) // 2
        down = [-s * j // k for j in range(k, 0, -1)] if k else []
        moves = [*down, *[0] * (len(g.price_moves) % 2), *[-m for m in reversed(down)]]
        grids[u] = g.model_copy(update={"price_moves": moves})
    return p.model_copy(update={"scenario_grids": grids})


class DynamicReplay:
    """The per-day calibration both sides run: one ``ParameterUpdater`` per driven underlying, stepped on every
    history date from ``methodology.start`` through ``methodology.asof`` in order."""

    def __init__(self, methodology: Methodology, history: PriceHistory) -> None:
        m = methodology
        if history.sha256 != m.history.sha256:
            raise MethodologyError(
                f"history.sha256: the history hashes to {history.sha256}, the methodology publishes {m.history.sha256}"
            )
        for name in ("start", "asof"):
            if getattr(m, name) not in history.dates:
                raise MethodologyError(f"{name}: {getattr(m, name)!r} is not a date of the history")
        self._start = history.dates.index(m.start)
        self._end = history.dates.index(m.asof)
        if self._end < self._start:
            raise MethodologyError(f"asof: {m.asof} precedes start {m.start}")
        for u, d in m.underlyings.items():
            if d.column not in history.columns:
                raise MethodologyError(f"underlyings.{u}.column: {d.column!r} is not a history column")
            need = d.estimator.window + d.estimator.mpor
            if self._start < need:
                raise MethodologyError(
                    f"start: {m.start} has {self._start} days of history before it; underlyings.{u} needs {need}"
                )
        self.methodology = m
        self.history = history
        self.updaters = {u: d.estimator.updater() for u, d in m.underlyings.items()}
        self.latest: dict[str, ParameterVersion] = {}
        self._next = self._start

    @property
    def next_date(self) -> str | None:
        """The only date ``step`` accepts next (None once ``asof`` has been stepped)."""
        return self.history.dates[self._next] if self._next <= self._end else None

    def estimate(self, underlying: str, date: str) -> RiskEstimate:
        d = self.methodology.underlyings[underlying]
        e = d.estimator
        return estimate(self.history.dates, self.history.columns[d.column], date, e.window, e.mpor, e.alpha, e.lam)

    def step(self, date: str) -> dict[str, ParameterVersion]:
        """Run every updater on ``date`` (which must be the next date); return the underlyings whose rates changed."""
        if date != self.next_date:
            raise MethodologyError(f"step: got {date!r}, the replay's next date is {self.next_date!r}")
        changed: dict[str, ParameterVersion] = {}
        for u, upd in self.updaters.items():
            v = upd.update(self.estimate(u, date))
            if v is not None:
                self.latest[u] = v
                changed[u] = v
        self._next += 1
        return changed

    def run(self) -> RiskParameters:
        """Step every remaining date through ``asof`` and return the parameters."""
        while (d := self.next_date) is not None:
            self.step(d)
        return self.params()

    def params(self) -> RiskParameters:
        """The parameters as of the last stepped date."""
        rates = {u: v.rates for u, v in self.latest.items()}
        return params_from_rates(self.methodology.base, self.methodology.drives(), rates)


def derive_dynamic_params(methodology: Methodology, history: PriceHistory) -> RiskParameters:
    """Recompute the dynamic parameters the methodology yields at its ``asof`` (raises ``MethodologyError``, naming
    the field, when the history does not match or cannot support the replay)."""
    return DynamicReplay(methodology, history).run()

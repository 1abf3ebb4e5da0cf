"""Price streams for ``zkmargin run``: a validated replay of a daily-close CSV, or a seeded synthetic stream.

Why validate every row at load: a NaN, zero, negative or missing close would otherwise surface ticks later as an
engine error, a degenerate calibration or (worst) a published epoch at a nonsense price. The loader names the file,
the row (the file's line number) and the field, and runs before any setup, chain or output work.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from zkmargin.circuits.rules.calibration import DATA

COLUMNS = {"BTC": "btc_usd", "ETH": "eth_usd"}  # underlying -> CSV column
HISTORY_DAYS = 400  # synthetic prefix: the calibration needs a year of returns before the first tick


class PriceDataError(ValueError):
    """A price file that cannot be used; the message names the file, row and field."""


@dataclass
class Stream:
    """Dates and prices: rows before ``first`` precede the first tick (calibration input), then one row per tick."""

    dates: list[str]
    prices: dict[str, np.ndarray]
    first: int  # index of the first tick

    def ticks(self, n: int) -> list[tuple[str, dict[str, float]]]:
        """The first ``n`` ticks: (date, price per underlying)."""
        return [
            (self.dates[i], {a: float(p[i]) for a, p in self.prices.items()}) for i in range(self.first, self.first + n)
        ]


def _close(path: Path, line: int, field: str, raw: str | None) -> float:
    where = f"{path}: row {line}: field {field}"
    if raw is None or raw.strip() == "":
        raise PriceDataError(f"{where}: missing")
    try:
        x = float(raw)
    except ValueError:
        raise PriceDataError(f"{where}: {raw!r} is not a number") from None
    if not math.isfinite(x):
        raise PriceDataError(f"{where}: {raw!r} is not a finite number")
    if x <= 0:
        raise PriceDataError(f"{where}: {raw!r} is not a positive price")
    return x


def load_price_csv(path: Path = DATA) -> tuple[list[str], dict[str, np.ndarray]]:
    """Dates and closes per underlying from ``date,btc_usd,eth_usd`` rows; every row checked (see module doc)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise PriceDataError(f"{path}: cannot be read ({e.strerror or e})") from e
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    for field in ("date", *COLUMNS.values()):
        if field not in header:
            raise PriceDataError(f"{path}: row 1: field {field}: missing from the header {header}")
    dates: list[str] = []
    closes: dict[str, list[float]] = {u: [] for u in COLUMNS}
    for row in reader:
        line = reader.line_num
        date = (row.get("date") or "").strip()
        if not date:
            raise PriceDataError(f"{path}: row {line}: field date: missing")
        if dates and date <= dates[-1]:
            raise PriceDataError(f"{path}: row {line}: field date: {date!r} does not follow {dates[-1]!r}")
        if None in row:  # csv puts surplus cells under the None key
            raise PriceDataError(f"{path}: row {line}: more cells than the header has fields")
        for u, col in COLUMNS.items():
            closes[u].append(_close(path, line, col, row.get(col)))
        dates.append(date)
    if not dates:
        raise PriceDataError(f"{path}: no price rows")
    return dates, {u: np.array(v) for u, v in closes.items()}


def replay_stream(path: Path, start: str, ticks: int, window: int) -> Stream:
    """The replay from ``start``: at least ``window + 2`` days of history before it, ``ticks`` rows from it."""
    dates, prices = load_price_csv(path)
    if start not in dates:
        raise PriceDataError(f"--start {start}: not a date of {Path(path).name} ({dates[0]} .. {dates[-1]})")
    first = dates.index(start)
    if first < window + 2:
        raise PriceDataError(f"--start {start}: the calibration needs {window + 2} days of history before it")
    if first + ticks > len(dates):
        raise PriceDataError(f"--ticks {ticks} from {start} runs past the end of the history ({dates[-1]})")
    return Stream(dates, prices, first)


def synthetic_stream(seed: int, ticks: int) -> Stream:
    """Correlated GBM with a volatility regime switch halfway (so the calibration has something to react to)."""
    rng = np.random.default_rng(seed)
    n = HISTORY_DAYS + ticks
    vol = np.where(np.arange(n) < HISTORY_DAYS + ticks // 2, 0.03, 0.07)
    z1 = rng.standard_normal(n)
    z2 = 0.8 * z1 + 0.6 * rng.standard_normal(n)
    btc = 30_000.0 * np.exp(np.cumsum(vol * z1 - vol**2 / 2))
    eth = 2_000.0 * np.exp(np.cumsum(1.2 * vol * z2 - (1.2 * vol) ** 2 / 2))
    return Stream([f"t{i:05d}" for i in range(n)], {"BTC": btc, "ETH": eth}, HISTORY_DAYS)


class PriceFeed(Protocol):
    """What the venue run reads its prices from, one tick at a time: the replay (:class:`StreamFeed`) or a live
    adapter (an exchange's index prices, an oracle network). ``next_tick`` blocks until the next tick is due and
    returns its label (a date, a timestamp) and a price per underlying; it must give at least BTC and ETH (the run
    checks every price and names the bad one). A live adapter raises ``PriceDataError`` when it cannot give one."""

    def next_tick(self) -> tuple[str, dict[str, float]]: ...


class StreamFeed:
    """The replay (or synthetic) stream as a :class:`PriceFeed`: its ticks in order, then ``PriceDataError``."""

    def __init__(self, stream: Stream, ticks: int) -> None:
        self._ticks = stream.ticks(ticks)
        self._next = 0

    def next_tick(self) -> tuple[str, dict[str, float]]:
        if self._next >= len(self._ticks):
            raise PriceDataError(f"the price stream has no tick {self._next + 1} (it holds {len(self._ticks)})")
        self._next += 1
        return self._ticks[self._next - 1]


def checked_prices(label: str, prices: dict[str, float], need: tuple[str, ...] = tuple(COLUMNS)) -> dict[str, float]:
    """A feed's tick with every needed price present, finite and positive (else ``PriceDataError`` naming it)."""
    out = {}
    for u in need:
        x = prices.get(u)
        if x is None or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
            raise PriceDataError(f"price feed tick {label!r}: field {u}: {x!r} is not a positive finite price")
        out[u] = float(x)
    return out

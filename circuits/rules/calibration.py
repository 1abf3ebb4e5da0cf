"""Dynamic parameters from price history: EWMA volatility, historical and filtered-historical VaR/ES, margin rates
derived from ES with an anti-procyclical floor and a cap on how fast they move. Every change is a new version with
a hash and an explanation record, because parameters are public proof inputs and must be auditable.

Why these choices: ES (not VaR) because it looks into the tail that bankrupts accounts; FHS because plain HS reacts
a full window late to a regime change; the anti-procyclical treatment (EMIR RTS 153/2013 art. 28) because margins
that collapse in calm periods and spike in a crash force the very deleveraging that feeds cascades. Decreases are
capped per update; increases are not capped by default (capping them would leave the exchange under-margined
exactly when it matters).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .fixedpoint import RATE_SCALE
from .params import RiskParameters, ScenarioGrid, cum_amounts

DATA = Path(__file__).resolve().parent / "data" / "btc_eth_daily_close.csv"


def load_history(path: Path = DATA) -> tuple[list[str], dict[str, np.ndarray]]:
    """Dates and daily USD closes per asset from the committed CSV (see circuits/rules/data/README.md)."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    dates = [r["date"] for r in rows]
    return dates, {
        "BTC": np.array([float(r["btc_usd"]) for r in rows]),
        "ETH": np.array([float(r["eth_usd"]) for r in rows]),
    }


def log_returns(prices: np.ndarray) -> np.ndarray:
    return np.diff(np.log(prices))


def ewma_vol(returns: np.ndarray, lam: float = 0.94, seed: int = 30) -> np.ndarray:
    """RiskMetrics: s2_t = lam s2_{t-1} + (1 - lam) r_{t-1}^2; out[t] is the forecast for return t (uses r < t)."""
    s2 = np.empty(len(returns))
    s2[0] = np.var(returns[:seed]) if len(returns) >= seed else returns[0] ** 2
    for t in range(1, len(returns)):
        s2[t] = lam * s2[t - 1] + (1 - lam) * returns[t - 1] ** 2
    return np.sqrt(s2)


def _h_day(returns: np.ndarray, h: int) -> np.ndarray:
    return returns if h == 1 else np.convolve(returns, np.ones(h), mode="valid")


def var_es(log_rets: np.ndarray, alpha: float = 0.99) -> tuple[float, float]:
    """Two-sided VaR and ES as fractions of price: the worse of a long's and a short's tail."""
    moves = np.expm1(log_rets)
    out = []
    for losses in (-moves, moves):
        var = float(np.quantile(losses, alpha))
        tail = losses[losses >= var]
        out.append((var, float(tail.mean()) if tail.size else var))
    return max(o[0] for o in out), max(o[1] for o in out)


@dataclass(frozen=True)
class RiskEstimate:
    date: str
    ewma_vol: float  # daily
    hs_var: float
    hs_es: float
    fhs_var: float
    fhs_es: float
    stressed_es: float  # worst rolling-window HS ES seen in the lookback (for the anti-procyclical treatment)


def estimate(
    dates: list[str],
    prices: np.ndarray,
    asof: str,
    window: int = 365,
    mpor: int = 2,
    alpha: float = 0.99,
    lam: float = 0.94,
) -> RiskEstimate:
    """Estimates using closes up to and including `asof` (nothing after it: no look-ahead)."""
    end = dates.index(asof)
    r = log_returns(prices[: end + 1])
    sig = ewma_vol(r, lam)
    # forecast for tomorrow uses today's return too
    sig_next = math.sqrt(lam * sig[-1] ** 2 + (1 - lam) * r[-1] ** 2)
    hist = r[-window:]
    hs_var, hs_es = var_es(_h_day(hist, mpor), alpha)
    scaled = hist * (sig_next / sig[-window:])
    fhs_var, fhs_es = var_es(_h_day(scaled, mpor), alpha)
    stressed = hs_es
    for start in range(0, max(len(r) - window, 0) + 1, 30):
        stressed = max(stressed, var_es(_h_day(r[start : start + window], mpor), alpha)[1])
    return RiskEstimate(asof, sig_next, hs_var, hs_es, fhs_var, fhs_es, stressed)


ApcMethod = Literal["none", "buffer25", "stressed_weight25", "lookback_floor"]


@dataclass(frozen=True)
class DerivedRates:
    im_rate: int  # ppm of notional
    mm_rate: int
    scan_range: int  # ppm price move covered by the portfolio grid


@dataclass
class ParameterVersion:
    version: int
    asof: str
    rates: DerivedRates
    parent: str | None
    explanation: dict[str, object] = field(default_factory=dict)

    def version_hash(self) -> str:
        body = {"version": self.version, "asof": self.asof, "rates": asdict(self.rates), "parent": self.parent}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _ceil_ppm(x: float, step: int = 1_000) -> int:
    """Round a fraction up to a multiple of `step` ppm (0.1%): published rates are round and never understated."""
    return math.ceil(x * RATE_SCALE / step - 1e-9) * step


@dataclass
class ParameterUpdater:
    """Turns estimates into versioned rates: target = max(HS ES, FHS ES) over the MPOR, then APC, then caps."""

    apc: ApcMethod = "stressed_weight25"
    mm_fraction: float = 0.5
    max_decrease: float = 0.10  # per update, relative
    max_increase: float | None = None
    versions: list[ParameterVersion] = field(default_factory=list)

    def target(self, est: RiskEstimate) -> tuple[float, str]:
        base = max(est.hs_es, est.fhs_es)
        if self.apc == "buffer25":
            return base * 1.25, "25% buffer on ES"
        if self.apc == "stressed_weight25":
            return max(base, 0.75 * base + 0.25 * est.stressed_es), "25% weight on the stressed-period ES"
        if self.apc == "lookback_floor":
            return max(base, est.stressed_es), "floor at the lookback's stressed ES"
        return base, "no anti-procyclical treatment"

    def update(self, est: RiskEstimate) -> ParameterVersion | None:
        """Return a new version if the rates change, else None."""
        raw, apc_note = self.target(est)
        prev = self.versions[-1] if self.versions else None
        capped = raw
        cap_note = "none"
        if prev is not None:
            old = prev.rates.im_rate / RATE_SCALE
            if raw < old * (1 - self.max_decrease):
                capped, cap_note = old * (1 - self.max_decrease), f"decrease capped at {self.max_decrease:.0%}"
            if self.max_increase is not None and raw > old * (1 + self.max_increase):
                capped, cap_note = old * (1 + self.max_increase), f"increase capped at {self.max_increase:.0%}"
        im = min(_ceil_ppm(capped), RATE_SCALE)
        rates = DerivedRates(im, _ceil_ppm(im / RATE_SCALE * self.mm_fraction), im)
        if prev is not None and prev.rates == rates:
            return None
        v = ParameterVersion(
            version=len(self.versions) + 1,
            asof=est.date,
            rates=rates,
            parent=prev.version_hash() if prev else None,
            explanation={
                "estimate": asdict(est),
                "raw_target": raw,
                "anti_procyclical": apc_note,
                "cap": cap_note,
                "previous_im_rate": prev.rates.im_rate if prev else None,
            },
        )
        self.versions.append(v)
        return v


def apply_rates(params: RiskParameters, underlying: str, symbols: list[str], rates: DerivedRates) -> RiskParameters:
    """New RiskParameters: bracket rates floored at the derived IM/MM (cum recomputed), SPAN-like scan grid."""
    brackets = dict(params.brackets)
    for sym in symbols:
        old = brackets[sym]
        mmrs = [max(b.mmr, rates.mm_rate) for b in old]
        for k in range(1, len(mmrs)):
            mmrs[k] = max(mmrs[k], mmrs[k - 1])
        cums = cum_amounts([b.notional_floor for b in old], mmrs)
        brackets[sym] = [
            b.model_copy(update={"mmr": m, "imr": max(b.imr, rates.im_rate, m), "cum": c})
            for b, m, c in zip(old, mmrs, cums, strict=True)
        ]
    grids = dict(params.scenario_grids)
    g = grids.get(underlying)
    s = min(rates.scan_range, 900_000)  # a grid move must stay above -100%
    moves = [-s, -2 * s // 3, -s // 3, 0, s // 3, 2 * s // 3, s]
    grids[underlying] = ScenarioGrid(
        price_moves=moves,
        vol_shocks=g.vol_shocks if g else [-250_000, 0, 250_000],
        extreme_moves=[max(-2 * s, -900_000), 2 * s],
        extreme_coverage=g.extreme_coverage if g else 350_000,
    )
    return params.model_copy(update={"brackets": brackets, "scenario_grids": grids})

"""Published per-instrument risk arrays: the integer form of scenario revaluation that the circuit sums.

For instrument i and scenario s, the model P&L per 1.0 unit held (a float from Black-76, or exact for linear
instruments) is f_i[s] USD. Two integer arrays in micro-USD per unit are published:

* long[s]  = floor(f_i[s] x 1e6)      used when q > 0, so q x long[s]  <= q x f x 1e6
* short[s] = floor(f_i[s] x 1e6) + 1  used when q < 0, so q x short[s] <  q x f x 1e6

so every position's quantised scenario P&L is at most its exact rational P&L, whatever its sign (the floor of the
float is taken exactly through fractions.Fraction, no float rounding in between). short = long + 1 rather than
ceil: at most one micro-USD per unit more conservative than ceil, and it lets the circuit compute
sum q x R as sum q x long + sum min(q, 0) with one product per position and scenario instead of two, and commit
one array per instrument (auditors check the published short array is long + 1). The account's scenario loss
is L_s = ceil(-sum_i q_i x R_i[s] / 1e8) (one division per account and scenario), IM = max(0, max_s L_s,
short-option minimum), MM = ceil(IM x mm_ratio / 1e6). Extreme moves are folded in at their partial coverage
(e.g. 35% of the P&L) before quantisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .black76 import black76
from .fixedpoint import PRICE_SCALE, RATE_SCALE, RISK_SCALE, ceil_div
from .models import SECONDS_PER_YEAR, Instrument, MarketSnapshot
from .params import ScenarioGrid


@dataclass(frozen=True)
class RiskArrays:
    scenarios: dict[str, list[tuple[int, int, int]]]  # per underlying
    long: dict[str, list[int]]  # per instrument
    short: dict[str, list[int]]
    short_option_min: dict[str, int]  # micro-USD per unit short, options only

    def arrays(self) -> dict[str, tuple[list[int], list[int]]]:
        return {k: (self.long[k], self.short[k]) for k in self.long}


def shocked_vol(vol: float, shock_ppm: int, dte_days: float, grid: ScenarioGrid) -> float:
    """IV' = IV x (1 + shock x (30 / max(floor, DTE))^p): shocks grow for short expiries (Deribit/OKX style)."""
    scale = (grid.short_expiry_shock_days / max(grid.short_expiry_floor_days, dte_days)) ** grid.short_expiry_power
    return max(vol * (1 + shock_ppm / RATE_SCALE * scale), 1e-4)


def option_pnl_per_unit(
    inst: Instrument, snap: MarketSnapshot, move_ppm: int, shock_ppm: int, grid: ScenarioGrid
) -> float:
    """Scenario P&L in USD of one long unit, revalued with Black-76 on the snapshot's vol surface."""
    assert inst.strike is not None and inst.expiry is not None
    f0 = snap.index_prices[inst.underlying] / PRICE_SCALE
    k = inst.strike / PRICE_SCALE
    t = max(inst.expiry - snap.timestamp, 0) / SECONDS_PER_YEAR
    vol = snap.vol_surfaces[inst.underlying].vol(inst.strike, inst.expiry, snap.timestamp)
    is_call = inst.option_type == "call"
    base = black76(f0, k, t, vol, is_call).price
    v2 = shocked_vol(vol, shock_ppm, t * 365.0, grid)
    return black76(f0 * (1 + move_ppm / RATE_SCALE), k, t, v2, is_call).price - base


def build_risk_arrays(
    instruments: dict[str, Instrument], snap: MarketSnapshot, grids: dict[str, ScenarioGrid], short_min_ppm: int
) -> RiskArrays:
    long: dict[str, list[int]] = {}
    short: dict[str, list[int]] = {}
    smin: dict[str, int] = {}
    scen = {u: g.scenarios() for u, g in grids.items()}
    for sym in sorted(instruments):
        inst = instruments[sym]
        if inst.underlying not in grids:
            continue
        grid = grids[inst.underlying]
        lo: list[int] = []
        hi: list[int] = []
        for move, shock, cover in scen[inst.underlying]:
            if inst.kind == "option":
                f = Fraction(option_pnl_per_unit(inst, snap, move, shock, grid)) * RISK_SCALE
            else:  # linear: exact rational mark x move
                f = Fraction(snap.marks[sym] * move, PRICE_SCALE * RATE_SCALE) * RISK_SCALE
            f = f * cover / RATE_SCALE
            lo.append(math.floor(f))
            hi.append(math.floor(f) + 1)
        long[sym], short[sym] = lo, hi
        if inst.kind == "option":
            smin[sym] = ceil_div(
                snap.index_prices[inst.underlying] * short_min_ppm * RISK_SCALE, PRICE_SCALE * RATE_SCALE
            )
    return RiskArrays(scen, long, short, smin)


def standard_option_margin(inst: Instrument, index: float, option_mark: float) -> tuple[float, float]:
    """Per-unit IM and MM of a short option under the "standard margin" formula (Aevo / Deribit style).

    IM = max(0.15 - OTM / index, 0.10) x index + mark;  MM = 0.10 x index + mark (call) and
    max(0.10 x index, 0.10 x mark) + mark (put). Used to cross-check the short-option minimum.
    """
    assert inst.strike is not None
    k = inst.strike / PRICE_SCALE
    otm = max(k - index, 0.0) if inst.option_type == "call" else max(index - k, 0.0)
    im = max(0.15 - otm / index, 0.10) * index + option_mark
    mm = (
        0.10 * index + option_mark
        if inst.option_type == "call"
        else max(0.10 * index, 0.10 * option_mark) + option_mark
    )
    if inst.option_type == "put":
        im = max(im, mm)
    return im, mm

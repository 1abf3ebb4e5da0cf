"""Risk parameters: versioned, hashable and flattened to field elements, because they are public proof inputs.

Leverage brackets follow Binance's published layout (notionalFloor, notionalCap, initial leverage as IMR,
maintMarginRatio, cum). Bracket membership: floor <= notional < cap, i.e. a notional exactly on a boundary belongs to
the upper bracket, as Binance's notionalFloor/notionalCap pairs read. Because cum_k = cum_{k-1} + floor_k x
(mmr_k - mmr_{k-1}), MM is continuous across edges, so the boundary choice never changes MM (it changes IM).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from zkmargin.circuits.solvency.shape import (
    MAX_BASIS_CAP_BPS,
    MIN_MM_RATIO_PPM,
    MIN_MMR_PPM,
    MIN_SHORT_OPTION_PPM,
)

from .fixedpoint import MAX_VALUE, RATE_SCALE, USD_SCALE, ceil_div, to_field
from .models import Frozen, MarketSnapshot

Ppm = Annotated[int, Field(ge=0, le=RATE_SCALE, strict=True)]
SignedMove = Annotated[int, Field(gt=-RATE_SCALE, le=10 * RATE_SCALE, strict=True)]  # price move in ppm, > -100%


class LeverageBracket(Frozen):
    notional_floor: int = Field(ge=0, lt=MAX_VALUE, strict=True)  # micro-USD
    notional_cap: int = Field(gt=0, le=MAX_VALUE, strict=True)
    imr: Ppm
    mmr: Ppm
    cum: int = Field(ge=0, lt=MAX_VALUE, strict=True)  # micro-USD maintenance amount


def cum_amounts(floors: list[int], mmrs: list[int]) -> list[int]:
    """cum_k = cum_{k-1} + floor_k * (mmr_k - mmr_{k-1}) (micro-USD), the continuity rule exchanges publish."""
    out = [0]
    for k in range(1, len(floors)):
        step = floors[k] * (mmrs[k] - mmrs[k - 1])
        if step % RATE_SCALE:
            raise ValueError(f"brackets.{k}: floor x mmr step is not a whole micro-USD")
        out.append(out[-1] + step // RATE_SCALE)
    return out


def make_brackets(rows: list[tuple[float, float, float, float]]) -> list[LeverageBracket]:
    """Build brackets from (floor USD, cap USD, imr, mmr) rows with cum derived by the continuity rule."""
    floors = [round(r[0] * USD_SCALE) for r in rows]
    mmrs = [round(r[3] * RATE_SCALE) for r in rows]
    cums = cum_amounts(floors, mmrs)
    return [
        LeverageBracket(
            notional_floor=f, notional_cap=round(r[1] * USD_SCALE), imr=round(r[2] * RATE_SCALE), mmr=m, cum=c
        )
        for f, r, m, c in zip(floors, rows, mmrs, cums, strict=True)
    ]


class HaircutTier(Frozen):
    value_floor: int = Field(ge=0, lt=MAX_VALUE, strict=True)  # micro-USD of the balance's value
    rate: Ppm  # collateral rate applied to the slice of value above value_floor (up to the next floor)


class ScenarioGrid(Frozen):
    """Portfolio-margin scenarios for one underlying: price moves x vol shocks, plus partial-coverage extremes."""

    price_moves: list[SignedMove] = Field(min_length=1)  # ppm of the underlying price
    vol_shocks: list[Annotated[int, Field(gt=-RATE_SCALE, le=10 * RATE_SCALE)]] = Field(min_length=1)  # relative ppm
    extreme_moves: list[SignedMove] = Field(default_factory=list)
    extreme_coverage: Ppm = 350_000
    short_expiry_shock_days: float = Field(default=30.0, gt=0)  # IV' = IV x (1 + shock x (30/max(floor, DTE))^p)
    short_expiry_power: float = Field(default=0.3, ge=0, le=2)
    short_expiry_floor_days: float = Field(default=1.0, gt=0)

    def scenarios(self) -> list[tuple[int, int, int]]:
        """(price move ppm, vol shock ppm, coverage ppm) in the published order."""
        s = [(m, v, RATE_SCALE) for m in self.price_moves for v in self.vol_shocks]
        return s + [(m, 0, self.extreme_coverage) for m in self.extreme_moves]


class OILiquidityTier(Frozen):
    """A dYdX-style liquidity tier (open-interest-scaled IMF, prover/engine/oi_margin.py): base IMF, maintenance
    fraction of the IMF, open-notional caps (micro-USD). Governed: part of RiskParameters.oi_tiers."""

    base_imf: Ppm
    maintenance_fraction: Ppm = RATE_SCALE
    open_notional_lower_cap: int = Field(default=0, ge=0, lt=MAX_VALUE, strict=True)
    open_notional_upper_cap: int = Field(default=0, ge=0, lt=MAX_VALUE, strict=True)

    @model_validator(mode="after")
    def _caps(self) -> OILiquidityTier:
        lo, hi = self.open_notional_lower_cap, self.open_notional_upper_cap
        if lo > hi:
            raise ValueError("open_notional_lower_cap: larger than the upper cap")
        if lo == hi and lo != 0:
            raise ValueError("open_notional_upper_cap: must exceed the lower cap (or both be 0: no scaling)")
        return self

    @property
    def scaled(self) -> bool:
        return self.open_notional_upper_cap != 0

    @property
    def mmf_ppm(self) -> int:
        """Maintenance margin fraction = base IMF x maintenance fraction, rounded up (dYdX rounds it down)."""
        return ceil_div(self.base_imf * self.maintenance_fraction, RATE_SCALE)


class RiskParameters(Frozen):
    """All public margin parameters of one version."""

    brackets: dict[str, list[LeverageBracket]]  # per perpetual/future symbol
    haircuts: dict[str, list[HaircutTier]]  # per collateral asset
    scenario_grids: dict[str, ScenarioGrid] = Field(default_factory=dict)  # per underlying
    mm_ratio: Ppm = 500_000  # portfolio MM = ceil(IM x mm_ratio)
    short_option_min: Ppm = 100_000  # minimum charge per short option unit, fraction of the underlying index
    basis_cap_bps: int = Field(default=50, ge=0, le=MAX_BASIS_CAP_BPS, strict=True)  # |perp mark - index| cap
    # per-instrument caps (a dated future's mark carries its term basis), else basis_cap_bps
    basis_caps: dict[str, Annotated[int, Field(ge=0, le=MAX_BASIS_CAP_BPS, strict=True)]] = Field(default_factory=dict)

    def basis_cap(self, symbol: str) -> int:
        return self.basis_caps.get(symbol, self.basis_cap_bps)

    min_implied_vol_ppm: Ppm = 100_000  # governed floor of every implied vol the audit accepts (10%)
    liquidation_fee: Ppm = 5_000
    correlations: dict[str, dict[str, Annotated[int, Field(ge=-RATE_SCALE, le=RATE_SCALE)]]] = Field(
        default_factory=dict
    )
    offsets_enabled: bool = False  # False = uncorrelated sum across underlyings (conservative default)
    # open-interest-scaled IM tiers per perpetual/future symbol (dYdX OIMF, prover/engine/oi_margin.py). Governed like
    # every field here: the governed document carries them, so its sha256 (the registry's paramsDocHash and, shifted,
    # the in-circuit version inside params_commitment) commits to them. Omitted from the JSON when empty, so
    # documents without tiers keep the hash they had before the field existed.
    oi_tiers: dict[str, OILiquidityTier] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _omit_empty_oi_tiers(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        if not self.oi_tiers:
            data.pop("oi_tiers", None)
        return data

    @model_validator(mode="after")
    def _check(self) -> RiskParameters:
        # hard floors, the same constants the circuit range-checks (circuits/solvency/shape.py)
        if self.mm_ratio < MIN_MM_RATIO_PPM:
            raise ValueError(f"mm_ratio: {self.mm_ratio} below the hard floor {MIN_MM_RATIO_PPM} ppm")
        if self.short_option_min < MIN_SHORT_OPTION_PPM:
            raise ValueError(f"short_option_min: below the hard floor {MIN_SHORT_OPTION_PPM} ppm")
        for sym, br in self.brackets.items():
            for k, b in enumerate(br):
                if b.mmr < MIN_MMR_PPM:
                    raise ValueError(f"brackets.{sym}.{k}.mmr: {b.mmr} below the hard floor {MIN_MMR_PPM} ppm")
                if b.imr < b.mmr:
                    raise ValueError(f"brackets.{sym}.{k}.imr: below its mmr")
        for sym, br in self.brackets.items():
            if not br or br[0].notional_floor != 0:
                raise ValueError(f"brackets.{sym}: first bracket must start at 0")
            for k in range(1, len(br)):
                if br[k].notional_floor != br[k - 1].notional_cap:
                    raise ValueError(f"brackets.{sym}.{k}.notional_floor: must equal the previous cap")
            cums = cum_amounts([b.notional_floor for b in br], [b.mmr for b in br])
            for k, (b, c) in enumerate(zip(br, cums, strict=True)):
                if b.cum != c:
                    raise ValueError(f"brackets.{sym}.{k}.cum: {b.cum} breaks continuity, expected {c}")
        for sym, oi in self.oi_tiers.items():
            if oi.mmf_ppm < MIN_MMR_PPM:
                raise ValueError(
                    f"oi_tiers.{sym}.maintenance_fraction: MMF {oi.mmf_ppm} below the hard floor {MIN_MMR_PPM} ppm"
                )
        for asset, tiers in self.haircuts.items():
            if not tiers or tiers[0].value_floor != 0:
                raise ValueError(f"haircuts.{asset}: first tier must start at 0")
            if any(tiers[k].value_floor <= tiers[k - 1].value_floor for k in range(1, len(tiers))):
                raise ValueError(f"haircuts.{asset}: tier floors must ascend")
        return self

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def version_hash(self) -> str:
        """sha256 of the canonical JSON: the stable identity of this parameter version."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def snapshot_hash(snapshot: MarketSnapshot) -> str:
    data = json.dumps(snapshot.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def to_field_elements(
    snapshot: MarketSnapshot,
    params: RiskParameters,
    risk_arrays: dict[str, tuple[list[int], list[int]]] | None = None,
) -> list[int]:
    """Deterministic flattening of the public inputs into non-negative integers < 2^250.

    Order: timestamp; then marks (instrument symbols sorted), index prices (underlyings sorted), spot prices
    (assets sorted), funding rates (sorted, signed); then for each bracketed symbol (sorted): bracket count and each
    bracket's (floor, cap, imr, mmr, cum); for each haircut asset (sorted): tier count and (floor, rate); mm_ratio,
    short_option_min, liquidation_fee; then for each risk-array instrument (sorted): scenario count, long array,
    short array (signed). Symbols themselves are committed through the parameter version hash, not here.
    Signed values use the 2^128 offset (fixedpoint.to_field).
    """
    out = [to_field(snapshot.timestamp)]
    out += [to_field(snapshot.marks[k]) for k in sorted(snapshot.marks)]
    out += [to_field(snapshot.index_prices[k]) for k in sorted(snapshot.index_prices)]
    out += [to_field(snapshot.spot_prices[k]) for k in sorted(snapshot.spot_prices)]
    out += [to_field(snapshot.funding_rates[k], signed=True) for k in sorted(snapshot.funding_rates)]
    for sym in sorted(params.brackets):
        br = params.brackets[sym]
        out.append(len(br))
        for b in br:
            out += [to_field(b.notional_floor), to_field(b.notional_cap), b.imr, b.mmr, to_field(b.cum)]
    for asset in sorted(params.haircuts):
        tiers = params.haircuts[asset]
        out.append(len(tiers))
        for t in tiers:
            out += [to_field(t.value_floor), t.rate]
    out += [params.mm_ratio, params.short_option_min, params.liquidation_fee]
    for sym in sorted(risk_arrays or {}):
        lo, hi = (risk_arrays or {})[sym]
        out.append(len(lo))
        out += [to_field(x, signed=True) for x in lo] + [to_field(x, signed=True) for x in hi]
    return out

"""Is a parameter change a pure tightening? The registry lets governance activate a change flagged "tightening"
after a short delay; this is the rule that flag must satisfy, and the rule the audit applies to "registered
parameters must be at least as strict as the recomputed ones".

Why pointwise comparisons and not only field by field: a ladder can loosen without any single rate falling, by
raising a bracket floor (a notional stays in the cheaper bracket longer) or by raising ``cum`` (MM = ceil(N x mmr)
- cum falls at every notional of that bracket). So the rates and MM are also compared at every bracket edge of both
ladders (and one micro-USD below each edge), which covers every piece of the common refinement of the two ladders:
rates are constant on a piece and MM is linear on it, so a loosening anywhere shows at one of those points.
``RiskParameters`` validation forbids a cum that breaks continuity, but ``model_copy(update=...)`` skips validation,
so the check does not rely on it.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from .fixedpoint import RATE_SCALE, USD_SCALE
from .params import HaircutTier, LeverageBracket, OILiquidityTier, RiskParameters, ScenarioGrid


def _bracket_at(ladder: list[LeverageBracket], notional: int) -> int | None:
    """Index of the bracket with floor <= notional < cap (None beyond the ladder)."""
    for k, b in enumerate(ladder):
        if b.notional_floor <= notional < b.notional_cap:
            return k
    return None


def _mm(b: LeverageBracket, notional: int) -> int:
    """MM of one position of this notional in bracket b: ceil(N x mmr / 1e6) - cum (micro-USD), as the engine."""
    return -(-notional * b.mmr // RATE_SCALE) - b.cum


def _usd(x: int) -> str:
    return f"{x / USD_SCALE:,.6f}".rstrip("0").rstrip(".") + " USD"


def _ladder_violations(sym: str, old: list[LeverageBracket], new: list[LeverageBracket]) -> list[str]:
    out: list[str] = []
    flagged: set[str] = set()
    for k in range(min(len(old), len(new))):
        o, n = old[k], new[k]
        if n.mmr < o.mmr:
            out.append(f"brackets.{sym}.{k}.mmr: lowered from {o.mmr} to {n.mmr} ppm")
            flagged.add("mmr")
        if n.imr < o.imr:
            out.append(f"brackets.{sym}.{k}.imr: lowered from {o.imr} to {n.imr} ppm")
            flagged.add("imr")
        if k and n.notional_floor > o.notional_floor:
            out.append(
                f"brackets.{sym}.{k}.notional_floor: raised from {_usd(o.notional_floor)} to {_usd(n.notional_floor)}"
                " (notionals in between stay in the cheaper bracket)"
            )
    top = min(old[-1].notional_cap, new[-1].notional_cap)
    edges = {b.notional_floor for b in old + new} | {b.notional_cap for b in old + new}
    points = sorted({x for e in edges for x in (e, e - 1) if 0 <= x < top})
    for x in points:
        ko, kn = _bracket_at(old, x), _bracket_at(new, x)
        if ko is None or kn is None:
            continue
        o, n = old[ko], new[kn]
        for field in ("mmr", "imr"):
            if field not in flagged and getattr(n, field) < getattr(o, field):
                out.append(
                    f"brackets.{sym}.{kn}.{field}: {getattr(n, field)} ppm at notional {_usd(x)}, "
                    f"below the previous {getattr(o, field)} ppm"
                )
                flagged.add(field)
        if "mm" not in flagged and _mm(n, x) < _mm(o, x):
            out.append(
                f"brackets.{sym}.{kn}.cum: MM at notional {_usd(x)} falls from {_mm(o, x)} to {_mm(n, x)} micro-USD"
            )
            flagged.add("mm")
    return out


def _haircut_violations(asset: str, old: list[HaircutTier], new: list[HaircutTier]) -> list[str]:
    """Collateral rate (share of value counted) must not rise at any value: compared at every tier floor of both."""

    def rate_at(tiers: list[HaircutTier], v: int) -> tuple[int, int]:
        k = max(i for i, t in enumerate(tiers) if t.value_floor <= v)
        return k, tiers[k].rate

    for v in sorted({t.value_floor for t in old + new}):
        _, ro = rate_at(old, v)
        kn, rn = rate_at(new, v)
        if rn > ro:
            return [f"haircuts.{asset}.{kn}.rate: {rn} ppm at value {_usd(v)}, above the previous {ro} ppm"]
    return []


def _widen(name: str, old: list[int], new: list[int], out: list[str]) -> None:
    if not old:
        return
    if not new:
        out.append(f"{name}: removed (was {min(old)}..{max(old)} ppm)")
        return
    if max(new) < max(old):
        out.append(f"{name}: largest up move narrowed from {max(old)} to {max(new)} ppm")
    if min(new) > min(old):
        out.append(f"{name}: largest down move narrowed from {min(old)} to {min(new)} ppm")


def _grid_violations(u: str, old: ScenarioGrid, new: ScenarioGrid) -> list[str]:
    out: list[str] = []
    p = f"scenario_grids.{u}"
    _widen(f"{p}.price_moves", old.price_moves, new.price_moves, out)
    if len(new.price_moves) < len(old.price_moves):
        out.append(f"{p}.price_moves: {len(new.price_moves)} moves, fewer than {len(old.price_moves)}")
    _widen(f"{p}.vol_shocks", old.vol_shocks, new.vol_shocks, out)
    _widen(f"{p}.extreme_moves", old.extreme_moves, new.extreme_moves, out)
    if old.extreme_moves and new.extreme_coverage < old.extreme_coverage:
        out.append(f"{p}.extreme_coverage: lowered from {old.extreme_coverage} to {new.extreme_coverage} ppm")
    if new.short_expiry_shock_days < old.short_expiry_shock_days:
        out.append(f"{p}.short_expiry_shock_days: lowered from {old.short_expiry_shock_days}")
    if new.short_expiry_floor_days > old.short_expiry_floor_days:
        out.append(f"{p}.short_expiry_floor_days: raised from {old.short_expiry_floor_days} (caps the IV shock)")
    if new.short_expiry_power != old.short_expiry_power:
        out.append(f"{p}.short_expiry_power: changed (it lowers the shock on one side of 30 days either way)")
    return out


def _imf(t: OILiquidityTier, open_notional: int) -> Fraction:
    """The tier's exact IMF at an open notional, as prover/engine/oi_margin.py computes it."""
    base = Fraction(t.base_imf, RATE_SCALE)
    if not t.scaled:
        return base
    span = t.open_notional_upper_cap - t.open_notional_lower_cap
    over = min(max(open_notional - t.open_notional_lower_cap, 0), span)
    return base + (1 - base) * Fraction(over, span)


def _oi_violations(sym: str, old: OILiquidityTier, new: OILiquidityTier) -> list[str]:
    """IMF(open notional) must not fall anywhere: both are piecewise linear in the open notional with kinks at the
    caps and constant beyond the last one, so comparing at 0 and at every cap of both tiers covers every piece.
    MM = N x base x fraction must not fall either (it does not scale with open interest)."""
    out: list[str] = []
    points = {0, old.open_notional_lower_cap, old.open_notional_upper_cap}
    points |= {new.open_notional_lower_cap, new.open_notional_upper_cap}
    for on in sorted(points):
        if _imf(new, on) < _imf(old, on):
            out.append(f"oi_tiers.{sym}: initial margin fraction at open notional {_usd(on)} falls from "
                       f"{float(_imf(old, on)):.6f} to {float(_imf(new, on)):.6f}")  # fmt: skip
            break
    if new.base_imf * new.maintenance_fraction < old.base_imf * old.maintenance_fraction:
        out.append(f"oi_tiers.{sym}.maintenance_fraction: maintenance fraction of notional lowered")
    return out


_NOT_LOWER: tuple[tuple[str, Callable[[RiskParameters], int]], ...] = (
    ("mm_ratio", lambda p: p.mm_ratio),
    ("short_option_min", lambda p: p.short_option_min),
    ("min_implied_vol_ppm", lambda p: p.min_implied_vol_ppm),
)


def tightening_violations(old: RiskParameters, new: RiskParameters) -> list[str]:
    """Every way ``new`` is looser than ``old`` (empty: ``new`` is a pure tightening), each naming the field.

        Checked: per bracketed symbol, mmr/imr per bracket and at every edge, bracket floors, MM at every edge (cum);
        symbols added or removed; per collateral asset, the collateral rate at every tier floor, assets added; scenario
        grids (price-move, vol-shock and extreme ranges, move count, extreme coverage, short-expiry shock) and grids
        added or removed; ``mm_ratio``, ``short_option_min``, ``min_implied_vol_ppm`` not lower; ``basis_cap_bps`` not
        higher; offsets not newly enabled and no correlation lowered; open-interest IM tiers (IMF at every cap of both,
    MM fraction) not lower, none added or removed. ``liquidation_fee`` is not judged (no margin
        requirement depends on it)."""
    out: list[str] = []
    for sym in sorted(old.brackets.keys() | new.brackets.keys()):
        if sym not in new.brackets:
            out.append(f"brackets.{sym}: removed (its positions would have no margin rule)")
        elif sym not in old.brackets:
            out.append(f"brackets.{sym}: new symbol (listing an instrument is not a tightening)")
        else:
            out += _ladder_violations(sym, old.brackets[sym], new.brackets[sym])
    for asset in sorted(new.haircuts):
        if asset not in old.haircuts:
            out.append(f"haircuts.{asset}: new collateral asset")
        else:
            out += _haircut_violations(asset, old.haircuts[asset], new.haircuts[asset])
    for u in sorted(old.scenario_grids.keys() | new.scenario_grids.keys()):
        if u not in new.scenario_grids:
            out.append(f"scenario_grids.{u}: removed")
        elif u not in old.scenario_grids:
            out.append(f"scenario_grids.{u}: new grid (portfolio margin for a new underlying)")
        else:
            out += _grid_violations(u, old.scenario_grids[u], new.scenario_grids[u])
    for sym in sorted(old.oi_tiers.keys() | new.oi_tiers.keys()):
        if sym not in new.oi_tiers:
            out.append(f"oi_tiers.{sym}: removed (its IM and MM fall back to the brackets)")
        elif sym not in old.oi_tiers:
            out.append(f"oi_tiers.{sym}: new tier (it replaces the brackets' IM and MM for the symbol)")
        else:
            out += _oi_violations(sym, old.oi_tiers[sym], new.oi_tiers[sym])
    for name, get in _NOT_LOWER:
        if get(new) < get(old):
            out.append(f"{name}: lowered from {get(old)} to {get(new)} ppm")
    if new.basis_cap_bps > old.basis_cap_bps:
        out.append(f"basis_cap_bps: raised from {old.basis_cap_bps} to {new.basis_cap_bps}")
    for sym in sorted(set(old.basis_caps) | set(new.basis_caps)):
        if new.basis_cap(sym) > old.basis_cap(sym):
            out.append(f"basis_caps.{sym}: raised from {old.basis_cap(sym)} to {new.basis_cap(sym)}")
    if new.offsets_enabled and not old.offsets_enabled:
        out.append("offsets_enabled: turned on (cross-underlying offsets lower IM)")
    if new.offsets_enabled:
        for a, row in sorted(new.correlations.items()):
            for b, rho in sorted(row.items()):
                before = old.correlations.get(a, {}).get(b)
                if before is not None and rho < before:
                    out.append(f"correlations.{a}.{b}: lowered from {before} to {rho} ppm")
    return out

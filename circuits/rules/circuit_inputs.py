"""From published documents to the circuit's parameters: the batch layout and :class:`SolvencyParams`.

The operator's witness builder and the auditor run this same function on the same public inputs (the governed
risk parameters, the instrument table, the epoch's market snapshot); the audit fails on any difference with what
was proven. The only per-epoch inputs are market data, and every price in them must be the attested oracle price:
:func:`check_snapshot_prices` enforces index = spot = public price for every slot's underlying.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zkmargin.circuits.solvency.params import SolvencyParams
from zkmargin.circuits.solvency.shape import SLOT_LINEAR, SLOT_OPTION, VALUE_TOP, SolvencyShape

from .black76 import black76
from .fixedpoint import PRICE_SCALE
from .models import SECONDS_PER_YEAR, Instrument, MarketSnapshot
from .params import RiskParameters
from .risk_arrays import RiskArrays, build_risk_arrays

USD_ASSET = "USD"  # the asset slot named USD holds each account's cash (realised PnL, isolated margins)


class LayoutError(ValueError):
    """The published layout and the instrument table / parameters disagree; the message names the slot."""


@dataclass(frozen=True)
class BatchLayout:
    """Slot j = instrument ``instruments[j]``; collateral slot a = ``assets[a]`` (published with the parameters)."""

    instruments: tuple[str, ...]
    assets: tuple[str, ...]
    shape: SolvencyShape


def make_layout(
    instruments: Mapping[str, Instrument],
    params: RiskParameters,
    slots: Sequence[str],
    assets: Sequence[str],
    accounts: int,
    brackets: int | None = None,
    tiers: int | None = None,
) -> BatchLayout:
    """Derive the shape: risk-array underlyings from the scenario grids, each slot's index price from the asset
    slot named like its underlying, K and T from the parameters unless given."""
    unders: list[str] = []
    su, sp, sk = [], [], []
    scen = 1
    for sym in slots:
        if sym not in instruments:
            raise LayoutError(f"layout.instruments: {sym!r} is not in the instrument table")
        inst = instruments[sym]
        if inst.underlying not in assets:
            raise LayoutError(
                f"layout.instruments: {sym!r} has underlying {inst.underlying!r}, which is not an asset slot "
                "(its oracle price must be public: add it as an asset, haircut rate 0 if it is not collateral)"
            )
        sp.append(list(assets).index(inst.underlying))
        sk.append(SLOT_OPTION if inst.kind == "option" else SLOT_LINEAR)
        grid = params.scenario_grids.get(inst.underlying)
        if grid is not None:
            if inst.underlying not in unders:
                unders.append(inst.underlying)
            su.append(unders.index(inst.underlying))
            scen = len(grid.scenarios())
        elif inst.kind == "option":
            raise LayoutError(f"layout.instruments: option {sym!r} needs a scenario grid for {inst.underlying!r}")
        else:
            su.append(-1)
    k = brackets or max((len(params.brackets.get(s, [])) for s in slots), default=1) or 1
    t = tiers or max((len(params.haircuts.get(a, [])) for a in assets), default=1) or 1
    usd = list(assets).index(USD_ASSET) if USD_ASSET in assets else -1
    shape = SolvencyShape(accounts, len(assets), len(slots), k, t, scen, tuple(su), tuple(sp), tuple(sk), usd)
    return BatchLayout(tuple(slots), tuple(assets), shape)


GOVERNED_FORMAT = "zkmargin/governed-parameters/v1"


def governed_document(
    params: RiskParameters,
    instruments: Mapping[str, Instrument],
    layout: BatchLayout,
    methodology_recipe: str | None = None,
) -> dict[str, Any]:
    """The parameter document governance approves (its sha256 is on-chain, its version is in-circuit): the risk
    parameters, the instrument table of the slots (strikes and expiries decide option marks), the layout and, for
    dynamic margin, the recipe hash of the methodology the rates must be at least as strict as."""
    doc: dict[str, Any] = {
        "format": GOVERNED_FORMAT,
        "risk_parameters": params.model_dump(mode="json"),
        "instruments": {s: instruments[s].model_dump(mode="json") for s in sorted(set(layout.instruments))},
        "layout": {"instruments": list(layout.instruments), "assets": list(layout.assets)},
    }
    if methodology_recipe is not None:
        doc["methodology_recipe_sha256"] = methodology_recipe
    return doc


def document_bytes(doc: Mapping[str, Any]) -> bytes:
    """The canonical JSON bytes of a governed document (what governance publishes and hashes)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def document_hash(doc: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a governed document: the registry's ``paramsDocHash``."""
    return hashlib.sha256(document_bytes(doc)).hexdigest()


def document_version(doc: Mapping[str, Any]) -> int:
    """The in-circuit parameter version: the document hash shifted under 2^248."""
    return int(document_hash(doc), 16) >> 8


def option_mark(inst: Instrument, snap: MarketSnapshot) -> int:
    """The published option mark rule: Black-76 at the index on the snapshot's vol surface, rounded, at least 1."""
    assert inst.strike is not None and inst.expiry is not None and inst.option_type is not None
    f = snap.index_prices[inst.underlying] / PRICE_SCALE
    t = max(inst.expiry - snap.timestamp, 0) / SECONDS_PER_YEAR
    vol = snap.vol_surfaces[inst.underlying].vol(inst.strike, inst.expiry, snap.timestamp)
    price = black76(f, inst.strike / PRICE_SCALE, t, vol, inst.option_type == "call").price
    return max(1, round(price * PRICE_SCALE))


def check_snapshot_prices(layout: BatchLayout, snap: MarketSnapshot, prices: Sequence[int] | None = None) -> None:
    """Every slot's underlying index equals the spot (oracle) price of its asset slot, and, given the attested
    public prices, the spot prices equal them. Raises LayoutError naming the asset."""
    for a, asset in enumerate(layout.assets):
        if asset not in snap.spot_prices:
            raise LayoutError(f"snapshot.spot_prices: no price for asset slot {asset!r}")
        if prices is not None and snap.spot_prices[asset] != prices[a]:
            raise LayoutError(f"snapshot.spot_prices.{asset}: {snap.spot_prices[asset]} != attested {prices[a]}")
    for j, _sym in enumerate(layout.instruments):
        u = layout.assets[layout.shape.slot_price[j]]
        if snap.index_prices.get(u) != snap.spot_prices[u]:
            raise LayoutError(f"snapshot.index_prices.{u}: must equal the oracle (spot) price {snap.spot_prices[u]}")


def solvency_params(
    instruments: Mapping[str, Instrument],
    params: RiskParameters,
    snap: MarketSnapshot,
    layout: BatchLayout,
    risk_arrays: RiskArrays | None = None,
) -> SolvencyParams:
    """The circuit's parameter copy, padded to the shape. Padding brackets/tiers are unreachable (floor 2^62) and
    repeat the last real rate so that the hard floors hold on every entry."""
    sh = layout.shape
    check_snapshot_prices(layout, snap)
    ra = risk_arrays or build_risk_arrays(dict(instruments), snap, params.scenario_grids, params.short_option_min)
    fl, mm, cu = [], [], []
    for sym in layout.instruments:
        inst = instruments[sym]
        if inst.kind == "option":
            rows = [(0, 0, 0)]  # options never pay tiered MM: their quantity is zero outside portfolio mode
        elif sym in params.brackets:
            rows = [(b.notional_floor, b.mmr, b.cum) for b in params.brackets[sym]]
        else:
            raise LayoutError(f"risk_parameters.brackets: no brackets for {sym!r}")
        if len(rows) > sh.brackets:
            raise LayoutError(f"{sym}: {len(rows)} brackets exceed the shape's {sh.brackets}")
        rows += [(VALUE_TOP, rows[-1][1], rows[-1][2])] * (sh.brackets - len(rows))
        fl.append(tuple(r[0] for r in rows))
        mm.append(tuple(r[1] for r in rows))
        cu.append(tuple(r[2] for r in rows))
    hf, hr = [], []
    for asset in layout.assets:
        if asset == USD_ASSET and asset not in params.haircuts:
            raise LayoutError("risk_parameters.haircuts.USD: the USD cash slot needs one tier at 100%")
        trs = [(t.value_floor, t.rate) for t in params.haircuts.get(asset, [])] or [(0, 0)]  # not collateral
        if len(trs) > sh.tiers:
            raise LayoutError(f"{asset}: {len(trs)} haircut tiers exceed the shape's {sh.tiers}")
        trs += [(VALUE_TOP, trs[-1][1])] * (sh.tiers - len(trs))
        hf.append(tuple(t[0] for t in trs))
        hr.append(tuple(t[1] for t in trs))
    zero = tuple([0] * sh.scenarios)
    longs, shorts = [], []
    for j, sym in enumerate(layout.instruments):
        if sh.slot_underlying[j] >= 0:
            if sym not in ra.long or len(ra.long[sym]) != sh.scenarios:
                raise LayoutError(f"{sym}: no risk array with the shape's {sh.scenarios} scenarios")
            longs.append(tuple(ra.long[sym]))
            shorts.append(tuple(ra.short[sym]))
        else:
            longs.append(zero)
            shorts.append(zero)
    out = SolvencyParams(
        marks=tuple(snap.marks[s] for s in layout.instruments),
        bracket_floor=tuple(fl),
        bracket_mmr=tuple(mm),
        bracket_cum=tuple(cu),
        haircut_floor=tuple(hf),
        haircut_rate=tuple(hr),
        mm_ratio=params.mm_ratio,
        short_option_min_ppm=params.short_option_min,
        basis_cap_bps=tuple(params.basis_cap(s) if instruments[s].kind != "option" else 0 for s in layout.instruments),
        risk_long=tuple(longs),
        risk_short=tuple(shorts),
        version=document_version(governed_document(params, instruments, layout)),
    )
    out.validate(sh, [snap.spot_prices[a] for a in layout.assets])
    return out

"""The audit's parameter checks: rebuild every circuit parameter from public documents, never trust the copy.

Inputs are what an epoch bundle publishes: the governed parameter document (risk parameters, the slots' instrument
table, the layout; its sha256 is what governance registered on-chain) and the epoch's market snapshot (marks, index
and spot prices, vol surfaces). The audit re-derives the layout, the option marks (Black-76 on the published
surface), the risk arrays and :class:`SolvencyParams` with the same public rules the operator runs
(``zkmargin.circuits.rules``), and compares both commitments with the proven public signals. A mark moved, a rate
lowered, a vol surface pushed under the governed floor or a price that is not the attested oracle price each fail
a named check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from zkmargin.circuits.rules.circuit_inputs import (
    BatchLayout,
    LayoutError,
    check_snapshot_prices,
    document_hash,
    make_layout,
    option_mark,
    solvency_params,
)
from zkmargin.circuits.rules.models import Instrument, MarketSnapshot
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.solvency.params import ParamsError, SolvencyParams
from zkmargin.circuits.solvency.shape import SolvencyShape

from .report import Report


@dataclass(frozen=True)
class RebuiltParameters:
    """What the audit derived: the document hash (compare with the registry's) and the parameter copy."""

    document_sha256: str
    params: SolvencyParams | None
    risk_parameters: RiskParameters | None
    layout: BatchLayout | None


def _parse(rep: Report, governed: Mapping[str, Any], market: Any) -> tuple[RiskParameters, dict[str, Instrument],
                                                                         MarketSnapshot] | None:  # fmt: skip
    try:
        rp = RiskParameters.model_validate(governed["risk_parameters"])
        insts = {s: Instrument.model_validate(d) for s, d in dict(governed["instruments"]).items()}
        snap = MarketSnapshot.model_validate(market)
    except (KeyError, TypeError, ValidationError) as e:
        rep.add("params: governed document and market snapshot well formed", False, str(e).splitlines()[0])
        return None
    rep.add("params: governed document and market snapshot well formed", True)
    return rp, insts, snap


def audit_parameters(
    rep: Report,
    governed: Mapping[str, Any],
    market: Any,
    shape: SolvencyShape,
    prices: Sequence[int],
    params_commitment: int,
    market_commitment: int,
) -> RebuiltParameters:
    """Add the parameter checks to ``rep``; ``prices`` are the attested public oracle prices of the asset slots."""
    doc_hash = document_hash(governed)
    parsed = _parse(rep, governed, market)
    if parsed is None:
        return RebuiltParameters(doc_hash, None, None, None)
    rp, insts, snap = parsed
    lay = governed.get("layout") or {}
    try:
        layout = make_layout(
            insts, rp, list(lay.get("instruments", [])), list(lay.get("assets", [])), shape.accounts,
            shape.brackets, shape.tiers,
        )  # fmt: skip
    except (LayoutError, ValueError) as e:
        rep.add("params: layout rebuilt from the governed document = the proven shape", False, str(e))
        return RebuiltParameters(doc_hash, None, rp, None)
    rep.add("params: layout rebuilt from the governed document = the proven shape", layout.shape == shape)

    try:
        check_snapshot_prices(layout, snap, prices)
        rep.add("market: index = spot = attested oracle price for every slot and asset", True)
    except LayoutError as e:
        rep.add("market: index = spot = attested oracle price for every slot and asset", False, str(e))

    bad_marks = [
        s
        for s in layout.instruments
        if insts[s].kind == "option" and (s not in snap.marks or snap.marks[s] != option_mark(insts[s], snap))
    ]
    rep.add(
        "market: option marks = Black-76 on the published vol surface at the attested index",
        not bad_marks,
        f"differ: {', '.join(bad_marks[:5])}" if bad_marks else "",
    )
    floor = rp.min_implied_vol_ppm / 1_000_000
    used = {insts[s].underlying for s in layout.instruments if insts[s].kind == "option"}
    low = [
        f"{u} {v:.4f}"
        for u in sorted(used)
        if u in snap.vol_surfaces
        for row in snap.vol_surfaces[u].vols
        for v in row
        if v < floor
    ]
    rep.add(
        f"market: implied vols >= the governed floor {floor:.2%}",
        not low and used <= set(snap.vol_surfaces),
        f"below: {', '.join(low[:5])}" if low else "",
    )

    try:
        sp = solvency_params(insts, rp, snap, layout)
    except (LayoutError, ParamsError, KeyError, ValueError) as e:
        rep.add("params: circuit parameters rebuilt from the documents", False, str(e))
        return RebuiltParameters(doc_hash, None, rp, layout)
    rep.add(
        "params: params_commitment rebuilt from the governed document = the proven one",
        sp.commitment(shape) == params_commitment,
    )
    rep.add(
        "market: market_commitment rebuilt from the snapshot (marks, risk arrays) = the proven one",
        sp.market_commitment(shape) == market_commitment,
    )
    try:
        sp.validate(shape, prices)
        rep.add("params: hard floors, continuity and basis cap hold", True)
    except ParamsError as e:
        rep.add("params: hard floors, continuity and basis cap hold", False, str(e))
    return RebuiltParameters(doc_hash, sp, rp, layout)

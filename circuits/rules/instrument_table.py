"""The governed instrument table (issue 15) and the venue circuit's parameters built from it.

The table lists every instrument the venue circuit can prove a position in, by id: id (its row; ids are stable
across versions, a delisted instrument keeps its row), symbol, underlying, kind (perpetual, dated future, option),
settlement (linear; **inverse is listed but not yet supported in the circuit**: the witness builder refuses it by
name), contract size, strike, expiry, option type, bracket ladder id, risk-array row and basis cap. Collateral
assets are listed by id (position + 1) and bracket ladders by id (position + 1; ladder 0 is the zero ladder of
options). It is part of the governed document governance approves (:func:`venue_governed_document`): its sha256 is
the registry's document hash, its packed static columns are committed in-circuit (``table_commitment`` inside
``params_commitment``), so a changed row is a changed parameter commitment.

Id order (checked by :meth:`InstrumentTable._check`): risk-array instruments first, each underlying's contiguous, so
that an account's positions sorted by id visit each portfolio underlying once (the circuit's group carry over
linked leaves relies on it for exactness; a different order only ever adds margin).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from zkmargin.circuits.solvency.params import ParamsError
from zkmargin.circuits.solvency.shape import VALUE_TOP
from zkmargin.circuits.solvency.venue_params import InstrumentRow, VenueParams
from zkmargin.circuits.solvency.venue_shape import VenueShape

from .fixedpoint import RATE_SCALE
from .models import Frozen, Instrument, MarketSnapshot
from .params import LeverageBracket, RiskParameters
from .price_box_document import DEFAULT_BOX_PPM, PRICE_BOX_KEY, GovernedBox, governed_box, validate_box
from .risk_arrays import RiskArrays, build_risk_arrays

TABLE_FORMAT = "zkmargin/instrument-table/v1"
VENUE_GOVERNED_FORMAT = "zkmargin/venue-governed-parameters/v1"
# the audit's check that options can be valued at the box's edges (docs/statement.md, "Price boxes")
BOX_GRID_CHECK = "box: scenario grid spans the box (nodes at exactly -b and +b, zero vol shock, same index per grid)"
KIND_RANK = {"perpetual": 0, "future": 1, "option": 2}


class TableInstrument(Frozen):
    id: int = Field(ge=1, strict=True)
    symbol: str = Field(min_length=1, max_length=64)
    underlying: str = Field(min_length=1, max_length=16)
    kind: Literal["perpetual", "future", "option"]
    settlement: Literal["linear", "inverse"] = "linear"
    contract_size: int = Field(default=1, gt=0, strict=True)
    strike: int | None = None
    expiry: int | None = None
    option_type: Literal["call", "put"] | None = None
    ladder: int = Field(ge=0, strict=True)  # 0 for options
    risk_row: int = Field(default=0, ge=0, strict=True)  # 0: no risk array
    basis_cap_bps: int = Field(default=0, ge=0, strict=True)

    def instrument(self) -> Instrument:
        """The engine's model of this row."""
        return Instrument(
            symbol=self.symbol,
            kind=self.kind,
            underlying=self.underlying,
            contract_size=self.contract_size,
            expiry=self.expiry,
            strike=self.strike,
            option_type=self.option_type,
        )


class InstrumentTable(Frozen):
    format: Literal["zkmargin/instrument-table/v1"] = "zkmargin/instrument-table/v1"
    version: int = Field(ge=1, strict=True)
    assets: list[str] = Field(min_length=1)  # asset id = index + 1
    ladders: list[list[LeverageBracket]]  # ladder id = index + 1
    instruments: list[TableInstrument]  # id = index + 1

    @model_validator(mode="after")
    def _check(self) -> InstrumentTable:
        if len(set(self.assets)) != len(self.assets):
            raise ValueError("assets: each asset once")
        seen: set[str] = set()
        rows: list[int] = []
        groups: list[str] = []
        for i, r in enumerate(self.instruments):
            where = f"instruments.{i}"
            if r.id != i + 1:
                raise ValueError(f"{where}.id: ids are the rows 1..n in order, expected {i + 1}")
            if r.symbol in seen:
                raise ValueError(f"{where}.symbol: {r.symbol!r} listed twice")
            seen.add(r.symbol)
            if r.underlying not in self.assets:
                raise ValueError(f"{where}.underlying: {r.underlying!r} is not an asset (its price must be public)")
            if r.kind == "option" and (r.ladder != 0 or r.risk_row == 0):
                raise ValueError(f"{where}: an option has ladder 0 and a risk-array row")
            if r.kind != "option" and not 1 <= r.ladder <= len(self.ladders):
                raise ValueError(f"{where}.ladder: {r.ladder} is not a ladder id in [1, {len(self.ladders)}]")
            if r.risk_row:
                if groups and groups[-1] != r.underlying and r.underlying in groups:
                    raise ValueError(f"{where}: risk-array instruments of {r.underlying!r} must have contiguous ids")
                if i != len(rows):
                    raise ValueError(f"{where}: risk-array instruments come first (ids 1..m)")
                groups.append(r.underlying)
                rows.append(i + 1)
                if r.risk_row != len(rows):
                    raise ValueError(f"{where}.risk_row: rows are numbered 1..m in id order, expected {len(rows)}")
        return self

    def by_symbol(self) -> dict[str, TableInstrument]:
        return {r.symbol: r for r in self.instruments}

    def asset_id(self, asset: str) -> int:
        return self.assets.index(asset) + 1

    @property
    def risk_rows(self) -> int:
        return sum(1 for r in self.instruments if r.risk_row)


def build_instrument_table(
    instruments: Mapping[str, Instrument], params: RiskParameters, assets: Sequence[str], version: int = 1
) -> InstrumentTable:
    """The table of every instrument of the engine: ids in the order of the module docstring, one ladder per
    distinct bracket list, risk-array rows for the underlyings with a scenario grid."""
    grids = params.scenario_grids

    def key(inst: Instrument) -> tuple[Any, ...]:
        return (inst.underlying, KIND_RANK[inst.kind], inst.expiry or 0, inst.strike or 0, inst.option_type or "")

    ra = sorted((i for i in instruments.values() if i.underlying in grids), key=lambda i: (*key(i), i.symbol))
    rest = sorted((i for i in instruments.values() if i.underlying not in grids), key=lambda i: (*key(i), i.symbol))
    ladders: list[list[LeverageBracket]] = []
    ladder_ids: dict[str, int] = {}
    rows = []
    for n, inst in enumerate([*ra, *rest], 1):
        lid = 0
        if inst.kind == "option" and inst.underlying not in grids:
            raise ParamsError(
                f"risk_parameters.scenario_grids: option {inst.symbol!r} needs a grid for {inst.underlying!r}"
            )
        if inst.kind != "option":
            if inst.symbol not in params.brackets:
                raise ParamsError(f"risk_parameters.brackets: no brackets for {inst.symbol!r}")
            sig = json.dumps([b.model_dump() for b in params.brackets[inst.symbol]], sort_keys=True)
            if sig not in ladder_ids:
                ladders.append(list(params.brackets[inst.symbol]))
                ladder_ids[sig] = len(ladders)
            lid = ladder_ids[sig]
        rows.append(
            TableInstrument(
                id=n,
                symbol=inst.symbol,
                underlying=inst.underlying,
                kind=inst.kind,
                contract_size=inst.contract_size,
                strike=inst.strike,
                expiry=inst.expiry,
                option_type=inst.option_type,
                ladder=lid,
                risk_row=n if inst.underlying in grids else 0,
                basis_cap_bps=params.basis_cap(inst.symbol) if inst.kind != "option" else 0,
            )
        )
    return InstrumentTable(version=version, assets=list(assets), ladders=ladders, instruments=rows)


def venue_governed_document(
    params: RiskParameters, table: InstrumentTable, box: GovernedBox | None = None
) -> dict[str, Any]:
    """The document governance approves for the venue circuit: the risk parameters, the whole instrument table and
    (when not a point box) the price box (``price_box_document``)."""
    doc: dict[str, Any] = {
        "format": VENUE_GOVERNED_FORMAT,
        "risk_parameters": params.model_dump(mode="json"),
        "instrument_table": table.model_dump(mode="json"),
    }
    if box is not None and not box.is_point:
        doc[PRICE_BOX_KEY] = box.document_field()
    return doc


STABLE_ASSETS = frozenset({"USD", "USDT", "USDC", "DAI", "FDUSD", "TUSD", "USDE", "PYUSD"})


def default_box(table: InstrumentTable, box_ppm: int = DEFAULT_BOX_PPM) -> GovernedBox:
    """The box the operator's documents carry by default: b = 10 %, moving every asset that is the underlying of an
    instrument or a volatile collateral asset (not USD cash nor a stablecoin, which stay at their point price)."""
    unds = {r.underlying for r in table.instruments}
    ids = tuple(i for i, a in enumerate(table.assets, 1) if a not in STABLE_ASSETS or a in unds)
    return validate_box(box_ppm, ids if box_ppm else (), len(table.assets))


def box_nodes(params: RiskParameters, table: InstrumentTable, box_ppm: int) -> tuple[int, int]:
    """The scenario indices of the price moves -b and +b at zero vol shock, the same in every grid a risk-array
    instrument uses (the circuit reads both box columns of every risk array at one pair of indices); (0, 0) for a
    point box or without risk arrays. Raises ParamsError naming :data:`BOX_GRID_CHECK` when a grid lacks them."""
    grids = sorted({r.underlying for r in table.instruments if r.risk_row})
    if not box_ppm or not grids:
        return (0, 0)
    found: set[tuple[int, int]] = set()
    for u in grids:
        sc = params.scenario_grids[u].scenarios()
        try:
            found.add((sc.index((-box_ppm, 0, RATE_SCALE)), sc.index((box_ppm, 0, RATE_SCALE))))
        except ValueError:
            raise ParamsError(f"{BOX_GRID_CHECK}: scenario_grids.{u} has no node at -+{box_ppm} ppm") from None
    if len(found) != 1:
        raise ParamsError(f"{BOX_GRID_CHECK}: the grids put the box's nodes at different indices {sorted(found)}")
    return found.pop()


def venue_document_version(doc: Mapping[str, Any]) -> int:
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return int(hashlib.sha256(raw).hexdigest(), 16) >> 8


def venue_shape(
    table: InstrumentTable,
    params: RiskParameters,
    accounts: int,
    positions: int,
    balances: int,
    instruments: int | None = None,
    ladders: int | None = None,
    risk_rows: int | None = None,
    scenarios: int | None = None,
    box: int = 1,
) -> VenueShape:
    """A shape that holds the table (sizes may be given larger, to leave room for listings without a new key);
    ``box`` 1 for the price-box circuit, 0 for point prices."""
    k = max((len(x) for x in table.ladders), default=1)
    t = max((len(params.haircuts.get(a, [])) for a in table.assets), default=1) or 1
    grids = params.scenario_grids
    s = scenarios or max((len(g.scenarios()) for g in grids.values()), default=1)
    return VenueShape(
        accounts=accounts,
        positions=positions,
        balances=balances,
        instruments=instruments or len(table.instruments) + 1,
        assets=len(table.assets),
        ladders=ladders or len(table.ladders) + 1,
        brackets=k,
        tiers=t,
        scenarios=s,
        risk_rows=risk_rows or table.risk_rows + 1,
        usd_asset=table.asset_id("USD") if "USD" in table.assets else 0,
        box=box,
    )


def venue_params(
    table: InstrumentTable,
    params: RiskParameters,
    snap: MarketSnapshot,
    shape: VenueShape,
    risk_arrays: RiskArrays | None = None,
    box: GovernedBox | None = None,
) -> VenueParams:
    """The circuit's copy of the governed table and the epoch's market data, padded to the shape: the function the
    operator's witness builder and the auditor both run. Padding rows are inert (a linear row at its index, ladder
    1, no risk array; ladders of one 100% bracket; zero risk arrays). ``box``: the governed price box (default: a
    point box), which is part of the governed document and of ``params_commitment``."""
    gbox = box or GovernedBox()
    sh = shape
    if len(table.instruments) >= sh.instruments or len(table.ladders) >= sh.ladders or table.risk_rows >= sh.risk_rows:
        raise ParamsError("instrument table: more rows than the shape holds (a larger shape is a new key)")
    insts = {r.symbol: r.instrument() for r in table.instruments}
    ra = risk_arrays or build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    prices = [snap.spot_prices[a] for a in table.assets]
    rows = []
    for r in table.instruments:
        if r.settlement != "linear":
            raise ParamsError(f"instrument_table.{r.symbol}: inverse contracts are not yet supported in the circuit")
        if snap.index_prices.get(r.underlying) != snap.spot_prices.get(r.underlying):
            raise ParamsError(f"snapshot.index_prices.{r.underlying}: must equal the oracle (spot) price")
        rows.append(
            InstrumentRow(
                mark=snap.marks[r.symbol],
                ladder=r.ladder,
                is_option=1 if r.kind == "option" else 0,
                has_risk_array=1 if r.risk_row else 0,
                asset=table.asset_id(r.underlying),
                basis_cap_bps=r.basis_cap_bps,
                risk_row=r.risk_row,
            )
        )
    rows += [InstrumentRow(prices[0], 1, 0, 0, 1, 0, 0)] * (sh.instruments - 1 - len(rows))
    fl, mm, cu = [], [], []
    for lad in [*table.ladders, *([[]] * (sh.ladders - 1 - len(table.ladders)))]:
        b = [(x.notional_floor, x.mmr, x.cum) for x in lad] or [(0, RATE_SCALE, 0)]
        if len(b) > sh.brackets:
            raise ParamsError(f"ladders: {len(b)} brackets exceed the shape's {sh.brackets}")
        b += [(VALUE_TOP, b[-1][1], b[-1][2])] * (sh.brackets - len(b))
        fl.append(tuple(x[0] for x in b))
        mm.append(tuple(x[1] for x in b))
        cu.append(tuple(x[2] for x in b))
    hf, hr = [], []
    for asset in table.assets:
        trs = [(x.value_floor, x.rate) for x in params.haircuts.get(asset, [])] or [(0, 0)]
        if len(trs) > sh.tiers:
            raise ParamsError(f"haircuts.{asset}: {len(trs)} tiers exceed the shape's {sh.tiers}")
        trs += [(VALUE_TOP, trs[-1][1])] * (sh.tiers - len(trs))
        hf.append(tuple(x[0] for x in trs))
        hr.append(tuple(x[1] for x in trs))
    risk = []
    for r in table.instruments:
        if r.risk_row:
            arr = ra.long.get(r.symbol)
            if arr is None or len(arr) != sh.scenarios:
                raise ParamsError(f"risk arrays: {r.symbol!r} has no array of {sh.scenarios} scenarios")
            if any(b != a + 1 for a, b in zip(arr, ra.short[r.symbol], strict=True)):
                raise ParamsError(f"risk arrays: {r.symbol!r} short must be long + 1")
            risk.append(tuple(arr))
    risk += [(0,) * sh.scenarios] * (sh.risk_rows - 1 - len(risk))
    out = VenueParams(
        instruments=tuple(rows),
        ladder_floor=tuple(fl),
        ladder_mmr=tuple(mm),
        ladder_cum=tuple(cu),
        haircut_floor=tuple(hf),
        haircut_rate=tuple(hr),
        risk_long=tuple(risk),
        mm_ratio=params.mm_ratio,
        short_option_min_ppm=params.short_option_min,
        version=venue_document_version(venue_governed_document(params, table, gbox)),
        box_ppm=gbox.box_ppm,
        boxed_assets=gbox.boxed_assets,
        box_nodes=box_nodes(params, table, gbox.box_ppm) if sh.box else (0, 0),
    )
    out.validate(sh, prices)
    return out


def leaf_view(
    table: InstrumentTable, positions: Sequence[tuple[int, int]], balances: Sequence[tuple[int, int]]
) -> dict[str, Any]:
    """What a user sees of one of their venue leaves: positions and balances by name (ids resolved in the governed
    table), empty slots left out. The user check compares this with their own statement, part by part."""
    rows = {r.id: r.symbol for r in table.instruments}
    out_pos: dict[str, int] = {}
    for iid, q in positions:
        if iid:
            if iid not in rows:
                raise ParamsError(f"leaf: instrument id {iid} is not in table version {table.version}")
            out_pos[rows[iid]] = q
    out_bal: dict[str, int] = {}
    for aid, b in balances:
        if aid:
            if not 1 <= aid <= len(table.assets):
                raise ParamsError(f"leaf: asset id {aid} is not in table version {table.version}")
            out_bal[table.assets[aid - 1]] = b
    return {"positions": out_pos, "balances": out_bal}


def rebuild_venue_params(
    doc: Mapping[str, Any], snap: MarketSnapshot, shape: VenueShape
) -> tuple[str, InstrumentTable, VenueParams]:
    """What an auditor derives from the public documents alone: the governed document's sha256 (compare it with
    the registry's), the instrument table parsed and validated, and the circuit's parameters rebuilt by the public
    rules (option marks recomputed by Black-76 on the published surface, risk arrays from the snapshot). Compare
    ``params.commitment(shape)`` and ``params.market_commitment(shape)`` with the proven public signals."""
    from .circuit_inputs import document_hash, option_mark

    if doc.get("format") != VENUE_GOVERNED_FORMAT:
        raise ParamsError(f"governed document: format must be {VENUE_GOVERNED_FORMAT!r}")
    params = RiskParameters.model_validate(doc["risk_parameters"])
    table = InstrumentTable.model_validate(doc["instrument_table"])
    for r in table.instruments:
        if r.kind == "option" and snap.marks.get(r.symbol) != option_mark(r.instrument(), snap):
            raise ParamsError(f"snapshot.marks.{r.symbol}: not the published option mark rule (Black-76 at the index)")
    vp = venue_params(table, params, snap, shape, box=governed_box(doc, len(table.assets)))
    if vp.version != venue_document_version(doc):
        raise ParamsError("governed document: its hash is not the version the parameters carry (non-canonical)")
    return document_hash(doc), table, vp

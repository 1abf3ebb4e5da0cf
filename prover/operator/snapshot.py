"""The operator's snapshot: a directory of tables (accounts, balances, positions, prices, vol surfaces, the
instrument table) that an exchange exports and ``load_snapshot`` turns into exactly what the demo's generated book
is (a :class:`MarginEngine` and a list of :class:`Account`), so the epoch pipeline proves it unchanged.

Every table is a CSV file (always readable) or a Parquet file (needs the ``parquet`` extra, pyarrow); the format is
specified in docs/product.md, "Snapshot format". Every value goes through the pydantic models
(:mod:`zkmargin.circuits.rules.models`); an error names the file, the row (1 = the first row after the header) and
the field, and nothing is written. The governed risk parameters are not part of a snapshot: they are the registry's
approved set (today the demo venue's, ``exchange.demo_engine``), keyed by the instrument symbols of the table.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from zkmargin.circuits.rules.models import Account, Instrument, MarketSnapshot, VolSurface
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays

from ..engine.margin import MarginEngine
from .exchange import ExchangeSpec, demo_engine

FORMAT = "zkmargin-snapshot"
VERSION = 1
MANIFEST = "manifest.json"

# table -> columns, in file order; every column is required (an empty cell is "no value" where the field allows it)
TABLES: dict[str, tuple[str, ...]] = {
    "instruments": ("symbol", "kind", "underlying", "contract_size", "expiry", "strike", "option_type"),
    "accounts": ("account_id", "margin_mode", "realised_pnl"),
    "balances": ("account_id", "asset", "amount"),
    "positions": ("account_id", "instrument", "quantity", "entry_price", "isolated_margin"),
    "prices": ("kind", "symbol", "value"),
    "vol_surfaces": ("underlying", "expiry", "strike", "vol"),
}
PRICE_KINDS = {"mark": "marks", "index": "index_prices", "spot": "spot_prices", "funding": "funding_rates"}
SUFFIXES = (".csv", ".parquet")
_INT = re.compile(r"^[+-]?[0-9]+$")


class SnapshotError(ValueError):
    """A snapshot that cannot be read: ``file``, ``row`` (1-based, after the header; None for the whole file) and
    ``field`` (a column, or None) say where."""

    def __init__(self, file: str, row: int | None, field: str | None, reason: str) -> None:
        where = file + (f" row {row}" if row is not None else "") + (f", {field}" if field else "")
        super().__init__(f"{where}: {reason}")
        self.file, self.row, self.field, self.reason = file, row, field, reason


class ParquetUnavailable(SnapshotError):
    """A Parquet table without pyarrow installed (the ``parquet`` extra)."""


@dataclass(frozen=True)
class _Row:
    file: str
    row: int
    values: dict[str, Any]

    def err(self, field: str | None, reason: str) -> SnapshotError:
        return SnapshotError(self.file, self.row, field, reason)

    def text(self, field: str, *, required: bool = True) -> str | None:
        v = self.values[field]
        if v is None or v == "":
            if required:
                raise self.err(field, "missing value")
            return None
        if not isinstance(v, str):
            raise self.err(field, f"expected text, got {v!r}")
        return v

    def int(self, field: str, *, required: bool = True) -> int | None:
        v = self.values[field]
        if v is None or v == "":
            if required:
                raise self.err(field, "missing value")
            return None
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            return int(v)  # a Parquet float column holding whole numbers (pandas writes int columns with nulls so)
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise self.err(field, f"not an integer: {v!r} (fixed-point integers, see the snapshot format)")
        if isinstance(v, str):
            if not _INT.match(v.strip()):
                raise self.err(field, f"not an integer: {v!r} (fixed-point integers, see the snapshot format)")
            return int(v.strip())
        return v

    def float(self, field: str) -> float:
        v = self.values[field]
        if v is None or v == "":
            raise self.err(field, "missing value")
        if isinstance(v, bool):
            raise self.err(field, f"not a number: {v!r}")
        try:
            return float(v)
        except (TypeError, ValueError):
            raise self.err(field, f"not a number: {v!r}") from None


# ----------------------------------------------------------------------------- reading tables


def _table_path(root: Path, name: str) -> Path:
    found = [root / f"{name}{s}" for s in SUFFIXES if (root / f"{name}{s}").is_file()]
    if not found:
        raise SnapshotError(
            f"{name}.csv", None, None, f"missing file (expected {name}.csv or {name}.parquet in {root})"
        )
    if len(found) > 1:
        raise SnapshotError(found[0].name, None, None, f"both {name}.csv and {name}.parquet exist: keep one")
    return found[0]


def _check_columns(file: str, header: Sequence[str], name: str) -> None:
    want = TABLES[name]
    for c in want:
        if c not in header:
            raise SnapshotError(file, None, c, f"missing column (the columns are {', '.join(want)})")
    for c in header:
        if c not in want:
            raise SnapshotError(file, None, c, f"unknown column (the columns are {', '.join(want)})")


def _read_csv(path: Path, name: str) -> list[_Row]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise SnapshotError(path.name, None, None, "empty file (no header row)")
            header = [h.strip() for h in header]
            _check_columns(path.name, header, name)
            rows = []
            for i, cells in enumerate(reader, start=1):
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise SnapshotError(path.name, i, None, f"{len(cells)} fields, the header has {len(header)}")
                rows.append(_Row(path.name, i, dict(zip(header, cells, strict=True))))
            return rows
    except UnicodeDecodeError as e:
        raise SnapshotError(path.name, None, None, f"not UTF-8 text: {e.reason}") from None
    except csv.Error as e:
        raise SnapshotError(path.name, None, None, f"not a CSV file: {e}") from None
    except OSError as e:
        raise SnapshotError(path.name, None, None, f"cannot read: {e.strerror or e}") from None


def _pyarrow(file: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ParquetUnavailable(
            file, None, None, "a Parquet table needs pyarrow: pip install 'zkmargin[parquet]' (or export CSV)"
        ) from None
    return pq


def _read_parquet(path: Path, name: str) -> list[_Row]:
    pq = _pyarrow(path.name)
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises its own ArrowInvalid / OSError family
        raise SnapshotError(path.name, None, None, f"not a readable Parquet file: {e}") from None
    _check_columns(path.name, table.column_names, name)
    return [_Row(path.name, i, r) for i, r in enumerate(table.to_pylist(), start=1)]


def read_table(root: Path, name: str) -> list[_Row]:
    path = _table_path(root, name)
    return _read_parquet(path, name) if path.suffix == ".parquet" else _read_csv(path, name)


# ----------------------------------------------------------------------------- validation


def _loc_field(loc: Sequence[Any], columns: dict[str, str]) -> str | None:
    for part in reversed(loc):
        if isinstance(part, str) and part in columns:
            return columns[part]
    return None


def _first_error(e: ValidationError) -> tuple[tuple[Any, ...], str]:
    err = e.errors()[0]
    msg = str(err["msg"]).removeprefix("Value error, ")
    return tuple(err["loc"]), msg


def _instruments(rows: list[_Row]) -> tuple[dict[str, Instrument], dict[str, _Row]]:
    out: dict[str, Instrument] = {}
    where: dict[str, _Row] = {}
    for r in rows:
        data = {
            "symbol": r.text("symbol"),
            "kind": r.text("kind"),
            "underlying": r.text("underlying"),
            "contract_size": r.int("contract_size"),
            "expiry": r.int("expiry", required=False),
            "strike": r.int("strike", required=False),
            "option_type": r.text("option_type", required=False),
        }
        try:
            inst = Instrument.model_validate(data)
        except ValidationError as e:
            loc, msg = _first_error(e)
            field = _loc_field(loc, {c: c for c in TABLES["instruments"]})
            if field is None and ":" in msg and msg.split(":")[0].split("/")[0] in TABLES["instruments"]:
                field, msg = msg.split(":", 1)[0].split("/")[0], msg.split(":", 1)[1].strip()
            raise r.err(field, msg) from None
        if inst.symbol in out:
            raise r.err("symbol", f"duplicate instrument {inst.symbol!r} (first at row {where[inst.symbol].row})")
        out[inst.symbol], where[inst.symbol] = inst, r
    return out, where


def _market(
    timestamp: int, price_rows: list[_Row], vol_rows: list[_Row]
) -> tuple[MarketSnapshot, dict[tuple[str, str], _Row], set[str]]:
    groups: dict[str, dict[str, int]] = {v: {} for v in PRICE_KINDS.values()}
    where: dict[tuple[str, str], _Row] = {}
    for r in price_rows:
        kind = r.text("kind")
        assert kind is not None
        if kind not in PRICE_KINDS:
            raise r.err("kind", f"{kind!r} is not one of {', '.join(PRICE_KINDS)}")
        sym = r.text("symbol")
        assert sym is not None
        if (kind, sym) in where:
            raise r.err("symbol", f"duplicate {kind} price for {sym!r} (first at row {where[kind, sym].row})")
        value = r.int("value")
        assert value is not None
        groups[PRICE_KINDS[kind]][sym] = value
        where[kind, sym] = r
    surfaces: dict[str, dict[tuple[int, int], float]] = {}
    vol_where: dict[str, _Row] = {}
    for r in vol_rows:
        u, exp, k, vol = r.text("underlying"), r.int("expiry"), r.int("strike"), r.float("vol")
        assert u is not None and exp is not None and k is not None
        cell = surfaces.setdefault(u, {})
        if (exp, k) in cell:
            raise r.err("strike", f"duplicate vol point ({u}, expiry {exp}, strike {k})")
        cell[exp, k] = vol
        vol_where.setdefault(u, r)
    vs: dict[str, VolSurface] = {}
    for u, cells in surfaces.items():
        strikes = sorted({k for _, k in cells})
        expiries = sorted({t for t, _ in cells})
        missing = [(t, k) for t in expiries for k in strikes if (t, k) not in cells]
        r = vol_where[u]
        if missing:
            raise r.err("strike", f"{u}: the surface is not a full expiry x strike grid (no point at {missing[0]})")
        try:
            vs[u] = VolSurface(
                strikes=strikes, expiries=expiries, vols=[[cells[t, k] for k in strikes] for t in expiries]
            )
        except ValidationError as e:
            loc, msg = _first_error(e)
            raise r.err(
                _loc_field(loc, {"strikes": "strike", "expiries": "expiry", "vols": "vol"}), f"{u}: {msg}"
            ) from None
    try:
        snap = MarketSnapshot(timestamp=timestamp, vol_surfaces=vs, **groups)
    except ValidationError as e:
        loc, msg = _first_error(e)
        kind = {v: k for k, v in PRICE_KINDS.items()}.get(str(loc[0]) if loc else "")
        row = where.get((kind, str(loc[1]))) if kind is not None and len(loc) > 1 else None
        if row is None:
            raise SnapshotError(price_rows[0].file if price_rows else "prices.csv", None, "value", msg) from None
        raise row.err("value", msg) from None
    return snap, where, set(vs)


_POSITION_COLUMNS = {"instrument": "instrument", "quantity": "quantity", "entry_price": "entry_price",
                     "isolated_margin": "isolated_margin"}  # fmt: skip


def _accounts(
    acct_rows: list[_Row],
    bal_rows: list[_Row],
    pos_rows: list[_Row],
    instruments: dict[str, Instrument],
    snap: MarketSnapshot,
) -> list[Account]:
    order: list[str] = []
    head: dict[str, _Row] = {}
    for r in acct_rows:
        aid = r.text("account_id")
        assert aid is not None
        if aid in head:
            raise r.err("account_id", f"duplicate account id (first at row {head[aid].row})")
        head[aid] = r
        order.append(aid)
    balances: dict[str, dict[str, int]] = {a: {} for a in order}
    bal_where: dict[tuple[str, str], _Row] = {}
    for r in bal_rows:
        aid, asset, amount = r.text("account_id"), r.text("asset"), r.int("amount")
        assert aid is not None and asset is not None and amount is not None
        if aid not in head:
            raise r.err("account_id", f"unknown account {aid!r} (not in accounts)")
        if asset not in snap.spot_prices:
            raise r.err("asset", f"unknown asset {asset!r} (no spot price in prices)")
        if asset in balances[aid]:
            raise r.err(
                "asset", f"duplicate balance of {asset} for this account (first at row {bal_where[aid, asset].row})"
            )
        balances[aid][asset] = amount
        bal_where[aid, asset] = r
    positions: dict[str, list[dict[str, Any]]] = {a: [] for a in order}
    pos_where: dict[str, list[_Row]] = {a: [] for a in order}
    for r in pos_rows:
        aid, sym = r.text("account_id"), r.text("instrument")
        assert aid is not None and sym is not None
        if aid not in head:
            raise r.err("account_id", f"unknown account {aid!r} (not in accounts)")
        if sym not in instruments:
            raise r.err("instrument", f"unknown instrument {sym!r} (not in instruments)")
        positions[aid].append({
            "instrument": sym,
            "quantity": r.int("quantity"),
            "entry_price": r.int("entry_price", required=False),
            "isolated_margin": r.int("isolated_margin", required=False),
        })  # fmt: skip
        pos_where[aid].append(r)
    out: list[Account] = []
    ctx = {"instruments": instruments, "now": snap.timestamp}
    for aid in order:
        r = head[aid]
        data = {
            "account_id": aid,
            "margin_mode": r.text("margin_mode"),
            "realised_pnl": r.int("realised_pnl"),
            "balances": balances[aid],
            "positions": positions[aid],
        }
        try:
            out.append(Account.model_validate(data, context=ctx))
        except ValidationError as e:
            loc, msg = _first_error(e)
            raise _account_error(loc, msg, r, bal_where, pos_where[aid], aid) from None
    return out


def _account_error(
    loc: tuple[Any, ...], msg: str, head: _Row, bal_where: dict[tuple[str, str], _Row], pos: list[_Row], aid: str
) -> SnapshotError:
    m = re.match(r"^positions\.(\d+)\.(\w+): (.*)$", msg, re.S)
    if not loc and m:  # an account-level rule naming one position
        loc, msg = ("positions", int(m.group(1)), m.group(2)), m.group(3)
    if len(loc) >= 2 and loc[0] == "positions" and isinstance(loc[1], int) and loc[1] < len(pos):
        field = next((str(x) for x in loc[2:] if str(x) in _POSITION_COLUMNS), None)
        return pos[loc[1]].err(field, msg)
    if len(loc) >= 2 and loc[0] == "balances" and (aid, str(loc[1])) in bal_where:
        return bal_where[aid, str(loc[1])].err("amount", msg)
    field = str(loc[0]) if loc and str(loc[0]) in TABLES["accounts"] else None
    return head.err(field, msg)


def _manifest(root: Path) -> int:
    path = root / MANIFEST
    if not path.is_file():
        raise SnapshotError(MANIFEST, None, None, f"missing file in {root}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SnapshotError(MANIFEST, None, None, f"not a JSON file: {e}") from None
    if not isinstance(doc, dict):
        raise SnapshotError(MANIFEST, None, None, "must be a JSON object")
    if doc.get("format") != FORMAT:
        raise SnapshotError(MANIFEST, None, "format", f"must be {FORMAT!r}, got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        raise SnapshotError(
            MANIFEST, None, "version", f"this reader knows version {VERSION}, got {doc.get('version')!r}"
        )
    ts = doc.get("timestamp")
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        raise SnapshotError(MANIFEST, None, "timestamp", f"unix seconds (a non-negative integer), got {ts!r}")
    return ts


def _check_coverage(
    instruments: dict[str, Instrument],
    inst_where: dict[str, _Row],
    snap: MarketSnapshot,
    surfaces: set[str],
    bracketed: Iterable[str],
    spec: ExchangeSpec,
    instruments_file: str,
    prices_file: str,
) -> None:
    """Every instrument priced and governed; the circuit's slot instruments and assets present."""
    brackets = set(bracketed)
    for sym, inst in instruments.items():
        r = inst_where[sym]
        if sym not in snap.marks:
            raise r.err("symbol", f"no mark price for {sym!r} in {prices_file}")
        if inst.underlying not in snap.index_prices:
            raise r.err("underlying", f"no index price for {inst.underlying!r} in {prices_file}")
        if inst.kind == "option" and inst.underlying not in surfaces:
            raise r.err("underlying", f"option on {inst.underlying!r} without a vol surface in vol_surfaces")
        if inst.kind != "option" and sym not in brackets:
            raise r.err("symbol", f"{sym!r} has no leverage brackets in the governed parameters (not listed)")
    for sym in spec.instruments:
        if sym not in instruments:
            raise SnapshotError(instruments_file, None, "symbol", f"{sym!r} is missing: the circuit's slots hold it")
    for asset in spec.assets:
        if asset not in snap.spot_prices:
            raise SnapshotError(
                prices_file, None, "symbol", f"no spot price for {asset!r}: the circuit's slots hold it"
            )


def load_snapshot(
    directory: str | Path, spec: ExchangeSpec | None = None, circuit: str = "slots"
) -> tuple[MarginEngine, list[Account]]:
    """Read and validate a snapshot directory: the margin engine (the governed parameters of the demo venue over the
    snapshot's instruments and prices) and the accounts in file order, as ``exchange.demo_engine`` and
    ``exchange.demo_accounts`` give them. ``circuit="venue"``: the governed parameters are the venue-scale demo
    venue's (``venue_scale.scale_engine``; every instrument needs its brackets or grid there) and no slot instrument is
    required. Raises :class:`SnapshotError` naming the file, row and field."""
    root = Path(directory)
    if not root.is_dir():
        raise SnapshotError(str(root), None, None, "not a directory")
    spec = spec or ExchangeSpec()
    timestamp = _manifest(root)
    tables = {name: read_table(root, name) for name in TABLES}
    instruments, inst_where = _instruments(tables["instruments"])
    snap, price_where, surfaces = _market(timestamp, tables["prices"], tables["vol_surfaces"])
    for (kind, sym), r in price_where.items():
        if kind == "mark" and sym not in instruments:
            raise r.err("symbol", f"mark price of unknown instrument {sym!r} (not in instruments)")
        if kind == "funding" and sym not in instruments:
            raise r.err("symbol", f"funding rate of unknown instrument {sym!r} (not in instruments)")
    if circuit == "venue":  # the venue-scale demo venue's approved parameters; no slots to hold
        from ..venue_scale import scale_engine

        params = scale_engine(now=timestamp).params
        spec = ExchangeSpec(instruments=(), assets=())
    else:
        params = demo_engine(now=timestamp).params
    _check_coverage(instruments, inst_where, snap, surfaces, params.brackets, spec,
                    _table_path(root, "instruments").name, _table_path(root, "prices").name)  # fmt: skip
    accounts = _accounts(tables["accounts"], tables["balances"], tables["positions"], instruments, snap)
    try:
        ra = build_risk_arrays(instruments, snap, params.scenario_grids, params.short_option_min)
    except (ValueError, ArithmeticError) as e:  # prices the models accept but the risk arrays cannot revalue
        raise SnapshotError(_table_path(root, "prices").name, None, None, f"risk arrays: {e}") from None
    return MarginEngine(instruments, params, snap, ra), accounts


# ----------------------------------------------------------------------------- writing


def snapshot_rows(engine: MarginEngine, accounts: Sequence[Account]) -> dict[str, list[dict[str, Any]]]:
    """The tables of a snapshot of ``engine``'s instruments and prices and ``accounts`` (None: an empty cell)."""
    snap = engine.snapshot
    t: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    for sym, inst in engine.instruments.items():
        t["instruments"].append({"symbol": sym, "kind": inst.kind, "underlying": inst.underlying,
                                 "contract_size": inst.contract_size, "expiry": inst.expiry, "strike": inst.strike,
                                 "option_type": inst.option_type})  # fmt: skip
    for kind, attr in PRICE_KINDS.items():
        for sym, value in getattr(snap, attr).items():
            t["prices"].append({"kind": kind, "symbol": sym, "value": value})
    for u, vs in snap.vol_surfaces.items():
        for i, exp in enumerate(vs.expiries):
            for j, k in enumerate(vs.strikes):
                t["vol_surfaces"].append({"underlying": u, "expiry": exp, "strike": k, "vol": vs.vols[i][j]})
    for a in accounts:
        t["accounts"].append({"account_id": a.account_id, "margin_mode": a.margin_mode, "realised_pnl": a.realised_pnl})
        for asset, amount in a.balances.items():
            t["balances"].append({"account_id": a.account_id, "asset": asset, "amount": amount})
        for p in a.positions:
            t["positions"].append({"account_id": a.account_id, "instrument": p.instrument, "quantity": p.quantity,
                                   "entry_price": p.entry_price, "isolated_margin": p.isolated_margin})  # fmt: skip
    return t


_FLOAT_COLUMNS = {"vol"}
_TEXT_COLUMNS = {"symbol", "kind", "underlying", "option_type", "account_id", "margin_mode", "asset", "instrument"}


def write_snapshot(directory: str | Path, engine: MarginEngine, accounts: Sequence[Account], fmt: str = "csv") -> Path:
    """Write ``engine``'s instruments and prices and ``accounts`` as a snapshot directory (``fmt`` ``"csv"`` or
    ``"parquet"``); ``load_snapshot`` reads it back equal. Floats (vols) are written in their shortest exact form."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt: 'csv' or 'parquet', got {fmt!r}")
    root = Path(directory)
    pq = _pyarrow(f"*.{fmt}") if fmt == "parquet" else None
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in snapshot_rows(engine, accounts).items():
        cols = TABLES[name]
        if pq is not None:
            import pyarrow as pa

            types = {c: pa.float64() if c in _FLOAT_COLUMNS else pa.string() if c in _TEXT_COLUMNS else pa.int64()
                     for c in cols}  # fmt: skip
            schema = pa.schema([(c, types[c]) for c in cols])
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / f"{name}.parquet")
            continue
        with (root / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            for r in rows:
                w.writerow(["" if r[c] is None else repr(r[c]) if c in _FLOAT_COLUMNS else r[c] for c in cols])
    manifest = {"format": FORMAT, "version": VERSION, "timestamp": engine.snapshot.timestamp}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return root

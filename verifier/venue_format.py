"""The venue circuit's part of the proof-bundle format (issue 15): its shape's JSON, the instrument-table file, and
the per-user inclusion file of an account that may span several linked leaves.

Why a module of its own: a venue bundle is the solvency bundle (``bundle.py``: manifest, batches, key, files hashed)
with three differences, and the readers of both must tell them apart without guessing:

* the manifest says ``"circuit": "venue"`` (absent: the fixed-slot solvency circuit) and its ``shape`` is a
  :class:`VenueShape` (slots per leaf and table sizes; ``shape.accounts`` counts *leaves*); ``layout.assets`` is
  the instrument table's asset list (asset id = position + 1: one public price and one liability each);
* ``instrument_table.json`` is the governed table (also inside the governed document of ``params.json``, whose
  sha256 governance registers; the audit checks both are the same table and rebuilds its commitment);
* a user's inclusion file (``zkmargin-venue-inclusion/v1``) lists **every part** of the account (one per linked
  leaf: part number, slot, the (id, amount) slots and the Merkle path of each), so a user whose account was split
  checks all of it.

Parsing is strict and errors name the field: the inclusion file comes from the exchange and is untrusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.circuits.field import R
from zkmargin.circuits.solvency.venue_shape import PART_BITS, VenueShape

from .bundle_format import BundleError
from .inclusion import InclusionError, StatementPosition
from .safe_io import UnsafeInput, parse_json, read_bytes

VENUE = "venue"  # manifest "circuit" of a venue bundle
TABLE_FILE = "instrument_table.json"
INCLUSION_FORMAT = "zkmargin-venue-inclusion/v1"
MAX_INCLUSION_BYTES = 8 << 20  # an account of 1,000 positions over 256 parts stays far below
MAX_DEPTH = 16

_SHAPE_FIELDS = (
    "accounts",
    "positions",
    "balances",
    "instruments",
    "assets",
    "ladders",
    "brackets",
    "tiers",
    "scenarios",
    "risk_rows",
    "usd_asset",
)


def is_venue_manifest(manifest: Any) -> bool:
    return isinstance(manifest, dict) and manifest.get("circuit") == VENUE


def venue_shape_to_json(sh: VenueShape) -> dict[str, Any]:
    return {"circuit": VENUE, **{k: getattr(sh, k) for k in _SHAPE_FIELDS}, "box": sh.box}


def venue_shape_from_json(d: Any) -> VenueShape:
    try:
        if d.get("circuit") != VENUE:
            raise ValueError("not a venue shape")
        box = d.get("box", 1)  # price-box circuit unless the shape says point prices (box 0)
        if isinstance(box, bool) or box not in (0, 1):
            raise ValueError("box must be 0 or 1")
        return VenueShape(**{k: int(d[k]) for k in _SHAPE_FIELDS}, box=int(box))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BundleError(f"shape: {e}") from e


def venue_shape_id(sh: VenueShape) -> str:
    """Short stable id of a venue shape (one setup per shape)."""
    return hashlib.sha256(json.dumps(venue_shape_to_json(sh), sort_keys=True).encode()).hexdigest()[:16]


def venue_setup_dirname(sh: VenueShape) -> str:
    return f"venue-{venue_shape_id(sh)}-committed"


# ----------------------------------------------------------------------------- the inclusion file


@dataclass(frozen=True)
class VenuePart:
    """One linked leaf of the account as the inclusion file states it."""

    part: int
    slot: int
    portfolio: int
    cash: int
    positions: tuple[tuple[int, int], ...]  # (instrument id, quantity) per slot, empty slots (0, 0)
    balances: tuple[tuple[int, int], ...]  # (asset id, amount) per slot
    siblings: tuple[int, ...]


@dataclass(frozen=True)
class VenueInclusion:
    epoch: int
    manifest_sha256: str
    account_id: str
    user_secret: int
    id_hash: int
    batch: int
    parts: tuple[VenuePart, ...]
    margin_mode: str
    realised_pnl: int
    balances: dict[str, int]  # the account's balances as its statement shows them
    positions: tuple[StatementPosition, ...]
    proof_epoch: int | None = None  # a tree epoch (issue 16): the epoch the slot's batch was proven at (leaf salts)

    @property
    def leaf_epoch(self) -> int:
        """The epoch whose salt the leaves carry: the proof epoch of a (carried) slot, else the file's epoch."""
        return self.epoch if self.proof_epoch is None else self.proof_epoch


def is_venue_inclusion(path: str | Path) -> bool:
    """Whether a file is a JSON object whose ``format`` is the venue inclusion format (read under the same limits as
    the full parse; anything unreadable is left to the solvency reader, which names the problem)."""
    p = Path(path)
    try:
        d = parse_json(read_bytes(p.resolve(), f"--inclusion {p}", MAX_INCLUSION_BYTES), f"--inclusion {p}",
                       MAX_DEPTH)  # fmt: skip
    except (OSError, RuntimeError, UnsafeInput):
        return False
    return isinstance(d, dict) and d.get("format") == INCLUSION_FORMAT


def _int(d: Any, key: str, lo: int, hi: int, where: str = "") -> int:
    try:
        v = d[key]
        x = int(v, 16) if key == "user_secret" else int(v)
    except (KeyError, TypeError, ValueError) as e:
        raise InclusionError(f"{where}{key}: missing or not an integer") from e
    if isinstance(v, bool) or not lo <= x < hi:
        raise InclusionError(f"{where}{key}: out of range")
    return x


def _pairs(d: Any, key: str, where: str) -> tuple[tuple[int, int], ...]:
    raw = d.get(key) if isinstance(d, dict) else None
    if not isinstance(raw, list) or not all(isinstance(x, list) and len(x) == 2 for x in raw):
        raise InclusionError(f"{where}{key}: expected a list of [id, amount] pairs")
    try:
        return tuple((int(a), int(b)) for a, b in raw)
    except (TypeError, ValueError) as e:
        raise InclusionError(f"{where}{key}: {e}") from e


def _part(d: Any, k: int) -> VenuePart:
    where = f"parts[{k}]."
    if not isinstance(d, dict):
        raise InclusionError(f"parts[{k}]: expected an object")
    sib = d.get("merkle_siblings")
    if not isinstance(sib, list):
        raise InclusionError(f"{where}merkle_siblings: expected a list")
    return VenuePart(
        part=_int(d, "part", 0, 1 << PART_BITS, where),
        slot=_int(d, "slot", 0, 1 << 32, where),
        portfolio=_int(d, "portfolio", 0, 2, where),
        cash=_int(d, "cash", -(1 << 63), 1 << 63, where),
        positions=_pairs(d, "positions", where),
        balances=_pairs(d, "balances", where),
        siblings=tuple(int(s) for s in sib),
    )


def load_venue_inclusion(path: str | Path) -> VenueInclusion:
    p = Path(path)
    try:
        d = parse_json(read_bytes(p.resolve(), f"--inclusion {p}", MAX_INCLUSION_BYTES), f"--inclusion {p}", MAX_DEPTH)
    except FileNotFoundError as e:
        raise InclusionError(f"--inclusion {p}: no such file") from e
    except UnsafeInput as e:
        raise InclusionError(str(e)) from e
    except (OSError, RuntimeError) as e:
        raise InclusionError(f"--inclusion {p}: unreadable ({type(e).__name__})") from e
    if not isinstance(d, dict) or d.get("format") != INCLUSION_FORMAT:
        raise InclusionError(f"format: not a {INCLUSION_FORMAT} file")
    try:
        st = d["statement"]
        positions = tuple(
            StatementPosition(
                str(x["instrument"]),
                int(x["quantity"]),
                None if x["entry_price"] is None else int(x["entry_price"]),
                int(x["entry_value"]),
                None if x["isolated_margin"] is None else int(x["isolated_margin"]),
            )
            for x in st["positions"]
        )
        parts = d["parts"]
        if not isinstance(parts, list) or not parts:
            raise InclusionError("parts: expected a non-empty list (one entry per linked leaf)")
        return VenueInclusion(
            epoch=_int(d, "epoch", 0, 1 << 64),
            manifest_sha256=str(d["manifest_sha256"]),
            account_id=str(d["account_id"]),
            user_secret=_int(d, "user_secret", 1, R),
            id_hash=_int(d, "id_hash", 0, 1 << 128),
            batch=_int(d, "batch", 0, 1 << 32),
            parts=tuple(_part(x, k) for k, x in enumerate(parts)),
            margin_mode=str(st["margin_mode"]),
            realised_pnl=int(st["realised_pnl"]),
            balances={str(k): int(v) for k, v in dict(st["balances"]).items()},
            positions=positions,
            proof_epoch=_int(d, "proof_epoch", 0, 1 << 64) if "proof_epoch" in d else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, InclusionError):
            raise
        raise InclusionError(f"inclusion file: {type(e).__name__}: {e}") from e

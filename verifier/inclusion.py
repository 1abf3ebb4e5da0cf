"""The per-user inclusion file (private: delivered to one account holder, never published).

Written by ``prover/operator/deliveries.py``, read by ``zkmargin user verify --inclusion FILE``. Parsing is strict
and every error names the field: the file comes from the exchange and is untrusted input to the user's check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.circuits.field import R

from .safe_io import UnsafeInput, parse_json, read_bytes

FORMAT = "zkmargin-inclusion/v2"
PRIVATE_DIR = "private"  # <root>/private/epoch-NNNNNN/<id commitment>.json (0700 / 0600)
MAX_BYTES = 1 << 20
MAX_DEPTH = 16  # the format nests 4 deep


class InclusionError(ValueError):
    """A malformed inclusion file; the message names the field."""


def filename(id_hash: int) -> str:
    return f"{id_hash:032x}.json"


@dataclass(frozen=True)
class StatementPosition:
    instrument: str
    quantity: int
    entry_price: int | None
    entry_value: int
    isolated_margin: int | None


@dataclass(frozen=True)
class Inclusion:
    epoch: int
    manifest_sha256: str
    account_id: str
    user_secret: int
    id_hash: int
    batch: int
    slot: int
    portfolio: int
    cash: int
    balances: dict[str, int]
    quantities: dict[str, int]
    margin_mode: str
    realised_pnl: int
    positions: tuple[StatementPosition, ...]
    siblings: tuple[int, ...]

    def usd_from_statement(self) -> int:
        """realised PnL + isolated margins (micro-USD): the account's USD cash."""
        return self.realised_pnl + sum(p.isolated_margin or 0 for p in self.positions)

    def cost_from_statement(self) -> int:
        """Sum of the positions' entry values (micro-USD)."""
        return sum(p.entry_value for p in self.positions)


def _int(d: Any, key: str, lo: int | None = None, hi: int | None = None) -> int:
    try:
        v = d[key]
        x = int(v, 16) if key == "user_secret" else int(v)
    except (KeyError, TypeError, ValueError) as e:
        raise InclusionError(f"{key}: missing or not an integer") from e
    if isinstance(v, bool) or (lo is not None and x < lo) or (hi is not None and x >= hi):
        raise InclusionError(f"{key}: out of range")
    return x


def load_inclusion(path: str | Path) -> Inclusion:
    p = Path(path)
    try:
        # the user's own path may be a symlink to their file; what it leads to must be a small regular file
        d = parse_json(read_bytes(p.resolve(), f"--inclusion {p}", MAX_BYTES), f"--inclusion {p}", MAX_DEPTH)
    except FileNotFoundError as e:
        raise InclusionError(f"--inclusion {p}: no such file") from e
    except UnsafeInput as e:
        raise InclusionError(str(e)) from e
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop in resolve()
        raise InclusionError(f"--inclusion {p}: unreadable ({type(e).__name__})") from e
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise InclusionError(f"format: not a {FORMAT} file")
    try:
        leaf, st = d["leaf"], d["statement"]
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
        return Inclusion(
            epoch=_int(d, "epoch", 0, 1 << 64),
            manifest_sha256=str(d["manifest_sha256"]),
            account_id=str(d["account_id"]),
            user_secret=_int(d, "user_secret", 1, R),
            id_hash=_int(d, "id_hash", 0, 1 << 128),
            batch=_int(d, "batch", 0, 1 << 32),
            slot=_int(d, "slot", 0, 1 << 32),
            portfolio=_int(leaf, "portfolio", 0, 2),
            cash=_int(leaf, "cash", -(1 << 63), 1 << 63),
            balances={str(k): int(v) for k, v in dict(leaf["balances"]).items()},
            quantities={str(k): int(v) for k, v in dict(leaf["quantities"]).items()},
            margin_mode=str(st["margin_mode"]),
            realised_pnl=int(st["realised_pnl"]),
            positions=positions,
            siblings=tuple(int(s) for s in d["merkle_siblings"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, InclusionError):
            raise
        raise InclusionError(f"inclusion file: {type(e).__name__}: {e}") from e

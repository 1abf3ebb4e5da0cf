"""The SQLite index of a bundle root (``index.sqlite``): one row per published epoch, written by the operator once
the epoch directory is in place, read (read-only, as untrusted input) by verifiers to find an epoch.

Split from ``bundle.py`` (the reader, which re-exports these names) because the index is a database with its own
schema and failure modes, apart from the JSON files of an epoch directory.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path
from typing import Any

from .bundle_format import INDEX, BundleError

INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY,
    dir TEXT NOT NULL,
    created TEXT NOT NULL,
    parameter_version TEXT NOT NULL,
    params_commitment TEXT NOT NULL,
    accounts_covered INTEGER NOT NULL,
    accounts_excluded INTEGER NOT NULL,
    batches INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    registry TEXT,
    tx_hash TEXT
)
"""


def _connect(root: Path) -> sqlite3.Connection:
    con = sqlite3.connect(root / INDEX)
    con.execute(INDEX_SCHEMA)
    return con


def index_epoch(root: str | Path, row: dict[str, Any]) -> None:
    """Insert or replace one epoch row (called once the epoch directory is complete and in place)."""
    cols = ("epoch", "dir", "created", "parameter_version", "params_commitment", "accounts_covered",
            "accounts_excluded", "batches", "manifest_sha256", "registry", "tx_hash")  # fmt: skip
    with closing(_connect(Path(root))) as con, con:
        con.execute(
            f"INSERT OR REPLACE INTO epochs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [row.get(c) for c in cols],
        )


def list_epochs(root: str | Path) -> list[dict[str, Any]]:
    """Rows of the index, ascending epoch (empty when there is no index yet). The index is opened read-only and
    checked to be a regular file first (it may come from an untrusted bundle); every row's epoch is an integer and
    its dir a string, else BundleError."""
    path = Path(root) / INDEX
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return []
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(f"index.sqlite: {path} is not a regular file")
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            con.row_factory = sqlite3.Row
            rows = [dict(r) for r in con.execute("SELECT * FROM epochs ORDER BY epoch")]
    except sqlite3.Error as e:
        raise BundleError(f"index.sqlite: unreadable ({e})") from e
    for r in rows:
        if isinstance(r.get("epoch"), bool) or not isinstance(r.get("epoch"), int) or not isinstance(r.get("dir"), str):
            raise BundleError(f"index.sqlite: a row with epoch {r.get('epoch')!r} and dir {r.get('dir')!r}")
    return rows

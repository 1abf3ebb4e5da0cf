"""Proof-bundle format: one directory per epoch, plus an SQLite index of epochs at the bundle root.

Defined on the verifier side (like the setup transcript) so that account holders and auditors read it
without importing the prover; the operator writes it through these helpers. Layout of a bundle root::

    index.sqlite                      epochs table (written after each epoch directory is in place)
    setups/<shape id>[-committed]/    verification_key.json, setup.json, circuit.zkey (operator), transcript/ (plain);
                                      committed: also commitment_key.json (the zkey's committed C points at infinity)
    epoch-000001/
        manifest.json                 epoch, parameter version, params_commitment, prices, shape, layout, per batch
                                      statement + file names, sha256 of every other file, chain info
        params.json                   the governed parameter document (risk parameters, the slots' instrument
                                      table, the layout; its sha256 is registered on-chain) and the circuit's
                                      SolvencyParams copy (the audit rebuilds it, never trusts it)
        market.json                   the epoch's market snapshot (marks, index/spot prices, vol surfaces)
        verification_key.json         snarkjs format (plain), or committed ("protocol": "groth16-committed")
        batches/0000/proof.json       snarkjs proof (plain), or + "commitment" (D) (committed)
        batches/0000/public.json      public signals (layout of verifier/attestation.py); committed: the supplied
                                      ones only, the challenge is derived by the verifier from D and them
        excluded.json                 counts of accounts the circuit cannot represent, per reason (no ids)

Field elements are decimal strings (as snarkjs), other integers JSON numbers. Which files snarkjs can check: a plain
bundle's key, proofs and public signals (``snarkjs groth16 verify``); a committed bundle's cannot be checked by snarkjs
(no commitment, no derived challenge), only by ``zkmargin audit`` / ``user verify`` and the committed Solidity
verifier. The manifest's ``proof_system`` says which; readers: ``bundle_proofs.py``.

Reading is for verifiers, so a bundle is untrusted input (``verifier/safe_io.py``): the epoch opened must be the one
asked for, by the index row and by the manifest; the index row's ``dir`` and every path the manifest names are
relative, stay inside the bundle root once resolved, and are listed in the manifest's ``files``; every file read is a
regular file (``lstat`` before opening: no symlink, FIFO, device or directory) under :class:`Limits`. Anything else is
a :class:`BundleError` naming the file or field, which the user check and the audit report as malformed (exit 2).
A listed file that is absent is a :class:`MissingFile` (a published copy may omit files; callers decide).

Where the split is: this module is the reader of an epoch directory (untrusted input); the names and shared JSON
codecs are in ``bundle_format.py``, the SQLite index in ``bundle_index.py``. Both are re-exported here, so
``from zkmargin.verifier import bundle as fmt`` reaches the whole format.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.circuits.solvency.shape import SolvencyShape

from .attestation import BatchStatement
from .bundle_format import (
    EXCLUDED,
    FORMAT,
    INDEX,
    MANIFEST,
    MARKET,
    METHODOLOGY,
    PARAMS,
    VERSION,
    VK,
    BundleError,
    MissingFile,
    batch_files,
    dumps,
    epoch_dirname,
    parameter_version,
    setup_dirname,
    sha256_file,
    shape_from_json,
    shape_id,
    shape_to_json,
    solvency_params_from_json,
    solvency_params_to_json,
)
from .bundle_index import INDEX_SCHEMA, index_epoch, list_epochs
from .safe_io import DEFAULT_LIMITS, Limits, UnsafeInput, confined, parse_json, read_bytes

__all__ = [
    "EXCLUDED",
    "FORMAT",
    "INDEX",
    "INDEX_SCHEMA",
    "MANIFEST",
    "MARKET",
    "METHODOLOGY",
    "PARAMS",
    "VERSION",
    "VK",
    "BatchEntry",
    "BundleError",
    "EpochBundle",
    "MissingFile",
    "batch_files",
    "dumps",
    "epoch_dirname",
    "index_epoch",
    "iter_files",
    "list_epochs",
    "load_json_file",
    "open_epoch",
    "parameter_version",
    "setup_dirname",
    "sha256_checked",
    "sha256_file",
    "shape_from_json",
    "shape_id",
    "shape_to_json",
    "solvency_params_from_json",
    "solvency_params_to_json",
]


def _read_untrusted(path: Path, what: str, limits: Limits) -> bytes:
    """A bundle file's bytes, read as untrusted input (regular file, size cap), errors mapped to BundleError."""
    try:
        return read_bytes(path, what, limits.max_json_bytes)
    except FileNotFoundError as e:
        raise MissingFile(f"{what}: missing file {path}") from e
    except UnsafeInput as e:
        raise BundleError(str(e)) from e
    except OSError as e:
        raise BundleError(f"{what}: unreadable ({e.strerror or e})") from e


def load_json_file(path: Path, what: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A JSON file of the bundle, read as untrusted input (regular file, size and depth caps)."""
    data = _read_untrusted(path, what, limits)
    try:
        return parse_json(data, what, limits.max_json_depth)
    except UnsafeInput as e:
        raise BundleError(str(e)) from e


def sha256_checked(path: Path, what: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """sha256 of a bundle file read as untrusted input (:func:`sha256_file` is for the operator's own files)."""
    return hashlib.sha256(_read_untrusted(path, what, limits)).hexdigest()


def _confined(root: Path, rel: object, what: str) -> Path:
    try:
        return confined(root, rel, what)
    except UnsafeInput as e:
        raise BundleError(str(e)) from e


@dataclass(frozen=True)
class BatchEntry:
    """One batch as the manifest records it."""

    index: int
    root: int
    first_id_hash: int
    last_id_hash: int
    count: int
    total_equity: int
    total_mm: int
    under_mm_count: int
    total_shortfall: int
    total_bad_debt: int
    liabilities: tuple[int, ...]
    proof: str
    public: str

    def statement(self) -> BatchStatement:
        return BatchStatement(
            self.root, self.first_id_hash, self.last_id_hash, self.count, self.total_equity, self.total_mm,
            self.liabilities, under_mm_count=self.under_mm_count, total_shortfall=self.total_shortfall,
            total_bad_debt=self.total_bad_debt,
        )  # fmt: skip

    @staticmethod
    def from_json(d: Any, i: int) -> BatchEntry:
        try:
            return BatchEntry(
                int(d["index"]),
                int(d["root"]),
                int(d["first_id_hash"]),
                int(d["last_id_hash"]),
                int(d["count"]),
                int(d["total_equity"]),
                int(d["total_mm"]),
                int(d["under_mm_count"]),
                int(d["total_shortfall"]),
                int(d["total_bad_debt"]),
                tuple(int(x) for x in d["liabilities"]),
                str(d["proof"]),
                str(d["public"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise BundleError(f"manifest batches[{i}]: {e}") from e


@dataclass
class EpochBundle:
    """An epoch directory opened for reading (no verification: see verifier/audit.py and verifier/user.py)."""

    path: Path
    manifest: dict[str, Any]
    limits: Limits = DEFAULT_LIMITS

    @property
    def epoch(self) -> int:
        return int(self.manifest["epoch"])

    @property
    def listed(self) -> dict[str, str]:
        """The manifest's ``files``: relative path -> sha256 (validated by :func:`open_epoch`)."""
        return dict(self.manifest["files"])

    @property
    def params_commitment(self) -> int:
        return int(self.manifest["params_commitment"])

    @property
    def market_commitment(self) -> int:
        return int(self.manifest["market_commitment"])

    @property
    def shape(self) -> SolvencyShape:
        return shape_from_json(self.manifest["shape"])

    @property
    def assets(self) -> list[str]:
        return list(self.manifest["layout"]["assets"])

    @property
    def instruments(self) -> list[str]:
        return list(self.manifest["layout"]["instruments"])

    @property
    def prices(self) -> tuple[int, ...]:
        return tuple(int(self.manifest["prices"][a]) for a in self.assets)

    def batches(self) -> list[BatchEntry]:
        return [BatchEntry.from_json(b, i) for i, b in enumerate(self.manifest.get("batches", []))]

    def file(self, rel: str, what: str | None = None) -> Path:
        """The path of a file of this epoch, which must be relative, inside the epoch directory and listed in the
        manifest's ``files`` (a verifier reads nothing the manifest does not hash)."""
        name = what or rel
        if rel not in self.manifest["files"]:
            raise BundleError(f"{name}: {rel!r} is not listed in the manifest's files")
        return _confined(self.path, rel, name)

    def json(self, rel: str, what: str | None = None) -> Any:
        return load_json_file(self.file(rel, what), what or rel, self.limits)

    def has(self, rel: str) -> bool:
        """Whether the epoch ships ``rel`` (listed in the manifest; an unlisted file is the audit's finding)."""
        return rel in self.manifest["files"]


def _int_field(d: dict[str, Any], key: str, what: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise BundleError(f"{what}: {key!r} must be an integer, got {v!r:.40}")
    try:
        return int(v)
    except ValueError as e:
        raise BundleError(f"{what}: {key!r} must be an integer, got {v!r:.40}") from e


def _check_manifest(p: Path, manifest: Any) -> dict[str, Any]:
    """Structure and paths of a manifest: format, version, required fields, ``files`` confined, batch files listed."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"manifest.json: not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise BundleError(f"manifest.json: format version {manifest.get('version')!r}, expected {VERSION}")
    for key in ("epoch", "params_commitment", "market_commitment", "shape", "layout", "prices", "batches", "files"):
        if key not in manifest:
            raise BundleError(f"manifest.json: missing field {key!r}")
    if not 0 <= _int_field(manifest, "epoch", "manifest.json") < 1 << 64:
        raise BundleError("manifest.json: 'epoch' outside uint64")
    files = manifest["files"]
    if not isinstance(files, dict) or not all(isinstance(h, str) for h in files.values()):
        raise BundleError("manifest.json files: expected an object {relative path: sha256}")
    for rel in files:
        _confined(p, rel, "manifest.json files")
        if rel == MANIFEST:
            raise BundleError("manifest.json files: lists the manifest itself")
    if not isinstance(manifest["batches"], list):
        raise BundleError("manifest.json batches: expected a list")
    for i, be in enumerate(manifest["batches"]):
        for key in ("proof", "public"):
            rel = be.get(key) if isinstance(be, dict) else None
            _confined(p, rel, f"manifest.json batches[{i}].{key}")
            if rel not in files:
                raise BundleError(f"manifest.json batches[{i}].{key}: {rel!r} is not listed in the manifest's files")
    return manifest


def open_epoch(path: str | Path, epoch: int | None = None, limits: Limits = DEFAULT_LIMITS) -> EpochBundle:
    """Open an epoch directory, or a bundle root (the given epoch, else the latest one in its index).

    The epoch opened is checked to be the one asked for: the index row's epoch, the manifest's epoch and
    ``epoch`` (when given) must agree, and the manifest's sha256 must be the one the row records, so an edited index
    row cannot make a check of epoch 2 silently run on epoch 1."""
    p = Path(path)
    row: dict[str, Any] | None = None
    if not (p / MANIFEST).exists() and (p / INDEX).exists():
        rows = list_epochs(p)
        if not rows:
            raise BundleError(f"{p}: the index lists no epoch")
        row = next((r for r in rows if r["epoch"] == epoch), None) if epoch is not None else rows[-1]
        if row is None:
            raise BundleError(f"{p}: epoch {epoch} is not in the index")
        p = _confined(p, row["dir"], f"index.sqlite epoch {row['epoch']} dir")
    elif epoch is not None and (p / epoch_dirname(epoch) / MANIFEST).exists():
        p = p / epoch_dirname(epoch)
    try:
        raw = read_bytes(p / MANIFEST, "manifest.json", limits.max_json_bytes)
        manifest = _check_manifest(p, parse_json(raw, "manifest.json", limits.max_json_depth))
    except FileNotFoundError as e:
        raise BundleError(f"manifest.json: missing file {p / MANIFEST}") from e
    except UnsafeInput as e:
        raise BundleError(str(e)) from e
    except OSError as e:
        raise BundleError(f"manifest.json: unreadable ({e.strerror or e})") from e
    got = int(manifest["epoch"])
    if epoch is not None and got != epoch:
        raise BundleError(f"manifest.json: epoch {got}, but epoch {epoch} was requested")
    if row is not None:
        if got != row["epoch"]:
            raise BundleError(f"index.sqlite: the row of epoch {row['epoch']} points at {row['dir']!r}, epoch {got}")
        want = row.get("manifest_sha256")
        if want is not None and hashlib.sha256(raw).hexdigest() != want:
            raise BundleError(f"index.sqlite: epoch {got}'s manifest_sha256 is not the sha256 of {row['dir']}/manifest")
    return EpochBundle(p, manifest, limits)


def iter_files(epoch_dir: Path) -> Iterator[str]:
    """Every file of an epoch directory except the manifest, as sorted relative POSIX paths. Walks without
    following links, and raises BundleError on anything that is not a regular file or a directory (a symlink, FIFO
    or device in a bundle is malformed, never read)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(epoch_dir, followlinks=False):
        for name in [*dirnames, *filenames]:
            full = Path(dirpath) / name
            mode = os.lstat(full).st_mode
            rel = full.relative_to(epoch_dir).as_posix()
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise BundleError(f"{rel}: not a regular file (a symlink, FIFO, device or socket)")
            if rel != MANIFEST:
                found.append(rel)
    yield from sorted(found)

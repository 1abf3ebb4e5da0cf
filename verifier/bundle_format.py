"""Proof-bundle format, the parts both sides share: file names, the format's errors, the canonical JSON of a
circuit shape and of the circuit's parameters, and the hashes that name them.

Split from ``bundle.py`` (the reader, which re-exports every name here) because the operator writes with these
and the verifier reads with them, while only the verifier needs the untrusted-input reader; the SQLite index of
epochs is ``bundle_index.py``. Layout of a bundle root: ``bundle.py``'s docstring.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from zkmargin.circuits.solvency.params import SolvencyParams
from zkmargin.circuits.solvency.shape import SolvencyShape

FORMAT = "zkmargin-proof-bundle"
VERSION = 1
MANIFEST = "manifest.json"
PARAMS = "params.json"
MARKET = "market.json"
METHODOLOGY = "methodology.json"
VK = "verification_key.json"
EXCLUDED = "excluded.json"
INDEX = "index.sqlite"


class BundleError(ValueError):
    """A bundle that cannot be read as this format (missing file, bad JSON, wrong field); names the part."""


class MissingFile(BundleError):
    """A file the bundle names does not exist (reported as a failed check where a copy may lack it)."""


def epoch_dirname(epoch: int) -> str:
    return f"epoch-{epoch:06d}"


def batch_files(index: int) -> tuple[str, str]:
    return f"batches/{index:04d}/proof.json", f"batches/{index:04d}/public.json"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()


def parameter_version(risk_parameters: Any) -> str:
    """sha256 of the canonical JSON of the engine's parameters (same rule as RiskParameters.version_hash)."""
    return hashlib.sha256(json.dumps(risk_parameters, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def shape_to_json(sh: SolvencyShape) -> dict[str, Any]:
    return {
        "accounts": sh.accounts,
        "assets": sh.assets,
        "positions": sh.positions,
        "brackets": sh.brackets,
        "tiers": sh.tiers,
        "scenarios": sh.scenarios,
        "slot_underlying": list(sh.slot_underlying),
        "slot_price": list(sh.slot_price),
        "slot_kind": list(sh.slot_kind),
        "usd_slot": sh.usd_slot,
    }


def shape_from_json(d: Any) -> SolvencyShape:
    try:
        return SolvencyShape(
            int(d["accounts"]),
            int(d["assets"]),
            int(d["positions"]),
            int(d["brackets"]),
            int(d["tiers"]),
            int(d["scenarios"]),
            tuple(int(u) for u in d["slot_underlying"]),
            tuple(int(a) for a in d["slot_price"]),
            tuple(int(k) for k in d["slot_kind"]),
            int(d["usd_slot"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"shape: {e}") from e


def shape_id(sh: SolvencyShape) -> str:
    """Short stable id of a circuit shape (one setup per shape)."""
    return hashlib.sha256(json.dumps(shape_to_json(sh), sort_keys=True).encode()).hexdigest()[:16]


def setup_dirname(sh: SolvencyShape, proof_system: str = "committed") -> str:
    """The directory of a shape's setup under ``<root>/setups/``: the shape id for plain Groth16 (as before the
    committed default), ``<shape id>-committed`` for the lookup circuit's committed key (a different circuit)."""
    return shape_id(sh) if proof_system == "plain" else f"{shape_id(sh)}-committed"


_NESTED = ("bracket_floor", "bracket_mmr", "bracket_cum", "haircut_floor", "haircut_rate", "risk_long", "risk_short")


def solvency_params_to_json(p: SolvencyParams) -> dict[str, Any]:
    return {
        "marks": list(p.marks),
        **{k: [list(row) for row in getattr(p, k)] for k in _NESTED},
        "mm_ratio": p.mm_ratio,
        "short_option_min_ppm": p.short_option_min_ppm,
        "basis_cap_bps": list(p.basis_cap_bps),
        "version": str(p.version),
    }


def solvency_params_from_json(d: Any) -> SolvencyParams:
    try:
        return SolvencyParams(
            marks=tuple(int(x) for x in d["marks"]),
            **{k: tuple(tuple(int(x) for x in row) for row in d[k]) for k in _NESTED},
            mm_ratio=int(d["mm_ratio"]),
            short_option_min_ppm=int(d["short_option_min_ppm"]),
            basis_cap_bps=tuple(int(x) for x in d["basis_cap_bps"]),
            version=int(d["version"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"params.json solvency_params: {e}") from e

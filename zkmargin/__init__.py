"""zkmargin: zero-knowledge maintenance-margin solvency proofs for derivatives exchanges.

The public Python API (docs/api.md) is importable from here; each name loads its module on first use, so
``import zkmargin`` stays cheap and an auditor's verifier never loads the prover::

    import zkmargin
    ok = zkmargin.verify_proof("verification_key.json", "proof.json", "public.json")

The names are exactly ``zkmargin.api.__all__`` (one list, kept there) plus the two proof types; importing
``zkmargin.api`` itself loads only its errors module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zkmargin import api as _api

__version__ = "0.1.0"

_TYPES = {"Proof": "zkmargin.verifier.types", "VerifyingKey": "zkmargin.verifier.types"}

__all__ = sorted([*_api.__all__, *_TYPES, "__version__"])

if TYPE_CHECKING:
    from zkmargin.api import *  # noqa: F403
    from zkmargin.verifier.types import Proof as Proof
    from zkmargin.verifier.types import VerifyingKey as VerifyingKey


def __getattr__(name: str) -> Any:
    if name in _TYPES:
        return getattr(importlib.import_module(_TYPES[name]), name)
    if name in _api.__all__:
        return getattr(_api, name)
    raise AttributeError(f"module 'zkmargin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

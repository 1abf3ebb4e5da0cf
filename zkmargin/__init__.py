"""zkmargin: zero-knowledge maintenance-margin solvency proofs for derivatives exchanges.

The public Python API (docs/api.md) is importable from here; each name loads its module on first use, so
``import zkmargin`` stays cheap and an auditor's verifier never loads the prover::

    import zkmargin
    ok = zkmargin.verify_proof("verification_key.json", "proof.json", "public.json")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = (
    "ChainUnavailable", "CheckFailed", "Deployment", "InputError", "MissingExtra", "ProveResult", "RegistryNotFound",
    "RegistryState", "Report", "SetupResult", "SnarkjsFiles", "ZkmarginError", "attach_registry", "audit_bundle",
    "connect_chain", "demo_exchange", "deploy_registry", "evaluate_margin", "load_proof", "load_public",
    "load_snarkjs", "load_verifying_key", "open_registry", "prove", "publish_bundle", "read_json_file",
    "read_registry", "run_epoch", "setup", "verify_account", "verify_proof",
)  # fmt: skip
_TYPES = {"Proof": "zkmargin.verifier.types", "VerifyingKey": "zkmargin.verifier.types"}

__all__ = [
    "ChainUnavailable",
    "CheckFailed",
    "Deployment",
    "InputError",
    "MissingExtra",
    "Proof",
    "ProveResult",
    "RegistryNotFound",
    "RegistryState",
    "Report",
    "SetupResult",
    "SnarkjsFiles",
    "VerifyingKey",
    "ZkmarginError",
    "__version__",
    "attach_registry",
    "audit_bundle",
    "connect_chain",
    "demo_exchange",
    "deploy_registry",
    "evaluate_margin",
    "load_proof",
    "load_public",
    "load_snarkjs",
    "load_verifying_key",
    "open_registry",
    "prove",
    "publish_bundle",
    "read_json_file",
    "read_registry",
    "run_epoch",
    "setup",
    "verify_account",
    "verify_proof",
]

if TYPE_CHECKING:
    from zkmargin.api import (
        ChainUnavailable,
        CheckFailed,
        Deployment,
        InputError,
        MissingExtra,
        ProveResult,
        RegistryNotFound,
        RegistryState,
        Report,
        SetupResult,
        SnarkjsFiles,
        ZkmarginError,
        attach_registry,
        audit_bundle,
        connect_chain,
        demo_exchange,
        deploy_registry,
        evaluate_margin,
        load_proof,
        load_public,
        load_snarkjs,
        load_verifying_key,
        open_registry,
        prove,
        publish_bundle,
        read_json_file,
        read_registry,
        run_epoch,
        setup,
        verify_account,
        verify_proof,
    )
    from zkmargin.verifier.types import Proof, VerifyingKey


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("zkmargin.api"), name)
    if name in _TYPES:
        return getattr(importlib.import_module(_TYPES[name]), name)
    raise AttributeError(f"module 'zkmargin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

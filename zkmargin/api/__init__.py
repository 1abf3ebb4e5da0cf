"""zkmargin's Python API: what every ``zkmargin`` command does, as functions with typed results.

The command line (``zkmargin.cli``) is a thin layer over these functions: it parses options, calls one of them,
renders the result and maps exceptions to exit codes (:class:`InputError` 2, a failed check 1). Examples in
``docs/api.md`` (a test runs them).

Imports are lazy (a submodule loads on the first use of one of its names): ``verify_proof`` and the audit
need only ``zkmargin.circuits`` and ``zkmargin.verifier``; the prover side is imported by the functions that
prove. Library code reports through :mod:`logging` (logger ``zkmargin``); it never prints.

Where the split is: the API is a package of modules with one job each, and this module re-exports all their names
(``from zkmargin.api import X`` keeps working): ``errors`` (exceptions, the path type), ``proofs`` (snarkjs JSON,
verify, setup, prove), ``operator`` (demo venue, margin engine, epochs, publishing), ``snapshot`` (the operator's
data in: snapshot directories), ``chain`` (connect, read, deploy, attach) and ``bundle_checks`` (audit, user check).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import MAX_JSON_BYTES as MAX_JSON_BYTES
from .errors import ChainUnavailable, CheckFailed, InputError, MissingExtra, RegistryNotFound, ZkmarginError
from .errors import PathLike as PathLike

# Every other name loads its module on first use (PEP 562), so that `zkmargin verify` (the proofs module
# alone) does not pay for the chain client, the operator side and the audit at every start.
_LAZY = {
    "Report": "zkmargin.verifier.report",
    **dict.fromkeys(("audit_bundle", "verify_account", "audit_epochs"), "zkmargin.api.bundle_checks"),
    **dict.fromkeys(
        ("Deployment", "RegistryState", "attach_registry", "connect_chain", "deploy_registry", "open_registry",
         "read_registry"),
        "zkmargin.api.chain",
    ),
    **dict.fromkeys(("demo_exchange", "evaluate_margin", "publish_bundle", "run_epoch"), "zkmargin.api.operator"),
    **dict.fromkeys(("load_snapshot", "snapshot_epoch", "snapshot_update", "write_snapshot"), "zkmargin.api.snapshot"),
    **dict.fromkeys(
        ("ProveResult", "SetupResult", "SnarkjsFiles", "load_proof", "load_public", "load_snarkjs",
         "load_verifying_key", "prove", "read_json_file", "setup", "verify_proof"),
        "zkmargin.api.proofs",
    ),
}  # fmt: skip

if TYPE_CHECKING:
    from zkmargin.verifier.report import Report

    from .bundle_checks import audit_bundle, verify_account
    from .bundle_checks import audit_epochs as audit_epochs
    from .chain import (
        Deployment,
        RegistryState,
        attach_registry,
        connect_chain,
        deploy_registry,
        open_registry,
        read_registry,
    )
    from .operator import demo_exchange, evaluate_margin, publish_bundle, run_epoch
    from .proofs import (
        ProveResult,
        SetupResult,
        SnarkjsFiles,
        load_proof,
        load_public,
        load_snarkjs,
        load_verifying_key,
        prove,
        read_json_file,
        setup,
        verify_proof,
    )
    from .snapshot import load_snapshot, snapshot_epoch, snapshot_update, write_snapshot


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zkmargin.api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))


__all__ = [
    "ChainUnavailable",
    "CheckFailed",
    "Deployment",
    "InputError",
    "MissingExtra",
    "ProveResult",
    "RegistryNotFound",
    "RegistryState",
    "Report",
    "SetupResult",
    "SnarkjsFiles",
    "ZkmarginError",
    "attach_registry",
    "audit_bundle",
    "connect_chain",
    "demo_exchange",
    "deploy_registry",
    "evaluate_margin",
    "load_proof",
    "load_public",
    "load_snapshot",
    "load_snarkjs",
    "load_verifying_key",
    "open_registry",
    "prove",
    "publish_bundle",
    "read_json_file",
    "read_registry",
    "run_epoch",
    "setup",
    "snapshot_epoch",
    "snapshot_update",
    "verify_account",
    "verify_proof",
    "write_snapshot",
]

"""zkmargin's Python API: what every ``zkmargin`` command does, as functions with typed results.

The command line (``zkmargin.cli``) is a thin layer over these functions: it parses options, calls one of them,
renders the result and maps exceptions to exit codes (:class:`InputError` 2, a failed check 1). Examples in
``docs/api.md`` (a test runs them).

Imports are lazy: ``verify_proof`` and the audit need only ``zkmargin.circuits`` and ``zkmargin.verifier``; the
prover side is imported by the functions that prove. Library code reports through :mod:`logging` (logger
``zkmargin``); it never prints.

Where the split is: the API is a package of modules with one job each, and this module re-exports all their names
(``from zkmargin.api import X`` keeps working): ``errors`` (exceptions, the path type), ``proofs`` (snarkjs JSON,
verify, setup, prove), ``operator`` (demo venue, margin engine, epochs, publishing), ``chain`` (connect, read,
deploy, attach) and ``bundle_checks`` (audit, user check).
"""

from __future__ import annotations

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
from .errors import MAX_JSON_BYTES as MAX_JSON_BYTES
from .errors import ChainUnavailable, CheckFailed, InputError, MissingExtra, RegistryNotFound, ZkmarginError
from .errors import PathLike as PathLike
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

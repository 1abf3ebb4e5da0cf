"""Verifier side: Groth16 verification, snarkjs JSON formats, the chain client, the user check and the audit.
Never imports zkmargin.prover: an auditor needs only zkmargin.circuits and zkmargin.verifier.

The names below load their module on first use (the chain client imports web3, the audit pydantic)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "MalformedInput": ".groth16",
    "verify": ".groth16",
    "Proof": ".types",
    "VerifyingKey": ".types",
    "load_json": ".snarkjs_json",
    "vk_from_json": ".snarkjs_json",
    "vk_to_json": ".snarkjs_json",
    "proof_from_json": ".snarkjs_json",
    "proof_to_json": ".snarkjs_json",
    "public_from_json": ".snarkjs_json",
    "public_to_json": ".snarkjs_json",
    "Check": ".report",
    "Report": ".report",
    "audit_bundle": ".audit",
    "verify_account": ".user",
    "Chain": ".chain",
    "ChainRevert": ".chain",
    "SolvencyRegistryClient": ".chain",
    "SolvencyStatus": ".chain",
    "connect": ".chain",
}
__all__ = [
    "Chain",
    "ChainRevert",
    "Check",
    "MalformedInput",
    "Proof",
    "Report",
    "SolvencyRegistryClient",
    "SolvencyStatus",
    "VerifyingKey",
    "audit_bundle",
    "connect",
    "load_json",
    "proof_from_json",
    "proof_to_json",
    "public_from_json",
    "public_to_json",
    "verify",
    "verify_account",
    "vk_from_json",
    "vk_to_json",
]

if TYPE_CHECKING:
    from .audit import audit_bundle
    from .chain import Chain, ChainRevert, SolvencyRegistryClient, SolvencyStatus, connect
    from .groth16 import MalformedInput, verify
    from .report import Check, Report
    from .snarkjs_json import (
        load_json,
        proof_from_json,
        proof_to_json,
        public_from_json,
        public_to_json,
        vk_from_json,
        vk_to_json,
    )
    from .types import Proof, VerifyingKey
    from .user import verify_account


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(mod, __name__), name)

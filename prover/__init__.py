"""Prover side: the margin engine, trusted setup, ``.zkey`` I/O, the Groth16 prover and the operator pipeline.

The names below load their module on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "prove": ".groth16",
    "ProvingKey": ".keys",
    "dev_setup": ".setup",
    "run_ceremony": ".setup",
    "read_zkey": ".zkey",
    "write_zkey": ".zkey",
    "MarginEngine": ".engine",
    "AccountResult": ".engine",
    "Operator": ".operator",
    "EpochResult": ".operator",
    "ExchangeSpec": ".operator",
    "demo_engine": ".operator",
    "demo_accounts": ".operator",
}
__all__ = [
    "AccountResult",
    "EpochResult",
    "ExchangeSpec",
    "MarginEngine",
    "Operator",
    "ProvingKey",
    "demo_accounts",
    "demo_engine",
    "dev_setup",
    "prove",
    "read_zkey",
    "run_ceremony",
    "write_zkey",
]

if TYPE_CHECKING:
    from .engine import AccountResult, MarginEngine
    from .groth16 import prove
    from .keys import ProvingKey
    from .operator import EpochResult, ExchangeSpec, Operator, demo_accounts, demo_engine
    from .setup import dev_setup, run_ceremony
    from .zkey import read_zkey, write_zkey


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(mod, __name__), name)

"""The package's data files, read through :mod:`importlib.resources` (works from a wheel, a zip or a checkout):
the compiled contract artifacts and the public BTC/ETH price history the dynamic-parameter methodology uses."""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

CONTRACTS = (
    "BatchTree",
    "Groth16Verifier",
    "Groth16BatchVerifier",
    "Groth16CommittedVerifier",
    "MockAggregatorV3",
    "MockERC20",
    "SolvencyRegistry",
)
PRICE_HISTORY = "btc_eth_daily_close.csv"


def artifacts() -> Traversable:
    return files("zkmargin") / "contracts" / "artifacts"


def contract_artifact(name: str) -> dict[str, Any]:
    """The solc artifact (abi, bytecode, deployedBytecode) of one of :data:`CONTRACTS`."""
    art: dict[str, Any] = json.loads((artifacts() / f"{name}.json").read_text(encoding="utf-8"))
    return art


def price_history() -> Traversable:
    return files("zkmargin.circuits") / "rules" / "data" / PRICE_HISTORY


def price_history_text() -> str:
    return price_history().read_text(encoding="utf-8")

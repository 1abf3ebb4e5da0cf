"""A read-only connection to a chain: ``connect()`` (the embedded py-evm, or a JSON-RPC URL), compiled contract
artifacts, revert reasons, and :class:`Chain`, the base that views and ``eth_call`` go through.

Split from ``chain.py`` (the read-only registry client, which re-exports every name here) because the connection is
shared by every contract client, read-only here and signing on the operator side
(``zkmargin.prover.operator.chain_writes.SigningChain`` subclasses :class:`Chain`), while the registry's views
and events are one contract's. Nothing here hard-codes an endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.providers.eth_tester import EthereumTesterProvider

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "contracts" / "artifacts"


try:  # eth-tester raises its own exception type for reverted calls
    from eth_tester.exceptions import TransactionFailed as _TesterFailed
except ImportError:  # pragma: no cover - eth-tester is optional (only the embedded chain needs it)

    class _TesterFailed(Exception):  # type: ignore[no-redef]
        pass


REVERTS = (ContractLogicError, _TesterFailed)  # what a reverted call raises, by provider


class ChainRevert(RuntimeError):
    """A call or transaction reverted; ``reason`` is the contract's revert string (or raw data)."""

    def __init__(self, reason: str, receipt: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.receipt = receipt


def connect(rpc_url: str | None = None, timeout: float = 60.0) -> Web3:
    """py-evm in-process when ``rpc_url`` is None, else an HTTP JSON-RPC node at that URL."""
    if rpc_url is None:
        return Web3(EthereumTesterProvider())
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    if not w3.is_connected():
        raise ConnectionError(f"no JSON-RPC node answering at {rpc_url}")
    return w3


def load_artifact(name: str, artifacts_dir: Path | None = None) -> dict[str, Any]:
    """A compiled contract: from ``artifacts_dir`` when given (tests recompile into one), else the package data
    (importlib.resources, so wheels and zip installs work)."""
    if artifacts_dir is None:
        from zkmargin.resources import contract_artifact

        return contract_artifact(name)
    with open(artifacts_dir / f"{name}.json", encoding="utf-8") as f:
        art: dict[str, Any] = json.load(f)
    return art


def revert_reason(e: Exception) -> str:
    """The contract's revert string from a web3 / eth-tester exception (without the node's prefix)."""
    msg = getattr(e, "message", None) or (str(e.args[0]) if e.args else str(e))
    for prefix in ("execution reverted: ", "execution reverted:", "revert: "):
        if msg.startswith(prefix):
            return msg[len(prefix) :].strip()
    return msg


class Chain:
    """A web3 connection and the address calls are made from. Read-only: views and ``eth_call`` only (the
    signing subclass is ``zkmargin.prover.operator.chain_writes.SigningChain``)."""

    def __init__(self, w3: Web3, sender: str | None = None) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender or w3.eth.accounts[0])
        self.is_tester = isinstance(w3.provider, EthereumTesterProvider)

    def contract(self, name: str, address: str, artifacts_dir: Path | None = None) -> Contract:
        art = load_artifact(name, artifacts_dir)
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=art["abi"])

    def call(self, fn: Any, sender: str | None = None) -> Any:
        try:
            return fn.call({"from": sender or self.sender})
        except REVERTS as e:
            raise ChainRevert(revert_reason(e)) from e

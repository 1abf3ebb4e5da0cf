"""Deployment helpers shared by the chain tests (kept out of conftest so tests can import them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layout_circuit import LayoutCircuit, make_attestation
from web3 import Web3
from web3.contract import Contract

from zkmargin.verifier.attestation import EpochAttestation
from zkmargin.verifier.chain import Chain, SolvencyRegistryClient, deploy_verifier

N_ASSETS = 4
PRICE_DECIMALS = 8
TOLERANCE_BPS = 100  # 1%
MAX_FEED_AGE = 3600
PRICES = (60_000 * 10**8, 3_000 * 10**8, 1 * 10**8, 150 * 10**8)


@dataclass
class Deployment:
    chain: Chain
    registry: SolvencyRegistryClient
    verifier: Contract
    feeds: list[Contract]
    owner: str
    operator: str
    stranger: str
    circuit: LayoutCircuit
    backend: str

    @property
    def w3(self) -> Web3:
        return self.chain.w3

    def attestation(self, epoch: int, n_batches: int = 1, prices: tuple[int, ...] = PRICES) -> EpochAttestation:
        return make_attestation(self.circuit, epoch, prices, n_batches)

    def submit(self, att: EpochAttestation | tuple[Any, ...], sender: str | None = None) -> Any:
        return self.registry.submit(att, sender=sender or self.operator)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def deploy_all(w3: Web3, circuit: LayoutCircuit, backend: str) -> Deployment:
    owner, operator, stranger = w3.eth.accounts[:3]
    chain = Chain(w3, sender=owner)
    feeds = [chain.deploy("MockAggregatorV3", PRICE_DECIMALS, f"asset{i} / USD", p) for i, p in enumerate(PRICES)]
    registry = SolvencyRegistryClient.deploy(
        chain,
        circuit.vk,
        N_ASSETS,
        PRICE_DECIMALS,
        TOLERANCE_BPS,
        MAX_FEED_AGE,
        operators=[operator],
        feeds=[[f.address] for f in feeds],
    )
    verifier = deploy_verifier(chain, circuit.vk)
    return Deployment(chain, registry, verifier, feeds, owner, operator, stranger, circuit, backend)

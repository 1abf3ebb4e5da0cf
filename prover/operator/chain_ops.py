"""Deploying the on-chain side for an operator and attesting an epoch (registry, price feeds, operator role)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3.contract import Contract

from zkmargin.verifier.attestation import BatchStatement, EpochAttestation
from zkmargin.verifier.chain import Chain, SolvencyRegistryClient, connect
from zkmargin.verifier.types import Proof, VerifyingKey

PRICE_DECIMALS = 8  # the engine's price scale (1e8)
TOLERANCE_BPS = 100  # submitted prices within 1% of the feeds' band
MAX_FEED_AGE = 3600


@dataclass
class ChainDeployment:
    """A configured registry: owner (deployer) and a distinct operator account that submits attestations."""

    chain: Chain
    registry: SolvencyRegistryClient
    feeds: list[Contract]
    owner: str
    operator: str
    network: str  # "embedded py-evm" or the JSON-RPC URL

    def info(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "chain_id": int(self.chain.w3.eth.chain_id),
            "registry": self.registry.address,
            "feeds": [str(f.address) for f in self.feeds],
            "operator": self.operator,
        }


def deploy(
    vk: VerifyingKey, assets: Sequence[str], prices: Sequence[int], rpc_url: str | None = None
) -> ChainDeployment:
    """Deploy one MockAggregatorV3 feed per asset at the given prices and a registry configured with ``vk``.

    The embedded py-evm chain (``rpc_url`` None) lives only in this process; with a URL, accounts 0 and 1 of the
    node (anvil's unlocked accounts) are the owner and the operator.
    """
    w3 = connect(rpc_url)
    accounts = list(w3.eth.accounts)
    owner, operator = str(accounts[0]), str(accounts[1])
    chain = Chain(w3, sender=owner)
    feeds = [
        chain.deploy("MockAggregatorV3", PRICE_DECIMALS, f"{a} / USD", p) for a, p in zip(assets, prices, strict=True)
    ]
    registry = SolvencyRegistryClient.deploy(
        chain,
        vk,
        len(assets),
        PRICE_DECIMALS,
        TOLERANCE_BPS,
        MAX_FEED_AGE,
        operators=[operator],
        feeds=[[f.address] for f in feeds],
    )
    return ChainDeployment(chain, registry, feeds, owner, operator, rpc_url or "embedded py-evm")


def update_feeds(dep: ChainDeployment, prices: Sequence[int]) -> None:
    """Move the mock oracles to the epoch's prices (a real deployment reads live Chainlink feeds instead)."""
    for f, p in zip(dep.feeds, prices, strict=True):
        dep.chain.transact(f.functions.setAnswer(p))


def attest(
    dep: ChainDeployment,
    epoch: int,
    params_commitment: int,
    prices: Sequence[int],
    batches: Sequence[tuple[BatchStatement, Proof]],
) -> dict[str, Any]:
    """Submit the epoch (skipped when the registry already holds exactly this attestation); returns chain info."""
    att = EpochAttestation(epoch, params_commitment, tuple(prices), tuple(batches))
    latest = dep.registry.latest_epoch()
    info = dep.info()
    if latest is not None and latest >= epoch:
        onchain = dep.registry.attestation_of(epoch)
        if not onchain.matches(att):
            raise RuntimeError(f"epoch {epoch} is already attested on-chain with different contents")
        return {**info, "tx_hash": None, "block": None, "gas_used": None, "covers_accounts": onchain.account_count}
    receipt = dep.registry.submit(att, sender=dep.operator)
    solvent, _epoch, covered = dep.registry.is_solvent()
    return {
        **info,
        "tx_hash": receipt["transactionHash"].hex(),
        "block": int(receipt["blockNumber"]),
        "gas_used": int(receipt["gasUsed"]),
        "covers_accounts": covered,
        "solvent": solvent,
    }

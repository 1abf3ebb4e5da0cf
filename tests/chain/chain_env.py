"""Deployment helpers shared by the chain tests (kept out of conftest so tests can import them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layout_circuit import PARAMS_COMMITMENT, CommittedLayoutCircuit, LayoutCircuit, make_attestation
from web3 import Web3
from web3.contract import Contract
from web3.providers.eth_tester import EthereumTesterProvider

from zkmargin.prover.operator.chain_writes import SigningChain, SolvencyRegistryWriter, deploy_verifier
from zkmargin.prover.operator.committed_deploy import deploy_committed_verifier
from zkmargin.verifier.attestation import EpochAttestation
from zkmargin.verifier.chain import params_doc_hash

N_ASSETS = 4
PRICE_DECIMALS = 8
TOLERANCE_BPS = 100  # 1%
MAX_FEED_AGE = 3600
TIGHTEN_DELAY = 3600
LOOSEN_DELAY = 2 * 86400
PRICES = (60_000 * 10**8, 3_000 * 10**8, 1 * 10**8, 150 * 10**8)
PARAMS_DOC = b'{"risk parameters": "test set v1"}'
TOKEN_DECIMALS = 18  # the insurance stablecoin; the registry converts to micro-USD (6 decimals)


@dataclass
class Deployment:
    chain: SigningChain
    registry: SolvencyRegistryWriter
    verifier: Contract
    feeds: list[Contract]
    token: Contract
    governance: str
    operator: str
    feed_owner: str
    stranger: str
    insurance_holder: str
    circuit: LayoutCircuit | CommittedLayoutCircuit
    backend: str

    @property
    def w3(self) -> Web3:
        return self.chain.w3

    def attestation(
        self, epoch: int, n_batches: int = 1, prices: tuple[int, ...] = PRICES, **kw: Any
    ) -> EpochAttestation:
        return make_attestation(self.circuit, epoch, prices, n_batches, **kw)

    def submit(
        self, att: EpochAttestation | tuple[Any, ...], sender: str | None = None, commitments: Any = None
    ) -> Any:
        return self.registry.submit(att, sender=sender or self.operator, commitments=commitments)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def set_feed(self, feed: Contract, answer: int, updated_at: int | None = None) -> Any:
        fn = feed.functions.setAnswer(answer) if updated_at is None else feed.functions.setAnswerAt(answer, updated_at)
        return self.chain.transact(fn, sender=self.feed_owner)

    def refresh_feeds(self) -> None:
        for f, p in zip(self.feeds, PRICES, strict=True):
            self.set_feed(f, p)

    def fund_insurance(self, micro_usd: int) -> None:
        """Mint ``micro_usd`` worth of the 18-decimal stablecoin to the insurance holder."""
        amount = micro_usd * 10 ** (TOKEN_DECIMALS - 6)
        self.chain.transact(self.token.functions.mint(self.insurance_holder, amount), sender=self.feed_owner)

    def advance(self, seconds: int) -> None:
        """Move the chain's clock forward by ``seconds`` (and mine a block), then refresh the feeds."""
        if isinstance(self.w3.provider, EthereumTesterProvider):
            self.w3.provider.ethereum_tester.time_travel(self.now() + seconds)
            self.w3.provider.ethereum_tester.mine_blocks(1)
        else:
            self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.refresh_feeds()


def deploy_all(w3: Web3, circuit: LayoutCircuit | CommittedLayoutCircuit, backend: str) -> Deployment:
    governance, operator, feed_owner, stranger, holder = w3.eth.accounts[:5]
    chain = SigningChain(w3, sender=governance)
    feeds = [
        chain.deploy("MockAggregatorV3", PRICE_DECIMALS, f"asset{i} / USD", p, sender=feed_owner)
        for i, p in enumerate(PRICES)
    ]
    token = chain.deploy("MockERC20", "Test USD", "tUSD", TOKEN_DECIMALS, sender=feed_owner)
    registry = SolvencyRegistryWriter.deploy(
        chain,
        circuit.vk,
        N_ASSETS,
        PRICE_DECIMALS,
        TOLERANCE_BPS,
        MAX_FEED_AGE,
        operators=[operator],
        feeds=[[f.address] for f in feeds],
        governance=governance,
        params=(PARAMS_COMMITMENT, 1, params_doc_hash(PARAMS_DOC)),
        tighten_delay=TIGHTEN_DELAY,
        loosen_delay=LOOSEN_DELAY,
        development_mode=True,
        insurance_fund=(str(token.address), holder),
    )
    if isinstance(circuit, CommittedLayoutCircuit):
        verifier = deploy_committed_verifier(chain, circuit.vk)
    else:
        verifier = deploy_verifier(chain, circuit.vk)
    return Deployment(
        chain, registry, verifier, feeds, token, governance, operator, feed_owner, stranger, holder, circuit, backend
    )

"""Deploying the on-chain side for an operator and attesting an epoch (registry, price feeds, insurance fund).

Roles are separate node accounts: 0 governance (deploys and configures the registry), 1 operator (only
submits), 2 feed owner (pushes the mock oracle answers), 3 insurance-fund holder. On a real chain
governance is a separate party (a multisig); here one process holds every account because the demo
runs on a chain of its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3.contract import Contract

from zkmargin.circuits.rules.price_box_document import GovernedBox, governed_box
from zkmargin.verifier.attestation import BatchStatement, EpochAttestation
from zkmargin.verifier.chain import connect, params_doc_hash
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey
from zkmargin.verifier.types import Proof, VerifyingKey

from .chain_writes import SigningChain, SolvencyRegistryWriter

log = logging.getLogger(__name__)

PRICE_DECIMALS = 8  # the engine's price scale (1e8)
TOLERANCE_BPS = 100  # submitted prices within 1% of the feeds' median
MAX_FEED_AGE = 3600
INSURANCE_TOKEN_DECIMALS = 6  # the stand-in stablecoin (USDC-like)
# Batches per transaction: above this an epoch goes in parts (openEpoch, addBatches, finalizeEpoch). 96 committed
# batches are ~6.5 M gas (bench_gas.py), a fifth of a 30 M block, so a part always fits with room to spare.
BATCHES_PER_TX = 96


@dataclass
class ChainDeployment:
    """A configured registry and the accounts holding its roles (all distinct)."""

    chain: SigningChain
    registry: SolvencyRegistryWriter
    feeds: list[Contract]
    governance: str
    operator: str
    feed_owner: str
    insurance_token: Contract
    insurance_holder: str
    network: str  # "embedded py-evm" or the JSON-RPC URL

    def info(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "chain_id": int(self.chain.w3.eth.chain_id),
            "registry": self.registry.address,
            "feeds": [str(f.address) for f in self.feeds],
            "governance": self.governance,
            "operator": self.operator,
            "insurance_token": str(self.insurance_token.address),
            "insurance_holder": self.insurance_holder,
        }


def default_params_document(params_commitment: int) -> bytes:
    """Stand-in parameter document when the caller publishes none (its sha256 becomes paramsDocHash)."""
    return json.dumps({"params_commitment": str(params_commitment)}, sort_keys=True).encode()


def document_box(document: bytes) -> GovernedBox:
    """The price box a governed document (its published bytes) declares, by the one reader (``governed_box``): the
    registry's boxPpm / boxAssets are always this, never a number the caller passes alongside the document."""
    try:
        doc = json.loads(document)
    except ValueError as e:
        raise ValueError(f"governed document: not JSON ({e})") from e
    if not isinstance(doc, dict):
        raise ValueError("governed document: not a JSON object")
    return governed_box(doc)


def deploy(
    vk: VerifyingKey | CommittedVerifyingKey,
    assets: Sequence[str],
    prices: Sequence[int],
    rpc_url: str | None = None,
    *,
    params_commitment: int | None = None,
    params_version: int = 1,
    params_document: bytes | None = None,
    development_mode: bool = True,
    insurance_fund_micro_usd: int = 0,
    first_epoch: int = 1,
    max_unrepresented_ppm: int = 0,
) -> ChainDeployment:
    """Deploy one MockAggregatorV3 feed per asset at the given prices (feed owner: account 2), a MockERC20
    stablecoin with ``insurance_fund_micro_usd`` minted to the insurance holder (account 3), and a registry
    governed by account 0 with account 1 as its only operator, configured with ``vk`` and, when given, the
    parameter set (otherwise :func:`attest` sets it before the first attestation).

    ``development_mode`` is recorded immutably in the registry; it defaults to True because the pipeline's
    default setup is the single-party development one. The embedded py-evm chain (``rpc_url`` None) lives
    only in this process; with a URL, accounts 0..3 of the node (anvil's unlocked accounts) hold the roles.
    """
    w3 = connect(rpc_url)
    accounts = [str(a) for a in w3.eth.accounts]
    governance, operator, feed_owner, holder = accounts[:4]
    chain = SigningChain(w3, sender=governance)
    feeds = [
        chain.deploy("MockAggregatorV3", PRICE_DECIMALS, f"{a} / USD", p, sender=feed_owner)
        for a, p in zip(assets, prices, strict=True)
    ]
    token = chain.deploy("MockERC20", "Mock USD", "mUSD", INSURANCE_TOKEN_DECIMALS, sender=feed_owner)
    if insurance_fund_micro_usd:
        amount = insurance_fund_micro_usd * 10**INSURANCE_TOKEN_DECIMALS // 10**6
        chain.transact(token.functions.mint(holder, amount), sender=feed_owner)
    params = None
    box = None
    if params_commitment is not None:
        doc = params_document if params_document is not None else default_params_document(params_commitment)
        params = (params_commitment, params_version, params_doc_hash(doc))
        box = document_box(doc)
    registry = SolvencyRegistryWriter.deploy(
        chain,
        vk,
        len(assets),
        PRICE_DECIMALS,
        TOLERANCE_BPS,
        MAX_FEED_AGE,
        operators=[operator],
        feeds=[[f.address] for f in feeds],
        governance=governance,
        params=params,
        development_mode=development_mode,
        insurance_fund=(str(token.address), holder),
        first_epoch=first_epoch,
        max_unrepresented_ppm=max_unrepresented_ppm,
        box=box,
    )
    return ChainDeployment(
        chain, registry, feeds, governance, operator, feed_owner, token, holder, rpc_url or "embedded py-evm"
    )


def update_feeds(dep: ChainDeployment, prices: Sequence[int]) -> None:
    """Move the mock oracles to the epoch's prices (a real deployment reads live Chainlink feeds instead)."""
    for f, p in zip(dep.feeds, prices, strict=True):
        dep.chain.transact(f.functions.setAnswer(p), sender=dep.feed_owner)


def ensure_params(dep: ChainDeployment, params_commitment: int, params_document: bytes | None = None) -> None:
    """Make ``params_commitment`` the governed one if the registry has none yet and nothing is attested
    (governance's no-delay bootstrap). Afterwards parameters change only through the timelock, so a
    different commitment is an error here, never a silent update."""
    current = dep.registry.params()
    if current.commitment == params_commitment:
        return
    if current.commitment != 0 or dep.registry.latest_epoch() is not None:
        raise RuntimeError(
            f"params commitment {params_commitment} is not the registry's governed one ({current.commitment}); "
            "governance must propose and activate it through the timelock"
        )
    doc = params_document if params_document is not None else default_params_document(params_commitment)
    dep.registry.set_initial_params(params_commitment, 1, params_doc_hash(doc), sender=dep.governance,
                                    box=document_box(doc))  # fmt: skip


def advance_chain_time(dep: ChainDeployment, seconds: int) -> None:
    """Move a *test* chain's clock forward (py-evm time travel, anvil evm_increaseTime). Only the simulations
    (``zkmargin run`` replaying history) use it, to let governance's timelock elapse between replayed days."""
    w3 = dep.chain.w3
    tester = getattr(w3.provider, "ethereum_tester", None)
    if tester is not None:
        tester.time_travel(int(w3.eth.get_block("latest")["timestamp"]) + seconds)
    else:
        w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def govern_params(
    dep: ChainDeployment, commitment: int, document: bytes, tightening: bool, simulate_delay: bool
) -> str:
    """Governance's side of a parameter change: bootstrap before the first attestation, otherwise propose through
    the timelock (the short delay when ``tightening``, which the audit re-checks) and activate once it elapsed.

    On a real deployment governance is a party the operator does not control and the delay is real time; here one
    process plays every role, and ``simulate_delay`` fast-forwards a test chain's clock. Returns what happened."""
    reg = dep.registry
    current = reg.params()
    if current.commitment == commitment:
        return "unchanged"
    doc_hash = params_doc_hash(document)
    box = document_box(document)
    version = current.version + 1  # the registry's sequence number; the document hash is the identity
    if reg.latest_epoch() is None:
        reg.set_initial_params(commitment, version, doc_hash, sender=dep.governance, box=box)
        return "bootstrap"
    # the registry refuses a tightening flag on a wider box or another boxed asset set (a loosening of the live view)
    prev = reg.governed_box()
    tightening = tightening and box.boxed_assets == prev.boxed_assets and box.box_ppm <= prev.box_ppm
    reg.propose_params(commitment, version, doc_hash, tightening, sender=dep.governance, box=box)
    pending = reg.pending_params()
    if simulate_delay:
        now = int(dep.chain.w3.eth.get_block("latest")["timestamp"])
        advance_chain_time(dep, max(0, pending.activates_at - now) + 1)
    reg.activate_params(sender=dep.governance)
    return "tightened" if tightening else "loosened"


def attest(
    dep: ChainDeployment,
    epoch: int,
    params_commitment: int,
    prices: Sequence[int],
    batches: Sequence[tuple[BatchStatement, Proof | CommittedProof]],
    *,
    market_commitment: int,
    declared_accounts: int,
    unrepresented_accounts: int,
    params_document: bytes | None = None,
) -> dict[str, Any]:
    """Submit the epoch as the operator (skipped when the registry already holds exactly this attestation);
    returns chain info. ``declared_accounts`` is every account of the venue, ``unrepresented_accounts`` those
    in no batch; the registry rejects the submission unless the batches' counts make up the difference."""
    att = EpochAttestation(
        epoch,
        params_commitment,
        tuple(prices),
        tuple(batches),
        market_commitment=market_commitment,
        declared_accounts=declared_accounts,
        unrepresented_accounts=unrepresented_accounts,
    )
    latest = dep.registry.latest_epoch()
    if latest is not None and latest >= epoch:
        onchain = dep.registry.attestation_of(epoch)
        if not onchain.matches(att):
            raise RuntimeError(f"epoch {epoch} is already attested on-chain with different contents")
        return chain_record(dep, epoch)  # submitted before a crash: the receipt comes from the chain
    opened = dep.registry.open_epoch_state()
    if opened is not None and opened.epoch == epoch and opened.operator.lower() == dep.operator.lower():
        # a run that crashed between the parts of this epoch: nothing of it is readable; start it again
        log.warning("epoch %s: abandoning our half-submitted epoch (%s of %s batches)", epoch, opened.added,
                    opened.batch_count)  # fmt: skip
        dep.registry.abandon_epoch(epoch, sender=dep.operator)
    start = int(dep.chain.w3.eth.block_number)  # every event of this submission is in a later block
    if len(batches) > BATCHES_PER_TX:
        dep.registry.submit_in_parts(att, BATCHES_PER_TX, sender=dep.operator)
    else:
        dep.registry.submit(att, sender=dep.operator)
    return chain_record(dep, epoch, from_block=start)


class ChainRecordMismatch(RuntimeError):
    """A cached chain record disagrees with the registry it names; nothing is published."""


def chain_record(dep: ChainDeployment, epoch: int, from_block: int = 0) -> dict[str, Any]:
    """The manifest's chain record of ``epoch``, read from the registry: its attestation (``attestation_of``) and
    the transaction that emitted its ``AttestationSubmitted`` event. Why read back rather than keep the receipt: the
    same function then serves a fresh submission and a resume after a crash, and no file the operator wrote can
    stand in for what the chain holds. ``from_block``: where the event search starts (a fresh submission passes the
    block before it: the embedded chain rebuilds every receipt of the range it scans, ~6 s per search at the demo's
    ~120 earlier transactions)."""
    tx = dep.registry.attestation_tx(epoch, from_block=from_block)
    if tx is None:
        raise ChainRecordMismatch(f"epoch {epoch}: registry {dep.registry.address} holds no attestation transaction")
    onchain = dep.registry.attestation_of(epoch)
    solvent, _epoch, _covered, dev = dep.registry.is_solvent()
    status = dep.registry.solvency_status()
    return {
        **dep.info(),
        "tx_hash": tx.tx_hash,
        "block": tx.block_number,
        "gas_used": tx.gas_used,
        "covers_accounts": onchain.account_count,
        "declared_accounts": onchain.declared_accounts,
        "unrepresented_accounts": onchain.unrepresented_accounts,
        "solvent": solvent,
        "development_mode": dev,
        "insurance_fund_micro_usd": status.insurance_fund_value,
    }


CHECKED_FIELDS = ("chain_id", "registry", "tx_hash", "block", "gas_used", "covers_accounts", "declared_accounts",
                  "unrepresented_accounts")  # fmt: skip


def _norm(key: str, value: Any) -> Any:
    if key == "tx_hash" and isinstance(value, str):
        return value.lower().removeprefix("0x")
    if key == "registry" and isinstance(value, str):
        return value.lower()
    return value


def check_cached_record(dep: ChainDeployment, epoch: int, cached: dict[str, Any], live: dict[str, Any]) -> bool:
    """Compare a chain record cached in ``.work/`` (by a run that crashed) with ``live``, the record
    :func:`chain_record` just read from the registry in use.

    Returns False when the cache names another chain or registry (a stale record of a deployment no longer in use:
    the registry in use gave its own record, so the cache is dropped). On the same registry every checked field must
    equal the registry's (its attestation and that attestation's transaction): otherwise ``ChainRecordMismatch``
    naming the field, and the epoch is not published."""
    same_chain = cached.get("chain_id") == live["chain_id"]
    if not same_chain or _norm("registry", cached.get("registry")) != _norm("registry", live["registry"]):
        log.warning(
            "epoch %s: cached chain record is for another registry (%s); dropped", epoch, cached.get("registry")
        )
        return False
    for key in CHECKED_FIELDS:
        if _norm(key, cached.get(key)) != _norm(key, live[key]):
            raise ChainRecordMismatch(
                f"chain.json field {key}: {cached.get(key)!r} but registry {dep.registry.address} says "
                f"{live[key]!r} for epoch {epoch}; refusing to publish"
            )
    return True

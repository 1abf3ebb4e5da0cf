"""Read-only web3.py client for the on-chain side: ABI encodings, the registry's views and events, the key hash.

This is what users and auditors import: it never signs or sends a transaction. Everything that does (deploying
contracts, submitting attestations, governance setters) is operator code, in ``zkmargin.prover.operator.chain_writes``,
so an auditor's install needs no signing path and the verifier side cannot change chain state by accident.

The chain is whatever the caller configures: ``connect()`` with no URL gives the embedded py-evm
(EthereumTesterProvider, no network at all); ``connect(url)`` talks JSON-RPC to any node (anvil in
tests, a real chain in production). Nothing here hard-codes an endpoint.

Where the split is: this module is the registry's read-only client (its views, events and the records they return);
the encodings (ABI structs, the key blob, hashes) are in ``chain_encoding.py`` and the connection (``connect``,
artifacts, reverts, the :class:`Chain` base) in ``chain_connection.py``. Both are re-exported here, so
``zkmargin.verifier.chain`` stays the one import path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from zkmargin.circuits.rules.price_box_document import GovernedBox

from .attestation import EpochAttestation
from .chain_connection import ARTIFACTS_DIR, REVERTS, Chain, ChainRevert, connect, load_artifact, revert_reason
from .chain_encoding import (
    attestation_commitments,
    attestation_to_abi,
    batch_to_abi,
    batch_tree_root,
    batch_words,
    committed_proof_to_evm,
    committed_vk_to_bytes,
    g1_words,
    g2_words,
    is_committed_attestation,
    key_blob,
    params_doc_hash,
    proof_to_evm,
    statement_words,
    submission_calls,
    verifying_key_hash,
    vk_to_bytes,
    vk_to_words,
)
from .chain_live import LIVE_REASONS, LiveAsset, LiveStatus, box_from_words, checked_indices

__all__ = [
    "ARTIFACTS_DIR",
    "LIVE_REASONS",
    "REVERTS",
    "AttestationTx",
    "BatchesAddedEvent",
    "Chain",
    "ChainRevert",
    "GovernedParams",
    "LiveAsset",
    "LiveStatus",
    "OnChainAttestation",
    "OpenEpoch",
    "PendingParams",
    "SolvencyRegistryClient",
    "SolvencyStatus",
    "attestation_commitments",
    "attestation_to_abi",
    "batch_to_abi",
    "batch_tree_root",
    "batch_words",
    "committed_proof_to_evm",
    "committed_vk_to_bytes",
    "connect",
    "g1_words",
    "g2_words",
    "is_committed_attestation",
    "key_blob",
    "load_artifact",
    "params_doc_hash",
    "proof_to_evm",
    "revert_reason",
    "statement_words",
    "submission_calls",
    "verifying_key_hash",
    "vk_to_bytes",
    "vk_to_words",
]


# ----------------------------------------------------------------------------- registry client


@dataclass(frozen=True)
class OnChainAttestation:
    """An attestation as the registry returns it (``SolvencyRegistry.Attestation``)."""

    epoch: int
    timestamp: int
    account_count: int
    batch_count: int
    revoked: bool
    declared_accounts: int
    unrepresented_accounts: int
    under_mm_count: int
    batch_tree_root: bytes  # root of the batch tree over every slot (verifier/batch_tree.py)
    params_commitment: int
    market_commitment: int
    total_equity: int
    total_mm: int
    total_shortfall: int
    total_bad_debt: int
    prices: tuple[int, ...]
    liabilities: tuple[int, ...]

    @staticmethod
    def from_abi(t: Any) -> OnChainAttestation:
        return OnChainAttestation(
            epoch=int(t[0]),
            timestamp=int(t[1]),
            account_count=int(t[2]),
            batch_count=int(t[3]),
            revoked=bool(t[4]),
            declared_accounts=int(t[5]),
            unrepresented_accounts=int(t[6]),
            under_mm_count=int(t[7]),
            batch_tree_root=bytes(t[8]),
            params_commitment=int(t[9]),
            market_commitment=int(t[10]),
            total_equity=int(t[11]),
            total_mm=int(t[12]),
            total_shortfall=int(t[13]),
            total_bad_debt=int(t[14]),
            prices=tuple(int(x) for x in t[15]),
            liabilities=tuple(int(x) for x in t[16]),
        )

    def matches(self, att: EpochAttestation) -> bool:
        """True iff this record is exactly what ``att`` should have produced (revocation aside)."""
        return (
            self.epoch == att.epoch
            and self.account_count == att.account_count
            and self.batch_count == len(att.batches)
            and self.declared_accounts == att.declared_accounts
            and self.unrepresented_accounts == att.unrepresented_accounts
            and self.under_mm_count == att.under_mm_count
            and self.batch_tree_root == batch_tree_root([bt for bt, _ in att.batches], att.epoch)
            and self.params_commitment == att.params_commitment
            and self.market_commitment == att.market_commitment
            and self.total_equity == att.total_equity
            and self.total_mm == att.total_mm
            and self.total_shortfall == att.total_shortfall
            and self.total_bad_debt == att.total_bad_debt
            and self.prices == tuple(att.prices)
            and self.liabilities == att.liabilities
        )


@dataclass(frozen=True)
class SolvencyStatus:
    """``SolvencyRegistry.solvencyStatus()``: the latest attestation's figures plus the insurance fund now."""

    has_attestation: bool
    epoch: int
    timestamp: int
    account_count: int
    declared_accounts: int
    unrepresented_accounts: int
    under_mm_count: int
    total_shortfall: int
    total_bad_debt: int
    insurance_fund_value: int  # micro-USD
    revoked: bool
    development_mode: bool
    max_unrepresented_ppm: int  # the governed tolerance isSolvent() applies

    @staticmethod
    def from_abi(t: Any) -> SolvencyStatus:
        return SolvencyStatus(
            bool(t[0]), int(t[1]), int(t[2]), int(t[3]), int(t[4]), int(t[5]), int(t[6]), int(t[7]), int(t[8]),
            int(t[9]), bool(t[10]), bool(t[11]), int(t[12]),
        )  # fmt: skip


@dataclass(frozen=True)
class GovernedParams:
    """The active parameter set (``paramsCommitment``, ``paramsVersion``, ``paramsDocHash``)."""

    commitment: int
    version: int
    doc_hash: bytes


@dataclass(frozen=True)
class PendingParams:
    commitment: int
    version: int
    doc_hash: bytes
    tightening: bool
    activates_at: int  # 0: nothing pending
    box_ppm: int = 0
    box_assets: int = 0


@dataclass(frozen=True)
class BatchesAddedEvent:
    """``BatchesAdded``: batches [from_index, from_index + count) of ``epoch`` verified and added in one transaction;
    ``leaf_body`` is the last of them's batch-tree leaf body (``batch_tree.leaf_body(lo, epoch, words)``)."""

    epoch: int
    from_index: int
    count: int
    leaf_body: bytes
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class OpenEpoch:
    """``SolvencyRegistry.openEpochState()``: an epoch opened and not yet finalized or abandoned."""

    epoch: int
    operator: str
    batch_count: int  # declared at opening
    added: int
    opened_at: int


@dataclass(frozen=True)
class AttestationTx:
    """Where an epoch's ``AttestationSubmitted`` event was emitted: the transaction and its block."""

    epoch: int
    tx_hash: str  # hex, no 0x prefix (as ``HexBytes.hex()`` gives it)
    block_number: int
    gas_used: int  # every transaction of the epoch (open, add batches, finalize; one for a one-shot submission)


class SolvencyRegistryClient:
    """Typed read-only wrapper around a deployed SolvencyRegistry: views and events. The transactions of the
    governance and operator roles are in ``chain_writes.SolvencyRegistryWriter`` (operator side)."""

    def __init__(self, chain: Chain, contract: Contract) -> None:
        self.chain = chain
        self.contract = contract

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @classmethod
    def at(cls, chain: Chain, address: str) -> SolvencyRegistryClient:
        return cls(chain, chain.contract("SolvencyRegistry", address))

    # ---- views
    def max_feed_age(self) -> int:
        """Seconds a feed answer (and, by the audit's rule, the epoch's market snapshot) may lag the chain."""
        return int(self._view("maxFeedAge"))

    def _view(self, name: str, *args: Any) -> Any:
        return self.chain.call(getattr(self.contract.functions, name)(*args))

    def latest(self) -> OnChainAttestation:
        return OnChainAttestation.from_abi(self._view("latestAttestation"))

    def attestation_of(self, epoch: int) -> OnChainAttestation:
        return OnChainAttestation.from_abi(self._view("attestationOf", epoch))

    def is_solvent(self) -> tuple[bool, int, int, bool]:
        """(solvent, epoch, accounts covered by proofs, development mode)."""
        solvent, epoch, accounts, dev = self._view("isSolvent")
        return bool(solvent), int(epoch), int(accounts), bool(dev)

    def solvency_status(self) -> SolvencyStatus:
        return SolvencyStatus.from_abi(self._view("solvencyStatus"))

    def is_fresh(self, max_age: int) -> bool:
        return bool(self._view("isFresh", max_age))

    def is_solvent_and_fresh(self, max_age: int) -> bool:
        return bool(self._view("isSolventAndFresh", max_age))

    def insurance_fund_value(self) -> int:
        return int(self._view("insuranceFundValue"))

    def governance(self) -> str:
        return str(self._view("governance"))

    def pending_governance(self) -> str:
        return str(self._view("pendingGovernance"))

    def is_operator(self, address: str) -> bool:
        return bool(self._view("isOperator", Web3.to_checksum_address(address)))

    def development_mode(self) -> bool:
        return bool(self._view("developmentMode"))

    def paused(self) -> bool:
        return bool(self._view("paused"))

    def delays(self) -> tuple[int, int]:
        """(tightenDelay, loosenDelay) in seconds."""
        return int(self._view("tightenDelay")), int(self._view("loosenDelay"))

    def verifying_key_hash(self) -> bytes:
        """The pinned key's keccak256; compare with :func:`verifying_key_hash` of a bundle's key."""
        return bytes(self._view("verifyingKeyHash"))

    def verifying_key_committed(self) -> bool:
        """True when the pinned key is a committed (commitment-slot) key: batches then carry a commitment each."""
        return bool(self._view("verifyingKeyCommitted"))

    def batch_verifier(self) -> str:
        """The Groth16BatchVerifier every proof goes through (immutable in the registry)."""
        return str(self._view("batchVerifier"))

    def batch_verifier_matches_artifact(self) -> bool:
        """True when the registry's batch verifier runs exactly the audited ``Groth16BatchVerifier`` bytecode (the
        pinned key means nothing under a verifier that accepts anything; it is immutable, so one check suffices)."""
        code = bytes(self.chain.w3.eth.get_code(Web3.to_checksum_address(self.batch_verifier())))
        return code == bytes.fromhex(load_artifact("Groth16BatchVerifier")["deployedBytecode"][2:])

    def pending_verifying_key(self) -> tuple[str, bytes, int]:
        """(key data contract, keccak256 of the key, activation time); activation time 0: none pending."""
        ptr, h, at = self._view("pendingVerifyingKey")
        return str(ptr), bytes(h), int(at)

    def params(self) -> GovernedParams:
        return GovernedParams(
            int(self._view("paramsCommitment")), int(self._view("paramsVersion")), bytes(self._view("paramsDocHash"))
        )

    def pending_params(self) -> PendingParams:
        c, v, d, t, at, ppm, mask = self._view("pendingParams")
        return PendingParams(int(c), int(v), bytes(d), bool(t), int(at), int(ppm), int(mask))

    # ---- live view (issue 16)
    def box_of(self, commitment: int) -> GovernedBox:
        """The price box ``commitment`` was declared with (a point box when never declared)."""
        ppm, mask = self._view("boxOf", commitment)
        return box_from_words(int(ppm), int(mask))

    def governed_box(self) -> GovernedBox:
        """The box of the governed parameter commitment (compare with ``governed_box`` of the governed document)."""
        return self.box_of(self.params().commitment)

    def max_attestation_age(self) -> int:
        return int(self._view("maxAttestationAge"))

    def live_status(self) -> LiveStatus:
        """``liveStatus()``: solvent now, the reason when not, the latest attestation's box and age."""
        solvent, reason, asset, ppm, mask, age = self._view("liveStatus")
        return LiveStatus(bool(solvent), int(reason), int(asset), int(ppm), int(mask), int(age))

    def batch_tree(self) -> str:
        """The pinned BatchTree an update epoch's ops go through (immutable)."""
        return str(self._view("batchTree"))

    def feed_median(self) -> str:
        """The FeedMedian every feed median is read through (immutable in the registry)."""
        return str(self._view("feedMedian"))

    def batch_tree_matches_artifact(self) -> bool:
        """True when the registry's BatchTree runs exactly the audited ``BatchTree`` bytecode: the registry takes its
        answer (root, slot count, totals after an update's ops) without re-validating it, so a BatchTree that answers
        what its deployer likes would let an update move any total or drop any slot."""
        code = bytes(self.chain.w3.eth.get_code(Web3.to_checksum_address(self.batch_tree())))
        return code == bytes.fromhex(load_artifact("BatchTree")["deployedBytecode"][2:])

    def feed_median_matches_artifact(self) -> bool:
        """True when the registry's FeedMedian runs exactly the audited ``FeedMedian`` bytecode (the live view and the
        submission's price check mean nothing under a median that answers what its deployer likes)."""
        code = bytes(self.chain.w3.eth.get_code(Web3.to_checksum_address(self.feed_median())))
        return code == bytes.fromhex(load_artifact("FeedMedian")["deployedBytecode"][2:])

    def live_assets(self) -> list[LiveAsset]:
        """Per asset of the latest attestation: attested price, the feeds' median now, the box, FeedMedian's status
        (the same call the registry's live view makes). Empty when nothing is attested."""
        if self.latest_epoch() is None:
            return []
        att = self.latest()
        box = self.box_of(att.params_commitment)
        ppm, mask = box.box_ppm, box.mask
        fm = self.chain.contract("FeedMedian", self.feed_median())
        max_age, decimals = self.max_feed_age(), int(self._view("priceDecimals"))
        checked = set(checked_indices(ppm, mask, len(att.prices)))
        out = []
        for i, p in enumerate(att.prices):
            feeds = self._view("priceFeeds", i)
            st, m, lo, hi = self.chain.call(fm.functions.liveCheck(feeds, max_age, decimals, p, ppm))
            out.append(LiveAsset(i, i in checked, p, int(m), int(lo), int(hi), int(st)))
        return out

    def open_epoch_state(self) -> OpenEpoch | None:
        """The epoch being built over several transactions (None when none is open). It is never an attestation:
        nothing of it is readable through ``attestation_of`` before it is finalized."""
        epoch, operator, count, added, opened_at = self._view("openEpochState")
        if int(operator, 16) == 0:
            return None
        return OpenEpoch(int(epoch), str(operator), int(count), int(added), int(opened_at))

    def latest_epoch(self) -> int | None:
        if not self._view("hasAttestation"):
            return None
        return int(self._view("latestEpoch"))

    # ---- events
    def attestation_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[Any]:
        return list(self.contract.events.AttestationSubmitted().get_logs(from_block=from_block, to_block=to_block))

    def attestation_tx(self, epoch: int, from_block: int = 0) -> AttestationTx | None:
        """The transaction that attested ``epoch`` on this registry (None when it never did). Why: an operator
        resuming after a crash must take its receipt from the chain, not from a file it wrote itself.

        ``gas_used`` is the whole epoch's: for an epoch submitted in parts, the last ``EpochOpened`` of the epoch before
        the record, every ``BatchesAdded`` of the epoch after it, and the finalizing transaction (each counted once)."""
        evs = self.contract.events.AttestationSubmitted().get_logs(
            from_block=from_block, to_block="latest", argument_filters={"epoch": epoch}
        )
        evs = [e for e in evs if int(e["args"]["epoch"]) == epoch]
        if not evs:
            return None
        ev = evs[-1]
        final = (int(ev["blockNumber"]), int(ev["logIndex"]))
        flt = {"epoch": epoch}
        opened = [
            e
            for e in self.contract.events.EpochOpened().get_logs(from_block=from_block, argument_filters=flt)
            if int(e["args"]["epoch"]) == epoch and (int(e["blockNumber"]), int(e["logIndex"])) < final
        ]
        txs = [ev["transactionHash"]]
        if opened:
            start = (int(opened[-1]["blockNumber"]), int(opened[-1]["logIndex"]))
            txs.append(opened[-1]["transactionHash"])
            for e in self.contract.events.BatchesAdded().get_logs(from_block=from_block, argument_filters=flt):
                if int(e["args"]["epoch"]) == epoch and start < (int(e["blockNumber"]), int(e["logIndex"])) < final:
                    txs.append(e["transactionHash"])
        unique = {HexBytes(t) for t in txs}
        gas = 0
        for t in unique:
            gas += int(self.chain.w3.eth.get_transaction_receipt(t)["gasUsed"])
        return AttestationTx(epoch, bytes(ev["transactionHash"]).hex(), int(ev["blockNumber"]), gas)

    def verifying_key_hashes(self, from_block: int = 0, to_block: int | str = "latest") -> list[bytes]:
        """Every key hash the registry ever activated, oldest first (a bundle proven before a timelocked key
        rotation still names a key the registry really held)."""
        evs = self.contract.events.VerifyingKeyChanged().get_logs(from_block=from_block, to_block=to_block)
        return [bytes(e["args"]["keyHash"]) for e in evs]

    def revocation_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[Any]:
        return list(self.contract.events.AttestationRevoked().get_logs(from_block=from_block, to_block=to_block))

    def batches_added_events(self, epoch: int | None = None, from_block: int = 0) -> list[BatchesAddedEvent]:
        """Every ``BatchesAdded`` event (of ``epoch`` when given), in chain order. An abandoned epoch's events stay in
        the log: only those between the epoch's last ``EpochOpened`` and its record belong to the attestation."""
        flt = {} if epoch is None else {"epoch": epoch}
        evs = self.contract.events.BatchesAdded().get_logs(from_block=from_block, argument_filters=flt)
        out = []
        for ev in evs:
            a = ev["args"]
            if epoch is not None and int(a["epoch"]) != epoch:
                continue
            out.append(
                BatchesAddedEvent(
                    int(a["epoch"]),
                    int(a["fromIndex"]),
                    int(a["count"]),
                    bytes(a["leafBody"]),
                    int(ev["blockNumber"]),
                    bytes(ev["transactionHash"]).hex(),
                )
            )
        return out

    def follow(
        self,
        from_block: int = 0,
        poll_interval: float = 2.0,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[Any]:
        """Yield AttestationSubmitted events as blocks arrive (polling; works on any JSON-RPC node)."""
        nxt = from_block
        while True:
            head = self.chain.w3.eth.block_number
            if head >= nxt:
                yield from self.attestation_events(nxt, head)
                nxt = head + 1
            if stop is not None and stop():
                return
            time.sleep(poll_interval)

"""The operator's epoch: evaluate every account, prove every representable one in batches (accounts under
maintenance margin included: the batches count them with their shortfall and bad debt), count the rest by reason,
attest on-chain, and publish the epoch's proof bundle (format: ``zkmargin.verifier.bundle``).

``Operator.run_epoch`` is a short sequence of named steps, each in a module with one job:
classify (``classify.py``) -> prove (``proving.py``: one ``prove_batch`` behind the ``BatchProver`` strategies, with
the ``.work/`` cache of ``batch_cache.py``) -> attest (``chain_ops.py``) -> write bundle and deliveries
(``bundle_writer.py``, ``deliveries.py``) -> index.

Crash safety: each batch proof is written atomically to ``<root>/.work/epoch-N/`` as soon as it exists, and reused on
a rerun only if it verifies; the epoch directory is built in a staging directory and renamed into place in one step,
and the SQLite index is updated only after that. A crash or kill at any point leaves the previous epochs untouched,
no partial epoch directory, and a rerun of the same epoch reuses every finished batch (each user's secret is in the
operator's store, so the rebuilt batches are identical). After an attestation the record published is always the
registry's own (``chain_ops.chain_record``); a record cached by a crashed run is only compared with it.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkmargin.circuits.rules.circuit_inputs import document_bytes, governed_document
from zkmargin.circuits.rules.methodology import Methodology
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.attestation import split_public_signals
from zkmargin.verifier.bundle_proofs import COMMITTED, PROOF_SYSTEMS, AnyProof

from ..engine.margin import MarginEngine
from ..solvency_witness import BatchLayout, SolvencyBatch, build_batch, make_layout, solvency_params
from .batch_cache import BatchCache
from .bundle_writer import EpochContent, index_row, published_exclusions, write_bundle
from .chain_ops import ChainDeployment, attest, check_cached_record, deploy, update_feeds
from .classify import Classification, Exclusion, classify
from .exchange import ExchangeSpec
from .hooks import Hooks
from .proving import BatchJob, BatchProof, BatchProver, LocalProver, circuit_for
from .setups import DEV_LABEL, SETUP_KINDS, Setup, load_or_create
from .user_secrets import FILENAME as USER_SECRETS
from .user_secrets import UserSecretStore

__all__ = ["DEV_LABEL", "EpochResult", "Exclusion", "GovernedRegistration", "Operator", "governed_registration"]

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class EpochResult:
    epoch: int
    path: Path
    manifest: dict[str, Any]
    covered: int
    excluded: list[Exclusion]
    status_counts: dict[str, int]
    batches: int
    reused_batches: int
    constraints: int
    prove_seconds: float
    witness_seconds: float
    chain: dict[str, Any] | None
    user_secrets: dict[str, int] = field(default_factory=dict)  # account id -> secret, for the proven accounts
    deliveries: Path | None = None  # private per-user inclusion files
    prove_wall_seconds: float = 0.0  # wall time of the proving phase (< prove_seconds when batches run in parallel)
    reloaded: bool = False  # True: the epoch was already published (this call only made sure it is indexed)


@dataclass(frozen=True)
class GovernedRegistration:
    """What governance registers on-chain for a parameter set: the circuit commitment and the canonical document
    (whose sha256 is ``paramsDocHash``; its hash >> 8 is the in-circuit version, the registry's own version is a
    sequence number)."""

    commitment: int
    document: bytes


def governed_registration(
    engine: MarginEngine, layout: BatchLayout, methodology: Methodology | None = None
) -> GovernedRegistration:
    recipe = None if methodology is None else methodology.recipe_hash()
    doc = governed_document(engine.params, engine.instruments, layout, recipe)
    return GovernedRegistration(solvency_params(engine, layout).commitment(layout.shape), document_bytes(doc))


@dataclass
class _Proven:
    """The prove step's output: batches in id-hash order with their verified proofs, and what it cost."""

    batches: list[SolvencyBatch]
    proofs: list[AnyProof]
    reused: int
    prove_seconds: float
    witness_seconds: float
    wall_seconds: float


class Operator:
    """Runs epochs into a bundle root; one setup per circuit shape (``<root>/setups/<shape id>``).

    ``prover``: a ``BatchProver`` (default ``LocalProver()``: batches proven one after the other in this process;
    ``distributed.DaskProver`` proves them in parallel). ``hooks``: observation points (tests inject faults there).
    ``proof_system``: ``"committed"`` (default: the lookup circuit, Groth16 with one Groth16 commitment) or
    ``"plain"`` (the bit-decomposition circuit, plain Groth16: what snarkjs and circom tools can check).
    """

    def __init__(
        self,
        root: str | Path,
        spec: ExchangeSpec | None = None,
        setup_kind: str = "development",
        setup_dir: str | Path | None = None,
        chain: ChainDeployment | None = None,
        progress: Progress | None = None,
        prover: BatchProver | None = None,
        hooks: Hooks | None = None,
        proof_system: str = COMMITTED,
    ) -> None:
        if proof_system not in PROOF_SYSTEMS:
            raise ValueError(f"proof_system: {proof_system!r} is not one of {PROOF_SYSTEMS}")
        if prover is not None and not callable(getattr(prover, "prove_batches", None)):
            raise ValueError(f"prover: {prover!r} is not a BatchProver (LocalProver, distributed.DaskProver)")
        if setup_kind not in SETUP_KINDS:
            raise ValueError(f"setup_kind: {setup_kind!r} is not one of {SETUP_KINDS}")
        self.prover: BatchProver = prover or LocalProver()
        self.hooks = hooks or Hooks()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.spec = spec or ExchangeSpec()
        self.setup_kind = setup_kind
        self.proof_system = proof_system
        self.setup_dir = Path(setup_dir) if setup_dir else None
        self.chain = chain
        self.progress = progress or (lambda stage, done, total: None)
        self._setup: Setup | None = None
        self.user_secrets = UserSecretStore(self.root / USER_SECRETS)

    def layout(self, engine: MarginEngine) -> BatchLayout:
        return make_layout(engine, self.spec.instruments, self.spec.assets, accounts=self.spec.accounts_per_batch)

    def circuit(self, layout: BatchLayout) -> SolvencyCircuit:
        return circuit_for(layout.shape, self.proof_system)

    def setup(self, layout: BatchLayout) -> Setup:
        """Load the shape's setup, or create it (dev setup or local ceremony) atomically."""
        path = self.setup_dir or self.root / "setups" / fmt.setup_dirname(layout.shape, self.proof_system)
        if self._setup is None or self._setup.path != path:
            self._setup = load_or_create(path, layout, self.setup_kind, self.progress, self.proof_system)
        return self._setup

    @staticmethod
    def public_setup(setup: Setup) -> bool:
        """A ceremony on a public phase 1: the only setup a production registry accepts."""
        return setup.is_public()

    def deploy_chain(
        self,
        engine: MarginEngine,
        rpc_url: str | None = None,
        insurance_fund_micro_usd: int = 0,
        max_unrepresented_ppm: int = 0,
    ) -> ChainDeployment:
        """Deploy the registry as governance would: the approved parameters (commitment, version, document hash)
        and this shape's verifying key, mock feeds at the engine's oracle prices, an insurance fund; development
        mode exactly when the setup is not a ceremony on a public phase 1. A new registry continues this bundle
        root's epoch numbering."""
        layout = self.layout(engine)
        setup = self.setup(layout)
        gov = governed_registration(engine, layout)
        self.chain = deploy(
            setup.vk,
            layout.assets,
            [engine.snapshot.spot_prices[a] for a in layout.assets],
            rpc_url,
            params_commitment=gov.commitment,
            params_version=1,
            params_document=gov.document,
            development_mode=not setup.is_public(),
            insurance_fund_micro_usd=insurance_fund_micro_usd,
            first_epoch=self.latest_epoch() + 1,
            max_unrepresented_ppm=max_unrepresented_ppm,
        )
        return self.chain

    def latest_epoch(self) -> int:
        """The latest epoch of this root's index (0 when none)."""
        return max((int(r["epoch"]) for r in fmt.list_epochs(self.root)), default=0)

    # ------------------------------------------------------------------ epoch
    def run_epoch(
        self, epoch: int, engine: MarginEngine, accounts: Sequence[Account], methodology: Methodology | None = None
    ) -> EpochResult:
        """Prove, attest and publish one epoch (resumes from ``.work/`` after a crash; idempotent once published)."""
        final = self.root / fmt.epoch_dirname(epoch)
        if (final / fmt.MANIFEST).exists():
            return self._reload(epoch, final)
        if epoch <= self.latest_epoch():
            raise ValueError(f"epoch {epoch} is not after the latest published epoch {self.latest_epoch()}")
        layout = self.layout(engine)
        setup = self.setup(layout)
        cls = classify(engine, accounts, layout)
        if not cls.provable:
            raise ValueError(f"epoch {epoch}: no provable account")
        secrets = self.user_secrets.for_accounts(a.account_id for a in cls.provable)
        cache = BatchCache(self.root, epoch, setup.vk)
        proven = self._prove(epoch, engine, layout, setup, cls, secrets, cache)
        chain_info = self._attest(epoch, layout, proven, declared=len(accounts), unrepresented=len(cls.excluded),
                                  cache=cache)  # fmt: skip
        self.progress("write bundle", 0, 1)
        content = EpochContent(epoch, engine, layout, setup, proven.batches, proven.proofs, cls.excluded, cls.results,
                               chain_info, len(accounts), methodology, secrets)  # fmt: skip
        final, deliveries = write_bundle(self.root, content)
        manifest = self._index(epoch, final)
        cache.clear()
        self.progress("write bundle", 1, 1)
        return EpochResult(
            epoch, final, manifest, sum(len(b.accounts) for b in proven.batches), cls.excluded,
            dict(Counter(r.status for r in cls.results.values())), len(proven.batches), proven.reused,
            self.circuit(layout).r1cs.n_constraints, proven.prove_seconds, proven.witness_seconds, chain_info,
            {a.account_id: secrets[a.account_id] for b in proven.batches for a in b.accounts}, deliveries,
            proven.wall_seconds,
        )  # fmt: skip

    def _prove(
        self,
        epoch: int,
        engine: MarginEngine,
        layout: BatchLayout,
        setup: Setup,
        cls: Classification,
        secrets: dict[str, int],
        cache: BatchCache,
    ) -> _Proven:
        """Batches in id-commitment order; every cached proof that verifies is reused, the rest go to the prover,
        and each new proof is cached as it arrives (so a crash mid-epoch loses at most the batches in flight)."""
        provable = sorted(cls.provable, key=lambda a: account_id_commitment(a.account_id, secrets[a.account_id]))
        n = layout.shape.accounts
        chunks = [provable[i : i + n] for i in range(0, len(provable), n)]
        batches = [build_batch(engine, chunk, layout, epoch, user_secrets=secrets) for chunk in chunks]
        found: dict[int, AnyProof] = {}
        jobs: list[BatchJob] = []
        for i, batch in enumerate(batches):
            cached = cache.proof(i, batch.public)
            if cached is not None:
                found[i] = cached
            else:
                jobs.append(BatchJob(i, batch.inputs, batch.public))
        reused = len(found)
        times = {"prove": 0.0, "witness": 0.0}
        self.progress("prove batches", len(found), len(batches))
        t0 = time.perf_counter()

        def on_proof(bp: BatchProof) -> None:
            cache.put(bp.index, bp.proof, bp.public)
            found[bp.index] = bp.proof
            times["prove"] += bp.prove_seconds
            times["witness"] += bp.witness_seconds
            self.progress("prove batches", len(found), len(batches))
            self.hooks.batch_cached(epoch, bp.index, len(found) - reused)

        if jobs:
            self.prover.prove_batches(setup, layout.shape, jobs, on_proof)
        missing = [i for i in range(len(batches)) if i not in found]
        if missing:
            raise RuntimeError(f"epoch {epoch}: batches {missing} were not proven")
        proofs = [found[i] for i in range(len(batches))]
        return _Proven(batches, proofs, reused, times["prove"], times["witness"], time.perf_counter() - t0)

    def _attest(
        self, epoch: int, layout: BatchLayout, proven: _Proven, *, declared: int, unrepresented: int, cache: BatchCache
    ) -> dict[str, Any] | None:
        """Submit the attestation (or find it already on-chain after a crash) and return the registry's record of
        it. A record cached by a crashed run is compared with the registry and the epoch refused on a mismatch."""
        if self.chain is None:
            return None
        if any(not isinstance(p, type(proven.proofs[0])) for p in proven.proofs):
            raise RuntimeError(f"epoch {epoch}: batches proven with different proof systems")
        self.progress("attest on-chain", 0, 1)
        shared = split_public_signals(proven.batches[0].public, layout.shape.assets)[0]
        statements = [
            (split_public_signals(b.public, layout.shape.assets)[1], p)
            for b, p in zip(proven.batches, proven.proofs, strict=True)
        ]
        update_feeds(self.chain, shared.prices)
        record = attest(
            self.chain,
            epoch,
            shared.params_commitment,
            shared.prices,
            statements,
            market_commitment=shared.market_commitment,
            declared_accounts=declared,
            unrepresented_accounts=unrepresented,
        )
        cached = cache.chain_record()
        if cached is not None:
            check_cached_record(self.chain, epoch, cached, record)
        cache.put_chain_record(record)
        self.hooks.attested(epoch, record)
        self.progress("attest on-chain", 1, 1)
        return record

    def _index(self, epoch: int, final: Path) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads((final / fmt.MANIFEST).read_text())
        fmt.index_epoch(self.root, index_row(epoch, final, manifest))
        return manifest

    def _reload(self, epoch: int, final: Path) -> EpochResult:
        """An epoch already published (e.g. the crash came after the rename): make sure the index has it."""
        if epoch in [r["epoch"] for r in fmt.list_epochs(self.root)]:
            manifest = json.loads((final / fmt.MANIFEST).read_text())
        else:
            log.info("epoch %s: published but not indexed (crash after the rename); indexing it", epoch)
            manifest = self._index(epoch, final)
        BatchCache.discard(self.root, epoch)
        t = manifest["totals"]
        return EpochResult(
            epoch, final, manifest, t["accounts_covered"], published_exclusions(final),
            {"margin_call": t["margin_call"], "liquidation": t["liquidation"]}, len(manifest["batches"]),
            len(manifest["batches"]), 0, 0.0, 0.0, manifest.get("chain"), reloaded=True,
        )  # fmt: skip

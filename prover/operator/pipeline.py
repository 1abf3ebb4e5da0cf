"""The operator's epoch: evaluate every account, prove every representable one in batches (accounts under
maintenance margin included: the batches count them with their shortfall and bad debt), count the rest by reason,
attest on-chain, and publish the epoch's proof bundle (format: ``zkmargin.verifier.bundle``).

Crash safety: each batch proof is written atomically to ``<root>/.work/epoch-N/`` as soon as it exists, keyed by
its public signals; the epoch directory is built in a staging directory and renamed into place in one step
(``atomic_directory``), and the SQLite index is updated only after that. A crash or kill at any point leaves the
previous epochs untouched, no partial epoch directory, and a rerun of the same epoch reuses every finished batch
(each user's secret is in the operator's store, so the rebuilt batches are identical). Per-user inclusion files go
to ``<root>/private/epoch-N/`` (0700/0600), never into the published epoch directory.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zkmargin.atomic import atomic_directory, atomic_write_bytes
from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.r1cs import UnsatisfiedConstraint
from zkmargin.circuits.rules.circuit_inputs import document_bytes, document_hash, governed_document
from zkmargin.circuits.rules.methodology import Methodology
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.circuits.solvency.shape import PUB_MARKET_COMMITMENT, PUB_PARAMS_COMMITMENT
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.attestation import BatchStatement, split_public_signals
from zkmargin.verifier.snarkjs_json import proof_from_json, proof_to_json, public_to_json, vk_from_json, vk_to_json
from zkmargin.verifier.types import Proof, VerifyingKey

from ..engine.margin import AccountResult, MarginEngine
from ..groth16 import prove
from ..keys import ProvingKey
from ..setup import dev_setup, run_ceremony
from ..solvency_witness import (
    AccountNotProvable,
    BatchLayout,
    SolvencyBatch,
    build_batch,
    leaf_data,
    make_layout,
    solvency_params,
)
from ..zkey import read_zkey, write_zkey
from .chain_ops import ChainDeployment, attest, deploy, update_feeds
from .deliveries import write_deliveries
from .exchange import ExchangeSpec
from .user_secrets import FILENAME as USER_SECRETS
from .user_secrets import UserSecretStore

if TYPE_CHECKING:
    from .distributed import BatchProof, BatchProver

DEV_LABEL = (
    "DEVELOPMENT SETUP (single party): whoever ran it knows the toxic waste and could forge proofs. "
    "Not for production; use a multi-party ceremony from a public phase 1."
)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class InjectedFault(RuntimeError):
    """Raised by the test hook ``fail_after_batches`` to simulate a crash mid-epoch."""


@dataclass
class Setup:
    pk: ProvingKey
    vk: VerifyingKey
    kind: str  # "development" | "ceremony"
    path: Path
    seconds: float  # time spent creating it (0 when loaded)


@dataclass
class Exclusion:
    account_id: str
    kind: str  # "not_representable" | "invalid"
    reason: str
    equity: int | None = None
    mm: int | None = None


def exclusions_to_json(excluded: Sequence[Exclusion]) -> list[dict[str, Any]]:
    """Published form: counts per (kind, reason), never an id, an id hash or an account's numbers."""
    counts = Counter((e.kind, _public_reason(e.reason)) for e in excluded)
    return [{"kind": k, "reason": r, "count": n} for (k, r), n in sorted(counts.items())]


def _public_reason(reason: str) -> str:
    """The reason without anything account-specific (quoted ids or numbers are cut at the first colon or quote)."""
    return reason.split(":")[0].split("'")[0].split('"')[0].strip()


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


class Operator:
    """Runs epochs into a bundle root; one setup per circuit shape (``<root>/setups/<shape id>``).

    ``prover``: ``"local"`` (default: batches proven one after the other in this process) or a ``BatchProver``
    such as ``distributed.DaskProver`` (batches proven in parallel, each returned proof verified before use).
    """

    def __init__(
        self,
        root: str | Path,
        spec: ExchangeSpec | None = None,
        setup_kind: str = "development",
        setup_dir: str | Path | None = None,
        chain: ChainDeployment | None = None,
        progress: Progress | None = None,
        prover: str | BatchProver = "local",
    ) -> None:
        if isinstance(prover, str) and prover != "local":
            raise ValueError("prover is 'local' or a BatchProver (e.g. distributed.DaskProver)")
        self.prover = prover
        if setup_kind not in ("development", "ceremony"):
            raise ValueError("setup_kind is 'development' or 'ceremony'")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.spec = spec or ExchangeSpec()
        self.setup_kind = setup_kind
        self.setup_dir = Path(setup_dir) if setup_dir else None
        self.chain = chain
        self.progress = progress or (lambda stage, done, total: None)
        self._circuit: SolvencyCircuit | None = None
        self._setup: Setup | None = None
        self.user_secrets = UserSecretStore(self.root / USER_SECRETS)

    def layout(self, engine: MarginEngine) -> BatchLayout:
        return make_layout(engine, self.spec.instruments, self.spec.assets, accounts=self.spec.accounts_per_batch)

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
            development_mode=not self.public_setup(setup),
            insurance_fund_micro_usd=insurance_fund_micro_usd,
            first_epoch=max((r["epoch"] for r in fmt.list_epochs(self.root)), default=0) + 1,
            max_unrepresented_ppm=max_unrepresented_ppm,
        )
        return self.chain

    @staticmethod
    def public_setup(setup: Setup) -> bool:
        """A ceremony on a public phase-1 file (``phase1.ptau`` beside the key): the only setup a production
        registry accepts. Anything else needs a registry deployed in development mode (the audit enforces it)."""
        return setup.kind == "ceremony" and (setup.path / "phase1.ptau").exists()

    def circuit(self, layout: BatchLayout) -> SolvencyCircuit:
        if self._circuit is None or self._circuit.shape != layout.shape:
            self._circuit = SolvencyCircuit(layout.shape)
        return self._circuit

    def setup(self, layout: BatchLayout) -> Setup:
        """Load the shape's setup, or create it (dev setup or local ceremony) atomically."""
        sid = fmt.shape_id(layout.shape)
        path = self.setup_dir or self.root / "setups" / sid
        if self._setup is not None and self._setup.path == path:
            return self._setup
        if (path / "setup.json").exists():
            meta = json.loads((path / "setup.json").read_text())
            if meta["shape"] != fmt.shape_to_json(layout.shape):
                raise ValueError(f"{path}: setup for another circuit shape")
            pk = read_zkey(path / "circuit.zkey", check_points=False, packed_only=native_available())
            vk = vk_from_json(json.loads((path / fmt.VK).read_text()))
            self._setup = Setup(pk, vk, meta["kind"], path, 0.0)
            return self._setup
        circuit = self.circuit(layout)
        t0 = time.perf_counter()
        with atomic_directory(path) as stage:
            if self.setup_kind == "ceremony":
                self.progress("setup (local ceremony)", 0, 1)
                pk = run_ceremony(circuit.r1cs, stage / "transcript", phase1_contributions=2, phase2_contributions=2)
            else:
                self.progress("setup (DEVELOPMENT, single party)", 0, 1)
                pk = dev_setup(circuit.r1cs)
            write_zkey(pk, stage / "circuit.zkey")
            vk = pk.verifying_key()
            (stage / fmt.VK).write_bytes(fmt.dumps(vk_to_json(vk)))
            meta = {
                "kind": self.setup_kind,
                "label": DEV_LABEL if self.setup_kind == "development" else "local multi-party ceremony (transcript/)",
                "shape": fmt.shape_to_json(layout.shape),
                "constraints": circuit.r1cs.n_constraints,
                "domain_size": pk.domain_size,
            }
            (stage / "setup.json").write_bytes(fmt.dumps(meta))
        self._setup = Setup(pk, vk, self.setup_kind, path, time.perf_counter() - t0)
        return self._setup

    # ------------------------------------------------------------------ epoch
    def classify(
        self, engine: MarginEngine, accounts: Sequence[Account], layout: BatchLayout
    ) -> tuple[list[Account], list[Exclusion], dict[str, AccountResult]]:
        """Engine evaluation of every account; the provable ones and the excluded ones with the reason."""
        ok: list[Account] = []
        excluded: list[Exclusion] = []
        results: dict[str, AccountResult] = {}
        seen: set[str] = set()
        for acct in accounts:
            aid = acct.account_id
            try:
                res = engine.evaluate(acct)
            except (ValueError, KeyError) as e:
                excluded.append(Exclusion(aid, "invalid", f"engine refused the account: {e}"))
                continue
            results[aid] = res
            try:
                leaf_data(engine, acct, layout, 1, 0)  # representability only
            except AccountNotProvable as e:
                excluded.append(Exclusion(aid, "not_representable", e.reason, res.equity, res.mm))
                continue
            if aid in seen:
                excluded.append(Exclusion(aid, "invalid", "duplicate account id"))
                continue
            seen.add(aid)
            ok.append(acct)
        return ok, excluded, results

    def run_epoch(
        self,
        epoch: int,
        engine: MarginEngine,
        accounts: Sequence[Account],
        fail_after_batches: int | None = None,
        methodology: Methodology | None = None,
    ) -> EpochResult:
        """Prove, attest and publish one epoch (resumes from ``.work/`` after a crash; idempotent once published)."""
        final = self.root / fmt.epoch_dirname(epoch)
        if (final / fmt.MANIFEST).exists():
            return self._reload(epoch, final)
        done = [r["epoch"] for r in fmt.list_epochs(self.root)]
        if done and epoch <= max(done):
            raise ValueError(f"epoch {epoch} is not after the latest published epoch {max(done)}")
        layout = self.layout(engine)
        circuit = self.circuit(layout)
        setup = self.setup(layout)
        vk_sha = hashlib.sha256(fmt.dumps(vk_to_json(setup.vk))).hexdigest()
        provable, excluded, results = self.classify(engine, accounts, layout)
        if not provable:
            raise ValueError(f"epoch {epoch}: no provable account")
        secrets = self.user_secrets.for_accounts(a.account_id for a in provable)
        provable.sort(key=lambda a: account_id_commitment(a.account_id, secrets[a.account_id]))
        n = layout.shape.accounts
        chunks = [provable[i : i + n] for i in range(0, len(provable), n)]
        work = self.root / ".work" / fmt.epoch_dirname(epoch)
        work.mkdir(parents=True, exist_ok=True)
        batches: list[SolvencyBatch] = []
        proofs: list[Proof] = []
        reused = proved = 0
        prove_s = witness_s = 0.0
        t_prove = time.perf_counter()
        if not isinstance(self.prover, str):
            batches, proofs, reused, prove_s, witness_s = self._prove_parallel(
                self.prover, epoch, engine, layout, setup, vk_sha, chunks, work, fail_after_batches, secrets
            )
            chunks = []  # the sequential loop below has nothing left to do
        for i, chunk in enumerate(chunks):
            self.progress("prove batches", i, len(chunks))
            batch = build_batch(engine, chunk, layout, epoch, user_secrets=secrets)
            batches.append(batch)
            cache = work / f"batch-{i:04d}.json"
            if cache.exists():
                try:
                    c = json.loads(cache.read_text())
                    if c["vk_sha256"] == vk_sha and [int(x) for x in c["public"]] == batch.public:
                        proofs.append(proof_from_json(c["proof"]))
                        reused += 1
                        continue
                except (ValueError, KeyError):
                    pass  # a stale or foreign cache entry: prove again
            if fail_after_batches is not None and proved >= fail_after_batches:
                raise InjectedFault(f"injected fault before batch {i} of epoch {epoch}")
            t0 = time.perf_counter()
            w = circuit.witness(batch.inputs)
            try:
                circuit.r1cs.check(w)
            except UnsatisfiedConstraint as e:  # a builder/engine mismatch: never publish, name the constraint
                raise RuntimeError(f"epoch {epoch} batch {i}: witness fails constraint {e.name}") from e
            t1 = time.perf_counter()
            proof, public = prove(setup.pk, w)
            prove_s += time.perf_counter() - t1
            witness_s += t1 - t0
            if public != batch.public:
                raise RuntimeError(f"epoch {epoch} batch {i}: public signals differ from the builder's")
            atomic_write_bytes(
                cache, fmt.dumps({"vk_sha256": vk_sha, "public": public_to_json(public), "proof": proof_to_json(proof)})
            )
            proofs.append(proof)
            proved += 1
        prove_wall = time.perf_counter() - t_prove
        self.progress("prove batches", len(batches), len(batches))

        first = batches[0]
        shared = split_public_signals(first.public, layout.shape.assets)[0]
        prices = shared.prices
        chain_info = None
        if self.chain is not None:
            self.progress("attest on-chain", 0, 1)
            statements = [
                (split_public_signals(b.public, layout.shape.assets)[1], p)
                for b, p in zip(batches, proofs, strict=True)
            ]
            chain_file = work / "chain.json"
            update_feeds(self.chain, prices)
            chain_info = attest(
                self.chain,
                epoch,
                shared.params_commitment,
                prices,
                statements,
                market_commitment=shared.market_commitment,
                declared_accounts=len(accounts),
                unrepresented_accounts=len(excluded),
            )
            if chain_info.get("tx_hash") is None and chain_file.exists():
                chain_info = json.loads(chain_file.read_text())  # submitted before a crash: keep the receipt
            atomic_write_bytes(chain_file, fmt.dumps(chain_info))
            self.progress("attest on-chain", 1, 1)

        self.progress("write bundle", 0, 1)
        deliveries = self._write_bundle(
            final, epoch, engine, layout, setup, batches, proofs, excluded, results, chain_info,
            declared=len(accounts), methodology=methodology, secrets=secrets,
        )  # fmt: skip
        manifest = json.loads((final / fmt.MANIFEST).read_text())
        fmt.index_epoch(self.root, self._index_row(epoch, final, manifest))
        shutil.rmtree(work, ignore_errors=True)
        self.progress("write bundle", 1, 1)
        counts: Counter[str] = Counter(r.status for r in results.values())
        return EpochResult(
            epoch,
            final,
            manifest,
            sum(len(b.accounts) for b in batches),
            excluded,
            dict(counts),
            len(batches),
            reused,
            circuit.r1cs.n_constraints,
            prove_s,
            witness_s,
            chain_info,
            {a.account_id: secrets[a.account_id] for b in batches for a in b.accounts},
            deliveries,
            prove_wall,
        )

    def _prove_parallel(
        self,
        prover: BatchProver,
        epoch: int,
        engine: MarginEngine,
        layout: BatchLayout,
        setup: Setup,
        vk_sha: str,
        chunks: list[list[Account]],
        work: Path,
        fail_after_batches: int | None,
        secrets: dict[str, int],
    ) -> tuple[list[SolvencyBatch], list[Proof], int, float, float]:
        """Same batches, same cache and checks as the sequential loop; the proving goes to ``prover``."""
        from .distributed import BatchJob

        batches = [build_batch(engine, chunk, layout, epoch, user_secrets=secrets) for chunk in chunks]
        found: dict[int, Proof] = {}
        jobs: list[BatchJob] = []
        for i, batch in enumerate(batches):
            cache = work / f"batch-{i:04d}.json"
            if cache.exists():
                try:
                    c = json.loads(cache.read_text())
                    if c["vk_sha256"] == vk_sha and [int(x) for x in c["public"]] == batch.public:
                        found[i] = proof_from_json(c["proof"])
                        continue
                except (ValueError, KeyError):
                    pass
            jobs.append(BatchJob(i, batch.inputs, batch.public))
        reused = len(found)
        if fail_after_batches is not None and len(jobs) > fail_after_batches:
            jobs = jobs[:fail_after_batches]
        else:
            fail_after_batches = None
        times = [0.0, 0.0]
        self.progress("prove batches", len(found), len(batches))

        def on_proof(bp: BatchProof) -> None:
            cache = work / f"batch-{bp.index:04d}.json"
            atomic_write_bytes(
                cache,
                fmt.dumps({"vk_sha256": vk_sha, "public": public_to_json(bp.public), "proof": proof_to_json(bp.proof)}),
            )
            found[bp.index] = bp.proof
            times[0] += bp.prove_seconds
            times[1] += bp.witness_seconds
            self.progress("prove batches", len(found), len(batches))

        prover.prove_batches(setup.path / "circuit.zkey", layout.shape, setup.vk, jobs, on_proof)
        if fail_after_batches is not None:
            raise InjectedFault(f"injected fault after {fail_after_batches} batches of epoch {epoch}")
        missing = [i for i in range(len(batches)) if i not in found]
        if missing:
            raise RuntimeError(f"epoch {epoch}: batches {missing} were not proven")
        return batches, [found[i] for i in range(len(batches))], reused, times[0], times[1]

    # ------------------------------------------------------------------ bundle
    def _write_bundle(
        self,
        final: Path,
        epoch: int,
        engine: MarginEngine,
        layout: BatchLayout,
        setup: Setup,
        batches: list[SolvencyBatch],
        proofs: list[Proof],
        excluded: list[Exclusion],
        results: dict[str, AccountResult],
        chain_info: dict[str, Any] | None,
        *,
        declared: int,
        methodology: Methodology | None,
        secrets: dict[str, int],
    ) -> Path:
        sh = layout.shape
        params = solvency_params(engine, layout)
        recipe = None if methodology is None else methodology.recipe_hash()
        governed = governed_document(engine.params, engine.instruments, layout, recipe)
        entries: list[dict[str, Any]] = []
        with atomic_directory(final) as stage:
            (stage / fmt.PARAMS).write_bytes(
                fmt.dumps(
                    {
                        "governed_document": governed,
                        "solvency_params": fmt.solvency_params_to_json(params),
                        "shape": fmt.shape_to_json(sh),
                        "layout": {"instruments": list(layout.instruments), "assets": list(layout.assets)},
                    }
                )
            )
            (stage / fmt.MARKET).write_bytes(fmt.dumps(engine.snapshot.model_dump(mode="json")))
            if methodology is not None:  # dynamic parameters: the audit re-derives them from this
                (stage / fmt.METHODOLOGY).write_bytes(fmt.dumps(json.loads(methodology.canonical_json())))
            (stage / fmt.VK).write_bytes(fmt.dumps(vk_to_json(setup.vk)))
            for i, (b, proof) in enumerate(zip(batches, proofs, strict=True)):
                pf, pb = fmt.batch_files(i)
                (stage / pf).parent.mkdir(parents=True, exist_ok=True)
                (stage / pf).write_bytes(fmt.dumps(proof_to_json(proof)))
                (stage / pb).write_bytes(fmt.dumps(public_to_json(b.public)))
                st: BatchStatement = split_public_signals(b.public, sh.assets)[1]
                entries.append(
                    {
                        "index": i,
                        "root": str(st.batch_root),
                        "first_id_hash": str(st.first_id_hash),
                        "last_id_hash": str(st.last_id_hash),
                        "count": st.account_count,
                        "total_equity": str(st.total_equity),
                        "total_mm": str(st.total_mm),
                        "under_mm_count": st.under_mm_count,
                        "total_shortfall": str(st.total_shortfall),
                        "total_bad_debt": str(st.total_bad_debt),
                        "liabilities": [str(x) for x in st.liabilities],
                        "proof": pf,
                        "public": pb,
                    }
                )
            (stage / fmt.EXCLUDED).write_bytes(fmt.dumps(exclusions_to_json(excluded)))
            counts = Counter(r.status for r in results.values())
            manifest = {
                "format": fmt.FORMAT,
                "version": fmt.VERSION,
                "epoch": epoch,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "parameter_version": document_hash(governed),
                "params_commitment": str(batches[0].public[PUB_PARAMS_COMMITMENT]),
                "market_commitment": str(batches[0].public[PUB_MARKET_COMMITMENT]),
                "prices": {a: p for a, p in zip(layout.assets, batches[0].prices(), strict=True)},
                "shape": fmt.shape_to_json(sh),
                "layout": {"instruments": list(layout.instruments), "assets": list(layout.assets)},
                "setup": {
                    "kind": setup.kind,
                    "shape_id": fmt.shape_id(sh),
                    "label": DEV_LABEL if setup.kind == "development" else "local multi-party ceremony",
                    "transcript": os.path.relpath(setup.path / "transcript", final)
                    if (setup.path / "transcript").exists()
                    else None,
                    # the ceremony key (snarkjs contribution records) and, for a public phase 1, its .ptau
                    "zkey": os.path.relpath(setup.path / "circuit.zkey", final),
                    "ptau": os.path.relpath(setup.path / "phase1.ptau", final)
                    if (setup.path / "phase1.ptau").exists()
                    else None,
                },
                "batches": entries,
                "totals": {
                    "accounts_covered": sum(len(b.accounts) for b in batches),
                    "accounts_excluded": len(excluded),
                    "accounts_declared": declared,
                    "accounts_unrepresented": len(excluded),
                    "under_mm_count": sum(int(e["under_mm_count"]) for e in entries),
                    "total_shortfall": str(sum(int(e["total_shortfall"]) for e in entries)),
                    "total_bad_debt": str(sum(int(e["total_bad_debt"]) for e in entries)),
                    "accounts_evaluated": len(results) + sum(e.kind == "invalid" for e in excluded),
                    "margin_call": counts.get("margin_call", 0),
                    "liquidation": counts.get("liquidation", 0),
                    "total_equity": str(sum(int(e["total_equity"]) for e in entries)),
                    "total_mm": str(sum(int(e["total_mm"]) for e in entries)),
                },
                "chain": chain_info,
                "files": {rel: fmt.sha256_file(stage / rel) for rel in fmt.iter_files(stage)},
            }
            (stage / fmt.MANIFEST).write_bytes(fmt.dumps(manifest))
            # private half, complete before the public epoch directory appears (a crash leaves neither or both)
            out = write_deliveries(
                self.root, epoch, layout, batches, secrets, fmt.sha256_file(stage / fmt.MANIFEST)
            )
        return out

    def _index_row(self, epoch: int, final: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        chain = manifest.get("chain") or {}
        return {
            "epoch": epoch,
            "dir": final.name,
            "created": manifest["created"],
            "parameter_version": manifest["parameter_version"],
            "params_commitment": manifest["params_commitment"],
            "accounts_covered": manifest["totals"]["accounts_covered"],
            "accounts_excluded": manifest["totals"]["accounts_excluded"],
            "batches": len(manifest["batches"]),
            "manifest_sha256": fmt.sha256_file(final / fmt.MANIFEST),
            "registry": chain.get("registry"),
            "tx_hash": chain.get("tx_hash"),
        }

    def _reload(self, epoch: int, final: Path) -> EpochResult:
        """An epoch already published (e.g. the crash came after the rename): make sure the index has it."""
        manifest = json.loads((final / fmt.MANIFEST).read_text())
        if epoch not in [r["epoch"] for r in fmt.list_epochs(self.root)]:
            fmt.index_epoch(self.root, self._index_row(epoch, final, manifest))
        shutil.rmtree(self.root / ".work" / fmt.epoch_dirname(epoch), ignore_errors=True)
        excluded = [  # the published list has counts only: the ids stay with the operator
            Exclusion("(not published)", e["kind"], e["reason"])
            for e in json.loads((final / fmt.EXCLUDED).read_text())
            for _ in range(int(e["count"]))
        ]
        t = manifest["totals"]
        return EpochResult(
            epoch,
            final,
            manifest,
            t["accounts_covered"],
            excluded,
            {"margin_call": t["margin_call"], "liquidation": t["liquidation"]},
            len(manifest["batches"]),
            len(manifest["batches"]),
            0,
            0.0,
            0.0,
            manifest.get("chain"),
        )

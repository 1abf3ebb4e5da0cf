"""Distributed proving: the batches of an epoch proven in parallel on Dask ``distributed``.

Why Dask: batches are independent, CPU-bound and each takes seconds, so a task per batch on a process pool (one
thread per worker: the prover holds the GIL outside the C kernel) scales across cores and, through a scheduler
address, across machines without changing the pipeline.

What is shipped: the batch's witness *inputs* (a few hundred integers) and the path of the setup's ``circuit.zkey``
(for a committed key, the setup directory's ``commitment_key.json`` and ``verification_key.json`` beside it are read
too: the witness needs the commitment to derive its challenge, so a worker proves with the whole committed key);
each worker loads the proving key and builds the circuit once (cached by path and shape, warmed on every worker
before the first task), computes and checks the witness, proves, and returns the proof as snarkjs JSON. The driver
verifies every returned proof against the setup's verifying key and the builder's public signals before it is cached
or published, so a Dask-proven epoch means exactly what a locally proven one does. With a remote scheduler the
setup directory must be on a filesystem the workers share (same path).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.shape import SolvencyShape
from zkmargin.verifier.bundle_proofs import COMMITTED, AnyKey, proof_from_bundle_json, proof_to_bundle_json
from zkmargin.verifier.groth16 import MalformedInput

from ..committed import CommittedProvingKey
from ..committed_store import load_committed_key
from ..keys import ProvingKey
from ..zkey import read_zkey
from .proving import BatchJob, BatchProof, BatchProofError, BatchProver, OnProof, check_proof, circuit_for, prove_batch

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from .setups import Setup

__all__ = ["BatchJob", "BatchProof", "BatchProver", "DaskProver", "OnProof", "prove_task", "require_dask", "warm"]

EXTRA_HINT = "distributed proving needs dask: pip install zkmargin[distributed]"


def require_dask() -> None:
    """Import ``distributed`` or fail naming the extra that provides it (the base install proves in-process)."""
    try:
        import distributed  # noqa: F401
    except ImportError as e:
        raise ImportError(EXTRA_HINT) from e


# ---------------------------------------------------------------------- worker side (module-level: picklable)
_PK: dict[tuple[str, float, str], ProvingKey | CommittedProvingKey] = {}


def _kernel_threads() -> None:
    """Apply ``ZKMARGIN_THREADS`` even when ``msm_native`` was imported before the worker's environment was set
    (a spawned worker re-imports the driver's main module first, and that may import the prover)."""
    from zkmargin.circuits import msm_native

    n = int(os.environ.get("ZKMARGIN_THREADS") or 0)
    if n > 0:
        msm_native.THREADS = n


def _load(zkey: str, shape: SolvencyShape, proof_system: str) -> tuple[ProvingKey | CommittedProvingKey,
                                                                        SolvencyCircuit]:  # fmt: skip
    """The proving key (keyed by path, mtime and proof system) and circuit of this worker process, loaded once."""
    _kernel_threads()
    key = (zkey, os.stat(zkey).st_mtime, proof_system)
    circuit = circuit_for(shape, proof_system)
    if key not in _PK:
        _PK.clear()  # one setup at a time: a mapped key still holds its page cache and decoded headers
        if proof_system == COMMITTED:
            _PK[key] = load_committed_key(Path(zkey).parent, circuit.r1cs, packed_only=native_available(),
                                          check_points=False)  # fmt: skip
        else:
            _PK[key] = read_zkey(Path(zkey), check_points=False, packed_only=native_available())
    return _PK[key], circuit


def warm(zkey: str, shape: SolvencyShape, proof_system: str = "plain") -> float:
    """Load key and circuit on this worker (run on every worker before the tasks); returns the seconds it took."""
    t0 = time.perf_counter()
    _load(zkey, shape, proof_system)
    return time.perf_counter() - t0


def prove_task(zkey: str, shape: SolvencyShape, vk: AnyKey, job: BatchJob, proof_system: str = "plain"
               ) -> dict[str, Any]:  # fmt: skip
    """``prove_batch`` on a worker; the proof travels back as JSON (the driver checks it again)."""
    pk, circuit = _load(zkey, shape, proof_system)
    bp = prove_batch(pk, vk, circuit, job, worker=f"pid {os.getpid()}")
    return {
        "proof": proof_to_bundle_json(bp.proof),
        "public": [str(x) for x in bp.public],
        "prove_s": bp.prove_seconds,
        "witness_s": bp.witness_seconds,
        "worker": bp.worker,
    }


# ---------------------------------------------------------------------- driver side
def _local_cluster(workers: int, env: dict[str, str]) -> LocalCluster:
    """A LocalCluster of single-threaded worker processes; ``env`` is also set in this process while the workers
    spawn (they inherit it at birth, before anything imports the C kernel), then restored."""
    from distributed import LocalCluster

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never collide with another cluster
            memory_limit=0,  # proving keys are large and the nanny must not restart a busy worker
            env=env,
            silence_logs=40,
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class DaskProver:
    """Proves batches on a Dask cluster: a ``LocalCluster`` of ``workers`` processes (1 thread each) by default,
    or the cluster behind ``scheduler`` (``tcp://host:port``). ``kernel_threads`` sets ``ZKMARGIN_THREADS`` in
    local workers so n workers do not oversubscribe the cores with the C kernel's own threads."""

    def __init__(self, workers: int = 2, scheduler: str | None = None, kernel_threads: int | None = 1) -> None:
        require_dask()
        from distributed import Client

        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.scheduler = scheduler
        self.cluster: LocalCluster | None = None
        self.client: Client
        if scheduler:
            self.client = Client(scheduler, timeout=20)
        else:
            env = {"ZKMARGIN_THREADS": str(kernel_threads)} if kernel_threads else {}
            self.cluster = _local_cluster(workers, env)
            self.client = Client(self.cluster)
        self.warmup_seconds: dict[str, float] = {}

    def __enter__(self) -> DaskProver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def describe(self) -> str:
        n = len(self.client.scheduler_info().get("workers", {}))
        where = self.scheduler or "LocalCluster (processes, 1 thread each)"
        return f"Dask: {n} worker(s) on {where}"

    def prove_batches(self, setup: Setup, shape: SolvencyShape, jobs: Sequence[BatchJob], on_proof: OnProof) -> None:
        """Submit every job, check each result on arrival (public signals, proof against the verifying key: a worker
        is not trusted) and hand it to ``on_proof``; the remaining tasks are cancelled if anything raises."""
        from distributed import as_completed

        if not jobs:
            return
        path = str(Path(setup.zkey).resolve())
        system = setup.proof_system
        self.warmup_seconds = {str(k): float(v) for k, v in self.client.run(warm, path, shape, system).items()}
        futures = {
            self.client.submit(prove_task, path, shape, setup.vk, job, system, pure=False, priority=-job.index): job
            for job in jobs
        }
        try:
            for fut in as_completed(list(futures)):
                job = futures[fut]
                try:
                    out = fut.result()
                except BatchProofError:
                    raise
                except RuntimeError as e:
                    raise BatchProofError(f"batch {job.index}: {e}") from e
                public = [int(x) for x in out["public"]]
                try:
                    proof = proof_from_bundle_json(out["proof"], setup.vk)
                except MalformedInput as e:
                    raise BatchProofError(f"batch {job.index}: malformed proof from the worker ({e})") from e
                check_proof(setup.vk, job.index, proof, public, job.public)
                on_proof(BatchProof(job.index, proof, public, out["prove_s"], out["witness_s"], out["worker"]))
        finally:
            for f in futures:
                f.cancel()

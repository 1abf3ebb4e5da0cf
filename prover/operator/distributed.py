"""Distributed proving: the batches of an epoch proven in parallel on Dask ``distributed``.

Why Dask: batches are independent, CPU-bound and each takes seconds, so a task per batch on a process pool (one
thread per worker: the prover holds the GIL outside the C kernel) scales across cores and, through a scheduler
address, across machines without changing the pipeline.

What is shipped: the batch's witness *inputs* (a few hundred integers) and the path of the setup's ``circuit.zkey``;
each worker loads the proving key and builds the circuit once (cached by path and shape, warmed on every worker
before the first task), computes and checks the witness, proves, and returns the proof as snarkjs JSON. The driver
verifies every returned proof against the setup's verifying key and the builder's public signals before it is cached
or published, so a Dask-proven epoch means exactly what a locally proven one does. With a remote scheduler the
setup directory must be on a filesystem the workers share (same path).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.r1cs import UnsatisfiedConstraint
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.shape import SolvencyShape
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.snarkjs_json import proof_from_json, proof_to_json
from zkmargin.verifier.types import Proof, VerifyingKey

from ..groth16 import prove
from ..keys import ProvingKey
from ..zkey import read_zkey

if TYPE_CHECKING:
    from distributed import LocalCluster


@dataclass(frozen=True)
class BatchJob:
    """One batch to prove: its index in the epoch, witness inputs and the public signals the builder expects."""

    index: int
    inputs: dict[str, int]
    public: list[int]


@dataclass(frozen=True)
class BatchProof:
    index: int
    proof: Proof
    public: list[int]
    prove_seconds: float
    witness_seconds: float
    worker: str


OnProof = Callable[[BatchProof], None]


class BatchProver(Protocol):
    """A proving strategy for the pipeline: prove ``jobs``, calling ``on_proof`` as each verified proof arrives."""

    def prove_batches(
        self, zkey: Path, shape: SolvencyShape, vk: VerifyingKey, jobs: Sequence[BatchJob], on_proof: OnProof
    ) -> None: ...


# ---------------------------------------------------------------------- worker side (module-level: picklable)
_PK: dict[tuple[str, float], ProvingKey] = {}
_CIRCUITS: dict[SolvencyShape, SolvencyCircuit] = {}


def _kernel_threads() -> None:
    """Apply ``ZKMARGIN_THREADS`` even when ``msm_native`` was imported before the worker's environment was set
    (a spawned worker re-imports the driver's main module first, and that may import the prover)."""
    from zkmargin.circuits import msm_native

    n = int(os.environ.get("ZKMARGIN_THREADS") or 0)
    if n > 0:
        msm_native.THREADS = n


def _load(zkey: str, shape: SolvencyShape) -> tuple[ProvingKey, SolvencyCircuit]:
    """The proving key (keyed by path and mtime) and circuit of this worker process, loaded once."""
    _kernel_threads()
    key = (zkey, os.stat(zkey).st_mtime)
    if key not in _PK:
        _PK.clear()  # one setup at a time: a mapped key still holds its page cache and decoded headers
        _PK[key] = read_zkey(Path(zkey), check_points=False, packed_only=native_available())
    if shape not in _CIRCUITS:
        _CIRCUITS[shape] = SolvencyCircuit(shape)
    return _PK[key], _CIRCUITS[shape]


def warm(zkey: str, shape: SolvencyShape) -> float:
    """Load key and circuit on this worker (run on every worker before the tasks); returns the seconds it took."""
    t0 = time.perf_counter()
    _load(zkey, shape)
    return time.perf_counter() - t0


def prove_task(zkey: str, shape: SolvencyShape, inputs: dict[str, int]) -> dict[str, Any]:
    """Witness, constraint check and proof of one batch on a worker; the proof travels as snarkjs JSON."""
    pk, circuit = _load(zkey, shape)
    t0 = time.perf_counter()
    w = circuit.witness(inputs)
    try:
        circuit.r1cs.check(w)
    except UnsatisfiedConstraint as e:
        raise RuntimeError(f"witness fails constraint {e.name}") from e
    t1 = time.perf_counter()
    proof, public = prove(pk, w)
    t2 = time.perf_counter()
    return {
        "proof": proof_to_json(proof),
        "public": [str(x) for x in public],
        "prove_s": t2 - t1,
        "witness_s": t1 - t0,
        "worker": f"pid {os.getpid()}",
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
        from distributed import Client

        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.scheduler = scheduler
        self.cluster: LocalCluster | None = None
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

    def prove_batches(
        self, zkey: Path, shape: SolvencyShape, vk: VerifyingKey, jobs: Sequence[BatchJob], on_proof: OnProof
    ) -> None:
        """Submit every job, verify each result on arrival (proof, public signals) and hand it to ``on_proof``."""
        from distributed import as_completed

        if not jobs:
            return
        path = str(Path(zkey).resolve())
        self.warmup_seconds = {str(k): float(v) for k, v in self.client.run(warm, path, shape).items()}
        futures = {
            self.client.submit(prove_task, path, shape, job.inputs, pure=False, priority=-job.index): job
            for job in jobs
        }
        try:
            for fut in as_completed(list(futures)):
                job = futures[fut]
                try:
                    out = fut.result()
                except RuntimeError as e:
                    raise RuntimeError(f"batch {job.index}: {e}") from e
                public = [int(x) for x in out["public"]]
                if public != job.public:
                    raise RuntimeError(f"batch {job.index}: public signals differ from the builder's")
                proof = proof_from_json(out["proof"])
                if not verify(vk, proof, public):
                    raise RuntimeError(f"batch {job.index}: the proof returned by {out['worker']} does not verify")
                on_proof(BatchProof(job.index, proof, public, out["prove_s"], out["witness_s"], out["worker"]))
        finally:
            for f in futures:
                f.cancel()

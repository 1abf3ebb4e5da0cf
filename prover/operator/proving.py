"""Proving one batch, and the proving strategies the pipeline can use.

``prove_batch`` is the only place a batch is proven: witness -> every constraint checked -> Groth16 proof -> public
signals equal to the builder's -> the proof verified against the verifying key. Both strategies run it:
:class:`LocalProver` in this process, ``distributed.DaskProver`` on workers (where the driver checks the returned
proof again with :func:`check_proof`, since a remote worker is not trusted). Why one function: a check written twice
drifts; a Dask-proven epoch must mean exactly what a locally proven one does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from zkmargin.circuits.r1cs import UnsatisfiedConstraint
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.shape import SolvencyShape
from zkmargin.verifier.groth16 import MalformedInput, verify
from zkmargin.verifier.types import Proof, VerifyingKey

from ..groth16 import prove
from ..keys import ProvingKey

if TYPE_CHECKING:
    from .setups import Setup


class BatchProofError(RuntimeError):
    """A batch could not be proven as built (a constraint fails, the signals differ, the proof does not verify);
    the message names the batch and what failed. Nothing of the epoch is published then."""


@dataclass(frozen=True)
class BatchJob:
    """One batch to prove: its index in the epoch, witness inputs and the public signals the builder expects."""

    index: int
    inputs: dict[str, int]
    public: list[int]


@dataclass(frozen=True)
class BatchProof:
    """A proven batch, already verified against the verifying key and the builder's public signals."""

    index: int
    proof: Proof
    public: list[int]
    prove_seconds: float
    witness_seconds: float
    worker: str


OnProof = Callable[[BatchProof], None]


class BatchProver(Protocol):
    """A proving strategy: prove ``jobs`` with ``setup``, calling ``on_proof`` as each verified proof arrives
    (in any order). Raising from ``on_proof`` stops the strategy (the pipeline's fault hooks rely on it)."""

    def prove_batches(self, setup: Setup, shape: SolvencyShape, jobs: Sequence[BatchJob], on_proof: OnProof) -> None:
        """Prove every job; raise ``BatchProofError`` naming the batch when one cannot be proven."""
        ...

    def describe(self) -> str:
        """One line for logs and run summaries (where the batches are proven)."""
        ...


@functools.lru_cache(maxsize=2)
def circuit_for(shape: SolvencyShape) -> SolvencyCircuit:
    """The circuit of a shape, built once per process (seconds for the demo shape): the operator, the local prover
    and each Dask worker share it."""
    return SolvencyCircuit(shape)


def check_proof(vk: VerifyingKey, index: int, proof: Proof, public: Sequence[int], expected: Sequence[int]) -> None:
    """Raise ``BatchProofError`` unless ``public`` is the builder's ``expected`` and ``proof`` verifies for it."""
    if list(public) != list(expected):
        raise BatchProofError(f"batch {index}: public signals differ from the builder's")
    try:
        ok = verify(vk, proof, list(public))
    except MalformedInput as e:
        raise BatchProofError(f"batch {index}: malformed proof ({e})") from e
    if not ok:
        raise BatchProofError(f"batch {index}: the proof does not verify against the verifying key")


def prove_batch(
    pk: ProvingKey, vk: VerifyingKey, circuit: SolvencyCircuit, job: BatchJob, worker: str = "in-process"
) -> BatchProof:
    """Witness, constraint check (a failure names the constraint: a builder/engine mismatch must never be
    published), proof, and the proof verified before it leaves this function."""
    t0 = time.perf_counter()
    w = circuit.witness(job.inputs)
    try:
        circuit.r1cs.check(w)
    except UnsatisfiedConstraint as e:
        raise BatchProofError(f"batch {job.index}: witness fails constraint {e.name}") from e
    t1 = time.perf_counter()
    proof, public = prove(pk, w)
    t2 = time.perf_counter()
    check_proof(vk, job.index, proof, public, job.public)
    return BatchProof(job.index, proof, public, t2 - t1, t1 - t0, worker)


class LocalProver:
    """Batches proven one after the other in this process (the default strategy)."""

    def prove_batches(self, setup: Setup, shape: SolvencyShape, jobs: Sequence[BatchJob], on_proof: OnProof) -> None:
        circuit = circuit_for(shape)
        for job in jobs:
            on_proof(prove_batch(setup.pk, setup.vk, circuit, job))

    def describe(self) -> str:
        return "in-process"

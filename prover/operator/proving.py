"""Proving one batch, and the proving strategies the pipeline can use.

``prove_batch`` is the only place a batch is proven: witness -> every constraint checked -> Groth16 proof -> public
signals equal to the builder's -> the proof verified against the verifying key. With a committed key (the default
proof system: the lookup circuit, ``prove_committed``/``verify_committed``) the witness depends on the commitment's
challenge, so witness and proof are one step; the proof is then verified with the challenge *derived* from D, and a
proof that does not verify is diagnosed by re-running the witness at a random challenge and checking every
constraint, so a builder/engine mismatch is still named by its constraint. Both strategies run it:
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
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.verifier.bundle_proofs import COMMITTED, PLAIN, PROOF_SYSTEMS, AnyKey, AnyProof, verify_any
from zkmargin.verifier.committed import CommittedVerifyingKey
from zkmargin.verifier.groth16 import MalformedInput

from ..committed import CommittedProvingKey, prove_committed
from ..groth16 import ProveStats, prove
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
    proof: AnyProof
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


@functools.lru_cache(maxsize=4)
def circuit_for(shape: SolvencyShape, proof_system: str = PLAIN) -> SolvencyCircuit:
    """The circuit of a shape and proof system (``"committed"``: on lookups), built once per process (a second or
    more for the demo shape): the operator, the local prover and each Dask worker share it."""
    if proof_system not in PROOF_SYSTEMS:
        raise ValueError(f"proof_system: {proof_system!r} is not one of {PROOF_SYSTEMS}")
    return SolvencyCircuit(shape, lookups=proof_system == COMMITTED)


def check_proof(vk: AnyKey, index: int, proof: AnyProof, public: Sequence[int], expected: Sequence[int]) -> None:
    """Raise ``BatchProofError`` unless ``public`` is the builder's ``expected`` and ``proof`` verifies for it (a
    committed proof with the challenge derived from its commitment, never one supplied with it)."""
    if list(public) != list(expected):
        raise BatchProofError(f"batch {index}: public signals differ from the builder's")
    try:
        ok = verify_any(vk, proof, list(public))
    except MalformedInput as e:
        raise BatchProofError(f"batch {index}: malformed proof ({e})") from e
    if not ok:
        raise BatchProofError(f"batch {index}: the proof does not verify against the verifying key")


def _check_witness(circuit: SolvencyCircuit | VenueCircuit, job: BatchJob) -> None:
    """Every constraint of the batch's witness (in lookup mode at a random challenge); a failure names it."""
    w = circuit.witness(job.inputs)
    try:
        circuit.r1cs.check(w)
    except UnsatisfiedConstraint as e:
        raise BatchProofError(f"batch {job.index}: witness fails constraint {e.name}") from e


def prove_batch(
    pk: ProvingKey | CommittedProvingKey, vk: AnyKey, circuit: SolvencyCircuit | VenueCircuit, job: BatchJob,
    worker: str = "in-process",
) -> BatchProof:  # fmt: skip
    """Witness, constraint check (a failure names the constraint: a builder/engine mismatch must never be
    published), proof, and the proof verified before it leaves this function.

    A committed key proves with ``prove_committed`` (witness and proof in one step: the witness needs the challenge
    derived from the commitment) and checks with ``verify_committed``; a proof that fails is diagnosed by the
    constraint check, so the error names the constraint as on the plain path."""
    if isinstance(pk, CommittedProvingKey) != isinstance(vk, CommittedVerifyingKey):
        raise BatchProofError(f"batch {job.index}: proving key and verifying key are of different proof systems")
    if isinstance(pk, CommittedProvingKey):
        if circuit.r1cs.commitment is None:
            raise BatchProofError(f"batch {job.index}: a committed key needs the lookup circuit")
        stats = ProveStats()
        t0 = time.perf_counter()
        cproof, public = prove_committed(pk, circuit.cs, job.inputs, stats=stats)
        total = time.perf_counter() - t0
        proving = min(total, sum(stats.phases.values()))
        try:
            check_proof(vk, job.index, cproof, public, job.public)
        except BatchProofError:
            _check_witness(circuit, job)  # names the failing constraint when there is one
            raise
        return BatchProof(job.index, cproof, public, proving, total - proving, worker)
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
        circuit = circuit_for(shape, setup.proof_system)
        for job in jobs:
            on_proof(prove_batch(setup.key, setup.vk, circuit, job))

    def describe(self) -> str:
        return "in-process"

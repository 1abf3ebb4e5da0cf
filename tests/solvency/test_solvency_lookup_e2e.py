"""End to end in lookup mode: engine accounts -> witness (challenge derived from the commitment D) -> dev setup of a
committed key -> prove_committed -> verify_committed; then the commitment, its proof of knowledge, the challenge, the
multiplicities and the published totals are each tampered with, and each tampering fails verification."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from solvency_helpers import ASSETS, SLOTS, account

import zkmargin.circuits.lookup as lookup
import zkmargin.prover.committed as committed_prover
from zkmargin.circuits.curve import G1_GEN, g1_add_aff
from zkmargin.circuits.field import R
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import SolvencyBatch, build_batch, make_layout
from zkmargin.verifier.committed import CommittedProof, derive_challenge, verify_committed

Setup = tuple[SolvencyCircuit, SolvencyBatch, CommittedProvingKey]


@pytest.fixture(scope="module")
def setup(engine: MarginEngine) -> Setup:
    layout = make_layout(engine, SLOTS, ASSETS, accounts=4)
    circuit = SolvencyCircuit(layout.shape, lookups=True)
    accts = [
        account("lu-1", 10_000, 0.5, btc_perp=0.3, eth_perp=-2),
        account("lu-2", 5_000, -0.01, btc_perp=-0.2, option=-1, mode="portfolio"),
        account("lu-3", 2_000, eth_perp=3, entry_shift=1.01),
    ]
    batch = build_batch(engine, accts, layout, epoch=9, secret=b"lookup-e2e")
    t0 = time.perf_counter()
    pk = dev_setup_committed(circuit.r1cs)
    print(f"lookup circuit: {circuit.r1cs.n_constraints} constraints, dev setup {time.perf_counter() - t0:.1f} s")
    return circuit, batch, pk


@pytest.fixture(scope="module")
def honest(setup: Setup) -> tuple[CommittedProof, list[int]]:
    circuit, batch, pk = setup
    return prove_committed(pk, circuit.cs, batch.inputs)


def test_lookup_batch_proves_and_verifies(setup: Setup, honest: tuple[CommittedProof, list[int]]) -> None:
    _, batch, pk = setup
    proof, public = honest
    assert public == batch.public  # the supplied signals are the plain circuit's layout; the challenge is derived
    assert pk.vk.n_public == len(batch.public)
    assert verify_committed(pk.vk, proof, public)
    for idx in (6, 7, 8, 11):  # account count, total equity, total MM, bad debt
        alt = list(public)
        alt[idx] = (alt[idx] + 1) % R
        assert not verify_committed(pk.vk, proof, alt), idx


def test_commitment_mutated(setup: Setup, honest: tuple[CommittedProof, list[int]]) -> None:
    circuit, batch, pk = setup
    proof, public = honest
    moved = CommittedProof(proof.proof, g1_add_aff(proof.commitment, G1_GEN))
    assert not verify_committed(pk.vk, moved, public)
    other, _ = prove_committed(pk, circuit.cs, batch.inputs)  # a valid D of another proof of the same batch
    assert not verify_committed(pk.vk, CommittedProof(proof.proof, other.commitment), public)
    assert verify_committed(pk.vk, other, public)


def test_prover_chosen_challenge_fails(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prover builds D honestly but runs the witness at a challenge of its choice (hash + 1): the honest
    witness satisfies the R1CS at any X, yet the verifier derives X from D itself, so the proof fails."""
    circuit, batch, pk = setup
    monkeypatch.setattr(committed_prover, "derive_challenge", lambda d, pub: (derive_challenge(d, pub) + 1) % R)
    proof, public = prove_committed(pk, circuit.cs, batch.inputs)
    assert not verify_committed(pk.vk, proof, public)


def test_forged_multiplicities_fail_end_to_end(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """One range-table multiplicity moved: committed in D before X exists, so no X the prover can aim at; the
    verifier's X rejects it."""
    circuit, batch, pk = setup

    def moved(values: Sequence[int], size: int) -> list[int]:
        m = [0] * size
        for v in values:
            if v < size:
                m[v] += 1
        m[0] -= 1
        m[1] += 1
        return m

    monkeypatch.setattr(lookup, "_multiplicities", moved)
    proof, public = prove_committed(pk, circuit.cs, batch.inputs)
    assert public == batch.public
    assert not verify_committed(pk.vk, proof, public)

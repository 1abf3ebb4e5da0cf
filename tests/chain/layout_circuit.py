"""A stand-in circuit whose public signals follow the attestation layout exactly.

Every layout signal is a public input, so the verifying key has the production shape (12 + 2A public
signals) and the on-chain code paths are the real ones; two trivial constraints keep the QAP
non-degenerate. (The IC points of a snarkjs-style QAP bind every public input even when no
constraint uses it.) Shared by tests/chain and scripts/bench_gas.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.keys import ProvingKey
from zkmargin.prover.setup.dev import dev_setup
from zkmargin.verifier.attestation import (
    DEFAULT_ASSETS,
    BatchStatement,
    EpochAttestation,
    signal_names,
)
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey
from zkmargin.verifier.types import Proof, VerifyingKey


@dataclass
class LayoutCircuit:
    cs: ConstraintSystem
    pk: ProvingKey
    vk: VerifyingKey
    n_assets: int

    def prove(self, signals: Sequence[int], salt: int = 7) -> Proof:
        names = signal_names(self.n_assets)
        w = self.cs.witness({**dict(zip(names, signals, strict=True)), "salt": salt})
        proof, public = prove(self.pk, w)
        assert public == list(signals)
        return proof


def build_layout_circuit(n_assets: int = DEFAULT_ASSETS) -> LayoutCircuit:
    cs = ConstraintSystem()
    sig = {name: cs.input(name, public=True) for name in signal_names(n_assets)}
    salt = cs.input("salt")
    cs.mul(salt, salt, "salt_sq")
    cs.mul(sig["total_equity"], sig["account_count"], "bind")
    pk = dev_setup(cs.compile())
    return LayoutCircuit(cs, pk, pk.verifying_key(), n_assets)


@dataclass
class CommittedLayoutCircuit:
    """The same public layout with one BSB22 commitment (to the private salt and its square) whose challenge the
    circuit uses: proofs are CommittedProofs, verified by the registry's committed path."""

    cs: ConstraintSystem
    pk: CommittedProvingKey
    vk: CommittedVerifyingKey
    n_assets: int

    def prove(self, signals: Sequence[int], salt: int = 7) -> CommittedProof:
        names = signal_names(self.n_assets)
        proof, public = prove_committed(self.pk, self.cs, {**dict(zip(names, signals, strict=True)), "salt": salt})
        assert public == list(signals)
        return proof


def committed_layout_cs(n_assets: int = DEFAULT_ASSETS) -> ConstraintSystem:
    cs = ConstraintSystem()
    sig = {name: cs.input(name, public=True) for name in signal_names(n_assets)}
    salt = cs.input("salt")
    sq = cs.mul(salt, salt, "salt_sq")
    cs.mul(sig["total_equity"], sig["account_count"], "bind")
    c = cs.commit([salt, sq])
    cs.mul(c, sq, "uses_challenge")
    return cs


def build_committed_layout_circuit(n_assets: int = DEFAULT_ASSETS) -> CommittedLayoutCircuit:
    cs = committed_layout_cs(n_assets)
    pk = dev_setup_committed(cs.compile())
    return CommittedLayoutCircuit(cs, pk, pk.vk, n_assets)


PARAMS_COMMITMENT = 0xC0FFEE << 200
MARKET_COMMITMENT = 0xBEEF << 180


def make_batch(
    i: int, n_assets: int, accounts: int = 16, id_base: int = 1000, bad_debt: int = 0, under_mm: int = 0
) -> BatchStatement:
    """Batch i of an epoch: id range [id_base + 100 i, id_base + 100 i + 99], plausible totals."""
    first = id_base + 100 * i
    return BatchStatement(
        batch_root=10**70 + 12345 * (i + 1),
        first_id_hash=first,
        last_id_hash=first + 99,
        account_count=accounts,
        total_equity=5_000_000 * 10**6 + i,
        total_mm=1_000_000 * 10**6 + 3 * i,
        liabilities=tuple(10**12 * (a + 1) + i for a in range(n_assets)),
        under_mm_count=under_mm,
        total_shortfall=(bad_debt + 1_000 * 10**6) if under_mm else 0,
        total_bad_debt=bad_debt,
    )


def make_attestation(
    circuit: LayoutCircuit | CommittedLayoutCircuit,
    epoch: int,
    prices: Sequence[int],
    n_batches: int = 1,
    params_commitment: int = PARAMS_COMMITMENT,
    accounts: int = 16,
    market_commitment: int = MARKET_COMMITMENT,
    bad_debt: int = 0,
    unrepresented: int = 0,
    declared: int | None = None,
) -> EpochAttestation:
    """An honest attestation; ``bad_debt`` (micro-USD) is put in batch 0 with one account under MM."""
    batches: list[tuple[BatchStatement, Proof | CommittedProof]] = []
    for i in range(n_batches):
        bt = make_batch(
            i, circuit.n_assets, accounts, bad_debt=bad_debt if i == 0 else 0, under_mm=int(bad_debt > 0 and i == 0)
        )
        proof = circuit.prove(bt.public_signals(epoch, params_commitment, prices, market_commitment=market_commitment))
        batches.append((bt, proof))
    covered = accounts * n_batches
    return EpochAttestation(
        epoch,
        params_commitment,
        tuple(prices),
        tuple(batches),
        market_commitment=market_commitment,
        declared_accounts=covered + unrepresented if declared is None else declared,
        unrepresented_accounts=unrepresented,
    )

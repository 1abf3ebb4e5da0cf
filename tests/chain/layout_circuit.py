"""A stand-in circuit whose public signals follow the attestation layout exactly.

Every layout signal is a public input, so the verifying key has the production shape (12 + 2A public
signals) and the on-chain code paths are the real ones; two trivial constraints keep the QAP
non-degenerate. (The IC points of a snarkjs-style QAP bind every public input even when no
constraint uses it.) Shared by tests/chain and scripts/bench_gas.py. ``cheat_committed_proof`` is the
cheating prover the committed-key attacks use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zkmargin.circuits.curve import G1Affine, g1_add_aff, g1_mul
from zkmargin.circuits.field import R
from zkmargin.circuits.msm_native import msm_g1_auto
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.keys import ProvingKey
from zkmargin.prover.setup.dev import SetupSecrets, dev_setup
from zkmargin.verifier.attestation import (
    DEFAULT_ASSETS,
    BatchStatement,
    EpochAttestation,
    signal_names,
)
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey, derive_challenge
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
    """The same public layout with one commitment (to the private salt and its square, in the key's eta slot) whose
    challenge the circuit uses: proofs are CommittedProofs, verified by the registry's committed path."""

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


def build_committed_layout_circuit(
    n_assets: int = DEFAULT_ASSETS, secrets: SetupSecrets | None = None, eta: int | None = None
) -> CommittedLayoutCircuit:
    """A committed layout circuit and its dev key; ``secrets`` / ``eta`` build a trapdoored key for the attacks
    (eta = gamma: the key the contracts must refuse)."""
    cs = committed_layout_cs(n_assets)
    pk = dev_setup_committed(cs.compile(), secrets=secrets, eta=eta)
    return CommittedLayoutCircuit(cs, pk, pk.vk, n_assets)


def cheat_committed_proof(
    pk: CommittedProvingKey,
    cs: ConstraintSystem,
    inputs: Mapping[str, Any],
    *,
    d_shift: G1Affine = None,
    claimed: Sequence[int] | None = None,
    challenge: int | None = None,
    mask: int = 4242,
) -> tuple[CommittedProof, list[int]]:
    """A cheating prover: the witness of ``inputs`` with the honest commitment D to its committed values, then
    D moved by ``d_shift``, and the challenge either ``challenge`` (prover-chosen) or the one derived from the moved
    D and ``claimed`` (public signals the proof will be presented with; default: the true ones). A, B, C are an
    honest Groth16 proof of that witness, C with the mask cancelled as prove_committed does.
    Returns the proof and the true supplied public signals."""
    ck = pk.commitment
    st: dict[str, Any] = {}

    def commit(values: list[int], public: list[int]) -> int:
        d = msm_g1_auto(ck.bases, [*values, mask])
        st["d"] = d if d_shift is None else g1_add_aff(d, d_shift)
        return challenge if challenge is not None else derive_challenge(st["d"], claimed or public)

    p, public = prove(pk.base, cs.witness(dict(inputs), commit=commit))
    c = g1_add_aff(p.c, g1_mul(ck.mask_delta, (-mask) % R))
    return CommittedProof(Proof(p.a, p.b, c), st["d"]), public[:-1]


def forge_signal_through_d(
    circuit: CommittedLayoutCircuit, signals: Sequence[int], index: int, shift: int, eta_over_gamma: int = 1
) -> tuple[CommittedProof, list[int]]:
    """Claim signal ``index`` = true + ``shift`` by moving -shift/(eta/gamma) IC[index + 1] into D: the pairing
    balances when [eta]_2 = (eta/gamma) [gamma]_2, i.e. when the slot shares gamma's trapdoor (the attack
    tests/test_committed.py::_forge_public_input_through_d runs in Python). Under an honest key it fails."""
    claimed = list(signals)
    claimed[index] = (claimed[index] + shift) % R
    k = (-shift * pow(eta_over_gamma, -1, R)) % R
    d_shift = g1_mul(circuit.vk.base.ic[index + 1], k)
    names = signal_names(circuit.n_assets)
    inputs = {**dict(zip(names, signals, strict=True)), "salt": 7}
    proof, _ = cheat_committed_proof(circuit.pk, circuit.cs, inputs, d_shift=d_shift, claimed=claimed)
    return proof, claimed


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

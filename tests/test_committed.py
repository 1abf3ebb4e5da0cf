"""Groth16 with one commitment slot: honest proofs verify; the attacks gnark's advisories describe fail.

Each test is an attack a cheating prover (or a broken verifier or key) could mount: choosing the
challenge, changing D, changing committed values after the challenge, a key whose eta is another
trapdoor, enumerating an unmasked commitment, declaring a second commitment, malformed points,
confusing the hidden public input.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from committed_circuits import square_plus_y

from zkmargin.circuits.curve import G1_GEN, G2_GEN, g1_add_aff, g1_mul, twist_point_outside_subgroup
from zkmargin.circuits.field import P, R
from zkmargin.circuits.msm_native import msm_g1_auto
from zkmargin.circuits.r1cs import CommitmentRefused, ConstraintSystem, UnsatisfiedConstraint
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.setup.dev import SetupSecrets
from zkmargin.verifier.committed import (
    CommittedProof,
    committed_proof_from_json,
    committed_proof_to_json,
    committed_vk_from_json,
    committed_vk_to_json,
    derive_challenge,
    verify_committed,
)
from zkmargin.verifier.groth16 import MalformedInput
from zkmargin.verifier.snarkjs_json import vk_from_json
from zkmargin.verifier.types import Proof

_circuit = square_plus_y


@pytest.fixture(scope="module")
def setup() -> tuple[ConstraintSystem, CommittedProvingKey]:
    cs = _circuit()
    return cs, dev_setup_committed(cs.compile())


@pytest.fixture(scope="module")
def honest(setup: tuple[ConstraintSystem, CommittedProvingKey]) -> tuple[CommittedProof, list[int]]:
    cs, pk = setup
    return prove_committed(pk, cs, {"x": 5, "y": 7})


def test_honest_proof_verifies(setup: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    _, pk = setup
    proof, public = honest
    assert public == [32, 7]  # out, y: the challenge is not among the supplied inputs
    assert verify_committed(pk.vk, proof, public)


def test_changed_public_input_fails(setup: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    _, pk = setup
    proof, public = honest
    assert not verify_committed(pk.vk, proof, [public[0], public[1] + 1])


def _cheating_prove(
    pk: CommittedProvingKey, cs: ConstraintSystem, inputs: dict[str, int], chosen: int, mask: int = 12345
) -> CommittedProof:
    """An honest D, but the challenge wire set to a value the prover picked."""
    ck = pk.commitment
    state: dict[str, Any] = {}

    def commit(values: list[int], public: list[int]) -> int:
        state["d"] = msm_g1_auto(ck.bases, [*values, mask])
        return chosen

    w = cs.witness(inputs, commit=commit)
    cs.compile().check(w)  # the witness satisfies the circuit at the chosen challenge
    p, _ = prove(pk.base, w)
    c = g1_add_aff(p.c, g1_mul(ck.mask_delta, (-mask) % R))
    return CommittedProof(Proof(p.a, p.b, c), state["d"])


def test_prover_chosen_challenge_fails(setup: Any) -> None:
    cs, pk = setup
    proof = _cheating_prove(pk, cs, {"x": 5, "y": 7}, chosen=99)
    assert derive_challenge(proof.commitment, [32, 7]) != 99
    assert not verify_committed(pk.vk, proof, [32, 7])


def test_chosen_challenge_equal_to_the_hash_is_just_honest(setup: Any) -> None:
    """Control for the test above: the same cheating code with the hash's value verifies, so the
    failure above comes from the challenge, not from the hand-made proof."""
    cs, pk = setup
    mask = 777
    d = msm_g1_auto(pk.commitment.bases, [5, 25, mask])
    proof = _cheating_prove(pk, cs, {"x": 5, "y": 7}, chosen=derive_challenge(d, [32, 7]), mask=mask)
    assert verify_committed(pk.vk, proof, [32, 7])


def test_unsatisfiable_at_a_chosen_challenge(setup: Any) -> None:
    """With c = x the circuit's 'c != x' constraint fails: the challenge really enters the constraints."""
    cs, _ = setup
    with pytest.raises(UnsatisfiedConstraint, match="c != x"):
        cs.compile().check(cs.witness({"x": 5, "y": 7}, commit=lambda v, p: 5))


def test_changed_commitment_fails(setup: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    cs, pk = setup
    proof, public = honest
    moved = CommittedProof(proof.proof, g1_add_aff(proof.commitment, G1_GEN))
    assert not verify_committed(pk.vk, moved, public)
    other, _ = prove_committed(pk, cs, {"x": 5, "y": 7})  # a valid D from another proof of the same values
    assert not verify_committed(pk.vk, CommittedProof(proof.proof, other.commitment), public)


def _commit_then_prove_other_values(pk: CommittedProvingKey, cs: ConstraintSystem, mask: int = 99) -> Any:
    """D commits to x = 5; after seeing its challenge the prover builds a witness with x = 6."""
    ck = pk.commitment
    d = msm_g1_auto(ck.bases, [5, 25, mask])
    public = [6 * 6 + 7, 7]
    ch = derive_challenge(d, public)
    w = cs.witness({"x": 6, "y": 7}, commit=lambda v, p: ch)
    p, _ = prove(pk.base, w)
    c = g1_add_aff(p.c, g1_mul(ck.mask_delta, (-mask) % R))
    return d, c, p, public


def test_committed_values_cannot_change_after_the_challenge(setup: Any) -> None:
    """The property the lookups rely on: D fixes the committed values before the challenge. A prover
    who commits to x = 5 and proves x = 6 fails, and so does one who patches the difference into C
    (C pairs with delta, the difference carries 1/eta) or adds it to D (then the challenge changes)."""
    cs, pk = setup
    ck = pk.commitment
    d, c, p, public = _commit_then_prove_other_values(pk, cs)
    assert not verify_committed(pk.vk, CommittedProof(Proof(p.a, p.b, c), d), public)
    shift = msm_g1_auto(ck.bases, [1, 36 - 25, 0])  # D(6) - D(5)
    assert not verify_committed(pk.vk, CommittedProof(Proof(p.a, p.b, g1_add_aff(c, shift)), d), public)
    assert not verify_committed(pk.vk, CommittedProof(Proof(p.a, p.b, c), g1_add_aff(d, shift)), public)


def _forge_public_input_through_d(pk: CommittedProvingKey, cs: ConstraintSystem, mask: int = 4242) -> Any:
    """Claim out = 33 for x = 5, y = 7 (true out: 32) by moving -IC[out] into D: sound only if no one can
    form a multiple of IC[out] that the eta slot accepts, i.e. if eta shares no trapdoor with gamma."""
    ck = pk.commitment
    d = msm_g1_auto(ck.bases, [5, 25, mask])
    d_forged = g1_add_aff(d, g1_mul(pk.vk.base.ic[1], R - 1))
    claimed = [33, 7]
    ch = derive_challenge(d_forged, claimed)
    w = cs.witness({"x": 5, "y": 7}, commit=lambda v, p: ch)
    p, _ = prove(pk.base, w)
    c = g1_add_aff(p.c, g1_mul(ck.mask_delta, (-mask) % R))
    return CommittedProof(Proof(p.a, p.b, c), d_forged), claimed


def test_eta_equal_to_gamma_lets_d_forge_public_inputs(setup: Any) -> None:
    """Why the slot needs its own trapdoor: with eta = gamma, D shares the public inputs' pairing and a
    prover moves any public input by putting IC points into D. The same forgery fails under an honest
    key, and the verifier refuses a key whose [eta]_2 is [gamma]_2, [delta]_2, [beta]_2 or the generator
    (a ceremony with eta contributed, docs/lookups.md, is the real defence: eta = 2 gamma is not caught here)."""
    cs, pk = setup
    r1cs = cs.compile()
    secrets = SetupSecrets.random()
    bad = dev_setup_committed(r1cs, secrets=secrets, eta=secrets.gamma)
    forged, claimed = _forge_public_input_through_d(bad, cs)
    assert verify_committed(bad.vk, forged, claimed, validate_key=False)  # the attack works on that key
    with pytest.raises(MalformedInput, match=r"vk\.commitment_key\.vk_eta_2.*gamma"):
        verify_committed(bad.vk, forged, claimed)
    honest_forgery, claimed = _forge_public_input_through_d(pk, cs)
    assert not verify_committed(pk.vk, honest_forgery, claimed)  # and fails on an honest key
    for other in ("delta2", "beta2"):
        twin = dataclasses.replace(pk.vk, g2_eta=getattr(pk.vk.base, other))
        with pytest.raises(MalformedInput, match=r"vk\.commitment_key\.vk_eta_2"):
            verify_committed(twin, honest_forgery, claimed)
    with pytest.raises(MalformedInput, match=r"vk\.commitment_key\.vk_eta_2.*generator"):
        verify_committed(dataclasses.replace(pk.vk, g2_eta=G2_GEN), honest_forgery, claimed)


def test_mask_hides_small_values(setup: Any) -> None:
    """CVE-2024-45040: an unmasked Pedersen commitment to a small value is found by enumeration."""
    cs, pk = setup
    bases = pk.commitment.bases
    a, _ = prove_committed(pk, cs, {"x": 5, "y": 7})
    b, _ = prove_committed(pk, cs, {"x": 5, "y": 7})
    assert a.commitment != b.commitment  # same committed values, different D
    table = {msm_g1_auto(bases, [x, x * x % R, 0]): x for x in range(64)}
    unmasked, _ = prove_committed(pk, cs, {"x": 5, "y": 7}, mask=0)
    assert table.get(unmasked.commitment) == 5  # without a mask the attack works ...
    assert a.commitment not in table and b.commitment not in table  # ... with one it finds nothing


def test_second_commitment_refused() -> None:
    """CVE-2024-45039: with two commitments the prover could choose the second after the first challenge."""
    cs = ConstraintSystem()
    x, y = cs.input("x"), cs.input("y")
    cs.commit([x])
    with pytest.raises(CommitmentRefused, match="only one commitment"):
        cs.commit([y])


def test_public_signal_after_commitment_refused() -> None:
    """Every supplied public input is hashed into the challenge, so none may be declared later."""
    cs = ConstraintSystem()
    x = cs.input("x")
    cs.commit([x])
    with pytest.raises(CommitmentRefused, match="after the commitment"):
        cs.output("late", x)
    cs2 = ConstraintSystem()
    with pytest.raises(CommitmentRefused, match="public signal"):
        cs2.commit([cs2.input("p", public=True)])


def test_committed_values_removed_from_c(setup: Any) -> None:
    """The committed wires' C points are gone: otherwise a prover could put other values for them in
    C after seeing the challenge (D fixed, wires changed)."""
    _, pk = setup
    first = pk.base.n_public + 1
    assert all(pk.base.c_g1[i - first] is None for i in pk.committed_wires)


def _point(p: Any) -> list[str]:
    return [str(p[0]), str(p[1]), "1"]


def test_malformed_commitment_point_named(setup: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    _, pk = setup
    proof, public = honest
    key, field = "commitment", "proof.commitment"
    d = committed_proof_to_json(proof)
    d[key][1] = str((int(d[key][1]) + 1) % P)
    with pytest.raises(MalformedInput, match=rf"{field}.*not on the BN254 G1 curve"):
        verify_committed(pk.vk, committed_proof_from_json(d), public)
    d[key] = ["0", "1", "0"]
    with pytest.raises(MalformedInput, match=rf"{field}.*infinity"):
        verify_committed(pk.vk, committed_proof_from_json(d), public)
    d[key] = [str(P + 1), "2", "1"]
    with pytest.raises(MalformedInput, match=field):
        committed_proof_from_json(d)


def test_malformed_eta_point_named(setup: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    _, pk = setup
    proof, public = honest
    vk = committed_vk_to_json(pk.vk)
    bad = twist_point_outside_subgroup()
    vk["commitment_key"]["vk_eta_2"] = [
        [str(bad[0][0]), str(bad[0][1])],
        [str(bad[1][0]), str(bad[1][1])],
        ["1", "0"],
    ]
    with pytest.raises(MalformedInput, match=r"vk\.commitment_key\.vk_eta_2.*subgroup"):
        verify_committed(committed_vk_from_json(vk), proof, public)


def test_json_round_trip_and_hidden_input_documented(setup: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    """gnark #860: the hidden input must not confuse a verifier about how many inputs to pass."""
    _, pk = setup
    proof, public = honest
    vk = committed_vk_to_json(pk.vk)
    assert vk["nPublic"] == 2 and len(vk["IC"]) == 4 and vk["challengeIndex"] == 2
    assert verify_committed(
        committed_vk_from_json(vk), committed_proof_from_json(committed_proof_to_json(proof)), public
    )
    with pytest.raises(MalformedInput, match=r"vk\.protocol"):
        vk_from_json(vk)  # the plain (snarkjs) reader refuses a committed key instead of misreading it
    with pytest.raises(MalformedInput, match="expected 2 public signals"):
        verify_committed(pk.vk, proof, [*public, derive_challenge(proof.commitment, public)])
    vk["nPublic"] = 3
    with pytest.raises(MalformedInput, match=r"vk\.nPublic"):
        committed_vk_from_json(vk)


def test_public_input_aliasing_rejected(setup: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    _, pk = setup
    proof, public = honest
    with pytest.raises(MalformedInput, match=r"public\[1\]"):
        verify_committed(pk.vk, proof, [public[0], public[1] + R])


def test_pure_python_pairing_fallback(
    setup: Any, honest: tuple[CommittedProof, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same 5-pair check through py_ecc (no C kernel)."""
    import zkmargin.circuits.curve as curve

    monkeypatch.setattr(curve, "_kernel", lambda: None)
    _, pk = setup
    proof, public = honest
    assert verify_committed(pk.vk, proof, public)
    assert not verify_committed(pk.vk, CommittedProof(proof.proof, g1_add_aff(proof.commitment, G1_GEN)), public)

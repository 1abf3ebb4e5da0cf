"""SolvencyRegistry with a committed (BSB22) verifying key: honest attestations pass, and every attack a cheating
operator (or governance without the timelock) could mount reverts with its reason.

The registry verifies through Groth16BatchVerifier: per batch it derives the challenge itself (keccak256 over D and
the batch's public signals, as ``verifier.committed.derive_challenge``) and folds the PoK check into one 5-pair
pairing. Each attack below is also checked against the Python mirror (``check_attestation``) where it applies.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chain_env import LOOSEN_DELAY, MAX_FEED_AGE, N_ASSETS, PRICE_DECIMALS, PRICES, TOLERANCE_BPS, Deployment
from layout_circuit import (
    CommittedLayoutCircuit,
    LayoutCircuit,
    build_committed_layout_circuit,
    make_attestation,
)

from zkmargin.circuits.curve import G1_GEN, g1_add_aff, g1_mul, g2_mul
from zkmargin.circuits.field import P, R
from zkmargin.circuits.msm_native import msm_g1_auto
from zkmargin.prover.groth16 import prove
from zkmargin.prover.operator.chain_writes import SolvencyRegistryWriter
from zkmargin.verifier.attestation import EpochAttestation, check_attestation, signal_names
from zkmargin.verifier.chain import (
    ChainRevert,
    attestation_commitments,
    committed_vk_to_bytes,
    verifying_key_hash,
    vk_to_bytes,
)
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey, derive_challenge
from zkmargin.verifier.registry_key import VERIFIER_CHECK, check_registry_key
from zkmargin.verifier.report import Report
from zkmargin.verifier.types import Proof

GOV = "Registry: caller is not governance"


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as e:
        fn(*args, **kw)
    return str(e.value.reason)


def _with_batch_proof(att: EpochAttestation, i: int, proof: Any) -> EpochAttestation:
    batches = list(att.batches)
    batches[i] = (batches[i][0], proof)
    return dataclasses.replace(att, batches=tuple(batches))


def _python_rejects(vk: Any, att: EpochAttestation) -> bool:
    try:
        check_attestation(vk, att)
    except ValueError:
        return True
    return False


def test_committed_attestation_accepted_and_key_pinned(cenv: Deployment) -> None:
    reg, vk = cenv.registry, cenv.circuit.vk
    assert isinstance(vk, CommittedVerifyingKey)
    assert reg.verifying_key_committed() and reg.batch_verifier_matches_artifact()
    assert reg.verifying_key_hash() == verifying_key_hash(vk) == verifying_key_hash(committed_vk_to_bytes(vk))
    att = cenv.attestation(epoch=1, n_batches=2)
    check_attestation(vk, att)  # the Python mirror accepts it too
    cenv.submit(att)
    assert reg.latest_epoch() == 1 and reg.attestation_of(1).matches(att)
    assert [b.index for b in reg.batch_events() if b.epoch == 1] == [0, 1]
    cenv.submit(cenv.attestation(epoch=2))
    # the audit / user key pin: the committed key matches; its plain part, or the same key with another
    # sigma point, does not (the pin covers [-sigma gamma]_2)
    assert check_registry_key(Report("key pin"), reg, vk)
    assert not check_registry_key(Report("key pin"), reg, vk.base)
    other_sigma = dataclasses.replace(vk, g2_sigma_neg=g2_mul(vk.g2_sigma_neg, 2))
    assert verifying_key_hash(other_sigma) != verifying_key_hash(vk)
    assert not check_registry_key(Report("key pin"), reg, other_sigma)


def test_the_registry_derives_the_python_challenge(cenv: Deployment) -> None:
    att = cenv.attestation(epoch=1)
    proof = att.batches[0][1]
    assert isinstance(proof, CommittedProof) and proof.commitment is not None
    bv = cenv.chain.contract("Groth16BatchVerifier", cenv.registry.batch_verifier())
    d, public = proof.commitment, att.public_signals(0)
    assert cenv.chain.call(bv.functions.challengeOf(d[0], d[1], public)) == derive_challenge(d, public)


def test_wrong_or_zero_commitment_reverts(cenv: Deployment) -> None:
    att = cenv.attestation(epoch=1)
    honest = att.batches[0][1]
    assert isinstance(honest, CommittedProof)
    d, pok = honest.commitment, honest.pok
    cases = {
        "D + G": (CommittedProof(honest.proof, g1_add_aff(d, G1_GEN), pok), "Groth16C: invalid proof"),
        "D = PoK": (CommittedProof(honest.proof, pok, pok), "Groth16C: invalid proof"),
        "D = 2 D, PoK = 2 PoK": (
            CommittedProof(honest.proof, g1_mul(d, 2), g1_mul(pok, 2)),
            "Groth16C: invalid proof",
        ),
    }
    for name, (forged, reason) in cases.items():
        bad = _with_batch_proof(att, 0, forged)
        assert _reverts(cenv.submit, bad) == reason, name
        assert _python_rejects(cenv.circuit.vk, bad), name
    words = attestation_commitments(att)[0]
    zero = [[0, 0, words[2], words[3]]]
    assert _reverts(cenv.submit, att, commitments=zero) == "Groth16C: commitment not on curve"
    zero_pok = [[words[0], words[1], 0, 0]]
    assert _reverts(cenv.submit, att, commitments=zero_pok) == "Groth16C: commitment PoK not on curve"
    big = [[words[0] + P, words[1], words[2], words[3]]]
    assert _reverts(cenv.submit, att, commitments=big) == "Groth16C: commitment coordinate >= p"
    assert _reverts(cenv.submit, att, sender=cenv.stranger) == "Registry: caller is not an operator"
    assert _reverts(cenv.submit, att, commitments=[], sender=cenv.stranger) == "Registry: caller is not an operator"
    assert _reverts(cenv.submit, att, commitments=[]) == "Registry: one commitment per batch"
    assert _reverts(cenv.submit, att, commitments=[words, words]) == "Registry: one commitment per batch"
    assert cenv.registry.latest_epoch() is None
    cenv.submit(att)  # the honest one still passes


def test_pok_for_another_commitment_reverts(cenv: Deployment) -> None:
    """Two honest batches: batch 0 with batch 1's PoK (a valid PoK, of another D), or with batch 1's whole
    commitment (D and PoK consistent, but not what batch 0's A, B, C were computed with)."""
    att = cenv.attestation(epoch=1, n_batches=2)
    p0, p1 = att.batches[0][1], att.batches[1][1]
    assert isinstance(p0, CommittedProof) and isinstance(p1, CommittedProof)
    for forged in (CommittedProof(p0.proof, p0.commitment, p1.pok), CommittedProof(p0.proof, p1.commitment, p1.pok)):
        bad = _with_batch_proof(att, 0, forged)
        assert _reverts(cenv.submit, bad) == "Groth16C: invalid proof"
        assert _python_rejects(cenv.circuit.vk, bad)


def _chosen_challenge_proof(circuit: CommittedLayoutCircuit, signals: list[int], chosen: int) -> CommittedProof:
    """Honest D and PoK, but the witness's challenge set by the prover (it never reaches the registry: only the
    proof does, and the registry derives the challenge from D and the signals itself)."""
    ck, mask = circuit.pk.commitment, 4242
    st: dict[str, Any] = {}

    def commit(values: list[int], public: list[int]) -> int:
        st["d"] = msm_g1_auto(ck.bases, [*values, mask])
        st["pok"] = msm_g1_auto(ck.pok_bases, [*values, mask])
        return chosen

    inputs = {**dict(zip(signal_names(circuit.n_assets), signals, strict=True)), "salt": 7}
    p, _ = prove(circuit.pk.base, circuit.cs.witness(inputs, commit=commit))
    c = g1_add_aff(p.c, g1_mul(ck.mask_delta, (-mask) % R))
    return CommittedProof(Proof(p.a, p.b, c), st["d"], st["pok"])


def test_prover_supplied_challenge_reverts(cenv: Deployment) -> None:
    circuit = cenv.circuit
    assert isinstance(circuit, CommittedLayoutCircuit)
    att = cenv.attestation(epoch=1)
    forged = _chosen_challenge_proof(circuit, att.public_signals(0), chosen=12345)
    bad = _with_batch_proof(att, 0, forged)
    assert _reverts(cenv.submit, bad) == "Groth16C: invalid proof"
    assert _python_rejects(circuit.vk, bad)
    # control: the same cheating code with the challenge the registry derives is an honest proof
    assert forged.commitment is not None
    fair = _chosen_challenge_proof(
        circuit, att.public_signals(0), derive_challenge(forged.commitment, att.public_signals(0))
    )
    cenv.submit(_with_batch_proof(att, 0, fair))
    assert cenv.registry.latest_epoch() == 1


def test_plain_proof_to_committed_registry_reverts(cenv: Deployment, circuit: LayoutCircuit) -> None:
    plain = make_attestation(circuit, 1, PRICES)
    assert _reverts(cenv.submit, plain) == "Registry: committed key, use submitCommittedAttestation"
    honest = cenv.attestation(epoch=1)
    real = attestation_commitments(honest)
    assert _reverts(cenv.submit, plain, commitments=[[0, 0, 0, 0]]) == "Groth16C: commitment not on curve"
    # a plain proof with some other proof's valid commitment
    assert _reverts(cenv.submit, plain, commitments=real) == "Groth16C: invalid proof"
    assert _python_rejects(cenv.circuit.vk, plain)


def test_committed_proof_to_plain_registry_reverts(env: Deployment, committed_circuit: CommittedLayoutCircuit) -> None:
    att = make_attestation(committed_circuit, 1, PRICES)
    assert _reverts(env.submit, att) == "Registry: plain key, use submitAttestation"
    # its A, B, C alone, through the plain entry point
    stripped = dataclasses.replace(
        att, batches=tuple((bt, p.proof) for bt, p in att.batches if isinstance(p, CommittedProof))
    )
    assert _reverts(env.submit, stripped) == "Groth16: invalid proof"
    assert _python_rejects(env.circuit.vk, att) and _python_rejects(env.circuit.vk, stripped)
    assert env.registry.latest_epoch() is None


def test_committed_proof_replayed_with_other_inputs_reverts(cenv: Deployment) -> None:
    att = cenv.attestation(epoch=1, n_batches=2)
    (b0, p0), (b1, p1) = att.batches
    swapped = dataclasses.replace(att, batches=((b0, p1), (b1, p0)))
    assert _reverts(cenv.submit, swapped) == "Groth16C: invalid proof"
    cenv.submit(att)
    # epoch 2 with epoch 1's proofs: only the epoch signal differs, so the challenge (and the proof) no longer fits
    nxt = cenv.attestation(epoch=2, n_batches=2)
    replay = dataclasses.replace(nxt, batches=((nxt.batches[0][0], p0), (nxt.batches[1][0], p1)))
    assert _reverts(cenv.submit, replay) == "Groth16C: invalid proof"
    assert _python_rejects(cenv.circuit.vk, replay)
    # inflated equity with the honest proof and commitment
    b = dataclasses.replace(nxt.batches[0][0], total_equity=nxt.batches[0][0].total_equity + 1)
    inflated = dataclasses.replace(nxt, batches=((b, nxt.batches[0][1]), nxt.batches[1]))
    assert _reverts(cenv.submit, inflated) == "Groth16C: invalid proof"
    cenv.submit(nxt)


def test_key_swap_needs_the_timelock(cenv: Deployment, circuit: LayoutCircuit) -> None:
    reg, gov = cenv.registry, cenv.governance
    committed_vk = cenv.circuit.vk
    cenv.submit(cenv.attestation(epoch=1))
    other = build_committed_layout_circuit(cenv.circuit.n_assets)
    for key in (circuit.vk, other.vk, vk_to_bytes(circuit.vk)):
        assert _reverts(reg.set_initial_verifying_key, key, sender=gov) == "Registry: attested, use the timelock"
    assert _reverts(reg.propose_verifying_key, circuit.vk, sender=cenv.operator) == GOV
    # committed -> plain
    reg.propose_verifying_key(circuit.vk, sender=gov)
    assert _reverts(reg.activate_verifying_key, sender=gov) == "Registry: timelock not expired"
    cenv.submit(cenv.attestation(epoch=2))  # the committed key still governs meanwhile
    assert reg.verifying_key_committed() and reg.verifying_key_hash() == verifying_key_hash(committed_vk)
    cenv.advance(LOOSEN_DELAY)
    reg.activate_verifying_key(sender=gov)
    assert not reg.verifying_key_committed() and reg.verifying_key_hash() == verifying_key_hash(circuit.vk)
    assert _reverts(cenv.submit, cenv.attestation(epoch=3)) == "Registry: plain key, use submitAttestation"
    cenv.submit(make_attestation(circuit, 3, PRICES))
    # plain -> another committed key: timelocked again; the old committed key's proofs no longer verify after it
    reg.propose_verifying_key(other.vk, sender=gov)
    assert _reverts(reg.activate_verifying_key, sender=gov) == "Registry: timelock not expired"
    cenv.advance(LOOSEN_DELAY)
    reg.activate_verifying_key(sender=gov)
    assert reg.verifying_key_committed() and reg.verifying_key_hash() == verifying_key_hash(other.vk)
    assert _reverts(cenv.submit, cenv.attestation(epoch=4)) == "Groth16C: invalid proof"
    cenv.submit(make_attestation(other, 4, PRICES))
    assert set(reg.verifying_key_hashes()) >= {verifying_key_hash(k) for k in (committed_vk, circuit.vk, other.vk)}


def test_sigma_swap_is_a_key_change(cenv: Deployment) -> None:
    """The same base key with another [-sigma gamma]_2 is another key: another hash, the timelock, and the honest
    proofs (whose PoK is for the pinned sigma) fail under it."""
    reg, gov, vk = cenv.registry, cenv.governance, cenv.circuit.vk
    assert isinstance(vk, CommittedVerifyingKey)
    cenv.submit(cenv.attestation(epoch=1))
    swapped = dataclasses.replace(vk, g2_sigma_neg=g2_mul(vk.g2_sigma_neg, 3))
    assert _reverts(reg.set_initial_verifying_key, swapped, sender=gov) == "Registry: attested, use the timelock"
    reg.propose_verifying_key(swapped, sender=gov)
    assert reg.pending_verifying_key()[1] == verifying_key_hash(swapped) != verifying_key_hash(vk)
    assert _reverts(reg.activate_verifying_key, sender=gov) == "Registry: timelock not expired"
    cenv.advance(LOOSEN_DELAY)
    reg.activate_verifying_key(sender=gov)
    assert _reverts(cenv.submit, cenv.attestation(epoch=2)) == "Groth16C: invalid proof"


def test_malformed_committed_keys_never_get_in(cenv: Deployment) -> None:
    reg, vk = cenv.registry, cenv.circuit.vk
    assert isinstance(vk, CommittedVerifyingKey)
    blob = committed_vk_to_bytes(vk)
    at_infinity = blob[:-128] + b"\x00" * 128
    assert _reverts(reg.propose_verifying_key, at_infinity) == "Groth16C: key G2 point at infinity"
    bad = bytearray(blob)
    bad[-1] ^= 1  # sigma's y0
    assert _reverts(reg.propose_verifying_key, bytes(bad)) == "Groth16C: key G2 point invalid"
    assert _reverts(reg.propose_verifying_key, blob[:-32]) == "Groth16: bad key length"
    assert reg.pending_verifying_key()[2] == 0


def test_gas_starved_committed_submission_reverts(cenv: Deployment) -> None:
    with pytest.raises(ChainRevert):
        cenv.registry.submit(cenv.attestation(epoch=1), sender=cenv.operator, gas=300_000)
    assert cenv.registry.latest_epoch() is None


def test_key_pin_check_refuses_a_registry_with_another_batch_verifier(cenv: Deployment) -> None:
    """The pinned key means nothing under a verifier that accepts anything: a registry deployed with another
    contract as its (immutable) batch verifier fails the key-pin check even with the right key."""
    vk = cenv.circuit.vk
    fake = SolvencyRegistryWriter.deploy(
        cenv.chain, None, N_ASSETS, PRICE_DECIMALS, TOLERANCE_BPS, MAX_FEED_AGE, batch_verifier=str(cenv.token.address)
    )
    assert not fake.batch_verifier_matches_artifact()
    rep = Report("key pin")
    assert not check_registry_key(rep, fake, vk)
    assert VERIFIER_CHECK in [c.name for c in rep.failed()]
    good = Report("key pin")
    assert check_registry_key(good, cenv.registry, vk) and not good.failed()

"""SolvencyRegistry with a committed (commitment-slot) verifying key: honest attestations pass, and every attack a
cheating operator (or governance without the timelock) could mount reverts with its reason.

The registry verifies through Groth16BatchVerifier: per batch it derives the challenge itself (keccak256 over D and
the batch's public signals, as ``verifier.committed.derive_challenge``) and runs one 5-pair pairing with D in its own
slot, e(D, [eta]_2). Keys whose [eta]_2 is a named point never get in (the eta = gamma forgery shows why). Each
attack below is also checked against the Python mirror (``check_attestation``) where it applies.
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
    cheat_committed_proof,
    forge_signal_through_d,
    make_attestation,
)

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    g1_add_aff,
    g1_mul,
    g1_neg,
    g2_mul,
    g2_neg,
    twist_point_outside_subgroup,
)
from zkmargin.circuits.field import P, R
from zkmargin.prover.operator.chain_writes import SolvencyRegistryWriter
from zkmargin.prover.setup.dev import SetupSecrets
from zkmargin.verifier.attestation import EpochAttestation, check_attestation, signal_names
from zkmargin.verifier.chain import (
    ChainRevert,
    attestation_commitments,
    attestation_to_abi,
    committed_vk_to_bytes,
    submission_calls,
    verifying_key_hash,
    vk_to_bytes,
)
from zkmargin.verifier.chain_encoding import g2_words
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey, derive_challenge, verify_committed
from zkmargin.verifier.registry_key import VERIFIER_CHECK, check_registry_key
from zkmargin.verifier.report import Report

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
    assert [(e.from_index, e.count) for e in reg.batches_added_events(1)] == [(0, 2)]
    cenv.submit(cenv.attestation(epoch=2))
    # the audit / user key pin: the committed key matches; its plain part, or the same key with another
    # [eta]_2, does not (the pin covers the slot's G2 point)
    assert check_registry_key(Report("key pin"), reg, vk)
    assert not check_registry_key(Report("key pin"), reg, vk.base)
    other_eta = dataclasses.replace(vk, g2_eta=g2_mul(vk.g2_eta, 2))
    assert verifying_key_hash(other_eta) != verifying_key_hash(vk)
    assert not check_registry_key(Report("key pin"), reg, other_eta)


def test_the_registry_derives_the_python_challenge(cenv: Deployment) -> None:
    att = cenv.attestation(epoch=1)
    proof = att.batches[0][1]
    assert isinstance(proof, CommittedProof) and proof.commitment is not None
    bv = cenv.chain.contract("Groth16BatchVerifier", cenv.registry.batch_verifier())
    d, public = proof.commitment, att.public_signals(0)
    assert cenv.chain.call(bv.functions.challengeOf(d[0], d[1], public)) == derive_challenge(d, public)


def test_wrong_or_missing_commitment_reverts(cenv: Deployment) -> None:
    att = cenv.attestation(epoch=1)
    honest = att.batches[0][1]
    assert isinstance(honest, CommittedProof)
    d = honest.commitment
    cases = {"D + G": g1_add_aff(d, G1_GEN), "2 D": g1_mul(d, 2), "-D": g1_neg(d)}
    for name, moved in cases.items():
        bad = _with_batch_proof(att, 0, CommittedProof(honest.proof, moved))
        assert _reverts(cenv.submit, bad) == "Groth16C: invalid proof", name
        assert _python_rejects(cenv.circuit.vk, bad), name
    words = attestation_commitments(att)[0]
    assert _reverts(cenv.submit, att, commitments=[[0, 0]]) == "Groth16C: commitment at infinity"
    off_curve = [[words[0], (words[1] + 1) % P]]
    assert _reverts(cenv.submit, att, commitments=off_curve) == "Groth16C: commitment not on curve"
    big = [[words[0] + P, words[1]]]
    assert _reverts(cenv.submit, att, commitments=big) == "Groth16C: commitment coordinate >= p"
    assert _reverts(cenv.submit, att, sender=cenv.stranger) == "Registry: caller is not an operator"
    assert _reverts(cenv.submit, att, commitments=[], sender=cenv.stranger) == "Registry: caller is not an operator"
    assert _reverts(cenv.submit, att, commitments=[]) == "Registry: wrong batch word count"
    assert _reverts(cenv.submit, att, commitments=[words, words]) == "Registry: wrong batch word count"
    assert cenv.registry.latest_epoch() is None
    cenv.submit(att)  # the honest one still passes


def test_d_of_another_proof_reverts(cenv: Deployment) -> None:
    """Batch 0 with batch 1's D (a valid commitment, of another proof), with another proof's D for the same
    statement (same values, another mask), and re-masked (D + t [k/eta]_1, C - t [k/delta]_1: balanced for the old
    challenge, but the challenge moves with D)."""
    circuit = cenv.circuit
    assert isinstance(circuit, CommittedLayoutCircuit)
    att = cenv.attestation(epoch=1, n_batches=2)
    p0, p1 = att.batches[0][1], att.batches[1][1]
    assert isinstance(p0, CommittedProof) and isinstance(p1, CommittedProof)
    twin = circuit.prove(att.public_signals(0))
    assert twin.commitment != p0.commitment
    t = 99
    remasked = CommittedProof(
        dataclasses.replace(p0.proof, c=g1_add_aff(p0.proof.c, g1_mul(circuit.pk.commitment.mask_delta, R - t))),
        g1_add_aff(p0.commitment, g1_mul(circuit.pk.commitment.bases[-1], t)),
    )
    for name, forged in {
        "batch 1's D": CommittedProof(p0.proof, p1.commitment),
        "a twin proof's D": CommittedProof(p0.proof, twin.commitment),
        "re-masked D": remasked,
    }.items():
        bad = _with_batch_proof(att, 0, forged)
        assert _reverts(cenv.submit, bad) == "Groth16C: invalid proof", name
        assert _python_rejects(circuit.vk, bad), name
    cenv.submit(_with_batch_proof(att, 0, twin))  # the twin itself is an honest proof


def test_prover_supplied_challenge_reverts(cenv: Deployment) -> None:
    """Honest D, but the witness's challenge set by the prover (it never reaches the registry: only the proof does,
    and the registry derives the challenge from D and the signals itself)."""
    circuit = cenv.circuit
    assert isinstance(circuit, CommittedLayoutCircuit)
    att = cenv.attestation(epoch=1)
    inputs = {**dict(zip(signal_names(circuit.n_assets), att.public_signals(0), strict=True)), "salt": 7}
    forged, _ = cheat_committed_proof(circuit.pk, circuit.cs, inputs, challenge=12345)
    bad = _with_batch_proof(att, 0, forged)
    assert _reverts(cenv.submit, bad) == "Groth16C: invalid proof"
    assert _python_rejects(circuit.vk, bad)
    # control: the same cheating code with the challenge the registry derives is an honest proof
    fair, _ = cheat_committed_proof(circuit.pk, circuit.cs, inputs)
    cenv.submit(_with_batch_proof(att, 0, fair))
    assert cenv.registry.latest_epoch() == 1


def _inflated_equity(circuit: CommittedLayoutCircuit, eta_over_gamma: int) -> EpochAttestation:
    """Epoch 1 claiming 10^12 more equity in batch 0 than its witness has, the difference moved into D."""
    att = make_attestation(circuit, 1, PRICES)
    bt = att.batches[0][0]
    j = signal_names(circuit.n_assets).index("total_equity")
    extra = 10**12
    forged, claimed = forge_signal_through_d(circuit, att.public_signals(0), j, extra, eta_over_gamma)
    lying = dataclasses.replace(bt, total_equity=bt.total_equity + extra)
    out = dataclasses.replace(att, batches=((lying, forged),))
    assert out.public_signals(0) == claimed
    return out


def test_eta_check_stops_the_public_input_forgery(cenv: Deployment) -> None:
    """Why the contract checks [eta]_2: under a key with eta = gamma, D shares the public inputs' slot and an
    operator inflates any signal by moving IC points into D. The forged proof verifies against that key's pairing
    (Python, key check off); the registry refuses the key itself (initial or timelocked), so the forgery never
    meets it, and under the honest key the same forgery reverts. Control: eta = 2 gamma is not a named value, the
    contract takes it, and the forgery (scaled by 1/2) IS accepted on-chain: the pairing alone does not stop it,
    the check on [eta]_2 (and, for unnamed multiples, the ceremony contributing eta) does."""
    reg, gov = cenv.registry, cenv.governance
    secrets = SetupSecrets.random()
    trapdoored = build_committed_layout_circuit(N_ASSETS, secrets=secrets, eta=secrets.gamma)
    forged = _inflated_equity(trapdoored, 1)
    proof = forged.batches[0][1]
    assert isinstance(proof, CommittedProof)
    assert verify_committed(trapdoored.vk, proof, forged.public_signals(0), validate_key=False)
    assert _python_rejects(trapdoored.vk, forged)  # check_committed_key refuses the key
    reason = "Groth16C: key eta is +-gamma"
    assert _reverts(reg.set_initial_verifying_key, trapdoored.vk, sender=gov) == reason
    assert _reverts(reg.propose_verifying_key, trapdoored.vk, sender=gov) == reason
    assert reg.verifying_key_hash() == verifying_key_hash(cenv.circuit.vk)
    # the same forgery under the registry's honest key
    honest_key_forgery = _inflated_equity(cenv.circuit, 1)  # type: ignore[arg-type]
    assert _reverts(cenv.submit, honest_key_forgery) == "Groth16C: invalid proof"
    assert _python_rejects(cenv.circuit.vk, honest_key_forgery)
    # control: eta = 2 gamma passes the named-value check, and the forgery goes through
    doubled = build_committed_layout_circuit(N_ASSETS, secrets=secrets, eta=2 * secrets.gamma % R)
    reg.set_initial_verifying_key(doubled.vk, sender=gov)
    cenv.submit(_inflated_equity(doubled, 2))
    assert reg.attestation_of(1).total_equity == forged.batches[0][0].total_equity


def test_named_eta_keys_never_get_in(cenv: Deployment) -> None:
    """Every named [eta]_2 (+-generator, +-gamma, +-delta, +-beta), as the initial key and through the timelock."""
    reg, gov, vk = cenv.registry, cenv.governance, cenv.circuit.vk
    assert isinstance(vk, CommittedVerifyingKey)
    named = {"the G2 generator": G2_GEN, "gamma": vk.base.gamma2, "delta": vk.base.delta2, "beta": vk.base.beta2}
    for name, q in named.items():
        for point in (q, g2_neg(q)):
            bad = dataclasses.replace(vk, g2_eta=point)
            assert _reverts(reg.set_initial_verifying_key, bad, sender=gov) == f"Groth16C: key eta is +-{name}"
            assert _reverts(reg.propose_verifying_key, bad, sender=gov) == f"Groth16C: key eta is +-{name}"
    assert reg.pending_verifying_key()[2] == 0 and reg.verifying_key_hash() == verifying_key_hash(vk)


def test_plain_proof_to_committed_registry_reverts(cenv: Deployment, circuit: LayoutCircuit) -> None:
    plain = make_attestation(circuit, 1, PRICES)
    assert _reverts(cenv.submit, plain) == "Registry: key is committed, batches need D"
    honest = cenv.attestation(epoch=1)
    real = attestation_commitments(honest)
    assert _reverts(cenv.submit, plain, commitments=[[0, 0]]) == "Groth16C: commitment at infinity"
    # a plain proof with some other proof's valid commitment
    assert _reverts(cenv.submit, plain, commitments=real) == "Groth16C: invalid proof"
    assert _python_rejects(cenv.circuit.vk, plain)


def test_committed_proof_to_plain_registry_reverts(env: Deployment, committed_circuit: CommittedLayoutCircuit) -> None:
    att = make_attestation(committed_circuit, 1, PRICES)
    assert _reverts(env.submit, att) == "Registry: key is plain, batches carry no D"
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
    assert _reverts(cenv.submit, cenv.attestation(epoch=3)) == "Registry: key is plain, batches carry no D"
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


def test_eta_swap_is_a_key_change(cenv: Deployment) -> None:
    """The same base key with another [eta]_2 is another key: another hash, the timelock, and the honest proofs
    (whose D was made with the pinned eta's bases) fail under it."""
    reg, gov, vk = cenv.registry, cenv.governance, cenv.circuit.vk
    assert isinstance(vk, CommittedVerifyingKey)
    cenv.submit(cenv.attestation(epoch=1))
    swapped = dataclasses.replace(vk, g2_eta=g2_mul(vk.g2_eta, 3))
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
    bad[-1] ^= 1  # eta's y0
    assert _reverts(reg.propose_verifying_key, bytes(bad)) == "Groth16C: key G2 point invalid"
    assert _reverts(reg.propose_verifying_key, blob[:-32]) == "Groth16: bad key length"
    # on the twist, outside the order-r subgroup
    outside = b"".join(w.to_bytes(32, "big") for w in g2_words(twist_point_outside_subgroup()))
    assert _reverts(reg.propose_verifying_key, blob[:-128] + outside) == "Groth16C: key G2 point invalid"
    # a coordinate aliased by + p (the same point to a reducing decoder)
    x1 = int.from_bytes(blob[-128:-96], "big") + P
    assert _reverts(reg.propose_verifying_key, blob[:-128] + x1.to_bytes(32, "big") + blob[-96:]) == (
        "Groth16C: key coordinate >= p"
    )
    assert reg.pending_verifying_key()[2] == 0


def test_gas_starved_committed_submission_reverts(cenv: Deployment) -> None:
    """Too little gas for the whole call, and just too little for the pairing (the precompile then fails instead of
    answering): both revert, nothing is recorded. A verifier that returned false there would accept nothing, but
    one that skipped the failed call would accept anything."""
    att = cenv.attestation(epoch=1)
    header, words = submission_calls(attestation_to_abi(att), attestation_commitments(att))
    fn = cenv.registry.contract.functions.submitAttestation(header, True, words)
    needed = fn.estimate_gas({"from": cenv.operator})
    for gas in (300_000, needed - 40_000):
        with pytest.raises(ChainRevert):
            cenv.registry.submit(att, sender=cenv.operator, gas=gas)
        assert cenv.registry.latest_epoch() is None
    cenv.registry.submit(att, sender=cenv.operator, gas=needed)
    assert cenv.registry.latest_epoch() == 1


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
